#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The global limit changed at run time: lowered from the 1024+ pages four
# busy devices hold to 512, use shrinks to the new limit while all four
# fio verify jobs still run, and stays under it (sampled until the last
# job ends).  Then, in a freshly loaded module (so that the pool's peak
# speaks for this phase alone), a limit that one command barely fits
# (1 MiB limit, 1 MiB commands) still completes all IO, one command at a
# time.
. "$(dirname "$0")/test_common.sh"
P=/sys/module/target_core_user/parameters
POOL=/sys/kernel/debug/target_core_user/pool
trap 'kill "${pids[@]}" 2>/dev/null; tcmu_cleanup' EXIT
check "insmod" tcmu_mod_load reclaim_idle_ms=0

pool_stat() {
	awk -v k="$1:" '$1 == k { print $2 }' $POOL
}

# held OP N: compare the pages all devices hold now (for tcmu_wait)
held() {
	test "$(cat $P/global_data_pages)" "$1" "$2"
}

# all_running: every fio job of the first phase is still running
all_running() {
	local i
	for i in 1 2 3 4; do
		kill -0 "${fpids[i]}" 2>/dev/null || return 1
	done
}

# any_running: one of them is
any_running() {
	local i
	for i in 1 2 3 4; do
		kill -0 "${fpids[i]}" 2>/dev/null && return 0
	done
	return 1
}

pids=()
for i in 1 2 3 4; do
	tcmu_dev_create "l$i" 64M hw_max_sectors=512
	echo 300 >"$HBA/l$i/attrib/qfull_time_out"
	"$HANDLER_BIN" --dev "l$i" --threads 4 --ooo >"/tmp/handler-l$i.log" 2>&1 &
	pids+=($!)
	dev[i]=$(tcmu_dev_export "l$i") || fail "export l$i"
done
for i in 1 2 3 4; do
	fio --name="l$i" --filename="${dev[i]}" --direct=1 --ioengine=libaio \
		--rw=randwrite --bs=256k --iodepth=16 --size=48M \
		--verify=crc32c --verify_fatal=1 --do_verify=1 \
		--verify_state_save=0 >"/tmp/fio-l$i.out" 2>&1 &
	fpids[i]=$!
done
# 4 devices x 16 x 256 KiB in flight: up to 4096 pages; how many a quiet
# host's handlers leave in flight at once varies (2432 under load, 512 a
# device on a quiet host), so more than 1024 is what is required
check "devices grew past 1024 pages" tcmu_wait 120 held -gt 1024
before=$(cat $P/global_data_pages)
check "all four jobs run when the limit drops" all_running
check "limit lowered to 2 MiB" eval "echo 2 >$P/global_max_data_area_mb"
check "use shrank to the new limit" \
	tcmu_wait 120 held -le 512
check "all four jobs still ran when use had shrunk" all_running
log "held $before pages, lowered the limit to 512: now $(cat $P/global_data_pages)"
over=0 samples=0
while any_running; do
	now=$(cat $P/global_data_pages)
	((now > 512)) && over=$now
	samples=$((samples + 1))
	sleep 0.1
done
log "$samples samples under the lowered limit"
# the shrink takes a while under TCG: enough IO must be left after it
((samples >= 5)) || fail "only $samples samples after the shrink: too little IO left to judge"
for i in 1 2 3 4; do
	wait "${fpids[i]}" || fail "fio verify on l$i: $(tail -n 20 /tmp/fio-l$i.out)"
	check "l$i state ok" test "$(tcmu_info "l$i" State)" = ok
done
check "stayed under the lowered limit (saw $over)" test "$over" = 0
for i in 1 2 3 4; do
	tcmu_dev_remove "l$i"
done
wait "${pids[@]}" 2>/dev/null
pids=()

# one 1 MiB command needs all 256 pages of a 1 MiB pool
rmdir "$HBA"
check "rmmod" tcmu_mod_unload
check "insmod with a 1 MiB limit" tcmu_mod_load reclaim_idle_ms=0 \
	global_max_data_area_mb=1
check "limit in pages" test "$(pool_stat pages_max)" = 256
tcmu_dev_create big 32M hw_max_sectors=2048
echo 300 >"$HBA/big/attrib/qfull_time_out"
"$HANDLER_BIN" --dev big --threads 4 --ooo >/tmp/handler-big.log 2>&1 &
pids+=($!)
d=$(tcmu_dev_export big) || fail "export big"
check "1 MiB IOs are not split" \
	test "$(cat "/sys/block/${d#/dev/}/queue/max_sectors_kb")" -ge 1024
tcmu_fio_verify "$d" --rw=write --bs=1M --iodepth=4 --size=16M ||
	fail "fio verify with a one-command pool: $(fio_log)"
check "big state ok" test "$(tcmu_info big State)" = ok
check "big held the whole pool" test "$(tcmu_info big DataPagesPeak)" = 256
check "big had to wait" info_nonzero big PoolWaits
check "pool peak within the limit" test "$(pool_stat pages_peak)" -le 256
log "pass"
