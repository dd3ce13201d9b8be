#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Smoke test of the VM stack with the STOCK target_core_user: boots Debian's
# kernel (vm.sh --kernel debian; extra vm.sh options may be given), and in
# the guest starts dbus and tcmu-runner, exports a 64 MiB raw file through a
# user:qcow backstore and tcm_loop, runs a verifying fio job on the
# resulting /dev/sdX, then deletes everything and unloads the modules.
# With --env TCMU_KO=/path/target_core_user.ko (and e.g. --kernel debug) the
# same checks run against that module, loaded in place of the stock one.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -z ${TCMU_VM:-} ]]; then
	exec "$here/vm.sh" --kernel debian --timeout 600 "$@" -- "$here/smoke-stock.sh"
fi

# shellcheck source=guest-lib.sh
. "$here/guest-lib.sh"

step() { echo "smoke: [$(cut -d" " -f1 /proc/uptime) s] $*"; }

if [[ -n ${TCMU_KO:-} ]]; then
	step "loading $TCMU_KO, tcm_loop and sd_mod"
	tcmu_load_module "$TCMU_KO"
	modprobe -a tcm_loop sd_mod
else
	step "loading target_core_user, tcm_loop and sd_mod"
	modprobe -a target_core_user tcm_loop sd_mod
fi
step "starting dbus-daemon and tcmu-runner"
tcmu_start_runner
trap tcmu_teardown EXIT
step "creating a user:qcow LUN on a raw 64 MiB file"
dev=$(tcmu_create_lun smoke 64M /tmp/smoke.raw)
step "LUN is $dev ($(cat "/sys/block/${dev#/dev/}/device/model"))"

step "fio with crc32c verify on $dev"
# verify_backlog: verify while writing, so that the 20 s cap (hit on the
# debug kernel) cannot skip the verification
fio --name=smoke --filename="$dev" --direct=1 --ioengine=libaio \
	--rw=randwrite --bs=4k --iodepth=16 --size=32M --runtime=20 \
	--verify=crc32c --verify_backlog=256 --verify_fatal=1 \
	--verify_state_save=0 --eta=never --output="$TCMU_OUT/fio.txt"
cat "$TCMU_OUT/fio.txt"
# verify reads are counted in "issued rwts: total=READS,WRITES,..."
grep -Eq 'issued rwts: total=[1-9]' "$TCMU_OUT/fio.txt" || {
	step "FAIL: fio verified nothing"
	exit 1
}

step "teardown"
trap - EXIT
tcmu_teardown
# the fabric's configfs dir pins tcm_loop; clearconfig leaves it
rmdir /sys/kernel/config/target/loopback
for m in tcm_loop target_core_user; do
	[[ ! -e /sys/module/$m/initstate ]] || rmmod "$m" # not if built in
done
step "PASS"
