/* bmctl image push NAME FILE: hash the file, then stream it to the
 * coordinator's blob store in chunks, resuming where an earlier push of the
 * same bytes stopped; the coordinator verifies the digest before it records
 * the image. bmctl image stage|unstage NAME TARGET: the racks of TARGET
 * (rack/NAME, site/NAME, label/KEY=VALUE, or a rack's or site's NAME)
 * cache the image ahead of a reimage, or no longer. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bm/sha256.h"
#include "bmctl.h"

#define PUSH_CHUNK (1u << 20)
#define PUSH_RESTARTS_MAX 8

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

/* Send one chunk. Returns CTL_EXIT_OK, CTL_EXIT_REFUSED (printed), or -1
 * when the coordinator's copy stands elsewhere (ask it where, go on). */
static int
push_chunk(struct ctl *c, Bm__Request *req)
{
	Bm__Response *resp;
	int r = ctl_call_any(c, req, &resp);

	if (r != CTL_EXIT_OK)
		return r;
	if (resp->status == BM__STATUS__STATUS_PRECONDITION) {
		r = -1;
	} else if (resp->status != BM__STATUS__STATUS_OK) {
		fprintf(stderr, "%s: %s: %s\n", c->prog, bm_status_name(resp->status),
		        resp->message);
		r = CTL_EXIT_REFUSED;
	}
	bm__response__free_unpacked(resp, NULL);
	return r;
}

/* Stream the file from `offset`. A chunk refused for its offset (another
 * push of the same bytes, or a chunk of an interrupted one still in flight,
 * moved the coordinator's copy) restarts from where the coordinator stands,
 * a bounded number of times. */
static int
push_chunks(struct ctl *c, const char *name, int fd, const uint8_t sha[32], uint64_t offset,
            uint64_t size)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__BlobChunkRequest ch = BM__BLOB_CHUNK_REQUEST__INIT;
	uint8_t *buf = malloc(PUSH_CHUNK);
	int r = CTL_EXIT_OK, restarts = 0;

	if (!buf)
		return CTL_EXIT_REFUSED;
	ch.sha256.data = (uint8_t *)sha;
	ch.sha256.len = 32;
	req.body_case = BM__REQUEST__BODY_BLOB_CHUNK;
	req.blob_chunk = &ch;
	while (offset < size && r == CTL_EXIT_OK) {
		size_t want = size - offset < PUSH_CHUNK ? (size_t)(size - offset) : PUSH_CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)offset);
		if (n <= 0) {
			fprintf(stderr, "%s: reading the file: %s\n", c->prog,
			        n < 0 ? strerror(errno) : "it shrank");
			r = CTL_EXIT_REFUSED;
			break;
		}
		ch.offset = offset;
		ch.data.data = buf;
		ch.data.len = (size_t)n;
		r = push_chunk(c, &req);
		if (r == CTL_EXIT_OK) {
			offset += (uint64_t)n;
		} else if (r < 0 && restarts++ < PUSH_RESTARTS_MAX) {
			r = push_begin(c, name, sha, size, &offset);
		} else if (r < 0) {
			fprintf(stderr,
			        "%s: the upload keeps moving under us; is another push running?\n",
			        c->prog);
			r = CTL_EXIT_REFUSED;
		}
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

static int
stage(struct ctl *c, const char *image, const char *target, bool remove)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__ImageStage q = BM__IMAGE_STAGE__INIT;
	Bm__Response *resp;
	int r;

	q.image = (char *)image;
	q.target = (char *)target;
	q.remove = remove;
	req.body_case = BM__REQUEST__BODY_IMAGE_STAGE;
	req.image_stage = &q;
	if ((r = ctl_call(c, &req, &resp, NULL, NULL)) != CTL_EXIT_OK)
		return r;
	if (c->json)
		printf("{\n  \"image\": \"%s\",\n  \"target\": \"%s\",\n  \"staged\": %s,\n  "
		       "\"revision\": %llu\n}\n",
		       image, target, remove ? "false" : "true",
		       (unsigned long long)resp->revision);
	else
		printf("image %s %s %s (revision %llu)\n", image,
		       remove ? "no longer staged on" : "staged on", target,
		       (unsigned long long)resp->revision);
	bm__response__free_unpacked(resp, NULL);
	return CTL_EXIT_OK;
}

int
cmd_image(struct ctl *c, int argc, char **argv)
{
	uint8_t sha[BM_SHA256_LEN];
	uint64_t size, offset = 0;
	int fd, r;

	if (argc == 4 && (!strcmp(argv[1], "stage") || !strcmp(argv[1], "unstage")))
		return stage(c, argv[2], argv[3], argv[1][0] == 'u');
	if (argc != 4 || strcmp(argv[1], "push"))
		return ctl_usage_error(c, "image takes: push NAME FILE, stage|unstage NAME TARGET");
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
	if (r == CTL_EXIT_OK && offset > 0 && offset < size)
		fprintf(stderr, "%s: resuming the upload at %llu of %llu bytes\n", c->prog,
		        (unsigned long long)offset, (unsigned long long)size);
	if (r == CTL_EXIT_OK && offset < size)
		r = push_chunks(c, argv[2], fd, sha, offset, size);
	if (r == CTL_EXIT_OK)
		r = push_commit(c, argv[2], sha, size);
	close(fd);
	return r;
}
