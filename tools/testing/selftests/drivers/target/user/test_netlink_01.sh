#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Netlink with a daemon that replies (SET_FEATURES): ADDED, RECONFIG
# (dev_size, dev_config, emulate_write_cache) and REMOVED events with
# their *_DONE replies; a refusing daemon makes the configfs write fail;
# a daemon that never replies is recovered with block/reset_netlink.
. "$(dirname "$0")/test_common.sh"
P=/sys/module/target_core_user/parameters
trap tcmu_nl_cleanup EXIT
check "insmod" tcmu_mod_load

tcmu_nl_daemon
tcmu_dev_create nl1 32M
check "ADDED event" grep -q "nl: ADDED_DEVICE dev=tcm-user/1/nl1/test/nl1" "$NL_LOG"
check "ADDED reply" grep -q "nl: ADDED_DEVICE_DONE .*status=0 ret=0" "$NL_LOG"
A=$HBA/nl1/attrib
echo 67108864 >"$A/dev_size" || fail "dev_size reconfig"
check "size event" grep -q "nl: RECONFIG_DEVICE .*size=67108864" "$NL_LOG"
echo "test/other" >"$A/dev_config" || fail "dev_config reconfig"
check "config event" grep -q "nl: RECONFIG_DEVICE .*cfg=test/other" "$NL_LOG"
echo 1 >"$A/emulate_write_cache" || fail "write cache reconfig"
check "write cache event" grep -q "nl: RECONFIG_DEVICE .*writecache=1" "$NL_LOG"
tcmu_nl_daemon_stop

# a daemon that refuses: the write fails and nothing changes
tcmu_nl_daemon --nl-status -22
if echo 1048576 >"$A/dev_size" 2>/dev/null; then
	fail "refused reconfig succeeded"
fi
check "dev_size unchanged" test "$(cat "$A/dev_size")" = 67108864
tcmu_nl_daemon_stop

# statuses that are no errno, or the kernel's own (ERESTARTSYS,
# ERESTARTNOHAND, EIOCBQUEUED): the write fails with EIO, never returns
# them as a byte count, a restart or "Unknown error"
for st in 7 -2147483648 -512 -514 -529; do
	tcmu_nl_daemon --nl-status "$st"
	err=$( (echo 1048576 >"$A/dev_size") 2>&1) &&
		fail "status $st: reconfig succeeded"
	[[ $err == *"Input/output error"* ]] ||
		fail "status $st: expected EIO, got: $err"
	check "status $st: dev_size unchanged" test "$(cat "$A/dev_size")" = 67108864
	tcmu_nl_daemon_stop
done

# a daemon that never answers: the writer waits until reset_netlink.
# Once the daemon has the event, the writer is still blocked a second
# later, and ends within seconds of the reset, with an error.
tcmu_nl_daemon --nl-no-reply
(echo 2097152 >"$A/dev_size") 2>/dev/null &
writer=$!
check "the daemon got the event" tcmu_wait 10 \
	grep -q "nl: RECONFIG_DEVICE .*size=2097152" "$NL_LOG"
sleep 1
kill -0 "$writer" 2>/dev/null || fail "reconfig did not wait for the reply"
echo 1 >"$P/block_netlink"
t0=$(now_ms)
echo 1 >"$P/reset_netlink"
check "the writer ended after reset_netlink" tcmu_wait 5 \
	eval "! kill -0 $writer 2>/dev/null"
log "the writer ended $(($(now_ms) - t0)) ms after reset_netlink"
wait "$writer" && fail "reset reconfig succeeded"
echo 0 >"$P/block_netlink"
check "dev_size unchanged after reset" test "$(cat "$A/dev_size")" = 67108864
tcmu_nl_daemon_stop

tcmu_nl_daemon
rmdir "$HBA/nl1" || fail "remove"
check "REMOVED event" grep -q "nl: REMOVED_DEVICE dev=tcm-user/1/nl1" "$NL_LOG"
check "REMOVED reply" grep -q "nl: REMOVED_DEVICE_DONE .*status=0" "$NL_LOG"
log "pass"
