// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-fuzz: a hostile TCMU handler.
 *
 * It serves one device the way a handler must (completing what the
 * kernel posts) between attacks on the shared memory and the UIO device:
 * cmd_tail anywhere, unknown / freed / duplicated cmd_ids, completions
 * given twice, len_op and opcode garbage, scribbled iovecs and CDB
 * offsets, status, sense, read_len and uflags garbage, a thread racing
 * the kernel's own ring updates, kick storms, mailbox scribbles, second
 * mappings, munmap/mremap/madvise, fork, closing and reopening the fd
 * while mapped, touching data area pages it was never given and ring
 * pages the kernel has not written or has trimmed, moving the ring's
 * pages elsewhere and back or mapping other memory over them, and bogus
 * free_kept_buf ids.  When the kernel has marked the device broken it
 * repairs it through configfs (block_dev, reset_ring, unblock) and goes
 * on.  Every choice comes from one seeded PRNG; the seed is printed.
 *
 * The kernel must survive all of it: no crash, splat, hang or leak, and
 * no effect on other devices.  Mappings the driver must refuse (a size
 * or offset other than the whole map, MAP_PRIVATE, growing it with
 * mremap, a second open while the old file is still mapped) fail the
 * run when they succeed.
 *
 * An attack counts as effective only when it reached the kernel as meant
 * (an entry mangled on a ring that was up, with a posted command in that
 * entry; a netlink round whose event arrived before the bad reply went
 * out; and so on, see the kinds below); the last lines give the counts
 * per kind, for the test to check that each kind really ran.
 *
 * Exit status: 0 when the run finished and the device was left healthy,
 * 1 on a set-up or usage error, 2 when the device could not be repaired,
 * 3 on a fatal signal, 4 when a netlink writer hung or got a status that
 * is no errno, 5 when something the driver must refuse was allowed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/compat.h"
#include "../lib/genl.h"
#include "../lib/log.h"
#include "../lib/sysfs.h"

static struct {
	const char *dev;
	uint64_t seed;
	unsigned long iterations;	/* 0: until --seconds ran out */
	unsigned long seconds;		/* 0: no time limit */
	bool netlink;
	bool verbose;
} opt = { .iterations = 1000 };

static struct {
	int fd;
	unsigned int uio;
	unsigned int hba;
	uint8_t *map;
	size_t map_size;
	uint32_t cmdr_off;
	uint32_t cmdr_size;
	uint32_t data_off;
	uint32_t tail;		/* where our completions start */
	char cfs[512];		/* configfs directory of the device */
} d = { .fd = -1 };

static uint64_t rng_state;
static unsigned long stats_action[32];
static unsigned long stats_completed, stats_recovered, stats_sigbus;
static unsigned long stats_broken, stats_not_refused;

/*
 * What effective means, per kind.  "Live": the device's state was ok
 * when the iteration began, so the kernel reaps what the attack left on
 * the ring (a broken ring is not read until reset_ring).
 */
enum kind {
	K_HONEST,	/* live, and at least one posted command completed */
	K_CMD_TAIL,	/* live, and cmd_tail moved somewhere new */
	K_UNKNOWN_ID,	/* live, and a posted command's entry was mangled */
	K_TWICE,	/* live, completed, and completed again */
	K_LEN_OP,	/* as K_UNKNOWN_ID */
	K_RESPONSE,	/* as K_UNKNOWN_ID */
	K_REQUEST,	/* as K_UNKNOWN_ID */
	K_KICK_STORM,	/* the kicks were written */
	K_MAILBOX,	/* live, mailbox scribbled and kicked */
	K_RACE,		/* live, and the racer wrote at least once */
	K_TOUCH,	/* data area pages probed */
	K_MAP_SECOND,	/* a second mapping made and touched */
	K_MAP_REFUSED,	/* wrong sizes, offsets and MAP_PRIVATE refused */
	K_MREMAP,	/* growing the mapping refused */
	K_MADVISE,	/* MADV_DONTNEED over the data area done */
	K_UNMAP_DATA,	/* data area unmapped, part refused, all mapped again */
	K_FORK,		/* a child with the mapping kicked and exited */
	K_REOPEN,	/* fd closed while mapped, reopened (after munmap) */
	K_FREE_KEPT_BUF, /* the bogus id reached the driver */
	K_RECOVER,	/* repaired through configfs: ok again */
	K_NL_JUNK,	/* the kernel acked the junk */
	K_NL_ROUND,	/* the RECONFIG event arrived, then the bad reply */
	K_RING_TOUCH,	/* a ring page probed was not there: SIGBUS */
	K_RING_MREMAP,	/* ring pages moved away and back, or overmapped */
	NR_KINDS
};

static const char *const kind_names[NR_KINDS] = {
	"honest", "cmd_tail", "unknown_id", "twice", "len_op", "response",
	"request", "kick_storm", "mailbox", "race", "touch", "map_second",
	"map_refused", "mremap", "madvise", "unmap_data", "fork", "reopen",
	"free_kept_buf", "recover", "nl_junk", "nl_round", "ring_touch",
	"ring_mremap",
};

static unsigned long effective[NR_KINDS];
static bool live;	/* the device was ok when this iteration began */
static volatile unsigned long cur_iter;

/* xorshift64*: small, fast and reproducible from the seed */
static uint64_t rnd64(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static uint32_t rnd(uint32_t below)
{
	return below ? (uint32_t)(rnd64() % below) : 0;
}

static bool chance(unsigned int pct)
{
	return rnd(100) < pct;
}

/* A value that is interesting to the kernel as a ring offset or length */
static uint32_t nasty_u32(void)
{
	switch (rnd(8)) {
	case 0: return 0;
	case 1: return d.cmdr_size;
	case 2: return d.cmdr_size - TCMU_OP_ALIGN_SIZE;
	case 3: return (uint32_t)rnd64();
	case 4: return rnd(d.cmdr_size) & ~(TCMU_OP_ALIGN_SIZE - 1);
	case 5: return rnd(d.cmdr_size) | 1;
	case 6: return UINT32_MAX;
	default: return d.tail + TCMU_OP_ALIGN_SIZE * (1 + rnd(64));
	}
}

static volatile uint32_t *mb_u32(size_t off)
{
	return (volatile uint32_t *)(d.map + off);
}

static uint8_t *ring_at(uint32_t off)
{
	return d.map + d.cmdr_off + off;
}

static bool kick(void)
{
	uint32_t v = 0;

	if (write(d.fd, &v, sizeof(v)) == sizeof(v))
		return true;
	dbg("write() to the uio fd: %s", strerror(errno));
	return false;
}

static void wait_kick(int ms)
{
	struct pollfd p = { .fd = d.fd, .events = POLLIN };
	uint32_t v;

	if (poll(&p, 1, ms) > 0 && (p.revents & POLLIN))
		if (read(d.fd, &v, sizeof(v)) < 0)
			dbg("read: %s", strerror(errno));
}

static int ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int)((t.tv_sec - t0->tv_sec) * 1000 +
		     (t.tv_nsec - t0->tv_nsec) / 1000000);
}

static void set_tail(uint32_t t)
{
	__atomic_store_n(mb_u32(offsetof(struct tcmu_mailbox, cmd_tail)), t,
			 __ATOMIC_RELEASE);
}

static uint32_t get_head(void)
{
	return __atomic_load_n(mb_u32(offsetof(struct tcmu_mailbox, cmd_head)),
			       __ATOMIC_ACQUIRE);
}

static int cfs_write(const char *attr, const char *val)
{
	char path[640];

	snprintf(path, sizeof(path), "%s/%s", d.cfs, attr);
	return write_file(path, val);
}

/* "ok", "broken", "blocked" from the device's info, or "" */
static void dev_state(char *buf, size_t len)
{
	char path[640], line[512];
	FILE *f;
	char *p;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/info", d.cfs);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, "State: ");
		if (p && sscanf(p + 7, "%31s", buf) == 1)
			break;
	}
	fclose(f);
	(void)len;
}

/*
 * Something the driver must refuse was allowed: say so now, go on, and
 * fail the run at its end.
 */
static void not_refused(const char *what)
{
	stats_not_refused++;
	printf("tcmu-fuzz: FAIL: %s was allowed (seed %" PRIu64 ", iteration %lu)\n",
	       what, opt.seed, cur_iter);
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* set-up */

/* a line of one of the device's configfs files */
static int read_line_cfs(const char *attr, char *buf, size_t len)
{
	char path[640];

	snprintf(path, sizeof(path), "%s/%s", d.cfs, attr);
	return read_line(path, buf, len);
}

static int write_param(const char *name, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/target_core_user/parameters/%s",
		 name);
	return write_file(path, val);
}

static int find_dev(void)
{
	char name[512], want[300];
	unsigned int hba, idx;
	glob_t g;
	size_t i;
	int n;

	if (glob("/sys/class/uio/uio*/name", 0, NULL, &g))
		return -1;
	for (i = 0; i < g.gl_pathc; i++) {
		if (read_line(g.gl_pathv[i], name, sizeof(name)) ||
		    sscanf(g.gl_pathv[i], "/sys/class/uio/uio%u/", &idx) != 1 ||
		    sscanf(name, "tcm-user/%u/%n", &hba, &n) != 1)
			continue;
		snprintf(want, sizeof(want), "%s/", opt.dev);
		if (strncmp(name + n, want, strlen(want)) &&
		    strcmp(name + n, opt.dev))
			continue;
		d.uio = idx;
		d.hba = hba;
		globfree(&g);
		snprintf(d.cfs, sizeof(d.cfs),
			 "/sys/kernel/config/target/core/user_%u/%s", hba,
			 opt.dev);
		return 0;
	}
	globfree(&g);
	return -1;
}

static int map_dev(void)
{
	char path[96], buf[64];
	struct tcmu_mailbox mb;

	snprintf(path, sizeof(path), "/sys/class/uio/uio%u/maps/map0/size",
		 d.uio);
	if (read_line(path, buf, sizeof(buf)))
		return -1;
	d.map_size = strtoull(buf, NULL, 0);
	d.map = mmap(NULL, d.map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		     d.fd, 0);
	if (d.map == MAP_FAILED) {
		info("mmap: %s", strerror(errno));
		d.map = NULL;
		return -1;
	}
	/* mapped again: the mailbox may hold our own scribbles by now */
	if (d.cmdr_size)
		return 0;
	memcpy(&mb, d.map, sizeof(mb));
	if (mb.version != TCMU_MAILBOX_VERSION || mb.cmdr_off < sizeof(mb) ||
	    mb.cmdr_size < 4096 || mb.cmdr_size % TCMU_OP_ALIGN_SIZE ||
	    (uint64_t)mb.cmdr_off + mb.cmdr_size > d.map_size) {
		info("unexpected mailbox: version %u ring %u+%u map %zu",
		     mb.version, mb.cmdr_off, mb.cmdr_size, d.map_size);
		return -1;
	}
	d.cmdr_off = mb.cmdr_off;
	d.cmdr_size = mb.cmdr_size;
	d.data_off = mb.cmdr_off + mb.cmdr_size;
	d.tail = mb.cmd_tail % d.cmdr_size;
	return 0;
}

static int open_dev(void)
{
	char path[32];
	int i;

	for (i = 0; i < 100; i++) {
		if (!find_dev())
			break;
		usleep(100000);
	}
	if (i == 100) {
		info("no TCMU device %s", opt.dev);
		return -1;
	}
	snprintf(path, sizeof(path), "/dev/uio%u", d.uio);
	d.fd = open(path, O_RDWR | O_CLOEXEC);
	if (d.fd < 0) {
		info("%s: %s", path, strerror(errno));
		return -1;
	}
	return map_dev();
}

/* ------------------------------------------------------------------ */
/* the honest part: complete what the kernel posted */

/*
 * The slot at @off as the kernel wrote it, if it looks sane; returns its
 * length, 0 if it does not.
 */
static uint32_t slot_len(uint32_t off, uint32_t head, uint8_t *op)
{
	struct tcmu_cmd_entry_hdr hdr;
	uint32_t len, used;

	memcpy(&hdr, ring_at(off), sizeof(hdr));
	len = tcmu_hdr_get_len(hdr.len_op);
	used = head >= off ? head - off : d.cmdr_size - off + head;
	if (len < sizeof(hdr) || len % TCMU_OP_ALIGN_SIZE ||
	    len > d.cmdr_size - off || len > used)
		return 0;
	*op = tcmu_hdr_get_op(hdr.len_op);
	return len;
}

/*
 * Complete up to @max posted commands from d.tail with GOOD status; with
 * @mangle, let the caller's hook spoil the first of them and some others.
 * Returns how many; *@mangled (if given) says how many were spoiled.
 * Only completions on a live ring count as completed: the kernel reads
 * no others.
 */
typedef void (*mangle_fn)(struct tcmu_cmd_entry *ent);

/*
 * The mailbox's cmd_head as a_mailbox() last spoiled it, until the
 * kernel writes its own again (its next entry): meanwhile it says
 * nothing of where the entries end, and the slots past the real head may
 * lie in ring pages the kernel has not written (SIGBUS).
 */
static bool head_spoiled;
static uint32_t spoiled_head;

static bool probe(volatile uint8_t *p, bool scribble);

/* Whether every page of ring bytes [@off, @off + @len) can be read */
static bool ring_readable(uint32_t off, uint32_t len)
{
	uintptr_t p = (uintptr_t)ring_at(off);
	uintptr_t end = (uintptr_t)ring_at(off) + len;

	for (; p < end; p = (p | 4095) + 1)
		if (!probe((volatile uint8_t *)p, false))
			return false;
	return true;
}

static unsigned int complete(unsigned int max, mangle_fn mangle,
			     unsigned int *mangled)
{
	uint32_t head = get_head(), len, t = d.tail;
	struct tcmu_cmd_entry *ent;
	unsigned int n = 0, m = 0;
	bool guarded;
	uint8_t op;

	if (mangled)
		*mangled = 0;
	if (head_spoiled && head != spoiled_head)
		head_spoiled = false;
	guarded = head_spoiled;
	if (head >= d.cmdr_size || head % TCMU_OP_ALIGN_SIZE)
		return 0;
	while (t != head && n < max) {
		/* only a spoiled head may send us to a page never written */
		if (guarded && !ring_readable(t, TCMU_OP_ALIGN_SIZE))
			break;
		len = slot_len(t, head, &op);
		if (!len || (guarded && !ring_readable(t, len)))
			break;
		if (op == TCMU_OP_CMD) {
			ent = (struct tcmu_cmd_entry *)ring_at(t);
			ent->rsp.scsi_status = 0;
			ent->hdr.uflags = 0;
			if (mangle && (n == 0 || chance(30))) {
				mangle(ent);
				m++;
			}
			n++;
		}
		t = (t + len) % d.cmdr_size;
	}
	d.tail = t;
	set_tail(t);
	kick();
	if (live)
		stats_completed += n;
	if (mangled)
		*mangled = m;
	return n;
}

/*
 * An attack on an entry needs a posted command: on a live ring, wait up
 * to @ms for the kernel to post one (it kicks us when it does).  Without
 * this wait most such attacks found the ring empty.
 */
static void wait_posted(int ms)
{
	struct timespec t0;
	int left = ms;

	if (!live)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (get_head() == d.tail && left > 0) {
		wait_kick(left);
		left = ms - ms_since(&t0);
	}
}

/* complete() with @mangle: whether it spoiled a posted command on a live ring */
static bool mangle_some(unsigned int max, mangle_fn mangle)
{
	unsigned int mangled;

	wait_posted(50);
	complete(max, mangle, &mangled);
	return live && mangled;
}

/* ------------------------------------------------------------------ */
/* attacks */

static void m_unknown_id(struct tcmu_cmd_entry *ent)
{
	ent->hdr.cmd_id = (uint16_t)rnd64();
}

static uint16_t last_id;

static void m_remember_id(struct tcmu_cmd_entry *ent)
{
	last_id = ent->hdr.cmd_id;
}

static void m_same_id(struct tcmu_cmd_entry *ent)
{
	ent->hdr.cmd_id = last_id;
}

static void m_len_op(struct tcmu_cmd_entry *ent)
{
	uint32_t lo = ent->hdr.len_op;

	switch (rnd(4)) {
	case 0:
		lo = (uint32_t)rnd64();
		break;
	case 1:
		tcmu_hdr_set_len(&lo, nasty_u32());
		break;
	case 2:
		tcmu_hdr_set_op(&lo, rnd(8));
		break;
	default:
		lo = 0;
	}
	ent->hdr.len_op = lo;
}

static void m_response(struct tcmu_cmd_entry *ent)
{
	size_t i;

	ent->rsp.scsi_status = (uint8_t)rnd64();
	for (i = 0; i < sizeof(ent->rsp.sense_buffer); i++)
		ent->rsp.sense_buffer[i] = (char)rnd64();
	ent->hdr.uflags = (uint8_t)rnd64();
	if (chance(50)) {
		ent->hdr.uflags |= TCMU_UFLAG_READ_LEN;
		ent->rsp.read_len = chance(50) ? UINT32_MAX : (uint32_t)rnd64();
	}
	if (chance(30))
		ent->hdr.uflags = TCMU_UFLAG_UNKNOWN_OP;
	if (chance(30))
		ent->hdr.uflags = TCMU_UFLAG_KEEP_BUF;
}

/* The request half is the kernel's: scribbling it must change nothing. */
static void m_request(struct tcmu_cmd_entry *ent)
{
	ent->req.iov_cnt = (uint32_t)rnd64();
	ent->req.iov_bidi_cnt = (uint32_t)rnd64();
	ent->req.iov_dif_cnt = (uint32_t)rnd64();
	ent->req.cdb_off = rnd64();
	ent->req.iov[0].iov_base = (void *)(uintptr_t)rnd64();
	ent->req.iov[0].iov_len = rnd64();
}

static bool a_tail(void)
{
	uint32_t t = nasty_u32();

	dbg("cmd_tail := %u", t);
	set_tail(t);
	return kick() && live && t != d.tail;
}

/* A completion given twice: cmd_tail moved back over it, or its id reused */
static bool a_twice(void)
{
	uint32_t t;

	wait_posted(50);
	t = d.tail;
	if (!complete(1, m_remember_id, NULL))
		return false;
	if (chance(50)) {
		set_tail(t);
		kick();
		set_tail(d.tail);
		kick();
		return live;
	}
	return live && complete(1, m_same_id, NULL);
}

static bool a_kick_storm(void)
{
	uint64_t big = 0;
	int i, n = 0;

	for (i = 0; i < 500; i++)
		n += kick();
	if (write(d.fd, &big, 1) < 0 || write(d.fd, &big, 8) < 0)
		dbg("odd-size write: %s", strerror(errno));
	return n;
}

static bool a_mailbox(void)
{
	static const size_t fields[] = {
		offsetof(struct tcmu_mailbox, version),
		offsetof(struct tcmu_mailbox, cmdr_off),
		offsetof(struct tcmu_mailbox, cmdr_size),
		offsetof(struct tcmu_mailbox, cmd_head),
	};
	size_t f = fields[rnd(ARRAY_SIZE(fields))];

	if (f == offsetof(struct tcmu_mailbox, version)) {
		*(volatile uint16_t *)(d.map + f) = (uint16_t)rnd64();
	} else {
		*mb_u32(f) = nasty_u32();
		if (f == offsetof(struct tcmu_mailbox, cmd_head)) {
			spoiled_head = *mb_u32(f);
			head_spoiled = true;
		}
	}
	return kick() && live;
}

static volatile bool racer_stop;
static volatile unsigned long racer_writes, racer_sigbus;
/* the racer's own probe: SIGBUS goes to the thread that faulted */
static __thread sigjmp_buf racer_jmp;
static __thread volatile sig_atomic_t racer_probing;

static void *racer(void *arg)
{
	uint64_t s = (uintptr_t)arg;
	uint32_t off;

	while (!__atomic_load_n(&racer_stop, __ATOMIC_RELAXED)) {
		racer_writes++;
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		if (s & 1) {
			set_tail((uint32_t)(s >> 8) % d.cmdr_size & ~7U);
		} else {
			/*
			 * Scribble just past the kernel's head: a page there
			 * the kernel has not written yet is not mapped
			 * (SIGBUS), one it wrote before is.
			 */
			off = (get_head() + ((s >> 8) & 0xff) * 8) % d.cmdr_size;
			racer_probing = 1;
			if (sigsetjmp(racer_jmp, 1))
				racer_sigbus++;
			else
				*(volatile uint32_t *)ring_at(off & ~3U) =
					(uint32_t)(s >> 32);
			racer_probing = 0;
		}
		if ((s & 0xf) == 0)
			kick();
	}
	return NULL;
}

static bool a_race(void)
{
	pthread_t t;

	racer_stop = false;
	racer_writes = 0;
	if (pthread_create(&t, NULL, racer, (void *)(uintptr_t)(rnd64() | 1)))
		return false;
	complete(64, NULL, NULL);
	usleep(1000 * (1 + rnd(30)));
	__atomic_store_n(&racer_stop, true, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	return live && racer_writes;
}

static sigjmp_buf probe_jmp;
static volatile sig_atomic_t probing;

static volatile sig_atomic_t cur_action = -1;
static void *fault_addr;

/*
 * Outside a probe a fault is fatal: say where, for the seed's record
 * (the action runs again with the same seed).
 */
static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	char buf[160];
	int n;

	(void)uc;
	if (racer_probing)
		siglongjmp(racer_jmp, 1);
	if (probing)
		siglongjmp(probe_jmp, 1);
	fault_addr = si->si_addr;
	n = snprintf(buf, sizeof(buf),
		     "tcmu-fuzz: fatal signal %d at %p (map %p+%zu) in action %d, iteration %lu\n",
		     sig, fault_addr, (void *)d.map, d.map_size, (int)cur_action,
		     cur_iter);
	if (write(2, buf, n) < 0)
		_exit(3);
	_exit(3);
}

/* Touch data area pages at random: unmapped ones must SIGBUS, not oops. */
static bool a_touch(void)
{
	volatile uint8_t *p;
	size_t off;
	int i;

	for (i = 0; i < 16; i++) {
		off = d.data_off + (rnd64() % (d.map_size - d.data_off));
		p = d.map + off;
		probing = 1;
		if (sigsetjmp(probe_jmp, 1)) {
			stats_sigbus++;
		} else {
			(void)*p;
			if (chance(50))
				*p = (uint8_t)rnd64();
		}
		probing = 0;
	}
	return true;
}

/*
 * Touch ring pages at random, scribbling on half of them: pages the
 * kernel has not written, or trimmed once the device went idle
 * (reclaim_idle_ms), must SIGBUS, not oops.  Effective when one did.
 */
/* Read the byte at @p, and scribble on it if @scribble; false: SIGBUS */
static bool probe(volatile uint8_t *p, bool scribble)
{
	bool ok = true;

	probing = 1;
	if (sigsetjmp(probe_jmp, 1)) {
		stats_sigbus++;
		ok = false;
	} else {
		(void)*p;
		if (scribble)
			*p = (uint8_t)rnd64();
	}
	probing = 0;
	return ok;
}

static bool a_ring_touch(void)
{
	bool faulted = false;
	int i;

	for (i = 0; i < 16; i++)
		faulted |= !probe(ring_at(rnd(d.cmdr_size)), chance(50));
	return faulted;
}

/*
 * The ring's pages after the first leave their place: moved elsewhere
 * with mremap, touched there and moved back; or another mapping moved
 * over some of them, after which the device is mapped again.  The
 * driver's trims zap through the file's mappings wherever they are.
 */
static bool a_ring_mremap(void)
{
	size_t pg = 4096, len = d.data_off - pg;
	uint8_t *at = d.map + pg, *m, *anon;

	if (d.data_off <= 2 * pg)
		return false;
	if (chance(50)) {
		/* a hole to move into, then back where they were */
		anon = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
		if (anon == MAP_FAILED)
			return false;
		m = mremap(at, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, anon);
		if (m == MAP_FAILED) {
			munmap(anon, len);
			return false;
		}
		probe(m + rnd(len), false);
		return mremap(m, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			      at) != MAP_FAILED;
	}
	/* anonymous memory over a few ring pages; then map it all again */
	len = pg * (1 + rnd(4));
	anon = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED)
		return false;
	m = mremap(anon, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
		   at + pg * rnd((d.data_off - pg - len) / pg + 1));
	if (m == MAP_FAILED) {
		munmap(anon, len);
		return false;
	}
	memset(m, 0xa5, len);
	munmap(d.map, d.map_size);
	d.map = NULL;
	if (map_dev()) {
		info("could not map the device again");
		return false;
	}
	return true;
}

/* A mapping the driver must refuse: fail the run if it was allowed */
static bool refused(size_t len, int flags, off_t off, const char *what)
{
	uint8_t *m = mmap(NULL, len, PROT_READ, flags, d.fd, off);

	if (m == MAP_FAILED)
		return true;
	not_refused(what);
	munmap(m, len);
	return false;
}

/* A second mapping, partial unmaps, mremap, madvise and a fork */
static void a_mappings(void)
{
	size_t data_len = d.map_size - d.data_off;
	bool ok;
	uint8_t *m;
	pid_t pid;
	int status;

	switch (rnd(6)) {
	case 0:
		m = mmap(NULL, d.map_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 d.fd, 0);
		if (m != MAP_FAILED) {
			*(volatile uint32_t *)(m + d.cmdr_off) ^= 0;
			munmap(m, d.map_size);
			effective[K_MAP_SECOND]++;
		}
		break;
	case 1:	/* the map is all or nothing, and shared */
		ok = refused(d.map_size / 2, MAP_SHARED, 0, "mapping half the map");
		ok &= refused(d.map_size + 4096, MAP_SHARED, 0,
			      "mapping beyond the map");
		ok &= refused(d.map_size, MAP_PRIVATE, 0, "MAP_PRIVATE");
		ok &= refused(4096, MAP_SHARED, 4096, "mapping at an offset");
		effective[K_MAP_REFUSED] += ok;
		break;
	case 2:	/* VM_DONTEXPAND: the mapping cannot grow, moved or not */
		m = mremap(d.map, d.map_size, d.map_size + 4096,
			   chance(50) ? MREMAP_MAYMOVE : 0);
		if (m == MAP_FAILED) {
			effective[K_MREMAP]++;
			break;
		}
		not_refused("growing the mapping (mremap)");
		munmap(m + d.map_size, 4096);
		d.map = m;
		break;
	case 3:
		if (!madvise(d.map + d.data_off, data_len, MADV_DONTNEED))
			effective[K_MADVISE]++;
		break;
	case 4:
		/*
		 * The data area goes; mapping it alone must be refused (the
		 * map is all or nothing), so map the whole device again.
		 */
		if (munmap(d.map + d.data_off, data_len))
			break;
		m = mmap(d.map + d.data_off, data_len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, d.fd, d.data_off);
		ok = m == MAP_FAILED;
		if (!ok) {
			not_refused("mapping the data area alone");
			munmap(m, data_len);
		}
		munmap(d.map, d.data_off);
		d.map = NULL;
		if (map_dev())
			info("could not map the device again");
		else if (ok)
			effective[K_UNMAP_DATA]++;
		break;
	default:
		pid = fork();
		if (!pid) {
			signal(SIGBUS, SIG_DFL);
			*(volatile uint32_t *)mb_u32(offsetof(struct tcmu_mailbox,
							      cmd_tail)) ^= 0;
			_exit(kick() ? 0 : 1);
		}
		if (pid > 0 && waitpid(pid, &status, 0) == pid &&
		    WIFEXITED(status) && !WEXITSTATUS(status))
			effective[K_FORK]++;
	}
}

/*
 * Close the fd with the mapping live; reopen.  The mapping holds the old
 * file, so the driver still has its handler: one at a time, EBUSY until
 * unmapped.
 */
static bool a_reopen(void)
{
	char path[32];
	int fd;

	snprintf(path, sizeof(path), "/dev/uio%u", d.uio);
	close(d.fd);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		not_refused("a second open while the old file is mapped");
		d.fd = fd;
		return false;
	}
	dbg("reopen with a live mapping: %s", strerror(errno));
	/* drop the mapping: the kernel sees the handler go, then come back */
	munmap(d.map, d.map_size);
	d.map = NULL;
	if (open_dev()) {
		info("could not reopen %s", path);
		return false;
	}
	return true;
}

/* Whether the id reached the driver (which refuses it, or frees nothing) */
static bool a_free_kept_buf(void)
{
	char path[640], buf[24];
	ssize_t n;
	int fd;

	snprintf(buf, sizeof(buf), "%u", chance(50) ? rnd(65536) : (uint32_t)rnd64());
	snprintf(path, sizeof(path), "%s/action/free_kept_buf", d.cfs);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = write(fd, buf, strlen(buf));
	close(fd);
	return n >= 0 || errno == EINVAL;
}

/* ------------------------------------------------------------------ */
/* netlink: replies that never come, come twice, or are garbage */

#define NL_VERSION	2

static struct {
	struct genl_sock req;	/* our requests and their acks */
	struct genl_sock ev;	/* the "config" group's events */
	uint16_t family;
	uint32_t group;
	bool up;
	uint32_t dev_id;	/* the device's id, once an event told it */
	bool have_id;
	char dev_config[256];	/* written back unchanged for RECONFIG */
} nl = { .req.fd = -1, .ev.fd = -1 };

static unsigned long stats_nl_rounds, stats_nl_killed, stats_nl_reset;
static unsigned long stats_nl_no_event;

/* An ack came back: the kernel took the message (genl_request times out) */
static bool nl_acked(int ret)
{
	return ret != -ETIMEDOUT;
}

/* Send a *_DONE (or any) command with a status; returns the ack. */
static int nl_send_done(uint8_t cmd, bool with_id, uint32_t id,
			bool with_status, int32_t status)
{
	struct nl_msg m;

	msg_init(&m, nl.family, cmd, NL_VERSION);
	if (with_id)
		msg_put(&m, TCMU_ATTR_DEVICE_ID, &id, sizeof(id));
	if (with_status)
		msg_put(&m, TCMU_ATTR_CMD_STATUS, &status, sizeof(status));
	return genl_request(&nl.req, &m, NULL, 0);
}

static int nl_set_features(uint8_t v)
{
	struct nl_msg m;

	msg_init(&m, nl.family, TCMU_CMD_SET_FEATURES, NL_VERSION);
	msg_put(&m, TCMU_ATTR_SUPP_KERN_CMD_REPLY, &v, sizeof(v));
	return genl_request(&nl.req, &m, NULL, 0);
}

static int nl_setup(void)
{
	int ret;

	if (genl_open(&nl.req, 5) || genl_open(&nl.ev, 5))
		goto fail;
	ret = genl_resolve(&nl.req, "TCM-USER", "config", &nl.family,
			   &nl.group);
	if (ret) {
		info("netlink family TCM-USER: %s", strerror(-ret));
		goto fail;
	}
	if (setsockopt(nl.ev.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
		       &nl.group, sizeof(nl.group))) {
		info("netlink group: %s", strerror(errno));
		goto fail;
	}
	if (nl_set_features(1)) {
		info("SET_FEATURES refused");
		goto fail;
	}
	/* this device waits for our replies from now on */
	if (read_line_cfs("attrib/dev_config", nl.dev_config,
			  sizeof(nl.dev_config)) ||
	    cfs_write("attrib/nl_reply_supported", "1"))
		goto fail;
	nl.up = true;
	return 0;
fail:
	genl_close(&nl.req);
	genl_close(&nl.ev);
	return -1;
}

/* Leave netlink as a well-behaved daemon would: nothing waits for us. */
static void nl_teardown(void)
{
	if (!nl.up)
		return;
	cfs_write("attrib/nl_reply_supported", "0");
	nl_set_features(0);
	genl_close(&nl.req);
	genl_close(&nl.ev);
	nl.up = false;
}

/* Wait up to @ms for a RECONFIG_DEVICE event of our device. */
static bool nl_wait_event(int ms)
{
	static uint8_t buf[GENL_RCVBUF];
	const struct nlattr *tb[TCMU_ATTR_MAX + 1];
	struct pollfd p = { .fd = nl.ev.fd, .events = POLLIN };
	const struct genlmsghdr *g;
	const uint8_t *attrs;
	struct nlmsghdr *h;
	char name[300];
	size_t len, alen;
	ssize_t n;

	while (poll(&p, 1, ms) > 0) {
		n = recv(nl.ev.fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			continue;
		len = (size_t)n;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			g = msg_genl(h, &attrs, &alen);
			if (h->nlmsg_type != nl.family || !g ||
			    g->cmd != TCMU_CMD_RECONFIG_DEVICE)
				continue;
			parse_attrs(attrs, alen, tb, TCMU_ATTR_MAX);
			if (!attr_str(tb[TCMU_ATTR_DEVICE], name, sizeof(name)) ||
			    !strstr(name, opt.dev) ||
			    !attr_get(tb[TCMU_ATTR_DEVICE_ID], &nl.dev_id,
				      sizeof(nl.dev_id)))
				continue;
			nl.have_id = true;
			return true;
		}
	}
	return false;
}

static uint32_t nl_some_id(void)
{
	return nl.have_id && chance(60) ? nl.dev_id + rnd(2) : (uint32_t)rnd64();
}

static int32_t nl_garbage_status(void)
{
	switch (rnd(5)) {
	case 0: return 1 + (int32_t)rnd(100);
	case 1: return INT32_MIN;
	case 2: return -(int32_t)rnd(5000);
	case 3: return INT32_MAX;
	default: return -EINVAL;
	}
}

/*
 * Messages nobody asked for, and malformed ones: each must be refused.
 * Returns whether the kernel acked them.
 */
static bool nl_junk(void)
{
	uint8_t cmd = TCMU_CMD_ADDED_DEVICE_DONE + rnd(3);
	struct nl_msg m;
	uint8_t raw[8];
	unsigned int i;
	int ret;

	switch (rnd(5)) {
	case 0:	/* a reply to nothing */
		ret = nl_send_done(cmd, true, nl_some_id(), true,
				   nl_garbage_status());
		break;
	case 1:	/* a reply without its attributes */
		ret = nl_send_done(cmd, chance(50), nl_some_id(), chance(50), 0);
		break;
	case 2:	/* attributes of the wrong size */
		msg_init(&m, nl.family, cmd, NL_VERSION);
		for (i = 0; i < sizeof(raw); i++)
			raw[i] = (uint8_t)rnd(256);
		msg_put(&m, TCMU_ATTR_DEVICE_ID, raw, rnd(4));
		msg_put(&m, TCMU_ATTR_CMD_STATUS, raw, rnd(8));
		ret = genl_request(&nl.req, &m, NULL, 0);
		break;
	case 3:	/* commands the family does not have, or only sends */
		ret = nl_send_done((uint8_t)(chance(50) ? rnd(4) : 8 + rnd(248)),
				   true, nl_some_id(), true, 0);
		break;
	default: /* feature flags flapping */
		ret = nl_set_features(chance(80) ? 1 : (uint8_t)rnd(256));
		if (nl_acked(ret))
			ret = nl_set_features(1);
		else
			nl_set_features(1);
		break;
	}
	return nl_acked(ret);
}

/*
 * A RECONFIG round: a child process writes dev_config (unchanged) and the
 * kernel waits for our reply, which comes once, twice, late, wrong,
 * with a garbage status, or never (then the child is killed, or netlink
 * is reset).  The child's write must end, with success or an errno.
 * Returns whether the round was effective: the event arrived and the
 * reply (the last one, if several) was acked, or never sent on purpose.
 */
static bool nl_round(void)
{
	int how = (int)rnd(6), status, ret;
	bool event, done = true;
	pid_t pid;
	int i;

	pid = fork();
	if (pid < 0)
		return false;
	if (!pid) {
		int fd;
		char path[640];

		snprintf(path, sizeof(path), "%s/attrib/dev_config", d.cfs);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			_exit(100);
		ret = (int)write(fd, nl.dev_config, strlen(nl.dev_config));
		/* a status the kernel passed through would show here */
		if (ret < 0)
			_exit(errno > 0 && errno < 4096 ? 1 : 101);
		_exit(ret == (int)strlen(nl.dev_config) ? 0 : 102);
	}
	event = nl_wait_event(3000);
	if (!event) {
		dbg("netlink: no RECONFIG event");
		stats_nl_no_event++;
		how = 5;	/* never */
	}
	switch (how) {
	case 0:
		ret = nl_send_done(TCMU_CMD_RECONFIG_DEVICE_DONE, true, nl.dev_id,
				   true, 0);
		done = nl_acked(ret);
		break;
	case 1:	/* twice */
		nl_send_done(TCMU_CMD_RECONFIG_DEVICE_DONE, true, nl.dev_id, true, 0);
		ret = nl_send_done(TCMU_CMD_RECONFIG_DEVICE_DONE, true, nl.dev_id,
				   true, nl_garbage_status());
		done = nl_acked(ret);
		break;
	case 2:	/* the wrong command first, then the right one */
		nl_send_done(TCMU_CMD_ADDED_DEVICE_DONE + rnd(2), true, nl.dev_id,
			     true, 0);
		ret = nl_send_done(TCMU_CMD_RECONFIG_DEVICE_DONE, true, nl.dev_id,
				   true, 0);
		done = nl_acked(ret);
		break;
	case 3:	/* a status that is no errno */
		ret = nl_send_done(TCMU_CMD_RECONFIG_DEVICE_DONE, true, nl.dev_id,
				   true, nl_garbage_status());
		done = nl_acked(ret);
		break;
	case 4:	/* late */
		usleep(1000 * rnd(500));
		ret = nl_send_done(TCMU_CMD_RECONFIG_DEVICE_DONE, true, nl.dev_id,
				   true, 0);
		done = nl_acked(ret);
		break;
	default: /* never: kill the writer, or reset netlink */
		usleep(1000 * rnd(300));
		if (chance(50)) {
			kill(pid, SIGKILL);
			stats_nl_killed += event;
		} else {
			write_param("block_netlink", "1");
			write_param("reset_netlink", "1");
			write_param("block_netlink", "0");
			stats_nl_reset += event;
		}
		break;
	}
	done = done && event;
	stats_nl_rounds += done;
	/* the writer must be done within 5 s whatever we did */
	for (i = 0; i < 500; i++) {
		ret = waitpid(pid, &status, WNOHANG);
		if (ret == pid)
			break;
		usleep(10000);
	}
	if (ret != pid) {
		info("netlink: dev_config writer hangs after reply kind %d (iteration %lu)",
		     how, cur_iter);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		exit(4);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) > 100) {
		info("netlink: dev_config write: bad status %d after reply kind %d (iter %lu)",
		     WEXITSTATUS(status), how, cur_iter);
		exit(4);
	}
	return done;
}

static void a_netlink(void)
{
	if (!nl.up)
		return;
	if (chance(50))
		effective[K_NL_JUNK] += nl_junk();
	else
		effective[K_NL_ROUND] += nl_round();
}

/* Repair a broken device the way an administrator would. */
static int recover(void)
{
	char state[32];

	cfs_write("action/block_dev", "1");
	cfs_write("action/reset_ring", chance(50) ? "1" : "2");
	cfs_write("action/block_dev", "0");
	/* reset_ring zeroed head and tail: start again from 0 */
	d.tail = 0;
	dev_state(state, sizeof(state));
	stats_recovered++;
	return strcmp(state, "ok") ? -1 : 0;
}

static struct {
	const char *name;
	unsigned int weight;
} actions[] = {
	{ "honest", 40 }, { "cmd_tail", 4 }, { "unknown_id", 4 },
	{ "twice", 4 }, { "len_op", 4 }, { "response", 6 }, { "request", 4 },
	{ "kick_storm", 3 }, { "mailbox", 3 }, { "race", 3 }, { "touch", 3 },
	{ "mappings", 4 }, { "reopen", 2 }, { "free_kept_buf", 2 },
	{ "recover", 2 }, { "ring", 3 }, { "netlink", 3 },
};

static unsigned int pick(void)
{
	unsigned int total = 0, r, i;

	for (i = 0; i < ARRAY_SIZE(actions); i++)
		total += actions[i].weight;
	r = rnd(total);
	for (i = 0; r >= actions[i].weight; i++)
		r -= actions[i].weight;
	return i;
}

/*
 * The victim's IO is sparse (sd's error handling, commands held on a
 * broken ring): an attack on an entry often finds no posted command even
 * after wait_posted().  It is deferred then, and a later honest turn
 * that finds posted commands runs it instead: always while some entry
 * attack has not yet reached the kernel (that one first), else half of
 * those turns.
 */
static unsigned int deferred;	/* bit a: entry attack a waits */
static unsigned long stats_deferred;

/* How long each entry attack may wait for its turn after the run */
#define TOPUP_MS	30000
static unsigned long stats_topup;

/* the entry attacks: actions 2 to 6, counted as the kinds of that number */
static bool on_entry(unsigned int a)
{
	_Static_assert(K_UNKNOWN_ID == 2 && K_REQUEST == 6, "entry kinds");
	return a >= 2 && a <= 6;
}

/* The deferred entry attack to run now, or 0 */
static unsigned int take_deferred(void)
{
	unsigned int a;

	for (a = 2; on_entry(a); a++)
		if ((deferred & (1u << a)) && !effective[a])
			goto take;
	if (!chance(50))
		return 0;
	for (a = 2; on_entry(a); a++)
		if (deferred & (1u << a))
			goto take;
	return 0;
take:
	deferred &= ~(1u << a);
	return a;
}

static void act(unsigned int a)
{
	unsigned long before = on_entry(a) ? effective[a] : 0;

	switch (a) {
	case 0:
		effective[K_HONEST] += complete(1 + rnd(64), NULL, NULL) && live;
		break;
	case 1:
		effective[K_CMD_TAIL] += a_tail();
		break;
	case 2:
		effective[K_UNKNOWN_ID] += mangle_some(1 + rnd(4), m_unknown_id);
		break;
	case 3:
		effective[K_TWICE] += a_twice();
		break;
	case 4:
		effective[K_LEN_OP] += mangle_some(1 + rnd(4), m_len_op);
		break;
	case 5:
		effective[K_RESPONSE] += mangle_some(1 + rnd(8), m_response);
		break;
	case 6:
		effective[K_REQUEST] += mangle_some(1 + rnd(8), m_request);
		break;
	case 7:
		effective[K_KICK_STORM] += a_kick_storm();
		break;
	case 8:
		effective[K_MAILBOX] += a_mailbox();
		break;
	case 9:
		effective[K_RACE] += a_race();
		break;
	case 10:
		effective[K_TOUCH] += a_touch();
		break;
	case 11:
		a_mappings();	/* counts its own kinds */
		break;
	case 12:
		effective[K_REOPEN] += a_reopen();
		break;
	case 13:
		effective[K_FREE_KEPT_BUF] += a_free_kept_buf();
		break;
	case 14:
		effective[K_RECOVER] += !recover();
		break;
	case 15:
		if (chance(50))
			effective[K_RING_TOUCH] += a_ring_touch();
		else
			effective[K_RING_MREMAP] += a_ring_mremap();
		break;
	default:
		a_netlink();	/* counts its own kinds */
		break;
	}
	if (on_entry(a) && live && effective[a] == before)
		deferred |= 1u << a;
}

static void usage(void)
{
	fprintf(stderr,
		"Usage: tcmu-fuzz --dev NAME [--seed N] [--iterations N] [--seconds N]\n"
		"                 [--netlink] [--verbose]\n"
		"  --iterations 0 with --seconds: run for that long\n"
		"  --netlink: also answer the TCM-USER netlink family, badly\n");
	exit(1);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { 0 };
	char state[32];
	time_t end;
	unsigned long i;
	unsigned int a;
	int k;

	opt.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--dev") && k + 1 < argc)
			opt.dev = argv[++k];
		else if (!strcmp(argv[k], "--seed") && k + 1 < argc)
			opt.seed = strtoull(argv[++k], NULL, 0);
		else if (!strcmp(argv[k], "--iterations") && k + 1 < argc)
			opt.iterations = strtoul(argv[++k], NULL, 0);
		else if (!strcmp(argv[k], "--seconds") && k + 1 < argc)
			opt.seconds = strtoul(argv[++k], NULL, 0);
		else if (!strcmp(argv[k], "--netlink"))
			opt.netlink = true;
		else if (!strcmp(argv[k], "--verbose"))
			opt.verbose = true;
		else
			usage();
	}
	if (!opt.dev || (!opt.iterations && !opt.seconds))
		usage();
	log_verbose = opt.verbose;
	if (!opt.netlink)
		actions[15].weight = 0;	/* the seeds of older runs stay good */
	rng_state = opt.seed ? opt.seed : 1;
	printf("tcmu-fuzz: seed=%" PRIu64 " iterations=%lu seconds=%lu ",
	       opt.seed, opt.iterations, opt.seconds);
	printf("netlink=%d dev=%s\n", opt.netlink, opt.dev);
	fflush(stdout);
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (open_dev())
		return 1;
	if (opt.netlink && nl_setup())
		return 1;

	end = time(NULL) + (time_t)opt.seconds;
	for (i = 0; !opt.iterations || i < opt.iterations; i++) {
		if (opt.seconds && time(NULL) >= end)
			break;
		wait_kick(1 + rnd(20));
		a = pick();
		dev_state(state, sizeof(state));
		live = !strcmp(state, "ok");
		if (!a && deferred && live && get_head() != d.tail) {
			a = take_deferred();
			stats_deferred += !!a;
		}
		cur_action = (int)a;
		cur_iter = i;
		stats_action[a]++;
		dbg("%lu: %s", i, actions[a].name);
		act(a);
		if (!d.map && open_dev())
			return 2;
		if (i % 16 == 0) {
			dev_state(state, sizeof(state));
			if (!strcmp(state, "broken")) {
				stats_broken++;
				if (recover())
					dbg("still %s after recovery", state);
			}
		}
	}

	/*
	 * An entry attack needs a command posted on a live ring, and the
	 * victim's IO may stall behind sd's error handling for most of a
	 * run: a kind that never found one gets turns now, on a repaired
	 * ring, until it does or TOPUP_MS pass, so that whether it reached
	 * the kernel is not left to chance.
	 */
	for (a = 2; on_entry(a); a++) {
		struct timespec t0;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (!effective[a] && ms_since(&t0) < TOPUP_MS) {
			dev_state(state, sizeof(state));
			if (strcmp(state, "ok") && recover())
				break;
			live = true;
			wait_posted(1000);
			stats_topup++;
			dbg("top-up: %s", actions[a].name);
			act(a);
			if (!d.map && open_dev())
				return 2;
		}
	}

	/* leave the device healthy, with nothing of ours on the ring */
	nl_teardown();
	if (recover()) {
		dev_state(state, sizeof(state));
		info("device is %s after the final recovery", state);
		return 2;
	}
	printf("tcmu-fuzz: done seed=%" PRIu64 " iterations=%lu completed=%lu ",
	       opt.seed, i, stats_completed);
	printf("broken=%lu recovered=%lu sigbus=%lu racer_sigbus=%lu ",
	       stats_broken, stats_recovered, stats_sigbus, racer_sigbus);
	printf("nl_rounds=%lu nl_killed=%lu nl_reset=%lu ",
	       stats_nl_rounds, stats_nl_killed, stats_nl_reset);
	printf("nl_no_event=%lu not_refused=%lu deferred=%lu topup=%lu\n",
	       stats_nl_no_event, stats_not_refused, stats_deferred,
	       stats_topup);
	for (a = 0; a < ARRAY_SIZE(actions); a++)
		printf("  %s=%lu", actions[a].name, stats_action[a]);
	printf("\n");
	/* one line, key=value, for the test to check that each kind ran */
	printf("tcmu-fuzz: effective");
	for (k = 0; k < NR_KINDS; k++)
		printf(" %s=%lu", kind_names[k], effective[k]);
	printf("\n");
	munmap(d.map, d.map_size);
	close(d.fd);
	if (stats_not_refused) {
		printf("tcmu-fuzz: FAIL: the driver allowed %lu things it must refuse ",
		       stats_not_refused);
		printf("(seed %" PRIu64 ")\n", opt.seed);
		return 5;
	}
	return 0;
}
