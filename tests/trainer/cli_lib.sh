# cli_lib.sh: what the sl-train script tests share: T (the built sl-train), fail (0 until a check
# fails) and check.
T="$SL_BIN/sl-train"
fail=0
# check NAME EXPECTED_CODE EXPECTED_TEXT -- command...: the exit code, and TEXT (as is, not a
# pattern) in stdout or stderr.
check() {
    local name=$1 want=$2 text=$3
    shift 4
    "$@" >out.txt 2>err.txt
    local code=$?
    if [ "$code" != "$want" ] || ! grep -qF -- "$text" err.txt out.txt; then
        echo "FAIL $name: exit $code (want $want), output:"; cat out.txt err.txt; fail=1
    else
        echo "ok   $name"
    fi
}
