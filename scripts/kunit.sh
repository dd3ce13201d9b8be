#!/bin/bash
# Run the driver's KUnit suites with kunit.py (QEMU x86_64) in a Linux 6.12
# tree that has this repository's driver grafted in.  The build directory
# is cached under ${TCMU_CACHE:-$HOME/.cache/tcmu-ng}, keyed by source
# version, .kunitconfig and compiler; make rebuilds what changed.
# Prints the kunit.py summary and a last line "kunit: N passed, N failed";
# cases that did not run and a splat in the kernel log count as failures
# (kunit_counts in results.sh).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/results.sh
. "$repo/scripts/results.sh"
vm=$repo/tools/testing/selftests/drivers/target/user/vm
cache=${TCMU_CACHE:-$HOME/.cache/tcmu-ng}
kcfg=$repo/drivers/target/user/.kunitconfig

src=$("$vm/kernel.sh" src)
"$repo/scripts/graft.sh" "$src"

key=$({ dpkg-query -W -f='${Version}' linux-source-6.12; cat "$kcfg"
	gcc --version | head -n1; } | sha256sum | cut -c1-12)
bdir=$cache/build-kunit-$key
cc=gcc
if command -v ccache >/dev/null; then
	cc="ccache gcc"
	export CCACHE_DIR=$cache/ccache
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "[kunit] building and running in $bdir (first build: ~6 min on 2 cores)"
rm -f "$bdir/test.log"
rc=0
python3 "$src/tools/testing/kunit/kunit.py" run "${kunit_run_opts[@]}" \
	--build_dir="$bdir" --jobs="$(nproc)" --kunitconfig="$kcfg" \
	--make_options "CC=$cc" >"$log" 2>&1 || rc=$?
grep -E '^\[[0-9:]+\] ' "$log" | grep -vE 'Building|Starting|Populating|Generating|Regenerating' | tail -n 60 || true
kunit_counts "$log" "$rc" "$bdir/test.log" "$repo/drivers/target/user/tests"
if [[ -z $kunit_summary ]]; then
	tail -n 40 "$log"
fi
echo "kunit: $kunit_passed passed, $kunit_failed failed"
((kunit_failed == 0))
