// SPDX-License-Identifier: GPL-2.0
/*
 * The command ring: posting SCSI commands and TMR notifications, reaping
 * the completions the handler writes back, waiting for space (qfull),
 * command timeouts, and the block_dev / reset_ring / free_kept_buf
 * actions.  It also makes and frees the memory a device shares with its
 * handler (mailbox and ring, data area, zero-copy window), and its
 * tcmu_dev_put() frees the device with the last reference.
 *
 * DOC: what the kernel trusts in the ring
 *
 * The kernel keeps its own cmd_head and never reads the mailbox's copy
 * back.  From the handler it reads cmd_tail, and in each slot between its
 * last reaped position and that tail the header (len_op, cmd_id, uflags)
 * and, for a command, the response.  cmd_tail must lie within the posted
 * entries; each slot length must be aligned, end before the end of the
 * ring and not pass the tail; a command slot must be big enough for a
 * response; cmd_id must name a command on the ring that has not completed
 * yet.  The response is copied once and only the copy is used; read_len
 * is clamped to the command's length.  Anything else marks the device
 * broken: one log line, new commands fail, the commands already on the
 * ring end by timeout or reset_ring.  No value from the ring can make
 * the kernel read or write outside the ring or touch another device.
 *
 * DOC: locking of the data path
 *
 * See the lock rules in tcmu.h.  A command is prepared (blocks taken,
 * data-out copied) with no device lock, then published under ring_lock:
 * room check, cmd_id, entry, head, inflight list and se_cmd->priv in one
 * short section.  The reap holds reap_lock for the batch and ring_lock
 * only while it walks the entries; READ data, block frees and se_cmd
 * completions come after.  Paths that take commands off the lists for
 * other reasons (timeouts, aborts, block_dev, reset_ring, kept buffers)
 * hold reap_lock as well, so a command one of them found cannot be
 * completed or freed by another under it.
 */
#include <linux/rcupdate.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <scsi/scsi_common.h>
#include <scsi/scsi_proto.h>
#include <target/target_core_base.h>
#include "tcmu.h"

/* A TMR notification waiting for ring space */
struct tcmu_tmr {
	struct list_head queue_entry;
	u8 tmr_type;
	u32 cmd_cnt;
	u16 cmd_ids[] __counted_by(cmd_cnt);
};

/*
 * Ring arithmetic.  The ring size need not be a power of two; one byte
 * stays unused so that head == tail means empty.
 */
static u32 tcmu_ring_used(u32 head, u32 tail, u32 size)
{
	return head >= tail ? head - tail : size - (tail - head);
}

static u32 tcmu_ring_free(u32 head, u32 tail, u32 size)
{
	return size - tcmu_ring_used(head, tail, size) - 1;
}

/*
 * Bytes needed to post an entry of @len at @head: the entry, plus a PAD
 * entry up to the end of the ring when the entry does not fit before it.
 */
static u32 tcmu_ring_needed(u32 head, u32 len, u32 size)
{
	return size - head >= len ? len : len + (size - head);
}

/* Ring entry size of a command with @iov_cnt iovecs and a @cdb_len CDB */
static size_t tcmu_cmd_entry_size(size_t iov_cnt, size_t cdb_len)
{
	size_t base = max(offsetof(struct tcmu_cmd_entry, req.iov[iov_cnt]),
			  sizeof(struct tcmu_cmd_entry));

	return base + round_up(cdb_len, TCMU_OP_ALIGN_SIZE);
}

/*
 * Entries up to this long are built on the stack of the one who posts
 * them; longer ones in a buffer the command gets with its blocks.
 */
#define TCMU_ENTRY_ONSTACK	256

static struct kmem_cache *tcmu_cmd_cache;

int tcmu_ring_init(void)
{
	BUILD_BUG_ON(sizeof(struct tcmu_mailbox) != 128);
	BUILD_BUG_ON(offsetof(struct tcmu_mailbox, cmd_tail) != 64);
	BUILD_BUG_ON(sizeof(struct tcmu_cmd_entry) != 112);
	BUILD_BUG_ON(offsetof(struct tcmu_cmd_entry, req.iov) != 48);
	BUILD_BUG_ON(sizeof(struct tcmu_tmr_entry) != 32);
	BUILD_BUG_ON(sizeof(struct tcmu_cmd_entry) % TCMU_OP_ALIGN_SIZE);

	tcmu_cmd_cache = KMEM_CACHE(tcmu_cmd, 0);
	return tcmu_cmd_cache ? 0 : -ENOMEM;
}

void tcmu_ring_exit(void)
{
	kmem_cache_destroy(tcmu_cmd_cache);
}

/* Fill in the mailbox of a device being configured. */
static void tcmu_dev_ring_setup(struct tcmu_dev *udev)
{
	struct tcmu_mailbox *mb = udev->mb;

	mb->version = TCMU_MAILBOX_VERSION;
	mb->flags = TCMU_MAILBOX_FLAG_CAP_OOOC |
		    TCMU_MAILBOX_FLAG_CAP_READ_LEN |
		    TCMU_MAILBOX_FLAG_CAP_TMR |
		    TCMU_MAILBOX_FLAG_CAP_KEEP_BUF;
	if (tcmu_zc_enabled(&udev->zc))
		mb->flags |= TCMU_MAILBOX_FLAG_CAP_ZERO_COPY;
	mb->cmdr_off = TCMU_CMDR_OFF;
	mb->cmdr_size = udev->cmdr_size;
	mb->cmd_head = 0;
	mb->cmd_tail = 0;
	udev->cmd_head = 0;
	udev->cmdr_last_cleaned = 0;
}

/* Wake the handler; called after ring_lock is dropped. */
static void tcmu_kick(struct tcmu_dev *udev)
{
	if (!test_bit(TCMU_DEV_PLUGGED, &udev->flags))
		uio_event_notify(&udev->uio_info);
}

static void tcmu_ring_broken(struct tcmu_dev *udev, const char *what,
			     u32 val)
{
	lockdep_assert_held(&udev->ring_lock);
	set_bit(TCMU_DEV_BROKEN, &udev->flags);
	if (udev->broken_reported)
		return;
	udev->broken_reported = true;
	pr_err_ratelimited("%s: handler broke the ring (%s %u); failing new commands until reset_ring\n",
			   udev->name, what, val);
}

static struct tcmu_cmd *tcmu_cmd_alloc(struct tcmu_dev *udev,
				       struct se_cmd *se_cmd)
{
	u32 blk_size = udev->da.blk_size;
	struct scatterlist *sg;
	struct tcmu_cmd *cmd;
	u32 nr, i;

	cmd = kmem_cache_zalloc(tcmu_cmd_cache, GFP_NOIO);
	if (!cmd)
		return NULL;
	INIT_LIST_HEAD(&cmd->queue_entry);
	cmd->se_cmd = se_cmd;
	cmd->udev = udev;

	cmd->data_len = se_cmd->data_length;
	if (se_cmd->se_cmd_flags & SCF_OVERFLOW_BIT &&
	    se_cmd->data_direction != DMA_TO_DEVICE)
		cmd->data_len += se_cmd->residual_count;
	nr = DIV_ROUND_UP(cmd->data_len, blk_size);
	if (se_cmd->se_cmd_flags & SCF_BIDI) {
		for_each_sg(se_cmd->t_bidi_data_sg, sg,
			    se_cmd->t_bidi_data_nents, i)
			cmd->bidi_len += sg->length;
		cmd->nr_bidi_blocks = DIV_ROUND_UP(cmd->bidi_len, blk_size);
		nr += cmd->nr_bidi_blocks;
	}
	cmd->nr_blocks = nr;
	if (nr) {
		cmd->blocks = kcalloc(nr, sizeof(*cmd->blocks), GFP_NOIO);
		if (!cmd->blocks) {
			kmem_cache_free(tcmu_cmd_cache, cmd);
			return NULL;
		}
	}
	return cmd;
}

static void tcmu_cmd_free(struct tcmu_cmd *cmd)
{
	if (cmd->zc_slot)
		tcmu_zc_release(cmd->udev, cmd);
	kfree(cmd->entry);
	kfree(cmd->blocks);
	kmem_cache_free(tcmu_cmd_cache, cmd);
}

/* Free a command that is off every list and out of cmd_ids. */
static void tcmu_cmd_release(struct tcmu_cmd *cmd)
{
	if (test_bit(TCMU_CMD_REVOKED, &cmd->flags))
		tcmu_da_free_revoked(&cmd->udev->da, cmd->blocks,
				     cmd->nr_blocks);
	else
		tcmu_da_free(&cmd->udev->da, cmd->blocks, cmd->nr_blocks);
	tcmu_cmd_free(cmd);
}

/*
 * Unlink @cmd from its se_cmd before completing that; returns it.  The
 * handler loses its window PTEs to the se_cmd's pages here, on every path.
 */
static struct se_cmd *tcmu_cmd_detach(struct tcmu_cmd *cmd)
{
	struct se_cmd *se_cmd = cmd->se_cmd;

	if (cmd->zc_slot)
		tcmu_zc_detach(cmd->udev, cmd,
			       test_bit(TCMU_CMD_KEEP_BUF, &cmd->flags));
	cmd->se_cmd = NULL;
	se_cmd->priv = NULL;
	return se_cmd;
}

/* Fail a command: target core turns @sense into sense data or a status */
static void tcmu_cmd_fail(struct tcmu_cmd *cmd, sense_reason_t sense)
{
	target_complete_cmd_with_sense(tcmu_cmd_detach(cmd),
				       SAM_STAT_CHECK_CONDITION, sense);
}

/* Hand a command back to target core with a bare status. */
static void tcmu_cmd_done(struct tcmu_cmd *cmd, u8 status)
{
	target_complete_cmd(tcmu_cmd_detach(cmd), status);
}

static void tcmu_arm_timer(struct tcmu_cmd *cmd, unsigned int tmo_ms,
			   struct timer_list *timer)
{
	cmd->deadline = round_jiffies_up(jiffies + msecs_to_jiffies(tmo_ms));
	if (!timer_pending(timer))
		mod_timer(timer, cmd->deadline);
}

static void tcmu_rearm_timer(struct list_head *queue, struct timer_list *timer)
{
	struct tcmu_cmd *cmd;

	cmd = list_first_entry_or_null(queue, struct tcmu_cmd, queue_entry);
	if (cmd)
		mod_timer(timer, cmd->deadline);
	else
		del_timer(timer);
}

/* Publish bytes [cmd_head, cmd_head + len) to the handler. */
static void tcmu_ring_advance(struct tcmu_dev *udev, u32 len)
{
	udev->cmd_head = (udev->cmd_head + len) % udev->cmdr_size;
	/* the entry must be visible before the head that covers it */
	smp_store_release(&udev->mb->cmd_head, udev->cmd_head);
}

/*
 * Give the ring pages the entry of @len at cmd_head needs, with the PAD
 * before it: the whole PAD, so that a handler reading more of it than
 * its header still finds memory.  Returns the pages still missing.
 */
static u32 tcmu_ring_populate(struct tcmu_dev *udev, u32 len)
{
	u32 head = TCMU_CMDR_OFF + udev->cmd_head;
	u32 room = udev->cmdr_size - udev->cmd_head;

	if (room >= len)
		return tcmu_rmem_populate(&udev->rmem, head, len);
	return tcmu_rmem_populate(&udev->rmem, head, room) +
	       tcmu_rmem_populate(&udev->rmem, TCMU_CMDR_OFF, len);
}

/* Fill the end of the ring with a PAD entry when @len does not fit. */
static void tcmu_ring_pad(struct tcmu_dev *udev, u32 len)
{
	u32 room = udev->cmdr_size - udev->cmd_head;
	struct tcmu_cmd_entry_hdr hdr = { .len_op = room };

	if (room >= len)
		return;
	tcmu_hdr_set_op(&hdr.len_op, TCMU_OP_PAD);
	tcmu_rmem_write(&udev->rmem, TCMU_CMDR_OFF + udev->cmd_head, &hdr,
			sizeof(hdr));
	tcmu_ring_advance(udev, room);
}

static bool tcmu_ring_has_room(struct tcmu_dev *udev, u32 len)
{
	u32 size = udev->cmdr_size;

	return tcmu_ring_free(udev->cmd_head, udev->cmdr_last_cleaned, size) >=
	       tcmu_ring_needed(udev->cmd_head, len, size);
}

/*
 * Build the entry of @cmd (header, iovecs, CDB), @len bytes, at cmd_head:
 * in place when it lies within one page, else in @buf, then copied into
 * the pages it spans.
 */
static void tcmu_ring_write_cmd(struct tcmu_dev *udev, struct tcmu_cmd *cmd,
				u32 len, size_t cdb_len,
				struct tcmu_cmd_entry *buf)
{
	u32 at = TCMU_CMDR_OFF + udev->cmd_head;
	struct tcmu_cmd_entry *entry = tcmu_rmem_ptr(&udev->rmem, at, len);
	struct se_cmd *se_cmd = cmd->se_cmd;
	u32 nr_data = cmd->nr_blocks - cmd->nr_bidi_blocks;
	u32 cdb_at = len - round_up(cdb_len, TCMU_OP_ALIGN_SIZE);
	unsigned int n;

	if (!entry)
		entry = buf;
	memset(entry, 0, len);
	entry->hdr.len_op = len;
	tcmu_hdr_set_op(&entry->hdr.len_op, TCMU_OP_CMD);
	entry->hdr.cmd_id = cmd->cmd_id;

	if (cmd->zc_slot) {
		entry->hdr.kflags = TCMU_KFLAG_ZERO_COPY;
		n = tcmu_zc_fill_iovs(&udev->zc, cmd, entry->req.iov);
	} else {
		n = tcmu_da_fill_iovs(&udev->da, cmd->blocks, nr_data,
				      cmd->data_len, entry->req.iov);
	}
	entry->req.iov_cnt = n;
	if (cmd->nr_bidi_blocks)
		entry->req.iov_bidi_cnt =
			tcmu_da_fill_iovs(&udev->da, cmd->blocks + nr_data,
					  cmd->nr_bidi_blocks, cmd->bidi_len,
					  entry->req.iov + n);
	memcpy((void *)entry + cdb_at, se_cmd->t_task_cdb, cdb_len);
	entry->req.cdb_off = at + cdb_at;
	if (entry == buf)
		tcmu_rmem_write(&udev->rmem, at, entry, len);
}

/*
 * A blocked or broken device takes no command: returns -EBUSY or -EIO
 * with *@sense set, else 0.
 */
static int tcmu_dev_refuses(struct tcmu_dev *udev, sense_reason_t *sense)
{
	if (test_bit(TCMU_DEV_BLOCKED, &udev->flags)) {
		*sense = TCM_LUN_BUSY;
		return -EBUSY;
	}
	if (test_bit(TCMU_DEV_BROKEN, &udev->flags)) {
		*sense = TCM_LOGICAL_UNIT_COMMUNICATION_FAILURE;
		return -EIO;
	}
	return 0;
}

/*
 * The entry of @cmd is @len bytes: a buffer to build it in when the stack
 * would not do.  Returns 0 or -ENOMEM.
 */
static int tcmu_cmd_entry_buf(struct tcmu_cmd *cmd, u32 len)
{
	cmd->ring_len = len;
	if (len <= TCMU_ENTRY_ONSTACK)
		return 0;
	cmd->entry = kmalloc(len, GFP_NOIO);
	return cmd->entry ? 0 : -ENOMEM;
}

/* Give back the blocks or the window slot tcmu_cmd_prepare() took. */
static void tcmu_cmd_unprepare(struct tcmu_cmd *cmd)
{
	struct tcmu_dev *udev = cmd->udev;

	if (cmd->zc_slot) {
		tcmu_zc_release(udev, cmd);
		/* a zero-copy command is never BIDI */
		cmd->nr_blocks = DIV_ROUND_UP(cmd->data_len, udev->da.blk_size);
	} else {
		tcmu_da_free(&udev->da, cmd->blocks, cmd->nr_blocks);
	}
	kfree(cmd->entry);
	cmd->entry = NULL;
	cmd->ring_len = 0;
}

/*
 * Take @cmd's blocks and copy its data-out into them, with no device lock
 * held.  TCMU_GOT: it is ready for the ring; TCMU_WAIT: the data area or
 * the pool is full (it holds nothing then; a completion or the pool wakes
 * the qfull queue); TCMU_FAIL with *@sense set.  A failed page allocation
 * fails (TASK SET FULL, which initiators retry): nothing would wake a
 * command parked for it.
 */
static enum tcmu_get tcmu_cmd_prepare(struct tcmu_cmd *cmd,
				      sense_reason_t *sense)
{
	struct tcmu_dev *udev = cmd->udev;
	struct se_cmd *se_cmd = cmd->se_cmd;
	u32 nr_data = cmd->nr_blocks - cmd->nr_bidi_blocks;
	size_t cdb_len = scsi_command_size(se_cmd->t_task_cdb);
	enum tcmu_get got;
	unsigned int iovs;
	size_t len;

	/* an early look, so that a refused command takes no blocks */
	if (tcmu_dev_refuses(udev, sense))
		return TCMU_FAIL;
	if (tcmu_zc_map(udev, cmd)) {
		/* its data is in the window: no block, nothing to copy */
		cmd->nr_blocks = 0;
		len = tcmu_cmd_entry_size(cmd->zc_iovs, cdb_len);
		if (len > udev->cmdr_size / 2) {
			tcmu_cmd_unprepare(cmd);
			goto too_big;
		}
		if (tcmu_cmd_entry_buf(cmd, len)) {
			tcmu_cmd_unprepare(cmd);
			goto nomem;
		}
		return TCMU_GOT;
	}
	if (cmd->nr_blocks > udev->da.nr_blocks) {
		pr_warn_ratelimited("%s: %u-block command exceeds the %u-block data area\n",
				    udev->name, cmd->nr_blocks,
				    udev->da.nr_blocks);
		*sense = TCM_INVALID_CDB_FIELD;
		return TCMU_FAIL;
	}

	got = tcmu_da_alloc(&udev->da, cmd->blocks, cmd->nr_blocks);
	if (got == TCMU_FAIL)
		*sense = TCM_OUT_OF_RESOURCES;
	if (got != TCMU_GOT)
		return got;

	iovs = tcmu_da_iov_count(cmd->blocks, nr_data) +
	       tcmu_da_iov_count(cmd->blocks + nr_data, cmd->nr_bidi_blocks);
	len = tcmu_cmd_entry_size(iovs, cdb_len);
	if (len > udev->cmdr_size / 2) {
		tcmu_da_free(&udev->da, cmd->blocks, cmd->nr_blocks);
too_big:
		pr_warn_ratelimited("%s: %zu-byte ring entry exceeds half the %u-byte ring\n",
				    udev->name, len, udev->cmdr_size);
		*sense = TCM_INVALID_CDB_FIELD;
		return TCMU_FAIL;
	}
	if (tcmu_cmd_entry_buf(cmd, len)) {
		tcmu_da_free(&udev->da, cmd->blocks, cmd->nr_blocks);
nomem:
		*sense = TCM_OUT_OF_RESOURCES;
		return TCMU_FAIL;
	}

	if (se_cmd->data_direction == DMA_TO_DEVICE ||
	    se_cmd->se_cmd_flags & SCF_BIDI)
		tcmu_da_copy_from_sg(&udev->da, cmd->blocks, se_cmd->t_data_sg,
				     se_cmd->t_data_nents, se_cmd->data_length);
	return TCMU_GOT;
}

/*
 * Put a prepared @cmd on the ring and the inflight list: TCMU_GOT,
 * TCMU_WAIT when the ring or the id space is full, or TCMU_FAIL with
 * *@sense set.  TCMU_WAIT with *@nopage set: the ring misses that many
 * pages, which the caller makes (tcmu_rmem_fill()) before trying again.
 * The caller gives the blocks back on failure and kicks the handler on
 * success, after dropping ring_lock.
 */
static enum tcmu_get tcmu_post_cmd(struct tcmu_cmd *cmd,
				   sense_reason_t *sense, u32 *nopage)
{
	struct tcmu_dev *udev = cmd->udev;
	size_t cdb_len = scsi_command_size(cmd->se_cmd->t_task_cdb);
	union {
		struct tcmu_cmd_entry entry;
		u8 bytes[TCMU_ENTRY_ONSTACK];
	} buf;
	u32 len = cmd->ring_len;
	unsigned int tmo;
	u32 id;
	int ret;

	lockdep_assert_held(&udev->ring_lock);

	*nopage = 0;
	/* decided here, where block_dev and the reap set the flags */
	if (tcmu_dev_refuses(udev, sense))
		return TCMU_FAIL;
	if (!tcmu_ring_has_room(udev, len))
		return TCMU_WAIT;
	*nopage = tcmu_ring_populate(udev, len);
	if (*nopage)
		return TCMU_WAIT;
	ret = xa_alloc_cyclic(&udev->cmd_ids, &id, cmd, XA_LIMIT(1, U16_MAX),
			      &udev->next_cmd_id, GFP_NOWAIT);
	if (ret < 0) {
		if (ret != -ENOMEM)
			return TCMU_WAIT;	/* no free id */
		*sense = TCM_OUT_OF_RESOURCES;
		return TCMU_FAIL;
	}
	cmd->cmd_id = id;

	tcmu_ring_pad(udev, len);
	tcmu_ring_write_cmd(udev, cmd, len, cdb_len,
			    cmd->entry ?: &buf.entry);
	kfree(cmd->entry);
	cmd->entry = NULL;
	tcmu_ring_advance(udev, len);

	list_move_tail(&cmd->queue_entry, &udev->inflight_queue);
	WRITE_ONCE(udev->nr_inflight, udev->nr_inflight + 1);
	tmo = READ_ONCE(udev->cmd_time_out);
	if (tmo)
		tcmu_arm_timer(cmd, tmo, &udev->cmd_timer);
	return TCMU_GOT;
}

/*
 * tcmu_post_cmd() under ring_lock; not while others wait if @in_order.
 * Ring pages it misses are made outside the lock, then it tries again.
 */
static enum tcmu_get tcmu_post_cmd_lock(struct tcmu_cmd *cmd,
					sense_reason_t *sense, bool in_order)
{
	struct tcmu_dev *udev = cmd->udev;
	enum tcmu_get got;
	u32 nopage;

	for (;;) {
		nopage = 0;	/* a wait behind others is not for pages */
		spin_lock(&udev->ring_lock);
		if (in_order && !list_empty(&udev->qfull_queue))
			got = TCMU_WAIT;
		else
			got = tcmu_post_cmd(cmd, sense, &nopage);
		if (got == TCMU_GOT)	/* visible to TMRs from here */
			cmd->se_cmd->priv = cmd;
		spin_unlock(&udev->ring_lock);
		if (got != TCMU_WAIT || !nopage)
			return got;
		if (tcmu_rmem_fill(&udev->rmem, nopage)) {
			*sense = TCM_OUT_OF_RESOURCES;
			return TCMU_FAIL;
		}
	}
}

/*
 * After the qfull queue changed: time its oldest entry, and leave the
 * pool's line once nothing waits.  A submitter that joins the line
 * meanwhile parks as the first waiter and queues qfull_work, which
 * charges again.  Under reap_lock.
 */
static void tcmu_qfull_rearm(struct tcmu_dev *udev)
{
	bool empty;

	lockdep_assert_held(&udev->reap_lock);
	spin_lock(&udev->ring_lock);
	tcmu_rearm_timer(&udev->qfull_queue, &udev->qfull_timer);
	empty = list_empty(&udev->qfull_queue);
	spin_unlock(&udev->ring_lock);
	if (empty && !list_empty_careful(&udev->da.waiter.node))
		tcmu_pool_cancel_wait(udev->da.pool, &udev->da.waiter);
}

/* Park @cmd until space frees up; qfull_time_out bounds the wait. */
static int tcmu_qfull_add(struct tcmu_cmd *cmd, sense_reason_t *sense)
{
	struct tcmu_dev *udev = cmd->udev;
	int qfull_tmo = READ_ONCE(udev->qfull_time_out);
	unsigned int tmo;

	lockdep_assert_held(&udev->ring_lock);
	if (!qfull_tmo) {
		*sense = TCM_OUT_OF_RESOURCES;
		return -EBUSY;
	}
	if (qfull_tmo > 0)
		tmo = qfull_tmo;
	else
		tmo = READ_ONCE(udev->cmd_time_out) ?: TCMU_CMD_TIME_OUT_DEF;
	tcmu_arm_timer(cmd, tmo, &udev->qfull_timer);
	list_add_tail(&cmd->queue_entry, &udev->qfull_queue);
	return 0;
}

sense_reason_t tcmu_queue_cmd(struct se_cmd *se_cmd)
{
	struct tcmu_dev *udev = TCMU_DEV(se_cmd->se_dev);
	sense_reason_t sense = TCM_CHECK_CONDITION_ABORT_CMD;
	bool prepared = false, first = false;
	enum tcmu_get got = TCMU_WAIT;
	struct tcmu_cmd *cmd;
	int ret;

	if (se_cmd->transport_state & CMD_T_ABORTED)
		return sense;
	cmd = tcmu_cmd_alloc(udev, se_cmd);
	if (!cmd)
		return TCM_OUT_OF_RESOURCES;

	/* keep arrival order: nobody overtakes a waiting command */
	if (list_empty_careful(&udev->qfull_queue)) {
		got = tcmu_cmd_prepare(cmd, &sense);
		prepared = got == TCMU_GOT;
	}
	if (prepared) {
		got = tcmu_post_cmd_lock(cmd, &sense, true);
		if (got == TCMU_GOT) {
			tcmu_kick(udev);
			return TCM_NO_SENSE;
		}
		/* before the retry can see the command and take blocks */
		tcmu_cmd_unprepare(cmd);
	}
	if (got == TCMU_WAIT) {
		spin_lock(&udev->ring_lock);
		ret = tcmu_qfull_add(cmd, &sense);
		if (!ret) {
			se_cmd->priv = cmd;
			first = list_is_singular(&udev->qfull_queue);
		}
		spin_unlock(&udev->ring_lock);
		if (!ret) {
			/*
			 * The space this command missed may have been freed
			 * before it parked, and blocks it gave back may be
			 * what the first waiter needs: either way the retry
			 * must look again.
			 */
			if (first || prepared)
				queue_work(system_unbound_wq, &udev->qfull_work);
			return TCM_NO_SENSE;
		}
	}
	tcmu_cmd_free(cmd);
	return sense;
}

/* Take @cmd off the qfull queue; under reap_lock. */
static void tcmu_qfull_del(struct tcmu_dev *udev, struct tcmu_cmd *cmd)
{
	spin_lock(&udev->ring_lock);
	list_del_init(&cmd->queue_entry);
	spin_unlock(&udev->ring_lock);
}

/*
 * Retry waiting commands in order; fail them all with BUSY if @fail.
 * The first entry cannot move under reap_lock: submitters only add.
 */
static void tcmu_run_qfull(struct tcmu_dev *udev, bool fail)
{
	struct tcmu_cmd *cmd;
	sense_reason_t sense;
	enum tcmu_get got;

	lockdep_assert_held(&udev->reap_lock);
	for (;;) {
		spin_lock(&udev->ring_lock);
		cmd = list_first_entry_or_null(&udev->qfull_queue,
					       struct tcmu_cmd, queue_entry);
		spin_unlock(&udev->ring_lock);
		if (!cmd)
			break;
		if (fail) {
			tcmu_qfull_del(udev, cmd);
			tcmu_cmd_done(cmd, SAM_STAT_BUSY);
			tcmu_cmd_free(cmd);
			continue;
		}
		got = tcmu_cmd_prepare(cmd, &sense);
		if (got == TCMU_GOT) {
			got = tcmu_post_cmd_lock(cmd, &sense, false);
			if (got == TCMU_GOT) {
				tcmu_kick(udev);
				continue;
			}
			tcmu_cmd_unprepare(cmd);
		}
		if (got == TCMU_WAIT)
			break;
		tcmu_qfull_del(udev, cmd);
		tcmu_cmd_fail(cmd, sense);
		tcmu_cmd_free(cmd);
	}
	tcmu_qfull_rearm(udev);
}

/*
 * Post @tmr or park it; returns false when it had to be parked.  Sets
 * *@kick when an entry went on the ring, and *@nopage to the ring pages
 * it misses when it parked for those (the caller makes them and runs the
 * queue again).  Under ring_lock.
 */
static bool tcmu_post_tmr(struct tcmu_dev *udev, struct tcmu_tmr *tmr,
			  bool *kick, u32 *nopage)
{
	size_t ids = sizeof(tmr->cmd_ids[0]) * tmr->cmd_cnt;
	u32 len = round_up(sizeof(struct tcmu_tmr_entry) + ids,
			   TCMU_OP_ALIGN_SIZE);
	struct tcmu_tmr_entry entry = { .hdr.len_op = len };
	u32 at;

	lockdep_assert_held(&udev->ring_lock);
	*nopage = 0;
	if (test_bit(TCMU_DEV_BROKEN, &udev->flags) ||
	    len > udev->cmdr_size / 2)
		goto out_free;
	if (tcmu_ring_has_room(udev, len))
		*nopage = tcmu_ring_populate(udev, len);
	if (!tcmu_ring_has_room(udev, len) || *nopage) {
		list_add_tail(&tmr->queue_entry, &udev->tmr_queue);
		return false;
	}
	tcmu_ring_pad(udev, len);
	tcmu_hdr_set_op(&entry.hdr.len_op, TCMU_OP_TMR);
	entry.tmr_type = tmr->tmr_type;
	entry.cmd_cnt = tmr->cmd_cnt;
	at = TCMU_CMDR_OFF + udev->cmd_head;
	tcmu_rmem_write(&udev->rmem, at, &entry, sizeof(entry));
	tcmu_rmem_write(&udev->rmem, at + sizeof(entry), tmr->cmd_ids, ids);
	tcmu_rmem_zero(&udev->rmem, at + sizeof(entry) + ids,
		       len - sizeof(entry) - ids);
	tcmu_ring_advance(udev, len);
	*kick = true;
out_free:
	kfree(tmr);
	return true;
}

/* Under ring_lock */
static void tcmu_drop_tmrs(struct tcmu_dev *udev)
{
	struct tcmu_tmr *tmr, *tmp;

	list_for_each_entry_safe(tmr, tmp, &udev->tmr_queue, queue_entry) {
		list_del(&tmr->queue_entry);
		kfree(tmr);
	}
}

/* Returns true when no TMR is left waiting.  Under reap_lock. */
static bool tcmu_run_tmr_queue(struct tcmu_dev *udev)
{
	struct tcmu_tmr *tmr, *tmp;
	bool kick = false, done;
	u32 nopage;
	LIST_HEAD(tmrs);

again:
	done = true;
	nopage = 0;
	spin_lock(&udev->ring_lock);
	list_splice_init(&udev->tmr_queue, &tmrs);
	list_for_each_entry_safe(tmr, tmp, &tmrs, queue_entry) {
		list_del_init(&tmr->queue_entry);
		if (!tcmu_post_tmr(udev, tmr, &kick, &nopage)) {
			list_splice_tail_init(&tmrs, &udev->tmr_queue);
			done = false;
			break;
		}
	}
	spin_unlock(&udev->ring_lock);
	if (nopage) {
		if (!tcmu_rmem_fill(&udev->rmem, nopage))
			goto again;
		/* no page for a notification: the handler does without */
		pr_warn_ratelimited("%s: no memory for the ring: TMR notifications dropped\n",
				    udev->name);
		spin_lock(&udev->ring_lock);
		tcmu_drop_tmrs(udev);
		spin_unlock(&udev->ring_lock);
		done = true;
	}
	if (kick)
		tcmu_kick(udev);
	return done;
}

static u8 tcmu_tmr_type(enum tcm_tmreq_table tmf)
{
	switch (tmf) {
	case TMR_ABORT_TASK:		return TCMU_TMR_ABORT_TASK;
	case TMR_ABORT_TASK_SET:	return TCMU_TMR_ABORT_TASK_SET;
	case TMR_CLEAR_ACA:		return TCMU_TMR_CLEAR_ACA;
	case TMR_CLEAR_TASK_SET:	return TCMU_TMR_CLEAR_TASK_SET;
	case TMR_LUN_RESET:		return TCMU_TMR_LUN_RESET;
	case TMR_TARGET_WARM_RESET:	return TCMU_TMR_TARGET_WARM_RESET;
	case TMR_TARGET_COLD_RESET:	return TCMU_TMR_TARGET_COLD_RESET;
	case TMR_LUN_RESET_PRO:		return TCMU_TMR_LUN_RESET_PRO;
	default:			return TCMU_TMR_UNKNOWN;
	}
}

/*
 * Target core aborts the commands on @cmd_list.  Those still waiting for
 * space never reached the handler and end here; those on the ring are
 * named in a TMR entry when tmr_notification is on.  A command still
 * being prepared has no se_cmd->priv yet: it reaches the ring or the
 * queue later and target core waits for it as for any other.
 */
void tcmu_tmr_notify(struct se_device *se_dev, enum tcm_tmreq_table tmf,
		     struct list_head *cmd_list)
{
	struct tcmu_dev *udev = TCMU_DEV(se_dev);
	struct tcmu_cmd *cmd, *tmp;
	struct se_cmd *se_cmd;
	struct tcmu_tmr *tmr;
	LIST_HEAD(aborted);
	bool kick = false;
	u32 cnt = 0, nopage = 0;

	mutex_lock(&udev->reap_lock);
	spin_lock(&udev->ring_lock);
	list_for_each_entry(se_cmd, cmd_list, state_list) {
		cmd = se_cmd->priv;
		if (!cmd)
			continue;
		if (cmd->cmd_id) {
			cnt++;
			continue;
		}
		list_move_tail(&cmd->queue_entry, &aborted);
	}
	spin_unlock(&udev->ring_lock);
	list_for_each_entry_safe(cmd, tmp, &aborted, queue_entry) {
		list_del_init(&cmd->queue_entry);
		tcmu_cmd_done(cmd, SAM_STAT_TASK_ABORTED);
		tcmu_cmd_free(cmd);
	}
	tcmu_qfull_rearm(udev);

	if (!test_bit(TCMU_DEV_TMR_NOTIFY, &udev->flags))
		goto unlock;
	tmr = kmalloc(struct_size(tmr, cmd_ids, cnt), GFP_NOIO);
	if (!tmr)
		goto unlock;
	tmr->tmr_type = tcmu_tmr_type(tmf);
	tmr->cmd_cnt = cnt;
	cnt = 0;
	spin_lock(&udev->ring_lock);
	list_for_each_entry(se_cmd, cmd_list, state_list) {
		cmd = se_cmd->priv;
		if (cmd && cmd->cmd_id && cnt < tmr->cmd_cnt)
			tmr->cmd_ids[cnt++] = cmd->cmd_id;
	}
	if (list_empty(&udev->tmr_queue))
		tcmu_post_tmr(udev, tmr, &kick, &nopage);
	else
		list_add_tail(&tmr->queue_entry, &udev->tmr_queue);
	spin_unlock(&udev->ring_lock);
	if (kick)
		tcmu_kick(udev);
	/* it parked for ring pages: make them and post it */
	if (nopage)
		tcmu_run_tmr_queue(udev);
unlock:
	mutex_unlock(&udev->reap_lock);
}

static u8 tcmu_sanitize_status(struct tcmu_dev *udev, u8 status)
{
	switch (status) {
	case SAM_STAT_GOOD:
	case SAM_STAT_CHECK_CONDITION:
	case SAM_STAT_CONDITION_MET:
	case SAM_STAT_BUSY:
	case SAM_STAT_RESERVATION_CONFLICT:
	case SAM_STAT_TASK_SET_FULL:
	case SAM_STAT_ACA_ACTIVE:
	case SAM_STAT_TASK_ABORTED:
		return status;
	default:
		pr_warn_ratelimited("%s: handler returned SCSI status 0x%x; reporting CHECK CONDITION\n",
				    udev->name, status);
		return SAM_STAT_CHECK_CONDITION;
	}
}

/* Complete @cmd's se_cmd from the handler's response (cmd->rsp, a copy). */
static void tcmu_cmd_complete(struct tcmu_cmd *cmd)
{
	const struct tcmu_cmd_entry *rsp = &cmd->rsp;
	struct tcmu_dev *udev = cmd->udev;
	struct se_cmd *se_cmd = cmd->se_cmd;
	u32 nr_data = cmd->nr_blocks - cmd->nr_bidi_blocks;
	u8 status = tcmu_sanitize_status(udev, rsp->rsp.scsi_status);
	u32 read_len = se_cmd->data_length;
	bool has_len = false;

	if (rsp->hdr.uflags & TCMU_UFLAG_UNKNOWN_OP) {
		tcmu_cmd_fail(cmd, TCM_UNSUPPORTED_SCSI_OPCODE);
		return;
	}

	/* UAM: read_len only ever shortens the transfer */
	if (se_cmd->data_direction == DMA_FROM_DEVICE &&
	    (rsp->hdr.uflags & TCMU_UFLAG_READ_LEN) && rsp->rsp.read_len) {
		has_len = true;
		read_len = min(read_len, rsp->rsp.read_len);
	}
	if (status == SAM_STAT_CHECK_CONDITION) {
		transport_copy_sense_to_cmd(se_cmd,
					    (unsigned char *)rsp->rsp.sense_buffer);
		if (has_len)
			se_cmd->se_cmd_flags |= SCF_TREAT_READ_AS_NORMAL;
	}
	if (status == SAM_STAT_GOOD || has_len) {
		if (se_cmd->se_cmd_flags & SCF_BIDI)
			tcmu_da_copy_to_sg(&udev->da, cmd->blocks + nr_data,
					   se_cmd->t_bidi_data_sg,
					   se_cmd->t_bidi_data_nents,
					   cmd->bidi_len);
		else if (se_cmd->data_direction == DMA_FROM_DEVICE &&
			 cmd->zc_slot)
			tcmu_zc_copy_back(&udev->zc, cmd, read_len);
		else if (se_cmd->data_direction == DMA_FROM_DEVICE)
			tcmu_da_copy_to_sg(&udev->da, cmd->blocks,
					   se_cmd->t_data_sg,
					   se_cmd->t_data_nents, read_len);
	}

	tcmu_cmd_detach(cmd);
	if (has_len)
		target_complete_cmd_with_length(se_cmd, status, read_len);
	else
		target_complete_cmd(se_cmd, status);
}

/*
 * Take @id off cmd_ids, leaving a reserved entry in its place until the
 * next id is freed.  Ids are cyclic, so with one command at a time the
 * last entry would leave cmd_ids at every completion, and the xarray
 * would free every level of its tree (each through RCU) to make them
 * again for the next id: three node allocations and three RCU callbacks
 * per command.  The reserved entry keeps the leaf the next ids fall in;
 * it reads as no command (xa_load() and xa_for_each() skip it) and is
 * not handed out.  tcmu_cmd_id_flush() drops it.  Under ring_lock.
 */
static void tcmu_cmd_id_free(struct tcmu_dev *udev, u16 id)
{
	lockdep_assert_held(&udev->ring_lock);
	/* an allocating xarray stores NULL as a reserved entry, in place */
	xa_store(&udev->cmd_ids, id, NULL, GFP_NOWAIT);
	if (udev->last_free_id && udev->last_free_id != id)
		xa_release(&udev->cmd_ids, udev->last_free_id);
	udev->last_free_id = id;
}

/* Drop the reserved entry of the last freed id: the tree's nodes go. */
static void tcmu_cmd_id_flush(struct tcmu_dev *udev)
{
	spin_lock(&udev->ring_lock);
	if (udev->last_free_id)
		xa_release(&udev->cmd_ids, udev->last_free_id);
	udev->last_free_id = 0;
	spin_unlock(&udev->ring_lock);
}

/*
 * Reap the command slot at @pos: copy the response into the command, take it off
 * cmd_ids (unless KEEP_BUF) and the inflight list, and queue it on @done
 * when its se_cmd is still to be completed or it is to be freed.
 * Returns false when the ring is broken.  Under ring_lock.
 */
static bool tcmu_reap_cmd(struct tcmu_dev *udev, u32 pos,
			  struct list_head *done)
{
	struct tcmu_cmd_entry rsp;
	struct tcmu_cmd *cmd;
	bool keep;

	/* UAM: use only the copy */
	if (!tcmu_rmem_read(&udev->rmem, TCMU_CMDR_OFF + pos, &rsp,
			    sizeof(rsp))) {
		tcmu_ring_broken(udev, "entry offset", pos);
		return false;
	}
	cmd = xa_load(&udev->cmd_ids, rsp.hdr.cmd_id);
	if (!cmd) {
		tcmu_ring_broken(udev, "unknown cmd_id", rsp.hdr.cmd_id);
		return false;
	}
	if (test_bit(TCMU_CMD_KEEP_BUF, &cmd->flags)) {
		tcmu_ring_broken(udev, "completed twice: cmd_id",
				 rsp.hdr.cmd_id);
		return false;
	}

	keep = rsp.hdr.uflags & TCMU_UFLAG_KEEP_BUF;
	if (keep) {
		clear_bit(TCMU_CMD_EXPIRED, &cmd->flags);
		set_bit(TCMU_CMD_KEEP_BUF, &cmd->flags);
	} else {
		tcmu_cmd_id_free(udev, cmd->cmd_id);
	}
	/* a command that timed out has no se_cmd and is on no list */
	if (cmd->se_cmd) {
		cmd->rsp = rsp;
		list_move_tail(&cmd->queue_entry, done);
		WRITE_ONCE(udev->nr_inflight, udev->nr_inflight - 1);
	} else if (!keep) {
		list_add_tail(&cmd->queue_entry, done);
	}
	return true;
}

/*
 * Walk the slots from the last reaped one up to the handler's cmd_tail,
 * moving the commands to @done, @budget commands at most; *@more says
 * the budget left completed slots behind.  Returns true when ring space
 * was freed.  Under ring_lock.
 */
static bool __tcmu_reap(struct tcmu_dev *udev, struct list_head *done,
			u32 budget, bool *more)
{
	u32 size = udev->cmdr_size, last = udev->cmdr_last_cleaned;
	u32 tail, pos, len, len_op;
	bool freed = false;

	lockdep_assert_held(&udev->ring_lock);
	*more = false;
	if (test_bit(TCMU_DEV_BROKEN, &udev->flags))
		return false;

	tail = smp_load_acquire(&udev->mb->cmd_tail);	/* UAM */
	if (tail >= size || !IS_ALIGNED(tail, TCMU_OP_ALIGN_SIZE) ||
	    tcmu_ring_used(tail, last, size) >
	    tcmu_ring_used(udev->cmd_head, last, size)) {
		tcmu_ring_broken(udev, "cmd_tail", tail);
		return false;
	}

	while ((pos = udev->cmdr_last_cleaned) != tail && budget) {
		struct tcmu_cmd_entry_hdr hdr;

		/* UAM: use only the copy; the kernel wrote every live page */
		if (!tcmu_rmem_read(&udev->rmem, TCMU_CMDR_OFF + pos, &hdr,
				    sizeof(hdr))) {
			tcmu_ring_broken(udev, "entry offset", pos);
			break;
		}
		len_op = hdr.len_op;
		len = tcmu_hdr_get_len(len_op);
		if (len < sizeof(hdr) || len > size - pos ||
		    len > tcmu_ring_used(tail, pos, size)) {
			tcmu_ring_broken(udev, "entry length", len);
			break;
		}
		switch (tcmu_hdr_get_op(len_op)) {
		case TCMU_OP_PAD:
		case TCMU_OP_TMR:
			break;
		case TCMU_OP_CMD:
			if (len < sizeof(struct tcmu_cmd_entry)) {
				tcmu_ring_broken(udev, "command entry length",
						 len);
				return freed;
			}
			if (!tcmu_reap_cmd(udev, pos, done))
				return freed;
			budget--;
			break;
		default:
			tcmu_ring_broken(udev, "opcode",
					 tcmu_hdr_get_op(len_op));
			return freed;
		}
		udev->cmdr_last_cleaned = (pos + len) % size;
		freed = true;
	}
	*more = !budget && udev->cmdr_last_cleaned != tail;
	return freed;
}

/* Complete and free what __tcmu_reap() took; ring_lock dropped. */
static void tcmu_finish_reaped(struct list_head *done)
{
	struct tcmu_cmd *cmd, *tmp;

	list_for_each_entry_safe(cmd, tmp, done, queue_entry) {
		list_del_init(&cmd->queue_entry);
		if (cmd->se_cmd)
			tcmu_cmd_complete(cmd);
		if (!test_bit(TCMU_CMD_KEEP_BUF, &cmd->flags))
			tcmu_cmd_release(cmd);
	}
}

/**
 * tcmu_ring_reap - complete what the handler completed
 * @udev: the device, under its reap_lock
 * @budget: commands to complete at most (TCMU_REAP_ALL: no bound)
 * @more: set when the handler completed more than @budget
 *
 * The caller then retries what waits (tcmu_retry_waiting()), after
 * deciding where the freed pages go.
 *
 * Return: true when ring space was freed.
 */
bool tcmu_ring_reap(struct tcmu_dev *udev, u32 budget, bool *more)
{
	LIST_HEAD(done);
	bool freed;

	lockdep_assert_held(&udev->reap_lock);
	spin_lock(&udev->ring_lock);
	freed = __tcmu_reap(udev, &done, budget, more);
	if (freed && READ_ONCE(udev->cmd_time_out))
		tcmu_rearm_timer(&udev->inflight_queue, &udev->cmd_timer);
	spin_unlock(&udev->ring_lock);
	tcmu_finish_reaped(&done);
	return freed;
}

/* After ring or data space was freed: TMRs first, then waiting commands */
static void tcmu_run_queues(struct tcmu_dev *udev)
{
	if (tcmu_run_tmr_queue(udev))
		tcmu_run_qfull(udev, false);
}

/*
 * Retry what waits for ring space or pages: after a reap, and when the
 * pool's work serves the device's place in line.  Under reap_lock.
 */
void tcmu_retry_waiting(struct tcmu_dev *udev)
{
	lockdep_assert_held(&udev->reap_lock);
	tcmu_run_queues(udev);
}

/* The live ring bytes, for tcmu_rmem_trim(): oldest unreaped to head */
static u32 tcmu_ring_live(struct tcmu_ring_mem *rm, u32 *off)
{
	struct tcmu_dev *udev = container_of(rm, struct tcmu_dev, rmem);

	lockdep_assert_held(&udev->ring_lock);
	*off = TCMU_CMDR_OFF + udev->cmdr_last_cleaned;
	return tcmu_ring_used(udev->cmd_head, udev->cmdr_last_cleaned,
			      udev->cmdr_size);
}

/**
 * tcmu_ring_trim - give back the ring pages no live entry is in
 * @udev: the device, under its reap_lock
 *
 * Return: the pages freed.
 */
u32 tcmu_ring_trim(struct tcmu_dev *udev)
{
	lockdep_assert_held(&udev->reap_lock);
	/* with the ring's pages, the command id tree of an idle device */
	tcmu_cmd_id_flush(udev);
	return tcmu_rmem_trim(&udev->rmem, tcmu_ring_live);
}

/* Whether the ring holds pages beyond its mailbox's */
bool tcmu_ring_has_pages(struct tcmu_dev *udev)
{
	return READ_ONCE(udev->rmem.nr_held) > 1;
}

/* Nothing on the ring and nothing waiting for it */
bool tcmu_dev_idle(struct tcmu_dev *udev)
{
	bool idle;

	spin_lock(&udev->ring_lock);
	idle = list_empty(&udev->inflight_queue) &&
	       list_empty(&udev->qfull_queue);
	spin_unlock(&udev->ring_lock);
	return idle;
}

/* Pages the device holds: data area and zero-copy pages of its own */
long tcmu_dev_held(struct tcmu_dev *udev)
{
	return tcmu_da_held(&udev->da) +
	       atomic_long_read(&udev->zc.own_pages);
}

/**
 * tcmu_revoke_orphans - take back pages the handler holds on to
 * @udev: the device
 * @excess: pages to give back at least, if there are that many
 * @max_cmds: commands to revoke at most (each costs a zap per block)
 *
 * Called when other devices wait for pages and this one holds more than
 * its share.  Commands that target core no longer owns (completed with
 * KEEP_BUF, or timed out) lose their pages: their data area blocks show
 * the scratch page and kept zero-copy slots are revoked, until the
 * handler frees them (free_kept_buf, its late completion, reset_ring or
 * closing the device).  Commands target core still waits for keep theirs.
 *
 * Return: the pages given back.
 */
long tcmu_revoke_orphans(struct tcmu_dev *udev, long excess, u32 max_cmds)
{
	struct tcmu_cmd *cmd;
	unsigned long id;
	long freed = 0, n;

	lockdep_assert_held(&udev->reap_lock);
	xa_for_each(&udev->cmd_ids, id, cmd) {
		if (freed >= excess || !max_cmds)
			break;
		/* a command being completed still has its se_cmd */
		if (cmd->se_cmd || test_bit(TCMU_CMD_REVOKED, &cmd->flags))
			continue;
		if (cmd->zc_slot)
			n = tcmu_zc_revoke_kept(udev, cmd);
		else
			n = tcmu_da_revoke(&udev->da, cmd->blocks,
					   cmd->nr_blocks);
		if (n < 0)
			break;
		set_bit(TCMU_CMD_REVOKED, &cmd->flags);
		freed += n;
		max_cmds--;
	}
	if (freed && !udev->revoke_reported) {
		udev->revoke_reported = true;
		pr_warn("%s: other devices wait for pages while its handler keeps %ld of them in kept or timed-out buffers; they now read as a scratch page\n",
			udev->name, freed);
	}
	return freed;
}

/* A submitter parked a command and cannot retry it itself. */
void tcmu_qfull_work_fn(struct work_struct *work)
{
	struct tcmu_dev *udev = container_of(work, struct tcmu_dev,
					     qfull_work);

	mutex_lock(&udev->reap_lock);
	tcmu_run_queues(udev);
	mutex_unlock(&udev->reap_lock);
}

void tcmu_cmd_timer_fn(struct timer_list *t)
{
	struct tcmu_dev *udev = from_timer(udev, t, cmd_timer);

	queue_work(system_unbound_wq, &udev->timeout_work);
}

void tcmu_qfull_timer_fn(struct timer_list *t)
{
	struct tcmu_dev *udev = from_timer(udev, t, qfull_timer);

	queue_work(system_unbound_wq, &udev->timeout_work);
}

/*
 * Move the commands whose deadline passed from @queue to @expired and
 * re-arm @timer for the rest.  Returns how many moved.  Under ring_lock.
 */
static u32 tcmu_take_expired(struct list_head *queue, struct timer_list *timer,
			     struct list_head *expired)
{
	struct tcmu_cmd *cmd, *tmp;
	u32 n = 0;

	list_for_each_entry_safe(cmd, tmp, queue, queue_entry) {
		if (time_before(jiffies, cmd->deadline))
			continue;
		list_move_tail(&cmd->queue_entry, expired);
		n++;
	}
	tcmu_rearm_timer(queue, timer);
	return n;
}

/*
 * A command on the ring that timed out is completed to target core with
 * CHECK CONDITION; it stays in cmd_ids with its blocks until the handler
 * completes it (or reset_ring), because the handler may still use them.
 * A waiting command that timed out ends with TASK SET FULL.
 */
void tcmu_timeout_work_fn(struct work_struct *work)
{
	struct tcmu_dev *udev = container_of(work, struct tcmu_dev,
					     timeout_work);
	struct tcmu_cmd *cmd, *tmp;
	LIST_HEAD(inflight);
	LIST_HEAD(waiting);

	mutex_lock(&udev->reap_lock);
	spin_lock(&udev->ring_lock);
	if (READ_ONCE(udev->cmd_time_out))
		WRITE_ONCE(udev->nr_inflight, udev->nr_inflight -
			   tcmu_take_expired(&udev->inflight_queue,
					     &udev->cmd_timer, &inflight));
	tcmu_take_expired(&udev->qfull_queue, &udev->qfull_timer, &waiting);
	spin_unlock(&udev->ring_lock);

	list_for_each_entry_safe(cmd, tmp, &inflight, queue_entry) {
		list_del_init(&cmd->queue_entry);
		set_bit(TCMU_CMD_EXPIRED, &cmd->flags);
		udev->nr_timed_out++;
		pr_debug("%s: cmd_id %u timed out\n", udev->name, cmd->cmd_id);
		tcmu_cmd_done(cmd, SAM_STAT_CHECK_CONDITION);
	}
	list_for_each_entry_safe(cmd, tmp, &waiting, queue_entry) {
		list_del_init(&cmd->queue_entry);
		udev->nr_qfull_timed_out++;
		tcmu_cmd_done(cmd, SAM_STAT_TASK_SET_FULL);
		tcmu_cmd_free(cmd);
	}
	tcmu_qfull_rearm(udev);
	mutex_unlock(&udev->reap_lock);
}

void tcmu_block_dev(struct tcmu_dev *udev)
{
	bool was, more;

	mutex_lock(&udev->reap_lock);
	spin_lock(&udev->ring_lock);
	was = test_and_set_bit(TCMU_DEV_BLOCKED, &udev->flags);
	spin_unlock(&udev->ring_lock);
	if (!was) {
		/* finish what the handler completed, bounce what waits */
		tcmu_ring_reap(udev, TCMU_REAP_ALL, &more);
		tcmu_run_qfull(udev, true);
	}
	mutex_unlock(&udev->reap_lock);
}

void tcmu_unblock_dev(struct tcmu_dev *udev)
{
	mutex_lock(&udev->reap_lock);
	spin_lock(&udev->ring_lock);
	clear_bit(TCMU_DEV_BLOCKED, &udev->flags);
	spin_unlock(&udev->ring_lock);
	mutex_unlock(&udev->reap_lock);
}

/*
 * Forget everything on the ring.  Commands still owned by target core
 * complete with BUSY (@err_level 1, retryable) or CHECK CONDITION (2).
 */
void tcmu_reset_ring(struct tcmu_dev *udev, u8 err_level)
{
	struct tcmu_cmd *cmd, *tmp;
	unsigned long id;
	LIST_HEAD(gone);

	mutex_lock(&udev->reap_lock);
	spin_lock(&udev->ring_lock);
	xa_for_each(&udev->cmd_ids, id, cmd) {
		xa_erase(&udev->cmd_ids, id);
		/* live ones leave the inflight list; the others are on none */
		list_move_tail(&cmd->queue_entry, &gone);
	}
	WRITE_ONCE(udev->nr_inflight, 0);
	tcmu_dev_ring_setup(udev);
	clear_bit(TCMU_DEV_BROKEN, &udev->flags);
	udev->broken_reported = false;
	del_timer(&udev->cmd_timer);
	/* the handler starts afresh: queued TMRs name nothing it knows */
	tcmu_drop_tmrs(udev);
	spin_unlock(&udev->ring_lock);

	list_for_each_entry_safe(cmd, tmp, &gone, queue_entry) {
		list_del_init(&cmd->queue_entry);
		if (cmd->se_cmd)
			tcmu_cmd_done(cmd, err_level == 1 ? SAM_STAT_BUSY :
					   SAM_STAT_CHECK_CONDITION);
		tcmu_cmd_release(cmd);
	}
	tcmu_run_qfull(udev, false);
	mutex_unlock(&udev->reap_lock);
}

/* Only data space was freed: ring space waiters stay as they are. */
static void tcmu_run_qfull_after_free(struct tcmu_dev *udev)
{
	bool tmrs;

	spin_lock(&udev->ring_lock);
	tmrs = !list_empty(&udev->tmr_queue);
	spin_unlock(&udev->ring_lock);
	if (!tmrs)
		tcmu_run_qfull(udev, false);
}

int tcmu_free_kept_buf(struct tcmu_dev *udev, u16 cmd_id)
{
	struct tcmu_cmd *cmd;
	int ret = 0;

	mutex_lock(&udev->reap_lock);
	cmd = xa_load(&udev->cmd_ids, cmd_id);
	if (!cmd || !test_bit(TCMU_CMD_KEEP_BUF, &cmd->flags)) {
		pr_err("%s: free_kept_buf: cmd_id %u %s\n", udev->name, cmd_id,
		       cmd ? "was not completed with KEEP_BUF" : "not found");
		ret = -EINVAL;
		goto unlock;
	}
	xa_erase(&udev->cmd_ids, cmd_id);
	tcmu_cmd_release(cmd);
	tcmu_run_qfull_after_free(udev);
unlock:
	mutex_unlock(&udev->reap_lock);
	return ret;
}

/* The handler closed the device: nobody can free its kept buffers now. */
void tcmu_release_kept_bufs(struct tcmu_dev *udev)
{
	struct tcmu_cmd *cmd;
	unsigned long id;
	bool freed = false;

	mutex_lock(&udev->reap_lock);
	xa_for_each(&udev->cmd_ids, id, cmd) {
		if (!test_bit(TCMU_CMD_KEEP_BUF, &cmd->flags))
			continue;
		xa_erase(&udev->cmd_ids, id);
		tcmu_cmd_release(cmd);
		freed = true;
	}
	if (freed)
		tcmu_run_qfull_after_free(udev);
	mutex_unlock(&udev->reap_lock);
}

/*
 * Final teardown, with no se_cmd left in flight (target core drained the
 * device) and no work or thread left to run: free expired and kept
 * commands and queued TMRs.
 */
void tcmu_ring_destroy(struct tcmu_dev *udev)
{
	struct tcmu_cmd *cmd;
	unsigned long id;

	mutex_lock(&udev->reap_lock);
	xa_for_each(&udev->cmd_ids, id, cmd) {
		xa_erase(&udev->cmd_ids, id);
		if (cmd->se_cmd)
			pr_err("%s: cmd_id %u still owned by target core at teardown\n",
			       udev->name, cmd->cmd_id);
		tcmu_cmd_release(cmd);
	}
	xa_destroy(&udev->cmd_ids);
	spin_lock(&udev->ring_lock);
	tcmu_drop_tmrs(udev);
	spin_unlock(&udev->ring_lock);
	mutex_unlock(&udev->reap_lock);
}

static void tcmu_dev_free_rcu(struct rcu_head *head)
{
	struct se_device *se_dev = container_of(head, struct se_device,
						rcu_head);
	struct tcmu_dev *udev = TCMU_DEV(se_dev);

	kfree(udev->uio_info.name);
	kfree(udev->name);
	kfree(udev);
}

/*
 * Allocate the mailbox and the ring's page index, the data area index and
 * the zero-copy window, sized by the attributes, which cannot change from
 * here on; data and window pages are charged to @pool.
 */
int tcmu_dev_alloc_area(struct tcmu_dev *udev, struct tcmu_pool *pool)
{
	struct se_dev_attrib *attr = &udev->se_dev.dev_attrib;
	size_t data_pages = TCMU_MB_TO_PAGES(udev->data_area_mb);
	u32 slot_pages;
	int ret;

	lockdep_assert_held(&udev->reap_lock);
	ret = tcmu_rmem_init(&udev->rmem, &udev->ring_lock,
			     udev->cmdr_size + TCMU_CMDR_OFF, TCMU_CMDR_OFF);
	if (ret)
		return ret;
	udev->data_off = udev->cmdr_size + TCMU_CMDR_OFF;
	udev->mmap_pages = (udev->data_off >> PAGE_SHIFT) + data_pages;
	ret = tcmu_da_init(&udev->da, pool, udev->name,
			   data_pages / udev->data_pages_per_blk,
			   udev->data_pages_per_blk, udev->data_off);
	if (ret)
		goto err_rmem;
	if (udev->zero_copy) {
		/* the window follows the data area */
		slot_pages = tcmu_zc_slot_pages((u64)attr->hw_max_sectors *
						attr->hw_block_size);
		ret = tcmu_zc_init(&udev->zc, pool, udev->mmap_pages,
				   slot_pages);
		if (ret)
			goto err_da;
		udev->mmap_pages += (size_t)udev->zc.nr_slots * slot_pages;
	}
	udev->mb = tcmu_rmem_mailbox(&udev->rmem);
	tcmu_dev_ring_setup(udev);
	return 0;

err_da:
	tcmu_da_exit(&udev->da);
err_rmem:
	tcmu_rmem_exit(&udev->rmem);
	return ret;
}

/*
 * Free the ring, the data area and the zero-copy window: no command and
 * no VMA is left, and UIO no longer offers the device.
 */
void tcmu_dev_free_area(struct tcmu_dev *udev)
{
	tcmu_ring_destroy(udev);
	mutex_lock(&udev->reap_lock);
	udev->mb = NULL;
	mutex_unlock(&udev->reap_lock);
	tcmu_zc_exit(&udev->zc);
	tcmu_da_exit(&udev->da);
	tcmu_rmem_exit(&udev->rmem);
}

static void tcmu_dev_release(struct kref *kref)
{
	struct tcmu_dev *udev = container_of(kref, struct tcmu_dev, kref);

	if (udev->mb)
		tcmu_dev_free_area(udev);
	call_rcu(&udev->se_dev.rcu_head, tcmu_dev_free_rcu);
}

/*
 * Drop a reference: target core's, configure's, a VMA's, or a walker's
 * (reclaim, the pool's line).  The last one frees the device.
 */
void tcmu_dev_put(struct tcmu_dev *udev)
{
	kref_put(&udev->kref, tcmu_dev_release);
}

#if IS_ENABLED(CONFIG_TCM_USER2_KUNIT_TEST)
#include "tests/ring_kunit.c"
#endif
