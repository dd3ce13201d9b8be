#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Installs the Debian 12 packages tcmu-ng needs to build its module, build
# the debug VM kernel, run the VM tests and benchmarks, and check the code.
# Does nothing (quickly) when everything is installed already. Run as root;
# needs no terminal.
set -euo pipefail

pkgs=(
	# kernels: Debian's for stock/benchmark runs, the source for the debug one
	linux-image-6.12-amd64 linux-headers-6.12-amd64 linux-source-6.12
	# kernel and module build
	build-essential bc bison flex libelf-dev libssl-dev dwarves ccache
	cpio kmod rsync xz-utils python3 pkg-config dkms
	# the C test handler; the ublk server (the benchmark's peer)
	libnl-3-dev libnl-genl-3-dev liburing-dev
	# static checks
	sparse coccinelle shellcheck
	# checkpatch.pl checks SPDX lines with spdxcheck.py, on python3-ply
	python3-ply python3-git
	# docs-check.sh: htmldocs (yaml for the netlink specs htmldocs
	# renders first, graphviz because Sphinx warns without dot)
	python3-sphinx python3-yaml graphviz
	# semantic patches that script in OCaml
	ocaml-nox ocaml-findlib
	# the VM (QEMU itself comes from backports, below)
	busybox-static
	# userspace under test inside the VM
	tcmu-runner targetcli-fb python3-rtslib-fb dbus fio sg3-utils
	# mkdir, rmdir, ln, rm and sleep as builtins of the tests' shell
	bash-builtins
	# libiscsi's compliance suite, iscsi-test-cu, and the kernel
	# initiator's userspace (test_iscsi_01)
	libiscsi-bin open-iscsi
	# a one-node Ceph cluster for tcmu-runner's rbd handler (test_rbd_01,
	# vm/ceph.sh); uuidgen names its cluster and OSD
	ceph-mon ceph-osd ceph-mgr ceph-common uuid-runtime
	# the benchmark's chart
	gnuplot-nox
)

# The VM mounts a tmpfs on /etc/target (LIO's config dir) and /var/target
# (where target core keeps persistent reservations and ALUA state) of the
# read-only host root, so the mount points must exist on the host.
mkdir -p /etc/target /var/target

# QEMU from bookworm-backports, not bookworm's 7.2. Multi-threaded TCG in
# 7.2 can keep a translation of guest code that another vCPU has just
# rewritten: a guest kernel flipping a static key (text_poke_bp) then
# hits the stale int3 after the patch is done, on every vCPU, and panics
# with "Oops: int3" in stock code (seen booting Debian's kernel in CI).
# QEMU 8.1 closed that race (accel/tcg: lock pages before translation).
qemu_pkgs=(qemu-system-x86 qemu-utils)
qemu_min=1:8.1
backports=/etc/apt/sources.list.d/tcmu-ng-backports.sources

# installed PKG [MIN]: PKG is installed, at version MIN or later if given
installed() {
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]] ||
		return 1
	[[ -z ${2:-} ]] ||
		dpkg --compare-versions "$(dpkg-query -W -f='${Version}' "$1")" ge "$2"
}

missing=()
for p in "${pkgs[@]}"; do
	installed "$p" || missing+=("$p")
done
for p in "${qemu_pkgs[@]}"; do
	installed "$p" "$qemu_min" || missing+=("$p")
done
((${#missing[@]})) || exit 0

echo "[deps] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# one-line (deb ...) and deb822 (Suites: ...) sources, in either place
if ! grep -rqsE '^(deb|Suites:) .*bookworm-backports' \
	/etc/apt/sources.list /etc/apt/sources.list.d/; then
	cat >"$backports" <<-EOF
		Types: deb
		URIs: http://deb.debian.org/debian
		Suites: bookworm-backports
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
fi
apt-get update
apt-get install -y --no-install-recommends "${pkgs[@]}"
apt-get install -y --no-install-recommends -t bookworm-backports "${qemu_pkgs[@]}"
for p in "${qemu_pkgs[@]}"; do
	installed "$p" "$qemu_min" ||
		{ echo "[deps] error: $p older than $qemu_min" >&2; exit 1; }
done
