#!/bin/bash
# Run the driver's KUnit suites alone, as the suite does (check.sh): the
# module built with CONFIG_TCM_USER2_KUNIT_TEST against the debug kernel
# (KASAN, lockdep; vm/kernel.sh debug, cached under
# ${TCMU_CACHE:-$HOME/.cache/tcmu-ng}) is loaded in a VM booted on that
# kernel; the suites run as it loads, and kunit.py parses the kernel log.
# Prints the kunit.py summary and a last line "kunit: N passed, N failed";
# cases that did not run and a splat in the kernel log count as failures
# (kunit_counts in lib.sh).
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$vm/deps.sh"
src=$("$vm/kernel.sh" src)
"$repo/scripts/graft.sh" "$src" >/dev/null
bdir=$("$vm/kernel.sh" debug)
# built in a copy: the tree's module stays the one the selftests use
"$repo/scripts/build-module.sh" --copy "$cache/kunit-module" "$bdir" \
	CONFIG_TCM_USER2_KUNIT_TEST=y
ko=$cache/kunit-module/drivers/target/user/target_core_user.ko
# "kunit" runs the suites alone: no selftest loads TCMU_KO
TCMU_KUNIT_KO=$ko TCMU_KO=$ko "$repo/scripts/vm-selftests.sh" debug \
	"$cache/stage-kunit" kunit || true
kunit_vm_counts "$cache/stage-kunit/out/kunit.dmesg" "$src" \
	"$repo/drivers/target/user/tests" | tee "$cache/stage-kunit/kunit.out"
add_counts kunit "$cache/stage-kunit/kunit.out"
((failed == 0))
