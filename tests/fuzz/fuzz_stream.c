/* A disk image's bytes as the deploy program receives them from the
 * network (zstd-compressed raw; the bytes are anyone's until the digest
 * matches): fed in pieces to the write path over a memory file of 1 MiB.
 * Anything is decompressed into the file, refused (corrupt, too large for
 * the disk), or not finished (digest); never a crash or a write past the
 * disk. */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DISK (1u << 20)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static const uint8_t zero[BM_SHA256_LEN];
	struct stream s;
	struct stat st;
	uint64_t n;
	int r = 0;

	if (fd < 0 && (fd = memfd_create("disk", MFD_CLOEXEC)) < 0)
		return 0;
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, DISK) < 0)
		return 0;
	if (stream_open(&s, fd, size && (data[0] & 1), DISK) < 0)
		return 0;
	/* The first byte chooses zstd or raw and the piece size. */
	size_t piece = size ? (size_t)(data[0] >> 1) * 37 + 1 : 1;
	for (size_t o = 1; o < size && r == 0; o += piece)
		r = stream_feed(&s, data + o, size - o < piece ? size - o : piece);
	if (r == 0)
		(void)stream_finish(&s, zero, &n);
	stream_close(&s);
	if (fstat(fd, &st) == 0 && st.st_size > DISK)
		abort(); /* written past the disk */
	return 0;
}
