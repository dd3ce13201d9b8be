#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boots a kernel in QEMU (TCG) and runs one command inside it, chrooted into
# the host's root filesystem (shared read-only over 9p), in the current
# directory. Exits with the command's status; exits non-zero as well when the
# guest dies or times out, or when check-log.sh finds a kernel splat
# (KASAN, lockdep, WARN, kmemleak, ...) in the console log.
#
# Inside the guest: TCMU_VM=1, TCMU_OUT=/mnt/out (read-write share of --out),
# HOME=/tmp; tmpfs on /tmp /var/tmp /run /var/log /etc/target /mnt; proc,
# sysfs, devtmpfs, configfs, debugfs and tracefs mounted. With the debug
# kernel, /lib/modules is a tmpfs holding its modules.builtin, so modprobe
# of built-in modules (target_core_mod, tcm_loop, ...) succeeds. The host's
# /tmp is hidden in the guest: run from (and pass paths) elsewhere.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${TCMU_CACHE:-$HOME/.cache/tcmu-ng}

usage() {
	cat >&2 <<EOF
usage: $0 --kernel debug|debian [--smp N] [--mem SIZE] [--timeout SECS]
          [--out HOSTDIR] [--log FILE] [--env NAME=VALUE]... [--append ARGS]
          [--disk IMAGE] [--icount] -- COMMAND [ARGS...]
  --out     host dir shared read-write as \$TCMU_OUT (default: a new temp dir)
  --log     console log (default: HOSTDIR/console.log)
  --env     set a variable for COMMAND (repeatable)
  --append  extra kernel command line (e.g. loglevel=7 kunit.enable=0)
  --disk    a raw disk image attached as virtio-blk (/dev/vda in the guest)
  --icount  the guest's clock counts its instructions (QEMU -icount
            shift=0,sleep=off,align=off): one ns per instruction, idle
            time skipped, all vCPUs on one host thread; time measured in
            the guest is then its cost in instructions, whatever the host
EOF
	exit 2
}
log() { echo "[vm] $*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# Quotes $1 for a POSIX shell (the busybox init sources the job file).
sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

kernel='' smp=2 mem=2G timeout=1200 out='' logf='' append='' disk='' envs=()
icount=()
while (($#)); do
	case $1 in
	--) shift && break ;;
	--icount)
		icount=(-icount "shift=0,sleep=off,align=off")
		shift
		;;
	--kernel | --smp | --mem | --timeout | --out | --log | --env | --append | --disk)
		(($# >= 2)) || usage
		case $1 in
		--kernel) kernel=$2 ;;
		--smp) smp=$2 ;;
		--mem) mem=$2 ;;
		--timeout) timeout=$2 ;;
		--out) out=$2 ;;
		--log) logf=$2 ;;
		--env)
			[[ $2 == [A-Za-z_]*=* ]] || usage
			envs+=("$2")
			;;
		--append) append=$2 ;;
		--disk) disk=$2 ;;
		esac
		shift 2
		;;
	*) usage ;;
	esac
done
(($#)) || usage

# Builds (once) the base initramfs: busybox, /init, and the given modules
# (decompressed, loaded in this order). Prints its path.
base_initramfs() {
	local key img stage f name
	key=$(cat /bin/busybox "$here/guest-init.sh" "$@" | sha256sum | cut -c1-12)
	img=$cache/initramfs-$key.cpio
	if [[ ! -f $img ]]; then
		log "building initramfs $img"
		stage=$(mktemp -d)
		mkdir -p "$stage/bin" "$stage/modules"
		cp /bin/busybox "$stage/bin/"
		install -m 755 "$here/guest-init.sh" "$stage/init"
		for f; do
			name=$(basename "$f")
			name=${name%.xz}
			case $f in
			*.xz) xz -dc "$f" >"$stage/modules/$name" ;;
			*) cp "$f" "$stage/modules/$name" ;;
			esac
			echo "${name%.ko}" >>"$stage/modules/order"
		done
		mkdir -p "$cache"
		(cd "$stage" && find . | cpio -o -H newc -R 0:0 --quiet) >"$img.$$"
		mv "$img.$$" "$img"
		rm -rf "$stage"
	fi
	echo "$img"
}

case $kernel in
debian)
	{ read -r image && read -r _; } < <("$here/kernel.sh" debian)
	kver=${image#/boot/vmlinuz-}
	mapfile -t mods < <(modprobe -a -S "$kver" --show-depends configfs 9pnet_virtio 9p |
		awk '$1 == "insmod" && !seen[$2]++ { print $2 }')
	((${#mods[@]})) || die "no 9p modules found for $kver"
	initrd=$(base_initramfs "${mods[@]}")
	moddir=''
	;;
debug)
	bdir=$("$here/kernel.sh" debug)
	image=$bdir/arch/x86/boot/bzImage
	initrd=$(base_initramfs)
	moddir=$bdir/mods/lib/modules
	;;
*) usage ;;
esac

[[ -n $out ]] || out=$(mktemp -d /tmp/tcmu-vm-out.XXXXXX)
mkdir -p "$out"
out=$(cd "$out" && pwd)
logf=${logf:-$out/console.log}
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT

# The per-run job goes into a second cpio archive appended to the base one.
# shellcheck disable=SC2016 # the sh -c script expands in the guest
args=(HOME=/tmp PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	TCMU_VM=1 TCMU_OUT=/mnt/out "${envs[@]}"
	/bin/sh -c 'cd "$1" && shift && exec "$@"' sh "$PWD" "$@")
{
	echo "TCMU_MODDIR=$(sq "$moddir")"
	printf 'set --'
	for a in "${args[@]}"; do printf ' %s' "$(sq "$a")"; done
	echo
} >"$run/tcmu-job"
(cd "$run" && echo tcmu-job | cpio -o -H newc -R 0:0 --quiet) >"$run/job.cpio"
cat "$initrd" "$run/job.cpio" >"$run/initrd"

drive=()
[[ -z $disk ]] || drive=(-drive "file=$disk,format=raw,if=virtio,cache=writeback")
clock=${icount:+, instruction-counted clock}
log "booting $image (smp $smp, mem $mem, timeout $timeout s$clock), log $logf"
start=$SECONDS
qrc=0
# q35, not the default i440fx: its ACPI _PRT is static, while i440fx's loops
# in AML for every PCI device, which takes ~40 s on the debug kernel (KASAN,
# kmemleak) under TCG and trips the soft lockup detector.
# no_timer_check: at boot the kernel counts timer interrupts over a
# busy-wait to check the IO-APIC's timer routing, and on a host busy
# enough that TCG delivers none in time it panics ("IO-APIC + timer
# doesn't work!": Debian's kernel in the DKMS boot, at idle priority
# beside three other VMs).  The routing of QEMU's q35 is known good.
timeout -k 10 "$timeout" qemu-system-x86_64 -machine q35 -accel tcg -cpu max \
	-bios qboot.rom -smp "$smp" -m "$mem" "${icount[@]}" \
	-nographic -no-reboot -nic none \
	-kernel "$image" -initrd "$run/initrd" "${drive[@]}" \
	-append "console=ttyS0 panic=-1 loglevel=5 printk.time=1 no_timer_check $append" \
	-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$out,mount_tag=out,security_model=none,multidevs=remap" \
	</dev/null | tee "$logf" || qrc=$?

splat=0
"$here/check-log.sh" "$logf" || splat=1
((qrc != 124 && qrc != 137)) || die "timed out after $timeout s (log: $logf)"
rc=$(tr -d '\r' <"$logf" | grep -ao 'TCMU-VM-EXIT [0-9]*' | tail -n1 | cut -d' ' -f2) || true
[[ -n $rc ]] || die "the guest died before the command finished (qemu status $qrc, log: $logf)"
log "command exit status $rc after $((SECONDS - start)) s; output dir $out"
if ((splat)); then
	log "error: kernel problems in the console log (see above)"
	((rc)) || rc=1
fi
exit "$rc"
