#!/bin/bash
# Runs inside the benchmark VM (scripts/bench.sh), on Debian's own 6.12
# kernel. In one boot, for BENCH_REPS rounds, it serves BENCH_LUNS LUNs on
# tcm_loop (or over iSCSI: BENCH_FABRIC below) from each target and runs
# the same fio matrix on them:
#   ceiling  LIO's ramdisk backstore (rd_mcp): no userspace hop
#   stock    Debian's target_core_user, served by a handler
#   ours     tcmu-ng's target_core_user ($TCMU_KO), same handler
#   inline   the same module loaded with completion=inline: completions
#            reaped in the handler's syscall, as the stock driver does
#   handoff  the same module with completion_inline_depth=0: every kick
#            handed to a completion thread, even at depth 1
#   zc       the same module as ours, LUNs created with zero_copy=1 and
#            zero_copy_read=1 (zero_copy_min_kb at its default): large
#            commands are shown to the handler in place, not copied
#   zcw      zero_copy=1 alone (zero_copy_read=0, the default): only
#            WRITEs use the window
#   base     tcmu-ng built from another tree ($BASE_KO, named by
#            $BENCH_BASE_NAME), loaded as ours: a before/after comparison
#   ublk     no TCMU: a ublk device served by the selftests' ublk server
#            (tcmu-ublk-server, $UBLK_BIN) with the same store as the
#            handler's (null or mem; no qcow), exported through LIO's
#            block (iblock) backstore: the kernel copies each request's
#            pages to or from the server's buffer, as TCMU copies to and
#            from the data area
#   ublkuc   the same with UBLK_F_USER_COPY: the server copies between
#            its store and the request with pread/pwrite on /dev/ublkcN
# The ublk servers run BENCH_UBLK_QUEUES queues (default 1) of depth
# BENCH_UBLK_DEPTH (default 128), each queue one thread.  The C handler
# runs BENCH_HANDLER_THREADS worker threads (default 4, its own default);
# 0 has its ring reader run each batch itself and kick once a batch, as
# the ublk server does with its io_uring.
# The handlers: the tests' C handler with --store null (READ/WRITE complete
# without touching the data) and --store mem, tcmu-runner's qcow
# handler on a raw tmpfs file, and (BENCH_HANDLERS naming rbd)
# tcmu-runner's rbd handler on a one-node Ceph cluster in this guest
# (ceph.sh: memstore OSD), one image per LUN, written whole before the
# first round.  The cluster runs only for the rbd rounds, which come
# after the other handlers' (its daemons' background work would be
# counted in every other figure), and for each rbd point the CPU time of
# the cluster's daemons and of tcmu-runner per command is recorded
# beside fio's figures ($TCMU_OUT/raw/*.cpu), so that the report can say
# how much of a command the cluster is. The targets of BENCH_TARGETS (default
# "stock ours inline") take turns within a round, in an order that rotates
# every round. BENCH_POINTS (names of the matrix below, default all)
# narrows the matrix; BENCH_MEMORY=0 skips the memory figures.
# BENCH_INTERLEAVE=1 runs every point on all targets back to back (the
# ceiling too when BENCH_TARGETS names it, with the first handler): our modes (ours, inline, handoff) share one set of LUNs, the
# mode flipped at run time; stock costs a module swap. Every fio
# run leaves its JSON output and exit status under $TCMU_OUT/raw; memory figures go to $TCMU_OUT/mem.txt. The
# host (bench-report.py) turns them into the table and the chart.
# BENCH_BREAKDOWN=1 runs the cost breakdown instead (see run_breakdown).
# BENCH_FABRIC=iscsi exports every LUN (the ceiling's too) over iSCSI
# instead of tcm_loop: LIO's iSCSI target on the guest's 127.0.0.1:3260,
# one target per LUN, and the kernel's initiator (open-iscsi) logged in
# to each: a TCP round trip and two iSCSI stacks on every command.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../tools/testing/selftests/drivers/target/user/vm/guest-lib.sh
. ./guest-lib.sh

clock=${BENCH_CLOCK:-wall}
if [[ $clock == icount ]]; then
	# the guest's seconds are 10^9 of its instructions, and two rounds
	# of one second agree within a percent or two
	runtime=${BENCH_RUNTIME:-1} ramp=${BENCH_RAMP:-0.5} reps=${BENCH_REPS:-2}
else
	runtime=${BENCH_RUNTIME:-6} ramp=${BENCH_RAMP:-2} reps=${BENCH_REPS:-3}
fi
nluns=${BENCH_LUNS:-16}
size=${BENCH_SIZE:-64M}
handlers=${BENCH_HANDLERS:-null mem qcow}
# rbd's rounds run last, with the cluster up for them alone
if [[ " $handlers " == *" rbd "* ]]; then
	h=''
	for x in $handlers; do
		[[ $x == rbd ]] || h+="$x "
	done
	handlers="${h}rbd"
fi
ceph_dir=/tmp/ceph
idle=${BENCH_IDLE:-30}
limit_mb=${BENCH_LIMIT_MB:-32}
read -ra targets <<<"${BENCH_TARGETS:-stock ours inline}"
want_points=${BENCH_POINTS:-}
memory=${BENCH_MEMORY:-1}
interleave=${BENCH_INTERLEAVE:-0}
handler_bin=$PWD/tcmu-test-handler
handler_threads=${BENCH_HANDLER_THREADS:-4}
fabric=${BENCH_FABRIC:-loop}
ublk_bin=$PWD/tcmu-ublk-server
ublk_queues=${BENCH_UBLK_QUEUES:-1}
ublk_depth=${BENCH_UBLK_DEPTH:-128}
out=$TCMU_OUT
core=/sys/kernel/config/target/core
store=/tmp/bench
bytes=$(numfmt --from=iec "$size")
mkdir -p "$out/raw" "$store"

say() { echo "[bench] $*"; }
# seconds (fractions allowed) as fio's milliseconds
ms() { awk -v s="$1" 'BEGIN { printf "%dms", s * 1000 }'; }

# The fio matrix: name, then the arguments. Writes come first so that the
# stores hold data before they are read.
points=(
	"sw256k-4x8|--rw=write --bs=256k --numjobs=4 --iodepth=8 --size=$((bytes / 4)) --offset_increment=$((bytes / 4))"
	"sr256k-4x8|--rw=read --bs=256k --numjobs=4 --iodepth=8 --size=$((bytes / 4)) --offset_increment=$((bytes / 4))"
	"rw4k-d1|--rw=randwrite --bs=4k --iodepth=1"
	"rr4k-d1|--rw=randread --bs=4k --iodepth=1"
	"rw4k-d16|--rw=randwrite --bs=4k --iodepth=16"
	"rr4k-d16|--rw=randread --bs=4k --iodepth=16"
	"mix4k-d16|--rw=randrw --rwmixread=70 --bs=4k --iodepth=16"
	"rr4k-d16-4lun|--rw=randread --bs=4k --iodepth=16|4"
	"rr4k-d16-16lun|--rw=randread --bs=4k --iodepth=16|16"
)

# Kernel memory that no other /proc/meminfo line accounts for, in KiB:
# data area pages and ramdisk pages live there (they are neither on the
# LRU nor slab), the command rings are in VmallocUsed. Free pages parked
# on the per-CPU lists (zoneinfo "count:") are not in MemFree: they are
# added back, so that they do not count as used.
mem_kernel_kb() {
	local k v _ pcp
	declare -A m
	while read -r k v _; do m[${k%:}]=$v; done </proc/meminfo
	pcp=$(awk '$1 == "count:" { n += $2 } END { print n * 4 }' /proc/zoneinfo)
	echo $((m[MemTotal] - m[MemFree] - pcp - m[Active] - m[Inactive] -
		m[Unevictable] - m[Slab] - m[KernelStack] - m[PageTables] -
		${m[SecPageTables]:-0} - ${m[Percpu]:-0}))
}

# Pages held by tcmu-ng's data areas (ours only), else "-"
data_pages() {
	local f=/sys/module/target_core_user/parameters/global_data_pages
	if [[ -r $f ]]; then cat "$f"; else echo -; fi
}

# One record of mem.txt: target handler what kernel_kib data_pages
mem_record() {
	echo "$1 $2 $3 $4 $5" >>"$out/mem.txt"
	say "memory: $*"
}

driver_load() {
	[[ ! -d /sys/module/target_core_user ]] || rmmod target_core_user
	case $1 in
	stock) modprobe target_core_user ;;
	ours | zc | zcw) tcmu_load_module "$TCMU_KO" completion=percpu ;;
	base) tcmu_load_module "$BASE_KO" completion=percpu ;;
	ublk | ublkuc) modprobe ublk_drv ;;
	inline) tcmu_load_module "$TCMU_KO" completion=inline ;;
	handoff) tcmu_load_module "$TCMU_KO" completion_inline_depth=0 ;;
	*) say "unknown target $1"; return 1 ;;
	esac
	if [[ $1 == ublk* ]]; then
		say "$1: ublk_drv, $ublk_queues queue(s) of depth $ublk_depth"
	elif [[ $1 == stock ]]; then
		say "stock loaded: $(modinfo -F filename target_core_user)"
	else
		local p=/sys/module/target_core_user/parameters
		local ko=$TCMU_KO
		[[ $1 != base ]] || ko=$BASE_KO
		say "$1 loaded: $ko, completion=$(cat $p/completion)," \
			"inline depth $(cat $p/completion_inline_depth)"
	fi
}

# by_runner HANDLER: HANDLER is tcmu-runner's (qcow, rbd), not the C
# handler's store
by_runner() { [[ $1 == qcow || $1 == rbd ]]; }

# serves TARGET HANDLER: whether TARGET can run HANDLER's store (the
# ublk server has null and mem only)
serves() {
	[[ $1 != ublk* || $2 == null || $2 == mem ]]
}

# The Ceph cluster of the rbd rounds: one image rbd/bN per LUN, each
# written whole (a READ of an object never written is answered by
# librbd's object map without asking the OSD), then the daemons' own
# CPU time over BENCH_IDLE s of quiet: what the cluster costs with no IO
cluster_up() {
	local i imgs=() ns0 ns1 t0
	for ((i = 0; i < nluns; i++)); do
		imgs+=("rbd/b$i:$((bytes >> 20))M")
	done
	./ceph.sh start "$ceph_dir" "${imgs[@]}"
	for ((i = 0; i < nluns; i++)); do
		rbd -c "$ceph_dir/ceph.conf" bench --io-type write \
			--io-pattern seq --io-size 4M --io-threads 4 \
			--io-total "$bytes" "rbd/b$i" >/dev/null
	done
	ns0=$(tasks_ns ceph-mon ceph-mgr ceph-osd)
	t0=${EPOCHREALTIME/./}
	sleep "$idle"
	ns1=$(tasks_ns ceph-mon ceph-mgr ceph-osd)
	t0=$(((${EPOCHREALTIME/./} - t0) * 1000))
	{
		echo "ceph=$(ceph --version | awk '{ print $3 }')"
		echo "ceph_idle=$((ns1 - ns0)) $t0"
	} >>"$out/env.txt"
	say "ceph: $nluns images of $size written; idle, the daemons ran" \
		"$((ns1 - ns0)) ns in $t0 ns"
}

cluster_down() {
	./ceph.sh stop "$ceph_dir"
	rm -rf "$ceph_dir"
}

# CPU time (ns; instructions on the instruction-counted clock) that
# every thread of the processes named NAME... has run so far
tasks_ns() {
	local p f r _ n=0
	for p in $(pgrep -x -d ' ' "$(
		IFS='|'
		echo "$*"
	)"); do
		for f in /proc/"$p"/task/*/schedstat; do
			read -r r _ <"$f" 2>/dev/null || continue
			n=$((n + r))
		done
	done
	echo "$n"
}

# ns every vCPU has been busy so far (/proc/stat: all but idle and
# iowait).  On the instruction-counted clock a vCPU's time runs on while
# another vCPU executes, so a task's CPU time is a share of this, not a
# count of its own instructions
busy_ns() {
	local _ u n s i w q sq st
	read -r _ u n s i w q sq st _ </proc/stat
	echo $(((u + n + s + q + sq + st) * 1000000000 / hz))
}
hz=$(getconf CLK_TCK)

# rbd_cpu DEV...: the commands the disks DEV... completed, the clock
# (ns), the cluster's and tcmu-runner's CPU ns and every vCPU's busy ns
# so far: what fio_point records of an rbd point (the differences)
rbd_cpu() {
	echo "$(tcmu_disk_ios "$@") $((${EPOCHREALTIME/./} * 1000))" \
		"$(tasks_ns ceph-mon ceph-mgr ceph-osd) $(tasks_ns tcmu-runner)" \
		"$(busy_ns)"
}


# lun_export DEVDIR: the storage object at DEVDIR exported on the
# fabric, and the initiator's disk of it printed
lun_export() {
	local iqn
	if [[ $fabric == loop ]]; then
		tcmu_loop_export "$1"
		return
	fi
	iqn=$(tcmu_iscsi_export "$1") && tcmu_iscsi_login "$iqn"
}

lun_unexport() {
	if [[ $fabric == loop ]]; then
		tcmu_loop_unexport "$1"
		return
	fi
	tcmu_iscsi_logout "$(tcmu_iscsi_iqn "$1")" &&
		tcmu_iscsi_unexport "$1"
}

# Creates and exports the LUNs of TARGET with HANDLER; sets devs, pids
devs=() devdirs=() pids=()
luns_up() {
	local target=$1 handler=$2 i name dir dev uc
	devs=() devdirs=() pids=()
	if by_runner "$handler"; then
		tcmu_start_runner
	fi
	for ((i = 0; i < nluns; i++)); do
		name=b$i
		if [[ $target == ceiling ]]; then
			dir=$core/rd_mcp_1/$name
			mkdir -p "$dir"
			echo "rd_pages=$((bytes / 4096))" >"$dir/control"
		elif [[ $target == ublk* ]]; then
			uc=()
			[[ $target != ublkuc ]] || uc=(--user-copy)
			tcmu_ublk_start "$ublk_bin" "/tmp/ublk-$name.log" \
				--store "$handler" --size "$bytes" \
				--queues "$ublk_queues" --depth "$ublk_depth" \
				"${uc[@]}"
			pids+=("$UBLK_PID")
			dir=$core/iblock_1/$name
			tcmu_ublk_lun "$dir" "$UBLK_DISK"
		else
			dir=$core/user_1/$name
			mkdir -p "$dir"
			if [[ $handler == qcow ]]; then
				rm -f "$store/$name.raw"
				truncate -s "$bytes" "$store/$name.raw"
				echo "dev_config=qcow/$store/$name.raw" >"$dir/control"
			elif [[ $handler == rbd ]]; then
				echo "dev_config=rbd/rbd/$name;conf=$ceph_dir/ceph.conf;id=admin" \
					>"$dir/control"
			else
				echo "dev_config=bench/$name" >"$dir/control"
			fi
			echo "dev_size=$bytes" >"$dir/control"
			# 256 KiB IOs must not be split (the default is 64 KiB)
			echo "hw_max_sectors=1024" >"$dir/control"
			[[ $target != zc* ]] || echo "zero_copy=1" >"$dir/control"
			[[ $target != zc ]] ||
				echo "zero_copy_read=1" >"$dir/control"
		fi
		[[ $target == ublk* ]] || echo 1 >"$dir/enable"
		if [[ $target != ceiling && $target != ublk* ]] &&
			! by_runner "$handler"; then
			"$handler_bin" --dev "$name" --store "$handler" \
				--threads "$handler_threads" --quiet \
				>"/tmp/handler-$name.log" 2>&1 &
			pids+=($!)
		fi
		dev=$(lun_export "$dir")
		devdirs+=("$dir")
		devs+=("$dev")
	done
	say "$target/$handler: ${#devs[@]} LUNs (${devs[*]}), max_sectors_kb" \
		"$(cat "/sys/block/${devs[0]#/dev/}/queue/max_sectors_kb")"
}

luns_down() {
	local dir pid
	for dir in "${devdirs[@]}"; do
		lun_unexport "$dir"
		rmdir "$dir"
	done
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	tcmu_stop_runner
	rm -f "$store"/*.raw
	rmdir "$core"/user_1 "$core"/rd_mcp_1 "$core"/iblock_1 2>/dev/null || true
	devs=() devdirs=() pids=()
}

# fio_point REP TARGET HANDLER NAME|ARGS[|NLUNS]
fio_point() {
	local rep=$1 target=$2 handler=$3 spec=$4 name args n i rc=0 files=()
	IFS='|' read -r name args n <<<"$spec"
	n=${n:-1}
	[[ $rep == mem || -z $want_points || " $want_points " == *" $name "* ]] ||
		return 0
	((n <= ${#devs[@]})) || return 0
	for ((i = 0; i < n; i++)); do
		files+=(--name="lun$i" --filename="${devs[i]}")
	done
	local base=$out/raw/r$rep-$target-$handler-$name cpu0=() cpu1=()
	# rbd: the cluster's and tcmu-runner's CPU time, and the commands
	# done, from just before fio starts to just after it ends
	[[ $handler != rbd ]] || read -ra cpu0 <<<"$(rbd_cpu "${devs[@]:0:n}")"
	# shellcheck disable=SC2086 # $args is a list of options
	fio --direct=1 --ioengine=libaio --time_based --runtime="$(ms "$runtime")" \
		--ramp_time="$(ms "$ramp")" --group_reporting --norandommap \
		--randrepeat=0 --lat_percentiles=1 --output-format=json \
		--output="$base.json" \
		$args "${files[@]}" >"$base.log" 2>&1 || rc=$?
	echo "$rc" >"$base.rc"
	if [[ $handler == rbd ]]; then
		read -ra cpu1 <<<"$(rbd_cpu "${devs[@]:0:n}")"
		for i in "${!cpu1[@]}"; do
			cpu1[i]=$((cpu1[i] - cpu0[i]))
		done
		echo "${cpu1[*]}" >"$base.cpu"
	fi
	((rc == 0)) || say "FAILED: $target/$handler $name (fio status $rc)"
}

run_matrix() {
	local rep=$1 target=$2 handler=$3 p
	luns_up "$target" "$handler"
	for p in "${points[@]}"; do
		fio_point "$rep" "$target" "$handler" "$p"
	done
	luns_down
}

# The memory figures of TARGET, served by the null handler: kernel memory
# and data pages after creating the LUNs, after a 256 KiB write burst on
# one LUN, after an idle period, and the peak while all LUNs write under a
# global limit smaller than the sum of their data areas.
run_memory() {
	local target=$1 handler=$2 base held kb peak_kb peak_pages i pid
	local samples=/tmp/mem-samples old_limit=''
	base=$(mem_kernel_kb)
	luns_up "$target" "$handler"
	mem_record "$target" "$handler" created $(($(mem_kernel_kb) - base)) "$(data_pages)"
	fio_point mem "$target" "$handler" "burst|--rw=write --bs=256k --numjobs=4 --iodepth=8 --size=$((bytes / 4)) --offset_increment=$((bytes / 4))"
	mem_record "$target" "$handler" burst $(($(mem_kernel_kb) - base)) "$(data_pages)"
	sleep "$idle"
	mem_record "$target" "$handler" idle $(($(mem_kernel_kb) - base)) "$(data_pages)"
	if [[ $target != ceiling ]]; then
		old_limit=$(cat /sys/module/target_core_user/parameters/global_max_data_area_mb)
		echo "$limit_mb" >/sys/module/target_core_user/parameters/global_max_data_area_mb
	fi
	: >"$samples"
	(
		while :; do
			echo "$(mem_kernel_kb) $(data_pages)" >>"$samples"
			sleep 0.2
		done
	) &
	pid=$!
	fio_point mem "$target" "$handler" "all-luns|--rw=randwrite --bs=256k --iodepth=16|$nluns"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	peak_kb=$(sort -n -k1,1 "$samples" | tail -n1 | cut -d' ' -f1)
	peak_pages=$(sort -n -k2,2 "$samples" | tail -n1 | cut -d' ' -f2)
	mem_record "$target" "$handler" "peak-${nluns}lun-limit${limit_mb}M" \
		$((peak_kb - base)) "$peak_pages"
	[[ -z $old_limit ]] ||
		echo "$old_limit" >/sys/module/target_core_user/parameters/global_max_data_area_mb
	luns_down
	# what is left once every LUN is gone
	held=$(data_pages)
	kb=$(($(mem_kernel_kb) - base))
	for ((i = 0; i < 50; i++)); do
		[[ $held == - || $held == 0 ]] && break
		sleep 0.1
		held=$(data_pages)
	done
	mem_record "$target" "$handler" removed "$kb" "$held"
}

modprobe -a target_core_mod tcm_loop sd_mod uio
case $fabric in
loop) ;;
iscsi) modprobe -a iscsi_target_mod crc32c iscsi_tcp ;;
*) say "BENCH_FABRIC=$fabric: loop or iscsi"; exit 1 ;;
esac
say "kernel $(uname -r), $(nproc) CPUs, clock $clock, runtime ${runtime}s + ramp ${ramp}s," \
	"$reps rounds, $nluns LUNs of $size, handlers: $handlers"
{
	echo "kernel=$(uname -r)"
	echo "cpus=$(nproc)"
	echo "runtime=$runtime ramp=$ramp reps=$reps luns=$nluns size=$size idle=$idle"
	echo "targets=${targets[*]}"
	[[ -z ${BASE_KO:-} ]] || echo "base=${BENCH_BASE_NAME:-$BASE_KO}"
	echo "points=${want_points:-all}"
	echo "handlers=$handlers"
	echo "handler_threads=$handler_threads"
	echo "fabric=$fabric"
	echo "ublk=$ublk_queues queue(s) of depth $ublk_depth"
	echo "clock=$clock"
	echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
	# what decides the kernel's memcpy, copy_{to,from}_user and
	# clear_page variants (the report names them)
	echo "copyflags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' |
		grep -xE 'rep_good|erms|fsrm|fzrm|fsrs' | sort | tr '\n' ' ')"
	echo "fio=$(fio --version)"
	echo "tcmu-runner=$(dpkg-query -W -f='${Version}' tcmu-runner)"
} >"$out/env.txt"

# Guest instructions (ns of the instruction-counted clock) per KiB moved
# by the kernel: zeroing (reading /dev/zero: clear_user) and copying
# (reading a tmpfs file: copy_to_user), 1 MiB at a time, 256 MiB.
# dd's own timing: it starts after dd is loaded (reading a binary from the
# root file system idles the vCPU, and the idle clock jumps)
ins_per_kib() {
	local s
	s=$(LC_ALL=C dd if="$1" of=/dev/null bs=1M count=256 2>&1 |
		sed -n 's/.* copied, \([0-9.e+-]*\) s,.*/\1/p')
	echo "scale=2; $s * 10^9 / (256 * 1024)" | bc
}
if [[ $clock == icount ]]; then
	dd if=/dev/zero of="$store/copy" bs=1M count=256 status=none
	dd if="$store/copy" of=/dev/null bs=1M status=none
	{
		echo "zero_ins_per_kib=$(ins_per_kib /dev/zero)"
		echo "copy_ins_per_kib=$(ins_per_kib "$store/copy")"
	} >>"$out/env.txt"
	rm -f "$store/copy"
	say "$(grep _ins_per_kib "$out/env.txt" | tr '\n' ' ')"
fi

# The cost breakdown (BENCH_BREAKDOWN=1, one vCPU): where a command's
# guest instructions go, by phase.  Each point runs twice on one LUN:
# untraced, with every task's CPU time (schedstat: ns, which this clock
# makes instructions) and the disk's completed commands read before and
# after; then traced by function_graph on the entry functions of each
# phase below (time spent asleep excluded), whose trace the host
# (bench-breakdown.py) turns into instructions per command, correcting
# for the tracer's own cost measured from the two runs.
bd_funcs=(
	__x64_sys_io_submit __x64_sys_io_getevents aio_complete_rw
	blk_mq_submit_bio blk_complete_reqs
	scsi_queue_rq tcm_loop_queuecommand scsi_done
	tcm_loop_queue_data_in tcm_loop_queue_status
	target_submit_prep target_submit target_complete_cmd
	target_complete_cmd_with_length target_complete_ok_work
	tcmu_queue_cmd tcmu_zc_map tcmu_zc_detach tcmu_zc_release
	tcmu_zc_fault tcmu_zc_mkwrite
	tcmu_irqcontrol tcmu_uio_irqcontrol tcmu_ring_reap
	__x64_sys_write __x64_sys_read __x64_sys_poll __x64_sys_ppoll
	uio_write uio_read uio_poll handle_mm_fault
	iblock_execute_rw iblock_bio_done
	ublk_queue_rq ublk_rq_task_work_cb ublk_ch_uring_cmd
	ublk_ch_read_iter ublk_ch_write_iter __x64_sys_io_uring_enter
)
tr=/sys/kernel/tracing

# tid comm ns-on-cpu of every task
bd_tasks() {
	local d c r _
	for d in /proc/[0-9]*/task/[0-9]*; do
		{ read -r c <"$d/comm" && read -r r _ <"$d/schedstat"; } \
			2>/dev/null || continue
		echo "${d##*/} $c $r"
	done
}


bd_trace_setup() {
	local f
	echo 0 >$tr/tracing_on
	echo nop >$tr/current_tracer
	: >$tr/set_ftrace_filter
	for f in "${bd_funcs[@]}"; do
		echo "$f" >>$tr/set_ftrace_filter 2>/dev/null || true
	done
	echo function_graph >$tr/current_tracer
	echo 1 >$tr/options/funcgraph-proc
	echo 0 >$tr/options/sleep-time
	echo 0 >$tr/options/funcgraph-overhead
	echo 0 >$tr/options/funcgraph-cpu
	echo 65536 >$tr/buffer_size_kb
	: >$tr/trace
}

# breakdown_point TARGET HANDLER NAME|ARGS: fio runs RAMP (at least 1 s) +
# RUNTIME + 1 s; the window measured is RUNTIME after RAMP, so that it holds no start or
# end of fio's (whose tasks would come and go unseen)
breakdown_point() {
	local target=$1 handler=$2 spec=$3 name args base i fpid c0 c1 n0 n1
	local settle jobs w s0 s1
	IFS='|' read -r name args _ <<<"$spec"
	base=$out/raw/bd-$target-$handler-$name
	# fio's jobs take a while to start on one vCPU: at least 1 s
	settle=$(awk -v r="$ramp" 'BEGIN { print (r < 1 ? 1 : r) }')
	for i in untraced traced; do
		[[ $i == untraced ]] || bd_trace_setup
		# shellcheck disable=SC2086 # $args is a list of options
		fio --direct=1 --ioengine=libaio --time_based \
			--runtime="$(ms "$(echo "$settle + $runtime + 1" | bc)")" \
			--norandommap --randrepeat=0 --group_reporting \
			--output-format=json --output="$base.$i.json" \
			--name=lun0 --filename="${devs[0]}" $args \
			>"$base.$i.log" 2>&1 &
		fpid=$!
		# every job of fio's running, then RAMP more: reading fio
		# from the root file system idles the vCPU, the idle clock
		# jumps, and a fixed wait alone can end before the jobs start
		jobs=1
		[[ ! $args =~ --numjobs=([0-9]+) ]] || jobs=${BASH_REMATCH[1]}
		for ((w = 0; w < 300; w++)); do
			(($(pgrep -c -x fio) <= jobs)) || break
			read -rt 0.1 -u "$bd_fifo" _ || true
		done
		read -rt "$settle" -u "$bd_fifo" _ || true
		# The window holds the task snapshots (this shell's time, told
		# apart by the report); no exec inside it: reading a
		# binary from the root file system idles the vCPU, and the
		# idle clock jumps
		c0=$(tcmu_disk_ios "${devs[0]}") n0=${EPOCHREALTIME/./}
		bd_tasks >"$base.$i.tasks0"
		s0=$((${EPOCHREALTIME/./} - n0))
		[[ $i == untraced ]] || echo 1 >$tr/tracing_on
		read -rt "$runtime" -u "$bd_fifo" _ || true
		[[ $i == untraced ]] || echo 0 >$tr/tracing_on
		s1=${EPOCHREALTIME/./}
		bd_tasks >"$base.$i.tasks1"
		c1=$(tcmu_disk_ios "${devs[0]}") n1=${EPOCHREALTIME/./}
		s1=$((n1 - s1))
		wait "$fpid" || say "FAILED: $target/$handler $name $i"
		echo "$((c1 - c0)) $(((n1 - n0) * 1000)) $(((s0 + s1) * 1000))" \
			>"$base.$i.cmds"
		if [[ $i == traced ]]; then
			cat $tr/set_ftrace_filter >"$base.funcs"
			cat $tr/trace >"$base.trace"
			echo nop >$tr/current_tracer
			: >$tr/set_ftrace_filter
		fi
	done
	# the handler's threads (tcmu-runner has several), and this shell,
	# which takes the snapshots
	for i in $handler_pids; do
		ls "/proc/$i/task"
	done >"$base.handler"
	echo "$$" >"$base.self"
	say "breakdown $target/$handler $name: $(cat "$base.untraced.cmds")" \
		"(commands, ns, ns snapshots) untraced," \
		"$(cat "$base.traced.cmds") traced"
}

# What function_graph costs per traced call: this shell's kill -0 (a
# builtin: no exec, whose reads of the root file system would let the
# idle clock jump) 20000 times, __x64_sys_kill traced and not; in us
bd_loop() {
	local t0 t1 i
	t0=${EPOCHREALTIME/./}
	for ((i = 0; i < $1; i++)); do kill -0 $$; done
	t1=${EPOCHREALTIME/./}
	echo $((t1 - t0))
}

bd_calibrate() {
	local n=20000 off on
	bd_loop 1000 >/dev/null
	off=$(bd_loop $n)
	echo '*sys_kill' >$tr/set_ftrace_filter
	echo function_graph >$tr/current_tracer
	: >$tr/trace
	echo 1 >$tr/tracing_on
	on=$(bd_loop $n)
	echo 0 >$tr/tracing_on
	echo "$n $((off * 1000)) $((on * 1000))" >"$out/raw/bd-calibration"
	echo nop >$tr/current_tracer
	: >$tr/set_ftrace_filter
	say "tracer calibration (calls, ns untraced, ns traced):" \
		"$(cat "$out/raw/bd-calibration")"
}

run_breakdown() {
	local handler target p name
	# a pipe nobody writes: read -t on it is a sleep without an exec
	mkfifo /tmp/bd-fifo
	exec {bd_fifo}<>/tmp/bd-fifo
	bd_calibrate
	for handler in $handlers; do
		[[ $handler != rbd ]] || nluns=1 cluster_up
		for target in "${targets[@]}"; do
			serves "$target" "$handler" || continue
			driver_load "$target"
			nluns=1 luns_up "$target" "$handler"
			handler_pids=${pids[*]}
			! by_runner "$handler" ||
				handler_pids=$(pgrep -x tcmu-runner | tr '\n' ' ')
			for p in "${points[@]}"; do
				IFS='|' read -r name _ <<<"$p"
				[[ -z $want_points || " $want_points " == *" $name "* ]] ||
					continue
				breakdown_point "$target" "$handler" "$p"
			done
			luns_down
		done
		[[ $handler != rbd ]] || cluster_down
	done
	[[ ! -d /sys/module/target_core_user ]] || rmmod target_core_user
}

if ((${BENCH_BREAKDOWN:-0})); then
	run_breakdown
	echo "BENCH: DONE"
	exit 0
fi

# Switch our loaded module to the completion mode of target ours, inline
# or handoff (both parameters are writable at run time)
set_mode() {
	local p=/sys/module/target_core_user/parameters
	case $1 in
	ours | zc | zcw | base) echo percpu >$p/completion; echo 1 >$p/completion_inline_depth ;;
	inline) echo inline >$p/completion; echo 1 >$p/completion_inline_depth ;;
	handoff) echo percpu >$p/completion; echo 0 >$p/completion_inline_depth ;;
	*) say "no mode for target $1"; return 1 ;;
	esac
}

# targets rotated by ROUND, so that no target always runs first
rotate() {
	local round=$1 i
	order=()
	for ((i = 0; i < ${#targets[@]}; i++)); do
		order+=("${targets[(i + round - 1) % ${#targets[@]}]}")
	done
}

if ((interleave)); then
	# Every point runs on each target back to back, so that drift of the
	# host's speed (large under TCG) hits all targets alike.  Our modes
	# share one load of the module and one set of LUNs (the mode is
	# flipped at run time); stock costs a module swap and new LUNs.
	first_handler=${handlers%% *}
	for handler in $handlers; do
		loaded=''
		[[ $handler != rbd ]] || cluster_up
		for ((rep = 1; rep <= reps; rep++)); do
			say "round $rep: ${targets[*]}, $handler"
			for p in "${points[@]}"; do
				# a point left out costs no module swap
				IFS='|' read -r name _ <<<"$p"
				[[ -z $want_points || " $want_points " == *" $name "* ]] ||
					continue
				rotate "$rep"
				for target in "${order[@]}"; do
					serves "$target" "$handler" || continue
					if [[ $target == ceiling ]]; then
						# no handler: measured once
						[[ $handler == "$first_handler" ]] ||
							continue
						[[ -z $loaded ]] || luns_down
						luns_up ceiling rd
						fio_point "$rep" ceiling rd "$p"
						luns_down
						loaded=''
						continue
					fi
					# zc and ublk need LUNs of their own,
					# base a module
					want=ours
					[[ $target != stock && $target != zc* &&
						$target != base && $target != ublk* ]] ||
						want=$target
					if [[ $loaded != "$want" ]]; then
						[[ -z $loaded ]] || luns_down
						driver_load "$want"
						luns_up "$want" "$handler"
						loaded=$want
					fi
					[[ $want == stock || $want == ublk* ]] ||
						set_mode "$target"
					fio_point "$rep" "$target" "$handler" "$p"
				done
			done
		done
		[[ -z $loaded ]] || luns_down
		[[ $handler != rbd ]] || cluster_down
	done
	reps=0
fi
# rounds CEILING HANDLER...: REPS rounds of the matrix on every target
# with each HANDLER, the ceiling first in each round if CEILING is 1
rounds() {
	local ceiling=$1 rep handler target
	shift
	for ((rep = 1; rep <= reps; rep++)); do
		rotate "$rep"
		if ((ceiling)); then
			say "round $rep: ceiling"
			run_matrix "$rep" ceiling rd
		fi
		for handler; do
			for target in "${order[@]}"; do
				serves "$target" "$handler" || continue
				say "round $rep: $target/$handler"
				driver_load "$target"
				run_matrix "$rep" "$target" "$handler"
			done
		done
	done
}
# shellcheck disable=SC2086 # $handlers is a list of names
rounds 1 ${handlers%rbd}
if [[ $handlers == *rbd ]]; then
	cluster_up
	rounds 0 rbd
	cluster_down
fi

if ((memory)); then
	say "memory"
	[[ ! -d /sys/module/target_core_user ]] || rmmod target_core_user
	run_memory ceiling rd
	for target in stock ours; do
		driver_load "$target"
		run_memory "$target" null
	done
fi
[[ ! -d /sys/module/target_core_user ]] || rmmod target_core_user
echo "BENCH: DONE"
