#include "fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zstd.h>

#include "bm/log.h"
#include "bm/util.h"

#define ZSTD_HEADER_MAX 18 /* ZSTD_FRAMEHEADERSIZE_MAX, in zstd's static-only API */

struct xfer {
	struct stream *s;
	uint64_t start; /* the offset asked */
	int err;        /* the stream's refusal, or -EPROTO */
	bool checked;   /* the answer's range was looked at */
	long code;
	fetch_progress_fn fn;
	void *arg;
	uint64_t last_ms;
};

/* The status line and Content-Range: a resumed GET must answer 206 from
 * exactly where the stream is. */
static size_t
on_header(char *p, size_t sz, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = sz * nmemb;
	unsigned long long first;

	if (n > 5 && !strncmp(p, "HTTP/", 5)) {
		const char *sp = memchr(p, ' ', n);
		x->code = sp ? strtol(sp + 1, NULL, 10) : 0;
		x->checked = false;
	} else if (n > 20 && !strncasecmp(p, "Content-Range: bytes ", 21) &&
	           sscanf(p + 21, "%llu-", &first) == 1) {
		x->checked = true;
		if (first != x->start)
			x->err = -EPROTO;
	}
	return n;
}

static size_t
on_body(char *p, size_t sz, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = sz * nmemb;
	uint64_t now;

	if (x->code == 200 && x->start) /* the whole body to a Range: no */
		x->err = -EPROTO;
	if (x->code == 206 && !x->checked)
		x->err = -EPROTO;
	if (x->err || (x->err = stream_feed(x->s, p, n)) < 0)
		return 0;
	if (x->fn && (now = bm_mono_ms()) >= x->last_ms + 1000) {
		x->last_ms = now;
		x->fn(x->arg, x->s->written + x->s->fill);
	}
	return n;
}

static CURLcode
get(const char *url, struct xfer *x, char *errbuf)
{
	CURL *h = curl_easy_init();
	char range[48];
	CURLcode rc;

	if (!h)
		return CURLE_OUT_OF_MEMORY;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)FETCH_CONNECT_S);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)FETCH_STALL_S);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (x->start) {
		snprintf(range, sizeof(range), "%" PRIu64 "-", x->start);
		curl_easy_setopt(h, CURLOPT_RANGE, range);
	}
	errbuf[0] = '\0';
	rc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	return rc;
}

int
fetch_image(const char *url, struct stream *s, fetch_progress_fn fn, void *arg, char *why,
            size_t wlen)
{
	char err[CURL_ERROR_SIZE];
	unsigned idle = 0;

	for (;;) {
		struct xfer x = { .s = s, .start = s->stored, .fn = fn, .arg = arg };
		CURLcode rc = get(url, &x, err);
		if (x.err) {
			snprintf(why, wlen, "%s",
			         x.err == -EPROTO ? "the agent did not answer the Range asked"
			                          : strerror(-x.err));
			return x.err;
		}
		if (rc == CURLE_OK)
			return 0;
		idle = s->stored > x.start ? 1 : idle + 1;
		BM_WARN("deploy", "image transfer cut at=%" PRIu64 " err=\"%s\" try=%u", s->stored,
		        *err ? err : curl_easy_strerror(rc), idle);
		if (idle >= FETCH_TRIES) {
			snprintf(why, wlen, "the agent is unreachable: %s (%u tries)",
			         *err ? err : curl_easy_strerror(rc), idle);
			return -EIO;
		}
		sleep(1);
	}
}

static size_t
keep(char *p, size_t sz, size_t nmemb, void *arg)
{
	uint8_t *b = arg; /* b[0]: bytes held, then up to 18 */
	size_t n = sz * nmemb, room = ZSTD_HEADER_MAX - b[0];
	memcpy(b + 1 + b[0], p, n < room ? n : room);
	b[0] = (uint8_t)(b[0] + (n < room ? n : room));
	return n <= room ? n : 0; /* a Range ignored: the header is here, stop */
}

int
fetch_raw_size(const char *url, bool zstd, uint64_t *ret)
{
	CURL *h = curl_easy_init();
	uint8_t b[1 + ZSTD_HEADER_MAX] = { 0 };
	curl_off_t len = -1;
	CURLcode rc;

	if (!h)
		return -EIO;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)FETCH_CONNECT_S);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (zstd) {
		curl_easy_setopt(h, CURLOPT_RANGE, "0-17");
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	} else {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	}
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK && !(zstd && rc == CURLE_WRITE_ERROR))
		return -EIO;
	if (!zstd) {
		*ret = len > 0 ? (uint64_t)len : 0;
		return 0;
	}
	unsigned long long z = ZSTD_getFrameContentSize(b + 1, b[0]);
	*ret = z == ZSTD_CONTENTSIZE_UNKNOWN || z == ZSTD_CONTENTSIZE_ERROR ? 0 : z;
	return 0;
}
