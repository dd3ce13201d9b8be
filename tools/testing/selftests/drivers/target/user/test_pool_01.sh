#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The hard global page pool: 16 devices whose data areas add up to 16 GiB
# run verified IO at once under a 1 MiB (256-page) global limit.  No IO
# error, every device finishes, the devices really had to wait for pages,
# and the pages held never pass the limit: neither the pool's own peak
# (checked at every charge) nor a sampler reading global_data_pages.
# Idle devices then give all their pages back.
. "$(dirname "$0")/test_common.sh"
P=/sys/module/target_core_user/parameters
POOL=/sys/kernel/debug/target_core_user/pool
N=16
LIMIT_PAGES=256
trap 'kill "${pids[@]}" "$spid" 2>/dev/null; tcmu_cleanup' EXIT
check "insmod" tcmu_mod_load global_max_data_area_mb=1 reclaim_idle_ms=1000
check "limit set at load" test "$(cat $P/global_max_data_area_mb)" = 1
check "pool view in debugfs" grep -q "pages_max: $LIMIT_PAGES" $POOL

# pool_stat KEY: a value of the debugfs pool view
pool_stat() {
	awk -v k="$1:" '$1 == k { print $2 }' $POOL
}

# held OP N: compare the pages all devices hold now (for tcmu_wait)
held() {
	test "$(cat $P/global_data_pages)" "$1" "$2"
}

pids=()
for ((i = 0; i < N; i++)); do
	tcmu_dev_create "p$i" 16M
	echo 300 >"$HBA/p$i/attrib/qfull_time_out"
	"$HANDLER_BIN" --dev "p$i" --threads 2 --ooo >"/tmp/handler-p$i.log" 2>&1 &
	pids+=($!)
	dev[i]=$(tcmu_dev_export "p$i") || fail "export p$i"
done

# sampler: the highest global_data_pages seen while the IO runs
: >/tmp/pool-peak
(
	max=0
	while :; do
		read -r v <$P/global_data_pages
		if ((v > max)); then
			max=$v
			echo "$max" >/tmp/pool-peak
		fi
		sleep 0.05
	done
) &
spid=$!

tcmu_fio_verify_all p --rw=randwrite --bssplit=4k/20:64k/40:256k/40 \
	--iodepth=16 --size="$(tcmu_form 4M 16M)"
kill "$spid"
wait "$spid" 2>/dev/null
spid=

sampled=$(cat /tmp/pool-peak)
peak=$(pool_stat pages_peak)
log "pool peak $peak pages, sampled peak $sampled, limit $LIMIT_PAGES;" \
	"waits $(pool_stat waits), waited $(pool_stat wait_ms) ms"
check "pool peak within the limit" test "$peak" -le $LIMIT_PAGES
check "sampled pages within the limit" test "$sampled" -le $LIMIT_PAGES
check "the limit was reached" test "$peak" -ge $((LIMIT_PAGES / 2))
check "devices had to wait for pages" test "$(pool_stat waits)" -gt 0
waited=0
for ((i = 0; i < N; i++)); do
	check "p$i state ok" test "$(tcmu_info "p$i" State)" = ok
	check "p$i peak within the limit" \
		test "$(tcmu_info "p$i" DataPagesPeak)" -le $LIMIT_PAGES
	[[ $(tcmu_info "p$i" PoolWaits) == 0 ]] || waited=$((waited + 1))
	check "p$i nothing bounced" test "$(tcmu_info "p$i" QfullTimedOut)" = 0
done
# The line is fair, not a turnstile: a device that finds pages free past
# what the first waiter wants takes them without queueing, and in runs
# seen so far 14 to 16 of the 16 went through the line.
log "$waited of $N devices waited for pages"
check "most devices waited" test "$waited" -ge $((N / 2))

# idle for reclaim_idle_ms: every cached page goes back
check "idle devices gave their pages back" \
	tcmu_wait 30 held -eq 0
check "reclaim counted" test "$(pool_stat pages_reclaimed)" -gt 0
check "p0 counted its reclaim" info_nonzero p0 DataPagesReclaimed
check "no waiter left" test "$(pool_stat waiters)" = 0
log "pass"
