/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcmu-test-handler: shared declarations.
 *
 * The handler is split by responsibility:
 *   main.c     options, start-up, signals, shutdown, logging, counters
 *   uio.c      finding, opening and mapping the UIO device; the mailbox
 *   ring.c     the reader thread and the completion path (ring protocol)
 *   worker.c   the worker pool and the fault options
 *   scsi.c     the SCSI target: dispatch, sense, the primary commands
 *   sbc.c      the block commands
 *   xcopy.c    EXTENDED COPY and RECEIVE COPY RESULTS
 *   store.c    the backing stores and iovec data movement
 *   netlink.c  the generic netlink responder ("TCM-USER")
 *   hostile.c  what a hostile handler does to the kernel's resources
 */
#ifndef TCMU_TEST_HANDLER_H
#define TCMU_TEST_HANDLER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "../lib/compat.h"
#include "../lib/log.h"

/* Longest CDB the kernel can place in an entry (variable length CDB). */
#define HCMD_CDB_MAX	260

enum store_kind {
	STORE_MEM,	/* data kept in memory: READ returns what was written */
	STORE_FILE,	/* data kept in a shared file mapping: survives restarts */
	STORE_NULL,	/* data never touched: measures the kernel only */
};

struct options {
	const char *dev_name;	/* --dev: dev_name part of the UIO name */
	const char *uio_path;	/* --uio: /dev/uioN */
	unsigned int wait_s;	/* --wait: for the device, in seconds */
	unsigned int threads;	/* --threads: worker threads */
	bool ooo;		/* --ooo: randomised completion order */
	enum store_kind store;	/* --store */
	const char *store_path;	/* --store file:PATH */
	uint64_t size;		/* --size: in bytes, 0 = from configfs */
	unsigned int block_size; /* --block-size: in bytes */
	bool wce;		/* --wce: caching page WCE bit */
	unsigned int delay_ms;	/* --delay-ms: per command, in ms */
	unsigned int fail_every; /* --fail-every: every Nth READ/WRITE */
	bool hang;		/* --hang: never complete READ/WRITE */
	unsigned int exit_after; /* --exit-after: crash at command N */
	bool keep_buf;		/* --keep-buf: TCMU_UFLAG_KEEP_BUF */
	bool read_len;		/* --read-len: TCMU_UFLAG_READ_LEN */
	bool unknown_op;	/* --unknown-op: TCMU_UFLAG_UNKNOWN_OP */
	bool netlink;		/* --netlink: run the netlink responder */
	bool nl_only;		/* --nl-only: netlink responder only */
	bool nl_no_reply;	/* --nl-no-reply: log events, never reply */
	int nl_status;		/* --nl-status: status in *_DONE replies */
	bool quiet;		/* --quiet: no start-up or TMR lines */
	bool verbose;		/* --verbose: one line per command */
	bool kick_storm;	/* --kick-storm: kick the UIO fd nonstop */
	bool zc_probe;		/* --zc-probe: poke at zero-copy buffers */
	const char *zc_dio;	/* --zc-dio: O_DIRECT probe target */
	unsigned int zc_late_ms; /* --zc-late: touch zero-copy data late */
	unsigned int seed;	/* --seed: for --ooo */
	unsigned int keep_every; /* --keep-every: KEEP_BUF every Nth only */
	unsigned int nl_delay_ms; /* --nl-delay-ms: before each reply */
	const char *nl_hold;	/* --nl-hold: reply once this file exists */
	bool nl_req_id;		/* --nl-req-id: echo TCMU_ATTR_REQ_ID */
	unsigned int pin_mb;	/* --pin: vmsplice WRITE data, up to MB */
	unsigned int split;	/* --split: mprotect-split the mapping */
	unsigned int forks;	/* --fork: children that share the mapping */
	unsigned int fork_after; /* --fork-after: once N commands ran */
	unsigned int zc_race_ms; /* --zc-mkwrite-race: debug delay, ms */
};

extern struct options opt;

/* Totals printed on exit; updated with relaxed atomics. */
struct counters {
	atomic_ulong commands;		/* CMD entries received */
	atomic_ulong reads;		/* READ commands executed */
	atomic_ulong writes;		/* WRITE commands executed */
	atomic_ulong bytes_read;	/* READ payload bytes */
	atomic_ulong bytes_written;	/* WRITE payload bytes */
	atomic_ulong failures;		/* completed with CHECK CONDITION */
	atomic_ulong injected;		/* of which from --fail-every */
	atomic_ulong tmr;		/* TMR entries seen */
	atomic_ulong ooo;		/* completed into another's slot */
	atomic_ulong keep_buf;		/* completed with KEEP_BUF */
	atomic_ulong hung;		/* parked by --hang */
	atomic_ulong zc;		/* TCMU_KFLAG_ZERO_COPY commands */
	atomic_ulong zc_foreign;	/* non-zero bytes beside a zc iovec */
	atomic_ulong zc_denied;		/* write to WRITE data faulted */
	atomic_ulong zc_allowed;	/* write to WRITE data went through */
	atomic_ulong zc_changed;	/* WRITE data changed by the probe */
	atomic_ulong zc_gup_refused;	/* process_vm_readv refused */
	atomic_ulong zc_gup_ok;		/* process_vm_readv pinned it */
	atomic_ulong zc_dio_refused;	/* O_DIRECT write refused */
	atomic_ulong zc_dio_ok;		/* O_DIRECT write went through */
	atomic_ulong zc_late;		/* touched after --zc-late */
	atomic_ulong zc_alias_bad;	/* second mapping showed other data */
	atomic_ulong pinned_pages;	/* pages --pin holds in its pipe */
	atomic_ulong zc_race;		/* --zc-mkwrite-race rounds run */
	atomic_ulong zc_race_bad;	/* its store reached WRITE data */
};

extern struct counters cnt;

static inline void count(atomic_ulong *c, unsigned long n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/*
 * Copy from the shared mapping.  The compiler barrier keeps later code
 * from reading the mapping again in place of the copy that was checked.
 */
static inline void shm_copy(void *dst, const void *src, size_t len)
{
	memcpy(dst, src, len);
	__asm__ volatile("" ::: "memory");
}

/* One SCSI command, copied out of the ring before anything uses it. */
struct hcmd {
	struct hcmd *next;	/* worker queue; completion batch */
	struct hcmd *order_next; /* in-order completion list */
	uint32_t slot;		/* ring offset of the entry it came in */
	uint16_t id;		/* hdr.cmd_id */
	bool done;		/* executed, waiting for in-order completion */
	uint8_t cdb[HCMD_CDB_MAX];
	uint32_t cdb_len;

	/* Filled in by scsi_execute() */
	uint8_t status;		/* SAM status */
	bool unknown;		/* handler did not know the op */
	bool data_in;		/* iovecs were filled for the initiator */
	uint64_t in_len;	/* of which this many bytes are data */
	bool zc;		/* hdr.kflags has TCMU_KFLAG_ZERO_COPY */
	bool kept;		/* completed with TCMU_UFLAG_KEEP_BUF */
	uint8_t sense[TCMU_SENSE_BUFFERSIZE];

	uint64_t data_len;	/* sum of iov[].iov_len */
	uint32_t iov_cnt;
	struct iovec iov[];	/* validated, pointing into the mapping */
};

/* The UIO device and the state of its ring. */
struct tdev {
	int fd;
	unsigned int uio_index;
	unsigned int hba_id;
	char name[256];			/* dev_name part of the UIO name */
	char uio_name[512];		/* full UIO name */

	uint8_t *map;
	size_t map_size;
	uint16_t caps;			/* TCMU_MAILBOX_FLAG_CAP_* */
	uint32_t cmdr_off;		/* copied from the mailbox, validated */
	uint32_t cmdr_size;
	uint32_t data_off;		/* first byte after the ring */
	uint8_t *cmdr;
	uint32_t *head_p;		/* &mailbox->cmd_head */
	uint32_t *tail_p;		/* &mailbox->cmd_tail */

	/* Set by ring_start() before any thread runs */
	bool ordered;			/* complete in ring order */
	bool keep_buf;			/* --keep-buf, and the kernel has it */
	bool read_len;			/* --read-len, and the kernel has it */

	/* Reader thread only */
	uint32_t pos;			/* next entry to parse */

	/*
	 * cpl_lock protects what the reader publishes and the completion
	 * path consumes: shadow[] below parsed, parsed, tail, busy_ids, the
	 * in-order list and the mailbox's cmd_tail.  It nests inside nothing.
	 */
	pthread_mutex_t cpl_lock;
	uint32_t *shadow;		/* len_op of each parsed entry, by off/8 */
	uint32_t parsed;		/* end of what the reader has parsed */
	uint32_t tail;			/* our cmd_tail */
	uint64_t busy_ids[65536 / 64];	/* cmd_ids received, not completed */
	struct hcmd *order_head;	/* commands in ring order (in-order) */
	struct hcmd *order_tail;

	/* Set when cmd_tail moves; whoever clears it writes to fd */
	atomic_bool kick;
};

/* main.c */
__printf(1, 2) _Noreturn void die_ring(const char *fmt, ...);
void request_stop(void);
int wait_stop(unsigned int ms);
extern int stop_fd;

/* uio.c */
int uio_parse_name(const char *name, unsigned int *hba, char *dev, size_t len);
int uio_open(struct tdev *d);
int uio_configfs_read(const struct tdev *d, const char *attr, char *buf,
		      size_t len);
uint64_t uio_configfs_size(const struct tdev *d);
void uio_close(struct tdev *d);

/* ring.c */
int ring_start(struct tdev *d);
void ring_stop(struct tdev *d);
void ring_complete(struct tdev *d, struct hcmd *c, bool batch);
void ring_kick(struct tdev *d);

/* worker.c */
int workers_start(struct tdev *d);
void workers_queue(struct hcmd *list);
void workers_run(struct hcmd *list);
void workers_stop(void);

/* scsi.c */
void scsi_init(const struct tdev *d, uint64_t size);
bool scsi_is_rw(const struct hcmd *c);
void scsi_execute(struct hcmd *c);

/* zc.c */
int zc_init(const struct tdev *d);
void zc_before(struct hcmd *c);
void zc_after(struct hcmd *c);

/* hostile.c */
int hostile_start(const struct tdev *d);
void hostile_stop(void);
void hostile_after(struct hcmd *c);
bool zc_race_before(struct hcmd *c);
void zc_race_write(struct hcmd *c);
void zc_race_sigbus(void);

/* store.c */
int store_init(uint64_t size);
void store_exit(void);
void store_read(const struct hcmd *c, uint64_t off, uint64_t len);
void store_write(const struct hcmd *c, uint64_t off, uint64_t len);
int64_t store_compare(const struct hcmd *c, uint64_t off, uint64_t len,
		      uint64_t unit);
int64_t store_compare_write(const struct hcmd *c, uint64_t off, uint64_t len);
void store_write_same(const struct hcmd *c, uint64_t off, uint64_t len,
		      uint64_t unit);
void store_unmap(uint64_t off, uint64_t len);
void store_copy(uint64_t dst, uint64_t src, uint64_t len);
bool store_zero(uint64_t off, uint64_t len);
void store_prefetch(uint64_t off, uint64_t len);
void iov_fill(const struct hcmd *c, const void *buf, uint64_t len);
uint64_t iov_read(const struct hcmd *c, uint64_t off, void *dst, uint64_t len);
bool iov_zero(const struct hcmd *c, uint64_t len);

/* netlink.c */
int nl_start(const char *dev_name);
void nl_stop(void);

#endif
