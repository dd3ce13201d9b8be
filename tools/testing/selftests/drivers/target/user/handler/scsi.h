/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcmu-test-handler: what the SCSI emulation's three parts share.
 *   scsi.c   dispatch, sense data and the SPC commands (INQUIRY, MODE
 *            SENSE, REPORT SUPPORTED OPERATION CODES...)
 *   sbc.c    the block commands (READ, WRITE, VERIFY, WRITE SAME,
 *            UNMAP, COMPARE AND WRITE...)
 *   xcopy.c  EXTENDED COPY and RECEIVE COPY RESULTS
 */
#ifndef TCMU_TEST_SCSI_H
#define TCMU_TEST_SCSI_H

#include "handler.h"

enum {
	SAM_GOOD			= 0x00,
	SAM_CHECK_CONDITION		= 0x02,
};

enum {
	SK_NO_SENSE			= 0x0,
	SK_MEDIUM_ERROR			= 0x3,
	SK_ILLEGAL_REQUEST		= 0x5,
	SK_COPY_ABORTED			= 0xa,
	SK_MISCOMPARE			= 0xe,
};

/* Additional sense code and qualifier, as one 16-bit value */
enum {
	ASC_NONE			= 0x0000,
	ASC_WRITE_ERROR			= 0x0c00,
	ASC_COPY_TARGET_UNREACHABLE	= 0x0d02,
	ASC_UNRECOVERED_READ_ERROR	= 0x1100,
	ASC_PARAM_LIST_LENGTH		= 0x1a00,
	ASC_MISCOMPARE_VERIFY		= 0x1d00,
	ASC_INVALID_OPCODE		= 0x2000,
	ASC_LBA_OUT_OF_RANGE		= 0x2100,
	ASC_INVALID_FIELD_IN_CDB	= 0x2400,
	ASC_INVALID_FIELD_IN_PARAM	= 0x2600,
	ASC_TOO_MANY_TARGET_DESCS	= 0x2606,
	ASC_UNSUPPORTED_TARGET_DESC	= 0x2607,
	ASC_TOO_MANY_SEGMENT_DESCS	= 0x2608,
	ASC_UNSUPPORTED_SEGMENT_DESC	= 0x2609,
	ASC_SAVING_NOT_SUPPORTED	= 0x3900,
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
	VERIFY_10			= 0x2f,
	PRE_FETCH_10			= 0x34,
	SYNCHRONIZE_CACHE_10		= 0x35,
	WRITE_SAME_10			= 0x41,
	UNMAP				= 0x42,
	MODE_SELECT_10			= 0x55,
	MODE_SENSE_10			= 0x5a,
	EXTENDED_COPY			= 0x83,
	RECEIVE_COPY_RESULTS		= 0x84,
	READ_16				= 0x88,
	COMPARE_AND_WRITE		= 0x89,
	WRITE_16			= 0x8a,
	WRITE_VERIFY_16			= 0x8e,
	VERIFY_16			= 0x8f,
	PRE_FETCH_16			= 0x90,
	SYNCHRONIZE_CACHE_16		= 0x91,
	WRITE_SAME_16			= 0x93,
	SERVICE_ACTION_IN_16		= 0x9e,
	REPORT_LUNS			= 0xa0,
	MAINTENANCE_IN			= 0xa3,
	READ_12				= 0xa8,
	WRITE_12			= 0xaa,
	WRITE_VERIFY_12			= 0xae,
	VERIFY_12			= 0xaf,
};

#define SAI_READ_CAPACITY_16	0x10
#define SAI_GET_LBA_STATUS	0x12
#define MI_REPORT_SUPPORTED_OPS	0x0c
#define RCR_OPERATING_PARAMS	0x03

/* Block Limits VPD: the most an UNMAP may carry */
#define UNMAP_MAX_DESCS		4095	/* fills UNMAP's 16-bit list length */
#define UNMAP_MAX_BLOCKS	0xffffffffU	/* no limit */

/* The logical unit, set up once by scsi_init() */
struct scsi_lu {
	uint64_t nblocks;
	uint32_t block_size;
	bool thin;		/* UNMAP, LBPME: the store keeps data */
	char serial[65];	/* unit serial number, ASCII */
	uint8_t naa[16];	/* NAA 6 designator */
	atomic_ulong io_seq;	/* READ/WRITE count for --fail-every */
};

extern struct scsi_lu lu;

/* scsi.c */
void sense(struct hcmd *c, uint8_t key, uint16_t asc);
void sense_info(struct hcmd *c, uint8_t key, uint16_t asc, uint32_t info);
void invalid_field(struct hcmd *c);
bool param_list_len(struct hcmd *c, uint64_t cdb_len, uint64_t min,
		    uint64_t *len);
void data_in(struct hcmd *c, const uint8_t *buf, size_t len, size_t alloc);
uint16_t get_be16(const uint8_t *p);
uint32_t get_be32(const uint8_t *p);
uint64_t get_be64(const uint8_t *p);
void put_be(uint8_t *p, uint64_t v, unsigned int bytes);

/* sbc.c */
bool sbc_execute(struct hcmd *c);
bool sbc_lba_ok(struct hcmd *c, uint64_t lba, uint64_t nb);

/* xcopy.c */
void xcopy_extended_copy(struct hcmd *c);
void xcopy_receive_copy_results(struct hcmd *c);

#endif
