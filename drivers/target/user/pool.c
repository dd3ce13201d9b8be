// SPDX-License-Identifier: GPL-2.0
/*
 * The global data page pool: every device's data area charges its pages
 * here, under one hard limit (module parameter global_max_data_area_mb).
 *
 * DOC: the hard limit
 *
 * A data area charges the pages it is about to allocate before it
 * allocates them, and the charge succeeds only if it keeps the pool's
 * count within the limit (a cmpxchg loop, so concurrent charges cannot
 * together pass it).  The pages that exist are therefore never more than
 * the limit.  A charge that fails puts the device in the pool's FIFO of
 * waiters and its command on the device's qfull queue, where commands
 * wait in order, bounded by qfull_time_out, as they do for ring space.
 * While anyone waits, the first waiter's request is reserved: another
 * device may charge only what leaves enough free pages for it, so pages
 * freed go to the longest waiter first and no device starves, while
 * devices still charge freely as long as the pool has room for all.
 *
 * Pages come back three ways.  While the pool is under pressure (someone
 * waits, or the limit was lowered below use), a device trims its cached
 * blocks as soon as its handler completes commands, so busy devices feed
 * the waiters.  The pool work trims devices that are idle (nothing in
 * flight, nothing waiting) whenever the pool is short.  And a device idle
 * for reclaim_idle_ms gives its pages back even when nobody is short.
 * Blocks that belong to a command, including KEEP_BUF and timed-out ones
 * the handler may still use, are never freed; cached blocks lose their
 * handler PTEs before their pages go (see data_area.c).
 *
 * The pool work runs on its own unbound WQ_MEM_RECLAIM workqueue rather
 * than a dedicated kthread: it sleeps on device mutexes and in
 * unmap_mapping_range(), needs no CPU of its own, and must make progress
 * when memory is short because the pages it frees let IO complete, which
 * is what WQ_MEM_RECLAIM's rescuer guarantees.  It is idle unless kicked.
 */
#include <kunit/visibility.h>
#include <linux/debugfs.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/seq_file.h>
#include <linux/workqueue.h>
#include "tcmu.h"
#define CREATE_TRACE_POINTS
#include "trace.h"

#define TCMU_RECLAIM_IDLE_MS_DEF	5000
#define TCMU_RECLAIM_IDLE_MS_MAX	(24 * 3600 * MSEC_PER_SEC)

struct tcmu_pool tcmu_pool;
static unsigned int tcmu_reclaim_idle_ms = TCMU_RECLAIM_IDLE_MS_DEF;
static struct delayed_work tcmu_idle_work;
/*
 * The pool's work may be queued: from the end of tcmu_pool_global_init()
 * to the start of tcmu_pool_global_exit().  Changes and parameter writes
 * that queue work hold this module's kernel_param_lock (the parameter
 * code takes it around every write), so a write after the module's exit
 * began, before its parameters leave sysfs, finds it false.
 */
static bool tcmu_pool_live;
struct dentry *tcmu_debugfs_dir;

/* How often the limbo of pinned pages is looked at, while it has pages */
#define TCMU_LIMBO_POLL_MS	500

static void tcmu_pool_limbo_fn(struct work_struct *work);

VISIBLE_IF_KUNIT void tcmu_pool_init(struct tcmu_pool *pool, long max_pages,
				     struct workqueue_struct *wq,
				     work_func_t fn)
{
	memset(pool, 0, sizeof(*pool));
	atomic_long_set(&pool->held, 0);
	atomic_long_set(&pool->peak, 0);
	atomic_long_set(&pool->reclaimed, 0);
	pool->max = max_pages;
	spin_lock_init(&pool->lock);
	INIT_LIST_HEAD(&pool->waiters);
	INIT_LIST_HEAD(&pool->limbo);
	pool->wq = wq;
	INIT_WORK(&pool->work, fn);
	INIT_DELAYED_WORK(&pool->limbo_work, tcmu_pool_limbo_fn);
}

/**
 * tcmu_pool_put_page - drop the reference to a charged page
 * @pool: the pool it is charged to
 * @page: a page of ours, mapped nowhere any more (its PTEs are zapped)
 *
 * A page that someone else still holds (a handler pinned it: vmsplice()
 * into a pipe, io_uring fixed buffers, O_DIRECT in flight) cannot be
 * reused by anybody, so it stays charged, in the pool's limbo, until the
 * last other reference is gone.  Nothing can take a new reference to it:
 * it has no PTE left and is in no page cache.
 *
 * Return: true when the page was freed and its charge is the caller's
 * to give back, false when it went to the limbo (still charged).
 */
bool tcmu_pool_put_page(struct tcmu_pool *pool, struct page *page)
{
	if (page_ref_count(page) == 1) {
		put_page(page);
		return true;
	}
	spin_lock(&pool->lock);
	list_add_tail(&page->lru, &pool->limbo);
	WRITE_ONCE(pool->nr_limbo, pool->nr_limbo + 1);
	spin_unlock(&pool->lock);
	queue_delayed_work(pool->wq, &pool->limbo_work,
			   msecs_to_jiffies(TCMU_LIMBO_POLL_MS));
	return false;
}

/* Free the pages of the limbo that only we hold now; uncharge them. */
static void tcmu_pool_limbo_fn(struct work_struct *work)
{
	struct tcmu_pool *pool = container_of(to_delayed_work(work),
					      struct tcmu_pool, limbo_work);
	struct page *page, *tmp;
	LIST_HEAD(freed);
	long n = 0;

	spin_lock(&pool->lock);
	list_for_each_entry_safe(page, tmp, &pool->limbo, lru) {
		if (page_ref_count(page) != 1)
			continue;
		list_move(&page->lru, &freed);
		n++;
	}
	WRITE_ONCE(pool->nr_limbo, pool->nr_limbo - n);
	if (pool->nr_limbo)
		queue_delayed_work(pool->wq, &pool->limbo_work,
				   msecs_to_jiffies(TCMU_LIMBO_POLL_MS));
	spin_unlock(&pool->lock);
	list_for_each_entry_safe(page, tmp, &freed, lru) {
		list_del(&page->lru);
		put_page(page);
	}
	tcmu_pool_uncharge(pool, n);
}

/*
 * The pool goes away: no user is left.  Pages still pinned are left to
 * whoever pins them; they are freed when that reference goes.
 */
VISIBLE_IF_KUNIT void tcmu_pool_exit(struct tcmu_pool *pool)
{
	struct page *page, *tmp;
	long n = 0;

	cancel_delayed_work_sync(&pool->limbo_work);
	list_for_each_entry_safe(page, tmp, &pool->limbo, lru) {
		list_del(&page->lru);
		put_page(page);
		n++;
	}
	pool->nr_limbo = 0;
	atomic_long_sub(n, &pool->held);
}

void tcmu_pool_kick(struct tcmu_pool *pool)
{
	queue_work(pool->wq, &pool->work);
}

/*
 * Take @pages if that keeps the pool within its limit with @reserve
 * pages still free.
 */
static bool tcmu_pool_take(struct tcmu_pool *pool, long pages, long reserve)
{
	long held = atomic_long_read(&pool->held);
	long peak;

	do {
		if (held + pages + reserve > tcmu_pool_max(pool))
			return false;
	} while (!atomic_long_try_cmpxchg(&pool->held, &held, held + pages));

	held += pages;
	peak = atomic_long_read(&pool->peak);
	while (held > peak &&
	       !atomic_long_try_cmpxchg(&pool->peak, &peak, held))
		;
	return true;
}

/* Publish what the first waiter asked for.  Caller holds the lock. */
static void __tcmu_pool_set_head(struct tcmu_pool *pool)
{
	struct tcmu_pool_waiter *first;

	lockdep_assert_held(&pool->lock);
	first = list_first_entry_or_null(&pool->waiters,
					 struct tcmu_pool_waiter, node);
	WRITE_ONCE(pool->head_want, first ? first->want : 0);
}

/* End @w's wait, which got its pages or no longer needs them. */
static void __tcmu_pool_dequeue(struct tcmu_pool *pool,
				struct tcmu_pool_waiter *w, bool served)
{
	u64 waited = ktime_get_ns() - w->since;

	lockdep_assert_held(&pool->lock);
	list_del_init(&w->node);
	WRITE_ONCE(pool->nr_waiters, pool->nr_waiters - 1);
	__tcmu_pool_set_head(pool);
	w->wait_ns += waited;
	pool->wait_ns += waited;
	trace_tcmu_pool_wake(w->name, waited, served);
}

/**
 * tcmu_pool_charge - account @pages a data area is about to allocate
 * @pool: the pool
 * @w: the data area's waiter
 * @pages: how many
 *
 * Return: TCMU_GOT when the pages may be allocated; TCMU_WAIT when the
 * pool cannot give them now: @w is queued and the pool work retries the
 * device once pages are freed; TCMU_FAIL when @pages exceed the whole
 * limit (not queued).
 *
 * Several submitters of one data area may charge at once; whether @w is
 * queued only changes under the pool lock, and a racy look at it outside
 * the lock merely picks the slow path.
 */
enum tcmu_get tcmu_pool_charge(struct tcmu_pool *pool,
			       struct tcmu_pool_waiter *w, long pages)
{
	struct tcmu_pool_waiter *first;
	bool queued = false, more;
	long reserve;

	if (pages > tcmu_pool_max(pool)) {
		trace_tcmu_pool_alloc_fail(w->name, pages, tcmu_pool_held(pool),
					   tcmu_pool_max(pool));
		/* waiting would hold up the line for good */
		tcmu_pool_cancel_wait(pool, w);
		return TCMU_FAIL;
	}
	/* not in line: take what the line's first does not need */
	if (list_empty_careful(&w->node) &&
	    tcmu_pool_take(pool, pages, READ_ONCE(pool->nr_waiters) ?
				       READ_ONCE(pool->head_want) : 0))
		return TCMU_GOT;

	spin_lock(&pool->lock);
	first = list_first_entry_or_null(&pool->waiters,
					 struct tcmu_pool_waiter, node);
	reserve = first && first != w ? first->want : 0;
	if (tcmu_pool_take(pool, pages, reserve)) {
		if (!list_empty(&w->node))
			__tcmu_pool_dequeue(pool, w, true);
		more = pool->nr_waiters;
		spin_unlock(&pool->lock);
		/* the next in line may fit as well */
		if (more)
			tcmu_pool_kick(pool);
		return TCMU_GOT;
	}
	w->want = pages;
	if (list_empty(&w->node)) {
		list_add_tail(&w->node, &pool->waiters);
		WRITE_ONCE(pool->nr_waiters, pool->nr_waiters + 1);
		w->since = ktime_get_ns();
		w->waits++;
		pool->waits++;
		queued = true;
		trace_tcmu_pool_wait(w->name, pages, pool->nr_waiters);
	}
	__tcmu_pool_set_head(pool);
	spin_unlock(&pool->lock);
	trace_tcmu_pool_alloc_fail(w->name, pages, tcmu_pool_held(pool),
				   tcmu_pool_max(pool));
	/*
	 * A new waiter kicks the work itself: pages freed between the
	 * failed take and the enqueue saw no waiter and kicked nobody.
	 */
	if (queued)
		tcmu_pool_kick(pool);
	return TCMU_WAIT;
}

void tcmu_pool_uncharge(struct tcmu_pool *pool, long pages)
{
	if (!pages)
		return;
	atomic_long_sub(pages, &pool->held);
	/* pairs with the waiter's enqueue under the lock */
	smp_mb__after_atomic();
	if (READ_ONCE(pool->nr_waiters))
		tcmu_pool_kick(pool);
}

/*
 * Charge @pages if they fit now, leaving the first waiter's request
 * free; never waits or queues.  For short-lived pages whose user has
 * another way to go when the pool is short.
 */
bool tcmu_pool_try_charge(struct tcmu_pool *pool, long pages)
{
	if (!pages)
		return true;
	return tcmu_pool_take(pool, pages, READ_ONCE(pool->nr_waiters) ?
				     READ_ONCE(pool->head_want) : 0);
}

/* @w no longer needs pages (its queue emptied, or it is going away). */
void tcmu_pool_cancel_wait(struct tcmu_pool *pool, struct tcmu_pool_waiter *w)
{
	bool kick = false;

	spin_lock(&pool->lock);
	if (!list_empty(&w->node)) {
		kick = list_first_entry(&pool->waiters,
					struct tcmu_pool_waiter, node) == w;
		__tcmu_pool_dequeue(pool, w, false);
		kick &= pool->nr_waiters > 0;
	}
	spin_unlock(&pool->lock);
	/* it was first in line: the next one may fit now */
	if (kick)
		tcmu_pool_kick(pool);
}

/* A waiter's waits and time waited (ms), the current wait included */
void tcmu_pool_waiter_stats(struct tcmu_pool *pool, struct tcmu_pool_waiter *w,
			    u64 *waits, u64 *wait_ms)
{
	u64 ns;

	spin_lock(&pool->lock);
	*waits = w->waits;
	ns = w->wait_ns;
	if (!list_empty(&w->node))
		ns += ktime_get_ns() - w->since;
	spin_unlock(&pool->lock);
	*wait_ms = div_u64(ns, NSEC_PER_MSEC);
}

static struct tcmu_pool_waiter *tcmu_pool_first_waiter(struct tcmu_pool *pool)
{
	struct tcmu_pool_waiter *w;

	spin_lock(&pool->lock);
	w = list_first_entry_or_null(&pool->waiters, struct tcmu_pool_waiter,
				     node);
	spin_unlock(&pool->lock);
	return w;
}

static void tcmu_pool_set_max(struct tcmu_pool *pool, long max_pages)
{
	WRITE_ONCE(pool->max, max_pages);
	/* raised: waiters may fit; lowered: reclaim down to it */
	tcmu_pool_kick(pool);
}

void tcmu_pool_note_reclaim(struct tcmu_pool *pool, long pages)
{
	atomic_long_add(pages, &pool->reclaimed);
}

/* Would @w's last request fit now? */
static bool tcmu_pool_fits(struct tcmu_pool *pool, struct tcmu_pool_waiter *w)
{
	return READ_ONCE(w->want) <= tcmu_pool_max(pool) - tcmu_pool_held(pool);
}

/* Move @w behind the others in the line. */
static void tcmu_pool_requeue(struct tcmu_pool *pool,
			      struct tcmu_pool_waiter *w)
{
	spin_lock(&pool->lock);
	if (!list_empty(&w->node)) {
		list_move_tail(&w->node, &pool->waiters);
		__tcmu_pool_set_head(pool);
	}
	spin_unlock(&pool->lock);
}

/**
 * struct tcmu_dev_walk - a walk over the devices
 * @step: called for each device; the walk stops when it returns false
 * @min_idle: the idle walk: how long a device must be idle, in jiffies
 * @next_due: the idle walk: when the next device will be, or 0
 * @more: the reclaim walk: some device has work left for another pass
 */
struct tcmu_dev_walk {
	bool (*step)(struct tcmu_dev *udev, struct tcmu_dev_walk *walk);
	unsigned long min_idle;
	unsigned long next_due;
	bool more;
};

/*
 * Call @walk->step on each device once, with a reference and without
 * tcmu_devices_lock, so that one device's work (zaps cost what its
 * handler made them cost: its VMAs, its fragmentation) holds up neither
 * the others' set-up and removal nor this walk's lock.  Devices move to
 * the tail as they are visited.
 */
static void tcmu_walk_devs(struct tcmu_dev_walk *walk)
{
	struct tcmu_dev *udev;
	unsigned int n;
	bool go = true;

	mutex_lock(&tcmu_devices_lock);
	for (n = tcmu_nr_devices; n && go && !list_empty(&tcmu_devices); n--) {
		udev = list_first_entry(&tcmu_devices, struct tcmu_dev, node);
		list_move_tail(&udev->node, &tcmu_devices);
		kref_get(&udev->kref);
		mutex_unlock(&tcmu_devices_lock);
		go = walk->step(udev, walk);
		tcmu_dev_put(udev);
		mutex_lock(&tcmu_devices_lock);
	}
	mutex_unlock(&tcmu_devices_lock);
}

/* Pages a device may hold while others wait for pages */
static long tcmu_pool_share(struct tcmu_pool *pool)
{
	return tcmu_pool_max(pool) / max(READ_ONCE(tcmu_nr_devices), 1U);
}

/*
 * Pages are short: trim @udev if it is idle; once it has nothing cached
 * left and still holds more than its share, take back the pages its
 * handler keeps in buffers target core gave up (tcmu_revoke_orphans()).
 * Each device gets a bounded amount of work per pass; @walk->more says
 * another pass has work left.  The walk goes on while pages are short.
 */
static bool tcmu_reclaim_dev(struct tcmu_dev *udev, struct tcmu_dev_walk *walk)
{
	struct tcmu_pool *pool = udev->da.pool;
	long excess, freed;
	bool cached;

	mutex_lock(&udev->reap_lock);
	if (!udev->mb)
		goto out;
	cached = tcmu_da_has_cached(&udev->da);
	if (cached && tcmu_dev_idle(udev)) {
		tcmu_da_trim(&udev->da, TCMU_TRIM_PASS);
		cached = tcmu_da_has_cached(&udev->da);
		walk->more |= cached;
	}
	excess = tcmu_dev_held(udev) - tcmu_pool_share(pool);
	if (!cached && excess > 0 && tcmu_pool_pressure(pool)) {
		freed = tcmu_revoke_orphans(udev, excess, TCMU_TRIM_BATCH);
		walk->more |= freed && freed < excess;
	}
out:
	mutex_unlock(&udev->reap_lock);
	return tcmu_pool_pressure(pool);
}

/*
 * The first waiter's device, with a reference: a device in the line is
 * alive under tcmu_devices_lock, which its removal takes to leave it.
 */
static struct tcmu_dev *tcmu_pool_get_first(struct tcmu_pool *pool,
					    struct tcmu_pool_waiter **w)
{
	struct tcmu_dev *udev = NULL;

	mutex_lock(&tcmu_devices_lock);
	*w = tcmu_pool_first_waiter(pool);
	if (*w) {
		udev = container_of(*w, struct tcmu_dev, da.waiter);
		kref_get(&udev->kref);
	}
	mutex_unlock(&tcmu_devices_lock);
	return udev;
}

/*
 * Retry the waiting devices in FIFO order until the first one cannot be
 * served.  A device at the head that is not short of pages but of
 * something else (ring space, a blocked device) leaves the line so that
 * it does not hold up the others; it rejoins on its next failed charge.
 * A device at the head that holds more than its share while others wait
 * goes behind them: it is the one refused.
 */
static void tcmu_pool_serve(struct tcmu_pool *pool)
{
	unsigned int rotations = READ_ONCE(pool->nr_waiters);
	struct tcmu_pool_waiter *w;
	struct tcmu_dev *udev;
	bool head;

	while ((udev = tcmu_pool_get_first(pool, &w))) {
		mutex_lock(&udev->reap_lock);
		if (rotations && READ_ONCE(pool->nr_waiters) > 1 &&
		    tcmu_dev_held(udev) > tcmu_pool_share(pool)) {
			rotations--;
			tcmu_pool_requeue(pool, w);
			head = false;
			goto next;
		}
		tcmu_retry_waiting(udev);
		head = tcmu_pool_first_waiter(pool) == w;
		if (head && tcmu_pool_fits(pool, w)) {
			/* pages may have come after its try: once more */
			tcmu_retry_waiting(udev);
			head = tcmu_pool_first_waiter(pool) == w;
			if (head && tcmu_pool_fits(pool, w)) {
				tcmu_pool_cancel_wait(pool, w);
				head = false;
			}
		}
next:
		mutex_unlock(&udev->reap_lock);
		tcmu_dev_put(udev);
		if (head)
			break;
	}
}

/*
 * The pool work: when pages are short, reclaim from the devices (a
 * bounded amount each); then serve the line.  What a pass left to
 * reclaim is done by the next one, queued while pages are still short.
 */
static void tcmu_pool_work_fn(struct work_struct *work)
{
	struct tcmu_pool *pool = container_of(work, struct tcmu_pool, work);
	struct tcmu_dev_walk walk = { .step = tcmu_reclaim_dev };

	if (tcmu_pool_pressure(pool))
		tcmu_walk_devs(&walk);
	tcmu_pool_serve(pool);
	if (walk.more && tcmu_pool_pressure(pool))
		tcmu_pool_kick(pool);
}

/* Trim @udev if it has been idle long enough; note when it will be. */
static bool tcmu_trim_idle(struct tcmu_dev *udev, struct tcmu_dev_walk *walk)
{
	unsigned long due;

	mutex_lock(&udev->reap_lock);
	if (!udev->mb || !tcmu_da_has_cached(&udev->da) ||
	    !tcmu_dev_idle(udev))
		goto out;
	due = udev->idle_since + walk->min_idle;
	if (time_before(jiffies, due)) {
		if (!walk->next_due || time_before(due, walk->next_due))
			walk->next_due = due;
		goto out;
	}
	tcmu_da_trim(&udev->da, TCMU_TRIM_PASS);
	/* the rest on the next pass, soon */
	if (tcmu_da_has_cached(&udev->da))
		walk->next_due = jiffies;
out:
	mutex_unlock(&udev->reap_lock);
	return true;
}

/* Trims devices idle for reclaim_idle_ms; re-arms for the next one. */
static void tcmu_idle_work_fn(struct work_struct *work)
{
	struct tcmu_dev_walk walk = {
		.step = tcmu_trim_idle,
		.min_idle = msecs_to_jiffies(READ_ONCE(tcmu_reclaim_idle_ms)),
	};

	if (!READ_ONCE(tcmu_reclaim_idle_ms))
		return;
	tcmu_walk_devs(&walk);
	if (walk.next_due)
		queue_delayed_work(tcmu_pool.wq, &tcmu_idle_work,
				   max_t(long, walk.next_due - jiffies, 1));
}

/*
 * @udev went idle holding cached pages: under pressure give them back
 * now, else after reclaim_idle_ms unless it gets busy again.  Called
 * under reap_lock.
 */
void tcmu_pool_dev_idle(struct tcmu_dev *udev)
{
	unsigned int ms = READ_ONCE(tcmu_reclaim_idle_ms);

	lockdep_assert_held(&udev->reap_lock);
	udev->idle_since = jiffies;
	if (!tcmu_da_has_cached(&udev->da))
		return;
	if (tcmu_pool_pressure(udev->da.pool)) {
		tcmu_da_trim(&udev->da, TCMU_TRIM_PASS);
		/* the pool work does the rest, a pass at a time */
		if (tcmu_da_has_cached(&udev->da))
			tcmu_pool_kick(udev->da.pool);
	} else if (ms) {
		queue_delayed_work(tcmu_pool.wq, &tcmu_idle_work,
				   msecs_to_jiffies(ms));
	}
}

/* @udev is leaving tcmu_devices: it must not stay in the wait line. */
void tcmu_pool_dev_forget(struct tcmu_dev *udev)
{
	lockdep_assert_held(&tcmu_devices_lock);
	tcmu_pool_cancel_wait(udev->da.pool, &udev->da.waiter);
}

static int tcmu_pool_show(struct seq_file *m, void *v)
{
	struct tcmu_pool *pool = &tcmu_pool;
	unsigned int nr;
	u64 waits, ns;

	spin_lock(&pool->lock);
	nr = pool->nr_waiters;
	waits = pool->waits;
	ns = pool->wait_ns;
	spin_unlock(&pool->lock);
	seq_printf(m, "pages_held: %ld\n", tcmu_pool_held(pool));
	seq_printf(m, "pages_peak: %ld\n", atomic_long_read(&pool->peak));
	seq_printf(m, "pages_max: %ld\n", tcmu_pool_max(pool));
	seq_printf(m, "pages_reclaimed: %ld\n",
		   atomic_long_read(&pool->reclaimed));
	seq_printf(m, "pages_pinned: %ld\n", READ_ONCE(pool->nr_limbo));
	seq_printf(m, "waiters: %u\n", nr);
	seq_printf(m, "waits: %llu\n", waits);
	seq_printf(m, "wait_ms: %llu\n", div_u64(ns, NSEC_PER_MSEC));
	seq_printf(m, "reclaim_idle_ms: %u\n", READ_ONCE(tcmu_reclaim_idle_ms));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(tcmu_pool);

int tcmu_pool_global_init(void)
{
	struct workqueue_struct *wq;

	wq = alloc_workqueue("tcmu_pool", WQ_UNBOUND | WQ_MEM_RECLAIM, 1);
	if (!wq)
		return -ENOMEM;
	/* keeps the limit a parameter write may have set at load time */
	tcmu_pool_init(&tcmu_pool, tcmu_pool.max ? tcmu_pool.max :
		       TCMU_MB_TO_PAGES(TCMU_GLOBAL_MAX_MB_DEF), wq,
		       tcmu_pool_work_fn);
	INIT_DELAYED_WORK(&tcmu_idle_work, tcmu_idle_work_fn);
	tcmu_debugfs_dir = debugfs_create_dir("target_core_user", NULL);
	debugfs_create_file("pool", 0444, tcmu_debugfs_dir, NULL,
			    &tcmu_pool_fops);
	kernel_param_lock(THIS_MODULE);
	tcmu_pool_live = true;
	kernel_param_unlock(THIS_MODULE);
	return 0;
}

/* After the backend is unregistered: no device is left. */
void tcmu_pool_global_exit(void)
{
	kernel_param_lock(THIS_MODULE);
	tcmu_pool_live = false;
	kernel_param_unlock(THIS_MODULE);
	debugfs_remove_recursive(tcmu_debugfs_dir);
	cancel_delayed_work_sync(&tcmu_idle_work);
	cancel_work_sync(&tcmu_pool.work);
	tcmu_pool_exit(&tcmu_pool);
	destroy_workqueue(tcmu_pool.wq);
	WARN_ON(tcmu_pool_held(&tcmu_pool));
}

static int tcmu_param_set_max(const char *val, const struct kernel_param *kp)
{
	unsigned long ram_mb = TCMU_PAGES_TO_MB(totalram_pages());
	unsigned int mb;

	if (kstrtouint(val, 0, &mb) || !mb || mb > ram_mb) {
		pr_err("global_max_data_area_mb: '%s' is not between 1 and %lu (MB of RAM)\n",
		       strim((char *)val), ram_mb);
		return -EINVAL;
	}
	if (tcmu_pool_live)
		tcmu_pool_set_max(&tcmu_pool, TCMU_MB_TO_PAGES(mb));
	else
		tcmu_pool.max = TCMU_MB_TO_PAGES(mb);	/* at load time */
	return 0;
}

static int tcmu_param_get_max(char *buf, const struct kernel_param *kp)
{
	long max = tcmu_pool_max(&tcmu_pool);

	if (!max)
		max = TCMU_MB_TO_PAGES(TCMU_GLOBAL_MAX_MB_DEF);
	return sysfs_emit(buf, "%ld\n", TCMU_PAGES_TO_MB(max));
}

static const struct kernel_param_ops tcmu_max_ops = {
	.set = tcmu_param_set_max,
	.get = tcmu_param_get_max,
};
module_param_cb(global_max_data_area_mb, &tcmu_max_ops, NULL, 0644);
MODULE_PARM_DESC(global_max_data_area_mb,
		 "Hard limit on the data area pages of all devices together, in MB (default 2048)");

static int tcmu_param_get_held(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", tcmu_pool_held(&tcmu_pool));
}

static const struct kernel_param_ops tcmu_held_ops = {
	.get = tcmu_param_get_held,
};
module_param_cb(global_data_pages, &tcmu_held_ops, NULL, 0444);
MODULE_PARM_DESC(global_data_pages,
		 "Pages all devices hold now against the global limit: data area pages, zero-copy bounce pages and kept copies (read only)");

/*
 * A new period acts at once: the idle walk runs now, trims the devices
 * idle for longer and re-arms itself for the next one due, whether the
 * period was 0 (nothing armed) or longer than the new one.
 */
static int tcmu_param_set_idle(const char *val, const struct kernel_param *kp)
{
	int ret = tcmu_param_set_uint_max(val, kp, "reclaim_idle_ms",
					  TCMU_RECLAIM_IDLE_MS_MAX);

	if (!ret && tcmu_pool_live)
		mod_delayed_work(tcmu_pool.wq, &tcmu_idle_work, 0);
	return ret;
}

static const struct kernel_param_ops tcmu_idle_ops = {
	.set = tcmu_param_set_idle,
	.get = param_get_uint,
};
module_param_cb(reclaim_idle_ms, &tcmu_idle_ops, &tcmu_reclaim_idle_ms, 0644);
MODULE_PARM_DESC(reclaim_idle_ms,
		 "A device idle this long gives its cached data pages back, in ms (0: only when pages are short; default 5000)");

#if IS_ENABLED(CONFIG_TCM_USER2_KUNIT_TEST)
#include "tests/pool_kunit.c"
#endif
