/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * TCMU: the user-space backstore interface of the LIO SCSI target.
 *
 * A handler maps one region of a UIO device.  The region starts with a
 * mailbox (struct tcmu_mailbox); the command ring follows at cmdr_off and
 * is cmdr_size bytes long; the data area follows the ring.  The kernel
 * writes entries at cmd_head, the handler consumes them, writes each
 * response into the slot at cmd_tail and advances cmd_tail.  A write() of
 * four bytes to the UIO file descriptor tells the kernel to look at the
 * ring; a read() of four bytes waits for the kernel to post work.
 *
 * Every offset in an entry (cdb_off, iov_base) counts from the start of
 * the mapping.  Every entry is TCMU_OP_ALIGN_SIZE aligned and never wraps
 * around the end of the ring: the kernel fills the gap with a PAD entry.
 *
 * This layout is ABI: mailbox version 2 as shipped since Linux 4.x.  New
 * features are only ever announced by new bits in tcmu_mailbox.flags and
 * change nothing for a handler that ignores them.
 */
#ifndef __TARGET_CORE_USER_H
#define __TARGET_CORE_USER_H

#include <linux/types.h>
#include <linux/uio.h>

#define TCMU_VERSION "2.0"

#define TCMU_MAILBOX_VERSION 2
#define ALIGN_SIZE 64 /* cmd_tail gets a cache line of its own */

/* Capability bits the kernel sets in tcmu_mailbox.flags */
/* Handler may complete commands out of order (rewrites hdr.cmd_id). */
#define TCMU_MAILBOX_FLAG_CAP_OOOC	(1 << 0)
/* Handler may report a shorter READ length (TCMU_UFLAG_READ_LEN). */
#define TCMU_MAILBOX_FLAG_CAP_READ_LEN	(1 << 1)
/* Kernel posts TCMU_OP_TMR entries when tmr_notification is set. */
#define TCMU_MAILBOX_FLAG_CAP_TMR	(1 << 2)
/* Handler may keep a command's data buffer (TCMU_UFLAG_KEEP_BUF). */
#define TCMU_MAILBOX_FLAG_CAP_KEEP_BUF	(1 << 3)
/*
 * The device has a zero-copy window after its data area (configfs
 * attribute zero_copy): iovecs of commands marked TCMU_KFLAG_ZERO_COPY
 * point into it.  Window pages of WRITE data are read-only, and no
 * window page can be pinned (O_DIRECT, io_uring fixed buffers get
 * EFAULT).  A handler that ignores this bit works unchanged.
 */
#define TCMU_MAILBOX_FLAG_CAP_ZERO_COPY	(1 << 4)

struct tcmu_mailbox {
	__u16 version;		/* TCMU_MAILBOX_VERSION */
	__u16 flags;		/* TCMU_MAILBOX_FLAG_CAP_* */
	__u32 cmdr_off;		/* ring offset from the mailbox start */
	__u32 cmdr_size;	/* ring size in bytes */

	__u32 cmd_head;		/* written by the kernel only */

	/* Written by the handler only; on its own cache line. */
	__u32 cmd_tail __attribute__((__aligned__(ALIGN_SIZE)));
} __packed;

enum tcmu_opcode {
	TCMU_OP_PAD = 0,	/* filler up to the end of the ring */
	TCMU_OP_CMD,		/* a SCSI command */
	TCMU_OP_TMR,		/* task management notification */
};

/* The first eight bytes of every ring entry. */
struct tcmu_cmd_entry_hdr {
	__u32 len_op;		/* entry length | enum tcmu_opcode */
	__u16 cmd_id;
	__u8 kflags;		/* set by the kernel */
/* Bits the kernel sets in kflags */
#define TCMU_KFLAG_ZERO_COPY	0x1	/* iovecs are in the zero-copy window */
/* Bits the handler sets in uflags when it completes a command */
#define TCMU_UFLAG_UNKNOWN_OP	0x1	/* the handler did not know the op */
#define TCMU_UFLAG_READ_LEN	0x2	/* rsp.read_len is valid */
#define TCMU_UFLAG_KEEP_BUF	0x4	/* data buffer stays until freed */
	__u8 uflags;
} __packed;

#define TCMU_OP_MASK 0x7

static inline enum tcmu_opcode tcmu_hdr_get_op(__u32 len_op)
{
	return len_op & TCMU_OP_MASK;
}

static inline void tcmu_hdr_set_op(__u32 *len_op, enum tcmu_opcode op)
{
	*len_op &= ~TCMU_OP_MASK;
	*len_op |= (op & TCMU_OP_MASK);
}

static inline __u32 tcmu_hdr_get_len(__u32 len_op)
{
	return len_op & ~TCMU_OP_MASK;
}

static inline void tcmu_hdr_set_len(__u32 *len_op, __u32 len)
{
	*len_op &= TCMU_OP_MASK;
	*len_op |= len;
}

/* Sense data the handler can return with CHECK CONDITION */
#define TCMU_SENSE_BUFFERSIZE 96

struct tcmu_cmd_entry {
	struct tcmu_cmd_entry_hdr hdr;

	union {
		/* Written by the kernel */
		struct {
			__u32 iov_cnt;		/* data-out or data-in iovecs */
			__u32 iov_bidi_cnt;	/* data-in iovecs of a BIDI cmd */
			__u32 iov_dif_cnt;	/* always 0 */
			__u64 cdb_off;		/* CDB offset from mailbox start */
			__u64 __pad1;
			__u64 __pad2;
			__DECLARE_FLEX_ARRAY(struct iovec, iov);
		} req;
		/* Written by the handler */
		struct {
			__u8 scsi_status;
			__u8 __pad1;
			__u16 __pad2;
			__u32 read_len;		/* with TCMU_UFLAG_READ_LEN */
			char sense_buffer[TCMU_SENSE_BUFFERSIZE];
		} rsp;
	};
} __packed;

/* Posted when tmr_notification is on; needs no response. */
struct tcmu_tmr_entry {
	struct tcmu_cmd_entry_hdr hdr;

#define TCMU_TMR_UNKNOWN		0
#define TCMU_TMR_ABORT_TASK		1
#define TCMU_TMR_ABORT_TASK_SET		2
#define TCMU_TMR_CLEAR_ACA		3
#define TCMU_TMR_CLEAR_TASK_SET		4
#define TCMU_TMR_LUN_RESET		5
#define TCMU_TMR_TARGET_WARM_RESET	6
#define TCMU_TMR_TARGET_COLD_RESET	7
/* Pseudo TMR types */
#define TCMU_TMR_LUN_RESET_PRO		128
	__u8 tmr_type;

	__u8 __pad1;
	__u16 __pad2;
	__u32 cmd_cnt;		/* number of aborted commands listed */
	__u64 __pad3;
	__u64 __pad4;
	__u16 cmd_ids[];	/* ids of aborted commands still in the ring */
} __packed;

#define TCMU_OP_ALIGN_SIZE sizeof(__u64)

/* Generic netlink family "TCM-USER", multicast group "config" */
enum tcmu_genl_cmd {
	TCMU_CMD_UNSPEC,
	TCMU_CMD_ADDED_DEVICE,
	TCMU_CMD_REMOVED_DEVICE,
	TCMU_CMD_RECONFIG_DEVICE,
	TCMU_CMD_ADDED_DEVICE_DONE,
	TCMU_CMD_REMOVED_DEVICE_DONE,
	TCMU_CMD_RECONFIG_DEVICE_DONE,
	TCMU_CMD_SET_FEATURES,
	__TCMU_CMD_MAX,
};

#define TCMU_CMD_MAX (__TCMU_CMD_MAX - 1)

enum tcmu_genl_attr {
	TCMU_ATTR_UNSPEC,
	TCMU_ATTR_DEVICE,		/* string: UIO device name */
	TCMU_ATTR_MINOR,		/* u32: UIO minor */
	TCMU_ATTR_PAD,
	TCMU_ATTR_DEV_CFG,		/* string: new dev_config */
	TCMU_ATTR_DEV_SIZE,		/* u64: new dev_size in bytes */
	TCMU_ATTR_WRITECACHE,		/* u8: new emulate_write_cache */
	TCMU_ATTR_CMD_STATUS,		/* s32: status of a *_DONE reply */
	TCMU_ATTR_DEVICE_ID,		/* u32: se_device index */
	TCMU_ATTR_SUPP_KERN_CMD_REPLY,	/* u8: handler sends *_DONE */
	/*
	 * u32: tcmu-ng's id of the request, in every ADDED, REMOVED and
	 * RECONFIG_DEVICE event that waits for a reply.  A handler that
	 * copies it into its *_DONE reply has the reply matched to that
	 * request and no other; a reply without it goes to the device's
	 * pending request of that kind, as in the 6.12 driver.  Handlers
	 * that do not know it ignore it.
	 */
	TCMU_ATTR_REQ_ID,
	__TCMU_ATTR_MAX,
};

#define TCMU_ATTR_MAX (__TCMU_ATTR_MAX - 1)

#endif
