#!/bin/bash
# Runs inside the demo VM (scripts/demo.sh): tcmu-ng + tcmu-runner + fio,
# through tcm_loop or (DEMO_FABRIC=iscsi) LIO's iSCSI target and the
# kernel's iSCSI initiator on the guest's loopback; tcmu-runner's qcow
# handler on a raw file, or (DEMO_HANDLER=rbd) its rbd handler on a
# one-node Ceph cluster in the guest.
set -euo pipefail
cd "$(dirname "$0")"
# shellcheck source=../tools/testing/selftests/drivers/target/user/vm/guest-lib.sh
. ./guest-lib.sh

step() { echo "--- $*"; }
info() { cat /sys/kernel/config/target/core/user_*/demo/info; }

fabric=${DEMO_FABRIC:-loopback}
iqn=iqn.2003-01.org.linux-iscsi.tcmu-ng:demo
if [[ $fabric == iscsi ]]; then
	step "loading target core, LIO's iSCSI target, the iSCSI initiator and tcmu-ng ($TCMU_KO)"
	# the chroot'ed guest cannot autoload: iSCSI's digests need crc32c
	modprobe -a target_core_mod iscsi_target_mod iscsi_tcp sd_mod crc32c
else
	step "loading target core, tcm_loop and tcmu-ng ($TCMU_KO)"
	modprobe -a target_core_mod tcm_loop sd_mod
fi
tcmu_load_module "$TCMU_KO"
echo "module: $(modinfo -F description "$TCMU_KO")"
step "starting dbus and tcmu-runner"
tcmu_start_runner
handler=${DEMO_HANDLER:-qcow}
if [[ $handler == rbd ]]; then
	step "starting a one-node Ceph cluster on 127.0.0.1 (vm/ceph.sh) with the image rbd/demo"
	./ceph.sh start /tmp/ceph rbd/demo:256M
	cfg="rbd/demo;osd_op_timeout=30;conf=/tmp/ceph/ceph.conf;id=admin"
	what="user:rbd backstore 'demo' (the Ceph image rbd/demo, 256 MiB)"
else
	truncate -s 256M /tmp/demo.raw
	cfg=/tmp/demo.raw
	what="user:qcow backstore 'demo' (raw file, 256 MiB)"
fi
so=/backstores/user:$handler/demo
# what an administrator types (README; the admin guide for rbd)
if [[ $fabric == iscsi ]]; then
	step "creating $what, exported over iSCSI"
	ip link set lo up
	targetcli "/backstores/user:$handler" create name=demo size=256M \
		"cfgstring=$cfg"
	targetcli /iscsi create "$iqn"
	targetcli "/iscsi/$iqn/tpg1/luns" create "$so"
	targetcli "/iscsi/$iqn/tpg1" set attribute authentication=0 \
		demo_mode_write_protect=0 generate_node_acls=1 cache_dynamic_acls=1
	step "logging in with open-iscsi (iscsiadm) on 127.0.0.1:3260"
	dev=$(tcmu_iscsi_login "$iqn")
else
	step "creating $what on tcm_loop"
	dev=$(tcmu_targetcli_lun demo 256M "$cfg" "$handler")
fi
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
[[ $fabric != iscsi ]] || tcmu_iscsi_logout "$iqn"
tcmu_teardown
[[ $handler != rbd ]] || ./ceph.sh stop /tmp/ceph
echo "DEMO: SUCCESS"
