#!/bin/bash
# The main job, from a fresh Debian 12 machine (as root): install what is
# needed, build target_core_user.ko against Debian's 6.12 headers, boot
# Debian's 6.12 kernel in QEMU, load target core, tcm_loop and this module,
# serve a LUN with tcmu-runner (qcow handler on a raw file) set up by
# targetcli, run fio with crc32c verification on it and show what happened.
# DEMO_FABRIC=iscsi exports the LUN over LIO's iSCSI target instead, on the
# guest's 127.0.0.1:3260, and logs the kernel's initiator in (open-iscsi).
# DEMO_HANDLER=rbd serves it with tcmu-runner's rbd handler from an image
# of a one-node Ceph cluster that vm/ceph.sh brings up in the guest.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

echo "=== [1/4] installing dependencies"
"$vm/deps.sh"
echo "=== [2/4] building the module against Debian's headers"
hdrs=$("$vm/kernel.sh" debian | sed -n 2p)
"$repo/scripts/build-module.sh" "$hdrs" W=1
stage=$cache/demo
rm -rf "$stage"
mkdir -p "$stage/out"
cp "$repo/drivers/target/user/target_core_user.ko" "$vm/guest-lib.sh" \
	"$vm/ceph.sh" "$repo/scripts/demo-guest.sh" "$stage/"
echo "=== [3/4] booting Debian's kernel in QEMU (TCG) and running the demo"
rc=0
(cd "$stage" && "$vm/vm.sh" --kernel debian --smp 2 --mem 2G --timeout 900 \
	--out "$stage/out" --env "TCMU_KO=$stage/target_core_user.ko" \
	--env "DEMO_FABRIC=${DEMO_FABRIC:-loopback}" \
	--env "DEMO_HANDLER=${DEMO_HANDLER:-qcow}" \
	-- bash ./demo-guest.sh) || rc=$?
echo "=== [4/4] result"
if ((rc == 0)) && grep -q '^DEMO: SUCCESS' "$stage/out/console.log"; then
	echo "SUCCESS: tcmu-ng served fio with verification through" \
		"tcmu-runner's ${DEMO_HANDLER:-qcow} handler (${DEMO_FABRIC:-loopback})"
else
	echo "FAILURE: see $stage/out/console.log"
	exit 1
fi
