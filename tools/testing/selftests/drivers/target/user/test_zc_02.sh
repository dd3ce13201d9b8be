#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Zero copy: a write fault on a READ buffer may not make the page of a
# later WRITE writable.  The handler stores into a zero-copy READ buffer
# while the module's debug hook holds that write fault for 2 s after its
# decision (debug_mkwrite_delay_ms, CONFIG_TCM_USER2_DEBUG); meanwhile
# the READ completes, and the initiator sends a WRITE from the same
# buffer, which gets the same slot and the same pages.  The store must
# land in the READ buffer or nowhere: never in the WRITE data, which is
# the initiator's memory and what goes to the LUN.
. "$(dirname "$0")/test_common.sh"
P=/sys/module/target_core_user/parameters
trap tcmu_cleanup EXIT
check "insmod" tcmu_mod_load
[[ -e $P/debug_mkwrite_delay_ms ]] ||
	fail "$TCMU_KO has no debug hooks: build it with CONFIG_TCM_USER2_DEBUG=y"

# zero copy only once the disk is probed (its reads would take the race)
tcmu_dev_create zrace 32M zero_copy=1 zero_copy_read=1 hw_max_sectors=512 \
	zero_copy_min_kb=8192
tcmu_handler zrace --threads 2 --zc-mkwrite-race 2000
dev=$(tcmu_dev_export zrace) || fail "export"
sleep 1
echo 64 >"$HBA/zrace/attrib/zero_copy_min_kb"

python3 - "$dev" <<'EOF' || fail "the WRITE did not go through unchanged"
import mmap, os, sys
n = 256 << 10
fd = os.open(sys.argv[1], os.O_RDWR | os.O_DIRECT)
buf = mmap.mmap(-1, n)
os.preadv(fd, [buf], 0)  # the handler runs the race on this READ
buf[:] = b"\x5a" * n
if os.pwritev(fd, [buf], 0) != n:
    sys.exit("short write")
if buf[:] != b"\x5a" * n:
    sys.exit("the initiator's buffer changed under its WRITE")
chk = mmap.mmap(-1, n)
if os.preadv(fd, [chk], 0) != n or chk[:] != b"\x5a" * n:
    sys.exit("the LUN does not hold what was written")
EOF
tcmu_handler_stop
counters=$(grep '^counters:' /tmp/handler-zrace.log)
log "$counters"
counter() { tr ' ' '\n' <<<"$counters" | sed -n "s/^$1=//p"; }
check "the race ran" test "$(counter zc_race)" = 1
check "the handler's store stayed out of WRITE data" test "$(counter zc_race_bad)" = 0
check "state ok" test "$(tcmu_info zrace State)" = ok
log "pass"
