// SPDX-License-Identifier: GPL-2.0
/*
 * Completion threads.  The handler's kick (write() on the UIO fd) hands
 * its device to a kernel thread and returns; the thread reaps the ring,
 * copies READ data back, frees blocks and completes the se_cmds.
 *
 * There is at most one thread per CPU.  A device is bound to a CPU by a
 * stable hash of its index, and the first device bound to a CPU starts
 * that CPU's thread when it is enabled.  While a CPU has no thread (its
 * start failed) another live thread serves its devices; with no thread
 * at all, or with completion=inline, the kick completes the commands in
 * the handler's syscall as the stock driver does.
 *
 * Adaptive hand-over: a hand-over costs a wake-up and a switch to the
 * thread, which is all overhead when the handler completes one command
 * at a time (queue depth 1: nothing to batch, nothing to overlap).  So in
 * percpu mode a kick still reaps inline while the device has at most
 * completion_inline_depth commands on the ring (default 1); a busier
 * device, whose reap has a batch to take and whose handler has more
 * commands to serve meanwhile, hands over.
 *
 * Hand-over: a device sits on one thread's llist at most once
 * (TCMU_DEV_KICKED).  The thread takes the whole list, oldest kick
 * first, and reaps each device with TCMU_DEV_REAPING set, clearing
 * TCMU_DEV_KICKED first: a kick that comes while the device is reaped
 * queues it again, so nothing the handler published is left behind.
 * The reap runs under the device's reap_lock, so one device's
 * completions are handled by one thread at a time and in ring order,
 * while different devices complete on different threads in parallel.
 *
 * Threads prefer their CPU; when it goes offline they may run anywhere
 * and they go back when it returns.  Removing a device waits until it is
 * neither queued nor being reaped; unloading the module stops the
 * threads.
 *
 * tcmu_cthread_lock (mutex) serializes starting threads and changing
 * their affinity; it nests inside the CPU hotplug lock.  The table of
 * threads is read locklessly: an entry is written once, before any kick
 * can see it, and freed only at module exit.
 */
#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/debugfs.h>
#include <linux/jhash.h>
#include <linux/kthread.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/wait_bit.h>
#include "tcmu.h"
#include "trace.h"

/**
 * struct tcmu_cthread - a completion thread
 * @task: the kthread, "tcmu_comp/<cpu>"
 * @queue: devices kicked and not yet taken (struct tcmu_dev.cnode)
 * @cpu: the CPU it prefers
 * @nr_devs: devices bound to it
 * @handoffs: kicks queued to it
 * @batches: times it took its queue; written by the thread only
 * @reaped: devices reaped; written by the thread only
 * @max_batch: most devices taken at once; written by the thread only
 */
struct tcmu_cthread {
	struct task_struct *task;
	struct llist_head queue;
	unsigned int cpu;
	atomic_t nr_devs;
	atomic64_t handoffs;
	u64 batches;
	u64 reaped;
	u32 max_batch;
};

/* completion= */
enum {
	TCMU_COMPLETE_PERCPU,
	TCMU_COMPLETE_INLINE,
};

static const char * const tcmu_complete_modes[] = {
	[TCMU_COMPLETE_PERCPU]	= "percpu",
	[TCMU_COMPLETE_INLINE]	= "inline",
};

static int tcmu_complete_mode = TCMU_COMPLETE_PERCPU;
static unsigned int tcmu_inline_depth = 1;	/* completion_inline_depth */
static atomic64_t tcmu_inline_reaps;

static DEFINE_MUTEX(tcmu_cthread_lock);	/* see the top of the file */
static struct tcmu_cthread **tcmu_cthreads;	/* [nr_cpu_ids] */
static int tcmu_cthread_hp_state;
static struct dentry *tcmu_cthread_debugfs;

static int tcmu_complete_mode_set(const char *val,
				  const struct kernel_param *kp)
{
	int i = sysfs_match_string(tcmu_complete_modes, val);

	if (i < 0) {
		pr_err("completion: '%s' is not percpu or inline\n",
		       strim((char *)val));
		return -EINVAL;
	}
	WRITE_ONCE(tcmu_complete_mode, i);
	return 0;
}

static int tcmu_complete_mode_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n",
			  tcmu_complete_modes[READ_ONCE(tcmu_complete_mode)]);
}

static const struct kernel_param_ops tcmu_complete_mode_ops = {
	.set = tcmu_complete_mode_set,
	.get = tcmu_complete_mode_get,
};
module_param_cb(completion, &tcmu_complete_mode_ops, NULL, 0644);
MODULE_PARM_DESC(completion,
		 "Where kicked completions run: percpu (completion threads, default) or inline (in the handler's write())");

#define TCMU_INLINE_DEPTH_MAX	U16_MAX

static int tcmu_inline_depth_set(const char *val,
				 const struct kernel_param *kp)
{
	if (param_set_uint_minmax(val, kp, 0, TCMU_INLINE_DEPTH_MAX)) {
		pr_err("completion_inline_depth: '%s' is not between 0 and %u\n",
		       strim((char *)val), TCMU_INLINE_DEPTH_MAX);
		return -EINVAL;
	}
	return 0;
}

static const struct kernel_param_ops tcmu_inline_depth_ops = {
	.set = tcmu_inline_depth_set,
	.get = param_get_uint,
};
module_param_cb(completion_inline_depth, &tcmu_inline_depth_ops,
		&tcmu_inline_depth, 0644);
MODULE_PARM_DESC(completion_inline_depth,
		 "percpu mode: reap in the handler's write() while the device has at most this many commands on the ring (0: always hand over; default 1)");

/* A stable hash of a device index onto @n slots */
static unsigned int tcmu_complete_slot(u32 dev_index, unsigned int n)
{
	return jhash_1word(dev_index, 0) % n;
}

/**
 * tcmu_complete_cpu - the CPU a device is bound to
 * @dev_index: target core's index of the device
 * @cpus: the CPUs to choose from (the possible ones)
 *
 * Return: the CPU.  The same device index always gets the same CPU.
 */
static unsigned int tcmu_complete_cpu(u32 dev_index, const struct cpumask *cpus)
{
	return cpumask_nth(tcmu_complete_slot(dev_index, cpumask_weight(cpus)),
			   cpus);
}

/**
 * tcmu_cthread_pick - the thread that serves a device bound to @cpu
 * @threads: the table of threads, @nr entries, NULL where none runs
 * @nr: entries in @threads
 * @cpu: the device's CPU
 *
 * That CPU's thread if it runs, else the next live one after it.
 * Return: the thread, or NULL when none runs.
 */
static struct tcmu_cthread *tcmu_cthread_pick(struct tcmu_cthread **threads,
					      unsigned int nr, unsigned int cpu)
{
	struct tcmu_cthread *t;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		/* pairs with the release in tcmu_cthread_start() */
		t = smp_load_acquire(&threads[(cpu + i) % nr]);
		if (t)
			return t;
	}
	return NULL;
}

/**
 * tcmu_complete_drain - reap every device queued on @queue
 * @queue: a thread's queue
 * @reap: called for each device, oldest kick first
 *
 * A device queued again while this batch runs lands in the next batch.
 * Return: the number of devices reaped.
 */
static unsigned int tcmu_complete_drain(struct llist_head *queue,
					void (*reap)(struct tcmu_dev *udev))
{
	struct llist_node *batch = llist_reverse_order(llist_del_all(queue));
	struct tcmu_dev *udev, *next;
	unsigned int n = 0;

	/* _safe: once reaped, a device may be queued again at once */
	llist_for_each_entry_safe(udev, next, batch, cnode) {
		reap(udev);
		n++;
	}
	return n;
}

/* Queue @udev on thread @t, unless it is queued already. */
static void tcmu_complete_handoff(struct tcmu_dev *udev,
				  struct tcmu_cthread *t)
{
	if (test_and_set_bit(TCMU_DEV_KICKED, &udev->flags))
		return;		/* queued already: the thread reads the new tail */
	atomic64_inc(&t->handoffs);
	trace_tcmu_complete_handoff(udev->name, t->cpu);
	if (llist_add(&udev->cnode, &t->queue))
		wake_up_process(t->task);
}

/*
 * The handler kicked: reap, @budget commands at most, and let reclaim
 * see what that freed.  Returns true when the handler completed more.
 */
static bool tcmu_handle_completions(struct tcmu_dev *udev, u32 budget)
{
	bool reaped, more;

	mutex_lock(&udev->reap_lock);
	reaped = tcmu_ring_reap(udev, budget, &more);
	tcmu_reclaim_reaped(udev, reaped, more);
	mutex_unlock(&udev->reap_lock);
	return more;
}

/*
 * Reap a bounded batch: a handler that completes a lot, or whose
 * completions are dear (zaps across many VMAs), does not hold up the
 * other devices of the thread.  What is left is queued behind them.
 */
static void tcmu_cthread_reap(struct tcmu_dev *udev)
{
	struct tcmu_cthread *t;

	set_bit(TCMU_DEV_REAPING, &udev->flags);
	clear_bit(TCMU_DEV_KICKED, &udev->flags);
	/* a kick from now on queues the device again */
	smp_mb__after_atomic();
	if (tcmu_handle_completions(udev, TCMU_REAP_BUDGET)) {
		t = tcmu_cthread_pick(tcmu_cthreads, nr_cpu_ids, udev->ccpu);
		if (t)
			tcmu_complete_handoff(udev, t);
	}
	clear_bit(TCMU_DEV_REAPING, &udev->flags);
	/* the clear is visible to tcmu_complete_unbind() before the wake */
	smp_mb__after_atomic();
	wake_up_var(&udev->flags);
}

static int tcmu_cthread_fn(void *arg)
{
	struct tcmu_cthread *t = arg;
	unsigned int n;

	while (!kthread_should_stop()) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (llist_empty(&t->queue)) {
			if (!kthread_should_stop())
				schedule();
			__set_current_state(TASK_RUNNING);
			continue;
		}
		__set_current_state(TASK_RUNNING);
		n = tcmu_complete_drain(&t->queue, tcmu_cthread_reap);
		trace_tcmu_complete_batch(t->cpu, n);
		WRITE_ONCE(t->batches, t->batches + 1);
		WRITE_ONCE(t->reaped, t->reaped + n);
		if (n > t->max_batch)
			WRITE_ONCE(t->max_batch, n);
		cond_resched();
	}
	return 0;
}

/* Its CPU if that is online, anywhere otherwise.  Under tcmu_cthread_lock. */
static void tcmu_cthread_pin(struct tcmu_cthread *t, bool online)
{
	lockdep_assert_held(&tcmu_cthread_lock);
	set_cpus_allowed_ptr(t->task, online ? cpumask_of(t->cpu) :
			     cpu_possible_mask);
}

/* Start @cpu's thread.  Under the hotplug read lock and tcmu_cthread_lock. */
static void tcmu_cthread_start(unsigned int cpu)
{
	int node = cpu_to_node(cpu);
	struct task_struct *task;
	struct tcmu_cthread *t;

	lockdep_assert_held(&tcmu_cthread_lock);
	t = kzalloc_node(sizeof(*t), GFP_KERNEL, node);
	if (!t)
		goto fail;
	init_llist_head(&t->queue);
	t->cpu = cpu;
	task = kthread_create_on_node(tcmu_cthread_fn, t, node, "tcmu_comp/%u",
				      cpu);
	if (IS_ERR(task)) {
		kfree(t);
		goto fail;
	}
	t->task = task;
	tcmu_cthread_pin(t, cpu_online(cpu));
	wake_up_process(task);
	/* the thread is complete before a kick can find it */
	smp_store_release(&tcmu_cthreads[cpu], t);
	return;
fail:
	pr_warn_ratelimited("completion thread for CPU %u did not start; another thread serves its devices\n",
			    cpu);
}

/**
 * tcmu_complete_bind - bind a device being enabled to its CPU's thread
 * @udev: the device; its dev_index is set
 *
 * Starts the thread if it is the first device of that CPU.
 */
void tcmu_complete_bind(struct tcmu_dev *udev)
{
	unsigned int cpu = tcmu_complete_cpu(udev->se_dev.dev_index,
					     cpu_possible_mask);
	struct tcmu_cthread *t;

	udev->ccpu = cpu;
	cpus_read_lock();
	mutex_lock(&tcmu_cthread_lock);
	if (!tcmu_cthreads[cpu])
		tcmu_cthread_start(cpu);
	t = tcmu_cthreads[cpu];
	if (t)
		atomic_inc(&t->nr_devs);
	udev->cthread = t;
	mutex_unlock(&tcmu_cthread_lock);
	cpus_read_unlock();
}

/**
 * tcmu_complete_unbind - after the last kick: wait for queued work
 * @udev: the device, its UIO device unregistered (no kick can come)
 */
void tcmu_complete_unbind(struct tcmu_dev *udev)
{
	wait_var_event(&udev->flags,
		       !(READ_ONCE(udev->flags) &
			 (BIT(TCMU_DEV_KICKED) | BIT(TCMU_DEV_REAPING))));
	/* the thread that counted it, if its CPU had one at bind time */
	if (udev->cthread)
		atomic_dec(&udev->cthread->nr_devs);
	udev->cthread = NULL;
}

/**
 * tcmu_complete_kick - the handler kicked: have its completions handled
 * @udev: the device
 *
 * Queues the device on its thread and returns.  Completes inline, in the
 * handler's write(), when completion=inline, when no thread runs, and
 * at low depth: with no more than completion_inline_depth commands in
 * flight a hand-over would only add a wake-up.
 */
void tcmu_complete_kick(struct tcmu_dev *udev)
{
	struct tcmu_cthread *t = NULL;

	/* a hint: the count may change under us, either way is correct */
	if (READ_ONCE(tcmu_complete_mode) == TCMU_COMPLETE_PERCPU &&
	    READ_ONCE(udev->nr_inflight) > READ_ONCE(tcmu_inline_depth))
		t = tcmu_cthread_pick(tcmu_cthreads, nr_cpu_ids, udev->ccpu);
	if (!t) {
		atomic64_inc(&tcmu_inline_reaps);
		/* the handler's own time: no bound */
		tcmu_handle_completions(udev, TCMU_REAP_ALL);
		return;
	}
	tcmu_complete_handoff(udev, t);
}

/* CPU hotplug: @cpu's thread follows it, if the CPU has one */
static void tcmu_cthread_follow(unsigned int cpu, bool online)
{
	mutex_lock(&tcmu_cthread_lock);
	if (tcmu_cthreads[cpu])
		tcmu_cthread_pin(tcmu_cthreads[cpu], online);
	mutex_unlock(&tcmu_cthread_lock);
}

static int tcmu_cthread_online(unsigned int cpu)
{
	tcmu_cthread_follow(cpu, true);
	return 0;
}

static int tcmu_cthread_offline(unsigned int cpu)
{
	tcmu_cthread_follow(cpu, false);
	return 0;
}

static int tcmu_cthread_show(struct seq_file *m, void *v)
{
	struct tcmu_cthread *t;
	unsigned int cpu;

	seq_printf(m, "mode: %s\n",
		   tcmu_complete_modes[READ_ONCE(tcmu_complete_mode)]);
	seq_printf(m, "inline_depth: %u inline_reaps: %lld\n",
		   READ_ONCE(tcmu_inline_depth),
		   (long long)atomic64_read(&tcmu_inline_reaps));
	for (cpu = 0; cpu < nr_cpu_ids; cpu++) {
		/* pairs with the release in tcmu_cthread_start() */
		t = smp_load_acquire(&tcmu_cthreads[cpu]);
		if (!t)
			continue;
		seq_printf(m, "cpu %u: pid %d on_cpu %u devices %d handoffs %lld batches %llu reaped %llu max_batch %u\n",
			   cpu, task_pid_nr(t->task), task_cpu(t->task),
			   atomic_read(&t->nr_devs),
			   (long long)atomic64_read(&t->handoffs),
			   READ_ONCE(t->batches), READ_ONCE(t->reaped),
			   READ_ONCE(t->max_batch));
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(tcmu_cthread);

int tcmu_complete_init(struct dentry *debugfs_dir)
{
	int ret;

	tcmu_cthreads = kcalloc(nr_cpu_ids, sizeof(*tcmu_cthreads),
				GFP_KERNEL);
	if (!tcmu_cthreads)
		return -ENOMEM;
	ret = cpuhp_setup_state_nocalls(CPUHP_AP_ONLINE_DYN,
					"target/tcmu:online",
					tcmu_cthread_online,
					tcmu_cthread_offline);
	if (ret < 0) {
		kfree(tcmu_cthreads);
		tcmu_cthreads = NULL;
		return ret;
	}
	tcmu_cthread_hp_state = ret;
	tcmu_cthread_debugfs = debugfs_create_file("completion", 0444,
						   debugfs_dir, NULL,
						   &tcmu_cthread_fops);
	return 0;
}

/* After the backend is unregistered: no device is left to kick. */
void tcmu_complete_exit(void)
{
	unsigned int cpu;

	debugfs_remove(tcmu_cthread_debugfs);
	cpuhp_remove_state_nocalls(tcmu_cthread_hp_state);
	for (cpu = 0; cpu < nr_cpu_ids; cpu++) {
		if (!tcmu_cthreads[cpu])
			continue;
		WARN_ON_ONCE(!llist_empty(&tcmu_cthreads[cpu]->queue));
		kthread_stop(tcmu_cthreads[cpu]->task);
		kfree(tcmu_cthreads[cpu]);
	}
	kfree(tcmu_cthreads);
	tcmu_cthreads = NULL;
}

#if IS_ENABLED(CONFIG_TCM_USER2_KUNIT_TEST)
#include "tests/complete_kunit.c"
#endif
