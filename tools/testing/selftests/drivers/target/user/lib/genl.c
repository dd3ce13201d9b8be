// SPDX-License-Identifier: GPL-2.0
/*
 * Raw generic netlink helpers of the selftest tools; see genl.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "genl.h"

/*
 * A bound socket: the kernel skips group members whose port id is 0,
 * the id its own multicasts carry, so a listener must have one.
 */
int genl_open(struct genl_sock *s, int timeout_s)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = timeout_s };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);

	s->fd = -1;
	s->seq = 0;
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	s->fd = fd;
	return 0;
}

void genl_close(struct genl_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

void msg_init(struct nl_msg *m, uint16_t type, uint8_t cmd, uint8_t version)
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

bool msg_put(struct nl_msg *m, uint16_t type, const void *data, uint16_t len)
{
	struct nlattr *a;

	if (NLMSG_ALIGN(m->len) + NLA_ALIGN(NLA_HDRLEN + len) > sizeof(m->buf))
		return false;
	a = (struct nlattr *)(m->buf + NLMSG_ALIGN(m->len));
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((uint8_t *)a + NLA_HDRLEN, data, len);
	m->len = NLMSG_ALIGN(m->len) + NLA_ALIGN(a->nla_len);
	return true;
}

/* The attribute at *p, stepping past it; NULL at the end or if malformed. */
const struct nlattr *attr_next(const uint8_t **p, size_t *len)
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
void parse_attrs(const uint8_t *buf, size_t len, const struct nlattr **tb,
		 unsigned int max)
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

const void *attr_data(const struct nlattr *a)
{
	return (const uint8_t *)a + NLA_HDRLEN;
}

bool attr_get(const struct nlattr *a, void *val, size_t len)
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
bool attr_str(const struct nlattr *a, char *buf, size_t len)
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

const struct genlmsghdr *msg_genl(const struct nlmsghdr *h,
				  const uint8_t **attrs, size_t *len)
{
	if (h->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return NULL;
	*attrs = (const uint8_t *)NLMSG_DATA(h) + GENL_HDRLEN;
	*len = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	return NLMSG_DATA(h);
}

/*
 * Send @m on @s and wait for its ack.  The first non-ack answer is copied
 * to @reply if given.  Returns the ack's error (0 or -errno).
 */
int genl_request(struct genl_sock *s, struct nl_msg *m, uint8_t *reply,
		 size_t reply_len)
{
	static __thread uint8_t buf[GENL_RCVBUF];
	const struct nlmsgerr *e;
	struct nlmsghdr *h;
	ssize_t n;
	size_t len;

	m->hdr.nlmsg_len = m->len;
	m->hdr.nlmsg_seq = ++s->seq;
	if (send(s->fd, m->buf, m->len, 0) < 0)
		return -errno;
	for (;;) {
		n = recv(s->fd, buf, sizeof(buf), 0);
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		len = (size_t)n;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_seq != s->seq)
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

static void find_group(const struct nlattr *groups, const char *group,
		       uint32_t *group_id)
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
		    !strcmp(name, group))
			attr_get(tb[CTRL_ATTR_MCAST_GRP_ID], group_id,
				 sizeof(*group_id));
	}
}

/* -ENOENT while the family (its module) is not there yet */
int genl_resolve(struct genl_sock *s, const char *family, const char *group,
		 uint16_t *family_id, uint32_t *group_id)
{
	static __thread uint8_t reply[GENL_RCVBUF];
	const struct nlattr *tb[CTRL_ATTR_MAX + 1];
	const uint8_t *attrs;
	struct nl_msg m;
	size_t len;
	int ret;

	msg_init(&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
	msg_put(&m, CTRL_ATTR_FAMILY_NAME, family, strlen(family) + 1);
	memset(reply, 0, sizeof(struct nlmsghdr));
	ret = genl_request(s, &m, reply, sizeof(reply));
	if (ret)
		return ret;
	if (!msg_genl((struct nlmsghdr *)reply, &attrs, &len))
		return -EPROTO;
	parse_attrs(attrs, len, tb, CTRL_ATTR_MAX);
	if (!attr_get(tb[CTRL_ATTR_FAMILY_ID], family_id, sizeof(*family_id)) ||
	    !tb[CTRL_ATTR_MCAST_GROUPS])
		return -EPROTO;
	*group_id = 0;
	find_group(tb[CTRL_ATTR_MCAST_GROUPS], group, group_id);
	return *group_id ? 0 : -ENOENT;
}
