// SPDX-License-Identifier: GPL-2.0
/*
 * A data page pool: data areas charge their pages to it, under one hard
 * limit.  The driver has one, for all devices (reclaim.c), whose limit
 * is the module parameter global_max_data_area_mb.
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
 * The pool knows nothing of its users: a charge that cannot be served
 * queues its waiter and kicks the pool's work, which the pool's owner
 * supplies (reclaim.c: trim devices, retry the waiters in order).
 */
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/seq_file.h>
#include <linux/workqueue.h>
#include "tcmu.h"
#define CREATE_TRACE_POINTS
#include "trace.h"

/* How often the limbo of pinned pages is looked at, while it has pages */
#define TCMU_LIMBO_POLL_MS	500

static void tcmu_pool_limbo_fn(struct work_struct *work);

/*
 * @fn is the pool's work, which tcmu_pool_kick() queues on @wq when a
 * waiter may be served: the pool's owner decides how (reclaim.c).
 */
void tcmu_pool_init(struct tcmu_pool *pool, long max_pages,
		    struct workqueue_struct *wq, work_func_t fn)
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
void tcmu_pool_exit(struct tcmu_pool *pool)
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

/* The waiter first in line, NULL if none */
struct tcmu_pool_waiter *tcmu_pool_first_waiter(struct tcmu_pool *pool)
{
	struct tcmu_pool_waiter *w;

	spin_lock(&pool->lock);
	w = list_first_entry_or_null(&pool->waiters, struct tcmu_pool_waiter,
				     node);
	spin_unlock(&pool->lock);
	return w;
}

void tcmu_pool_set_max(struct tcmu_pool *pool, long max_pages)
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
bool tcmu_pool_fits(struct tcmu_pool *pool, struct tcmu_pool_waiter *w)
{
	return READ_ONCE(w->want) <= tcmu_pool_max(pool) - tcmu_pool_held(pool);
}

/* Move @w behind the others in the line. */
void tcmu_pool_requeue(struct tcmu_pool *pool, struct tcmu_pool_waiter *w)
{
	spin_lock(&pool->lock);
	if (!list_empty(&w->node)) {
		list_move_tail(&w->node, &pool->waiters);
		__tcmu_pool_set_head(pool);
	}
	spin_unlock(&pool->lock);
}

/* The pool's figures, one "name: value" a line */
void tcmu_pool_show(struct tcmu_pool *pool, struct seq_file *m)
{
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
}

#if IS_ENABLED(CONFIG_TCM_USER2_KUNIT_TEST)
#include "tests/pool_kunit.c"
#endif
