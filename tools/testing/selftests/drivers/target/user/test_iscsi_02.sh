#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The kernel's own iSCSI initiator on a user backstore: LIO's iSCSI target
# exports a tcmu-runner LUN (its qcow handler on a raw file) on the
# guest's 127.0.0.1:3260, open-iscsi's iscsiadm logs in, and fio verifies
# writes of 4 KiB to 1 MiB at queue depth 16 through the /dev/sdX the
# session brings, while tcmu-runner is killed (SIGKILL) and started again
# in the middle: it reopens the device and resets the ring, the commands
# it held are retried, and fio finds no bad data.  Then the session logs
# out.  make soak runs it once more with zero copy on.
. "$(dirname "$0")/test_common.sh"
command -v tcmu-runner >/dev/null || skip "tcmu-runner not installed"
command -v iscsiadm >/dev/null || skip "iscsiadm is not installed (Debian's open-iscsi)"
[[ -d /sys/class/iscsi_transport ]] || modprobe iscsi_tcp 2>/dev/null ||
	skip "the kernel has no iSCSI initiator (CONFIG_ISCSI_TCP)"
SIZE=128M
iqns=()
finish() {
	local i
	for i in "${iqns[@]}"; do
		tcmu_iscsi_logout "$i" >/dev/null 2>&1
	done
	tcmu_iscsi_unexport_all "$HBA"
	tcmu_teardown >/dev/null 2>&1
	tcmu_cleanup
}
trap finish EXIT
check "insmod" tcmu_mod_load
check "tcmu-runner starts" tcmu_start_runner


# round NAME [CONTROL...]: a user:qcow device NAME made through configfs
# with the CONTROL options, exported, logged in to, written and verified
# across a tcmu-runner crash, logged out and removed
round() {
	local name=$1 d=$HBA/$1 iqn dev fio_pid o served
	shift
	truncate -s "$SIZE" "/tmp/$name.raw"
	mkdir -p "$d" || fail "$name: mkdir"
	for o in "dev_config=qcow//tmp/$name.raw" \
		"dev_size=$(numfmt --from=iec $SIZE)" hw_max_sectors=2048 "$@"; do
		echo "$o" >"$d/control" || fail "$name: control $o"
	done
	echo 1 >"$d/enable" || fail "$name: enable"
	iqn=$(tcmu_iscsi_export "$d") || fail "$name: iSCSI export"
	dev=$(tcmu_iscsi_login "$iqn") || fail "$name: iscsiadm login"
	iqns+=("$iqn")
	log "$name: $iqn is $dev"
	# the KASAN kernel under TCG is slow, and the commands tcmu-runner
	# held when it died wait for the new one: more than sd's 30 s
	echo 180 >"/sys/block/${dev#/dev/}/device/timeout"

	tcmu_fio_verify "$dev" --rw=randwrite --bsrange=4k-1m --iodepth=16 \
		--size=48M --time_based --runtime="$(tcmu_form 30 120)" \
		--verify_backlog=64 &
	fio_pid=$!
	check "$name: IO completes" tcmu_wait 60 tcmu_disk_ios_over "$dev" 50
	check "$name: fio still running" kill -0 "$fio_pid"
	kill -KILL "$TCMU_RUNNER_PID"
	wait "$TCMU_RUNNER_PID" 2>/dev/null
	TCMU_RUNNER_PID=
	log "$name: killed tcmu-runner with $(tcmu_info_of "$d/info" InFlight) commands in flight"
	check "$name: tcmu-runner starts again" tcmu_start_runner
	served=$(tcmu_disk_ios "$dev")
	check "$name: IO completes again" tcmu_wait 120 tcmu_disk_ios_over "$dev" "$served"
	wait "$fio_pid" || fail "$name: fio verify across the crash: $(fio_log)"
	check "$name: no broken ring" test "$(tcmu_info_of "$d/info" State)" = ok
	[[ " $* " != *" zero_copy=1 "* ]] ||
		check "$name: commands went zero copy" \
			test "$(tcmu_info_of "$d/info" ZcCmds)" -gt 0
	check "$name: iscsiadm logout" tcmu_iscsi_logout "$iqn"
	iqns=()
	check "$name: the session's disk is gone" test ! -b "$dev"
	tcmu_iscsi_unexport "$d" || fail "$name: iSCSI unexport"
	rmdir "$d" || fail "$name: rmdir"
}

round is2
[[ ${TCMU_SOAK:-0} != 1 ]] ||
	round is2zc zero_copy=1 zero_copy_read=1 zero_copy_min_kb=4
tcmu_stop_runner
log "pass"
