// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the data area allocator: block states, reuse of cached
 * pages before new ones, hole reclaim (in bounded batches), revoked
 * blocks, iovec layout and data copies, and allocation racing with frees
 * and trims (no device lock around them).
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/scatterlist.h>
#include "../tcmu.h"
#include "kunit_pool.h"

/* Blocks neither used nor busy */
static u32 da_free_blocks(struct tcmu_data_area *da)
{
	u32 nr;

	spin_lock(&da->lock);
	nr = da->nr_blocks - da->nr_used;
	spin_unlock(&da->lock);
	return nr;
}

#define DA_BASE		(8 << 20)	/* where the area starts in the map */
#define DA_BLOCKS	64

struct da_case {
	u32 blk_pages;
	const char *name;
};

static const struct da_case da_cases[] = {
	{ 1, "1 page per block" },
	{ 2, "2 pages per block" },
	{ 4, "4 pages per block" },
};

static void da_case_desc(const struct da_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(da, da_cases, da_case_desc);

static void da_exit_action(void *da)
{
	tcmu_da_exit(da);
}

static struct tcmu_data_area *da_setup_pool(struct kunit *test, u32 nr_blocks,
					    struct tcmu_pool *pool)
{
	const struct da_case *c = test->param_value;
	struct tcmu_data_area *da;

	da = kunit_kzalloc(test, sizeof(*da), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, da);
	KUNIT_ASSERT_EQ(test, tcmu_da_init(da, pool, "kunit", nr_blocks,
					   c->blk_pages, DA_BASE), 0);
	KUNIT_ASSERT_EQ(test,
			kunit_add_action_or_reset(test, da_exit_action, da), 0);
	return da;
}

static struct tcmu_data_area *da_setup(struct kunit *test, u32 nr_blocks)
{
	return da_setup_pool(test, nr_blocks, tcmu_kunit_pool(test, 1L << 20));
}

static unsigned long da_pages(struct tcmu_data_area *da)
{
	unsigned long idx, n = 0;
	struct page *page;

	xa_for_each(&da->pages, idx, page)
		n++;
	return n;
}

/* A fresh area holds no page; allocation populates lowest blocks first. */
static void da_lazy_alloc(struct kunit *test)
{
	struct tcmu_data_area *da = da_setup(test, DA_BLOCKS);
	long before = tcmu_pool_held(da->pool);
	u32 blocks[5];
	int i;

	KUNIT_EXPECT_EQ(test, da_pages(da), 0UL);
	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(da, blocks, 5), TCMU_GOT);
	for (i = 0; i < 5; i++)
		KUNIT_EXPECT_EQ(test, blocks[i], (u32)i);
	KUNIT_EXPECT_EQ(test, da->nr_used, 5U);
	KUNIT_EXPECT_EQ(test, da->nr_populated, 5U);
	KUNIT_EXPECT_EQ(test, da_pages(da), 5UL * da->blk_pages);
	KUNIT_EXPECT_EQ(test, tcmu_pool_held(da->pool) - before,
			5L * da->blk_pages);
	KUNIT_EXPECT_EQ(test, da_free_blocks(da), DA_BLOCKS - 5U);
}

/* Freed blocks keep their pages and are taken again before new ones. */
static void da_reuse_cached_first(struct kunit *test)
{
	struct tcmu_data_area *da = da_setup(test, DA_BLOCKS);
	u32 blocks[8], again[3];
	u32 holes[2];

	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(da, blocks, 8), TCMU_GOT);
	holes[0] = blocks[2];
	holes[1] = blocks[5];
	tcmu_da_free(da, holes, 2);
	KUNIT_EXPECT_EQ(test, da->nr_used, 6U);
	KUNIT_EXPECT_EQ(test, da->nr_populated, 8U);

	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(da, again, 3), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, again[0], 2U);
	KUNIT_EXPECT_EQ(test, again[1], 5U);
	KUNIT_EXPECT_EQ(test, again[2], 8U);	/* only now a new block */
	KUNIT_EXPECT_EQ(test, da->nr_populated, 9U);
	KUNIT_EXPECT_EQ(test, da_pages(da), 9UL * da->blk_pages);
}

/* Asking for more blocks than are free fails and takes nothing. */
static void da_enospc(struct kunit *test)
{
	struct tcmu_data_area *da = da_setup(test, 8);
	u32 blocks[9];

	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(da, blocks, 6), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, tcmu_da_alloc(da, blocks + 6, 3), TCMU_WAIT);
	KUNIT_EXPECT_EQ(test, da->nr_used, 6U);
	KUNIT_EXPECT_EQ(test, tcmu_da_alloc(da, blocks + 6, 2), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, da_free_blocks(da), 0U);
	KUNIT_EXPECT_EQ(test, tcmu_da_alloc(da, blocks, 1), TCMU_WAIT);
}

/* Trim frees holes as well as the tail, and never a used block. */
static void da_trim_holes(struct kunit *test)
{
	struct tcmu_data_area *da = da_setup(test, DA_BLOCKS);
	u32 blocks[10], holes[4] = { 1, 2, 6, 9 };
	long before;
	u32 i;

	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(da, blocks, 10), TCMU_GOT);
	tcmu_da_free(da, holes, 4);
	before = tcmu_pool_held(da->pool);
	KUNIT_EXPECT_EQ(test, tcmu_da_trim(da, TCMU_TRIM_ALL), 4U * da->blk_pages);
	KUNIT_EXPECT_EQ(test, before - tcmu_pool_held(da->pool), 4L * da->blk_pages);
	KUNIT_EXPECT_EQ(test, da->nr_populated, 6U);
	KUNIT_EXPECT_EQ(test, da->nr_used, 6U);
	for (i = 0; i < 10; i++) {
		bool hole = i == 1 || i == 2 || i == 6 || i == 9;

		KUNIT_EXPECT_EQ(test, test_bit(i, da->populated), !hole);
		KUNIT_EXPECT_EQ(test, !!xa_load(&da->pages, i * da->blk_pages),
				!hole);
	}
	/* the highest populated block is now 8 */
	KUNIT_EXPECT_EQ(test, da->blk_hi, 9U);
	KUNIT_EXPECT_EQ(test, da_pages(da), 6UL * da->blk_pages);
}

/* A fully idle area trims to nothing. */
static void da_trim_all(struct kunit *test)
{
	struct tcmu_data_area *da = da_setup(test, DA_BLOCKS);
	u32 blocks[7];

	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(da, blocks, 7), TCMU_GOT);
	tcmu_da_free(da, blocks, 7);
	KUNIT_EXPECT_EQ(test, tcmu_da_trim(da, TCMU_TRIM_ALL), 7U * da->blk_pages);
	KUNIT_EXPECT_EQ(test, da->nr_populated, 0U);
	KUNIT_EXPECT_EQ(test, da->blk_hi, 0U);
	KUNIT_EXPECT_EQ(test, da_pages(da), 0UL);
	/* and grows again from block 0 */
	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(da, blocks, 1), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, blocks[0], 0U);
}

/* Consecutive blocks share an iovec; offsets count from the map start. */
static void da_iovecs(struct kunit *test)
{
	struct tcmu_data_area *da = da_setup(test, DA_BLOCKS);
	u32 blocks[5] = { 3, 4, 5, 9, 10 };
	size_t bs = da->blk_size, len = 4 * bs + 100;
	struct iovec iov[5];

	KUNIT_EXPECT_EQ(test, tcmu_da_iov_count(blocks, 5), 2U);
	KUNIT_EXPECT_EQ(test, tcmu_da_iov_count(blocks, 1), 1U);
	KUNIT_EXPECT_EQ(test, tcmu_da_iov_count(blocks, 0), 0U);
	KUNIT_ASSERT_EQ(test, tcmu_da_fill_iovs(da, blocks, 5, len, iov), 2U);
	KUNIT_EXPECT_EQ(test, (uintptr_t)iov[0].iov_base, DA_BASE + 3 * bs);
	KUNIT_EXPECT_EQ(test, iov[0].iov_len, 3 * bs);
	KUNIT_EXPECT_EQ(test, (uintptr_t)iov[1].iov_base, DA_BASE + 9 * bs);
	KUNIT_EXPECT_EQ(test, iov[1].iov_len, bs + 100);
}

/* Data survives a trip sg -> data area -> sg across odd sg boundaries. */
static void da_copy_roundtrip(struct kunit *test)
{
	struct tcmu_data_area *da = da_setup(test, DA_BLOCKS);
	size_t len = 3 * PAGE_SIZE + 777, cut = PAGE_SIZE + 13;
	struct scatterlist sg_in[2], sg_out[3];
	u8 *src, *dst;
	u32 blocks[DA_BLOCKS], nr;
	size_t i;

	nr = DIV_ROUND_UP(len, da->blk_size);
	src = kunit_kmalloc(test, len, GFP_KERNEL);
	dst = kunit_kzalloc(test, len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, src);
	KUNIT_ASSERT_NOT_NULL(test, dst);
	for (i = 0; i < len; i++)
		src[i] = i * 7 + 3;

	/* make the blocks non-contiguous */
	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(da, blocks, nr + 1), TCMU_GOT);
	tcmu_da_free(da, &blocks[0], 1);
	blocks[0] = blocks[nr];

	sg_init_table(sg_in, 2);
	sg_set_buf(&sg_in[0], src, cut);
	sg_set_buf(&sg_in[1], src + cut, len - cut);
	tcmu_da_copy_from_sg(da, blocks, sg_in, 2, len);

	sg_init_table(sg_out, 3);
	sg_set_buf(&sg_out[0], dst, 100);
	sg_set_buf(&sg_out[1], dst + 100, 2 * PAGE_SIZE);
	sg_set_buf(&sg_out[2], dst + 100 + 2 * PAGE_SIZE,
		   len - 100 - 2 * PAGE_SIZE);
	tcmu_da_copy_to_sg(da, blocks, sg_out, 3, len);
	KUNIT_EXPECT_EQ(test, memcmp(src, dst, len), 0);
}

#define DA_ZERO_BLOCKS	8
#define DA_ZERO_ROUNDS	4

/*
 * New pages are zeroed: the handler never sees old kernel data, not even
 * its own.  Fresh pages from a booted kernel are mostly zero anyway, so
 * each round dirties the pages it got and trims them; the page allocator
 * hands the next round the pages it was just given (its per-CPU lists
 * are last in, first out), which must read zero again.  The test checks
 * that some pages did come back: without that, a missing __GFP_ZERO could
 * go unseen.
 */
static void da_pages_zeroed(struct kunit *test)
{
	struct tcmu_data_area *da = da_setup(test, DA_BLOCKS);
	u32 blocks[DA_ZERO_BLOCKS], round, nr_pages, seen = 0, i;
	u32 dirty = 0, reused = 0;
	unsigned long idx, *pfns;
	struct page *page;
	void *addr;

	nr_pages = DA_ZERO_BLOCKS * da->blk_pages;
	pfns = kunit_kcalloc(test, DA_ZERO_ROUNDS * nr_pages, sizeof(*pfns),
			     GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pfns);
	for (round = 0; round < DA_ZERO_ROUNDS; round++) {
		KUNIT_ASSERT_EQ(test, tcmu_da_alloc(da, blocks, DA_ZERO_BLOCKS),
				TCMU_GOT);
		KUNIT_ASSERT_EQ(test, da_pages(da), (unsigned long)nr_pages);
		xa_for_each(&da->pages, idx, page) {
			for (i = 0; i < seen; i++)
				if (pfns[i] == page_to_pfn(page))
					break;
			reused += i < seen;
			addr = kmap_local_page(page);
			dirty += !!memchr_inv(addr, 0, PAGE_SIZE);
			memset(addr, 0xa5, PAGE_SIZE);
			kunmap_local(addr);
			pfns[seen++] = page_to_pfn(page);
		}
		tcmu_da_free(da, blocks, DA_ZERO_BLOCKS);
		KUNIT_ASSERT_EQ(test, tcmu_da_trim(da, TCMU_TRIM_ALL), nr_pages);
	}
	kunit_info(test, "%u of %u pages came back after a trim\n", reused,
		   (DA_ZERO_ROUNDS - 1) * nr_pages);
	KUNIT_EXPECT_EQ(test, dirty, 0U);
	KUNIT_EXPECT_GT(test, reused, 0U);
}

/* The pool's limit holds: a command gets all its new pages or none. */
static void da_pool_limit(struct kunit *test)
{
	const struct da_case *c = test->param_value;
	struct tcmu_pool *pool = tcmu_kunit_pool(test, 6L * c->blk_pages);
	struct tcmu_data_area *da = da_setup_pool(test, DA_BLOCKS, pool);
	u32 blocks[8], more[7];

	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(da, blocks, 4), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, tcmu_da_alloc(da, blocks + 4, 3), TCMU_WAIT);
	KUNIT_EXPECT_EQ(test, da->nr_used, 4U);
	KUNIT_EXPECT_EQ(test, da->nr_populated, 4U);
	KUNIT_EXPECT_EQ(test, tcmu_pool_held(pool), 4L * da->blk_pages);
	KUNIT_EXPECT_FALSE(test, list_empty(&da->waiter.node));
	/* two cached blocks and one new one fit */
	tcmu_da_free(da, blocks + 2, 2);
	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(da, blocks + 2, 3), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, tcmu_pool_held(pool), 5L * da->blk_pages);
	KUNIT_EXPECT_TRUE(test, list_empty(&da->waiter.node));
	KUNIT_EXPECT_EQ(test, da->peak_pages, 5U * da->blk_pages);
	/* more new pages than the whole pool: no wait */
	KUNIT_EXPECT_EQ(test, tcmu_da_alloc(da, more, 7), TCMU_FAIL);
	KUNIT_EXPECT_TRUE(test, list_empty(&da->waiter.node));
	KUNIT_EXPECT_EQ(test, tcmu_pool_held(pool), 5L * da->blk_pages);
}

/*
 * Two areas share a full pool: the one that waited first is served
 * first, even when the other frees the pages and asks again at once.
 */
static void da_pool_fair(struct kunit *test)
{
	const struct da_case *c = test->param_value;
	struct tcmu_pool *pool = tcmu_kunit_pool(test, 4L * c->blk_pages);
	struct tcmu_data_area *a = da_setup_pool(test, DA_BLOCKS, pool);
	struct tcmu_data_area *b = da_setup_pool(test, DA_BLOCKS, pool);
	u32 ablk[4], bblk[2];

	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(a, ablk, 4), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, tcmu_da_alloc(b, bblk, 2), TCMU_WAIT);
	tcmu_da_free(a, ablk, 4);
	KUNIT_EXPECT_EQ(test, tcmu_da_trim(a, TCMU_TRIM_ALL), 4U * a->blk_pages);
	KUNIT_EXPECT_EQ(test, a->reclaimed_pages, 4ULL * a->blk_pages);
	/* a is not first in line: it waits behind b */
	KUNIT_EXPECT_EQ(test, tcmu_da_alloc(a, ablk, 3), TCMU_WAIT);
	KUNIT_EXPECT_EQ(test, tcmu_pool_held(pool), 0L);
	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(b, bblk, 2), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, tcmu_da_alloc(a, ablk, 3), TCMU_WAIT);
	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(a, ablk, 2), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, tcmu_pool_held(pool), 4L * c->blk_pages);
	KUNIT_EXPECT_EQ(test, pool->nr_waiters, 0U);
	KUNIT_EXPECT_EQ(test, b->waiter.waits, 1ULL);
	KUNIT_EXPECT_EQ(test, a->waiter.waits, 1ULL);
}

/* A request larger than the whole pool fails at once, without waiting. */
static void da_pool_too_big(struct kunit *test)
{
	const struct da_case *c = test->param_value;
	struct tcmu_pool *pool = tcmu_kunit_pool(test, 2L * c->blk_pages);
	struct tcmu_data_area *da = da_setup_pool(test, DA_BLOCKS, pool);
	u32 blocks[3];

	KUNIT_EXPECT_EQ(test, tcmu_da_alloc(da, blocks, 3), TCMU_FAIL);
	KUNIT_EXPECT_TRUE(test, list_empty(&da->waiter.node));
	KUNIT_EXPECT_EQ(test, tcmu_pool_held(pool), 0L);
	KUNIT_EXPECT_EQ(test, da->nr_used, 0U);
}

#define DA_RACE_LOOPS	1500
#define DA_RACE_WORKERS	3

struct da_race {
	struct tcmu_data_area *da;
	struct completion done[DA_RACE_WORKERS + 1];
	atomic_t stop;
	atomic_t errors;
	atomic_t allocs;
	atomic_t trims;
};

struct da_race_worker {
	struct da_race *race;
	u32 id;
};

/* Stamp every page of @blocks with @tag, or check the stamps */
static bool da_race_stamp(struct tcmu_data_area *da, const u32 *blocks,
			  u32 nr, u32 tag, bool check)
{
	struct page *page;
	u32 i, p, *word;
	bool ok = true;

	for (i = 0; i < nr; i++) {
		for (p = 0; p < da->blk_pages; p++) {
			page = xa_load(&da->pages,
				       (unsigned long)blocks[i] * da->blk_pages + p);
			if (!page)
				return false;
			word = kmap_local_page(page);
			if (check)
				ok &= *word == tag;
			else
				*word = tag;
			kunmap_local(word);
		}
	}
	return ok;
}

static int da_race_alloc_fn(void *data)
{
	struct da_race_worker *w = data;
	struct da_race *race = w->race;
	u32 blocks[4], nr, n, tag;
	enum tcmu_get got;

	for (n = 0; n < DA_RACE_LOOPS; n++) {
		nr = 1 + (n + w->id) % 4;
		tag = (w->id << 24) | n;
		got = tcmu_da_alloc(race->da, blocks, nr);
		if (got == TCMU_WAIT) {
			cond_resched();
			continue;
		}
		if (got != TCMU_GOT) {
			atomic_inc(&race->errors);
			break;
		}
		atomic_inc(&race->allocs);
		/* nobody else may hold these blocks, nor trim their pages */
		if (!da_race_stamp(race->da, blocks, nr, tag, false))
			atomic_inc(&race->errors);
		cond_resched();
		if (!da_race_stamp(race->da, blocks, nr, tag, true))
			atomic_inc(&race->errors);
		tcmu_da_free(race->da, blocks, nr);
	}
	complete(&race->done[w->id]);
	return 0;
}

static int da_race_trim_fn(void *data)
{
	struct da_race *race = data;

	while (!atomic_read(&race->stop)) {
		tcmu_da_trim(race->da, TCMU_TRIM_ALL);
		atomic_inc(&race->trims);
		cond_resched();
	}
	complete(&race->done[DA_RACE_WORKERS]);
	return 0;
}

/*
 * Allocations, frees and trims of one area run at once, as submitters,
 * the completion thread and the reclaim work do: no block is handed out
 * twice, no page of a used block is trimmed, and the counters add up.
 */
static void da_race(struct kunit *test)
{
	struct tcmu_data_area *da = da_setup(test, 16);
	struct da_race_worker workers[DA_RACE_WORKERS];
	struct task_struct *task;
	struct da_race *race;
	unsigned long pages;
	u32 i;

	race = kunit_kzalloc(test, sizeof(*race), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, race);
	race->da = da;
	for (i = 0; i <= DA_RACE_WORKERS; i++)
		init_completion(&race->done[i]);
	task = kthread_run(da_race_trim_fn, race, "da_race_trim");
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	for (i = 0; i < DA_RACE_WORKERS; i++) {
		workers[i] = (struct da_race_worker){ .race = race, .id = i };
		task = kthread_run(da_race_alloc_fn, &workers[i],
				   "da_race_%u", i);
		if (IS_ERR(task)) {
			/* let the others finish before failing */
			atomic_inc(&race->errors);
			complete(&race->done[i]);
		}
	}
	for (i = 0; i < DA_RACE_WORKERS; i++)
		wait_for_completion(&race->done[i]);
	atomic_set(&race->stop, 1);
	wait_for_completion(&race->done[DA_RACE_WORKERS]);

	KUNIT_EXPECT_EQ(test, atomic_read(&race->errors), 0);
	KUNIT_EXPECT_GT(test, atomic_read(&race->allocs), DA_RACE_LOOPS);
	KUNIT_EXPECT_GT(test, atomic_read(&race->trims), 0);
	KUNIT_EXPECT_EQ(test, da->nr_used, 0U);
	KUNIT_EXPECT_EQ(test, da->nr_busy, 0U);
	pages = da_pages(da);
	KUNIT_EXPECT_EQ(test, pages, (unsigned long)da->nr_populated *
			da->blk_pages);
	KUNIT_EXPECT_EQ(test, tcmu_pool_held(da->pool), (long)pages);
	KUNIT_EXPECT_EQ(test, tcmu_da_trim(da, TCMU_TRIM_ALL), (u32)pages);
	KUNIT_EXPECT_EQ(test, tcmu_pool_held(da->pool), 0L);
}

/*
 * Revoking a command's blocks gives their pages back, shows the scratch
 * page at every index instead, and keeps the blocks from reuse until
 * they are freed, which brings them back empty.
 */
static void da_revoke(struct kunit *test)
{
	struct tcmu_data_area *da = da_setup(test, DA_BLOCKS);
	u32 blocks[6], kept[2], again[2];
	u32 held, used, peak;
	u64 reclaimed, revoked;
	unsigned long idx;
	long before;
	u32 i;

	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(da, blocks, 6), TCMU_GOT);
	kept[0] = blocks[1];
	kept[1] = blocks[4];
	before = tcmu_pool_held(da->pool);
	KUNIT_EXPECT_EQ(test, tcmu_da_revoke(da, kept, 2), 2L * da->blk_pages);
	KUNIT_EXPECT_EQ(test, before - tcmu_pool_held(da->pool),
			2L * da->blk_pages);
	KUNIT_ASSERT_NOT_NULL(test, da->scratch);
	for (i = 0; i < 2; i++) {
		idx = (unsigned long)kept[i] * da->blk_pages;
		KUNIT_EXPECT_PTR_EQ(test, xa_load(&da->pages, idx), da->scratch);
	}
	tcmu_da_stats(da, &held, &used, &peak, &reclaimed, &revoked);
	KUNIT_EXPECT_EQ(test, held, 4U * da->blk_pages);
	KUNIT_EXPECT_EQ(test, used, 4U * da->blk_pages);
	KUNIT_EXPECT_EQ(test, revoked, 2ULL * da->blk_pages);
	/* nothing cached to trim, and the revoked blocks are not free */
	KUNIT_EXPECT_FALSE(test, tcmu_da_has_cached(da));
	KUNIT_EXPECT_EQ(test, da_free_blocks(da), DA_BLOCKS - 6U);

	tcmu_da_free_revoked(da, kept, 2);
	KUNIT_EXPECT_EQ(test, da->nr_revoked, 0U);
	KUNIT_EXPECT_EQ(test, da_pages(da), 4UL * da->blk_pages);
	/* back empty: the next allocation populates them with new pages */
	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(da, again, 2), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, again[0], kept[0]);
	KUNIT_EXPECT_EQ(test, again[1], kept[1]);
	idx = (unsigned long)kept[0] * da->blk_pages;
	KUNIT_EXPECT_PTR_NE(test, xa_load(&da->pages, idx), da->scratch);
	KUNIT_EXPECT_EQ(test, da->nr_populated, 6U);
}

/*
 * A fragmented area (every other block cached) is trimmed a bounded
 * number of batches at a time, and completely by enough calls.
 */
static void da_trim_batches(struct kunit *test)
{
	u32 nr = 4 * TCMU_TRIM_BATCH + 8;
	struct tcmu_data_area *da = da_setup(test, 2 * nr);
	u32 *blocks, *holes, i, freed;

	blocks = kunit_kcalloc(test, 2 * nr, sizeof(*blocks), GFP_KERNEL);
	holes = kunit_kcalloc(test, nr, sizeof(*holes), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, blocks);
	KUNIT_ASSERT_NOT_NULL(test, holes);
	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(da, blocks, 2 * nr), TCMU_GOT);
	for (i = 0; i < nr; i++)
		holes[i] = 2 * i;
	tcmu_da_free(da, holes, nr);

	freed = tcmu_da_trim(da, 1);
	KUNIT_EXPECT_EQ(test, freed, TCMU_TRIM_BATCH * da->blk_pages);
	KUNIT_EXPECT_TRUE(test, tcmu_da_has_cached(da));
	freed = tcmu_da_trim(da, TCMU_TRIM_ALL);
	KUNIT_EXPECT_EQ(test, freed, (nr - TCMU_TRIM_BATCH) * da->blk_pages);
	KUNIT_EXPECT_FALSE(test, tcmu_da_has_cached(da));
	KUNIT_EXPECT_EQ(test, da->nr_populated, nr);
	KUNIT_EXPECT_EQ(test, da->nr_used, nr);
	KUNIT_EXPECT_EQ(test, da->nr_busy, 0U);
}

/*
 * The bitmaps cover only the blocks in use: none on a fresh or trimmed
 * area, grown by allocations that reach past them, cut by trims.
 */
static void da_maps_lazy(struct kunit *test)
{
	struct tcmu_data_area *da = da_setup(test, 4000);
	u32 few[3], *many;
	u32 i;

	many = kunit_kcalloc(test, 2500, sizeof(*many), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, many);
	KUNIT_EXPECT_EQ(test, da->nr_bits, 0U);
	KUNIT_EXPECT_NULL(test, da->populated);

	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(da, few, 3), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, da->nr_bits, 512U);
	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(da, many, 2500), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, da->nr_bits, 2560U);
	for (i = 0; i < 2500; i++)
		KUNIT_EXPECT_EQ(test, many[i], 3 + i);
	for (i = 0; i < 2503; i++) {
		KUNIT_EXPECT_TRUE(test, test_bit(i, da->used));
		KUNIT_EXPECT_TRUE(test, test_bit(i, da->populated));
	}

	/* three blocks used out of 2560: the bitmaps shrink, keep them */
	tcmu_da_free(da, many, 2500);
	KUNIT_EXPECT_EQ(test, tcmu_da_trim(da, TCMU_TRIM_ALL),
			2500 * da->blk_pages);
	KUNIT_EXPECT_EQ(test, da->nr_bits, 512U);
	for (i = 0; i < 512; i++)
		KUNIT_EXPECT_EQ(test, test_bit(i, da->used), i < 3);
	KUNIT_EXPECT_EQ(test, da->nr_populated, 3U);

	/* nothing used: none left */
	tcmu_da_free(da, few, 3);
	tcmu_da_trim(da, TCMU_TRIM_ALL);
	KUNIT_EXPECT_EQ(test, da->nr_bits, 0U);
	KUNIT_EXPECT_NULL(test, da->populated);
	KUNIT_EXPECT_NULL(test, da->used);
	KUNIT_EXPECT_EQ(test, da_pages(da), 0UL);

	KUNIT_ASSERT_EQ(test, tcmu_da_alloc(da, few, 1), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, few[0], 0U);
	KUNIT_EXPECT_EQ(test, da->nr_bits, 512U);
	tcmu_da_free(da, few, 1);
}

static struct kunit_case tcmu_data_area_cases[] = {
	KUNIT_CASE_PARAM(da_lazy_alloc, da_gen_params),
	KUNIT_CASE_PARAM(da_reuse_cached_first, da_gen_params),
	KUNIT_CASE_PARAM(da_enospc, da_gen_params),
	KUNIT_CASE_PARAM(da_trim_holes, da_gen_params),
	KUNIT_CASE_PARAM(da_trim_all, da_gen_params),
	KUNIT_CASE_PARAM(da_iovecs, da_gen_params),
	KUNIT_CASE_PARAM(da_copy_roundtrip, da_gen_params),
	KUNIT_CASE_PARAM(da_pages_zeroed, da_gen_params),
	KUNIT_CASE_PARAM(da_pool_limit, da_gen_params),
	KUNIT_CASE_PARAM(da_pool_fair, da_gen_params),
	KUNIT_CASE_PARAM(da_pool_too_big, da_gen_params),
	KUNIT_CASE_PARAM(da_race, da_gen_params),
	KUNIT_CASE_PARAM(da_revoke, da_gen_params),
	KUNIT_CASE_PARAM(da_trim_batches, da_gen_params),
	KUNIT_CASE_PARAM(da_maps_lazy, da_gen_params),
	{}
};

static struct kunit_suite tcmu_data_area_suite = {
	.name = "tcmu_data_area",
	.test_cases = tcmu_data_area_cases,
};

kunit_test_suite(tcmu_data_area_suite);
