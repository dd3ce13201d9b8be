#!/bin/bash
# Build target_core_user.ko out of tree against a kernel build or headers
# directory.  Extra arguments go to make (W=1, C=2, ...).  Fails when the
# compiler or sparse prints any warning.
#   scripts/build-module.sh [--copy DIR] KDIR [MAKE_ARGS...]
# Without --copy the module builds in drivers/target/user.  With --copy it
# builds in DIR/drivers/target/user, a fresh copy of the driver laid out
# as in the repository (the UAPI header and dkms.conf beside it), and the
# repository's build outputs stay as they are: builds with different
# options can run at once (check.sh) or be kept (the KUnit module,
# DIR/drivers/target/user/target_core_user.ko).
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
usage="usage: $0 [--copy DIR] KDIR [MAKE_ARGS...]"
top=$repo
if [[ ${1:-} == --copy ]]; then
	top=${2:?$usage}
	shift 2
	rm -rf "$top"
	mkdir -p "$top/drivers/target" "$top/include/uapi/linux"
	# an in-place build's outputs come along; make clean below drops them
	cp -a "$repo/drivers/target/user" "$top/drivers/target/"
	cp "$repo/include/uapi/linux/target_core_user.h" "$top/include/uapi/linux/"
	cp "$repo/dkms.conf" "$top/"
fi
kdir=${1:?$usage}
shift
mdir=$top/drivers/target/user
log=$(mktemp)
trap 'rm -f "$log"' EXIT

make -C "$kdir" M="$mdir" CONFIG_TCM_USER2=m clean >/dev/null
if ! make -C "$kdir" M="$mdir" -j"$(nproc)" CONFIG_TCM_USER2=m "$@" modules \
	>"$log" 2>&1; then
	cat "$log"
	exit 1
fi
if grep -E 'warning:|error:' "$log"; then
	echo "build-module: warnings above (make $*)" >&2
	exit 1
fi
echo "built $mdir/target_core_user.ko against $kdir $*"
