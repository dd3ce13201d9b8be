// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-test-handler: finding the TCMU device among /sys/class/uio, opening
 * and mapping it, and checking the mailbox before anything trusts it.
 *
 * A TCMU device's UIO name is "tcm-user/<hba_id>/<dev_name>" followed,
 * when dev_config is set, by "/<subtype>/<cfgstring>".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "handler.h"
#include "../lib/sysfs.h"

#define UIO_SYSFS "/sys/class/uio"

/* Split a UIO name into hba id and dev_name; -1 if not a TCMU device. */
int uio_parse_name(const char *name, unsigned int *hba, char *dev, size_t len)
{
	static const char prefix[] = "tcm-user/";
	const char *p = name + strlen(prefix);
	unsigned long v;
	char *end;
	size_t n;

	if (strncmp(name, prefix, strlen(prefix)) || *p < '0' || *p > '9')
		return -1;
	errno = 0;
	v = strtoul(p, &end, 10);
	if (errno || *end != '/' || v > UINT32_MAX)
		return -1;
	p = end + 1;
	n = strcspn(p, "/");
	if (!n || n >= len)
		return -1;
	memcpy(dev, p, n);
	dev[n] = '\0';
	*hba = (unsigned int)v;
	return 0;
}

/* Fill in d's identity from /sys/class/uio/uio<idx>; 0 if it is a match. */
static int probe_uio(struct tdev *d, unsigned int idx)
{
	char path[64];

	snprintf(path, sizeof(path), UIO_SYSFS "/uio%u/name", idx);
	if (read_line(path, d->uio_name, sizeof(d->uio_name)) ||
	    uio_parse_name(d->uio_name, &d->hba_id, d->name, sizeof(d->name)))
		return -1;
	if (opt.dev_name && strcmp(d->name, opt.dev_name))
		return -1;
	d->uio_index = idx;
	return 0;
}

static int uio_index_of(const char *s, unsigned int *idx)
{
	const char *base = strrchr(s, '/');
	char *end;

	base = base ? base + 1 : s;
	if (strncmp(base, "uio", 3) || base[3] < '0' || base[3] > '9')
		return -1;
	*idx = (unsigned int)strtoul(base + 3, &end, 10);
	return *end ? -1 : 0;
}

static int find_uio(struct tdev *d)
{
	struct dirent *de;
	unsigned int idx;
	int ret = -1;
	DIR *dir;

	if (opt.uio_path)
		return uio_index_of(opt.uio_path, &idx) ? -1 : probe_uio(d, idx);

	dir = opendir(UIO_SYSFS);
	if (!dir)
		return -1;
	while (ret && (de = readdir(dir)))
		if (!uio_index_of(de->d_name, &idx))
			ret = probe_uio(d, idx);
	closedir(dir);
	return ret;
}

/* Find and open the device, retrying until --wait runs out. */
static int open_uio(struct tdev *d)
{
	time_t deadline = time(NULL) + opt.wait_s;
	const char *what = opt.uio_path ? opt.uio_path : opt.dev_name;
	const char *path = opt.uio_path;
	char buf[32];

	for (;;) {
		if (!find_uio(d)) {
			if (!opt.uio_path) {
				snprintf(buf, sizeof(buf), "/dev/uio%u", d->uio_index);
				path = buf;
			}
			d->fd = open(path, O_RDWR | O_CLOEXEC);
			if (d->fd >= 0)
				return 0;
			if (errno != ENOENT) {
				err("%s: %s%s", path, strerror(errno),
				    errno == EBUSY ? " (another handler has it open)" : "");
				return -1;
			}
		}
		if (time(NULL) >= deadline) {
			err("no TCMU device %s after %u s", what, opt.wait_s);
			return -1;
		}
		if (wait_stop(100))
			return -1;
	}
}

static int map_uio(struct tdev *d)
{
	char path[96], buf[64];
	unsigned long long size;
	char *end;

	snprintf(path, sizeof(path), UIO_SYSFS "/uio%u/maps/map0/size",
		 d->uio_index);
	if (read_line(path, buf, sizeof(buf))) {
		err("%s: %s", path, strerror(errno));
		return -1;
	}
	errno = 0;
	size = strtoull(buf, &end, 0);
	if (errno || *end || !size || size > SIZE_MAX) {
		err("%s: bad size '%s'", path, buf);
		return -1;
	}
	d->map_size = size;
	d->map = mmap(NULL, d->map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      d->fd, 0);
	if (d->map == MAP_FAILED) {
		d->map = NULL;
		err("mmap %zu bytes of uio%u: %s", d->map_size, d->uio_index,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static void print_caps(const struct tdev *d)
{
	info("mailbox: version %u, ring at %u size %u, map %zu bytes, caps%s%s%s%s%s",
	     TCMU_MAILBOX_VERSION, d->cmdr_off, d->cmdr_size, d->map_size,
	     d->caps & TCMU_MAILBOX_FLAG_CAP_OOOC ? " OOOC" : "",
	     d->caps & TCMU_MAILBOX_FLAG_CAP_READ_LEN ? " READ_LEN" : "",
	     d->caps & TCMU_MAILBOX_FLAG_CAP_TMR ? " TMR" : "",
	     d->caps & TCMU_MAILBOX_FLAG_CAP_KEEP_BUF ? " KEEP_BUF" : "",
	     d->caps & TCMU_MAILBOX_FLAG_CAP_ZERO_COPY ? " ZERO_COPY" : "");
}

/* Copy the mailbox header once, then bound every field of the copy. */
static int check_mailbox(struct tdev *d)
{
	struct tcmu_mailbox mb;

	if (d->map_size < sizeof(mb)) {
		err("map of %zu bytes cannot hold a mailbox", d->map_size);
		return -1;
	}
	shm_copy(&mb, d->map, sizeof(mb));

	if (mb.version != TCMU_MAILBOX_VERSION) {
		err("mailbox version %u, expected %u", mb.version,
		    TCMU_MAILBOX_VERSION);
		return -1;
	}
	if (mb.cmdr_off < sizeof(mb) || mb.cmdr_off % TCMU_OP_ALIGN_SIZE ||
	    mb.cmdr_size < sizeof(struct tcmu_cmd_entry) ||
	    mb.cmdr_size % TCMU_OP_ALIGN_SIZE ||
	    (uint64_t)mb.cmdr_off + mb.cmdr_size > d->map_size) {
		err("mailbox ring at %u size %u does not fit a %zu byte map",
		    mb.cmdr_off, mb.cmdr_size, d->map_size);
		return -1;
	}
	d->caps = mb.flags;
	d->cmdr_off = mb.cmdr_off;
	d->cmdr_size = mb.cmdr_size;
	d->data_off = mb.cmdr_off + mb.cmdr_size;
	d->cmdr = d->map + d->cmdr_off;
	d->head_p = (uint32_t *)(d->map + offsetof(struct tcmu_mailbox, cmd_head));
	d->tail_p = (uint32_t *)(d->map + offsetof(struct tcmu_mailbox, cmd_tail));
	print_caps(d);
	return 0;
}

int uio_open(struct tdev *d)
{
	if (open_uio(d))
		return -1;
	info("found %s at /dev/uio%u", d->uio_name, d->uio_index);
	if (map_uio(d) || check_mailbox(d))
		return -1;
	return 0;
}

/* Read the first line of @attr in the backstore's configfs directory. */
int uio_configfs_read(const struct tdev *d, const char *attr, char *buf,
		      size_t len)
{
	char path[512];

	snprintf(path, sizeof(path), "/sys/kernel/config/target/core/user_%u/%s/%s",
		 d->hba_id, d->name, attr);
	return read_line(path, buf, len);
}

/* The backstore's dev_size attribute; 0 if unreadable. */
uint64_t uio_configfs_size(const struct tdev *d)
{
	unsigned long long v;
	char buf[64], *end;

	if (uio_configfs_read(d, "attrib/dev_size", buf, sizeof(buf)))
		return 0;
	v = strtoull(buf, &end, 0);
	return *end ? 0 : v;
}

void uio_close(struct tdev *d)
{
	if (d->map)
		munmap(d->map, d->map_size);
	if (d->fd >= 0)
		close(d->fd);
	d->map = NULL;
	d->fd = -1;
}
