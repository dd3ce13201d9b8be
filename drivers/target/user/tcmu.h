/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcmu-ng private header: the structures shared by the files of the
 * TCMU backstore, the lock rules, and the prototypes between the parts.
 *
 * Locks, outermost first:
 *
 *   tcmu_devices_lock (mutex, reclaim.c)
 *	the list of configured devices and their number, walked by the
 *	reclaim work; never held across one device's work.
 *   tcmu_dev.vma_lock (mutex, uio.c)
 *	the VMAs of the handler's mapping: their count and the
 *	address_space they map, which it hands to the data area and the
 *	zero-copy window.  Taken inside the mm's mmap_lock and UIO's
 *	info_lock; takes map_lock and tcmu_zc.lock inside.
 *   tcmu_dev.reap_lock (mutex)
 *	serializes whoever takes commands off the ring or the qfull queue:
 *	the reap of completions, qfull and TMR retries, timeouts, TMR
 *	aborts, block_dev, reset_ring, the kept-buffer frees, trims of the
 *	data area and teardown.  Submission never takes it, so a device's
 *	submitters and its completion thread do not wait for each other on
 *	a sleeping lock.  Whoever holds it owns every command that is not
 *	on the ring's free side: a command it finds cannot be completed or
 *	freed by anyone else until it lets go.
 *   tcmu_data_area.map_lock (rw_semaphore)
 *	ties the page index to the handler's page tables: the fault path
 *	inserts a PTE for a page only while holding it for read and seeing
 *	the page in the index; the release path removes pages from the index
 *	and zaps their PTEs while holding it for write.  Taken inside
 *	reap_lock, outside the mm's i_mmap_rwsem and page table locks.
 *   tcmu_ring_mem.map_lock (rw_semaphore, ring_mem.c)
 *	ties the ring's page index to the handler's page tables, as the
 *	data area's map_lock does: the fault inserts a ring PTE holding it
 *	for read; a trim holds it for write while it takes dead pages out
 *	of the index (under ring_lock) and zaps them.  Taken inside
 *	reap_lock, vma_lock and the mm's mmap_lock, outside ring_lock,
 *	i_mmap_rwsem and the page table locks.
 *   tcmu_zc.lock (rw_semaphore, zero_copy.c)
 *	ties the zero-copy window's slots to the handler's page tables:
 *	the fault path inserts window PTEs holding it for read, a slot's
 *	pages leave the request (detach, release) only under it held for
 *	write, after zapping the slot.  Taken inside reap_lock and the mm's
 *	mmap_lock, outside i_mmap_rwsem and the page table locks.
 *   tcmu_zc.slot_lock (spinlock)
 *	the window's bitmap of busy slots.  A leaf.
 *   tcmu_dev.ring_lock (spinlock)
 *	the ring itself and the lists that mirror it: cmd_head,
 *	cmdr_last_cleaned, the mailbox head, the slots between them,
 *	stores into cmd_ids, the inflight/qfull/tmr lists, se_cmd->priv
 *	while a command is published, the BLOCKED and BROKEN decisions
 *	and the timers' deadlines, and the ring's page index (struct
 *	tcmu_ring_mem).  Held only to check for room and write or reap
 *	ring entries: data copies, block allocation, data page population
 *	and se_cmd completion all happen outside it; a ring page is
 *	allocated under it only without sleeping (GFP_NOWAIT), else by
 *	the writer after dropping it.  Nothing but the xarray's, the page
 *	allocator's and the timers' own locks nest inside it.
 *   tcmu_data_area.lock (spinlock)
 *	the block bitmaps and counters of a data area.  A leaf: page
 *	allocation and zapping happen outside it, on blocks it marked busy.
 *   tcmu_pool.lock (spinlock, pool.c)
 *	the FIFO of data areas waiting for pool pages and their waiter
 *	fields, and the limbo of pinned pages.  A leaf.
 *   tcmu_nl_lock (mutex, netlink.c)
 *	the list of netlink requests waiting for a handler's reply; never
 *	held while waiting.
 *   tcmu_cthread_lock (mutex, complete.c)
 *	starting completion threads and changing their CPU affinity.
 *	Taken inside the CPU hotplug lock; nothing above is taken under it.
 *
 * Submission (tcmu_queue_cmd) allocates and fills the data blocks with
 * no lock but the data area's, then takes ring_lock once to check for
 * room, write the entry and publish the head.  The reap takes ring_lock
 * once per batch to walk the completed entries, take them off the
 * inflight list and move cmdr_last_cleaned; it copies READ data, frees
 * blocks and completes the se_cmds after dropping it.  A command that
 * finds no room waits on the qfull queue; the first one to wait, and a
 * submitter that gives blocks back while others wait, queue qfull_work,
 * so a wake-up is never lost between a submitter and the reap.
 *
 * The handler's kick queues its device on a completion thread
 * (complete.c) without a lock: TCMU_DEV_KICKED keeps a device on at most
 * one thread's llist, and the thread reaps it under reap_lock.
 *
 * The handler's mapping is hostile: every value read from it is copied
 * once and bounded before use.  Such places carry a "UAM" (user-accessible
 * memory) comment.
 */
#ifndef _TCMU_H
#define _TCMU_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/llist.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/types.h>
#include <linux/uio_driver.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <linux/target_core_user.h>
#include <target/target_core_base.h>
#include <target/target_core_backend.h>

#define TCMU_CMD_TIME_OUT_DEF	(30 * MSEC_PER_SEC)	/* in ms */
#define TCMU_RING_MB_DEF	8			/* mailbox + ring, in MB */
#define TCMU_RING_MB_MAX	8
#define TCMU_DATA_AREA_MB_DEF	1024
#define TCMU_PAGES_PER_BLK_DEF	1
#define TCMU_GLOBAL_MAX_MB_DEF	2048
#define TCMU_CONFIG_LEN		256
#define TCMU_HW_MAX_SECTORS_DEF	128
#define TCMU_QUEUE_DEPTH	128

/* The mailbox sits at offset 0; the ring follows it. */
#define TCMU_CMDR_OFF		((u32)sizeof(struct tcmu_mailbox))

#define TCMU_MB_TO_PAGES(mb)	((size_t)(mb) << (20 - PAGE_SHIFT))
#define TCMU_PAGES_TO_MB(pages)	((pages) >> (20 - PAGE_SHIFT))

/**
 * enum tcmu_get - how getting room for a command ended: pool pages
 *	(tcmu_pool_charge()), data blocks (tcmu_da_alloc()), both with the
 *	data-out copied (tcmu_cmd_prepare()), a ring entry (tcmu_post_cmd())
 * @TCMU_GOT: the command has it
 * @TCMU_WAIT: not now: the command waits on the qfull queue, and what
 *	frees room (a completion, the pool's work) retries it
 * @TCMU_FAIL: not at all, or nothing would wake a waiter (the page
 *	allocator failed, more than the pool's whole limit, a command the
 *	device refuses or cannot hold): the command fails
 */
enum tcmu_get {
	TCMU_GOT,
	TCMU_WAIT,
	TCMU_FAIL,
};

/**
 * struct tcmu_pool_waiter - a data area's place in the pool's wait FIFO
 * @node: on tcmu_pool.waiters while waiting, else empty; pool lock
 * @name: the device name, for tracepoints
 * @want: pages the last failed charge asked for; pool lock
 * @since: ktime_get_ns() when the current wait began; pool lock
 * @waits: waits so far; pool lock
 * @wait_ns: time spent waiting, finished waits only; pool lock
 */
struct tcmu_pool_waiter {
	struct list_head node;
	const char *name;
	long want;
	u64 since;
	u64 waits;
	u64 wait_ns;
};

/**
 * struct tcmu_pool - data pages shared by data areas under a hard limit
 * @held: pages charged.  A charge is taken before its pages are allocated
 *	and only if it keeps @held within @max, so the pages that exist
 *	never exceed the limit, not even briefly.
 * @max: the limit in pages (WRITE_ONCE); lowering it below @held makes
 *	every charge wait until reclaim and completions bring @held under
 * @peak: the highest @held so far
 * @reclaimed: pages given back by trims of cached blocks
 * @lock: guards @waiters, the waiter fields and @waits/@wait_ns
 * @waiters: FIFO of tcmu_pool_waiter.  The first entry's request is
 *	reserved: others may only charge what leaves room for it, so pages
 *	freed go to the longest waiter and nobody starves.
 * @nr_waiters: length of @waiters; written under @lock, read without
 * @head_want: the first waiter's request, 0 if none; as @nr_waiters
 * @waits: waits begun, all waiters; @lock
 * @wait_ns: time waited, finished waits of all waiters; @lock
 * @wq: where @work runs
 * @work: serves the waiters (and reclaims); queued by tcmu_pool_kick()
 * @limbo: pages their user let go of while others still held them
 *	(pinned by a handler: vmsplice, io_uring fixed buffers, O_DIRECT
 *	in flight); they stay charged until the last other reference is
 *	gone, so the limit holds for the pages that exist; @lock, linked
 *	through page->lru (the pages are ours and on no LRU)
 * @nr_limbo: pages on @limbo; written under @lock, read without
 * @limbo_work: frees the pages of @limbo that nobody holds any more
 */
struct tcmu_pool {
	atomic_long_t held;
	long max;
	atomic_long_t peak;
	atomic_long_t reclaimed;
	spinlock_t lock;	/* see the lock rules above */
	struct list_head waiters;
	unsigned int nr_waiters;
	long head_want;
	u64 waits;
	u64 wait_ns;
	struct workqueue_struct *wq;
	struct work_struct work;
	struct list_head limbo;
	long nr_limbo;
	struct delayed_work limbo_work;
};

/**
 * struct tcmu_ring_mem - the pages of the mailbox and the command ring
 * @map_lock: see the lock rules at the top of this file
 * @mapping: the handler's address_space, where trims zap (NULL without a
 *	VMA); set under map_lock held for write
 * @lock: the device's ring_lock, which guards the fields below
 * @mailbox: page 0 of the mapping, from init to exit; the ring's first
 *	bytes are in it too
 * @pages: entry i (i >= 1) holds bytes [i * PAGE_SIZE, (i + 1) *
 *	PAGE_SIZE) of the mapping: a ring page from the first entry written
 *	into it until a trim takes it; NULL otherwise.  The index itself
 *	exists only while the ring holds a page besides the mailbox, or
 *	stashed ones (NULL otherwise).  Both are stored under @lock (the
 *	index freed also under map_lock for write) and read under @lock, or
 *	under map_lock (the fault)
 * @nr_pages: pages of the mapping, entries of @pages
 * @ring_off: the ring's first byte in the mapping
 * @stash: zeroed pages for writers that cannot sleep (page->lru)
 * @nr_stash: pages on @stash
 * @nr_held: pages in @pages and on @stash; also read without @lock
 * @peak: the most pages it held at once
 * @trimmed: pages trims gave back
 */
struct tcmu_ring_mem {
	struct rw_semaphore map_lock;	/* see the lock rules above */
	struct address_space *mapping;
	spinlock_t *lock;		/* the device's ring_lock */
	struct page *mailbox;
	struct page **pages;
	u32 nr_pages;
	u32 ring_off;
	struct list_head stash;
	u32 nr_stash;
	u32 nr_held;
	u32 peak;
	u64 trimmed;
};

/**
 * struct tcmu_data_area - the lazily populated data area of one device
 * @map_lock: see the lock rules at the top of this file
 * @lock: guards the bitmaps and the counters below marked "lock"
 * @pages: page index within the data area -> struct page, for blocks that
 *	are populated; stores happen on busy blocks, erasures on busy
 *	blocks under map_lock held for write
 * @populated: bitmap, a block whose pages all exist; lock
 * @used: bitmap, a block that belongs to a command, or is busy: being
 *	populated for one or having its pages trimmed (used && !populated);
 *	lock.  A used block that is not busy is populated.
 * @nr_bits: blocks the two bitmaps cover (both are NULL when 0); the
 *	blocks above are empty.  Grown by an allocation that needs empty
 *	blocks above it, cut by a trim; lock
 * @mapping: the handler's address_space, to zap released pages from every
 *	mapping of the device (NULL until first open); map_lock
 * @base: byte offset of the data area within the mapping
 * @blk_pages: pages per block
 * @blk_size: bytes per block
 * @nr_blocks: blocks in the data area
 * @nr_used: used blocks, busy ones included; lock
 * @nr_busy: busy blocks; lock
 * @nr_populated: populated blocks; lock
 * @blk_hi: one past the highest block populated; lock
 * @pool: where its pages are charged
 * @waiter: its place in @pool's wait FIFO
 * @peak_pages: the most pages it held at once; lock
 * @reclaimed_pages: pages trims gave back; lock
 * @nr_revoked: used blocks whose pages were revoked; lock
 * @revoked_pages: pages revoked so far; lock
 * @scratch: what revoked blocks show, once one was; map_lock
 */
struct tcmu_data_area {
	struct rw_semaphore map_lock;
	spinlock_t lock;	/* see above */
	struct xarray pages;
	struct tcmu_pool *pool;
	struct tcmu_pool_waiter waiter;
	u64 reclaimed_pages;
	u32 peak_pages;
	unsigned long *populated;
	unsigned long *used;
	u32 nr_bits;
	struct address_space *mapping;
	loff_t base;
	u32 blk_pages;
	u32 blk_size;
	u32 nr_blocks;
	u32 nr_used;
	u32 nr_busy;
	u32 nr_populated;
	u32 blk_hi;
	u32 nr_revoked;
	u64 revoked_pages;
	struct page *scratch;
};

/* Zero-copy window: slots per device and the largest slot */
#define TCMU_ZC_SLOTS		TCMU_QUEUE_DEPTH
#define TCMU_ZC_SLOT_MAX_PAGES	(SZ_8M / PAGE_SIZE + 1)
#define TCMU_ZC_MIN_KB_DEF	64

/* Counters of a zero-copy window */
enum tcmu_zc_stat {
	TCMU_ZC_CMDS,		/* commands shown in the window */
	TCMU_ZC_PAGES,		/* request pages shown without a copy */
	TCMU_ZC_BOUNCED,	/* pages copied instead: partly covered ones */
	TCMU_ZC_UNMAPPABLE,	/*  and of those, whole pages not to be shown */
	TCMU_ZC_FAULTS,		/* slots mapped by a handler fault */
	TCMU_ZC_ZAPS,		/* slots zapped from the handler */
	TCMU_ZC_REVOKED,	/* slots detached while the handler had them */
	TCMU_ZC_KEPT,		/* KEEP_BUF buffers copied to keep them */
	TCMU_ZC_DENIED,		/* handler writes to WRITE data refused */
	TCMU_ZC_FB_SMALL,	/* copy path: below zero_copy_min_kb */
	TCMU_ZC_FB_BIDI,	/* copy path: BIDI command */
	TCMU_ZC_FB_SIZE,	/* copy path: more pages than a slot */
	TCMU_ZC_FB_FULL,	/* copy path: no free slot */
	TCMU_ZC_FB_NOMEM,	/* copy path: no memory for bounce pages */
	TCMU_ZC_FB_READ,	/* copy path: READ, zero_copy_read is 0 */
	TCMU_ZC_NR_STATS,
};

struct tcmu_zc_slot;

/**
 * struct tcmu_zc - the zero-copy window of a device (zero_copy.c)
 * @lock: see the lock rules above
 * @slot_lock: guards @busy
 * @slots: @nr_slots slots; NULL when zero copy is off
 * @busy: bitmap of slots that belong to a command
 * @nr_slots: slots in the window
 * @slot_pages: pages per slot
 * @base: first window page in the mapping
 * @mapping: the handler's address_space, to zap slots; @lock
 * @scratch: the page revoked slots show
 * @pool: where bounce pages and kept copies are charged
 * @own_pages: bounce pages and kept copies that exist
 * @stats: enum tcmu_zc_stat counters
 */
struct tcmu_zc {
	struct rw_semaphore lock;	/* see above */
	spinlock_t slot_lock;		/* see above */
	struct tcmu_zc_slot *slots;
	unsigned long *busy;
	u32 nr_slots;
	u32 slot_pages;
	pgoff_t base;
	struct address_space *mapping;
	struct page *scratch;
	struct tcmu_pool *pool;
	atomic_long_t own_pages;
	atomic64_t stats[TCMU_ZC_NR_STATS];
};

static inline bool tcmu_zc_enabled(const struct tcmu_zc *zc)
{
	return zc->slots;
}

/* Per-HBA data: the N of configfs "user_N", which handlers see */
struct tcmu_hba {
	u32 host_id;
};

/* Device state bits in tcmu_dev.flags */
enum tcmu_dev_flag {
	TCMU_DEV_OPEN,		/* UIO fd open; uio open/release */
	TCMU_DEV_BROKEN,	/* handler broke the ring; reap, reset_ring */
	TCMU_DEV_BLOCKED,	/* block_dev action */
	TCMU_DEV_TMR_NOTIFY,	/* tmr_notification attribute */
	TCMU_DEV_PLUGGED,	/* target core batches; kick on unplug */
	TCMU_DEV_KICKED,	/* queued on a completion thread */
	TCMU_DEV_REAPING,	/* a completion thread is reaping it */
};

/**
 * struct tcmu_dev - one "user" backstore device
 * @se_dev: target core's device, first so target core's RCU free works
 * @kref: held by target core (alloc..free), by configure..destroy, and
 *	by each VMA of the handler's mapping
 * @hba: the HBA this device hangs under
 * @name: configfs name
 * @node: on reclaim.c's list of devices, under tcmu_devices_lock
 * @flags: enum tcmu_dev_flag bits
 * @uio_info: UIO registration; name is "tcm-user/<hba>/<name>/<config>"
 * @mb: the mailbox, in @rmem's first page, shared with the handler; set
 *	and cleared under reap_lock (configure, the area's free), so paths
 *	outside the enabled device's own (configfs, reclaim) read it under
 *	reap_lock; the data path and the fault handler run only while it
 *	is set (an enabled device, a VMA's reference)
 * @rmem: the pages of the mailbox and the ring (ring_mem.c)
 * @cmdr_size: ring size in bytes
 * @cmd_head: where the next entry goes; the kernel's own copy, ring_lock
 * @cmdr_last_cleaned: first entry not yet reaped; ring_lock
 * @data_off: data area offset in the mapping, bytes
 * @mmap_pages: size of the mapping in pages
 * @data_area_mb: max_data_area_mb
 * @data_pages_per_blk: data_pages_per_blk
 * @da: the data area
 * @reap_lock: see the lock rules above
 * @ring_lock: see the lock rules above
 * @cmd_ids: cmd_id -> struct tcmu_cmd for commands on the ring; stores
 *	under ring_lock, erasures under reap_lock
 * @next_cmd_id: cyclic allocation cursor for @cmd_ids; ring_lock
 * @last_free_id: the id the reap last took off @cmd_ids, left there as a
 *	reserved entry until the next one (tcmu_cmd_id_free()), 0 for none;
 *	ring_lock
 * @qfull_queue: commands waiting for ring or data space; ring_lock to
 *	add (submitters) and reap_lock plus ring_lock to remove, so its
 *	first entry stays put for whoever holds reap_lock
 * @inflight_queue: commands on the ring, oldest first; ring_lock
 * @nr_inflight: entries of @inflight_queue; written under ring_lock, read
 *	without it by the kick (a hint)
 * @tmr_queue: TMR notifications waiting for ring space; ring_lock
 * @cmd_timer: fires at the oldest in-flight deadline
 * @qfull_timer: fires at the oldest qfull deadline
 * @timeout_work: expires commands after either timer fired
 * @qfull_work: retries the qfull queue on behalf of a submitter, which
 *	cannot take reap_lock
 * @cmd_time_out: in ms, 0 = never; configfs writes it with WRITE_ONCE
 *	at any time, readers READ_ONCE it once per decision: a command
 *	takes the value it reads
 * @qfull_time_out: in ms; 0 = fail at once; -1 = use cmd_time_out; as
 *	@cmd_time_out
 * @dev_size: in bytes
 * @dev_config: "subtype/cfgstring" for the handler
 * @nl_reply_supported: >0 wait for netlink replies, <0 never
 * @nl_cmd: the netlink request in flight, see netlink.c
 * @nr_timed_out: commands on the ring completed by cmd_time_out;
 *	reap_lock
 * @nr_qfull_timed_out: waiting commands bounced by qfull_time_out;
 *	reap_lock
 * @broken_reported: the broken-ring message has been logged
 * @revoke_reported: the revocation message has been logged; reap_lock
 * @idle_since: jiffies when it last went idle (nothing in flight or
 *	waiting); reap_lock
 * @se_plug: handed to target core by plug_device
 * @cnode: on a completion thread's queue while TCMU_DEV_KICKED
 * @ccpu: the CPU whose completion thread serves the device
 * @cthread: that CPU's thread if it ran when the device was bound (it
 *	counts the device); NULL otherwise
 * @vma_lock: see the lock rules above
 * @nr_vmas: VMAs of the handler's mapping that exist; vma_lock
 * @mapping: the address_space they map, NULL when there is none; vma_lock
 * @zero_copy: the zero_copy attribute, fixed once enabled
 * @zc_min_bytes: zero_copy_min_kb, in bytes (WRITE_ONCE)
 * @zc_read: zero_copy_read: READs use the window too (WRITE_ONCE);
 *	off by default, see zero_copy.c
 * @zc: the zero-copy window, when @zero_copy
 */
struct tcmu_dev {
	struct se_device se_dev;
	struct kref kref;
	struct se_hba *hba;
	char *name;
	struct list_head node;
	unsigned long flags;

	struct uio_info uio_info;

	struct tcmu_mailbox *mb;
	struct tcmu_ring_mem rmem;
	u32 cmdr_size;
	u32 cmd_head;
	u32 cmdr_last_cleaned;
	size_t data_off;
	size_t mmap_pages;
	u32 data_area_mb;
	u32 data_pages_per_blk;

	struct mutex reap_lock;	/* see the lock rules above */
	spinlock_t ring_lock;	/* see the lock rules above */
	struct tcmu_data_area da;
	struct xarray cmd_ids;
	u32 next_cmd_id;
	u16 last_free_id;
	struct list_head qfull_queue;
	struct list_head inflight_queue;
	u32 nr_inflight;
	struct list_head tmr_queue;

	struct timer_list cmd_timer;
	struct timer_list qfull_timer;
	struct work_struct timeout_work;
	struct work_struct qfull_work;
	unsigned int cmd_time_out;
	int qfull_time_out;

	u64 dev_size;
	char dev_config[TCMU_CONFIG_LEN];
	int nl_reply_supported;
	struct tcmu_nl_cmd {
		struct list_head node;
		struct completion done;
		int cmd;	/* enum tcmu_genl_cmd, UNSPEC when idle */
		int status;
		u32 req_id;	/* TCMU_ATTR_REQ_ID of the request */
	} nl_cmd;

	u64 nr_timed_out;
	u64 nr_qfull_timed_out;
	bool broken_reported;
	bool revoke_reported;
	unsigned long idle_since;
	struct se_dev_plug se_plug;
	struct llist_node cnode;
	unsigned int ccpu;
	struct tcmu_cthread *cthread;
	struct mutex vma_lock;	/* see the lock rules above */
	unsigned int nr_vmas;
	struct address_space *mapping;
	bool zero_copy;
	u32 zc_min_bytes;
	bool zc_read;
	struct tcmu_zc zc;
};

static inline struct tcmu_dev *TCMU_DEV(struct se_device *se_dev)
{
	return container_of(se_dev, struct tcmu_dev, se_dev);
}

/* Command state bits in tcmu_cmd.flags */
enum tcmu_cmd_flag {
	TCMU_CMD_EXPIRED,	/* timed out; se_cmd already completed */
	TCMU_CMD_KEEP_BUF,	/* completed with KEEP_BUF; blocks still held */
	TCMU_CMD_REVOKED,	/* its pages were taken back; reap_lock */
};

/**
 * struct tcmu_cmd - a SCSI command handed to the handler
 * @se_cmd: target core's command; NULL once completed back to it
 * @udev: the device
 * @queue_entry: on qfull_queue or inflight_queue (ring_lock), or on the
 *	private list of a reap_lock holder
 * @cmd_id: ring id, 0 while not on the ring
 * @data_len: data-out/data-in bytes the handler sees: the se_cmd's
 *	data_length, or more for a READ whose CDB asks for more than the
 *	initiator expects (target core reports that overflow; the handler
 *	still gets its CDB's whole buffer)
 * @blocks: data area blocks, data-out/data-in first, then BIDI data-in
 * @nr_blocks: entries in @blocks
 * @nr_bidi_blocks: trailing entries of @blocks that hold BIDI data-in
 * @bidi_len: BIDI data-in bytes
 * @deadline: jiffies; meaningful while on a timed queue
 * @flags: enum tcmu_cmd_flag bits
 * @ring_len: bytes of its ring entry, set when its blocks are taken
 * @entry: where an entry longer than TCMU_ENTRY_ONSTACK is built, from
 *	the taking of its blocks until it is posted (or they go back)
 * @zc_slot: its zero-copy window slot + 1, 0 when it has none (then its
 *	data is in @blocks)
 * @zc_iovs: iovecs of its window slot
 * @rsp: the handler's completion, copied once by the reap
 */
struct tcmu_cmd {
	struct se_cmd *se_cmd;
	struct tcmu_dev *udev;
	struct list_head queue_entry;
	u16 cmd_id;
	u32 data_len;
	u32 *blocks;
	u32 nr_blocks;
	u32 nr_bidi_blocks;
	u32 bidi_len;
	unsigned long deadline;
	unsigned long flags;
	u32 ring_len;
	struct tcmu_cmd_entry *entry;
	u32 zc_slot;
	u32 zc_iovs;
	struct tcmu_cmd_entry rsp;
};

/* data_area.c */
int tcmu_da_init(struct tcmu_data_area *da, struct tcmu_pool *pool,
		 const char *name, u32 nr_blocks, u32 blk_pages, loff_t base);
void tcmu_da_exit(struct tcmu_data_area *da);

bool tcmu_da_has_cached(struct tcmu_data_area *da);
u32 tcmu_da_held(struct tcmu_data_area *da);
void tcmu_da_stats(struct tcmu_data_area *da, u32 *held, u32 *used,
		   u32 *peak, u64 *reclaimed, u64 *revoked);
long tcmu_da_revoke(struct tcmu_data_area *da, const u32 *blocks, u32 nr);
void tcmu_da_free_revoked(struct tcmu_data_area *da, const u32 *blocks,
			  u32 nr);

enum tcmu_get tcmu_da_alloc(struct tcmu_data_area *da, u32 *blocks, u32 nr);
void tcmu_da_free(struct tcmu_data_area *da, const u32 *blocks, u32 nr);
/*
 * tcmu_da_trim(): runs zapped at once; batches per call where the work
 * is shared with other devices (completion threads, the pool work); no
 * bound
 */
#define TCMU_TRIM_BATCH		32
#define TCMU_TRIM_PASS		4
#define TCMU_TRIM_ALL		U32_MAX
u32 tcmu_da_trim(struct tcmu_data_area *da, u32 max_batches);
unsigned int tcmu_da_iov_count(const u32 *blocks, u32 nr);
unsigned int tcmu_da_fill_iovs(const struct tcmu_data_area *da,
			       const u32 *blocks, u32 nr, size_t len,
			       struct iovec *iov);
void tcmu_da_copy_from_sg(struct tcmu_data_area *da, const u32 *blocks,
			  struct scatterlist *sg, unsigned int nents,
			  size_t len);
void tcmu_da_copy_to_sg(struct tcmu_data_area *da, const u32 *blocks,
			struct scatterlist *sg, unsigned int nents,
			size_t len);
vm_fault_t tcmu_da_fault(struct tcmu_data_area *da, struct vm_fault *vmf,
			 pgoff_t index);
void tcmu_da_set_mapping(struct tcmu_data_area *da,
			 struct address_space *mapping);

/* pool.c */
void tcmu_pool_init(struct tcmu_pool *pool, long max_pages,
		    struct workqueue_struct *wq, work_func_t fn);
void tcmu_pool_exit(struct tcmu_pool *pool);
enum tcmu_get tcmu_pool_charge(struct tcmu_pool *pool,
			       struct tcmu_pool_waiter *w, long pages);
void tcmu_pool_uncharge(struct tcmu_pool *pool, long pages);
bool tcmu_pool_try_charge(struct tcmu_pool *pool, long pages);
void tcmu_pool_cancel_wait(struct tcmu_pool *pool,
			   struct tcmu_pool_waiter *w);
void tcmu_pool_waiter_stats(struct tcmu_pool *pool, struct tcmu_pool_waiter *w,
			    u64 *waits, u64 *wait_ms);
void tcmu_pool_kick(struct tcmu_pool *pool);
void tcmu_pool_note_reclaim(struct tcmu_pool *pool, long pages);
bool tcmu_pool_put_page(struct tcmu_pool *pool, struct page *page);
struct tcmu_pool_waiter *tcmu_pool_first_waiter(struct tcmu_pool *pool);
bool tcmu_pool_fits(struct tcmu_pool *pool, struct tcmu_pool_waiter *w);
void tcmu_pool_requeue(struct tcmu_pool *pool, struct tcmu_pool_waiter *w);
void tcmu_pool_set_max(struct tcmu_pool *pool, long max_pages);
struct seq_file;
void tcmu_pool_show(struct tcmu_pool *pool, struct seq_file *m);

static inline long tcmu_pool_held(struct tcmu_pool *pool)
{
	return atomic_long_read(&pool->held);
}

static inline long tcmu_pool_max(struct tcmu_pool *pool)
{
	return READ_ONCE(pool->max);
}

/*
 * Pages are short: use is over a lowered limit, or the first waiter does
 * not fit in what is free.  Devices then give back cached pages at once.
 */
static inline bool tcmu_pool_pressure(struct tcmu_pool *pool)
{
	long free = tcmu_pool_max(pool) - tcmu_pool_held(pool);

	return free < 0 ||
	       (READ_ONCE(pool->nr_waiters) && free < READ_ONCE(pool->head_want));
}

/* ring_mem.c */
int tcmu_rmem_init(struct tcmu_ring_mem *rm, spinlock_t *lock, u32 bytes,
		   u32 ring_off);
void tcmu_rmem_exit(struct tcmu_ring_mem *rm);
void *tcmu_rmem_mailbox(struct tcmu_ring_mem *rm);
struct page *tcmu_rmem_page(struct tcmu_ring_mem *rm, u32 i);
u32 tcmu_rmem_populate(struct tcmu_ring_mem *rm, u32 off, u32 len);
void *tcmu_rmem_ptr(struct tcmu_ring_mem *rm, u32 off, u32 len);
int tcmu_rmem_fill(struct tcmu_ring_mem *rm, u32 nr);
void tcmu_rmem_write(struct tcmu_ring_mem *rm, u32 off, const void *src,
		     u32 len);
void tcmu_rmem_zero(struct tcmu_ring_mem *rm, u32 off, u32 len);
bool tcmu_rmem_read(struct tcmu_ring_mem *rm, u32 off, void *dst, u32 len);
u32 tcmu_rmem_trim(struct tcmu_ring_mem *rm,
		   u32 (*live)(struct tcmu_ring_mem *rm, u32 *off));
void tcmu_rmem_set_mapping(struct tcmu_ring_mem *rm,
			   struct address_space *mapping);
vm_fault_t tcmu_rmem_fault(struct tcmu_ring_mem *rm, struct vm_fault *vmf,
			   pgoff_t index);
void tcmu_rmem_stats(struct tcmu_ring_mem *rm, u32 *held, u32 *peak,
		     u64 *trimmed);
long tcmu_rmem_global_pages(void);

/* ring.c */
int tcmu_ring_init(void);
void tcmu_ring_exit(void);
int tcmu_dev_alloc_area(struct tcmu_dev *udev, struct tcmu_pool *pool);
void tcmu_dev_free_area(struct tcmu_dev *udev);
void tcmu_dev_put(struct tcmu_dev *udev);
sense_reason_t tcmu_queue_cmd(struct se_cmd *se_cmd);
/* tcmu_ring_reap(): per call on a completion thread; no bound */
#define TCMU_REAP_BUDGET	64
#define TCMU_REAP_ALL		U32_MAX
bool tcmu_ring_reap(struct tcmu_dev *udev, u32 budget, bool *more);
void tcmu_retry_waiting(struct tcmu_dev *udev);
void tcmu_tmr_notify(struct se_device *se_dev, enum tcm_tmreq_table tmf,
		     struct list_head *cmd_list);
void tcmu_block_dev(struct tcmu_dev *udev);
void tcmu_unblock_dev(struct tcmu_dev *udev);
void tcmu_reset_ring(struct tcmu_dev *udev, u8 err_level);
int tcmu_free_kept_buf(struct tcmu_dev *udev, u16 cmd_id);
void tcmu_release_kept_bufs(struct tcmu_dev *udev);
void tcmu_cmd_timer_fn(struct timer_list *t);
void tcmu_qfull_timer_fn(struct timer_list *t);
void tcmu_timeout_work_fn(struct work_struct *work);
void tcmu_qfull_work_fn(struct work_struct *work);
bool tcmu_dev_idle(struct tcmu_dev *udev);
u32 tcmu_ring_trim(struct tcmu_dev *udev);
bool tcmu_ring_has_pages(struct tcmu_dev *udev);
long tcmu_dev_held(struct tcmu_dev *udev);
long tcmu_revoke_orphans(struct tcmu_dev *udev, long excess, u32 max_cmds);
void tcmu_ring_destroy(struct tcmu_dev *udev);

/* reclaim.c: the driver's pool and who gives its pages back */
extern struct tcmu_pool tcmu_pool;
int tcmu_reclaim_init(long max_pages, unsigned int idle_ms,
		      struct dentry *debugfs_dir);
void tcmu_reclaim_exit(void);
void tcmu_reclaim_set_max(long max_pages);
void tcmu_reclaim_set_idle_ms(unsigned int ms);
void tcmu_reclaim_reaped(struct tcmu_dev *udev, bool reaped, bool more);
void tcmu_reclaim_add(struct tcmu_dev *udev);
void tcmu_reclaim_forget(struct tcmu_dev *udev);

/* complete.c */

int tcmu_complete_init(struct dentry *debugfs_dir);
void tcmu_complete_exit(void);
void tcmu_complete_bind(struct tcmu_dev *udev);
void tcmu_complete_unbind(struct tcmu_dev *udev);
void tcmu_complete_kick(struct tcmu_dev *udev);

/* zero_copy.c */
u32 tcmu_zc_slot_pages(u64 max_bytes);
int tcmu_zc_init(struct tcmu_zc *zc, struct tcmu_pool *pool, pgoff_t base,
		 u32 slot_pages);
void tcmu_zc_exit(struct tcmu_zc *zc);
void tcmu_zc_set_mapping(struct tcmu_zc *zc, struct address_space *mapping);
bool tcmu_zc_map(struct tcmu_dev *udev, struct tcmu_cmd *cmd);
u32 tcmu_zc_fill_iovs(struct tcmu_zc *zc, const struct tcmu_cmd *cmd,
		      struct iovec *iov);
void tcmu_zc_copy_back(struct tcmu_zc *zc, const struct tcmu_cmd *cmd,
		       size_t len);
void tcmu_zc_detach(struct tcmu_dev *udev, struct tcmu_cmd *cmd, bool keep);
void tcmu_zc_release(struct tcmu_dev *udev, struct tcmu_cmd *cmd);
long tcmu_zc_revoke_kept(struct tcmu_dev *udev, struct tcmu_cmd *cmd);
vm_fault_t tcmu_zc_fault(struct tcmu_zc *zc, struct vm_fault *vmf,
			 pgoff_t index);
vm_fault_t tcmu_zc_mkwrite(struct tcmu_zc *zc, struct vm_fault *vmf,
			   pgoff_t index);
int tcmu_zc_show(struct tcmu_dev *udev, char *b);

/* uio.c */
int tcmu_uio_init(void);
void tcmu_uio_exit(void);
int tcmu_uio_register(struct tcmu_dev *udev);
void tcmu_uio_unregister(struct tcmu_dev *udev);
bool tcmu_uio_mapped(struct tcmu_dev *udev);
int tcmu_uio_set_name(struct tcmu_dev *udev);

/* debug.c, CONFIG_TCM_USER2_DEBUG: hooks for the selftests */
#if IS_ENABLED(CONFIG_TCM_USER2_DEBUG)
void tcmu_debug_mkwrite_delay(void);
#else
static inline void tcmu_debug_mkwrite_delay(void)
{
}
#endif

/* netlink.c */
int tcmu_nl_init(void);
void tcmu_nl_exit(void);
int tcmu_nl_dev_added(struct tcmu_dev *udev);
void tcmu_nl_dev_removed(struct tcmu_dev *udev);
int tcmu_nl_reconfig(struct tcmu_dev *udev, int attr, const char *config,
		     u64 val);
void tcmu_nl_dev_init(struct tcmu_dev *udev);

/* configfs.c */
int tcmu_configfs_init(struct target_backend_ops *ops);
void tcmu_configfs_exit(void);
ssize_t tcmu_set_configfs_dev_params(struct se_device *se_dev,
				     const char *page, ssize_t count);
ssize_t tcmu_show_configfs_dev_params(struct se_device *se_dev, char *b);

#endif /* _TCMU_H */
