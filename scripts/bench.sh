#!/bin/bash
# The benchmark (`make bench`), from a fresh Debian 12 machine as root:
# installs what it needs, builds tcmu-ng's target_core_user.ko against
# Debian's 6.12 headers and the test handler, boots Debian's own 6.12
# kernel (its production config) in QEMU and, in that one boot, runs the
# same fio matrix on tcm_loop LUNs served by LIO's ramdisk (the ceiling),
# by Debian's stock target_core_user and by ours (scripts/bench-guest.sh).
# Then writes the table (results.md), the raw figures (results.json) and
# the chart (results.png) to BENCH_OUT (default: bench/ in the repo).
#
# Knobs (environment): BENCH_CLOCK (icount, the default: the guest's
# clock counts its instructions, one ns each, idle time skipped, so that
# every figure is a cost in guest instructions whatever the host's load;
# wall: the real clock, which shows parallel behaviour but drifts 2-3x on
# a TCG host), BENCH_RUNTIME (s of the guest's clock per fio run,
# fractions allowed; default 1 with icount, 6 with wall), BENCH_RAMP (s,
# 0.5 with icount, 2 with wall), BENCH_REPS (rounds, 2 with icount, 3
# with wall), BENCH_LUNS (16), BENCH_SIZE (per LUN, 64M), BENCH_HANDLERS
# ("null mem qcow"; rbd adds tcmu-runner's rbd handler on a one-node Ceph
# cluster in the guest, its rounds after the others'), BENCH_IDLE (s, 30),
# BENCH_LIMIT_MB (global limit of
# the memory run, 32), BENCH_TARGETS ("stock ours inline"; inline is
# ours with completion=inline, handoff is ours with
# completion_inline_depth=0; base is tcmu-ng's module from BENCH_BASE_KO,
# e.g. built from an earlier commit, named in the report by
# BENCH_BASE_NAME; ublk and ublkuc are no TCMU at all: the selftests' ublk
# server behind LIO's block backstore, without and with user copy, served
# with BENCH_UBLK_QUEUES queues (1) of depth BENCH_UBLK_DEPTH (128)),
# BENCH_HANDLER_THREADS (the C handler's --threads, 4; 0 runs each batch
# in the ring's reader, one kick a batch, as the ublk server does),
# BENCH_FABRIC (loop: tcm_loop, the default; iscsi: LIO's iSCSI target on
# the guest's loopback and the kernel's initiator, a session per LUN),
# BENCH_POINTS (matrix points to run, default all), BENCH_MEMORY (1; 0
# skips the memory figures), BENCH_INTERLEAVE (0; 1 runs each point on
# all targets back to back, the ceiling only when BENCH_TARGETS names it:
# our completion modes are flipped at run time on the same LUNs, stock
# costs a module swap),
# BENCH_SMP (2), BENCH_MEM (VM RAM, 4G), BENCH_BREAKDOWN (0; 1 measures
# where each command's instructions go, by phase, on one vCPU:
# bench-guest.sh and bench-breakdown.py say how; `make bench-breakdown`
# sets it up), BENCH_DENSITY (1: after the matrix, a second boot with
# BENCH_DENSITY_MEM of RAM, 2G, measures how many idle devices each
# driver holds and what each costs, scripts/density-guest.sh, whose
# BENCH_DENSITY_N (1000), BENCH_DENSITY_RESERVE_MB (128),
# BENCH_DENSITY_KEEP (16) and BENCH_DENSITY_EVERY (1) it passes on; 0
# skips it; "only" runs it alone, without the matrix), BENCH_STAGE (the
# work directory, $cache/bench: another one lets two runs go side by side).
set -euo pipefail
# The whole script is one brace group, read before any of it runs: a run
# takes an hour or more, and bash reads a plain script as it goes, so an
# edit of this file meanwhile ran as a syntax error in the report step.
{

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dest=${BENCH_OUT:-$repo/bench}
clock=${BENCH_CLOCK:-icount}
if ((${BENCH_BREAKDOWN:-0})); then
	# copy path and zero copy, 4 KiB and 256 KiB, stock against ours
	: "${BENCH_TARGETS:=stock ours zc}" "${BENCH_HANDLERS:=null}"
	: "${BENCH_POINTS:=rr4k-d16 rw4k-d16 sr256k-4x8 sw256k-4x8}"
	dest=${BENCH_OUT:-$repo/bench/breakdown}
fi
case $clock in
icount) icount=(--icount) ;;
wall) icount=() ;;
*)
	echo "BENCH_CLOCK=$clock: icount or wall" >&2
	exit 2
	;;
esac

# the tree the module and handler are built from, named now: the report
# is written an hour or more later, when the tree may have moved on
commit=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
echo "=== [1/5] installing dependencies"
"$vm/deps.sh"
echo "=== [2/5] building the module against Debian's headers, and the handler"
hdrs=$("$vm/kernel.sh" debian | sed -n 2p)
"$repo/scripts/build-module.sh" "$hdrs"
make -s -C "$st/handler"
make -s -C "$st/ublk"
# a breakdown stages apart, so that it can run beside a bench; so does
# a run given its own BENCH_STAGE
stage=$cache/bench
((!${BENCH_BREAKDOWN:-0})) || stage=$cache/bench-breakdown
stage=${BENCH_STAGE:-$stage}
rm -rf "$stage"
mkdir -p "$stage/out"
cp "$repo/drivers/target/user/target_core_user.ko" "$vm/guest-lib.sh" \
	"$st/handler/tcmu-test-handler" "$st/ublk/tcmu-ublk-server" \
	"$repo/scripts/bench-guest.sh" "$vm/ceph.sh" \
	"$repo/scripts/density-guest.sh" "$stage/"
envs=(--env "TCMU_KO=$stage/target_core_user.ko" --env "BENCH_CLOCK=$clock")
if [[ -n ${BENCH_BASE_KO:-} ]]; then
	mkdir -p "$stage/base"
	cp "$BENCH_BASE_KO" "$stage/base/target_core_user.ko"
	envs+=(--env "BASE_KO=$stage/base/target_core_user.ko")
fi
for v in BENCH_BREAKDOWN BENCH_BASE_NAME BENCH_RUNTIME BENCH_RAMP BENCH_REPS BENCH_LUNS BENCH_SIZE \
	BENCH_HANDLERS BENCH_IDLE BENCH_LIMIT_MB BENCH_TARGETS BENCH_POINTS \
	BENCH_MEMORY BENCH_INTERLEAVE BENCH_DENSITY_N BENCH_DENSITY_RESERVE_MB \
	BENCH_DENSITY_KEEP BENCH_DENSITY_EVERY BENCH_UBLK_QUEUES BENCH_UBLK_DEPTH \
	BENCH_HANDLER_THREADS BENCH_FABRIC; do
	[[ -z ${!v:-} ]] || envs+=(--env "$v=${!v}")
done
# the breakdown times functions on the guest's one clock: one vCPU, so
# that no other vCPU's instructions fall inside a traced call
smp=${BENCH_SMP:-2}
((!${BENCH_BREAKDOWN:-0})) || smp=${BENCH_SMP:-1}
density=${BENCH_DENSITY:-1}
((!${BENCH_BREAKDOWN:-0})) || density=0
if [[ $density != only ]]; then
	echo "=== [3/5] booting Debian's kernel in QEMU (TCG, clock: $clock) and running the matrix"
	rc=0
	(cd "$stage" && "$vm/vm.sh" --kernel debian --smp "$smp" "${icount[@]}" \
		--mem "${BENCH_MEM:-4G}" --timeout 10800 --out "$stage/out" \
		"${envs[@]}" -- bash ./bench-guest.sh) || rc=$?
	if ((rc)) || ! grep -q '^BENCH: DONE' "$stage/out/console.log"; then
		echo "FAILURE: the benchmark VM failed (status $rc); see $stage/out/console.log"
		exit 1
	fi
fi
if [[ $density != 0 ]]; then
	echo "=== [3/5] density: booting Debian's kernel with ${BENCH_DENSITY_MEM:-2G} of RAM"
	rc=0
	mkdir -p "$stage/density"
	(cd "$stage" && "$vm/vm.sh" --kernel debian --smp "$smp" "${icount[@]}" \
		--mem "${BENCH_DENSITY_MEM:-2G}" --timeout 10800 \
		--out "$stage/density" "${envs[@]}" -- bash ./density-guest.sh) ||
		rc=$?
	if ((rc)) || ! grep -q '^DENSITY: DONE' "$stage/density/console.log"; then
		echo "FAILURE: the density VM failed (status $rc); see $stage/density/console.log"
		exit 1
	fi
	cp "$stage/density/density.txt" "$stage/out/"
	# the matrix's boot wrote the same kernel, CPUs and clock
	cat "$stage/density/density-env.txt" >>"$stage/out/env.txt"
	echo "density_mem=${BENCH_DENSITY_MEM:-2G}" >>"$stage/out/env.txt"
fi
echo "=== [4/5] building the report"
{
	echo "host=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
	echo "qemu=$(qemu-system-x86_64 --version | head -n1)"
	echo "commit=$commit"
	echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
} >>"$stage/out/env.txt"
mkdir -p "$dest"
# the README shows the latest results of the repository's own bench/
readme=()
[[ ! $dest -ef $repo/bench ]] || readme=("$repo/README.md")
if ((${BENCH_BREAKDOWN:-0})); then
	python3 "$repo/scripts/bench-breakdown.py" "$stage/out" "$dest" >/dev/null
	echo "=== [5/5] result"
	cat "$dest/breakdown.md"
	echo "SUCCESS: table $dest/breakdown.md, chart $dest/breakdown.png"
	exit 0
fi
python3 "$repo/scripts/bench-report.py" "$stage/out" "$dest" "${readme[@]}"
echo "=== [5/5] result"
cat "$dest/results.md"
echo "SUCCESS: table $dest/results.md, chart $dest/results.png"
exit
}
