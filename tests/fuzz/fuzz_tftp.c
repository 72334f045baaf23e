/* TFTP from the rack's segment: the request parser, the OACK built from
 * what it grants, the ACK parser, and a transfer driven by the input read
 * as a sequence of ACKs and timeouts. Invariants: the ACK parser sets its
 * outputs on every path (a 0- or 1-byte datagram included); acked never
 * passes sent; sent never passes the last block. */
#include <stdint.h>
#include <stdlib.h>

#include "tftp_wire.h"
#include "tftp_xfer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tftp_request r;
	struct tftp_xfer x;
	struct tftp_send s;
	uint8_t out[600];
	uint16_t blk = 0xaaaa, op = 0xaaaa;
	int rc;

	if (tftp_request_parse(data, size, &r) == 0)
		tftp_build_oack(out, sizeof(out), &r);
	/* Both outputs are set on every path: the loop reads op after a failure. */
	rc = tftp_ack_parse(data, size, &blk, &op);
	if (op != (size < 2 ? 0 : (uint16_t)(data[0] << 8 | data[1])) || (rc < 0 && blk != 0))
		abort();
	if (size < 4)
		return 0;
	tftp_xfer_init(&x, (uint64_t)data[0] << 16 | data[1] << 8 | data[2], 8 + data[3] % 1500,
	               (uint16_t)(1 + data[0] % 16), data[1] & 1);
	tftp_xfer_start(&x, &s);
	for (size_t i = 4; i + 1 < size; i += 2) {
		if (data[i] == 0xff && data[i + 1] == 0xff)
			tftp_xfer_timeout(&x, 1000, &s);
		else
			tftp_xfer_ack(&x, (uint16_t)(data[i] << 8 | data[i + 1]), &s);
		if (x.acked > x.sent || x.sent > x.nblocks)
			abort();
	}
	return 0;
}
