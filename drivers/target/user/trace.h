/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of tcmu-ng (TCM/USER): the global data page pool, the
 * completion threads and the zero-copy window.
 * Enable with e.g. echo 1 >/sys/kernel/tracing/events/tcmu/enable
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM tcmu

#if !defined(_TCMU_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TCMU_TRACE_H

#include <linux/tracepoint.h>

/* A data area could not charge @want pages: the pool is full or short. */
TRACE_EVENT(tcmu_pool_alloc_fail,
	    TP_PROTO(const char *dev, long want, long held, long max),
	    TP_ARGS(dev, want, held, max),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(long, want)
			     __field(long, held)
			     __field(long, max)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->want = want;
			   __entry->held = held;
			   __entry->max = max;),
	    TP_printk("dev=%s want=%ld held=%ld max=%ld", __get_str(dev),
		      __entry->want, __entry->held, __entry->max)
);

/* A device joined the pool's wait line. */
TRACE_EVENT(tcmu_pool_wait,
	    TP_PROTO(const char *dev, long want, unsigned int waiters),
	    TP_ARGS(dev, want, waiters),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(long, want)
			     __field(unsigned int, waiters)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->want = want;
			   __entry->waiters = waiters;),
	    TP_printk("dev=%s want=%ld waiters=%u", __get_str(dev),
		      __entry->want, __entry->waiters)
);

/* A device left the line: @served, it got its pages; else it gave up. */
TRACE_EVENT(tcmu_pool_wake,
	    TP_PROTO(const char *dev, u64 waited_ns, bool served),
	    TP_ARGS(dev, waited_ns, served),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u64, waited_ns)
			     __field(bool, served)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->waited_ns = waited_ns;
			   __entry->served = served;),
	    TP_printk("dev=%s waited_us=%llu served=%d", __get_str(dev),
		      __entry->waited_ns / NSEC_PER_USEC, __entry->served)
);

/* A device's cached blocks gave @freed pages back; it keeps @held. */
TRACE_EVENT(tcmu_pool_reclaim,
	    TP_PROTO(const char *dev, u32 freed, u32 held),
	    TP_ARGS(dev, freed, held),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u32, freed)
			     __field(u32, held)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->freed = freed;
			   __entry->held = held;),
	    TP_printk("dev=%s freed=%u held=%u", __get_str(dev),
		      __entry->freed, __entry->held)
);

/* A kick queued @dev on the completion thread of @cpu. */
TRACE_EVENT(tcmu_complete_handoff,
	    TP_PROTO(const char *dev, unsigned int cpu),
	    TP_ARGS(dev, cpu),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(unsigned int, cpu)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->cpu = cpu;),
	    TP_printk("dev=%s thread_cpu=%u", __get_str(dev), __entry->cpu)
);

/* The completion thread of @cpu reaped @devices devices in one batch. */
TRACE_EVENT(tcmu_complete_batch,
	    TP_PROTO(unsigned int cpu, unsigned int devices),
	    TP_ARGS(cpu, devices),
	    TP_STRUCT__entry(__field(unsigned int, cpu)
			     __field(unsigned int, devices)),
	    TP_fast_assign(__entry->cpu = cpu;
			   __entry->devices = devices;),
	    TP_printk("thread_cpu=%u devices=%u", __entry->cpu,
		      __entry->devices)
);

/* Slot @slot of @dev's zero-copy window shows a command's @pages pages. */
TRACE_EVENT(tcmu_zc_map,
	    TP_PROTO(const char *dev, u32 slot, u32 pages, u32 bounced,
		     bool ro),
	    TP_ARGS(dev, slot, pages, bounced, ro),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u32, slot)
			     __field(u32, pages)
			     __field(u32, bounced)
			     __field(bool, ro)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->slot = slot;
			   __entry->pages = pages;
			   __entry->bounced = bounced;
			   __entry->ro = ro;),
	    TP_printk("dev=%s slot=%u pages=%u bounced=%u ro=%d",
		      __get_str(dev), __entry->slot, __entry->pages,
		      __entry->bounced, __entry->ro)
);

/*
 * Slot @slot stopped showing request pages: "revoke" (the scratch page
 * from now), "keep" (copies, KEEP_BUF) or "free" (nothing).
 */
TRACE_EVENT(tcmu_zc_unmap,
	    TP_PROTO(const char *dev, u32 slot, u32 pages, const char *how),
	    TP_ARGS(dev, slot, pages, how),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u32, slot)
			     __field(u32, pages)
			     __string(how, how)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->slot = slot;
			   __entry->pages = pages;
			   __assign_str(how);),
	    TP_printk("dev=%s slot=%u pages=%u how=%s", __get_str(dev),
		      __entry->slot, __entry->pages, __get_str(how))
);

#endif /* _TCMU_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
