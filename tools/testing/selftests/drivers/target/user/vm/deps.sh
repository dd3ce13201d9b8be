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
	# the C test handler
	libnl-3-dev libnl-genl-3-dev
	# static checks
	sparse coccinelle shellcheck
	# docs-check.sh: htmldocs (yaml for the netlink specs htmldocs
	# renders first, graphviz because Sphinx warns without dot)
	python3-sphinx python3-yaml graphviz
	# semantic patches that script in OCaml
	ocaml-nox ocaml-findlib
	# the VM
	qemu-system-x86 qemu-utils busybox-static
	# userspace under test inside the VM
	tcmu-runner targetcli-fb python3-rtslib-fb dbus fio sg3-utils
	# the benchmark's chart
	gnuplot-nox
)

# The VM mounts a tmpfs on /etc/target (LIO's config dir) of the read-only
# host root, so the mount point must exist on the host.
mkdir -p /etc/target

missing=()
for p in "${pkgs[@]}"; do
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) == installed ]] ||
		missing+=("$p")
done
((${#missing[@]})) || exit 0

echo "[deps] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${pkgs[@]}"
