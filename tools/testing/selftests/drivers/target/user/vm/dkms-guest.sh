#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The guest side of scripts/dkms-test.sh, run by vm.sh on Debian's 6.12
# kernel with the state disk attached (/dev/vda, ext4).  The host root is
# read-only in the VM, so the directories DKMS writes (/usr/src,
# /var/lib/dkms, /lib/modules/KVER) are overlays whose upper layers live
# on the disk, and survive into the next boot like an installed system's.
#   dkms-guest.sh install REPO   first boot: scripts/dkms.sh install
#   dkms-guest.sh check REPO     second boot: modprobe must pick the DKMS
#                                module; run test_compat_01 with it (from
#                                the current directory, the staged
#                                selftests); then scripts/dkms.sh remove
#                                must give modprobe the stock module back
set -euo pipefail

what=${1:?usage: $0 install|check REPO}
repo=${2:?usage: $0 install|check REPO}
kver=$(uname -r)
state=/mnt/state
dirs=(/usr/src /var/lib/dkms "/lib/modules/$kver")

log() { echo "[dkms-guest] $*"; }
die() {
	log "FAIL: $*"
	exit 1
}

# Debian 6.12's deadline server ("fair server") can re-arm its timer on
# one CPU while the timer's callback, on another, waits for the run
# queue lock (as we read it: dl_server_stop()'s hrtimer_try_to_cancel()
# cannot stop a callback already running, and dl_server_start() arms the
# timer again); the callback's hrtimer_forward() then warns (from
# dl_task_timer).  The window is a stalled vCPU, and check.sh runs this
# guest at idle priority, where a vCPU can wait seconds for a host core:
# one of two cold runs hit it, after our module had been unloaded.  The
# fair server keeps real-time tasks from starving the others; nothing
# here runs real-time, so it is switched off (runtime 0) on every CPU.
for f in /sys/kernel/debug/sched/fair_server/cpu*/runtime; do
	[[ -e $f ]] || continue
	echo 0 >"$f" || die "cannot switch the fair server off ($f)"
done

modprobe -a virtio_blk ext4 overlay
mkdir -p $state
mount -t ext4 /dev/vda $state || die "cannot mount the state disk"
for d in "${dirs[@]}"; do
	mkdir -p "$state/upper$d" "$state/work$d"
	mount -t overlay none \
		-o "lowerdir=$d,upperdir=$state/upper$d,workdir=$state/work$d" "$d" ||
		die "cannot overlay $d"
done
unmount() {
	local i
	sync
	for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
		umount "${dirs[i]}" || true
	done
	umount $state
}
trap unmount EXIT

case $what in
install)
	[[ ! -d /sys/module/target_core_user ]] || die "target_core_user is loaded already"
	"$repo/scripts/dkms.sh" install "$kver" || die "dkms.sh install failed"
	ko=$(modinfo -n target_core_user)
	[[ $ko == "/lib/modules/$kver/updates/dkms/"* ]] ||
		die "modprobe would load $ko, not the DKMS module"
	log "installed $ko; rebooting"
	;;
check)
	status=$(dkms status -m tcmu-ng -k "$kver")
	[[ $status == *": installed"* ]] ||
		die "DKMS does not list tcmu-ng as installed for $kver: $status"
	ko=$(modinfo -n target_core_user)
	[[ $ko == "/lib/modules/$kver/updates/dkms/"* ]] ||
		die "after the reboot modprobe would load $ko, not the DKMS module"
	log "modprobe loads $ko ($(modinfo -F description "$ko"))"
	TCMU_KO=$ko TCMU_MODPROBE=1 ./run_tests.sh test_compat_01.sh ||
		die "test_compat_01 failed with the DKMS module"
	"$repo/scripts/dkms.sh" remove || die "dkms.sh remove failed"
	ko=$(modinfo -n target_core_user)
	[[ $ko == "/lib/modules/$kver/kernel/drivers/target/"* ]] ||
		die "after dkms remove modprobe would load $ko, not the stock module"
	log "removed; modprobe loads the stock $ko again"
	;;
*) die "unknown step $what" ;;
esac
log "PASS $what"
