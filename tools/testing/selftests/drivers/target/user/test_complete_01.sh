#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Completion threads (completion=percpu): 16 devices whose handlers
# complete out of order run fio --verify=crc32c at once while CPU 1 goes
# offline and online again and again, and the mode flips to inline and
# back under the IO.  Nothing is lost or corrupted; both CPUs' threads
# served devices; the devices go away with their handlers still kicking;
# rmmod stops the threads.  A bad completion= value is refused.  At depth 1
# the kick reaps inline unless completion_inline_depth is 0.
. "$(dirname "$0")/test_common.sh"
P=/sys/module/target_core_user/parameters
DBG=/sys/kernel/debug/target_core_user/completion
CPU1=/sys/devices/system/cpu/cpu1/online
N=16
hp=''
trap '[[ -n $hp ]] && kill "$hp" 2>/dev/null; [[ -w $CPU1 ]] && echo 1 >$CPU1
	kill "${pids[@]}" 2>/dev/null; tcmu_cleanup' EXIT
check "insmod" tcmu_mod_load
check "percpu is the default" test "$(cat $P/completion)" = percpu
expect_einval $P/completion bogus completion
[[ -w $CPU1 ]] || fail "CPU 1 cannot go offline here (the VM has 2 CPUs)"

pids=()
for ((i = 0; i < N; i++)); do
	tcmu_dev_create "c$i" 16M
	"$HANDLER_BIN" --dev "c$i" --threads 2 --ooo >"/tmp/handler-c$i.log" 2>&1 &
	pids+=($!)
	dev[i]=$(tcmu_dev_export "c$i") || fail "export c$i"
done
threads=$(grep -c '^cpu ' $DBG)
devs=$(awk '/^cpu / { n += $8 } END { print n }' $DBG)
log "$threads completion threads for $devs devices"
check "every device bound to a thread" test "$devs" = $N

# CPU 1 off and on, and the mode flipping, while the IO runs; a cycle
# counts when CPU 1 read back offline, then online; a refused write is
# an error
rm -f /tmp/hotplug.cycles /tmp/hotplug.err
(
	n=0
	while :; do
		{ echo 0 >$CPU1 && [[ $(<$CPU1) == 0 ]]; } ||
			echo "cpu1 did not go offline" >>/tmp/hotplug.err
		sleep 1.$((RANDOM % 5))
		echo inline >$P/completion || echo "inline refused" >>/tmp/hotplug.err
		{ echo 1 >$CPU1 && [[ $(<$CPU1) == 1 ]]; } ||
			echo "cpu1 did not come online" >>/tmp/hotplug.err
		[[ -e /tmp/hotplug.err ]] || echo $((++n)) >/tmp/hotplug.cycles
		sleep 1.$((RANDOM % 5))
		echo percpu >$P/completion || echo "percpu refused" >>/tmp/hotplug.err
	done
) &
hp=$!
# at least 3 cycles are required.  Hotplug is costly in the debug guest
# (stop_machine, lockdep, KASAN): with pauses of 0-0.4 s its cycles took
# the CPU from fio, whose 1 MiB a device took 113 s beside 60 cycles (3
# MiB 75 s beside 43); with the pauses of 1.0-1.4 s above, 1 MiB a
# device takes 43 s beside 13 cycles
tcmu_fio_verify_all c --rw=randwrite --bssplit=4k/50:64k/30:256k/20 \
	--iodepth=16 --size="$(tcmu_form 1M 32M)"
kill "$hp"
wait "$hp" 2>/dev/null
hp=''
echo 1 >$CPU1
echo percpu >$P/completion
cycles=$(cat /tmp/hotplug.cycles 2>/dev/null || echo 0)
log "$cycles CPU 1 offline/online cycles under IO"
[[ ! -e /tmp/hotplug.err ]] || fail "hotplug: $(sort /tmp/hotplug.err | uniq -c)"
((cycles >= 3)) || fail "only $cycles CPU 1 offline/online cycles under IO"
cat $DBG
check "two threads ran" test "$(grep -c '^cpu ' $DBG)" = 2
check "both threads took hand-overs" test "$(awk '/^cpu / && $10 > 0' $DBG | wc -l)" = 2
check "both threads reaped" test "$(awk '/^cpu / && $14 > 0' $DBG | wc -l)" = 2
pid1=$(awk '$1 == "cpu" && $2 == "1:" { print $4 }' $DBG)
check "cpu 1's thread is pinned to CPU 1 again" \
	test "$(taskset -p "$pid1" | awk '{ print $NF }')" = 2
for ((i = 0; i < N; i++)); do
	check "c$i state ok" test "$(tcmu_info "c$i" State)" = ok
	check "c$i nothing timed out" test "$(tcmu_info "c$i" TimedOut)" = 0
done

# adaptive hand-over: at depth 1 the kick reaps in the handler's write()
# (completion_inline_depth=1, the default); at 0 every kick is handed over
expect_einval $P/completion_inline_depth 65536 completion_inline_depth
expect_einval $P/completion_inline_depth -1 completion_inline_depth
check "inline depth 1 by default" test "$(cat $P/completion_inline_depth)" = 1
inline_reaps() { awk '$1 == "inline_depth:" { print $4 }' $DBG; }
handoffs() { awk '/^cpu / { n += $10 } END { print n + 0 }' $DBG; }
r0=$(inline_reaps)
# 1 MiB at 4 KiB: 256 writes and 256 reads, each one kick
check "depth 1 verifies" tcmu_fio_verify "${dev[0]}" --rw=randwrite \
	--bs=4k --iodepth=1 --size=1M
r1=$(inline_reaps) h1=$(handoffs)
log "depth 1: $((r1 - r0)) inline reaps"
check "depth 1 reaps inline" test $((r1 - r0)) -ge 256
echo 0 >$P/completion_inline_depth
check "depth 1 verifies, handed over" tcmu_fio_verify "${dev[0]}" \
	--rw=randwrite --bs=4k --iodepth=1 --size=1M
h2=$(handoffs)
log "depth 1, inline depth 0: $((h2 - h1)) hand-overs"
check "inline depth 0 hands every kick over" test $((h2 - h1)) -ge 256
echo 1 >$P/completion_inline_depth

# devices go while their handlers still run and may kick
for ((i = 0; i < N; i++)); do
	tcmu_dev_remove "c$i" || fail "remove c$i"
done
kill "${pids[@]}" 2>/dev/null
for p in "${pids[@]}"; do
	wait "$p" 2>/dev/null
done
pids=()
rmdir "$HBA"
check "rmmod" tcmu_mod_unload
check "no completion thread left" test -z "$(pgrep tcmu_comp)"
log "pass"
