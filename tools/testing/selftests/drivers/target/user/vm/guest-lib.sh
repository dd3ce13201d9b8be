# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Shell helpers for tcmu-ng tests running inside the test VM (vm.sh); source
# this file. Needs root, the host's tcmu-runner/targetcli/dbus, and HOME on
# a writable fs (vm.sh sets HOME=/tmp).
#   tcmu_wait SECS CMD...           retry CMD every 0.1 s until it succeeds
#   tcmu_load_module KO [PARAMS]    load tcmu-ng's target_core_user.ko in
#                                   place of the stock module
#   tcmu_start_runner               start dbus-daemon and tcmu-runner
#   tcmu_stop_runner                stop tcmu-runner
#   tcmu_create_lun NAME SIZE FILE [HANDLER]
#                                   user:HANDLER (default qcow, which serves
#                                   a raw FILE) backstore exported through
#                                   its own tcm_loop target (loads tcm_loop
#                                   and sd_mod); prints /dev/sdX
#   tcmu_targetcli_lun NAME SIZE CFGSTRING HANDLER
#                                   the same for any handler's cfgstring
#                                   (user:rbd's POOL/IMAGE;OPTIONS, say)
#   tcmu_sd_for_backstore NAME      prints the /dev/sdX of a user backstore
#   tcmu_disk_settle DEV            wait until the kernel's partition scan
#                                   of the new disk DEV is over
#   tcmu_disk_ios DEV...            reads and writes the disks DEV... have
#                                   completed, in all
#   tcmu_disk_ios_over DEV N        DEV has completed more than N (for
#                                   tcmu_wait)
#   tcmu_loop_export DEVDIR         export the backstore at configfs DEVDIR
#                                   (any backend) as LUN 0 of its own
#                                   tcm_loop target; prints /dev/sdX
#   tcmu_loop_unexport DEVDIR       remove that target again
#   tcmu_iscsi_export DEVDIR        export it as LUN 0 of its own iSCSI
#                                   target on 127.0.0.1:3260 (demo mode:
#                                   any initiator, no authentication);
#                                   prints the target's IQN
#   tcmu_iscsi_unexport DEVDIR      remove that target again
#   tcmu_iscsi_unexport_all HBADIR... unexport every storage object of
#                                   those HBAs
#   tcmu_iscsi_login IQN            log the kernel's iSCSI initiator
#                                   (open-iscsi; starts iscsid) in to IQN
#                                   on 127.0.0.1:3260; prints /dev/sdX
#   tcmu_iscsi_logout IQN           log that session out, forget the node
#   tcmu_iscsi_session IQN          prints the sysfs directory of the
#                                   initiator's session to IQN
#   tcmu_ublk_start BIN LOG ARGS... start the ublk server BIN (ublk/) with
#                                   ARGS, its output in LOG; once its disk
#                                   is live, sets UBLK_PID and UBLK_DISK
#                                   (/dev/ublkbN)
#   tcmu_ublk_lun DIR BDEV          an iblock (LIO "block") backstore at
#                                   configfs DIR over BDEV, enabled
#   tcmu_teardown                   delete all LIO config, stop tcmu-runner
#   tcmu_kmem_kb                    KiB of kernel memory in use (below)
#   tcmu_burst DEV PATTERN          write PATTERN (1 MiB) to the disk DEV
#                                   with O_DIRECT, read it back, compare
# Logs: tcmu-runner writes /tmp/tcmu-runner.log (and .out for its stdio).

tcmu_wait() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

tcmu_load_module() {
	local ko=$1 kdir
	shift
	kdir=/lib/modules/$(uname -r)
	[[ ! -d /sys/module/target_core_user ]] || rmmod target_core_user
	# tcmu-ng's dependencies; built in on the debug kernel, where modprobe
	# still succeeds thanks to modules.builtin
	modprobe -a target_core_mod uio
	insmod "$ko" "$@"
	# kmod users (tcmu-runner, modprobe) look the module up by name before
	# they check that it is loaded. Debian's index has the stock module;
	# on the debug kernel /lib/modules is a tmpfs: index ours there.
	if ! modinfo target_core_user >/dev/null 2>&1; then
		mkdir -p "$kdir/extra"
		cp "$ko" "$kdir/extra/"
		depmod
	fi
}

tcmu_dbus_has_name() {
	dbus-send --system --print-reply --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
		"string:$1" 2>/dev/null | grep -q 'boolean true'
}

tcmu_start_runner() {
	[[ -d /sys/module/target_core_user ]] ||
		modprobe target_core_user
	mkdir -p /run/dbus
	[[ -S /run/dbus/system_bus_socket ]] || dbus-daemon --system --fork
	tcmu-runner -l /tmp >/tmp/tcmu-runner.out 2>&1 &
	TCMU_RUNNER_PID=$!
	tcmu_wait 60 tcmu_dbus_has_name org.kernel.TCMUService1 || {
		echo "tcmu-runner did not come up:" >&2
		cat /tmp/tcmu-runner.out /tmp/tcmu-runner.log >&2
		return 1
	}
}

tcmu_stop_runner() {
	[[ -n ${TCMU_RUNNER_PID:-} ]] || return 0
	kill "$TCMU_RUNNER_PID"
	wait "$TCMU_RUNNER_PID" || true
	TCMU_RUNNER_PID=
}

tcmu_sd_for_backstore() {
	local serial f dev i
	serial=$(cat /sys/kernel/config/target/core/user_*/"$1"/wwn/vpd_unit_serial)
	serial=${serial##*: }
	for ((i = 0; i < 300; i++)); do
		for f in /sys/block/sd*/device/vpd_pg80; do
			dev=${f#/sys/block/}
			dev=/dev/${dev%%/*}
			if [[ -b $dev ]] && grep -aqF "$serial" "$f"; then
				tcmu_disk_settle "$dev"
				echo "$dev"
				return 0
			fi
		done
		sleep 0.1
	done
	echo "no SCSI disk found for backstore $1 (serial $serial)" >&2
	return 1
}

# The node of a new disk appears before the kernel reads its partition
# table, and that scan holds the disk's open mutex until its READs are
# answered.  A handler stopped in that window leaves a READ on the ring
# until cmd_time_out, and every open of the disk (sg_raw, fio, dd) waits
# for it.  The scan is under way once the disk has completed a read (the
# SCSI probe's own commands are not counted); an open then returns after
# it.  No read within 30 s (nothing serves the device) is not an error.
tcmu_disk_settle() {
	local stat
	stat=/sys/class/block/${1##*/}/stat
	tcmu_wait 30 tcmu_disk_has_read "$stat" || return 0
	{ : <"$1"; } 2>/dev/null || true
}

tcmu_disk_ios() {
	local d f n=0
	for d; do
		read -r -a f <"/sys/block/${d#/dev/}/stat" || return
		n=$((n + f[0] + f[4]))
	done
	echo "$n"
}

tcmu_disk_ios_over() { (($(tcmu_disk_ios "$1") > $2)); }

tcmu_disk_has_read() {
	local reads
	read -r reads _ <"$1" && ((reads > 0))
}

# tcmu_scsi_disk DIR: the /dev node of the first disk under the SCSI
# device DIR (a host's or an iSCSI session's), once settled; status 1
# while there is none
tcmu_scsi_disk() {
	local f
	for f in "$1"/target*/*/block/*; do
		[[ -b /dev/${f##*/} ]] || continue
		tcmu_disk_settle "/dev/${f##*/}"
		echo "/dev/${f##*/}"
		return 0
	done
	return 1
}

tcmu_create_lun() {
	[[ -e $3 ]] || truncate -s "$2" "$3"
	tcmu_targetcli_lun "$1" "$2" "$3" "${4:-qcow}"
}

tcmu_targetcli_lun() {
	local name=$1 size=$2 cfg=$3 handler=$4 wwn
	modprobe -a tcm_loop sd_mod
	targetcli "/backstores/user:$handler" create "name=$name" "size=$size" \
		"cfgstring=$cfg" >&2 || return
	wwn=naa.5001405$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n' | cut -c1-9)
	targetcli /loopback create "wwn=$wwn" >&2
	targetcli "/loopback/$wwn/luns" create "/backstores/user:$handler/$name" >&2
	tcmu_sd_for_backstore "$name"
}

# A stable 9-hex-digit tag of a configfs device path, for the WWNs: FNV-1a
# kept to 36 bits, in bash alone (a pipeline through sha256sum cost 0.3 s
# an export in the debug guest)
tcmu_loop_tag() {
	local s=$1 h=0xcbf29ce48 i c
	for ((i = 0; i < ${#s}; i++)); do
		printf -v c '%d' "'${s:i:1}"
		h=$((((h ^ c) * 16777619) & 0xfffffffff))
	done
	printf '%09x' "$h"
}

# The tcm_loop TPG that tcmu_loop_export makes for DEVDIR
tcmu_loop_tpg() {
	echo "/sys/kernel/config/target/loopback/naa.5001405$(tcmu_loop_tag "$1")/tpgt_1"
}

tcmu_loop_export() {
	local devdir=$1 tpg addr host i
	tpg=$(tcmu_loop_tpg "$devdir")
	modprobe -a tcm_loop sd_mod
	mkdir -p "$tpg/lun/lun_0"
	echo "naa.5001406$(tcmu_loop_tag "$devdir")" >"$tpg/nexus"
	ln -s "$devdir" "$tpg/lun/lun_0/${devdir##*/}"
	addr=$(cat "$tpg/address") # "<host>:0:<tpgt>"
	host=${addr%%:*}
	for ((i = 0; i < 300; i++)); do
		tcmu_scsi_disk "/sys/class/scsi_host/host$host/device" && return 0
		sleep 0.1
	done
	echo "no disk appeared for $devdir on host $host" >&2
	return 1
}

tcmu_loop_unexport() {
	local tpg
	tpg=$(tcmu_loop_tpg "$1")
	[[ -d $tpg ]] || return 0
	rm -f "$tpg/lun/lun_0/${1##*/}"
	rmdir "$tpg/lun/lun_0"
	echo NULL >"$tpg/nexus" 2>/dev/null || true
	rmdir "$tpg" "${tpg%/tpgt_1}"
}

# The iSCSI target that tcmu_iscsi_export makes for DEVDIR
tcmu_iscsi_iqn() {
	echo "iqn.2003-01.org.linux-iscsi.tcmu-ng:$(tcmu_loop_tag "$1")"
}

tcmu_iscsi_export() {
	local devdir=$1 tpg a
	tpg=/sys/kernel/config/target/iscsi/$(tcmu_iscsi_iqn "$devdir")/tpgt_1
	# the guest's loopback comes up down
	ip link set lo up || return
	mkdir -p "$tpg/lun/lun_0" "$tpg/np/127.0.0.1:3260" || return
	ln -s "$devdir" "$tpg/lun/lun_0/${devdir##*/}" || return
	for a in generate_node_acls=1 cache_dynamic_acls=1 \
		demo_mode_write_protect=0 authentication=0; do
		echo "${a#*=}" >"$tpg/attrib/${a%=*}" || return
	done
	echo 1 >"$tpg/enable" || return
	tcmu_iscsi_iqn "$devdir"
}

# tcmu_iscsi_unexport_all HBADIR...: unexport every storage object of
# those HBAs (a test's clean-up; the objects stay)
tcmu_iscsi_unexport_all() {
	local h d
	for h; do
		for d in "$h"/*/; do
			[[ -d $d ]] && tcmu_iscsi_unexport "${d%/}"
		done
	done
	return 0
}

tcmu_iscsi_unexport() {
	local tpg np
	tpg=/sys/kernel/config/target/iscsi/$(tcmu_iscsi_iqn "$1")/tpgt_1
	[[ -d $tpg ]] || return 0
	echo 0 >"$tpg/enable"
	rm -f "$tpg/lun/lun_0/${1##*/}"
	rmdir "$tpg/lun/lun_0"
	for np in "$tpg"/np/*/; do
		[[ -d $np ]] && rmdir "$np"
	done
	rmdir "$tpg" "${tpg%/tpgt_1}"
}

# The initiator side: iscsid keeps its node records under /etc/iscsi,
# read-only in the guest, so a copy of it on the guest's /tmp is mounted
# there first.  iscsid runs until the VM stops.
tcmu_iscsid() {
	command -v iscsiadm >/dev/null ||
		{ echo "open-iscsi is not installed" >&2; return 1; }
	# built in on the debug kernel
	modprobe iscsi_tcp 2>/dev/null
	if ! grep -q ' /etc/iscsi ' /proc/mounts; then
		mkdir -p /tmp/etc-iscsi &&
			cp -a /etc/iscsi/. /tmp/etc-iscsi/ &&
			mount --bind /tmp/etc-iscsi /etc/iscsi || return
	fi
	[[ -s /run/iscsid.pid ]] && kill -0 "$(</run/iscsid.pid)" 2>/dev/null &&
		return 0
	# iscsid and iscsiadm lock their records here (systemd's tmpfiles
	# make it on a host)
	mkdir -p /run/lock/iscsi || return
	iscsid || return
	tcmu_wait 30 test -s /run/iscsid.pid
}

tcmu_iscsi_session() {
	local s
	for s in /sys/class/iscsi_session/session*; do
		[[ $(cat "$s/targetname" 2>/dev/null) == "$1" ]] || continue
		echo "$s"
		return 0
	done
	return 1
}

# The disk of IQN's session, once the SCSI scan found it
tcmu_iscsi_disk() {
	local s
	s=$(tcmu_iscsi_session "$1") && tcmu_scsi_disk "$s/device"
}

tcmu_iscsi_login() {
	local iqn=$1 p=127.0.0.1:3260
	tcmu_iscsid || return
	iscsiadm -m node -o new -T "$iqn" -p "$p" >/dev/null || return
	iscsiadm -m node -T "$iqn" -p "$p" --login >&2 || return
	tcmu_wait 60 tcmu_iscsi_disk "$iqn" >/dev/null ||
		{ echo "no disk appeared for $iqn" >&2; return 1; }
	tcmu_iscsi_disk "$iqn"
}

tcmu_iscsi_logout() {
	local iqn=$1 p=127.0.0.1:3260
	iscsiadm -m node -T "$iqn" -p "$p" --logout >&2 || return
	iscsiadm -m node -o delete -T "$iqn" -p "$p"
}

tcmu_ublk_start() {
	local bin=$1 log=$2
	shift 2
	UBLK_PID='' UBLK_DISK=''
	# built in on the debug kernel, a module in Debian's
	modprobe ublk_drv 2>/dev/null
	"$bin" "$@" >"$log" 2>&1 &
	UBLK_PID=$!
	# the disk's name is its first line, written once START_DEV is done
	if tcmu_wait 60 grep -q '^ublkb[0-9]*$' "$log"; then
		UBLK_DISK=/dev/$(grep -m1 '^ublkb[0-9]*$' "$log")
		tcmu_wait 30 test -b "$UBLK_DISK" && return 0
	fi
	echo "the ublk server did not start: $(tail -n 5 "$log")" >&2
	kill "$UBLK_PID" 2>/dev/null
	wait "$UBLK_PID" 2>/dev/null
	UBLK_PID='' UBLK_DISK=''
	return 1
}

tcmu_ublk_lun() {
	# built in on the debug kernel, modules in Debian's
	modprobe -a target_core_mod target_core_iblock 2>/dev/null
	mkdir -p "$1" &&
		echo "udev_path=$2" >"$1/control" &&
		echo 1 >"$1/enable"
}

# any storage object or fabric target in LIO's configfs
tcmu_lio_configured() {
	local d
	for d in /sys/kernel/config/target/core/*_[0-9]*/*/ \
		/sys/kernel/config/target/*/{naa,iqn,eui}.*/; do
		[[ -d $d ]] && return 0
	done
	return 1
}

tcmu_teardown() {
	# clearconfig starts targetcli, which takes seconds under TCG: only
	# when something is left to delete
	if tcmu_lio_configured; then
		targetcli clearconfig confirm=True >&2
	fi
	tcmu_stop_runner
}

# KiB of kernel memory in use: what /proc/meminfo does not put on the
# LRU, minus kernel stacks and page tables (processes' costs) and
# kmemleak's own objects (one per allocation of the whole kernel, in the
# debug kernel): slab, vmalloc, per-CPU and bare pages (TCMU rings, data
# areas) all count.  Taken once objects freed after an RCU grace period
# are gone and every slab cache was shrunk: that also takes its objects
# out of KASAN's quarantine, where freed objects otherwise stay (up to
# 1/32 of memory) and grow with any process that comes and goes.  Free
# pages on the per-CPU lists count as free.
tcmu_kmem_kb() {
	local k v _ pcp leak f
	local -A m
	sync
	echo 3 >/proc/sys/vm/drop_caches
	sleep 2
	for f in /sys/kernel/slab/*/shrink; do
		echo 1 >"$f"
	done 2>/dev/null
	echo 3 >/proc/sys/vm/drop_caches
	while read -r k v _; do m[${k%:}]=$v; done </proc/meminfo
	pcp=$(awk '$1 == "count:" { n += $2 } END { print n * 4 }' /proc/zoneinfo)
	# slabs x pages per slab x 4 KiB
	leak=$(awk '$1 == "kmemleak_object" { n = $15 * $6 * 4 } END { print n + 0 }' \
		/proc/slabinfo)
	echo $((m[MemTotal] - m[MemFree] - pcp - m[Active] - m[Inactive] -
		m[Unevictable] - m[KernelStack] - m[PageTables] - leak))
}

# tcmu_burst DEV PATTERN: a verified burst of 1 MiB on the disk DEV
tcmu_burst() {
	local dev=$1 pat=$2 in=/tmp/burst.in
	dd if="$pat" of="$dev" bs=64k count=16 oflag=direct status=none ||
		{ echo "$dev: write failed" >&2; return 1; }
	dd if="$dev" of="$in" bs=64k count=16 iflag=direct status=none ||
		{ echo "$dev: read failed" >&2; return 1; }
	cmp -s "$pat" "$in" || { echo "$dev: the data read differ" >&2; return 1; }
}
