#include "watch.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bm/log.h"
#include "bm/netaddr.h"
#include "bm/rpc.h"
#include "bm/util.h"
#include "watch_priv.h"

static void
reply_result(struct bm_rpc_call *call, Bm__WatchResult *w)
{
	Bm__Response resp = BM__RESPONSE__INIT;

	resp.revision = w->revision;
	resp.body_case = BM__RESPONSE__BODY_WATCH;
	resp.watch = w;
	bm_rpc_reply(call, &resp);
}

static void
reply_empty(struct bm_rpc_call *call, uint64_t revision)
{
	Bm__WatchResult w = BM__WATCH_RESULT__INIT;

	w.revision = revision;
	reply_result(call, &w);
}

/* Build the answer for (rack, since). Returns 1 and answers when there is
 * something to send, 0 with *ret_cur set when nothing concerns the rack. */
static int
try_answer(struct watch_hub *h, struct bm_rpc_call *call, const char *rack, uint64_t since,
           bool secrets, uint64_t *ret_cur)
{
	struct store_read *rd;
	Bm__WatchResult *w = NULL;
	int r;

	if ((r = store_read_begin(h->store, &rd)) == 0 && since > store_read_revision(rd) &&
	    h->authoritative && !h->authoritative(h->auth_arg)) {
		/* The agent has seen more than this node has applied: a follower
		 * behind. Wait for it to catch up rather than send an older
		 * snapshot that would take machines out of the agent's view. */
		store_read_end(rd);
		*ret_cur = since;
		return 0;
	}
	if (r == 0) {
		pthread_rwlock_rdlock(&h->ixlock);
		r = watch_build(rd, h->index, rack, since, &w);
		pthread_rwlock_unlock(&h->ixlock);
	}
	if (r < 0 || (secrets && h->secrets && (r = secrets_open_watch(h->secrets, rd, w)) < 0)) {
		if (r < 0 && w)
			watch_result_free(w);
		store_read_end(rd);
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INTERNAL, "reading the store failed");
		return 1;
	}
	store_read_end(rd);
	*ret_cur = w->revision;
	if (watch_result_empty(w) && w->revision >= since) {
		watch_result_free(w);
		return 0;
	}
	reply_result(call, w);
	watch_result_free(w);
	return 1;
}

void
watch_hub_set_authority(struct watch_hub *h, bool (*authoritative)(void *arg), void *arg)
{
	h->authoritative = authoritative;
	h->auth_arg = arg;
}

void
watch_hub_set_seen(struct watch_hub *h, void (*seen)(void *arg, const char *agent, uint64_t rev),
                   void *arg)
{
	h->seen = seen;
	h->seen_arg = arg;
}

void
watch_hub_set_secrets(struct watch_hub *h, const struct secrets *s)
{
	h->secrets = s;
}

void
watch_handle(struct watch_hub *h, struct bm_rpc_call *call, const Bm__WatchRequest *q, bool secrets)
{
	uint64_t cur, since = q->since;
	struct parked *p;

	if (!bm_name_valid(q->rack)) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID, "watch needs a valid rack");
		return;
	}
	for (;;) {
		if (try_answer(h, call, q->rack, since, secrets, &cur))
			return;
		since = cur;
		if (!q->wait_ms) {
			reply_empty(call, cur);
			return;
		}
		pthread_mutex_lock(&h->mu);
		if (h->latest > since) { /* a commit came meanwhile: look again */
			pthread_mutex_unlock(&h->mu);
			continue;
		}
		if (h->closing || h->n_parked >= h->max_parked || !(p = calloc(1, sizeof(*p)))) {
			bool closing = h->closing;
			pthread_mutex_unlock(&h->mu);
			bm_rpc_reply_status(call, BM__STATUS__STATUS_UNAVAILABLE,
			                    closing ? "shutting down"
			                            : "too many agents watching; retry later");
			return;
		}
		p->call = call;
		snprintf(p->rack, sizeof(p->rack), "%s", q->rack);
		snprintf(p->agent, sizeof(p->agent), "%s", q->agent_id);
		p->since = since;
		p->secrets = secrets;
		p->deadline_ms = bm_mono_ms() +
		                 (q->wait_ms > WATCH_WAIT_MAX_MS ? WATCH_WAIT_MAX_MS : q->wait_ms);
		p->next = h->parked;
		h->parked = p;
		h->n_parked++;
		pthread_mutex_unlock(&h->mu);
		return;
	}
}

struct parked *
watch_unpark(struct watch_hub *h, bool (*pick)(const struct parked *p, uint64_t arg), uint64_t arg)
{
	struct parked *out = NULL, **pp;

	pthread_mutex_lock(&h->mu);
	for (pp = &h->parked; *pp;) {
		struct parked *p = *pp;
		if (pick(p, arg)) {
			*pp = p->next;
			p->next = out;
			out = p;
			h->n_parked--;
		} else {
			pp = &p->next;
		}
	}
	pthread_mutex_unlock(&h->mu);
	return out;
}

void
watch_repark(struct watch_hub *h, struct parked *p)
{
	pthread_mutex_lock(&h->mu);
	if (h->closing) {
		uint64_t since = p->since;
		pthread_mutex_unlock(&h->mu);
		reply_empty(p->call, since);
		free(p);
		return;
	}
	p->next = h->parked;
	h->parked = p;
	h->n_parked++;
	pthread_mutex_unlock(&h->mu);
}

void
watch_hub_committed(struct watch_hub *h, uint64_t rev)
{
	pthread_mutex_lock(&h->mu);
	if (rev > h->latest)
		h->latest = rev;
	pthread_mutex_unlock(&h->mu);
	bm_worker_kick(&h->fan);
}

/* Its wait is over, or its agent's connection closed (an agent that gave
 * up asks again on another: this one would hold a context till its end). */
static bool
expired(const struct parked *p, uint64_t now)
{
	return p->deadline_ms <= now || bm_rpc_call_gone(p->call);
}

static bool
any(const struct parked *p, uint64_t arg)
{
	(void)p;
	(void)arg;
	return true;
}

static void
answer_all(struct parked *p)
{
	while (p) {
		struct parked *next = p->next;
		reply_empty(p->call, p->since);
		free(p);
		p = next;
	}
}

static void
timer_cb(uv_timer_t *t)
{
	struct watch_hub *h = bm_container_of(t, struct watch_hub, timer);
	answer_all(watch_unpark(h, expired, bm_mono_ms()));
}

int
watch_hub_new(uv_loop_t *loop, struct store *store, unsigned max_parked, struct watch_hub **ret)
{
	struct watch_hub *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->store = store;
	h->max_parked = max_parked;
	if (watch_index_new(WATCH_INDEX_KEYS, WATCH_INDEX_ENTRIES, &h->index) < 0) {
		free(h);
		return -ENOMEM;
	}
	pthread_mutex_init(&h->mu, NULL);
	pthread_rwlock_init(&h->ixlock, NULL);
	bm_worker_init(&h->fan);
	bm_worker_name(&h->fan, "watch-fan");
	if (bm_worker_start(&h->fan, 1, watch_fan_main, h) < 0) {
		watch_hub_free(h);
		return -EAGAIN;
	}
	uv_timer_init(loop, &h->timer);
	uv_timer_start(&h->timer, timer_cb, 250, 250);
	*ret = h;
	return 0;
}

void
watch_hub_free(struct watch_hub *h)
{
	if (!h)
		return;
	bm_worker_stop(&h->fan);             /* stopped by close, unless it never came */
	answer_all(watch_unpark(h, any, 0)); /* parked after close: none, but be sure */
	bm_worker_fini(&h->fan);
	watch_index_free(h->index);
	pthread_rwlock_destroy(&h->ixlock);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

void
watch_hub_close(struct watch_hub *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->closing = true;
	pthread_mutex_unlock(&h->mu);
	bm_worker_stop(&h->fan);
	answer_all(watch_unpark(h, any, 0));
	uv_timer_stop(&h->timer);
	uv_close((uv_handle_t *)&h->timer, NULL); /* freed by watch_hub_free */
}
