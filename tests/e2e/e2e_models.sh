#!/usr/bin/env bash
# e2e_models.sh: the models every e2e test starts from (lib.sh's make_models), made once per test
# run in this test's folder: the CTest fixture e2e_models, which the others require and find
# through SL_E2E_MODELS. Each of them would otherwise make the same six bundles again.
source "$(dirname "$0")/lib.sh"
for f in $E2E_MODELS; do rm -f "$f"; done
make_models "$PWD" || fail "making the e2e models"
for f in $E2E_MODELS; do [ -s "$f" ] || fail "$f was not made"; done
pass "e2e models: $E2E_MODELS"
