#!/bin/bash
# Install the freshly built target_core_user.ko into the debug kernel's
# module tree (the VM bind-mounts it on /lib/modules), so that modprobe and
# tcmu-runner's kmod lookup find it like an installed module.
#   scripts/install-debug-module.sh DEBUG_BUILD_DIR [KO]
# KO: the module (default: the tree's drivers/target/user/target_core_user.ko)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bdir=${1:?usage: $0 DEBUG_BUILD_DIR [KO]}
ko=${2:-$repo/drivers/target/user/target_core_user.ko}
kver=$(cat "$bdir/include/config/kernel.release")
install -D -m 644 "$ko" \
	"$bdir/mods/lib/modules/$kver/updates/target_core_user.ko"
depmod -b "$bdir/mods" "$kver"
