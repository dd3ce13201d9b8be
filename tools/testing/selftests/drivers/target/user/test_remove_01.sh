#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Device removal while commands are in flight: the LUN goes while a slow
# handler still holds commands, then the device; nothing hangs or leaks,
# and the handler sees its UIO device disappear.  Then removal while the
# device is queued on its completion thread, under a storm of kicks.
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

# Removal while the device sits on its completion thread's queue: every
# kick is handed over (completion_inline_depth=0) and the handler kicks
# nonstop, so the device is queued or being reaped whenever the removal
# comes.  The removal waits for the thread to let go; nothing hangs.
P=/sys/module/target_core_user/parameters
DBG=/sys/kernel/debug/target_core_user/completion
handoffs() { awk '/^cpu / { n += $10 } END { print n + 0 }' $DBG; }
echo 0 >$P/completion_inline_depth
for i in 4 5 6; do
	tcmu_dev_create rm$i 16M
	tcmu_handler rm$i --threads 2 --kick-storm
	dev=$(tcmu_dev_export rm$i) || fail "export rm$i"
	h0=$(handoffs)
	check "rm$i: IO verifies under the kick storm" tcmu_fio_verify "$dev" \
		--rw=randwrite --bs=4k --iodepth=8 --size=1M
	h1=$(handoffs)
	log "rm$i: $((h1 - h0)) hand-overs"
	# kicks that find the device queued already add no hand-over
	check "rm$i: the storm's kicks were handed over" test $((h1 - h0)) -ge 100
	timeout 60 bash -c "$(declare -f tcmu_loop_tag tcmu_loop_tpg tcmu_loop_unexport); \
		tcmu_loop_unexport $HBA/rm$i" || fail "LUN removal hung"
	timeout 60 rmdir "$HBA/rm$i" || fail "removal hung under a kick storm"
	# uio refuses write() once the device is unregistered
	check "rm$i: the storm ran until the device went" tcmu_wait 10 \
		grep -qE "kick storm: (Invalid argument|Input/output error) after" \
		"/tmp/handler-rm$i.log"
	kicks=$(sed -nE 's/.*kick storm: .* after ([0-9]+) kicks/\1/p' \
		"/tmp/handler-rm$i.log")
	log "rm$i: $kicks kicks"
	check "rm$i: the storm kicked" test "${kicks:-0}" -ge 10000
	tcmu_handler_stop
done
echo 1 >$P/completion_inline_depth
log "pass"
