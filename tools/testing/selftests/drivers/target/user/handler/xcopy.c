// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-test-handler: third-party copy (SPC-4): EXTENDED COPY (LID1)
 * and RECEIVE COPY RESULTS, for what initiators use it for: copying
 * blocks inside one logical unit without moving them over the wire
 * (VMware's XCOPY, Windows' offloaded copy through LIO, libiscsi).
 *
 * Supported: identification CSCD descriptors (0xe4) and block-to-block
 * segment descriptors (0x02).  A CSCD descriptor that names this logical
 * unit by its NAA designator is a copy target the handler can reach; any
 * other one, used by a segment, aborts the copy with COPY TARGET DEVICE
 * NOT REACHABLE, which tells the initiator to fall back to READ and
 * WRITE.  Every segment is checked before the first is copied, and the
 * copy is done when the command completes: there is no copy in the
 * background to report on, so RECEIVE COPY RESULTS answers only with
 * its operating parameters and list identifiers are not kept (SNLID=1).
 */
#include "scsi.h"

#define XCOPY_HDR_LEN		16
#define CSCD_LEN		32	/* identification descriptor */
#define SEGMENT_LEN		28	/* block-to-block descriptor */
#define MAX_CSCDS		8
#define MAX_SEGMENTS		8
#define MAX_LIST_LEN		(MAX_CSCDS * CSCD_LEN + MAX_SEGMENTS * SEGMENT_LEN)

/* One block-to-block segment, decoded */
struct segment {
	uint16_t src, dst;	/* CSCD descriptor indexes */
	uint16_t nb;		/* blocks */
	uint64_t src_lba, dst_lba;
};

static void param_error(struct hcmd *c, uint16_t asc)
{
	sense(c, SK_ILLEGAL_REQUEST, asc);
}

static void copy_aborted(struct hcmd *c, uint16_t asc)
{
	sense(c, SK_COPY_ABORTED, asc);
}

/*
 * Check the identification CSCD descriptor @d; *@ours tells whether it
 * names this logical unit.  False (sense set) if it is malformed.
 */
static bool parse_cscd(struct hcmd *c, const uint8_t *d, bool *ours)
{
	if (d[0] != 0xe4) {
		param_error(c, ASC_UNSUPPORTED_TARGET_DESC);
		return false;
	}
	/* LU ID TYPE 0 (LUN) and a block device only */
	if ((d[1] >> 6) || (d[1] & 0x1f)) {
		param_error(c, ASC_INVALID_FIELD_IN_PARAM);
		return false;
	}
	/* not NUL; binary, LU-associated NAA designator: ours if it matches */
	*ours = !(d[1] & 0x20) && (d[4] & 0x0f) == 1 && d[5] == 0x03 &&
		d[7] == sizeof(lu.naa) && !memcmp(d + 8, lu.naa, sizeof(lu.naa));
	return true;
}

/* Decode the block-to-block segment descriptor @d (@len bytes left) */
static bool parse_segment(struct hcmd *c, const uint8_t *d, uint32_t len,
			  struct segment *s)
{
	if (d[0] != 0x02) {
		param_error(c, ASC_UNSUPPORTED_SEGMENT_DESC);
		return false;
	}
	if (len < SEGMENT_LEN) {
		param_error(c, ASC_PARAM_LIST_LENGTH);
		return false;
	}
	if (get_be16(d + 2) != SEGMENT_LEN - 4) {
		param_error(c, ASC_INVALID_FIELD_IN_PARAM);
		return false;
	}
	s->src = get_be16(d + 4);
	s->dst = get_be16(d + 6);
	s->nb = get_be16(d + 10);
	s->src_lba = get_be64(d + 12);
	s->dst_lba = get_be64(d + 20);
	return true;
}

/* Can the copy of @s run: both ends this logical unit, in range? */
static bool segment_ok(struct hcmd *c, const struct segment *s,
		       const bool *ours, unsigned int ncscd)
{
	uint64_t n = lu.nblocks;

	if (s->src >= ncscd || s->dst >= ncscd || !ours[s->src] ||
	    !ours[s->dst]) {
		copy_aborted(c, ASC_COPY_TARGET_UNREACHABLE);
		return false;
	}
	/* no copy target command to take the sense from: none added */
	if (s->src_lba > n || s->nb > n - s->src_lba || s->dst_lba > n ||
	    s->nb > n - s->dst_lba) {
		copy_aborted(c, ASC_NONE);
		return false;
	}
	return true;
}

/*
 * Parse the descriptor lists in @p (@tdll bytes of CSCD descriptors,
 * then @sdll of segment descriptors) into @seg; the segment count, or
 * -1 with the sense set.
 */
static int parse_lists(struct hcmd *c, const uint8_t *p, uint32_t tdll,
		       uint32_t sdll, struct segment *seg)
{
	bool ours[MAX_CSCDS];
	unsigned int ncscd = tdll / CSCD_LEN, nseg = 0, i;
	uint32_t off;

	if (tdll % CSCD_LEN) {
		param_error(c, ASC_INVALID_FIELD_IN_PARAM);
		return -1;
	}
	if (ncscd > MAX_CSCDS) {
		param_error(c, ASC_TOO_MANY_TARGET_DESCS);
		return -1;
	}
	if (sdll > MAX_SEGMENTS * SEGMENT_LEN) {
		param_error(c, ASC_TOO_MANY_SEGMENT_DESCS);
		return -1;
	}
	for (i = 0; i < ncscd; i++)
		if (!parse_cscd(c, p + i * CSCD_LEN, &ours[i]))
			return -1;
	for (off = 0; off < sdll; off += SEGMENT_LEN, nseg++) {
		if (!parse_segment(c, p + tdll + off, sdll - off, &seg[nseg]))
			return -1;
	}
	for (i = 0; i < nseg; i++)
		if (!segment_ok(c, &seg[i], ours, ncscd))
			return -1;
	return (int)nseg;
}

void xcopy_extended_copy(struct hcmd *c)
{
	uint8_t p[XCOPY_HDR_LEN + MAX_LIST_LEN];
	struct segment seg[MAX_SEGMENTS];
	uint64_t plen, tdll, sdll, bs = lu.block_size;
	int i, nseg;

	if (c->cdb[1] & 0x1f) {		/* LID4 and the rest: no */
		invalid_field(c);
		return;
	}
	if (!param_list_len(c, get_be32(c->cdb + 10), XCOPY_HDR_LEN, &plen))
		return;
	iov_read(c, 0, p, XCOPY_HDR_LEN);
	tdll = get_be16(p + 2);
	sdll = get_be32(p + 8);
	if (tdll + sdll > MAX_LIST_LEN ||
	    XCOPY_HDR_LEN + tdll + sdll + get_be32(p + 12) > plen) {
		param_error(c, ASC_PARAM_LIST_LENGTH);
		return;
	}
	if (get_be32(p + 12)) {		/* inline data: not supported */
		param_error(c, ASC_INVALID_FIELD_IN_PARAM);
		return;
	}
	iov_read(c, XCOPY_HDR_LEN, p + XCOPY_HDR_LEN, tdll + sdll);
	nseg = parse_lists(c, p + XCOPY_HDR_LEN, tdll, sdll, seg);
	for (i = 0; i < nseg; i++) {
		store_copy(seg[i].dst_lba * bs, seg[i].src_lba * bs,
			   seg[i].nb * bs);
		count(&cnt.bytes_written, seg[i].nb * bs);
	}
}

/* RECEIVE COPY RESULTS, OPERATING PARAMETERS: the limits above */
static void operating_params(struct hcmd *c)
{
	uint8_t b[46] = { 0 };

	put_be(b, sizeof(b) - 4, 4);		/* available data */
	b[4] = 0x01;				/* SNLID */
	put_be(b + 8, MAX_CSCDS, 2);
	put_be(b + 10, MAX_SEGMENTS, 2);
	put_be(b + 12, MAX_LIST_LEN, 4);
	put_be(b + 16, 0xffffULL * lu.block_size, 4);	/* segment length */
	put_be(b + 34, 1, 2);			/* total concurrent copies */
	b[36] = 1;				/* maximum concurrent copies */
	b[37] = 9;				/* data segment granularity: 512 */
	b[43] = 2;				/* implemented descriptor codes: */
	b[44] = 0x02;				/* block to block */
	b[45] = 0xe4;				/* identification CSCD */
	data_in(c, b, sizeof(b), get_be32(c->cdb + 10));
}

void xcopy_receive_copy_results(struct hcmd *c)
{
	if ((c->cdb[1] & 0x1f) == RCR_OPERATING_PARAMS)
		operating_params(c);
	else
		invalid_field(c);
}
