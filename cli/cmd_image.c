/* bmctl image push NAME FILE: hash the file, then stream it to the
 * coordinator's blob store in chunks, resuming where an earlier push of the
 * same bytes stopped; the coordinator verifies the digest before it records
 * the image. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bm/sha256.h"
#include "bmctl.h"

#define PUSH_CHUNK (1u << 20)

static int
push_begin(struct ctl *c, const char *name, const uint8_t sha[32], uint64_t size,
           uint64_t *ret_offset)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__BlobBeginRequest b = BM__BLOB_BEGIN_REQUEST__INIT;
	Bm__Response *resp;
	int r;

	b.sha256.data = (uint8_t *)sha;
	b.sha256.len = 32;
	b.size = size;
	b.image = (char *)name;
	req.body_case = BM__REQUEST__BODY_BLOB_BEGIN;
	req.blob_begin = &b;
	if ((r = ctl_call(c, &req, &resp, NULL, NULL)) != CTL_EXIT_OK)
		return r;
	*ret_offset = resp->blob ? resp->blob->offset : 0;
	bm__response__free_unpacked(resp, NULL);
	return CTL_EXIT_OK;
}

static int
push_chunks(struct ctl *c, int fd, const uint8_t sha[32], uint64_t offset, uint64_t size)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__BlobChunkRequest ch = BM__BLOB_CHUNK_REQUEST__INIT;
	uint8_t *buf = malloc(PUSH_CHUNK);
	int r = CTL_EXIT_OK;

	if (!buf)
		return CTL_EXIT_REFUSED;
	ch.sha256.data = (uint8_t *)sha;
	ch.sha256.len = 32;
	req.body_case = BM__REQUEST__BODY_BLOB_CHUNK;
	req.blob_chunk = &ch;
	while (offset < size && r == CTL_EXIT_OK) {
		size_t want = size - offset < PUSH_CHUNK ? (size_t)(size - offset) : PUSH_CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)offset);
		Bm__Response *resp;
		if (n <= 0) {
			fprintf(stderr, "%s: reading the file: %s\n", c->prog,
			        n < 0 ? strerror(errno) : "it shrank");
			r = CTL_EXIT_REFUSED;
			break;
		}
		ch.offset = offset;
		ch.data.data = buf;
		ch.data.len = (size_t)n;
		if ((r = ctl_call(c, &req, &resp, NULL, NULL)) == CTL_EXIT_OK)
			bm__response__free_unpacked(resp, NULL);
		offset += (uint64_t)n;
	}
	free(buf);
	return r;
}

static int
push_commit(struct ctl *c, const char *name, const uint8_t sha[32], uint64_t size)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__ImageCommitRequest ic = BM__IMAGE_COMMIT_REQUEST__INIT;
	Bm__Response *resp;
	char hex[BM_SHA256_HEX];
	int r;

	ic.name = (char *)name;
	ic.sha256.data = (uint8_t *)sha;
	ic.sha256.len = 32;
	ic.size = size;
	req.body_case = BM__REQUEST__BODY_IMAGE_COMMIT;
	req.image_commit = &ic;
	if ((r = ctl_call(c, &req, &resp, NULL, NULL)) != CTL_EXIT_OK)
		return r;
	bm_sha256_hex(sha, hex);
	if (c->json)
		printf("{\n  \"name\": \"%s\",\n  \"size\": %llu,\n  \"sha256\": \"%s\",\n  "
		       "\"revision\": %llu\n}\n",
		       name, (unsigned long long)size, hex, (unsigned long long)resp->revision);
	else
		printf("image %s pushed: %llu bytes, sha256 %s (revision %llu)\n", name,
		       (unsigned long long)size, hex, (unsigned long long)resp->revision);
	bm__response__free_unpacked(resp, NULL);
	return CTL_EXIT_OK;
}

int
cmd_image(struct ctl *c, int argc, char **argv)
{
	uint8_t sha[BM_SHA256_LEN];
	uint64_t size, offset = 0;
	int fd, r;

	if (argc != 4 || strcmp(argv[1], "push"))
		return ctl_usage_error(c, "image takes: push NAME FILE");
	if ((fd = open(argv[3], O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "%s: cannot open %s: %s\n", c->prog, argv[3], strerror(errno));
		return CTL_EXIT_REFUSED;
	}
	if ((r = bm_sha256_fd(fd, sha, &size)) < 0) {
		fprintf(stderr, "%s: reading %s: %s\n", c->prog, argv[3], strerror(-r));
		close(fd);
		return CTL_EXIT_REFUSED;
	}
	r = push_begin(c, argv[2], sha, size, &offset);
	if (r == CTL_EXIT_OK && offset < size)
		r = push_chunks(c, fd, sha, offset, size);
	if (r == CTL_EXIT_OK)
		r = push_commit(c, argv[2], sha, size);
	close(fd);
	return r;
}
