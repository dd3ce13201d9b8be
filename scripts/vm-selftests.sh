#!/bin/bash
# Stage the built module, test handler and selftests where the VM sees
# them (it hides the host's /tmp) and run the selftests in a VM.
#   scripts/vm-selftests.sh debug|debian STAGE_DIR [TEST...]
# The module and the handler must be built already (build-module.sh);
# TCMU_KO names the module when it is not the tree's
# (drivers/target/user/target_core_user.ko).
# Passed into the VM when set: FUZZ_SEED FUZZ_ITERATIONS FUZZ_SECONDS
# FUZZ_VERBOSE STRESS_SEED STRESS_SECONDS TEST_TIMEOUT TCMU_SOAK (1: the
# long forms, make soak) TCMU_XTRACE (1: time-stamped traces, see
# run_tests.sh) CU_TESTS CU_CONFIGS (what test_iscsi_01 runs) RBD_ROUNDS
# (test_rbd_01);
# VM_TIMEOUT (s, default 3600) bounds the whole VM run.  Each test has
# its own bound (settings); this one only ends a VM that stopped
# answering.  The selftests alone have taken 29 minutes in
# CI; on a slower 2-core host they once took 48, and 3000 s cut off the
# last one.
# TCMU_KUNIT_KO: the module built with its KUnit suites, loaded first
# (run_tests.sh), its kernel log in STAGE_DIR/out/kunit.dmesg.
# TCMU_STOCK_KO: the kernel's own driver built for this kernel
# (build-stock.sh), for the tests that compare with it in the same boot.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kind=${1:?usage: $0 debug|debian STAGE_DIR [TEST...]}
stage=${2:?usage: $0 debug|debian STAGE_DIR [TEST...]}
shift 2
rm -rf "$stage"
mkdir -p "$stage/out"
rsync -a --exclude='*.o' "$st/" "$stage/user/"
cp "${TCMU_KO:-$repo/drivers/target/user/target_core_user.ko}" \
	"$stage/target_core_user.ko"
envs=(--env "TCMU_KO=$stage/target_core_user.ko")
# the module built with its KUnit suites: run_tests.sh loads it first
if [[ -n ${TCMU_KUNIT_KO:-} ]]; then
	cp "$TCMU_KUNIT_KO" "$stage/target_core_user-kunit.ko"
	envs+=(--env "TCMU_KUNIT_KO=$stage/target_core_user-kunit.ko")
fi
if [[ -n ${TCMU_STOCK_KO:-} ]]; then
	cp "$TCMU_STOCK_KO" "$stage/target_core_user-stock.ko"
	envs+=(--env "TCMU_STOCK_KO=$stage/target_core_user-stock.ko")
fi
for v in FUZZ_SEED FUZZ_ITERATIONS FUZZ_SECONDS FUZZ_VERBOSE STRESS_SEED \
	STRESS_SECONDS TEST_TIMEOUT TCMU_SOAK TCMU_XTRACE CU_TESTS CU_CONFIGS RBD_ROUNDS \
	DENSITY_N; do
	[[ -z ${!v:-} ]] || envs+=(--env "$v=${!v}")
done
cd "$stage/user"
# 5G: test_netlink_02 makes a data area of more than 4 GiB
exec "$st/vm/vm.sh" --kernel "$kind" --smp 2 --mem 5G \
	--timeout "${VM_TIMEOUT:-3600}" --out "$stage/out" "${envs[@]}" \
	-- ./run_tests.sh "$@"
