#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Data path with the test handler: fio write+verify (crc32c) at 4 KiB and
# 256 KiB, in order and out of order, one and four handler threads.  The
# data area starts empty, grows only as IO needs it, and never beyond
# max_data_area_mb.
. "$(dirname "$0")/test_common.sh"
trap tcmu_cleanup EXIT
check "insmod" tcmu_mod_load

tcmu_dev_create io1 64M max_data_area_mb=8 hw_max_sectors=2048
check "no data page before IO" test "$(tcmu_info io1 DataPagesHeld)" = 0

run() {
	local args bs=$2 dev
	read -r -a args <<<"$1"
	tcmu_handler io1 "${args[@]}"
	dev=$(tcmu_dev_export io1) || fail "export ($1)"
	tcmu_fio_verify "$dev" --rw=randwrite --bs="$bs" --iodepth=16 \
		--size=16M --numjobs=1 ||
		fail "fio verify bs=$bs handler '$1': $(fio_log)"
	tcmu_dev_unexport io1
	tcmu_handler_stop
	log "ok: bs=$bs handler '$1'"
}
run "--threads 1" 4k
run "--threads 4 --ooo" 4k
run "--threads 4 --ooo" 256k
run "--threads 1 --read-len" 64k

held=$(tcmu_info io1 DataPagesHeld)
log "data pages held after IO: $held"
((held > 0)) || fail "no data page was ever allocated"
((held <= 8 * 256)) || fail "$held pages exceed max_data_area_mb=8"
check "state ok" test "$(tcmu_info io1 State)" = ok
log "pass"
