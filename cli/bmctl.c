/* bmctl: the operator's CLI, a client of the coordinator's API and nothing
 * else. Global options may stand before or after the command. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bm/version.h"
#include "bmctl.h"

static const char usage_text[] =
    "usage: bmctl [--coordinator URL] [-o table|json] [--timeout SECONDS] [--linearizable]\n"
    "             [--ca FILE --cert FILE --key FILE]\n"
    "             COMMAND\n"
    "  apply -f FILE\n"
    "  get sites|racks|machines|profiles|images|agents [NAME] [--site S] [--rack R]\n"
    "      [--state ST] [-l key=value]...\n"
    "  describe site|rack|machine|profile|image NAME\n"
    "  delete site|rack|machine|profile|image|operation NAME\n"
    "  machine add NAME --rack R --mac MAC [--ip IP] [--profile P] [--bmc URL]\n"
    "      [--bmc-password-file FILE|-] [--netboot] [-l key=value]...\n"
    "  machine power NAME on|off|cycle|status [--timeout 90s]   through its agent and BMC;\n"
    "      waits for the outcome, exits 0 only when the BMC did it\n"
    "  image push NAME FILE\n"
    "  image stage|unstage NAME TARGET   (rack/R, site/S, label/K=V: cache it ahead)\n"
    "  status\n"
    "  agents [--rack R]        agents: rack, version, last seen, revision lag, cache\n"
    "  trace MACHINE|MAC        a machine's boot timeline as its agents reported it\n"
    "  reimage TARGET... [-l key=value] [--profile P] [--batch N] [--timeout 30m] [--wait]\n"
    "      [--canary N] [--max-failures K|P%]\n"
    "      TARGET: rack/NAME, site/NAME, machine/NAME or NAME; --wait follows it and\n"
    "      exits 0 only when every machine deployed. --canary: N machines first, the\n"
    "      rest once they all deployed; a canary failing, or K (P% of the machines)\n"
    "      failing, halts it: no new machine starts until op resume\n"
    "  op get [ID] | op watch ID | op cancel ID | op resume ID\n"
    "  cluster status | cluster add ID HOST:PORT | cluster remove ID | cluster transfer ID\n"
    "  pki init DIR | pki issue DIR KIND NAME [...] | pki revoke DIR NAME\n"
    "  audit [--since DURATION]  writes: when, who, from where, what, the outcome\n"
    "  --version\n"
    "The coordinator URL (a comma-separated list of a cluster's coordinators; a follower\n"
    "names the leader, and bmctl goes there) defaults to $BMCTL_COORDINATOR, else\n"
    "  " CTL_DEFAULT_URL ". Reads are answered by the node asked, at its applied\n"
    "revision; --linearizable sends them to the leader, after every acknowledged write.\n"
    "Exit status: 0 done, 1 refused or unreachable, 2 usage error.\n";

int
ctl_parse_duration(const char *s, uint64_t *ms)
{
	char *end;
	double v = strtod(s, &end);
	double mult = !*end || !strcmp(end, "s") ? 1000
	              : !strcmp(end, "m")        ? 60000
	              : !strcmp(end, "h")        ? 3600000
	                                         : -1;
	if (end == s || v <= 0 || mult < 0)
		return -1;
	*ms = (uint64_t)(v * mult);
	return 0;
}

int
ctl_usage_error(struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", c->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see %s --help)\n", c->prog);
	return CTL_EXIT_USAGE;
}

/* The line of the entry a problem names, found by kind and index when the
 * name there agrees; 0 when unknown. */
static uint32_t
entry_line(const struct bm_fleet *fl, const struct bm_problem *e)
{
	const Bm__Fleet *ft = fl ? fl->fleet : NULL;
	void **items = NULL;
	size_t n = 0;

	if (!ft)
		return 0;
	switch (e->kind) {
	case BM__KIND__KIND_SITE:
		n = ft->n_sites;
		items = (void **)ft->sites;
		break;
	case BM__KIND__KIND_RACK:
		n = ft->n_racks;
		items = (void **)ft->racks;
		break;
	case BM__KIND__KIND_IMAGE:
		n = ft->n_images;
		items = (void **)ft->images;
		break;
	case BM__KIND__KIND_PROFILE:
		n = ft->n_profiles;
		items = (void **)ft->profiles;
		break;
	case BM__KIND__KIND_MACHINE:
		n = ft->n_machines;
		items = (void **)ft->machines;
		break;
	default: return 0;
	}
	/* Every record's name is its first member. */
	if (e->index < n &&
	    !strcmp(*(char *const *)((const char *)items[e->index] + sizeof(ProtobufCMessage)),
	            e->name))
		return fl->lines[e->kind][e->index];
	return 0;
}

void
ctl_print_problems(FILE *f, const char *fname, const struct bm_fleet *fl, struct bm_problems *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (!p->v[i].line)
			p->v[i].line = entry_line(fl, &p->v[i]);
	bm_problems_print(f, fname, p);
}

static void
print_response_problems(const Bm__Response *resp, const char *fname, const struct bm_fleet *fl)
{
	struct bm_problems p;

	bm_problems_init(&p);
	for (size_t i = 0; i < resp->n_problems; i++) {
		const Bm__Problem *q = resp->problems[i];
		bm_problems_add(&p, q->kind, q->name, q->index, q->field, "%s", q->why);
	}
	ctl_print_problems(stderr, fname, fl, &p);
	bm_problems_fini(&p);
}

/* The coordinator URLs: a comma-separated list; the one that answered
 * last is tried first. */
static void
url_at(const struct ctl *c, unsigned i, char *buf, size_t len)
{
	const char *p = c->url;
	for (unsigned k = 0; k < i && p; k++)
		if ((p = strchr(p, ',')))
			p++;
	size_t n = p ? strcspn(p, ",") : 0;
	snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), p ? p : "");
}

static unsigned
url_count(const struct ctl *c)
{
	unsigned n = 1;
	for (const char *p = c->url; (p = strchr(p, ',')); p++)
		n++;
	return n;
}

static bool
not_leader(const Bm__Response *r)
{
	return r->status == BM__STATUS__STATUS_UNAVAILABLE && strstr(r->message, "not the leader");
}

/* The TLS credentials, loaded once: needed for a tls+tcp:// URL, and sent
 * whenever given. Returns 0, or -ENOKEY after saying why. */
static int
load_creds(struct ctl *c, const char *url)
{
	char err[256];

	if (c->creds)
		return 0;
	if (!c->tls.ca && !c->tls.cert && !c->tls.key && !bm_rpc_url_tls(url))
		return 0;
	if (!c->tls.ca || !c->tls.cert || !c->tls.key) {
		fprintf(
		    stderr,
		    "%s: %s needs --ca, --cert and --key (or BMCTL_CA, BMCTL_CERT, BMCTL_KEY)\n",
		    c->prog, url);
		return -ENOKEY;
	}
	if (bm_rpc_creds_new(&c->tls, false, &c->creds, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", c->prog, err);
		return -ENOKEY;
	}
	return 0;
}

/* One try: the redirect when a follower named the leader, else URL number
 * i. Returns 0, or -errno of the transport. */
static int
try_url(struct ctl *c, unsigned i, Bm__Request *req, int timeout_ms, Bm__Response **ret)
{
	char url[512];
	int r;

	if (c->redirect[0])
		snprintf(url, sizeof(url), "%s", c->redirect);
	else
		url_at(c, i, url, sizeof(url));
	if ((r = load_creds(c, url)) < 0)
		return r;
	/* With several URLs, connect first: a coordinator that is down is
	 * passed over at once rather than after the call's timeout. Over TLS
	 * too: a refused handshake is then said at once. */
	bool dial = url_count(c) > 1 || c->redirect[0] || bm_rpc_url_tls(url);
	if (!c->client && (r = dial ? bm_rpc_client_connect(url, c->creds, timeout_ms, &c->client)
	                            : bm_rpc_client_open(url, c->creds, &c->client)) < 0) {
		if (r == -EINVAL)
			fprintf(stderr, "%s: bad coordinator URL %s\n", c->prog, url);
		c->client = NULL;
		return r;
	}
	return bm_rpc_call(c->client, req, timeout_ms, ret);
}

/* A follower answered and named the leader: go there next (a few times at
 * most, so two nodes that disagree cannot bounce a call forever). */
static bool
follow_redirect(struct ctl *c, const Bm__Response *resp, unsigned *hops)
{
	if (!not_leader(resp) || !*resp->leader || *hops >= 3 ||
	    strlen(resp->leader) >= sizeof(c->redirect))
		return false;
	(*hops)++;
	snprintf(c->redirect, sizeof(c->redirect), "%s", resp->leader);
	bm_rpc_client_free(c->client);
	c->client = NULL;
	return true;
}

int
ctl_call_any(struct ctl *c, Bm__Request *req, Bm__Response **ret_resp)
{
	/* ~15 s of rounds without a leader: elections (1-2 s each at
	 * bmcoord's default) that fail several times. With several coordinators, a dead one must
	 * not hold the call: each try is bounded, then the next URL. */
	unsigned n = url_count(c), tries = n > 1 ? 150 * n : 1, hops = 0;
	int timeout = n > 1 && c->timeout_ms > 10000 ? 10000 : c->timeout_ms, r = -EIO;
	char url[512];

	req->linearizable = c->linearizable;
	for (unsigned t = 0; t < tries;) {
		Bm__Response *resp = NULL;
		r = try_url(c, c->url_index, req, timeout, &resp);
		if (r == 0 && follow_redirect(c, resp, &hops)) {
			bm__response__free_unpacked(resp, NULL);
			continue;
		}
		if (r == 0 && (!not_leader(resp) || t + 1 == tries)) {
			*ret_resp = resp;
			return CTL_EXIT_OK;
		}
		if (resp)
			bm__response__free_unpacked(resp, NULL);
		if (r == -EINVAL)
			break;
		if (r == -ENOKEY) /* said already */
			return CTL_EXIT_REFUSED;
		bm_rpc_client_free(c->client); /* the next coordinator */
		c->client = NULL;
		if (c->redirect[0]) { /* the leader named was not there: the list again */
			c->redirect[0] = '\0';
			continue;
		}
		t++;
		c->url_index = (c->url_index + 1) % n;
		if (c->url_index == 0 && n > 1)
			usleep(100 * 1000); /* a round without a leader: an election */
	}
	url_at(c, c->url_index, url, sizeof(url));
	fprintf(stderr, "%s: coordinator at %s: %s\n", c->prog, url,
	        r == -ETIMEDOUT ? "no answer (is bmcoord running there?)"
	        : r == -EACCES
	            ? "TLS handshake refused (a certificate not of the same CA, expired or "
	              "revoked, on one side or the other, or a coordinator certificate that does "
	              "not name this address)"
	        : r == -ECONNRESET && bm_rpc_url_tls(url)
	            ? "the connection closed during the TLS handshake (is the coordinator on TLS, "
	              "and is our certificate of its CA, in date and not revoked?)"
	            : strerror(-r));
	return CTL_EXIT_REFUSED;
}

/* The body an OK answer to a request carries, when bmctl reads one
 * (NOT_SET: bmctl reads only the status and revision). */
static Bm__Response__BodyCase
answer_body(Bm__Request__BodyCase q)
{
	switch (q) {
	case BM__REQUEST__BODY_GET: return BM__RESPONSE__BODY_OBJECT;
	case BM__REQUEST__BODY_LIST: return BM__RESPONSE__BODY_LIST;
	case BM__REQUEST__BODY_STATUS: return BM__RESPONSE__BODY_STATUS_RESULT;
	case BM__REQUEST__BODY_TRACE: return BM__RESPONSE__BODY_TRACE;
	case BM__REQUEST__BODY_AUDIT: return BM__RESPONSE__BODY_AUDIT;
	case BM__REQUEST__BODY_REIMAGE:
	case BM__REQUEST__BODY_OP: return BM__RESPONSE__BODY_OP;
	case BM__REQUEST__BODY_CLUSTER: return BM__RESPONSE__BODY_CLUSTER;
	case BM__REQUEST__BODY_BLOB_BEGIN: return BM__RESPONSE__BODY_BLOB;
	default: return BM__RESPONSE__BODY__NOT_SET;
	}
}

int
ctl_bad_answer(struct ctl *c, Bm__Response *resp, const char *what)
{
	fprintf(stderr, "%s: the coordinator's answer is not what was asked for (%s)\n", c->prog,
	        what);
	bm__response__free_unpacked(resp, NULL);
	return CTL_EXIT_REFUSED;
}

int
ctl_call(struct ctl *c, Bm__Request *req, Bm__Response **ret_resp, const char *fname,
         const struct bm_fleet *fl)
{
	Bm__Response__BodyCase want = answer_body(req->body_case);
	Bm__Response *resp;
	int r;

	if ((r = ctl_call_any(c, req, &resp)) != CTL_EXIT_OK)
		return r;
	if (resp->status != BM__STATUS__STATUS_OK) {
		fprintf(stderr, "%s: %s: %s\n", c->prog, bm_status_name(resp->status),
		        resp->message);
		print_response_problems(resp, fname, fl);
		bm__response__free_unpacked(resp, NULL);
		return CTL_EXIT_REFUSED;
	}
	if (want != BM__RESPONSE__BODY__NOT_SET && resp->body_case != want)
		return ctl_bad_answer(c, resp, "no result of the request's kind");
	*ret_resp = resp;
	return CTL_EXIT_OK;
}

int
ctl_parse_label(const char *kv, size_t *n, void ***entries, const ProtobufCMessageDescriptor *d)
{
	const char *eq = strchr(kv, '=');
	char key[128];

	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key))
		return -EINVAL;
	snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
	return bm_map_set(n, entries, d, key, eq + 1);
}

/* Take the global options out of argv wherever they stand. Returns 0 or
 * CTL_EXIT_USAGE. */
static int
global_options(struct ctl *c, int *argc, char **argv)
{
	const char *cmd = NULL;
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i], *val = NULL;
		/* reimage and machine power have their own --timeout (a
		 * duration); before the command word, --timeout is the RPC's. */
		bool rpc_timeout = !cmd || (strcmp(cmd, "reimage") && strcmp(cmd, "machine"));
		int takes = 0;
		if (!strcmp(a, "--coordinator") || !strcmp(a, "-o") || !strcmp(a, "--output") ||
		    (!strcmp(a, "--timeout") && rpc_timeout) || !strcmp(a, "--ca") ||
		    !strcmp(a, "--cert") || !strcmp(a, "--key"))
			takes = 1;
		else if (!strncmp(a, "--coordinator=", 14) || !strncmp(a, "--output=", 9) ||
		         (!strncmp(a, "--timeout=", 10) && rpc_timeout))
			val = strchr(a, '=') + 1;
		else if (!strncmp(a, "-o", 2) && a[2])
			val = a + 2;
		if (!cmd && !strcmp(a, "--linearizable")) {
			c->linearizable = true;
			continue;
		}
		if (!takes && !val) {
			if (!cmd && a[0] != '-')
				cmd = a;
			argv[out++] = argv[i];
			continue;
		}
		if (takes) {
			if (i + 1 >= *argc)
				return ctl_usage_error(c, "%s needs a value", a);
			val = argv[++i];
		}
		if (a[1] == 'o' || !strncmp(a, "--output", 8)) {
			if (strcmp(val, "json") && strcmp(val, "table"))
				return ctl_usage_error(c, "-o takes table or json, not %s", val);
			c->json = !strcmp(val, "json");
		} else if (!strncmp(a, "--timeout", 9)) {
			char *end;
			double s = strtod(val, &end);
			if (*end || s <= 0 || s > 86400)
				return ctl_usage_error(c, "--timeout takes seconds, not %s", val);
			c->timeout_ms = (int)(s * 1000);
		} else if (!strcmp(a, "--ca")) {
			c->tls.ca = val;
		} else if (!strcmp(a, "--cert")) {
			c->tls.cert = val;
		} else if (!strcmp(a, "--key")) {
			c->tls.key = val;
		} else {
			c->url = val;
		}
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct ctl *, int, char **);
} commands[] = {
	{ "apply", cmd_apply },     { "get", cmd_get },         { "describe", cmd_describe },
	{ "delete", cmd_delete },   { "machine", cmd_machine }, { "image", cmd_image },
	{ "status", cmd_status },   { "agents", cmd_agents },   { "trace", cmd_trace },
	{ "reimage", cmd_reimage }, { "op", cmd_op },           { "cluster", cmd_cluster },
	{ "pki", cmd_pki },         { "audit", cmd_audit },
};

int
main(int argc, char **argv)
{
	static char outbuf[1 << 20];
	struct ctl c = { .url = getenv("BMCTL_COORDINATOR"),
		         .timeout_ms = 30000,
		         .prog = "bmctl",
		         .tls = { getenv("BMCTL_CA"), getenv("BMCTL_CERT"), getenv("BMCTL_KEY"),
		                  NULL } };
	int r;

	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	c.tls.ca = c.tls.ca && *c.tls.ca ? c.tls.ca : NULL; /* set but empty: not given */
	c.tls.cert = c.tls.cert && *c.tls.cert ? c.tls.cert : NULL;
	c.tls.key = c.tls.key && *c.tls.key ? c.tls.key : NULL;
	if (!c.url || !*c.url)
		c.url = CTL_DEFAULT_URL;
	if ((r = global_options(&c, &argc, argv)) != 0)
		return r;
	if (argc >= 2 && !strcmp(argv[1], "--version")) {
		printf("bmctl %s\n", BM_VERSION);
		return CTL_EXIT_OK;
	}
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name)) {
			r = commands[i].fn(&c, argc - 1, argv + 1);
			bm_rpc_client_free(c.client);
			bm_rpc_creds_free(c.creds);
			fflush(stdout);
			return r;
		}
	return ctl_usage_error(&c, "unknown command %s", argv[1]);
}
