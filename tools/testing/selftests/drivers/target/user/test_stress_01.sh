#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stress: three "steady" devices run fio --verify=crc32c over and over
# while, around them, random actions hit four "disturbed" device slots
# and the module: create and export, delete under IO, handler crash and
# restart with block_dev/reset_ring, block and unblock, configfs writes
# (good and bad), global limit and reclaim changes, CPU hotplug.  The
# steady devices lose nothing; everything is removed cleanly at the end
# and every page goes back.  STRESS_SECONDS sets the length (default: 60
# in CI, 900 under make soak), STRESS_SEED reproduces the sequence of
# actions.
. "$(dirname "$0")/test_common.sh"
P=/sys/module/target_core_user/parameters
CPU1=/sys/devices/system/cpu/cpu1/online
seconds=${STRESS_SECONDS:-$(tcmu_form 60 900)}
seed=${STRESS_SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$seed
NS=3 ND=4
rm -f /tmp/stress.stop /tmp/stress.fail /tmp/stress-runs-*
declare -a present hpid fpid vpid
declare -A count
limits=(2 8 64 2048)

stop_all() {
	local i p
	touch /tmp/stress.stop
	echo 1 >$CPU1
	for p in "${fpid[@]}" "${vpid[@]}"; do
		[[ -n $p ]] && kill "$p" 2>/dev/null
	done
	for p in "${fpid[@]}" "${vpid[@]}"; do
		[[ -n $p ]] && wait "$p" 2>/dev/null
	done
	for i in "${!hpid[@]}"; do
		[[ -n ${hpid[i]} ]] && kill -KILL "${hpid[i]}" 2>/dev/null &&
			wait "${hpid[i]}" 2>/dev/null
	done
	fpid=() vpid=() hpid=()
}
trap 'stop_all; tcmu_cleanup' EXIT
check "insmod" tcmu_mod_load reclaim_idle_ms=1000
[[ -w $CPU1 ]] || fail "CPU 1 cannot go offline here (the VM has 2 CPUs)"
hotplugged=0
log "seed $seed, $seconds s"

# --- the steady devices ---------------------------------------------------
# The wind-down lets the run in progress finish and counts it: only a
# fio killed by a signal after the stop (the EXIT trap) is no failure.
verify_loop() {
	local name=$1 dev=$2 runs=0 rc
	while [[ ! -e /tmp/stress.stop ]]; do
		fio --name="$name" --filename="$dev" --direct=1 \
			--ioengine=libaio --rw=randwrite \
			--bssplit=4k/50:64k/30:256k/20 --iodepth=8 --size=8M \
			--verify=crc32c --verify_fatal=1 --do_verify=1 \
			--verify_state_save=0 >"/tmp/fio-$name.out" 2>&1
		rc=$?
		if ((rc)); then
			((rc > 128)) && [[ -e /tmp/stress.stop ]] && break
			echo "$name: verify run $runs failed (exit $rc)" >>/tmp/stress.fail
			cp "/tmp/fio-$name.out" "${TCMU_OUT:-/tmp}/stress-$name.fio" 2>/dev/null
			break
		fi
		runs=$((runs + 1))
	done
	echo "$runs" >"/tmp/stress-runs-$name"
}
for ((i = 0; i < NS; i++)); do
	tcmu_dev_create "s$i" 32M
	tcmu_handler "s$i" --threads 2 --ooo
	hpid[100 + i]=$HANDLER_PID
	HANDLER_PID=
	d=$(tcmu_dev_export "s$i") || fail "export s$i"
	echo 180 >"/sys/block/${d#/dev/}/device/timeout"
	verify_loop "s$i" "$d" &
	vpid[i]=$!
done

# --- the disturbed slots --------------------------------------------------
handler_start() {
	"$HANDLER_BIN" --dev "d$1" --threads 2 --ooo \
		>>"/tmp/handler-d$1.log" 2>&1 &
	hpid[$1]=$!
}
slot_create() {
	local i=$1 d
	mkdir "$HBA/d$i" || fail "mkdir d$i"
	echo "dev_config=test/d$i" >"$HBA/d$i/control"
	echo "dev_size=16777216" >"$HBA/d$i/control"
	echo 1 >"$HBA/d$i/enable" || fail "enable d$i"
	echo 3 >"$HBA/d$i/attrib/qfull_time_out"
	handler_start "$i"
	d=$(tcmu_dev_export "d$i") || fail "export d$i"
	fio --name="d$i" --filename="$d" --direct=1 --ioengine=libaio \
		--rw=randrw --bssplit=4k/50:128k/50 --iodepth=4 --time_based \
		--runtime=100000 --continue_on_error=all >/dev/null 2>&1 &
	fpid[i]=$!
	present[i]=1
}
slot_delete() {
	local i=$1
	# the LUN goes while fio still runs on it
	tcmu_dev_unexport "d$i" || fail "unexport d$i"
	kill "${fpid[i]}" 2>/dev/null
	wait "${fpid[i]}" 2>/dev/null
	kill -KILL "${hpid[i]}" 2>/dev/null
	wait "${hpid[i]}" 2>/dev/null
	rmdir "$HBA/d$i" || fail "rmdir d$i"
	unset 'fpid[i]' 'hpid[i]'
	present[i]=0
}
slot_restart() {
	local i=$1 A=$HBA/d$1/action
	kill -KILL "${hpid[i]}" 2>/dev/null
	wait "${hpid[i]}" 2>/dev/null
	echo 1 >"$A/block_dev" || fail "block_dev d$i"
	echo 1 >"$A/reset_ring" || fail "reset_ring d$i"
	echo 0 >"$A/block_dev" || fail "unblock d$i"
	handler_start "$i"
}
slot_block() {
	local A=$HBA/d$1/action
	echo 1 >"$A/block_dev" || fail "block_dev d$1"
	sleep 0.$((RANDOM % 10))
	echo 0 >"$A/block_dev" || fail "unblock d$1"
}
# writes that must succeed, and bad ones that must be refused
slot_configfs() {
	local a=$HBA/d$1/attrib
	case $((RANDOM % 6)) in
	0) echo $((RANDOM % 20)) >"$a/qfull_time_out" || fail "qfull_time_out" ;;
	1) echo $((RANDOM % 2)) >"$a/emulate_write_cache" || fail "write cache" ;;
	2) echo $(((16 + RANDOM % 16) << 20)) >"$a/dev_size" || fail "dev_size" ;;
	3) ! echo -5 >"$a/qfull_time_out" 2>/dev/null || fail "qfull -5 taken" ;;
	4) ! echo x >"$a/cmd_time_out" 2>/dev/null || fail "cmd_time_out x taken" ;;
	5) ! echo 3 >"$HBA/d$1/action/reset_ring" 2>/dev/null ||
		fail "reset_ring 3 taken" ;;
	esac
	cat "$HBA/d$1/info" >/dev/null
}

# act [WHAT]: one action, at random unless named
act() {
	local i=$((RANDOM % ND)) what=${1:-}
	[[ -n $what ]] || case $((RANDOM % 8)) in
	0 | 1) what=create ;;
	2) what=delete ;;
	3) what=restart ;;
	4) what=block ;;
	5) what=configfs ;;
	6) what=limits ;;
	7) what=hotplug ;;
	esac
	case $what in
	create | delete | restart | block | configfs)
		if [[ ${present[i]:-0} == 0 ]]; then
			what=create
			slot_create "$i"
		else
			[[ $what == create ]] && what=configfs
			"slot_$what" "$i"
		fi
		;;
	limits)
		echo "${limits[RANDOM % 4]}" >$P/global_max_data_area_mb ||
			fail "global limit"
		echo $((100 + RANDOM % 3000)) >$P/reclaim_idle_ms || fail "reclaim_idle_ms"
		! echo -1 >$P/global_max_data_area_mb 2>/dev/null || fail "limit -1 taken"
		;;
	hotplug)
		{ echo 0 >$CPU1 && [[ $(<$CPU1) == 0 ]]; } || fail "cpu1 offline"
		sleep 0.$((RANDOM % 10))
		{ echo 1 >$CPU1 && [[ $(<$CPU1) == 1 ]]; } || fail "cpu1 online"
		hotplugged=$((hotplugged + 1))
		;;
	esac
	count[$what]=$((${count[$what]:-0} + 1))
}

end=$((SECONDS + seconds))
n=0
while ((SECONDS < end)); do
	# hotplug every sixth action, the first included, whatever the dice
	# say: a slow host that manages few actions still hot-plugs
	if ((n % 6 == 0)); then act hotplug; else act; fi
	n=$((n + 1))
	[[ -e /tmp/stress.fail ]] && break
	sleep 0.$((RANDOM % 5))
done
summary=""
for k in "${!count[@]}"; do summary+=" $k=${count[$k]}"; done
log "$n actions:$summary"

# --- wind down ------------------------------------------------------------
touch /tmp/stress.stop
echo 2048 >$P/global_max_data_area_mb
echo 1 >$CPU1
for ((i = 0; i < NS; i++)); do
	wait "${vpid[i]}"
done
vpid=()
[[ ! -e /tmp/stress.fail ]] || fail "steady device lost data (seed $seed): $(cat /tmp/stress.fail)"
for ((i = 0; i < NS; i++)); do
	runs=$(cat "/tmp/stress-runs-s$i")
	log "s$i: $runs verified runs"
	check "s$i verified at least once" test "$runs" -gt 0
	check "s$i state ok" test "$(tcmu_info "s$i" State)" = ok
done
log "$hotplugged CPU 1 offline/online cycles"
check "hotplug was exercised" test "$hotplugged" -gt 0
for ((i = 0; i < ND; i++)); do
	[[ ${present[i]:-0} == 1 ]] && slot_delete "$i"
done
for ((i = 0; i < NS; i++)); do
	tcmu_dev_remove "s$i" || fail "remove s$i"
done
stop_all
check "every page went back" test "$(cat $P/global_data_pages)" = 0
log "pass"
