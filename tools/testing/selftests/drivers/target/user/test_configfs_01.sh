#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Every attribute and control option: defaults as in Linux 6.12, good
# values accepted, bad values refused with EINVAL and a log line naming
# the attribute, and nothing changed by a refused write.
. "$(dirname "$0")/test_common.sh"
trap tcmu_cleanup EXIT
check "insmod" tcmu_mod_load

D=$HBA/c1
mkdir -p "$D"
A=$D/attrib
# control options before enable
expect_einval "$D/control" "max_data_area_mb=0" max_data_area_mb
expect_einval "$D/control" "max_data_area_mb=-5" max_data_area_mb
expect_einval "$D/control" "data_pages_per_blk=0" data_pages_per_blk
expect_einval "$D/control" "cmd_ring_size_mb=0" cmd_ring_size_mb
expect_einval "$D/control" "hw_block_size=1000" hw_block_size
expect_einval "$D/control" "hw_max_sectors=0" hw_max_sectors
expect_einval "$D/control" "dev_size=lots" dev_size
expect_einval "$D/control" "no_such_option=1" no_such_option
expect_einval "$D/control" "zero_copy=2" zero_copy
expect_einval "$D/control" "zero_copy_min_kb=99999" zero_copy_min_kb
expect_einval "$D/control" "zero_copy_read=yes" zero_copy_read
echo "dev_config=test/c1,dev_size=33554432" >"$D/control"
echo "max_data_area_mb=64,data_pages_per_blk=4,cmd_ring_size_mb=2" >"$D/control"
echo "hw_block_size=4096" >"$D/control"
check "max_data_area_mb" test "$(cat "$A"/max_data_area_mb)" = 64
check "data_pages_per_blk" test "$(cat "$A"/data_pages_per_blk)" = 4
check "cmd_ring_size_mb" test "$(cat "$A"/cmd_ring_size_mb)" = 2
echo 1 >"$D/enable"
want="Config: test/c1 Size: 33554432 MaxDataAreaMB: 64 DataPagesPerBlk: 4"
check "info keeps the 6.12 fields" grep -q "$want CmdRingSizeMB: 2" "$D/info"
want="State: ok DataPagesHeld: 0 DataPagesUsed: 0 InFlight: 0 Waiting: 0"
check "info has the state" grep -q "$want TimedOut: 0 QfullTimedOut: 0" "$D/info"
# layout is fixed once enabled
expect_einval "$D/control" "max_data_area_mb=32" max_data_area_mb
expect_einval "$D/control" "data_pages_per_blk=1" data_pages_per_blk
expect_einval "$D/control" "cmd_ring_size_mb=1" cmd_ring_size_mb
expect_einval "$D/control" "zero_copy=1" zero_copy
check "zero_copy=0 written again after enable" \
	bash -c "echo 0 >'$A/zero_copy'"
check "max_data_area_mb unchanged" test "$(cat "$A"/max_data_area_mb)" = 64
check "map size" test "$(cat /sys/class/uio/uio*/maps/map0/size)" = \
	"$(printf '0x%016x' $(((2 + 64) << 20)))"

# attributes: defaults
check "cmd_time_out default" test "$(cat "$A"/cmd_time_out)" = 30
check "qfull_time_out default" test "$(cat "$A"/qfull_time_out)" = -1
check "tmr_notification default" test "$(cat "$A"/tmr_notification)" = 0
check "emulate_write_cache default" test "$(cat "$A"/emulate_write_cache)" = 0
check "dev_config" test "$(cat "$A"/dev_config)" = test/c1
check "dev_size" test "$(cat "$A"/dev_size)" = 33554432
check "hw_block_size" test "$(cat "$A"/hw_block_size)" = 4096
check "hw_max_sectors default" test "$(cat "$A"/hw_max_sectors)" = 128
check "block_dev" test "$(cat "$D"/action/block_dev)" = unblocked

# attributes: bad values
expect_einval "$A/cmd_time_out" -1 cmd_time_out
expect_einval "$A/cmd_time_out" x cmd_time_out
expect_einval "$A/cmd_time_out" 99999999 cmd_time_out
expect_einval "$A/qfull_time_out" -2 qfull_time_out
expect_einval "$A/tmr_notification" 2 tmr_notification
expect_einval "$A/emulate_write_cache" 2 emulate_write_cache
expect_einval "$A/nl_reply_supported" 300 nl_reply_supported
expect_einval "$A/dev_size" -1 dev_size
expect_einval "$D/action/block_dev" 2 block_dev
expect_einval "$D/action/reset_ring" 3 reset_ring
expect_einval "$D/action/free_kept_buf" 70000 free_kept_buf
expect_einval "$D/action/free_kept_buf" 5 free_kept_buf
check "cmd_time_out unchanged" test "$(cat "$A"/cmd_time_out)" = 30
check "qfull_time_out unchanged" test "$(cat "$A"/qfull_time_out)" = -1

# attributes: good values
echo 7 >"$A/cmd_time_out"
check "cmd_time_out set" test "$(cat "$A"/cmd_time_out)" = 7
echo 3 >"$A/qfull_time_out"
check "qfull_time_out set" test "$(cat "$A"/qfull_time_out)" = 3
echo -1 >"$A/qfull_time_out"
echo 1 >"$A/tmr_notification"
check "tmr_notification set" test "$(cat "$A"/tmr_notification)" = 1
echo -1 >"$A/nl_reply_supported"
check "nl_reply_supported set" test "$(cat "$A"/nl_reply_supported)" = -1
echo 1 >"$D/action/block_dev"
check "blocked" test "$(cat "$D"/action/block_dev)" = blocked
check "info says blocked" grep -q "State: blocked" "$D/info"
echo 0 >"$D/action/block_dev"
echo 1 >"$D/action/reset_ring"
echo 2 >"$D/action/reset_ring"
# no handler listens: reconfiguration goes through without a reply
echo 67108864 >"$A/dev_size"
check "dev_size reconfigured" test "$(cat "$A"/dev_size)" = 67108864
echo "test/c1-new" >"$A/dev_config"
check "dev_config reconfigured" test "$(cat "$A"/dev_config)" = test/c1-new
check "uio name follows dev_config" \
	grep -qx "tcm-user/1/c1/test/c1-new" /sys/class/uio/uio*/name
# cmd_time_out cannot change while exported
tcmu_handler c1
tcmu_dev_export c1 >/dev/null || fail "export"
expect_einval "$A/cmd_time_out" 5 cmd_time_out
log "pass"
