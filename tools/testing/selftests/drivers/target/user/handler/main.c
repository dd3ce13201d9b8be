// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-test-handler: options, start-up and shutdown order, signal
 * handling, logging and the counters printed on exit.
 *
 * Every thread runs with SIGINT and SIGTERM blocked; the main thread
 * takes them from a signalfd and turns them into a write to stop_fd, an
 * eventfd that all other threads poll and nobody reads, so that once
 * written it stays readable.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "handler.h"

struct options opt = {
	.wait_s = 10,
	.threads = 4,
	.store = STORE_MEM,
	.block_size = 512,
};

struct counters cnt;
int stop_fd = -1;
static int sig_fd = -1;

/* The kernel broke the ring protocol: say what, and stop touching it. */
void die_ring(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line("fatal: ring: ", fmt, ap);
	va_end(ap);
	fflush(NULL);
	_exit(2);
}

void request_stop(void)
{
	uint64_t one = 1;

	if (write(stop_fd, &one, sizeof(one)) != sizeof(one))
		err("stop: %s", strerror(errno));
}

/*
 * Sleep up to @ms milliseconds (-1: forever).  Returns 1 once a stop was
 * requested or a signal arrived, 0 on timeout.
 */
int wait_stop(unsigned int ms)
{
	struct pollfd pfd[2] = {
		{ .fd = sig_fd, .events = POLLIN },
		{ .fd = stop_fd, .events = POLLIN },
	};
	struct signalfd_siginfo si;
	int n;

	n = poll(pfd, 2, ms == -1U ? -1 : (int)ms);
	if (n < 0 && errno != EINTR) {
		err("poll: %s", strerror(errno));
		return 1;
	}
	if (n <= 0)
		return 0;
	if (pfd[0].revents & POLLIN) {
		if (read(sig_fd, &si, sizeof(si)) == sizeof(si))
			info("%s: shutting down", strsignal(si.ssi_signo));
		request_stop();
	}
	return 1;
}

/* Async-signal-safe report of a fault in the shared mapping. */
static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	static const char hex[] = "0123456789abcdef";
	char msg[64] = "fatal: SIGBUS at 0x";
	uintptr_t a = (uintptr_t)si->si_addr;
	size_t n = strlen(msg);
	int i;

	(void)sig;
	(void)uc;
	zc_race_sigbus();
	for (i = (int)sizeof(a) * 2 - 1; i >= 0; i--)
		msg[n++] = hex[(a >> (i * 4)) & 0xf];
	msg[n++] = '\n';
	if (write(STDERR_FILENO, msg, n) < 0)
		_exit(3);
	_exit(3);
}

static int setup_signals(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -1;
	sig_fd = signalfd(-1, &set, SFD_CLOEXEC);
	stop_fd = eventfd(0, EFD_CLOEXEC);
	if (sig_fd < 0 || stop_fd < 0)
		return -1;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL);
}

static void print_counters(void)
{
	static const struct {
		const char *name;
		atomic_ulong *val;
	} all[] = {
		{ "commands", &cnt.commands },
		{ "reads", &cnt.reads },
		{ "writes", &cnt.writes },
		{ "bytes_read", &cnt.bytes_read },
		{ "bytes_written", &cnt.bytes_written },
		{ "failures", &cnt.failures },
		{ "injected", &cnt.injected },
		{ "tmr", &cnt.tmr },
		{ "ooo", &cnt.ooo },
		{ "keep_buf", &cnt.keep_buf },
		{ "hung", &cnt.hung },
		{ "zc", &cnt.zc },
		{ "zc_foreign", &cnt.zc_foreign },
		{ "zc_denied", &cnt.zc_denied },
		{ "zc_allowed", &cnt.zc_allowed },
		{ "zc_changed", &cnt.zc_changed },
		{ "zc_gup_refused", &cnt.zc_gup_refused },
		{ "zc_gup_ok", &cnt.zc_gup_ok },
		{ "zc_dio_refused", &cnt.zc_dio_refused },
		{ "zc_dio_ok", &cnt.zc_dio_ok },
		{ "zc_late", &cnt.zc_late },
		{ "zc_alias_bad", &cnt.zc_alias_bad },
		{ "pinned_pages", &cnt.pinned_pages },
		{ "zc_race", &cnt.zc_race },
		{ "zc_race_bad", &cnt.zc_race_bad },
	};
	size_t i;

	printf("counters:");
	for (i = 0; i < ARRAY_SIZE(all); i++)
		printf(" %s=%lu", all[i].name, atomic_load(all[i].val));
	printf("\n");
}

static void print_help(FILE *f)
{
	fputs("usage: tcmu-test-handler [--dev NAME | --uio /dev/uioN] [options]\n"
	      "       tcmu-test-handler --nl-only [netlink options]\n"
	      "device:\n"
	      "  --dev NAME        serve the TCMU device whose dev_name is NAME\n"
	      "  --uio PATH        serve this UIO device\n"
	      "  --wait SECS       wait this long for the device (default 10)\n"
	      "  --threads N       worker threads (default 4); 0: the ring's\n"
	      "                    reader runs each batch itself, one kick a batch\n"
	      "  --ooo             complete in a random order (needs CAP_OOOC)\n"
	      "  --seed N          random seed for --ooo (default: time)\n"
	      "target:\n"
	      "  --store mem|null  keep data in memory (default) or drop it\n"
	      "  --store file:PATH keep data in PATH, mapped shared (survives restarts)\n"
	      "  --size BYTES      capacity, K/M/G suffixes (default: dev_size)\n"
	      "  --block-size N    logical block size (default 512)\n"
	      "  --wce             report a volatile write cache (WCE=1)\n"
	      "faults:\n"
	      "  --delay-ms N      sleep N ms before completing each command\n"
	      "  --fail-every N    fail every Nth READ/WRITE with MEDIUM ERROR\n"
	      "  --hang            never complete READ/WRITE (needs CAP_OOOC)\n"
	      "  --exit-after N    exit(1) on receiving command N, completing nothing more\n"
	      "  --keep-buf        complete with TCMU_UFLAG_KEEP_BUF, print the ids\n"
	      "  --read-len        complete data-in with TCMU_UFLAG_READ_LEN\n"
	      "  --unknown-op      complete everything with TCMU_UFLAG_UNKNOWN_OP\n"
	      "  --kick-storm      also write() to the UIO fd nonstop, from a thread\n"
	      "  --keep-every N    with --keep-buf: keep only every Nth command's buffer\n"
	      "hostile handler:\n"
	      "  --pin MB          vmsplice WRITE data into a pipe never read, up to MB\n"
	      "  --split N         split the mapping into 2N+1 VMAs with mprotect()\n"
	      "  --fork N          N children that share the mapping until exit\n"
	      "  --fork-after N    fork them once N commands have run (default: at\n"
	      "                    start), so that they copy the populated PTEs\n"
	      "  --zc-mkwrite-race MS\n"
	      "                    race a store into a zero-copy READ buffer, held\n"
	      "                    MS ms in the kernel's write fault, against the\n"
	      "                    slot's reuse by a WRITE (needs a debug module)\n"
	      "zero copy (commands with TCMU_KFLAG_ZERO_COPY):\n"
	      "  --zc-probe        check the bytes beside each buffer are zero; from a\n"
	      "                    forked child, write into WRITE data (must fault);\n"
	      "                    pin buffers with process_vm_readv (must fail)\n"
	      "  --zc-dio PATH     O_DIRECT-write WRITE buffers to PATH (must fail)\n"
	      "  --zc-late MS      wait MS ms, then read and write every buffer, then\n"
	      "                    complete (outlives cmd_time_out: must not fault)\n"
	      "netlink:\n"
	      "  --netlink         answer TCM-USER netlink events\n"
	      "  --nl-only         only answer netlink events, serve no device\n"
	      "  --nl-no-reply     log netlink events, never reply\n"
	      "  --nl-status N     status to put in the *_DONE replies (default 0)\n"
	      "  --nl-delay-ms N   wait N ms before each reply\n"
	      "  --nl-hold FILE    before each reply, wait until FILE exists\n"
	      "                    (at most 60 s)\n"
	      "  --nl-req-id       echo the event's TCMU_ATTR_REQ_ID in the reply\n"
	      "output:\n"
	      "  --quiet           no start-up or tmr: lines\n"
	      "  --verbose         one line per command on stderr\n", f);
}

static int parse_uint(const char *s, unsigned long long max,
		      unsigned long long *val)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*val = strtoull(s, &end, 0);
	if (errno || *end || *val > max)
		return -1;
	return 0;
}

static int parse_size(const char *s, uint64_t *val)
{
	unsigned long long v, mult = 1;
	char buf[64];
	size_t n = strlen(s);

	if (!n || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n + 1);
	switch (buf[n - 1]) {
	case 'k': case 'K':
		mult = 1ULL << 10;
		break;
	case 'm': case 'M':
		mult = 1ULL << 20;
		break;
	case 'g': case 'G':
		mult = 1ULL << 30;
		break;
	}
	if (mult != 1)
		buf[n - 1] = '\0';
	if (parse_uint(buf, UINT64_MAX / mult, &v))
		return -1;
	*val = v * mult;
	return 0;
}

enum {
	OPT_DEV = 256, OPT_UIO, OPT_WAIT, OPT_THREADS, OPT_OOO, OPT_SEED,
	OPT_STORE, OPT_SIZE, OPT_BLOCK_SIZE, OPT_WCE, OPT_DELAY, OPT_FAIL,
	OPT_HANG, OPT_EXIT, OPT_KEEP_BUF, OPT_READ_LEN, OPT_UNKNOWN_OP,
	OPT_NETLINK, OPT_NL_ONLY, OPT_NL_NO_REPLY, OPT_NL_STATUS, OPT_QUIET,
	OPT_VERBOSE, OPT_KICK_STORM, OPT_ZC_PROBE, OPT_ZC_DIO, OPT_ZC_LATE,
	OPT_KEEP_EVERY, OPT_NL_DELAY, OPT_NL_REQ_ID, OPT_PIN, OPT_SPLIT,
	OPT_FORK, OPT_FORK_AFTER, OPT_ZC_RACE, OPT_NL_HOLD, OPT_HELP,
};

static const struct option longopts[] = {
	{ "dev", required_argument, NULL, OPT_DEV },
	{ "uio", required_argument, NULL, OPT_UIO },
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "ooo", no_argument, NULL, OPT_OOO },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "store", required_argument, NULL, OPT_STORE },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "block-size", required_argument, NULL, OPT_BLOCK_SIZE },
	{ "wce", no_argument, NULL, OPT_WCE },
	{ "delay-ms", required_argument, NULL, OPT_DELAY },
	{ "fail-every", required_argument, NULL, OPT_FAIL },
	{ "hang", no_argument, NULL, OPT_HANG },
	{ "exit-after", required_argument, NULL, OPT_EXIT },
	{ "keep-buf", no_argument, NULL, OPT_KEEP_BUF },
	{ "read-len", no_argument, NULL, OPT_READ_LEN },
	{ "unknown-op", no_argument, NULL, OPT_UNKNOWN_OP },
	{ "netlink", no_argument, NULL, OPT_NETLINK },
	{ "nl-only", no_argument, NULL, OPT_NL_ONLY },
	{ "nl-no-reply", no_argument, NULL, OPT_NL_NO_REPLY },
	{ "nl-status", required_argument, NULL, OPT_NL_STATUS },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "kick-storm", no_argument, NULL, OPT_KICK_STORM },
	{ "zc-probe", no_argument, NULL, OPT_ZC_PROBE },
	{ "zc-dio", required_argument, NULL, OPT_ZC_DIO },
	{ "zc-late", required_argument, NULL, OPT_ZC_LATE },
	{ "keep-every", required_argument, NULL, OPT_KEEP_EVERY },
	{ "nl-delay-ms", required_argument, NULL, OPT_NL_DELAY },
	{ "nl-req-id", no_argument, NULL, OPT_NL_REQ_ID },
	{ "nl-hold", required_argument, NULL, OPT_NL_HOLD },
	{ "pin", required_argument, NULL, OPT_PIN },
	{ "split", required_argument, NULL, OPT_SPLIT },
	{ "fork", required_argument, NULL, OPT_FORK },
	{ "fork-after", required_argument, NULL, OPT_FORK_AFTER },
	{ "zc-mkwrite-race", required_argument, NULL, OPT_ZC_RACE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ }
};

static const char *opt_name(int o)
{
	const struct option *lo = longopts;

	while (lo->name && lo->val != o)
		lo++;
	return lo->name;
}

/* Options without an argument, and those that take an unsigned number */
static const struct {
	int val;
	bool *flag;
} flag_opts[] = {
	{ OPT_OOO, &opt.ooo },
	{ OPT_WCE, &opt.wce },
	{ OPT_HANG, &opt.hang },
	{ OPT_KEEP_BUF, &opt.keep_buf },
	{ OPT_READ_LEN, &opt.read_len },
	{ OPT_UNKNOWN_OP, &opt.unknown_op },
	{ OPT_NETLINK, &opt.netlink },
	{ OPT_NL_ONLY, &opt.nl_only },
	{ OPT_NL_NO_REPLY, &opt.nl_no_reply },
	{ OPT_QUIET, &opt.quiet },
	{ OPT_VERBOSE, &opt.verbose },
	{ OPT_KICK_STORM, &opt.kick_storm },
	{ OPT_ZC_PROBE, &opt.zc_probe },
	{ OPT_NL_REQ_ID, &opt.nl_req_id },
};

static const struct {
	int val;
	unsigned int *num;
} num_opts[] = {
	{ OPT_WAIT, &opt.wait_s },
	{ OPT_THREADS, &opt.threads },
	{ OPT_SEED, &opt.seed },
	{ OPT_BLOCK_SIZE, &opt.block_size },
	{ OPT_DELAY, &opt.delay_ms },
	{ OPT_FAIL, &opt.fail_every },
	{ OPT_EXIT, &opt.exit_after },
	{ OPT_ZC_LATE, &opt.zc_late_ms },
	{ OPT_KEEP_EVERY, &opt.keep_every },
	{ OPT_NL_DELAY, &opt.nl_delay_ms },
	{ OPT_PIN, &opt.pin_mb },
	{ OPT_SPLIT, &opt.split },
	{ OPT_FORK, &opt.forks },
	{ OPT_FORK_AFTER, &opt.fork_after },
	{ OPT_ZC_RACE, &opt.zc_race_ms },
};

static int parse_store(const char *arg)
{
	if (!strncmp(arg, "file:", 5) && arg[5]) {
		opt.store = STORE_FILE;
		opt.store_path = arg + 5;
	} else if (!strcmp(arg, "mem")) {
		opt.store = STORE_MEM;
	} else if (!strcmp(arg, "null")) {
		opt.store = STORE_NULL;
	} else {
		return -1;
	}
	return 0;
}

static int parse_opt(int o, const char *arg)
{
	unsigned long long v;
	long long s;
	char *end;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(flag_opts); i++) {
		if (flag_opts[i].val == o) {
			*flag_opts[i].flag = true;
			return 0;
		}
	}
	for (i = 0; i < ARRAY_SIZE(num_opts); i++) {
		if (num_opts[i].val == o) {
			if (parse_uint(arg, UINT32_MAX, &v))
				return -1;
			*num_opts[i].num = (unsigned int)v;
			return 0;
		}
	}
	switch (o) {
	case OPT_DEV:
		opt.dev_name = arg;
		return 0;
	case OPT_UIO:
		opt.uio_path = arg;
		return 0;
	case OPT_NL_HOLD:
		opt.nl_hold = arg;
		return 0;
	case OPT_ZC_DIO:
		opt.zc_dio = arg;
		return 0;
	case OPT_STORE:
		return parse_store(arg);
	case OPT_SIZE:
		return parse_size(arg, &opt.size);
	case OPT_NL_STATUS:
		errno = 0;
		s = strtoll(arg, &end, 0);
		if (errno || !*arg || *end || s < INT32_MIN || s > INT32_MAX)
			return -1;
		opt.nl_status = (int)s;
		opt.netlink = true;
		return 0;
	}
	return -1;
}

static int parse_args(int argc, char **argv)
{
	int o;

	opt.seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (o == OPT_HELP) {
			print_help(stdout);
			exit(0);
		}
		if (o == '?') {
			print_help(stderr);
			return -1;
		}
		if (parse_opt(o, optarg)) {
			err("bad value '%s' for --%s", optarg, opt_name(o));
			return -1;
		}
	}
	if (optind != argc) {
		err("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (opt.nl_only || opt.nl_no_reply || opt.nl_delay_ms || opt.nl_req_id ||
	    opt.nl_hold)
		opt.netlink = true;
	if (opt.keep_every)
		opt.keep_buf = true;
	if (opt.pin_mb > 1024 || opt.split > 16384 || opt.forks > 4096) {
		err("--pin is at most 1024 (MB), --split 16384, --fork 4096");
		return -1;
	}
	if (!opt.nl_only && !opt.dev_name == !opt.uio_path) {
		err("give exactly one of --dev and --uio (or --nl-only)");
		return -1;
	}
	if (opt.threads > 256) {
		err("--threads must be 0..256");
		return -1;
	}
	if (!opt.threads && opt.ooo) {
		err("--ooo needs worker threads (--threads 1 or more)");
		return -1;
	}
	if (opt.block_size < 512 || opt.block_size > 65536 ||
	    (opt.block_size & (opt.block_size - 1))) {
		err("--block-size must be a power of two, 512..65536");
		return -1;
	}
	return 0;
}

static atomic_bool storm_stop;

/*
 * --kick-storm: write() to the UIO fd nonstop, as a handler that kicks
 * with nothing completed, until told to stop or the device goes away.
 */
static void *kick_storm(void *arg)
{
	struct tdev *d = arg;
	unsigned long n = 0;
	uint32_t v = 0;

	for (;;) {
		/*
		 * Told to stop: the reader may have seen the device go
		 * first, so one more kick says whether it has.
		 */
		bool last = atomic_load(&storm_stop);

		if (write(d->fd, &v, sizeof(v)) == sizeof(v)) {
			n++;
			if (last)
				break;
			continue;
		}
		if (errno == EINTR)
			continue;
		info("kick storm: %s after %lu kicks", strerror(errno), n);
		return NULL;
	}
	info("kick storm: stopped after %lu kicks", n);
	return NULL;
}

static int serve(struct tdev *d)
{
	uint64_t size = opt.size;
	pthread_t storm;
	int ret;

	if (uio_open(d))
		return -1;
	if (!size)
		size = uio_configfs_size(d);
	if (!size) {
		err("no --size given and no dev_size in configfs");
		return -1;
	}
	if (size % opt.block_size || size < opt.block_size) {
		err("size %" PRIu64 " is not a multiple of block size %u",
		    size, opt.block_size);
		return -1;
	}
	scsi_init(d, size);
	if (zc_init(d) || store_init(size) || hostile_start(d) ||
	    ring_start(d))
		return -1;
	info("serving %s (%s): %" PRIu64 " bytes, %u byte blocks, %u threads%s",
	     d->name, d->uio_name, size, opt.block_size, opt.threads,
	     opt.ooo ? ", out of order" : "");
	if (opt.kick_storm) {
		ret = pthread_create(&storm, NULL, kick_storm, d);
		if (ret) {
			err("kick storm: %s", strerror(ret));
			ring_stop(d);
			return -1;
		}
	}
	while (!wait_stop(-1U))
		;
	if (opt.kick_storm) {
		atomic_store(&storm_stop, true);
		pthread_join(storm, NULL);
	}
	ring_stop(d);
	hostile_stop();
	print_counters();
	return 0;
}

int main(int argc, char **argv)
{
	struct tdev dev = { .fd = -1 };
	int ret = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (parse_args(argc, argv))
		return 1;
	log_quiet = opt.quiet;
	log_verbose = opt.verbose;
	if (setup_signals()) {
		err("signals: %s", strerror(errno));
		return 1;
	}
	if (opt.netlink && nl_start(opt.dev_name))
		return 1;

	if (opt.nl_only) {
		while (!wait_stop(-1U))
			;
	} else if (serve(&dev)) {
		ret = 1;
	}

	request_stop();
	if (opt.netlink)
		nl_stop();
	uio_close(&dev);
	store_exit();
	return ret;
}
