#!/bin/bash
# DKMS on a real boot, twice: in a VM on Debian's 6.12 kernel with a state
# disk (vm/dkms-guest.sh), the first boot installs the module with
# scripts/dkms.sh (dkms add, build, install); the second boot, with the
# same disk, checks that modprobe picks the DKMS module, runs the
# tcmu-runner compatibility test (test_compat_01) on it, and removes it
# again.  Last line: "dkms: N passed, N failed".
#   scripts/dkms-test.sh
set -uo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stage=$cache/stage-dkms

finish() {
	echo "dkms: $pass passed, $failed failed"
	((failed == 0))
	exit
}

# The VM hides the host's /tmp, so everything it reads is staged in the
# cache: the selftests (with the test handler) and the DKMS source tree.
make -s -C "$st/handler" || { result "test handler build" 1; finish; }
rm -rf "$stage"
mkdir -p "$stage/out" "$stage/repo/scripts"
rsync -a --exclude='*.o' "$st/" "$stage/user/"
"$repo/scripts/dkms.sh" stage "$stage/repo"
cp "$repo/scripts/dkms.sh" "$repo/scripts/lib.sh" "$stage/repo/scripts/"
disk=$stage/state.img
truncate -s 1G "$disk"
mkfs.ext4 -q -F "$disk"

# At idle priority (check.sh runs this beside the debug VM) a vCPU of
# this guest can wait seconds for a core while the guest's clock runs
# on: the soft-lockup and RCU-stall watchdogs, which would take that for
# a stuck CPU, get a fuse of two minutes instead of 20 s (hung tasks are
# still reported after 120 s, as in any boot).  Its boots may also wait
# that long for check.sh's VM stage to end, which gives them the normal
# priority back: 3,600 s each instead of 1,800.
append='' timeout=${VM_TIMEOUT:-1800}
if [[ $(chrt -p $$) == *SCHED_IDLE* ]]; then
	append="watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=120"
	timeout=${VM_TIMEOUT:-3600}
fi

cd "$stage/user" || exit 1
boot() {
	"$st/vm/vm.sh" --kernel debian --smp 2 --mem 2G --append "$append" \
		--timeout "$timeout" --out "$stage/out" \
		--log "$stage/out/console-$1.log" --disk "$disk" \
		-- ./vm/dkms-guest.sh "$1" "$stage/repo"
}
boot install
result "dkms install in the VM (Debian 6.12)" $?
((failed == 0)) || finish
boot check
result "after a reboot: modprobe loads the DKMS module, test_compat_01 passes, dkms remove restores the stock module" $?
finish
