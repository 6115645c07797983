# cli_lib.sh: helpers the profile / insert / split script tests source: expect (exit code +
# message) and check.
BIN="$SL_BIN/sl-preprocess"
PY="${SL_PYTHON:-/usr/bin/python3}"
[ -x "$BIN" ] || { echo "no $BIN"; exit 1; }
fails=0 passes=0
# expect CODE NEEDLE SUBCOMMAND ARGS...: checks the exit code and that stdout+stderr hold NEEDLE.
# A refusal (CODE not 0) runs with SL_SHIM_DENY=1 and must give its own error, not the shim's:
# the arguments and files are checked before the model runtime is loaded (about a second of
# CPU). expect_rt is for a refusal that needs the model itself.
expect() { run_expect 1 "$@"; }
expect_rt() { run_expect 0 "$@"; }
run_expect() {
    local deny=$1 code=$2 needle=$3
    shift 3
    [ "$code" != 0 ] || deny=0
    if [ "$deny" = 1 ]; then SL_SHIM_DENY=1 "$BIN" "$@" >out.txt 2>err.txt; else "$BIN" "$@" >out.txt 2>err.txt; fi
    local rc=$?
    if [ "$rc" != "$code" ] || ! grep -qF -- "$needle" out.txt err.txt || grep -qF "sl_shim:" err.txt; then
        echo "FAIL: $* -> exit $rc (want $code), looking for: $needle"
        sed 's/^/  | /' out.txt err.txt
        fails=$((fails + 1))
    else
        passes=$((passes + 1))
    fi
}

check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then passes=$((passes + 1)); else echo "FAIL: $what"; fails=$((fails + 1)); fi
}

finish() {
    echo "$passes passed, $fails failed"
    [ "$fails" = 0 ]
}
