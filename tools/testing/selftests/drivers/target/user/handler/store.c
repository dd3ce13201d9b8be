// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-test-handler: the backing stores and the data movement between a
 * command's iovecs (in the shared mapping) and memory.
 *
 * "mem" keeps the whole device in an anonymous mapping, so a READ returns
 * what was written; "file:PATH" maps PATH shared instead, so the data
 * outlives the handler (restart and crash tests); "null" never touches
 * the data, so that benchmarks measure the kernel's data movement alone:
 * there every compare matches and nothing is deallocated.
 *
 * COMPARE AND WRITE must be atomic with respect to every other command,
 * and the workers run commands in parallel: store_lock is held shared
 * by every other access to the store and exclusively by the compare and
 * write.  Writers are preferred, so that a stream of reads cannot hold
 * a COMPARE AND WRITE off for ever.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handler.h"
#include "../lib/copy.h"

static uint8_t *mem;
static uint64_t mem_size;
static pthread_rwlock_t store_lock;

/* Copy @len bytes of @buf into @c's iovecs and zero the rest of them. */
void iov_fill(const struct hcmd *c, const void *buf, uint64_t len)
{
	const uint8_t *src = buf;
	uint64_t n;
	uint32_t i;

	for (i = 0; i < c->iov_cnt; i++) {
		n = c->iov[i].iov_len < len ? c->iov[i].iov_len : len;
		store_memcpy(c->iov[i].iov_base, src, n);
		memset((uint8_t *)c->iov[i].iov_base + n, 0,
		       c->iov[i].iov_len - n);
		src += n;
		len -= n;
	}
}

/*
 * Walk the @len bytes of @c's data that start @off bytes in, one
 * iovec piece at a time: @fn gets the piece and its offset from @off,
 * and stops the walk by returning false.  Returns the bytes walked.
 */
static uint64_t iov_walk(const struct hcmd *c, uint64_t off, uint64_t len,
			 bool (*fn)(uint8_t *p, uint64_t n, uint64_t at,
				    void *arg), void *arg)
{
	uint64_t n, at = 0;
	uint32_t i;

	for (i = 0; i < c->iov_cnt && at < len; i++) {
		if (off >= c->iov[i].iov_len) {
			off -= c->iov[i].iov_len;
			continue;
		}
		n = c->iov[i].iov_len - off;
		if (n > len - at)
			n = len - at;
		if (!fn((uint8_t *)c->iov[i].iov_base + off, n, at, arg))
			return at;
		at += n;
		off = 0;
	}
	return at;
}

static bool piece_out(uint8_t *p, uint64_t n, uint64_t at, void *dst)
{
	store_memcpy((uint8_t *)dst + at, p, n);
	return true;
}

/* Copy @len bytes of @c's data from @off on into @dst; bytes copied. */
uint64_t iov_read(const struct hcmd *c, uint64_t off, void *dst, uint64_t len)
{
	return iov_walk(c, off, len, piece_out, dst);
}

static bool all_zero(const uint8_t *p, uint64_t n)
{
	return !n || (!p[0] && !memcmp(p, p + 1, n - 1));
}

static bool piece_zero(uint8_t *p, uint64_t n, uint64_t at, void *arg)
{
	(void)at;
	(void)arg;
	return all_zero(p, n);
}

/* Are the first @len bytes of @c's data all zero? */
bool iov_zero(const struct hcmd *c, uint64_t len)
{
	return iov_walk(c, 0, len, piece_zero, NULL) == len;
}

struct cmp {
	const uint8_t *mem;	/* compared with the iovec pieces */
	int64_t diff;		/* offset of the first difference, or -1 */
};

static bool piece_cmp(uint8_t *p, uint64_t n, uint64_t at, void *arg)
{
	struct cmp *m = arg;
	uint64_t i;

	if (!memcmp(p, m->mem + at, n))
		return true;
	for (i = 0; p[i] == m->mem[at + i]; i++)
		;
	m->diff = at + i;
	return false;
}

/* Compare @len bytes of @c's data from @ioff on with @p */
static int64_t iov_cmp(const struct hcmd *c, uint64_t ioff, const uint8_t *p,
		       uint64_t len)
{
	struct cmp m = { .mem = p, .diff = -1 };

	iov_walk(c, ioff, len, piece_cmp, &m);
	return m.diff;
}

void store_read(const struct hcmd *c, uint64_t off, uint64_t len)
{
	if (!mem)
		return;
	pthread_rwlock_rdlock(&store_lock);
	iov_fill(c, mem + off, len);
	pthread_rwlock_unlock(&store_lock);
}

void store_write(const struct hcmd *c, uint64_t off, uint64_t len)
{
	if (!mem)
		return;
	pthread_rwlock_rdlock(&store_lock);
	iov_read(c, 0, mem + off, len);
	pthread_rwlock_unlock(&store_lock);
}

/*
 * Compare the @len bytes at @off with @c's data, which repeats every
 * @unit bytes (@len for a plain compare).  Returns the offset of the
 * first difference, or -1.
 */
int64_t store_compare(const struct hcmd *c, uint64_t off, uint64_t len,
		      uint64_t unit)
{
	int64_t diff = -1;
	uint64_t at;

	if (!mem)
		return -1;
	pthread_rwlock_rdlock(&store_lock);
	for (at = 0; at < len && diff < 0; at += unit) {
		diff = iov_cmp(c, 0, mem + off + at, unit);
		if (diff >= 0)
			diff += at;
	}
	pthread_rwlock_unlock(&store_lock);
	return diff;
}

/*
 * COMPARE AND WRITE: if the @len bytes at @off equal the first @len
 * bytes of @c's data, write the next @len over them, with no other
 * command in between.  Returns the offset of the first difference, or
 * -1 when it wrote.
 */
int64_t store_compare_write(const struct hcmd *c, uint64_t off, uint64_t len)
{
	int64_t diff;

	if (!mem)
		return -1;
	pthread_rwlock_wrlock(&store_lock);
	diff = iov_cmp(c, 0, mem + off, len);
	if (diff < 0)
		iov_read(c, len, mem + off, len);
	pthread_rwlock_unlock(&store_lock);
	return diff;
}

/* Write the first @unit bytes of @c's data over the @len bytes at @off. */
void store_write_same(const struct hcmd *c, uint64_t off, uint64_t len,
		      uint64_t unit)
{
	uint64_t done, n;

	if (!mem)
		return;
	pthread_rwlock_rdlock(&store_lock);
	iov_read(c, 0, mem + off, unit);
	/* double what is written until the range is full */
	for (done = unit; done < len; done += n) {
		n = done < len - done ? done : len - done;
		memcpy(mem + off + done, mem + off, n);
	}
	pthread_rwlock_unlock(&store_lock);
}

/*
 * Deallocate the @len bytes at @off: whole pages go back to the kernel
 * (they read as zeros again), the partial pages at either end are
 * zeroed.  MADV_DONTNEED frees a private anonymous mapping's pages;
 * MADV_REMOVE punches a hole in a shared file's (where its filesystem
 * cannot, the pages are zeroed instead).
 */
void store_unmap(uint64_t off, uint64_t len)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t start = (off + pg - 1) / pg * pg, end = (off + len) / pg * pg;
	int advice = opt.store == STORE_FILE ? MADV_REMOVE : MADV_DONTNEED;

	if (!mem || !len)
		return;
	pthread_rwlock_rdlock(&store_lock);
	if (start >= end) {
		memset(mem + off, 0, len);
	} else {
		memset(mem + off, 0, start - off);
		memset(mem + end, 0, off + len - end);
		if (madvise(mem + start, end - start, advice))
			memset(mem + start, 0, end - start);
	}
	pthread_rwlock_unlock(&store_lock);
}

/* EXTENDED COPY: copy @len bytes from @src to @dst (they may overlap). */
void store_copy(uint64_t dst, uint64_t src, uint64_t len)
{
	if (!mem)
		return;
	pthread_rwlock_rdlock(&store_lock);
	memmove(mem + dst, mem + src, len);
	pthread_rwlock_unlock(&store_lock);
}

/* Are the @len bytes at @off all zero (as a deallocated range reads)? */
bool store_zero(uint64_t off, uint64_t len)
{
	bool zero;

	if (!mem)
		return false;
	pthread_rwlock_rdlock(&store_lock);
	zero = all_zero(mem + off, len);
	pthread_rwlock_unlock(&store_lock);
	return zero;
}

/* PRE-FETCH: fault the pages of the @len bytes at @off in. */
void store_prefetch(uint64_t off, uint64_t len)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t start = off / pg * pg;

	if (mem && len)
		madvise(mem + start, off + len - start, MADV_WILLNEED);
}

/* Map --store file:PATH, growing the file to @size if it is shorter. */
static void *map_file(uint64_t size)
{
	struct stat st;
	void *p = MAP_FAILED;
	int fd;

	fd = open(opt.store_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return MAP_FAILED;
	if (!fstat(fd, &st) &&
	    ((uint64_t)st.st_size >= size || !ftruncate(fd, (off_t)size)))
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p;
}

static int lock_init(void)
{
	pthread_rwlockattr_t a;
	int ret;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	ret = pthread_rwlock_init(&store_lock, &a);
	pthread_rwlockattr_destroy(&a);
	if (ret)
		err("store lock: %s", strerror(ret));
	return ret ? -1 : 0;
}

int store_init(uint64_t size)
{
	void *p;

	if (opt.store == STORE_NULL)
		return 0;
	if (size > SIZE_MAX) {
		err("--size %" PRIu64 " does not fit in memory", size);
		return -1;
	}
	if (lock_init())
		return -1;
	if (opt.store == STORE_FILE)
		p = map_file(size);
	else
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		err("store of %" PRIu64 " bytes%s%s: %s", size,
		    opt.store == STORE_FILE ? " in " : "",
		    opt.store == STORE_FILE ? opt.store_path : "",
		    strerror(errno));
		return -1;
	}
	mem = p;
	mem_size = size;
	return 0;
}

void store_exit(void)
{
	if (mem)
		munmap(mem, mem_size);
	mem = NULL;
}
