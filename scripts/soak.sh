#!/bin/bash
# The soak: tcmu-fuzz (test_fuzz_01) and the stress run (test_stress_01)
# in the debug-kernel VM for a given time, half each, with the same
# checks as the suite (splats, leaks, hung tasks, lost data).
#   scripts/soak.sh [MINUTES]     (default: $SOAK_MINUTES, else 60)
# FUZZ_SEED / STRESS_SEED reproduce a run.  Minutes in CI come from the
# suite itself (test_fuzz_01: 2000 iterations, test_stress_01: 120 s).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
vm=$repo/tools/testing/selftests/drivers/target/user/vm
cache=${TCMU_CACHE:-$HOME/.cache/tcmu-ng}
minutes=${1:-${SOAK_MINUTES:-60}}
[[ $minutes =~ ^[1-9][0-9]*$ ]] || {
	echo "usage: $0 [MINUTES]" >&2
	exit 2
}
half=$((minutes * 30))
"$vm/deps.sh"
export FUZZ_SECONDS=$half STRESS_SECONDS=$half
export TEST_TIMEOUT=$((half + 900)) VM_TIMEOUT=$((minutes * 60 + 2400))
echo "soak: $minutes min: fuzzer $half s, stress run $half s"
rc=0
"$repo/scripts/stage-run.sh" debug test_fuzz_01.sh test_stress_01.sh || rc=$?
out=$cache/stage-debug/out
grep -h "tcmu-fuzz: done\|fuzzing victim\|seed .*, [0-9]* s$\|actions:" \
	"$out/test_fuzz_01.log" "$out/test_stress_01.log" 2>/dev/null || true
echo "soak: exit $rc, logs in $out"
exit "$rc"
