#!/bin/bash
# Runs inside the demo VM (scripts/demo.sh): tcmu-ng + tcmu-runner + fio.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../tools/testing/selftests/drivers/target/user/vm/guest-lib.sh
. ./guest-lib.sh

step() { echo "--- $*"; }
info() { cat /sys/kernel/config/target/core/user_*/demo/info; }

step "loading target core, tcm_loop and tcmu-ng ($TCMU_KO)"
modprobe -a target_core_mod tcm_loop sd_mod
tcmu_load_module "$TCMU_KO"
echo "module: $(modinfo -F description "$TCMU_KO")"
step "starting dbus and tcmu-runner"
tcmu_start_runner
step "creating user:qcow backstore 'demo' (raw file, 256 MiB) on tcm_loop"
dev=$(tcmu_create_lun demo 256M /tmp/demo.raw)
echo "LUN is $dev"
step "device before IO"
info
step "fio: 4 KiB random write, 32 MiB, depth 16, verified with crc32c"
fio --name=demo --filename="$dev" --direct=1 --ioengine=libaio \
	--rw=randwrite --bs=4k --iodepth=16 --size=32M \
	--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
	--group_reporting | grep -E 'IOPS|lat \(usec\).*avg|READ:|WRITE:|err='
step "fio: 256 KiB sequential read, 64 MiB, depth 8"
fio --name=demo-read --filename="$dev" --direct=1 --ioengine=libaio \
	--rw=read --bs=256k --iodepth=8 --size=64M --group_reporting |
	grep -E 'IOPS|READ:|err='
step "device after IO"
info
echo "data pages held by all tcmu-ng devices:" \
	"$(cat /sys/module/target_core_user/parameters/global_data_pages)"
echo "ring: $(grep -o 'State: [a-z]*' /sys/kernel/config/target/core/user_*/demo/info)"
step "tearing down"
tcmu_teardown
echo "DEMO: SUCCESS"
