#include "report.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bm/buf.h"
#include "bm/log.h"

struct mem {
	char *p;
	size_t len, cap;
	bool big;
};

static size_t
mem_write(char *p, size_t sz, size_t nmemb, void *arg)
{
	struct mem *m = arg;
	size_t n = sz * nmemb;
	if (n > m->cap - m->len) {
		m->big = true;
		return 0;
	}
	memcpy(m->p + m->len, p, n);
	m->len += n;
	return n;
}

long
http_get(const char *url, char *out, size_t cap)
{
	CURL *h = curl_easy_init();
	struct mem m = { out, 0, cap, false };
	long code = 0;
	CURLcode rc;

	if (!h)
		return -EIO;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, mem_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &m);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)REPORT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	if (m.big)
		return -EFBIG;
	if (rc != CURLE_OK || code != 200)
		return rc == CURLE_OK && code == 404 ? -ENOENT : -EIO;
	return (long)m.len;
}

/* &key=value, the value escaped. */
static int
param(struct bm_buf *b, const char *key, const char *v)
{
	char *e = curl_easy_escape(NULL, v, 0);
	int r = e ? bm_buf_printf(b, "&%s=%s", key, e) : -ENOMEM;
	curl_free(e);
	return r;
}

int
report(const struct deploy_args *a, const char *state, const char *reason, int must, ...)
{
	struct bm_buf url = { 0 };
	char ans[256];
	const char *k;
	va_list ap;
	int r;

	r = bm_buf_printf(&url, "%s?state=%s", a->callback, state);
	if (!r)
		r = param(&url, "token", a->token);
	if (!r && reason)
		r = param(&url, "reason", reason);
	va_start(ap, must);
	while (!r && (k = va_arg(ap, const char *)))
		r = param(&url, k, va_arg(ap, const char *));
	va_end(ap);
	if (r == 0) {
		for (int i = 0; i < (must ? REPORT_TRIES : 1); i++) {
			if ((r = (int)http_get(url.p, ans, sizeof(ans))) >= 0)
				break;
			BM_WARN("deploy", "callback not taken state=%s try=%d", state, i + 1);
			if (must)
				sleep(1);
		}
	}
	bm_buf_free(&url);
	return r < 0 ? -EIO : 0;
}
