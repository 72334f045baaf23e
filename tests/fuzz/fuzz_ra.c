/* Router solicitations from the rack's segment: the only IPv6 the agent
 * reads. The check must never read past the message; an RA built from any
 * MAC is RA_LEN bytes of type 134 with that MAC in its option. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ra_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[RA_LEN], mac[6] = { 0 };

	if (ra_is_solicitation(data, size) && (size < 8 || data[0] != 133))
		abort();
	memcpy(mac, data, size < 6 ? size : 6);
	if (ra_build(out, sizeof(out), mac) != RA_LEN || out[0] != 134 || memcmp(out + 18, mac, 6))
		abort();
	if (ra_build(out, size % RA_LEN, mac) != 0)
		abort();
	return 0;
}
