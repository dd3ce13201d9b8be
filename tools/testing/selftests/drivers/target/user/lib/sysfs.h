/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One-line sysfs and configfs files for the selftest tools (the test
 * handler and the fuzzer).
 */
#ifndef _TCMU_SELFTEST_SYSFS_H
#define _TCMU_SELFTEST_SYSFS_H

#include <stddef.h>

/* The first line of @path without its newline; 0, or -1 */
int read_line(const char *path, char *buf, size_t len);
/* Write @val to @path in one write(); 0 or -errno */
int write_file(const char *path, const char *val);

#endif
