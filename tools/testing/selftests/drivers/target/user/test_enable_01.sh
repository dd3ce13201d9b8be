#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# An enable that fails (the handler daemon refuses ADDED_DEVICE) leaves
# the device as it was and may be retried: ten refused enables in a row
# keep no memory (the 8 MiB ring of each comes back) and touch nothing
# freed (KASAN: the UIO device of a failed enable is gone), then an
# accepted one works under fio verify.  A process that maps the device
# during a failed enable keeps what it maps until it unmaps it: enable
# is refused meanwhile, and works after.
. "$(dirname "$0")/test_common.sh"
mapper=
finish() {
	[[ -n $mapper ]] && kill "$mapper" 2>/dev/null
	tcmu_nl_cleanup
}
trap finish EXIT
check "insmod" tcmu_mod_load

vmalloc_kb() { awk '/^VmallocUsed:/ { print $2 }' /proc/meminfo; }
try_enable() { echo 1 >"$HBA/en1/enable" 2>/dev/null; }
# the sysfs name file of en1's UIO device, if it has one
uio_name() { grep -ls '/en1/' /sys/class/uio/uio*/name; }

mkdir -p "$HBA/en1" || fail "mkdir"
echo dev_config=test/en1 >"$HBA/en1/control"
echo dev_size=$((32 << 20)) >"$HBA/en1/control"

# the daemon refuses every device: ENOENT, as tcmu-runner does when the
# backing file of the cfgstring is missing
tcmu_nl_daemon --nl-status -2
before=$(vmalloc_kb)
for i in $(seq 10); do
	try_enable && fail "refused enable $i succeeded"
done
after=$(vmalloc_kb)
check "ten refused ADDED_DEVICE" test "$(grep -c 'ADDED_DEVICE_DONE .*status=-2' "$NL_LOG")" -ge 10
log "VmallocUsed: ${before} kB before ten refused enables, ${after} kB after"
# each enable allocates an 8 MiB ring; what a failed one took comes back
((after - before < 4096)) || fail "refused enables kept $((after - before)) kB of vmalloc memory"
uio_name && fail "a refused enable left its UIO device"
check "state unconfigured" test "$(tcmu_info en1 State)" = unconfigured
tcmu_nl_daemon_stop

# a process maps the device while the daemon holds its refusal back: the
# daemon replies once the test has seen the mapping
rm -f /tmp/en1-mapped
tcmu_nl_daemon --nl-status -2 --nl-hold /tmp/en1-mapped
try_enable &
enabler=$!
tcmu_wait 20 uio_name >/dev/null || fail "no UIO device"
uio=$(uio_name)
uio=${uio%/name}
uio=${uio##*/}
python3 -c '
import mmap, os, sys, time
size = int(open(sys.argv[2]).read(), 0)
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
print("mapped", flush=True)
m[0:4]  # fault in the mailbox
time.sleep(3600)
' "/dev/$uio" "/sys/class/uio/$uio/maps/map0/size" >/tmp/mapper.out 2>&1 &
mapper=$!
tcmu_wait 50 grep -q mapped /tmp/mapper.out || fail "could not map /dev/$uio"
touch /tmp/en1-mapped
wait "$enabler" && fail "refused enable succeeded"
tcmu_nl_daemon_stop
tcmu_nl_daemon
try_enable && fail "enable succeeded while the failed one's memory is mapped"
dmesg | grep -q 'en1: enable: a handler still maps the device' ||
	fail "no log line for the refused enable"
kill "$mapper"
wait "$mapper" 2>/dev/null
mapper=
try_enable || fail "enable after the mapper exited"
check "ADDED accepted" grep -q "ADDED_DEVICE_DONE .*status=0 ret=0" "$NL_LOG"

tcmu_handler en1
dev=$(tcmu_dev_export en1) || fail "export"
tcmu_fio_verify "$dev" --rw=randwrite --bs=4k --iodepth=16 --size=16M ||
	fail "fio verify after the refused enables: $(fio_log)"
check "state ok" test "$(tcmu_info en1 State)" = ok
log "pass"
