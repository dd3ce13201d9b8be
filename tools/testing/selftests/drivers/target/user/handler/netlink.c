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
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "handler.h"

#define NL_FAMILY	"TCM-USER"
#define NL_GROUP	"config"
#define NL_VERSION	2
#define NL_RCVBUF	(64 * 1024)
#define NL_ACK_TIMEOUT_S 5

struct nl_msg {
	uint32_t len;
	union {
		struct nlmsghdr hdr;
		uint8_t buf[512];
	};
};

/* Attributes of an event, copied out of the message. */
struct nl_event {
	uint8_t cmd;
	char dev[256];
	bool has_minor, has_id, has_cfg, has_size, has_wc;
	uint32_t minor;
	uint32_t dev_id;
	char cfg[256];
	uint64_t size;
	uint8_t wc;
};

static struct {
	int ev_fd;		/* member of the multicast group */
	int req_fd;		/* requests out, replies and acks in */
	uint16_t family;
	uint32_t group;
	uint32_t seq;		/* event thread only, after start-up */
	const char *dev_name;	/* answer only for this device, if set */
	pthread_t thread;
	bool started;
} nl = { .ev_fd = -1, .req_fd = -1 };

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

static void msg_init(struct nl_msg *m, uint16_t type, uint8_t cmd,
		     uint8_t version)
{
	struct genlmsghdr *g;

	memset(m, 0, sizeof(*m));
	m->len = NLMSG_LENGTH(GENL_HDRLEN);
	m->hdr.nlmsg_type = type;
	m->hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	g = NLMSG_DATA(&m->hdr);
	g->cmd = cmd;
	g->version = version;
}

static void msg_put(struct nl_msg *m, uint16_t type, const void *data,
		    uint16_t len)
{
	struct nlattr *a = (struct nlattr *)(m->buf + NLMSG_ALIGN(m->len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((uint8_t *)a + NLA_HDRLEN, data, len);
	m->len = NLMSG_ALIGN(m->len) + NLA_ALIGN(a->nla_len);
}

/* The attribute at *p, stepping past it; NULL at the end or if malformed. */
static const struct nlattr *attr_next(const uint8_t **p, size_t *len)
{
	const struct nlattr *a = (const struct nlattr *)*p;
	size_t step;

	if (*len < NLA_HDRLEN || a->nla_len < NLA_HDRLEN || a->nla_len > *len)
		return NULL;
	step = NLA_ALIGN(a->nla_len);
	if (step > *len)
		step = *len;
	*p += step;
	*len -= step;
	return a;
}

/* Index the attributes in [buf, buf + len) by type. */
static void parse_attrs(const uint8_t *buf, size_t len,
			const struct nlattr **tb, unsigned int max)
{
	const struct nlattr *a;
	unsigned int type;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	while ((a = attr_next(&buf, &len))) {
		type = a->nla_type & NLA_TYPE_MASK;
		if (type <= max)
			tb[type] = a;
	}
}

static const void *attr_data(const struct nlattr *a)
{
	return (const uint8_t *)a + NLA_HDRLEN;
}

static bool attr_get(const struct nlattr *a, void *val, size_t len)
{
	if (!a || (size_t)(a->nla_len - NLA_HDRLEN) < len)
		return false;
	memcpy(val, attr_data(a), len);
	return true;
}

/*
 * Copy a string attribute into @buf, escaping control characters (dev_config
 * arrives with echo's newline) so that each event stays on one line.
 */
static bool attr_str(const struct nlattr *a, char *buf, size_t len)
{
	const char *s;
	size_t i, n, o = 0;

	if (!a)
		return false;
	s = attr_data(a);
	n = strnlen(s, a->nla_len - NLA_HDRLEN);
	for (i = 0; i < n && o + 5 < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			o += snprintf(buf + o, len - o, "\\x%02x", (unsigned char)s[i]);
		else
			buf[o++] = s[i];
	}
	buf[o] = '\0';
	return true;
}

static const struct genlmsghdr *msg_genl(const struct nlmsghdr *h,
					 const uint8_t **attrs, size_t *len)
{
	if (h->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return NULL;
	*attrs = (const uint8_t *)NLMSG_DATA(h) + GENL_HDRLEN;
	*len = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	return NLMSG_DATA(h);
}

/*
 * Send @m on the request socket and wait for its ack.  The first
 * non-ack answer is copied to @reply if given.  Returns the ack's error
 * (0 or -errno).
 */
static int nl_request(struct nl_msg *m, uint8_t *reply, size_t reply_len)
{
	static uint8_t buf[NL_RCVBUF];
	const struct nlmsgerr *e;
	struct nlmsghdr *h;
	ssize_t n;
	size_t len;

	m->hdr.nlmsg_len = m->len;
	m->hdr.nlmsg_seq = ++nl.seq;
	if (send(nl.req_fd, m->buf, m->len, 0) < 0)
		return -errno;
	for (;;) {
		n = recv(nl.req_fd, buf, sizeof(buf), 0);
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		len = (size_t)n;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != nl.seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EPROTO;
				e = NLMSG_DATA(h);
				return e->error;
			}
			if (reply && h->nlmsg_len <= reply_len) {
				memcpy(reply, h, h->nlmsg_len);
				reply = NULL;
			}
		}
	}
}

static void parse_groups(const struct nlattr *groups)
{
	const struct nlattr *tb[CTRL_ATTR_MCAST_GRP_MAX + 1];
	const uint8_t *p = attr_data(groups);
	size_t len = groups->nla_len - NLA_HDRLEN;
	const struct nlattr *g;
	char name[32];

	while ((g = attr_next(&p, &len))) {
		parse_attrs(attr_data(g), g->nla_len - NLA_HDRLEN, tb,
			    CTRL_ATTR_MCAST_GRP_MAX);
		if (attr_str(tb[CTRL_ATTR_MCAST_GRP_NAME], name, sizeof(name)) &&
		    !strcmp(name, NL_GROUP))
			attr_get(tb[CTRL_ATTR_MCAST_GRP_ID], &nl.group,
				 sizeof(nl.group));
	}
}

static int resolve_family(void)
{
	const struct nlattr *tb[CTRL_ATTR_MAX + 1];
	static uint8_t reply[NL_RCVBUF];
	const uint8_t *attrs;
	struct nl_msg m;
	size_t len;
	int ret;

	msg_init(&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
	msg_put(&m, CTRL_ATTR_FAMILY_NAME, NL_FAMILY, sizeof(NL_FAMILY));
	memset(reply, 0, sizeof(struct nlmsghdr));
	ret = nl_request(&m, reply, sizeof(reply));
	if (ret)
		return ret;
	if (!msg_genl((struct nlmsghdr *)reply, &attrs, &len))
		return -EPROTO;
	parse_attrs(attrs, len, tb, CTRL_ATTR_MAX);
	if (!attr_get(tb[CTRL_ATTR_FAMILY_ID], &nl.family, sizeof(nl.family)) ||
	    !tb[CTRL_ATTR_MCAST_GROUPS])
		return -EPROTO;
	parse_groups(tb[CTRL_ATTR_MCAST_GROUPS]);
	return nl.group ? 0 : -ENOENT;
}

/* Resolve the family, retrying while target_core_user is not loaded. */
static int wait_family(void)
{
	time_t deadline = time(NULL) + opt.wait_s;
	int ret;

	while ((ret = resolve_family()) == -ENOENT) {
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
	ret = nl_request(&m, NULL, 0);
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
		snprintf(line + n, sizeof(line) - n, " writecache=%u", ev->wc);
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

	msg_init(&m, nl.family, done, NL_VERSION);
	msg_put(&m, TCMU_ATTR_DEVICE_ID, &ev->dev_id, sizeof(ev->dev_id));
	msg_put(&m, TCMU_ATTR_CMD_STATUS, &status, sizeof(status));
	ret = nl_request(&m, NULL, 0);
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
	static uint8_t buf[NL_RCVBUF];
	struct pollfd pfd[2] = {
		{ .fd = nl.ev_fd, .events = POLLIN },
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
		n = recv(nl.ev_fd, buf, sizeof(buf), MSG_DONTWAIT);
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

/*
 * A bound socket: the kernel skips group members whose port id is 0,
 * the id its own multicasts carry, so the listener must have one.
 */
static int open_socket(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = NL_ACK_TIMEOUT_S };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		err("netlink socket: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int nl_start(const char *dev_name)
{
	int ret;

	nl.dev_name = dev_name;
	nl.req_fd = open_socket();
	nl.ev_fd = open_socket();
	if (nl.req_fd < 0 || nl.ev_fd < 0 || wait_family())
		goto fail;
	if (setsockopt(nl.ev_fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
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
	if (nl.ev_fd >= 0)
		close(nl.ev_fd);
	if (nl.req_fd >= 0)
		close(nl.req_fd);
	nl.ev_fd = -1;
	nl.req_fd = -1;
}
