#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Zero copy with Debian's tcmu-runner, unchanged: a user:qcow backstore
# (serving a raw file) created with zero_copy=1 and zero_copy_read=1, fio --verify=crc32c at
# 4 KiB (copy path) and 64 KiB to 1 MiB (zero copy), page aligned and
# not.  tcmu-runner knows nothing of the window: its iovecs simply point
# there.
. "$(dirname "$0")/test_common.sh"
trap 'tcmu_teardown >/dev/null 2>&1; tcmu_cleanup' EXIT
command -v tcmu-runner >/dev/null || skip "tcmu-runner not installed"
check "insmod" tcmu_mod_load
check "tcmu-runner starts" tcmu_start_runner

d=$HBA/zr
truncate -s 64M /tmp/zr.raw
mkdir -p "$d" || fail "mkdir"
for o in dev_config=qcow//tmp/zr.raw dev_size=67108864 hw_max_sectors=2048 \
	zero_copy=1 zero_copy_read=1; do
	echo "$o" >"$d/control" || fail "control $o"
done
echo 1 >"$d/enable" || fail "enable"
dev=$(tcmu_loop_export "$d") || fail "export to tcm_loop"
log "LUN $dev"
tcmu_fio_verify "$dev" --rw=randwrite --bs=4k --iodepth=16 --size=8M ||
	fail "fio verify 4k: $(fio_log)"
check "4 KiB took the copy path" info_is zr ZcCmds 0
for align in 0 512; do
	tcmu_fio_verify "$dev" --rw=randwrite --bsrange=64k-1m --iodepth=8 \
		--size=32M --mem_align=$align ||
		fail "fio verify 64k-1m mem_align=$align: $(fio_log)"
	tcmu_fio_verify "$dev" --rw=randrw --bsrange=64k-1m --iodepth=8 \
		--size=32M --mem_align=$align ||
		fail "fio randrw 64k-1m mem_align=$align: $(fio_log)"
done
log "kernel $(grep ZeroCopy "$d/info")"
check "zero-copy commands" info_nonzero zr ZcCmds
check "bounced pages (unaligned buffers)" info_nonzero zr ZcBounced
check "tcmu-runner faulted slots in" info_nonzero zr ZcFaults
check "tcmu-runner never wrote WRITE data" info_is zr ZcWriteDenied 0
check "no broken ring" info_is zr State ok
tcmu_loop_unexport "$d"
rmdir "$d" || fail "rmdir"
tcmu_stop_runner
log "pass"
