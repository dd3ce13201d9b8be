#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fault versus release: with a global limit far below what two devices
# use, the reclaim work keeps taking cached data pages away (zapping them
# from the handlers' mappings) while the handlers fault pages back in.
# A stale mapping would lose data; fio's crc32c verification would see it.
. "$(dirname "$0")/test_common.sh"
P=/sys/module/target_core_user/parameters
trap 'echo 2048 >$P/global_max_data_area_mb; tcmu_cleanup' EXIT
check "insmod" tcmu_mod_load

pids=()
for i in 1 2; do
	tcmu_dev_create rc$i 64M max_data_area_mb=8 hw_max_sectors=1024
	"$HANDLER_BIN" --dev "rc$i" --threads 4 --ooo >"/tmp/handler-rc$i.log" 2>&1 &
	pids+=($!)
	dev[i]=$(tcmu_dev_export "rc$i") || fail "export rc$i"
done
echo 1 >$P/global_max_data_area_mb
for i in 1 2; do
	fio --name="rc$i" --filename="${dev[i]}" --direct=1 --ioengine=libaio \
		--rw=randrw --bs=4k --bssplit=4k/50:64k/30:256k/20 --iodepth=16 \
		--size=32M --verify=crc32c --verify_fatal=1 --do_verify=1 \
		--verify_state_save=0 >"/tmp/fio-rc$i.out" 2>&1 &
	fpids[i]=$!
done
peak=0
while kill -0 "${fpids[1]}" 2>/dev/null || kill -0 "${fpids[2]}" 2>/dev/null; do
	held=$(cat $P/global_data_pages)
	((held > peak)) && peak=$held
	sleep 0.2
done
for i in 1 2; do
	wait "${fpids[i]}" || fail "fio verify on rc$i: $(tail -n 20 /tmp/fio-rc$i.out)"
done
log "global data pages peaked at $peak with a 256-page limit"
# once idle, the reclaim brings the pool under the limit
check "pool trimmed to the limit" tcmu_wait 20 \
	test "$(cat $P/global_data_pages)" -le 256
for i in 1 2; do
	check "rc$i state ok" test "$(tcmu_info "rc$i" State)" = ok
	tcmu_dev_unexport "rc$i"
done
kill "${pids[@]}"
wait "${pids[@]}" 2>/dev/null
log "pass"
