/* The shared pieces of lib/: the worker pattern (a kick wakes a wait and
 * is consumed; a sleep outlasts kicks; a stop ends every wait and joins
 * every thread, each with its index), the job queue (in order, on its
 * thread; a stop runs what is queued; stopped, a job runs at once), the
 * bounded writer (no room: -ENOSPC
 * and nothing moved) and the LMDB error mapping both stores use. */
#define _GNU_SOURCE /* pthread_getname_np */
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "bm/mdb.h"
#include "bm/util.h"
#include "bm/worker.h"
#include "bm/wr.h"

struct pool {
	struct bm_worker w;
	unsigned jobs, done, seen_index[4];
	char names[4][16];
};

static void
pool_main(void *arg, unsigned index)
{
	struct pool *p = arg;

	bm_worker_lock(&p->w);
	p->seen_index[index]++;
	pthread_getname_np(pthread_self(), p->names[index], sizeof(p->names[index]));
	while (!p->w.stop) {
		if (!p->jobs) {
			bm_worker_wait_locked(&p->w, 0);
			continue;
		}
		p->jobs--;
		p->done++;
	}
	bm_worker_unlock(&p->w);
}

static void
test_pool(void **state)
{
	struct pool p = { 0 };

	(void)state;
	bm_worker_init(&p.w);
	bm_worker_name(&p.w, "pool-of-four"); /* cut to 10 */
	assert_int_equal(bm_worker_start(&p.w, 4, pool_main, &p), 0);
	for (int i = 0; i < 100; i++) {
		bm_worker_lock(&p.w);
		p.jobs++;
		bm_worker_kick_locked(&p.w);
		bm_worker_unlock(&p.w);
	}
	for (int i = 0; i < 1000; i++) { /* every job taken */
		bm_worker_lock(&p.w);
		unsigned left = p.jobs;
		bm_worker_unlock(&p.w);
		if (!left)
			break;
		usleep(1000);
	}
	bm_worker_stop(&p.w);
	assert_int_equal(p.done, 100);
	for (int i = 0; i < 4; i++) {
		char want[16];
		assert_int_equal(p.seen_index[i], 1);
		snprintf(want, sizeof(want), "pool-of-fo/%d", i); /* top -H shows which */
		assert_string_equal(p.names[i], want);
	}
	bm_worker_fini(&p.w);
}

static void
test_wait_sleep_stop(void **state)
{
	struct bm_worker w;
	uint64_t t0;

	(void)state;
	bm_worker_init(&w);
	bm_worker_kick(&w);
	assert_true(bm_worker_wait(&w, 60000)); /* the kick came first: at once */
	t0 = bm_mono_ms();
	assert_true(bm_worker_wait(&w, 50)); /* consumed: waits out its time */
	assert_true(bm_mono_ms() - t0 >= 50);
	bm_worker_kick(&w);
	t0 = bm_mono_ms();
	assert_true(bm_worker_sleep(&w, 50)); /* a kick does not end a sleep */
	assert_true(bm_mono_ms() - t0 >= 50);
	assert_true(bm_worker_wait(&w, 60000)); /* and is kept for the next wait */
	bm_worker_stop(&w);
	assert_true(bm_worker_stopping(&w));
	assert_false(bm_worker_wait(&w, 60000));
	assert_false(bm_worker_sleep(&w, 60000));
	bm_worker_fini(&w);
}

static void
test_writer(void **state)
{
	uint8_t b[7] = { 0 };
	struct bm_wr w;

	(void)state;
	bm_wr_init(&w, b, sizeof(b));
	assert_int_equal(bm_wr_be16(&w, 0x0102), 0);
	assert_int_equal(bm_wr_be32(&w, 0x03040506), 0);
	assert_int_equal(bm_wr_be16(&w, 0x0708), -ENOSPC); /* one byte left */
	assert_int_equal(w.left, 1);
	assert_int_equal(bm_wr_u8(&w, 0x07), 0);
	assert_int_equal(bm_wr_u8(&w, 0x08), -ENOSPC);
	assert_memory_equal(b, ((uint8_t[]){ 1, 2, 3, 4, 5, 6, 7 }), 7);
	uint8_t k[8];
	bm_put_be64(k, 0x1122334455667788ull);
	assert_true(bm_get_be64(k) == 0x1122334455667788ull);
	assert_int_equal(k[0], 0x11);
}

#define JOBS 100

struct job {
	struct bm_job job;
	int n;
	pthread_t ran_on;
};

static int job_order[JOBS + 1], jobs_done;

static void
job_fn(struct bm_job *j)
{
	struct job *x = bm_container_of(j, struct job, job);

	x->ran_on = pthread_self();
	job_order[jobs_done++] = x->n; /* one thread runs them: no lock */
}

static void
test_jobq(void **state)
{
	static struct job v[JOBS + 1];
	struct bm_jobq q = { 0 };

	(void)state;
	assert_int_equal(bm_jobq_start(&q, "jobs"), 0);
	for (int i = 0; i < JOBS; i++) {
		v[i].n = i;
		bm_jobq_push(&q, &v[i].job, job_fn);
	}
	bm_jobq_stop(&q); /* runs all that is queued, then joins */
	assert_int_equal(jobs_done, JOBS);
	for (int i = 0; i < JOBS; i++) {
		assert_int_equal(job_order[i], i);
		assert_false(pthread_equal(v[i].ran_on, pthread_self()));
	}
	v[JOBS].n = JOBS;
	bm_jobq_push(&q, &v[JOBS].job, job_fn); /* stopped: here, now */
	assert_int_equal(jobs_done, JOBS + 1);
	assert_true(pthread_equal(v[JOBS].ran_on, pthread_self()));
}

static void
test_mdb_errno(void **state)
{
	(void)state;
	assert_int_equal(bm_mdb_errno(MDB_SUCCESS), 0);
	assert_int_equal(bm_mdb_errno(MDB_NOTFOUND), -ENOENT);
	assert_int_equal(bm_mdb_errno(MDB_KEYEXIST), -EEXIST);
	assert_int_equal(bm_mdb_errno(MDB_MAP_FULL), -ENOSPC);
	assert_int_equal(bm_mdb_errno(MDB_READERS_FULL), -EAGAIN);
	assert_int_equal(bm_mdb_errno(MDB_BAD_VALSIZE), -EINVAL);
	assert_int_equal(bm_mdb_errno(MDB_CORRUPTED), -EIO);
	assert_int_equal(bm_mdb_errno(ENOSPC), -ENOSPC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool),      cmocka_unit_test(test_wait_sleep_stop),
		cmocka_unit_test(test_writer),    cmocka_unit_test(test_jobq),
		cmocka_unit_test(test_mdb_errno),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
