// SPDX-License-Identifier: GPL-2.0
/*
 * tcmu-test-handler: the generic netlink responder, over raw netlink
 * sockets.
 *
 * It resolves the "TCM-USER" family, joins its "config" multicast group,
 * tells the kernel it will answer (SET_FEATURES, SUPP_KERN_CMD_REPLY=1),
 * then logs every ADDED/REMOVED/RECONFIG_DEVICE event on stdout, one
 * "nl: ..." line each, and answers with the matching *_DONE command.
 * Events arrive on one socket; requests go out on another, whose acks are
 * read back synchronously, so the two never mix.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "handler.h"
#include "../lib/genl.h"

#define NL_FAMILY	"TCM-USER"
#define NL_GROUP	"config"
#define NL_VERSION	2
#define NL_ACK_TIMEOUT_S 5

/* Attributes of an event, copied out of the message. */
struct nl_event {
	uint8_t cmd;
	char dev[256];
	bool has_minor, has_id, has_cfg, has_size, has_wc, has_req;
	uint32_t minor;
	uint32_t req_id;
	uint32_t dev_id;
	char cfg[256];
	uint64_t size;
	uint8_t wc;
};

static struct {
	struct genl_sock ev;	/* member of the multicast group */
	struct genl_sock req;	/* requests out, replies and acks in */
	uint16_t family;
	uint32_t group;
	const char *dev_name;	/* answer only for this device, if set */
	pthread_t thread;
	bool started;
} nl = { .ev.fd = -1, .req.fd = -1 };

static const char *const cmd_names[] = {
	[TCMU_CMD_ADDED_DEVICE]		= "ADDED_DEVICE",
	[TCMU_CMD_REMOVED_DEVICE]	= "REMOVED_DEVICE",
	[TCMU_CMD_RECONFIG_DEVICE]	= "RECONFIG_DEVICE",
	[TCMU_CMD_ADDED_DEVICE_DONE]	= "ADDED_DEVICE_DONE",
	[TCMU_CMD_REMOVED_DEVICE_DONE]	= "REMOVED_DEVICE_DONE",
	[TCMU_CMD_RECONFIG_DEVICE_DONE]	= "RECONFIG_DEVICE_DONE",
	[TCMU_CMD_SET_FEATURES]		= "SET_FEATURES",
};

static const char *cmd_name(uint8_t cmd)
{
	if (cmd < ARRAY_SIZE(cmd_names) && cmd_names[cmd])
		return cmd_names[cmd];
	return "UNKNOWN";
}

/* Resolve the family, retrying while target_core_user is not loaded. */
static int wait_family(void)
{
	time_t deadline = time(NULL) + opt.wait_s;
	int ret;

	while ((ret = genl_resolve(&nl.req, NL_FAMILY, NL_GROUP, &nl.family,
				   &nl.group)) == -ENOENT) {
		if (time(NULL) >= deadline || wait_stop(200))
			break;
	}
	if (ret)
		err("netlink family %s: %s", NL_FAMILY, strerror(-ret));
	return ret;
}

static int set_features(void)
{
	uint8_t one = 1;
	struct nl_msg m;
	int ret;

	msg_init(&m, nl.family, TCMU_CMD_SET_FEATURES, NL_VERSION);
	msg_put(&m, TCMU_ATTR_SUPP_KERN_CMD_REPLY, &one, sizeof(one));
	ret = genl_request(&nl.req, &m, NULL, 0);
	printf("nl: SET_FEATURES kern_cmd_reply=1 ret=%d\n", ret);
	if (ret)
		err("SET_FEATURES: %s", strerror(-ret));
	return ret;
}

static void print_event(const struct nl_event *ev)
{
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line), "nl: %s dev=%s", cmd_name(ev->cmd),
		     ev->dev);
	if (ev->has_minor)
		n += snprintf(line + n, sizeof(line) - n, " minor=%u", ev->minor);
	if (ev->has_id)
		n += snprintf(line + n, sizeof(line) - n, " dev_id=%u", ev->dev_id);
	if (ev->has_cfg)
		n += snprintf(line + n, sizeof(line) - n, " cfg=%s", ev->cfg);
	if (ev->has_size)
		n += snprintf(line + n, sizeof(line) - n, " size=%" PRIu64, ev->size);
	if (ev->has_wc)
		n += snprintf(line + n, sizeof(line) - n, " writecache=%u", ev->wc);
	if (ev->has_req)
		snprintf(line + n, sizeof(line) - n, " req_id=%u", ev->req_id);
	printf("%s\n", line);
}

static bool our_device(const char *uio_name)
{
	unsigned int hba;
	char dev[256];

	if (!nl.dev_name)
		return true;
	return !uio_parse_name(uio_name, &hba, dev, sizeof(dev)) &&
	       !strcmp(dev, nl.dev_name);
}

static void reply(const struct nl_event *ev)
{
	uint8_t done = ev->cmd + TCMU_CMD_ADDED_DEVICE_DONE - TCMU_CMD_ADDED_DEVICE;
	int32_t status = opt.nl_status;
	struct nl_msg m;
	int ret;

	if (opt.nl_delay_ms)
		wait_stop(opt.nl_delay_ms);
	/* a test's cue: reply once it has done what needs the wait */
	for (int ms = 0; opt.nl_hold && access(opt.nl_hold, F_OK) &&
	     ms < 60000; ms += 10)
		if (wait_stop(10))
			break;
	msg_init(&m, nl.family, done, NL_VERSION);
	msg_put(&m, TCMU_ATTR_DEVICE_ID, &ev->dev_id, sizeof(ev->dev_id));
	msg_put(&m, TCMU_ATTR_CMD_STATUS, &status, sizeof(status));
	if (opt.nl_req_id && ev->has_req)
		msg_put(&m, TCMU_ATTR_REQ_ID, &ev->req_id, sizeof(ev->req_id));
	ret = genl_request(&nl.req, &m, NULL, 0);
	printf("nl: %s dev_id=%u status=%d ret=%d\n", cmd_name(done),
	       ev->dev_id, status, ret);
}

static void handle_event(const struct nlmsghdr *h)
{
	const struct nlattr *tb[TCMU_ATTR_MAX + 1];
	const struct genlmsghdr *g;
	struct nl_event ev = { 0 };
	const uint8_t *attrs;
	size_t len;

	g = msg_genl(h, &attrs, &len);
	if (!g)
		return;
	parse_attrs(attrs, len, tb, TCMU_ATTR_MAX);
	ev.cmd = g->cmd;
	if (!attr_str(tb[TCMU_ATTR_DEVICE], ev.dev, sizeof(ev.dev)))
		snprintf(ev.dev, sizeof(ev.dev), "?");
	ev.has_minor = attr_get(tb[TCMU_ATTR_MINOR], &ev.minor, sizeof(ev.minor));
	ev.has_id = attr_get(tb[TCMU_ATTR_DEVICE_ID], &ev.dev_id,
			     sizeof(ev.dev_id));
	ev.has_cfg = attr_str(tb[TCMU_ATTR_DEV_CFG], ev.cfg, sizeof(ev.cfg));
	ev.has_size = attr_get(tb[TCMU_ATTR_DEV_SIZE], &ev.size, sizeof(ev.size));
	ev.has_wc = attr_get(tb[TCMU_ATTR_WRITECACHE], &ev.wc, sizeof(ev.wc));
	ev.has_req = attr_get(tb[TCMU_ATTR_REQ_ID], &ev.req_id,
			      sizeof(ev.req_id));
	print_event(&ev);

	if (ev.cmd < TCMU_CMD_ADDED_DEVICE || ev.cmd > TCMU_CMD_RECONFIG_DEVICE ||
	    opt.nl_no_reply || !our_device(ev.dev))
		return;
	if (!ev.has_id) {
		err("nl: %s without a device id, not answered", cmd_name(ev.cmd));
		return;
	}
	reply(&ev);
}

static void *nl_main(void *arg)
{
	static uint8_t buf[GENL_RCVBUF];
	struct pollfd pfd[2] = {
		{ .fd = nl.ev.fd, .events = POLLIN },
		{ .fd = stop_fd, .events = POLLIN },
	};
	struct nlmsghdr *h;
	ssize_t n;
	size_t len;

	(void)arg;
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			err("nl: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		n = recv(nl.ev.fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == ENOBUFS)
				err("nl: events lost (%s)", strerror(errno));
			else if (errno != EAGAIN && errno != EINTR)
				err("nl: recv: %s", strerror(errno));
			continue;
		}
		len = (size_t)n;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len))
			if (h->nlmsg_type == nl.family)
				handle_event(h);
	}
	return NULL;
}

static int open_socket(struct genl_sock *s)
{
	int ret = genl_open(s, NL_ACK_TIMEOUT_S);

	if (ret)
		err("netlink socket: %s", strerror(-ret));
	return ret;
}

int nl_start(const char *dev_name)
{
	int ret;

	nl.dev_name = dev_name;
	if (open_socket(&nl.req) || open_socket(&nl.ev) || wait_family())
		goto fail;
	if (setsockopt(nl.ev.fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
		       &nl.group, sizeof(nl.group))) {
		err("join %s/%s: %s", NL_FAMILY, NL_GROUP, strerror(errno));
		goto fail;
	}
	if (set_features())
		goto fail;
	ret = pthread_create(&nl.thread, NULL, nl_main, NULL);
	if (ret) {
		err("netlink thread: %s", strerror(ret));
		goto fail;
	}
	nl.started = true;
	info("netlink: family %u, group %u%s", nl.family, nl.group,
	     opt.nl_no_reply ? ", not replying" : "");
	return 0;
fail:
	nl_stop();
	return -1;
}

void nl_stop(void)
{
	if (nl.started)
		pthread_join(nl.thread, NULL);
	nl.started = false;
	genl_close(&nl.ev);
	genl_close(&nl.req);
}
