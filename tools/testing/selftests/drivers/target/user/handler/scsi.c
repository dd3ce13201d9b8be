// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-test-handler: a SCSI block device (SBC-3) target.  Target core
 * passes every CDB through except REPORT LUNS, reservations and ALUA
 * (passthrough_parse_cdb), so everything else an initiator sends is
 * answered here: by this file for the primary commands (INQUIRY and its
 * VPD pages, MODE SENSE, REPORT SUPPORTED OPERATION CODES...), by sbc.c
 * for the block commands, by xcopy.c for EXTENDED COPY.  An unknown
 * command gets ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE, which
 * initiators and test suites read as "not implemented".  Sense data is
 * in fixed format.
 *
 * Data-in that is shorter than the initiator's buffer (most emulated
 * commands) is completed with TCMU_UFLAG_READ_LEN, so that the initiator
 * sees the real length as a residual instead of zero padding.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "scsi.h"

#define MODE_PAGE_CACHING	0x08
#define MODE_PAGE_CONTROL	0x0a
#define MODE_PAGE_ALL		0x3f
#define MODE_DPOFUA		0x10	/* device-specific parameter */

#define VENDOR			"TCMU-NG "
#define PRODUCT			"test-handler    "
#define REVISION		"0001"

struct scsi_lu lu;

uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | p[2] << 8 | p[3];
}

uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

void put_be(uint8_t *p, uint64_t v, unsigned int bytes)
{
	while (bytes--) {
		p[bytes] = v & 0xff;
		v >>= 8;
	}
}

void sense(struct hcmd *c, uint8_t key, uint16_t asc)
{
	c->status = SAM_CHECK_CONDITION;
	memset(c->sense, 0, sizeof(c->sense));
	c->sense[0] = 0x70;	/* current error, fixed format */
	c->sense[2] = key;
	c->sense[7] = 0x0a;	/* additional sense length */
	c->sense[12] = asc >> 8;
	c->sense[13] = asc & 0xff;
}

/* The same with the INFORMATION field (and VALID) set to @info */
void sense_info(struct hcmd *c, uint8_t key, uint16_t asc, uint32_t info)
{
	sense(c, key, asc);
	c->sense[0] |= 0x80;
	put_be(c->sense + 3, info, 4);
}

void invalid_field(struct hcmd *c)
{
	sense(c, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
}

/*
 * INVALID FIELD IN CDB with the sense-key specific field pointer (SPC-4
 * 4.5.2.4.2): the field starts at bit @bit of CDB byte @byte.  Without
 * it an initiator cannot tell a refused field of a supported command from
 * an unsupported command: libiscsi's tests take INVALID FIELD IN CDB for
 * a MAINTENANCE IN with no field pointer, or one at byte 1 (the service
 * action), as "not implemented".
 */
static void invalid_cdb_field(struct hcmd *c, uint16_t byte, uint8_t bit)
{
	invalid_field(c);
	c->sense[15] = 0x80 | 0x40 | 0x08 | (bit & 0x07);	/* SKSV, C/D, BPV */
	put_be(c->sense + 16, byte, 2);
}

/*
 * The length of a data-out CDB's parameter list: @cdb_len, what the CDB
 * says, cut to the bytes the initiator sent.  False when there is nothing
 * more to do: a length of 0 (no error) or one below @min (PARAMETER LIST
 * LENGTH ERROR set).
 */
bool param_list_len(struct hcmd *c, uint64_t cdb_len, uint64_t min,
		    uint64_t *len)
{
	*len = cdb_len < c->data_len ? cdb_len : c->data_len;
	if (!cdb_len)
		return false;
	if (*len < min) {
		sense(c, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH);
		return false;
	}
	return true;
}

static void invalid_opcode(struct hcmd *c)
{
	sense(c, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
}

/* Return @len bytes of @buf, cut to the allocation length @alloc. */
void data_in(struct hcmd *c, const uint8_t *buf, size_t len, size_t alloc)
{
	if (len > alloc)
		len = alloc;
	iov_fill(c, buf, len);
	c->data_in = true;
	c->in_len = len < c->data_len ? len : c->data_len;
}

static size_t std_inquiry(uint8_t *b)
{
	b[0] = 0x00;		/* direct access block device */
	b[2] = 0x06;		/* SPC-4 */
	b[3] = 0x12;		/* HISUP, response data format 2 */
	b[4] = 74 - 5;
	b[5] = 0x08;		/* 3PC: EXTENDED COPY */
	b[7] = 0x02;		/* CMDQUE */
	memcpy(b + 8, VENDOR, 8);
	memcpy(b + 16, PRODUCT, 16);
	memcpy(b + 32, REVISION, 4);
	/* version descriptors: initiators take SBC-3 from here alone */
	put_be(b + 58, 0x00a0, 2);	/* SAM-5 */
	put_be(b + 60, 0x0460, 2);	/* SPC-4 */
	put_be(b + 62, 0x04c0, 2);	/* SBC-3 */
	return 74;
}

/* Block Limits, SBC-3's 0x3c bytes long (libiscsi checks the length) */
static size_t vpd_block_limits(uint8_t *b)
{
	b[4] = 0x01;			/* WSNZ: WRITE SAME needs a length */
	b[5] = 0xff;			/* maximum COMPARE AND WRITE length */
	put_be(b + 6, 1, 2);		/* optimal transfer granularity */
	if (lu.thin) {
		put_be(b + 20, UNMAP_MAX_BLOCKS, 4);
		put_be(b + 24, UNMAP_MAX_DESCS, 4);
		put_be(b + 28, 1, 4);	/* optimal unmap granularity */
	}
	put_be(b + 36, lu.nblocks, 8);	/* maximum WRITE SAME length */
	return 64;
}

/* Logical Block Provisioning: thin with a store, unmapped reads zero */
static size_t vpd_provisioning(uint8_t *b)
{
	if (lu.thin) {
		b[5] = 0xe0 | 0x04;	/* LBPU, LBPWS, LBPWS10; LBPRZ */
		b[6] = 0x02;		/* thin provisioned */
	}
	return 8;
}

static size_t vpd_page(uint8_t page, uint8_t *b)
{
	static const uint8_t pages[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };
	size_t n = 4, len;

	b[1] = page;
	switch (page) {
	case 0x00:		/* supported VPD pages */
		memcpy(b + n, pages, sizeof(pages));
		n += sizeof(pages);
		break;
	case 0x80:		/* unit serial number */
		len = strlen(lu.serial);
		memcpy(b + n, lu.serial, len);
		n += len;
		break;
	case 0x83:		/* device identification */
		memcpy(b + n, "\x01\x03\x00\x10", 4);	/* binary, LU, NAA */
		memcpy(b + n + 4, lu.naa, 16);
		n += 20;
		len = 8 + strlen(lu.serial);
		memcpy(b + n, "\x02\x01\x00", 3);	/* ASCII, LU, T10 */
		b[n + 3] = (uint8_t)len;
		memcpy(b + n + 4, VENDOR, 8);
		memcpy(b + n + 12, lu.serial, len - 8);
		n += 4 + len;
		break;
	case 0xb0:
		n = vpd_block_limits(b);
		break;
	case 0xb1:		/* block device characteristics */
		put_be(b + 4, 1, 2);	/* non-rotating medium */
		n = 64;
		break;
	case 0xb2:
		n = vpd_provisioning(b);
		break;
	default:
		return 0;
	}
	put_be(b + 2, n - 4, 2);
	return n;
}

static void inquiry(struct hcmd *c)
{
	uint8_t b[128] = { 0 };
	size_t n;

	if (c->cdb[1] & 0x01)
		n = vpd_page(c->cdb[2], b);
	else
		n = c->cdb[2] ? 0 : std_inquiry(b);
	if (!n || (c->cdb[1] & 0x02))
		invalid_field(c);
	else
		data_in(c, b, n, get_be16(c->cdb + 3));
}

static void request_sense(struct hcmd *c)
{
	uint8_t b[18] = { 0x70, 0, SK_NO_SENSE, 0, 0, 0, 0, 0x0a };

	data_in(c, b, sizeof(b), c->cdb[4]);
}

/* One mode page for page control @pc; 0 if the page is not supported. */
static size_t mode_page(uint8_t page, uint8_t pc, uint8_t *b)
{
	bool values = pc != 1;	/* 1 asks for the changeable mask: none */

	switch (page) {
	case MODE_PAGE_CACHING:
		b[0] = page;
		b[1] = 0x12;
		if (values && opt.wce)
			b[2] = 0x04;	/* WCE */
		return 20;
	case MODE_PAGE_CONTROL:
		b[0] = page;
		b[1] = 0x0a;
		if (values)
			b[3] = 0x10;	/* unrestricted reordering */
		return 12;
	}
	return 0;
}

static void mode_sense(struct hcmd *c)
{
	bool ten = c->cdb[0] == MODE_SENSE_10;
	uint8_t pc = c->cdb[2] >> 6, page = c->cdb[2] & 0x3f;
	uint8_t b[64] = { 0 };
	size_t n = ten ? 8 : 4, p;
	uint64_t nb = lu.nblocks;

	if (pc == 3) {
		sense(c, SK_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED);
		return;
	}
	if (c->cdb[3] && !(page == MODE_PAGE_ALL && c->cdb[3] == 0xff)) {
		invalid_field(c);
		return;
	}
	/* every write reaches the store at once: DPO and FUA are honoured */
	b[ten ? 3 : 2] = MODE_DPOFUA;
	if (!(c->cdb[1] & 0x08)) {	/* DBD clear: one block descriptor */
		put_be(b + n, nb > UINT32_MAX ? UINT32_MAX : nb, 4);
		put_be(b + n + 5, lu.block_size, 3);
		b[ten ? 7 : 3] = 8;
		n += 8;
	}
	if (page == MODE_PAGE_ALL) {
		n += mode_page(MODE_PAGE_CACHING, pc, b + n);
		n += mode_page(MODE_PAGE_CONTROL, pc, b + n);
	} else {
		p = mode_page(page, pc, b + n);
		if (!p) {
			invalid_field(c);
			return;
		}
		n += p;
	}
	if (ten)
		put_be(b, n - 2, 2);
	else
		b[0] = (uint8_t)(n - 1);
	data_in(c, b, n, ten ? get_be16(c->cdb + 7) : c->cdb[4]);
}

/*
 * REPORT SUPPORTED OPERATION CODES: every command the logical unit
 * takes, with the CDB bits the handler reads (its CDB usage data).
 * REPORT LUNS is target core's, but the logical unit supports it all
 * the same; the reservation commands, also target core's, would add
 * two dozen service actions and are left out.
 */
struct op_info {
	bool sa;		/* has service actions: cdb[1] & 0x1f is one */
	uint8_t len;		/* CDB length */
	uint8_t use[16];	/* CDB usage data; use[1] is the SA if sa */
};

static const struct op_info ops[] = {
	{ false, 6, { TEST_UNIT_READY, 0, 0, 0, 0, 0 } },
	{ false, 6, { REQUEST_SENSE, 0, 0, 0, 0xff, 0 } },
	{ false, 6, { READ_6, 0x1f, 0xff, 0xff, 0xff, 0 } },
	{ false, 6, { WRITE_6, 0x1f, 0xff, 0xff, 0xff, 0 } },
	{ false, 6, { INQUIRY, 0x03, 0xff, 0xff, 0xff, 0 } },
	{ false, 6, { MODE_SELECT_6, 0x11, 0, 0, 0xff, 0 } },
	{ false, 6, { MODE_SENSE_6, 0x08, 0xff, 0xff, 0xff, 0 } },
	{ false, 6, { START_STOP_UNIT, 0x01, 0, 0x0f, 0xf7, 0 } },
	{ false, 10, { READ_CAPACITY_10, 0, 0, 0, 0, 0, 0, 0, 0, 0 } },
	{ false, 10, { READ_10, 0xf8, 0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0 } },
	{ false, 10, { WRITE_10, 0xf8, 0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0 } },
	{ false, 10, { WRITE_VERIFY_10, 0xf2, 0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0 } },
	{ false, 10, { VERIFY_10, 0xf6, 0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0 } },
	{ false, 10, { PRE_FETCH_10, 0x02, 0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0 } },
	{ false, 10, { SYNCHRONIZE_CACHE_10, 0x06, 0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0 } },
	{ false, 10, { WRITE_SAME_10, 0xf8, 0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0 } },
	{ false, 10, { UNMAP, 0x01, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ false, 10, { MODE_SELECT_10, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0 } },
	{ false, 10, { MODE_SENSE_10, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0 } },
	{ true, 16, { EXTENDED_COPY, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
		      0xff, 0xff, 0xff, 0xff, 0, 0 } },
	{ true, 16, { RECEIVE_COPY_RESULTS, RCR_OPERATING_PARAMS, 0xff, 0, 0, 0,
		      0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
	{ false, 16, { READ_16, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		       0xff, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
	{ false, 16, { COMPARE_AND_WRITE, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff,
		       0xff, 0xff, 0xff, 0, 0, 0, 0xff, 0, 0 } },
	{ false, 16, { WRITE_16, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		       0xff, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
	{ false, 16, { WRITE_VERIFY_16, 0xf2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		       0xff, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
	{ false, 16, { VERIFY_16, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		       0xff, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
	{ false, 16, { PRE_FETCH_16, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		       0xff, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
	{ false, 16, { SYNCHRONIZE_CACHE_16, 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		       0xff, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
	{ false, 16, { WRITE_SAME_16, 0xf9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		       0xff, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
	{ true, 16, { SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16, 0, 0, 0, 0,
		      0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
	{ true, 16, { SERVICE_ACTION_IN_16, SAI_GET_LBA_STATUS, 0xff, 0xff,
		      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		      0xff, 0, 0 } },
	{ false, 12, { REPORT_LUNS, 0, 0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
		       0, 0 } },
	{ true, 12, { MAINTENANCE_IN, MI_REPORT_SUPPORTED_OPS, 0x87, 0xff,
		      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0 } },
	{ false, 12, { READ_12, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		       0xff, 0xff, 0, 0 } },
	{ false, 12, { WRITE_12, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		       0xff, 0xff, 0, 0 } },
	{ false, 12, { WRITE_VERIFY_12, 0xf2, 0xff, 0xff, 0xff, 0xff, 0xff,
		       0xff, 0xff, 0xff, 0, 0 } },
	{ false, 12, { VERIFY_12, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		       0xff, 0xff, 0, 0 } },
};

/* Command timeouts descriptor: none specified (0 s) */
static size_t rsoc_timeouts(uint8_t *b)
{
	memset(b, 0, 12);
	b[1] = 0x0a;
	return 12;
}

/* UNMAP only where the store can deallocate */
static bool op_offered(const struct op_info *o)
{
	return o->use[0] != UNMAP || lu.thin;
}

static size_t rsoc_all(uint8_t *b, bool rctd)
{
	size_t n = 4, i;

	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		if (!op_offered(&ops[i]))
			continue;
		b[n] = ops[i].use[0];
		if (ops[i].sa)
			put_be(b + n + 2, ops[i].use[1], 2);
		b[n + 5] = (rctd ? 0x02 : 0) | ops[i].sa;	/* CTDP, SERVACTV */
		put_be(b + n + 6, ops[i].len, 2);
		n += 8;
		if (rctd)
			n += rsoc_timeouts(b + n);
	}
	put_be(b, n - 4, 4);
	return n;
}

/* One command (options 1, 2, 3); 0 for an invalid request */
static size_t rsoc_one(uint8_t *b, uint8_t opts, uint8_t op, uint16_t sa,
		       bool rctd)
{
	const struct op_info *o = NULL;
	size_t i, n = 4;

	for (i = 0; i < ARRAY_SIZE(ops) && !o; i++)
		if (ops[i].use[0] == op && (!ops[i].sa || ops[i].use[1] == sa) &&
		    op_offered(&ops[i]))
			o = &ops[i];
	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		if (ops[i].use[0] != op)
			continue;
		/* 1 names an opcode without service actions, 2 one with */
		if ((opts == 1 && ops[i].sa) || (opts == 2 && !ops[i].sa))
			return 0;
	}
	if (!o) {
		b[1] = 0x01;			/* not supported */
		return 4;
	}
	b[1] = (rctd ? 0x80 : 0) | 0x03;	/* CTDP; supported (standard) */
	put_be(b + 2, o->len, 2);
	memcpy(b + n, o->use, o->len);
	n += o->len;
	if (rctd)
		n += rsoc_timeouts(b + n);
	return n;
}

static void report_supported_ops(struct hcmd *c)
{
	uint8_t b[4 + ARRAY_SIZE(ops) * 20] = { 0 };
	uint8_t opts = c->cdb[2] & 0x07;
	bool rctd = c->cdb[2] & 0x80;
	size_t n;

	if (opts)
		n = opts > 3 ? 0 :
			rsoc_one(b, opts, c->cdb[3], get_be16(c->cdb + 4), rctd);
	else
		n = rsoc_all(b, rctd);
	if (n)
		data_in(c, b, n, get_be32(c->cdb + 6));
	else
		invalid_cdb_field(c, 2, 2);	/* REPORTING OPTIONS */
}

static void dispatch(struct hcmd *c)
{
	switch (c->cdb[0]) {
	case TEST_UNIT_READY:
	case START_STOP_UNIT:
	case MODE_SELECT_6:
	case MODE_SELECT_10:
		break;
	case REQUEST_SENSE:
		request_sense(c);
		break;
	case INQUIRY:
		inquiry(c);
		break;
	case MODE_SENSE_6:
	case MODE_SENSE_10:
		mode_sense(c);
		break;
	case MAINTENANCE_IN:
		if ((c->cdb[1] & 0x1f) == MI_REPORT_SUPPORTED_OPS)
			report_supported_ops(c);
		else
			invalid_opcode(c);
		break;
	case EXTENDED_COPY:
		xcopy_extended_copy(c);
		break;
	case RECEIVE_COPY_RESULTS:
		xcopy_receive_copy_results(c);
		break;
	default:
		if (!sbc_execute(c))
			invalid_opcode(c);
	}
}

void scsi_execute(struct hcmd *c)
{
	c->status = SAM_GOOD;
	if (opt.unknown_op) {
		c->unknown = true;
		return;
	}
	dispatch(c);
	if (c->status != SAM_GOOD)
		count(&cnt.failures, 1);
}

/* FNV-1a, to derive a serial number from the device's name. */
static uint64_t fnv1a(const char *s, uint64_t h)
{
	while (*s) {
		h ^= (uint8_t)*s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/*
 * The unit serial number is LIO's (configfs wwn/vpd_unit_serial), as
 * tcmu-runner reports it, so that tests find the disk by it; without
 * configfs it is made from the device's name.
 */
static void init_serial(const struct tdev *d)
{
	char line[128], id[300];
	const char *s = NULL;
	uint64_t h1, h2;

	if (!uio_configfs_read(d, "wwn/vpd_unit_serial", line, sizeof(line)))
		s = strstr(line, ": ");
	if (s && s[2]) {
		snprintf(lu.serial, sizeof(lu.serial), "%s", s + 2);
		return;
	}
	snprintf(id, sizeof(id), "%u/%s", d->hba_id, d->name);
	h1 = fnv1a(id, 0xcbf29ce484222325ULL);
	h2 = fnv1a(id, h1);
	snprintf(lu.serial, sizeof(lu.serial), "%016" PRIx64 "%016" PRIx64,
		 h1, h2);
}

/* NAA 6 (IEEE registered extended), OUI 00-14-05, then serial digits. */
static void init_naa(void)
{
	unsigned int nib = 7, v;
	const char *p;

	memset(lu.naa, 0, sizeof(lu.naa));
	memcpy(lu.naa, "\x60\x01\x40\x50", 4);
	for (p = lu.serial; *p && nib < 2 * sizeof(lu.naa); p++) {
		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			v = *p - 'A' + 10;
		else
			continue;
		lu.naa[nib / 2] |= nib % 2 ? v : v << 4;
		nib++;
	}
}

void scsi_init(const struct tdev *d, uint64_t size)
{
	lu.block_size = opt.block_size;
	lu.nblocks = size / opt.block_size;
	lu.thin = opt.store != STORE_NULL;
	init_serial(d);
	init_naa();
}
