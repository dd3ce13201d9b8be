#!/bin/bash
# Turns this repository into a git format-patch series against Linux 6.12
# (Debian's linux-source-6.12) and checks it:
#   scripts/series.sh [OUTDIR]     (default: $cache/series/out)
#
# 1. A pristine tree is extracted once from /usr/src/linux-source-6.12.tar.xz
#    (vm/kernel.sh pristine) and never changed.  The final tree is a copy of the files the series
#    touches with scripts/graft.sh applied, the old target_core_user.c
#    removed, the selftests added and the out-of-tree-only parts of the
#    driver (the KBUILD_EXTMOD block of its Makefile, the DKMS version
#    stamp) taken out.
# 2. Each step of scripts/series/NN-*.txt (subject, blank line, message)
#    is one commit; the tree before a step is made from the tree after it
#    by undoing that step (undo_step below), from the last step down.
#    The driver comes bottom up, a file or two a step, each adding its
#    object to drivers/target/user/Makefile (one a line): the pool (with
#    the shared header and the tracepoints), data area, zero copy, ring,
#    reclaim, completion threads, netlink, UIO glue, configfs, then the
#    core, which wires the directory in under the old driver's Kconfig
#    symbol and removes drivers/target/target_core_user.c.  Until then the old
#    driver builds as before and the new files build on their own (make
#    drivers/target/user/, below).  Every step is undone by deleting what
#    it adds and filtering the Makefile: no hand-kept diff, nothing that
#    can drift from the driver.
#    git format-patch writes the series and a cover letter that carries
#    scripts/series/00-cover.txt, the benchmark tables of bench/ and the
#    patch list with line counts.
# 3. Checks, each a PASS/FAIL line: checkpatch --strict on every patch;
#    every patch applies (git apply) in order to a fresh copy of the
#    pristine tree, which then builds drivers/target/ (the KUnit suites
#    included once they are there), and the driver's directory again with
#    W=1 and sparse (C=2), no warning allowed.  The suites run in the
#    debug-kernel VM (check.sh, scripts/kunit.sh): the series builds no
#    kernel of its own.
# Everything is cached under ${TCMU_CACHE:-$HOME/.cache/tcmu-ng}/series.
# SERIES_BUILD=0 stops after checkpatch (no apply or build).
# Last line: "series: N passed, N failed".
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
sdir=$repo/scripts/series
work=$cache/series
out=${1:-$work/out}

log() { echo "[series] $*" >&2; }
die() {
	log "error: $*"
	echo "series: $pass passed, $((failed + 1)) failed"
	exit 1
}

# --- 1. the pristine tree and the final tree
ver=$(dpkg-query -W -f='${Version}' linux-source-6.12) ||
	die "linux-source-6.12 is not installed: run vm/deps.sh"
base=$("$vm/kernel.sh" pristine)

# the paths the series touches, relative to the tree
paths=(MAINTAINERS Documentation/target drivers/target/Kconfig
	drivers/target/Makefile drivers/target/target_core_user.c
	drivers/target/user include/uapi/linux/target_core_user.h
	tools/testing/selftests/drivers/target/user)

# subset SRC DST: copy the series' paths of tree SRC into DST
subset() {
	local p
	rm -rf "$2"
	mkdir -p "$2"
	for p in "${paths[@]}"; do
		[[ -e $1/$p ]] || continue
		mkdir -p "$2/$(dirname "$p")"
		cp -a "$1/$p" "$2/$p"
	done
	chmod -R u+w "$2"
}

final=$work/state-final
subset "$base" "$final"
"$repo/scripts/graft.sh" "$final" >/dev/null
rm -f "$final/drivers/target/target_core_user.c"
# the old driver's entry keeps its ABI files but loses the deleted file
old_f=$'^F:\tdrivers/target/target_core_user\\.c$'
[[ $(grep -c "$old_f" "$final/MAINTAINERS") == 1 ]] ||
	die "the old driver's F: line is not in MAINTAINERS once"
sed -i "\#$old_f#d" "$final/MAINTAINERS"
(cd "$repo" && git ls-files -z tools/testing/selftests/drivers/target/user |
	xargs -0 cp --parents -t "$final")
python3 - "$final/drivers/target/user" <<'PY'
import re, sys
d = sys.argv[1]
mk = open(d + "/Makefile").read()
# the out-of-tree block is the Makefile's last
at = mk.find("\n# Built out of tree")
assert at > 0 and "ifneq ($(KBUILD_EXTMOD),)" in mk[at:], \
    "out-of-tree block of the Makefile not found"
open(d + "/Makefile", "w").write(mk[:at].rstrip("\n") + "\n")
c = open(d + "/main.c").read()
c, n = re.subn(r'#ifdef TCMU_NG_VERSION\n.*?#endif\n', '', c, flags=re.S)
assert n == 1, "TCMU_NG_VERSION block of main.c not found"
open(d + "/main.c", "w").write(c)
PY

# the driver's files each step adds (drivers/target/user/)
declare -A step_files=(
	[pool]="tcmu.h trace.h pool.c" [data-area]=data_area.c
	[zero-copy]=zero_copy.c [ring]="ring_mem.c ring.c" [reclaim]=reclaim.c
	[completion]=complete.c
	[netlink]=netlink.c [uio]=uio.c [configfs]=configfs.c
	[core]="main.c debug.c Kconfig")

# drop_files DIR "FILE...": delete those files of the driver and their
# objects' lines in its Makefile; the directory goes with its last file
drop_files() {
	local u=$1/drivers/target/user f
	for f in $2; do
		[[ -f $u/$f ]] || die "step_files: $u/$f does not exist"
		rm "$u/$f"
	done
	if ! compgen -G "$u/*.[ch]" >/dev/null; then
		rm -rf "$u"
		return
	fi
	python3 - "$u" <<'PY'
import os, re, sys
u = sys.argv[1]
mk = open(u + "/Makefile").read()
def keep(line):
    m = re.match(r"(?:target_core_user-\S+ \+= |CFLAGS_)(\w+)\.o\b", line)
    return not m or os.path.exists("%s/%s.c" % (u, m.group(1)))
open(u + "/Makefile", "w").write(
    "".join(l for l in mk.splitlines(True) if keep(l)))
PY
}

# undo_step NAME DIR: turn the tree after step NAME into the tree before it
undo_step() {
	local d=$2
	case $1 in
	maintainers) cp "$base/MAINTAINERS" "$d/MAINTAINERS" ;;
	selftests) rm -rf "$d/tools/testing/selftests/drivers/target/user" ;;
	docs)
		rm -f "$d"/Documentation/target/tcmu-{ng,admin}.rst
		cp "$base/Documentation/target/index.rst" "$d/Documentation/target/"
		;;
	kunit)
		rm -rf "$d/drivers/target/user/tests" "$d/drivers/target/user/.kunitconfig"
		python3 - "$d/drivers/target/user" <<'PY'
import re, sys
d = sys.argv[1]
kc = open(d + "/Kconfig").read()
kc, n = re.subn(r'\nconfig TCM_USER2_KUNIT_TEST\n(?:\t.*\n|\n(?=\t))*', '', kc)
assert n == 1, "KUnit entry of Kconfig not found"
open(d + "/Kconfig", "w").write(kc)
# each suite is built into the file it tests, included at its end
n = 0
for f in ("pool.c", "data_area.c", "zero_copy.c", "ring.c", "complete.c"):
    c = open(d + "/" + f).read()
    c, k = re.subn(r'\n#if IS_ENABLED\(CONFIG_TCM_USER2_KUNIT_TEST\)\n'
                   r'#include "tests/\w+_kunit\.c"\n#endif\n', '', c)
    n += k
    open(d + "/" + f, "w").write(c)
assert n == 5, "the KUnit suites' includes not found"
PY
		;;
	pool | data-area | zero-copy | ring | reclaim | completion | \
		netlink | uio | configfs)
		drop_files "$d" "${step_files[$1]}"
		;;
	core)
		drop_files "$d" "${step_files[$1]}"
		cp "$base"/drivers/target/{Kconfig,Makefile,target_core_user.c} \
			"$d/drivers/target/"
		;;
	uapi)
		cp "$base/include/uapi/linux/target_core_user.h" \
			"$d/include/uapi/linux/"
		;;
	*) die "no undo for step $1" ;;
	esac
	chmod -R u+w "$d"
	# git keeps no empty directory
	find "$d" -mindepth 1 -type d -empty -delete
}

steps=()
for f in "$sdir"/[0-9][0-9]-*.txt; do
	[[ $f == */00-* ]] || steps+=("${f##*/}")
done
((${#steps[@]})) || die "no steps in $sdir"
n=${#steps[@]}
# state-K is the tree after K steps
rm -rf "$work"/state-[0-9]*
cp -a "$final" "$work/state-$n"
for ((k = n; k > 0; k--)); do
	name=${steps[k - 1]}
	name=${name#[0-9][0-9]-}
	cp -a "$work/state-$k" "$work/state-$((k - 1))"
	undo_step "${name%.txt}" "$work/state-$((k - 1))"
done
subset "$base" "$work/state-base"
diff -r "$work/state-base" "$work/state-0" >/dev/null ||
	die "undoing every step does not give back the pristine tree: diff -r $work/state-base $work/state-0"

# --- 2. commits and format-patch
git=$work/git
rm -rf "$git"
mkdir -p "$git"
author=$(git -C "$repo" log -1 --format='%an')
email=$(git -C "$repo" log -1 --format='%ae')
g() { git -C "$git" -c user.name="$author" -c user.email="$email" "$@"; }
g init -q
for ((k = 0; k <= n; k++)); do
	rsync -a --delete --exclude=/.git "$work/state-$k/" "$git/"
	g add -A
	if ((k == 0)); then
		g commit -q -m "Linux $ver (Debian linux-source-6.12), the files the series touches"
		g tag base
	else
		g commit -q -s -F "$sdir/${steps[k - 1]}"
	fi
done
rm -rf "$out"
mkdir -p "$out"
g format-patch -q --cover-letter --thread -o "$out" base..HEAD
patches=()
for f in "$out"/[0-9][0-9][0-9][0-9]-*.patch; do
	[[ $f == */0000-* ]] || patches+=("$f")
done

# the cover letter: our text, the patch list with line counts, the bench
for ((k = 1; k <= n; k++)); do
	read -r f ins del < <(g diff --numstat "HEAD~$((n - k + 1))" "HEAD~$((n - k))" |
		awk '{ f++; a += $1; d += $2 } END { print f, a, d }')
	printf '%2d/%d %s\n      %d files, +%d -%d lines\n' "$k" "$n" \
		"$(head -n1 "$sdir/${steps[k - 1]}")" "$f" "$ins" "$del"
done >"$work/patch-list.txt"
python3 - "$repo/bench" >"$work/bench.txt" <<'PY'
import sys
b = sys.argv[1]
out = []
for f, title in (("results.md", "make bench: null, mem and tcmu-runner handlers"),
                 ("zero-copy/results.md", "zero copy, interleaved")):
    try:
        text = open(b + "/" + f).read()
    except OSError:
        continue
    out += ["== %s (bench/%s)" % (title, f), ""]
    for line in text.splitlines():
        if line.startswith(("### ", "|", "Command:", "Guest:")):
            out.append(line)
        elif not line.strip() and out[-1] != "":
            out.append("")
print("\n".join(out).strip())
PY
python3 - "$out/0000-cover-letter.patch" "$sdir/00-cover.txt" \
	"$work/patch-list.txt" "$work/bench.txt" <<'PY'
import sys
cl, cover, plist, bench = sys.argv[1:5]
subject, body = open(cover).read().strip("\n").split("\n", 1)
text = open(cl).read()
text = text.replace("*** SUBJECT HERE ***", subject)
blurb = (body.strip("\n") + "\n\nPatches:\n\n" + open(plist).read() +
         "\nMeasured (QEMU TCG, 2 vCPUs, on QEMU's instruction-counted"
         " clock: every figure is a cost in guest instructions, and a"
         " rep string instruction counts once per iteration, so this clock"
         " prices our inlined data-area copy (rep movsq) at an eighth of"
         " stock's memcpy (rep movsb); 'base', where run, is ours with"
         " the same out-of-line memcpy as stock, the fair column wherever"
         " data is copied; the README says more):\n\n" + open(bench).read())
text = text.replace("*** BLURB HERE ***", blurb.rstrip("\n"))
open(cl, "w").write(text)
PY
log "wrote ${#patches[@]} patches and the cover letter to $out"

# --- 3. checks
# checkpatch asks "does MAINTAINERS need updating?" of every patch that
# adds a file; the answer is checked instead: each file the series adds
# must fall under the driver's MAINTAINERS section (the last patch)
cp=$base/scripts/checkpatch.pl
me=$(sed -n 's/^M:\t.*<\(.*\)>$/\1/p' "$repo/MAINTAINERS")
uncovered=()
while read -r f; do
	(cd "$final" && perl "$base/scripts/get_maintainer.pl" --no-tree \
		--no-git --no-git-fallback --no-rolestats --no-l --no-r -f "$f") |
		grep -F "$me" >/dev/null || uncovered+=("$f")
done < <(g diff --name-only --diff-filter=A base HEAD)
if ((${#uncovered[@]})); then
	printf '  not covered: %s\n' "${uncovered[@]}"
	result "every added file is under the driver's MAINTAINERS entry" 1
else
	result "every added file is under the driver's MAINTAINERS entry" 0
fi
# The selftests are user space, where some kernel rules do not apply:
# there is no __packed or __printf (the test handler defines them, and
# the definitions are what checkpatch flags), volatile sig_atomic_t is
# what C requires of signal handler flags and volatile stores are how
# the fuzzer races the kernel on the shared ring, and PRIu64/_Noreturn
# are C names, not CamelCase.  These types are ignored for that patch
# only; every other rule applies to it as to the rest.
user_ignore=VOLATILE,PREFER_DEFINED_ATTRIBUTE_MACRO,CAMELCASE
# checkpatch checks each SPDX line with scripts/spdxcheck.py, which reads
# the licences from LICENSES/ at the HEAD of a git tree: the pristine tree
# is not one, so checkpatch runs in a copy of it (links, but a real
# LICENSES/ committed to git), with Debian's python3 (deps.sh installs its
# ply and git modules; a python3 earlier in PATH, pyenv's, has neither).
ck=$work/checkpatch-root
rm -rf "$ck"
cp -as "$base" "$ck"
rm -rf "$ck/LICENSES" "$ck/.gitignore" "$ck/.gitattributes"
cp -a "$base/LICENSES" "$ck/"
git -C "$ck" init -q
git -C "$ck" add LICENSES
git -C "$ck" -c user.name=series -c user.email=series@localhost \
	commit -q -m LICENSES
for p in "${patches[@]}"; do
	ignore=FILE_PATH_CHANGES
	[[ $p != *-selftests-* ]] || ignore+=,$user_ignore
	if (cd "$ck" && PATH=/usr/bin:$PATH "$cp" --strict --quiet \
		--root="$ck" --ignore "$ignore" "$p") >"$p.checkpatch" 2>&1; then
		result "checkpatch --strict $(basename "$p")" 0
	else
		cat "$p.checkpatch"
		result "checkpatch --strict $(basename "$p")" 1
	fi
done

if [[ ${SERIES_BUILD:-1} == 0 ]]; then
	echo "series: $pass passed, $failed failed (SERIES_BUILD=0: not applied, built or run)"
	((failed == 0))
	exit
fi

# a fresh copy of the pristine tree (hard links: git apply writes new
# files, so the pristine tree is never changed); its path stays the same,
# so the build directories stay warm between runs
tree=$work/tree
rm -rf "$tree"
cp -al "$base" "$tree"
# directories are copies: make them writable; files stay shared, read-only
find "$tree" -type d -exec chmod u+w {} +
bdir=$work/build
mkdir -p "$bdir"
cc=gcc
if command -v ccache >/dev/null; then
	cc="ccache gcc"
	export CCACHE_DIR=$cache/ccache
fi
mk() { make -C "$tree" O="$bdir" CC="$cc" -j"$(nproc)" "$@"; }
configure() {
	[[ -f $bdir/.config ]] || mk defconfig >/dev/null
	"$tree/scripts/config" --file "$bdir/.config" -e NET -e UIO \
		-e CONFIGFS_FS -e TARGET_CORE -m TCM_USER2 -e KUNIT \
		-e TCM_USER2_KUNIT_TEST -e DEBUG_KERNEL -e TCM_USER2_DEBUG
	mk olddefconfig >/dev/null
}
k=0
for p in "${patches[@]}"; do
	k=$((k + 1))
	name=$(basename "$p")
	if ! (cd "$tree" && git apply --check "$p" && git apply "$p"); then
		result "$name applies to the tree with the patches before it" 1
		break
	fi
	# a patch that changes no file the build reads (the docs, MAINTAINERS,
	# the selftests) leaves the tree's build as the patch before left it
	if ((k > 1)) && ! grep -qE '^\+\+\+ b/(drivers|include)/' "$p"; then
		result "$name: changes nothing under drivers/ or include/: builds as the patch before" 0
		continue
	fi
	blog=$work/build-$k.log
	configure
	# the whole directory as the kernel builds it, then the driver
	# again with W=1 and sparse on every file (C=2): nothing may warn
	if ! mk drivers/target/ >"$blog" 2>&1; then
		tail -n 30 "$blog"
		result "$name: drivers/target/ builds" 1
		continue
	fi
	if [[ ! -d $tree/drivers/target/user ]]; then
		result "$name: drivers/target/ builds" 0
		continue
	fi
	if ! mk W=1 C=2 drivers/target/user/ >>"$blog" 2>&1; then
		tail -n 30 "$blog"
		result "$name: drivers/target/ builds, the driver with W=1 and sparse" 1
	elif grep -E 'warning|error' "$blog"; then
		result "$name: drivers/target/ builds, the driver with W=1 and sparse: warnings above" 1
	else
		result "$name: drivers/target/ builds, the driver with W=1 and sparse" 0
	fi
done
((k == ${#patches[@]})) && result "the series applies to a clean Linux $ver tree" 0

echo "series: $pass passed, $failed failed"
((failed == 0))
