// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-test-handler: the block commands (SBC-3).
 *
 * Each checks its fields, then its LBA range (ILLEGAL REQUEST, LBA OUT
 * OF RANGE), then moves data through store.c.  The logical unit has no
 * protection information (READ CAPACITY(16) PROT_EN=0), so a non-zero
 * RDPROTECT, WRPROTECT or VRPROTECT field is an INVALID FIELD IN CDB, as
 * SBC-3 wants.  Every write reaches the store before the command
 * completes, so DPO and FUA need no work (MODE SENSE says DPOFUA=1).
 *
 * With a store that keeps data (mem, file) the logical unit is thin
 * provisioned: UNMAP and WRITE SAME with UNMAP give the blocks' memory
 * back (store_unmap) and a deallocated block reads as zeros (LBPRZ=1).
 * GET LBA STATUS reports an all-zero block as deallocated: such a block
 * reads exactly as a deallocated one, and a thin store may drop it at
 * any time, so the answer holds for whatever wrote the zeros.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "scsi.h"

/*
 * GET LBA STATUS looks at no more blocks than this per command, so that
 * each costs little: it may end a descriptor before the status changes,
 * and the initiator asks again from where the last one ends.
 */
#define LBA_STATUS_SCAN_MAX	2048
#define LBA_STATUS_MAX_DESCS	64

static bool is_read(const struct hcmd *c)
{
	switch (c->cdb[0]) {
	case READ_6:
	case READ_10:
	case READ_12:
	case READ_16:
		return true;
	}
	return false;
}

bool scsi_is_rw(const struct hcmd *c)
{
	switch (c->cdb[0]) {
	case WRITE_6:
	case WRITE_10:
	case WRITE_12:
	case WRITE_16:
	case WRITE_VERIFY_10:
	case WRITE_VERIFY_12:
	case WRITE_VERIFY_16:
		return true;
	}
	return is_read(c);
}

/* LBA and block count of a CDB laid out as READ(6), (10), (12) or (16) */
static void lba_decode(const uint8_t *cdb, uint64_t *lba, uint32_t *nb)
{
	switch (cdb[0] >> 5) {		/* the group code gives the length */
	case 0:
		*lba = (uint32_t)(cdb[1] & 0x1f) << 16 | get_be16(cdb + 2);
		*nb = cdb[4] ? cdb[4] : 256;
		break;
	case 1:
	case 2:
		*lba = get_be32(cdb + 2);
		*nb = get_be16(cdb + 7);
		break;
	case 5:
		*lba = get_be32(cdb + 2);
		*nb = get_be32(cdb + 6);
		break;
	default:
		*lba = get_be64(cdb + 2);
		*nb = get_be32(cdb + 10);
		break;
	}
}

bool sbc_lba_ok(struct hcmd *c, uint64_t lba, uint64_t nb)
{
	if (lba <= lu.nblocks && nb <= lu.nblocks - lba)
		return true;
	sense(c, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	return false;
}

/* No protection information: RDPROTECT and friends must be zero. */
static bool protect_ok(struct hcmd *c)
{
	if (!(c->cdb[1] >> 5))
		return true;
	invalid_field(c);
	return false;
}

static void rw(struct hcmd *c, bool write)
{
	uint64_t lba, len;
	uint32_t nb;

	lba_decode(c->cdb, &lba, &nb);
	count(write ? &cnt.writes : &cnt.reads, 1);
	if (c->cdb[0] != READ_6 && c->cdb[0] != WRITE_6 && !protect_ok(c))
		return;
	if (!sbc_lba_ok(c, lba, nb))
		return;
	if (opt.fail_every &&
	    (atomic_fetch_add(&lu.io_seq, 1) + 1) % opt.fail_every == 0) {
		count(&cnt.injected, 1);
		sense(c, SK_MEDIUM_ERROR, write ? ASC_WRITE_ERROR :
		      ASC_UNRECOVERED_READ_ERROR);
		return;
	}
	len = (uint64_t)nb * lu.block_size;
	if (len != c->data_len)
		dbg("cmd %u: CDB moves %" PRIu64 " bytes, iovecs hold %" PRIu64,
		    c->id, len, c->data_len);
	if (len > c->data_len)
		len = c->data_len;
	if (write) {
		store_write(c, lba * lu.block_size, len);
		count(&cnt.bytes_written, len);
	} else {
		store_read(c, lba * lu.block_size, len);
		count(&cnt.bytes_read, len);
		c->data_in = true;
		c->in_len = c->data_len;
	}
}

/*
 * VERIFY: BYTCHK 0 checks the medium only (memory has no medium
 * errors), 1 compares the data-out with the blocks, 3 compares one
 * block of data-out with each block.  A difference is MISCOMPARE with
 * the offset of its first byte in the INFORMATION field.
 */
static void verify(struct hcmd *c)
{
	uint8_t bytchk = (c->cdb[1] >> 1) & 3;
	uint64_t lba, len;
	int64_t off;
	uint32_t nb;

	lba_decode(c->cdb, &lba, &nb);
	if (!protect_ok(c))
		return;
	if (bytchk == 2) {
		invalid_field(c);
		return;
	}
	if (!sbc_lba_ok(c, lba, nb) || !bytchk || !nb)
		return;
	len = (uint64_t)nb * lu.block_size;
	if (c->data_len < (bytchk == 1 ? len : lu.block_size)) {
		invalid_field(c);
		return;
	}
	off = store_compare(c, lba * lu.block_size, len,
			    bytchk == 1 ? len : lu.block_size);
	if (off >= 0)
		sense_info(c, SK_MISCOMPARE, ASC_MISCOMPARE_VERIFY, off);
}

/*
 * WRITE SAME writes its one block of data-out to every block of the
 * range; with UNMAP and a zero block it deallocates them instead, which
 * reads the same (LBPRZ).  WSNZ=1: a zero block count is refused.
 */
static void write_same(struct hcmd *c)
{
	uint8_t flags = c->cdb[1];
	uint64_t lba, off, len;
	uint32_t nb;

	lba_decode(c->cdb, &lba, &nb);
	if (!protect_ok(c))
		return;
	/* no ANCHOR (ANC_SUP=0), PBDATA, LBDATA (obsolete), NDOB (16) */
	if (flags & 0x17) {
		invalid_field(c);
		return;
	}
	if (!sbc_lba_ok(c, lba, nb))
		return;
	if (!nb || c->data_len != lu.block_size) {
		invalid_field(c);
		return;
	}
	off = lba * lu.block_size;
	len = (uint64_t)nb * lu.block_size;
	if (lu.thin && (flags & 0x08) && iov_zero(c, lu.block_size))
		store_unmap(off, len);
	else
		store_write_same(c, off, len, lu.block_size);
	count(&cnt.bytes_written, len);
}

/*
 * UNMAP: every descriptor is checked before any block is deallocated,
 * so that a bad one leaves the logical unit as it was.
 */
static bool unmap_descs(struct hcmd *c, uint32_t n, bool apply)
{
	uint8_t d[16];
	uint64_t lba;
	uint32_t i, nb;

	for (i = 0; i < n; i++) {
		iov_read(c, 8 + 16 * i, d, sizeof(d));
		lba = get_be64(d);
		nb = get_be32(d + 8);
		if (!apply && !sbc_lba_ok(c, lba, nb))
			return false;
		if (apply)
			store_unmap(lba * lu.block_size,
				    (uint64_t)nb * lu.block_size);
	}
	return true;
}

static void unmap(struct hcmd *c)
{
	uint64_t plen;
	uint8_t h[8];
	uint32_t n;

	if (c->cdb[1] & 0x01) {		/* ANCHOR: ANC_SUP=0 */
		invalid_field(c);
		return;
	}
	if (!param_list_len(c, get_be16(c->cdb + 7), sizeof(h), &plen))
		return;
	iov_read(c, 0, h, sizeof(h));
	n = get_be16(h + 2) / 16;	/* block descriptor data length */
	if (n > (plen - 8) / 16) {
		sense(c, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH);
		return;
	}
	if (unmap_descs(c, n, false))
		unmap_descs(c, n, true);
}

/* Blocks from @lba on with the provisioning status of @lba, at most @max */
static uint64_t lba_status_run(uint64_t lba, uint64_t max, bool *mapped)
{
	uint64_t n;

	*mapped = !lu.thin ||
		  !store_zero(lba * lu.block_size, lu.block_size);
	if (!lu.thin)
		return max;
	for (n = 1; n < max; n++)
		if (*mapped == store_zero((lba + n) * lu.block_size,
					  lu.block_size))
			break;
	return n;
}

static void get_lba_status(struct hcmd *c)
{
	uint8_t b[8 + 16 * LBA_STATUS_MAX_DESCS] = { 0 };
	uint32_t alloc = get_be32(c->cdb + 10), ndesc, i;
	uint64_t lba = get_be64(c->cdb + 2), run, budget;
	bool mapped;

	if (lba >= lu.nblocks) {
		sense(c, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return;
	}
	ndesc = alloc < 24 ? 1 : (alloc - 8) / 16;
	if (ndesc > LBA_STATUS_MAX_DESCS)
		ndesc = LBA_STATUS_MAX_DESCS;
	budget = LBA_STATUS_SCAN_MAX;
	for (i = 0; i < ndesc && lba < lu.nblocks && budget; i++) {
		run = lu.nblocks - lba;
		run = lba_status_run(lba, run < budget ? run : budget, &mapped);
		put_be(b + 8 + 16 * i, lba, 8);
		put_be(b + 16 + 16 * i, run, 4);
		b[20 + 16 * i] = mapped ? 0 : 1;	/* 1: deallocated */
		lba += run;
		budget -= run;
	}
	put_be(b, 4 + 16 * i, 4);	/* parameter data length */
	data_in(c, b, 8 + 16 * i, alloc);
}

/*
 * COMPARE AND WRITE: the first half of the data-out is compared with
 * the blocks and, if equal, the second half written, atomically with
 * respect to every other command (store_compare_write).
 */
static void compare_and_write(struct hcmd *c)
{
	uint64_t lba = get_be64(c->cdb + 2), len;
	uint32_t nb = c->cdb[13];
	int64_t off;

	if (!protect_ok(c) || !sbc_lba_ok(c, lba, nb))
		return;
	/* also when the 8-bit block count wrapped to 0 */
	len = (uint64_t)nb * lu.block_size;
	if (c->data_len != 2 * len) {
		invalid_field(c);
		return;
	}
	if (!nb)
		return;
	off = store_compare_write(c, lba * lu.block_size, len);
	if (off >= 0)
		sense_info(c, SK_MISCOMPARE, ASC_MISCOMPARE_VERIFY, off);
	else
		count(&cnt.bytes_written, len);
}

/*
 * PRE-FETCH: memory is the medium, so there is no cache to fill and
 * the status is GOOD (CONDITION MET would promise one); the store is
 * still asked to fault the range in.
 */
static void prefetch(struct hcmd *c)
{
	uint64_t lba;
	uint32_t nb;

	lba_decode(c->cdb, &lba, &nb);
	if (sbc_lba_ok(c, lba, nb))
		store_prefetch(lba * lu.block_size,
			       (uint64_t)nb * lu.block_size);
}

static void read_capacity_10(struct hcmd *c)
{
	uint64_t last = lu.nblocks - 1;
	uint8_t b[8];

	put_be(b, last > UINT32_MAX ? UINT32_MAX : last, 4);
	put_be(b + 4, lu.block_size, 4);
	data_in(c, b, sizeof(b), sizeof(b));
}

static void read_capacity_16(struct hcmd *c)
{
	uint8_t b[32] = { 0 };

	put_be(b, lu.nblocks - 1, 8);
	put_be(b + 8, lu.block_size, 4);
	if (lu.thin)
		b[14] = 0x80 | 0x40;	/* LBPME, LBPRZ */
	data_in(c, b, sizeof(b), get_be32(c->cdb + 10));
}

static bool service_action_in(struct hcmd *c)
{
	switch (c->cdb[1] & 0x1f) {
	case SAI_READ_CAPACITY_16:
		read_capacity_16(c);
		return true;
	case SAI_GET_LBA_STATUS:
		get_lba_status(c);
		return true;
	}
	return false;
}

/* Execute @c if it is a block command; false if it is not one. */
bool sbc_execute(struct hcmd *c)
{
	switch (c->cdb[0]) {
	case SYNCHRONIZE_CACHE_10:
	case SYNCHRONIZE_CACHE_16:
		break;
	case READ_CAPACITY_10:
		read_capacity_10(c);
		break;
	case SERVICE_ACTION_IN_16:
		return service_action_in(c);
	case VERIFY_10:
	case VERIFY_12:
	case VERIFY_16:
		verify(c);
		break;
	case WRITE_SAME_10:
	case WRITE_SAME_16:
		write_same(c);
		break;
	case UNMAP:
		if (!lu.thin)
			return false;
		unmap(c);
		break;
	case COMPARE_AND_WRITE:
		compare_and_write(c);
		break;
	case PRE_FETCH_10:
	case PRE_FETCH_16:
		prefetch(c);
		break;
	default:
		if (!scsi_is_rw(c))
			return false;
		rw(c, !is_read(c));
	}
	return true;
}
