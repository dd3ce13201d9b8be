#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Packs the benchmark's matrix step (the VM boot of scripts/bench.sh) for a
# host that has more cores but not Debian's packages: any x86-64 Linux
# where root may mount and chroot, no network needed.
#   scripts/bench-pack.sh PACK.tar.xz         here, as root (about 5 min)
#   bash scripts/bench-packed.sh PACK.tar.xz RESULTDIR   there, as root
#   python3 scripts/bench-report.py RESULTDIR/out DEST    here again
# The pack holds this tree's module and handler as make bench stages them,
# and every file the step touched when it ran here: a traced run (strace)
# of the step, one short point on every target and handler, lists what
# QEMU, vm.sh, the guest (through QEMU's 9p share) and the tools opened,
# executed or looked at; the binaries of the core utilities and their
# libraries are added for the paths a short run may not take. About 48
# MiB compressed. On the other host bench-packed.sh unpacks it, chroots
# into it and runs the step with make bench's knobs (BENCH_*), the
# defaults being BENCH_SMP=8 and BENCH_CLOCK=wall: the claim it exists
# for, parallel completion, needs real cores under the vCPUs.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
(($# == 1)) || {
	echo "usage: $0 PACK.tar.xz" >&2
	exit 2
}
pack=$(realpath -m "$1")
stage=$cache/bench-pack
trace=$cache/bench-pack.trace
command -v strace >/dev/null || apt-get install -y -qq strace >/dev/null

echo "=== staging the module and the handler (make bench, one short point)"
BENCH_STAGE=$stage BENCH_OUT=$cache/bench-pack.report BENCH_CLOCK=wall \
	BENCH_INTERLEAVE=1 BENCH_TARGETS="ceiling stock ours zc" \
	BENCH_HANDLERS="mem null qcow" BENCH_POINTS=rr4k-d16 BENCH_LUNS=1 \
	BENCH_REPS=1 BENCH_RUNTIME=1 BENCH_RAMP=0.5 BENCH_MEMORY=0 \
	BENCH_DENSITY=0 bash "$repo/scripts/bench.sh" >"$cache/bench-pack.log" 2>&1 ||
	{
		echo "FAILURE: make bench failed, see $cache/bench-pack.log"
		exit 1
	}

# The step, with the paths of this host baked in: it runs at the same
# paths inside the pack. Every BENCH_* variable set when it runs goes to
# the guest.
cat >"$stage/run-step.sh" <<EOF
#!/bin/bash
# Written by scripts/bench-pack.sh: make bench's matrix step.
set -u
cd $stage && rm -rf out && mkdir out || exit 1
envs=(--env TCMU_KO=$stage/target_core_user.ko --env BENCH_CLOCK=\${BENCH_CLOCK:-wall})
for v in \$(compgen -v BENCH_); do
	[[ \$v == BENCH_CLOCK ]] || envs+=(--env "\$v=\${!v}")
done
icount=()
[[ \${BENCH_CLOCK:-wall} != icount ]] || icount=(--icount)
$vm/vm.sh --kernel debian --smp "\${BENCH_SMP:-8}" "\${icount[@]}" \\
	--mem "\${BENCH_MEM:-4G}" --timeout "\${BENCH_TIMEOUT:-10800}" \\
	--out $stage/out "\${envs[@]}" -- bash ./bench-guest.sh
EOF
chmod +x "$stage/run-step.sh"

echo "=== tracing the step (2 vCPUs, one short point on every target and handler)"
BENCH_SMP=2 BENCH_TIMEOUT=1800 BENCH_TARGETS="ceiling stock ours zc" \
	BENCH_HANDLERS="mem null qcow" BENCH_INTERLEAVE=1 BENCH_POINTS=rr4k-d16 \
	BENCH_LUNS=1 BENCH_REPS=1 BENCH_RUNTIME=1 BENCH_RAMP=0.5 BENCH_MEMORY=0 \
	strace -f -qq -y -e status=successful -o "$trace" \
	-e trace=execve,open,openat,openat2,newfstatat,stat,lstat,statx,readlink,readlinkat,access,faccessat,faccessat2,getxattr,lgetxattr,statfs \
	"$stage/run-step.sh" >"$cache/bench-pack.step.log" 2>&1
grep -q '^BENCH: DONE' "$stage/out/console.log" || {
	echo "FAILURE: the traced step failed, see $cache/bench-pack.step.log"
	exit 1
}

echo "=== packing"
list=$(mktemp)
trap 'rm -f "$list"' EXIT
{
	dpkg -L coreutils procps util-linux kmod grep sed mawk findutils bash \
		gzip xz-utils | grep -E '^/(usr/)?s?bin/.' |
		while read -r f; do [[ ! -f $f ]] || echo "$f"; done
} | python3 "$repo/scripts/bench-closure.py" "$trace" "$stage/out" \
	"$cache/bench-pack."* >"$list"
mkdir -p "$stage/pack"
echo "$stage/run-step.sh" >"$stage/pack/step"
git -C "$repo" describe --always --dirty >"$stage/pack/commit" 2>/dev/null ||
	echo unknown >"$stage/pack/commit"
# bench-packed.sh finds them at /bench-pack
printf '%s\n' "${stage#/}/pack" "${stage#/}/pack/step" \
	"${stage#/}/pack/commit" >>"$list"
tar -C / -cf - --no-recursion --transform "s|^${stage#/}/pack|bench-pack|" \
	-T "$list" | xz -T0 -9 >"$pack"
echo "SUCCESS: $pack ($(du -h "$pack" | cut -f1), $(wc -l <"$list") paths)"
