// SPDX-License-Identifier: GPL-2.0
/*
 * The global count of data pages held by all devices, its limit
 * (module parameter global_max_data_area_mb) and the reclaim work that
 * gives back cached pages of every device when the count is over it:
 * when an allocation takes the count over, and when a device goes idle
 * while it is over.  The limit is not yet hard: an allocation may pass
 * it and reclaim follows (issue #4 makes it a ceiling).
 *
 * Reclaim runs on the system unbound workqueue: it sleeps on each
 * device's cmdr_lock and in unmap_mapping_range(), and needs no CPU of
 * its own.
 */
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/workqueue.h>
#include "tcmu.h"

static atomic_long_t tcmu_pool_held = ATOMIC_LONG_INIT(0);
static long tcmu_pool_max = TCMU_MB_TO_PAGES(TCMU_GLOBAL_MAX_MB_DEF);

static void tcmu_pool_reclaim_fn(struct work_struct *work);
static DECLARE_WORK(tcmu_pool_reclaim_work, tcmu_pool_reclaim_fn);

long tcmu_pool_pages(void)
{
	return atomic_long_read(&tcmu_pool_held);
}

long tcmu_pool_max_pages(void)
{
	return READ_ONCE(tcmu_pool_max);
}

bool tcmu_pool_over(void)
{
	return tcmu_pool_pages() > tcmu_pool_max_pages();
}

/* Ask the reclaim work to run, e.g. because a device went idle. */
void tcmu_pool_kick(void)
{
	queue_work(system_unbound_wq, &tcmu_pool_reclaim_work);
}

void tcmu_pool_charge(long pages)
{
	if (atomic_long_add_return(pages, &tcmu_pool_held) >
	    tcmu_pool_max_pages())
		tcmu_pool_kick();
}

void tcmu_pool_uncharge(long pages)
{
	atomic_long_sub(pages, &tcmu_pool_held);
}

static void tcmu_pool_reclaim_fn(struct work_struct *work)
{
	struct tcmu_dev *udev;

	mutex_lock(&tcmu_devices_lock);
	list_for_each_entry(udev, &tcmu_devices, node) {
		if (!tcmu_pool_over())
			break;
		mutex_lock(&udev->cmdr_lock);
		tcmu_da_trim(&udev->da);
		mutex_unlock(&udev->cmdr_lock);
	}
	mutex_unlock(&tcmu_devices_lock);
}

void tcmu_pool_exit(void)
{
	cancel_work_sync(&tcmu_pool_reclaim_work);
}

static int tcmu_pool_set_max(const char *val, const struct kernel_param *kp)
{
	unsigned int mb;
	int ret;

	ret = kstrtouint(val, 0, &mb);
	if (ret || !mb || mb > TCMU_PAGES_TO_MB(totalram_pages())) {
		pr_err("global_max_data_area_mb: '%s' is not between 1 and %lu (MB of RAM)\n",
		       strim((char *)val), TCMU_PAGES_TO_MB(totalram_pages()));
		return -EINVAL;
	}
	WRITE_ONCE(tcmu_pool_max, TCMU_MB_TO_PAGES(mb));
	if (tcmu_pool_over())
		tcmu_pool_kick();
	return 0;
}

static int tcmu_pool_get_max(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", TCMU_PAGES_TO_MB(tcmu_pool_max_pages()));
}

static const struct kernel_param_ops tcmu_pool_max_ops = {
	.set = tcmu_pool_set_max,
	.get = tcmu_pool_get_max,
};
module_param_cb(global_max_data_area_mb, &tcmu_pool_max_ops, NULL, 0644);
MODULE_PARM_DESC(global_max_data_area_mb,
		 "Data area pages all devices may hold together, in MB (default 2048)");

static int tcmu_pool_get_held(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", tcmu_pool_pages());
}

static const struct kernel_param_ops tcmu_pool_held_ops = {
	.get = tcmu_pool_get_held,
};
module_param_cb(global_data_pages, &tcmu_pool_held_ops, NULL, 0444);
MODULE_PARM_DESC(global_data_pages,
		 "Data area pages all devices hold now (read only)");
