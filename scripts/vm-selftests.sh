#!/bin/bash
# Stage the built module, test handler and selftests where the VM sees
# them (it hides the host's /tmp) and run the selftests in a VM.
#   scripts/vm-selftests.sh debug|debian STAGE_DIR [TEST...]
# The module and the handler must be built already (build-module.sh).
# Passed into the VM when set: FUZZ_SEED FUZZ_ITERATIONS FUZZ_SECONDS
# FUZZ_VERBOSE STRESS_SEED STRESS_SECONDS TEST_TIMEOUT; VM_TIMEOUT (s,
# default 3600) bounds the whole VM run.  Each test has its own bound
# (settings); this one only ends a VM that stopped answering.  CI's
# whole run, these tests included, has taken about 34 minutes; on a
# slower 2-core host the tests alone took 48, and 3000 s cut off the
# last one.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
st=$repo/tools/testing/selftests/drivers/target/user
kind=${1:?usage: $0 debug|debian STAGE_DIR [TEST...]}
stage=${2:?usage: $0 debug|debian STAGE_DIR [TEST...]}
shift 2
rm -rf "$stage"
mkdir -p "$stage/out"
rsync -a --exclude='*.o' "$st/" "$stage/user/"
cp "$repo/drivers/target/user/target_core_user.ko" "$stage/"
envs=(--env "TCMU_KO=$stage/target_core_user.ko")
for v in FUZZ_SEED FUZZ_ITERATIONS FUZZ_SECONDS FUZZ_VERBOSE STRESS_SEED \
	STRESS_SECONDS TEST_TIMEOUT; do
	[[ -z ${!v:-} ]] || envs+=(--env "$v=${!v}")
done
cd "$stage/user"
# 5G: test_netlink_02 makes a data area of more than 4 GiB
exec "$st/vm/vm.sh" --kernel "$kind" --smp 2 --mem 5G \
	--timeout "${VM_TIMEOUT:-3600}" --out "$stage/out" "${envs[@]}" \
	-- ./run_tests.sh "$@"
