#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Every attribute and control option: defaults as in Linux 6.12, good
# values accepted (each write checked), bad values refused with EINVAL
# and a log line naming the attribute, and nothing changed by a refused
# write (every readable attribute, block_dev and the info file compared
# before and after).  nl_reply_supported: its range, and -1 makes a
# reconfiguration go through while a daemon that announced replies stays
# silent.
. "$(dirname "$0")/test_common.sh"
trap tcmu_nl_cleanup EXIT
check "insmod" tcmu_mod_load

# put FILE VALUE: a write that must succeed
put() {
	echo "$2" >"$1" || fail "writing '$2' to $1 failed"
}

# snapshot: every readable attribute, block_dev and the info file
snapshot() {
	local f
	for f in "$A"/* "$D/action/block_dev" "$D/info"; do
		[[ -r $f ]] || continue
		echo "$f: $(cat "$f" 2>&1)"
	done
}

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
put "$D/control" "dev_config=test/c1,dev_size=33554432"
put "$D/control" "max_data_area_mb=64,data_pages_per_blk=4,cmd_ring_size_mb=2"
put "$D/control" "hw_block_size=4096"
check "max_data_area_mb" test "$(cat "$A"/max_data_area_mb)" = 64
check "data_pages_per_blk" test "$(cat "$A"/data_pages_per_blk)" = 4
check "cmd_ring_size_mb" test "$(cat "$A"/cmd_ring_size_mb)" = 2
put "$D/enable" 1
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
check "nl_reply_supported: 0, nothing announced" \
	test "$(cat "$A"/nl_reply_supported)" = 0
check "zero_copy default" test "$(cat "$A"/zero_copy)" = 0

# attributes: bad values, and nothing changed by them
before=$(snapshot)
expect_einval "$A/cmd_time_out" -1 cmd_time_out
expect_einval "$A/cmd_time_out" x cmd_time_out
expect_einval "$A/cmd_time_out" 99999999 cmd_time_out
expect_einval "$A/qfull_time_out" -2 qfull_time_out
expect_einval "$A/tmr_notification" 2 tmr_notification
expect_einval "$A/emulate_write_cache" 2 emulate_write_cache
expect_einval "$A/nl_reply_supported" 300 nl_reply_supported
expect_einval "$A/nl_reply_supported" 128 nl_reply_supported
expect_einval "$A/nl_reply_supported" -129 nl_reply_supported
expect_einval "$A/nl_reply_supported" x nl_reply_supported
expect_einval "$A/dev_size" -1 dev_size
expect_einval "$D/action/block_dev" 2 block_dev
expect_einval "$D/action/reset_ring" 3 reset_ring
expect_einval "$D/action/free_kept_buf" 70000 free_kept_buf
expect_einval "$D/action/free_kept_buf" 5 free_kept_buf
after=$(snapshot)
[[ $after == "$before" ]] ||
	fail "refused writes changed: $(diff <(echo "$before") <(echo "$after"))"
check "snapshot covers the attributes" test "$(grep -c . <<<"$before")" -ge 15

# attributes: good values
put "$A/cmd_time_out" 7
check "cmd_time_out set" test "$(cat "$A"/cmd_time_out)" = 7
put "$A/qfull_time_out" 3
check "qfull_time_out set" test "$(cat "$A"/qfull_time_out)" = 3
put "$A/qfull_time_out" -1
put "$A/tmr_notification" 1
check "tmr_notification set" test "$(cat "$A"/tmr_notification)" = 1
put "$A/emulate_write_cache" 1
check "emulate_write_cache set" test "$(cat "$A"/emulate_write_cache)" = 1
put "$A/emulate_write_cache" 0
for v in 127 -128 1 -1; do
	put "$A/nl_reply_supported" $v
	check "nl_reply_supported set to $v" \
		test "$(cat "$A"/nl_reply_supported)" = $v
done
put "$D/action/block_dev" 1
check "blocked" test "$(cat "$D"/action/block_dev)" = blocked
check "info says blocked" grep -q "State: blocked" "$D/info"
put "$D/action/block_dev" 0
check "unblocked" test "$(cat "$D"/action/block_dev)" = unblocked
put "$D/action/reset_ring" 1
put "$D/action/reset_ring" 2
check "state ok after the resets" grep -q "State: ok" "$D/info"
# no handler listens: reconfiguration goes through without a reply
put "$A/dev_size" 67108864
check "dev_size reconfigured" test "$(cat "$A"/dev_size)" = 67108864
put "$A/dev_config" "test/c1-new"
check "dev_config reconfigured" test "$(cat "$A"/dev_config)" = test/c1-new
check "uio name follows dev_config" \
	grep -qx "tcm-user/1/c1/test/c1-new" /sys/class/uio/uio*/name
# cmd_time_out cannot change while exported
tcmu_handler c1
tcmu_dev_export c1 >/dev/null || fail "export"
expect_einval "$A/cmd_time_out" 5 cmd_time_out

# nl_reply_supported -1: a daemon that announced replies (SET_FEATURES)
# and never sends one does not hold up this device's reconfiguration
tcmu_nl_daemon --nl-no-reply
check "reconfig with nl_reply_supported -1 does not wait" \
	timeout 20 bash -c "echo 33554432 >'$A/dev_size'"
check "dev_size reconfigured again" test "$(cat "$A"/dev_size)" = 33554432
check "the daemon got the event" tcmu_wait 10 \
	grep -q "nl: RECONFIG_DEVICE .*size=33554432" "$NL_LOG"
tcmu_nl_daemon_stop
log "pass"
