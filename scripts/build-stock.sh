#!/bin/bash
# Build the stock target_core_user.ko, the kernel's own TCMU driver from
# the untouched 6.12 source (vm/kernel.sh pristine), out of tree against a
# kernel build directory: the debug kernel has no stock driver (its tree
# carries ours), and the tests that compare with stock in the same boot
# (test_rbd_01) load this one there.  Prints the module's path.
#   scripts/build-stock.sh KDIR OUTDIR
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
kdir=${1:?usage: $0 KDIR OUTDIR}
out=${2:?usage: $0 KDIR OUTDIR}
pristine=$("$st/vm/kernel.sh" pristine)
rm -rf "$out"
mkdir -p "$out/include/linux"
cp "$pristine/drivers/target/target_core_user.c" "$out/"
# its own UAPI header, not the one the debug tree got from this driver
cp "$pristine/include/uapi/linux/target_core_user.h" "$out/include/linux/"
cat >"$out/Kbuild" <<'KB'
ccflags-y := -I$(src)/include
obj-m := target_core_user.o
KB
log=$out/build.log
if ! make -C "$kdir" M="$out" -j"$(nproc)" modules >"$log" 2>&1; then
	cat "$log" >&2
	exit 1
fi
echo "$out/target_core_user.ko"
