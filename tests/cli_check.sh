# cli_check.sh: check and check_rt, for the script tests of a command line (sourced). Counts in
# pass and fail.
pass=0
fail=0
# check NAME EXPECTED_CODE EXPECTED_TEXT -- command...: the exit code, and TEXT (as is, not a
# pattern; "" for any) in stdout or stderr, kept in out.txt and err.txt. A refusal (EXPECTED_CODE
# not 0) runs with SL_SHIM_DENY=1 and must give its own error, not the shim's: the arguments and
# files are checked before the model runtime is loaded (about a second of CPU). check_rt is for a
# refusal that needs the model itself.
check() { run_check 1 "$@"; }
check_rt() { run_check 0 "$@"; }
run_check() {
    local deny=$1 name=$2 want=$3 text=$4
    shift 5
    [ "$want" != 0 ] || deny=0
    if [ "$deny" = 1 ]; then SL_SHIM_DENY=1 "$@" >out.txt 2>err.txt; else "$@" >out.txt 2>err.txt; fi
    local code=$?
    if [ "$code" != "$want" ] || ! grep -qF -- "$text" err.txt out.txt || grep -qF "sl_shim:" err.txt; then
        echo "FAIL $name: exit $code (want $want), output:"
        cat out.txt err.txt
        fail=$((fail + 1))
    else
        echo "ok   $name"
        pass=$((pass + 1))
    fi
}
