#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Provides the kernels the tcmu-ng VM tests boot. Everything is cached under
# ${TCMU_CACHE:-$HOME/.cache/tcmu-ng}.
#   kernel.sh src     extract linux-source-6.12 (once), print the tree's path
#                     (scripts/graft.sh puts the driver into this tree)
#   kernel.sh pristine a second, read-only extraction that nothing changes
#                     (the base of scripts/series.sh), print its path
#   kernel.sh debug   build the debug kernel from vm/debug.config with kunit.py
#                     (once per source version/config/compiler), print its
#                     build dir; <dir>/mods/lib/modules/<ver> holds the
#                     modules.builtin data that lets modprobe find built-ins
#   kernel.sh debian  print Debian's newest 6.12 image and its headers dir
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${TCMU_CACHE:-$HOME/.cache/tcmu-ng}
tarball=/usr/src/linux-source-6.12.tar.xz

log() { echo "[kernel] $*" >&2; }
die() { log "error: $*"; exit 1; }

src_version() {
	dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null ||
		die "linux-source-6.12 is not installed: run vm/deps.sh"
}

# extract NAME [ro]: linux-source-6.12 unpacked (once) under
# $cache/NAME-VERSION, read-only with "ro"; prints the tree's path
extract() {
	local dir tmp
	dir=$cache/$1-$(src_version | tr -c 'A-Za-z0-9.+-' _)
	if [[ ! -d $dir/linux-source-6.12 ]]; then
		[[ -f $tarball ]] || die "$tarball missing: run vm/deps.sh"
		log "extracting $tarball into $dir (about a minute)"
		mkdir -p "$dir"
		tmp=$(mktemp -d "$dir/.extract.XXXXXX")
		trap 'rm -rf "$tmp"' EXIT
		tar -C "$tmp" -xf "$tarball"
		[[ ${2:-} != ro ]] || chmod -R a-w "$tmp/linux-source-6.12"
		# rename(2) is atomic: the tree appears whole or not at all.
		mv -T "$tmp/linux-source-6.12" "$dir/linux-source-6.12" ||
			[[ -d $dir/linux-source-6.12 ]]
		rm -rf "$tmp"
		trap - EXIT
	fi
	echo "$dir/linux-source-6.12"
}

cmd_src() { extract src; }
cmd_pristine() { extract pristine ro; }

build_debug() {
	local src=$1 bdir=$2 logf=$2.log cc=gcc start=$SECONDS hb
	if command -v ccache >/dev/null; then
		cc="ccache gcc"
		export CCACHE_DIR=$cache/ccache
	fi
	log "building the debug kernel in $bdir with CC='$cc', $(nproc) jobs"
	log "this takes 10+ minutes on 2 cores; make output goes to $logf"
	(while sleep 60; do
		objs=$(find "$bdir" -name "*.o" 2>/dev/null | wc -l)
		log "still building: $((SECONDS - start)) s, $objs objects"
	done) &
	hb=$!
	trap 'kill "$hb" 2>/dev/null' EXIT
	if ! python3 "$src/tools/testing/kunit/kunit.py" build --arch=x86_64 \
		--build_dir="$bdir" --jobs="$(nproc)" \
		--kunitconfig="$here/debug.config" --make_options "CC=$cc" \
		>"$logf" 2>&1; then
		tail -n 40 "$logf" >&2
		die "debug kernel build failed, full log: $logf"
	fi
	kill "$hb"
	trap - EXIT
	log "installing modules.builtin/modules.order into $bdir/mods for modprobe"
	rm -rf "$bdir/mods"
	make -C "$src" O="$bdir" ARCH=x86_64 CC="$cc" INSTALL_MOD_PATH="$bdir/mods" \
		modules_install >>"$logf" 2>&1 || {
		tail -n 20 "$logf" >&2
		die "modules_install failed, full log: $logf"
	}
	touch "$bdir/.tcmu-ng-built"
	log "debug kernel built in $((SECONDS - start)) s"
}

cmd_debug() {
	local src key bdir lock
	src=$(cmd_src)
	key=$({ src_version; cat "$here/debug.config"; gcc --version | head -n1; } |
		sha256sum | cut -c1-12)
	bdir=$cache/build-debug-$key
	exec {lock}>"$bdir.lock"
	if ! flock -n "$lock"; then
		log "waiting for another build of $bdir"
		flock "$lock"
	fi
	if [[ -f $bdir/.tcmu-ng-built ]]; then
		log "debug kernel up to date in $bdir"
	else
		build_debug "$src" "$bdir"
	fi
	echo "$bdir"
}

cmd_debian() {
	local imgs img ver
	shopt -s nullglob
	imgs=(/boot/vmlinuz-6.12.*+deb12-amd64)
	((${#imgs[@]})) || die "no Debian 6.12 kernel in /boot: run vm/deps.sh"
	img=$(printf '%s\n' "${imgs[@]}" | sort -V | tail -n1)
	ver=${img#/boot/vmlinuz-}
	[[ -d /usr/src/linux-headers-$ver ]] ||
		die "/usr/src/linux-headers-$ver missing: run vm/deps.sh"
	printf '%s\n%s\n' "$img" "/usr/src/linux-headers-$ver"
}

case ${1:-} in
src | pristine | debug | debian) "cmd_$1" ;;
*) die "usage: $0 src|pristine|debug|debian" ;;
esac
