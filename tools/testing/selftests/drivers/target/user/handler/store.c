// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-test-handler: the backing stores and the data movement between a
 * command's iovecs (in the shared mapping) and memory.
 *
 * "mem" keeps the whole device in an anonymous mapping, so a READ returns
 * what was written; "file:PATH" maps PATH shared instead, so the data
 * outlives the handler (restart and crash tests); "null" never touches
 * the data, so that benchmarks measure the kernel's data movement alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handler.h"

static uint8_t *mem;
static uint64_t mem_size;

/* Copy @len bytes of @buf into @c's iovecs and zero the rest of them. */
void iov_fill(const struct hcmd *c, const void *buf, uint64_t len)
{
	const uint8_t *src = buf;
	uint64_t n;
	uint32_t i;

	for (i = 0; i < c->iov_cnt; i++) {
		n = c->iov[i].iov_len < len ? c->iov[i].iov_len : len;
		memcpy(c->iov[i].iov_base, src, n);
		memset((uint8_t *)c->iov[i].iov_base + n, 0,
		       c->iov[i].iov_len - n);
		src += n;
		len -= n;
	}
}

static void copy_from_iov(const struct hcmd *c, uint8_t *dst, uint64_t len)
{
	uint64_t n;
	uint32_t i;

	for (i = 0; i < c->iov_cnt && len; i++) {
		n = c->iov[i].iov_len < len ? c->iov[i].iov_len : len;
		memcpy(dst, c->iov[i].iov_base, n);
		dst += n;
		len -= n;
	}
}

void store_read(const struct hcmd *c, uint64_t off, uint64_t len)
{
	if (mem)
		iov_fill(c, mem + off, len);
}

void store_write(const struct hcmd *c, uint64_t off, uint64_t len)
{
	if (mem)
		copy_from_iov(c, mem + off, len);
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

int store_init(uint64_t size)
{
	void *p;

	if (opt.store == STORE_NULL)
		return 0;
	if (size > SIZE_MAX) {
		err("--size %" PRIu64 " does not fit in memory", size);
		return -1;
	}
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
