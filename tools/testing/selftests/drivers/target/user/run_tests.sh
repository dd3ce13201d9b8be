#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs the selftests (all test_*.sh, or those named) inside the test VM,
# one after the other, each under a time limit.  Per-test output goes to
# $TCMU_OUT/<test>.log; the kernel log of each test is checked for splats.
# A skipped test (exit 4: something it needs is missing) fails the run
# unless TCMU_ALLOW_SKIP=1: a run that checked nothing is not green.
# Last line: "selftests: N passed, N failed, N skipped".
cd "$(dirname "$0")" || exit 1
out=${TCMU_OUT:-/tmp}
pass=0 failed=0 skipped=0
tests=("$@")
((${#tests[@]})) || tests=(test_*_[0-9][0-9].sh)

for t in "${tests[@]}"; do
	name=${t%.sh}
	start=$SECONDS
	dmesg -c >/dev/null
	timeout -k 10 "${TEST_TIMEOUT:-600}" bash "./$t" >"$out/$name.log" 2>&1
	rc=$?
	# every test starts from a freshly loaded module
	if [[ -d /sys/module/target_core_user ]] && ! rmmod target_core_user; then
		echo "$t left the module busy" >>"$out/$name.log"
		((rc == 0 || rc == 4)) && rc=1
	fi
	dmesg >"$out/$name.dmesg"
	if ((rc == 0)) && ! vm/check-log.sh "$out/$name.dmesg" 2>>"$out/$name.log"; then
		rc=1
	fi
	case $rc in
	0)
		pass=$((pass + 1))
		echo "ok $t ($((SECONDS - start)) s)"
		;;
	4)
		skipped=$((skipped + 1))
		echo "skip $t: $(tail -n 1 "$out/$name.log")"
		;;
	*)
		failed=$((failed + 1))
		echo "not ok $t (exit $rc, $((SECONDS - start)) s)"
		tail -n 25 "$out/$name.log" | sed 's/^/#   /'
		;;
	esac
done
echo "selftests: $pass passed, $failed failed, $skipped skipped"
((failed == 0)) && { ((skipped == 0)) || [[ ${TCMU_ALLOW_SKIP:-} == 1 ]]; }
