#!/bin/bash
# Runs the kernel's coccicheck (every semantic patch of 6.12's
# scripts/coccinelle, report mode) on the driver, against Debian's
# linux-source-6.12.  Prints the reports; fails if there is any, or if
# coccicheck itself fails.
#   scripts/coccicheck.sh
set -uo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
src=$("$vm/kernel.sh" src) ||
	exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# J=1: one spatch at a time keeps the output in order (about a minute)
if ! make -C "$src" coccicheck MODE=report J=1 \
	M="$repo/drivers/target/user" >"$log" 2>&1; then
	cat "$log"
	echo "coccicheck: failed" >&2
	exit 1
fi
if grep -E "^$repo/drivers/[^:]+:[0-9]+:" "$log"; then
	echo "coccicheck: reports above" >&2
	exit 1
fi
echo "coccicheck: $(grep -c '^/usr/bin/spatch' "$log") semantic patches, no report"
