#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# cmd_time_out: a command the handler never answers fails with CHECK
# CONDITION after the timeout, and its late completion is absorbed.
# qfull_time_out: a command that finds the data area full waits, then
# fails with TASK SET FULL; with qfull_time_out 0 it fails at once.
. "$(dirname "$0")/test_common.sh"
trap tcmu_cleanup EXIT
check "insmod" tcmu_mod_load

tcmu_dev_create to1 32M max_data_area_mb=1 hw_max_sectors=2048
A=$HBA/to1/attrib
# cmd_time_out cannot change once exported
echo 2 >"$A/cmd_time_out"
tcmu_handler to1
dev=$(tcmu_dev_export to1) || fail "export"
tcmu_handler_stop
tcmu_handler to1 --hang

# READ(10) of 8 blocks, no retries
read10() { sg_raw -t 60 -r "$1" "$dev" 28 00 00 00 00 00 00 "$2" "$3" 00 2>&1; }

start=$(now_ms)
out=$(read10 4096 00 08) && fail "hung READ succeeded: $out"
took=$(($(now_ms) - start))
log "hung READ failed after $took ms: $(grep -m1 -i 'status\|sense' <<<"$out")"
# timers never fire early: 2 s at least (less 100 ms of clock
# granularity); 10 s at most, whatever TCG's pace
((took >= 1900 && took <= 10000)) || fail "cmd_time_out 2 took $took ms"
check "timed-out command left the in-flight list" test "$(tcmu_info to1 InFlight)" = 0

# The expired READ keeps its blocks until the handler answers or the
# ring is reset; a new handler starts from a clean ring.
tcmu_handler_stop
echo 2 >"$HBA/to1/action/reset_ring"
tcmu_handler to1 --hang

# Fill the 1 MiB data area with one hung 1 MiB READ; the next one waits.
# The hog times out too, but keeps its blocks until the ring is reset.
read10 1048576 08 00 >/dev/null &
hog=$!
check "hog holds the data area" tcmu_wait 10 info_is to1 DataPagesUsed 256
# The initiator retries TASK SET FULL until its own timeout (8 s here),
# so time the wait in the kernel: the command sits in the qfull queue
# about qfull_time_out before it is bounced.
echo 2 >"$A/qfull_time_out"
sg_raw -t 8 -r 4096 "$dev" 28 00 00 00 00 00 00 00 08 00 >/tmp/qfull.out 2>&1 &
waiter=$!
check "READ waits for space" tcmu_wait 5 info_is to1 Waiting 1
start=$(now_ms)
check "bounced within 5 s" tcmu_wait 5 info_is to1 QfullTimedOut 1
took=$(($(now_ms) - start))
log "the waiting READ bounced $took ms after it was seen waiting"
# seen waiting up to one poll late (100 ms and the poll's own processes,
# slow under TCG): 2 s less half a second at most
((took >= 1500)) || fail "qfull_time_out 2 bounced after $took ms"
check "the first READ counted as timed out" test "$(tcmu_info to1 TimedOut)" -ge 1
wait "$waiter" && fail "READ with a full data area succeeded"
grep -qi "task set full" /tmp/qfull.out ||
	fail "expected TASK SET FULL, got: $(cat /tmp/qfull.out)"
# qfull_time_out 0: bounced with TASK SET FULL at once, never queued
echo 0 >"$A/qfull_time_out"
bounced=$(tcmu_info to1 QfullTimedOut)
sg_raw -t 4 -r 4096 "$dev" 28 00 00 00 00 00 00 00 08 00 >/tmp/qfull.out 2>&1 &
waiter=$!
while kill -0 "$waiter" 2>/dev/null; do
	info_is to1 Waiting 0 || fail "a command waited with qfull_time_out 0"
	sleep 0.05
done
wait "$waiter" && fail "READ with qfull_time_out 0 succeeded"
grep -qi "task set full" /tmp/qfull.out ||
	fail "expected TASK SET FULL, got: $(cat /tmp/qfull.out)"
check "no qfull timeout counted" info_is to1 QfullTimedOut "$bounced"
check "nothing left waiting" test "$(tcmu_info to1 Waiting)" = 0

# the handler is gone: reset_ring 2 fails the hog back to the initiator
tcmu_handler_stop
echo 2 >"$HBA/to1/action/reset_ring"
wait "$hog" && fail "hog READ succeeded after reset_ring"
check "state ok" test "$(tcmu_info to1 State)" = ok
tcmu_handler to1
tcmu_fio_verify "$dev" --rw=randwrite --bs=4k --iodepth=8 --size=4M ||
	fail "IO after reset_ring: $(fio_log)"
log "pass"
