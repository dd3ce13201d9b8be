// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of how a zero-copy slot is filled from a command's
 * scatterlist: whole pages shown as they are, partial and unmappable
 * ones bounced (and charged to the pool), the iovecs and bytes the entry
 * gets, READ pages zeroed, the slot's array kept and grown, and a
 * command with more chunks than a slot taking the copy path with
 * everything it took given back.  No handler, no mapping: the window's
 * faults and zaps are the selftests' (test_zc_01, test_zc_02).
 */
#include <kunit/test.h>
#include <linux/highmem.h>
#include <linux/scatterlist.h>
#include <target/target_core_base.h>
#include "../tcmu.h"
#include "kunit_pool.h"

#define ZC_BASE		64	/* the window's first page in the map */
#define ZC_SLOT_PAGES	4

struct zc_test {
	struct tcmu_pool *pool;
	struct tcmu_zc zc;
	struct se_cmd se_cmd;
	struct scatterlist sg[4];
	struct page *pages;	/* 4 contiguous pages, the data */
};

static void zc_test_exit(void *arg)
{
	struct zc_test *t = arg;
	u32 i;

	for (i = 0; i < t->zc.nr_slots; i++)
		tcmu_zc_put_own(t->zc.slots[i].pages, t->zc.slots[i].nr_pages);
	tcmu_zc_exit(&t->zc);
	__free_pages(t->pages, 2);
}

static struct zc_test *zc_test_init(struct kunit *test)
{
	struct zc_test *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, t);
	t->pool = tcmu_kunit_pool(test, 64);
	t->pages = alloc_pages(GFP_KERNEL, 2);
	KUNIT_ASSERT_NOT_NULL(test, t->pages);
	KUNIT_ASSERT_EQ(test, tcmu_zc_init(&t->zc, t->pool, ZC_BASE,
					   ZC_SLOT_PAGES), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, zc_test_exit, t),
			0);
	return t;
}

/* The command: @nents sg entries set by the caller, @len bytes */
static struct se_cmd *zc_test_cmd(struct zc_test *t, unsigned int nents,
				  u32 len, enum dma_data_direction dir)
{
	t->se_cmd.t_data_sg = t->sg;
	t->se_cmd.t_data_nents = nents;
	t->se_cmd.data_length = len;
	t->se_cmd.data_direction = dir;
	sg_mark_end(&t->sg[nents - 1]);
	return &t->se_cmd;
}

/* Fill slot 0; returns its state's reason */
static enum tcmu_zc_stat zc_test_fill(struct zc_test *t,
				      struct tcmu_zc_fill *f)
{
	memset(f, 0, sizeof(*f));
	return tcmu_zc_fill_slot(&t->zc, 0, &t->se_cmd, f);
}

/* What tcmu_zc_release() does to a slot, without a device */
static void zc_test_release(struct zc_test *t)
{
	struct tcmu_zc_slot *s = &t->zc.slots[0];

	WRITE_ONCE(s->state, TCMU_ZC_S_FREE);
	tcmu_pool_uncharge(t->pool, tcmu_zc_put_own(s->pages, s->nr_pages));
	s->nr_pages = 0;
}

static void zc_fill_pattern(struct page *page, u8 c)
{
	memset_page(page, 0, c, PAGE_SIZE);
}

/* Whole pages, one sg entry or one a page: shown as they are, one iovec */
static void zc_whole_pages(struct kunit *test)
{
	struct zc_test *t = zc_test_init(test);
	struct tcmu_cmd cmd = { .zc_slot = 1 };
	struct tcmu_zc_slot *s = &t->zc.slots[0];
	struct tcmu_zc_fill f;
	struct iovec iov[4];
	int pass, i;

	for (pass = 0; pass < 2; pass++) {
		sg_init_table(t->sg, ARRAY_SIZE(t->sg));
		if (pass) {
			for (i = 0; i < 3; i++)
				sg_set_page(&t->sg[i], nth_page(t->pages, i),
					    PAGE_SIZE, 0);
		} else {
			sg_set_page(&t->sg[0], t->pages, 3 * PAGE_SIZE, 0);
		}
		zc_test_cmd(t, pass ? 3 : 1, 3 * PAGE_SIZE, DMA_TO_DEVICE);
		KUNIT_ASSERT_EQ(test, zc_test_fill(t, &f), TCMU_ZC_CMDS);
		KUNIT_EXPECT_EQ(test, s->state, TCMU_ZC_S_LIVE);
		KUNIT_EXPECT_TRUE(test, s->ro);
		KUNIT_EXPECT_EQ(test, s->nr_pages, 3U);
		KUNIT_EXPECT_EQ(test, s->nr_iovs, 1U);
		KUNIT_EXPECT_EQ(test, s->bytes, 3 * PAGE_SIZE);
		KUNIT_EXPECT_EQ(test, s->bounced, 0U);
		KUNIT_EXPECT_EQ(test, atomic_long_read(&t->pool->held), 0L);
		for (i = 0; i < 3; i++) {
			KUNIT_EXPECT_PTR_EQ(test, s->pages[i].page,
					    nth_page(t->pages, i));
			KUNIT_EXPECT_FALSE(test, s->pages[i].own);
		}
		KUNIT_EXPECT_EQ(test, tcmu_zc_fill_iovs(&t->zc, &cmd, iov), 1U);
		KUNIT_EXPECT_EQ(test, (u64)(uintptr_t)iov[0].iov_base,
				(u64)ZC_BASE << PAGE_SHIFT);
		KUNIT_EXPECT_EQ(test, iov[0].iov_len, 3 * PAGE_SIZE);
		zc_test_release(t);
	}
}

/*
 * A buffer that starts 512 bytes into a page: four chunks for three
 * pages' worth, the partial first and last bounced (the slot's array
 * grows past the three it was sized for), still one iovec.
 */
static void zc_unaligned(struct kunit *test)
{
	struct zc_test *t = zc_test_init(test);
	struct tcmu_cmd cmd = { .zc_slot = 1 };
	struct tcmu_zc_slot *s = &t->zc.slots[0];
	struct tcmu_zc_fill f;
	struct iovec iov[4];
	u8 *p;
	int i;

	for (i = 0; i < 4; i++)
		zc_fill_pattern(nth_page(t->pages, i), 0x10 + i);
	sg_init_table(t->sg, 1);
	sg_set_page(&t->sg[0], t->pages, 3 * PAGE_SIZE, 512);
	zc_test_cmd(t, 1, 3 * PAGE_SIZE, DMA_TO_DEVICE);
	KUNIT_ASSERT_EQ(test, zc_test_fill(t, &f), TCMU_ZC_CMDS);
	KUNIT_EXPECT_EQ(test, s->nr_pages, 4U);
	KUNIT_EXPECT_GE(test, s->cap, 4U);
	KUNIT_EXPECT_LE(test, s->cap, (u32)ZC_SLOT_PAGES);
	KUNIT_EXPECT_EQ(test, s->nr_iovs, 1U);
	KUNIT_EXPECT_EQ(test, s->bytes, 3 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, s->bounced, 2U);
	KUNIT_EXPECT_EQ(test, f.unmappable, 0U);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&t->pool->held), 2L);
	KUNIT_EXPECT_TRUE(test, s->pages[0].own);
	KUNIT_EXPECT_PTR_EQ(test, s->pages[0].sg_page, t->pages);
	KUNIT_EXPECT_EQ(test, s->pages[0].off, 512U);
	KUNIT_EXPECT_EQ(test, s->pages[0].len, (u32)PAGE_SIZE - 512);
	KUNIT_EXPECT_PTR_EQ(test, s->pages[1].page, nth_page(t->pages, 1));
	KUNIT_EXPECT_TRUE(test, s->pages[3].own);
	KUNIT_EXPECT_EQ(test, s->pages[3].off, 0U);
	KUNIT_EXPECT_EQ(test, s->pages[3].len, 512U);

	/* a bounce page holds the command's bytes, zeros beside them */
	p = kmap_local_page(s->pages[0].page);
	KUNIT_EXPECT_EQ(test, p[0], 0);
	KUNIT_EXPECT_EQ(test, p[511], 0);
	KUNIT_EXPECT_EQ(test, p[512], 0x10);
	KUNIT_EXPECT_EQ(test, p[PAGE_SIZE - 1], 0x10);
	kunmap_local(p);
	p = kmap_local_page(s->pages[3].page);
	KUNIT_EXPECT_EQ(test, p[511], 0x13);
	KUNIT_EXPECT_EQ(test, p[512], 0);
	kunmap_local(p);

	KUNIT_EXPECT_EQ(test, tcmu_zc_fill_iovs(&t->zc, &cmd, iov), 1U);
	KUNIT_EXPECT_EQ(test, (u64)(uintptr_t)iov[0].iov_base,
			((u64)ZC_BASE << PAGE_SHIFT) + 512);
	KUNIT_EXPECT_EQ(test, iov[0].iov_len, 3 * PAGE_SIZE);
	zc_test_release(t);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&t->pool->held), 0L);
}

/*
 * Two sg entries that each start 512 bytes into their page and end at
 * its end: the chunks do not touch in the window, two iovecs.
 */
static void zc_two_runs(struct kunit *test)
{
	struct zc_test *t = zc_test_init(test);
	struct tcmu_cmd cmd = { .zc_slot = 1 };
	struct tcmu_zc_slot *s = &t->zc.slots[0];
	struct tcmu_zc_fill f;
	struct iovec iov[4];
	u64 base = (u64)ZC_BASE << PAGE_SHIFT;
	int i;

	sg_init_table(t->sg, 2);
	for (i = 0; i < 2; i++)
		sg_set_page(&t->sg[i], nth_page(t->pages, i), PAGE_SIZE - 512,
			    512);
	zc_test_cmd(t, 2, 2 * (PAGE_SIZE - 512), DMA_TO_DEVICE);
	KUNIT_ASSERT_EQ(test, zc_test_fill(t, &f), TCMU_ZC_CMDS);
	KUNIT_EXPECT_EQ(test, s->nr_pages, 2U);
	KUNIT_EXPECT_EQ(test, s->nr_iovs, 2U);
	KUNIT_EXPECT_EQ(test, s->bounced, 2U);
	KUNIT_ASSERT_EQ(test, tcmu_zc_fill_iovs(&t->zc, &cmd, iov), 2U);
	for (i = 0; i < 2; i++) {
		KUNIT_EXPECT_EQ(test, (u64)(uintptr_t)iov[i].iov_base,
				base + i * PAGE_SIZE + 512);
		KUNIT_EXPECT_EQ(test, iov[i].iov_len, PAGE_SIZE - 512);
	}
	zc_test_release(t);
}

/*
 * Three sg entries, each half a page into its page and a page long: six
 * chunks, more than the slot's four pages.  The copy path, with the
 * bounce pages taken on the way given back and the slot still free.
 */
static void zc_too_many_chunks(struct kunit *test)
{
	struct zc_test *t = zc_test_init(test);
	struct tcmu_zc_slot *s = &t->zc.slots[0];
	struct tcmu_zc_fill f;
	int i;

	sg_init_table(t->sg, 3);
	for (i = 0; i < 3; i++)
		sg_set_page(&t->sg[i], t->pages, PAGE_SIZE, PAGE_SIZE / 2);
	zc_test_cmd(t, 3, 3 * PAGE_SIZE, DMA_TO_DEVICE);
	KUNIT_EXPECT_EQ(test, zc_test_fill(t, &f), TCMU_ZC_FB_SIZE);
	KUNIT_EXPECT_EQ(test, s->state, TCMU_ZC_S_FREE);
	KUNIT_EXPECT_EQ(test, s->nr_pages, 0U);
	KUNIT_EXPECT_EQ(test, s->cap, (u32)ZC_SLOT_PAGES);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&t->pool->held), 0L);
	for (i = 0; i < ZC_SLOT_PAGES; i++)
		KUNIT_EXPECT_FALSE(test, s->pages[i].own);
}

/* No pool pages for a bounce page: the copy path, nothing kept */
static void zc_pool_full(struct kunit *test)
{
	struct zc_test *t = zc_test_init(test);
	struct tcmu_zc_slot *s = &t->zc.slots[0];
	struct tcmu_zc_fill f;

	KUNIT_ASSERT_TRUE(test, tcmu_pool_try_charge(t->pool, 63));
	sg_init_table(t->sg, 1);
	sg_set_page(&t->sg[0], t->pages, 3 * PAGE_SIZE, 512);
	zc_test_cmd(t, 1, 3 * PAGE_SIZE, DMA_TO_DEVICE);
	/* the first bounce page takes the last pool page, the second none */
	KUNIT_EXPECT_EQ(test, zc_test_fill(t, &f), TCMU_ZC_FB_NOMEM);
	KUNIT_EXPECT_EQ(test, s->state, TCMU_ZC_S_FREE);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&t->pool->held), 63L);
	tcmu_pool_uncharge(t->pool, 63);
}

/* READ pages are zeroed before the handler could see them; writable */
static void zc_read_zeroed(struct kunit *test)
{
	struct zc_test *t = zc_test_init(test);
	struct tcmu_zc_slot *s = &t->zc.slots[0];
	struct tcmu_zc_fill f;
	u8 *p;
	int i;

	for (i = 0; i < 2; i++)
		zc_fill_pattern(nth_page(t->pages, i), 0xa5);
	sg_init_table(t->sg, 1);
	sg_set_page(&t->sg[0], t->pages, 2 * PAGE_SIZE, 0);
	zc_test_cmd(t, 1, 2 * PAGE_SIZE, DMA_FROM_DEVICE);
	KUNIT_ASSERT_EQ(test, zc_test_fill(t, &f), TCMU_ZC_CMDS);
	KUNIT_EXPECT_FALSE(test, s->ro);
	for (i = 0; i < 2; i++) {
		p = kmap_local_page(nth_page(t->pages, i));
		KUNIT_EXPECT_TRUE(test, !memchr_inv(p, 0, PAGE_SIZE));
		kunmap_local(p);
	}
	zc_test_release(t);
}

/* The shared zero page is never shown: bounced, counted unmappable */
static void zc_zero_page_bounced(struct kunit *test)
{
	struct zc_test *t = zc_test_init(test);
	struct tcmu_zc_slot *s = &t->zc.slots[0];
	struct tcmu_zc_fill f;

	sg_init_table(t->sg, 2);
	sg_set_page(&t->sg[0], t->pages, PAGE_SIZE, 0);
	sg_set_page(&t->sg[1], ZERO_PAGE(0), PAGE_SIZE, 0);
	zc_test_cmd(t, 2, 2 * PAGE_SIZE, DMA_TO_DEVICE);
	KUNIT_ASSERT_EQ(test, zc_test_fill(t, &f), TCMU_ZC_CMDS);
	KUNIT_EXPECT_EQ(test, s->bounced, 1U);
	KUNIT_EXPECT_EQ(test, f.unmappable, 1U);
	KUNIT_EXPECT_PTR_EQ(test, s->pages[0].page, t->pages);
	KUNIT_EXPECT_TRUE(test, s->pages[1].own);
	KUNIT_EXPECT_PTR_NE(test, s->pages[1].page, ZERO_PAGE(0));
	/* whole pages still touch: one iovec */
	KUNIT_EXPECT_EQ(test, s->nr_iovs, 1U);
	zc_test_release(t);
}

/* The slot keeps its array: a smaller command after reuses it */
static void zc_array_kept(struct kunit *test)
{
	struct zc_test *t = zc_test_init(test);
	struct tcmu_zc_slot *s = &t->zc.slots[0];
	struct tcmu_zc_page *array;
	struct tcmu_zc_fill f;

	sg_init_table(t->sg, 1);
	sg_set_page(&t->sg[0], t->pages, 3 * PAGE_SIZE, 0);
	zc_test_cmd(t, 1, 3 * PAGE_SIZE, DMA_TO_DEVICE);
	KUNIT_ASSERT_EQ(test, zc_test_fill(t, &f), TCMU_ZC_CMDS);
	array = s->pages;
	zc_test_release(t);
	KUNIT_EXPECT_PTR_EQ(test, s->pages, array);

	sg_init_table(t->sg, 1);
	sg_set_page(&t->sg[0], t->pages, PAGE_SIZE, 0);
	zc_test_cmd(t, 1, PAGE_SIZE, DMA_TO_DEVICE);
	KUNIT_ASSERT_EQ(test, zc_test_fill(t, &f), TCMU_ZC_CMDS);
	KUNIT_EXPECT_PTR_EQ(test, s->pages, array);
	KUNIT_EXPECT_EQ(test, s->nr_pages, 1U);
	zc_test_release(t);
}

static struct kunit_case tcmu_zero_copy_cases[] = {
	KUNIT_CASE(zc_whole_pages),
	KUNIT_CASE(zc_unaligned),
	KUNIT_CASE(zc_two_runs),
	KUNIT_CASE(zc_too_many_chunks),
	KUNIT_CASE(zc_pool_full),
	KUNIT_CASE(zc_read_zeroed),
	KUNIT_CASE(zc_zero_page_bounced),
	KUNIT_CASE(zc_array_kept),
	{}
};

static struct kunit_suite tcmu_zero_copy_suite = {
	.name = "tcmu_zero_copy",
	.test_cases = tcmu_zero_copy_cases,
};

kunit_test_suite(tcmu_zero_copy_suite);
