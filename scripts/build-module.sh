#!/bin/bash
# Build target_core_user.ko out of tree against a kernel build or headers
# directory.  Extra arguments go to make (W=1, C=2, ...).  Fails when the
# compiler or sparse prints any warning.
#   scripts/build-module.sh KDIR [MAKE_ARGS...]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kdir=${1:?usage: $0 KDIR [MAKE_ARGS...]}
shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT

make -C "$kdir" M="$repo/drivers/target/user" CONFIG_TCM_USER2=m clean >/dev/null
if ! make -C "$kdir" M="$repo/drivers/target/user" CONFIG_TCM_USER2=m \
	"$@" modules >"$log" 2>&1; then
	cat "$log"
	exit 1
fi
if grep -E 'warning:|error:' "$log"; then
	echo "build-module: warnings above (make $*)" >&2
	exit 1
fi
echo "built $repo/drivers/target/user/target_core_user.ko against $kdir $*"
