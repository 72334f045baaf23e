#include "dhcp_commit.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bm/util.h"
#include "rackdb.h"

struct batch {
	struct dhcp_pending *v;
	size_t n;
	int result;
};

struct dhcp_committer {
	struct ev_loop *loop;
	ev_async done_w;    /* the thread finished a batch */
	ev_prepare flush_w; /* hand the collected batch over before blocking */
	struct rackdb *db;
	char rack[64];
	size_t max;
	struct batch b[2];
	int collecting; /* loop thread only */
	int inflight;   /* set by the loop before it wakes the thread */
	bool busy;      /* loop thread only: a batch is with the thread */
	dhcp_committed_fn fn;
	void *arg;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool work, stop; /* under mu */
};

static uint64_t
wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
persist(struct rackdb_batch *tx, const char *rack, const struct dhcp_decision *d, uint64_t now)
{
	int r = 0;

	if (d->lease_op == DHCP_LEASE_SAVE)
		r = rackdb_lease_put(tx, &d->lease);
	else if (d->lease_op == DHCP_LEASE_DELETE)
		r = rackdb_lease_del(tx, d->lease.ip);
	if (r == 0 && d->discovered)
		r = rackdb_event_add(tx, BM__EVENT_KIND__EVENT_DISCOVERED, d->mac, d->lease.ip, now,
		                     rack, "dhcp");
	return r;
}

static int
commit(struct dhcp_committer *c, struct batch *b)
{
	struct rackdb_batch *tx;
	uint64_t now = wall_ms();
	int r = rackdb_batch_begin(c->db, &tx);

	for (size_t i = 0; i < b->n && r == 0; i++)
		r = persist(tx, c->rack, &b->v[i].d, now);
	if (r == 0)
		return rackdb_batch_commit(tx);
	rackdb_batch_abort(tx);
	return r;
}

static void *
thread_main(void *arg)
{
	struct dhcp_committer *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->work && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (!c->work)
			break;
		pthread_mutex_unlock(&c->mu);
		c->b[c->inflight].result = commit(c, &c->b[c->inflight]);
		pthread_mutex_lock(&c->mu);
		c->work = false;
		ev_async_send(c->loop, &c->done_w);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Give the collected batch to the thread, if it is idle. */
static void
flush(struct dhcp_committer *c)
{
	if (c->busy || !c->b[c->collecting].n)
		return;
	c->inflight = c->collecting;
	c->collecting = !c->collecting;
	c->busy = true;
	pthread_mutex_lock(&c->mu);
	c->work = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void
done_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct dhcp_committer *c = bm_container_of(w, struct dhcp_committer, done_w);
	struct batch *b;

	(void)loop;
	(void)revents;
	pthread_mutex_lock(&c->mu);
	bool finished = !c->work;
	pthread_mutex_unlock(&c->mu);
	if (!c->busy || !finished)
		return;
	b = &c->b[c->inflight];
	c->busy = false;
	c->fn(c->arg, b->v, b->n, b->result);
	b->n = 0;
	flush(c);
}

static void
flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct dhcp_committer *c = bm_container_of(w, struct dhcp_committer, flush_w);

	(void)revents;
	flush(c);
	ev_prepare_stop(loop, w);
}

int
dhcp_committer_new(struct ev_loop *loop, struct rackdb *db, const char *rack, size_t max,
                   dhcp_committed_fn fn, void *arg, struct dhcp_committer **ret)
{
	struct dhcp_committer *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->b[0].v = calloc(max, sizeof(struct dhcp_pending));
	c->b[1].v = calloc(max, sizeof(struct dhcp_pending));
	if (!c->b[0].v || !c->b[1].v) {
		free(c->b[0].v);
		free(c->b[1].v);
		free(c);
		return -ENOMEM;
	}
	c->loop = loop;
	c->db = db;
	c->max = max;
	c->fn = fn;
	c->arg = arg;
	snprintf(c->rack, sizeof(c->rack), "%s", rack);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	ev_async_init(&c->done_w, done_cb);
	ev_async_start(loop, &c->done_w);
	ev_prepare_init(&c->flush_w, flush_cb);
	if (pthread_create(&c->thread, NULL, thread_main, c) != 0) {
		ev_async_stop(loop, &c->done_w);
		free(c->b[0].v);
		free(c->b[1].v);
		free(c);
		return -EAGAIN;
	}
	*ret = c;
	return 0;
}

struct dhcp_pending *
dhcp_committer_slot(struct dhcp_committer *c)
{
	struct batch *b = &c->b[c->collecting];

	if (b->n == c->max) {
		if (c->busy)
			return NULL;
		flush(c);
		b = &c->b[c->collecting];
	}
	return &b->v[b->n];
}

void
dhcp_committer_keep(struct dhcp_committer *c)
{
	c->b[c->collecting].n++;
	ev_prepare_start(c->loop, &c->flush_w);
}

/* Wait for the batch in flight and deliver it. */
static void
wait_inflight(struct dhcp_committer *c)
{
	bool busy = true;

	while (c->busy && busy) {
		pthread_mutex_lock(&c->mu);
		busy = c->work;
		pthread_mutex_unlock(&c->mu);
		if (busy) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL);
		}
	}
	done_cb(c->loop, &c->done_w, 0);
}

void
dhcp_committer_free(struct dhcp_committer *c)
{
	if (!c)
		return;
	wait_inflight(c);
	flush(c);
	wait_inflight(c);
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	ev_async_stop(c->loop, &c->done_w);
	ev_prepare_stop(c->loop, &c->flush_w);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c->b[0].v);
	free(c->b[1].v);
	free(c);
}
