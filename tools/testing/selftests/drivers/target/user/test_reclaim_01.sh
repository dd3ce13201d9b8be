#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fault versus release: with a global limit far below what two devices
# use, the reclaim work keeps taking cached data pages away (zapping them
# from the handlers' mappings) while the handlers fault pages back in.
# A stale mapping would lose data; fio's crc32c verification would see it.
# The reclaim must really run while fio does (its counter rises between
# samples), the pool must never hold more than the limit (its own peak
# and the sampled figure), and once idle the devices give every page back.
# Then reclaim_idle_ms acts at once, whether raised from 0 or lowered.
. "$(dirname "$0")/test_common.sh"
P=/sys/module/target_core_user/parameters
POOL=/sys/kernel/debug/target_core_user/pool
LIMIT=256
trap 'echo 2048 >$P/global_max_data_area_mb; tcmu_cleanup' EXIT
check "insmod" tcmu_mod_load

# pool_stat KEY: a line of the pool's debugfs file
pool_stat() {
	sed -n "s/^$1: //p" "$POOL"
}

# the limit before any IO (the exports' partition scans included), so
# that the pool's lifetime peak speaks for the whole test
check "global limit of 1 MiB" eval "echo 1 >$P/global_max_data_area_mb"
check "limit in pages" test "$(pool_stat pages_max)" = $LIMIT
pids=()
for i in 1 2; do
	tcmu_dev_create rc$i 64M max_data_area_mb=8 hw_max_sectors=1024
	"$HANDLER_BIN" --dev "rc$i" --threads 4 --ooo >"/tmp/handler-rc$i.log" 2>&1 &
	pids+=($!)
	dev[i]=$(tcmu_dev_export "rc$i") || fail "export rc$i"
done
for i in 1 2; do
	fio --name="rc$i" --filename="${dev[i]}" --direct=1 --ioengine=libaio \
		--rw=randrw --bs=4k --bssplit=4k/50:64k/30:256k/20 --iodepth=16 \
		--size=32M --verify=crc32c --verify_fatal=1 --do_verify=1 \
		--verify_state_save=0 >"/tmp/fio-rc$i.out" 2>&1 &
	fpids[i]=$!
done
peak=0 rises=0 samples=0
last=$(pool_stat pages_reclaimed)
first=$last
while kill -0 "${fpids[1]}" 2>/dev/null || kill -0 "${fpids[2]}" 2>/dev/null; do
	held=$(cat $P/global_data_pages)
	((held > peak)) && peak=$held
	now=$(pool_stat pages_reclaimed)
	((now > last)) && rises=$((rises + 1))
	last=$now samples=$((samples + 1))
	sleep 0.2
done
for i in 1 2; do
	wait "${fpids[i]}" || fail "fio verify on rc$i: $(tail -n 20 /tmp/fio-rc$i.out)"
done
ppeak=$(pool_stat pages_peak)
log "during fio: $((last - first)) pages reclaimed, rising in $rises of $samples samples"
log "held peaked at $peak sampled, $ppeak by the pool, limit $LIMIT"
((rises > 0)) || fail "the reclaim never ran while fio did"
((peak <= LIMIT)) || fail "sampled $peak pages held, above the limit"
((ppeak <= LIMIT)) || fail "the pool's peak $ppeak is above the limit"
# with fio gone the idle trim gives every page back
pool_held_is() { [[ $(cat $P/global_data_pages) == "$1" ]]; }
tcmu_wait 20 pool_held_is 0 ||
	fail "pages still held once idle: $(tr '\n' ' ' <$POOL)"

# reclaim_idle_ms acts at once: raised from 0 for a device already idle
# with cached pages, and lowered below what the armed trim waits for
echo 2048 >$P/global_max_data_area_mb
for from in 0 600000; do
	check "reclaim_idle_ms $from" eval "echo $from >$P/reclaim_idle_ms"
	tcmu_fio_verify "${dev[1]}" --rw=write --bs=64k --iodepth=4 --size=2M ||
		fail "fio verify at reclaim_idle_ms=$from: $(fio_log)"
	sleep 2
	check "cached pages stay while reclaim_idle_ms is $from" \
		test "$(cat $P/global_data_pages)" -gt 0
	check "reclaim_idle_ms 200" eval "echo 200 >$P/reclaim_idle_ms"
	tcmu_wait 5 pool_held_is 0 ||
		fail "reclaim_idle_ms $from -> 200: pages held 5 s later:" \
			"$(tr '\n' ' ' <$POOL)"
done
for i in 1 2; do
	check "rc$i state ok" test "$(tcmu_info "rc$i" State)" = ok
	tcmu_dev_unexport "rc$i"
done
tcmu_stop_pids "${pids[@]}"
log "pass"
