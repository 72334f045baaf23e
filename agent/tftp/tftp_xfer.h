/* One TFTP read transfer as a state machine. Pure: ACKs and timeouts in,
 * "send these blocks" out. Blocks are counted in 64 bits and put on the
 * wire modulo 65536 (block 65535 is followed by 0, as tftp-hpa and atftp
 * expect), so files over 32 MiB at 512-byte blocks roll over cleanly. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct tftp_xfer {
	uint64_t size; /* bytes of the transfer */
	uint32_t blksize;
	uint16_t window;  /* blocks sent before waiting for an ACK (RFC 7440) */
	uint64_t nblocks; /* the last block's number; its length is < blksize */
	uint64_t acked;   /* highest block acknowledged */
	uint64_t sent;    /* highest block sent */
	bool oack;        /* an OACK awaits ACK 0 */
	unsigned tries;   /* retransmissions since the last progress */
	bool done;
};

/* What to send now: the OACK, or blocks first..last (first > last: none). */
struct tftp_send {
	bool oack;
	uint64_t first, last;
};

void tftp_xfer_init(struct tftp_xfer *x, uint64_t size, uint32_t blksize, uint16_t window,
                    bool oack);
/* The first thing to send. */
void tftp_xfer_start(struct tftp_xfer *x, struct tftp_send *s);
/* An ACK arrived. Returns 1 with s filled when something is to be sent, 0
 * when the ACK is a duplicate or stale (nothing is sent: a duplicate ACK
 * never doubles the traffic), 2 when the transfer is complete. */
int tftp_xfer_ack(struct tftp_xfer *x, uint16_t block, struct tftp_send *s);
/* The retransmission timer expired: resend from the first unacknowledged
 * block. Returns 1 with s filled, or -ETIMEDOUT after max_tries. */
int tftp_xfer_timeout(struct tftp_xfer *x, unsigned max_tries, struct tftp_send *s);
/* Bytes in block b (1-based). */
uint32_t tftp_xfer_block_len(const struct tftp_xfer *x, uint64_t b);
static inline uint16_t
tftp_wire_block(uint64_t b)
{
	return (uint16_t)b;
}
