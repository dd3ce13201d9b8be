#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The handler crashes mid-IO and a new one takes over: fio with crc32c
# verification keeps running through the restarts and finds no bad data.
# Recovery is what tcmu-runner does: block_dev, reset_ring 1 (in-flight
# commands end with BUSY and are retried), unblock, serve again.  The
# handler's store is a shared file, so acknowledged data outlives it.
. "$(dirname "$0")/test_common.sh"
trap tcmu_cleanup EXIT
check "insmod" tcmu_mod_load

tcmu_dev_create rs1 64M max_data_area_mb=16
D=$HBA/rs1
store=(--store file:/dev/shm/rs1.img)
tcmu_handler rs1 --threads 4 --ooo "${store[@]}"
dev=$(tcmu_dev_export rs1) || fail "export"
# the KASAN kernel under TCG is slow: give each SCSI command more than
# the default 30 s before the initiator starts error recovery
echo 180 >"/sys/block/${dev#/dev/}/device/timeout"
tcmu_fio_verify "$dev" --rw=randwrite --bs=8k --iodepth=16 --size=24M \
	--time_based --runtime=40 --verify_backlog=128 &
fio_pid=$!

served() {
	sed -n 's/^counters: commands=\([0-9]*\).*/\1/p' /tmp/handler-rs1.log
}
# Kill the handler, recover the ring, start a new one with ARGS.  A new
# handler must never start on the ring a dead one left: out-of-order
# completions it wrote no longer match the slots they sit in.
crash_and_recover() {
	kill -KILL "$HANDLER_PID" 2>/dev/null
	wait "$HANDLER_PID" 2>/dev/null
	HANDLER_PID=
	echo 1 >"$D/action/block_dev" || fail "block_dev"
	echo 1 >"$D/action/reset_ring" || fail "reset_ring"
	echo 0 >"$D/action/block_dev" || fail "unblock"
	tcmu_handler rs1 --threads 4 --ooo "${store[@]}" "$@"
}
for round in 1 2 3; do
	sleep 4
	check "fio still running (round $round)" kill -0 "$fio_pid"
	crash_and_recover
	log "killed and restarted the handler ($round)"
done
# one handler that dies by itself after a few commands
sleep 4
crash_and_recover --exit-after 40
check "the --exit-after handler died by itself" tcmu_wait 60 \
	eval "! kill -0 $HANDLER_PID 2>/dev/null"
check "it died on its 40th command" \
	grep -q "exit-after: got command 40 " /tmp/handler-rs1.log
check "fio still running (after --exit-after)" kill -0 "$fio_pid"
crash_and_recover
log "restarted after --exit-after"
wait "$fio_pid" || fail "fio verify across restarts: $(fio_log)"
tcmu_handler_stop
log "last handler: $(served) commands"
check "state ok" test "$(tcmu_info rs1 State)" = ok
log "pass"
