// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-ublk-server: a small ublk server, the benchmark's peer of the
 * TCMU test handler.  make bench exports its /dev/ublkbN through LIO's
 * block (iblock) backstore on tcm_loop, next to the TCMU LUNs, so that
 * the two kernel paths to a userspace store are measured side by side.
 *
 * It is a peer, not a product: no recovery, no zoned or discard
 * parameters, no registered buffers.  It does what ublk's own servers do
 * per command, and its "mem" store does what the TCMU handler's does:
 *
 *   null  READ and WRITE complete without touching the data
 *   mem   the device lives in an anonymous mapping: WRITE copies the
 *         data in, READ copies it out, each with the handler's copy
 *         (../lib/copy.h says why it is not a plain memcpy)
 *
 * Without --user-copy the kernel copies a request's pages to or from a
 * buffer of ours (one per tag, addresses given with each FETCH); with it
 * (UBLK_F_USER_COPY) we copy between the store and the request with
 * pread/pwrite on /dev/ublkcN, and the buffer is not used.
 *
 * One thread per queue, each with its own io_uring: ublk binds a queue
 * to the task that fetched on it.  Each thread waits for a batch of
 * requests, serves them and commits their results together with the
 * next fetch (COMMIT_AND_FETCH_REQ), in one io_uring_enter().
 *
 * The control commands go through an io_uring of 128-byte entries on
 * /dev/ublk-control (ublk refuses them in 64-byte ones): ADD_DEV,
 * SET_PARAMS, then START_DEV once every queue has fetched on all its
 * tags (START_DEV waits for that).  The disk's name goes to stdout when
 * it is live.  SIGTERM or SIGINT stops the device (its fetches end with
 * UBLK_IO_RES_ABORT, which ends the queue threads) and deletes it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include UBLK_CMD_H

#include "../lib/copy.h"

#define CTRL_DEV "/dev/ublk-control"

struct opts {
	bool mem;
	bool user_copy;
	uint64_t size;
	unsigned int queues;
	unsigned int depth;
	unsigned int max_io;
	int dev_id;
};

struct queue {
	unsigned int id;
	pthread_t thread;
	struct io_uring ring;
	const struct ublksrv_io_desc *descs;
	size_t descs_len;
	uint8_t *bufs;		/* depth buffers of max_io bytes, no user copy */
	int err;
};

/* the queue threads have fetched, or failed to: START_DEV may go */
static pthread_barrier_t fetched;

static struct opts o = {
	.size = 64 << 20, .queues = 1, .depth = 128, .max_io = 512 << 10,
	.dev_id = -1,
};

static struct ublksrv_ctrl_dev_info info;
static uint8_t *store;
static int cdev = -1;

static void die(const char *what, int err)
{
	fprintf(stderr, "tcmu-ublk-server: %s: %s\n", what, strerror(err));
	exit(1);
}

/* The page-rounded size of a queue's DEPTH descriptors, as ublk maps them */
static size_t desc_bytes(unsigned int depth)
{
	return (depth * sizeof(struct ublksrv_io_desc) + 4095) & ~4095UL;
}

/* The 128-byte control command OP on the device in INFO, answered */
static int ctrl(struct io_uring *r, int fd, uint32_t op, void *addr,
		uint16_t len, uint64_t data)
{
	struct ublksrv_ctrl_cmd *c;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	int ret;

	sqe = io_uring_get_sqe(r);
	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = op;
	c = (struct ublksrv_ctrl_cmd *)sqe->cmd;
	c->dev_id = info.dev_id;
	c->queue_id = (uint16_t)-1;
	c->addr = (uintptr_t)addr;
	c->len = len;
	c->data[0] = data;
	ret = io_uring_submit(r);
	if (ret < 0)
		return ret;
	do
		ret = io_uring_wait_cqe(r, &cqe);
	while (ret == -EINTR);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(r, cqe);
	return ret;
}

/* Queue a fetch (first time) or a commit of RESULT and the next fetch */
static void io_cmd(struct queue *q, unsigned int tag, uint32_t op,
		   int32_t result)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
	struct ublksrv_io_cmd *c;

	/* one SQE per tag in flight, and the ring has depth of them */
	if (!sqe)
		abort();
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = cdev;
	sqe->cmd_op = op;
	sqe->user_data = tag;
	c = (struct ublksrv_io_cmd *)sqe->cmd;
	c->q_id = q->id;
	c->tag = tag;
	c->result = result;
	if (!o.user_copy)
		c->addr = (uintptr_t)(q->bufs + (size_t)tag * o.max_io);
}

/* Where request TAG's data starts in /dev/ublkcN (user copy) */
static off_t user_pos(const struct queue *q, unsigned int tag)
{
	return UBLKSRV_IO_BUF_OFFSET + ((off_t)q->id << UBLK_QID_OFF) +
	       ((off_t)tag << UBLK_TAG_OFF);
}

/* Move LEN bytes between the store at OFF and the request (user copy) */
static int user_copy(const struct queue *q, unsigned int tag, bool to_req,
		     uint64_t off, uint32_t len)
{
	uint32_t done = 0;
	ssize_t n;

	while (done < len) {
		if (to_req)
			n = pwrite(cdev, store + off + done, len - done,
				   user_pos(q, tag) + done);
		else
			n = pread(cdev, store + off + done, len - done,
				  user_pos(q, tag) + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += n;
	}
	return 0;
}

/* Serve request TAG: its result, bytes moved or a negative errno */
static int32_t serve(struct queue *q, unsigned int tag)
{
	const struct ublksrv_io_desc *d = &q->descs[tag];
	uint64_t off = d->start_sector << 9;
	uint32_t len = d->nr_sectors << 9;
	uint8_t *buf = q->bufs + (size_t)tag * o.max_io;
	uint8_t op = ublksrv_get_op(d);
	int ret;

	if (op == UBLK_IO_OP_FLUSH)
		return 0;
	if (d->nr_sectors > o.max_io >> 9 || off > o.size ||
	    len > o.size - off)
		return -EIO;
	switch (op) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		if (!o.mem)
			return len;
		if (o.user_copy) {
			ret = user_copy(q, tag, op == UBLK_IO_OP_READ, off, len);
			return ret ? ret : (int32_t)len;
		}
		if (op == UBLK_IO_OP_READ)
			store_memcpy(buf, store + off, len);
		else
			store_memcpy(store + off, buf, len);
		return len;
	case UBLK_IO_OP_WRITE_ZEROES:
	case UBLK_IO_OP_DISCARD:
		if (o.mem)
			memset(store + off, 0, len);
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

static void *queue_thread(void *arg)
{
	struct queue *q = arg;
	unsigned int tag, head, live = o.depth, n;
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_queue_init(o.depth, &q->ring, 0);
	if (ret < 0) {
		q->err = ret;
		pthread_barrier_wait(&fetched);
		return NULL;
	}
	for (tag = 0; tag < o.depth; tag++)
		io_cmd(q, tag, UBLK_U_IO_FETCH_REQ, 0);
	/*
	 * A fetch that ublk took completes only with a request or an
	 * abort, and no request comes before START_DEV: a completion now
	 * is a refused fetch, and START_DEV would wait for ever.
	 */
	ret = io_uring_submit(&q->ring);
	if (ret < 0)
		q->err = ret;
	else if (io_uring_peek_cqe(&q->ring, &cqe) == 0)
		q->err = cqe->res ? cqe->res : -EIO;
	pthread_barrier_wait(&fetched);
	while (live && ret >= 0) {
		ret = io_uring_submit_and_wait(&q->ring, 1);
		if (ret == -EINTR)
			continue;
		if (ret < 0) {
			q->err = ret;
			break;
		}
		n = 0;
		io_uring_for_each_cqe(&q->ring, head, cqe) {
			n++;
			tag = cqe->user_data;
			if (tag >= o.depth)
				continue;
			if (cqe->res == UBLK_IO_RES_OK) {
				io_cmd(q, tag, UBLK_U_IO_COMMIT_AND_FETCH_REQ,
				       serve(q, tag));
				continue;
			}
			/* UBLK_IO_RES_ABORT: the device is stopping */
			if (cqe->res != UBLK_IO_RES_ABORT && !q->err)
				q->err = cqe->res;
			live--;
		}
		io_uring_cq_advance(&q->ring, n);
	}
	io_uring_queue_exit(&q->ring);
	return NULL;
}

static void bad_usage(void)
{
	fprintf(stderr,
		"usage: tcmu-ublk-server [--store null|mem] [--size BYTES]\n"
		"       [--queues N] [--depth D] [--max-io-kb KB] [--user-copy]\n"
		"       [--id N]\n"
		"Serves a ublk device until SIGTERM or SIGINT; prints its\n"
		"disk's name (ublkbN) once it is live.\n");
	exit(2);
}

static uint64_t number(const char *s, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v > max)
		bad_usage();
	return v;
}

static void parse(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "store", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'z' },
		{ "queues", required_argument, NULL, 'q' },
		{ "depth", required_argument, NULL, 'd' },
		{ "max-io-kb", required_argument, NULL, 'm' },
		{ "user-copy", no_argument, NULL, 'u' },
		{ "id", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 's':
			if (strcmp(optarg, "mem") && strcmp(optarg, "null"))
				bad_usage();
			o.mem = !strcmp(optarg, "mem");
			break;
		case 'z':
			o.size = number(optarg, UINT64_MAX >> 9 << 9);
			break;
		case 'q':
			o.queues = number(optarg, UBLK_MAX_NR_QUEUES);
			break;
		case 'd':
			o.depth = number(optarg, UBLK_MAX_QUEUE_DEPTH);
			break;
		case 'm':
			/* a user copy addresses 2^UBLK_IO_BUF_BITS bytes */
			o.max_io = number(optarg, 1 << (UBLK_IO_BUF_BITS - 10))
				   << 10;
			break;
		case 'u':
			o.user_copy = true;
			break;
		case 'i':
			o.dev_id = number(optarg, INT32_MAX);
			break;
		default:
			bad_usage();
		}
	}
	if (optind != argc || !o.queues || !o.depth || o.max_io < 4096 ||
	    o.max_io % 4096 || !o.size || o.size % 512)
		bad_usage();
}

int main(int argc, char **argv)
{
	struct ublk_params params = { .len = sizeof(params) };
	char path[64];
	struct io_uring cr;
	struct queue *qs;
	sigset_t sigs;
	unsigned int i;
	int cfd, sig, ret, status = 0;
	size_t len;

	parse(argc, argv);
	/* the queue threads take no signals: main waits for them */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if (o.mem) {
		store = mmap(NULL, o.size, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (store == MAP_FAILED)
			die("store", errno);
	}
	cfd = open(CTRL_DEV, O_RDWR | O_CLOEXEC);
	if (cfd < 0)
		die(CTRL_DEV " (modprobe ublk_drv)", errno);
	ret = io_uring_queue_init(4, &cr, IORING_SETUP_SQE128);
	if (ret < 0)
		die("control ring", -ret);

	info.dev_id = o.dev_id < 0 ? (uint32_t)-1 : (uint32_t)o.dev_id;
	info.nr_hw_queues = o.queues;
	info.queue_depth = o.depth;
	info.max_io_buf_bytes = o.max_io;
	info.ublksrv_pid = getpid();
	info.flags = o.user_copy ? UBLK_F_USER_COPY : 0;
	ret = ctrl(&cr, cfd, UBLK_U_CMD_ADD_DEV, &info, sizeof(info), 0);
	if (ret < 0)
		die("ADD_DEV", -ret);

	params.types = UBLK_PARAM_TYPE_BASIC;
	params.basic.logical_bs_shift = 9;
	params.basic.physical_bs_shift = 12;
	params.basic.io_opt_shift = 12;
	params.basic.io_min_shift = 9;
	params.basic.max_sectors = o.max_io >> 9;
	params.basic.dev_sectors = o.size >> 9;
	ret = ctrl(&cr, cfd, UBLK_U_CMD_SET_PARAMS, &params, sizeof(params),
		   0);
	if (ret < 0) {
		status = 1;
		fprintf(stderr, "tcmu-ublk-server: SET_PARAMS: %s\n",
			strerror(-ret));
		goto del;
	}

	snprintf(path, sizeof(path), "/dev/ublkc%u", info.dev_id);
	/* devtmpfs makes the node as ADD_DEV returns; udev may chown it */
	for (i = 0; i < 100; i++) {
		cdev = open(path, O_RDWR | O_CLOEXEC);
		if (cdev >= 0 || errno != ENOENT)
			break;
		usleep(10000);
	}
	if (cdev < 0) {
		status = 1;
		fprintf(stderr, "tcmu-ublk-server: %s: %s\n", path,
			strerror(errno));
		goto del;
	}

	qs = calloc(o.queues, sizeof(*qs));
	if (!qs)
		die("queues", ENOMEM);
	ret = pthread_barrier_init(&fetched, NULL, o.queues + 1);
	if (ret)
		die("barrier", ret);
	len = desc_bytes(o.depth);
	for (i = 0; i < o.queues; i++) {
		struct queue *q = &qs[i];
		void *p;

		q->id = i;
		q->descs_len = len;
		/* each queue's descriptors at the offset of the deepest one */
		p = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, cdev,
			 UBLKSRV_CMD_BUF_OFFSET +
			 (off_t)i * desc_bytes(UBLK_MAX_QUEUE_DEPTH));
		if (p == MAP_FAILED)
			die("descriptors", errno);
		q->descs = p;
		if (!o.user_copy) {
			p = mmap(NULL, (size_t)o.depth * o.max_io,
				 PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				 -1, 0);
			if (p == MAP_FAILED)
				die("buffers", errno);
			q->bufs = p;
		}
		ret = pthread_create(&q->thread, NULL, queue_thread, q);
		if (ret)
			die("queue thread", ret);
	}

	pthread_barrier_wait(&fetched);
	for (i = 0, ret = 0; i < o.queues; i++)
		ret = ret ? ret : qs[i].err;
	/* returns once every tag of every queue has fetched */
	if (!ret)
		ret = ctrl(&cr, cfd, UBLK_U_CMD_START_DEV, NULL, 0, getpid());
	if (ret < 0) {
		status = 1;
		fprintf(stderr, "tcmu-ublk-server: START_DEV: %s\n",
			strerror(-ret));
	} else {
		printf("ublkb%u\n", info.dev_id);
		fflush(stdout);
		do
			ret = sigwait(&sigs, &sig);
		while (ret == EINTR);
	}

	/* ends every fetch with UBLK_IO_RES_ABORT, which ends the threads */
	ret = ctrl(&cr, cfd, UBLK_U_CMD_STOP_DEV, NULL, 0, 0);
	if (ret < 0) {
		status = 1;
		fprintf(stderr, "tcmu-ublk-server: STOP_DEV: %s\n",
			strerror(-ret));
	}
	for (i = 0; i < o.queues; i++) {
		pthread_join(qs[i].thread, NULL);
		if (qs[i].err) {
			status = 1;
			fprintf(stderr, "tcmu-ublk-server: queue %u: %s\n", i,
				strerror(-qs[i].err));
		}
		munmap((void *)qs[i].descs, qs[i].descs_len);
		if (qs[i].bufs)
			munmap(qs[i].bufs, (size_t)o.depth * o.max_io);
	}
	free(qs);
	/* DEL_DEV waits for the last reference: the char device's too */
	close(cdev);
del:
	ret = ctrl(&cr, cfd, UBLK_U_CMD_DEL_DEV, NULL, 0, 0);
	if (ret < 0) {
		status = 1;
		fprintf(stderr, "tcmu-ublk-server: DEL_DEV: %s\n",
			strerror(-ret));
	}
	io_uring_queue_exit(&cr);
	close(cfd);
	return status;
}
