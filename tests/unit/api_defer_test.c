/* Answers built off the loop (api_defer.c): in order, on a thread of their
 * own; a stop answers what is queued; stopped, a job runs at once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "api_priv.h"

#define JOBS 100

struct job {
	struct api_job job;
	int n;
	pthread_t ran_on;
};

static int order[JOBS + 1], done;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void
job_fn(struct api_job *j)
{
	struct job *x = (struct job *)j;

	x->ran_on = pthread_self();
	pthread_mutex_lock(&mu);
	order[done++] = x->n;
	pthread_mutex_unlock(&mu);
}

static void
test_in_order_elsewhere_and_drained(void **state)
{
	static struct job v[JOBS + 1];
	struct api a = { 0 };

	(void)state;
	assert_int_equal(api_defer_start(&a), 0);
	for (int i = 0; i < JOBS; i++) {
		v[i].n = i;
		api_defer(&a, &v[i].job, job_fn);
	}
	api_defer_stop(&a); /* answers all that is queued */
	assert_int_equal(done, JOBS);
	for (int i = 0; i < JOBS; i++) {
		assert_int_equal(order[i], i);
		assert_false(pthread_equal(v[i].ran_on, pthread_self()));
	}
	assert_null(a.defer);
	v[JOBS].n = JOBS;
	api_defer(&a, &v[JOBS].job, job_fn); /* stopped: here, now */
	assert_int_equal(done, JOBS + 1);
	assert_true(pthread_equal(v[JOBS].ran_on, pthread_self()));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_elsewhere_and_drained),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
