# shellcheck shell=bash
# Pass/fail counting shared by check.sh, dkms-test.sh and series.sh
# (sourced).
#   result NAME STATUS     count one result (STATUS 0: pass), print it
#   add_counts PREFIX FILE add the last "PREFIX: N passed, N failed" line
#                          of FILE to the counts (its failures also in
#                          $counted_failed); status 1 when FILE has none
pass=0 failed=0 counted_failed=0

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
	local line p f
	line=$(grep -aE "^$1: [0-9]+ passed, [0-9]+ failed" "$2" | tail -n1)
	[[ -n $line ]] || return 1
	read -r _ p _ f _ <<<"$line"
	pass=$((pass + p))
	failed=$((failed + f))
	# shellcheck disable=SC2034 # read by the scripts that source this
	counted_failed=$f
}

# kunit_counts LOG RC: read kunit.py's summary from LOG (RC: its exit
# status) into kunit_summary, kunit_passed and kunit_failed.  A run with
# no summary, no test that passed or a nonzero status and no failed test
# counts as one failure.
kunit_counts() {
	kunit_summary=$(grep -Eo 'Ran [0-9]+ tests: passed: [0-9]+(, failed: [0-9]+)?' "$1" | tail -n1 || true)
	kunit_passed=0 kunit_failed=0
	if [[ -n $kunit_summary ]]; then
		kunit_passed=$(sed -E 's/.*passed: ([0-9]+).*/\1/' <<<"$kunit_summary")
		[[ $kunit_summary != *failed* ]] ||
			kunit_failed=$(sed -E 's/.*failed: ([0-9]+).*/\1/' <<<"$kunit_summary")
	fi
	(($2 == 0 && kunit_passed > 0)) || ((kunit_failed > 0)) || kunit_failed=1
}
