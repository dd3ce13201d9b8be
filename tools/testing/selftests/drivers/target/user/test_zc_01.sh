#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Zero copy with the test handler: the attributes; fio --verify=crc32c
# through the window for writes, reads and a mix, 512 B to 1 MiB, page
# aligned and unaligned buffers, while the handler probes every buffer:
# bytes beside it are zero, a forked child cannot write WRITE data (and
# the data stays), process_vm_readv and O_DIRECT cannot pin it, and a
# second, mremap()ed mapping shows the same data.  Then: a command that
# times out while the handler still uses its buffer (no fault, revoked),
# KEEP_BUF on zero-copy commands, a handler killed with buffers mapped,
# and removing the device during zero-copy IO.
. "$(dirname "$0")/test_common.sh"
LOOP=
cleanup() {
	tcmu_cleanup
	[[ -n $LOOP ]] && losetup -d "$LOOP"
	rm -f /tmp/zc-dio.img
}
trap cleanup EXIT
check "insmod" tcmu_mod_load

# counter NAME of the handler's last "counters:" line
hcount() {
	sed -n 's/^counters://p' "/tmp/handler-$1.log" | tail -n1 |
		tr ' ' '\n' | sed -n "s/^$2=//p"
}
# re-export z1 with cmd_time_out $1 (only possible unexported); sets dev
reexport() {
	tcmu_handler z1 --threads 2
	tcmu_dev_unexport z1
	echo "$1" >"$A/cmd_time_out"
	dev=$(tcmu_dev_export z1) || fail "export with cmd_time_out $1"
	tcmu_handler_stop
}
handler_gone() { ! kill -0 "$HANDLER_PID" 2>/dev/null; }
# hcount_is DEV NAME OP VALUE: e.g. hcount_is z1 zc_foreign -eq 0
hcount_is() {
	local v
	v=$(hcount "$1" "$2")
	[[ -n $v ]] && test "$v" "$3" "$4"
}

# --- attributes
mkdir -p "$HBA/zoff" || fail "mkdir zoff"
check "zero_copy is off by default" test "$(cat "$HBA/zoff/attrib/zero_copy")" = 0
check "zero_copy_min_kb defaults to 64" \
	test "$(cat "$HBA/zoff/attrib/zero_copy_min_kb")" = 64
expect_einval "$HBA/zoff/attrib/zero_copy" 2 zero_copy
expect_einval "$HBA/zoff/attrib/zero_copy" on zero_copy
expect_einval "$HBA/zoff/attrib/zero_copy_min_kb" 8193 zero_copy_min_kb
expect_einval "$HBA/zoff/attrib/zero_copy_min_kb" -1 zero_copy_min_kb
check "zero_copy_read defaults to 0" \
	test "$(cat "$HBA/zoff/attrib/zero_copy_read")" = 0
expect_einval "$HBA/zoff/attrib/zero_copy_read" 2 zero_copy_read
rmdir "$HBA/zoff"

tcmu_dev_create z1 64M max_data_area_mb=8 hw_max_sectors=2048 zero_copy=1 \
	zero_copy_min_kb=0 zero_copy_read=1
A=$HBA/z1/attrib
check "zero_copy reads back 1" test "$(cat "$A/zero_copy")" = 1
expect_einval "$A/zero_copy" 0 zero_copy
# the unchanged value is accepted after enable (targetcli restoreconfig)
check "zero_copy=1 written again after enable" \
	bash -c "echo 1 >'$A/zero_copy'"
check "ZeroCopy: on in info" info_is z1 ZeroCopy on
# ring 8 MiB + data area 8 MiB + 128 slots of 1 MiB + 1 page
check "map0 ends after the window" test \
	"$(cat /sys/class/uio/uio*/maps/map0/size)" = \
	"$(printf '0x%016x' $((16 * 1048576 + 128 * 257 * 4096)))"

truncate -s 16M /tmp/zc-dio.img
LOOP=$(losetup -f --show /tmp/zc-dio.img) || fail "losetup for the O_DIRECT probe"

tcmu_handler z1 --threads 4 --ooo --zc-probe --zc-dio "$LOOP"
dev=$(tcmu_dev_export z1) || fail "export"
for align in 0 512; do
	tcmu_fio_verify "$dev" --rw=randwrite --bsrange=512-1m --iodepth=8 \
		--size=16M --mem_align=$align ||
		fail "fio randwrite 512-1m mem_align=$align: $(fio_log)"
	tcmu_fio_verify "$dev" --rw=randrw --bsrange=512-1m --iodepth=8 \
		--size=16M --mem_align=$align ||
		fail "fio randrw 512-1m mem_align=$align: $(fio_log)"
	log "ok: fio verify, mem_align=$align"
done
tcmu_fio_verify "$dev" --rw=write --bs=1m --iodepth=4 --size=16M ||
	fail "fio write 1m: $(fio_log)"
tcmu_handler_stop
grep -q "caps.* ZERO_COPY" /tmp/handler-z1.log ||
	fail "the mailbox does not advertise ZERO_COPY"
log "handler $(grep '^counters:' /tmp/handler-z1.log)"
log "kernel $(grep ZeroCopy "$HBA/z1/info")"
check "handler saw zero-copy commands" hcount_is z1 zc -gt 100
for c in zc_foreign zc_allowed zc_changed zc_gup_ok zc_dio_ok zc_alias_bad; do
	check "handler counter $c is 0" hcount_is z1 $c -eq 0
done
for c in zc_denied zc_gup_refused zc_dio_refused; do
	check "handler counter $c is not 0" hcount_is z1 $c -gt 0
done
check "kernel counted zero-copy commands" info_nonzero z1 ZcCmds
check "unaligned buffers were bounced" info_nonzero z1 ZcBounced
check "write faults were refused" info_nonzero z1 ZcWriteDenied
check "handler faults mapped slots" info_nonzero z1 ZcFaults
check "slots were zapped" info_nonzero z1 ZcZaps
check "nothing fell back for size" info_is z1 ZcFallbackSmall 0

# --- threshold: below zero_copy_min_kb the copy path is taken
echo 64 >"$A/zero_copy_min_kb"
small=$(tcmu_info z1 ZcFallbackSmall)
tcmu_handler z1 --threads 2 --zc-probe
tcmu_fio_verify "$dev" --rw=randwrite --bs=4k --iodepth=4 --size=2M ||
	fail "fio 4k below the threshold: $(fio_log)"
tcmu_handler_stop
check "4k commands took the copy path" hcount_is z1 zc -eq 0
(($(tcmu_info z1 ZcFallbackSmall) > small)) || fail "ZcFallbackSmall did not move"
echo 0 >"$A/zero_copy_min_kb"

# --- zero_copy_read=0: READs take the copy path, WRITEs keep the window
echo 0 >"$A/zero_copy_read"
reads=$(tcmu_info z1 ZcFallbackRead)
cmds=$(tcmu_info z1 ZcCmds)
tcmu_handler z1 --threads 2 --zc-probe
tcmu_fio_verify "$dev" --rw=randwrite --bs=128k --iodepth=4 --size=4M ||
	fail "fio with zero_copy_read=0: $(fio_log)"
tcmu_handler_stop
(($(tcmu_info z1 ZcFallbackRead) > reads)) || fail "no READ took the copy path"
(($(tcmu_info z1 ZcCmds) > cmds)) || fail "WRITEs stopped using the window"
echo 1 >"$A/zero_copy_read"

# --- KEEP_BUF: the buffer is copied out and stays until freed
tcmu_handler z1 --keep-buf
dd if=/dev/urandom of="$dev" bs=256k count=2 oflag=direct 2>/dev/null ||
	fail "write with keep-buf handler"
read -r -a ids <<<"$(sed -n 's/^keep_buf: id=//p' /tmp/handler-z1.log | tr '\n' ' ')"
((${#ids[@]} >= 2)) || fail "handler kept ${#ids[@]} buffers"
check "kept zero-copy buffers counted" info_nonzero z1 ZcKept
echo "${ids[0]}" >"$HBA/z1/action/free_kept_buf" || fail "free_kept_buf"
tcmu_handler_stop

# --- a command times out while the handler still reads and writes it
reexport 2
tcmu_handler z1 --threads 2 --zc-late 5000
revoked=$(tcmu_info z1 ZcRevoked)
sg_raw -t 30 -s 262144 -i /dev/zero "$dev" 2a 00 00 00 00 00 00 02 00 00 \
	>/tmp/zc-sg.out 2>&1 && fail "a WRITE the handler sat on succeeded"
sg_raw -t 30 -r 262144 "$dev" 28 00 00 00 00 00 00 02 00 00 \
	>/tmp/zc-sg.out 2>&1 && fail "a READ the handler sat on succeeded"
(($(tcmu_info z1 ZcRevoked) >= revoked + 2)) || fail "no slot was revoked"
sleep 6	# both commands' --zc-late touches are done by now
kill -0 "$HANDLER_PID" || fail "the handler died touching revoked buffers"
tcmu_handler_stop
check "late handler touched both buffers" hcount_is z1 zc_late -ge 2
check "state ok after timeouts" info_is z1 State ok
reexport 30

# --- the handler dies with buffers mapped; a new one takes over
tcmu_handler z1 --threads 4 --exit-after 40
fio --name=crash --filename="$dev" --direct=1 --ioengine=libaio \
	--rw=randwrite --bs=256k --iodepth=8 --size=16M --runtime=10 \
	--time_based >/dev/null 2>&1 &
fio_pid=$!
check "handler exited mid-IO" tcmu_wait 20 handler_gone
wait "$HANDLER_PID" 2>/dev/null
tcmu_handler z1 --threads 4
wait "$fio_pid" || log "fio across the crash reported errors (expected)"
tcmu_fio_verify "$dev" --rw=randwrite --bs=256k --iodepth=8 --size=16M ||
	fail "fio verify after the handler restart: $(fio_log)"

# --- remove the device during zero-copy IO
fio --name=rm --filename="$dev" --direct=1 --ioengine=libaio --rw=randrw \
	--bs=512k --iodepth=16 --size=32M --runtime=60 --time_based \
	>/dev/null 2>&1 &
fio_pid=$!
check "IO is flowing" tcmu_wait 20 info_nonzero z1 InFlight
tcmu_dev_unexport z1 || fail "unexport during IO"
wait "$fio_pid" && log "fio ended cleanly"
rmdir "$HBA/z1" || fail "rmdir during zero-copy IO"
tcmu_wait 10 handler_gone ||
	fail "handler still running after its device went away"
HANDLER_PID=
log "pass"
