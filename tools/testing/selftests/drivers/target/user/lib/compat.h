/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the selftests' C programs (the test handler, the fuzzer) need to
 * include the tree's UAPI header from userspace, and the kernel's
 * spelling of two helpers they use.
 */
#ifndef _TCMU_SELFTEST_COMPAT_H
#define _TCMU_SELFTEST_COMPAT_H

#include <sys/uio.h>

/*
 * glibc's struct iovec has the layout of the kernel's; keep <linux/uio.h>
 * from defining it a second time.  The in-tree UAPI header is in its
 * source form, which spells the packed attribute the kernel's way.
 */
#define __LINUX_UIO_H
#ifndef __packed
#define __packed __attribute__((__packed__))
#endif
#include <linux/target_core_user.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define __printf(a, b) __attribute__((format(printf, a, b)))

#endif
