#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Scans a kernel console log (vm.sh's --log, or a dmesg dump) for splats:
# BUG/WARNING/Oops/panic, KASAN/UBSAN reports, lockdep reports, kmemleak
# leaks, hung tasks and soft lockups. Prints the offending lines and exits 1
# if any is found, 0 if the log is clean.
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

if hits=$(tr -d '\r' <"$1" | grep -a -n -E "$pat"); then
	echo "check-log: kernel problems in $1:" >&2
	head -n 50 <<<"$hits" >&2
	exit 1
fi
