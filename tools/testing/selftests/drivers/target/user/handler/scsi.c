// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-test-handler: a small SCSI block device (SBC) target, enough for
 * Linux's sd driver and fio.  The kernel passes nearly every CDB through
 * (it answers REPORT LUNS and reservations itself), so everything sd
 * sends at probe time is answered here; anything else is rejected with
 * ILLEGAL REQUEST / INVALID COMMAND OPERATION CODE.  Sense data is in
 * fixed format.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "handler.h"

enum {
	SAM_GOOD			= 0x00,
	SAM_CHECK_CONDITION		= 0x02,
};

enum {
	SK_NO_SENSE			= 0x0,
	SK_MEDIUM_ERROR			= 0x3,
	SK_ILLEGAL_REQUEST		= 0x5,
};

enum {
	ASC_WRITE_ERROR			= 0x0c,
	ASC_UNRECOVERED_READ_ERROR	= 0x11,
	ASC_INVALID_OPCODE		= 0x20,
	ASC_LBA_OUT_OF_RANGE		= 0x21,
	ASC_INVALID_FIELD_IN_CDB	= 0x24,
	ASC_SAVING_NOT_SUPPORTED	= 0x39,
};

enum {
	TEST_UNIT_READY			= 0x00,
	REQUEST_SENSE			= 0x03,
	READ_6				= 0x08,
	WRITE_6				= 0x0a,
	INQUIRY				= 0x12,
	MODE_SELECT_6			= 0x15,
	MODE_SENSE_6			= 0x1a,
	START_STOP_UNIT			= 0x1b,
	READ_CAPACITY_10		= 0x25,
	READ_10				= 0x28,
	WRITE_10			= 0x2a,
	WRITE_VERIFY_10			= 0x2e,
	SYNCHRONIZE_CACHE_10		= 0x35,
	MODE_SELECT_10			= 0x55,
	MODE_SENSE_10			= 0x5a,
	READ_16				= 0x88,
	WRITE_16			= 0x8a,
	WRITE_VERIFY_16			= 0x8e,
	SYNCHRONIZE_CACHE_16		= 0x91,
	SERVICE_ACTION_IN_16		= 0x9e,
	READ_12				= 0xa8,
	WRITE_12			= 0xaa,
	WRITE_VERIFY_12			= 0xae,
};

#define SAI_READ_CAPACITY_16	0x10

#define MODE_PAGE_CACHING	0x08
#define MODE_PAGE_CONTROL	0x0a
#define MODE_PAGE_ALL		0x3f

#define VENDOR			"TCMU-NG "
#define PRODUCT			"test-handler    "
#define REVISION		"0001"

static struct {
	uint64_t nblocks;
	uint32_t block_size;
	char serial[65];	/* unit serial number, ASCII */
	uint8_t naa[16];	/* NAA 6 designator */
	atomic_ulong io_seq;	/* READ/WRITE count for --fail-every */
} tgt;

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void put_be(uint8_t *p, uint64_t v, unsigned int bytes)
{
	while (bytes--) {
		p[bytes] = v & 0xff;
		v >>= 8;
	}
}

static void sense(struct hcmd *c, uint8_t key, uint8_t asc, uint8_t ascq)
{
	c->status = SAM_CHECK_CONDITION;
	memset(c->sense, 0, sizeof(c->sense));
	c->sense[0] = 0x70;	/* current error, fixed format */
	c->sense[2] = key;
	c->sense[7] = 0x0a;	/* additional sense length */
	c->sense[12] = asc;
	c->sense[13] = ascq;
}

static void invalid_opcode(struct hcmd *c)
{
	sense(c, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
}

static void invalid_field(struct hcmd *c)
{
	sense(c, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
}

/* Return @len bytes of @buf, cut to the allocation length @alloc. */
static void data_in(struct hcmd *c, const uint8_t *buf, size_t len,
		    size_t alloc)
{
	iov_fill(c, buf, len < alloc ? len : alloc);
	c->data_in = true;
}

static size_t std_inquiry(uint8_t *b)
{
	b[0] = 0x00;		/* direct access block device */
	b[2] = 0x06;		/* SPC-4 */
	b[3] = 0x12;		/* HISUP, response data format 2 */
	b[4] = 36 - 5;
	b[7] = 0x02;		/* CMDQUE */
	memcpy(b + 8, VENDOR, 8);
	memcpy(b + 16, PRODUCT, 16);
	memcpy(b + 32, REVISION, 4);
	return 36;
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
		len = strlen(tgt.serial);
		memcpy(b + n, tgt.serial, len);
		n += len;
		break;
	case 0x83:		/* device identification */
		memcpy(b + n, "\x01\x03\x00\x10", 4);	/* binary, LU, NAA */
		memcpy(b + n + 4, tgt.naa, 16);
		n += 20;
		len = 8 + strlen(tgt.serial);
		memcpy(b + n, "\x02\x01\x00", 3);	/* ASCII, LU, T10 */
		b[n + 3] = (uint8_t)len;
		memcpy(b + n + 4, VENDOR, 8);
		memcpy(b + n + 12, tgt.serial, len - 8);
		n += 4 + len;
		break;
	case 0xb0:		/* block limits: no limits, no UNMAP */
		put_be(b + 6, 1, 2);	/* optimal transfer granularity */
		n = 64;
		break;
	case 0xb1:		/* block device characteristics */
		put_be(b + 4, 1, 2);	/* non-rotating medium */
		n = 64;
		break;
	case 0xb2:		/* logical block provisioning: none */
		n = 8;
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

static void read_capacity_10(struct hcmd *c)
{
	uint64_t last = tgt.nblocks - 1;
	uint8_t b[8];

	put_be(b, last > UINT32_MAX ? UINT32_MAX : last, 4);
	put_be(b + 4, tgt.block_size, 4);
	data_in(c, b, sizeof(b), sizeof(b));
}

static void read_capacity_16(struct hcmd *c)
{
	uint8_t b[32] = { 0 };

	put_be(b, tgt.nblocks - 1, 8);
	put_be(b + 8, tgt.block_size, 4);
	data_in(c, b, sizeof(b), get_be32(c->cdb + 10));
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
	uint64_t nb = tgt.nblocks;

	if (pc == 3) {
		sense(c, SK_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED, 0);
		return;
	}
	if (c->cdb[3] && !(page == MODE_PAGE_ALL && c->cdb[3] == 0xff)) {
		invalid_field(c);
		return;
	}
	if (!(c->cdb[1] & 0x08)) {	/* DBD clear: one block descriptor */
		put_be(b + n, nb > UINT32_MAX ? UINT32_MAX : nb, 4);
		put_be(b + n + 5, tgt.block_size, 3);
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

static bool scsi_is_read(const struct hcmd *c)
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
	return scsi_is_read(c);
}

static void rw_decode(const uint8_t *cdb, uint64_t *lba, uint32_t *nb)
{
	switch (cdb[0]) {
	case READ_6:
	case WRITE_6:
		*lba = (uint32_t)(cdb[1] & 0x1f) << 16 | get_be16(cdb + 2);
		*nb = cdb[4] ? cdb[4] : 256;
		break;
	case READ_10:
	case WRITE_10:
	case WRITE_VERIFY_10:
		*lba = get_be32(cdb + 2);
		*nb = get_be16(cdb + 7);
		break;
	case READ_12:
	case WRITE_12:
	case WRITE_VERIFY_12:
		*lba = get_be32(cdb + 2);
		*nb = get_be32(cdb + 6);
		break;
	default:
		*lba = get_be64(cdb + 2);
		*nb = get_be32(cdb + 10);
		break;
	}
}

static void rw(struct hcmd *c, bool write)
{
	uint64_t lba, len;
	uint32_t nb;

	rw_decode(c->cdb, &lba, &nb);
	count(write ? &cnt.writes : &cnt.reads, 1);
	if (lba > tgt.nblocks || nb > tgt.nblocks - lba) {
		sense(c, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
		return;
	}
	if (opt.fail_every &&
	    (atomic_fetch_add(&tgt.io_seq, 1) + 1) % opt.fail_every == 0) {
		count(&cnt.injected, 1);
		sense(c, SK_MEDIUM_ERROR, write ? ASC_WRITE_ERROR :
		      ASC_UNRECOVERED_READ_ERROR, 0);
		return;
	}
	len = (uint64_t)nb * tgt.block_size;
	if (len != c->data_len)
		dbg("cmd %u: CDB moves %" PRIu64 " bytes, iovecs hold %" PRIu64,
		    c->id, len, c->data_len);
	if (len > c->data_len)
		len = c->data_len;
	if (write) {
		store_write(c, lba * tgt.block_size, len);
		count(&cnt.bytes_written, len);
	} else {
		store_read(c, lba * tgt.block_size, len);
		count(&cnt.bytes_read, len);
		c->data_in = true;
	}
}

static void dispatch(struct hcmd *c)
{
	switch (c->cdb[0]) {
	case TEST_UNIT_READY:
	case START_STOP_UNIT:
	case SYNCHRONIZE_CACHE_10:
	case SYNCHRONIZE_CACHE_16:
	case MODE_SELECT_6:
	case MODE_SELECT_10:
		break;
	case REQUEST_SENSE:
		request_sense(c);
		break;
	case INQUIRY:
		inquiry(c);
		break;
	case READ_CAPACITY_10:
		read_capacity_10(c);
		break;
	case SERVICE_ACTION_IN_16:
		if ((c->cdb[1] & 0x1f) == SAI_READ_CAPACITY_16)
			read_capacity_16(c);
		else
			invalid_opcode(c);
		break;
	case MODE_SENSE_6:
	case MODE_SENSE_10:
		mode_sense(c);
		break;
	default:
		if (scsi_is_rw(c))
			rw(c, !scsi_is_read(c));
		else
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
		snprintf(tgt.serial, sizeof(tgt.serial), "%s", s + 2);
		return;
	}
	snprintf(id, sizeof(id), "%u/%s", d->hba_id, d->name);
	h1 = fnv1a(id, 0xcbf29ce484222325ULL);
	h2 = fnv1a(id, h1);
	snprintf(tgt.serial, sizeof(tgt.serial), "%016" PRIx64 "%016" PRIx64,
		 h1, h2);
}

/* NAA 6 (IEEE registered extended), OUI 00-14-05, then serial digits. */
static void init_naa(void)
{
	unsigned int nib = 7, v;
	const char *p;

	memset(tgt.naa, 0, sizeof(tgt.naa));
	memcpy(tgt.naa, "\x60\x01\x40\x50", 4);
	for (p = tgt.serial; *p && nib < 2 * sizeof(tgt.naa); p++) {
		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			v = *p - 'A' + 10;
		else
			continue;
		tgt.naa[nib / 2] |= nib % 2 ? v : v << 4;
		nib++;
	}
}

void scsi_init(const struct tdev *d, uint64_t size)
{
	tgt.block_size = opt.block_size;
	tgt.nblocks = size / opt.block_size;
	init_serial(d);
	init_naa();
}
