/* Agents in the state machine: registration, outbox batches applied exactly
 * once by (agent, sequence), the per-MAC event history that `bmctl trace`
 * reads, machines discovered by their agents, and the lifecycle moves that
 * boot progress makes (reimaging -> netbooting -> installing -> deployed,
 * or failed). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/age.h"
#include "bm/fleet.h"
#include "bm/netaddr.h"
#include "bm/sha256.h"
#include "store_priv.h"
#include "bm/log.h"

#define EVENTS_PER_MAC_MAX 256u
#define EVENTS_PER_BATCH_MAX 4096u
#define CACHED_MAX 4096u
#define ROGUE_DHCP_MAX 16u /* other DHCP servers an agent reports (it keeps 8) */
#define EVENT_KEY_LEN 26u
#define PROGRESS_WRITE_MS 10000u
#define AGENTS_SEEN_MAX 4096u /* sightings in one AgentsSeen command */
/* An event stamped further ahead of the state machine's clock is given
 * that clock's time (an agent's clock wrong, or a forged time). */
#define EVENT_AHEAD_MAX_MS 60000u

#define S(x) BM__MACHINE_STATE__STATE_##x

static bool
id_valid(const char *id)
{
	return bm_name_valid(id);
}

static int
get_agent(struct apply_ctx *c, const char *id, Bm__AgentRecord **ret)
{
	return bm_mdb_get_msg(c->txn, c->s->dbi[DB_AGENTS], id, strlen(id),
	                      &bm__agent_record__descriptor, (ProtobufCMessage **)ret);
}

/* Write an agent's record if it differs from `old`. */
static int
put_agent(struct apply_ctx *c, Bm__AgentRecord *rec, const Bm__AgentRecord *old)
{
	int same = 0, r;

	rec->create_rev = old ? old->create_rev : c->rev;
	rec->mod_rev = old ? old->mod_rev : c->rev;
	if (old) {
		size_t la = bm__agent_record__get_packed_size(rec);
		size_t lb = bm__agent_record__get_packed_size(old);
		uint8_t *a = la == lb ? malloc(la + 1) : NULL, *b = a ? malloc(lb + 1) : NULL;
		if (la == lb && (!a || !b)) {
			free(a);
			return -ENOMEM;
		}
		if (a) {
			bm__agent_record__pack(rec, a);
			bm__agent_record__pack(old, b);
			same = !memcmp(a, b, la);
		}
		free(a);
		free(b);
	}
	if (same)
		return 0;
	rec->mod_rev = c->rev;
	if ((r = bm_mdb_put_msg(c->txn, c->s->dbi[DB_AGENTS], rec->id, strlen(rec->id),
	                        &rec->base)) < 0)
		return r;
	return st_change(c, BM__KIND__KIND_AGENT, rec->id, rec->info ? rec->info->rack : "", false);
}

int
st_apply_agent_register(struct apply_ctx *c, const Bm__AgentInfo *info)
{
	Bm__AgentRecord *old = NULL, rec = BM__AGENT_RECORD__INIT;
	int r;

	if (!info || !id_valid(info->id) || !bm_name_valid(info->rack))
		return st_refuse(c, BM__STATUS__STATUS_INVALID,
		                 "an agent needs an id and a valid rack name");
	if (info->n_cached > CACHED_MAX)
		return st_refuse(c, BM__STATUS__STATUS_INVALID, "more than %u cached images",
		                 CACHED_MAX);
	for (size_t i = 0; i < info->n_cached; i++)
		if (info->cached[i].len != BM_SHA256_LEN)
			return st_refuse(c, BM__STATUS__STATUS_INVALID,
			                 "cached image digests must be 32 bytes");
	if (info->n_rogue_dhcp > ROGUE_DHCP_MAX)
		return st_refuse(c, BM__STATUS__STATUS_INVALID, "more than %u rogue DHCP servers",
		                 ROGUE_DHCP_MAX);
	for (size_t i = 0; i < info->n_rogue_dhcp; i++)
		if (info->rogue_dhcp[i]->mac.len != 6 || strlen(info->rogue_dhcp[i]->iface) > 15)
			return st_refuse(
			    c, BM__STATUS__STATUS_INVALID,
			    "a rogue DHCP server needs a 6-byte MAC and an interface name");
	if (*info->peer_url &&
	    (!bm_http_base_ok(info->peer_url) || strlen(info->peer_url) >= STORE_PEER_URL_MAX))
		return st_refuse(c, BM__STATUS__STATUS_INVALID,
		                 "peer_url must be http://ADDRESS:PORT, under %u bytes",
		                 STORE_PEER_URL_MAX);
	if ((r = get_agent(c, info->id, &old)) < 0 && r != -ENOENT)
		return r;
	rec.id = info->id;
	rec.info = (Bm__AgentInfo *)info;
	rec.events_applied = old ? old->events_applied : 0;
	rec.registered_ms = old ? old->registered_ms : c->now;
	rec.last_seen_ms = c->now; /* registering is being seen */
	rec.revision = old ? old->revision : 0;
	r = put_agent(c, &rec, old);
	st_free(old);
	return r;
}

/* Sightings from the leader: each record's last_seen_ms and revision move
 * forward, in place (not versioned: no change, no revision, no watch). */
int
st_apply_agents_seen(struct apply_ctx *c, const Bm__AgentsSeen *seen)
{
	int r = 0;

	if (!seen || seen->n_seen > AGENTS_SEEN_MAX)
		return st_refuse(c, BM__STATUS__STATUS_INVALID, "at most %u sightings a command",
		                 AGENTS_SEEN_MAX);
	for (size_t i = 0; i < seen->n_seen && r == 0; i++) {
		const Bm__AgentSeen *e = seen->seen[i];
		Bm__AgentRecord *a = NULL;
		if (!id_valid(e->id) || (r = get_agent(c, e->id, &a)) == -ENOENT) {
			r = 0; /* deleted meanwhile, or never registered: nothing to note */
			continue;
		}
		if (r == 0 && e->last_seen_ms > a->last_seen_ms) {
			a->last_seen_ms = e->last_seen_ms;
			if (e->revision)
				a->revision = e->revision;
			r = bm_mdb_put_msg(c->txn, c->s->dbi[DB_AGENTS], a->id, strlen(a->id),
			                   &a->base);
		}
		st_free(a);
	}
	c->keep = true;
	return r;
}

void
store_rack_silence(const char *rack, Bm__AgentRecord *const *agents, size_t n, uint64_t now_ms,
                   char *buf, size_t len)
{
	uint64_t seen = 0;
	bool any = false;
	char age[24];

	for (size_t i = 0; i < n; i++) {
		const Bm__AgentRecord *a = agents[i];
		if (!a->info || strcmp(a->info->rack, rack))
			continue;
		any = true;
		if (a->last_seen_ms > seen)
			seen = a->last_seen_ms;
		if (a->registered_ms > seen)
			seen = a->registered_ms;
	}
	if (!any)
		snprintf(buf, len, "%s has no agent", rack);
	else if (now_ms > seen && now_ms - seen > STORE_AGENT_SILENT_MS)
		snprintf(buf, len, "%s's agent last seen %s ago", rack,
		         bm_age_format(now_ms - seen, age, sizeof(age)));
	else
		buf[0] = '\0';
}

/* ------------------------------------------------------------ history */

static void
event_key(uint8_t k[EVENT_KEY_LEN], const uint8_t mac[6], uint64_t time_ms, uint64_t rev,
          uint32_t i)
{
	memcpy(k, mac, 6);
	bm_put_be64(k + 6, time_ms);
	bm_put_be64(k + 14, rev);
	bm_put_be32(k + 22, i);
}

/* Keep the newest EVENTS_PER_MAC_MAX events of a MAC. */
static int
trim_history(struct apply_ctx *c, const uint8_t mac[6])
{
	MDB_cursor *cur;
	MDB_val k = { 6, (void *)mac }, v;
	size_t n = 0;
	int rc;

	if ((rc = mdb_cursor_open(c->txn, c->s->dbi[DB_EVENTS], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == MDB_SUCCESS && k.mv_size >= 6 && !memcmp(k.mv_data, mac, 6);
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		n++;
	k = (MDB_val){ 6, (void *)mac };
	for (rc = n > EVENTS_PER_MAC_MAX ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
	                                 : MDB_NOTFOUND;
	     rc == MDB_SUCCESS && n > EVENTS_PER_MAC_MAX; n--)
		if ((rc = mdb_cursor_del(cur, 0)) == MDB_SUCCESS)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* after a delete: the next */
	mdb_cursor_close(cur);
	return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? 0 : bm_mdb_errno(rc);
}

static int
record_event(struct apply_ctx *c, const Bm__AgentRecord *a, const Bm__Event *e, uint32_t i)
{
	Bm__Event copy = *e;
	uint8_t key[EVENT_KEY_LEN];
	int r;

	copy.agent = a->id;
	copy.rack = a->info ? a->info->rack : "";
	event_key(key, e->mac.data, e->time_ms, c->rev, i);
	if ((r = bm_mdb_put_msg(c->txn, c->s->dbi[DB_EVENTS], key, sizeof(key), &copy.base)) < 0)
		return r;
	return trim_history(c, e->mac.data);
}

/* ----------------------------------------------------------- machines */

/* An event of the coordinator's own in the machine's timeline. */
static int
timeline_note(struct apply_ctx *c, const Bm__Machine *m, Bm__EventKind kind, const char *detail)
{
	Bm__Event e = BM__EVENT__INIT;
	uint8_t key[EVENT_KEY_LEN];
	int r;

	e.time_ms = c->now;
	e.rack = m->rack;
	e.mac = m->mac;
	e.kind = kind;
	e.detail = (char *)detail;
	e.agent = "coordinator";
	event_key(key, m->mac.data, c->now, c->rev, 0x80000000u | (uint32_t)c->nchg);
	if ((r = bm_mdb_put_msg(c->txn, c->s->dbi[DB_EVENTS], key, sizeof(key), &e.base)) < 0)
		return r;
	return trim_history(c, m->mac.data);
}

int
st_get_machine(struct apply_ctx *c, const char *name, Bm__Machine **ret)
{
	return bm_mdb_get_msg(c->txn, c->s->dbi[DB_MACHINES], name, strlen(name),
	                      &bm__machine__descriptor, (ProtobufCMessage **)ret);
}

int
st_put_machine(struct apply_ctx *c, Bm__Machine *m, Bm__MachineState was)
{
	Bm__Machine *old = NULL;
	int r;

	m->mod_rev = c->rev;
	/* The operations' index moves from what the stored record had. */
	r = st_get_machine(c, m->name, &old);
	if ((r == 0 || r == -ENOENT) && (r = st_op_index_update(c, old, m)) == 0)
		r = bm_mdb_put_msg(c->txn, c->s->dbi[DB_MACHINES], m->name, strlen(m->name),
		                   &m->base);
	st_free(old);
	if (r < 0)
		return r;
	if ((r = st_change(c, BM__KIND__KIND_MACHINE, m->name, m->rack, false)) < 0)
		return r;
	if (m->state == was || m->mac.len != 6)
		return 0;
	/* The move itself goes into the machine's timeline. */
	char detail[320];
	snprintf(detail, sizeof(detail), "%s -> %s%s%s%s%s%s", bm_state_name(was),
	         bm_state_name(m->state), *m->operation ? " (" : "", m->operation,
	         *m->operation ? ")" : "", *m->reason ? ": " : "", m->reason);
	return timeline_note(c, m, BM__EVENT_KIND__EVENT_STATE, detail);
}

/* `bmctl machine power`: the request goes to the machine (its agent acts
 * on a new power_req_seq) and into its timeline. Refused while an
 * operation owns the machine. */
int
st_apply_power(struct apply_ctx *c, const Bm__PowerRequest *q, const char *who)
{
	static const char *const actions[] = { "on", "off", "cycle", "status", NULL };
	Bm__Machine *m = NULL;
	char detail[320];
	bool known = false;
	int r;

	for (size_t i = 0; q->action && actions[i]; i++)
		known = known || !strcmp(q->action, actions[i]);
	if (!known)
		return st_refuse(c, BM__STATUS__STATUS_INVALID,
		                 "machine power takes on, off, cycle or status, not %s",
		                 q->action ? q->action : "nothing");
	if (!q->machine || !bm_name_valid(q->machine))
		return st_refuse(c, BM__STATUS__STATUS_INVALID,
		                 "machine power needs a machine name");
	if ((r = bm_mdb_get_msg(c->txn, c->s->dbi[DB_MACHINES], q->machine, strlen(q->machine),
	                        &bm__machine__descriptor, (ProtobufCMessage **)&m)) == -ENOENT)
		return st_refuse(c, BM__STATUS__STATUS_NOT_FOUND, "no machine %s", q->machine);
	if (r < 0)
		return r;
	if (m->state == S(REIMAGING) || m->state == S(NETBOOTING) || m->state == S(INSTALLING) ||
	    m->state == S(INSTALLED)) {
		r = st_refuse(
		    c, BM__STATUS__STATUS_PRECONDITION,
		    "machine %s is %s by operation %s: cancel it first (bmctl op cancel %s)",
		    m->name, bm_state_name(m->state), m->operation, m->operation);
	} else if ((r = st_set_str(&m->power_req, q->action)) == 0) {
		m->power_req_seq = c->rev;
		m->power_req_ms = c->now;
		snprintf(detail, sizeof(detail), "power %s asked (req=%llu) by %s", q->action,
		         (unsigned long long)c->rev, who && *who ? who : "anyone");
		if ((r = st_put_machine(c, m, m->state)) == 0 && m->mac.len == 6)
			r = timeline_note(c, m, BM__EVENT_KIND__EVENT_POWER, detail);
	}
	st_free(m);
	return r;
}

/* Machines of the rack that discovery made (named <rack>-<mac in hex>)
 * and that are still `new`, counted up to `cap`. The names sort together
 * under the rack, so this walks those alone. */
static int
count_new(struct apply_ctx *c, const char *rack, uint64_t cap, uint64_t *ret)
{
	char prefix[64];
	MDB_cursor *cur;
	MDB_val k = { strlen(rack), (void *)rack }, v;
	size_t plen = (size_t)snprintf(prefix, sizeof(prefix), "%.50s-", rack);
	int rc;

	*ret = 0;
	if ((rc = mdb_cursor_open(c->txn, c->s->dbi[DB_RACK_MACHINES], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	v = (MDB_val){ plen, prefix };
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
	     rc == MDB_SUCCESS && *ret < cap && v.mv_size >= plen &&
	     !memcmp(v.mv_data, prefix, plen);
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		Bm__Machine *m = NULL;
		if (v.mv_size != plen + 12 ||
		    bm_mdb_get_msg(c->txn, c->s->dbi[DB_MACHINES], v.mv_data, v.mv_size,
		                   &bm__machine__descriptor, (ProtobufCMessage **)&m) < 0)
			continue;
		*ret += m->state == S(NEW);
		st_free(m);
	}
	mdb_cursor_close(cur);
	return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? 0 : bm_mdb_errno(rc);
}

/* The rack holds its cap of discovered machines: count the MAC, refused. */
static int
discovery_full(struct apply_ctx *c, const char *rack, const MDB_val *rack_rec, bool *ret)
{
	Bm__Rack *r = bm__rack__unpack(NULL, rack_rec->mv_size, rack_rec->mv_data);
	uint64_t cap = r && r->discovery_max ? r->discovery_max : BM_DISCOVERY_DEFAULT, n, refused;
	char key[80];
	int e;

	bm__rack__free_unpacked(r, NULL);
	*ret = false;
	if ((e = count_new(c, rack, cap, &n)) < 0 || n < cap)
		return e;
	*ret = true;
	snprintf(key, sizeof(key), "discoveries_refused/%s", rack);
	if ((e = bm_mdb_get_u64(c->txn, c->s->dbi[DB_META], key, &refused)) < 0 ||
	    (e = bm_mdb_put_u64(c->txn, c->s->dbi[DB_META], key, refused + 1)) < 0)
		return e;
	if ((refused & (refused + 1)) == 0) /* the 1st, 2nd, 4th, 8th, ...: logged */
		BM_WARN("store",
		        "discovery refused rack=%s reason=\"%llu machines in state new, its "
		        "discovery_max\" refused=%llu",
		        rack, (unsigned long long)cap, (unsigned long long)refused + 1);
	return 0;
}

/* An unknown MAC seen by an agent becomes a machine in state `new` in that
 * agent's rack, named <rack>-<mac in hex>, while the rack holds fewer than
 * its discovery_max of them. */
static int
discover(struct apply_ctx *c, const char *rack, const uint8_t mac[6])
{
	Bm__Machine m = BM__MACHINE__INIT;
	char name[64];
	MDB_val rk = { strlen(rack), (void *)rack }, v, mk = { 6, (void *)mac };
	bool full;
	int rc;

	if ((rc = mdb_get(c->txn, c->s->dbi[DB_RACKS], &rk, &v)) != MDB_SUCCESS)
		return rc == MDB_NOTFOUND ? 0 : bm_mdb_errno(rc); /* a rack not (yet) declared */
	snprintf(name, sizeof(name), "%.50s-%02x%02x%02x%02x%02x%02x", rack, mac[0], mac[1], mac[2],
	         mac[3], mac[4], mac[5]);
	MDB_val nk = { strlen(name), name };
	if ((rc = mdb_get(c->txn, c->s->dbi[DB_MACHINES], &nk, &v)) != MDB_NOTFOUND)
		return rc == MDB_SUCCESS ? 0 : bm_mdb_errno(rc);
	if ((rc = mdb_get(c->txn, c->s->dbi[DB_RACKS], &rk, &v)) != MDB_SUCCESS ||
	    (rc = discovery_full(c, rack, &v, &full)) < 0 || full)
		return rc < 0 ? rc : bm_mdb_errno(rc);
	m.name = name;
	m.rack = (char *)rack;
	m.mac.data = (uint8_t *)mac;
	m.mac.len = 6;
	m.profile = "";
	m.bmc = "";
	m.state = S(NEW);
	m.create_rev = c->rev;
	if ((rc = mdb_put(c->txn, c->s->dbi[DB_MAC_INDEX], &mk, &nk, MDB_NOOVERWRITE)) !=
	        MDB_SUCCESS ||
	    (rc = mdb_put(c->txn, c->s->dbi[DB_RACK_MACHINES], &rk, &nk, MDB_NODUPDATA)) !=
	        MDB_SUCCESS)
		return bm_mdb_errno(rc);
	return st_put_machine(c, &m, S(NEW)); /* its discovery event is the trace */
}

/* The state a machine moves to on event e, or its own. Only a machine its
 * operation has powered moves: one waiting for its turn, or not in an
 * operation, only has the event recorded. */
static Bm__MachineState
next_state(const Bm__Machine *m, const Bm__Event *e)
{
	Bm__MachineState st = m->state;
	bool booting = st == S(REIMAGING) || st == S(NETBOOTING);
	bool writing = booting || st == S(INSTALLING);
	const char *d = e->detail ? e->detail : "";

	if (!m->started_ms || !*m->operation)
		return st;
	switch (e->kind) {
	case BM__EVENT_KIND__EVENT_DHCP:
	case BM__EVENT_KIND__EVENT_TFTP:
	case BM__EVENT_KIND__EVENT_HTTP: return st == S(REIMAGING) ? S(NETBOOTING) : st;
	case BM__EVENT_KIND__EVENT_POWER: /* its operation's action, not a `machine power` */
		return st == S(REIMAGING) && !strncmp(d, "failed seq=", 11) ? S(FAILED) : st;
	case BM__EVENT_KIND__EVENT_CALLBACK:
		if (!strncmp(d, "state=started", 13) || !strncmp(d, "state=installing", 16))
			return booting ? S(INSTALLING) : st;
		if (!strncmp(d, "state=done", 10))
			return writing ? S(DEPLOYED) : st;
		if (!strncmp(d, "state=installed", 15))
			return writing ? S(INSTALLED) : st;
		if (!strncmp(d, "state=booted", 12))
			return st == S(INSTALLED) ? S(DEPLOYED) : st;
		if (!strncmp(d, "state=failed", 12))
			return writing || st == S(INSTALLED) ? S(FAILED) : st;
		return st;
	default: return st;
	}
}

/* What the machine's reason says after event e moved it. */
static const char *
next_reason(const Bm__Event *e, Bm__MachineState st)
{
	const char *d = e->detail ? e->detail : "";
	switch (st) {
	case S(NETBOOTING): return "booting from the network";
	case S(INSTALLING): return "installing";
	case S(INSTALLED): return "installed; waiting for its OS to boot from disk and call back";
	case S(DEPLOYED): return "";
	case S(FAILED):
		if (e->kind == BM__EVENT_KIND__EVENT_POWER) { /* "failed seq=N: why" */
			const char *colon = strstr(d, ": ");
			return colon ? colon + 2 : d;
		}
		if (e->kind == BM__EVENT_KIND__EVENT_CALLBACK) { /* "state=failed ... reason=why" */
			const char *why = strstr(d, " reason=");
			return why && why[8] ? why + 8
			                     : "the installer called back failed, with no reason";
		}
		return d;
	default: return NULL;
	}
}

/* The OS a "booted" callback names: "state=booted [k=v ...] os=ID
 * VERSION" with the kernel as kernel=; os is last, as it holds a space. */
static int
booted_os(Bm__Machine *m, const char *d)
{
	const char *os = strstr(d, " os="), *k = strstr(d, " kernel=");
	char kernel[128] = "";
	int r;

	if (k && (!os || k < os))
		snprintf(kernel, sizeof(kernel), "%.*s", (int)strcspn(k + 8, " "), k + 8);
	if ((r = st_set_str(&m->os, os ? os + 4 : "")) < 0)
		return r;
	return st_set_str(&m->kernel, kernel);
}

/* The firmware a DHCP event shows, when the firmware itself asked and was
 * offered a program to boot ("DISCOVER arch=7 vendor=PXEClient:... ->
 * OFFER file=shimx64.efi"): not iPXE's own DHCP after it was chained
 * (user=iPXE), which would hide a UEFI HTTP boot, and not a UEFI firmware
 * sent on to its disk, which tries its PXE and its HTTP boot options in
 * turn. NULL if none, or the same as seen before. */
static const char *
seen_firmware(const Bm__Machine *m, const Bm__Event *e)
{
	const char *d = e->detail, *arch = strstr(d, " arch="), *fw;
	const char *vendor = strstr(d, " vendor=");

	const char *file = strstr(d, " file=");

	if (e->kind != BM__EVENT_KIND__EVENT_DHCP || !arch || !vendor || strstr(d, " user=iPXE") ||
	    !file || strstr(file, "local-disk") ||
	    (strncmp(vendor + 8, "PXEClient", 9) && strncmp(vendor + 8, "HTTPClient", 10)))
		return NULL;
	fw = bm_firmware_of_arch(strtol(arch + 6, NULL, 10));
	return fw && strcmp(fw, m->firmware_seen) ? fw : NULL;
}

static int
machine_event(struct apply_ctx *c, const Bm__AgentRecord *a, const Bm__Event *e)
{
	MDB_val k = { 6, e->mac.data }, v;
	Bm__Machine *m = NULL;
	Bm__MachineState st;
	const char *why;
	int rc, r = 0;

	rc = mdb_get(c->txn, c->s->dbi[DB_MAC_INDEX], &k, &v);
	if (rc == MDB_NOTFOUND)
		return e->kind == BM__EVENT_KIND__EVENT_DISCOVERED && a->info
		           ? discover(c, a->info->rack, e->mac.data)
		           : 0;
	if (rc != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	if ((r = bm_mdb_get_msg(c->txn, c->s->dbi[DB_MACHINES], v.mv_data, v.mv_size,
	                        &bm__machine__descriptor, (ProtobufCMessage **)&m)) < 0)
		return r;
	st = next_state(m, e);
	const char *fw = seen_firmware(m, e);
	if (fw && (r = st_set_str(&m->firmware_seen, fw)) < 0) {
		st_free(m);
		return r;
	}
	if (st != m->state) {
		Bm__MachineState was = m->state;
		m->state = st;
		if (((why = next_reason(e, st)) && (r = st_set_str(&m->reason, why)) < 0) ||
		    (st == S(DEPLOYED) && was == S(INSTALLED) &&
		     (r = booted_os(m, e->detail)) < 0)) {
			st_free(m);
			return r;
		}
		st_op_progress(c, m);
		r = st_put_machine(c, m, was);
		if (r == 0 && (st == BM__MACHINE_STATE__STATE_DEPLOYED ||
		               st == BM__MACHINE_STATE__STATE_FAILED))
			r = st_op_settle(c, m->operation);
	} else if (m->started_ms && *m->operation && c->now > m->progress_ms + PROGRESS_WRITE_MS &&
	           (m->state != S(INSTALLED) || e->kind == BM__EVENT_KIND__EVENT_CALLBACK)) {
		/* Progress without a new state (the kernel fetched, "installing"
		 * again): keeps the operation's timeout away, written at most
		 * every few seconds. An installed machine's DHCP and TFTP are
		 * not progress: only its OS's callback is. */
		st_op_progress(c, m);
		r = st_put_machine(c, m, m->state);
	} else if (fw) {
		r = st_put_machine(c, m, m->state);
	}
	st_free(m);
	return r;
}

/* Does event e concern the agent's own rack? A machine of another rack is
 * not its to report on (an unknown MAC is: it was seen there). */
static bool
of_agents_rack(struct apply_ctx *c, const Bm__AgentRecord *a, const Bm__Event *e)
{
	MDB_val k = { 6, e->mac.data }, v;
	Bm__Machine *m = NULL;
	bool ok = true;

	if (!a->info || mdb_get(c->txn, c->s->dbi[DB_MAC_INDEX], &k, &v) != MDB_SUCCESS)
		return true;
	if (bm_mdb_get_msg(c->txn, c->s->dbi[DB_MACHINES], v.mv_data, v.mv_size,
	                   &bm__machine__descriptor, (ProtobufCMessage **)&m) == 0) {
		ok = !strcmp(m->rack, a->info->rack);
		st_free(m);
	}
	return ok;
}

int
st_apply_agent_events(struct apply_ctx *c, const Bm__AgentEvents *ev)
{
	Bm__AgentRecord *a = NULL;
	uint64_t applied;
	int r;

	if (!ev || !id_valid(ev->agent_id))
		return st_refuse(c, BM__STATUS__STATUS_INVALID, "events need an agent id");
	if (ev->n_events > EVENTS_PER_BATCH_MAX)
		return st_refuse(c, BM__STATUS__STATUS_INVALID, "more than %u events in a batch",
		                 EVENTS_PER_BATCH_MAX);
	if ((r = get_agent(c, ev->agent_id, &a)) == -ENOENT)
		return st_refuse(c, BM__STATUS__STATUS_NOT_FOUND,
		                 "agent %s is not registered; register first", ev->agent_id);
	if (r < 0)
		return r;
	if (*ev->rack && a->info && strcmp(ev->rack, a->info->rack)) {
		r = st_refuse(c, BM__STATUS__STATUS_DENIED, "agent %s is of rack %s, not %s", a->id,
		              a->info->rack, ev->rack);
		st_free(a);
		return r;
	}
	applied = a->events_applied;
	for (size_t i = 0; i < ev->n_events && r == 0; i++) {
		Bm__Event e = *ev->events[i];
		if (e.seq <= applied)
			continue; /* applied before: a resent batch */
		if (e.seq - applied > BM_OUTBOX_EVENTS_MAX)
			continue; /* further than an outbox holds: forged; the rest apply */
		applied = e.seq;
		if (e.mac.len != 6 || !of_agents_rack(c, a, &e))
			continue;
		if (e.time_ms > c->now + EVENT_AHEAD_MAX_MS)
			e.time_ms = c->now; /* the agent's clock ahead: ours */
		if ((r = record_event(c, a, &e, (uint32_t)i)) == 0)
			r = machine_event(c, a, &e);
	}
	if (r == 0 && applied != a->events_applied) {
		Bm__AgentRecord rec = *a;
		rec.events_applied = applied;
		rec.last_seen_ms = c->now > a->last_seen_ms ? c->now : a->last_seen_ms;
		r = put_agent(c, &rec, a);
	}
	st_free(a);
	return r;
}
