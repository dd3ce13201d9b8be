#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Data path with the test handler: fio write+verify (crc32c) at 4 KiB and
# 256 KiB, in order and out of order, one and four handler threads, and
# none (the ring's reader runs the commands).  The
# data area starts empty, grows only as IO needs it, and never beyond
# max_data_area_mb: the 256 KiB run keeps 16 MiB in flight against an
# 8 MiB area, so the area's peak must reach the limit and stop there.
. "$(dirname "$0")/test_common.sh"
trap tcmu_cleanup EXIT
check "insmod" tcmu_mod_load

LIMIT=$((8 * 256))
tcmu_dev_create io1 64M max_data_area_mb=8 hw_max_sectors=2048
check "no data page before IO" test "$(tcmu_info io1 DataPagesHeld)" = 0
check "no peak before IO" test "$(tcmu_info io1 DataPagesPeak)" = 0

# run HANDLER_ARGS BS SIZE [FIO_ARGS...]
run() {
	local args bs=$2 size=$3 dev
	read -r -a args <<<"$1"
	shift 3
	tcmu_handler io1 "${args[@]}"
	dev=$(tcmu_dev_export io1) || fail "export ($1)"
	tcmu_fio_verify "$dev" --rw=randwrite --bs="$bs" --iodepth=16 \
		--size="$size" --numjobs=1 "$@" ||
		fail "fio verify bs=$bs handler '${args[*]}' $*: $(fio_log)"
	tcmu_dev_unexport io1
	tcmu_handler_stop
	log "ok: bs=$bs handler '${args[*]}' $*; peak $(tcmu_info io1 DataPagesPeak) pages"
}
# 4 MiB at 4 KiB: 1,024 writes, then as many reads, 16 in flight
run "--threads 1" 4k "$(tcmu_form 4M 16M)"
# no workers: the ring's reader runs each batch, one kick a batch
run "--threads 0" 4k "$(tcmu_form 4M 16M)"
run "--threads 4 --ooo" 4k "$(tcmu_form 4M 16M)"
# 4 jobs x 16 x 256 KiB: twice the area in flight, each job on its own
# quarter of the device (8 MiB: two fills of its queue).  The handler
# holds each command 20 ms, so that the jobs' commands pile up whatever
# the relative speed of fio and the handler (a handler that keeps up
# left the area at 1,728 of its 2,048 pages on a busy host)
run "--threads 4 --ooo --delay-ms 20" 256k "$(tcmu_form 8M 16M)" --numjobs=4 \
	--offset_increment=16M --group_reporting
peak=$(tcmu_info io1 DataPagesPeak)
((peak <= LIMIT)) || fail "the area held $peak pages, above max_data_area_mb=8 ($LIMIT)"
# one 256 KiB command (64 pages) short of the limit at most: the rest waited
((peak > LIMIT - 64)) ||
	fail "the area peaked at $peak pages: the IO never reached its $LIMIT-page limit"
run "--threads 1 --read-len" 64k "$(tcmu_form 8M 16M)"
check "state ok" test "$(tcmu_info io1 State)" = ok
log "pass"
