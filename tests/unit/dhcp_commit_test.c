/* The DHCP loop's commit of a burst: every lease change and event of the
 * burst saved in one batch, or, when the batch cannot even begin (an
 * injected failure), nothing saved, the burst's bindings forgotten, and no
 * batch aborted (there is none: aborting one was a crash). */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dhcp_commit.h"
#include "rackdb.h"
#include "test_tmp.h"

#define NOW 1700000000000ull

struct fx {
	char dir[PATH_MAX];
	struct rackdb *db;
	struct lease_table *leases;
	struct dhcp_pending p[2];
};

static void
bind_lease(struct fx *f, unsigned i, uint32_t ip)
{
	struct dhcp_decision *d = &f->p[i].d;

	memset(d, 0, offsetof(struct dhcp_decision, reply));
	d->mac[0] = 0x52, d->mac[5] = (uint8_t)(i + 1);
	d->lease_op = DHCP_LEASE_SAVE;
	d->lease.key.len = 7;
	d->lease.key.b[0] = 1;
	memcpy(d->lease.key.b + 1, d->mac, 6);
	memcpy(d->lease.mac, d->mac, 6);
	d->lease.ip = ip;
	d->lease.expires_ms = NOW + 3600000;
	d->lease.state = LEASE_BOUND;
	d->known = true;
	snprintf(d->note, sizeof(d->note), "REQUEST -> ACK");
	/* The server core binds in memory before the commit. */
	assert_int_equal(lease_put(f->leases, &d->lease), 0);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	th_tmpdir(f->dir, "dhcp-commit");
	assert_int_equal(rackdb_open(f->dir, &f->db), 0);
	assert_non_null(f->leases = lease_table_new(64));
	bind_lease(f, 0, 0x0a0c0064);
	bind_lease(f, 1, 0x0a0c0065);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	lease_table_free(f->leases);
	rackdb_close(f->db);
	th_rmtree(f->dir);
	free(f);
	return 0;
}

static void
count_lease(void *arg, const struct lease *l)
{
	(void)l;
	(*(unsigned *)arg)++;
}

static unsigned
stored_leases(struct fx *f)
{
	unsigned n = 0;
	assert_int_equal(rackdb_leases_load(f->db, count_lease, &n), 0);
	return n;
}

static void
test_saved(void **state)
{
	struct fx *f = *state;
	struct rackdb_stats st;

	assert_int_equal(dhcp_commit(f->db, f->leases, "rack12", f->p, 2, NOW), 0);
	assert_int_equal(stored_leases(f), 2);
	assert_int_equal(rackdb_stats_get(f->db, &st), 0);
	assert_int_equal(st.events, 2); /* each known machine's exchange traced */
	assert_non_null(lease_by_ip(f->leases, 0x0a0c0064, NOW));
}

static void
test_begin_fails(void **state)
{
	struct fx *f = *state;
	struct rackdb_stats st;

	rackdb_fail_begins(f->db, 1, -EIO);
	assert_int_equal(dhcp_commit(f->db, f->leases, "rack12", f->p, 2, NOW), -EIO);
	/* Nothing saved, nothing held in memory: the clients ask again. */
	assert_int_equal(stored_leases(f), 0);
	assert_int_equal(rackdb_stats_get(f->db, &st), 0);
	assert_int_equal(st.events, 0);
	assert_null(lease_by_ip(f->leases, 0x0a0c0064, NOW));
	assert_null(lease_by_ip(f->leases, 0x0a0c0065, NOW));
	/* The store works again: the retried burst is saved. */
	bind_lease(f, 0, 0x0a0c0064);
	assert_int_equal(dhcp_commit(f->db, f->leases, "rack12", f->p, 1, NOW), 0);
	assert_int_equal(stored_leases(f), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_saved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_begin_fails, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
