#include "propose.h"

#include "bm/proto.h"
#include "raft_node.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/log.h"
#include "bm/util.h"

_Static_assert(PROPOSE_BATCH_MAX <= 1u << STORE_INDEX_SHIFT,
               "a batch's places fit below the shift");

struct proposer {
	uv_async_t wake;
	struct raftnode *raft;
	struct proposal *held; /* FIFO waiting for an entry to free up (loop thread) */
	unsigned inflight;     /* entries appended and not yet applied */
	pthread_mutex_t mu;
	struct proposal *head; /* LIFO under mu; reversed when taken */
	unsigned pending;
	int closed;
	struct proposer_stats stats;
};

static void proposer_wake_cb(uv_async_t *h);

int
proposer_new(uv_loop_t *loop, struct raftnode *raft, struct proposer **ret)
{
	struct proposer *pr;
	int r;

	if (!raft)
		return -EINVAL;
	if (!(pr = calloc(1, sizeof(*pr))))
		return -ENOMEM;
	pr->raft = raft;
	pthread_mutex_init(&pr->mu, NULL);
	if ((r = uv_async_init(loop, &pr->wake, proposer_wake_cb)) < 0) {
		pthread_mutex_destroy(&pr->mu);
		free(pr);
		return r;
	}
	*ret = pr;
	return 0;
}

int
proposer_submit(struct proposer *pr, struct proposal *p)
{
	int r = 0;

	pthread_mutex_lock(&pr->mu);
	if (pr->closed) {
		r = -ESHUTDOWN;
	} else if (pr->pending >= PROPOSE_PENDING_MAX) {
		pr->stats.refused_busy++;
		r = -EBUSY;
	} else {
		p->next = pr->head;
		pr->head = p;
		pr->pending++;
	}
	pthread_mutex_unlock(&pr->mu);
	if (r == 0)
		uv_async_send(&pr->wake);
	return r;
}

void
proposer_stats_get(struct proposer *pr, struct proposer_stats *ret)
{
	pthread_mutex_lock(&pr->mu);
	*ret = pr->stats;
	pthread_mutex_unlock(&pr->mu);
}

/* Everything queued, oldest first. */
static struct proposal *
take_all(struct proposer *pr)
{
	struct proposal *p, *fifo = NULL;

	pthread_mutex_lock(&pr->mu);
	p = pr->head;
	pr->head = NULL;
	pr->pending = 0;
	pthread_mutex_unlock(&pr->mu);
	while (p) {
		struct proposal *next = p->next;
		p->next = fifo;
		fifo = p;
		p = next;
	}
	return fifo;
}

struct inflight {
	struct proposer *pr;
	struct proposal *first;
	size_t n;
};

static void
refuse_status(struct store_result *res, int status)
{
	res->status = BM__STATUS__STATUS_UNAVAILABLE;
	snprintf(res->message, sizeof(res->message), "%s",
	         status == -ENOTCONN ? "not the leader: ask another coordinator"
	         : status == -ECONNABORTED
	             ? "leadership changed before the write was confirmed: it may or may "
	               "not have been applied; retry"
	             : "shutting down or failing: retry");
}

static void
batch_done(void *arg, int status, const struct store_result *res, size_t n)
{
	struct inflight *f = arg;
	struct proposal *p = f->first;
	struct proposer *pr = f->pr;

	for (size_t i = 0; i < f->n; i++) {
		struct proposal *next = p->next;
		if (status == 0 && res && n == f->n) {
			p->cb(p, &res[i]);
		} else {
			struct store_result r;
			store_result_init(&r);
			if (status == 0)
				snprintf(r.message, sizeof(r.message), "applied");
			else
				refuse_status(&r, status);
			p->cb(p, &r);
			store_result_fini(&r);
		}
		p = next;
	}
	free(f);
	if (pr && pr->inflight) {
		pr->inflight--;
		/* What waited goes out as one larger entry, from the loop's next
		 * turn: never raft_apply from inside libraft's callback. When a
		 * leader steps down, libraft fails its pending requests in a
		 * loop over them; an entry appended from one of those callbacks
		 * crashed bmcoord (SIGSEGV in raft_apply, found by
		 * bench/fleet.sh: 1,000 agents, elections under a 100,000-machine
		 * reimage). Closed: proposer_close sent everything. */
		if (!pr->closed)
			uv_async_send(&pr->wake);
	}
}

/* Send up to PROPOSE_BATCH_MAX proposals as one Raft entry. Returns the
 * first proposal not taken. */
static struct proposal *
raft_batch(struct proposer *pr, struct proposal *p)
{
	Bm__CommandBatch cb = BM__COMMAND_BATCH__INIT;
	Bm__Command *cmds[PROPOSE_BATCH_MAX];
	struct inflight *f = calloc(1, sizeof(*f));
	struct proposal *cur = p, *last = NULL;
	uint8_t *buf = NULL;
	size_t n = 0, len;
	int r = -ENOMEM;

	for (; cur && n < PROPOSE_BATCH_MAX; last = cur, cur = cur->next)
		cmds[n++] = (Bm__Command *)cur->cmd;
	cb.commands = cmds;
	cb.n_commands = n;
	len = bm__command_batch__get_packed_size(&cb);
	if (f && (buf = malloc(len + 1))) {
		bm__command_batch__pack(&cb, buf);
		*f = (struct inflight){ pr, p, n };
		r = raftnode_apply(pr->raft, buf, len, batch_done, f);
	}
	free(buf);
	pthread_mutex_lock(&pr->mu);
	pr->stats.commands += n;
	pr->stats.batches++;
	if (n > pr->stats.max_batch)
		pr->stats.max_batch = n;
	pthread_mutex_unlock(&pr->mu);
	if (r < 0) { /* not taken: answer each now */
		if (last)
			last->next = NULL;
		if (!f)
			f = calloc(1, sizeof(*f));
		if (f) {
			/* Answered here, not as an entry: pr NULL, so batch_done
			 * neither counts it nor drains (the caller's loop does). */
			*f = (struct inflight){ NULL, p, n };
			batch_done(f, r, NULL, 0);
		}
		if (pr->inflight)
			pr->inflight--;
	}
	return cur;
}

/* Raft: at most PROPOSE_RAFT_DEPTH entries in flight. What arrives
 * meanwhile waits and leaves as one entry: each entry costs every node an
 * append and a store commit, so fewer, larger entries carry more writes. */
static void
drain(struct proposer *pr)
{
	struct proposal *p = take_all(pr);

	if (p) { /* append to the held FIFO */
		struct proposal **tail = &pr->held;
		while (*tail)
			tail = &(*tail)->next;
		*tail = p;
	}
	while (pr->held && (pr->inflight < PROPOSE_RAFT_DEPTH || pr->closed)) {
		pr->inflight++;
		pr->held = raft_batch(pr, pr->held);
	}
}

static void
proposer_wake_cb(uv_async_t *h)
{
	struct proposer *pr = bm_container_of(h, struct proposer, wake);
	drain(pr);
}

void
proposer_free(struct proposer *pr)
{
	if (!pr)
		return;
	pthread_mutex_destroy(&pr->mu);
	free(pr);
}

void
proposer_close(struct proposer *pr)
{
	pthread_mutex_lock(&pr->mu);
	pr->closed = 1;
	pthread_mutex_unlock(&pr->mu);
	drain(pr);
	uv_close((uv_handle_t *)&pr->wake, NULL);
}
