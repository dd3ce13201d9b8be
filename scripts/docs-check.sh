#!/bin/bash
# Checks the driver's documentation; any warning fails:
#   1. the kernel's scripts/kernel-doc -Wall on every .c/.h of
#      drivers/target/user (tests/ included) and the UAPI header: any
#      output fails;
#   2. Sphinx on the Linux 6.12 tree with the driver grafted in
#      (scripts/graft.sh): make SPHINXDIRS=target htmldocs with -W, every
#      page read afresh (-E) so that no warning hides in a cached read.
#      Any WARNING or ERROR line fails, and so does a missing page of ours.
#   3. scripts/docs-names.py: every attribute, action, control option,
#      module parameter, info field, debugfs file and tracepoint the code
#      defines is in the admin guide, its tables name nothing else, and
#      the info lines and parameter table of the README match the code.
# The HTML goes to ${TCMU_CACHE:-$HOME/.cache/tcmu-ng}/docs.  Needs the
# Sphinx packages of vm/deps.sh.
#   scripts/docs-check.sh
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out=$cache/docs
html=$out/Documentation/output/target
pages=(tcmu-ng tcmu-admin)
t0=$SECONDS
failed=0

src=$("$vm/kernel.sh" src)

# 1. kernel-doc: the repository's files, built objects' *.mod.c aside
mapfile -t kfiles < <(cd "$repo" && {
	find drivers/target/user -name '*.[ch]' ! -name '*.mod.c'
	echo include/uapi/linux/target_core_user.h
} | sort)
if ! kdoc=$(cd "$repo" && "$src/scripts/kernel-doc" -Wall -none \
	"${kfiles[@]}" 2>&1) || [[ -n $kdoc ]]; then
	echo "$kdoc"
	echo "docs: kernel-doc -Wall warns (above)" >&2
	failed=1
fi

# 2. htmldocs of Documentation/target
if ! command -v sphinx-build >/dev/null; then
	echo "docs: sphinx-build missing: run $vm/deps.sh" >&2
	exit 1
fi
"$repo/scripts/graft.sh" "$src"
mkdir -p "$out"
log=$out/htmldocs.log
# written anew each run, so a page that is not built cannot pass
for p in "${pages[@]}"; do
	rm -f "$html/$p.html"
done
if ! make -C "$src" O="$out" SPHINXDIRS=target \
	SPHINXOPTS="-W --keep-going -E" htmldocs >"$log" 2>&1; then
	tail -n 40 "$log"
	echo "docs: htmldocs failed, full log: $log" >&2
	failed=1
elif grep -E 'WARNING|ERROR|treated as error' "$log"; then
	echo "docs: htmldocs warns (above), full log: $log" >&2
	failed=1
fi
for p in "${pages[@]}"; do
	if [[ ! -s $html/$p.html ]]; then
		echo "docs: $html/$p.html was not built" >&2
		failed=1
	fi
done

# 3. the names the code defines against those the documents use
if ! python3 "$repo/scripts/docs-names.py" "$repo"; then
	echo "docs: the documents and the code name different things (above)" >&2
	failed=1
fi

((failed == 0)) || exit 1
echo "docs: kernel-doc -Wall clean on ${#kfiles[@]} files; htmldocs of" \
	"Documentation/target clean, ${pages[*]} in $html; the documents" \
	"name what the code defines ($((SECONDS - t0)) s)"
