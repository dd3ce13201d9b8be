// SPDX-License-Identifier: GPL-2.0
/*
 * Hooks for the selftests, built only with CONFIG_TCM_USER2_DEBUG: delays
 * that hold a race window open long enough for a test to drive the other
 * side of the race through it.  Production builds have the empty stubs
 * of tcmu.h instead.
 */
#include <linux/delay.h>
#include <linux/moduleparam.h>
#include "tcmu.h"

static unsigned int tcmu_debug_mkwrite_ms;
module_param_named(debug_mkwrite_delay_ms, tcmu_debug_mkwrite_ms, uint, 0644);
MODULE_PARM_DESC(debug_mkwrite_delay_ms,
		 "Debug builds: the next write fault on the zero-copy window sleeps this long after deciding, in ms (one shot)");

/* In the zero-copy window's write fault, between decision and PTE */
void tcmu_debug_mkwrite_delay(void)
{
	unsigned int ms = xchg(&tcmu_debug_mkwrite_ms, 0);

	if (ms)
		msleep(ms);
}
