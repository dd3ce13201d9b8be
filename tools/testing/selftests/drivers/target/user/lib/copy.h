/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The copy of READ and WRITE data between a store and a command's buffer,
 * shared by the test handler's mem store and the ublk server's, so that
 * the benchmark's two in-memory stores do the same work and its mem rows
 * compare the kernel paths, not two copies.
 *
 * A plain memcpy() would not do the same work in both: glibc picks its
 * method by size (vector moves below rep_movsb_threshold, about 2 KiB,
 * rep movsb above it, a vector loop again above rep_movsb_stop_threshold,
 * 512 KiB in the bench guest), and the block layer under the ublk LUN
 * merges sequential 256 KiB requests into 512 KiB ones.  On QEMU's
 * instruction-counted clock a rep movsb counts an instruction a byte, a
 * vector move one per 32 or 64 bytes, so the same bytes cost five times
 * more in one server than in the other.  Copying in pieces below the
 * threshold gives both the vector moves whatever the request's size.
 */
#ifndef _TCMU_SELFTEST_COPY_H
#define _TCMU_SELFTEST_COPY_H

#include <stddef.h>
#include <string.h>

#define STORE_COPY_PIECE 2048

static inline void store_memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	size_t k;

	while (n) {
		k = n < STORE_COPY_PIECE ? n : STORE_COPY_PIECE;
		memcpy(d, s, k);
		d += k;
		s += k;
		n -= k;
	}
}

#endif
