#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Status and sense data from the handler reach the initiator unchanged:
# MEDIUM ERROR on a failed READ; TCMU_UFLAG_UNKNOWN_OP becomes INVALID
# COMMAND OPERATION CODE.
. "$(dirname "$0")/test_common.sh"
trap tcmu_cleanup EXIT
check "insmod" tcmu_mod_load
command -v sg_raw >/dev/null || skip "sg_raw (sg3-utils) missing"

tcmu_dev_create sn1 32M
tcmu_handler sn1
dev=$(tcmu_dev_export sn1) || fail "export"
tcmu_handler_stop

read10() { sg_raw -t 30 -r 4096 "$dev" 28 00 00 00 00 00 00 00 08 00 2>&1; }

tcmu_handler sn1 --fail-every 1
out=$(read10) && fail "failing READ succeeded"
grep -qi "medium error" <<<"$out" || fail "no MEDIUM ERROR sense: $out"
tcmu_handler_stop

tcmu_handler sn1 --unknown-op
out=$(read10) && fail "READ answered UNKNOWN_OP succeeded"
grep -qi "invalid command operation code" <<<"$out" ||
	fail "no INVALID COMMAND OPERATION CODE sense: $out"
tcmu_handler_stop

tcmu_handler sn1
out=$(read10) || fail "READ after the faults: $out"
check "state ok" test "$(tcmu_info sn1 State)" = ok
log "pass"
