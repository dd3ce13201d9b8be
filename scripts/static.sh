#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The static checks (make static; check.sh runs them alongside the debug
# kernel's build): the W=1 + sparse (C=2) build against Debian's headers,
# checkpatch --strict on the driver's files, coccicheck, shellcheck, and
# kernel-doc -Wall with the htmldocs build of Documentation/target
# (docs-check.sh).  None needs a kernel build of its own.
# A PASS/FAIL line each; the last line is "static: N passed, N failed".
set -uo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$vm/deps.sh" || {
	result deps 1
	echo "static: $pass passed, $failed failed"
	exit 1
}
src=$("$vm/kernel.sh" src)
hdrs=$("$vm/kernel.sh" debian | sed -n 2p)
"$repo/scripts/build-module.sh" --copy "$cache/module-debian" "$hdrs" \
	W=1 C=2
result "build W=1 C=2 against $(basename "$hdrs")" $?
mapfile -t kfiles < <(cd "$repo" &&
	git ls-files -- 'drivers/*.[ch]' 'include/*.h')
(cd "$repo" && "$src/scripts/checkpatch.pl" --strict --no-tree --quiet \
	--terse -f "${kfiles[@]}")
result "checkpatch --strict" $?
"$repo/scripts/coccicheck.sh"
result coccicheck $?
shellcheck -x -P SCRIPTDIR "$repo"/scripts/*.sh "$st"/*.sh "$vm"/*.sh
result shellcheck $?
"$repo/scripts/docs-check.sh"
result "kernel-doc -Wall and htmldocs" $?
echo "static: $pass passed, $failed failed"
((failed == 0))
