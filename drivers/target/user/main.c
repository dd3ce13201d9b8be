// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-ng: LIO's "user" backstore.  This file owns the module, the
 * target_backend_ops and the life of a device:
 *
 *   alloc_device      defaults, no resources the handler can see
 *   configure_device  mailbox + ring, data area index, UIO device,
 *                     netlink ADDED_DEVICE; on failure the device is
 *                     as before and may be enabled again
 *   destroy_device    netlink REMOVED_DEVICE, UIO gone, timers stopped
 *   free_device       drops target core's reference
 *
 * The last reference (target core's, configure's, or a VMA of a handler
 * that still maps the device) frees the ring, the data pages and the
 * device itself, the latter after an RCU grace period as target core
 * requires (tcmu_dev_put(), ring.c, where the memory it frees is made).
 *
 * The module parameters of the page pool and its reclaim live here too;
 * reclaim.c gets their values.
 */
#include <linux/debugfs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/unaligned.h>
#include <scsi/scsi_proto.h>
#include <target/target_core_backend.h>
#include "tcmu.h"

static struct target_backend_ops tcmu_ops;
static struct dentry *tcmu_debugfs_dir;

#define TCMU_RECLAIM_IDLE_MS_DEF	5000
#define TCMU_RECLAIM_IDLE_MS_MAX	86400000U	/* a day */

/* The parameters of the pool and its reclaim (reclaim.c) */
static unsigned int tcmu_global_max_mb = TCMU_GLOBAL_MAX_MB_DEF;
static unsigned int tcmu_reclaim_idle_ms = TCMU_RECLAIM_IDLE_MS_DEF;
/*
 * Reclaim is set up: from the end of tcmu_reclaim_init() to the start of
 * tcmu_reclaim_exit().  Both hold this module's kernel_param_lock to
 * change it, as the parameter code does around every write, so a write
 * at load time, or after the module's exit began and before its
 * parameters leave sysfs, only sets the value.
 */
static bool tcmu_reclaim_live;

static int tcmu_attach_hba(struct se_hba *hba, u32 host_id)
{
	struct tcmu_hba *th = kzalloc(sizeof(*th), GFP_KERNEL);

	if (!th)
		return -ENOMEM;
	th->host_id = host_id;
	hba->hba_ptr = th;
	return 0;
}

static void tcmu_detach_hba(struct se_hba *hba)
{
	kfree(hba->hba_ptr);
	hba->hba_ptr = NULL;
}

static struct se_device *tcmu_alloc_device(struct se_hba *hba,
					   const char *name)
{
	struct tcmu_dev *udev = kzalloc(sizeof(*udev), GFP_KERNEL);

	if (!udev)
		return NULL;
	udev->name = kstrdup(name, GFP_KERNEL);
	if (!udev->name) {
		kfree(udev);
		return NULL;
	}
	kref_init(&udev->kref);
	udev->hba = hba;
	udev->cmd_time_out = TCMU_CMD_TIME_OUT_DEF;
	udev->qfull_time_out = -1;
	udev->data_area_mb = TCMU_DATA_AREA_MB_DEF;
	udev->data_pages_per_blk = TCMU_PAGES_PER_BLK_DEF;
	udev->cmdr_size = (TCMU_RING_MB_DEF << 20) - TCMU_CMDR_OFF;
	udev->zc_min_bytes = TCMU_ZC_MIN_KB_DEF << 10;

	mutex_init(&udev->reap_lock);
	mutex_init(&udev->vma_lock);
	spin_lock_init(&udev->ring_lock);
	INIT_LIST_HEAD(&udev->node);
	INIT_LIST_HEAD(&udev->qfull_queue);
	INIT_LIST_HEAD(&udev->inflight_queue);
	INIT_LIST_HEAD(&udev->tmr_queue);
	xa_init_flags(&udev->cmd_ids, XA_FLAGS_ALLOC1);
	timer_setup(&udev->cmd_timer, tcmu_cmd_timer_fn, 0);
	timer_setup(&udev->qfull_timer, tcmu_qfull_timer_fn, 0);
	INIT_WORK(&udev->timeout_work, tcmu_timeout_work_fn);
	INIT_WORK(&udev->qfull_work, tcmu_qfull_work_fn);
	tcmu_nl_dev_init(udev);
	return &udev->se_dev;
}

static int tcmu_configure_device(struct se_device *se_dev)
{
	struct tcmu_dev *udev = TCMU_DEV(se_dev);
	struct se_dev_attrib *attr = &se_dev->dev_attrib;
	int ret;

	/* a handler mapped the device during an enable that failed */
	if (udev->mb) {
		if (tcmu_uio_mapped(udev)) {
			pr_err("%s: enable: a handler still maps the device since a failed enable\n",
			       udev->name);
			return -EBUSY;
		}
		tcmu_dev_free_area(udev);
	}

	ret = tcmu_uio_set_name(udev);
	if (ret)
		return ret;

	if (!attr->hw_block_size)
		attr->hw_block_size = 512;
	if (!attr->hw_max_sectors)
		attr->hw_max_sectors = TCMU_HW_MAX_SECTORS_DEF;
	attr->hw_queue_depth = TCMU_QUEUE_DEPTH;

	mutex_lock(&udev->reap_lock);
	ret = tcmu_dev_alloc_area(udev, &tcmu_pool);
	mutex_unlock(&udev->reap_lock);
	if (ret)
		return ret;

	tcmu_complete_bind(udev);
	ret = tcmu_uio_register(udev);
	if (ret)
		goto err_unbind;

	/* held until destroy_device, even if the handler closes first */
	kref_get(&udev->kref);
	ret = tcmu_nl_dev_added(udev);
	if (ret)
		goto err_unregister;

	tcmu_reclaim_add(udev);
	return 0;

err_unregister:
	tcmu_uio_unregister(udev);
	/* not the last reference: target core holds one */
	tcmu_dev_put(udev);
err_unbind:
	tcmu_complete_unbind(udev);
	/*
	 * The device stays unconfigured and may be enabled again.  A handler
	 * that mapped it meanwhile keeps the memory it maps until it unmaps
	 * it; the next enable frees it then, or refuses while it is mapped.
	 */
	if (!tcmu_uio_mapped(udev))
		tcmu_dev_free_area(udev);
	else
		pr_warn("%s: enable failed while a handler maps the device; its memory stays until it unmaps\n",
			udev->name);
	return ret;
}

static void tcmu_destroy_device(struct se_device *se_dev)
{
	struct tcmu_dev *udev = TCMU_DEV(se_dev);

	tcmu_reclaim_forget(udev);

	tcmu_nl_dev_removed(udev);
	tcmu_uio_unregister(udev);
	tcmu_complete_unbind(udev);

	/* no kick can come now; stop the timers for good */
	timer_shutdown_sync(&udev->cmd_timer);
	timer_shutdown_sync(&udev->qfull_timer);
	cancel_work_sync(&udev->timeout_work);
	cancel_work_sync(&udev->qfull_work);

	tcmu_dev_put(udev);
}

static void tcmu_free_device(struct se_device *se_dev)
{
	tcmu_dev_put(TCMU_DEV(se_dev));
}

static struct se_dev_plug *tcmu_plug_device(struct se_device *se_dev)
{
	struct tcmu_dev *udev = TCMU_DEV(se_dev);

	if (test_and_set_bit(TCMU_DEV_PLUGGED, &udev->flags))
		return NULL;
	return &udev->se_plug;
}

static void tcmu_unplug_device(struct se_dev_plug *se_plug)
{
	struct tcmu_dev *udev = TCMU_DEV(se_plug->se_dev);

	clear_bit(TCMU_DEV_PLUGGED, &udev->flags);
	uio_event_notify(&udev->uio_info);
}

/* The last LBA, as target core wants it */
static sector_t tcmu_get_blocks(struct se_device *se_dev)
{
	struct tcmu_dev *udev = TCMU_DEV(se_dev);
	u32 bs = se_dev->dev_attrib.block_size;

	if (!bs || udev->dev_size < bs)
		return 0;
	return div_u64(udev->dev_size - bs, bs);
}

/*
 * The blocks a READ or WRITE CDB moves and where they start.  Returns
 * false for any other CDB; *@write says which of the two it is.
 */
static bool tcmu_cdb_rw(const u8 *cdb, u64 *lba, u32 *sectors, bool *write)
{
	*write = true;
	switch (cdb[0]) {
	case READ_6:
		*write = false;
		fallthrough;
	case WRITE_6:
		*lba = get_unaligned_be24(&cdb[1]) & 0x1fffff;
		*sectors = cdb[4] ? : 256;
		return true;
	case READ_10:
		*write = false;
		fallthrough;
	case WRITE_10:
	case WRITE_VERIFY:
		*lba = get_unaligned_be32(&cdb[2]);
		*sectors = get_unaligned_be16(&cdb[7]);
		return true;
	case READ_12:
		*write = false;
		fallthrough;
	case WRITE_12:
	case WRITE_VERIFY_12:
		*lba = get_unaligned_be32(&cdb[2]);
		*sectors = get_unaligned_be32(&cdb[6]);
		return true;
	case READ_16:
		*write = false;
		fallthrough;
	case WRITE_16:
	case WRITE_VERIFY_16:
		*lba = get_unaligned_be64(&cdb[2]);
		*sectors = get_unaligned_be32(&cdb[10]);
		return true;
	}
	/*
	 * Not COMPARE AND WRITE: target core checks its block count against
	 * the LU's limit first, which is the handler's to know
	 */
	return false;
}

static sense_reason_t tcmu_execute_nothing(struct se_cmd *cmd)
{
	target_complete_cmd(cmd, SAM_STAT_GOOD);
	return TCM_NO_SENSE;
}

/*
 * Target core's passthrough path never compares a READ's or WRITE's CDB
 * with the length the initiator expects (its own backstores do, in
 * target_cmd_size_check()), so no residual reached the initiator and the
 * handler got a buffer its CDB disagreed with.  Do what that check does:
 *  - a READ asking for less than expected is cut to its CDB (underflow);
 *  - a READ asking for more keeps the initiator's length and reports the
 *    rest as overflow; the handler still gets the whole CDB's buffer
 *    (tcmu_cmd_alloc()), and the initiator the part it expects;
 *  - a WRITE that disagrees is refused, except one the initiator sends
 *    no data for: there is nothing to write, and it completes here
 *    (with no data-in either: its buffer was never written).
 */
static sense_reason_t tcmu_check_size(struct se_cmd *cmd)
{
	struct se_device *dev = cmd->se_dev;
	u64 lba, size;
	u32 sectors;
	bool write;

	if (!tcmu_cdb_rw(cmd->t_task_cdb, &lba, &sectors, &write))
		return TCM_NO_SENSE;
	size = (u64)sectors * dev->dev_attrib.block_size;
	if (size == cmd->data_length)
		return TCM_NO_SENSE;
	/* a WRITE the initiator sends no data for has DMA_NONE */
	if (cmd->data_direction == DMA_TO_DEVICE ||
	    (write && cmd->data_direction != DMA_NONE)) {
		pr_warn_ratelimited("%s: CDB 0x%02x moves %llu bytes, the initiator %u; refused\n",
				    TCMU_DEV(dev)->name, cmd->t_task_cdb[0],
				    size, cmd->data_length);
		return TCM_INVALID_FIELD_IN_COMMAND_IU;
	}
	if (size < cmd->data_length) {
		target_set_cmd_data_length(cmd, size);
		return TCM_NO_SENSE;
	}
	if (size > U32_MAX || lba + sectors < lba ||
	    lba + sectors > tcmu_get_blocks(dev) + 1)
		return TCM_ADDRESS_OUT_OF_RANGE;
	cmd->se_cmd_flags |= SCF_OVERFLOW_BIT;
	cmd->residual_count = size - cmd->data_length;
	if (write)
		cmd->execute_cmd = tcmu_execute_nothing;
	return TCM_NO_SENSE;
}

static sense_reason_t tcmu_parse_cdb(struct se_cmd *cmd)
{
	sense_reason_t ret = passthrough_parse_cdb(cmd, tcmu_queue_cmd);

	if (ret || cmd->execute_cmd != tcmu_queue_cmd)
		return ret;
	return tcmu_check_size(cmd);
}

static struct target_backend_ops tcmu_ops = {
	.name			= "user",
	.owner			= THIS_MODULE,
	.transport_flags_default = TRANSPORT_FLAG_PASSTHROUGH,
	.transport_flags_changeable = TRANSPORT_FLAG_PASSTHROUGH_PGR |
				      TRANSPORT_FLAG_PASSTHROUGH_ALUA,
	.attach_hba		= tcmu_attach_hba,
	.detach_hba		= tcmu_detach_hba,
	.alloc_device		= tcmu_alloc_device,
	.configure_device	= tcmu_configure_device,
	.destroy_device		= tcmu_destroy_device,
	.free_device		= tcmu_free_device,
	.plug_device		= tcmu_plug_device,
	.unplug_device		= tcmu_unplug_device,
	.parse_cdb		= tcmu_parse_cdb,
	.tmr_notify		= tcmu_tmr_notify,
	.set_configfs_dev_params = tcmu_set_configfs_dev_params,
	.show_configfs_dev_params = tcmu_show_configfs_dev_params,
	.get_device_type	= sbc_get_device_type,
	.get_blocks		= tcmu_get_blocks,
};

static int tcmu_param_set_max(const char *val, const struct kernel_param *kp)
{
	unsigned long ram_mb = TCMU_PAGES_TO_MB(totalram_pages());
	unsigned int max = min_t(unsigned long, ram_mb, UINT_MAX);

	if (param_set_uint_minmax(val, kp, 1, max)) {
		pr_err("global_max_data_area_mb: '%s' is not between 1 and %lu (MB of RAM)\n",
		       strim((char *)val), ram_mb);
		return -EINVAL;
	}
	if (tcmu_reclaim_live)
		tcmu_reclaim_set_max(TCMU_MB_TO_PAGES(tcmu_global_max_mb));
	return 0;
}

static const struct kernel_param_ops tcmu_max_ops = {
	.set = tcmu_param_set_max,
	.get = param_get_uint,
};
module_param_cb(global_max_data_area_mb, &tcmu_max_ops, &tcmu_global_max_mb,
		0644);
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

static int tcmu_param_get_ring(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", tcmu_rmem_global_pages());
}

static const struct kernel_param_ops tcmu_ring_ops = {
	.get = tcmu_param_get_ring,
};
module_param_cb(global_ring_pages, &tcmu_ring_ops, NULL, 0444);
MODULE_PARM_DESC(global_ring_pages,
		 "Pages the mailboxes and command rings of all devices hold now, outside the global limit (read only)");

static int tcmu_param_set_idle(const char *val, const struct kernel_param *kp)
{
	if (param_set_uint_minmax(val, kp, 0, TCMU_RECLAIM_IDLE_MS_MAX)) {
		pr_err("reclaim_idle_ms: '%s' is not between 0 and %u\n",
		       strim((char *)val), TCMU_RECLAIM_IDLE_MS_MAX);
		return -EINVAL;
	}
	if (tcmu_reclaim_live)
		tcmu_reclaim_set_idle_ms(tcmu_reclaim_idle_ms);
	return 0;
}

static const struct kernel_param_ops tcmu_idle_ops = {
	.set = tcmu_param_set_idle,
	.get = param_get_uint,
};
module_param_cb(reclaim_idle_ms, &tcmu_idle_ops, &tcmu_reclaim_idle_ms, 0644);
MODULE_PARM_DESC(reclaim_idle_ms,
		 "A device idle this long gives its cached data pages back, in ms (0: only when pages are short; default 5000)");

static int tcmu_reclaim_start(void)
{
	int ret;

	kernel_param_lock(THIS_MODULE);
	ret = tcmu_reclaim_init(TCMU_MB_TO_PAGES(tcmu_global_max_mb),
				tcmu_reclaim_idle_ms, tcmu_debugfs_dir);
	tcmu_reclaim_live = !ret;
	kernel_param_unlock(THIS_MODULE);
	return ret;
}

static void tcmu_reclaim_stop(void)
{
	kernel_param_lock(THIS_MODULE);
	tcmu_reclaim_live = false;
	kernel_param_unlock(THIS_MODULE);
	tcmu_reclaim_exit();
}

static int __init tcmu_module_init(void)
{
	int ret;

	ret = tcmu_ring_init();
	if (ret)
		return ret;
	tcmu_debugfs_dir = debugfs_create_dir("target_core_user", NULL);
	ret = tcmu_reclaim_start();
	if (ret)
		goto err_ring;
	ret = tcmu_complete_init(tcmu_debugfs_dir);
	if (ret)
		goto err_reclaim;
	ret = tcmu_uio_init();
	if (ret)
		goto err_complete;
	ret = tcmu_nl_init();
	if (ret)
		goto err_root;
	ret = tcmu_configfs_init(&tcmu_ops);
	if (ret)
		goto err_nl;
	ret = transport_backend_register(&tcmu_ops);
	if (ret)
		goto err_configfs;
	return 0;

err_configfs:
	tcmu_configfs_exit();
err_nl:
	tcmu_nl_exit();
err_root:
	tcmu_uio_exit();
err_complete:
	tcmu_complete_exit();
err_reclaim:
	tcmu_reclaim_stop();
err_ring:
	debugfs_remove_recursive(tcmu_debugfs_dir);
	tcmu_ring_exit();
	return ret;
}

static void __exit tcmu_module_exit(void)
{
	target_backend_unregister(&tcmu_ops);
	tcmu_complete_exit();
	debugfs_remove_recursive(tcmu_debugfs_dir);
	tcmu_reclaim_stop();
	tcmu_configfs_exit();
	tcmu_nl_exit();
	tcmu_uio_exit();
	/* devices are freed after a grace period: wait for the last */
	rcu_barrier();
	tcmu_ring_exit();
}

module_init(tcmu_module_init);
module_exit(tcmu_module_exit);
MODULE_DESCRIPTION("TCM USER subsystem plugin (tcmu-ng)");
MODULE_LICENSE("GPL");
#ifdef TCMU_NG_VERSION
/* set by the out-of-tree build from dkms.conf */
MODULE_VERSION(TCMU_NG_VERSION);
#endif
