// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-test-handler: the ring protocol.
 *
 * The reader thread waits on the UIO fd, walks the entries from its own
 * position up to the mailbox's cmd_head, copies each CMD entry (CDB and
 * iovecs, bounded against the ring and the map) into a struct hcmd, logs
 * TMR entries, skips PAD entries, and hands the commands to the workers.
 *
 * Completions work as libtcmu's do: a response goes into the first CMD
 * slot at or after cmd_tail, whichever command it belongs to; hdr.cmd_id
 * says which.  PAD and TMR slots on the way are stepped over.  The layout
 * of the slots is taken from shadow[], the reader's private copy of each
 * entry's len_op, never from the shared ring a second time.
 *
 * Nothing read from the ring is used before it has been copied out and
 * bounded; on nonsense the handler reports it and exits with status 2.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handler.h"

/* Number of aborted command ids printed per TMR entry */
#define TMR_IDS_LOGGED	16

static pthread_t reader;

static uint32_t ring_next(const struct tdev *d, uint32_t off, uint32_t len)
{
	return (off + len) % d->cmdr_size;
}

/* Bytes from @from up to @to going round the ring. */
static uint32_t ring_used(const struct tdev *d, uint32_t from, uint32_t to)
{
	return to >= from ? to - from : d->cmdr_size - from + to;
}

static uint32_t ring_load(const struct tdev *d, uint32_t *p, const char *what)
{
	uint32_t v = __atomic_load_n(p, __ATOMIC_ACQUIRE);

	if (v >= d->cmdr_size || v % TCMU_OP_ALIGN_SIZE)
		die_ring("%s %u is not an entry offset in a %u byte ring",
			 what, v, d->cmdr_size);
	return v;
}

/* Length in bytes of the CDB that starts with @cdb, as the kernel sizes it. */
static uint32_t cdb_len(const uint8_t *cdb)
{
	static const uint8_t group_len[8] = { 6, 10, 10, 12, 16, 12, 10, 10 };

	if (cdb[0] == 0x7f)	/* VARIABLE LENGTH: additional length + 8 */
		return cdb[7] + 8U;
	return group_len[cdb[0] >> 5];
}

static void parse_cdb(const struct tdev *d, struct hcmd *c, uint64_t cdb_off,
		      uint64_t lo, uint64_t hi)
{
	uint64_t room;

	if (cdb_off < lo || cdb_off >= hi)
		die_ring("cmd %u: cdb_off %" PRIu64 " outside its entry [%" PRIu64 ", %" PRIu64 ")",
			 c->id, cdb_off, lo, hi);
	room = hi - cdb_off;
	if (room > sizeof(c->cdb))
		room = sizeof(c->cdb);
	shm_copy(c->cdb, d->map + cdb_off, room);
	c->cdb_len = cdb_len(c->cdb);
	if (c->cdb_len > room)
		die_ring("cmd %u: %u byte CDB (op 0x%02x) overruns its entry",
			 c->id, c->cdb_len, c->cdb[0]);
}

/* Bound one iovec against the data area; returns its length. */
static uint64_t parse_iov(const struct tdev *d, struct hcmd *c,
			  const uint8_t *src, struct iovec *dst)
{
	struct iovec iov;
	uint64_t off, len;

	shm_copy(&iov, src, sizeof(iov));
	off = (uintptr_t)iov.iov_base;
	len = iov.iov_len;
	if (off < d->data_off || off > d->map_size || len > d->map_size - off)
		die_ring("cmd %u: iovec %" PRIu64 "+%" PRIu64 " outside the data area %u..%zu",
			 c->id, off, len, d->data_off, d->map_size);
	if (dst) {
		dst->iov_base = d->map + off;
		dst->iov_len = len;
	}
	return len;
}

static struct hcmd *parse_cmd(const struct tdev *d, uint32_t off, uint32_t len)
{
	const size_t iov_at = offsetof(struct tcmu_cmd_entry, req.iov);
	const uint8_t *ent = d->cmdr + off;
	uint64_t niov, start, i;
	struct tcmu_cmd_entry e;
	struct hcmd *c;

	if (len < sizeof(e))
		die_ring("cmd entry at %u: length %u, need %zu", off, len,
			 sizeof(e));
	shm_copy(&e, ent, sizeof(e));
	niov = (uint64_t)e.req.iov_cnt + e.req.iov_bidi_cnt;
	if (e.req.iov_dif_cnt || niov > (len - iov_at) / sizeof(struct iovec))
		die_ring("cmd %u at %u: %u+%u+%u iovecs do not fit %u bytes",
			 e.hdr.cmd_id, off, e.req.iov_cnt, e.req.iov_bidi_cnt,
			 e.req.iov_dif_cnt, len);

	c = calloc(1, sizeof(*c) + e.req.iov_cnt * sizeof(struct iovec));
	if (!c)
		die_ring("cmd %u: out of memory", e.hdr.cmd_id);
	c->slot = off;
	c->id = e.hdr.cmd_id;
	c->zc = e.hdr.kflags & TCMU_KFLAG_ZERO_COPY;
	c->iov_cnt = e.req.iov_cnt;
	for (i = 0; i < niov; i++) {
		const uint8_t *src = ent + iov_at + i * sizeof(struct iovec);

		if (i < c->iov_cnt)
			c->data_len += parse_iov(d, c, src, &c->iov[i]);
		else
			parse_iov(d, c, src, NULL);
	}
	start = (uint64_t)d->cmdr_off + off;
	parse_cdb(d, c, e.req.cdb_off, start + iov_at + niov * sizeof(struct iovec),
		  start + len);
	return c;
}

static const char *tmr_name(uint8_t type)
{
	switch (type) {
	case TCMU_TMR_ABORT_TASK:		return "ABORT_TASK";
	case TCMU_TMR_ABORT_TASK_SET:		return "ABORT_TASK_SET";
	case TCMU_TMR_CLEAR_ACA:		return "CLEAR_ACA";
	case TCMU_TMR_CLEAR_TASK_SET:		return "CLEAR_TASK_SET";
	case TCMU_TMR_LUN_RESET:		return "LUN_RESET";
	case TCMU_TMR_TARGET_WARM_RESET:	return "TARGET_WARM_RESET";
	case TCMU_TMR_TARGET_COLD_RESET:	return "TARGET_COLD_RESET";
	case TCMU_TMR_LUN_RESET_PRO:		return "LUN_RESET_PRO";
	default:				return "UNKNOWN";
	}
}

static void parse_tmr(const struct tdev *d, uint32_t off, uint32_t len)
{
	uint16_t ids[TMR_IDS_LOGGED];
	struct tcmu_tmr_entry t;
	char buf[TMR_IDS_LOGGED * 7 + 8] = "";
	uint32_t i, n;
	size_t pos = 0;

	if (len < sizeof(t))
		die_ring("tmr entry at %u: length %u, need %zu", off, len,
			 sizeof(t));
	shm_copy(&t, d->cmdr + off, sizeof(t));
	if (t.cmd_cnt > (len - sizeof(t)) / sizeof(t.cmd_ids[0]))
		die_ring("tmr entry at %u: %u ids do not fit %u bytes", off,
			 t.cmd_cnt, len);
	n = t.cmd_cnt < TMR_IDS_LOGGED ? t.cmd_cnt : TMR_IDS_LOGGED;
	shm_copy(ids, d->cmdr + off + sizeof(t), n * sizeof(ids[0]));
	for (i = 0; i < n; i++)
		pos += snprintf(buf + pos, sizeof(buf) - pos, "%s%u",
				i ? "," : "", ids[i]);
	if (n < t.cmd_cnt)
		snprintf(buf + pos, sizeof(buf) - pos, ",...");
	count(&cnt.tmr, 1);
	info("tmr: %s type=%u cmd_cnt=%u ids=%s", tmr_name(t.tmr_type),
	     t.tmr_type, t.cmd_cnt, buf);
}

static void received(struct tdev *d, const struct hcmd *c)
{
	unsigned long n = atomic_fetch_add(&cnt.commands, 1) + 1;

	if (opt.exit_after && n == opt.exit_after) {
		/*
		 * Not in the middle of a completion: a worker that wrote a
		 * response into the slot at cmd_tail but had not moved
		 * cmd_tail yet would leave the next handler an entry that
		 * is half command, half response.  The crash the tests mean
		 * is of a handler with commands in its hands, not a torn
		 * ring (a handler that can die anywhere resets the ring
		 * when it starts, as tcmu-runner does).
		 */
		pthread_mutex_lock(&d->cpl_lock);
		err("exit-after: got command %lu (id %u, op 0x%02x), exiting",
		    n, c->id, c->cdb[0]);
		fflush(NULL);
		_exit(1);
	}
}

/* Parse one entry at d->pos; returns the command it carries, if any. */
static struct hcmd *parse_entry(struct tdev *d, uint32_t head)
{
	struct tcmu_cmd_entry_hdr hdr;
	struct hcmd *c = NULL;
	uint32_t off = d->pos, len;

	shm_copy(&hdr, d->cmdr + off, sizeof(hdr));
	len = tcmu_hdr_get_len(hdr.len_op);
	if (len < sizeof(hdr) || len % TCMU_OP_ALIGN_SIZE ||
	    len > d->cmdr_size - off || len > ring_used(d, off, head))
		die_ring("entry at %u: length %u (head %u, ring %u)", off, len,
			 head, d->cmdr_size);

	switch (tcmu_hdr_get_op(hdr.len_op)) {
	case TCMU_OP_PAD:
		break;
	case TCMU_OP_TMR:
		parse_tmr(d, off, len);
		break;
	case TCMU_OP_CMD:
		c = parse_cmd(d, off, len);
		received(d, c);
		break;
	default:
		die_ring("entry at %u: unknown op %u", off,
			 tcmu_hdr_get_op(hdr.len_op));
	}
	d->shadow[off / TCMU_OP_ALIGN_SIZE] = hdr.len_op;
	d->pos = ring_next(d, off, len);
	return c;
}

/* First CMD slot at or after @t among the parsed entries; cpl_lock held. */
static uint32_t skip_meta(const struct tdev *d, uint32_t t)
{
	uint32_t lo;

	while (t != d->parsed) {
		lo = d->shadow[t / TCMU_OP_ALIGN_SIZE];
		if (tcmu_hdr_get_op(lo) == TCMU_OP_CMD)
			break;
		t = ring_next(d, t, tcmu_hdr_get_len(lo));
	}
	return t;
}

static void set_tail(struct tdev *d, uint32_t t)
{
	d->tail = t;
	__atomic_store_n(d->tail_p, t, __ATOMIC_RELEASE);
	atomic_store(&d->kick, true);
}

/* Tell the kernel the tail moved, if it did since the last kick */
void ring_kick(struct tdev *d)
{
	uint32_t v = 0;

	if (!atomic_exchange(&d->kick, false))
		return;
	if (write(d->fd, &v, sizeof(v)) != sizeof(v))
		dbg("kick uio%u: %s", d->uio_index, strerror(errno));
}

/* Mark @id in flight; false if it already is.  cpl_lock held. */
static bool id_claim(struct tdev *d, uint16_t id)
{
	uint64_t bit = 1ULL << (id % 64);

	if (d->busy_ids[id / 64] & bit)
		return false;
	d->busy_ids[id / 64] |= bit;
	return true;
}

static void id_release(struct tdev *d, uint16_t id)
{
	d->busy_ids[id / 64] &= ~(1ULL << (id % 64));
}

/*
 * Make what the reader parsed visible to the completion path and step
 * cmd_tail over PAD and TMR entries that no command waits behind.
 */
static void ring_publish(struct tdev *d, struct hcmd *list)
{
	struct hcmd *c;
	uint32_t t;

	pthread_mutex_lock(&d->cpl_lock);
	d->parsed = d->pos;
	for (c = list; c; c = c->next) {
		if (!id_claim(d, c->id))
			die_ring("cmd id %u at %u is still in flight", c->id,
				 c->slot);
		if (!d->ordered)
			continue;
		if (d->order_tail)
			d->order_tail->order_next = c;
		else
			d->order_head = c;
		d->order_tail = c;
	}
	t = skip_meta(d, d->tail);
	if (t != d->tail)
		set_tail(d, t);
	pthread_mutex_unlock(&d->cpl_lock);
	ring_kick(d);
}

static void ring_process(struct tdev *d)
{
	uint32_t head = ring_load(d, d->head_p, "cmd_head");
	struct hcmd *first = NULL, **last = &first, *c;

	while (d->pos != head) {
		c = parse_entry(d, head);
		if (c) {
			*last = c;
			last = &c->next;
		}
	}
	ring_publish(d, first);
	if (opt.threads)
		workers_queue(first);
	else
		workers_run(first);
}

static void *reader_main(void *arg)
{
	struct tdev *d = arg;
	struct pollfd pfd[2] = {
		{ .fd = d->fd, .events = POLLIN },
		{ .fd = stop_fd, .events = POLLIN },
	};
	uint32_t events;

	ring_process(d);
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			err("poll uio%u: %s", d->uio_index, strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		if (read(d->fd, &events, sizeof(events)) != sizeof(events)) {
			if (errno == EINTR)
				continue;
			info("uio%u: %s: device gone, shutting down",
			     d->uio_index, strerror(errno));
			break;
		}
		ring_process(d);
	}
	request_stop();
	return NULL;
}

static uint8_t rsp_uflags(const struct tdev *d, const struct hcmd *c,
			  uint32_t *read_len)
{
	uint8_t f = 0;

	*read_len = 0;
	if (c->unknown)
		return TCMU_UFLAG_UNKNOWN_OP;
	/* --read-len on every data-in, else only where the data is short */
	if ((d->caps & TCMU_MAILBOX_FLAG_CAP_READ_LEN) && c->data_in &&
	    !c->status && (d->read_len || c->in_len < c->data_len)) {
		f |= TCMU_UFLAG_READ_LEN;
		*read_len = c->in_len > UINT32_MAX ? UINT32_MAX : c->in_len;
	}
	if (d->keep_buf && (!opt.keep_every || !(c->id % opt.keep_every)))
		f |= TCMU_UFLAG_KEEP_BUF;
	return f;
}

/* Write @c's response into the next CMD slot and move cmd_tail past it. */
static void __ring_complete(struct tdev *d, struct hcmd *c)
{
	struct tcmu_cmd_entry *e;
	uint32_t t = skip_meta(d, d->tail), read_len;
	uint8_t uflags = rsp_uflags(d, c, &read_len);

	if (t == d->parsed)
		die_ring("no slot left for cmd %u (tail %u)", c->id, d->tail);
	if (t != c->slot)
		count(&cnt.ooo, 1);
	id_release(d, c->id);
	e = (struct tcmu_cmd_entry *)(d->cmdr + t);
	e->hdr.cmd_id = c->id;
	e->hdr.uflags = uflags;
	e->rsp.scsi_status = c->status;
	e->rsp.read_len = read_len;
	memcpy(e->rsp.sense_buffer, c->sense, sizeof(c->sense));
	c->kept = uflags & TCMU_UFLAG_KEEP_BUF;
	if (c->kept)
		count(&cnt.keep_buf, 1);
	t = ring_next(d, t, tcmu_hdr_get_len(d->shadow[t / TCMU_OP_ALIGN_SIZE]));
	set_tail(d, skip_meta(d, t));
}

/*
 * Complete @c: at once in out-of-order mode, else when every command
 * before it in the ring has completed too.  Frees what it completes.
 * Kicks the kernel unless @batch: then the caller kicks once for all
 * it completed (ring_kick).
 */
void ring_complete(struct tdev *d, struct hcmd *c, bool batch)
{
	struct hcmd *done = NULL, **last = &done;

	pthread_mutex_lock(&d->cpl_lock);
	if (d->ordered) {
		c->done = true;
		while (d->order_head && d->order_head->done) {
			c = d->order_head;
			d->order_head = c->order_next;
			if (!d->order_head)
				d->order_tail = NULL;
			__ring_complete(d, c);
			*last = c;
			last = &c->next;
		}
		*last = NULL;
	} else {
		__ring_complete(d, c);
		done = c;
		c->next = NULL;
	}
	pthread_mutex_unlock(&d->cpl_lock);
	if (!batch)
		ring_kick(d);

	while ((c = done)) {
		done = c->next;
		if (c->kept)
			printf("keep_buf: id=%u\n", c->id);
		free(c);
	}
}

/* Settle the completion options against the capabilities the kernel offers. */
static int check_caps(struct tdev *d)
{
	if ((opt.ooo || opt.hang) && !(d->caps & TCMU_MAILBOX_FLAG_CAP_OOOC)) {
		err("--%s needs out-of-order completion, which uio%u lacks",
		    opt.ooo ? "ooo" : "hang", d->uio_index);
		return -1;
	}
	d->ordered = !opt.ooo && !opt.hang;
	d->keep_buf = opt.keep_buf && (d->caps & TCMU_MAILBOX_FLAG_CAP_KEEP_BUF);
	d->read_len = opt.read_len && (d->caps & TCMU_MAILBOX_FLAG_CAP_READ_LEN);
	if (opt.keep_buf && !d->keep_buf)
		info("--keep-buf ignored: no KEEP_BUF capability");
	if (opt.read_len && !d->read_len)
		info("--read-len ignored: no READ_LEN capability");
	return 0;
}

int ring_start(struct tdev *d)
{
	int ret;

	if (check_caps(d))
		return -1;
	d->shadow = calloc(d->cmdr_size / TCMU_OP_ALIGN_SIZE, sizeof(*d->shadow));
	if (!d->shadow) {
		err("out of memory");
		return -1;
	}
	d->tail = ring_load(d, d->tail_p, "cmd_tail");
	d->pos = d->tail;
	d->parsed = d->tail;
	pthread_mutex_init(&d->cpl_lock, NULL);
	if (workers_start(d))
		return -1;
	ret = pthread_create(&reader, NULL, reader_main, d);
	if (ret) {
		err("reader thread: %s", strerror(ret));
		workers_stop();
		return -1;
	}
	return 0;
}

/* Stop reading, let the workers finish what was read, then let go. */
void ring_stop(struct tdev *d)
{
	pthread_join(reader, NULL);
	workers_stop();
	pthread_mutex_destroy(&d->cpl_lock);
	free(d->shadow);
	d->shadow = NULL;
}
