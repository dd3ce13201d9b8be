#!/bin/bash
# The whole tcmu-ng test suite, from a fresh Debian 12 machine (as root):
#   1. install what it needs (vm/deps.sh)
#   2. the debug kernel (KASAN, lockdep, kmemleak, KUnit), at normal
#      priority: every VM stage waits for it.  Alongside, as SCHED_IDLE
#      tasks (chrt --idle), so that they take only what the critical
#      path (build, then VM) leaves idle:
#      - static checks (scripts/static.sh): the W=1 + sparse (C=2) build
#        against Debian's headers, checkpatch --strict, coccicheck, a
#        lint of the scripts, kernel-doc -Wall and the htmldocs build of
#        Documentation/target (scripts/docs-check.sh)
#      - the patch series against linux-source-6.12: checkpatch --strict
#        on each patch, each applied in order to a clean tree and built
#        (drivers/target/, the KUnit suites included) (scripts/series.sh)
#      Their output is printed, and counted, in the last stage.
#   3. the module built against the debug kernel twice, each in its own
#      copy of the driver (build-module.sh --copy): with the KUnit suites,
#      and with the selftests' hooks; the test handler
#   4. in one VM booted on the debug kernel: the KUnit suites (they run as
#      their module loads; kunit.py parses the kernel log, each case one
#      result), then the selftests.  The debug kernel is the only kernel
#      the suite builds (scripts/kunit.sh runs the KUnit step alone).
#   5. alongside step 4, as a SCHED_IDLE task: DKMS: install in a VM on
#      Debian's 6.12 kernel, reboot it, run the tcmu-runner compatibility
#      test on the installed module (scripts/dkms-test.sh)
#   6. the results of DKMS, of the static checks and of the series
# Kernel builds are cached under ${TCMU_CACHE:-$HOME/.cache/tcmu-ng}.
# The last line is "N passed, N failed".
set -uo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
t0=$SECONDS

# step NAME: a stage begins; the one before it ends (its time is kept)
stage_names=() stage_secs=() stage_t=$SECONDS
step() {
	local now=$SECONDS
	if ((${#stage_names[@]})); then
		stage_secs+=($((now - stage_t)))
	fi
	stage_names+=("$*")
	stage_t=$now
	echo "=== $* ($((now - t0)) s)"
}
finish() {
	local i
	# the checks alongside are waited for and counted on every way out;
	# nothing runs beside them any more: normal priority
	[[ -z ${dkms_pid:-} ]] || to_normal "$dkms_pid"
	[[ -z ${side_pid:-} ]] || to_normal "$side_pid"
	if [[ -n ${dkms_pid:-} ]]; then
		step "DKMS (ran alongside the VM stage)"
		collect_dkms
	fi
	if [[ -n ${side_pid:-} ]]; then
		step "static checks and patch series (ran alongside)"
		collect_alongside
	fi
	stage_secs+=($((SECONDS - stage_t)))
	echo "=== stage times"
	for i in "${!stage_names[@]}"; do
		printf '%6d s  %s\n' "${stage_secs[i]}" "${stage_names[i]}"
	done
	if [[ -s ${side:-}/times ]]; then
		echo "=== alongside the stages above, at low priority"
		while read -r a b what; do
			printf '%6d s  %s (from %d s to %d s)\n' $((b - a)) "$what" "$a" "$b"
		done <"$side/times"
	fi
	echo "=== done in $((SECONDS - t0)) s"
	echo "$pass passed, $failed failed"
	((failed == 0))
	exit
}

step "installing dependencies"
if ! "$vm/deps.sh"; then
	result deps 1
	finish
fi

# alongside DIR: the static checks, then the patch series, as SCHED_IDLE
# tasks: they run on a core the debug kernel's build or the VM leaves
# idle (link steps, a guest waiting on its handler) and give it up as
# soon as one of those wakes, so the critical path, build -> VM, is not
# shared half and half with them.  nice 19 was not enough: a niced task
# keeps the core for its time slice when a vCPU thread wakes, and the
# first seven selftests ran 12-75 % slower beside the niced checks in a
# warm run (953 s against 703 s).  Output and times go to DIR.
alongside() {
	local d=$1 t
	chrt --idle -p 0 "$BASHPID"
	t=$SECONDS
	"$repo/scripts/static.sh" >"$d/static.out" 2>&1
	echo "$((t - t0)) $((SECONDS - t0)) static checks" >>"$d/times"
	t=$SECONDS
	"$repo/scripts/series.sh" >"$d/series.out" 2>&1
	echo "$((t - t0)) $((SECONDS - t0)) patch series" >>"$d/times"
}

# collect_alongside: wait for them, print and count their results
collect_alongside() {
	wait "$side_pid"
	side_pid=
	cat "$side/static.out"
	add_counts static "$side/static.out" || result "static checks" 1
	cat "$side/series.out"
	cp "$side/series.out" "$cache/series.out"
	add_counts series "$side/series.out" || result "patch series" 1
}

# dkms_alongside: the DKMS check (scripts/dkms-test.sh: two boots of its
# own VM on Debian's kernel, independent of the debug kernel) as a
# SCHED_IDLE task beside the debug VM, which keeps the 2 cores only 1.2
# busy on average: it took 240-590 s of the critical path on its own.
# On a slow host the debug VM leaves it next to nothing (a DKMS boot ran
# past its timeout once): finish gives what is left of it (and of the
# static checks and the series) the normal priority back.
dkms_alongside() {
	local t=$SECONDS
	chrt --idle -p 0 "$BASHPID"
	"$repo/scripts/dkms-test.sh" >"$cache/dkms.out" 2>&1
	echo "$((t - t0)) $((SECONDS - t0)) DKMS" >>"$side/times"
}

# to_normal PID: PID, all its threads and its descendants (each task
# before its children are listed, so none forked meanwhile is missed)
# leave SCHED_IDLE
to_normal() {
	local c
	chrt -a --other -p 0 "$1" 2>/dev/null || return 0
	for c in $(pgrep -P "$1"); do
		to_normal "$c"
	done
}

collect_dkms() {
	wait "$dkms_pid"
	dkms_pid=
	cat "$cache/dkms.out"
	add_counts dkms "$cache/dkms.out" || result "DKMS VM run" 1
}

step "debug kernel (static checks and patch series alongside)"
src=$("$vm/kernel.sh" src)
"$repo/scripts/graft.sh" "$src"
# The debug kernel builds first, at normal priority: every VM stage waits
# for it.  kernel.sh holds a lock on the build.  graft.sh ran first and
# writes only what changed, so the tree it builds from stays as it is.
# Nothing below builds in the repository's driver directory while the
# checks alongside read it (build-module.sh --copy).
debug_out=$cache/debug-build.out
"$vm/kernel.sh" debug >"$debug_out" 2>&1 &
debug_pid=$!
side=$cache/alongside
rm -rf "$side"
mkdir -p "$side"
alongside "$side" &
side_pid=$!
wait "$debug_pid"
cat "$debug_out"

step "module and handler against the debug kernel"
# up to date now, or built here if the background build failed
if ! bdir=$("$vm/kernel.sh" debug); then
	result "debug kernel build" 1
	finish
fi
# with the KUnit suites (kept aside), then with the selftests' debug hooks
# (CONFIG_TCM_USER2_DEBUG); sparse over both
kunit_ko=$cache/kunit-module/drivers/target/user/target_core_user.ko
if ! "$repo/scripts/build-module.sh" --copy "$cache/kunit-module" "$bdir" \
	W=1 C=2 CONFIG_TCM_USER2_KUNIT_TEST=y; then
	rm -f "$kunit_ko"
	result "module build with the KUnit suites against the debug kernel" 1
fi
debug_ko=$cache/debug-module/drivers/target/user/target_core_user.ko
if ! "$repo/scripts/build-module.sh" --copy "$cache/debug-module" "$bdir" \
	W=1 C=2 CONFIG_TCM_USER2_DEBUG=y ||
	! "$repo/scripts/install-debug-module.sh" "$bdir" "$debug_ko"; then
	result "module build against the debug kernel" 1
	finish
fi
# the stock driver for this kernel: test_rbd_01 compares with it
if stock_ko=$("$repo/scripts/build-stock.sh" "$bdir" "$cache/stock-debug"); then
	export TCMU_STOCK_KO=$stock_ko
else
	result "stock driver build against the debug kernel" 1
fi
if ! make -s -C "$st/handler" || ! make -s -C "$st/fuzz" ||
	! make -s -C "$st/ublk"; then
	result "test handler, fuzzer and ublk server build" 1
	finish
fi

step "KUnit and selftests in the debug-kernel VM (DKMS alongside)"
dkms_alongside &
dkms_pid=$!
# without the KUnit module the VM runs the selftests alone, and every
# KUnit case counts as not run
[[ -f $kunit_ko ]] && export TCMU_KUNIT_KO=$kunit_ko
TCMU_KO=$debug_ko "$repo/scripts/vm-selftests.sh" debug "$cache/stage" |
	tee "$cache/vm.out"
vrc=${PIPESTATUS[0]}
unset TCMU_KUNIT_KO
kunit_vm_counts "$cache/stage/out/kunit.dmesg" "$src" \
	"$repo/drivers/target/user/tests" | tee "$cache/kunit.out"
add_counts kunit "$cache/kunit.out" || result "KUnit in the VM" 1
if add_counts selftests "$cache/vm.out"; then
	# a splat or crash after the last test still fails the run
	((vrc == 0 || counted_failed > 0)) || result "VM kernel log clean" 1
	# every test ran: none forgotten by the runner or lost to a crash
	# (those in soak-only run in make soak only)
	ntests=$(find "$st" -maxdepth 1 -name 'test_*_[0-9][0-9].sh' \
		-printf '%f\n' | grep -cvxFf <(soak_only))
	((counted_ran == ntests)) ||
		result "$counted_ran of the $ntests selftests ran" 1
else
	result "selftest VM run" 1
fi

finish
