#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The ring's pages come and go under IO (ring_mem.c).  A device with a
# 1 MiB ring takes bursts of commands while reclaim_idle_ms=1 trims its
# dead ring pages in every pause between them, so new entries keep
# racing the trims for the pages they need.  Phase 1: 4 KiB random
# writes and their verify reads, 24,576 commands of at least 128 bytes
# each, three wraps of the ring at least.  Phase 2: 4 KiB to 512 KiB
# writes at once, whose entries differ in size (iovec counts), so that
# entries span pages and PADs fill the ring's end.  The test handler
# checks every entry it reads and stops at a torn or misplaced one
# (die_ring); fio verifies every byte.  Trims must have happened while
# fio ran (RingPagesTrimmed rises in each phase), and once idle the
# device holds its mailbox page alone (RingPagesHeld 1, and
# global_ring_pages 1: the only device).
. "$(dirname "$0")/test_common.sh"
P=/sys/module/target_core_user/parameters
trap 'echo 5000 >$P/reclaim_idle_ms; tcmu_cleanup' EXIT
check "insmod" tcmu_mod_load

tcmu_dev_create rg 64M cmd_ring_size_mb=1 max_data_area_mb=16 \
	hw_max_sectors=1024
check "an enabled device without IO holds its mailbox page alone" \
	info_is rg RingPagesHeld 1
check "global_ring_pages counts it" test "$(cat $P/global_ring_pages)" = 1
tcmu_handler rg --threads 4 --ooo
hpid=$HANDLER_PID
dev=$(tcmu_dev_export rg) || fail "export rg"
check "reclaim_idle_ms 1" eval "echo 1 >$P/reclaim_idle_ms"

# run_phase NAME FIO-ARGS...: fio verify in bursts (20 ms pauses every
# 256 blocks); the trim counter must rise while it runs
run_phase() {
	local name=$1 before after
	shift
	before=$(tcmu_info rg RingPagesTrimmed)
	tcmu_fio_verify "$dev" --iodepth=16 --thinktime=20000 \
		--thinktime_blocks=256 "$@" || fail "$name: fio verify: $(fio_log)"
	kill -0 "$hpid" || fail "$name: the handler died: $(tail -n 5 /tmp/handler-rg.log)"
	after=$(tcmu_info rg RingPagesTrimmed)
	log "$name: $((after - before)) ring pages trimmed during fio," \
		"peak $(tcmu_info rg RingPagesPeak) of 256"
	((after > before)) || fail "$name: no ring page was trimmed while fio ran"
}
run_phase "4k wraps" --rw=randwrite --bs=4k --size=48M
run_phase "mixed sizes" --rw=randwrite --bssplit=4k/40:16k/20:64k/20:512k/20 \
	--size=32M
check "the handler read no bad entry" \
	eval "! grep -q fatal /tmp/handler-rg.log"
check "idle: the mailbox page alone" tcmu_wait 10 info_is rg RingPagesHeld 1
check "global_ring_pages back to 1" test "$(cat $P/global_ring_pages)" = 1
check "never broken" test "$(tcmu_info rg State)" = ok
tcmu_handler_stop
tcmu_dev_remove rg
check "no ring page left" test "$(cat $P/global_ring_pages)" = 0
