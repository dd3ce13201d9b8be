#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs make bench's matrix step from a pack made by scripts/bench-pack.sh,
# on a host without Debian's packages (any x86-64 Linux; root, for mount
# and chroot): bash bench-packed.sh PACK.tar.xz RESULTDIR
# The knobs are make bench's (BENCH_*, see scripts/bench.sh), plus
# BENCH_TIMEOUT (s, the VM's limit, 10800); defaults here: BENCH_SMP=8,
# BENCH_CLOCK=wall. The raw figures land in RESULTDIR/out, whatever part
# of the matrix finished; turn them into the table where the repository
# is: python3 scripts/bench-report.py RESULTDIR/out DEST
# QEMU runs TCG, as in make bench. (KVM nested in a Firecracker guest,
# the one host tried, stopped the guest's kernel in its decompressor with
# an emulation failure: KVM's emulator took a VEX-coded instruction.)
set -euo pipefail

(($# == 2)) || {
	echo "usage: $0 PACK.tar.xz RESULTDIR" >&2
	exit 2
}
pack=$(realpath "$1")
res=$(realpath -m "$2")
r=$(mktemp -d /var/tmp/bench-root.XXXXXX)
mounted=()
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	local m i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		m=${mounted[i]}
		umount "$m" || umount -l "$m" || true
	done
	# never delete through a mount that is still there (the host's /dev)
	if grep -q " $r/" /proc/mounts; then
		echo "bench-packed: $r still has mounts; left in place" >&2
	else
		rm -rf --one-file-system "$r"
	fi
}
trap cleanup EXIT

echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r)"
xz -dc "$pack" | tar -C "$r" -xf -
mkdir -p "$r/dev" "$r/proc" "$r/sys" "$r/tmp" "$r/run" "$r/var/tmp"
mount --bind /dev "$r/dev"
mounted+=("$r/dev")
mount -t proc proc "$r/proc"
mounted+=("$r/proc")
mount -t sysfs sysfs "$r/sys"
mounted+=("$r/sys")
step=$(cat "$r/bench-pack/step")
export BENCH_SMP=${BENCH_SMP:-8} BENCH_CLOCK=${BENCH_CLOCK:-wall} LC_ALL=C
start=$SECONDS
rc=0
chroot "$r" /usr/bin/bash "$step" || rc=$?
echo "the step ended with status $rc after $((SECONDS - start)) s"
out=$r$(dirname "$step")/out
{
	echo "host=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
	echo "qemu=$(chroot "$r" qemu-system-x86_64 --version | head -n1)"
	echo "commit=$(cat "$r/bench-pack/commit")"
	echo "command=\`scripts/bench-packed.sh\` (make bench's matrix step from a pack of scripts/bench-pack.sh), BENCH_SMP=$BENCH_SMP"
	echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
} >>"$out/env.txt"
mkdir -p "$res"
rm -rf "$res/out"
cp -r "$out" "$res/out"
echo "raw figures in $res/out$(grep -q '^BENCH: DONE' "$res/out/console.log" ||
	echo ' (the matrix did not finish)')"
exit "$rc"
