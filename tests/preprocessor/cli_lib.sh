# cli_lib.sh: helpers the profile / insert / split script tests source: expect (exit code +
# message) and check.
BIN="$SL_BIN/sl-preprocess"
PY="${SL_PYTHON:-/usr/bin/python3}"
[ -x "$BIN" ] || { echo "no $BIN"; exit 1; }
fails=0 passes=0
# expect CODE NEEDLE SUBCOMMAND ARGS...: checks the exit code and that stdout+stderr hold NEEDLE.
expect() {
    local code=$1 needle=$2
    shift 2
    "$BIN" "$@" >out.txt 2>err.txt
    local rc=$?
    if [ "$rc" != "$code" ] || ! grep -qF -- "$needle" out.txt err.txt; then
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
