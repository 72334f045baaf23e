/* Answers built off the loop thread. A write's answer is given from the
 * proposer's callback, on the coordinator's loop; when giving it means
 * reading the store at length (a reimage's answer lists its machines: 43 ms
 * for 10,000, 0.4 s for 100,000; a linearizable read), the loop would hold
 * Raft's heartbeats and every other commit that long. Such answers are
 * queued here and built by a thread of their own, in order. */
#include <errno.h>
#include <stdlib.h>

#include "api_priv.h"
#include "bm/worker.h"

struct api_defer {
	struct bm_worker w; /* its mutex guards the queue */
	struct api_job *head, **tail;
};

static void
defer_main(void *arg, unsigned index)
{
	struct api_defer *d = arg;

	(void)index;
	bm_worker_lock(&d->w);
	for (;;) {
		struct api_job *j = d->head;
		if (!j) {
			if (d->w.stop) /* the queue is answered: stop */
				break;
			bm_worker_wait_locked(&d->w, 0);
			continue;
		}
		d->head = NULL;
		d->tail = &d->head;
		bm_worker_unlock(&d->w);
		while (j) {
			struct api_job *next = j->next;
			j->fn(j); /* may free j */
			j = next;
		}
		bm_worker_lock(&d->w);
	}
	bm_worker_unlock(&d->w);
}

int
api_defer_start(struct api *a)
{
	struct api_defer *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	bm_worker_init(&d->w);
	d->tail = &d->head;
	if (bm_worker_start(&d->w, 1, defer_main, d) < 0) {
		bm_worker_fini(&d->w);
		free(d);
		return -EAGAIN;
	}
	a->defer = d;
	return 0;
}

void
api_defer(struct api *a, struct api_job *j, void (*fn)(struct api_job *j))
{
	struct api_defer *d = a->defer;
	bool wake;

	j->fn = fn;
	j->next = NULL;
	if (!d) { /* not started, or stopped: answer here */
		fn(j);
		return;
	}
	bm_worker_lock(&d->w);
	wake = d->head == NULL;
	*d->tail = j;
	d->tail = &j->next;
	if (wake)
		bm_worker_kick_locked(&d->w);
	bm_worker_unlock(&d->w);
}

void
api_defer_stop(struct api *a)
{
	struct api_defer *d = a->defer;

	if (!d)
		return;
	bm_worker_stop(&d->w); /* answers what is queued first */
	bm_worker_fini(&d->w);
	a->defer = NULL;
	free(d);
}
