#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Debian's tcmu-runner and targetcli, unchanged, on tcmu-ng: create a
# user:qcow backstore on a raw file, fio with crc32c verification, ask
# tcmu-runner to resize it (netlink RECONFIG and its reply), delete.
. "$(dirname "$0")/test_common.sh"
trap 'tcmu_teardown >/dev/null 2>&1; tcmu_cleanup' EXIT
command -v tcmu-runner >/dev/null || skip "tcmu-runner not installed"
check "insmod" tcmu_mod_load
check "tcmu-runner starts" tcmu_start_runner

dev=$(tcmu_create_lun compat 64M /tmp/compat.raw) || fail "targetcli create"
log "LUN $dev"
tcmu_fio_verify "$dev" --rw=randwrite --bs=4k --iodepth=16 --size=16M ||
	fail "fio verify: $(fio_log)"
tcmu_fio_verify "$dev" --rw=write --bs=256k --iodepth=4 --size=32M ||
	fail "fio verify 256k: $(fio_log)"

# dev_size goes to tcmu-runner as a netlink RECONFIG; its qcow handler
# cannot resize and answers EOPNOTSUPP, which must come back unchanged
so=/backstores/user:qcow/compat
if out=$(targetcli "$so" set attribute dev_size=134217728 2>&1); then
	fail "qcow handler accepted a resize: $out"
fi
[[ $out == *"Operation not supported"* ]] ||
	fail "expected tcmu-runner's EOPNOTSUPP, got: $out"
check "dev_size unchanged" test \
	"$(cat "$CORE"/user_*/compat/attrib/dev_size)" = 67108864
tcmu_fio_verify "$dev" --rw=randwrite --bs=4k --iodepth=8 --size=8M ||
	fail "IO after the refused reconfig: $(fio_log)"

check "no broken ring" grep -q "State: ok" "$CORE"/user_*/compat/info
targetcli clearconfig confirm=True >/dev/null || fail "targetcli clearconfig"
check "backstore deleted" test ! -e "$CORE"/user_*/compat
tcmu_stop_runner
log "pass"
