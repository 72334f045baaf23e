/* DHCPv4 on the wire (RFC 2131, RFC 2132, RFC 3396): parse a request into
 * a header and a 256-entry table of option views, and build a reply within
 * the client's maximum message size. Pure: no sockets, no clock, no log. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dhcp_limits.h"

#define DHCP_HDR_LEN 236u /* fixed BOOTP header */
#define DHCP_MIN_LEN 240u /* header + magic cookie */
#define DHCP_MAGIC 0x63825363u
#define DHCP_BOOTREQUEST 1u
#define DHCP_BOOTREPLY 2u
#define DHCP_FLAG_BROADCAST 0x8000u
#define DHCP_MIN_REPLY 300u   /* BOOTP's minimum; some clients drop shorter */
#define DHCP_DEFAULT_MAX 576u /* RFC 2131: every client takes 576-byte datagrams */
#define DHCP_IP_UDP_HDR 28u

enum dhcp_type {
	DHCP_DISCOVER = 1,
	DHCP_OFFER = 2,
	DHCP_REQUEST = 3,
	DHCP_DECLINE = 4,
	DHCP_ACK = 5,
	DHCP_NAK = 6,
	DHCP_RELEASE = 7,
	DHCP_INFORM = 8,
};

enum dhcp_opt_code {
	DHCP_OPT_PAD = 0,
	DHCP_OPT_SUBNET_MASK = 1,
	DHCP_OPT_ROUTER = 3,
	DHCP_OPT_DNS = 6,
	DHCP_OPT_HOSTNAME = 12,
	DHCP_OPT_DOMAIN = 15,
	DHCP_OPT_BROADCAST = 28,
	DHCP_OPT_VENDOR = 43,
	DHCP_OPT_REQUESTED_IP = 50,
	DHCP_OPT_LEASE_TIME = 51,
	DHCP_OPT_OVERLOAD = 52,
	DHCP_OPT_MSG_TYPE = 53,
	DHCP_OPT_SERVER_ID = 54,
	DHCP_OPT_PARAM_LIST = 55,
	DHCP_OPT_MESSAGE = 56,
	DHCP_OPT_MAX_SIZE = 57,
	DHCP_OPT_RENEWAL = 58,
	DHCP_OPT_REBINDING = 59,
	DHCP_OPT_VENDOR_CLASS = 60,
	DHCP_OPT_CLIENT_ID = 61,
	DHCP_OPT_TFTP_SERVER = 66,
	DHCP_OPT_BOOTFILE = 67,
	DHCP_OPT_USER_CLASS = 77,
	DHCP_OPT_CLIENT_ARCH = 93,
	DHCP_OPT_CLIENT_NDI = 94,
	DHCP_OPT_CLIENT_UUID = 97,
	DHCP_OPT_IPXE = 175,
	DHCP_OPT_END = 255,
};

/* A view of one option's value; for a code that appears several times,
 * the concatenation of its parts (RFC 3396) in the message's scratch. */
struct dhcp_opt {
	const uint8_t *p;
	uint16_t len;
	bool present;
};

/* A parsed request. Views point into the packet or into `scratch`: the
 * message is valid while the packet buffer is. Addresses in host order. */
struct dhcp_msg {
	uint8_t op, htype, hlen, hops;
	uint32_t xid;
	uint16_t secs, flags;
	uint32_t ciaddr, yiaddr, siaddr, giaddr;
	uint8_t chaddr[16];
	uint8_t type;     /* option 53 */
	uint8_t overload; /* option 52: 1 file, 2 sname, 3 both */
	struct dhcp_opt opt[256];
	uint8_t scratch[DHCP_PKT_MAX];
};

/* Parse a BOOTREQUEST carrying DHCP. Returns 0, or refuses with
 * -EMSGSIZE (shorter than 240 bytes or longer than DHCP_PKT_MAX),
 * -EPROTO (not a BOOTREQUEST, no magic cookie, no message type: BOOTP),
 * -EPROTONOSUPPORT (not Ethernet: htype 1, hlen 6),
 * -EBADMSG (hlen over 16, an option running past its field, no end option,
 *  a message type option that is not one byte of 1..8).
 * `ret` is overwritten in full; on error its contents are unspecified. */
int dhcp_msg_parse(const uint8_t *pkt, size_t len, struct dhcp_msg *ret);
/* The same for a message of `op` (DHCP_BOOTREPLY: another server's answer,
 * rogue.h). */
int dhcp_msg_parse_as(const uint8_t *pkt, size_t len, uint8_t op, struct dhcp_msg *ret);

/* Typed getters: 0, -ENOENT (absent), -EBADMSG (length is not what the
 * type needs). */
int dhcp_opt_u8(const struct dhcp_msg *m, uint8_t code, uint8_t *ret);
int dhcp_opt_be16(const struct dhcp_msg *m, uint8_t code, uint16_t *ret);
int dhcp_opt_be32(const struct dhcp_msg *m, uint8_t code, uint32_t *ret);
/* Is option `code` present with exactly these bytes (or, with prefix, at
 * least starting with them)? */
bool dhcp_opt_equals(const struct dhcp_msg *m, uint8_t code, const void *s, size_t n);
bool dhcp_opt_has_prefix(const struct dhcp_msg *m, uint8_t code, const void *s, size_t n);
/* Does the parameter request list (55) ask for `code`? */
bool dhcp_msg_requests(const struct dhcp_msg *m, uint8_t code);
/* The largest reply this client takes, in DHCP bytes (option 57 less the
 * IP and UDP headers, clamped to [548, DHCP_PKT_MAX]). */
size_t dhcp_msg_max_reply(const struct dhcp_msg *m);

/* ------------------------------------------------------------- replies */

/* Options are collected, then written sorted by code: those marked
 * required always (or the reply fails), the others while they fit. */
struct dhcp_reply {
	uint8_t op, htype, hlen, hops;
	uint32_t xid;
	uint16_t secs, flags;
	uint32_t ciaddr, yiaddr, siaddr, giaddr;
	uint8_t chaddr[16];
	char sname[64];
	char file[128];
	uint16_t off[256], len[256];
	bool set[256], required[256];
	uint8_t data[DHCP_PKT_MAX];
	size_t used;
};

/* Start a reply of `type` to `req`: xid, flags, giaddr, chaddr, htype and
 * hlen are copied from it; option 53 is set. */
void dhcp_reply_init(struct dhcp_reply *r, const struct dhcp_msg *req, uint8_t type);
/* Set option `code` (replacing an earlier value). Values longer than 255
 * bytes are split on output (RFC 3396). Returns 0 or -ENOSPC. */
int dhcp_reply_set(struct dhcp_reply *r, uint8_t code, const void *data, size_t len, bool required);
int dhcp_reply_set_u8(struct dhcp_reply *r, uint8_t code, uint8_t v, bool required);
int dhcp_reply_set_be32(struct dhcp_reply *r, uint8_t code, uint32_t v, bool required);
/* Write the reply into out (cap bytes), at most max bytes long and at least
 * DHCP_MIN_REPLY. Returns its length, or -EMSGSIZE when the required
 * options do not fit. */
long dhcp_reply_build(const struct dhcp_reply *r, size_t max, uint8_t *out, size_t cap);
