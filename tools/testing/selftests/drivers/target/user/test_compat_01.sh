#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Debian's tcmu-runner and targetcli, unchanged, on tcmu-ng: create a
# user:qcow backstore on a raw file, fio with crc32c verification, grow it
# through dev_size (netlink RECONFIG to tcmu-runner), verify again, delete.
. "$(dirname "$0")/test_common.sh"
trap 'tcmu_teardown >/dev/null 2>&1; tcmu_cleanup' EXIT
command -v tcmu-runner >/dev/null || skip "tcmu-runner not installed"
check "insmod" tcmu_mod_load
check "tcmu-runner starts" tcmu_start_runner

dev=$(tcmu_create_lun compat 64M /tmp/compat.raw) || fail "targetcli create"
log "LUN $dev"
tcmu_fio_verify "$dev" --rw=randwrite --bs=4k --iodepth=16 --size=16M ||
	fail "fio verify: $(cat /tmp/fio-$TEST_NAME.out)"
tcmu_fio_verify "$dev" --rw=write --bs=256k --iodepth=4 --size=32M ||
	fail "fio verify 256k: $(cat /tmp/fio-$TEST_NAME.out)"

so=/backstores/user:qcow/compat
truncate -s 128M /tmp/compat.raw
targetcli "$so" set attribute dev_size=134217728 ||
	fail "targetcli could not reconfigure dev_size"
check "dev_size reconfigured" test \
	"$(cat "$CORE"/user_*/compat/attrib/dev_size)" = 134217728
echo 1 >"/sys/block/${dev#/dev/}/device/rescan"
check "initiator sees 128 MiB" tcmu_wait 10 \
	test "$(blockdev --getsize64 "$dev")" = 134217728
tcmu_fio_verify "$dev" --rw=randwrite --bs=16k --iodepth=8 --size=16M \
	--offset=100M || fail "fio verify past the old end: $(cat /tmp/fio-$TEST_NAME.out)"

check "no broken ring" grep -q "State: ok" "$CORE"/user_*/compat/info
targetcli clearconfig confirm=True >/dev/null || fail "targetcli clearconfig"
check "backstore deleted" test ! -e "$CORE"/user_*/compat
tcmu_stop_runner
log "pass"
