// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-test-handler: probes of the zero-copy window.
 *
 * Commands whose entry carries TCMU_KFLAG_ZERO_COPY have their iovecs in
 * the window after the data area.  With --zc-probe every such command is
 * checked before it runs:
 *   - the bytes of its pages beside its iovecs must be zero (the kernel
 *     copies a partly covered page into a zeroed one instead of showing
 *     the rest of the request's page);
 *   - every 8th WRITE: a forked child stores into the data, which must
 *     kill it (SIGBUS or SIGSEGV), and the data must be unchanged;
 *   - every 8th command: process_vm_readv() on the data, which pins user
 *     pages, must fail with EFAULT.
 * --zc-probe also maps the device a second time and moves that mapping
 * with mremap(); a WRITE's data must read the same through it.
 * --zc-dio PATH O_DIRECT-writes every 8th WRITE's first page-aligned page
 * to PATH (a block device): that pins the page too and must fail.
 * --zc-late MS sleeps before completing each command, then reads every
 * byte and, for READs, writes every byte: with cmd_time_out shorter than
 * MS the kernel has revoked the buffer by then, and none of it may fault.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "handler.h"

#define PROBE_EVERY	8
#define PAGE		4096UL

static atomic_ulong nth;
static int dio_fd = -1;
static const struct tdev *dev;
static uint8_t *alias;	/* second mapping of the device, moved */

/* Map the device again and move the mapping elsewhere. */
static int map_alias(void)
{
	void *a, *to;

	a = mmap(NULL, dev->map_size, PROT_READ, MAP_SHARED, dev->fd, 0);
	if (a == MAP_FAILED) {
		err("second mmap: %s", strerror(errno));
		return -1;
	}
	to = mmap(NULL, dev->map_size, PROT_NONE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (to == MAP_FAILED) {
		err("mmap: %s", strerror(errno));
		return -1;
	}
	alias = mremap(a, dev->map_size, dev->map_size,
		       MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (alias == MAP_FAILED) {
		err("mremap of the second mapping: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int zc_init(const struct tdev *d)
{
	dev = d;
	if (sysconf(_SC_PAGESIZE) != (long)PAGE) {
		err("zc probes assume %lu-byte pages", PAGE);
		return -1;
	}
	if (opt.zc_probe && map_alias())
		return -1;
	if (!opt.zc_dio)
		return 0;
	dio_fd = open(opt.zc_dio, O_WRONLY | O_DIRECT);
	if (dio_fd < 0) {
		err("--zc-dio %s: %s", opt.zc_dio, strerror(errno));
		return -1;
	}
	return 0;
}

static bool is_write(const struct hcmd *c)
{
	return scsi_is_rw(c) && (c->cdb[0] & 0x1f) != 0x08;	/* not READ */
}

static bool zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* Bytes of the first and last page of each iovec outside the iovec */
static void probe_beside(const struct hcmd *c)
{
	uint32_t i;

	for (i = 0; i < c->iov_cnt; i++) {
		uint8_t *b = c->iov[i].iov_base;
		uint8_t *e = b + c->iov[i].iov_len;
		uint8_t *pb = (uint8_t *)((uintptr_t)b & ~(PAGE - 1));
		uint8_t *pe = (uint8_t *)(((uintptr_t)e + PAGE - 1) &
					  ~(PAGE - 1));

		if (!zero(pb, b - pb) || !zero(e, pe - e)) {
			count(&cnt.zc_foreign, 1);
			err("cmd %u: non-zero bytes beside iovec %u", c->id, i);
		}
	}
}

/* The moved second mapping shows the same bytes */
static void probe_alias(const struct hcmd *c)
{
	const uint8_t *p = c->iov[0].iov_base;
	size_t n = c->iov[0].iov_len < 64 ? c->iov[0].iov_len : 64;

	if (memcmp(alias + (p - dev->map), p, n)) {
		count(&cnt.zc_alias_bad, 1);
		err("cmd %u: the second mapping shows other data", c->id);
	}
}

/* A forked child writes into WRITE data: it must die of the fault. */
static void probe_write(const struct hcmd *c)
{
	volatile uint8_t *p = c->iov[0].iov_base;
	uint8_t before[64], after[64];
	size_t n = c->iov[0].iov_len < sizeof(before) ?
		   c->iov[0].iov_len : sizeof(before);
	int status;
	pid_t pid;

	memcpy(before, (const void *)p, n);
	pid = fork();
	if (pid < 0) {
		err("fork: %s", strerror(errno));
		return;
	}
	if (!pid) {
		signal(SIGBUS, SIG_DFL);
		signal(SIGSEGV, SIG_DFL);
		p[0] = (uint8_t)~before[0];
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status) &&
	    (WTERMSIG(status) == SIGBUS || WTERMSIG(status) == SIGSEGV)) {
		count(&cnt.zc_denied, 1);
	} else {
		count(&cnt.zc_allowed, 1);
		err("cmd %u: a write into WRITE data did not fault", c->id);
	}
	memcpy(after, (const void *)p, n);
	if (memcmp(before, after, n)) {
		count(&cnt.zc_changed, 1);
		err("cmd %u: WRITE data changed by the probe", c->id);
	}
}

/* process_vm_readv() pins the source pages: window pages cannot be. */
static void probe_gup(const struct hcmd *c)
{
	uint8_t buf[512];
	struct iovec local = { buf, sizeof(buf) };
	struct iovec remote = c->iov[0];

	if (remote.iov_len > sizeof(buf))
		remote.iov_len = sizeof(buf);
	local.iov_len = remote.iov_len;
	if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) < 0 &&
	    (errno == EFAULT || errno == EEXIST)) {
		count(&cnt.zc_gup_refused, 1);
	} else {
		count(&cnt.zc_gup_ok, 1);
		err("cmd %u: process_vm_readv of a window buffer worked", c->id);
	}
}

/* O_DIRECT from a window page must fail: it would pin the page. */
static void probe_dio(const struct hcmd *c)
{
	uint32_t i;

	for (i = 0; i < c->iov_cnt; i++) {
		uintptr_t b = (uintptr_t)c->iov[i].iov_base;
		uintptr_t a = (b + PAGE - 1) & ~(PAGE - 1);

		if (a + PAGE > b + c->iov[i].iov_len)
			continue;
		ssize_t r = pwrite(dio_fd, (void *)a, PAGE, 0);

		/* GUP's EEXIST (a PTE without a page) comes out as it is */
		if (r < 0 && (errno == EFAULT || errno == EEXIST)) {
			count(&cnt.zc_dio_refused, 1);
		} else {
			count(&cnt.zc_dio_ok, 1);
			err("cmd %u: O_DIRECT write from the window: %zd (%s)",
			    c->id, r, r < 0 ? strerror(errno) : "written");
		}
		return;
	}
}

void zc_before(struct hcmd *c)
{
	unsigned long n;

	count(&cnt.zc, 1);
	if (!c->iov_cnt)
		return;
	n = atomic_fetch_add(&nth, 1);
	if (opt.zc_probe) {
		probe_beside(c);
		if (is_write(c))
			probe_alias(c);
		if (n % PROBE_EVERY == 0)
			probe_gup(c);
		if (is_write(c) && n % PROBE_EVERY == 1)
			probe_write(c);
	}
	if (dio_fd >= 0 && is_write(c) && n % PROBE_EVERY == 2)
		probe_dio(c);
}

void zc_after(struct hcmd *c)
{
	struct timespec ts;
	volatile uint8_t sum = 0;
	uint32_t i;
	size_t j;

	if (!opt.zc_late_ms)
		return;
	ts.tv_sec = opt.zc_late_ms / 1000;
	ts.tv_nsec = (opt.zc_late_ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	for (i = 0; i < c->iov_cnt; i++) {
		uint8_t *p = c->iov[i].iov_base;

		for (j = 0; j < c->iov[i].iov_len; j++)
			sum += p[j];
		if (c->data_in)
			memset(p, 0x5a, c->iov[i].iov_len);
	}
	(void)sum;
	count(&cnt.zc_late, 1);
	if (opt.zc_probe && c->data_in)
		probe_alias(c);
}
