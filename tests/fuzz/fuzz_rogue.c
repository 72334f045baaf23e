/* A packet the agent's rogue-DHCP packet socket hands it (from the IP
 * header, as the kernel filter let it through; anything on the rack's
 * segment can send one): parsed as a DHCP OFFER or ACK from port 67 to 68,
 * or refused with its output cleared. Never a crash, never a read out of
 * bounds (a header length past the packet, a UDP length past it, ...). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dhcp_wire.h"
#include "rogue_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct rogue_offer zero;
	struct rogue_offer o;
	uint8_t *copy = malloc(size ? size : 1); /* exact size: ASan sees any overread */

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (rogue_parse(copy, size, &o) < 0) {
		if (memcmp(&o, &zero, sizeof(o)))
			abort();
	} else if (o.type != DHCP_OFFER && o.type != DHCP_ACK) {
		abort();
	}
	free(copy);
	return 0;
}
