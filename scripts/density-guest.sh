#!/bin/bash
# Runs inside the benchmark's density VM (scripts/bench.sh boots it with
# BENCH_DENSITY_MEM of RAM, 2 GiB, on Debian's own 6.12 kernel).  For
# each driver, stock then ours, in the same boot:
#   1. creates and enables devices of 64 MiB (the default 8 MiB ring and
#      1 GiB data area) one at a time, up to BENCH_DENSITY_N (1000), for
#      as long as enable succeeds and BENCH_DENSITY_RESERVE_MB (128) of
#      memory stays available: the number reached is the most this guest
#      holds (capped at BENCH_DENSITY_N);
#   2. kernel memory per device once enabled (tcmu_kmem_kb: slab,
#      vmalloc, per-CPU and bare pages; the cost of one more device: the
#      first 10 are made before the base);
#   3. serves every device in turn (every BENCH_DENSITY_EVERY-th, 1: each
#      costs 2-3 s of a TCG host, so 1,000 take most of an hour): the
#      test handler attaches (one process, one thread, --store mem), the
#      device is exported on tcm_loop, 1 MiB of random data is written
#      with O_DIRECT, read back and compared, and the export goes; the
#      handlers of the last BENCH_DENSITY_KEEP (16) served stay attached,
#      the others go;
#   4. after BENCH_IDLE seconds (30) idle, which is past ours'
#      reclaim_idle_ms, kernel memory per device again;
#   5. removes them all.
# Times are per device, on the VM's clock (with BENCH_CLOCK=icount, ms of
# guest instructions).  One line per driver in $TCMU_OUT/density.txt:
#   driver devices stop create_ms enabled_kib served failed idle_kib
#   remove_ms
# where stop says why creation stopped (cap, memory, enable).
set -uo pipefail
cd "$(dirname "$0")" || exit
# shellcheck source=../tools/testing/selftests/drivers/target/user/vm/guest-lib.sh
. ./guest-lib.sh

max=${BENCH_DENSITY_N:-1000}
reserve_kb=$((${BENCH_DENSITY_RESERVE_MB:-128} * 1024))
keep=${BENCH_DENSITY_KEEP:-16}
every=${BENCH_DENSITY_EVERY:-1}
idle=${BENCH_IDLE:-30}
handler_bin=$PWD/tcmu-test-handler
out=$TCMU_OUT
hba=/sys/kernel/config/target/core/user_1
warm=10
pids=()

say() { echo "[density] $*"; }
now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}
avail_kb() {
	local k v _
	while read -r k v _; do
		[[ $k == MemAvailable: ]] && echo "$v" && return
	done </proc/meminfo
}

# create I: device d<I>, enabled
create() {
	mkdir "$hba/d$1" &&
		echo "dev_config=test/d$1" >"$hba/d$1/control" &&
		echo "dev_size=67108864" >"$hba/d$1/control" &&
		echo 1 >"$hba/d$1/enable"
}

run_driver() {
	local drv=$1 n stop=cap base enabled idle_kb t0 t1 create_ms i dev
	local served=0 failed=0 remove_ms p
	[[ ! -d /sys/module/target_core_user ]] || rmmod target_core_user
	if [[ $drv == stock ]]; then
		modprobe target_core_user
	else
		tcmu_load_module "$TCMU_KO"
	fi
	mkdir -p "$hba"
	for ((n = 0; n < warm; n++)); do
		create "$n" || { say "$drv: warm-up device d$n failed"; return 1; }
	done
	base=$(tcmu_kmem_kb)
	t0=$(now_ms)
	for ((; n < max; n++)); do
		if (($(avail_kb) < reserve_kb)); then
			stop=memory
			break
		fi
		if ! create "$n" 2>/dev/null; then
			rmdir "$hba/d$n" 2>/dev/null
			stop=enable
			break
		fi
	done
	t1=$(now_ms)
	create_ms=$(((t1 - t0) / (n - warm)))
	enabled=$(tcmu_kmem_kb)
	say "$drv: $n devices ($stop), create+enable $create_ms ms each," \
		"$(((enabled - base) / (n - warm))) KiB each," \
		"$(($(avail_kb) / 1024)) MiB available"

	head -c 1M /dev/urandom >/tmp/density.pat
	for ((i = 0; i < n; i += every)); do
		"$handler_bin" --dev "d$i" --threads 1 --store mem \
			>"/tmp/handler-d$i.log" 2>&1 &
		p=$!
		if dev=$(tcmu_loop_export "$hba/d$i") &&
			tcmu_burst "$dev" /tmp/density.pat; then
			served=$((served + 1))
		else
			failed=$((failed + 1))
			say "$drv: d$i: the burst failed: $(tail -n 3 "/tmp/handler-d$i.log")"
		fi
		tcmu_loop_unexport "$hba/d$i"
		if ((i >= n - keep * every)); then
			pids+=("$p")
		else
			kill "$p"
			wait "$p" 2>/dev/null
			rm -f "/tmp/handler-d$i.log"
		fi
		(((served + failed) % 100)) || say "$drv: $((served + failed)) served"
	done
	sleep "$idle"
	idle_kb=$(tcmu_kmem_kb)
	say "$drv: $served served ($failed failed), idle after IO" \
		"$(((idle_kb - base) / (n - warm))) KiB each"
	for p in "${pids[@]}"; do
		kill "$p"
		wait "$p" 2>/dev/null
	done
	pids=()
	t0=$(now_ms)
	for ((i = 0; i < n; i++)); do
		rmdir "$hba/d$i" || say "$drv: rmdir d$i failed"
	done
	t1=$(now_ms)
	remove_ms=$(((t1 - t0) / n))
	rmdir "$hba"
	say "$drv: removed, $remove_ms ms each"
	echo "$drv $n $stop $create_ms $(((enabled - base) / (n - warm)))" \
		"$served $failed $(((idle_kb - base) / (n - warm))) $remove_ms" \
		>>"$out/density.txt"
	rmmod target_core_user
}

modprobe -a target_core_mod tcm_loop sd_mod uio
say "kernel $(uname -r), $(($(avail_kb) / 1024)) MiB available," \
	"up to $max devices of 64 MiB"
: >"$out/density.txt"
{
	echo "kernel=$(uname -r)"
	echo "cpus=$(grep -c ^processor /proc/cpuinfo)"
	echo "clock=${BENCH_CLOCK:-wall}"
	echo "idle=$idle"
} >"$out/density-env.txt"
for drv in stock ours; do
	run_driver "$drv" || say "$drv: FAILED"
done
echo "DENSITY: DONE"
