#include "rackview.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/stage.h"

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
	if (v->fleet)
		bm__fleet__free_unpacked(v->fleet, NULL);
	free(v);
}

static void
set_segment(struct rack_view *v, const Bm__Rack *r)
{
	snprintf(v->rack, sizeof(v->rack), "%s", r->name);
	snprintf(v->site, sizeof(v->site), "%s", r->site);
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
	h->m = m;
	/* Marked for netboot exactly while its operation wants the installer:
	 * powered by the operation (not while it waits its turn) and not yet
	 * installed, deployed or failed. */
	h->netboot =
	    m->netboot || (m->started_ms && (m->state == BM__MACHINE_STATE__STATE_REIMAGING ||
	                                     m->state == BM__MACHINE_STATE__STATE_NETBOOTING ||
	                                     m->state == BM__MACHINE_STATE__STATE_INSTALLING));
	while (v->slot[i])
		i = (i + 1) & v->mask;
	v->slot[i] = (uint32_t)(v->n_hosts + 1);
	if (m->ip)
		v->ips[v->n_ips++] = m->ip;
	v->n_hosts++;
}

const char *
rack_host_profile_name(const Bm__Machine *m)
{
	return m->boot_profile && *m->boot_profile ? m->boot_profile : m->profile;
}

static bool
named(char **names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

/* An image of the rack's part: one its profiles name, or staged on it. */
static bool
image_wanted(const Bm__Image *im, const Bm__Fleet *part)
{
	const Bm__Rack *r = part->racks[0];

	for (size_t j = 0; j < part->n_profiles; j++)
		if (!strcmp(im->name, part->profiles[j]->kernel) ||
		    !strcmp(im->name, part->profiles[j]->initrd) ||
		    !strcmp(im->name, part->profiles[j]->disk_image))
			return true;
	for (size_t j = 0; j < im->n_staged; j++)
		if (bm_stage_matches(im->staged[j], r->name, r->site, part->machines,
		                     part->n_machines))
			return true;
	return false;
}

/* The rack's part of f, as a shallow Fleet whose arrays the caller frees:
 * pointers into f, which the view then copies whole. */
static int
select_part(const Bm__Fleet *f, const Bm__Rack *r, Bm__Fleet *part, char **pnames)
{
	size_t np = 0;

	if (!(part->racks = calloc(1, sizeof(*part->racks))) ||
	    !(part->sites = calloc(1, sizeof(*part->sites))) ||
	    !(part->machines = calloc(f->n_machines + 1, sizeof(*part->machines))) ||
	    !(part->profiles = calloc(f->n_profiles + 1, sizeof(*part->profiles))) ||
	    !(part->images = calloc(f->n_images + 1, sizeof(*part->images))))
		return -ENOMEM;
	part->racks[part->n_racks++] = (Bm__Rack *)r;
	for (size_t i = 0; i < f->n_sites && !part->n_sites; i++) /* the first, if named twice */
		if (!strcmp(f->sites[i]->name, r->site))
			part->sites[part->n_sites++] = f->sites[i];
	for (size_t i = 0; i < f->n_machines; i++) {
		Bm__Machine *m = f->machines[i];
		if (strcmp(m->rack, r->name))
			continue;
		part->machines[part->n_machines++] = m;
		const char *p = rack_host_profile_name(m);
		if (*p && !named(pnames, np, p))
			pnames[np++] = (char *)p;
	}
	for (size_t i = 0; i < f->n_profiles; i++) {
		Bm__Profile *p = f->profiles[i];
		if (named(pnames, np, p->name))
			part->profiles[part->n_profiles++] = p;
	}
	for (size_t i = 0; i < f->n_images; i++)
		if (image_wanted(f->images[i], part))
			part->images[part->n_images++] = f->images[i];
	return 0;
}

/* The arrays of a part select_part made (its messages are f's). */
static void
part_arrays_free(Bm__Fleet *part)
{
	free(part->racks);
	free(part->sites);
	free(part->machines);
	free(part->profiles);
	free(part->images);
}

/* An owned copy of the rack's part of f in v->fleet. */
static int
copy_part(struct rack_view *v, const Bm__Fleet *f, const Bm__Rack *r)
{
	Bm__Fleet part = BM__FLEET__INIT;
	char **pnames = calloc(f->n_machines + 1, sizeof(*pnames));
	uint8_t *buf = NULL;
	size_t len;
	int ret = pnames ? select_part(f, r, &part, pnames) : -ENOMEM;

	if (ret == 0 && !(buf = malloc((len = bm__fleet__get_packed_size(&part)) + 1)))
		ret = -ENOMEM;
	if (ret == 0 && !(v->fleet = bm__fleet__unpack(NULL, bm__fleet__pack(&part, buf), buf)))
		ret = -ENOMEM;
	free(buf);
	part_arrays_free(&part);
	free(pnames);
	return ret;
}

/* Keep of arr's n messages those in keep (a subsequence of them, in
 * order), freeing the others and arr; keep becomes the array. */
static void
keep_only(ProtobufCMessage **arr, size_t n, ProtobufCMessage **keep, size_t n_keep)
{
	size_t j = 0;

	for (size_t i = 0; i < n; i++)
		if (j < n_keep && arr[i] == keep[j])
			j++;
		else
			protobuf_c_message_free_unpacked(arr[i], NULL);
	free(arr);
}

#define KEEP_PART(f, part, field)                                                                  \
	do {                                                                                       \
		keep_only((ProtobufCMessage **)(f)->field, (f)->n_##field,                         \
		          (ProtobufCMessage **)(part).field, (part).n_##field);                    \
		(f)->field = (part).field;                                                         \
		(f)->n_##field = (part).n_##field;                                                 \
	} while (0)

/* f (unpacked message by message, owned) cut to the rack's part in place:
 * what copy_part makes, without copying (the stored view, on every
 * revision the sync thread stores). */
static int
take_part(Bm__Fleet *f, const Bm__Rack *r)
{
	Bm__Fleet part = BM__FLEET__INIT;
	char **pnames = calloc(f->n_machines + 1, sizeof(*pnames));
	int ret = pnames ? select_part(f, r, &part, pnames) : -ENOMEM;

	free(pnames);
	if (ret < 0) {
		part_arrays_free(&part);
		return ret;
	}
	KEEP_PART(f, part, sites);
	KEEP_PART(f, part, racks);
	KEEP_PART(f, part, images);
	KEEP_PART(f, part, profiles);
	KEEP_PART(f, part, machines);
	return 0;
}

static int
view_alloc(size_t n, struct rack_view **ret)
{
	struct rack_view *v;
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	if (!(v = calloc(1, sizeof(*v))) || !(v->hosts = calloc(n + 1, sizeof(*v->hosts))) ||
	    !(v->slot = calloc(cap, sizeof(*v->slot))) ||
	    !(v->ips = calloc(n + 1, sizeof(*v->ips)))) {
		rack_view_free(v);
		return -ENOMEM;
	}
	v->mask = cap - 1;
	*ret = v;
	return 0;
}

/* The rack named rack in f, or NULL (a problem added when p). */
static const Bm__Rack *
find_rack(const Bm__Fleet *f, const char *rack, struct bm_problems *p)
{
	for (size_t i = 0; i < f->n_racks; i++)
		if (!strcmp(f->racks[i]->name, rack))
			return f->racks[i];
	if (p)
		bm_problems_add(p, BM__KIND__KIND_RACK, rack, 0, "",
		                "rack %s is not in the fleet file", rack);
	return NULL;
}

/* v's segment, hosts and reservations from v->fleet; *ret = v. */
static int
view_index(struct rack_view *v, struct rack_view **ret)
{
	set_segment(v, v->fleet->racks[0]);
	for (size_t i = 0; i < v->fleet->n_machines; i++)
		if (v->fleet->machines[i]->mac.len == 6 &&
		    !rack_view_host(v, v->fleet->machines[i]->mac.data))
			add_host(v, v->fleet->machines[i]);
	qsort(v->ips, v->n_ips, sizeof(uint32_t), cmp_u32);
	*ret = v;
	return 0;
}

int
rack_view_from_fleet(const Bm__Fleet *f, const char *rack, struct rack_view **ret,
                     struct bm_problems *p)
{
	const Bm__Rack *r = find_rack(f, rack, p);
	struct rack_view *v;
	int e;

	if (!r)
		return -ENOENT;
	if ((e = view_alloc(f->n_machines, &v)) < 0)
		return e;
	if ((e = copy_part(v, f, r)) < 0) {
		rack_view_free(v);
		return e;
	}
	return view_index(v, ret);
}

int
rack_view_take(Bm__Fleet *f, const char *rack, struct rack_view **ret)
{
	const Bm__Rack *r = find_rack(f, rack, NULL);
	struct rack_view *v = NULL;
	int e = r ? view_alloc(f->n_machines, &v) : -ENOENT;

	if (e == 0 && (e = take_part(f, r)) == 0) {
		v->fleet = f;
		return view_index(v, ret);
	}
	bm__fleet__free_unpacked(f, NULL);
	rack_view_free(v);
	return e;
}

int
rack_view_empty(const char *rack, struct rack_view **ret)
{
	struct rack_view *v;
	int e;

	if ((e = view_alloc(0, &v)) < 0)
		return e;
	if (!(v->fleet = malloc(sizeof(*v->fleet)))) {
		rack_view_free(v);
		return -ENOMEM;
	}
	bm__fleet__init(v->fleet);
	snprintf(v->rack, sizeof(v->rack), "%s", rack);
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

const struct rack_host *
rack_view_host(const struct rack_view *v, const uint8_t mac[6])
{
	for (size_t i = mac_hash(mac) & v->mask; v->slot[i]; i = (i + 1) & v->mask)
		if (!memcmp(v->hosts[v->slot[i] - 1].mac, mac, 6))
			return &v->hosts[v->slot[i] - 1];
	return NULL;
}

const struct rack_host *
rack_view_host_by_ip(const struct rack_view *v, uint32_t ip)
{
	if (!ip)
		return NULL;
	for (size_t i = 0; i < v->n_hosts; i++)
		if (v->hosts[i].ip == ip)
			return &v->hosts[i];
	return NULL;
}

const Bm__Profile *
rack_view_profile(const struct rack_view *v, const char *name)
{
	for (size_t i = 0; i < v->fleet->n_profiles; i++)
		if (!strcmp(v->fleet->profiles[i]->name, name))
			return v->fleet->profiles[i];
	return NULL;
}

const Bm__Image *
rack_view_image(const struct rack_view *v, const char *name)
{
	for (size_t i = 0; i < v->fleet->n_images; i++)
		if (!strcmp(v->fleet->images[i]->name, name))
			return v->fleet->images[i];
	return NULL;
}

int
rack_view_host_cb(void *arg, const uint8_t mac[6], struct dhcp_host *ret)
{
	const struct rack_host *h = rack_view_host(arg, mac);

	if (!h)
		return -ENOENT;
	snprintf(ret->name, sizeof(ret->name), "%s", h->name);
	ret->ip = h->ip;
	ret->netboot = h->netboot;
	ret->local_boot = h->m->started_ms && h->m->state == BM__MACHINE_STATE__STATE_INSTALLED;
	const Bm__Profile *p = rack_view_profile(arg, rack_host_profile_name(h->m));
	ret->grub = p && !strcmp(p->loader, "grub");
	return 0;
}

bool
rack_view_reserved_cb(void *arg, uint32_t ip)
{
	const struct rack_view *v = arg;
	return bsearch(&ip, v->ips, v->n_ips, sizeof(uint32_t), cmp_u32) != NULL;
}
