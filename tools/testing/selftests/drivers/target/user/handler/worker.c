// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-test-handler: the worker pool and the fault options that shape
 * when a command completes (--delay-ms, --hang, --ooo).
 *
 * The reader queues commands in ring order.  A worker takes the oldest
 * one, or with --ooo a random one, which shuffles completions even with
 * a single worker; with several, each also pauses a random few
 * microseconds before completing so that workers overtake each other.
 * On shutdown the workers drain the queue first.
 *
 * With --threads 0 there is no pool: the reader runs each batch it read
 * itself, in ring order, and kicks the kernel once for the whole batch,
 * as a ublk server commits a batch in one io_uring_enter() (make bench
 * compares the two that way).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handler.h"

/* Upper bound of the random pause before an --ooo completion, in us */
#define OOO_MAX_PAUSE_US	200

struct worker {
	pthread_t thread;
	uint64_t rnd;		/* xorshift64 state */
};

/* The queue between the reader and the workers. */
static struct {
	pthread_mutex_t lock;	/* protects the members below */
	pthread_cond_t cond;	/* signalled on new work and on stop */
	struct hcmd *head;
	struct hcmd **tailp;
	unsigned int len;
	bool stop;		/* drain the queue, then exit */
	struct hcmd *hung;	/* parked by --hang, freed on exit */
} q = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.tailp = &q.head,
};

static struct worker *workers;
static unsigned int nworkers;
static struct tdev *dev;

static uint64_t rnd_next(struct worker *w)
{
	w->rnd ^= w->rnd << 13;
	w->rnd ^= w->rnd >> 7;
	w->rnd ^= w->rnd << 17;
	return w->rnd;
}

static void sleep_us(uint64_t us)
{
	struct timespec ts = {
		.tv_sec = us / 1000000,
		.tv_nsec = (us % 1000000) * 1000,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void workers_queue(struct hcmd *list)
{
	unsigned int n = 0;
	struct hcmd *c;

	if (!list)
		return;
	pthread_mutex_lock(&q.lock);
	*q.tailp = list;
	for (c = list; c; c = c->next) {
		q.tailp = &c->next;
		n++;
	}
	q.len += n;
	if (n == 1)
		pthread_cond_signal(&q.cond);
	else
		pthread_cond_broadcast(&q.cond);
	pthread_mutex_unlock(&q.lock);
}

/* Next command for @w; NULL once stopping and the queue is empty. */
static struct hcmd *queue_pop(struct worker *w)
{
	struct hcmd **pp = &q.head, *c;
	unsigned int skip;

	pthread_mutex_lock(&q.lock);
	while (!q.head && !q.stop)
		pthread_cond_wait(&q.cond, &q.lock);
	if (!q.head) {
		pthread_mutex_unlock(&q.lock);
		return NULL;
	}
	for (skip = opt.ooo ? rnd_next(w) % q.len : 0; skip; skip--)
		pp = &(*pp)->next;
	c = *pp;
	*pp = c->next;
	if (q.tailp == &c->next)
		q.tailp = pp;
	q.len--;
	pthread_mutex_unlock(&q.lock);
	c->next = NULL;
	return c;
}

static void park(struct hcmd *c)
{
	pthread_mutex_lock(&q.lock);
	c->next = q.hung;
	q.hung = c;
	pthread_mutex_unlock(&q.lock);
	count(&cnt.hung, 1);
	dbg("cmd %u op 0x%02x: hung", c->id, c->cdb[0]);
}

static void log_cmd(const struct hcmd *c)
{
	char cdb[2 * 16 + 1];
	uint32_t i, n = c->cdb_len < 16 ? c->cdb_len : 16;

	if (!opt.verbose)
		return;
	for (i = 0; i < n; i++)
		snprintf(cdb + 2 * i, sizeof(cdb) - 2 * i, "%02x", c->cdb[i]);
	dbg("cmd %u op 0x%02x cdb %s%s: %" PRIu64 " bytes, status 0x%02x%s",
	    c->id, c->cdb[0], cdb, n < c->cdb_len ? "..." : "", c->data_len,
	    c->status, c->unknown ? " (unknown op)" : "");
}

/* Run @c up to its completion; false if --hang parked it instead */
static bool run_cmd(struct hcmd *c)
{
	if (opt.hang && scsi_is_rw(c)) {
		park(c);
		return false;
	}
	if (c->zc)
		zc_before(c);
	zc_race_write(c);
	if (!zc_race_before(c))
		scsi_execute(c);
	hostile_after(c);
	log_cmd(c);
	if (c->zc)
		zc_after(c);
	if (opt.delay_ms)
		sleep_us(opt.delay_ms * 1000ULL);
	return true;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct hcmd *c;

	while ((c = queue_pop(w))) {
		if (!run_cmd(c))
			continue;
		if (opt.ooo && opt.threads > 1)
			sleep_us(rnd_next(w) % OOO_MAX_PAUSE_US);
		ring_complete(dev, c, false);
	}
	return NULL;
}

void workers_run(struct hcmd *list)
{
	struct hcmd *c;

	while ((c = list)) {
		list = c->next;
		c->next = NULL;
		if (run_cmd(c))
			ring_complete(dev, c, true);
	}
	ring_kick(dev);
}

int workers_start(struct tdev *d)
{
	unsigned int i;
	int ret;

	dev = d;
	if (!opt.threads)
		return 0;
	workers = calloc(opt.threads, sizeof(*workers));
	if (!workers) {
		err("out of memory");
		return -1;
	}
	for (i = 0; i < opt.threads; i++) {
		workers[i].rnd = ((uint64_t)opt.seed << 32 | i) * 0x9e3779b97f4a7c15ULL | 1;
		ret = pthread_create(&workers[i].thread, NULL, worker_main,
				     &workers[i]);
		if (ret) {
			err("worker thread: %s", strerror(ret));
			workers_stop();
			return -1;
		}
		nworkers++;
	}
	if (opt.ooo)
		info("out-of-order completion, seed %u", opt.seed);
	return 0;
}

void workers_stop(void)
{
	struct hcmd *c;
	unsigned int i;

	pthread_mutex_lock(&q.lock);
	q.stop = true;
	pthread_cond_broadcast(&q.cond);
	pthread_mutex_unlock(&q.lock);
	for (i = 0; i < nworkers; i++)
		pthread_join(workers[i].thread, NULL);
	while ((c = q.hung)) {
		q.hung = c->next;
		free(c);
	}
	free(workers);
	workers = NULL;
	nworkers = 0;
}
