#include "rogue_wire.h"

#include <errno.h>
#include <string.h>

#include "bm/util.h"
#include "bm/wr.h"
#include "dhcp_wire.h"

int
rogue_parse(const uint8_t *pkt, size_t len, struct rogue_offer *ret)
{
	static struct dhcp_msg m; /* 6 KB; the loop thread alone parses */
	size_t ihl;
	uint16_t tot;

	memset(ret, 0, sizeof(*ret));
	if (len < 20 || (pkt[0] >> 4) != 4 || (ihl = (size_t)(pkt[0] & 15) * 4) < 20 ||
	    len < ihl + 8 || pkt[9] != 17 || (bm_get_be16(pkt + 6) & 0x3fff))
		return -EINVAL; /* not IPv4 UDP, or a fragment */
	tot = bm_get_be16(pkt + 2);
	if (tot < ihl + 8 || tot > len)
		return -EINVAL;
	if (bm_get_be16(pkt + ihl) != 67 || bm_get_be16(pkt + ihl + 2) != 68)
		return -EINVAL;
	if (dhcp_msg_parse_as(pkt + ihl + 8, tot - ihl - 8, DHCP_BOOTREPLY, &m) < 0 ||
	    (m.type != DHCP_OFFER && m.type != DHCP_ACK))
		return -EINVAL;
	ret->src_ip = bm_get_be32(pkt + 12);
	if (dhcp_opt_be32(&m, DHCP_OPT_SERVER_ID, &ret->server_id) < 0)
		ret->server_id = ret->src_ip;
	ret->yiaddr = m.yiaddr;
	ret->type = m.type;
	return 0;
}

size_t
rogue_probe_build(uint8_t out[ROGUE_PROBE_LEN], const uint8_t chaddr[6], uint32_t xid)
{
	static const uint8_t opts[] = { 53, 1, 1,    /* DHCPDISCOVER */
		                        55, 3, 1, 3, 54, /* mask, router, server id */
		                        255 };

	memset(out, 0, ROGUE_PROBE_LEN);
	out[0] = DHCP_BOOTREQUEST;
	out[1] = 1;
	out[2] = 6;
	bm_put_be32(out + 4, xid);
	out[10] = 0x80; /* flags: broadcast */
	memcpy(out + 28, chaddr, 6);
	bm_put_be32(out + 236, DHCP_MAGIC);
	memcpy(out + 240, opts, sizeof(opts));
	return ROGUE_PROBE_LEN;
}

/* Offsets are from the IP header (SOCK_DGRAM packet sockets). */
static struct sock_filter rogue_code[] = {
	BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),               /* protocol */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 17, 0, 8),       /* UDP */
	BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),               /* flags, fragment */
	BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 6, 0),  /* not a later fragment */
	BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),              /* X = header length */
	BPF_STMT(BPF_LD | BPF_H | BPF_IND, 0),               /* source port */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 67, 0, 3),
	BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),               /* destination port */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 68, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, 0xffff),
	BPF_STMT(BPF_RET | BPF_K, 0),
};

const struct sock_fprog rogue_bpf = { BM_ARRAY_SIZE(rogue_code), rogue_code };
