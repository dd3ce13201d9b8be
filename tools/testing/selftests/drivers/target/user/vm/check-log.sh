#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Scans a kernel console log (vm.sh's --log, a dmesg dump or kunit.py's
# test.log) for splats: BUG/WARNING/Oops/panic, KASAN/UBSAN reports,
# lockdep reports, kmemleak leaks or kmemleak turning itself off, hung
# tasks, soft lockups, RCU stalls, and any other stack dump ("Call
# Trace:").  The stack dumps allowed are an allocation-failure report
# (warn_alloc) and fault injection's own report of where it failed an
# allocation (should_fail_ex, with verbose=2), between the markers a
# fault-injection test writes to /dev/kmsg ("tcmu-selftest: allocation
# failures expected" ... "end"): there the failures are the test's own
# doing.  Prints the offending
# lines and exits 1 if any is found, 0 if the log is clean.
set -euo pipefail

(($# == 1)) || {
	echo "usage: $0 LOGFILE" >&2
	exit 2
}
[[ -r $1 ]] || {
	echo "check-log: cannot read $1" >&2
	exit 2
}

pat='BUG:|WARNING:|KASAN|possible circular locking|possible recursive locking'
pat+='|inconsistent lock state|unreferenced object|hung_task|soft lockup'
pat+='|Kernel panic|Oops|general protection fault|UBSAN'
pat+='|detected stalls|self-detected stall|kmemleak: .*disabled'

# A "Call Trace:" is judged by the frames after it: within the marked
# region, one whose first frames name warn_alloc or should_fail_ex is an
# injected failure.
hits=$(tr -d '\r' <"$1" | awk -v pat="$pat" '
	function flush() {
		if (trace)
			print trace
		trace = ""
	}
	/tcmu-selftest: allocation failures expected/ { inject = 1 }
	/tcmu-selftest: allocation failures end/ { inject = 0 }
	$0 ~ pat { print NR ":" $0 }
	trace != "" && /warn_alloc|should_fail_ex/ && inject { trace = "" }
	trace != "" && NR > trace_nr + 8 { flush() }
	/Call Trace:/ { flush(); trace = NR ":" $0; trace_nr = NR }
	END { flush() }
')
if [[ -n $hits ]]; then
	echo "check-log: kernel problems in $1:" >&2
	head -n 50 <<<"$hits" >&2
	exit 1
fi
