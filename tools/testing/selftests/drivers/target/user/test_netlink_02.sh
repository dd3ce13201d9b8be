#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Netlink and sysfs edges a hostile or careless user reaches:
#  - a late reply to a request that reset_netlink gave up does not
#    complete the next request (the reply carries TCMU_ATTR_REQ_ID);
#  - only CAP_NET_ADMIN joins the "config" multicast group;
#  - maps/map0/addr (world-readable) gives away no kernel address;
#  - a data_pages_per_blk that makes a block of 4 GiB is refused (the
#    VM has more than 4 GiB of RAM so that the data area can be that big).
. "$(dirname "$0")/test_common.sh"
P=/sys/module/target_core_user/parameters
trap tcmu_nl_cleanup EXIT
check "insmod" tcmu_mod_load

# maps/map0/addr; the device waits for replies: a daemon announced them
tcmu_nl_daemon
tcmu_dev_create nl2 32M
tcmu_nl_daemon_stop
uio=$(grep -ls '/nl2/' /sys/class/uio/uio*/name) || fail "no UIO device"
addr=$(cat "${uio%/name}/maps/map0/addr")
log "map0/addr: $addr"
[[ $addr =~ ^0x0+$ ]] || fail "map0/addr shows $addr"

# an unprivileged process cannot listen to the config group
cp "$HANDLER_BIN" /tmp/handler-nobody && chmod 755 /tmp/handler-nobody
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	--bounding-set=-all /tmp/handler-nobody --nl-only --wait 2 \
	>/tmp/nobody.log 2>&1 && fail "an unprivileged daemon ran"
grep -q 'join TCM-USER/config: Operation not permitted' /tmp/nobody.log ||
	fail "unprivileged join: $(cat /tmp/nobody.log)"

A=$HBA/nl2/attrib
# The daemon answers every event 3 s late and echoes the request id.
# Request 1 is given up by reset_netlink; request 2 is sent while the
# daemon still sits on 1.  The late reply to 1 must be refused, and 2
# completes with its own reply.
tcmu_nl_daemon --nl-delay-ms 3000 --nl-req-id
(echo 2097152 >"$A/dev_size") 2>/dev/null &
w1=$!
tcmu_wait 10 grep -q 'RECONFIG_DEVICE .*size=2097152' "$NL_LOG" ||
	fail "no event for request 1"
echo 1 >$P/block_netlink
echo 1 >$P/reset_netlink
echo 0 >$P/block_netlink
wait "$w1" && fail "request 1 succeeded after reset_netlink"
(echo 4194304 >"$A/dev_size") 2>/tmp/w2.err &
w2=$!
two_replies() { (($(grep -c RECONFIG_DEVICE_DONE "$NL_LOG") >= 2)); }
tcmu_wait 30 two_replies ||
	fail "the daemon did not answer both: $(cat "$NL_LOG")"
wait "$w2" || fail "request 2 failed: $(cat /tmp/w2.err)"
mapfile -t done_lines < <(grep RECONFIG_DEVICE_DONE "$NL_LOG")
log "replies: ${done_lines[*]}"
[[ ${done_lines[0]} == *"ret=0" ]] && fail "the late reply to request 1 was taken"
[[ ${done_lines[1]} == *"ret=0" ]] || fail "the reply to request 2 was refused"
check "dev_size from request 2" test "$(cat "$A/dev_size")" = 4194304
tcmu_nl_daemon_stop

# data_pages_per_blk: 2^20 pages make a 4 GiB block
ram_mb=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
((ram_mb > 4200)) || fail "the VM has $ram_mb MB of RAM; this test needs more than 4200"
echo 4200 >$P/global_max_data_area_mb || fail "global limit 4200 MB"
mkdir -p "$HBA/big" || fail "mkdir big"
echo max_data_area_mb=4100 >"$HBA/big/control" || fail "max_data_area_mb=4100"
expect_einval "$HBA/big/control" data_pages_per_blk=1048576 data_pages_per_blk
echo data_pages_per_blk=1048575 >"$HBA/big/control" ||
	fail "the largest block that fits was refused"
rmdir "$HBA/big"
echo 2048 >$P/global_max_data_area_mb
log "pass"
