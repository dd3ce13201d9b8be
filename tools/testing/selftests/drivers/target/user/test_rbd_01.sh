#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tcmu-runner's rbd handler on a real one-node Ceph cluster in the guest
# (vm/ceph.sh: monitor, manager and a memstore OSD on 127.0.0.1), the
# way the Ceph iSCSI gateway serves LUNs: user:rbd backstores made with
# targetcli, on an iSCSI TPG in an ALUA group of implicit failover (so
# that tcmu-runner locks the image and may reopen it), the IO through
# tcm_loop.  On each image: fio crc32c verify at 4 KiB to 1 MiB; an
# image resize (rbd resize, then dev_size) the initiator sees after a
# rescan; UNMAP (the objects go, zeros read back) and WRITE SAME;
# COMPARE AND WRITE that matches and one that does not; the OSD stopped
# (SIGSTOP) under a READ, so that the RADOS op times out and tcmu-runner
# reopens the image, then resumed (the READ and later IO complete);
# the same LUN over iSCSI, the kernel's initiator (open-iscsi) logged in
# to the TPG: fio verify, and the OSD stopped under a READ on that path,
# where tcmu-runner's recovery disables the group's port (the session
# drops) and enables it again once the image is open: the initiator logs
# back in and the READ completes;
# tcmu-runner killed (SIGKILL) under fio and started again: the new one
# blocklists the dead one and takes the lock over, fio finds no bad data.
#
# The rounds: the stock driver when this boot has it (Debian's kernel,
# or $TCMU_STOCK_KO), then this driver, then this driver with zero copy.
# Each round writes one outcome line per step, which must be the
# expected list; a stock round that differs is shown (stock's
# behaviour), this driver's rounds that differ fail the test.
# RBD_ROUNDS="ours ..." runs only the rounds named.
. "$(dirname "$0")/test_common.sh"
command -v tcmu-runner >/dev/null || skip "tcmu-runner not installed"
for p in ceph-mon ceph-osd ceph-mgr rbd sg_compare_and_write; do
	command -v "$p" >/dev/null || skip "$p is not installed (vm/deps.sh installs it)"
done
rbd_so=$(dirname "$(command -v tcmu-runner)")/../lib/x86_64-linux-gnu/tcmu-runner/handler_rbd.so
[[ -f $rbd_so ]] || skip "tcmu-runner's rbd handler is not installed"

CEPH=/tmp/ceph
CONF=$CEPH/ceph.conf
SIZE=$(tcmu_form 64 128) # MiB, each image
GROW=$((SIZE + 32))
# longer than the OSD's heartbeat grace and interval (vm/ceph.sh), as
# tcmu-runner demands
OSD_OP_TIMEOUT=8
finish() {
	# tcmu-runner's log (all rounds) next to the test's
	cp /tmp/tcmu-runner.log "${TCMU_OUT:-/tmp}/$TEST_NAME-runner.log" 2>/dev/null
	tcmu_teardown >/dev/null 2>&1
	rmmod target_core_user 2>/dev/null
	"$here/vm/ceph.sh" stop "$CEPH" 2>/dev/null
	tcmu_cleanup
}
trap finish EXIT

# the stock module, where this boot has one
stock_ko=${TCMU_STOCK_KO:-}
if [[ -z $stock_ko ]]; then
	ko=$(modinfo -n target_core_user 2>/dev/null) || true
	[[ -z $ko || $ko -ef $TCMU_KO ]] || stock_ko=$ko
fi
rounds=()
[[ -z $stock_ko ]] || rounds+=(stock)
rounds+=(ours ourszc)
# RBD_ROUNDS="ours ...": only those (to look into one)
[[ -z ${RBD_ROUNDS:-} ]] || read -r -a rounds <<<"$RBD_ROUNDS"
imgs=()
for r in "${rounds[@]}"; do
	imgs+=("rbd/$r:${SIZE}M")
done
check "the Ceph cluster starts" "$here/vm/ceph.sh" start "$CEPH" "${imgs[@]}"

# cfg IMAGE: the cfgstring of pool rbd's IMAGE (POOL/IMAGE;OPTIONS)
cfg() { echo "rbd/$1;osd_op_timeout=$OSD_OP_TIMEOUT;conf=$CONF;id=admin"; }

out=/tmp/rbd-results
rm -rf "$out"
mkdir -p "$out"

runner_log() { tail -n 8 /tmp/tcmu-runner.log; }

# say ROUND LINE: one outcome of ROUND
say() { echo "$2" >>"$out/$1"; log "$1: $2"; }

# tcmu-runner's log lines of ROUND's image, less the time stamps
runner_says() { sed -n "s/^.*rbd\/$1: //p" /tmp/tcmu-runner.log; }

# runner_has ROUND TEXT: tcmu-runner logged TEXT about ROUND's image
runner_has() { runner_says "$1" | grep -qF "$2"; }

# step ROUND LABEL CMD...: "LABEL: ok" when CMD succeeds, else
# "LABEL: failed" (and fio's output in the log, if CMD ran fio)
step() {
	local r=$1 l=$2
	shift 2
	if "$@"; then
		say "$r" "$l: ok"
	else
		say "$r" "$l: failed"
		[[ $1 != tcmu_fio_verify ]] || log "$(fio_log)"
	fi
}

# read_is DEV BS SKIP COUNT FILE: O_DIRECT read of DEV gives FILE's bytes
read_is() {
	dd if="$1" bs="$2" skip="$3" count="$4" iflag=direct status=none |
		cmp -s - "$5"
}

# scsi_status CMD...: the sg3-utils exit code, as a word
sg_status() {
	local rc=0
	"$@" >/tmp/sg.out 2>&1 || rc=$?
	case $rc in
	0) echo good ;;
	14) echo miscompare ;;
	*) echo "error $rc: $(tr '\n' ' ' </tmp/sg.out)" ;;
	esac
}

# alua_group DEVDIR: ALUA group "ao" (ceph-iscsi's name for the owner's)
# of implicit failover, with the device's iSCSI LUN in it
alua_group() {
	local g=$1/alua/ao a lun
	mkdir "$g" || return
	for a in tg_pt_gp_id=1 alua_access_type=1 implicit_trans_secs=60 \
		preferred=0 alua_support_transitioning=1; do
		echo "${a#*=}" >"$g/${a%=*}" || return
	done
	lun=/sys/kernel/config/target/iscsi/$(tcmu_iscsi_iqn "$1")/tpgt_1/lun/lun_0
	echo ao >"$lun/alua_tg_pt_gp"
}

# what the cluster and tcmu-runner were doing, into the test's log
cluster_state() {
	local c=(ceph -c "$CONF" --connect-timeout 10)
	"${c[@]}" -s
	"${c[@]}" health detail
	"${c[@]}" daemon osd.0 dump_ops_in_flight
	tail -n 20 "$CEPH/log/osd.0.log" /tmp/tcmu-runner.log
}

# iscsi_logged_in IQN: the initiator's session to IQN is logged in
iscsi_logged_in() {
	local s
	s=$(tcmu_iscsi_session "$1") && [[ $(cat "$s/state") == LOGGED_IN ]]
}

# outage ROUND DEV LABEL: the OSD stopped under a READ of DEV, resumed
# after tcmu-runner's op timed out; the READ waits, then completes
outage() {
	local r=$1 dev=$2 l=$3 n
	"$here/vm/ceph.sh" pause "$CEPH"
	# data fio wrote (8-9 MiB): librbd's object map answers for blocks
	# never written without asking the OSD
	dd if="$dev" of=/dev/null bs=64k count=16 skip=128 iflag=direct \
		status=none 2>/tmp/dd.err &
	n=$!
	sleep $((OSD_OP_TIMEOUT + 4))
	step "$r" "${l}READ waits while the cluster is stopped" kill -0 "$n"
	"$here/vm/ceph.sh" resume "$CEPH"
	# the OSD answers again: the READ ends within a few retries
	if ! tcmu_wait 120 eval "! kill -0 $n 2>/dev/null"; then
		log "$r: the READ still waits 120 s after the OSD resumed"
		cluster_state
	fi
	step "$r" "${l}READ after the outage" wait "$n"
	[[ ! -s /tmp/dd.err ]] || log "$r: dd: $(cat /tmp/dd.err)"
}

# unmapped IMAGE: the image has no data in its first 8 MiB (two objects)
unmapped() {
	[[ -z $(rbd -c "$CONF" diff --whole-object "rbd/$1" --format json |
		python3 -c 'import json, sys
print(*[e["offset"] for e in json.load(sys.stdin) if e["offset"] < 8 << 20])') ]]
}


round() {
	local r=$1 so=/backstores/user:rbd/$1 dev d b pat fio_pid n iqn idev
	log "round $r"
	if [[ $r == stock ]]; then
		modprobe -a target_core_mod uio 2>/dev/null
		insmod "$stock_ko" || fail "$r: insmod $stock_ko"
	else
		# shellcheck disable=SC2119 # no module parameters
		tcmu_mod_load || fail "$r: insmod $TCMU_KO"
	fi
	tcmu_start_runner || fail "$r: tcmu-runner starts"
	modprobe -a tcm_loop sd_mod

	if [[ $r == ourszc ]]; then
		# zero copy is set before enable, through configfs: targetcli
		# has no control string
		d=$HBA/$r
		mkdir -p "$d"
		for o in "dev_config=rbd/$(cfg "$r")" \
			"dev_size=$((SIZE << 20))" hw_max_sectors=2048 \
			zero_copy=1 zero_copy_read=1 zero_copy_min_kb=64; do
			echo "$o" >"$d/control" || fail "$r: control $o"
		done
		echo 1 >"$d/enable" || fail "$r: enable"
		dev=$(tcmu_loop_export "$d") || fail "$r: export"
	else
		# what a Ceph administrator types (gwcli does the same
		# through rtslib), on a tcm_loop target of its own
		dev=$(tcmu_targetcli_lun "$r" "${SIZE}M" "$(cfg "$r")" rbd) ||
			fail "$r: targetcli create: $(runner_log)"
		d=$(ls -d "$CORE"/user_*/"$r")
	fi
	# As the Ceph gateway (ceph-iscsi) sets a LUN up: on an iSCSI TPG, in
	# an ALUA group of implicit failover.  tcmu-runner reads the group:
	# it takes the image's exclusive lock before IO, and recovers the
	# device (reopens the image) when a port of the group is enabled.
	# The IO goes through tcm_loop, then through the TPG too.
	iqn=$(tcmu_iscsi_export "$d") || fail "$r: iSCSI export"
	alua_group "$d" || fail "$r: ALUA group"
	log "$r: $dev ($d)"
	echo 180 >"/sys/block/${dev#/dev/}/device/timeout"

	# IO of every size the gateway sees
	step "$r" "fio 4k" tcmu_fio_verify "$dev" --rw=randwrite --bs=4k \
		--iodepth=16 --size="$(tcmu_form 4M 32M)"
	step "$r" "fio 64k-1m" tcmu_fio_verify "$dev" --rw=randrw \
		--bsrange=64k-1m --iodepth=16 --size="$(tcmu_form 16M 64M)"

	# the image grows; the initiator sees it after a rescan
	rbd -c "$CONF" resize --size "${GROW}M" "rbd/$r" 2>/dev/null ||
		fail "$r: rbd resize"
	if [[ $r == ourszc ]]; then
		echo "$((GROW << 20))" >"$d/attrib/dev_size"
	else
		targetcli "$so" set attribute "dev_size=$((GROW << 20))" >&2
	fi
	say "$r" "dev_size: $(cat "$d/attrib/dev_size")"
	echo 1 >"/sys/block/${dev#/dev/}/device/rescan"
	say "$r" "initiator size: $(($(blockdev --getsize64 "$dev") >> 20)) MiB"
	step "$r" "fio grown" tcmu_fio_verify "$dev" --rw=write --bs=1m \
		--iodepth=4 --offset="${SIZE}M" --size=32M

	# UNMAP of whole 4 MiB objects reads back as zeros; WRITE SAME
	b=$(blockdev --getss "$dev")
	dd if=/dev/urandom of="$dev" bs=1M count=8 oflag=direct status=none
	say "$r" "unmap: $(sg_status sg_unmap --force --lba=0 \
		--num=$(((8 << 20) / b)) "$dev")"
	step "$r" "unmapped objects left the image" unmapped "$r"
	lbprz=$(sg_readcap --long "$dev" | sed -n 's/.*lbprz=\([01]\).*/\1/p')
	say "$r" "lbprz: $lbprz"
	# a LUN that reports LBPRZ reads zeros where it was unmapped
	head -c $((8 << 20)) /dev/zero >/tmp/zeros
	[[ $lbprz != 1 ]] ||
		step "$r" "unmapped reads zeros" read_is "$dev" 1M 0 8 /tmp/zeros
	head -c "$b" /dev/urandom >/tmp/ws.blk
	say "$r" "write same: $(sg_status sg_write_same --lba=100 --num=64 \
		--xferlen="$b" --in=/tmp/ws.blk "$dev")"
	for ((n = 0; n < 64; n++)); do cat /tmp/ws.blk; done >/tmp/ws.all
	step "$r" "write same reads back" read_is "$dev" "$b" 100 64 /tmp/ws.all

	# COMPARE AND WRITE: one block that matches, then one that does not
	pat=/tmp/caw.in
	{ cat /tmp/ws.blk; head -c "$b" /dev/urandom; } >"$pat"
	say "$r" "caw match: $(sg_status sg_compare_and_write --lba=100 \
		--num=1 --xferlen=$((2 * b)) --in="$pat" "$dev")"
	tail -c "$b" "$pat" >/tmp/caw.new
	step "$r" "caw wrote" read_is "$dev" "$b" 100 1 /tmp/caw.new
	say "$r" "caw miscompare: $(sg_status sg_compare_and_write --lba=100 \
		--num=1 --xferlen=$((2 * b)) --in="$pat" "$dev")"

	# the cluster stops answering under a READ: the rados op times out,
	# tcmu-runner reopens the image once the cluster is back
	outage "$r" "$dev" ""
	step "$r" "tcmu-runner saw the op time out" runner_has "$r" "Timing out cmd"
	step "$r" "tcmu-runner had taken the image's lock" \
		runner_has "$r" "Write lock acquisition successful"
	# its recovery: the image closed and opened again (a new client)
	step "$r" "tcmu-runner reopened the image" \
		test "$(runner_says "$r" | grep -c "^address: ")" -ge 2
	step "$r" "fio after the outage" tcmu_fio_verify "$dev" \
		--rw=randwrite --bs=16k --iodepth=8 --size=4M

	# over iSCSI: the kernel's initiator on the TPG's portal
	if idev=$(tcmu_iscsi_login "$iqn"); then
		say "$r" "iSCSI login: ok"
		echo 180 >"/sys/block/${idev#/dev/}/device/timeout"
		step "$r" "iSCSI fio 4k-1m" tcmu_fio_verify "$idev" --rw=randrw \
			--bsrange=4k-1m --iodepth=16 --size="$(tcmu_form 8M 32M)"
		# tcmu-runner's recovery takes the port down and up: the
		# session drops, the initiator logs in again
		outage "$r" "$idev" "iSCSI "
		step "$r" "tcmu-runner reopened the image again" \
			test "$(runner_says "$r" | grep -c "^address: ")" -ge 3
		step "$r" "the initiator's session is back" \
			tcmu_wait 120 iscsi_logged_in "$iqn"
		step "$r" "iSCSI fio after the outage" tcmu_fio_verify "$idev" \
			--rw=randwrite --bs=16k --iodepth=8 --size=4M
		tcmu_iscsi_logout "$iqn" >&2 || fail "$r: iSCSI logout"
	else
		say "$r" "iSCSI login: failed"
	fi

	# tcmu-runner dies holding the image's lock; a new one takes over
	tcmu_fio_verify "$dev" --rw=randwrite --bs=64k --iodepth=16 \
		--size=16M --time_based --runtime=30 --verify_backlog=64 &
	fio_pid=$!
	tcmu_wait 60 tcmu_disk_ios_over "$dev" 50 || say "$r" "no IO before the kill"
	kill -KILL "$TCMU_RUNNER_PID"
	wait "$TCMU_RUNNER_PID" 2>/dev/null
	TCMU_RUNNER_PID=
	tcmu_start_runner || fail "$r: tcmu-runner starts again"
	step "$r" "fio across the kill" wait "$fio_pid"
	step "$r" "the new tcmu-runner blocklisted the dead one" \
		runner_has "$r" "removing addrs"
	# what tcmu-runner did with the image (lock, time-outs, reopen)
	runner_says "$r" | sed 's/ [0-9][0-9.]* seconds/ N seconds/' |
		sort | uniq -c | while read -r line; do log "$r: tcmu-runner: $line"; done
	[[ $r == stock ]] ||
		check "$r: no broken ring" test "$(tcmu_info_of "$d/info" State)" = ok
	[[ $r != ourszc ]] ||
		check "$r: commands went zero copy" \
			test "$(tcmu_info_of "$d/info" ZcCmds)" -gt 0

	tcmu_iscsi_unexport "$d" || fail "$r: iSCSI unexport"
	rmdir "$d/alua/ao" || fail "$r: rmdir the ALUA group"
	if [[ $r == ourszc ]]; then
		tcmu_loop_unexport "$d"
		rmdir "$d" "$HBA" || fail "$r: rmdir"
	else
		targetcli clearconfig confirm=True >&2 || fail "$r: clearconfig"
	fi
	tcmu_stop_runner
	rmmod target_core_user || fail "$r: rmmod"
}

for r in "${rounds[@]}"; do
	round "$r"
done

# what every step must give (tcmu-runner 1.5.4's rbd handler reports
# LBPRZ)
expected="fio 4k: ok
fio 64k-1m: ok
dev_size: $((GROW << 20))
initiator size: $GROW MiB
fio grown: ok
unmap: good
unmapped objects left the image: ok
lbprz: 1
unmapped reads zeros: ok
write same: good
write same reads back: ok
caw match: good
caw wrote: ok
caw miscompare: miscompare
READ waits while the cluster is stopped: ok
READ after the outage: ok
tcmu-runner saw the op time out: ok
tcmu-runner had taken the image's lock: ok
tcmu-runner reopened the image: ok
fio after the outage: ok
iSCSI login: ok
iSCSI fio 4k-1m: ok
iSCSI READ waits while the cluster is stopped: ok
iSCSI READ after the outage: ok
tcmu-runner reopened the image again: ok
the initiator's session is back: ok
iSCSI fio after the outage: ok
fio across the kill: ok
the new tcmu-runner blocklisted the dead one: ok"
bad=0
for r in "${rounds[@]}"; do
	if [[ $(cat "$out/$r") == "$expected" ]]; then
		log "$r: every step as expected"
	elif [[ $r == stock ]]; then
		log "the stock driver differs from what is expected:"
		diff <(echo "$expected") "$out/$r" || true
	else
		log "$r differs from what is expected:"
		diff <(echo "$expected") "$out/$r" || true
		bad=1
	fi
done
((bad == 0)) || fail "rbd: steps gave other results (above)"
log "pass"
