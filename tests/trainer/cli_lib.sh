# cli_lib.sh: what the sl-train script tests share: T (the built sl-train), and check / check_rt
# with the counts pass and fail (tests/cli_check.sh).
T="$SL_BIN/sl-train"
. "$SL_SRC/tests/cli_check.sh"
