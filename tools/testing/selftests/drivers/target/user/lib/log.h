/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Logging of the selftests' C programs: one line a call on stderr, which
 * the tests read.
 */
#ifndef _TCMU_SELFTEST_LOG_H
#define _TCMU_SELFTEST_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include "compat.h"

extern bool log_quiet;		/* info() says nothing */
extern bool log_verbose;	/* dbg() says something */

void log_line(const char *prefix, const char *fmt, va_list ap);
__printf(1, 2) void info(const char *fmt, ...);
__printf(1, 2) void dbg(const char *fmt, ...);
__printf(1, 2) void err(const char *fmt, ...);

#endif
