#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=dash
# /init of the tcmu-ng test VM's initramfs (busybox), built by vm.sh.
# Stage 1 (initramfs): loads the 9p and configfs modules (Debian kernel),
# mounts the host root read-only over 9p with tmpfs on the few paths that
# must be writable, the output share on /mnt/out and the pseudo filesystems,
# then chroots PID 1 itself into the host root (so the kernel's modprobe
# calls see the host's /sbin/modprobe and /lib/modules) and re-runs this
# script there as stage 2: it runs the job vm.sh put in /tcmu-job, triggers
# a kmemleak scan (a failed scan fails the job), prints "TCMU-VM-EXIT <rc>" and powers the VM off.
die() {
	echo "tcmu-vm init: $*"
	/bin/busybox poweroff -f
}

if [ "$1" = stage2 ]; then
	export PATH=/usr/sbin:/usr/bin:/sbin:/bin
	# the chroot command line ("$@") comes from vm.sh
	# shellcheck source=/dev/null
	. /run/tcmu-vm/tcmu-job
	read -r up _ </proc/uptime
	echo "tcmu-vm: up after $up s, running the command"
	env -i "$@" </dev/null
	rc=$?
	# The debug kernel (TCMU_MODDIR set) has kmemleak: a scan that cannot
	# run (kmemleak turned itself off, e.g. out of memory for its own
	# objects) would leave leaks unseen, so it fails the run.
	kmemleak=/sys/kernel/debug/kmemleak
	if [ -e $kmemleak ] || [ -n "$TCMU_MODDIR" ]; then
		echo "tcmu-vm: kmemleak scan"
		if echo scan >$kmemleak && sleep 5 && echo scan >$kmemleak; then
			cat $kmemleak
		else
			echo "tcmu-vm: the kmemleak scan failed"
			[ "$rc" != 0 ] || rc=1
		fi
	fi
	sync
	umount /mnt/out
	echo "TCMU-VM-EXIT $rc"
	/bin/busybox poweroff -f
fi

/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /newroot
mount -t proc none /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# shellcheck source=/dev/null
. /tcmu-job

if [ -f /modules/order ]; then
	while read -r m; do
		insmod "/modules/$m.ko" || die "insmod $m failed"
	done </modules/order
fi

r=/newroot
p9=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o "$p9,ro,cache=loose" host $r || die "cannot mount the host root"
for d in tmp:1777 var/tmp:1777 run:755 var/log:755 etc/target:755 \
	var/target:755 mnt:755; do
	mount -t tmpfs -o "mode=${d#*:}" tmpfs "$r/${d%:*}" ||
		die "cannot mount tmpfs on /${d%:*} (vm/deps.sh makes the mount points)"
done
# target core writes each device's persistent-reservation state here
# (even "no registrations"), and fails PERSISTENT RESERVE OUT without it
mkdir -p $r/var/target/pr $r/var/target/alua
mkdir $r/mnt/out
mount -t 9p -o "$p9,cache=mmap" out $r/mnt/out || die "cannot mount the output share"
mount -t proc none $r/proc
mount -t sysfs sys $r/sys
mount -t devtmpfs dev $r/dev
mkdir -p $r/dev/pts $r/dev/shm
# what udev would add: bash's <(...) (dkms uses it) needs /dev/fd
ln -s /proc/self/fd $r/dev/fd
ln -s /proc/self/fd/0 $r/dev/stdin
ln -s /proc/self/fd/1 $r/dev/stdout
ln -s /proc/self/fd/2 $r/dev/stderr
mount -t devpts none $r/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $r/dev/shm
mount -t configfs none $r/sys/kernel/config
mount -t debugfs none $r/sys/kernel/debug
mount -t tracefs none $r/sys/kernel/tracing
if [ -n "$TCMU_MODDIR" ]; then
	# the debug kernel's modules.builtin, so that modprobe finds built-ins,
	# on a tmpfs, so that tests can add and depmod their module
	mount -t tmpfs -o mode=755 tmpfs $r/lib/modules
	cp -a "$r$TCMU_MODDIR/." $r/lib/modules/ || die "cannot copy $TCMU_MODDIR"
fi
mkdir $r/run/tcmu-vm
cp /init /tcmu-job $r/run/tcmu-vm/
exec chroot $r /bin/busybox sh /run/tcmu-vm/init stage2
