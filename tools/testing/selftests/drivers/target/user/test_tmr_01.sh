#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# TMR notification: with tmr_notification on, a LUN reset reaches the
# handler as a TCMU_OP_TMR entry; with it off, nothing is posted.
. "$(dirname "$0")/test_common.sh"
trap tcmu_cleanup EXIT
check "insmod" tcmu_mod_load
command -v sg_reset >/dev/null || skip "sg_reset (sg3-utils) missing"

tcmu_dev_create tm1 32M
tcmu_handler tm1
dev=$(tcmu_dev_export tm1) || fail "export"
sg_reset -d "$dev" >/dev/null 2>&1 || fail "LUN reset failed"
# a TMR entry is posted during the reset, before sg_reset returns; the
# handler parses the ring in order, so once a later READ is done it has
# logged any TMR entry that came before
dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null ||
	fail "IO after the first reset"
grep -q "tmr:" /tmp/handler-tm1.log && fail "TMR posted with tmr_notification 0"
echo 1 >"$HBA/tm1/attrib/tmr_notification"
sg_reset -d "$dev" >/dev/null 2>&1 || fail "LUN reset failed"
check "handler saw LUN_RESET" tcmu_wait 10 grep -q "tmr: LUN_RESET" /tmp/handler-tm1.log
dd if="$dev" of=/dev/null bs=4k count=64 iflag=direct 2>/dev/null ||
	fail "IO after the reset"
log "pass"
