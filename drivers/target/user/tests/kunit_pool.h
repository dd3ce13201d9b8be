/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A pool of its own for a KUnit test (pool_kunit.c, data_area_kunit.c),
 * freed when the test ends.  Each test file is built into the file it
 * tests, so each gets its copy.
 */
#ifndef _TCMU_KUNIT_POOL_H
#define _TCMU_KUNIT_POOL_H

#include <kunit/test.h>
#include "../tcmu.h"

static void pool_nop_work(struct work_struct *work)
{
}

static void pool_exit_action(void *pool)
{
	cancel_work_sync(&((struct tcmu_pool *)pool)->work);
	tcmu_pool_exit(pool);
}

/* A pool of its own for a test: @max_pages, nobody serves its line */
static struct tcmu_pool *tcmu_kunit_pool(struct kunit *test,
					 long max_pages)
{
	struct tcmu_pool *pool;

	pool = kunit_kzalloc(test, sizeof(*pool), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pool);
	tcmu_pool_init(pool, max_pages, system_wq, pool_nop_work);
	KUNIT_ASSERT_EQ(test,
			kunit_add_action_or_reset(test, pool_exit_action, pool),
			0);
	return pool;
}

#endif
