#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A handler in a container: its /dev is a private tmpfs with the UIO node
# made by mknod, as container runtimes do.  The handler serves IO through
# that node and exits; the tmpfs is then unmounted (the container stops).
# Nothing may keep the node's inode: the unmount succeeds with no "Busy
# inodes" and no kernel BUG, the device's pages are still given back, and
# a handler on the host's node serves the device afterwards.
. "$(dirname "$0")/test_common.sh"
ctr=/tmp/ctr-dev
finish() {
	tcmu_cleanup
	mountpoint -q "$ctr" && umount "$ctr"
}
trap finish EXIT
check "insmod" tcmu_mod_load reclaim_idle_ms=200

tcmu_dev_create ct1 32M
uio=$(grep -ls '/ct1/' /sys/class/uio/uio*/name) || fail "no UIO device"
uio=${uio%/name}
uio=${uio##*/}
mkdir -p "$ctr"
mount -t tmpfs -o mode=755 ctr-dev "$ctr" || fail "mount a tmpfs"
IFS=: read -r major minor <"/sys/class/uio/$uio/dev"
mknod "$ctr/$uio" c "$major" "$minor" || fail "mknod"

for round in 1 2; do
	"$HANDLER_BIN" --uio "$ctr/$uio" >/tmp/handler-ct1.log 2>&1 &
	HANDLER_PID=$!
	dev=$(tcmu_dev_export ct1) || fail "export"
	tcmu_fio_verify "$dev" --rw=randwrite --bs=64k --iodepth=8 --size=8M ||
		fail "round $round: fio verify through the container's node: $(fio_log)"
	tcmu_handler_stop
	tcmu_dev_unexport ct1
done
check "pages given back after the handler left" tcmu_wait 20 info_is ct1 DataPagesHeld 0

umount "$ctr" || fail "umount of the container's /dev"
dmesg | grep -q 'Busy inodes' && fail "busy inodes after unmount"

tcmu_handler ct1
dev=$(tcmu_dev_export ct1) || fail "export after the container went"
tcmu_fio_verify "$dev" --rw=randrw --bs=4k --iodepth=16 --size=8M ||
	fail "fio verify through /dev/$uio: $(fio_log)"
tcmu_handler_stop
check "pages given back again" tcmu_wait 20 info_is ct1 DataPagesHeld 0
log "pass"
