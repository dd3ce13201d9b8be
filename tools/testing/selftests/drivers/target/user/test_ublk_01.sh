#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The benchmark's ublk peer keeps working: make bench measures the TCMU
# paths against tcmu-ublk-server (ublk/) exported through LIO's block
# (iblock) backstore on tcm_loop.  Here that export serves fio verify
# (crc32c) at 4 KiB and 256 KiB, two queues, with the kernel copying into
# the server's buffers and with UBLK_F_USER_COPY; the data lives in the
# server's memory store, so every verify READ comes back from it.  On
# SIGTERM the server stops and deletes its device, and exits 0.
. "$(dirname "$0")/test_common.sh"

# built in ublk/; a kselftest install has it next to the tests
UBLK_BIN=$here/ublk/tcmu-ublk-server
[[ -x $UBLK_BIN || ! -x $here/tcmu-ublk-server ]] ||
	UBLK_BIN=$here/tcmu-ublk-server
[[ -x $UBLK_BIN ]] || skip "no tcmu-ublk-server (make -C ublk)"
modprobe ublk_drv 2>/dev/null
[[ -c /dev/ublk-control ]] || skip "no ublk driver (CONFIG_BLK_DEV_UBLK)"

IBLOCK=$CORE/iblock_1
UBLK_PID=
cleanup() {
	tcmu_loop_unexport "$IBLOCK/ublk0" 2>/dev/null
	rmdir "$IBLOCK/ublk0" "$IBLOCK" 2>/dev/null
	[[ -z $UBLK_PID ]] || tcmu_stop_pids "$UBLK_PID"
}
trap cleanup EXIT

# run MODE [SERVER_ARGS...]
run() {
	local mode=$1 pid disk dev log=/tmp/ublk-server-$1.log
	shift
	tcmu_ublk_start "$UBLK_BIN" "$log" --store mem --size $((64 << 20)) \
		--queues 2 --depth 32 "$@" || fail "$mode: the server did not start"
	pid=$UBLK_PID disk=$UBLK_DISK
	check "$mode: iblock backstore on $disk" tcmu_ublk_lun "$IBLOCK/ublk0" "$disk"
	dev=$(tcmu_loop_export "$IBLOCK/ublk0") || fail "$mode: export"
	tcmu_fio_verify "$dev" --rw=randwrite --bs=4k --iodepth=16 \
		--size="$(tcmu_form 8M 32M)" ||
		fail "$mode: fio verify 4k: $(fio_log)"
	# four jobs of 256 KiB, each on its own quarter
	tcmu_fio_verify "$dev" --rw=randwrite --bs=256k --iodepth=8 \
		--numjobs=4 --size="$(tcmu_form 8M 16M)" \
		--offset_increment=16M --group_reporting ||
		fail "$mode: fio verify 256k: $(fio_log)"
	log "ok: $mode, $disk as $dev"
	tcmu_loop_unexport "$IBLOCK/ublk0"
	rmdir "$IBLOCK/ublk0"
	kill "$pid"
	wait "$pid" || fail "$mode: the server exited $?: $(tail -n 5 "$log")"
	UBLK_PID=
	check "$mode: $disk deleted" test ! -e "$disk"
	check "$mode: ${disk/ublkb/ublkc} deleted" test ! -e "${disk/ublkb/ublkc}"
}

run copy
run user-copy --user-copy
log "pass"
