#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The handler crashes mid-IO and a new one takes over: fio with crc32c
# verification keeps running through the restart and finds no bad data.
# Recovery is what tcmu-runner does: block_dev, reset_ring 1 (in-flight
# commands end with BUSY and are retried), unblock, serve again.
. "$(dirname "$0")/test_common.sh"
trap tcmu_cleanup EXIT
check "insmod" tcmu_mod_load

tcmu_dev_create rs1 64M max_data_area_mb=16
D=$HBA/rs1
tcmu_handler rs1 --threads 4 --ooo
dev=$(tcmu_dev_export rs1) || fail "export"
tcmu_fio_verify "$dev" --rw=randwrite --bs=8k --iodepth=16 --size=24M &
fio_pid=$!
for round in 1 2 3; do
	sleep 2
	tcmu_handler_stop
	# a crash: the next handler dies after a few commands, unanswered
	tcmu_handler rs1 --threads 4 --ooo --exit-after 50
	wait "$HANDLER_PID" 2>/dev/null
	HANDLER_PID=
	echo 1 >"$D/action/block_dev"
	echo 1 >"$D/action/reset_ring"
	echo 0 >"$D/action/block_dev"
	tcmu_handler rs1 --threads 4 --ooo
	log "restart $round done"
done
wait "$fio_pid" || fail "fio verify across restarts: $(cat /tmp/fio-$TEST_NAME.out)"
check "state ok" test "$(tcmu_info rs1 State)" = ok
log "pass"
