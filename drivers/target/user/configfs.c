// SPDX-License-Identifier: GPL-2.0
/*
 * configfs: the device's attrib/ attributes, its action/ attributes and
 * the options written to its control file.  Names, units and meanings are
 * those of the Linux 6.12 driver, so targetcli, rtslib and tcmu-runner
 * work unchanged.  A bad value is refused with -EINVAL and a log line
 * that names the attribute; nothing changes then.
 */
#include <linux/configfs.h>
#include <linux/log2.h>
#include <linux/parser.h>
#include <linux/slab.h>
#include <target/target_core_backend.h>
#include "tcmu.h"

static struct tcmu_dev *tcmu_attr_dev(struct config_item *item)
{
	struct se_dev_attrib *da = container_of(to_config_group(item),
						struct se_dev_attrib, da_group);

	return TCMU_DEV(da->da_dev);
}

static struct tcmu_dev *tcmu_action_dev(struct config_item *item)
{
	return TCMU_DEV(container_of(to_config_group(item), struct se_device,
				     dev_action_group));
}

#define tcmu_bad(udev, attr, val)					\
	pr_err("%s: %s: invalid value '%s'\n", (udev)->name, attr,	\
	       strim((char *)(val)))

/*
 * Tell an enabled device's handler that @attr (netlink @nl_attr) changes
 * to @config or @val (tcmu_nl_reconfig()); a refusal is logged and
 * returned.  A device not enabled has no handler to ask: 0.
 */
static int tcmu_reconfig(struct tcmu_dev *udev, const char *attr,
			 int nl_attr, const char *config, u64 val)
{
	int ret;

	if (!target_dev_configured(&udev->se_dev))
		return 0;
	ret = tcmu_nl_reconfig(udev, nl_attr, config, val);
	if (ret)
		pr_err("%s: %s: handler refused: %d\n", udev->name, attr, ret);
	return ret;
}

/* The actions need an enabled device: -EINVAL and a log line if not. */
static int tcmu_action_enabled(struct tcmu_dev *udev, const char *action)
{
	if (target_dev_configured(&udev->se_dev))
		return 0;
	pr_err("%s: %s: device is not enabled\n", udev->name, action);
	return -EINVAL;
}

static ssize_t tcmu_cmd_time_out_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "%lu\n",
			  READ_ONCE(tcmu_attr_dev(item)->cmd_time_out) /
			  MSEC_PER_SEC);
}

static ssize_t tcmu_cmd_time_out_store(struct config_item *item,
				       const char *page, size_t count)
{
	struct tcmu_dev *udev = tcmu_attr_dev(item);
	u32 val;

	if (udev->se_dev.export_count) {
		pr_err("%s: cmd_time_out: cannot change while exported\n",
		       udev->name);
		return -EINVAL;
	}
	if (kstrtou32(page, 0, &val) || val > UINT_MAX / MSEC_PER_SEC) {
		tcmu_bad(udev, "cmd_time_out", page);
		return -EINVAL;
	}
	WRITE_ONCE(udev->cmd_time_out, val * MSEC_PER_SEC);
	return count;
}
CONFIGFS_ATTR(tcmu_, cmd_time_out);

static ssize_t tcmu_qfull_time_out_show(struct config_item *item, char *page)
{
	int tmo = READ_ONCE(tcmu_attr_dev(item)->qfull_time_out);

	return sysfs_emit(page, "%d\n", tmo <= 0 ? tmo :
			  tmo / (int)MSEC_PER_SEC);
}

static ssize_t tcmu_qfull_time_out_store(struct config_item *item,
					 const char *page, size_t count)
{
	struct tcmu_dev *udev = tcmu_attr_dev(item);
	s32 val;

	if (kstrtos32(page, 0, &val) || val < -1 ||
	    val > INT_MAX / (int)MSEC_PER_SEC) {
		tcmu_bad(udev, "qfull_time_out", page);
		return -EINVAL;
	}
	WRITE_ONCE(udev->qfull_time_out, val > 0 ? val * MSEC_PER_SEC : val);
	return count;
}
CONFIGFS_ATTR(tcmu_, qfull_time_out);

static ssize_t tcmu_max_data_area_mb_show(struct config_item *item,
					  char *page)
{
	return sysfs_emit(page, "%u\n", tcmu_attr_dev(item)->data_area_mb);
}
CONFIGFS_ATTR_RO(tcmu_, max_data_area_mb);

static ssize_t tcmu_data_pages_per_blk_show(struct config_item *item,
					    char *page)
{
	return sysfs_emit(page, "%u\n",
			  tcmu_attr_dev(item)->data_pages_per_blk);
}
CONFIGFS_ATTR_RO(tcmu_, data_pages_per_blk);

static ssize_t tcmu_cmd_ring_size_mb_show(struct config_item *item,
					  char *page)
{
	return sysfs_emit(page, "%u\n",
			  (tcmu_attr_dev(item)->cmdr_size + TCMU_CMDR_OFF) >> 20);
}
CONFIGFS_ATTR_RO(tcmu_, cmd_ring_size_mb);

static ssize_t tcmu_dev_config_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "%s\n", tcmu_attr_dev(item)->dev_config);
}

static ssize_t tcmu_dev_config_store(struct config_item *item,
				     const char *page, size_t count)
{
	struct tcmu_dev *udev = tcmu_attr_dev(item);
	size_t len = strcspn(page, "\n");
	char *config;
	int ret;

	if (!len || len >= TCMU_CONFIG_LEN) {
		pr_err("%s: dev_config: length %zu is not 1..%d\n", udev->name,
		       len, TCMU_CONFIG_LEN - 1);
		return -EINVAL;
	}
	config = kstrndup(page, len, GFP_KERNEL);
	if (!config)
		return -ENOMEM;
	ret = tcmu_reconfig(udev, "dev_config", TCMU_ATTR_DEV_CFG, config, 0);
	if (ret)
		goto out;
	strscpy(udev->dev_config, config, TCMU_CONFIG_LEN);
	ret = target_dev_configured(&udev->se_dev) ?
	      tcmu_uio_set_name(udev) : 0;
out:
	kfree(config);
	return ret ? ret : count;
}
CONFIGFS_ATTR(tcmu_, dev_config);

static ssize_t tcmu_dev_size_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "%llu\n", tcmu_attr_dev(item)->dev_size);
}

static ssize_t tcmu_dev_size_store(struct config_item *item, const char *page,
				   size_t count)
{
	struct tcmu_dev *udev = tcmu_attr_dev(item);
	u64 val;
	int ret;

	if (kstrtou64(page, 0, &val)) {
		tcmu_bad(udev, "dev_size", page);
		return -EINVAL;
	}
	ret = tcmu_reconfig(udev, "dev_size", TCMU_ATTR_DEV_SIZE, NULL, val);
	if (ret)
		return ret;
	udev->dev_size = val;
	return count;
}
CONFIGFS_ATTR(tcmu_, dev_size);

static ssize_t tcmu_nl_reply_supported_show(struct config_item *item,
					    char *page)
{
	return sysfs_emit(page, "%d\n",
			  tcmu_attr_dev(item)->nl_reply_supported);
}

static ssize_t tcmu_nl_reply_supported_store(struct config_item *item,
					     const char *page, size_t count)
{
	struct tcmu_dev *udev = tcmu_attr_dev(item);
	s8 val;

	if (kstrtos8(page, 0, &val)) {
		tcmu_bad(udev, "nl_reply_supported", page);
		return -EINVAL;
	}
	udev->nl_reply_supported = val;
	return count;
}
CONFIGFS_ATTR(tcmu_, nl_reply_supported);

static ssize_t tcmu_emulate_write_cache_show(struct config_item *item,
					     char *page)
{
	return sysfs_emit(page, "%i\n",
			  tcmu_attr_dev(item)->se_dev.dev_attrib.emulate_write_cache);
}

static ssize_t tcmu_emulate_write_cache_store(struct config_item *item,
					      const char *page, size_t count)
{
	struct tcmu_dev *udev = tcmu_attr_dev(item);
	u8 val;
	int ret;

	if (kstrtou8(page, 0, &val) || val > 1) {
		tcmu_bad(udev, "emulate_write_cache", page);
		return -EINVAL;
	}
	ret = tcmu_reconfig(udev, "emulate_write_cache", TCMU_ATTR_WRITECACHE,
			    NULL, val);
	if (ret)
		return ret;
	udev->se_dev.dev_attrib.emulate_write_cache = val;
	return count;
}
CONFIGFS_ATTR(tcmu_, emulate_write_cache);

static ssize_t tcmu_tmr_notification_show(struct config_item *item,
					  char *page)
{
	return sysfs_emit(page, "%i\n", test_bit(TCMU_DEV_TMR_NOTIFY,
						 &tcmu_attr_dev(item)->flags));
}

static ssize_t tcmu_tmr_notification_store(struct config_item *item,
					   const char *page, size_t count)
{
	struct tcmu_dev *udev = tcmu_attr_dev(item);
	u8 val;

	if (kstrtou8(page, 0, &val) || val > 1) {
		tcmu_bad(udev, "tmr_notification", page);
		return -EINVAL;
	}
	assign_bit(TCMU_DEV_TMR_NOTIFY, &udev->flags, val);
	return count;
}
CONFIGFS_ATTR(tcmu_, tmr_notification);

static int tcmu_zero_copy_set(struct tcmu_dev *udev, const char *val)
{
	u8 on;
	int ret = 0;

	if (kstrtou8(val, 0, &on) || on > 1) {
		tcmu_bad(udev, "zero_copy", val);
		return -EINVAL;
	}
	/*
	 * The window's safety rests on special PTEs, which get_user_pages()
	 * refuses; without them vmf_insert_mixed() maps ordinary pages.
	 */
	if (on && !IS_ENABLED(CONFIG_ARCH_HAS_PTE_SPECIAL)) {
		pr_err("%s: zero_copy: this architecture has no special PTEs\n",
		       udev->name);
		return -EINVAL;
	}
	/*
	 * The window is part of the mapping's size.  Writing the current
	 * value is accepted: "targetcli restoreconfig" writes every saved
	 * attribute back after enable.
	 */
	mutex_lock(&udev->reap_lock);
	if (udev->mb && on != udev->zero_copy) {
		pr_err("%s: zero_copy: cannot change after enable\n",
		       udev->name);
		ret = -EINVAL;
	} else {
		udev->zero_copy = on;
	}
	mutex_unlock(&udev->reap_lock);
	return ret;
}

static ssize_t tcmu_zero_copy_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "%d\n", tcmu_attr_dev(item)->zero_copy);
}

static ssize_t tcmu_zero_copy_store(struct config_item *item,
				    const char *page, size_t count)
{
	int ret = tcmu_zero_copy_set(tcmu_attr_dev(item), page);

	return ret ? ret : count;
}
CONFIGFS_ATTR(tcmu_, zero_copy);

#define TCMU_ZC_MIN_KB_MAX	(SZ_8M >> 10)

static int tcmu_zero_copy_min_kb_set(struct tcmu_dev *udev, const char *val)
{
	u32 kb;

	if (kstrtou32(val, 0, &kb) || kb > TCMU_ZC_MIN_KB_MAX) {
		pr_err("%s: zero_copy_min_kb: '%s' is not between 0 and %u\n",
		       udev->name, strim((char *)val), TCMU_ZC_MIN_KB_MAX);
		return -EINVAL;
	}
	WRITE_ONCE(udev->zc_min_bytes, kb << 10);
	return 0;
}

static ssize_t tcmu_zero_copy_min_kb_show(struct config_item *item,
					  char *page)
{
	return sysfs_emit(page, "%u\n",
			  READ_ONCE(tcmu_attr_dev(item)->zc_min_bytes) >> 10);
}

static ssize_t tcmu_zero_copy_min_kb_store(struct config_item *item,
					   const char *page, size_t count)
{
	int ret = tcmu_zero_copy_min_kb_set(tcmu_attr_dev(item), page);

	return ret ? ret : count;
}
CONFIGFS_ATTR(tcmu_, zero_copy_min_kb);

static int tcmu_zero_copy_read_set(struct tcmu_dev *udev, const char *val)
{
	u8 on;

	if (kstrtou8(val, 0, &on) || on > 1) {
		tcmu_bad(udev, "zero_copy_read", val);
		return -EINVAL;
	}
	WRITE_ONCE(udev->zc_read, on);
	return 0;
}

static ssize_t tcmu_zero_copy_read_show(struct config_item *item,
					char *page)
{
	return sysfs_emit(page, "%d\n", READ_ONCE(tcmu_attr_dev(item)->zc_read));
}

static ssize_t tcmu_zero_copy_read_store(struct config_item *item,
					 const char *page, size_t count)
{
	int ret = tcmu_zero_copy_read_set(tcmu_attr_dev(item), page);

	return ret ? ret : count;
}
CONFIGFS_ATTR(tcmu_, zero_copy_read);

/*
 * A write to an action that takes a number: refused while the device is
 * not enabled, then unless it is one in @min..@max.  Returns 0 or the
 * error for the write.
 */
static int tcmu_action_u8(struct tcmu_dev *udev, const char *action,
			  const char *page, u8 min, u8 max, u8 *val)
{
	int ret = tcmu_action_enabled(udev, action);

	if (ret)
		return ret;
	if (kstrtou8(page, 0, val) || *val < min || *val > max) {
		tcmu_bad(udev, action, page);
		return -EINVAL;
	}
	return 0;
}

static ssize_t tcmu_block_dev_show(struct config_item *item, char *page)
{
	return sysfs_emit(page, "%s\n", test_bit(TCMU_DEV_BLOCKED,
			  &tcmu_action_dev(item)->flags) ? "blocked" : "unblocked");
}

static ssize_t tcmu_block_dev_store(struct config_item *item,
				    const char *page, size_t count)
{
	struct tcmu_dev *udev = tcmu_action_dev(item);
	u8 val;
	int ret = tcmu_action_u8(udev, "block_dev", page, 0, 1, &val);

	if (ret)
		return ret;
	if (val)
		tcmu_block_dev(udev);
	else
		tcmu_unblock_dev(udev);
	return count;
}
CONFIGFS_ATTR(tcmu_, block_dev);

static ssize_t tcmu_reset_ring_store(struct config_item *item,
				     const char *page, size_t count)
{
	struct tcmu_dev *udev = tcmu_action_dev(item);
	u8 val;
	int ret = tcmu_action_u8(udev, "reset_ring", page, 1, 2, &val);

	if (ret)
		return ret;
	tcmu_reset_ring(udev, val);
	return count;
}
CONFIGFS_ATTR_WO(tcmu_, reset_ring);

static ssize_t tcmu_free_kept_buf_store(struct config_item *item,
					const char *page, size_t count)
{
	struct tcmu_dev *udev = tcmu_action_dev(item);
	int ret = tcmu_action_enabled(udev, "free_kept_buf");
	u16 cmd_id;

	if (ret)
		return ret;
	if (kstrtou16(page, 0, &cmd_id)) {
		tcmu_bad(udev, "free_kept_buf", page);
		return -EINVAL;
	}
	ret = tcmu_free_kept_buf(udev, cmd_id);
	return ret ? ret : count;
}
CONFIGFS_ATTR_WO(tcmu_, free_kept_buf);

static struct configfs_attribute *tcmu_attrib_attrs[] = {
	&tcmu_attr_cmd_time_out,
	&tcmu_attr_qfull_time_out,
	&tcmu_attr_max_data_area_mb,
	&tcmu_attr_data_pages_per_blk,
	&tcmu_attr_cmd_ring_size_mb,
	&tcmu_attr_dev_config,
	&tcmu_attr_dev_size,
	&tcmu_attr_emulate_write_cache,
	&tcmu_attr_tmr_notification,
	&tcmu_attr_nl_reply_supported,
	&tcmu_attr_zero_copy,
	&tcmu_attr_zero_copy_min_kb,
	&tcmu_attr_zero_copy_read,
	NULL,
};

static struct configfs_attribute *tcmu_action_attrs[] = {
	&tcmu_attr_block_dev,
	&tcmu_attr_reset_ring,
	&tcmu_attr_free_kept_buf,
	NULL,
};

/* passthrough + passthrough PR attributes of target core, then ours */
static struct configfs_attribute **tcmu_all_attrs;

static size_t tcmu_attrs_count(struct configfs_attribute **attrs)
{
	size_t n = 0;

	while (attrs[n])
		n++;
	return n;
}

int tcmu_configfs_init(struct target_backend_ops *ops)
{
	struct configfs_attribute **lists[] = {
		passthrough_attrib_attrs, passthrough_pr_attrib_attrs,
		tcmu_attrib_attrs,
	};
	size_t i, n = 0;

	for (i = 0; i < ARRAY_SIZE(lists); i++)
		n += tcmu_attrs_count(lists[i]);
	tcmu_all_attrs = kcalloc(n + 1, sizeof(*tcmu_all_attrs), GFP_KERNEL);
	if (!tcmu_all_attrs)
		return -ENOMEM;
	for (i = 0, n = 0; i < ARRAY_SIZE(lists); i++) {
		memcpy(tcmu_all_attrs + n, lists[i],
		       tcmu_attrs_count(lists[i]) * sizeof(*tcmu_all_attrs));
		n += tcmu_attrs_count(lists[i]);
	}
	ops->tb_dev_attrib_attrs = tcmu_all_attrs;
	ops->tb_dev_action_attrs = tcmu_action_attrs;
	return 0;
}

void tcmu_configfs_exit(void)
{
	kfree(tcmu_all_attrs);
}

enum {
	OPT_DEV_CONFIG, OPT_DEV_SIZE, OPT_HW_BLOCK_SIZE, OPT_HW_MAX_SECTORS,
	OPT_NL_REPLY_SUPPORTED, OPT_MAX_DATA_AREA_MB, OPT_DATA_PAGES_PER_BLK,
	OPT_CMD_RING_SIZE_MB, OPT_ZERO_COPY, OPT_ZERO_COPY_MIN_KB,
	OPT_ZERO_COPY_READ, OPT_ERR,
};

static const match_table_t tcmu_tokens = {
	{OPT_DEV_CONFIG, "dev_config=%s"},
	{OPT_DEV_SIZE, "dev_size=%s"},
	{OPT_HW_BLOCK_SIZE, "hw_block_size=%d"},
	{OPT_HW_MAX_SECTORS, "hw_max_sectors=%d"},
	{OPT_NL_REPLY_SUPPORTED, "nl_reply_supported=%d"},
	{OPT_MAX_DATA_AREA_MB, "max_data_area_mb=%d"},
	{OPT_DATA_PAGES_PER_BLK, "data_pages_per_blk=%d"},
	{OPT_CMD_RING_SIZE_MB, "cmd_ring_size_mb=%d"},
	{OPT_ZERO_COPY, "zero_copy=%s"},
	{OPT_ZERO_COPY_MIN_KB, "zero_copy_min_kb=%s"},
	{OPT_ZERO_COPY_READ, "zero_copy_read=%s"},
	{OPT_ERR, NULL},
};

static const char * const tcmu_opt_names[] = {
	[OPT_HW_BLOCK_SIZE] = "hw_block_size",
	[OPT_HW_MAX_SECTORS] = "hw_max_sectors",
	[OPT_MAX_DATA_AREA_MB] = "max_data_area_mb",
	[OPT_DATA_PAGES_PER_BLK] = "data_pages_per_blk",
	[OPT_CMD_RING_SIZE_MB] = "cmd_ring_size_mb",
};

/* A positive int option; logs and fails otherwise. */
static int tcmu_opt_pos(struct tcmu_dev *udev, const char *opt,
			substring_t *arg, int *val)
{
	if (match_int(arg, val) || *val <= 0) {
		pr_err("%s: %s: must be a positive integer\n", udev->name, opt);
		return -EINVAL;
	}
	return 0;
}

/* Options that size the mapping: only before the device is enabled. */
static int tcmu_opt_layout(struct tcmu_dev *udev, int token, int val)
{
	u32 global_mb = TCMU_PAGES_TO_MB(tcmu_pool_max(&tcmu_pool));

	switch (token) {
	case OPT_MAX_DATA_AREA_MB:
		if (val > global_mb) {
			pr_warn("%s: max_data_area_mb: %d lowered to the global limit %u\n",
				udev->name, val, global_mb);
			val = global_mb;
		}
		if (TCMU_MB_TO_PAGES(val) < udev->data_pages_per_blk) {
			pr_err("%s: max_data_area_mb: %d MB is smaller than one block\n",
			       udev->name, val);
			return -EINVAL;
		}
		udev->data_area_mb = val;
		return 0;
	case OPT_DATA_PAGES_PER_BLK:
		/* a block's size in bytes is a u32 */
		if (val > U32_MAX >> PAGE_SHIFT) {
			pr_err("%s: data_pages_per_blk: %d makes a block of 4 GiB or more\n",
			       udev->name, val);
			return -EINVAL;
		}
		if (val > TCMU_MB_TO_PAGES(udev->data_area_mb)) {
			pr_err("%s: data_pages_per_blk: %d exceeds the %u MB data area\n",
			       udev->name, val, udev->data_area_mb);
			return -EINVAL;
		}
		udev->data_pages_per_blk = val;
		return 0;
	case OPT_CMD_RING_SIZE_MB:
		if (val > TCMU_RING_MB_MAX) {
			pr_warn("%s: cmd_ring_size_mb: %d lowered to %d\n",
				udev->name, val, TCMU_RING_MB_MAX);
			val = TCMU_RING_MB_MAX;
		}
		udev->cmdr_size = (val << 20) - TCMU_CMDR_OFF;
		return 0;
	}
	return -EINVAL;
}

static int tcmu_set_opt(struct tcmu_dev *udev, char *opt)
{
	struct se_dev_attrib *attr = &udev->se_dev.dev_attrib;
	substring_t args[MAX_OPT_ARGS];
	char buf[16];
	int token, val, ret;

	token = match_token(opt, tcmu_tokens, args);
	switch (token) {
	case OPT_ZERO_COPY:
		match_strlcpy(buf, &args[0], sizeof(buf));
		return tcmu_zero_copy_set(udev, buf);
	case OPT_ZERO_COPY_MIN_KB:
		match_strlcpy(buf, &args[0], sizeof(buf));
		return tcmu_zero_copy_min_kb_set(udev, buf);
	case OPT_ZERO_COPY_READ:
		match_strlcpy(buf, &args[0], sizeof(buf));
		return tcmu_zero_copy_read_set(udev, buf);
	case OPT_DEV_CONFIG:
		if (!match_strlcpy(udev->dev_config, &args[0],
				   TCMU_CONFIG_LEN)) {
			pr_err("%s: dev_config: empty\n", udev->name);
			return -EINVAL;
		}
		return 0;
	case OPT_DEV_SIZE:
		if (match_u64(&args[0], &udev->dev_size)) {
			pr_err("%s: dev_size: not a number\n", udev->name);
			return -EINVAL;
		}
		return 0;
	case OPT_NL_REPLY_SUPPORTED:
		if (match_int(&args[0], &udev->nl_reply_supported)) {
			pr_err("%s: nl_reply_supported: not a number\n",
			       udev->name);
			return -EINVAL;
		}
		return 0;
	case OPT_ERR:
		pr_err("%s: control: unknown option '%s'\n", udev->name, opt);
		return -EINVAL;
	}

	ret = tcmu_opt_pos(udev, tcmu_opt_names[token], &args[0], &val);
	if (ret)
		return ret;
	switch (token) {
	case OPT_HW_BLOCK_SIZE:
		if (val < 512 || !is_power_of_2(val)) {
			pr_err("%s: hw_block_size: %d is not a power of 2 >= 512\n",
			       udev->name, val);
			return -EINVAL;
		}
		attr->hw_block_size = val;
		return 0;
	case OPT_HW_MAX_SECTORS:
		attr->hw_max_sectors = val;
		return 0;
	}

	mutex_lock(&udev->reap_lock);
	if (udev->mb) {
		pr_err("%s: %s: cannot change after enable\n", udev->name,
		       tcmu_opt_names[token]);
		ret = -EINVAL;
	} else {
		ret = tcmu_opt_layout(udev, token, val);
	}
	mutex_unlock(&udev->reap_lock);
	return ret;
}

ssize_t tcmu_set_configfs_dev_params(struct se_device *se_dev,
				     const char *page, ssize_t count)
{
	struct tcmu_dev *udev = TCMU_DEV(se_dev);
	char *orig, *opts, *opt;
	int ret = 0;

	orig = kstrdup(page, GFP_KERNEL);
	if (!orig)
		return -ENOMEM;
	opts = orig;
	while (!ret && (opt = strsep(&opts, ",\n")))
		if (*opt)
			ret = tcmu_set_opt(udev, opt);
	kfree(orig);
	return ret ? ret : count;
}

static const char *tcmu_state(struct tcmu_dev *udev)
{
	if (test_bit(TCMU_DEV_BROKEN, &udev->flags))
		return "broken";
	if (test_bit(TCMU_DEV_BLOCKED, &udev->flags))
		return "blocked";
	return udev->mb ? "ok" : "unconfigured";
}

ssize_t tcmu_show_configfs_dev_params(struct se_device *se_dev, char *b)
{
	struct tcmu_dev *udev = TCMU_DEV(se_dev);
	u32 held = 0, used = 0, peak = 0, ring_held = 0, ring_peak = 0;
	size_t in_flight = 0, waiting = 0;
	u64 reclaimed = 0, revoked = 0, waits = 0, wait_ms = 0;
	u64 ring_trimmed = 0;
	ssize_t n;

	mutex_lock(&udev->reap_lock);
	if (udev->mb) {
		tcmu_da_stats(&udev->da, &held, &used, &peak, &reclaimed,
			      &revoked);
		tcmu_rmem_stats(&udev->rmem, &ring_held, &ring_peak,
				&ring_trimmed);
		spin_lock(&udev->ring_lock);
		in_flight = list_count_nodes(&udev->inflight_queue);
		waiting = list_count_nodes(&udev->qfull_queue);
		spin_unlock(&udev->ring_lock);
		tcmu_pool_waiter_stats(udev->da.pool, &udev->da.waiter,
				       &waits, &wait_ms);
	}
	n = sprintf(b,
		    "Config: %s Size: %llu MaxDataAreaMB: %u DataPagesPerBlk: %u CmdRingSizeMB: %u\n",
		    udev->dev_config[0] ? udev->dev_config : "NULL",
		    udev->dev_size, udev->data_area_mb,
		    udev->data_pages_per_blk,
		    (udev->cmdr_size + TCMU_CMDR_OFF) >> 20);
	n += sprintf(b + n,
		     "State: %s DataPagesHeld: %u DataPagesUsed: %u InFlight: %zu Waiting: %zu TimedOut: %llu QfullTimedOut: %llu\n",
		     tcmu_state(udev), held, used, in_flight, waiting,
		     udev->nr_timed_out, udev->nr_qfull_timed_out);
	n += sprintf(b + n,
		     "Pool: DataPagesPeak: %u DataPagesReclaimed: %llu PoolWaits: %llu PoolWaitMs: %llu DataPagesRevoked: %llu CompletionCpu: %u\n",
		     peak, reclaimed, waits, wait_ms, revoked, udev->ccpu);
	n += sprintf(b + n,
		     "Ring: RingPagesHeld: %u RingPagesPeak: %u RingPagesTrimmed: %llu\n",
		     ring_held, ring_peak, ring_trimmed);
	n += tcmu_zc_show(udev, b + n);
	mutex_unlock(&udev->reap_lock);
	return n;
}
