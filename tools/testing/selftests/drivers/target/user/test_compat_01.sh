#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Debian's tcmu-runner and targetcli, unchanged, on tcmu-ng: create a
# user:qcow backstore on a raw file, fio with crc32c verification, ask
# tcmu-runner to resize it (netlink RECONFIG and its reply); then a
# second backstore with zero copy on, fio verify through the window and
# an O_DIRECT write of never-touched memory (zero pages); delete.
. "$(dirname "$0")/test_common.sh"
trap 'tcmu_teardown >/dev/null 2>&1; tcmu_cleanup' EXIT
command -v tcmu-runner >/dev/null || skip "tcmu-runner not installed"
check "insmod" tcmu_mod_load
check "tcmu-runner starts" tcmu_start_runner

dev=$(tcmu_create_lun compat 64M /tmp/compat.raw) || fail "targetcli create"
log "LUN $dev"
tcmu_fio_verify "$dev" --rw=randwrite --bs=4k --iodepth=16 \
	--size="$(tcmu_form 4M 64M)" || fail "fio verify: $(fio_log)"
tcmu_fio_verify "$dev" --rw=write --bs=256k --iodepth=4 \
	--size="$(tcmu_form 16M 64M)" ||
	fail "fio verify 256k: $(fio_log)"

# dev_size goes to tcmu-runner as a netlink RECONFIG; its qcow handler
# cannot resize and answers EOPNOTSUPP, which must come back unchanged
so=/backstores/user:qcow/compat
if out=$(targetcli "$so" set attribute dev_size=134217728 2>&1); then
	fail "qcow handler accepted a resize: $out"
fi
[[ $out == *"Operation not supported"* ]] ||
	fail "expected tcmu-runner's EOPNOTSUPP, got: $out"
check "dev_size unchanged" test \
	"$(cat "$CORE"/user_*/compat/attrib/dev_size)" = 67108864
tcmu_fio_verify "$dev" --rw=randwrite --bs=4k --iodepth=8 \
	--size="$(tcmu_form 2M 8M)" ||
	fail "IO after the refused reconfig: $(fio_log)"

check "no broken ring" grep -q "State: ok" "$CORE"/user_*/compat/info

# Zero copy under the same tcmu-runner (one runner per VM boot: a second
# start in the same boot did not serve new devices): a user:qcow device
# made through configfs with zero_copy=1 and zero_copy_read=1.  4 KiB
# takes the copy path, 64 KiB..1 MiB the window, page aligned and not.
hba=$(dirname "$(ls -d "$CORE"/user_*/compat)")
d=$hba/zr
truncate -s 64M /tmp/zr.raw
mkdir -p "$d" || fail "mkdir zr"
for o in dev_config=qcow//tmp/zr.raw dev_size=67108864 hw_max_sectors=2048 \
	zero_copy=1 zero_copy_read=1; do
	echo "$o" >"$d/control" || fail "zr: control $o"
done
echo 1 >"$d/enable" || fail "zr: enable"
zdev=$(tcmu_loop_export "$d") || fail "zr: export to tcm_loop"
zinfo() { tcmu_info_of "$d/info" "$1"; }
tcmu_fio_verify "$zdev" --rw=randwrite --bs=4k --iodepth=16 \
	--size="$(tcmu_form 2M 8M)" ||
	fail "zr: fio verify 4k: $(fio_log)"
check "zr: 4 KiB took the copy path" test "$(zinfo ZcCmds)" = 0
for align in 0 512; do
	tcmu_fio_verify "$zdev" --rw=randrw --bsrange=64k-1m --iodepth=8 \
		--size="$(tcmu_form 16M 64M)" --mem_align=$align ||
		fail "zr: fio randrw 64k-1m mem_align=$align: $(fio_log)"
done
# O_DIRECT from memory never touched: the block layer gets the shared
# zero page, which may not be shown in the window; it is bounced, and
# the zeros land on the LUN
python3 - "$zdev" <<'EOF' || fail "zr: O_DIRECT write of untouched memory"
import mmap, os, sys
n = 1 << 20
fd = os.open(sys.argv[1], os.O_RDWR | os.O_DIRECT)
# private anonymous memory, never touched: O_DIRECT pins the zero page
src = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
if os.pwritev(fd, [src], 0) != n:
    sys.exit("short write")
dst = mmap.mmap(-1, n)
dst.write(b"\xa5" * n)
if os.preadv(fd, [dst], 0) != n or dst[:] != bytes(n):
    sys.exit("the LUN does not read back zeros")
EOF
check "zr: zero pages bounced" test "$(zinfo ZcBouncedUnmappable)" -ge 256
log "zr: $(grep ZeroCopy "$d/info")"
check "zr: zero-copy commands" test "$(zinfo ZcCmds)" -gt 0
check "zr: bounced pages (unaligned buffers)" test "$(zinfo ZcBounced)" -gt 0
check "zr: tcmu-runner faulted slots in" test "$(zinfo ZcFaults)" -gt 0
check "zr: tcmu-runner never wrote WRITE data" test "$(zinfo ZcWriteDenied)" = 0
check "zr: no broken ring" test "$(zinfo State)" = ok
tcmu_loop_unexport "$d"
rmdir "$d" || fail "rmdir zr"
targetcli clearconfig confirm=True >/dev/null || fail "targetcli clearconfig"
check "backstore deleted" test ! -e "$CORE"/user_*/compat
tcmu_stop_runner
log "pass"
