// SPDX-License-Identifier: GPL-2.0
/*
 * Zero copy: the data pages of a large command are shown to the handler
 * in a window of its mapping, after the data area, instead of being
 * copied to and from data area blocks.
 *
 * DOC: the zero-copy window
 *
 * A device enabled with zero_copy=1 gets a window of TCMU_ZC_SLOTS slots
 * after its data area; a slot has room for the largest command the device
 * takes (hw_max_sectors), plus one page for a buffer that does not start
 * on a page boundary.  A command of at least zero_copy_min_kb takes a
 * slot; its data is cut into page-sized chunks and chunk i is shown at
 * page i of the slot.  A chunk that covers a whole page is that very page
 * of the request; any other chunk is copied into a zeroed page of ours
 * (a "bounce" page) at the same offset.  The iovecs of the entry point
 * into the slot, and the entry carries TCMU_KFLAG_ZERO_COPY.  Commands
 * that are too small, BIDI, READs with zero_copy_read=0, too big for a
 * slot, or meet a full window or no memory for a bounce page take the
 * copy path; each reason has a counter.
 *
 * What a slot shows is kept in an array of 32 bytes a page, which stays
 * with the slot from one command to the next and grows to the largest
 * command the slot has carried; the device frees them when it goes.  A
 * slot's array is memory of the kernel's heap, not of the pool, and only
 * slots in use at once have one: 2 KiB a slot for 256 KiB commands, 8
 * KiB for 1 MiB ones (twice that where buffers do not start on a page),
 * at most 2 MiB a device (128 slots of 1 MiB commands, unaligned).
 * Allocating it per command cost more than the rest of the mapping: a
 * kmalloc that init_on_alloc zeroes.
 *
 * zero_copy_read exists because write notification has a price: a
 * handler that fills READ buffers with the CPU (pread() from a file,
 * memcpy) takes a fault per command (its first store maps the whole
 * buffer writable, or upgrades it if it read first), and the READ's
 * pages are zeroed before it sees them, which costs what a copy does.
 * READs stay on the copy path unless asked for.  A handler that fills
 * them by other means, or not at all, gains.
 *
 * Our fault handler maps a whole slot at once, in one walk of the page
 * tables (apply_to_page_range()), with the PTEs vmf_insert_mixed() makes
 * page by page: special ones, with no page reference, no rmap, and
 * get_user_pages() refuses them (zero_copy=1 is refused on an
 * architecture without special PTEs).  That last point is what makes the
 * window safe: nothing but the PTEs can reach a request page from user
 * space, and the kernel removes every PTE (unmap_mapping_range(), which
 * covers every mapping of the device: forks, second mmaps, moved VMAs)
 * before it hands the command back to target core.  It is also the one
 * limit of the window: O_DIRECT, io_uring fixed buffers, vmsplice and
 * anything else that pins user pages fail with EFAULT on window
 * addresses.  A handler that needs them leaves zero_copy off on that
 * device; the data area stays ordinary pages.
 *
 * WRITE data is read-only: the mapping of a zero-copy device asks for
 * write notification (it has a pfn_mkwrite), so every window PTE starts
 * read-only and pfn_mkwrite refuses the upgrade for WRITE data (SIGBUS).
 * READ pages of the request are zeroed before they are shown, so the
 * handler never sees what the page held before, and the initiator never
 * gets stale memory back from a handler that did not fill the buffer.
 *
 * Before its se_cmd goes back to target core a command's slot is
 * detached: its PTEs are zapped and, unless the handler asked to keep the
 * buffer, the slot is "revoked": until the handler completes the entry
 * (or reset_ring), any access to it maps one zeroed scratch page of the
 * device, writable, so a handler still working on a timed-out command
 * neither faults nor sees anyone's data but its own scribbles.  A command
 * completed with TCMU_UFLAG_KEEP_BUF gets its request pages copied into
 * pages of ours, charged to the pool, which then stay at the same
 * offsets until free_kept_buf; if the pool has no pages at once the slot
 * is revoked instead, with a log line.
 *
 * Faults take zc.lock for read and insert their PTEs under it; every
 * change of a slot's pages away from the request (detach, release) takes
 * it for write and zaps before letting go, so no PTE to a page can be
 * created after the zap that removes it.
 */
#include <linux/bitmap.h>
#include <linux/cacheflush.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pfn_t.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string_choices.h>
#include "tcmu.h"
#include "trace.h"

/* What a window slot shows */
enum tcmu_zc_state {
	TCMU_ZC_S_FREE,		/* nothing: faults get SIGBUS */
	TCMU_ZC_S_LIVE,		/* the command's pages */
	TCMU_ZC_S_REVOKED,	/* the scratch page, for every page */
	TCMU_ZC_S_KEPT,		/* our copies of a kept buffer */
};

/**
 * struct tcmu_zc_page - one page of a window slot
 * @page: what the handler sees there
 * @sg_page: for a bounce page, the request page it stands for
 * @off: the command's bytes start here in the page
 * @len: and are this long
 * @own: @page is ours (bounce page or kept copy), charged to the pool
 */
struct tcmu_zc_page {
	struct page *page;
	struct page *sg_page;
	u32 off;
	u32 len;
	bool own;
};

/**
 * struct tcmu_zc_slot - the window pages of one command
 * @pages: @nr_pages entries, set before the slot goes live; the array
 *	(@cap entries) stays with the slot from command to command
 * @cap: entries in @pages
 * @nr_pages: pages in use
 * @nr_iovs: iovecs they come to (runs of pages that touch)
 * @bytes: the command's bytes in them
 * @bounced: of the pages, bounce pages
 * @state: enum tcmu_zc_state; leaves LIVE only under tcmu_zc.lock held
 *	for write
 * @ro: WRITE data: the handler may not write it
 * @faulted: a PTE may exist; set by faults, cleared by the zap
 */
struct tcmu_zc_slot {
	struct tcmu_zc_page *pages;
	u32 cap;
	u32 nr_pages;
	u32 nr_iovs;
	u32 bytes;
	u32 bounced;
	u8 state;
	bool ro;
	bool faulted;
};

static const char * const tcmu_zc_stat_names[TCMU_ZC_NR_STATS] = {
	[TCMU_ZC_CMDS] = "ZcCmds",
	[TCMU_ZC_PAGES] = "ZcPages",
	[TCMU_ZC_BOUNCED] = "ZcBounced",
	[TCMU_ZC_UNMAPPABLE] = "ZcBouncedUnmappable",
	[TCMU_ZC_FAULTS] = "ZcFaults",
	[TCMU_ZC_ZAPS] = "ZcZaps",
	[TCMU_ZC_REVOKED] = "ZcRevoked",
	[TCMU_ZC_KEPT] = "ZcKept",
	[TCMU_ZC_DENIED] = "ZcWriteDenied",
	[TCMU_ZC_FB_SMALL] = "ZcFallbackSmall",
	[TCMU_ZC_FB_BIDI] = "ZcFallbackBidi",
	[TCMU_ZC_FB_SIZE] = "ZcFallbackSize",
	[TCMU_ZC_FB_FULL] = "ZcFallbackFull",
	[TCMU_ZC_FB_NOMEM] = "ZcFallbackNomem",
	[TCMU_ZC_FB_READ] = "ZcFallbackRead",
};

/* Pages of a slot for commands of up to @max_bytes */
u32 tcmu_zc_slot_pages(u64 max_bytes)
{
	u64 pages = DIV_ROUND_UP_ULL(max_bytes, PAGE_SIZE) + 1;

	return min_t(u64, pages, TCMU_ZC_SLOT_MAX_PAGES);
}

int tcmu_zc_init(struct tcmu_zc *zc, struct tcmu_pool *pool, pgoff_t base,
		 u32 slot_pages)
{
	int i;

	init_rwsem(&zc->lock);
	spin_lock_init(&zc->slot_lock);
	zc->pool = pool;
	zc->base = base;
	zc->slot_pages = slot_pages;
	zc->nr_slots = TCMU_ZC_SLOTS;
	atomic_long_set(&zc->own_pages, 0);
	for (i = 0; i < TCMU_ZC_NR_STATS; i++)
		atomic64_set(&zc->stats[i], 0);
	zc->slots = kcalloc(zc->nr_slots, sizeof(*zc->slots), GFP_KERNEL);
	zc->busy = bitmap_zalloc(zc->nr_slots, GFP_KERNEL);
	zc->scratch = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!zc->slots || !zc->busy || !zc->scratch) {
		tcmu_zc_exit(zc);
		return -ENOMEM;
	}
	return 0;
}

/* All slots are free: the device's commands are gone, and its mappings. */
void tcmu_zc_exit(struct tcmu_zc *zc)
{
	u32 i;

	for (i = 0; zc->slots && i < zc->nr_slots; i++)
		kfree(zc->slots[i].pages);
	kfree(zc->slots);
	bitmap_free(zc->busy);
	if (zc->scratch)
		__free_page(zc->scratch);
	zc->slots = NULL;
	zc->busy = NULL;
	zc->scratch = NULL;
}

void tcmu_zc_set_mapping(struct tcmu_zc *zc, struct address_space *mapping)
{
	if (!tcmu_zc_enabled(zc))
		return;
	down_write(&zc->lock);
	zc->mapping = mapping;
	up_write(&zc->lock);
}

static void tcmu_zc_count(struct tcmu_zc *zc, enum tcmu_zc_stat stat, u64 n)
{
	atomic64_add(n, &zc->stats[stat]);
}

static struct tcmu_zc_slot *tcmu_zc_cmd_slot(struct tcmu_zc *zc,
					     const struct tcmu_cmd *cmd)
{
	return &zc->slots[cmd->zc_slot - 1];
}

/* Byte offset of page @pos of slot @slot in the mapping */
static loff_t tcmu_zc_offset(const struct tcmu_zc *zc, u32 slot, u32 pos)
{
	return (loff_t)(zc->base + (pgoff_t)slot * zc->slot_pages + pos) <<
	       PAGE_SHIFT;
}

/* Free the pages a slot owns (bounce pages, kept copies); returns how many */
static long tcmu_zc_put_own(struct tcmu_zc_page *pages, u32 nr)
{
	long freed = 0;
	u32 i;

	for (i = 0; i < nr; i++) {
		if (!pages[i].own)
			continue;
		__free_page(pages[i].page);
		pages[i].page = NULL;
		pages[i].own = false;
		freed++;
	}
	return freed;
}

/* The same, and give their charge back to the pool; returns how many */
static long tcmu_zc_free_own(struct tcmu_zc *zc, struct tcmu_zc_page *pages,
			     u32 nr)
{
	long freed = tcmu_zc_put_own(pages, nr);

	atomic_long_sub(freed, &zc->own_pages);
	tcmu_pool_uncharge(zc->pool, freed);
	return freed;
}

/* Remove the slot's PTEs from every mapping.  zc->lock held for write. */
static void tcmu_zc_zap(struct tcmu_zc *zc, u32 slot)
{
	struct tcmu_zc_slot *s = &zc->slots[slot];

	lockdep_assert_held_write(&zc->lock);
	if (!s->faulted)
		return;
	if (zc->mapping)
		unmap_mapping_range(zc->mapping, tcmu_zc_offset(zc, slot, 0),
				    (loff_t)s->nr_pages << PAGE_SHIFT, 1);
	s->faulted = false;
	tcmu_zc_count(zc, TCMU_ZC_ZAPS, 1);
}

/*
 * The huge zero folio is not exported to modules.  It is a large folio
 * that is neither anonymous nor in a file nor rmappable; compound pages
 * the kernel allocated for itself look the same and are bounced too,
 * which costs a copy, nothing else.
 */
static bool tcmu_zc_huge_zero_like(struct folio *folio)
{
	return folio_test_large(folio) && !folio->mapping &&
	       !folio_test_large_rmappable(folio);
}

/*
 * Whether a request page may be shown to the handler as it is.  The
 * shared zero page (and the huge one) may not be in a shared writable
 * mapping, which would refuse it (and it must never become writable);
 * slab and typed pages hold other objects or page tables; ZONE_DEVICE
 * and reserved pages are not the request's memory to show.  O_DIRECT
 * from untouched memory, blkdev_issue_zeroout() and guest RAM behind
 * vhost-scsi bring such pages.
 */
static bool tcmu_zc_mappable(struct page *page)
{
	struct folio *folio = page_folio(page);

	return !is_zero_page(page) && !tcmu_zc_huge_zero_like(folio) &&
	       !folio_test_slab(folio) && !page_has_type(page) &&
	       !is_zone_device_page(page) && !PageReserved(page);
}

/*
 * Room for @n pages in @s's array.  The slot is not live (its pages are
 * being filled), so no fault reads the array meanwhile.
 */
static bool tcmu_zc_slot_grow(struct tcmu_zc_slot *s, u32 n)
{
	struct tcmu_zc_page *pages;

	pages = krealloc_array(s->pages, n, sizeof(*pages),
			       GFP_NOIO | __GFP_NOWARN);
	if (!pages)
		return false;
	s->pages = pages;
	s->cap = n;
	return true;
}

/* A chunk at @off starts where @prev ends in the window: one iovec */
static bool tcmu_zc_follows(const struct tcmu_zc_page *prev, u32 off)
{
	return !off && prev->off + prev->len == PAGE_SIZE;
}

/**
 * struct tcmu_zc_fill - a slot's pages being filled from a command's data
 * @zc: the window
 * @s: the slot
 * @nr: chunks filled
 * @iovs: runs of chunks that touch in the window: the entry's iovecs
 * @bytes: in the chunks filled
 * @bounced: chunks copied into a bounce page
 * @unmappable: of those, whole pages that may not be shown
 * @to_dev: WRITE data
 */
struct tcmu_zc_fill {
	struct tcmu_zc *zc;
	struct tcmu_zc_slot *s;
	u32 nr;
	u32 iovs;
	u32 bytes;
	u32 bounced;
	u32 unmappable;
	bool to_dev;
};

/*
 * Put the next chunk of the command's data in its slot page: the request
 * page itself, or a copy in a bounce page, charged to the pool.  False
 * when there is no page or no charge for a bounce page.
 */
static bool tcmu_zc_fill_one(struct tcmu_zc_fill *f, struct page *page,
			     u32 off, u32 len)
{
	struct tcmu_zc_page *p = &f->s->pages[f->nr];

	/* a new iovec unless it follows the previous chunk in the window */
	if (!f->nr || !tcmu_zc_follows(p - 1, off))
		f->iovs++;
	p->off = off;
	p->len = len;
	f->bytes += len;
	p->sg_page = NULL;
	p->own = false;
	if (!off && len == PAGE_SIZE && tcmu_zc_mappable(page)) {
		p->page = page;
		/*
		 * READ: the handler must never see what the page held.
		 * memset, not clear_page(): the latter's "rep stosb" is
		 * slow where string instructions are emulated.
		 */
		if (!f->to_dev)
			memzero_page(page, 0, PAGE_SIZE);
		f->nr++;
		return true;
	}
	/* partly covered (the rest is not the command's), or unmappable */
	if (!tcmu_pool_try_charge(f->zc->pool, 1))
		return false;
	p->page = alloc_page(GFP_NOIO | __GFP_ZERO | __GFP_NOWARN);
	if (!p->page) {
		tcmu_pool_uncharge(f->zc->pool, 1);
		return false;
	}
	p->own = true;
	p->sg_page = page;
	f->bounced++;
	f->unmappable += !off && len == PAGE_SIZE;
	if (f->to_dev)
		memcpy_page(p->page, off, page, off, len);
	f->nr++;
	return true;
}

/*
 * Cut the data of @se_cmd into page chunks and fill the slot's pages
 * with them, in one pass.  TCMU_ZC_CMDS when all of it is in; else the
 * reason it takes the copy path (TCMU_ZC_FB_SIZE: more chunks than a
 * slot has pages; TCMU_ZC_FB_NOMEM: no bounce page, or no room to grow
 * the slot's array), with the bounce pages taken so far given back.
 */
static enum tcmu_zc_stat tcmu_zc_fill_chunks(struct tcmu_zc_fill *f,
					     struct se_cmd *se_cmd)
{
	size_t len = se_cmd->data_length;
	struct scatterlist *sg;
	unsigned int i;

	for_each_sg(se_cmd->t_data_sg, sg, se_cmd->t_data_nents, i) {
		size_t at = sg->offset, sg_len = min_t(size_t, sg->length, len);
		struct page *first = sg_page(sg);

		len -= sg_len;
		while (sg_len) {
			u32 off = offset_in_page(at);
			u32 clen = min_t(size_t, PAGE_SIZE - off, sg_len);

			if (f->nr == f->s->cap) {
				if (f->s->cap == f->zc->slot_pages)
					goto undo_size;
				if (!tcmu_zc_slot_grow(f->s,
						       min(f->s->cap * 2,
							   f->zc->slot_pages)))
					goto undo_nomem;
			}
			if (!tcmu_zc_fill_one(f, nth_page(first,
							  at >> PAGE_SHIFT),
					      off, clen))
				goto undo_nomem;
			at += clen;
			sg_len -= clen;
		}
		if (!len)
			break;
	}
	return TCMU_ZC_CMDS;

undo_size:
	tcmu_pool_uncharge(f->zc->pool, tcmu_zc_put_own(f->s->pages, f->nr));
	return TCMU_ZC_FB_SIZE;
undo_nomem:
	tcmu_pool_uncharge(f->zc->pool, tcmu_zc_put_own(f->s->pages, f->nr));
	return TCMU_ZC_FB_NOMEM;
}

/*
 * Whether @cmd may use the window at all; the reason it may not is
 * counted.
 */
static bool tcmu_zc_wants(struct tcmu_dev *udev, struct tcmu_cmd *cmd)
{
	struct tcmu_zc *zc = &udev->zc;
	struct se_cmd *se_cmd = cmd->se_cmd;

	/* the window shows the se_cmd's pages, and nothing past them */
	if (!tcmu_zc_enabled(zc) || !se_cmd->data_length ||
	    !se_cmd->t_data_nents || cmd->data_len != se_cmd->data_length)
		return false;
	if (se_cmd->data_length < READ_ONCE(udev->zc_min_bytes)) {
		tcmu_zc_count(zc, TCMU_ZC_FB_SMALL, 1);
		return false;
	}
	if (se_cmd->se_cmd_flags & SCF_BIDI ||
	    (se_cmd->data_direction != DMA_TO_DEVICE &&
	     se_cmd->data_direction != DMA_FROM_DEVICE)) {
		tcmu_zc_count(zc, TCMU_ZC_FB_BIDI, 1);
		return false;
	}
	if (se_cmd->data_direction == DMA_FROM_DEVICE &&
	    !READ_ONCE(udev->zc_read)) {
		tcmu_zc_count(zc, TCMU_ZC_FB_READ, 1);
		return false;
	}
	return true;
}

/*
 * Fill @slot with @se_cmd's data and make it live: TCMU_ZC_CMDS, or the
 * reason it takes the copy path (the slot is as before then, but for
 * its array, which may have grown).  The array is sized for the data's
 * pages; a buffer that does not start on a page, or an odder
 * scatterlist, grows it as the pass goes.
 */
static enum tcmu_zc_stat tcmu_zc_fill_slot(struct tcmu_zc *zc, u32 slot,
					   struct se_cmd *se_cmd,
					   struct tcmu_zc_fill *f)
{
	struct tcmu_zc_slot *s = &zc->slots[slot];
	u64 need = DIV_ROUND_UP_ULL((u64)se_cmd->data_length, PAGE_SIZE);
	enum tcmu_zc_stat ret;

	if (s->cap < need &&
	    !tcmu_zc_slot_grow(s, min_t(u64, need, zc->slot_pages)))
		return TCMU_ZC_FB_NOMEM;
	f->zc = zc;
	f->s = s;
	f->to_dev = se_cmd->data_direction == DMA_TO_DEVICE;
	ret = tcmu_zc_fill_chunks(f, se_cmd);
	if (ret != TCMU_ZC_CMDS)
		return ret;
	s->nr_pages = f->nr;
	s->nr_iovs = f->iovs;
	s->bytes = f->bytes;
	s->bounced = f->bounced;
	s->ro = f->to_dev;
	s->faulted = false;
	/* a fault that sees LIVE sees the pages */
	smp_store_release(&s->state, TCMU_ZC_S_LIVE);
	return TCMU_ZC_CMDS;
}

/**
 * tcmu_zc_map - show a command's data in the window
 * @udev: the device
 * @cmd: the command, not on the ring yet
 *
 * Return: true when the command goes zero copy (cmd->zc_slot and
 * cmd->zc_iovs are set); false when it takes the copy path.
 */
bool tcmu_zc_map(struct tcmu_dev *udev, struct tcmu_cmd *cmd)
{
	struct tcmu_zc *zc = &udev->zc;
	struct tcmu_zc_fill f = { };
	enum tcmu_zc_stat ret;
	u32 slot;

	if (!tcmu_zc_wants(udev, cmd))
		return false;

	spin_lock(&zc->slot_lock);
	slot = find_first_zero_bit(zc->busy, zc->nr_slots);
	if (slot < zc->nr_slots)
		__set_bit(slot, zc->busy);
	spin_unlock(&zc->slot_lock);
	if (slot >= zc->nr_slots) {
		tcmu_zc_count(zc, TCMU_ZC_FB_FULL, 1);
		return false;
	}

	ret = tcmu_zc_fill_slot(zc, slot, cmd->se_cmd, &f);
	if (ret != TCMU_ZC_CMDS) {
		spin_lock(&zc->slot_lock);
		__clear_bit(slot, zc->busy);
		spin_unlock(&zc->slot_lock);
		tcmu_zc_count(zc, ret, 1);
		return false;
	}

	cmd->zc_slot = slot + 1;
	cmd->zc_iovs = f.iovs;
	tcmu_zc_count(zc, TCMU_ZC_CMDS, 1);
	atomic_long_add(f.bounced, &zc->own_pages);
	tcmu_zc_count(zc, TCMU_ZC_PAGES, f.nr - f.bounced);
	tcmu_zc_count(zc, TCMU_ZC_BOUNCED, f.bounced);
	tcmu_zc_count(zc, TCMU_ZC_UNMAPPABLE, f.unmappable);
	trace_tcmu_zc_map(udev->name, slot, f.nr, f.bounced, f.to_dev);
	return true;
}

/* Write @cmd's iovecs (offsets in the mapping); returns how many. */
u32 tcmu_zc_fill_iovs(struct tcmu_zc *zc, const struct tcmu_cmd *cmd,
		      struct iovec *iov)
{
	const struct tcmu_zc_slot *s = tcmu_zc_cmd_slot(zc, cmd);
	u32 slot = cmd->zc_slot - 1, i, n = 0;

	/* the usual case: whole pages, or one run of them, all the data */
	if (s->nr_iovs == 1) {
		iov[0].iov_base = (void __user *)(uintptr_t)
			(tcmu_zc_offset(zc, slot, 0) + s->pages[0].off);
		iov[0].iov_len = s->bytes;
		return 1;
	}
	for (i = 0; i < s->nr_pages; i++) {
		const struct tcmu_zc_page *p = &s->pages[i];

		if (i && tcmu_zc_follows(p - 1, p->off)) {
			iov[n - 1].iov_len += p->len;
			continue;
		}
		iov[n].iov_base = (void __user *)(uintptr_t)
			(tcmu_zc_offset(zc, slot, i) + p->off);
		iov[n].iov_len = p->len;
		n++;
	}
	return n;
}

/*
 * READ data the handler put in bounce pages goes to the request's pages,
 * up to @len bytes.  Full pages already hold it.
 */
void tcmu_zc_copy_back(struct tcmu_zc *zc, const struct tcmu_cmd *cmd,
		       size_t len)
{
	const struct tcmu_zc_slot *s = tcmu_zc_cmd_slot(zc, cmd);
	u32 i;

	/* the request's own pages hold the data, and need no flush here */
	if (!s->bounced && !ARCH_IMPLEMENTS_FLUSH_DCACHE_PAGE)
		return;
	for (i = 0; i < s->nr_pages && len; i++) {
		const struct tcmu_zc_page *p = &s->pages[i];
		u32 n = min_t(size_t, p->len, len);

		if (p->sg_page)
			memcpy_page(p->sg_page, p->off, p->page, p->off, n);
		else
			flush_dcache_page(p->page);
		len -= n;
	}
}

/*
 * The command leaves the handler's hands with its se_cmd: no PTE may
 * point at a request page any more.  @keep: the handler kept the buffer
 * (KEEP_BUF), so copy the request pages into pages of ours; otherwise, or
 * when there are no pages for that, revoke the slot.
 */
void tcmu_zc_detach(struct tcmu_dev *udev, struct tcmu_cmd *cmd, bool keep)
{
	struct tcmu_zc *zc = &udev->zc;
	struct tcmu_zc_slot *s = tcmu_zc_cmd_slot(zc, cmd);
	u32 slot = cmd->zc_slot - 1, i, want = 0;
	struct page **copies = NULL;

	if (s->state != TCMU_ZC_S_LIVE)
		return;
	if (keep) {
		for (i = 0; i < s->nr_pages; i++)
			want += !s->pages[i].own;
		copies = kcalloc(want, sizeof(*copies), GFP_NOIO);
		if (copies && tcmu_pool_try_charge(zc->pool, want)) {
			for (i = 0; i < want; i++) {
				copies[i] = alloc_page(GFP_NOIO | __GFP_NOWARN);
				if (!copies[i])
					break;
			}
			if (i < want) {
				while (i--)
					__free_page(copies[i]);
				tcmu_pool_uncharge(zc->pool, want);
				keep = false;
			}
		} else {
			keep = false;
		}
		if (!keep)
			pr_warn_ratelimited("%s: no memory to keep the zero-copy buffer of cmd_id %u; it reads as zeros now\n",
					    udev->name, cmd->cmd_id);
	}

	down_write(&zc->lock);
	tcmu_zc_zap(zc, slot);
	if (keep) {
		u32 c = 0;

		for (i = 0; i < s->nr_pages; i++) {
			struct tcmu_zc_page *p = &s->pages[i];

			if (p->own)
				continue;
			copy_highpage(copies[c], p->page);
			p->page = copies[c++];
			p->own = true;
		}
		WRITE_ONCE(s->state, TCMU_ZC_S_KEPT);
	} else {
		WRITE_ONCE(s->state, TCMU_ZC_S_REVOKED);
	}
	up_write(&zc->lock);
	kfree(copies);

	if (keep) {
		atomic_long_add(want, &zc->own_pages);
		tcmu_zc_count(zc, TCMU_ZC_KEPT, 1);
	} else {
		/* faults map the scratch page now: bounce pages are free */
		tcmu_zc_free_own(zc, s->pages, s->nr_pages);
		tcmu_zc_count(zc, TCMU_ZC_REVOKED, 1);
	}
	trace_tcmu_zc_unmap(udev->name, slot, s->nr_pages,
			    keep ? "keep" : "revoke");
}

/**
 * tcmu_zc_revoke_kept - take back the copies of a kept buffer
 * @udev: the device
 * @cmd: a command completed with KEEP_BUF, not freed yet
 *
 * Pages are short and the device holds more than its share: the slot is
 * revoked as on a timeout, and shows the scratch page until the handler
 * frees the buffer.
 *
 * Return: the pages given back to the pool.
 */
long tcmu_zc_revoke_kept(struct tcmu_dev *udev, struct tcmu_cmd *cmd)
{
	struct tcmu_zc *zc = &udev->zc;
	struct tcmu_zc_slot *s = tcmu_zc_cmd_slot(zc, cmd);
	u32 slot = cmd->zc_slot - 1;

	if (s->state != TCMU_ZC_S_KEPT)
		return 0;
	down_write(&zc->lock);
	tcmu_zc_zap(zc, slot);
	WRITE_ONCE(s->state, TCMU_ZC_S_REVOKED);
	up_write(&zc->lock);
	tcmu_zc_count(zc, TCMU_ZC_REVOKED, 1);
	trace_tcmu_zc_unmap(udev->name, slot, s->nr_pages, "revoke");
	return tcmu_zc_free_own(zc, s->pages, s->nr_pages);
}

/* The command is freed: its slot can go to another one. */
void tcmu_zc_release(struct tcmu_dev *udev, struct tcmu_cmd *cmd)
{
	struct tcmu_zc *zc = &udev->zc;
	struct tcmu_zc_slot *s = tcmu_zc_cmd_slot(zc, cmd);
	u32 slot = cmd->zc_slot - 1;

	down_write(&zc->lock);
	WRITE_ONCE(s->state, TCMU_ZC_S_FREE);
	tcmu_zc_zap(zc, slot);
	up_write(&zc->lock);

	tcmu_zc_free_own(zc, s->pages, s->nr_pages);
	/* the array stays, for the slot's next command */
	s->nr_pages = 0;
	trace_tcmu_zc_unmap(udev->name, slot, 0, "free");
	cmd->zc_slot = 0;
	cmd->zc_iovs = 0;

	spin_lock(&zc->slot_lock);
	__clear_bit(slot, zc->busy);
	spin_unlock(&zc->slot_lock);
}

/*
 * A walk over the PTEs of a slot: at @start, the pages of @s (mapped, or
 * made writable for a READ buffer), or the scratch page alone (@s NULL,
 * @pfn its frame)
 */
struct tcmu_zc_ptes {
	struct vm_area_struct *vma;
	struct tcmu_zc_slot *s;
	unsigned long start;
	unsigned long pfn;
	bool write;
};

static struct page *tcmu_zc_pte_page(struct tcmu_zc_ptes *w, unsigned long addr)
{
	return w->s->pages[(addr - w->start) >> PAGE_SHIFT].page;
}

/* @entry made writable, as a write fault leaves a shared mapping's PTE */
static pte_t tcmu_zc_pte_writable(pte_t entry)
{
	return pte_mkdirty(pte_mkwrite_novma(pte_mkyoung(entry)));
}

/*
 * apply_to_page_range() callback, under the PTE lock: map a slot page
 * where nothing is mapped, as vmf_insert_mixed() does on an architecture
 * with special PTEs (what a racing fault mapped stays): read-only, or
 * writable and dirty (@write) as tcmu_zc_pte_mkwrite() would make it.
 */
static int tcmu_zc_pte_map(pte_t *pte, unsigned long addr, void *data)
{
	struct tcmu_zc_ptes *w = data;
	pte_t entry;

	if (!pte_none(ptep_get(pte)))
		return 0;
	entry = pte_mkspecial(mk_pte(tcmu_zc_pte_page(w, addr),
				     w->vma->vm_page_prot));
	if (w->write)
		entry = tcmu_zc_pte_writable(entry);
	set_pte_at(w->vma->vm_mm, addr, pte, entry);
	update_mmu_cache(w->vma, addr, pte);
	return 0;
}

/* apply_to_existing_page_range() callback, under the PTE lock */
static int tcmu_zc_pte_mkwrite(pte_t *pte, unsigned long addr, void *data)
{
	struct tcmu_zc_ptes *w = data;
	pte_t entry = ptep_get(pte);
	unsigned long pfn = w->pfn;

	if (w->s)
		pfn = page_to_pfn(tcmu_zc_pte_page(w, addr));
	/* zapped, or mapped again since: the access faults afresh */
	if (!pte_present(entry) || pte_pfn(entry) != pfn)
		return 0;
	set_pte_at(w->vma->vm_mm, addr, pte, tcmu_zc_pte_writable(entry));
	update_mmu_cache(w->vma, addr, pte);
	return 0;
}

/*
 * Walk the PTEs of live slot @s, whose page @pos is at @addr, that lie in
 * @vma: all of them, so that the handler takes one fault to map a
 * command's buffer and, for a READ buffer it reads before it fills, one
 * to make it writable, not one per page.  @map: install them (page
 * tables are allocated as needed) with tcmu_zc_pte_map(), writable if
 * @write; else upgrade those that exist with tcmu_zc_pte_mkwrite().
 * Under zc->lock.
 *
 * Return: 0, or apply_to_page_range()'s error.
 */
static int tcmu_zc_slot_ptes(struct vm_area_struct *vma,
			     struct tcmu_zc_slot *s, unsigned long addr,
			     u32 pos, bool map, bool write)
{
	struct tcmu_zc_ptes w = {
		.vma = vma,
		.s = s,
		.start = (addr & PAGE_MASK) - ((unsigned long)pos << PAGE_SHIFT),
		.write = write,
	};
	unsigned long start = max(w.start, vma->vm_start);
	unsigned long end = min(w.start +
				((unsigned long)s->nr_pages << PAGE_SHIFT),
				vma->vm_end);

	if (map)
		return apply_to_page_range(vma->vm_mm, start, end - start,
					   tcmu_zc_pte_map, &w);
	return apply_to_existing_page_range(vma->vm_mm, start, end - start,
					    tcmu_zc_pte_mkwrite, &w);
}

/**
 * tcmu_zc_fault - map window pages into the handler
 * @zc: the device's window
 * @vmf: the fault
 * @index: page number within the window
 *
 * A live slot is mapped whole on its first fault (the handler is about to
 * read or write its buffer): writable if that fault is a write to a
 * buffer the handler may write, else read-only, and writes to READ
 * buffers then upgrade through tcmu_zc_mkwrite().  A revoked slot maps
 * the scratch page.  A free slot, or a page past a slot's command, gets
 * SIGBUS: nothing was ever shown there.
 *
 * Return: the fault code of inserting the faulting page (VM_FAULT_NOPAGE
 * when it is mapped), or VM_FAULT_SIGBUS.
 */
vm_fault_t tcmu_zc_fault(struct tcmu_zc *zc, struct vm_fault *vmf,
			 pgoff_t index)
{
	struct vm_area_struct *vma = vmf->vma;
	u32 slot = index / zc->slot_pages, pos = index % zc->slot_pages;
	struct tcmu_zc_slot *s;
	vm_fault_t ret = VM_FAULT_SIGBUS;
	u8 state;
	int err;

	if (slot >= zc->nr_slots)
		return VM_FAULT_SIGBUS;
	s = &zc->slots[slot];
	down_read(&zc->lock);
	/* pairs with the release in tcmu_zc_map(): LIVE means pages set */
	state = smp_load_acquire(&s->state);
	if (state == TCMU_ZC_S_FREE || pos >= s->nr_pages)
		goto out;
	if (vmf->flags & FAULT_FLAG_WRITE && s->ro && state != TCMU_ZC_S_REVOKED) {
		tcmu_zc_count(zc, TCMU_ZC_DENIED, 1);
		goto out;
	}
	/* read by the zap, under the lock held for write */
	WRITE_ONCE(s->faulted, true);
	if (state == TCMU_ZC_S_REVOKED) {
		ret = vmf_insert_mixed(vma, vmf->address,
				       page_to_pfn_t(zc->scratch));
		goto out;
	}
	/*
	 * One page table walk and lock for the slot, not one a page.  A
	 * write to a buffer the handler may write (a READ's) maps it
	 * writable at once: under zc->lock, as tcmu_zc_mkwrite() would.
	 */
	err = tcmu_zc_slot_ptes(vma, s, vmf->address, pos, true,
				vmf->flags & FAULT_FLAG_WRITE && !s->ro);
	ret = err == -ENOMEM ? VM_FAULT_OOM :
	      err ? VM_FAULT_SIGBUS : VM_FAULT_NOPAGE;
	tcmu_zc_count(zc, TCMU_ZC_FAULTS, 1);
out:
	up_read(&zc->lock);
	return ret;
}

/**
 * tcmu_zc_mkwrite - a write to a read-only window PTE
 * @zc: the device's window
 * @vmf: the write fault
 * @index: page number within the window
 *
 * Allowed for READ buffers and the scratch page, refused (SIGBUS) for
 * WRITE data.  The PTE (for a READ buffer, every PTE of the buffer's
 * pages) is made writable here, under zc->lock, and not by the core
 * after we return: by then the slot may have been released and
 * given to a WRITE whose page, mapped read-only at the same place, looks
 * the same to the core's pte_same() check.  6.12 exports no helper that
 * upgrades a mixed-map PTE (vmf_insert_mixed_mkwrite() is not exported),
 * so the PTE is set through apply_to_existing_page_range(), and only if
 * it still maps the page decided on.
 *
 * Return: VM_FAULT_NOPAGE (the access is retried: it finds the PTE
 * writable, or faults again), or VM_FAULT_SIGBUS.
 */
vm_fault_t tcmu_zc_mkwrite(struct tcmu_zc *zc, struct vm_fault *vmf,
			   pgoff_t index)
{
	u32 slot = index / zc->slot_pages, pos = index % zc->slot_pages;
	struct tcmu_zc_ptes u = { .vma = vmf->vma };
	vm_fault_t ret = VM_FAULT_SIGBUS;
	struct page *page = NULL;
	struct tcmu_zc_slot *s;
	u8 state;

	if (slot >= zc->nr_slots)
		return VM_FAULT_SIGBUS;
	s = &zc->slots[slot];
	down_read(&zc->lock);
	state = READ_ONCE(s->state);
	if (state == TCMU_ZC_S_REVOKED)
		page = zc->scratch;
	else if (state != TCMU_ZC_S_FREE && pos < s->nr_pages && !s->ro)
		page = s->pages[pos].page;
	else if (state != TCMU_ZC_S_FREE)
		tcmu_zc_count(zc, TCMU_ZC_DENIED, 1);
	if (page) {
		tcmu_debug_mkwrite_delay();
		if (state == TCMU_ZC_S_REVOKED) {
			u.pfn = page_to_pfn(page);
			apply_to_existing_page_range(vmf->vma->vm_mm,
						     vmf->address & PAGE_MASK,
						     PAGE_SIZE,
						     tcmu_zc_pte_mkwrite, &u);
		} else {
			tcmu_zc_slot_ptes(vmf->vma, s, vmf->address, pos,
					  false, true);
		}
		ret = VM_FAULT_NOPAGE;
	}
	up_read(&zc->lock);
	return ret;
}

/* The counters, for the device's info */
int tcmu_zc_show(struct tcmu_dev *udev, char *b)
{
	struct tcmu_zc *zc = &udev->zc;
	int i, n;

	n = sprintf(b, "ZeroCopy: %s ZcMinKB: %u",
		    str_on_off(tcmu_zc_enabled(zc)),
		    READ_ONCE(udev->zc_min_bytes) >> 10);
	for (i = 0; i < TCMU_ZC_NR_STATS; i++)
		n += sprintf(b + n, " %s: %lld", tcmu_zc_stat_names[i],
			     (long long)atomic64_read(&zc->stats[i]));
	n += sprintf(b + n, "\n");
	return n;
}

#if IS_ENABLED(CONFIG_TCM_USER2_KUNIT_TEST)
#include "tests/zero_copy_kunit.c"
#endif
