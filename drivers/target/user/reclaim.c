// SPDX-License-Identifier: GPL-2.0
/*
 * Reclaim: the driver's one page pool (pool.c) and who gives its pages
 * back, when.
 *
 * DOC: reclaim
 *
 * Pages come back three ways, all decided in tcmu_reclaim_trim().  While
 * the pool is under pressure (someone waits, or the limit was lowered
 * below use), a device trims its cached blocks as soon as its handler
 * completes commands, so busy devices feed the waiters.  The pool work
 * trims devices that are idle (nothing in flight, nothing waiting)
 * whenever the pool is short.  And a device idle for reclaim_idle_ms
 * gives its pages back even when nobody is short.  Blocks that belong to
 * a command, including KEEP_BUF and timed-out ones the handler may still
 * use, are never freed; cached blocks lose their handler PTEs before
 * their pages go (see data_area.c).  When cached pages are not enough, a
 * device above its share gives back the pages of buffers target core no
 * longer waits for (tcmu_revoke_orphans()).
 *
 * The pool work runs on its own unbound WQ_MEM_RECLAIM workqueue rather
 * than a dedicated kthread: it sleeps on device mutexes and in
 * unmap_mapping_range(), needs no CPU of its own, and must make progress
 * when memory is short because the pages it frees let IO complete, which
 * is what WQ_MEM_RECLAIM's rescuer guarantees.  It is idle unless kicked.
 */
#include <linux/debugfs.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/workqueue.h>
#include "tcmu.h"

struct tcmu_pool tcmu_pool;
/* the configured devices; tcmu_devices_lock, see the lock rules */
static DEFINE_MUTEX(tcmu_devices_lock);
static LIST_HEAD(tcmu_devices);
static unsigned int tcmu_nr_devices;	/* read without the lock too */
/* reclaim_idle_ms, in ms; 0: only when pages are short.  WRITE_ONCE */
static unsigned int tcmu_idle_ms;
static struct delayed_work tcmu_idle_work;

/* What tcmu_reclaim_trim() did */
enum tcmu_trim {
	TCMU_TRIM_NONE,		/* nothing cached, or not to give back now */
	TCMU_TRIM_DONE,		/* trimmed: nothing cached is left */
	TCMU_TRIM_MORE,		/* trimmed a pass: cached blocks are left */
	TCMU_TRIM_LATER,	/* idle, not for long enough yet */
};

/**
 * tcmu_reclaim_trim - give back @udev's cached and ring pages if it is time
 * @udev: the device, under its reap_lock
 * @reaped: its handler just completed commands
 * @min_idle: how long an idle device keeps its pages while nobody is
 *	short, in jiffies; 0: as long as nobody is short
 * @due: set when that time is still to come (TCMU_TRIM_LATER)
 *
 * The one decision of when pages go back.  Pages are short: at once after
 * a reap, and from an idle device.  Otherwise only from a device idle for
 * @min_idle.  One pass (TCMU_TRIM_PASS batches) at a time: the caller
 * shares its work with other devices.  Ring pages (not the pool's) go
 * with the cached pages of an idle device, and from a device idle for
 * @min_idle when pages are not short.
 *
 * Return: what it did.
 */
static enum tcmu_trim tcmu_reclaim_trim(struct tcmu_dev *udev, bool reaped,
					unsigned long min_idle,
					unsigned long *due)
{
	bool cached, ring;

	lockdep_assert_held(&udev->reap_lock);
	if (!udev->mb)
		return TCMU_TRIM_NONE;
	cached = tcmu_da_has_cached(&udev->da);
	ring = tcmu_ring_has_pages(udev);
	if (!cached && !ring)
		return TCMU_TRIM_NONE;
	if (cached && tcmu_pool_pressure(udev->da.pool)) {
		if (!reaped && !tcmu_dev_idle(udev))
			return TCMU_TRIM_NONE;
	} else {
		if (!min_idle || !tcmu_dev_idle(udev))
			return TCMU_TRIM_NONE;
		*due = udev->idle_since + min_idle;
		if (time_before(jiffies, *due))
			return TCMU_TRIM_LATER;
	}
	if (cached)
		tcmu_da_trim(&udev->da, TCMU_TRIM_PASS);
	/* a busy ring would only make its pages again */
	if (ring && tcmu_dev_idle(udev))
		tcmu_ring_trim(udev);
	return tcmu_da_has_cached(&udev->da) ? TCMU_TRIM_MORE : TCMU_TRIM_DONE;
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
static long tcmu_reclaim_share(struct tcmu_pool *pool)
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
	unsigned long due;
	long excess, freed;

	mutex_lock(&udev->reap_lock);
	if (!udev->mb)
		goto out;
	walk->more |= tcmu_reclaim_trim(udev, false, 0, &due) == TCMU_TRIM_MORE;
	excess = tcmu_dev_held(udev) - tcmu_reclaim_share(pool);
	if (!tcmu_da_has_cached(&udev->da) && excess > 0 &&
	    tcmu_pool_pressure(pool)) {
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
static struct tcmu_dev *tcmu_reclaim_get_first(struct tcmu_pool *pool,
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
static void tcmu_reclaim_serve(struct tcmu_pool *pool)
{
	unsigned int rotations = READ_ONCE(pool->nr_waiters);
	struct tcmu_pool_waiter *w;
	struct tcmu_dev *udev;
	bool head;

	while ((udev = tcmu_reclaim_get_first(pool, &w))) {
		mutex_lock(&udev->reap_lock);
		if (rotations && READ_ONCE(pool->nr_waiters) > 1 &&
		    tcmu_dev_held(udev) > tcmu_reclaim_share(pool)) {
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
 * The pool's work: when pages are short, reclaim from the devices (a
 * bounded amount each); then serve the line.  What a pass left to
 * reclaim is done by the next one, queued while pages are still short.
 */
static void tcmu_reclaim_work_fn(struct work_struct *work)
{
	struct tcmu_pool *pool = container_of(work, struct tcmu_pool, work);
	struct tcmu_dev_walk walk = { .step = tcmu_reclaim_dev };

	if (tcmu_pool_pressure(pool))
		tcmu_walk_devs(&walk);
	tcmu_reclaim_serve(pool);
	if (walk.more && tcmu_pool_pressure(pool))
		tcmu_pool_kick(pool);
}

/* Trim @udev if it has been idle long enough; note when it will be. */
static bool tcmu_trim_idle(struct tcmu_dev *udev, struct tcmu_dev_walk *walk)
{
	unsigned long due;

	mutex_lock(&udev->reap_lock);
	switch (tcmu_reclaim_trim(udev, false, walk->min_idle, &due)) {
	case TCMU_TRIM_LATER:
		if (!walk->next_due || time_before(due, walk->next_due))
			walk->next_due = due;
		break;
	case TCMU_TRIM_MORE:
		/* the rest on the next pass, soon */
		walk->next_due = jiffies;
		break;
	default:
		break;
	}
	mutex_unlock(&udev->reap_lock);
	return true;
}

/* Trims devices idle for reclaim_idle_ms; re-arms for the next one. */
static void tcmu_idle_work_fn(struct work_struct *work)
{
	unsigned int ms = READ_ONCE(tcmu_idle_ms);
	struct tcmu_dev_walk walk = {
		.step = tcmu_trim_idle,
		.min_idle = msecs_to_jiffies(ms),
	};

	if (!ms)
		return;
	tcmu_walk_devs(&walk);
	if (walk.next_due)
		queue_delayed_work(tcmu_pool.wq, &tcmu_idle_work,
				   max_t(long, walk.next_due - jiffies, 1));
}

/**
 * tcmu_reclaim_reaped - after a reap: pages, the queues, idleness
 * @udev: the device, under its reap_lock
 * @reaped: the reap freed ring space
 * @more: the handler completed more than the reap took
 *
 * What a reap freed goes back to the pool's line instead of the device's
 * own cache while pages are short; then what waits on the device is
 * retried.  A device that went idle with cached pages gives them back
 * now under pressure, else after reclaim_idle_ms unless it gets busy
 * again.
 */
void tcmu_reclaim_reaped(struct tcmu_dev *udev, bool reaped, bool more)
{
	unsigned int ms = READ_ONCE(tcmu_idle_ms);
	unsigned long due;

	lockdep_assert_held(&udev->reap_lock);
	if (reaped) {
		tcmu_reclaim_trim(udev, true, 0, &due);
		tcmu_retry_waiting(udev);
	}
	if (more || !tcmu_dev_idle(udev))
		return;
	udev->idle_since = jiffies;
	switch (tcmu_reclaim_trim(udev, false, msecs_to_jiffies(ms), &due)) {
	case TCMU_TRIM_MORE:
		/* the pool work does the rest, a pass at a time */
		tcmu_pool_kick(udev->da.pool);
		break;
	case TCMU_TRIM_LATER:
		queue_delayed_work(tcmu_pool.wq, &tcmu_idle_work,
				   max_t(long, due - jiffies, 1));
		break;
	default:
		break;
	}
}

/* @udev is configured: reclaim walks it from now on. */
void tcmu_reclaim_add(struct tcmu_dev *udev)
{
	mutex_lock(&tcmu_devices_lock);
	list_add_tail(&udev->node, &tcmu_devices);
	WRITE_ONCE(tcmu_nr_devices, tcmu_nr_devices + 1);
	mutex_unlock(&tcmu_devices_lock);
}

/*
 * @udev is going away: off the list, and out of the pool's line, where
 * tcmu_reclaim_get_first() finds it under the same lock.
 */
void tcmu_reclaim_forget(struct tcmu_dev *udev)
{
	mutex_lock(&tcmu_devices_lock);
	list_del_init(&udev->node);
	WRITE_ONCE(tcmu_nr_devices, tcmu_nr_devices - 1);
	tcmu_pool_cancel_wait(udev->da.pool, &udev->da.waiter);
	mutex_unlock(&tcmu_devices_lock);
}

/* A new limit: raised, waiters may fit; lowered, reclaim down to it. */
void tcmu_reclaim_set_max(long max_pages)
{
	tcmu_pool_set_max(&tcmu_pool, max_pages);
}

/*
 * A new period acts at once: the idle walk runs now, trims the devices
 * idle for longer and re-arms itself for the next one due, whether the
 * period was 0 (nothing armed) or longer than the new one.
 */
void tcmu_reclaim_set_idle_ms(unsigned int ms)
{
	WRITE_ONCE(tcmu_idle_ms, ms);
	mod_delayed_work(tcmu_pool.wq, &tcmu_idle_work, 0);
}

static int tcmu_reclaim_pool_show(struct seq_file *m, void *v)
{
	tcmu_pool_show(&tcmu_pool, m);
	seq_printf(m, "reclaim_idle_ms: %u\n", READ_ONCE(tcmu_idle_ms));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(tcmu_reclaim_pool);

/**
 * tcmu_reclaim_init - set up the pool and its reclaim
 * @max_pages: the pool's limit
 * @idle_ms: reclaim_idle_ms
 * @debugfs_dir: where the pool's figures go (file "pool")
 *
 * Return: 0 or -ENOMEM.
 */
int tcmu_reclaim_init(long max_pages, unsigned int idle_ms,
		      struct dentry *debugfs_dir)
{
	struct workqueue_struct *wq;

	wq = alloc_workqueue("tcmu_pool", WQ_UNBOUND | WQ_MEM_RECLAIM, 1);
	if (!wq)
		return -ENOMEM;
	tcmu_pool_init(&tcmu_pool, max_pages, wq, tcmu_reclaim_work_fn);
	tcmu_idle_ms = idle_ms;
	INIT_DELAYED_WORK(&tcmu_idle_work, tcmu_idle_work_fn);
	debugfs_create_file("pool", 0444, debugfs_dir, NULL,
			    &tcmu_reclaim_pool_fops);
	return 0;
}

/* After the backend is unregistered: no device is left. */
void tcmu_reclaim_exit(void)
{
	cancel_delayed_work_sync(&tcmu_idle_work);
	cancel_work_sync(&tcmu_pool.work);
	tcmu_pool_exit(&tcmu_pool);
	destroy_workqueue(tcmu_pool.wq);
	WARN_ON(tcmu_pool_held(&tcmu_pool));
}
