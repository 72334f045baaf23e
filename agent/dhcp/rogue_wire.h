/* Rogue DHCP detection, the pure part: what an IPv4 packet seen on a rack
 * interface says (a DHCP OFFER or ACK, UDP 67 -> 68, and from which server),
 * the probe DISCOVER the agent sends, and the classic BPF program that lets
 * only UDP 67 -> 68 reach the agent's packet socket. */
#pragma once
#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#define ROGUE_PROBE_LEN 300u

struct rogue_offer {
	uint32_t src_ip;    /* the IP header's source (host order) */
	uint32_t server_id; /* option 54, else src_ip */
	uint32_t yiaddr;
	uint8_t type; /* DHCP_OFFER or DHCP_ACK */
};

/* Parse an IPv4 packet (from its IP header): 0 with *ret when it is a DHCP
 * OFFER or ACK from port 67 to port 68; -EINVAL for anything else. */
int rogue_parse(const uint8_t *pkt, size_t len, struct rogue_offer *ret);
/* The probe: a DHCPDISCOVER from chaddr, broadcast flag set (so any server
 * broadcasts its OFFER), xid. Returns its length (ROGUE_PROBE_LEN). */
size_t rogue_probe_build(uint8_t out[ROGUE_PROBE_LEN], const uint8_t chaddr[6], uint32_t xid);
/* The socket filter (for SO_ATTACH_FILTER on an AF_PACKET SOCK_DGRAM
 * socket of ETH_P_IP): UDP, not a fragment, 67 -> 68. */
extern const struct sock_fprog rogue_bpf;
