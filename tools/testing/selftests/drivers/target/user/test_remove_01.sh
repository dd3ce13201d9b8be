#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Device removal while commands are in flight: the LUN goes while a slow
# handler still holds commands, then the device; nothing hangs or leaks,
# and the handler sees its UIO device disappear.
. "$(dirname "$0")/test_common.sh"
trap tcmu_cleanup EXIT
check "insmod" tcmu_mod_load

for i in 1 2 3; do
	tcmu_dev_create rm$i 32M
	tcmu_handler rm$i --threads 2 --delay-ms 50
	dev=$(tcmu_dev_export rm$i) || fail "export rm$i"
	fio --name=bg --filename="$dev" --direct=1 --ioengine=libaio \
		--rw=randrw --bs=4k --iodepth=32 --time_based --runtime=30 \
		>/dev/null 2>&1 &
	fio_pid=$!
	check "commands in flight" tcmu_wait 60 info_nonzero "rm$i" InFlight
	# removing the LUN waits for target core to drain the device
	timeout 60 bash -c "$(declare -f tcmu_loop_tag tcmu_loop_tpg tcmu_loop_unexport); \
		tcmu_loop_unexport $HBA/rm$i" || fail "LUN removal hung"
	kill "$fio_pid" 2>/dev/null
	wait "$fio_pid" 2>/dev/null
	timeout 60 rmdir "$HBA/rm$i" || fail "device removal failed"
	check "uio device gone" bash -c "! grep -q '/rm$i/' /sys/class/uio/uio*/name 2>/dev/null"
	wait "$HANDLER_PID" 2>/dev/null
	HANDLER_PID=
done
log "pass"
