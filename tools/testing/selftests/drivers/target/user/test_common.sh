# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Common helpers of the tcmu-ng selftests; every test_<group>_<NN>.sh sources
# this file.  Tests run as root inside the debug-kernel VM (vm/vm.sh), with
# TCMU_KO naming the module under test (by default the one installed, as
# when they run as kselftests).  A test exits 0 on pass, 1 on
# failure, 4 (KSFT_SKIP) when it cannot run here.
#
#   tcmu_mod_load [PARAMS]        insmod $TCMU_KO unless loaded; with
#                                 TCMU_MODPROBE=1, modprobe it instead
#                                 (an installed module, e.g. by DKMS),
#                                 after checking that modprobe resolves
#                                 target_core_user to $TCMU_KO
#   tcmu_mod_unload               rmmod it
#   tcmu_dev_create NAME SIZE [OPT=VAL...]
#                                 user_1/NAME with dev_config=test/NAME,
#                                 dev_size=SIZE (K/M/G allowed) and extra
#                                 control options
#   tcmu_dev_export NAME          tcm_loop target + LUN 0 for NAME; prints
#                                 the /dev/sdX
#   tcmu_dev_unexport NAME        remove the tcm_loop target of NAME
#   tcmu_dev_remove NAME          unexport and rmdir the device
#   tcmu_handler NAME [ARGS...]   start the test handler on NAME in the
#                                 background; sets HANDLER_PID
#   tcmu_handler_stop             SIGTERM the handler and wait for it
#   tcmu_nl_daemon [ARGS...]      the test handler as netlink daemon
#                                 (--nl-only ARGS) in the background,
#                                 logging to $NL_LOG; waits for its
#                                 SET_FEATURES.  Reply support stays on in
#                                 the module once a daemon announced it:
#                                 keep one running until the devices are
#                                 gone (tcmu_nl_cleanup)
#   tcmu_nl_daemon_stop           stop it
#   tcmu_nl_cleanup               tcmu_cleanup with a daemon answering
#                                 REMOVED_DEVICE, then rmmod
#   tcmu_stop_pids PID...         kill and reap background processes
#   now_ms                        wall clock in ms (sub-second timing)
#   tcmu_fio_verify DEV ARGS...   fio write+verify (crc32c) on DEV
#   tcmu_fio_verify_all PREFIX ARGS...
#                                 the same on every ${dev[i]} at once (job
#                                 PREFIX<i>); fails on the first error
#   tcmu_info NAME KEY            a value of the device's info (DataPagesHeld)
#   tcmu_info_of FILE KEY         the same of any info file
#   info_is NAME KEY VALUE        test it (for tcmu_wait)
#   info_nonzero NAME KEY         test it is not 0 (for tcmu_wait)
#   expect_einval FILE VALUE ATTR write VALUE to FILE: must fail with
#                                 EINVAL and log a line naming ATTR
#   tcmu_cleanup                  remove every device, stop handlers

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=vm/guest-lib.sh
. "$here/vm/guest-lib.sh"

# The programs the tests start most often (configfs mkdir/rmdir, the
# exports' links, the polls' sleeps) run as bash's loadable builtins
# (Debian's bash-builtins) where they are installed: each program started
# in the debug guest costs tens of milliseconds, and some tests start
# thousands.  Without the package they run as programs, as before.
for b in mkdir rmdir ln rm sleep; do
	if [[ -f /usr/lib/bash/$b ]]; then
		enable -f "/usr/lib/bash/$b" "$b" 2>/dev/null || true
	fi
done
unset b

KSFT_SKIP=4
# built in handler/; a kselftest install has it next to the tests
HANDLER_BIN=$here/handler/tcmu-test-handler
[[ -x $HANDLER_BIN || ! -x $here/tcmu-test-handler ]] ||
	HANDLER_BIN=$here/tcmu-test-handler
CORE=/sys/kernel/config/target/core
HBA=$CORE/user_1
HANDLER_PID=
TEST_NAME=$(basename "$0" .sh)

log() { echo "[$TEST_NAME] $*"; }
# tcmu_form CI SOAK: a length whose value is a choice (a size, a count,
# seconds) in the run's form: the short one CI runs, or the long one of
# make soak (TCMU_SOAK=1).  The README's test table gives CI's times.
tcmu_form() {
	if [[ ${TCMU_SOAK:-0} == 1 ]]; then echo "$2"; else echo "$1"; fi
}
fail() {
	local f
	echo "[$TEST_NAME] FAIL: $*" >&2
	for f in "$HBA"/*/info /tmp/handler-*.log; do
		[[ -f $f ]] && { echo "--- $f"; tail -n 15 "$f"; } >&2
	done
	exit 1
}
skip() {
	echo "[$TEST_NAME] SKIP: $*" >&2
	exit "$KSFT_SKIP"
}
# check DESCRIPTION CMD...: fail unless CMD succeeds
check() {
	local what=$1
	shift
	"$@" || fail "$what"
}

# run as kselftest on a kernel that has the driver: its installed module
[[ -n ${TCMU_KO:-} ]] || TCMU_KO=$(modinfo -n target_core_user 2>/dev/null)
[[ -n $TCMU_KO && -f $TCMU_KO ]] ||
	skip "TCMU_KO is not set and no target_core_user module is installed"
rm -f /tmp/handler-*.log
[[ -x $HANDLER_BIN ]] || skip "$HANDLER_BIN is not built"

tcmu_mod_load() {
	[[ -d /sys/module/target_core_user ]] && return 0
	modprobe -a target_core_mod uio tcm_loop sd_mod 2>/dev/null || true
	if [[ -n ${TCMU_MODPROBE:-} ]]; then
		local ko
		ko=$(modinfo -n target_core_user) || return
		if [[ ! $ko -ef $TCMU_KO ]]; then
			echo "modprobe resolves target_core_user to $ko, not $TCMU_KO" >&2
			return 1
		fi
		modprobe target_core_user "$@"
	else
		insmod "$TCMU_KO" "$@"
	fi
}

tcmu_mod_unload() {
	rmmod target_core_user
}

tcmu_dev_create() {
	local name=$1 size opt
	size=$(numfmt --from=iec "$2")
	shift 2
	mkdir -p "$HBA/$name" || fail "mkdir $name"
	for opt in "dev_config=test/$name" "dev_size=$size" "$@"; do
		echo "$opt" >"$HBA/$name/control" || fail "$name: control $opt"
	done
	echo 1 >"$HBA/$name/enable" || fail "$name: enable"
}

tcmu_dev_export() {
	tcmu_loop_export "$HBA/$1"
}

tcmu_dev_unexport() {
	tcmu_loop_unexport "$HBA/$1"
}

tcmu_dev_remove() {
	tcmu_dev_unexport "$1"
	rmdir "$HBA/$1"
}

tcmu_handler() {
	local name=$1
	shift
	"$HANDLER_BIN" --dev "$name" "$@" \
		>"/tmp/handler-$name.log" 2>&1 &
	HANDLER_PID=$!
}

tcmu_handler_stop() {
	[[ -n $HANDLER_PID ]] || return 0
	kill "$HANDLER_PID" 2>/dev/null || true
	wait "$HANDLER_PID" 2>/dev/null || true
	HANDLER_PID=
}

NL_LOG=/tmp/nl-daemon.log
NL_PID=
tcmu_nl_daemon() {
	"$HANDLER_BIN" --nl-only "$@" >"$NL_LOG" 2>&1 &
	NL_PID=$!
	tcmu_wait 10 grep -q SET_FEATURES "$NL_LOG" || fail "daemon did not start"
}

tcmu_nl_daemon_stop() {
	[[ -n $NL_PID ]] || return 0
	kill "$NL_PID" 2>/dev/null
	wait "$NL_PID" 2>/dev/null
	NL_PID=
}

now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

tcmu_stop_pids() {
	local p
	for p in "$@"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	return 0
}

tcmu_nl_cleanup() {
	cp "$NL_LOG" "${TCMU_OUT:-/tmp}/$TEST_NAME-nl-daemon.log" 2>/dev/null
	tcmu_nl_daemon_stop
	tcmu_nl_daemon --quiet
	tcmu_cleanup
	tcmu_nl_daemon_stop
	rmmod target_core_user 2>/dev/null
}

tcmu_fio_verify() {
	local dev=$1
	shift
	fio --name=verify --filename="$dev" --direct=1 --ioengine=libaio \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --verify_state_save=0 \
		--output-format=terse --terse-version=3 "$@" >"/tmp/fio-$TEST_NAME.out" 2>&1
}

tcmu_fio_verify_all() {
	local prefix=$1 i
	local -a pids
	shift
	for i in "${!dev[@]}"; do
		fio --name="$prefix$i" --filename="${dev[i]}" --direct=1 \
			--ioengine=libaio --verify=crc32c --verify_fatal=1 \
			--do_verify=1 --verify_state_save=0 "$@" \
			>"/tmp/fio-$prefix$i.out" 2>&1 &
		pids[i]=$!
	done
	for i in "${!pids[@]}"; do
		wait "${pids[i]}" ||
			fail "fio verify on $prefix$i: $(tail -n 20 "/tmp/fio-$prefix$i.out")"
	done
}

# The output of the last tcmu_fio_verify
fio_log() {
	tail -n 20 "/tmp/fio-$TEST_NAME.out"
}

# tcmu_info_of FILE KEY: the value after "KEY:" in an info file; in bash
# alone, since tests sample it in loops and every program started in the
# debug guest costs tens of milliseconds
tcmu_info_of() {
	local -a w
	local i
	read -r -d '' -a w <"$1"
	for ((i = 0; i + 1 < ${#w[@]}; i++)); do
		if [[ ${w[i]} == "$2:" ]]; then
			echo "${w[i + 1]}"
			return 0
		fi
	done
}

# The device's info line value for KEY (e.g. DataPagesHeld)
tcmu_info() {
	tcmu_info_of "$HBA/$1/info" "$2"
}

# info_is NAME KEY VALUE: for tcmu_wait, which re-runs it
info_is() {
	[[ $(tcmu_info "$1" "$2") == "$3" ]]
}

# info_nonzero NAME KEY: for tcmu_wait
info_nonzero() {
	local v
	v=$(tcmu_info "$1" "$2")
	[[ -n $v && $v != 0 ]]
}

expect_einval() {
	local file=$1 value=$2 attr=$3 err mark
	mark="tcmu-selftest-$RANDOM$RANDOM"
	echo "$mark" >/dev/kmsg
	if err=$( (echo "$value" >"$file") 2>&1); then
		fail "writing '$value' to $file succeeded"
	fi
	[[ $err == *"Invalid argument"* ]] ||
		fail "writing '$value' to $file: expected EINVAL, got: $err"
	dmesg | sed -n "/$mark/,\$p" | grep -q -- "$attr" ||
		fail "no kernel log line naming $attr after '$value'"
}

tcmu_cleanup() {
	local d name
	tcmu_handler_stop
	for d in "$HBA"/*/; do
		[[ -d $d ]] || continue
		name=$(basename "$d")
		[[ $name == hba_* ]] && continue
		[[ -f $d/enable ]] || continue
		tcmu_dev_remove "$name" 2>/dev/null || true
	done
	rmdir "$HBA" 2>/dev/null || true
}
