// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the global data page pool: the limit holds under
 * concurrent charges, the wait line is FIFO, a lowered limit is obeyed,
 * pinned pages stay charged until the pin goes.
 */
#include <kunit/test.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/random.h>
#include "../tcmu.h"
#include "kunit_pool.h"

static void pool_waiter_init(struct tcmu_pool_waiter *w, const char *name)
{
	memset(w, 0, sizeof(*w));
	INIT_LIST_HEAD(&w->node);
	w->name = name;
}

#define POOL_THREADS	4
#define POOL_MAX	64
#define POOL_ROUNDS	20000
#define POOL_HOLD	4	/* charges a thread holds at most */
#define POOL_CHARGE	16	/* pages a charge asks for at most */

struct pool_stress {
	struct tcmu_pool *pool;
	struct completion done;
	int over;		/* times held was seen above the limit */
	int charged;		/* charges that got their pages */
	int refused;		/* charges turned away (-ENOMEM) */
	int errors;		/* any other answer */
};

/*
 * Keep up to POOL_HOLD charges; when the pool refuses one, give back the
 * oldest.  The threads together ask for more than the pool holds
 * (POOL_THREADS * POOL_HOLD * POOL_CHARGE / 2 pages on average), so it
 * stays full and charges race for the pages others give back, whether
 * the threads run at once or take turns on fewer CPUs.
 */
static int pool_stress_fn(void *data)
{
	struct pool_stress *ps = data;
	struct tcmu_pool_waiter w;
	long held[POOL_HOLD], pages;
	int i, n = 0, oldest = 0;
	enum tcmu_get got;

	pool_waiter_init(&w, "stress");
	for (i = 0; i < POOL_ROUNDS; i++) {
		if (n == POOL_HOLD) {
			tcmu_pool_uncharge(ps->pool, held[oldest]);
			oldest = (oldest + 1) % POOL_HOLD;
			n--;
		}
		pages = 1 + get_random_u32_below(POOL_CHARGE);
		got = tcmu_pool_charge(ps->pool, &w, pages);
		if (got != TCMU_GOT) {
			if (got == TCMU_WAIT)
				ps->refused++;
			else
				ps->errors++;
			tcmu_pool_cancel_wait(ps->pool, &w);
			if (n) {
				tcmu_pool_uncharge(ps->pool, held[oldest]);
				oldest = (oldest + 1) % POOL_HOLD;
				n--;
			}
			cond_resched();
			continue;
		}
		ps->charged++;
		if (tcmu_pool_held(ps->pool) > POOL_MAX)
			ps->over++;
		held[(oldest + n) % POOL_HOLD] = pages;
		n++;
		if (i % 8 == 0)
			cond_resched();
	}
	for (; n; n--, oldest = (oldest + 1) % POOL_HOLD)
		tcmu_pool_uncharge(ps->pool, held[oldest]);
	tcmu_pool_cancel_wait(ps->pool, &w);
	complete(&ps->done);
	return 0;
}

/*
 * Charges and uncharges race on all CPUs against a full pool: never
 * over, none lost.  The limit must have been reached and charges turned
 * away, and a good share of the charges (about 3 in 5 in a simulation)
 * must still get their pages: a pool that refused (nearly) everything
 * would keep its limit too.
 */
static void pool_concurrent(struct kunit *test)
{
	struct pool_stress ps[POOL_THREADS] = {};
	struct tcmu_pool *pool = tcmu_kunit_pool(test, POOL_MAX);
	int i, over = 0, charged = 0, refused = 0, errors = 0;
	struct task_struct *t;

	for (i = 0; i < POOL_THREADS; i++) {
		ps[i].pool = pool;
		init_completion(&ps[i].done);
	}
	for (i = 0; i < POOL_THREADS; i++) {
		t = kthread_run(pool_stress_fn, &ps[i], "tcmu-kunit-%d", i);
		if (IS_ERR(t)) {
			/* let the others finish before failing */
			ps[i].errors++;
			complete(&ps[i].done);
		}
	}
	for (i = 0; i < POOL_THREADS; i++) {
		wait_for_completion(&ps[i].done);
		over += ps[i].over;
		charged += ps[i].charged;
		refused += ps[i].refused;
		errors += ps[i].errors;
	}
	kunit_info(test, "%d charges: %d charged, %d refused, peak %ld of %d\n",
		   POOL_THREADS * POOL_ROUNDS, charged, refused,
		   atomic_long_read(&pool->peak), POOL_MAX);
	KUNIT_EXPECT_EQ(test, errors, 0);
	KUNIT_EXPECT_EQ(test, over, 0);
	KUNIT_EXPECT_EQ(test, charged + refused, POOL_THREADS * POOL_ROUNDS);
	KUNIT_EXPECT_GE(test, charged, POOL_THREADS * POOL_ROUNDS / 4);
	KUNIT_EXPECT_GE(test, refused, POOL_THREADS * POOL_ROUNDS / 20);
	/* every refusal queued the waiter once; all of them left the line */
	KUNIT_EXPECT_EQ(test, pool->waits, (u64)refused);
	KUNIT_EXPECT_EQ(test, pool->nr_waiters, 0U);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&pool->peak), (long)POOL_MAX);
	KUNIT_EXPECT_EQ(test, tcmu_pool_held(pool), 0L);
}

/*
 * Waiters are served in the order they came: the first one's request is
 * reserved, others take only what leaves room for it.
 */
static void pool_fifo(struct kunit *test)
{
	struct tcmu_pool *pool = tcmu_kunit_pool(test, 10);
	struct tcmu_pool_waiter a, b, c, d;

	pool_waiter_init(&a, "a");
	pool_waiter_init(&b, "b");
	pool_waiter_init(&c, "c");
	pool_waiter_init(&d, "d");
	KUNIT_ASSERT_EQ(test, tcmu_pool_charge(pool, &d, 10), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, tcmu_pool_charge(pool, &a, 6), TCMU_WAIT);
	KUNIT_EXPECT_EQ(test, tcmu_pool_charge(pool, &b, 6), TCMU_WAIT);
	KUNIT_EXPECT_PTR_EQ(test, tcmu_pool_first_waiter(pool), &a);
	KUNIT_EXPECT_EQ(test, pool->head_want, 6L);

	tcmu_pool_uncharge(pool, 5);
	/* 5 free: nothing fits next to a's 6 */
	KUNIT_EXPECT_EQ(test, tcmu_pool_charge(pool, &b, 6), TCMU_WAIT);
	KUNIT_EXPECT_EQ(test, tcmu_pool_charge(pool, &c, 1), TCMU_WAIT);
	KUNIT_EXPECT_EQ(test, pool->nr_waiters, 3U);
	tcmu_pool_uncharge(pool, 1);
	/* 6 free: all of it is a's */
	KUNIT_EXPECT_EQ(test, tcmu_pool_charge(pool, &c, 1), TCMU_WAIT);
	KUNIT_EXPECT_EQ(test, tcmu_pool_charge(pool, &a, 6), TCMU_GOT);
	KUNIT_EXPECT_PTR_EQ(test, tcmu_pool_first_waiter(pool), &b);

	tcmu_pool_uncharge(pool, 4 + 6);
	/* 10 free: c's 1 fits next to b's 6, and b is served as well */
	KUNIT_EXPECT_EQ(test, tcmu_pool_charge(pool, &c, 1), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, tcmu_pool_charge(pool, &b, 6), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, pool->nr_waiters, 0U);
	KUNIT_EXPECT_EQ(test, pool->head_want, 0L);
	/* nobody waits: anyone takes what is free */
	KUNIT_EXPECT_EQ(test, tcmu_pool_charge(pool, &d, 3), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, tcmu_pool_held(pool), 10L);
	KUNIT_EXPECT_EQ(test, pool->waits, 3ULL);
	KUNIT_EXPECT_EQ(test, c.waits, 1ULL);
	tcmu_pool_uncharge(pool, 10);
}

/* A waiter that gives up passes its turn on. */
static void pool_cancel(struct kunit *test)
{
	struct tcmu_pool *pool = tcmu_kunit_pool(test, 4);
	struct tcmu_pool_waiter a, b;

	pool_waiter_init(&a, "a");
	pool_waiter_init(&b, "b");
	KUNIT_ASSERT_EQ(test, tcmu_pool_charge(pool, &a, 3), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, tcmu_pool_charge(pool, &a, 3), TCMU_WAIT);
	KUNIT_EXPECT_EQ(test, tcmu_pool_charge(pool, &b, 1), TCMU_WAIT);
	tcmu_pool_cancel_wait(pool, &a);
	KUNIT_EXPECT_TRUE(test, list_empty(&a.node));
	KUNIT_EXPECT_EQ(test, tcmu_pool_charge(pool, &b, 1), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, tcmu_pool_held(pool), 4L);
	tcmu_pool_uncharge(pool, 4);
}

/* Lowering the limit below use: no charge until use is under it. */
static void pool_lowered_limit(struct kunit *test)
{
	struct tcmu_pool *pool = tcmu_kunit_pool(test, 20);
	struct tcmu_pool_waiter a;

	pool_waiter_init(&a, "a");
	KUNIT_ASSERT_EQ(test, tcmu_pool_charge(pool, &a, 10), TCMU_GOT);
	tcmu_pool_set_max(pool, 5);
	KUNIT_EXPECT_TRUE(test, tcmu_pool_pressure(pool));
	KUNIT_EXPECT_EQ(test, tcmu_pool_charge(pool, &a, 1), TCMU_WAIT);
	tcmu_pool_uncharge(pool, 6);
	KUNIT_EXPECT_EQ(test, tcmu_pool_charge(pool, &a, 2), TCMU_WAIT);
	KUNIT_EXPECT_EQ(test, tcmu_pool_charge(pool, &a, 1), TCMU_GOT);
	KUNIT_EXPECT_EQ(test, tcmu_pool_held(pool), 5L);
	KUNIT_EXPECT_FALSE(test, tcmu_pool_pressure(pool));
	KUNIT_EXPECT_EQ(test, tcmu_pool_charge(pool, &a, 6), TCMU_FAIL);
	tcmu_pool_uncharge(pool, 5);
}

/*
 * A page that someone else still holds when its user lets go of it stays
 * charged, in the limbo, until that reference goes.
 */
static void pool_pinned_limbo(struct kunit *test)
{
	struct tcmu_pool *pool = tcmu_kunit_pool(test, 16);
	struct page *free_page, *pinned;

	KUNIT_ASSERT_TRUE(test, tcmu_pool_try_charge(pool, 2));
	free_page = alloc_page(GFP_KERNEL);
	pinned = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, free_page);
	KUNIT_ASSERT_NOT_NULL(test, pinned);
	get_page(pinned);	/* a handler's pin */

	KUNIT_EXPECT_TRUE(test, tcmu_pool_put_page(pool, free_page));
	tcmu_pool_uncharge(pool, 1);
	KUNIT_EXPECT_FALSE(test, tcmu_pool_put_page(pool, pinned));
	KUNIT_EXPECT_EQ(test, READ_ONCE(pool->nr_limbo), 1L);
	KUNIT_EXPECT_EQ(test, tcmu_pool_held(pool), 1L);
	/* still pinned: the limbo keeps it */
	mod_delayed_work(pool->wq, &pool->limbo_work, 0);
	flush_delayed_work(&pool->limbo_work);
	KUNIT_EXPECT_EQ(test, tcmu_pool_held(pool), 1L);

	put_page(pinned);	/* the pin goes */
	mod_delayed_work(pool->wq, &pool->limbo_work, 0);
	flush_delayed_work(&pool->limbo_work);
	KUNIT_EXPECT_EQ(test, READ_ONCE(pool->nr_limbo), 0L);
	KUNIT_EXPECT_EQ(test, tcmu_pool_held(pool), 0L);
}

static struct kunit_case tcmu_pool_cases[] = {
	KUNIT_CASE(pool_concurrent),
	KUNIT_CASE(pool_fifo),
	KUNIT_CASE(pool_cancel),
	KUNIT_CASE(pool_lowered_limit),
	KUNIT_CASE(pool_pinned_limbo),
	{}
};

static struct kunit_suite tcmu_pool_suite = {
	.name = "tcmu_pool",
	.test_cases = tcmu_pool_cases,
};

kunit_test_suite(tcmu_pool_suite);
