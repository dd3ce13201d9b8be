// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-test-handler: what a hostile handler does to the kernel's
 * resources, beyond the ring itself.
 *
 * --pin MB      after each WRITE on the copy path, vmsplice() its data
 *               pages into a pipe that is never read, each page once,
 *               until MB MiB are held there: the pipe keeps a reference
 *               to each page, so the kernel cannot reuse them after it
 *               lets go of them.  "pin: pages=N" on stdout after each.
 * --split N     mprotect() N single pages of the data area's upper half
 *               read-only, every other page: one VMA each, and two more
 *               between them.
 * --fork N      N children that do nothing but share the mapping (and
 *               its VMAs) until the handler exits.
 * --fork-after C
 *               fork them once C commands have run, not at start: fork
 *               copies the PTEs of a mixed mapping, so each child then
 *               maps every data page the handler touched, and a zap of
 *               such a page has a PTE to clear in every child.
 * --zc-mkwrite-race MS
 *               once, for the first zero-copy READ: fault its first page
 *               in, set the kernel's one-shot debug delay of pfn_mkwrite
 *               to MS ms, and store into that page from another thread,
 *               which then sits in the write fault; complete the READ
 *               meanwhile without filling it.  The next zero-copy WRITE,
 *               which the initiator sends from the same buffer, waits
 *               for that thread: if the store reached the WRITE data,
 *               the kernel made a PTE of WRITE data writable
 *               ("zc_race_bad").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "handler.h"

#define PAGE		4096UL
#define RACE_BYTE	0xa5
#define RACE_PARAM	"/sys/module/target_core_user/parameters/debug_mkwrite_delay_ms"

static const struct tdev *dev;

static struct {
	pthread_mutex_t lock;	/* protects the members below */
	int fd[2];
	unsigned long pages;	/* distinct pages in the pipe */
	uint8_t *done;		/* per page of the map: in the pipe already */
} pin = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = { -1, -1 } };

static pid_t *children;
static unsigned int nchildren;
static atomic_uint ran;		/* commands run, for --fork-after */
static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
	pthread_mutex_t lock;	/* protects the state below */
	int state;		/* 0 idle, 1 racing, 2 done */
	pthread_t thread;
	volatile uint8_t *at;	/* the page the thread stores into */
	volatile int nowhere;	/* the store got SIGBUS: the slot was free */
} race = { .lock = PTHREAD_MUTEX_INITIALIZER };

/*
 * Set while the race thread stores: its SIGBUS returns there.  Only the
 * signal handler reads it, so its stores are fenced for that handler
 * (atomic_signal_fence): without, gcc -O2 dropped the one before the
 * racing store as dead, and the SIGBUS that ends the race as "nowhere"
 * killed the handler instead.
 */
static __thread sigjmp_buf *race_jmp;

static int pin_start(void)
{
	int size = (int)(opt.pin_mb << 20);

	if (pipe2(pin.fd, O_CLOEXEC | O_NONBLOCK)) {
		err("pipe: %s", strerror(errno));
		return -1;
	}
	if (fcntl(pin.fd[1], F_SETPIPE_SZ, size) < size) {
		err("F_SETPIPE_SZ %d: %s", size, strerror(errno));
		return -1;
	}
	pin.done = calloc(dev->map_size / PAGE, 1);
	return pin.done ? 0 : -1;
}

static int split_mapping(void)
{
	size_t data = dev->map_size - dev->data_off;
	uint8_t *at = dev->map + dev->data_off + data / 2;
	unsigned int i;

	if ((size_t)opt.split * 2 * PAGE > data / 2) {
		err("--split %u: the data area has room for %zu", opt.split,
		    data / 4 / PAGE);
		return -1;
	}
	for (i = 0; i < opt.split; i++) {
		if (mprotect(at + 2 * i * PAGE, PAGE, PROT_READ)) {
			err("mprotect for --split: %s", strerror(errno));
			return -1;
		}
	}
	info("split the mapping with %u mprotect()s", opt.split);
	return 0;
}

static int fork_children(void)
{
	pid_t parent = getpid();
	unsigned int i;

	children = calloc(opt.forks, sizeof(*children));
	if (!children)
		return -1;
	for (i = 0; i < opt.forks; i++) {
		children[i] = fork();
		if (children[i] < 0) {
			err("fork: %s", strerror(errno));
			return -1;
		}
		if (!children[i]) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(0);
			for (;;)
				pause();
		}
		nchildren++;
	}
	info("%u children share the mapping", opt.forks);
	return 0;
}

int hostile_start(const struct tdev *d)
{
	dev = d;
	if (opt.pin_mb && pin_start())
		return -1;
	if (opt.split && split_mapping())
		return -1;
	if (opt.forks && !opt.fork_after && fork_children())
		return -1;
	return 0;
}

void hostile_stop(void)
{
	unsigned int i;

	for (i = 0; i < nchildren; i++) {
		kill(children[i], SIGKILL);
		waitpid(children[i], NULL, 0);
	}
	free(children);
	children = NULL;
	nchildren = 0;
	pthread_mutex_lock(&race.lock);
	if (race.state == 1) {
		pthread_join(race.thread, NULL);
		race.state = 2;
	}
	pthread_mutex_unlock(&race.lock);
	if (pin.fd[0] >= 0) {
		close(pin.fd[0]);
		close(pin.fd[1]);
	}
	free(pin.done);
	pin.done = NULL;
}

static bool is_write(const struct hcmd *c)
{
	switch (c->cdb[0]) {
	case 0x0a: case 0x2a: case 0xaa: case 0x8a:
		return true;
	}
	return false;
}

static bool is_read(const struct hcmd *c)
{
	switch (c->cdb[0]) {
	case 0x08: case 0x28: case 0xa8: case 0x88:
		return true;
	}
	return false;
}

/* --fork-after: the children come when the Cth command has run. */
static void fork_late(void)
{
	if (!opt.forks || !opt.fork_after ||
	    atomic_fetch_add(&ran, 1) + 1 != opt.fork_after)
		return;
	pthread_mutex_lock(&fork_lock);
	if (!nchildren && fork_children())
		err("--fork-after: could not fork");
	pthread_mutex_unlock(&fork_lock);
}

/*
 * --pin: hand the pages of a WRITE's data to the pipe, each page of the
 * map once: a block reused by a later command is the same page as long
 * as the kernel did not trim it.
 */
static void pin_after(struct hcmd *c)
{
	const unsigned long max = (unsigned long)opt.pin_mb << 20 >> 12;
	struct iovec iov = { .iov_len = PAGE };
	size_t off, end;
	uint32_t i;

	if (!opt.pin_mb || c->zc || !is_write(c) || c->status)
		return;
	pthread_mutex_lock(&pin.lock);
	for (i = 0; i < c->iov_cnt && pin.pages < max; i++) {
		off = (uint8_t *)c->iov[i].iov_base - dev->map;
		end = off + c->iov[i].iov_len;
		for (off &= ~(PAGE - 1); off < end && pin.pages < max; off += PAGE) {
			if (pin.done[off / PAGE])
				continue;
			iov.iov_base = dev->map + off;
			if (vmsplice(pin.fd[1], &iov, 1, SPLICE_F_NONBLOCK) != PAGE)
				break;
			pin.done[off / PAGE] = 1;
			pin.pages++;
		}
	}
	atomic_store(&cnt.pinned_pages, pin.pages);
	printf("pin: pages=%lu\n", pin.pages);
	pthread_mutex_unlock(&pin.lock);
}

/* After a command ran, before it completes */
void hostile_after(struct hcmd *c)
{
	fork_late();
	pin_after(c);
}

/*
 * The store may land in the READ buffer (or the scratch page of its
 * revoked slot) or nowhere: once the READ is completed its slot is free
 * until the WRITE takes it, and a store that resumes then gets SIGBUS.
 * Only its landing in WRITE data is wrong.
 */
static void *race_store(void *arg)
{
	sigjmp_buf jb;

	(void)arg;
	if (sigsetjmp(jb, 1)) {
		race_jmp = NULL;
		race.nowhere = 1;
		return NULL;
	}
	race_jmp = &jb;
	atomic_signal_fence(memory_order_seq_cst);
	race.at[0] = RACE_BYTE;
	atomic_signal_fence(memory_order_seq_cst);
	race_jmp = NULL;
	return NULL;
}

/* From the SIGBUS handler: a fault of the race thread's store ends it. */
void zc_race_sigbus(void)
{
	if (race_jmp)
		siglongjmp(*race_jmp, 1);
}

static int set_race_delay(unsigned int ms)
{
	FILE *f = fopen(RACE_PARAM, "w");
	int ret;

	if (!f) {
		err("%s: %s (a module built with CONFIG_TCM_USER2_DEBUG?)",
		    RACE_PARAM, strerror(errno));
		return -1;
	}
	ret = fprintf(f, "%u\n", ms) < 0;
	ret |= fclose(f);
	return ret ? -1 : 0;
}

/*
 * --zc-mkwrite-race, before a zero-copy command runs.  Returns true when
 * the command is the READ the race is run on: it completes unfilled.
 */
bool zc_race_before(struct hcmd *c)
{
	unsigned long long ns = opt.zc_race_ms * 1000000ULL / 5;
	struct timespec ts = { .tv_sec = ns / 1000000000ULL,
			       .tv_nsec = ns % 1000000000ULL };
	bool run;

	if (!opt.zc_race_ms || !c->zc || !is_read(c) || !c->iov_cnt)
		return false;
	pthread_mutex_lock(&race.lock);
	run = !race.state;
	if (run)
		race.state = 1;
	pthread_mutex_unlock(&race.lock);
	if (!run)
		return false;
	race.at = c->iov[0].iov_base;
	/* a read fault maps the page read-only */
	if (race.at[0] == RACE_BYTE)
		info("zc race: the READ buffer already holds the marker");
	if (set_race_delay(opt.zc_race_ms) ||
	    pthread_create(&race.thread, NULL, race_store, NULL)) {
		err("zc race: could not start");
		return false;
	}
	nanosleep(&ts, NULL);
	count(&cnt.zc_race, 1);
	c->status = 0;
	c->data_in = true;
	c->in_len = c->data_len;
	info("zc race: cmd %u: store in flight, completing the READ", c->id);
	return true;
}

/* --zc-mkwrite-race, on a zero-copy WRITE: wait for the store, judge it. */
void zc_race_write(struct hcmd *c)
{
	uint8_t *p;
	bool join;

	if (!opt.zc_race_ms || !c->zc || !is_write(c) || !c->iov_cnt)
		return;
	p = c->iov[0].iov_base;
	/* map the WRITE data read-only, as the store's fault saw it before */
	if (*(volatile uint8_t *)p == RACE_BYTE)
		info("zc race: cmd %u: WRITE data starts with the marker", c->id);
	pthread_mutex_lock(&race.lock);
	join = race.state == 1;
	if (join) {
		pthread_join(race.thread, NULL);
		race.state = 2;
	}
	pthread_mutex_unlock(&race.lock);
	if (!join)
		return;
	if (race.nowhere)
		info("zc race: cmd %u: the store found the slot free (SIGBUS)",
		     c->id);
	if ((void *)p == (void *)race.at && p[0] == RACE_BYTE) {
		count(&cnt.zc_race_bad, 1);
		err("zc race: cmd %u: the store reached WRITE data", c->id);
	} else {
		info("zc race: cmd %u: WRITE data untouched", c->id);
	}
}
