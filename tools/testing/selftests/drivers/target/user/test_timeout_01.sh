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
tcmu_handler to1
dev=$(tcmu_dev_export to1) || fail "export"
tcmu_handler_stop
tcmu_handler to1 --hang

# READ(10) of 8 blocks, no retries
read10() { sg_raw -t 60 -r "$1" "$dev" 28 00 00 00 00 00 00 "$2" "$3" 00 2>&1; }

echo 2 >"$A/cmd_time_out"
start=$SECONDS
out=$(read10 4096 00 08) && fail "hung READ succeeded: $out"
took=$((SECONDS - start))
log "hung READ failed after $took s: $(grep -m1 -i 'status\|sense' <<<"$out")"
((took >= 1 && took <= 10)) || fail "cmd_time_out 2 took $took s"
check "timed-out command left the in-flight list" test "$(tcmu_info to1 InFlight)" = 0

# The expired READ keeps its blocks until the handler answers or the
# ring is reset; a new handler starts from a clean ring.
tcmu_handler_stop
echo 2 >"$HBA/to1/action/reset_ring"
tcmu_handler to1 --hang

# Fill the 1 MiB data area with one hung 1 MiB READ; the next one waits.
echo 0 >"$A/cmd_time_out"
read10 1048576 08 00 >/dev/null &
hog=$!
check "hog in flight" tcmu_wait 10 test "$(tcmu_info to1 InFlight)" = 1
echo 2 >"$A/qfull_time_out"
start=$SECONDS
out=$(read10 4096 00 08) && fail "READ with a full data area succeeded"
took=$((SECONDS - start))
grep -qi "task set full" <<<"$out" || fail "expected TASK SET FULL, got: $out"
((took >= 1 && took <= 10)) || fail "qfull_time_out 2 took $took s"
echo 0 >"$A/qfull_time_out"
start=$SECONDS
out=$(read10 4096 00 08) && fail "READ with qfull_time_out 0 succeeded"
(((SECONDS - start) <= 2)) || fail "qfull_time_out 0 waited"
check "nothing left waiting" test "$(tcmu_info to1 Waiting)" = 0

# the handler is gone: reset_ring 2 fails the hog back to the initiator
tcmu_handler_stop
echo 2 >"$HBA/to1/action/reset_ring"
wait "$hog" && fail "hog READ succeeded after reset_ring"
check "state ok" test "$(tcmu_info to1 State)" = ok
tcmu_handler to1
tcmu_fio_verify "$dev" --rw=randwrite --bs=4k --iodepth=8 --size=4M ||
	fail "IO after reset_ring: $(cat /tmp/fio-$TEST_NAME.out)"
log "pass"
