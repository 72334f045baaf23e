/* DHCP packets from the rack's segment: the parser, the typed getters, and
 * a reply built from what was parsed (within the client's maximum size). */
#include <stdint.h>
#include <stdlib.h>

#include "dhcp_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dhcp_msg msg;
static struct dhcp_reply rep;
static uint8_t out[DHCP_PKT_MAX];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	long n;

	if (dhcp_msg_parse(data, size, &msg) < 0)
		return 0;
	dhcp_opt_u8(&msg, DHCP_OPT_OVERLOAD, &u8);
	dhcp_opt_be16(&msg, DHCP_OPT_CLIENT_ARCH, &u16);
	dhcp_opt_be32(&msg, DHCP_OPT_REQUESTED_IP, &u32);
	dhcp_opt_has_prefix(&msg, DHCP_OPT_VENDOR_CLASS, "PXEClient", 9);
	dhcp_reply_init(&rep, &msg, DHCP_OFFER);
	/* Echo what a PXE server echoes: 60, 77, 97, the request list. */
	for (unsigned c = 1; c < 255; c++)
		if (msg.opt[c].present)
			dhcp_reply_set(&rep, (uint8_t)c, msg.opt[c].p, msg.opt[c].len,
			               c == 53 || c == 97);
	n = dhcp_reply_build(&rep, dhcp_msg_max_reply(&msg), out, sizeof(out));
	if (n > 0 && (size_t)n > dhcp_msg_max_reply(&msg))
		abort();
	return 0;
}
