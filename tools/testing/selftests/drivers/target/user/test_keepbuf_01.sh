#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# KEEP_BUF: a command completed with TCMU_UFLAG_KEEP_BUF keeps its data
# blocks until free_kept_buf names it; each free gives its blocks back
# (DataPagesUsed falls); a second free, an unknown id, an id that is no
# number or no u16, and the id of a command still in flight (not kept)
# are refused; closing the handler frees what it kept (DataPagesUsed 0).
. "$(dirname "$0")/test_common.sh"
trap tcmu_cleanup EXIT
check "insmod" tcmu_mod_load

tcmu_dev_create kb1 32M max_data_area_mb=4
F=$HBA/kb1/action/free_kept_buf
used() { tcmu_info kb1 DataPagesUsed; }
used_is() { [[ $(used) == "$1" ]]; }
tcmu_handler kb1
dev=$(tcmu_dev_export kb1) || fail "export"
tcmu_handler_stop
check "nothing used before keep-buf IO" test "$(used)" = 0
tcmu_handler kb1 --keep-buf
dd if=/dev/urandom of="$dev" bs=64k count=4 oflag=direct 2>/dev/null ||
	fail "write with keep-buf handler"
read -r -a ids <<<"$(sed -n 's/^keep_buf: id=//p' /tmp/handler-kb1.log | tr '\n' ' ')"
((${#ids[@]} >= 4)) || fail "handler kept ${#ids[@]} buffers"
u0=$(used)
log "kept ${#ids[@]} buffers: ${ids[*]}; $u0 pages used"
# four 64 KiB writes kept: 16 pages each at least
((u0 >= 64)) || fail "only $u0 pages used with four 64 KiB buffers kept"
echo "${ids[0]}" >"$F" || fail "free_kept_buf ${ids[0]}"
u1=$(used)
((u1 < u0)) || fail "free_kept_buf ${ids[0]}: pages used $u0 -> $u1"
expect_einval "$F" "${ids[0]}" free_kept_buf
check "a refused free frees nothing" test "$(used)" = "$u1"
echo "${ids[1]}" >"$F" || fail "free_kept_buf ${ids[1]}"
u2=$(used)
((u2 < u1)) || fail "free_kept_buf ${ids[1]}: pages used $u1 -> $u2"
expect_einval "$F" 60000 free_kept_buf
expect_einval "$F" 65536 free_kept_buf
expect_einval "$F" abc free_kept_buf
check "refused frees free nothing" test "$(used)" = "$u2"
log "pages used: $u0, $u1 and $u2 after two frees"
# closing the UIO fd frees the rest; the data area then holds no command
tcmu_handler_stop
check "the handler's close freed every kept buffer" tcmu_wait 5 used_is 0

# a command in flight was not kept: freeing it is refused, and it stays
tcmu_handler kb1 --hang
dd if=/dev/zero of="$dev" bs=4k count=1 oflag=direct 2>/dev/null &
ddpid=$!
check "a WRITE in flight" tcmu_wait 10 info_is kb1 InFlight 1
mark="tcmu-selftest-$RANDOM$RANDOM"
echo "$mark" >/dev/kmsg
for ((id = 0; id < 256; id++)); do
	if echo "$id" >"$F" 2>/dev/null; then
		fail "free_kept_buf $id accepted with no buffer kept"
	fi
done
not_kept="free_kept_buf: cmd_id [0-9]* was not completed with KEEP_BUF"
dmesg | sed -n "/$mark/,\$p" | grep -q "$not_kept" ||
	fail "no id refused as not kept (is the command's id above 255?)"
check "the WRITE is still in flight" info_is kb1 InFlight 1
# with the handler gone, fail it back to the initiator; whatever sd
# retries, a working handler serves
tcmu_handler_stop
echo 2 >"$HBA/kb1/action/reset_ring" || fail "reset_ring 2"
tcmu_handler kb1
check "the WRITE ended" tcmu_wait 60 eval "! kill -0 $ddpid 2>/dev/null"
wait "$ddpid"
dd if="$dev" of=/dev/null bs=64k count=16 iflag=direct 2>/dev/null ||
	fail "IO after the kept buffers were released"
check "state ok" test "$(tcmu_info kb1 State)" = ok
log "pass"
