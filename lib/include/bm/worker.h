/* The one worker pattern: threads that sleep on a condition until they
 * are kicked (new work), a time passes or they are stopped, and work with
 * the mutex released. The mutex is also the owner's lock for what its
 * threads share (queues, stats); `stop` may be read under it. Used by the
 * agent's sync, cache and power threads and the coordinator's blob
 * replication; the job queue below by the RPC server's sender and the
 * coordinator's answers built off its loop. */
#pragma once
#include <pthread.h>
#include <stdbool.h>

#define BM_WORKER_THREADS_MAX 16u

struct bm_worker;
typedef void (*bm_worker_fn)(void *arg, unsigned index);

struct bm_worker_thread {
	struct bm_worker *w;
	bm_worker_fn fn;
	void *arg;
	unsigned index;
	pthread_t th;
};

struct bm_worker {
	pthread_mutex_t mu;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC: a wall clock step moves no wait */
	bool stop, kicked;
	unsigned started;
	char name[11]; /* its threads are NAME/INDEX (top -H, perf); "": the process's */
	struct bm_worker_thread t[BM_WORKER_THREADS_MAX];
};

void bm_worker_init(struct bm_worker *w);
/* Name the threads started from now on NAME/INDEX (up to 10 characters
 * of name are kept). */
void bm_worker_name(struct bm_worker *w, const char *name);
/* Start n more threads running fn(arg, index), index counting from the
 * threads already started. Returns 0, or -EAGAIN (those started run on:
 * bm_worker_stop them). */
int bm_worker_start(struct bm_worker *w, unsigned n, bm_worker_fn fn, void *arg);
void bm_worker_lock(struct bm_worker *w);
void bm_worker_unlock(struct bm_worker *w);
/* Mutex held: wait until kicked or stopped, or ms passed (0: no limit);
 * the kick is consumed. Returns false once stopping. */
bool bm_worker_wait_locked(struct bm_worker *w, unsigned ms);
/* The same, taking the mutex. */
bool bm_worker_wait(struct bm_worker *w, unsigned ms);
/* Wait ms whatever kicks come (only a stop ends it early; a kick is kept
 * for the next wait). Returns false once stopping. */
bool bm_worker_sleep(struct bm_worker *w, unsigned ms);
/* New work: wake the threads. Mutex held (_locked) or not. */
void bm_worker_kick_locked(struct bm_worker *w);
void bm_worker_kick(struct bm_worker *w);
bool bm_worker_stopping(struct bm_worker *w);
/* Mutex held: make every wait return false from now on, wake them. */
void bm_worker_cut_locked(struct bm_worker *w);
/* Cut, then join every thread. */
void bm_worker_stop(struct bm_worker *w);
/* After bm_worker_stop (or when none started). */
void bm_worker_fini(struct bm_worker *w);

/* A queue of jobs one thread runs in order: what a caller that must not
 * wait (the coordinator's loop) hands off. A job is embedded in what it
 * needs; its fn may free it. */
struct bm_job {
	void (*fn)(struct bm_job *j);
	struct bm_job *next;
};
struct bm_jobq {            /* zeroed before bm_jobq_start */
	struct bm_worker w; /* its mutex guards the queue and running */
	struct bm_job *head, **tail;
	bool running;
};
/* Start its thread, named NAME/0. Returns 0 or -EAGAIN. */
int bm_jobq_start(struct bm_jobq *q, const char *name);
/* Queue fn(j); with the queue not running, run it here, now. Any thread. */
void bm_jobq_push(struct bm_jobq *q, struct bm_job *j, void (*fn)(struct bm_job *j));
/* Run what is queued, then stop its thread (jobs pushed from then on run
 * in their caller). */
void bm_jobq_stop(struct bm_jobq *q);
