# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
# Sourced by the host-side scripts of scripts/ (those that run in the
# guest, *-guest.sh, have the selftests' vm/guest-lib.sh):
#   $repo  the tree            $st     the selftests' directory
#   $vm    their VM tools      $cache  ${TCMU_CACHE:-$HOME/.cache/tcmu-ng}
# and pass/fail counting (check.sh, dkms-test.sh, kunit.sh, series.sh):
#   result NAME STATUS     count one result (STATUS 0: pass), print it
#   add_counts PREFIX FILE add the last "PREFIX: N passed, N failed[, N
#                          skipped]" line of FILE to the counts, a skip
#                          as a failure (its failures and skips also in
#                          $counted_failed, all three in $counted_ran);
#                          status 1 when FILE has none
#   kunit_cases DIR        the cases the KUnit suites in DIR define (below)
#   kunit_counts LOG RC TESTLOG DIR
#                          a kunit.py run as counts (below)
#   soak_only              the selftests that run only in make soak
#                          (the selftests' soak-only list), one a line
#   kunit_vm_counts DMESG SRC DIR
#                          the kernel log of the KUnit module's load in the
#                          VM (run_tests.sh) parsed by SRC's kunit.py and
#                          counted as kunit_counts does; prints the summary
#                          and "kunit: N passed, N failed"
# shellcheck disable=SC2034 # each script uses some of them
{
	repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	st=$repo/tools/testing/selftests/drivers/target/user
	vm=$st/vm
	cache=${TCMU_CACHE:-$HOME/.cache/tcmu-ng}
}

pass=0 failed=0 counted_failed=0 counted_ran=0
kunit_check_log=$vm/check-log.sh

result() {
	if [[ $2 == 0 ]]; then
		pass=$((pass + 1))
		echo "PASS $1"
	else
		failed=$((failed + 1))
		echo "FAIL $1"
	fi
}

add_counts() {
	local line p f s
	line=$(grep -aE "^$1: [0-9]+ passed, [0-9]+ failed" "$2" | tail -n1)
	[[ -n $line ]] || return 1
	read -r _ p _ f _ s _ <<<"$line"
	[[ $s =~ ^[0-9]+$ ]] || s=0
	pass=$((pass + p))
	failed=$((failed + f + s))
	# shellcheck disable=SC2034 # read by the scripts that source this
	counted_failed=$((f + s)) counted_ran=$((p + f + s))
}

# kunit_cases DIR: the cases the *_kunit.c files in DIR define, as kunit.py
# counts them (a KUNIT_CASE_PARAM case once per row of its
# KUNIT_ARRAY_PARAM table): "SUITE N, ..." in kunit_suites, the sum in
# kunit_defined.  Counted from the sources, so a new case needs no count
# kept anywhere else.  Status 1 when a file does not read as one suite of
# KUNIT_CASE and KUNIT_CASE_PARAM entries over tables of one row a line.
kunit_cases() {
	local f line
	kunit_defined=0 kunit_suites=
	for f in "$1"/*_kunit.c; do
		line=$(awk '
		/^static const struct [A-Za-z0-9_]+ [A-Za-z0-9_]+\[\] = \{$/ {
			tbl = $5; sub(/\[\]$/, "", tbl); rows[tbl] = 0; next
		}
		tbl != "" && /^\};/ { tbl = ""; next }
		tbl != "" && /^\t\{ / { rows[tbl]++; next }
		/^KUNIT_ARRAY_PARAM\(/ {
			s = $0; sub(/^KUNIT_ARRAY_PARAM\(/, "", s)
			split(s, a, /, */); gen[a[1] "_gen_params"] = a[2]; next
		}
		/^\tKUNIT_CASE_PARAM\(/ {
			s = $0; sub(/\).*/, "", s); sub(/.*, */, "", s)
			if (!(s in gen) || !(gen[s] in rows) || !rows[gen[s]])
				bad = 1
			n += rows[gen[s]]; next
		}
		/^\tKUNIT_CASE(_SLOW)?\(/ { n++; next }
		/KUNIT_CASE/ { bad = 1 }
		/^\t\.name = "/ {
			s = $0; sub(/^\t\.name = "/, "", s); sub(/".*/, "", s)
			name = s; suites++
		}
		END { if (bad || suites != 1 || !n) exit 1; print name, n }
		' "$f") || {
			echo "kunit: cannot count the cases $f defines" >&2
			return 1
		}
		kunit_suites+=${kunit_suites:+, }$line
		kunit_defined=$((kunit_defined + ${line##* }))
	done
	((kunit_defined > 0))
}

# kunit_counts LOG RC TESTLOG DIR: a kunit.py run as counts: LOG its
# output, RC its exit status, TESTLOG the kernel log it wrote
# (BUILD_DIR/test.log; remove it before the run), DIR the directory of
# the suites' sources.  Sets kunit_summary, kunit_passed and
# kunit_failed, and prints why anything beyond a failed case counts:
# every case that failed, crashed or was skipped is one failure, every
# case the sources define that did not run (kunit_cases) is one, a
# kernel log with a splat (vm/check-log.sh: lockdep, KASAN, WARN, ...)
# is one, and so is a nonzero status or a run where nothing passed with
# no failure counted otherwise.
kunit_counts() {
	local ran=0 n k
	kunit_summary=$(grep -Eo 'Ran [0-9]+ tests: [a-z]+: [0-9]+(, [a-z]+: [0-9]+)*' "$1" | tail -n1 || true)
	kunit_passed=0 kunit_failed=0
	if [[ -n $kunit_summary ]]; then
		ran=$(sed -E 's/^Ran ([0-9]+).*/\1/' <<<"$kunit_summary")
		for k in passed failed crashed skipped; do
			n=$(grep -Eo "$k: [0-9]+" <<<"$kunit_summary" | cut -d' ' -f2 || true)
			n=${n:-0}
			if [[ $k == passed ]]; then
				kunit_passed=$n
			else
				kunit_failed=$((kunit_failed + n))
			fi
		done
	fi
	if ! kunit_cases "$4"; then
		echo "kunit: the cases to expect are unknown: one failure"
		kunit_failed=$((kunit_failed + 1))
	else
		echo "kunit: $ran cases ran of the $kunit_defined the suites define ($kunit_suites)"
		if ((ran < kunit_defined)); then
			echo "kunit: each case that did not run is one failure"
			kunit_failed=$((kunit_failed + kunit_defined - ran))
		elif ((ran > kunit_defined)); then
			echo "kunit: more cases ran than the suites define: one failure"
			kunit_failed=$((kunit_failed + 1))
		fi
	fi
	if [[ -f $3 ]]; then
		if ! "$kunit_check_log" "$3"; then
			echo "kunit: the kernel log has a splat (above): one failure"
			kunit_failed=$((kunit_failed + 1))
		fi
	elif ((ran > 0)); then
		echo "kunit: no kernel log $3 to check"
		kunit_failed=$((kunit_failed + 1))
	fi
	(($2 == 0 && kunit_passed > 0)) || ((kunit_failed > 0)) || kunit_failed=1
}

# Only the KTAP lines go to kunit.py (unindented: the version, plan,
# results and diagnostics; indented: the suites' own): a kernel message
# that falls between a suite's "KTAP version 1" and its "# Subtest:" (the
# clocksource watchdog under TCG, a driver's log line) makes kunit.py
# report cases as crashed that all passed.  The whole log is what
# check-log.sh reads.
kunit_vm_counts() {
	local log ktap rc=0
	log=$(mktemp)
	ktap=$(mktemp)
	sed -E 's/^\[ *[0-9]+\.[0-9]+\] //' "$1" 2>/dev/null |
		grep -E '^([[:space:]]|KTAP version|TAP version|1\.\.|ok |not ok |# )' >"$ktap" ||
		true
	if [[ -s $ktap ]]; then
		python3 "$2/tools/testing/kunit/kunit.py" parse "$ktap" >"$log" 2>&1 ||
			rc=$?
		grep -E '(\[(PASSED|FAILED|SKIPPED|CRASHED)\]|subtests\))' "$log" || true
	else
		echo "kunit: no kernel log of the KUnit module's load ($1)"
		rc=1
	fi
	kunit_counts "$log" "$rc" "$1" "$3"
	((kunit_failed == 0)) || tail -n 40 "$log"
	rm -f "$log" "$ktap"
	echo "kunit: $kunit_passed passed, $kunit_failed failed"
}

soak_only() {
	grep -o '^test_[a-z0-9_]*\.sh' "$st/soak-only"
}
