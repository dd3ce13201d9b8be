// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the completion threads' logic: the stable mapping of
 * devices to CPUs, the fallback to another live thread while a CPU has
 * none, and batch draining (oldest kick first, a device kicked during
 * its reap lands in the next batch).
 */
#include <kunit/test.h>
#include <linux/slab.h>
#include "../tcmu.h"

static void complete_slot_stable(struct kunit *test)
{
	unsigned int hits[4] = { 0 };
	u32 i;

	for (i = 0; i < 4000; i++) {
		unsigned int s = tcmu_complete_slot(i, 4);

		KUNIT_ASSERT_LT(test, s, 4U);
		KUNIT_EXPECT_EQ(test, s, tcmu_complete_slot(i, 4));
		hits[s]++;
	}
	/* consecutive indices spread: each slot within 25% of its share */
	for (i = 0; i < 4; i++) {
		KUNIT_EXPECT_GT(test, hits[i], 750U);
		KUNIT_EXPECT_LT(test, hits[i], 1250U);
	}
	KUNIT_EXPECT_EQ(test, tcmu_complete_slot(12345, 1), 0U);
}

static void complete_cpu_possible(struct kunit *test)
{
	u32 i;

	for (i = 0; i < 256; i++) {
		unsigned int cpu = tcmu_complete_cpu(i, cpu_possible_mask);

		KUNIT_EXPECT_TRUE(test, cpu_possible(cpu));
		KUNIT_EXPECT_EQ(test, cpu,
				tcmu_complete_cpu(i, cpu_possible_mask));
	}
}

static void complete_pick_fallback(struct kunit *test)
{
	struct tcmu_cthread t[4];
	struct tcmu_cthread *tab[4] = { NULL };

	KUNIT_EXPECT_NULL(test, tcmu_cthread_pick(tab, 4, 0));
	tab[2] = &t[2];
	/* a CPU without a thread is served by the next live one, wrapping */
	KUNIT_EXPECT_PTR_EQ(test, tcmu_cthread_pick(tab, 4, 0), &t[2]);
	KUNIT_EXPECT_PTR_EQ(test, tcmu_cthread_pick(tab, 4, 3), &t[2]);
	KUNIT_EXPECT_PTR_EQ(test, tcmu_cthread_pick(tab, 4, 2), &t[2]);
	tab[0] = &t[0];
	KUNIT_EXPECT_PTR_EQ(test, tcmu_cthread_pick(tab, 4, 1), &t[2]);
	KUNIT_EXPECT_PTR_EQ(test, tcmu_cthread_pick(tab, 4, 3), &t[0]);
	/* once a CPU has its own thread, it is used */
	tab[1] = &t[1];
	KUNIT_EXPECT_PTR_EQ(test, tcmu_cthread_pick(tab, 4, 1), &t[1]);
}

#define NDEV 5
static struct tcmu_dev *drain_devs[NDEV];
static struct tcmu_dev *drain_seen[NDEV * 2];
static unsigned int drain_nseen;
static struct llist_head drain_queue;
static struct tcmu_dev *drain_requeue;

static void drain_record(struct tcmu_dev *udev)
{
	drain_seen[drain_nseen++] = udev;
	/* a kick during the reap queues the device again */
	if (udev == drain_requeue) {
		drain_requeue = NULL;
		llist_add(&udev->cnode, &drain_queue);
	}
}

static void complete_drain_order(struct kunit *test)
{
	unsigned int i;

	init_llist_head(&drain_queue);
	for (i = 0; i < NDEV; i++) {
		drain_devs[i] = kunit_kzalloc(test, sizeof(struct tcmu_dev),
					      GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, drain_devs[i]);
		llist_add(&drain_devs[i]->cnode, &drain_queue);
	}
	drain_nseen = 0;
	drain_requeue = drain_devs[1];
	KUNIT_EXPECT_EQ(test, tcmu_complete_drain(&drain_queue, drain_record),
			NDEV);
	for (i = 0; i < NDEV; i++)
		KUNIT_EXPECT_PTR_EQ(test, drain_seen[i], drain_devs[i]);
	/* the device kicked during its reap waits for the next batch */
	KUNIT_EXPECT_FALSE(test, llist_empty(&drain_queue));
	KUNIT_EXPECT_EQ(test, tcmu_complete_drain(&drain_queue, drain_record),
			1U);
	KUNIT_EXPECT_PTR_EQ(test, drain_seen[NDEV], drain_devs[1]);
	KUNIT_EXPECT_TRUE(test, llist_empty(&drain_queue));
	KUNIT_EXPECT_EQ(test, tcmu_complete_drain(&drain_queue, drain_record),
			0U);
}

static struct kunit_case tcmu_complete_cases[] = {
	KUNIT_CASE(complete_slot_stable),
	KUNIT_CASE(complete_cpu_possible),
	KUNIT_CASE(complete_pick_fallback),
	KUNIT_CASE(complete_drain_order),
	{}
};

static struct kunit_suite tcmu_complete_suite = {
	.name = "tcmu_complete",
	.test_cases = tcmu_complete_cases,
};

kunit_test_suite(tcmu_complete_suite);
