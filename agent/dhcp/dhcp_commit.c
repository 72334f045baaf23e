#include "dhcp_commit.h"

#include <stdio.h>

#include "rackdb.h"

/* The firmware refused what it fetched: the machine's boot failed, said
 * as the installer would (a failed callback), since nothing on the machine
 * runs to say it. */
static int
refused(struct rackdb_batch *b, const char *rack, const struct dhcp_decision *d, uint64_t now)
{
	char why[300];
	snprintf(why, sizeof(why),
	         "state=failed reason=its firmware did not run %s (fetched, then it asked for its "
	         "next boot option): with Secure Boot on, firmware refuses unsigned loaders; give "
	         "its profile loader: grub",
	         d->refused);
	return rackdb_event_add(b, BM__EVENT_KIND__EVENT_CALLBACK, d->mac, d->lease.ip, now, rack,
	                        why);
}

static int
persist(struct rackdb_batch *b, const char *rack, const struct dhcp_decision *d, uint64_t now)
{
	int r = 0;

	if (d->lease_op == DHCP_LEASE_SAVE)
		r = rackdb_lease_put(b, &d->lease);
	if (r == 0 && d->lease_op == DHCP_LEASE_DELETE)
		r = rackdb_lease_del(b, d->lease.ip);
	if (r == 0 && d->discovered)
		r = rackdb_event_add(b, BM__EVENT_KIND__EVENT_DISCOVERED, d->mac, d->lease.ip, now,
		                     rack, "dhcp");
	if (r == 0 && d->known)
		r = rackdb_event_add(b, BM__EVENT_KIND__EVENT_DHCP, d->mac, d->lease.ip, now, rack,
		                     d->note);
	if (r == 0 && d->known && *d->refused)
		r = refused(b, rack, d, now);
	return r;
}

int
dhcp_commit(struct rackdb *db, struct lease_table *leases, const char *rack,
            const struct dhcp_pending *p, size_t n, uint64_t now_ms)
{
	struct rackdb_batch *b;
	int r;

	if ((r = rackdb_batch_begin(db, &b)) == 0) {
		for (size_t i = 0; i < n && r == 0; i++)
			r = persist(b, rack, &p[i].d, now_ms);
		if (r == 0)
			r = rackdb_batch_commit(b);
		else
			rackdb_batch_abort(b);
	}
	if (r < 0) /* nothing saved: forget what the burst bound */
		for (size_t i = 0; i < n; i++)
			if (p[i].d.lease_op == DHCP_LEASE_SAVE)
				lease_drop_ip(leases, p[i].d.lease.ip);
	return r;
}
