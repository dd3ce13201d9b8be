#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A handler that writes garbage into the ring breaks its own device and
# nothing else: one log line, no WARN, the device reports "broken",
# commands fail instead of hanging, another device keeps working, and
# reset_ring brings the broken one back: a new handler serves fio verify
# on it.  (The fuzzer goes much further.)
. "$(dirname "$0")/test_common.sh"
gpid=''
trap 'tcmu_stop_pids $gpid; tcmu_cleanup' EXIT
check "insmod" tcmu_mod_load
command -v python3 >/dev/null || skip "python3 missing"

tcmu_dev_create good 32M
tcmu_dev_create bad 32M
# export both while their handlers serve them (a LUN whose SCSI scan
# fails cannot be unlinked cleanly: tcm_loop then leaks its nexus)
tcmu_handler bad
bdev=$(tcmu_dev_export bad) || fail "export bad"
tcmu_handler_stop
tcmu_handler good
gpid=$HANDLER_PID
HANDLER_PID=
gdev=$(tcmu_dev_export good) || fail "export good"

uio=$(grep -lx "tcm-user/1/bad/test/bad" /sys/class/uio/uio*/name)
uio=/dev/$(basename "$(dirname "$uio")")
# poke MB_FIELD VALUE: write a u32 into the mailbox and kick the kernel
poke() {
	python3 - "$uio" "$1" "$2" <<'PY'
import mmap, os, struct, sys
path, off, val = sys.argv[1], int(sys.argv[2]), int(sys.argv[3], 0)
size = int(open("/sys/class/uio/%s/maps/map0/size" % os.path.basename(path)).read(), 16)
fd = os.open(path, os.O_RDWR)
m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
m[off:off + 4] = struct.pack("<I", val)
os.write(fd, struct.pack("<I", 1))
m.close()
os.close(fd)
PY
}
count() { dmesg | grep -c "bad: handler broke the ring"; }

poke 64 0x7		# cmd_tail, unaligned
check "broken after a bad cmd_tail" info_is bad State broken
check "one log line" test "$(count)" = 1
poke 64 0xfffffff0	# cmd_tail, out of the ring
poke 64 0x10
check "still one log line" test "$(count)" = 1

# commands to the broken device fail at once instead of hanging
start=$SECONDS
out=$(sg_raw -t 60 -r 4096 "$bdev" 28 00 00 00 00 00 00 00 08 00 2>&1) &&
	fail "READ on a broken device succeeded"
(((SECONDS - start) < 10)) || fail "READ on a broken device took $((SECONDS - start)) s"
grep -qi "sense" <<<"$out" || fail "no sense data from the broken device: $out"
tcmu_fio_verify "$gdev" --rw=randwrite --bs=4k --iodepth=8 --size=4M ||
	fail "the good device failed: $(fio_log)"

echo 1 >"$HBA/bad/action/reset_ring" || fail "reset_ring 1"
check "reset_ring repairs" info_is bad State ok
tcmu_handler bad
tcmu_fio_verify "$bdev" --rw=randwrite --bs=4k --iodepth=8 --size=4M ||
	fail "the repaired device failed: $(fio_log)"
tcmu_handler_stop
poke 64 0x8		# cmd_tail past the (empty) ring head
check "broken again" info_is bad State broken
check "logged again after the reset" test "$(count)" = 2
log "pass"
