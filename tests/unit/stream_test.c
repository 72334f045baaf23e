/* The deploy program's write path against files: a zstd image fed in
 * pieces of every size (and cut in the middle, then fed the rest, as a
 * resumed download is) writes exactly the raw bytes, through O_DIRECT with
 * an unaligned tail; a raw image likewise; and every refusal: a wrong
 * digest, a corrupt or cut-short frame, bytes after the frame, an image
 * larger than the disk. */
#define _GNU_SOURCE /* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>
#include <cmocka.h>

#include "stream.h"
#include "test_tmp.h"

#define RAW_LEN (9u * 1024 * 1024 + 1234) /* past two chunks, an unaligned tail */

static char tmp[4096];
static uint8_t *raw, *zst;
static size_t zst_len;
static uint8_t raw_sha[BM_SHA256_LEN], zst_sha[BM_SHA256_LEN];

static void
digest(const uint8_t *p, size_t n, uint8_t out[BM_SHA256_LEN])
{
	struct bm_sha256 h;
	bm_sha256_init(&h);
	bm_sha256_update(&h, p, n);
	bm_sha256_final(&h, out);
}

static int
setup(void **state)
{
	(void)state;
	th_tmpdir(tmp, "stream");
	raw = malloc(RAW_LEN);
	srand(3);
	for (size_t i = 0; i < RAW_LEN; i++) /* half noise, half zeros: like a disk */
		raw[i] = i % (1 << 20) < (1 << 19) ? (uint8_t)rand() : 0;
	zst = malloc(ZSTD_compressBound(RAW_LEN));
	zst_len = ZSTD_compress(zst, ZSTD_compressBound(RAW_LEN), raw, RAW_LEN, 3);
	assert_false(ZSTD_isError(zst_len));
	digest(raw, RAW_LEN, raw_sha);
	digest(zst, zst_len, zst_sha);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(raw);
	free(zst);
	th_rmtree(tmp);
	return 0;
}

/* A disk: a file of `size` bytes, opened O_DIRECT when the filesystem
 * takes it. */
static int
disk(const char *name, uint64_t size)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
	if (fd < 0)
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void
assert_disk_holds_raw(int fd)
{
	uint8_t *got = malloc(RAW_LEN);
	assert_int_equal(pread(fd, got, RAW_LEN, 0), RAW_LEN);
	assert_memory_equal(got, raw, RAW_LEN);
	free(got);
}

/* Feed p in pieces of `piece` bytes (the last shorter). */
static int
feed(struct stream *s, const uint8_t *p, size_t n, size_t piece)
{
	int r = 0;
	for (size_t o = 0; o < n && r == 0; o += piece)
		r = stream_feed(s, p + o, n - o < piece ? n - o : piece);
	return r;
}

static void
test_zstd_pieces(void **state)
{
	static const size_t pieces[] = { 1, 7, 4096, 65536, 1 << 20, 100 << 20 };
	struct stream s;
	uint64_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		int fd = disk("z.img", 16u << 20);
		assert_int_equal(stream_open(&s, fd, true, 16u << 20), 0);
		/* One byte at a time for the whole image is slow: a prefix. */
		size_t cut = pieces[i] == 1 ? 5000 : zst_len / 3;
		assert_int_equal(feed(&s, zst, cut, pieces[i]), 0);
		/* The connection drops; the rest comes from Range: bytes=cut-. */
		assert_int_equal(s.stored, cut);
		assert_int_equal(feed(&s, zst + cut, zst_len - cut, 65536), 0);
		assert_int_equal(stream_finish(&s, zst_sha, &n), 0);
		assert_int_equal(n, RAW_LEN);
		assert_disk_holds_raw(fd);
		stream_close(&s);
		close(fd);
	}
}

static void
test_raw(void **state)
{
	struct stream s;
	uint64_t n;
	int fd = disk("r.img", RAW_LEN);

	(void)state;
	assert_int_equal(stream_open(&s, fd, false, RAW_LEN), 0);
	assert_int_equal(feed(&s, raw, RAW_LEN, 300000), 0);
	assert_int_equal(stream_finish(&s, raw_sha, &n), 0);
	assert_int_equal(n, RAW_LEN);
	assert_disk_holds_raw(fd);
	stream_close(&s);
	close(fd);
}

static void
test_refusals(void **state)
{
	struct stream s;
	uint64_t n;
	uint8_t wrong[BM_SHA256_LEN] = { 1 }, *bad = malloc(zst_len);
	int fd = disk("bad.img", 16u << 20);

	(void)state;
	/* The right bytes, another digest: never finished. */
	assert_int_equal(stream_open(&s, fd, true, 16u << 20), 0);
	assert_int_equal(feed(&s, zst, zst_len, 1 << 20), 0);
	assert_int_equal(stream_finish(&s, wrong, &n), -EBADMSG);
	stream_close(&s);
	/* Cut short: the frame never ends. */
	assert_int_equal(stream_open(&s, fd, true, 16u << 20), 0);
	assert_int_equal(feed(&s, zst, zst_len - 100, 1 << 20), 0);
	assert_int_equal(stream_finish(&s, zst_sha, &n), -EBADMSG);
	stream_close(&s);
	/* Bytes after the frame. */
	assert_int_equal(stream_open(&s, fd, true, 16u << 20), 0);
	assert_int_equal(feed(&s, zst, zst_len, 1 << 20), 0);
	assert_int_equal(stream_feed(&s, "x", 1), -EBADMSG);
	stream_close(&s);
	/* Not zstd at all. */
	assert_int_equal(stream_open(&s, fd, true, 16u << 20), 0);
	assert_int_equal(feed(&s, raw, 1 << 20, 4096), -EBADMSG);
	stream_close(&s);
	/* Corrupt in the middle (zstd's block checks, or the digest). */
	memcpy(bad, zst, zst_len);
	for (size_t i = zst_len / 2; i < zst_len / 2 + 64; i++)
		bad[i] ^= 0x5a;
	assert_int_equal(stream_open(&s, fd, true, 16u << 20), 0);
	int r = feed(&s, bad, zst_len, 1 << 20);
	assert_true(r == -EBADMSG || stream_finish(&s, zst_sha, &n) == -EBADMSG);
	stream_close(&s);
	close(fd);
	/* A disk smaller than the image. */
	fd = disk("small.img", 4u << 20);
	assert_int_equal(stream_open(&s, fd, true, 4u << 20), 0);
	assert_int_equal(feed(&s, zst, zst_len, 1 << 20), -ENOSPC);
	stream_close(&s);
	assert_int_equal(stream_open(&s, fd, false, 4u << 20), 0);
	assert_int_equal(feed(&s, raw, RAW_LEN, 1 << 20), -ENOSPC);
	stream_close(&s);
	close(fd);
	free(bad);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zstd_pieces),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
