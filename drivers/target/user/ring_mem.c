// SPDX-License-Identifier: GPL-2.0
/*
 * The pages of the mailbox and the command ring.
 *
 * DOC: the ring's page life cycle
 *
 * The mailbox page exists from enable to teardown.  A ring page comes
 * into being when the kernel first writes an entry (or a PAD) that
 * reaches it, and goes back when a trim finds it wholly outside the live
 * part of the ring, the bytes from the oldest entry not yet reaped up to
 * the head: ring.c trims a device that has been idle for
 * reclaim_idle_ms.  An idle device holds its mailbox page and, unless a
 * timed-out command is still on its ring, nothing else of the ring; a
 * busy one holds the pages its traffic keeps writing.  Ring pages are not
 * charged to the data page pool: a ring that could not get pages from
 * the pool would wait for completions that need ring entries.  They are
 * counted per device and in global_ring_pages.
 *
 * The kernel has no contiguous mapping of the ring: it reads entries
 * through tcmu_rmem_read() and writes them in place within a page
 * (tcmu_rmem_ptr()) or through tcmu_rmem_write(), which copy across page
 * boundaries.  Writers hold ring_lock, a spinlock, and
 * cannot sleep for a page there: tcmu_rmem_populate() takes pages from
 * a stash, else asks the page allocator without sleeping, and says how
 * many pages it still misses; the writer drops ring_lock, fills the
 * stash with tcmu_rmem_fill() and tries again.
 *
 * The index of the ring pages (a pointer per page of the ring: 16 KiB for
 * the default 8 MiB ring) exists only while the ring holds pages: the
 * first tcmu_rmem_fill() makes it and the trim that leaves the mailbox
 * alone frees it.
 *
 * New pages are zeroed, so a handler never sees what a page held before.
 * A handler that touches a ring page the kernel has not written, or one
 * trimmed since, gets SIGBUS, as for a data area page it was not given.
 *
 * DOC: ring pages, fault versus release
 *
 * As for the data area: the fault holds map_lock for read while it finds
 * the page in the index and inserts the PTE.  A trim holds map_lock for
 * write, zaps the ring from every mapping of the device, and only then
 * takes the pages that are still dead out of the index (under ring_lock)
 * and frees them.  A fault either completes before the trim, whose zap
 * removes its PTE, or comes after it and finds the page gone (SIGBUS)
 * or a new one.  A writer needs ring_lock only: until the zap is done
 * it writes into the pages the handler may still map, and a page it
 * adds after a trim took the old one has no PTE yet.  Taking a page out
 * before the zap would not do: the handler would read the old page,
 * through its old PTE, where the kernel writes into a new one.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include "tcmu.h"

/* Ring pages (mailboxes included) all devices hold, stashes included */
static atomic_long_t tcmu_rmem_global = ATOMIC_LONG_INIT(0);

long tcmu_rmem_global_pages(void)
{
	return atomic_long_read(&tcmu_rmem_global);
}

static struct page *tcmu_rmem_alloc_page(gfp_t gfp)
{
	struct page *page = alloc_page(gfp | __GFP_ZERO | __GFP_NOWARN);

	if (page)
		atomic_long_inc(&tcmu_rmem_global);
	return page;
}

/* A handler's PTE or pin holds its own reference: drop only ours. */
static void tcmu_rmem_free_page(struct page *page)
{
	atomic_long_dec(&tcmu_rmem_global);
	put_page(page);
}

/* Under @rm->lock */
static void tcmu_rmem_count(struct tcmu_ring_mem *rm, u32 added)
{
	WRITE_ONCE(rm->nr_held, rm->nr_held + added);
	rm->peak = max(rm->peak, rm->nr_held);
}

/**
 * tcmu_rmem_init - make the mailbox page and an empty index for the ring
 * @rm: the ring memory
 * @lock: the device's ring_lock
 * @bytes: mailbox and ring, in bytes of the mapping
 * @ring_off: where the ring starts, after the mailbox
 *
 * Return: 0 or -ENOMEM.
 */
int tcmu_rmem_init(struct tcmu_ring_mem *rm, spinlock_t *lock, u32 bytes,
		   u32 ring_off)
{
	memset(rm, 0, sizeof(*rm));
	init_rwsem(&rm->map_lock);
	INIT_LIST_HEAD(&rm->stash);
	rm->lock = lock;
	rm->ring_off = ring_off;
	rm->nr_pages = DIV_ROUND_UP(bytes, PAGE_SIZE);
	rm->mailbox = tcmu_rmem_alloc_page(GFP_KERNEL);
	if (!rm->mailbox)
		return -ENOMEM;
	rm->nr_held = 1;
	rm->peak = 1;
	return 0;
}

/* Free every page: no VMA maps the device and nobody writes the ring. */
void tcmu_rmem_exit(struct tcmu_ring_mem *rm)
{
	struct page *page, *tmp;
	u32 i;

	if (!rm->mailbox)
		return;
	for (i = 1; rm->pages && i < rm->nr_pages; i++)
		if (rm->pages[i])
			tcmu_rmem_free_page(rm->pages[i]);
	list_for_each_entry_safe(page, tmp, &rm->stash, lru) {
		list_del(&page->lru);
		tcmu_rmem_free_page(page);
	}
	tcmu_rmem_free_page(rm->mailbox);
	rm->mailbox = NULL;
	kvfree(rm->pages);
	rm->pages = NULL;
	rm->nr_stash = 0;
	rm->nr_held = 0;
}

void *tcmu_rmem_mailbox(struct tcmu_ring_mem *rm)
{
	return page_address(rm->mailbox);
}

/*
 * Page @i of the mapping, NULL when the kernel has not written it (or
 * @i is past the ring).  Under the lock, or map_lock: pairs with the
 * releases that publish the index and its pages.
 */
struct page *tcmu_rmem_page(struct tcmu_ring_mem *rm, u32 i)
{
	struct page **pages;

	if (!i)
		return rm->mailbox;
	/* pairs with tcmu_rmem_fill()'s release: the index was zeroed */
	pages = smp_load_acquire(&rm->pages);
	if (!pages || i >= rm->nr_pages)
		return NULL;
	/* pairs with tcmu_rmem_populate()'s: the page was zeroed */
	return smp_load_acquire(&pages[i]);
}

/**
 * tcmu_rmem_populate - give bytes [@off, @off + @len) of the mapping pages
 * @rm: the ring memory, under its lock
 * @off: first byte, within the mailbox and ring
 * @len: bytes; @off + @len is at most the ring's end
 *
 * Pages come from the stash, else from the page allocator without
 * sleeping.  Those it got stay, whatever the outcome.
 *
 * Return: the pages still missing; 0 when all are there.
 */
u32 tcmu_rmem_populate(struct tcmu_ring_mem *rm, u32 off, u32 len)
{
	u32 i, last, missing = 0, added = 0;
	struct page *page;

	lockdep_assert_held(rm->lock);
	if (!len)
		return 0;
	last = (off + len - 1) >> PAGE_SHIFT;
	/* the ring starts in the mailbox's page, which always exists */
	i = max(off >> PAGE_SHIFT, 1U);
	if (i > last)
		return 0;
	/* no index yet: tcmu_rmem_fill() makes it */
	if (!rm->pages)
		return last - i + 1;
	for (; i <= last; i++) {
		if (rm->pages[i])
			continue;
		page = list_first_entry_or_null(&rm->stash, struct page, lru);
		if (page) {
			list_del(&page->lru);
			rm->nr_stash--;
		} else {
			page = tcmu_rmem_alloc_page(GFP_NOWAIT);
			if (!page) {
				missing++;
				continue;
			}
			added++;
		}
		/* the fault path looks pages up under map_lock alone */
		smp_store_release(&rm->pages[i], page);
	}
	tcmu_rmem_count(rm, added);
	return missing;
}

/**
 * tcmu_rmem_fill - put @nr zeroed pages on the stash
 * @rm: the ring memory; its lock is not held: this sleeps
 * @nr: pages
 *
 * Makes the index of the ring pages first if there is none.
 *
 * Return: 0, or -ENOMEM when an allocation failed (the pages it gave
 * stay on the stash).
 */
int tcmu_rmem_fill(struct tcmu_ring_mem *rm, u32 nr)
{
	struct page **index = NULL;
	struct page *page;
	LIST_HEAD(pages);
	u32 i;

	if (!READ_ONCE(rm->pages)) {
		index = kvcalloc(rm->nr_pages, sizeof(*index),
				 GFP_NOIO | __GFP_NOWARN);
		if (!index)
			return -ENOMEM;
	}
	for (i = 0; i < nr; i++) {
		page = tcmu_rmem_alloc_page(GFP_NOIO);
		if (!page)
			break;
		list_add(&page->lru, &pages);
	}
	spin_lock(rm->lock);
	if (index && !rm->pages) {
		/* faults look it up under map_lock alone */
		smp_store_release(&rm->pages, index);
		index = NULL;
	}
	list_splice(&pages, &rm->stash);
	rm->nr_stash += i;
	tcmu_rmem_count(rm, i);
	spin_unlock(rm->lock);
	kvfree(index);
	return i == nr ? 0 : -ENOMEM;
}

/*
 * Copy @len bytes at @off of the mapping to (@to) or from @buf, a page
 * at a time; @buf NULL writes zeroes.  Returns false when a page is not
 * there, having copied nothing of it or after it.
 */
static bool tcmu_rmem_copy(struct tcmu_ring_mem *rm, u32 off, void *buf,
			   u32 len, bool to)
{
	struct page *page;
	u32 in, n;

	lockdep_assert_held(rm->lock);
	while (len) {
		in = offset_in_page(off);
		n = min_t(u32, len, PAGE_SIZE - in);
		page = tcmu_rmem_page(rm, off >> PAGE_SHIFT);
		if (!page)
			return false;
		if (!to)
			memcpy_from_page(buf, page, in, n);
		else if (buf)
			memcpy_to_page(page, in, buf, n);
		else
			memzero_page(page, in, n);
		if (buf)
			buf += n;
		off += n;
		len -= n;
	}
	return true;
}

/*
 * The kernel address of bytes [@off, @off + @len) when they lie within
 * one page, which was populated; else NULL.  Under lock, for writing in
 * place what the handler will read only once the head covers it.
 */
void *tcmu_rmem_ptr(struct tcmu_ring_mem *rm, u32 off, u32 len)
{
	struct page *page;

	lockdep_assert_held(rm->lock);
	if (!len || offset_in_page(off) + len > PAGE_SIZE)
		return NULL;
	page = tcmu_rmem_page(rm, off >> PAGE_SHIFT);
	/* ring pages are never highmem: alloc_page() without the flag */
	return page ? page_address(page) + offset_in_page(off) : NULL;
}

/* Write @len bytes of @src at @off; its pages were populated.  Under lock. */
void tcmu_rmem_write(struct tcmu_ring_mem *rm, u32 off, const void *src,
		     u32 len)
{
	WARN_ON_ONCE(!tcmu_rmem_copy(rm, off, (void *)src, len, true));
}

/* Zero @len bytes at @off; its pages were populated.  Under lock. */
void tcmu_rmem_zero(struct tcmu_ring_mem *rm, u32 off, u32 len)
{
	WARN_ON_ONCE(!tcmu_rmem_copy(rm, off, NULL, len, true));
}

/*
 * Copy @len bytes at @off into @dst.  Returns false when part of them
 * has no page (the kernel never wrote there).  Under lock.
 */
bool tcmu_rmem_read(struct tcmu_ring_mem *rm, u32 off, void *dst, u32 len)
{
	return tcmu_rmem_copy(rm, off, dst, len, false);
}

/* Whether page @i holds any of the @len bytes from @off */
static bool tcmu_rmem_in(u32 i, u32 off, u32 len)
{
	return len && i >= off >> PAGE_SHIFT &&
	       i <= (off + len - 1) >> PAGE_SHIFT;
}

/*
 * Take the ring pages that hold no live byte out of the index onto
 * @gone (all of them if @gone is NULL: only count them).  Under lock.
 */
static u32 __tcmu_rmem_unhook(struct tcmu_ring_mem *rm, u32 off, u32 len,
			      struct list_head *gone)
{
	u32 end = rm->nr_pages << PAGE_SHIFT, i, nr = 0;
	u32 wrap = off + len > end ? off + len - end : 0;
	struct page *page;

	lockdep_assert_held(rm->lock);
	for (i = 1; rm->pages && i < rm->nr_pages; i++) {
		page = rm->pages[i];
		if (!page || tcmu_rmem_in(i, off, len - wrap) ||
		    tcmu_rmem_in(i, rm->ring_off, wrap))
			continue;
		nr++;
		if (!gone)
			continue;
		WRITE_ONCE(rm->pages[i], NULL);
		list_add(&page->lru, gone);
	}
	return nr;
}

/**
 * tcmu_rmem_trim - free the ring pages that hold no live byte
 * @rm: the ring memory; nothing but the device's reap_lock held
 * @live: called under @rm->lock: returns how many bytes are live and
 *	sets its @off argument to the first; they run to the ring's end
 *	and go on from its start
 *
 * The stash goes too, and the index when no ring page is left.  See
 * "ring pages, fault versus release": the
 * handler loses its ring PTEs before any page leaves the index, so that
 * it cannot read an old page where the kernel writes a new one.
 *
 * Return: the pages freed.
 */
u32 tcmu_rmem_trim(struct tcmu_ring_mem *rm,
		   u32 (*live)(struct tcmu_ring_mem *rm, u32 *off))
{
	struct page **index = NULL;
	struct page *page, *tmp;
	LIST_HEAD(gone);
	u32 off, len, nr;

	down_write(&rm->map_lock);
	spin_lock(rm->lock);
	len = live(rm, &off);
	nr = __tcmu_rmem_unhook(rm, off, len, NULL);
	spin_unlock(rm->lock);
	/*
	 * Faults wait for map_lock: once zapped, the handler maps no ring
	 * page until the pages below are out of the index.  Live pages lose
	 * their PTEs too and are faulted back.
	 */
	if (nr && rm->mapping)
		unmap_mapping_range(rm->mapping, PAGE_SIZE,
				    (loff_t)(rm->nr_pages - 1) << PAGE_SHIFT,
				    1);
	spin_lock(rm->lock);
	/* entries written during the zap made some pages live again */
	len = live(rm, &off);
	nr = nr ? __tcmu_rmem_unhook(rm, off, len, &gone) : 0;
	list_splice_init(&rm->stash, &gone);
	nr += rm->nr_stash;
	rm->nr_stash = 0;
	WRITE_ONCE(rm->nr_held, rm->nr_held - nr);
	rm->trimmed += nr;
	/* the mailbox alone: faults wait for map_lock, writers for lock */
	if (rm->nr_held == 1) {
		index = rm->pages;
		WRITE_ONCE(rm->pages, NULL);
	}
	spin_unlock(rm->lock);
	up_write(&rm->map_lock);
	kvfree(index);

	list_for_each_entry_safe(page, tmp, &gone, lru) {
		list_del(&page->lru);
		tcmu_rmem_free_page(page);
	}
	return nr;
}

void tcmu_rmem_set_mapping(struct tcmu_ring_mem *rm,
			   struct address_space *mapping)
{
	down_write(&rm->map_lock);
	rm->mapping = mapping;
	up_write(&rm->map_lock);
}

/**
 * tcmu_rmem_fault - map one mailbox or ring page into the handler
 * @rm: the ring memory
 * @vmf: the fault
 * @index: page number within the mapping
 *
 * Return: VM_FAULT_NOPAGE once the PTE is in place, VM_FAULT_SIGBUS for
 * a page the kernel has not written, or the fault code of a failed
 * insert.
 */
vm_fault_t tcmu_rmem_fault(struct tcmu_ring_mem *rm, struct vm_fault *vmf,
			   pgoff_t index)
{
	struct page *page;
	int ret = 0;

	if (index >= rm->nr_pages)
		return VM_FAULT_SIGBUS;
	down_read(&rm->map_lock);
	/* pairs with the writer's release: the page is zeroed before */
	page = tcmu_rmem_page(rm, index);
	if (page)
		ret = vm_insert_page(vmf->vma, vmf->address, page);
	up_read(&rm->map_lock);
	if (!page)
		return VM_FAULT_SIGBUS;
	if (ret && ret != -EBUSY)
		return vmf_error(ret);
	return VM_FAULT_NOPAGE;
}

/* Pages held now (stash included), the peak, and pages trims gave back */
void tcmu_rmem_stats(struct tcmu_ring_mem *rm, u32 *held, u32 *peak,
		     u64 *trimmed)
{
	spin_lock(rm->lock);
	*held = rm->nr_held;
	*peak = rm->peak;
	*trimmed = rm->trimmed;
	spin_unlock(rm->lock);
}
