/* TFTP wire vectors and the transfer state machine: lock-step, windows,
 * gaps, duplicate ACKs (no sorcerer's apprentice), block rollover past
 * 65535, OACK, timeouts, empty and exact-multiple files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tftp_wire.h"
#include "tftp_xfer.h"

#define PKT(s) ((const uint8_t *)(s)), (sizeof(s) - 1)

static void
test_request_vectors(void **state)
{
	struct tftp_request r;

	(void)state;
	assert_int_equal(tftp_request_parse(PKT("\0\1undionly.kpxe\0octet\0"), &r), 0);
	assert_int_equal(r.op, TFTP_RRQ);
	assert_string_equal(r.file, "undionly.kpxe");
	assert_int_equal(r.mode, TFTP_MODE_OCTET);
	assert_false(r.has_blksize || r.has_tsize || r.has_timeout || r.has_windowsize);

	assert_int_equal(
	    tftp_request_parse(PKT("\0\1a/b.efi\0NetASCII\0BLKSIZE\0001468\0tsize\0000\0"
	                           "timeout\0003\0windowsize\00016\0colour\0blue\0"),
	                       &r),
	    0);
	assert_int_equal(r.mode, TFTP_MODE_NETASCII);
	assert_true(r.has_blksize && r.blksize == 1468);
	assert_true(r.has_tsize && r.tsize == 0);
	assert_true(r.has_timeout && r.timeout == 3);
	assert_true(r.has_windowsize && r.windowsize == 16);

	/* Out-of-range values are ignored, not refused (RFC 2347). */
	assert_int_equal(tftp_request_parse(
	                     PKT("\0\1f\0octet\0blksize\0007\0timeout\0000\0windowsize\0x\0"), &r),
	                 0);
	assert_false(r.has_blksize || r.has_timeout || r.has_windowsize);
	assert_int_equal(tftp_request_parse(PKT("\0\1f\0octet\0blksize\00065465\0"), &r), 0);
	assert_false(r.has_blksize);
	/* A trailing half option is ignored. */
	assert_int_equal(tftp_request_parse(PKT("\0\1f\0octet\0blksize\0"), &r), 0);

	assert_int_equal(tftp_request_parse(PKT("\0\2up.bin\0octet\0"), &r), 0);
	assert_int_equal(r.op, TFTP_WRQ);
	assert_int_equal(tftp_request_parse(PKT("\0\1f\0mail\0"), &r), -EPROTO);
	assert_int_equal(tftp_request_parse(PKT("\0\3\0\1data"), &r), -EPROTO);
	assert_int_equal(tftp_request_parse(PKT("\0\1f\0octet"), &r),
	                 -EBADMSG); /* mode not terminated */
	assert_int_equal(tftp_request_parse(PKT("\0\1f"), &r), -EBADMSG);
	assert_int_equal(tftp_request_parse(PKT("\0\1\0octet\0"), &r), -EBADMSG); /* empty name */
	assert_int_equal(tftp_request_parse(PKT("\0"), &r), -EBADMSG);

	char longname[300] = { 0, 1 };
	memset(longname + 2, 'a', 260);
	memcpy(longname + 262, "\0octet\0", 7);
	assert_int_equal(tftp_request_parse((const uint8_t *)longname, 269, &r), -EBADMSG);
}

static void
test_builders(void **state)
{
	uint8_t b[128];
	struct tftp_request g = { .has_blksize = true,
		                  .blksize = 1468,
		                  .has_tsize = true,
		                  .tsize = 71680,
		                  .has_windowsize = true,
		                  .windowsize = 16 };
	uint16_t blk, op;

	(void)state;
	assert_int_equal(tftp_build_data_header(b, 0xfffe), 4);
	assert_memory_equal(b, "\0\3\xff\xfe", 4);
	assert_int_equal(tftp_build_error(b, sizeof(b), TFTP_EACCESS, "no"), 7);
	assert_memory_equal(b, "\0\5\0\2no\0", 7);
	assert_int_equal(tftp_build_error(b, 5, TFTP_EACCESS, "no"), -ENOSPC);
	long n = tftp_build_oack(b, sizeof(b), &g);
	assert_int_equal(n, 2 + 13 + 12 + 14);
	assert_memory_equal(b,
	                    "\0\6blksize\0"
	                    "1468\0tsize\0"
	                    "71680\0windowsize\0"
	                    "16\0",
	                    (size_t)n);
	assert_int_equal(tftp_ack_parse(PKT("\0\4\1\2"), &blk, &op), 0);
	assert_int_equal(blk, 0x0102);
	assert_int_equal(tftp_ack_parse(PKT("\0\5\0\0err\0"), &blk, &op), -EPROTO);
	assert_int_equal(op, TFTP_ERROR);
	assert_int_equal(tftp_ack_parse(PKT("\0\4\1"), &blk, &op), -EBADMSG);
	/* Too short for an opcode: both outputs still set (the loop reads op). */
	blk = op = 0xffff;
	assert_int_equal(tftp_ack_parse((const uint8_t *)"\5", 1, &blk, &op), -EBADMSG);
	assert_int_equal(op, 0);
	assert_int_equal(blk, 0);
	blk = op = 0xffff;
	assert_int_equal(tftp_ack_parse((const uint8_t *)"", 0, &blk, &op), -EBADMSG);
	assert_int_equal(op, 0);
	assert_int_equal(blk, 0);
}

/* Run a whole transfer with a perfect client acking each window's last
 * block; returns the number of blocks sent. */
static uint64_t
run(struct tftp_xfer *x)
{
	struct tftp_send s;
	uint64_t blocks = 0;
	int r;

	tftp_xfer_start(x, &s);
	if (s.oack)
		assert_int_equal(tftp_xfer_ack(x, 0, &s), 1);
	for (;;) {
		blocks += s.last - s.first + 1;
		r = tftp_xfer_ack(x, tftp_wire_block(s.last), &s);
		if (r == 2)
			return blocks;
		assert_int_equal(r, 1);
	}
}

static void
test_sizes_and_rollover(void **state)
{
	struct tftp_xfer x;

	(void)state;
	tftp_xfer_init(&x, 0, 512, 1, false); /* empty file: one empty block */
	assert_int_equal(run(&x), 1);
	assert_int_equal(tftp_xfer_block_len(&x, 1), 0);
	tftp_xfer_init(&x, 511, 512, 1, false);
	assert_int_equal(run(&x), 1);
	tftp_xfer_init(&x, 512, 512, 1, false); /* exact multiple: a final empty block */
	assert_int_equal(run(&x), 2);
	assert_int_equal(tftp_xfer_block_len(&x, 2), 0);
	tftp_xfer_init(&x, 513, 512, 1, false);
	assert_int_equal(run(&x), 2);
	assert_int_equal(tftp_xfer_block_len(&x, 2), 1);
	/* 40 MiB at 512 bytes: 81,921 blocks, wire numbers wrap past 65535. */
	tftp_xfer_init(&x, 40u << 20, 512, 1, false);
	assert_int_equal(run(&x), 81921);
	assert_true(x.done);
	tftp_xfer_init(&x, 40u << 20, 1468, 16, true);
	assert_int_equal(run(&x), (40u << 20) / 1468 + 1);
}

static void
test_duplicates_gaps_timeouts(void **state)
{
	struct tftp_xfer x;
	struct tftp_send s;

	(void)state;
	tftp_xfer_init(&x, 10 * 512, 512, 4, false);
	tftp_xfer_start(&x, &s);
	assert_true(s.first == 1 && s.last == 4);
	/* A duplicate or stale ACK sends nothing: no sorcerer's apprentice. */
	assert_int_equal(tftp_xfer_ack(&x, 0, &s), 0);
	assert_int_equal(tftp_xfer_ack(&x, 7, &s), 0); /* never sent */
	/* The client saw a gap after block 2: resend from 3. */
	assert_int_equal(tftp_xfer_ack(&x, 2, &s), 1);
	assert_true(s.first == 3 && s.last == 6);
	assert_int_equal(tftp_xfer_ack(&x, 2, &s), 0);
	/* Timeouts resend the window from the first unacknowledged block. */
	assert_int_equal(tftp_xfer_timeout(&x, 2, &s), 1);
	assert_true(s.first == 3 && s.last == 6);
	assert_int_equal(tftp_xfer_timeout(&x, 2, &s), 1);
	assert_int_equal(tftp_xfer_timeout(&x, 2, &s), -ETIMEDOUT);
	/* OACK: only ACK 0 moves on; a timeout resends the OACK. */
	tftp_xfer_init(&x, 100, 512, 1, true);
	tftp_xfer_start(&x, &s);
	assert_true(s.oack);
	assert_int_equal(tftp_xfer_ack(&x, 1, &s), 0);
	assert_int_equal(tftp_xfer_timeout(&x, 5, &s), 1);
	assert_true(s.oack);
	assert_int_equal(tftp_xfer_ack(&x, 0, &s), 1);
	assert_true(!s.oack && s.first == 1 && s.last == 1);
	assert_int_equal(tftp_xfer_ack(&x, 1, &s), 2);
	assert_int_equal(tftp_xfer_ack(&x, 1, &s), 0); /* after the end */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_vectors),
		cmocka_unit_test(test_builders),
		cmocka_unit_test(test_sizes_and_rollover),
		cmocka_unit_test(test_duplicates_gaps_timeouts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
