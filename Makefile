# SPDX-License-Identifier: GPL-2.0
# Shortcuts for the repository's commands (run as root on Debian 12; each
# installs what it needs). The kernel's own build of the driver is
# drivers/target/user/Makefile.
#   make demo    build, boot a VM, serve a LUN with tcmu-runner, run fio
#   make check   the whole test suite (what CI runs)
#   make bench   the benchmark against the stock driver and rd_mcp
#   make bench-breakdown  where a command's instructions go, by phase,
#                stock against ours (bench/breakdown/)
#   make soak    the long forms of the selftests in the debug VM; fuzzer
#                and stress run for SOAK_MINUTES (60)
#   make module  build target_core_user.ko against Debian's 6.12 headers
#   make series  the upstream patch series against linux-source-6.12, checked
#                (checkpatch, applies, builds per patch)
#   make kunit   the driver's KUnit suites alone, in the debug-kernel VM
#   make selftests             every selftest in the debug-kernel VM
#   make selftest T=test_io_01 one selftest (or several: T="a b")
#   make static  the static checks (W=1 + sparse, checkpatch, coccicheck,
#                shellcheck, kernel-doc, htmldocs)
#   make dkms-test  DKMS install and reboot in a Debian-kernel VM, then
#                tcmu-runner and targetcli on the installed module
#   make help    this list

all: module

demo:
	bash scripts/demo.sh

check:
	bash scripts/check.sh

bench:
	bash scripts/bench.sh

bench-breakdown:
	BENCH_BREAKDOWN=1 bash scripts/bench.sh

soak:
	bash scripts/soak.sh

series:
	bash scripts/series.sh

module:
	bash scripts/build-module.sh \
		"$$(tools/testing/selftests/drivers/target/user/vm/kernel.sh debian | sed -n 2p)"

kunit:
	bash scripts/kunit.sh

selftests:
	bash scripts/stage-run.sh debug

selftest:
	@test -n "$(T)" || { echo "usage: make selftest T=test_io_01" >&2; exit 2; }
	bash scripts/stage-run.sh debug $(addsuffix .sh,$(basename $(T)))

static:
	bash scripts/static.sh

dkms-test:
	bash scripts/dkms-test.sh

help:
	@sed -n 's/^#   //p' Makefile

.PHONY: all demo check bench bench-breakdown soak series module kunit selftests selftest \
	static dkms-test help
