#include "progress.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/log.h"
#include "bm/util.h"
#include "rackdb.h"

#define QUIET_SLOTS 1024u
#define QUIET_MS 1000u

struct pending {
	Bm__EventKind kind;
	uint8_t mac[6];
	uint32_t ip;
	uint64_t time_ms;
	char detail[PROGRESS_DETAIL_MAX];
};

struct progress {
	struct ev_loop *loop;
	struct rackdb *db;
	char rack[64];
	ev_timer flush_w;
	struct pending *q;
	size_t n;
	uint64_t dropped;
	struct {
		uint64_t hash, at;
	} quiet[QUIET_SLOTS];
};

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static void
flush(struct progress *p)
{
	struct rackdb_batch *b;
	int r;

	if (!p->n)
		return;
	if ((r = rackdb_batch_begin(p->db, &b)) == 0) {
		for (size_t i = 0; i < p->n && r == 0; i++)
			r = rackdb_event_add(b, p->q[i].kind, p->q[i].mac, p->q[i].ip,
			                     p->q[i].time_ms, p->rack, p->q[i].detail);
		r = r == 0 ? rackdb_batch_commit(b) : (rackdb_batch_abort(b), r);
	}
	if (r < 0) {
		p->dropped += p->n;
		BM_WARN("agent", "progress events lost count=%zu err=\"%s\"", p->n, strerror(-r));
	}
	p->n = 0;
}

static void
flush_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	flush(w->data);
}

void
progress_add(struct progress *p, Bm__EventKind kind, const uint8_t mac[6], uint32_t ip,
             const char *fmt, ...)
{
	struct pending *e;
	uint64_t now = bm_mono_ms(), h;
	va_list ap;

	if (!p)
		return;
	if (p->n == PROGRESS_QUEUE_MAX) {
		p->dropped++;
		return;
	}
	e = &p->q[p->n];
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
	h = fnv(fnv(fnv(0xcbf29ce484222325ull, mac, 6), &kind, sizeof(kind)), e->detail,
	        strlen(e->detail));
	if (p->quiet[h % QUIET_SLOTS].hash == h && now - p->quiet[h % QUIET_SLOTS].at < QUIET_MS)
		return; /* the same step again within a second */
	p->quiet[h % QUIET_SLOTS].hash = h;
	p->quiet[h % QUIET_SLOTS].at = now;
	e->kind = kind;
	memcpy(e->mac, mac, 6);
	e->ip = ip;
	e->time_ms = bm_wall_ms();
	p->n++;
	if (!ev_is_active(&p->flush_w))
		ev_timer_start(p->loop, &p->flush_w);
}

uint64_t
progress_dropped(const struct progress *p)
{
	return p ? p->dropped : 0;
}

int
progress_new(struct ev_loop *loop, struct rackdb *db, const char *rack, struct progress **ret)
{
	struct progress *p = calloc(1, sizeof(*p));

	if (!p || !(p->q = calloc(PROGRESS_QUEUE_MAX, sizeof(*p->q)))) {
		free(p);
		return -ENOMEM;
	}
	p->loop = loop;
	p->db = db;
	snprintf(p->rack, sizeof(p->rack), "%s", rack);
	ev_timer_init(&p->flush_w, flush_cb, PROGRESS_FLUSH_MS / 1000., 0.);
	p->flush_w.data = p;
	*ret = p;
	return 0;
}

void
progress_free(struct progress *p)
{
	if (!p)
		return;
	flush(p);
	ev_timer_stop(p->loop, &p->flush_w);
	free(p->q);
	free(p);
}
