#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# One handler cannot hold the hard pool hostage.  global_max_data_area_mb
# is 16 and each of two devices may use all of it.
#  1. A's handler completes every command with KEEP_BUF and never frees:
#     16 MiB of writes leave all 4096 pool pages in A's kept buffers.  B
#     then writes: A holds more than its share while B waits, so A's kept
#     pages are revoked (they read as a scratch page), and B's fio verify
#     finishes with no error.
#  2. A's handler pins 8 MiB of its data pages (vmsplice into a pipe it
#     never reads).  When A's cached pages are trimmed, the pinned ones
#     cannot be reused: they stay charged until the pipe lets go, so the
#     pool's count never falls below what exists, and B still finishes.
# The pool's peak never passes its limit.
. "$(dirname "$0")/test_common.sh"
P=/sys/module/target_core_user/parameters
POOL=/sys/kernel/debug/target_core_user/pool
A_PID=''
B_PID=''
finish() {
	# shellcheck disable=SC2086 # empty when not running
	tcmu_stop_pids $A_PID $B_PID
	tcmu_cleanup
}
trap finish EXIT
check "insmod" tcmu_mod_load global_max_data_area_mb=16 reclaim_idle_ms=100

pool() { awk -v k="$1:" '$1 == k { print $2 }' $POOL; }
held() { cat $P/global_data_pages; }
stop_a() {
	HANDLER_PID=$A_PID
	tcmu_handler_stop
	A_PID=
}

tcmu_dev_create hA 64M max_data_area_mb=32
tcmu_dev_create hB 64M max_data_area_mb=32
echo 10 >"$HBA/hB/attrib/qfull_time_out"
tcmu_handler hB
B_PID=$HANDLER_PID
devB=$(tcmu_dev_export hB) || fail "export B"
tcmu_handler hA
A_PID=$HANDLER_PID
devA=$(tcmu_dev_export hA) || fail "export A"
stop_a
check "B's pages given back" tcmu_wait 20 info_is hB DataPagesHeld 0
tcmu_handler hA --keep-buf
A_PID=$HANDLER_PID
fio --name=fill --filename="$devA" --direct=1 --ioengine=libaio --rw=write \
	--bs=4k --iodepth=16 --size=16M >/tmp/fio-fill.out 2>&1 ||
	fail "A: 16 MiB of kept writes: $(tail -n 5 /tmp/fio-fill.out)"
log "A keeps $(tcmu_info hA DataPagesUsed) pages; the pool holds $(held)"
check "A's kept buffers fill the pool" test "$(held)" -ge 4096

tcmu_fio_verify "$devB" --rw=randwrite --bs=4k --iodepth=8 --size=4M ||
	fail "B, while A keeps the pool: $(fio_log)"
log "A: $(grep Pool: "$HBA/hA/info")"
check "A's kept pages revoked" info_nonzero hA DataPagesRevoked
dmesg | grep -q 'hA: other devices wait for pages' ||
	fail "no log line for the revocation"
check "B: no command bounced" test "$(tcmu_info hB QfullTimedOut)" = 0

# the handler can still free what it kept, revoked or not
id=$(sed -n 's/^keep_buf: id=//p' /tmp/handler-hA.log | head -n 1)
echo "$id" >"$HBA/hA/action/free_kept_buf" || fail "free_kept_buf $id"
stop_a
check "A holds nothing once its handler closed" tcmu_wait 20 info_is hA DataPagesUsed 0

# 2. pinned pages stay charged
tcmu_handler hA --pin 8
A_PID=$HANDLER_PID
fio --name=pin --filename="$devA" --direct=1 --ioengine=libaio --rw=write \
	--bs=1m --iodepth=8 --size=16M >/tmp/fio-pin.out 2>&1 ||
	fail "A: writes with a pinning handler: $(tail -n 5 /tmp/fio-pin.out)"
pinned=$(sed -n 's/^pin: pages=//p' /tmp/handler-hA.log | tail -n 1)
log "A's handler pins $pinned pages"
((pinned >= 1024)) || fail "the handler pinned only ${pinned:-0} pages"
check "A's cached pages trimmed" tcmu_wait 20 info_is hA DataPagesHeld 0
log "pool: held $(held) pinned $(pool pages_pinned)"
(($(held) >= pinned)) ||
	fail "the pool counts $(held) pages while the handler pins $pinned"
tcmu_fio_verify "$devB" --rw=randwrite --bs=4k --iodepth=8 --size=4M ||
	fail "B, while A pins 8 MiB: $(fio_log)"
stop_a
no_pinned() { [[ $(pool pages_pinned) == 0 ]]; }
check "pinned pages freed when the pipe goes" tcmu_wait 20 no_pinned
log "pool: $(tr '\n' ' ' <$POOL)"
check "peak within the limit" test "$(pool pages_peak)" -le "$(pool pages_max)"
log "pass"
