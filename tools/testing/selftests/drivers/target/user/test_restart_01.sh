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
tcmu_fio_verify "$dev" --rw=randwrite --bs=8k --iodepth=16 --size=24M \
	--time_based --runtime=30 --verify_backlog=128 &
fio_pid=$!

recover() {
	echo 1 >"$D/action/block_dev"
	echo 1 >"$D/action/reset_ring"
	echo 0 >"$D/action/block_dev"
	tcmu_handler rs1 --threads 4 --ooo "${store[@]}"
}
for round in 1 2 3; do
	sleep 3
	check "IO is flowing (round $round)" kill -0 "$fio_pid"
	kill -KILL "$HANDLER_PID"
	wait "$HANDLER_PID" 2>/dev/null
	recover
	log "killed and restarted the handler ($round)"
done
# a handler that dies on its own after a few commands
tcmu_handler_stop
tcmu_handler rs1 --threads 4 "${store[@]}" --exit-after 40
timeout 20 tail --pid="$HANDLER_PID" -f /dev/null || fail "handler did not crash"
HANDLER_PID=
recover
wait "$fio_pid" || fail "fio verify across restarts: $(fio_log)"
check "state ok" test "$(tcmu_info rs1 State)" = ok
log "pass"
