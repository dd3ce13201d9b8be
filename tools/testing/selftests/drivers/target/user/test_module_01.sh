#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Module load/unload: parameters present and validated, backend "user"
# registered, unload refused while a device exists, allowed after.
. "$(dirname "$0")/test_common.sh"
trap tcmu_cleanup EXIT

P=/sys/module/target_core_user/parameters
check "insmod" tcmu_mod_load
for p in global_max_data_area_mb global_data_pages reclaim_idle_ms \
	block_netlink reset_netlink; do
	[[ -e $P/$p ]] || fail "parameter $p missing"
done
check "default global limit" test "$(cat $P/global_max_data_area_mb)" = 2048
check "netlink unblocked" test "$(cat $P/block_netlink)" = unblocked

expect_einval $P/global_max_data_area_mb 0 global_max_data_area_mb
expect_einval $P/global_max_data_area_mb abc global_max_data_area_mb
expect_einval $P/global_max_data_area_mb 99999999 global_max_data_area_mb
check "limit unchanged" test "$(cat $P/global_max_data_area_mb)" = 2048
echo 1024 >$P/global_max_data_area_mb
check "limit set" test "$(cat $P/global_max_data_area_mb)" = 1024
echo 2048 >$P/global_max_data_area_mb
check "default idle reclaim" test "$(cat $P/reclaim_idle_ms)" = 5000
expect_einval $P/reclaim_idle_ms -1 reclaim_idle_ms
expect_einval $P/reclaim_idle_ms 5s reclaim_idle_ms
expect_einval $P/reclaim_idle_ms 86400001 reclaim_idle_ms
check "idle reclaim unchanged" test "$(cat $P/reclaim_idle_ms)" = 5000
echo 0 >$P/reclaim_idle_ms
check "idle reclaim off" test "$(cat $P/reclaim_idle_ms)" = 0
expect_einval $P/block_netlink 2 block_netlink
expect_einval $P/reset_netlink 0 reset_netlink

tcmu_dev_create m1 16M
check "uio device named after the device" \
	grep -qx "tcm-user/1/m1/test/m1" /sys/class/uio/uio*/name
if rmmod target_core_user 2>/dev/null; then
	fail "rmmod succeeded while a device exists"
fi
check "module still loaded" test -d /sys/module/target_core_user
tcmu_dev_remove m1
rmdir "$HBA"
check "rmmod after removal" tcmu_mod_unload
check "module gone" test ! -d /sys/module/target_core_user
check "reload" tcmu_mod_load
log "pass"
