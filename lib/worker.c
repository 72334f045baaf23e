#define _GNU_SOURCE /* pthread_setname_np */
#include "bm/worker.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

void
bm_worker_init(struct bm_worker *w)
{
	pthread_condattr_t ca;

	*w = (struct bm_worker){ .stop = false };
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
}

void
bm_worker_name(struct bm_worker *w, const char *name)
{
	snprintf(w->name, sizeof(w->name), "%s", name);
}

static void *
trampoline(void *arg)
{
	struct bm_worker_thread *t = arg;
	char name[16];

	if (*t->w->name) {
		snprintf(name, sizeof(name), "%s/%u", t->w->name, t->index);
		pthread_setname_np(pthread_self(), name);
	}
	t->fn(t->arg, t->index);
	return NULL;
}

int
bm_worker_start(struct bm_worker *w, unsigned n, bm_worker_fn fn, void *arg)
{
	for (unsigned i = 0; i < n; i++) {
		struct bm_worker_thread *t = &w->t[w->started];
		if (w->started == BM_WORKER_THREADS_MAX)
			return -EAGAIN;
		*t = (struct bm_worker_thread){ w, fn, arg, w->started, 0 };
		if (pthread_create(&t->th, NULL, trampoline, t) != 0)
			return -EAGAIN;
		w->started++;
	}
	return 0;
}

void
bm_worker_lock(struct bm_worker *w)
{
	pthread_mutex_lock(&w->mu);
}

void
bm_worker_unlock(struct bm_worker *w)
{
	pthread_mutex_unlock(&w->mu);
}

static struct timespec
after_ms(unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

bool
bm_worker_wait_locked(struct bm_worker *w, unsigned ms)
{
	struct timespec ts = after_ms(ms);

	while (!w->stop && !w->kicked)
		if ((ms ? pthread_cond_timedwait(&w->cond, &w->mu, &ts)
		        : pthread_cond_wait(&w->cond, &w->mu)) == ETIMEDOUT)
			break;
	w->kicked = false;
	return !w->stop;
}

bool
bm_worker_wait(struct bm_worker *w, unsigned ms)
{
	pthread_mutex_lock(&w->mu);
	bool go = bm_worker_wait_locked(w, ms);
	pthread_mutex_unlock(&w->mu);
	return go;
}

bool
bm_worker_sleep(struct bm_worker *w, unsigned ms)
{
	struct timespec ts = after_ms(ms);

	pthread_mutex_lock(&w->mu);
	while (!w->stop && pthread_cond_timedwait(&w->cond, &w->mu, &ts) != ETIMEDOUT)
		;
	bool go = !w->stop;
	pthread_mutex_unlock(&w->mu);
	return go;
}

void
bm_worker_kick_locked(struct bm_worker *w)
{
	w->kicked = true;
	pthread_cond_broadcast(&w->cond);
}

void
bm_worker_kick(struct bm_worker *w)
{
	pthread_mutex_lock(&w->mu);
	bm_worker_kick_locked(w);
	pthread_mutex_unlock(&w->mu);
}

bool
bm_worker_stopping(struct bm_worker *w)
{
	pthread_mutex_lock(&w->mu);
	bool v = w->stop;
	pthread_mutex_unlock(&w->mu);
	return v;
}

void
bm_worker_cut_locked(struct bm_worker *w)
{
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
}

void
bm_worker_stop(struct bm_worker *w)
{
	pthread_mutex_lock(&w->mu);
	bm_worker_cut_locked(w);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < w->started; i++)
		pthread_join(w->t[i].th, NULL);
	w->started = 0;
}

void
bm_worker_fini(struct bm_worker *w)
{
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mu);
}

/* ------------------------------------------------------------ job queue */

static void
jobq_main(void *arg, unsigned index)
{
	struct bm_jobq *q = arg;

	(void)index;
	bm_worker_lock(&q->w);
	for (;;) {
		struct bm_job *j = q->head;
		if (!j) {
			if (q->w.stop) /* the queue is run: stop */
				break;
			bm_worker_wait_locked(&q->w, 0);
			continue;
		}
		q->head = NULL;
		q->tail = &q->head;
		bm_worker_unlock(&q->w);
		while (j) { /* one wake-up runs a whole batch */
			struct bm_job *next = j->next;
			j->fn(j);
			j = next;
		}
		bm_worker_lock(&q->w);
	}
	bm_worker_unlock(&q->w);
}

int
bm_jobq_start(struct bm_jobq *q, const char *name)
{
	bm_worker_init(&q->w);
	bm_worker_name(&q->w, name);
	q->head = NULL;
	q->tail = &q->head;
	q->running = true;
	if (bm_worker_start(&q->w, 1, jobq_main, q) < 0) {
		q->running = false;
		bm_worker_stop(&q->w);
		bm_worker_fini(&q->w);
		return -EAGAIN;
	}
	return 0;
}

void
bm_jobq_push(struct bm_jobq *q, struct bm_job *j, void (*fn)(struct bm_job *j))
{
	bool wake;

	j->fn = fn;
	j->next = NULL;
	if (!q->w.started) { /* never started */
		fn(j);
		return;
	}
	bm_worker_lock(&q->w);
	if (!q->running) { /* stopping */
		bm_worker_unlock(&q->w);
		fn(j);
		return;
	}
	wake = q->head == NULL;
	*q->tail = j;
	q->tail = &j->next;
	if (wake)
		bm_worker_kick_locked(&q->w);
	bm_worker_unlock(&q->w);
}

void
bm_jobq_stop(struct bm_jobq *q)
{
	if (!q->w.started)
		return;
	bm_worker_lock(&q->w);
	q->running = false; /* from now on a push runs in its caller */
	bm_worker_unlock(&q->w);
	bm_worker_stop(&q->w); /* runs what is queued first */
	bm_worker_fini(&q->w);
}
