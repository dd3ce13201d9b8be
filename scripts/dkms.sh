#!/bin/bash
# Installs tcmu-ng's target_core_user.ko with DKMS, in place of the stock
# module (run as root; needs dkms and the kernel's headers, e.g. Debian's
# linux-headers-6.12-amd64).  DKMS rebuilds it for every new 6.12 kernel.
#   scripts/dkms.sh install [KVER]  stage the sources into
#                                   /usr/src/tcmu-ng-VERSION and dkms install
#                                   (for KVER, default the running kernel)
#   scripts/dkms.sh remove          dkms remove (all kernels) and drop the
#                                   sources: modprobe loads the stock module
#   scripts/dkms.sh stage DIR       only copy the DKMS source tree into DIR
# A module that is loaded keeps running until it is unloaded (rmmod, or a
# reboot); "modinfo -n target_core_user" names the one modprobe will load.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"$/\1/p' "$repo/dkms.conf")
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$repo/dkms.conf")
usrc=/usr/src/$name-$ver

usage() {
	sed -n '2,12s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# stage DIR: the files DKMS builds from, and nothing else
stage() {
	local dir=$1
	mkdir -p "$dir/drivers/target/user/tests" "$dir/include/uapi/linux"
	cp "$repo/dkms.conf" "$dir/"
	cp "$repo"/drivers/target/user/{Makefile,Kconfig,*.c,*.h} \
		"$dir/drivers/target/user/"
	cp "$repo"/drivers/target/user/tests/*.c "$dir/drivers/target/user/tests/"
	rm -f "$dir"/drivers/target/user/*.mod.c
	cp "$repo/include/uapi/linux/target_core_user.h" "$dir/include/uapi/linux/"
}

# remove this version from DKMS (every kernel) and /usr/src, if there
remove() {
	if dkms status -m "$name" -v "$ver" | grep -q .; then
		dkms remove -m "$name" -v "$ver" --all
	fi
	rm -rf "$usrc"
}

case ${1:-} in
install)
	kver=${2:-$(uname -r)}
	[[ -d /lib/modules/$kver/build ]] ||
		{ echo "dkms.sh: no headers for $kver in /lib/modules/$kver/build (install linux-headers-$kver)" >&2; exit 1; }
	remove
	stage "$usrc"
	dkms add -m "$name" -v "$ver"
	dkms install -m "$name" -v "$ver" -k "$kver"
	echo "dkms.sh: modprobe target_core_user now loads $(modinfo -k "$kver" -n target_core_user)"
	;;
remove)
	remove
	echo "dkms.sh: modprobe target_core_user now loads $(modinfo -n target_core_user 2>/dev/null || echo nothing)"
	;;
stage)
	[[ -n ${2:-} ]] || usage
	stage "$2"
	;;
*) usage ;;
esac
