/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Raw generic netlink for the selftest tools (the test handler and the
 * fuzzer): build messages, parse attributes, send a request and wait for
 * its ack, resolve a family and one of its multicast groups.  No libnl:
 * Debian 12's build-essential is all it needs.
 */
#ifndef _TCMU_SELFTEST_GENL_H
#define _TCMU_SELFTEST_GENL_H

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GENL_RCVBUF	(64 * 1024)

struct nl_msg {
	uint32_t len;
	union {
		struct nlmsghdr hdr;
		uint8_t buf[512];
	};
};

/* A bound socket and the sequence number of its last request. */
struct genl_sock {
	int fd;
	uint32_t seq;
};

int genl_open(struct genl_sock *s, int timeout_s);
void genl_close(struct genl_sock *s);
void msg_init(struct nl_msg *m, uint16_t type, uint8_t cmd, uint8_t version);
/* false (and @m unchanged) when the attribute does not fit */
bool msg_put(struct nl_msg *m, uint16_t type, const void *data, uint16_t len);
const struct nlattr *attr_next(const uint8_t **p, size_t *len);
void parse_attrs(const uint8_t *buf, size_t len, const struct nlattr **tb,
		 unsigned int max);
const void *attr_data(const struct nlattr *a);
bool attr_get(const struct nlattr *a, void *val, size_t len);
bool attr_str(const struct nlattr *a, char *buf, size_t len);
const struct genlmsghdr *msg_genl(const struct nlmsghdr *h,
				  const uint8_t **attrs, size_t *len);
int genl_request(struct genl_sock *s, struct nl_msg *m, uint8_t *reply,
		 size_t reply_len);
int genl_resolve(struct genl_sock *s, const char *family, const char *group,
		 uint16_t *family_id, uint32_t *group_id);

#endif
