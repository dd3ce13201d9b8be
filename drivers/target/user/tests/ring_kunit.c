// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the command ring's space accounting: used/free bytes
 * around the wrap, the PAD an entry needs at the end of the ring, and
 * entry sizes.
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

static struct kunit_case tcmu_ring_cases[] = {
	KUNIT_CASE_PARAM(ring_used_free, ring_gen_params),
	KUNIT_CASE(ring_needed_pad),
	KUNIT_CASE(ring_full_refuses),
	KUNIT_CASE(ring_entry_size),
	{}
};

static struct kunit_suite tcmu_ring_suite = {
	.name = "tcmu_ring",
	.test_cases = tcmu_ring_cases,
};

kunit_test_suite(tcmu_ring_suite);
