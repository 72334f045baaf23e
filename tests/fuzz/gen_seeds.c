/* Writes the binary seeds of the `command` fuzz corpus into a folder:
 *   build/bin/fuzz_gen_seeds tests/fuzz/corpus/command
 * and with --rackview or --auth, those of those targets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/auth.h"
#include "bm/fleet.h"
#include "bm/pki.h"

static void
write_cmd(const char *dir, const char *name, const Bm__Command *cmd)
{
	char path[4096];
	size_t n = bm__command__get_packed_size(cmd);
	uint8_t *buf = malloc(n + 1);
	FILE *f;

	bm__command__pack(cmd, buf);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")) || fwrite(buf, 1, n, f) != n)
		exit(1);
	fclose(f);
	free(buf);
}

static void
apply_seed(const char *dir, const char *name, const char *yaml)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	struct bm_problems p;
	struct bm_fleet fl;

	bm_problems_init(&p);
	if (bm_fleet_parse(yaml, strlen(yaml), &fl, &p) != 0)
		exit(1);
	cmd.op_case = BM__COMMAND__OP_APPLY;
	cmd.apply = fl.fleet;
	write_cmd(dir, name, &cmd);
	bm_fleet_fini(&fl);
	bm_problems_fini(&p);
}

/* A packed fleet: the rackview corpus (what an agent stores from sync);
 * its first image staged on `staged` (n of them). */
static void
fleet_seed(const char *dir, const char *name, const char *yaml, char **staged, size_t n_staged)
{
	struct bm_problems p;
	struct bm_fleet fl;
	char path[4096];
	uint8_t *buf;
	size_t n;
	FILE *f;

	bm_problems_init(&p);
	if (bm_fleet_parse(yaml, strlen(yaml), &fl, &p) != 0)
		exit(1);
	if (n_staged && fl.fleet->n_images) {
		fl.fleet->images[0]->staged = staged;
		fl.fleet->images[0]->n_staged = n_staged;
	}
	buf = malloc(bm__fleet__get_packed_size(fl.fleet) + 1);
	n = bm__fleet__pack(fl.fleet, buf);
	if (n_staged && fl.fleet->n_images) { /* not the parser's to free */
		fl.fleet->images[0]->staged = NULL;
		fl.fleet->images[0]->n_staged = 0;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")) || fwrite(buf, 1, n, f) != n)
		exit(1);
	fclose(f);
	free(buf);
	bm_fleet_fini(&fl);
	bm_problems_fini(&p);
}

static void
ops_seeds(const char *dir)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	Bm__ReimageRequest q = BM__REIMAGE_REQUEST__INIT;
	Bm__AgentInfo info = BM__AGENT_INFO__INIT;
	Bm__AgentEvents ev = BM__AGENT_EVENTS__INIT;
	Bm__Event e = BM__EVENT__INIT, *ep = &e;
	char *targets[] = { "rack12" };
	uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0, 1 };

	q.targets = targets;
	q.n_targets = 1;
	q.batch = 1;
	cmd.op_case = BM__COMMAND__OP_REIMAGE;
	cmd.reimage = &q;
	write_cmd(dir, "reimage_rack", &cmd);
	info.id = "a1";
	info.rack = "rack12";
	cmd.op_case = BM__COMMAND__OP_AGENT_REGISTER;
	cmd.agent_register = &info;
	write_cmd(dir, "agent_register", &cmd);
	e.seq = 1;
	e.kind = BM__EVENT_KIND__EVENT_CALLBACK;
	e.mac.data = mac;
	e.mac.len = 6;
	e.detail = "state=done";
	ev.agent_id = "a1";
	ev.events = &ep;
	ev.n_events = 1;
	cmd.op_case = BM__COMMAND__OP_AGENT_EVENTS;
	cmd.agent_events = &ev;
	write_cmd(dir, "agent_events", &cmd);
	cmd.op_case = BM__COMMAND__OP_OP_TICK;
	cmd.op_tick = 1;
	cmd.time_ms = 1u << 30;
	write_cmd(dir, "op_tick", &cmd);
	/* Audited writes: a note, and a machine with a sealed BMC password. */
	Bm__AuditEntry a = BM__AUDIT_ENTRY__INIT;
	Bm__Machine m = BM__MACHINE__INIT;
	uint8_t sealed[40] = { 1, 2, 3 }, mac9[6] = { 0x52, 0x54, 0, 0x12, 0, 9 };
	a.who = "operator alice (admin)";
	a.peer = "10.0.0.5:4000";
	a.what = "apply";
	a.outcome = "denied: apply needs role admin, you are viewer";
	cmd.audit = &a;
	cmd.op_case = BM__COMMAND__OP_AUDIT_ONLY;
	cmd.audit_only = 1;
	write_cmd(dir, "audit_only", &cmd);
	m.name = "r12n09";
	m.rack = "rack12";
	m.mac = (ProtobufCBinaryData){ 6, mac9 };
	m.bmc = "ipmi://admin@10.12.1.9";
	m.bmc_sealed = (ProtobufCBinaryData){ sizeof(sealed), sealed };
	a.what = "machine add";
	a.outcome = "";
	cmd.op_case = BM__COMMAND__OP_CREATE_MACHINE;
	cmd.create_machine = &m;
	write_cmd(dir, "create_machine_sealed", &cmd);
	/* bmctl machine power of a machine the base fleet has. */
	Bm__PowerRequest pw = BM__POWER_REQUEST__INIT;
	pw.machine = "r12n01";
	pw.action = "off";
	a.what = "machine power";
	cmd.op_case = BM__COMMAND__OP_POWER;
	cmd.power = &pw;
	write_cmd(dir, "machine_power", &cmd);
	/* bmctl image stage, and an agent serving its site's peers. */
	Bm__ImageStage st = BM__IMAGE_STAGE__INIT;
	st.image = "k";
	st.target = "fra1";
	a.what = "image stage";
	cmd.op_case = BM__COMMAND__OP_IMAGE_STAGE;
	cmd.image_stage = &st;
	write_cmd(dir, "image_stage", &cmd);
	Bm__AgentInfo ai = BM__AGENT_INFO__INIT;
	ai.id = "0123456789abcdef";
	ai.rack = "rack12";
	ai.peer_url = "http://10.91.0.11:8080";
	cmd.audit = NULL;
	cmd.op_case = BM__COMMAND__OP_AGENT_REGISTER;
	cmd.agent_register = &ai;
	write_cmd(dir, "agent_register_peer", &cmd);
}

static void
write_bytes(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")) || fwrite(p, 1, n, f) != n)
		exit(1);
	fclose(f);
}

/* The `auth` corpus: tokens and a certificate of a CA made here (the fuzz
 * target trusts another, made at its start). */
static int
auth_seeds(const char *out)
{
	char dir[] = "/tmp/bm-seeds-XXXXXX", sub[256], c[300], k[300], err[256];
	struct bm_pki_request q = { .kind = BM_KIND_OPERATOR, .name = "op", .role = BM_ROLE_ADMIN };
	struct bm_auth_client *cl;
	struct bm_auth_token t;
	uint8_t buf[4096];
	size_t n;

	if (!mkdtemp(dir))
		return 1;
	snprintf(sub, sizeof(sub), "%s/ca", dir);
	snprintf(c, sizeof(c), "%s/op.crt", sub);
	snprintf(k, sizeof(k), "%s/op.key", sub);
	if (bm_pki_init(sub, err, sizeof(err)) < 0 || bm_pki_issue(sub, &q, err, sizeof(err)) < 0 ||
	    bm_auth_client_load(c, k, &cl, err, sizeof(err)) < 0 ||
	    bm_auth_client_token(cl, 1800000000000ull, &t) < 0)
		return 1;
	n = bm__auth__pack(&t.a, buf);
	write_bytes(out, "token_of_another_ca", buf, n);
	write_bytes(out, "cert_der", t.a.cert.data, t.a.cert.len);
	t.a.signature.len /= 2;
	n = bm__auth__pack(&t.a, buf);
	write_bytes(out, "token_short_signature", buf, n);
	t.a.cert.len = 40;
	n = bm__auth__pack(&t.a, buf);
	write_bytes(out, "token_truncated_cert", buf, n);
	bm_auth_client_free(cl);
	return 0;
}

int
main(int argc, char **argv)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	Bm__ObjectRef ref = BM__OBJECT_REF__INIT;
	Bm__Machine m = BM__MACHINE__INIT;
	Bm__Image im = BM__IMAGE__INIT;
	uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0, 9 }, sha[32] = { 0x9f, 0x86 };

	if (argc == 3 && !strcmp(argv[1], "--auth"))
		return auth_seeds(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "--rackview")) {
		fleet_seed(
		    argv[2], "two_racks",
		    "sites: [{name: s}]\n"
		    "racks: [{name: r1, site: s, subnet: 10.11.0.0/24, gateway: 10.11.0.1,"
		    " pool: 10.11.0.100-10.11.0.150}, {name: r2, site: s, subnet: 10.12.0.0/24}]\n"
		    "images: [{name: k, sha256: "
		    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}]\n"
		    "profiles: [{name: p, kernel: k, cmdline: 'ip={{ip}} cb={{callback_url}}',"
		    " templates: {user-data: 'h: {{hostname}}'}}]\n"
		    "machines: [{name: m1, rack: r1, mac: '52:54:00:11:00:01', ip: 10.11.0.11,"
		    " profile: p, netboot: true}, {name: m2, rack: r2, mac: "
		    "'52:54:00:12:00:01'}]\n",
		    NULL, 0);
		char *staged[] = { "rack/r2", "site/s", "label/gpu=a100", "site/", "label/x" };
		fleet_seed(argv[2], "staged",
		           "sites: [{name: s}]\n"
		           "racks: [{name: r1, site: s, subnet: 10.11.0.0/24}]\n"
		           "images: [{name: k, sha256: "
		           "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}]\n"
		           "machines: [{name: m1, rack: r1, mac: '52:54:00:11:00:01',"
		           " labels: {gpu: a100}}]\n",
		           staged, 5);
		return 0;
	}
	if (argc != 2)
		return 2;
	ops_seeds(argv[1]);
	apply_seed(
	    argv[1], "apply_new_machine",
	    "machines: [{name: r12n02, rack: rack12, mac: '52:54:00:12:00:02', ip: 10.12.0.12,"
	    " profile: tiny, labels: {role: gpu}}]");
	apply_seed(argv[1], "apply_dup_mac",
	           "machines: [{name: x, rack: rack12, mac: '52:54:00:12:00:01'}]");
	apply_seed(argv[1], "apply_rack_renumber",
	           "racks: [{name: rack12, site: fra1, subnet: 10.99.0.0/24}]");
	apply_seed(
	    argv[1], "apply_everything",
	    "sites: [{name: ams1, labels: {a: b}}]\n"
	    "racks: [{name: rack21, site: ams1, subnet: 10.21.0.0/16, dns: [10.21.0.1],"
	    " pool: 10.21.1.1-10.21.1.9}]\n"
	    "images: [{name: i, sha256: "
	    "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752,"
	    " url: 'http://x/i'}]\n"
	    "profiles: [{name: p2, kernel: k, initrd: i, cmdline: '{{hostname}}',"
	    " templates: {user-data: '{{ip}}'}}]\n"
	    "machines: [{name: r21n01, rack: rack21, mac: '52:54:00:21:00:01', profile: p2}]\n");
	ref.kind = BM__KIND__KIND_RACK;
	ref.name = "rack12";
	cmd.op_case = BM__COMMAND__OP_DELETE;
	cmd.delete_ = &ref;
	write_cmd(argv[1], "delete_rack_in_use", &cmd);
	ref.kind = BM__KIND__KIND_MACHINE;
	ref.name = "r12n01";
	write_cmd(argv[1], "delete_machine", &cmd);
	m.name = "r12n09";
	m.rack = "rack12";
	m.mac.data = mac;
	m.mac.len = 6;
	cmd.op_case = BM__COMMAND__OP_CREATE_MACHINE;
	cmd.create_machine = &m;
	write_cmd(argv[1], "create_machine", &cmd);
	im.name = "k";
	im.sha256.data = sha;
	im.sha256.len = 32;
	im.size = 4;
	cmd.op_case = BM__COMMAND__OP_IMAGE_STORED;
	cmd.image_stored = &im;
	write_cmd(argv[1], "image_stored_mismatch", &cmd);
	return 0;
}
