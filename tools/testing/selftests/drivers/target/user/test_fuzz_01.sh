#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A hostile handler: tcmu-fuzz serves device "victim" with fio running on
# it while it attacks the ring, the mailbox, its mappings and its fd, and
# repairs the device through configfs whenever the kernel has marked it
# broken.  Meanwhile device "bystander", served by the honest handler,
# runs fio --verify=crc32c again and again and must lose nothing.  The
# kernel must report the victim's breakage and stay silent otherwise
# (run_tests.sh checks the log for splats; rmmod afterwards for leaks).
# The fuzzer also answers the netlink family (--netlink): RECONFIG
# replies once, twice, wrong, late, with garbage status or never, and
# replies and commands nobody asked for; the configfs writer it starts
# must always get an answer.  FUZZ_SEED and FUZZ_ITERATIONS reproduce or
# lengthen a run; FUZZ_SECONDS runs for that long instead.
. "$(dirname "$0")/test_common.sh"
FUZZ=$here/fuzz/tcmu-fuzz
[[ -x $FUZZ ]] || skip "$FUZZ is not built"
seed=${FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
iterations=${FUZZ_ITERATIONS:-2000}
seconds=${FUZZ_SECONDS:-0}
((seconds == 0)) || iterations=0
# stops what still runs (never a bare "wait": the handler runs on)
stop_bg() {
	# shellcheck disable=SC2086 # empty when not running
	tcmu_stop_pids $vfio $fpid $vhpid
	vfio='' fpid='' vhpid=''
}
# a fuzzer that died leaves the kernel expecting replies for the victim
trap 'stop_bg; echo 0 >"$HBA/victim/attrib/nl_reply_supported" 2>/dev/null
	tcmu_cleanup' EXIT
check "insmod" tcmu_mod_load
vfio='' fpid='' vhpid=''

tcmu_dev_create bystander 32M
tcmu_handler bystander --threads 4 --ooo
bpid=$HANDLER_PID
bdev=$(tcmu_dev_export bystander) || fail "export bystander"

# the victim is exported while an honest handler serves it (the SCSI
# scan must succeed); commands the fuzzer hides end by cmd_time_out
tcmu_dev_create victim 32M
echo 4 >"$HBA/victim/attrib/cmd_time_out"
echo 4 >"$HBA/victim/attrib/qfull_time_out"
tcmu_handler victim --threads 2
vdev=$(tcmu_dev_export victim) || fail "export victim"
echo 60 >"/sys/block/${vdev#/dev/}/device/timeout"
tcmu_handler_stop
HANDLER_PID=$bpid

# Garbage statuses and sense can make sd's error handling give up and
# offline the victim: sd's own call about a bad target.  revive_victim
# undoes it as an admin would (state running, rescan).
sysdev=/sys/block/${vdev#/dev/}
revive_victim() {
	[[ $(cat "$sysdev/device/state") == running ]] && return 1
	echo running >"$sysdev/device/state" &&
		echo 1 >"$sysdev/device/rescan"
}
# the victim gets IO for the whole run: revived when offlined, fio
# started again when it gave up
: >/tmp/victim-revived
(
	vf=''
	trap '[[ -n $vf ]] && kill "$vf" 2>/dev/null; exit 0' TERM
	while :; do
		revive_victim 2>/dev/null && echo >>/tmp/victim-revived
		if [[ -z $vf ]] || ! kill -0 "$vf" 2>/dev/null; then
			fio --name=victim --filename="$vdev" --direct=1 \
				--ioengine=libaio --rw=randrw --bssplit=4k/50:64k/50 \
				--iodepth=8 --time_based --runtime=36000 \
				--continue_on_error=all >>/tmp/fio-victim.out 2>&1 &
			vf=$!
		fi
		sleep 1
	done
) &
vfio=$!
log "fuzzing victim: seed $seed, $iterations iterations, $seconds s"
"$FUZZ" --dev victim --seed "$seed" --iterations "$iterations" \
	--seconds "$seconds" --netlink \
	${FUZZ_VERBOSE:+--verbose} >/tmp/fuzz.out 2>&1 &
fpid=$!

runs=0
while kill -0 "$fpid" 2>/dev/null; do
	tcmu_fio_verify "$bdev" --rw=randwrite --bssplit=4k/50:64k/50 \
		--iodepth=8 --size=8M || fail "bystander verify (run $runs, seed $seed): $(fio_log)"
	runs=$((runs + 1))
done
wait "$fpid"
frc=$?
fpid=''
tail -n 30 /tmp/fuzz.out
((frc == 0)) || fail "tcmu-fuzz exit $frc (seed $seed)"
# The honest handler takes the victim over before the keeper stops: the
# keeper may be rescanning it (sd offlined it near the end), and a rescan
# that nobody serves spins the disk up for minutes while "wait" waits.
tcmu_handler victim --threads 2
vhpid=$HANDLER_PID
HANDLER_PID=$bpid
kill "$vfio"
wait "$vfio" 2>/dev/null
vfio=''
log "bystander verified $runs times during the fuzz run"
((runs > 0)) || fail "the bystander never ran"

check "victim repaired" test "$(tcmu_info victim State)" = ok
check "bystander never broken" test "$(tcmu_info bystander State)" = ok
dmesg | grep -q "victim: handler broke the ring" ||
	fail "the fuzzer never broke the victim's ring (seed $seed)"
if dmesg | grep -q "bystander: handler broke"; then
	fail "the bystander was affected (seed $seed)"
fi
log "kernel reports: $(dmesg | grep -c 'handler broke the ring') broken-ring lines"
log "sd offlined the victim $(wc -l </tmp/victim-revived) times; revived"

grep -q "nl_rounds=[1-9]" /tmp/fuzz.out ||
	fail "the fuzzer never ran a netlink round (seed $seed)"
grep -q " completed=[1-9]" /tmp/fuzz.out ||
	fail "the fuzzer never completed a command: the victim had no IO (seed $seed)"

# the victim still works after all that, once revived (its honest
# handler serves it since the fuzzer ended)
victim_sized() {
	[[ $(cat "$sysdev/device/state") == running &&
		$(cat "$sysdev/size") -gt 0 ]]
}
revive_victim
echo 1 >"$sysdev/device/rescan"
tcmu_wait 30 victim_sized || fail "the victim did not come back (seed $seed)"
tcmu_fio_verify "$vdev" --rw=randwrite --bs=4k --iodepth=4 --size=2M ||
	fail "victim verify after the fuzz run (seed $seed): $(fio_log)"
tcmu_stop_pids "$vhpid"
vhpid=''
log "pass"
