#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A one-node Ceph cluster for the rbd tests and the demo, on the guest's
# own 127.0.0.1 (messenger v2 only, port 3300 and the OSD's and the
# manager's ports above 6800): one monitor (a), one manager (x), one
# OSD (0) on memstore, a replicated pool "rbd" of size 1, cephx on.
# Everything the cluster writes (config, keyrings, monitor and OSD data,
# logs, admin sockets) lives under DIR, which should be on a tmpfs (the
# guest's /tmp): the VM's root filesystem is the host's, read-only.
#
# The OSD keeps its objects in memory (memstore): no disk image, no
# allocator or RocksDB under TCG, and a clean stop (SIGTERM) saves them
# under DIR.  The heartbeat settings are short so that an OSD that stops
# answering is noticed within seconds rather than the default 20 s (and
# tcmu-runner's RADOS timeout may be as short as 7 s), the PGs' read
# lease long, so that one stopped for a while serves again when resumed.
#
#   ceph.sh start DIR [POOL/IMAGE:SIZE]...  bring the cluster up, create
#                                           the images (rbd create --size)
#   ceph.sh stop DIR                        stop every daemon (SIGTERM)
#   ceph.sh pause DIR | resume DIR          SIGSTOP / SIGCONT the OSD: a
#                                           cluster that stops answering
# Clients use "-c DIR/ceph.conf" (client.admin's key is in DIR/keyring,
# which the config names); tcmu-runner's rbd handler takes the same as
# cfgstring options: rbd/POOL/IMAGE;conf=DIR/ceph.conf;id=admin
set -euo pipefail

log() { echo "[ceph] $*" >&2; }
die() {
	log "error: $*"
	[[ -z ${dir:-} ]] || tail -n 20 "$dir"/log/*.log >&2 2>/dev/null || true
	exit 1
}

# waits up to $1 s for "$@" to succeed
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		sleep 0.5
	done
}

pid_of() { cat "$dir/run/$1.pid" 2>/dev/null; }

write_conf() {
	cat >"$conf" <<EOF
[global]
fsid = $(uuidgen)
mon host = v2:127.0.0.1:3300
mon initial members = a
public addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
run dir = $dir/run
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
mon cluster log file = $dir/log/ceph.log
keyring = $dir/keyring
mon data = $dir/mon.\$id
osd data = $dir/osd.\$id
mgr data = $dir/mgr.\$id
osd objectstore = memstore
memstore device bytes = 2147483648
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
# the guest has no hostname, the OSD's default CRUSH location names it
crush location = root=default host=localhost
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
osd heartbeat interval = 1
osd heartbeat grace = 5
# A PG serves reads while its read lease lasts (grace x this ratio); a
# lone OSD has no peer to renew it, and one stopped for longer than the
# lease came back with its PGs "laggy", every op "waiting for readable"
# for minutes (seen after a 12 s SIGSTOP).  100 s outlasts the pauses.
osd pool default read lease ratio = 20
auth allow insecure global id reclaim = false
# a client that died (tcmu-runner killed) loses its watch, and with it
# the image's exclusive lock, after 10 s instead of 30
osd client watch timeout = 10
[client]
# every READ and WRITE goes to the OSD: no librbd cache that would
# answer while the cluster is stopped
rbd cache = false
[mgr]
mgr initial modules =
EOF
}

cmd_start() {
	local spec img size t0=$SECONDS uuid id fsid
	# the VM's guest starts with its loopback interface down
	ip link set lo up
	rm -rf "$dir"
	mkdir -p "$dir"/{run,log,mon.a,mgr.x}
	write_conf
	fsid=$(sed -n 's/^fsid = //p' "$conf")
	ceph-authtool "$dir/keyring" --create-keyring --gen-key -n mon. \
		--cap mon 'allow *' >/dev/null
	ceph-authtool "$dir/keyring" --gen-key -n client.admin \
		--cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' \
		>/dev/null
	monmaptool --create --addv a '[v2:127.0.0.1:3300]' --fsid "$fsid" \
		"$dir/monmap" >/dev/null
	ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" \
		--keyring "$dir/keyring" || die "monitor mkfs"
	ceph-mon -c "$conf" -i a || die "monitor start"
	wait_for 120 ceph -c "$conf" --connect-timeout 10 mon stat ||
		die "the monitor does not answer"
	log "monitor up ($((SECONDS - t0)) s)"

	uuid=$(uuidgen)
	id=$(ceph -c "$conf" osd new "$uuid") || die "osd new"
	mkdir -p "$dir/osd.$id"
	ceph-authtool "$dir/osd.$id/keyring" --create-keyring --gen-key \
		-n "osd.$id" >/dev/null
	ceph -c "$conf" auth add "osd.$id" osd 'allow *' \
		mon 'allow profile osd' mgr 'allow profile osd' \
		-i "$dir/osd.$id/keyring" 2>/dev/null || die "osd key"
	ceph-osd -c "$conf" -i "$id" --mkfs --osd-uuid "$uuid" \
		--keyring "$dir/osd.$id/keyring" 2>/dev/null || die "osd mkfs"
	ceph-osd -c "$conf" -i "$id" --keyring "$dir/osd.$id/keyring" \
		2>/dev/null || die "osd start"
	ceph -c "$conf" auth get-or-create mgr.x mon 'allow profile mgr' \
		osd 'allow *' >"$dir/mgr.x/keyring" || die "mgr key"
	ceph-mgr -c "$conf" -i x --keyring "$dir/mgr.x/keyring" ||
		die "manager start"
	wait_for 300 osd_up || die "the OSD did not come up"
	log "OSD up ($((SECONDS - t0)) s)"

	ceph -c "$conf" osd pool create rbd 8 8 >/dev/null 2>&1 ||
		die "pool create"
	rbd -c "$conf" pool init rbd || die "rbd pool init"
	for spec in "$@"; do
		img=${spec%%:*}
		size=${spec#*:}
		rbd -c "$conf" create --size "$size" "$img" ||
			die "rbd create $img"
	done
	wait_for 300 pgs_active || die "placement groups not active"
	log "cluster ready ($((SECONDS - t0)) s): $(ceph -c "$conf" -s \
		--format json | python3 -c 'import json, sys
s = json.load(sys.stdin)
print(s["health"]["status"], s["pgmap"]["num_pgs"], "pgs")')"
}

osd_up() {
	[[ $(ceph -c "$conf" osd stat --format json |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["num_up_osds"])') == 1 ]]
}

pgs_active() {
	ceph -c "$conf" pg stat | grep -Eq '^[0-9]+ pgs: [0-9]+ active\+clean;'
}

cmd_stop() {
	local n p pids=()
	for n in client.admin mgr.x osd.0 mon.a; do
		p=$(pid_of "$n") || continue
		kill -CONT "$p" 2>/dev/null || true
		kill "$p" 2>/dev/null && pids+=("$p")
	done
	for p in "${pids[@]}"; do
		wait_for 60 test ! -d "/proc/$p" || kill -9 "$p" 2>/dev/null || true
	done
}

cmd_pause() { kill -STOP "$(pid_of osd.0)"; }
cmd_resume() { kill -CONT "$(pid_of osd.0)"; }

cmd=${1:-}
dir=${2:-}
[[ -n $cmd && -n $dir ]] || {
	sed -n '/^#   ceph.sh/,/^# cfgstring/p' "$0" >&2
	exit 2
}
conf=$dir/ceph.conf
shift 2
case $cmd in
start | stop | pause | resume) "cmd_$cmd" "$@" ;;
*) die "unknown command $cmd" ;;
esac
