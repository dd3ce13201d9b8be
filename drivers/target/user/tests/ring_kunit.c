// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the command ring's space accounting: used/free bytes
 * around the wrap, the PAD an entry needs at the end of the ring, and
 * entry sizes; and of its pages: made when written, entries that span
 * pages and wrap, and trims that free dead pages only.
 */
#include <kunit/test.h>
#include "../tcmu.h"

#define RING ((8u << 20) - TCMU_CMDR_OFF)

struct ring_case {
	u32 head, tail, used;
	const char *name;
};

static const struct ring_case ring_cases[] = {
	{ 0, 0, 0, "empty at 0" },
	{ 4096, 4096, 0, "empty mid-ring" },
	{ 4096, 0, 4096, "head ahead" },
	{ 8, RING - 8, 16, "head wrapped" },
	{ RING - 8, 0, RING - 8, "nearly full" },
	{ 0, 8, RING - 8, "full after wrap" },
};

static void ring_case_desc(const struct ring_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(ring, ring_cases, ring_case_desc);

static void ring_used_free(struct kunit *test)
{
	const struct ring_case *c = test->param_value;

	KUNIT_EXPECT_EQ(test, tcmu_ring_used(c->head, c->tail, RING), c->used);
	/* one byte is never used, so head == tail always means empty */
	KUNIT_EXPECT_EQ(test, tcmu_ring_free(c->head, c->tail, RING),
			RING - c->used - 1);
}

static void ring_needed_pad(struct kunit *test)
{
	/* fits before the end: only the entry */
	KUNIT_EXPECT_EQ(test, tcmu_ring_needed(0, 128, RING), 128U);
	KUNIT_EXPECT_EQ(test, tcmu_ring_needed(RING - 128, 128, RING), 128U);
	/* does not fit: a PAD up to the end, then the entry at 0 */
	KUNIT_EXPECT_EQ(test, tcmu_ring_needed(RING - 64, 128, RING),
			128U + 64U);
	KUNIT_EXPECT_EQ(test, tcmu_ring_needed(RING - 8, 4096, RING),
			4096U + 8U);
}

/* An entry posted into a nearly full ring must never overrun the tail. */
static void ring_full_refuses(struct kunit *test)
{
	u32 tail = 4096, head = tail - 64;

	KUNIT_EXPECT_EQ(test, tcmu_ring_free(head, tail, RING), 63U);
	KUNIT_EXPECT_LT(test, tcmu_ring_free(head, tail, RING),
			tcmu_ring_needed(head, 64, RING));
	KUNIT_EXPECT_GE(test, tcmu_ring_free(head, tail, RING),
			tcmu_ring_needed(head, 56, RING));
}

static void ring_entry_size(struct kunit *test)
{
	static const size_t cdbs[] = { 6, 10, 12, 16, 32, 260 };
	size_t iovs, i, sz;

	for (iovs = 0; iovs <= 300; iovs++) {
		for (i = 0; i < ARRAY_SIZE(cdbs); i++) {
			sz = tcmu_cmd_entry_size(iovs, cdbs[i]);
			KUNIT_EXPECT_EQ(test, sz % TCMU_OP_ALIGN_SIZE, 0UL);
			/* room for the response ... */
			KUNIT_EXPECT_GE(test, sz,
					sizeof(struct tcmu_cmd_entry) + cdbs[i]);
			/* ... and for every iovec before the CDB */
			KUNIT_EXPECT_GE(test, sz,
					offsetof(struct tcmu_cmd_entry,
						 req.iov[iovs]) + cdbs[i]);
		}
	}
	KUNIT_EXPECT_EQ(test, tcmu_cmd_entry_size(0, 16), 112UL + 16);
	KUNIT_EXPECT_EQ(test, tcmu_cmd_entry_size(10, 10), 48UL + 160 + 16);
}

/* Ring memory of @pages pages on its own lock, for the rmem cases */
struct rmem_fixture {
	spinlock_t lock;	/* stands in for ring_lock */
	struct tcmu_ring_mem rm;
};

static struct rmem_fixture *rmem_fixture(struct kunit *test, u32 pages)
{
	struct rmem_fixture *f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, f);
	spin_lock_init(&f->lock);
	KUNIT_ASSERT_EQ(test, tcmu_rmem_init(&f->rm, &f->lock,
					     pages << PAGE_SHIFT,
					     TCMU_CMDR_OFF), 0);
	return f;
}

static u32 rmem_nr_present(struct tcmu_ring_mem *rm)
{
	u32 i, n = 0;

	for (i = 0; i < rm->nr_pages; i++)
		n += !!tcmu_rmem_page(rm, i);
	return n;
}

/* Only the mailbox exists at first; bytes that span pages round-trip. */
static void rmem_span(struct kunit *test)
{
	struct rmem_fixture *f = rmem_fixture(test, 4);
	struct tcmu_ring_mem *rm = &f->rm;
	long global = tcmu_rmem_global_pages();
	u8 out[300], in[300];
	u32 i, missing;
	bool ok;

	KUNIT_EXPECT_EQ(test, rmem_nr_present(rm), 1U);
	KUNIT_EXPECT_EQ(test, rm->nr_held, 1U);
	for (i = 0; i < sizeof(out); i++)
		out[i] = i * 7 + 1;
	spin_lock(&f->lock);
	/* not written yet: no page, nothing read */
	ok = tcmu_rmem_read(rm, PAGE_SIZE, in, 8);
	/* no index of ring pages yet: page 1 is missing, page 0 is not */
	missing = tcmu_rmem_populate(rm, PAGE_SIZE - 100, sizeof(out));
	spin_unlock(&f->lock);
	KUNIT_EXPECT_FALSE(test, ok);
	KUNIT_EXPECT_EQ(test, missing, 1U);
	KUNIT_EXPECT_NULL(test, rm->pages);
	KUNIT_ASSERT_EQ(test, tcmu_rmem_fill(rm, 1), 0);
	KUNIT_EXPECT_NOT_NULL(test, rm->pages);
	spin_lock(&f->lock);
	missing = tcmu_rmem_populate(rm, PAGE_SIZE - 100, sizeof(out));
	if (!missing)
		tcmu_rmem_write(rm, PAGE_SIZE - 100, out, sizeof(out));
	spin_unlock(&f->lock);
	KUNIT_ASSERT_EQ(test, missing, 0U);
	spin_lock(&f->lock);
	KUNIT_EXPECT_TRUE(test, tcmu_rmem_read(rm, PAGE_SIZE - 100, in,
					       sizeof(in)));
	/* a new page is zeroed where nothing was written */
	KUNIT_EXPECT_TRUE(test, tcmu_rmem_read(rm, PAGE_SIZE + 200, in,
					       1));
	spin_unlock(&f->lock);
	KUNIT_EXPECT_EQ(test, in[0], 0);
	spin_lock(&f->lock);
	KUNIT_EXPECT_TRUE(test, tcmu_rmem_read(rm, PAGE_SIZE - 100, in,
					       sizeof(in)));
	spin_unlock(&f->lock);
	KUNIT_EXPECT_MEMEQ(test, in, out, sizeof(out));
	KUNIT_EXPECT_EQ(test, rmem_nr_present(rm), 2U);
	KUNIT_EXPECT_EQ(test, rm->nr_held, 2U);
	KUNIT_EXPECT_EQ(test, tcmu_rmem_global_pages(), global + 1);
	tcmu_rmem_exit(rm);
	KUNIT_EXPECT_EQ(test, tcmu_rmem_global_pages(), global - 1);
}

/* Pages made ahead go to the writer; a trim takes what is left of them. */
static u32 rmem_none_live(struct tcmu_ring_mem *rm, u32 *off)
{
	*off = rm->ring_off;
	return 0;
}

static void rmem_stash(struct kunit *test)
{
	struct rmem_fixture *f = rmem_fixture(test, 8);
	struct tcmu_ring_mem *rm = &f->rm;

	KUNIT_ASSERT_EQ(test, tcmu_rmem_fill(rm, 3), 0);
	KUNIT_EXPECT_EQ(test, rm->nr_stash, 3U);
	KUNIT_EXPECT_EQ(test, rm->nr_held, 4U);
	spin_lock(&f->lock);
	/* two pages from the stash */
	KUNIT_EXPECT_EQ(test, tcmu_rmem_populate(rm, 3 * PAGE_SIZE - 8, 16),
			0U);
	spin_unlock(&f->lock);
	KUNIT_EXPECT_EQ(test, rm->nr_stash, 1U);
	KUNIT_EXPECT_EQ(test, rm->nr_held, 4U);
	KUNIT_EXPECT_EQ(test, tcmu_rmem_trim(rm, rmem_none_live), 3U);
	KUNIT_EXPECT_EQ(test, rm->nr_held, 1U);
	KUNIT_EXPECT_EQ(test, rm->nr_stash, 0U);
	KUNIT_EXPECT_EQ(test, rmem_nr_present(rm), 1U);
	KUNIT_EXPECT_EQ(test, rm->trimmed, 3ULL);
	tcmu_rmem_exit(rm);
}

/* A device with a ring of @pages pages (mailbox included), no handler */
static struct tcmu_dev *ring_dev(struct kunit *test, u32 pages)
{
	struct tcmu_dev *udev = kunit_kzalloc(test, sizeof(*udev), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, udev);
	udev->name = "kunit";
	mutex_init(&udev->reap_lock);
	spin_lock_init(&udev->ring_lock);
	INIT_LIST_HEAD(&udev->tmr_queue);
	xa_init_flags(&udev->cmd_ids, XA_FLAGS_ALLOC1);
	udev->cmdr_size = (pages << PAGE_SHIFT) - TCMU_CMDR_OFF;
	KUNIT_ASSERT_EQ(test, tcmu_rmem_init(&udev->rmem, &udev->ring_lock,
					     pages << PAGE_SHIFT,
					     TCMU_CMDR_OFF), 0);
	udev->mb = tcmu_rmem_mailbox(&udev->rmem);
	tcmu_dev_ring_setup(udev);
	return udev;
}

/*
 * Post a TMR entry naming @cnt ids (a @len-byte entry, to place entries
 * at will); returns false when it did not fit.  Ids are @seed, @seed + 1...
 */
static bool ring_post(struct kunit *test, struct tcmu_dev *udev, u32 cnt,
		      u16 seed)
{
	struct tcmu_tmr *tmr = kmalloc(struct_size(tmr, cmd_ids, cnt),
				       GFP_KERNEL);
	bool kick = false, posted;
	u32 nopage = 0, i;

	KUNIT_ASSERT_NOT_NULL(test, tmr);
	tmr->tmr_type = TCMU_TMR_ABORT_TASK;
	tmr->cmd_cnt = cnt;
	for (i = 0; i < cnt; i++)
		tmr->cmd_ids[i] = seed + i;
	for (;;) {
		spin_lock(&udev->ring_lock);
		posted = tcmu_post_tmr(udev, tmr, &kick, &nopage);
		if (!posted)
			list_del_init(&tmr->queue_entry);
		spin_unlock(&udev->ring_lock);
		if (posted || !nopage)
			break;
		KUNIT_ASSERT_EQ(test, tcmu_rmem_fill(&udev->rmem, nopage), 0);
	}
	if (!posted)
		kfree(tmr);
	return posted;
}

/* The entry at ring offset @pos is the TMR ring_post() wrote for @seed */
static void ring_check(struct kunit *test, struct tcmu_dev *udev, u32 pos,
		       u32 cnt, u16 seed)
{
	struct tcmu_tmr_entry e;
	u16 id;
	u32 i;

	spin_lock(&udev->ring_lock);
	KUNIT_ASSERT_TRUE(test, tcmu_rmem_read(&udev->rmem,
					       TCMU_CMDR_OFF + pos, &e,
					       sizeof(e)));
	KUNIT_EXPECT_EQ(test, tcmu_hdr_get_op(e.hdr.len_op), TCMU_OP_TMR);
	KUNIT_EXPECT_EQ(test, e.cmd_cnt, cnt);
	for (i = 0; i < cnt; i++) {
		KUNIT_ASSERT_TRUE(test, tcmu_rmem_read(&udev->rmem,
						       TCMU_CMDR_OFF + pos +
						       sizeof(e) + 2 * i,
						       &id, sizeof(id)));
		if (id != (u16)(seed + i))
			break;
	}
	spin_unlock(&udev->ring_lock);
	KUNIT_EXPECT_EQ(test, i, cnt);
}

/* The handler consumed everything up to cmd_head; the kernel reaps it. */
static void ring_consume(struct kunit *test, struct tcmu_dev *udev)
{
	LIST_HEAD(done);
	bool more;

	/* as a handler publishes its tail, after its responses */
	smp_store_release(&udev->mb->cmd_tail, udev->cmd_head);
	mutex_lock(&udev->reap_lock);
	spin_lock(&udev->ring_lock);
	__tcmu_reap(udev, &done, TCMU_REAP_ALL, &more);
	spin_unlock(&udev->ring_lock);
	mutex_unlock(&udev->reap_lock);
	KUNIT_EXPECT_FALSE(test, test_bit(TCMU_DEV_BROKEN, &udev->flags));
	KUNIT_EXPECT_EQ(test, udev->cmdr_last_cleaned, udev->cmd_head);
}

static void ring_dev_free(struct tcmu_dev *udev)
{
	tcmu_rmem_exit(&udev->rmem);
	xa_destroy(&udev->cmd_ids);
}

/*
 * Entries of every size across a full wrap of a 4-page ring: each reads
 * back whole, wherever the page boundaries and the PAD fall.
 */
static void ring_pages_wrap(struct kunit *test)
{
	struct tcmu_dev *udev = ring_dev(test, 4);
	u32 cnt, pos, laps = 0, last = 0;
	u16 seed = 1;

	for (cnt = 1; laps < 2; cnt = cnt % 700 + 37, seed += 3) {
		pos = udev->cmd_head;
		KUNIT_ASSERT_TRUE(test, ring_post(test, udev, cnt, seed));
		/* it did not fit before the end: a PAD, and it went at 0 */
		if (pos + sizeof(struct tcmu_tmr_entry) + 2 * cnt >
		    udev->cmdr_size)
			pos = 0;
		ring_check(test, udev, pos, cnt, seed);
		if (udev->cmd_head < last)
			laps++;
		last = udev->cmd_head;
		ring_consume(test, udev);
	}
	/* every page of the ring was written on the way */
	KUNIT_EXPECT_EQ(test, rmem_nr_present(&udev->rmem), 4U);
	ring_dev_free(udev);
}

/*
 * A trim frees the pages no live entry is in, and only those: live
 * entries read back whole after it, in pages it kept.
 */
static void ring_pages_trim(struct kunit *test)
{
	struct tcmu_dev *udev = ring_dev(test, 8);
	u32 pos, first_live, i, kept = 0;

	/* fill the ring up to page 5, let the handler consume it */
	while (udev->cmd_head < 5 * PAGE_SIZE)
		KUNIT_ASSERT_TRUE(test, ring_post(test, udev, 500, 7));
	ring_consume(test, udev);
	KUNIT_EXPECT_EQ(test, rmem_nr_present(&udev->rmem), 6U);
	/* two live entries that span page 5 and 6 */
	first_live = udev->cmd_head;
	KUNIT_ASSERT_TRUE(test, ring_post(test, udev, 1000, 100));
	pos = udev->cmd_head;
	KUNIT_ASSERT_TRUE(test, ring_post(test, udev, 300, 200));

	mutex_lock(&udev->reap_lock);
	tcmu_ring_trim(udev);
	mutex_unlock(&udev->reap_lock);
	for (i = 1; i < udev->rmem.nr_pages; i++) {
		bool live = i >= (TCMU_CMDR_OFF + first_live) >> PAGE_SHIFT &&
			    i <= (TCMU_CMDR_OFF + udev->cmd_head - 1) >>
				 PAGE_SHIFT;

		KUNIT_EXPECT_EQ_MSG(test, !!tcmu_rmem_page(&udev->rmem, i), live,
				    "page %u", i);
		kept += live;
	}
	KUNIT_EXPECT_NOT_NULL(test, tcmu_rmem_page(&udev->rmem, 0));
	KUNIT_EXPECT_EQ(test, udev->rmem.nr_held, kept + 1);
	ring_check(test, udev, first_live, 1000, 100);
	ring_check(test, udev, pos, 300, 200);

	/* consumed, they go too; the next entry makes its page again */
	ring_consume(test, udev);
	mutex_lock(&udev->reap_lock);
	tcmu_ring_trim(udev);
	mutex_unlock(&udev->reap_lock);
	KUNIT_EXPECT_EQ(test, rmem_nr_present(&udev->rmem), 1U);
	KUNIT_EXPECT_EQ(test, udev->rmem.nr_held, 1U);
	/* the mailbox alone: the index of the ring pages went too */
	KUNIT_EXPECT_NULL(test, udev->rmem.pages);
	pos = udev->cmd_head;
	KUNIT_ASSERT_TRUE(test, ring_post(test, udev, 4, 9));
	KUNIT_EXPECT_NOT_NULL(test, udev->rmem.pages);
	ring_check(test, udev, pos, 4, 9);
	ring_dev_free(udev);
}

/*
 * Live bytes that wrap: the pages at the ring's end and at its start
 * stay, those between go.
 */
static void ring_pages_trim_wrap(struct kunit *test)
{
	struct tcmu_dev *udev = ring_dev(test, 8);
	u32 i, end_page, start_page;

	/* move head near the end, all consumed */
	while (udev->cmd_head < udev->cmdr_size - 3000)
		KUNIT_ASSERT_TRUE(test, ring_post(test, udev, 500, 1));
	ring_consume(test, udev);
	end_page = (TCMU_CMDR_OFF + udev->cmd_head) >> PAGE_SHIFT;
	/* the PAD and two entries after the wrap stay live */
	KUNIT_ASSERT_TRUE(test, ring_post(test, udev, 1500, 50));
	KUNIT_ASSERT_TRUE(test, ring_post(test, udev, 2500, 60));
	start_page = (TCMU_CMDR_OFF + udev->cmd_head - 1) >> PAGE_SHIFT;
	KUNIT_EXPECT_LT(test, udev->cmd_head, 8 * (u32)PAGE_SIZE - 3000);

	mutex_lock(&udev->reap_lock);
	tcmu_ring_trim(udev);
	mutex_unlock(&udev->reap_lock);
	for (i = 1; i < udev->rmem.nr_pages; i++)
		KUNIT_EXPECT_EQ_MSG(test, !!tcmu_rmem_page(&udev->rmem, i),
				    i >= end_page || i <= start_page,
				    "page %u", i);
	ring_consume(test, udev);
	ring_dev_free(udev);
}

/* The xarray node that holds @id in cmd_ids, or NULL */
static void *ring_id_node(struct tcmu_dev *udev, u32 id)
{
	XA_STATE(xas, &udev->cmd_ids, id);
	void *node;

	rcu_read_lock();
	xas_load(&xas);
	node = xas.xa_node;
	rcu_read_unlock();
	return node;
}

/*
 * One command at a time: each freed id stays reserved until the next one
 * is freed, so cmd_ids never empties and the ids of one leaf (64 of
 * them) share its node instead of making the tree again each; a freed
 * id names no command and is not handed out again; an idle trim leaves
 * cmd_ids empty.
 */
static void ring_cmd_ids_one_at_a_time(struct kunit *test)
{
	struct tcmu_dev *udev = ring_dev(test, 4);
	void *node, *leaf = NULL;
	u32 id, prev = 0, i;

	for (i = 0; i < 300; i++) {
		spin_lock(&udev->ring_lock);
		KUNIT_ASSERT_EQ(test, xa_alloc_cyclic(&udev->cmd_ids, &id, udev,
						      XA_LIMIT(1, U16_MAX),
						      &udev->next_cmd_id,
						      GFP_NOWAIT), 0);
		tcmu_cmd_id_free(udev, id);
		spin_unlock(&udev->ring_lock);
		KUNIT_EXPECT_EQ(test, id, prev + 1);
		KUNIT_EXPECT_NULL(test, xa_load(&udev->cmd_ids, id));
		KUNIT_EXPECT_FALSE(test, xa_empty(&udev->cmd_ids));
		node = ring_id_node(udev, id);
		KUNIT_EXPECT_NOT_NULL(test, node);
		if (id % XA_CHUNK_SIZE && prev)
			KUNIT_EXPECT_PTR_EQ_MSG(test, node, leaf, "id %u", id);
		leaf = node;
		prev = id;
	}
	/* the one before the last is free: nothing holds its slot */
	KUNIT_EXPECT_EQ(test, xa_insert(&udev->cmd_ids, prev - 1, udev,
					GFP_KERNEL), 0);
	KUNIT_EXPECT_PTR_EQ(test, xa_erase(&udev->cmd_ids, prev - 1),
			    (void *)udev);
	/* the last is reserved: taken, yet no command */
	KUNIT_EXPECT_EQ(test, xa_insert(&udev->cmd_ids, prev, udev,
					GFP_KERNEL), -EBUSY);

	mutex_lock(&udev->reap_lock);
	tcmu_ring_trim(udev);
	mutex_unlock(&udev->reap_lock);
	KUNIT_EXPECT_TRUE(test, xa_empty(&udev->cmd_ids));
	KUNIT_EXPECT_EQ(test, udev->last_free_id, 0);
	ring_dev_free(udev);
}

static struct kunit_case tcmu_ring_cases[] = {
	KUNIT_CASE_PARAM(ring_used_free, ring_gen_params),
	KUNIT_CASE(ring_needed_pad),
	KUNIT_CASE(ring_full_refuses),
	KUNIT_CASE(ring_entry_size),
	KUNIT_CASE(rmem_span),
	KUNIT_CASE(rmem_stash),
	KUNIT_CASE(ring_pages_wrap),
	KUNIT_CASE(ring_pages_trim),
	KUNIT_CASE(ring_pages_trim_wrap),
	KUNIT_CASE(ring_cmd_ids_one_at_a_time),
	{}
};

static struct kunit_suite tcmu_ring_suite = {
	.name = "tcmu_ring",
	.test_cases = tcmu_ring_cases,
};

kunit_test_suite(tcmu_ring_suite);
