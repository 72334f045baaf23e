/* TFTP on the wire (RFC 1350, options RFC 2347-2349, windowsize RFC 7440).
 * Pure: parse requests and acknowledgements, build DATA, OACK and ERROR. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tftp_limits.h"

enum tftp_op {
	TFTP_RRQ = 1,
	TFTP_WRQ = 2,
	TFTP_DATA = 3,
	TFTP_ACK = 4,
	TFTP_ERROR = 5,
	TFTP_OACK = 6,
};

enum tftp_err {
	TFTP_EUNDEF = 0, /* not defined, see message */
	TFTP_ENOTFOUND = 1,
	TFTP_EACCESS = 2,
	TFTP_ENOSPACE = 3,
	TFTP_EBADOP = 4,
	TFTP_EBADID = 5,
	TFTP_EEXISTS = 6,
	TFTP_ENOUSER = 7,
	TFTP_EOPTNEG = 8, /* RFC 2347: option negotiation refused */
};

enum tftp_mode { TFTP_MODE_OCTET, TFTP_MODE_NETASCII };

#define TFTP_DEFAULT_BLKSIZE 512u
#define TFTP_BLKSIZE_MIN 8u
#define TFTP_BLKSIZE_MAX 65464u /* RFC 2348 */
#define TFTP_HDR 4u

/* A read or write request; options the client sent and we understand,
 * with values in range (out-of-range values are treated as not sent). */
struct tftp_request {
	enum tftp_op op;
	char file[TFTP_NAME_MAX + 1];
	enum tftp_mode mode;
	bool has_blksize, has_tsize, has_timeout, has_windowsize;
	uint16_t blksize;
	uint64_t tsize;
	uint8_t timeout; /* seconds, 1..255 */
	uint16_t windowsize;
};

/* Parse a request (RRQ or WRQ). Returns 0, -EBADMSG (truncated, a field not
 * NUL-terminated, an empty or too long name), -EPROTO (not a request, or a
 * mode other than octet and netascii). Unknown options are ignored (RFC
 * 2347). `ret` is overwritten. */
int tftp_request_parse(const uint8_t *p, size_t n, struct tftp_request *ret);
/* An ACK: 0 with its block number, -EBADMSG, or -EPROTO when the packet is
 * another opcode (*ret_op tells which; ERROR means the client gave up).
 * Both outputs are set on every path (0 when the packet is too short to
 * hold them). */
int tftp_ack_parse(const uint8_t *p, size_t n, uint16_t *ret_block, uint16_t *ret_op);

/* Build packets into out (cap bytes); return the length or -ENOSPC. */
long tftp_build_data_header(uint8_t out[TFTP_HDR], uint16_t block);
long tftp_build_error(uint8_t *out, size_t cap, enum tftp_err code, const char *msg);
/* OACK of the options granted: each present in `grant` is sent. */
long tftp_build_oack(uint8_t *out, size_t cap, const struct tftp_request *grant);
