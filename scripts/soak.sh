#!/bin/bash
# The soak: the long form of every selftest whose length is a choice
# (TCMU_SOAK=1: tcmu_form in test_common.sh; CI runs the short one) in
# the debug-kernel VM, and the tests that run only here (soak-only), with
# the same checks as the suite (splats, leaks,
# hung tasks, lost data).  MINUTES go to tcmu-fuzz (test_fuzz_01) and the
# stress run (test_stress_01), half each; the other long forms add their
# own time (about an hour on 2 cores).
#   scripts/soak.sh [MINUTES]     (default: $SOAK_MINUTES, else 60)
# FUZZ_SEED / STRESS_SEED reproduce a run.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
minutes=${1:-${SOAK_MINUTES:-60}}
[[ $minutes =~ ^[1-9][0-9]*$ ]] || {
	echo "usage: $0 [MINUTES]" >&2
	exit 2
}
half=$((minutes * 30))
"$vm/deps.sh"
export TCMU_SOAK=1 FUZZ_SECONDS=$half STRESS_SECONDS=$half
export TEST_TIMEOUT=$((half + 3600)) VM_TIMEOUT=$((minutes * 60 + 4 * 3600))
mapfile -t long < <(cd "$st" && {
	grep -l 'tcmu_form\|FUZZ_SECONDS' test_*_[0-9][0-9].sh
	soak_only
} | sort -u)
echo "soak: $minutes min: fuzzer $half s, stress run $half s; long forms of ${long[*]}"
rc=0
"$repo/scripts/stage-run.sh" debug "${long[@]}" || rc=$?
out=$cache/stage-debug/out
grep -h "tcmu-fuzz: done\|fuzzing victim\|seed .*, [0-9]* s$\|actions:" \
	"$out/test_fuzz_01.log" "$out/test_stress_01.log" 2>/dev/null || true
echo "soak: exit $rc, logs in $out"
exit "$rc"
