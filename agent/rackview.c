#include "rackview.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t
mac_hash(const uint8_t mac[6])
{
	uint64_t h = 0;
	for (int i = 0; i < 6; i++)
		h = (h << 8) | mac[i];
	return (size_t)((h * 0x9e3779b97f4a7c15ull) >> 24);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void
rack_view_free(struct rack_view *v)
{
	if (!v)
		return;
	free(v->hosts);
	free(v->slot);
	free(v->ips);
	free(v);
}

static void
set_segment(struct rack_view *v, const Bm__Rack *r)
{
	snprintf(v->rack, sizeof(v->rack), "%s", r->name);
	v->network = r->network;
	v->prefix_len = r->prefix_len;
	v->gateway = r->gateway;
	v->n_dns = r->n_dns > 4 ? 4 : (unsigned)r->n_dns;
	if (v->n_dns)
		memcpy(v->dns, r->dns, v->n_dns * sizeof(uint32_t));
	v->pool_start = r->pool_start;
	v->pool_end = r->pool_end;
}

static void
add_host(struct rack_view *v, const Bm__Machine *m)
{
	struct rack_host *h = &v->hosts[v->n_hosts];
	size_t i = mac_hash(m->mac.data) & v->mask;

	memcpy(h->mac, m->mac.data, 6);
	snprintf(h->name, sizeof(h->name), "%s", m->name);
	h->ip = m->ip;
	h->netboot = m->netboot || m->state == BM__MACHINE_STATE__STATE_REIMAGING ||
	             m->state == BM__MACHINE_STATE__STATE_NETBOOTING ||
	             m->state == BM__MACHINE_STATE__STATE_INSTALLING;
	while (v->slot[i])
		i = (i + 1) & v->mask;
	v->slot[i] = (uint32_t)(v->n_hosts + 1);
	if (m->ip)
		v->ips[v->n_ips++] = m->ip;
	v->n_hosts++;
}

int
rack_view_from_fleet(const Bm__Fleet *f, const char *rack, struct rack_view **ret,
                     struct bm_problems *p)
{
	const Bm__Rack *r = NULL;
	struct rack_view *v;
	size_t n = 0, cap = 16;

	for (size_t i = 0; i < f->n_racks && !r; i++)
		if (!strcmp(f->racks[i]->name, rack))
			r = f->racks[i];
	if (!r) {
		bm_problems_add(p, BM__KIND__KIND_RACK, rack, 0, "",
		                "rack %s is not in the fleet file", rack);
		return -ENOENT;
	}
	for (size_t i = 0; i < f->n_machines; i++)
		n += !strcmp(f->machines[i]->rack, rack);
	while (cap < 2 * n)
		cap *= 2;
	if (!(v = calloc(1, sizeof(*v))) || !(v->hosts = calloc(n + 1, sizeof(*v->hosts))) ||
	    !(v->slot = calloc(cap, sizeof(*v->slot))) ||
	    !(v->ips = calloc(n + 1, sizeof(*v->ips)))) {
		rack_view_free(v);
		return -ENOMEM;
	}
	v->mask = cap - 1;
	set_segment(v, r);
	for (size_t i = 0; i < f->n_machines; i++)
		if (!strcmp(f->machines[i]->rack, rack))
			add_host(v, f->machines[i]);
	qsort(v->ips, v->n_ips, sizeof(uint32_t), cmp_u32);
	*ret = v;
	return 0;
}

int
rack_view_load_file(const char *path, const char *rack, struct rack_view **ret,
                    struct bm_problems *p)
{
	struct bm_fleet fl = { 0 };
	int r = bm_fleet_load_checked(path, &fl, p);

	if (r == 0 && bm_fleet_check_refs(fl.fleet, p) > 0)
		r = -EINVAL;
	if (r == 0)
		r = rack_view_from_fleet(fl.fleet, rack, ret, p) == -ENOENT ? -EINVAL : 0;
	if (r == 0 || r == -EINVAL)
		bm_fleet_fini(&fl);
	return r;
}

int
rack_view_host_cb(void *arg, const uint8_t mac[6], struct dhcp_host *ret)
{
	const struct rack_view *v = arg;
	size_t i = mac_hash(mac) & v->mask;

	for (; v->slot[i]; i = (i + 1) & v->mask) {
		const struct rack_host *h = &v->hosts[v->slot[i] - 1];
		if (!memcmp(h->mac, mac, 6)) {
			snprintf(ret->name, sizeof(ret->name), "%s", h->name);
			ret->ip = h->ip;
			ret->netboot = h->netboot;
			return 0;
		}
	}
	return -ENOENT;
}

bool
rack_view_reserved_cb(void *arg, uint32_t ip)
{
	const struct rack_view *v = arg;
	return bsearch(&ip, v->ips, v->n_ips, sizeof(uint32_t), cmp_u32) != NULL;
}
