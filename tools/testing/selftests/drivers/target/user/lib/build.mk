# SPDX-License-Identifier: GPL-2.0
# Included by handler/Makefile and fuzz/Makefile: the compiler, its flags
# (the tree's UAPI header for <linux/target_core_user.h>, the system's for
# everything else) and the sources of lib/ both link.

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/../../../../../../..)

ifeq ($(origin CC),default)
CC := gcc
endif
CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -pthread \
	-I$(TOP)/include/uapi
override LDFLAGS += -pthread

LIB_SRCS := ../lib/genl.c ../lib/sysfs.c ../lib/log.c
LIB_HDRS := ../lib/compat.h ../lib/copy.h ../lib/genl.h ../lib/sysfs.h ../lib/log.h \
	$(TOP)/include/uapi/linux/target_core_user.h
