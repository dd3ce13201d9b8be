// SPDX-License-Identifier: GPL-2.0
/*
 * The data area of a device: a large window of the handler's mapping in
 * which no page exists until a command needs it.
 *
 * The area is cut into blocks of blk_pages pages.  A block is in one of
 * four states, kept in two bitmaps under the data area's spinlock:
 *
 *   empty      !populated && !used  no pages
 *   cached      populated && !used  pages kept for reuse
 *   used        populated && used   pages belong to a command
 *   busy       !populated && used   pages being allocated or freed,
 *                                   or revoked (below)
 *
 * Allocating pages and zapping them sleep, so they never happen under
 * the spinlock: the block is made busy under it first, which keeps every
 * other allocation and trim away from it, and its final state is set
 * under it once the pages are in place (or gone).
 *
 * The pages themselves live in an xarray indexed by page number within
 * the area.  Allocation takes cached blocks first (lowest first), so a
 * device keeps reusing the pages it already has, and populates the lowest
 * empty blocks only when no cached block is left.  The pages of new
 * blocks are charged to the global pool, all at once, before any of them
 * is allocated (pool.c): a command gets all its pages or none.
 *
 * DOC: fault versus release
 *
 * The handler's page tables are filled by tcmu_da_fault(), which inserts
 * the PTE itself with vm_insert_page() while holding map_lock for read
 * and after finding the page in the index.  Releasing pages (trim, or a
 * failed allocation) takes map_lock for write, zaps the range from every
 * mapping of the device and only then removes the pages from the index
 * and drops its reference.  A fault therefore either completes its PTE
 * before the release starts, and the zap removes that PTE, or runs after
 * the release, finds no page and gets SIGBUS.  No stale PTE can outlive a
 * release, and a page is never freed while the index still hands it out.
 * A PTE holds its own page reference, so even a handler that pinned a
 * page (O_DIRECT, vmsplice) never sees it freed under it; such a page
 * stays charged to the pool until the pin goes (tcmu_pool_put_page()).
 *
 * DOC: revoked blocks
 *
 * The blocks of a command that target core no longer owns (kept with
 * KEEP_BUF, or timed out) belong to the handler until it lets go of them.
 * When other devices wait for pages and this one holds more than its
 * share, their pages are taken back (tcmu_da_revoke()): zapped, released,
 * and every page index of the block maps the data area's scratch page
 * instead, so the handler still working on such a command neither
 * faults nor sees anyone's data but its own scribbles.  The blocks stay
 * with the command (used, not populated, counted in nr_revoked) until it
 * is freed; they then leave through tcmu_da_free_revoked(), which zaps
 * the scratch page again, and come back empty.
 */
#include <linux/bitmap.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include "tcmu.h"
#include "trace.h"

/*
 * The bitmaps cover the blocks a device has touched, not the whole area:
 * allocation takes the lowest blocks first, so they grow only as far as
 * a device's traffic reaches, and an idle device, trimmed, has none (a
 * 1 GiB area of 4 KiB blocks would hold 64 KiB of them).  They grow and
 * shrink in steps of TCMU_DA_MAP_STEP blocks.
 */
#define TCMU_DA_MAP_STEP	512

/* Both bitmaps for @bits blocks, in one allocation: used follows */
static unsigned long *tcmu_da_maps_alloc(u32 bits, gfp_t gfp)
{
	return bitmap_zalloc(2 * BITS_TO_LONGS(bits) * BITS_PER_LONG, gfp);
}

/*
 * Move the bitmaps to @maps, which cover @bits blocks, all above the
 * highest block set; returns the old ones to free.  Under lock.
 */
static unsigned long *__tcmu_da_maps_swap(struct tcmu_data_area *da,
					  unsigned long *maps, u32 bits)
{
	unsigned long *old = da->populated;
	u32 n = min(da->nr_bits, bits);

	lockdep_assert_held(&da->lock);
	if (n) {
		bitmap_copy(maps, da->populated, n);
		bitmap_copy(maps + BITS_TO_LONGS(bits), da->used, n);
	}
	da->populated = bits ? maps : NULL;
	da->used = bits ? maps + BITS_TO_LONGS(bits) : NULL;
	da->nr_bits = bits;
	return old;
}

/* Blocks populated or used: the bitmaps' bits set; under lock */
static u32 __tcmu_da_taken(struct tcmu_data_area *da)
{
	return da->nr_populated + da->nr_busy + da->nr_revoked;
}

/*
 * Make the bitmaps cover at least @bits blocks.  Drops the lock to
 * allocate and takes it again: the caller looks at the bitmaps anew.
 */
static int __tcmu_da_maps_grow(struct tcmu_data_area *da, u32 bits)
{
	unsigned long *maps;
	u32 cap;

	lockdep_assert_held(&da->lock);
	cap = max(round_up(bits, TCMU_DA_MAP_STEP), 2 * da->nr_bits);
	cap = min(cap, da->nr_blocks);
	spin_unlock(&da->lock);
	maps = tcmu_da_maps_alloc(cap, GFP_NOIO | __GFP_NOWARN);
	spin_lock(&da->lock);
	if (!maps)
		return -ENOMEM;
	/* another allocation may have grown them meanwhile */
	if (da->nr_bits < cap)
		maps = __tcmu_da_maps_swap(da, maps, cap);
	bitmap_free(maps);
	return 0;
}

/* Under lock: one past the highest block set, 0 when none is */
static u32 __tcmu_da_top(struct tcmu_data_area *da)
{
	unsigned long p, u;

	lockdep_assert_held(&da->lock);
	if (!__tcmu_da_taken(da))
		return 0;
	p = find_last_bit(da->populated, da->nr_bits);
	u = find_last_bit(da->used, da->nr_bits);
	p = p < da->nr_bits ? p + 1 : 0;
	u = u < da->nr_bits ? u + 1 : 0;
	return max(p, u);
}

/*
 * After a trim: give the bitmaps back when no block is set, or make them
 * smaller when the blocks set fill less than a quarter of them.
 */
static void tcmu_da_maps_shrink(struct tcmu_data_area *da)
{
	unsigned long *maps = NULL;
	u32 cap;

	spin_lock(&da->lock);
	cap = round_up(__tcmu_da_top(da), TCMU_DA_MAP_STEP);
	if (cap && cap > da->nr_bits / 4) {
		spin_unlock(&da->lock);
		return;
	}
	if (cap) {
		spin_unlock(&da->lock);
		maps = tcmu_da_maps_alloc(cap, GFP_NOIO | __GFP_NOWARN);
		if (!maps)
			return;
		spin_lock(&da->lock);
		/* allocations may have set blocks above it meanwhile */
		if (__tcmu_da_top(da) > cap) {
			spin_unlock(&da->lock);
			bitmap_free(maps);
			return;
		}
	}
	maps = __tcmu_da_maps_swap(da, maps, cap);
	spin_unlock(&da->lock);
	bitmap_free(maps);
}

int tcmu_da_init(struct tcmu_data_area *da, struct tcmu_pool *pool,
		 const char *name, u32 nr_blocks, u32 blk_pages, loff_t base)
{
	memset(da, 0, sizeof(*da));
	init_rwsem(&da->map_lock);
	spin_lock_init(&da->lock);
	xa_init(&da->pages);
	da->pool = pool;
	INIT_LIST_HEAD(&da->waiter.node);
	da->waiter.name = name;
	da->base = base;
	da->blk_pages = blk_pages;
	da->blk_size = blk_pages << PAGE_SHIFT;
	da->nr_blocks = nr_blocks;
	return 0;
}

/*
 * Called when no mapping of the device is left (nothing to zap) and no
 * command (no revoked block).
 */
void tcmu_da_exit(struct tcmu_data_area *da)
{
	struct page *page;
	unsigned long idx;
	long freed = 0;

	/* the device left the pool's line when it was destroyed */
	if (WARN_ON_ONCE(!list_empty(&da->waiter.node)))
		tcmu_pool_cancel_wait(da->pool, &da->waiter);
	WARN_ON_ONCE(da->nr_revoked);
	xa_for_each(&da->pages, idx, page) {
		xa_erase(&da->pages, idx);
		if (page != da->scratch)
			freed += tcmu_pool_put_page(da->pool, page);
	}
	tcmu_pool_uncharge(da->pool, freed);
	xa_destroy(&da->pages);
	bitmap_free(da->populated);
	da->populated = NULL;
	da->used = NULL;
	da->nr_bits = 0;
	/* handlers may have pinned it too: drop only our reference */
	if (da->scratch)
		put_page(da->scratch);
	da->scratch = NULL;
}

/* Blocks with pages that no command uses: what a trim would free */
bool tcmu_da_has_cached(struct tcmu_data_area *da)
{
	bool ret;

	spin_lock(&da->lock);
	ret = da->nr_populated + da->nr_busy + da->nr_revoked != da->nr_used;
	spin_unlock(&da->lock);
	return ret;
}

/* Pages held now */
u32 tcmu_da_held(struct tcmu_data_area *da)
{
	return READ_ONCE(da->nr_populated) * da->blk_pages;
}

/* Pages held and used now, the peak, pages trims gave back and revoked */
void tcmu_da_stats(struct tcmu_data_area *da, u32 *held, u32 *used,
		   u32 *peak, u64 *reclaimed, u64 *revoked)
{
	spin_lock(&da->lock);
	*held = da->nr_populated * da->blk_pages;
	*used = (da->nr_used - da->nr_busy - da->nr_revoked) * da->blk_pages;
	*peak = da->peak_pages;
	*reclaimed = da->reclaimed_pages;
	*revoked = da->revoked_pages;
	spin_unlock(&da->lock);
}

void tcmu_da_set_mapping(struct tcmu_data_area *da,
			 struct address_space *mapping)
{
	down_write(&da->map_lock);
	da->mapping = mapping;
	up_write(&da->map_lock);
}

/*
 * Zap the handler's PTEs of blocks [first, first + count).  Caller holds
 * map_lock for write.
 */
static void __tcmu_da_zap(struct tcmu_data_area *da, u32 first, u32 count)
{
	lockdep_assert_held_write(&da->map_lock);
	if (da->mapping)
		unmap_mapping_range(da->mapping,
				    da->base + (loff_t)first * da->blk_size,
				    (loff_t)count * da->blk_size, 1);
}

/*
 * Drop the pages of blocks [first, first + count), which the caller made
 * busy and zapped.  Returns the pages freed (not those a handler pinned,
 * which stay charged).  Caller holds map_lock for write.
 */
static u32 __tcmu_da_erase(struct tcmu_data_area *da, u32 first, u32 count)
{
	unsigned long idx = (unsigned long)first * da->blk_pages;
	unsigned long last = idx + (unsigned long)count * da->blk_pages - 1;
	struct page *page;
	u32 freed = 0;

	lockdep_assert_held_write(&da->map_lock);
	xa_for_each_range(&da->pages, idx, page, idx, last) {
		xa_erase(&da->pages, idx);
		freed += tcmu_pool_put_page(da->pool, page);
	}
	return freed;
}

/*
 * Give a busy block its pages, which the caller has charged.  On failure
 * the pages allocated so far are freed again (and the caller uncharges
 * the whole block).  No lock held: the block is the caller's.
 */
static int tcmu_da_populate(struct tcmu_data_area *da, u32 blk)
{
	unsigned long idx = (unsigned long)blk * da->blk_pages;
	struct page *page;
	u32 i;

	for (i = 0; i < da->blk_pages; i++) {
		page = alloc_page(GFP_NOIO | __GFP_ZERO | __GFP_NOWARN);
		if (!page)
			goto fail;
		if (xa_err(xa_store(&da->pages, idx + i, page, GFP_NOIO))) {
			put_page(page);
			goto fail;
		}
	}
	return 0;

fail:
	/* nothing was mapped from a block that is not yet populated */
	down_write(&da->map_lock);
	__tcmu_da_erase(da, blk, 1);
	up_write(&da->map_lock);
	return -ENOMEM;
}

/* Give back @nr blocks that are used (or busy, if @busy) */
static void __tcmu_da_put(struct tcmu_data_area *da, const u32 *blocks,
			  u32 nr, bool busy)
{
	u32 i;

	lockdep_assert_held(&da->lock);
	for (i = 0; i < nr; i++) {
		if (WARN_ON_ONCE(!__test_and_clear_bit(blocks[i], da->used)))
			continue;
		da->nr_used--;
		if (busy)
			da->nr_busy--;
	}
}

/*
 * Mark the lowest @nr empty blocks busy; returns how many were found
 * (all of them unless the counters lie).
 */
static u32 __tcmu_da_take_empty(struct tcmu_data_area *da, u32 *blocks,
				u32 nr)
{
	unsigned long blk = 0;
	u32 i;

	lockdep_assert_held(&da->lock);
	for (i = 0; i < nr; i++, blk++) {
		blk = find_next_zero_bit(da->populated, da->nr_bits, blk);
		while (blk < da->nr_bits && test_bit(blk, da->used))
			blk = find_next_zero_bit(da->populated, da->nr_bits,
						 blk + 1);
		if (WARN_ON_ONCE(blk >= da->nr_bits))
			break;
		__set_bit(blk, da->used);
		da->nr_used++;
		da->nr_busy++;
		blocks[i] = blk;
	}
	return i;
}

/**
 * tcmu_da_alloc - take @nr blocks for a command
 * @da: the data area
 * @blocks: receives the block numbers
 * @nr: how many
 *
 * Cached blocks are taken first, lowest first; empty blocks are populated
 * only when no cached block is left, after their pages were charged to
 * the pool.  The new blocks are busy while their pages are allocated,
 * outside the spinlock.
 *
 * Return: TCMU_GOT; TCMU_WAIT when fewer than @nr blocks are free (a
 * completion frees some) or the pool cannot give the pages now (the
 * device is in its line and is woken when they free up); TCMU_FAIL when
 * the page allocator failed (no wake-up is owed) or the pages exceed the
 * pool's whole limit.  Unless TCMU_GOT, the command holds no block.
 */
enum tcmu_get tcmu_da_alloc(struct tcmu_data_area *da, u32 *blocks, u32 nr)
{
	unsigned long blk = 0;
	u32 i, cached = 0, fresh, done;
	enum tcmu_get got;
	long charge;

	spin_lock(&da->lock);
	for (;;) {
		if (da->nr_blocks - da->nr_used < nr) {
			spin_unlock(&da->lock);
			return TCMU_WAIT;
		}
		/* cached blocks: populated ones minus those a command has */
		cached = da->nr_populated - (da->nr_used - da->nr_busy -
					     da->nr_revoked);
		fresh = nr > cached ? nr - cached : 0;
		if (fresh <= da->nr_bits - __tcmu_da_taken(da))
			break;
		/* blocks may come and go while it drops the lock: look again */
		if (__tcmu_da_maps_grow(da, __tcmu_da_taken(da) + fresh)) {
			spin_unlock(&da->lock);
			return TCMU_FAIL;
		}
	}
	for (cached = 0; cached < nr; cached++, blk++) {
		blk = find_next_andnot_bit(da->populated, da->used,
					   da->nr_bits, blk);
		if (blk >= da->nr_bits)
			break;
		__set_bit(blk, da->used);
		da->nr_used++;
		blocks[cached] = blk;
	}
	fresh = nr - cached;
	if (fresh &&
	    __tcmu_da_take_empty(da, blocks + cached, fresh) != fresh) {
		/* the counters said there was room: give it all back */
		__tcmu_da_put(da, blocks, cached, false);
		spin_unlock(&da->lock);
		return TCMU_WAIT;
	}
	spin_unlock(&da->lock);
	if (!fresh)
		return TCMU_GOT;

	charge = (long)fresh * da->blk_pages;
	got = tcmu_pool_charge(da->pool, &da->waiter, charge);
	done = 0;
	if (got == TCMU_GOT)
		for (; done < fresh; done++)
			if (tcmu_da_populate(da, blocks[cached + done]))
				break;

	spin_lock(&da->lock);
	for (i = 0; i < done; i++) {
		blk = blocks[cached + i];
		__set_bit(blk, da->populated);
		da->nr_populated++;
		da->nr_busy--;
		da->blk_hi = max_t(u32, da->blk_hi, blk + 1);
	}
	da->peak_pages = max(da->peak_pages, da->nr_populated * da->blk_pages);
	if (done < fresh) {
		/* the blocks populated so far stay, as cached blocks */
		__tcmu_da_put(da, blocks, cached + done, false);
		__tcmu_da_put(da, blocks + cached + done, fresh - done, true);
	}
	spin_unlock(&da->lock);
	if (got != TCMU_GOT)
		return got;
	if (done < fresh) {
		tcmu_pool_uncharge(da->pool,
				   (long)(fresh - done) * da->blk_pages);
		return TCMU_FAIL;
	}
	return TCMU_GOT;
}

/* Return a command's blocks; their pages stay cached. */
void tcmu_da_free(struct tcmu_data_area *da, const u32 *blocks, u32 nr)
{
	spin_lock(&da->lock);
	__tcmu_da_put(da, blocks, nr, false);
	spin_unlock(&da->lock);
}

/* A run of blocks a trim takes */
struct tcmu_da_run {
	u32 start;
	u32 n;
};

/*
 * Make up to TCMU_TRIM_BATCH runs of cached blocks busy, from block *@at
 * on; returns how many, and moves *@at past them.  Caller holds the lock.
 */
static u32 __tcmu_da_take_cached(struct tcmu_data_area *da, unsigned long *at,
				 struct tcmu_da_run *runs)
{
	unsigned long start = *at, end, n;
	u32 nr = 0;

	lockdep_assert_held(&da->lock);
	while (nr < TCMU_TRIM_BATCH) {
		start = find_next_andnot_bit(da->populated, da->used,
					     da->blk_hi, start);
		if (start >= da->blk_hi)
			break;
		end = find_next_bit(da->used, da->blk_hi, start);
		end = min_t(unsigned long, end,
			    find_next_zero_bit(da->populated, da->blk_hi,
					       start));
		n = end - start;
		bitmap_set(da->used, start, n);
		bitmap_clear(da->populated, start, n);
		da->nr_used += n;
		da->nr_busy += n;
		da->nr_populated -= n;
		runs[nr].start = start;
		runs[nr].n = n;
		nr++;
		start = end;
	}
	*at = start;
	return nr;
}

/**
 * tcmu_da_trim - give back the pages of cached blocks
 * @da: the data area
 * @max_batches: batches of up to TCMU_TRIM_BATCH runs to do at most;
 *	TCMU_TRIM_ALL for all
 *
 * Frees holes as well as the tail: any block not used by a command loses
 * its pages, and the handler's PTEs for them are zapped first.  The runs
 * of cached blocks of a batch are busy while their pages go, so
 * allocations carry on meanwhile (they may find a busy run missing and
 * wait for it).  One zap covers a batch, from its first run to its last:
 * a handler that fragments its data area (kept buffers between cached
 * blocks) costs one zap per batch, not one per block, and used blocks
 * in between only fault back in.  A caller that shares its context with
 * other devices bounds the batches.  Trims of one device are serialized
 * by map_lock.
 *
 * Return: the number of pages freed.
 */
u32 tcmu_da_trim(struct tcmu_data_area *da, u32 max_batches)
{
	struct tcmu_da_run runs[TCMU_TRIM_BATCH];
	unsigned long at = 0;
	u32 freed = 0, pages, nr, i, b;

	down_write(&da->map_lock);
	for (b = 0; b < max_batches; b++) {
		spin_lock(&da->lock);
		nr = __tcmu_da_take_cached(da, &at, runs);
		spin_unlock(&da->lock);
		if (!nr)
			break;
		__tcmu_da_zap(da, runs[0].start,
			      runs[nr - 1].start + runs[nr - 1].n - runs[0].start);
		for (i = 0; i < nr; i++)
			freed += __tcmu_da_erase(da, runs[i].start, runs[i].n);
		spin_lock(&da->lock);
		for (i = 0; i < nr; i++) {
			bitmap_clear(da->used, runs[i].start, runs[i].n);
			da->nr_used -= runs[i].n;
			da->nr_busy -= runs[i].n;
		}
		spin_unlock(&da->lock);
	}
	spin_lock(&da->lock);
	/* busy blocks above it raise it again when they are populated */
	da->blk_hi = find_last_bit(da->populated, da->nr_bits);
	da->blk_hi = da->blk_hi < da->nr_bits ? da->blk_hi + 1 : 0;
	da->reclaimed_pages += freed;
	pages = da->nr_populated * da->blk_pages;
	spin_unlock(&da->lock);
	up_write(&da->map_lock);
	tcmu_da_maps_shrink(da);
	if (freed) {
		tcmu_pool_note_reclaim(da->pool, freed);
		trace_tcmu_pool_reclaim(da->waiter.name, freed, pages);
		/* last: the pages go to whoever waits for them */
		tcmu_pool_uncharge(da->pool, freed);
	}
	return freed;
}

/* The page revoked blocks show, allocated when first needed; map_lock */
static struct page *tcmu_da_scratch(struct tcmu_data_area *da)
{
	lockdep_assert_held_write(&da->map_lock);
	if (!da->scratch)
		da->scratch = alloc_page(GFP_NOIO | __GFP_ZERO | __GFP_NOWARN);
	return da->scratch;
}

/**
 * tcmu_da_revoke - take back the pages of a command the kernel gave up
 * @da: the data area
 * @blocks: the command's blocks, used and populated
 * @nr: how many
 *
 * See "revoked blocks" above.  The caller marks the command so that its
 * blocks go back through tcmu_da_free_revoked().
 *
 * Return: the pages given back to the pool (a page the handler pinned
 * stays charged until it lets go), or -ENOMEM when there is no scratch
 * page to show instead: then nothing changed.
 */
long tcmu_da_revoke(struct tcmu_data_area *da, const u32 *blocks, u32 nr)
{
	struct page *scratch, *page;
	unsigned long idx;
	long freed = 0;
	u32 i, j;

	down_write(&da->map_lock);
	scratch = tcmu_da_scratch(da);
	if (!scratch) {
		up_write(&da->map_lock);
		return -ENOMEM;
	}
	spin_lock(&da->lock);
	for (i = 0; i < nr; i++)
		__clear_bit(blocks[i], da->populated);
	da->nr_populated -= nr;
	da->nr_revoked += nr;
	da->revoked_pages += (u64)nr * da->blk_pages;
	spin_unlock(&da->lock);
	for (i = 0; i < nr; i++) {
		__tcmu_da_zap(da, blocks[i], 1);
		idx = (unsigned long)blocks[i] * da->blk_pages;
		for (j = 0; j < da->blk_pages; j++, idx++) {
			/* a slot that holds an entry takes another in place */
			page = xa_store(&da->pages, idx, scratch, GFP_NOWAIT);
			if (!WARN_ON_ONCE(xa_is_err(page) || !page))
				freed += tcmu_pool_put_page(da->pool, page);
		}
	}
	up_write(&da->map_lock);
	tcmu_pool_uncharge(da->pool, freed);
	return freed;
}

/* Give back the blocks of a revoked command: they come back empty. */
void tcmu_da_free_revoked(struct tcmu_data_area *da, const u32 *blocks,
			  u32 nr)
{
	unsigned long idx;
	u32 i, j;

	down_write(&da->map_lock);
	for (i = 0; i < nr; i++) {
		__tcmu_da_zap(da, blocks[i], 1);
		idx = (unsigned long)blocks[i] * da->blk_pages;
		/* the scratch page: no reference of the index to drop */
		for (j = 0; j < da->blk_pages; j++)
			xa_erase(&da->pages, idx + j);
	}
	up_write(&da->map_lock);
	spin_lock(&da->lock);
	__tcmu_da_put(da, blocks, nr, false);
	da->nr_revoked -= nr;
	spin_unlock(&da->lock);
}

/* Number of iovecs for @blocks: one per run of consecutive blocks. */
unsigned int tcmu_da_iov_count(const u32 *blocks, u32 nr)
{
	unsigned int cnt = 0;
	u32 i;

	for (i = 0; i < nr; i++)
		if (!i || blocks[i] != blocks[i - 1] + 1)
			cnt++;
	return cnt;
}

/*
 * Describe @len bytes held in @blocks as iovecs whose bases are offsets
 * from the start of the handler's mapping.  Returns the iovecs written.
 */
unsigned int tcmu_da_fill_iovs(const struct tcmu_data_area *da,
			       const u32 *blocks, u32 nr, size_t len,
			       struct iovec *iov)
{
	unsigned int cnt = 0;
	size_t n;
	u32 i;

	for (i = 0; i < nr && len; i++, len -= n) {
		n = min_t(size_t, len, da->blk_size);
		if (!i || blocks[i] != blocks[i - 1] + 1) {
			iov[cnt].iov_base = (void __user *)(uintptr_t)
				(da->base + (size_t)blocks[i] * da->blk_size);
			iov[cnt].iov_len = 0;
			cnt++;
		}
		iov[cnt - 1].iov_len += n;
	}
	return cnt;
}

/* The page holding byte @off of a command's buffer */
static struct page *tcmu_da_cmd_page(struct tcmu_data_area *da,
				     const u32 *blocks, size_t off)
{
	size_t blk = off / da->blk_size;
	size_t pg = (off % da->blk_size) >> PAGE_SHIFT;

	return xa_load(&da->pages, (unsigned long)blocks[blk] * da->blk_pages +
			pg);
}

static void tcmu_da_copy(struct tcmu_data_area *da, const u32 *blocks,
			 struct scatterlist *sg, unsigned int nents,
			 size_t len, bool to_da)
{
	struct sg_mapping_iter miter;
	unsigned int flags = SG_MITER_ATOMIC;
	size_t off = 0, done, n, poff;
	struct page *page;
	void *addr;

	flags |= to_da ? SG_MITER_FROM_SG : SG_MITER_TO_SG;
	sg_miter_start(&miter, sg, nents, flags);
	while (off < len && sg_miter_next(&miter)) {
		for (done = 0; done < miter.length && off < len; done += n) {
			page = tcmu_da_cmd_page(da, blocks, off);
			if (WARN_ON_ONCE(!page))
				goto out;
			poff = offset_in_page(off);
			n = min3(miter.length - done, PAGE_SIZE - poff,
				 len - off);
			addr = kmap_local_page(page);
			if (to_da) {
				memcpy(addr + poff, miter.addr + done, n);
				flush_dcache_page(page);
			} else {
				flush_dcache_page(page);
				memcpy(miter.addr + done, addr + poff, n);
			}
			kunmap_local(addr);
			off += n;
		}
		miter.consumed = done;
	}
out:
	sg_miter_stop(&miter);
}

/* Copy @len bytes of data-out from @sg into the command's blocks */
void tcmu_da_copy_from_sg(struct tcmu_data_area *da, const u32 *blocks,
			  struct scatterlist *sg, unsigned int nents,
			  size_t len)
{
	tcmu_da_copy(da, blocks, sg, nents, len, true);
}

/* Copy @len bytes of data-in from the command's blocks into @sg */
void tcmu_da_copy_to_sg(struct tcmu_data_area *da, const u32 *blocks,
			struct scatterlist *sg, unsigned int nents,
			size_t len)
{
	tcmu_da_copy(da, blocks, sg, nents, len, false);
}

/**
 * tcmu_da_fault - map one data area page into the handler
 * @da: the data area
 * @vmf: the fault
 * @index: page number within the data area
 *
 * See "fault versus release" above.  A page that is not in the index was
 * never handed to the handler: the access is a handler bug and gets
 * SIGBUS.
 *
 * Return: VM_FAULT_NOPAGE once the PTE is in place, VM_FAULT_SIGBUS for
 * a page that is not in the index, or the fault code of a failed insert.
 */
vm_fault_t tcmu_da_fault(struct tcmu_data_area *da, struct vm_fault *vmf,
			 pgoff_t index)
{
	struct page *page;
	int ret = -EFAULT;

	down_read(&da->map_lock);
	page = xa_load(&da->pages, index);
	if (page)
		ret = vm_insert_page(vmf->vma, vmf->address, page);
	up_read(&da->map_lock);

	if (!page)
		return VM_FAULT_SIGBUS;
	/* -EBUSY: another thread of the handler mapped it first */
	if (ret && ret != -EBUSY)
		return vmf_error(ret);
	return VM_FAULT_NOPAGE;
}

#if IS_ENABLED(CONFIG_TCM_USER2_KUNIT_TEST)
#include "tests/data_area_kunit.c"
#endif
