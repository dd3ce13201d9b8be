#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# KEEP_BUF: a command completed with TCMU_UFLAG_KEEP_BUF keeps its data
# blocks until free_kept_buf names it; a second free, an unknown id or an
# id not kept is refused; closing the handler frees what it kept.
. "$(dirname "$0")/test_common.sh"
trap tcmu_cleanup EXIT
check "insmod" tcmu_mod_load

tcmu_dev_create kb1 32M max_data_area_mb=4
F=$HBA/kb1/action/free_kept_buf
tcmu_handler kb1
dev=$(tcmu_dev_export kb1) || fail "export"
tcmu_handler_stop
tcmu_handler kb1 --keep-buf
dd if=/dev/urandom of="$dev" bs=64k count=4 oflag=direct 2>/dev/null ||
	fail "write with keep-buf handler"
read -r -a ids <<<"$(sed -n 's/^keep_buf: id=//p' /tmp/handler-kb1.log | tr '\n' ' ')"
((${#ids[@]} >= 4)) || fail "handler kept ${#ids[@]} buffers"
log "kept ${#ids[@]} buffers: ${ids[*]}"
echo "${ids[0]}" >"$F" || fail "free_kept_buf ${ids[0]}"
expect_einval "$F" "${ids[0]}" free_kept_buf
echo "${ids[1]}" >"$F" || fail "free_kept_buf ${ids[1]}"
# closing the UIO fd frees the rest; the data area then holds no command
tcmu_handler_stop
tcmu_handler kb1
dd if="$dev" of=/dev/null bs=64k count=16 iflag=direct 2>/dev/null ||
	fail "IO after the kept buffers were released"
check "state ok" test "$(tcmu_info kb1 State)" = ok
log "pass"
