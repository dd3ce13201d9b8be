#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Many devices, each cheap while idle (issue 21).  DENSITY_N devices
# (150 in CI, 300 under make soak; make bench's density section goes to
# 1,000) of 64 MiB with the default ring (8 MiB) and data area (1 GiB) are
# created and enabled; then DENSITY_SERVE of them (10, spread over all,
# the last one included) are served in turn by a test handler (which
# comes and goes; the last DENSITY_KEEP stay attached), exported on
# tcm_loop and given a verified burst: 1 MiB of random data written with
# O_DIRECT, read back and compared.  (Serving one costs 4-5 s in the
# debug guest, most of it the SCSI disk coming and going: make bench's
# density section serves every one of its devices.)  Once all are idle
# past reclaim_idle_ms, every device holds its mailbox page alone and no
# data page, and the kernel memory the devices add, per device, stays
# under DENSITY_LIMIT_KB (128): once enabled, and again idle after the
# IO.
# "Kernel memory" is tcmu_kmem_kb's (vm/guest-lib.sh): slab, vmalloc,
# per-CPU and bare pages (rings, data areas) all count, and in the debug
# kernel KASAN's redzones and shadow too, so the figure is an upper
# bound.  It is
# the cost of one more device: the first WARM devices (10), which pay
# for what target core and the driver set up once, are made before the
# figure's base.  Removing them all leaves no ring and no data page.
. "$(dirname "$0")/test_common.sh"
P=/sys/module/target_core_user/parameters
N=${DENSITY_N:-$(tcmu_form 150 300)}
SERVE=${DENSITY_SERVE:-10}
KEEP=${DENSITY_KEEP:-4}
WARM=10
LIMIT_KB=${DENSITY_LIMIT_KB:-128}
kept=()
cleanup() {
	tcmu_stop_pids "${kept[@]}"
	echo 5000 >$P/reclaim_idle_ms 2>/dev/null
	tcmu_cleanup
}
trap cleanup EXIT

check "insmod" tcmu_mod_load
check "reclaim_idle_ms 200" eval "echo 200 >$P/reclaim_idle_ms"
((N > WARM)) || fail "DENSITY_N must be above $WARM"
for ((i = 0; i < WARM; i++)); do
	tcmu_dev_create "d$i" 64M
done
base=$(tcmu_kmem_kb)
t0=$(now_ms)
for ((i = WARM; i < N; i++)); do
	tcmu_dev_create "d$i" 64M
done
t1=$(now_ms)
enabled=$(tcmu_kmem_kb)
per=$(((enabled - base) / (N - WARM)))
log "$N devices created and enabled, $(((t1 - t0) / (N - WARM))) ms each;" \
	"$per KiB each"
check "enabled: at most $LIMIT_KB KiB each" test "$per" -le "$LIMIT_KB"
check "a mailbox page each" test "$(cat $P/global_ring_pages)" = "$N"

((SERVE >= KEEP && SERVE <= N)) || fail "DENSITY_SERVE must be in $KEEP..$N"
head -c 1M /dev/urandom >/tmp/density.pat
t0=$(now_ms)
for ((s = 1; s <= SERVE; s++)); do
	i=$((s * N / SERVE - 1))
	tcmu_handler "d$i" --threads 1 --store mem
	dev=$(tcmu_dev_export "d$i") || fail "export d$i"
	tcmu_burst "$dev" /tmp/density.pat || fail "d$i: burst on $dev"
	info_nonzero "d$i" DataPagesPeak || fail "d$i: no data page was used"
	tcmu_dev_unexport "d$i" || fail "unexport d$i"
	if ((s > SERVE - KEEP)); then
		kept+=("$HANDLER_PID")
		HANDLER_PID=
	else
		tcmu_handler_stop
	fi
done
t1=$(now_ms)
log "$SERVE served in turn, $(((t1 - t0) / SERVE)) ms each"

# idle past reclaim_idle_ms: the reclaim thread trims them all
idle_all() {
	local i
	[[ $(cat $P/global_data_pages) == 0 ]] || return 1
	[[ $(cat $P/global_ring_pages) == "$N" ]] || return 1
	for ((i = 0; i < N; i++)); do
		info_is "d$i" RingPagesHeld 1 || return 1
		info_is "d$i" DataPagesHeld 0 || return 1
	done
}
check "idle: a mailbox page each and no data page" tcmu_wait 60 idle_all
for p in "${kept[@]}"; do
	kill -0 "$p" || fail "a handler kept attached died: $(tail -n 3 /tmp/handler-d*.log)"
done
idle=$(tcmu_kmem_kb)
# against the same base: what the IO left behind (on the devices, the
# handlers kept, tcm_loop and SCSI) counts in full
per=$(((idle - base) / (N - WARM)))
log "idle after IO: $per KiB each ($SERVE served, $KEEP handlers attached)"
check "idle after IO: at most $LIMIT_KB KiB each" test "$per" -le "$LIMIT_KB"
for ((i = 0; i < N; i++)); do
	[[ $(tcmu_info "d$i" State) == ok ]] || fail "d$i: $(cat "$HBA/d$i/info")"
done

tcmu_stop_pids "${kept[@]}"
kept=()
t0=$(now_ms)
for ((i = 0; i < N; i++)); do
	rmdir "$HBA/d$i" || fail "rmdir d$i"
done
t1=$(now_ms)
log "removed, $(((t1 - t0) / N)) ms each; $(((idle - $(tcmu_kmem_kb)) / N))" \
	"KiB each given back"
check "no ring page left" test "$(cat $P/global_ring_pages)" = 0
check "no data page left" test "$(cat $P/global_data_pages)" = 0
