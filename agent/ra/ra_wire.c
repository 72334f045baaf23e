#include "ra_wire.h"

#include <string.h>

#define ICMP6_ROUTER_SOLICIT 133u
#define ICMP6_ROUTER_ADVERT 134u
#define OPT_SOURCE_LLADDR 1u

size_t
ra_build(uint8_t *buf, size_t len, const uint8_t mac[6])
{
	if (len < RA_LEN)
		return 0;
	memset(buf, 0, RA_LEN);
	buf[0] = ICMP6_ROUTER_ADVERT;
	buf[1] = 0;  /* code */
	buf[4] = 64; /* cur hop limit advised */
	buf[5] = 0;  /* M = O = 0: no DHCPv6 */
	/* router lifetime 0 (not a default router), reachable time and
	 * retransmission timer 0 (unspecified): bytes 6..15 stay zero. */
	buf[16] = OPT_SOURCE_LLADDR;
	buf[17] = 1; /* length in units of 8 bytes */
	memcpy(buf + 18, mac, 6);
	return RA_LEN;
}

bool
ra_is_solicitation(const uint8_t *msg, size_t len)
{
	/* type, code, checksum, 4 reserved bytes; then options (ignored) */
	return len >= 8 && msg[0] == ICMP6_ROUTER_SOLICIT && msg[1] == 0;
}
