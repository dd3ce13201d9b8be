#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs the selftests (all test_*.sh but those in soak-only, unless
# TCMU_SOAK=1; or those named) inside the test VM,
# one after the other, each under a time limit.  Per-test output goes to
# $TCMU_OUT/<test>.log; the kernel log of each test is checked for splats.
# A skipped test (exit 4: something it needs is missing) fails the run
# unless TCMU_ALLOW_SKIP=1: a run that checked nothing is not green.
# Last line: "selftests: N passed, N failed, N skipped".
#
# With TCMU_KUNIT_KO set (the module built with CONFIG_TCM_USER2_KUNIT_TEST
# against this kernel) the KUnit suites run first: they run as that module
# loads, and the kernel log of the load goes to $TCMU_OUT/kunit.dmesg for
# the host to parse (kunit.py parse) and count; nothing is counted here.
# The test name "kunit" alone runs only the suites.
cd "$(dirname "$0")" || exit 1
out=${TCMU_OUT:-/tmp}
pass=0 failed=0 skipped=0
tests=("$@")
if ((${#tests[@]} == 0)); then
	for t in test_*_[0-9][0-9].sh; do
		[[ ${TCMU_SOAK:-0} == 1 ]] || ! grep -q "^$t\b" soak-only ||
			continue
		tests+=("$t")
	done
fi

run_kunit() {
	local start=$SECONDS rc=0
	dmesg -c >/dev/null
	insmod "$TCMU_KUNIT_KO" || rc=$?
	# the suites ran in the load; the module goes before the selftests
	dmesg >"$out/kunit.dmesg"
	echo "kunit: module loaded (status $rc), suites ran in $((SECONDS - start)) s"
	# the selftests must not run on it
	if [[ -d /sys/module/target_core_user ]] && ! rmmod target_core_user; then
		echo "kunit: the KUnit module stays loaded: no selftest runs"
		exit 1
	fi
}

if [[ -n ${TCMU_KUNIT_KO:-} ]]; then
	run_kunit
	[[ ${tests[*]} != kunit ]] || exit 0
fi
# TCMU_XTRACE=1: where the time goes.  Each test runs under bash's
# xtrace, every line stamped with the wall clock, into
# $TCMU_OUT/<test>.xtrace (scripts/xtrace-profile.py sums it by line).
# shellcheck disable=SC2016 # expanded by the test's shell
xtrace='exec 19>"$1"; BASH_XTRACEFD=19; BASH_ARGV0=./$2
	PS4="+\${EPOCHREALTIME} \${BASH_SOURCE##*/}:\${LINENO} "
	set -x; . "./$2"'
# each test's bound: kselftest's settings file, as the kselftest runner
# reads it
limit=$(sed -n 's/^timeout=//p' settings)
for t in "${tests[@]}"; do
	name=${t%.sh}
	run=(bash "./$t")
	[[ -z ${TCMU_XTRACE:-} ]] || run=(bash -c "$xtrace" _ "$out/$name.xtrace" "$t")
	start=$SECONDS
	dmesg -c >/dev/null
	timeout -k 10 "${TEST_TIMEOUT:-$limit}" "${run[@]}" >"$out/$name.log" 2>&1
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
		# what failed first: the dumps after it can be long
		grep -m 3 -E 'FAIL|left the module busy|check-log' \
			"$out/$name.log" | sed 's/^/#   /'
		tail -n 25 "$out/$name.log" | sed 's/^/#   /'
		;;
	esac
done
echo "selftests: $pass passed, $failed failed, $skipped skipped"
((failed == 0)) && { ((skipped == 0)) || [[ ${TCMU_ALLOW_SKIP:-} == 1 ]]; }
