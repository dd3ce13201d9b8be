// SPDX-License-Identifier: GPL-2.0
/*
 * Generic netlink family "TCM-USER": device events to the handler daemon
 * (multicast group "config") and its *_DONE replies, plus the module
 * parameters block_netlink and reset_netlink that tcmu-runner uses to
 * recover from a daemon that died while the kernel waited for a reply.
 *
 * A device waits for a reply only when the daemon announced reply
 * support (SET_FEATURES) and the device's nl_reply_supported allows it.
 * The wait is killable, so a daemon that never answers can hang no task
 * for good; reset_netlink fails every pending wait.
 */
#include <linux/err.h>
#include <linux/moduleparam.h>
#include <net/genetlink.h>
#include "tcmu.h"

enum tcmu_mcgrp {
	TCMU_MCGRP_CONFIG,
};

/*
 * The events name devices and their configuration, and a listener can
 * hold up enables by filling its socket (delivery errors fail them):
 * joining takes CAP_NET_ADMIN, as sending the replies does.
 */
static const struct genl_multicast_group tcmu_mcgrps[] = {
	[TCMU_MCGRP_CONFIG] = {
		.name = "config",
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
};

static DEFINE_MUTEX(tcmu_nl_lock);	/* protects the two below */
static LIST_HEAD(tcmu_nl_pending);	/* tcmu_nl_cmd waiting for a reply */
static u32 tcmu_nl_last_req;		/* the last TCMU_ATTR_REQ_ID given */
static u8 tcmu_nl_reply_supported;	/* set by the daemon */
static bool tcmu_nl_blocked;		/* block_netlink */

static struct genl_family tcmu_genl_family;

static int tcmu_nl_block_set(const char *val, const struct kernel_param *kp)
{
	u8 v;

	if (kstrtou8(val, 0, &v) || v > 1) {
		pr_err("block_netlink: '%s' is not 0 or 1\n", strim((char *)val));
		return -EINVAL;
	}
	WRITE_ONCE(tcmu_nl_blocked, v);
	return 0;
}

static int tcmu_nl_block_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", READ_ONCE(tcmu_nl_blocked) ?
			  "blocked" : "unblocked");
}

static const struct kernel_param_ops tcmu_nl_block_ops = {
	.set = tcmu_nl_block_set,
	.get = tcmu_nl_block_get,
};
module_param_cb(block_netlink, &tcmu_nl_block_ops, NULL, 0644);
MODULE_PARM_DESC(block_netlink, "Block new netlink commands.");

/* Fail every pending request; netlink must be blocked first. */
static int tcmu_nl_reset_set(const char *val, const struct kernel_param *kp)
{
	struct tcmu_nl_cmd *nl, *tmp;
	u8 v;

	if (kstrtou8(val, 0, &v) || v != 1) {
		pr_err("reset_netlink: '%s' is not 1\n", strim((char *)val));
		return -EINVAL;
	}
	if (!READ_ONCE(tcmu_nl_blocked)) {
		pr_err("reset_netlink: netlink is not blocked (block_netlink=1 first)\n");
		return -EBUSY;
	}
	mutex_lock(&tcmu_nl_lock);
	list_for_each_entry_safe(nl, tmp, &tcmu_nl_pending, node) {
		list_del_init(&nl->node);
		nl->status = -EINTR;
		complete(&nl->done);
	}
	mutex_unlock(&tcmu_nl_lock);
	return 0;
}

static const struct kernel_param_ops tcmu_nl_reset_ops = {
	.set = tcmu_nl_reset_set,
};
module_param_cb(reset_netlink, &tcmu_nl_reset_ops, NULL, 0200);
MODULE_PARM_DESC(reset_netlink, "Reset netlink commands.");

void tcmu_nl_dev_init(struct tcmu_dev *udev)
{
	INIT_LIST_HEAD(&udev->nl_cmd.node);
	init_completion(&udev->nl_cmd.done);
	udev->nl_cmd.cmd = TCMU_CMD_UNSPEC;
}

static bool tcmu_nl_wants_reply(struct tcmu_dev *udev)
{
	return READ_ONCE(tcmu_nl_reply_supported) &&
	       udev->nl_reply_supported > 0;
}

/*
 * Register the request before sending, so a fast reply finds it; its id
 * goes into *@req_id for the event to carry.
 */
static int tcmu_nl_expect(struct tcmu_dev *udev, int cmd, u32 *req_id)
{
	struct tcmu_nl_cmd *nl = &udev->nl_cmd;
	int ret = 0;

	mutex_lock(&tcmu_nl_lock);
	if (READ_ONCE(tcmu_nl_blocked)) {
		pr_warn("%s: netlink is blocked; failing command %d\n",
			udev->name, cmd);
		ret = -EAGAIN;
	} else if (nl->cmd != TCMU_CMD_UNSPEC) {
		pr_warn("%s: netlink command %d still pending\n", udev->name,
			nl->cmd);
		ret = -EBUSY;
	} else {
		nl->cmd = cmd;
		nl->status = 0;
		/* 0 means none: a reply without an id */
		if (!++tcmu_nl_last_req)
			++tcmu_nl_last_req;
		nl->req_id = tcmu_nl_last_req;
		*req_id = nl->req_id;
		reinit_completion(&nl->done);
		list_add_tail(&nl->node, &tcmu_nl_pending);
	}
	mutex_unlock(&tcmu_nl_lock);
	return ret;
}

static int tcmu_nl_wait(struct tcmu_dev *udev, bool send_ok)
{
	struct tcmu_nl_cmd *nl = &udev->nl_cmd;
	int ret = 0;

	if (send_ok && wait_for_completion_killable(&nl->done))
		ret = -EINTR;

	mutex_lock(&tcmu_nl_lock);
	list_del_init(&nl->node);
	if (!ret && send_ok)
		ret = nl->status;
	nl->cmd = TCMU_CMD_UNSPEC;
	mutex_unlock(&tcmu_nl_lock);
	return ret;
}

static struct sk_buff *tcmu_nl_new(struct tcmu_dev *udev, int cmd,
				   void **hdr)
{
	struct sk_buff *skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);

	if (!skb)
		return NULL;
	*hdr = genlmsg_put(skb, 0, 0, &tcmu_genl_family, 0, cmd);
	if (!*hdr ||
	    nla_put_string(skb, TCMU_ATTR_DEVICE, udev->uio_info.name) ||
	    nla_put_u32(skb, TCMU_ATTR_MINOR, udev->uio_info.uio_dev->minor) ||
	    nla_put_u32(skb, TCMU_ATTR_DEVICE_ID, udev->se_dev.dev_index)) {
		nlmsg_free(skb);
		return NULL;
	}
	return skb;
}

/*
 * Multicast @skb and, when the daemon replies, wait for its status.
 * With no listener there is nobody to wait for, ADDED_DEVICE included
 * (the 6.12 driver waited there, forever once the daemon had died): a
 * daemon that starts later finds the device among the UIO devices.
 */
static int tcmu_nl_send(struct tcmu_dev *udev, int cmd, struct sk_buff *skb,
			void *hdr)
{
	bool wait = tcmu_nl_wants_reply(udev);
	u32 req_id;
	int ret;

	if (wait) {
		ret = tcmu_nl_expect(udev, cmd, &req_id);
		if (!ret && nla_put_u32(skb, TCMU_ATTR_REQ_ID, req_id)) {
			tcmu_nl_wait(udev, false);
			ret = -EMSGSIZE;
		}
		if (ret) {
			nlmsg_free(skb);
			return ret;
		}
	}
	genlmsg_end(skb, hdr);
	ret = genlmsg_multicast_allns(&tcmu_genl_family, skb, 0,
				      TCMU_MCGRP_CONFIG);
	if (ret) {
		if (wait)
			tcmu_nl_wait(udev, false);
		/* nobody listens: nobody to wait for */
		return ret == -ESRCH ? 0 : ret;
	}
	return wait ? tcmu_nl_wait(udev, true) : 0;
}

int tcmu_nl_dev_added(struct tcmu_dev *udev)
{
	struct sk_buff *skb;
	void *hdr;

	/* a device that said no keeps saying no; otherwise follow the daemon */
	if (udev->nl_reply_supported >= 0)
		udev->nl_reply_supported = READ_ONCE(tcmu_nl_reply_supported);

	skb = tcmu_nl_new(udev, TCMU_CMD_ADDED_DEVICE, &hdr);
	if (!skb)
		return -ENOMEM;
	return tcmu_nl_send(udev, TCMU_CMD_ADDED_DEVICE, skb, hdr);
}

void tcmu_nl_dev_removed(struct tcmu_dev *udev)
{
	struct sk_buff *skb;
	void *hdr;
	int ret;

	skb = tcmu_nl_new(udev, TCMU_CMD_REMOVED_DEVICE, &hdr);
	if (!skb)
		return;
	ret = tcmu_nl_send(udev, TCMU_CMD_REMOVED_DEVICE, skb, hdr);
	if (ret)
		pr_warn("%s: REMOVED_DEVICE event failed: %d\n", udev->name,
			ret);
}

/*
 * RECONFIG_DEVICE: @attr changes to @config (TCMU_ATTR_DEV_CFG) or to
 * @val (TCMU_ATTR_DEV_SIZE, TCMU_ATTR_WRITECACHE); the handler's reply,
 * where it gives one, decides.
 */
int tcmu_nl_reconfig(struct tcmu_dev *udev, int attr, const char *config,
		     u64 val)
{
	struct sk_buff *skb;
	void *hdr;
	int ret;

	skb = tcmu_nl_new(udev, TCMU_CMD_RECONFIG_DEVICE, &hdr);
	if (!skb)
		return -ENOMEM;
	switch (attr) {
	case TCMU_ATTR_DEV_CFG:
		ret = nla_put_string(skb, attr, config);
		break;
	case TCMU_ATTR_DEV_SIZE:
		ret = nla_put_u64_64bit(skb, attr, val, TCMU_ATTR_PAD);
		break;
	case TCMU_ATTR_WRITECACHE:
		ret = nla_put_u8(skb, attr, val);
		break;
	default:
		WARN_ON_ONCE(1);
		ret = -EINVAL;
		break;
	}
	if (ret) {
		/* nla_put_*() fail with -EMSGSIZE */
		nlmsg_free(skb);
		return ret;
	}
	return tcmu_nl_send(udev, TCMU_CMD_RECONFIG_DEVICE, skb, hdr);
}

/*
 * The status of a reply becomes the return value of a configfs write:
 * only 0 or an errno user space knows (the kernel's own codes from
 * ERESTARTSYS up would restart the call or read as "Unknown error").
 */
static s32 tcmu_nl_reply_status(struct genl_info *info, int done, u32 dev_id)
{
	s32 status = nla_get_s32(info->attrs[TCMU_ATTR_CMD_STATUS]);

	if (status > 0 || status <= -ERESTARTSYS) {
		pr_warn_ratelimited("netlink reply %d for device id %u: status %d is no errno, using -EIO\n",
				    done, dev_id, status);
		return -EIO;
	}
	return status;
}

/*
 * A *_DONE reply: find the device that waits for @done and wake it.  A
 * reply that carries a request id completes that request only; a late
 * reply to a request that was given up (reset_netlink, a killed writer)
 * therefore cannot complete the next one.
 */
static int tcmu_nl_done(struct genl_info *info, int done)
{
	struct nlattr *req = info->attrs[TCMU_ATTR_REQ_ID];
	struct tcmu_nl_cmd *nl;
	struct tcmu_dev *udev;
	u32 dev_id, req_id;
	s32 status;
	int ret = -ENODEV;

	if (!info->attrs[TCMU_ATTR_CMD_STATUS] ||
	    !info->attrs[TCMU_ATTR_DEVICE_ID]) {
		GENL_SET_ERR_MSG(info, "CMD_STATUS and DEVICE_ID are required");
		return -EINVAL;
	}
	dev_id = nla_get_u32(info->attrs[TCMU_ATTR_DEVICE_ID]);
	req_id = req ? nla_get_u32(req) : 0;
	status = tcmu_nl_reply_status(info, done, dev_id);

	mutex_lock(&tcmu_nl_lock);
	list_for_each_entry(nl, &tcmu_nl_pending, node) {
		udev = container_of(nl, struct tcmu_dev, nl_cmd);
		if (udev->se_dev.dev_index != dev_id)
			continue;
		if (req && nl->req_id != req_id) {
			pr_warn_ratelimited("%s: reply to netlink request %u, which is over; %u is pending\n",
					    udev->name, req_id, nl->req_id);
			ret = -ESTALE;
			break;
		}
		if (nl->cmd != done) {
			pr_err_ratelimited("%s: reply to netlink command %d while %d is pending\n",
					   udev->name, done, nl->cmd);
			ret = -EINVAL;
			break;
		}
		list_del_init(&nl->node);
		nl->status = status;
		complete(&nl->done);
		ret = 0;
		break;
	}
	mutex_unlock(&tcmu_nl_lock);
	if (ret == -ENODEV)
		pr_err_ratelimited("netlink reply %d for device id %u: no request pending\n",
				   done, dev_id);
	return ret;
}

static int tcmu_nl_added_done(struct sk_buff *skb, struct genl_info *info)
{
	return tcmu_nl_done(info, TCMU_CMD_ADDED_DEVICE);
}

static int tcmu_nl_removed_done(struct sk_buff *skb, struct genl_info *info)
{
	return tcmu_nl_done(info, TCMU_CMD_REMOVED_DEVICE);
}

static int tcmu_nl_reconfig_done(struct sk_buff *skb, struct genl_info *info)
{
	return tcmu_nl_done(info, TCMU_CMD_RECONFIG_DEVICE);
}

static int tcmu_nl_set_features(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *a = info->attrs[TCMU_ATTR_SUPP_KERN_CMD_REPLY];

	if (a) {
		WRITE_ONCE(tcmu_nl_reply_supported, nla_get_u8(a));
		pr_info_ratelimited("handler daemon: command reply support %u\n",
				    nla_get_u8(a));
	}
	return 0;
}

static const struct nla_policy tcmu_nl_policy[TCMU_ATTR_MAX + 1] = {
	[TCMU_ATTR_DEVICE]		= { .type = NLA_STRING },
	[TCMU_ATTR_MINOR]		= { .type = NLA_U32 },
	[TCMU_ATTR_CMD_STATUS]		= { .type = NLA_S32 },
	[TCMU_ATTR_DEVICE_ID]		= { .type = NLA_U32 },
	[TCMU_ATTR_SUPP_KERN_CMD_REPLY]	= { .type = NLA_U8 },
	[TCMU_ATTR_REQ_ID]		= { .type = NLA_U32 },
};

#define TCMU_NL_OP(_cmd, _fn) {						\
	.cmd = _cmd,							\
	.validate = GENL_DONT_VALIDATE_STRICT | GENL_DONT_VALIDATE_DUMP, \
	.flags = GENL_ADMIN_PERM,					\
	.doit = _fn,							\
}

static const struct genl_small_ops tcmu_nl_ops[] = {
	TCMU_NL_OP(TCMU_CMD_SET_FEATURES, tcmu_nl_set_features),
	TCMU_NL_OP(TCMU_CMD_ADDED_DEVICE_DONE, tcmu_nl_added_done),
	TCMU_NL_OP(TCMU_CMD_REMOVED_DEVICE_DONE, tcmu_nl_removed_done),
	TCMU_NL_OP(TCMU_CMD_RECONFIG_DEVICE_DONE, tcmu_nl_reconfig_done),
};

static struct genl_family tcmu_genl_family __ro_after_init = {
	.module = THIS_MODULE,
	.name = "TCM-USER",
	.version = 2,
	.maxattr = TCMU_ATTR_MAX,
	.policy = tcmu_nl_policy,
	.mcgrps = tcmu_mcgrps,
	.n_mcgrps = ARRAY_SIZE(tcmu_mcgrps),
	.netnsok = true,
	.small_ops = tcmu_nl_ops,
	.n_small_ops = ARRAY_SIZE(tcmu_nl_ops),
	.resv_start_op = TCMU_CMD_SET_FEATURES + 1,
};

int tcmu_nl_init(void)
{
	return genl_register_family(&tcmu_genl_family);
}

void tcmu_nl_exit(void)
{
	genl_unregister_family(&tcmu_genl_family);
}
