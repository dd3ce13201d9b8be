#!/bin/bash
# The whole tcmu-ng test suite, from a fresh Debian 12 machine (as root):
#   1. install what it needs (vm/deps.sh)
#   2. static checks: W=1 + sparse (C=2) build against Debian's headers,
#      checkpatch --strict, coccicheck, shellcheck, kernel-doc -Wall and
#      the htmldocs build of Documentation/target (scripts/docs-check.sh)
#   3. KUnit suites with kunit.py (scripts/kunit.sh)
#   4. the patch series against linux-source-6.12: checkpatch --strict on
#      each patch, each applied in order to a clean tree and built, the
#      result's KUnit suites run with kunit.py (scripts/series.sh)
#   5. the debug kernel (KASAN, lockdep, kmemleak), the module built
#      against it, the test handler
#   6. the selftests inside a VM booted on the debug kernel
#   7. DKMS: install in a VM on Debian's 6.12 kernel, reboot it, run the
#      tcmu-runner compatibility test on the installed module
#      (scripts/dkms-test.sh)
# Kernel builds are cached under ${TCMU_CACHE:-$HOME/.cache/tcmu-ng}.
# The last line is "N passed, N failed".
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
st=$repo/tools/testing/selftests/drivers/target/user
vm=$st/vm
cache=${TCMU_CACHE:-$HOME/.cache/tcmu-ng}
t0=$SECONDS
# shellcheck source=scripts/results.sh
. "$repo/scripts/results.sh"

step() { echo "=== $* ($((SECONDS - t0)) s)"; }
finish() {
	echo "=== done in $((SECONDS - t0)) s"
	echo "$pass passed, $failed failed"
	((failed == 0))
	exit
}

step "installing dependencies"
if ! "$vm/deps.sh"; then
	result deps 1
	finish
fi

step "static checks"
hdrs=$("$vm/kernel.sh" debian | sed -n 2p)
"$repo/scripts/build-module.sh" "$hdrs" W=1 C=2
result "build W=1 C=2 against $(basename "$hdrs")" $?
src=$("$vm/kernel.sh" src)
mapfile -t kfiles < <(cd "$repo" && git ls-files -- 'drivers/*.[ch]' 'include/*.h')
(cd "$repo" && "$src/scripts/checkpatch.pl" --strict --no-tree --quiet \
	--terse -f "${kfiles[@]}")
result "checkpatch --strict" $?
"$repo/scripts/coccicheck.sh"
result coccicheck $?
shellcheck -x -P SCRIPTDIR "$repo"/scripts/*.sh "$st"/*.sh "$vm"/*.sh
result shellcheck $?
"$repo/scripts/docs-check.sh"
result "kernel-doc -Wall and htmldocs" $?

step "KUnit"
klog=$(mktemp)
"$repo/scripts/kunit.sh" | tee "$klog"
add_counts kunit "$klog" || result kunit 1
rm -f "$klog"

step "patch series"
"$repo/scripts/series.sh" | tee "$cache/series.out"
add_counts series "$cache/series.out" || result "patch series" 1

step "debug kernel, module and handler"
if ! bdir=$("$vm/kernel.sh" debug); then
	result "debug kernel build" 1
	finish
fi
if ! "$repo/scripts/build-module.sh" "$bdir" W=1 ||
	! "$repo/scripts/install-debug-module.sh" "$bdir"; then
	result "module build against the debug kernel" 1
	finish
fi
if ! make -s -C "$st/handler" || ! make -s -C "$st/fuzz"; then
	result "test handler and fuzzer build" 1
	finish
fi

step "selftests in the debug-kernel VM"
"$repo/scripts/vm-selftests.sh" debug "$cache/stage" | tee "$cache/vm.out"
vrc=${PIPESTATUS[0]}
if add_counts selftests "$cache/vm.out"; then
	# a splat or crash after the last test still fails the run
	((vrc == 0 || counted_failed > 0)) || result "VM kernel log clean" 1
else
	result "selftest VM run" 1
fi

step "DKMS: install, reboot, tcmu-runner compatibility (Debian-kernel VM)"
"$repo/scripts/dkms-test.sh" | tee "$cache/dkms.out"
add_counts dkms "$cache/dkms.out" || result "DKMS VM run" 1
finish
