/* DHCP wire: vectors (valid firmware DISCOVERs, every malformed case),
 * RFC 3396 concatenation and option overload, one valid packet mutated
 * byte by byte, and the reply builder (order, size limits, splitting). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dhcp_wire.h"
#include "rogue_wire.h"

/* ------------------------------------------------------- packet builder */

struct pkt {
	uint8_t b[2048];
	size_t len;
};

static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x00, 0x01 };

static void
pkt_init(struct pkt *p, uint8_t op)
{
	memset(p, 0, sizeof(*p));
	p->b[0] = op;
	p->b[1] = 1;
	p->b[2] = 6;
	p->b[4] = 0xde, p->b[5] = 0xad, p->b[6] = 0xbe, p->b[7] = 0xef;
	memcpy(p->b + 28, MAC, 6);
	p->b[236] = 0x63, p->b[237] = 0x82, p->b[238] = 0x53, p->b[239] = 0x63;
	p->len = 240;
}

static void
pkt_opt(struct pkt *p, uint8_t code, const void *v, uint8_t len)
{
	p->b[p->len++] = code;
	p->b[p->len++] = len;
	memcpy(p->b + p->len, v, len);
	p->len += len;
}

static void
pkt_end(struct pkt *p)
{
	p->b[p->len++] = DHCP_OPT_END;
}

#define OPT_STR(p, code, s) pkt_opt(p, code, s, (uint8_t)(sizeof(s) - 1))

/* QEMU's iPXE ROM DISCOVER, as recorded in docs/firmware.md section 1. */
static void
ipxe_rom_discover(struct pkt *p)
{
	static const uint8_t arch[] = { 0, 0 }, ndi[] = { 1, 2, 1 }, max[] = { 0x05, 0xc0 };
	static const uint8_t cid[] = { 1, 0x52, 0x54, 0x00, 0x12, 0x00, 0x01 };
	static const uint8_t prl[] = { 1,   3,   6,   7,   12,  15,  17,  26,  43,  60,  66, 67,
		                       119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203 };
	static const uint8_t ipxe[] = { 0xb1, 0x05, 0x01, 0x80, 0x86, 0x10, 0x0e, 0xeb,
		                        0x03, 0x01, 0x00, 0x00, 0x17, 0x01, 0x01 };
	uint8_t uuid[17] = { 0 };

	pkt_init(p, DHCP_BOOTREQUEST);
	pkt_opt(p, DHCP_OPT_MSG_TYPE, (uint8_t[]){ DHCP_DISCOVER }, 1);
	pkt_opt(p, DHCP_OPT_MAX_SIZE, max, 2);
	pkt_opt(p, DHCP_OPT_CLIENT_ARCH, arch, 2);
	pkt_opt(p, DHCP_OPT_CLIENT_NDI, ndi, 3);
	OPT_STR(p, DHCP_OPT_VENDOR_CLASS, "PXEClient:Arch:00000:UNDI:002001");
	OPT_STR(p, DHCP_OPT_USER_CLASS, "iPXE");
	pkt_opt(p, DHCP_OPT_IPXE, ipxe, sizeof(ipxe));
	pkt_opt(p, DHCP_OPT_CLIENT_ID, cid, sizeof(cid));
	uuid[1] = 0xb0;
	pkt_opt(p, DHCP_OPT_CLIENT_UUID, uuid, sizeof(uuid));
	pkt_opt(p, DHCP_OPT_PARAM_LIST, prl, sizeof(prl));
	pkt_end(p);
}

static struct dhcp_msg msg; /* large: keep it off the stack */

static void
test_ipxe_rom_discover(void **state)
{
	struct pkt p;
	uint16_t arch;

	(void)state;
	ipxe_rom_discover(&p);
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &msg), 0);
	assert_int_equal(msg.type, DHCP_DISCOVER);
	assert_int_equal(msg.xid, 0xdeadbeef);
	assert_memory_equal(msg.chaddr, MAC, 6);
	assert_int_equal(dhcp_opt_be16(&msg, DHCP_OPT_CLIENT_ARCH, &arch), 0);
	assert_int_equal(arch, 0);
	assert_true(dhcp_opt_equals(&msg, DHCP_OPT_USER_CLASS, "iPXE", 4));
	assert_true(dhcp_opt_has_prefix(&msg, DHCP_OPT_VENDOR_CLASS, "PXEClient", 9));
	assert_false(dhcp_opt_has_prefix(&msg, DHCP_OPT_VENDOR_CLASS, "HTTPClient", 10));
	assert_true(msg.opt[DHCP_OPT_IPXE].present);
	assert_int_equal(msg.opt[DHCP_OPT_CLIENT_UUID].len, 17);
	assert_true(dhcp_msg_requests(&msg, DHCP_OPT_BOOTFILE));
	assert_false(dhcp_msg_requests(&msg, DHCP_OPT_CLIENT_UUID));
	assert_int_equal(dhcp_msg_max_reply(&msg), 1472 - 28);
	assert_int_equal(dhcp_opt_u8(&msg, DHCP_OPT_CLIENT_ARCH, (uint8_t[1]){ 0 }), -EBADMSG);
	assert_int_equal(dhcp_opt_be32(&msg, DHCP_OPT_REQUESTED_IP, (uint32_t[1]){ 0 }), -ENOENT);
}

/* Each malformed case: build, break, parse, expect the verdict. */
static void
test_malformed(void **state)
{
	struct pkt p;

	(void)state;
	ipxe_rom_discover(&p);
	assert_int_equal(dhcp_msg_parse(p.b, 239, &msg), -EMSGSIZE); /* truncated header */
	assert_int_equal(dhcp_msg_parse(p.b, DHCP_PKT_MAX + 1, &msg), -EMSGSIZE); /* giant */

	ipxe_rom_discover(&p);
	p.b[239] = 0x64; /* magic cookie */
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &msg), -EPROTO);

	ipxe_rom_discover(&p);
	p.b[0] = DHCP_BOOTREPLY;
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &msg), -EPROTO);

	ipxe_rom_discover(&p);
	p.b[2] = 17; /* hlen > 16 */
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &msg), -EBADMSG);

	ipxe_rom_discover(&p);
	p.b[1] = 6; /* IEEE 802 */
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &msg), -EPROTONOSUPPORT);

	ipxe_rom_discover(&p);
	p.len--; /* drop the end option */
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &msg), -EBADMSG);

	pkt_init(&p, DHCP_BOOTREQUEST);
	pkt_opt(&p, DHCP_OPT_MSG_TYPE, (uint8_t[]){ DHCP_DISCOVER }, 1);
	p.b[p.len++] = DHCP_OPT_VENDOR_CLASS;
	p.b[p.len++] = 200; /* length past the end */
	p.b[p.len++] = 'P';
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &msg), -EBADMSG);

	pkt_init(&p, DHCP_BOOTREQUEST);
	p.b[p.len++] = DHCP_OPT_MSG_TYPE; /* a code with no length byte */
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &msg), -EBADMSG);

	pkt_init(&p, DHCP_BOOTREQUEST); /* BOOTP: no message type */
	pkt_end(&p);
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &msg), -EPROTO);

	pkt_init(&p, DHCP_BOOTREQUEST);
	pkt_opt(&p, DHCP_OPT_MSG_TYPE, (uint8_t[]){ 9 }, 1);
	pkt_end(&p);
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &msg), -EBADMSG);

	pkt_init(&p, DHCP_BOOTREQUEST);
	pkt_opt(&p, DHCP_OPT_MSG_TYPE, (uint8_t[]){ 1, 1 }, 2);
	pkt_end(&p);
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &msg), -EBADMSG);
}

static void
test_concatenation_and_overload(void **state)
{
	struct pkt p;

	(void)state;
	pkt_init(&p, DHCP_BOOTREQUEST);
	pkt_opt(&p, DHCP_OPT_MSG_TYPE, (uint8_t[]){ DHCP_REQUEST }, 1);
	p.b[p.len++] = DHCP_OPT_PAD;
	OPT_STR(&p, DHCP_OPT_VENDOR_CLASS, "PXEC");
	pkt_opt(&p, DHCP_OPT_OVERLOAD, (uint8_t[]){ 3 }, 1);
	size_t ov = p.len - 1; /* the overload value */
	OPT_STR(&p, DHCP_OPT_VENDOR_CLASS, "lient");
	pkt_end(&p);
	/* file field (offset 108) holds options, then the sname field (44). */
	memcpy(p.b + 108, "\x3c\x04:Arc\x43\x03pxe\xff", 12);
	memcpy(p.b + 44, "\x3c\x04h:00\x42\x02ts", 10); /* no end: the field ends */
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &msg), 0);
	assert_int_equal(msg.overload, 3);
	assert_true(dhcp_opt_equals(&msg, DHCP_OPT_VENDOR_CLASS, "PXEClient:Arch:00", 17));
	assert_true(dhcp_opt_equals(&msg, DHCP_OPT_BOOTFILE, "pxe", 3));
	assert_true(dhcp_opt_equals(&msg, DHCP_OPT_TFTP_SERVER, "ts", 2));

	/* Without overload, the same bytes in file/sname are not options. */
	p.b[ov] = 0;
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &msg), 0);
	assert_false(msg.opt[DHCP_OPT_BOOTFILE].present);

	/* An option running past the file field is malformed. */
	p.b[ov] = 1;
	memcpy(p.b + 108 + 120, "\x43\x20", 2);
	p.b[108 + 11] = 0; /* remove the file field's end so the walk reaches it */
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &msg), -EBADMSG);
}

/* One valid packet, every byte replaced by a few values: the parser never
 * reads out of bounds (ASan watches) and its verdict is one of the known. */
static void
test_mutate_every_byte(void **state)
{
	static const uint8_t vals[] = { 0x00, 0x01, 0x35, 0x7f, 0xff };
	struct pkt p, q;

	(void)state;
	ipxe_rom_discover(&p);
	for (size_t i = 0; i < p.len; i++)
		for (size_t v = 0; v < sizeof(vals); v++) {
			q = p;
			q.b[i] = vals[v];
			int r = dhcp_msg_parse(q.b, q.len, &msg);
			assert_true(r == 0 || r == -EMSGSIZE || r == -EPROTO || r == -EBADMSG ||
			            r == -EPROTONOSUPPORT);
		}
	/* Every truncation too. */
	for (size_t n = 0; n <= p.len; n++) {
		int r = dhcp_msg_parse(p.b, n, &msg);
		assert_true(n == p.len ? r == 0 : r < 0);
	}
}

/* ------------------------------------------------------------- replies */

static struct dhcp_reply rep;

static void
test_reply_order_and_roundtrip(void **state)
{
	struct pkt p;
	uint8_t out[DHCP_PKT_MAX];
	long n;
	uint32_t v;

	(void)state;
	ipxe_rom_discover(&p);
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &msg), 0);
	dhcp_reply_init(&rep, &msg, DHCP_OFFER);
	rep.yiaddr = 0x0a0c000b;
	rep.siaddr = 0x0a0c0001;
	strcpy(rep.file, "undionly.kpxe");
	assert_int_equal(dhcp_reply_set_be32(&rep, DHCP_OPT_SERVER_ID, 0x0a0c0001, true), 0);
	assert_int_equal(dhcp_reply_set_be32(&rep, DHCP_OPT_LEASE_TIME, 3600, true), 0);
	assert_int_equal(dhcp_reply_set_be32(&rep, DHCP_OPT_SUBNET_MASK, 0xffffff00, false), 0);
	assert_int_equal(dhcp_reply_set(&rep, DHCP_OPT_VENDOR_CLASS, "PXEClient", 9, false), 0);
	n = dhcp_reply_build(&rep, dhcp_msg_max_reply(&msg), out, sizeof(out));
	assert_true(n >= (long)DHCP_MIN_REPLY);
	assert_int_equal(out[0], DHCP_BOOTREPLY);
	assert_memory_equal(out + 4, "\xde\xad\xbe\xef", 4);
	assert_memory_equal(out + 108, "undionly.kpxe", 13);
	/* Options sorted by code: 1, 51, 53, 54, 60. */
	assert_int_equal(out[240], 1);
	assert_int_equal(out[246], 51);
	assert_int_equal(out[252], 53);
	assert_int_equal(out[255], 54);
	assert_int_equal(out[261], 60);
	/* It parses back (as a request) with the same values. */
	out[0] = DHCP_BOOTREQUEST;
	assert_int_equal(dhcp_msg_parse(out, (size_t)n, &msg), 0);
	assert_int_equal(msg.type, DHCP_OFFER);
	assert_int_equal(msg.yiaddr, 0x0a0c000b);
	assert_int_equal(dhcp_opt_be32(&msg, DHCP_OPT_LEASE_TIME, &v), 0);
	assert_int_equal(v, 3600);
}

static void
test_reply_limits(void **state)
{
	struct pkt p;
	uint8_t out[DHCP_PKT_MAX], big[600];
	long n;

	(void)state;
	ipxe_rom_discover(&p);
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &msg), 0);
	memset(big, 'x', sizeof(big));
	dhcp_reply_init(&rep, &msg, DHCP_ACK);
	assert_int_equal(dhcp_reply_set(&rep, DHCP_OPT_BOOTFILE, big, 300, false), 0);
	assert_int_equal(dhcp_reply_set(&rep, DHCP_OPT_VENDOR_CLASS, "PXEClient", 9, true), 0);
	/* 576-byte datagram: the 300-byte optional option does not fit. */
	n = dhcp_reply_build(&rep, 548, out, sizeof(out));
	assert_true(n > 0 && n <= 548);
	out[0] = DHCP_BOOTREQUEST;
	assert_int_equal(dhcp_msg_parse(out, (size_t)n, &msg), 0);
	assert_false(msg.opt[DHCP_OPT_BOOTFILE].present);
	assert_true(msg.opt[DHCP_OPT_VENDOR_CLASS].present);
	/* With room it is split in two parts (RFC 3396) and joins back. */
	n = dhcp_reply_build(&rep, 1444, out, sizeof(out));
	out[0] = DHCP_BOOTREQUEST;
	assert_int_equal(dhcp_msg_parse(out, (size_t)n, &msg), 0);
	assert_int_equal(msg.opt[DHCP_OPT_BOOTFILE].len, 300);
	/* A required option that cannot fit fails the reply. */
	dhcp_reply_init(&rep, &msg, DHCP_ACK);
	assert_int_equal(dhcp_reply_set(&rep, DHCP_OPT_BOOTFILE, big, 400, true), 0);
	assert_int_equal(dhcp_reply_build(&rep, 548, out, sizeof(out)), -EMSGSIZE);
	/* A small max size announced by the client is raised to 576. */
	ipxe_rom_discover(&p);
	p.b[245] = 0x01; /* option 57 is at 243: 57 = 0x01c0 = 448 */
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &msg), 0);
	assert_int_equal(dhcp_msg_max_reply(&msg), 548);
}

/* Rogue detection: the probe parses as a DISCOVER with the broadcast flag;
 * turned into another server's OFFER and wrapped in IPv4/UDP 67 -> 68 it is
 * seen, with its server id; wrong ports, a fragment, TCP, a NAK, a
 * BOOTREQUEST, a short packet are not. */
static size_t
wrap(uint8_t *out, const uint8_t *dhcp, size_t n, uint16_t sport, uint16_t dport, uint8_t proto,
     uint16_t frag)
{
	memset(out, 0, 28);
	out[0] = 0x45;
	out[2] = (uint8_t)((28 + n) >> 8);
	out[3] = (uint8_t)(28 + n);
	out[6] = (uint8_t)(frag >> 8);
	out[7] = (uint8_t)frag;
	out[9] = proto;
	memcpy(out + 12, "\x0a\x0c\x00\x42", 4);
	out[20] = (uint8_t)(sport >> 8);
	out[21] = (uint8_t)sport;
	out[22] = (uint8_t)(dport >> 8);
	out[23] = (uint8_t)dport;
	out[24] = (uint8_t)((8 + n) >> 8);
	out[25] = (uint8_t)(8 + n);
	memcpy(out + 28, dhcp, n);
	return 28 + n;
}

static void
test_rogue(void **state)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0, 1 };
	uint8_t probe[ROGUE_PROBE_LEN], pkt[28 + ROGUE_PROBE_LEN];
	struct dhcp_msg *m = malloc(sizeof(*m));
	struct rogue_offer o;
	size_t n = rogue_probe_build(probe, mac, 0x1234);

	(void)state;
	assert_int_equal(dhcp_msg_parse(probe, n, m), 0);
	assert_int_equal(m->type, DHCP_DISCOVER);
	assert_int_equal(m->flags, 0x8000);
	assert_memory_equal(m->chaddr, mac, 6);
	/* Another server's OFFER (no option 54: its source address stands). */
	probe[0] = DHCP_BOOTREPLY;
	probe[242] = DHCP_OFFER;
	memcpy(probe + 16, "\x0a\x0c\x00\x96", 4); /* yiaddr */
	assert_int_equal(rogue_parse(pkt, wrap(pkt, probe, n, 67, 68, 17, 0), &o), 0);
	assert_int_equal(o.type, DHCP_OFFER);
	assert_int_equal(o.server_id, 0x0a0c0042);
	assert_int_equal(o.yiaddr, 0x0a0c0096);
	assert_int_equal(rogue_parse(pkt, wrap(pkt, probe, n, 68, 67, 17, 0), &o), -EINVAL);
	assert_int_equal(rogue_parse(pkt, wrap(pkt, probe, n, 67, 68, 6, 0), &o), -EINVAL);
	assert_int_equal(rogue_parse(pkt, wrap(pkt, probe, n, 67, 68, 17, 0x2001), &o), -EINVAL);
	assert_int_equal(rogue_parse(pkt, 40, &o), -EINVAL);
	assert_int_equal(o.server_id, 0); /* cleared when refused */
	probe[242] = DHCP_NAK;
	assert_int_equal(rogue_parse(pkt, wrap(pkt, probe, n, 67, 68, 17, 0), &o), -EINVAL);
	probe[242] = DHCP_ACK;
	assert_int_equal(rogue_parse(pkt, wrap(pkt, probe, n, 67, 68, 17, 0), &o), 0);
	probe[0] = DHCP_BOOTREQUEST;
	assert_int_equal(rogue_parse(pkt, wrap(pkt, probe, n, 67, 68, 17, 0), &o), -EINVAL);
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipxe_rom_discover),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_concatenation_and_overload),
		cmocka_unit_test(test_mutate_every_byte),
		cmocka_unit_test(test_reply_order_and_roundtrip),
		cmocka_unit_test(test_reply_limits),
		cmocka_unit_test(test_rogue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
