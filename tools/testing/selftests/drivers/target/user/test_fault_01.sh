#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fault injection (failslab, fail_page_alloc) in the module's allocations.
#  1. Device set-up, systematically: the Nth allocation of "echo 1 >enable"
#     fails (fail-nth), for N = 1, 2, ... until the write runs out of
#     allocations.  Each time enable fails cleanly or succeeds, and the
#     device can be removed.
#  2. Aimed at the module (the stack-trace filter is set to its text): a
#     lone write whose command or page allocation fails is bounced with
#     TASK SET FULL and retried, not parked until qfull_time_out.  Then
#     at random: 1 in 10 allocations made from our code fails while fio
#     --verify runs on a device whose pages are reclaimed every 200 ms and
#     devices are created and removed beside it.  A command whose own
#     memory, block list, id or pages cannot be had is bounced with TASK
#     SET FULL, which sd retries: fio sees no error and verifies its data.
#     Target core's target_cmd_complete trace event counts the commands
#     that ended with TASK SET FULL: the lone writes and the random
#     faults must both have produced some.
# Leaks show in the kmemleak scan at the end of the VM run.
. "$(dirname "$0")/test_common.sh"
P=/sys/module/target_core_user/parameters
FI=/sys/kernel/debug
ATTRS=(failslab fail_page_alloc)
TIMES=1000000
[[ -f $FI/failslab/require-start ]] ||
	fail "no failslab stack-trace filter (debug.config enables it)"
[[ -f /proc/thread-self/fail-nth ]] || fail "no fail-nth"

fi_set() {
	local a
	for a in "${ATTRS[@]}"; do
		echo "$2" >"$FI/$a/$1" || fail "$a/$1 = $2"
	done
}
faults_off() {
	fi_set probability 0
	echo 0 >/proc/thread-self/fail-nth
}
T=/sys/kernel/tracing
EV=$T/events/target/target_cmd_complete
cpid='' fpid=''
finish() {
	faults_off
	echo 0 >"$EV/enable" 2>/dev/null
	echo 0 >"$EV/filter" 2>/dev/null
	echo "tcmu-selftest: allocation failures end" >/dev/kmsg
	[[ -n $cpid ]] && kill "$cpid" 2>/dev/null && wait "$cpid" 2>/dev/null
	[[ -n $fpid ]] && kill "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null
	tcmu_cleanup
}
trap finish EXIT
# vm/check-log.sh lets the allocation-failure reports (warn_alloc's stack
# dumps) of the injected faults through between these two markers
echo "tcmu-selftest: allocation failures expected" >/dev/kmsg
check "insmod" tcmu_mod_load reclaim_idle_ms=200
rm -f /tmp/churn.err

# common settings: every gfp mask, every order, no console noise
fi_set probability 0
fi_set ignore-gfp-wait N
fi_set verbose 0
fi_set task-filter N
fi_set interval 1
fi_set space 0
fi_set times $TIMES
echo 0 >$FI/fail_page_alloc/min-order
echo N >$FI/fail_page_alloc/ignore-gfp-highmem

# --- 1: every allocation of enable fails once ------------------------------
n=0 refused=0 left=0
mkdir -p "$HBA" || fail "mkdir $HBA"
while :; do
	n=$((n + 1))
	((n <= 3000)) || fail "enable still allocating after 3000 injected faults"
	mkdir "$HBA/s" || fail "mkdir s (n=$n)"
	echo "dev_config=test/s" >"$HBA/s/control" || fail "control (n=$n)"
	echo "dev_size=16777216" >"$HBA/s/control" || fail "control (n=$n)"
	# builtins only from here: this shell's own task makes every allocation
	echo $n >/proc/thread-self/fail-nth
	rc=0
	echo 1 >"$HBA/s/enable" 2>/dev/null || rc=1
	# 0: the fault was injected; a count left, or a failed read (the fault
	# hit the read's own open): the write ran out of allocations first
	read -r left </proc/thread-self/fail-nth 2>/dev/null || left=-1
	echo 0 >/proc/thread-self/fail-nth
	if ((rc)); then
		refused=$((refused + 1))
		[[ $(cat "$HBA/s/enable") == 0 ]] ||
			fail "enable failed at fault $n but the device is enabled"
	fi
	rmdir "$HBA/s" || fail "rmdir after fault $n (enable rc $rc)"
	[[ $left == 0 ]] || break
done
log "enable: $((n - 1)) allocations failed in turn, $refused refused"
# 158 in 6.12 with the debug kernel; far fewer means fail-nth stopped
# reaching the module's allocations (or enable lost most of them)
check "faults were injected into enable" test $((n - 1)) -ge 100
check "some enable failed" test "$refused" -gt 0
# and the device still comes up without faults
tcmu_dev_create s 16M
rmdir "$HBA/s" || fail "rmdir s"

# --- 2: random faults in the module's allocations during verified IO ------
addrs=$(grep -F '[target_core_user]' /proc/kallsyms |
	awk '$2 ~ /^[tT]$/ { print $1 }' | sort)
lo=$(head -n1 <<<"$addrs")
hi=$(tail -n1 <<<"$addrs")
[[ -n $lo && -n $hi ]] || fail "no module text in /proc/kallsyms"
fi_set require-start "0x$lo"
fi_set require-end "$(printf '0x%x' $((0x$hi + 4096)))"
fi_set stacktrace-depth 32
log "faults aimed at [0x$lo, 0x$hi + 4K)"

tcmu_dev_create f0 64M
tcmu_handler f0 --threads 4 --ooo
fdev=$(tcmu_dev_export f0) || fail "export f0"

# the commands target core ends with TASK SET FULL (SAM status 0x28)
[[ -d $EV ]] || fail "no target_cmd_complete trace event"
echo 0 >"$T/tracing_on"
echo "scsi_status == 0x28" >"$EV/filter" || fail "trace event filter"
echo 1 >"$EV/enable" || fail "trace event enable"
: >"$T/trace"
echo 1 >"$T/tracing_on"
task_set_full() { grep -c ' target_cmd_complete: ' "$T/trace"; }

# a lone write whose command memory or page cannot be had is bounced and
# retried at once, not parked until qfull_time_out: on an idle device
# nothing else would wake it
# Only the write's own allocations may take the fault: the handler's page
# faults on the mapping run our fault handlers too, whose page-table
# allocations are made under our text (vm_insert_page) whenever the ring
# reaches a page table it has not used before, and would take the one
# fault instead (the CI run of c8a736b).  Those go through handle_mm_fault,
# which the filter rejects here; the random faults below keep them.  The
# stack of each injected fault goes to the log (check-log.sh lets it by).
# The function ends where the next symbol begins: the kernel's own symbols
# come in address order (sorting them takes minutes in the debug guest).
read -r mm_lo mm_hi < <(awk '
	f && $1 != lo { print lo, $1; exit }
	!f && $3 == "handle_mm_fault" && $2 ~ /^[tT]$/ { lo = $1; f = 1 }' \
	/proc/kallsyms)
[[ -n $mm_lo && -n $mm_hi ]] || fail "no handle_mm_fault in /proc/kallsyms"
# both in the kernel's top half: compared as signed, their order holds
((0x$mm_hi > 0x$mm_lo)) || fail "handle_mm_fault: $mm_lo..$mm_hi"
fi_set reject-start "0x$mm_lo"
fi_set reject-end "0x$mm_hi"
fi_set verbose 2
echo 30 >"$HBA/f0/attrib/qfull_time_out"
for a in "${ATTRS[@]}"; do
	tcmu_wait 20 info_is f0 DataPagesHeld 0 || fail "f0 kept its pages"
	echo 1 >"$FI/$a/times"
	echo 100 >"$FI/$a/probability"
	dd if=/dev/urandom of="$fdev" bs=4k count=1 oflag=direct 2>/dev/null ||
		fail "4k write with one $a fault"
	echo 0 >"$FI/$a/probability"
	read -r t <"$FI/$a/times"
	echo $TIMES >"$FI/$a/times"
	check "$a: the fault hit the write" test "$t" = 0
	check "$a: bounced, not parked" info_is f0 QfullTimedOut 0
done
fi_set verbose 0
fi_set reject-start 0
fi_set reject-end 0
tsf_lone=$(task_set_full)
log "lone writes: $tsf_lone commands ended with TASK SET FULL"
check "each lone write was bounced with TASK SET FULL" \
	test "$tsf_lone" -ge "${#ATTRS[@]}"

# the pages go every 200 ms idle, and the limit drops now and then: the
# data area has to allocate again and again
(
	i=0
	while :; do
		# each step may fail under the faults; removal may not
		mkdir "$HBA/c$i" &&
			echo "dev_config=test/c$i" >"$HBA/c$i/control" &&
			echo "dev_size=8388608" >"$HBA/c$i/control" &&
			echo 1 >"$HBA/c$i/enable"
		if [[ -d $HBA/c$i ]] && ! rmdir "$HBA/c$i"; then
			echo "rmdir c$i failed" >>/tmp/churn.err
		fi
		echo $(((i % 3) ? 64 : 1)) >$P/global_max_data_area_mb
		i=$(((i + 1) % 8))
		sleep 0.3
	done
) 2>/dev/null &
cpid=$!

fi_set probability 10
tcmu_fio_verify "$fdev" --rw=randwrite --bssplit=4k/40:64k/30:256k/30 \
	--iodepth=16 --size="$(tcmu_form 24M 64M)"
frc=$?
fi_set probability 0
kill "$cpid"
wait "$cpid" 2>/dev/null
cpid=''
echo 2048 >$P/global_max_data_area_mb
((frc == 0)) || fail "fio verify under faults: $(fio_log)"
check "churn removed every device" test ! -s /tmp/churn.err
for a in "${ATTRS[@]}"; do
	read -r t <"$FI/$a/times"
	log "$a: $((TIMES - t)) faults injected"
	injected[${#injected[@]}]=$((TIMES - t))
done
check "slab faults hit the module" test "${injected[0]}" -gt 0
check "page faults hit the module" test "${injected[1]}" -gt 0
tsf=$(($(task_set_full) - tsf_lone))
log "under random faults: $tsf commands ended with TASK SET FULL"
check "random faults bounced commands with TASK SET FULL" test "$tsf" -gt 0
check "f0 state ok" test "$(tcmu_info f0 State)" = ok
tcmu_fio_verify "$fdev" --rw=randwrite --bs=64k --iodepth=8 --size=16M ||
	fail "fio verify after faults: $(fio_log)"
# kmemleak's own allocations met the faults too: it must still be on to
# scan for our leaks at the end of the run.  Once off, it refuses every
# command but "clear" with EPERM; "scan=off" (no scan thread runs: the
# debug config has no automatic scans) asks without a scan, which takes
# 20 s here
if [[ -e $FI/kmemleak ]]; then
	echo scan=off >"$FI/kmemleak" || fail "kmemleak turned itself off"
fi
log "pass"
