/* A commit's fan-out, on a thread of its own so that the writer's answer
 * never waits for it. The committed change sets are grouped by rack once
 * (watch_index); each parked watch they concern is answered with one
 * answer built and packed per (rack, since, secrets), and one per since
 * for every rack whose only changes are every rack's (a profile, an
 * image): 1,000 agents woken by a profile change cost one build. A parked
 * watch the commit does not concern moves on to the new revision, and its
 * agent is recorded as current there. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bm/log.h"
#include "bm/rpc.h"
#include "watch_priv.h"

struct woken {
	struct parked *p;
	const char *group; /* its rack, or "" when only every rack's keys changed */
};

static int
woken_cmp(const void *a, const void *b)
{
	const struct woken *x = a, *y = b;
	int c = strcmp(x->group, y->group);

	if (c)
		return c;
	if (x->p->since != y->p->since)
		return x->p->since < y->p->since ? -1 : 1;
	/* secrets matter only to a rack's own answer (machines) */
	return *x->group ? (int)x->p->secrets - (int)y->p->secrets : 0;
}

/* Index the change sets of (last indexed, cur]: one read of each. Too far
 * apart (a restart, a snapshot installed) or back: start over at cur. */
static void
index_update(struct watch_hub *h, struct store_read *rd, uint64_t cur)
{
	uint64_t last = watch_index_last(h->index);
	Bm__ChangeSet **sets = NULL;
	size_t n = 0;
	int r = 0;

	if (cur == last)
		return;
	if (cur > last && cur - last <= WATCH_SNAPSHOT_AFTER &&
	    (sets = calloc(cur - last, sizeof(*sets)))) {
		n = cur - last;
		for (size_t i = 0; i < n && r == 0; i++)
			if ((r = store_changes_get(rd, last + 1 + i, &sets[i])) == -ENOENT)
				r = 0;
	}
	pthread_rwlock_wrlock(&h->ixlock);
	if (!sets || r < 0 || watch_index_add(h->index, last, cur, sets, n) < 0)
		watch_index_add(h->index, cur, cur, NULL, 0); /* held: nothing */
	pthread_rwlock_unlock(&h->ixlock);
	for (size_t i = 0; i < n; i++)
		if (sets[i])
			bm__change_set__free_unpacked(sets[i], NULL);
	free(sets);
}

/* The packed answer for a group at rd. 0 with *ret_buf; 1: nothing for it
 * after all; -errno. */
static int
pack_answer(struct watch_hub *h, struct store_read *rd, const struct woken *k, uint8_t **ret_buf,
            size_t *ret_len)
{
	Bm__Response resp = BM__RESPONSE__INIT;
	Bm__WatchResult *w = NULL;
	int r;

	/* Only this thread adds to the index: it reads it without the lock. */
	if ((r = watch_build(rd, h->index, *k->group ? k->group : k->p->rack, k->p->since, &w)) < 0)
		return r;
	if (*k->group && k->p->secrets && h->secrets &&
	    (r = secrets_open_watch(h->secrets, rd, w)) < 0) {
		watch_result_free(w);
		return r;
	}
	if (watch_result_empty(w)) {
		watch_result_free(w);
		return 1;
	}
	resp.revision = w->revision;
	resp.body_case = BM__RESPONSE__BODY_WATCH;
	resp.watch = w;
	*ret_len = bm__response__get_packed_size(&resp);
	if ((*ret_buf = malloc(*ret_len ? *ret_len : 1)))
		bm__response__pack(&resp, *ret_buf);
	watch_result_free(w);
	return *ret_buf ? 0 : -ENOMEM;
}

/* Its view is current at cur: park it there. */
static void
move_on(struct watch_hub *h, struct parked *p, uint64_t cur)
{
	p->since = cur;
	if (h->seen && *p->agent)
		h->seen(h->seen_arg, p->agent, cur);
	watch_repark(h, p);
}

/* Answer the woken watches, sorted: one answer per run of equal keys. */
static void
answer_groups(struct watch_hub *h, struct store_read *rd, struct woken *v, size_t n, uint64_t cur)
{
	if (n)
		qsort(v, n, sizeof(*v), woken_cmp);
	for (size_t i = 0, j; i < n; i = j) {
		uint8_t *buf = NULL;
		size_t len = 0;
		int r = pack_answer(h, rd, &v[i], &buf, &len);
		for (j = i + 1; j < n && !woken_cmp(&v[i], &v[j]); j++)
			;
		if (r < 0)
			BM_WARN("watch", "answer failed rack=%s err=\"%s\"", v[i].p->rack,
			        strerror(-r));
		/* The run's parked entries are answered and freed last: the
		 * comparisons above read them. */
		for (size_t k = i; k < j; k++) {
			if (r == 1) {
				move_on(h, v[k].p, cur);
				continue;
			}
			if (r == 0)
				bm_rpc_reply_packed(v[k].p->call, buf, len);
			else
				bm_rpc_reply_status(v[k].p->call, BM__STATUS__STATUS_INTERNAL,
				                    "reading the store failed");
			free(v[k].p);
		}
		free(buf);
	}
}

static bool
older_than(const struct parked *p, uint64_t rev)
{
	return p->since < rev;
}

static void
fan_pass(struct watch_hub *h)
{
	struct store_read *rd;
	struct parked *list, *p, *next;
	struct woken *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t cur;
	int r;

	if ((r = store_read_begin(h->store, &rd)) < 0) {
		BM_WARN("watch", "cannot read the store err=\"%s\"", strerror(-r));
		return;
	}
	cur = store_read_revision(rd);
	index_update(h, rd, cur);
	list = watch_unpark(h, older_than, cur);
	for (p = list; p; p = p->next)
		cap++;
	if (cap && !(v = malloc(cap * sizeof(*v)))) {
		for (p = list; p; p = next) { /* the agents ask again */
			next = p->next;
			bm_rpc_reply_status(p->call, BM__STATUS__STATUS_UNAVAILABLE,
			                    "out of memory");
			free(p);
		}
		list = NULL;
	}
	for (p = list; p; p = next) {
		next = p->next;
		if (!watch_index_touches(h->index, p->rack, p->since, cur)) {
			move_on(h, p, cur);
			continue;
		}
		bool own = watch_index_rack_touched(h->index, p->rack, p->since, cur) ||
		           watch_needs_snapshot(rd, p->since);
		v[n++] = (struct woken){ p, own ? p->rack : "" };
	}
	answer_groups(h, rd, v, n, cur);
	free(v);
	store_read_end(rd);
	/* Its stamp, beside the commit's, is the fan-out's time (bench/). */
	BM_DEBUG("watch", "fan-out done revision=%llu parked=%zu woken=%zu",
	         (unsigned long long)cur, cap, n);
}

void
watch_fan_main(void *arg, unsigned index)
{
	struct watch_hub *h = arg;

	(void)index;
	while (bm_worker_wait(&h->fan, 0))
		fan_pass(h);
}
