# shellcheck shell=bash
# Pass/fail counting shared by check.sh, dkms-test.sh, kunit.sh and
# series.sh (sourced).
#   result NAME STATUS     count one result (STATUS 0: pass), print it
#   add_counts PREFIX FILE add the last "PREFIX: N passed, N failed[, N
#                          skipped]" line of FILE to the counts, a skip
#                          as a failure (its failures and skips also in
#                          $counted_failed, all three in $counted_ran);
#                          status 1 when FILE has none
#   kunit_run_opts         kunit.py run options of kunit.sh and series.sh
#   kunit_counts LOG RC    kunit.py's summary as counts (below)
pass=0 failed=0 counted_failed=0 counted_ran=0

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

# The kernel arguments keep asynchronous boot messages off the console
# while the tests print.  kunit.py loses its place in the KTAP stream when
# such a line falls between a suite's "KTAP version 1" and its
# "# Subtest:" (it then reports crashed tests that all passed).  Under TCG
# the TSC's refined calibration (a second after its initcall, switching
# the clocksource) and the PS/2 keyboard and mouse probes printed there
# in 2 of 7 runs.  tsc=unstable makes hpet the clocksource at boot, and
# the test kernel needs no keyboard or mouse.
# shellcheck disable=SC2034 # used by the scripts that source this
kunit_run_opts=(--arch=x86_64 --qemu_args="-smp 2" --timeout=600
	--kernel_args=tsc=unstable --kernel_args=i8042.noaux
	--kernel_args=i8042.nokbd)

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
