/* bmctl reimage / op: start an operation, show it, follow it, cancel it.
 * Following polls the coordinator four times a second; on a terminal it redraws
 * one progress line, otherwise it prints a line whenever the counts move. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bm/netaddr.h"
#include "bm/util.h"
#include "bmctl.h"

#define WATCH_POLL_MS 250u

static const char *
op_state_name(Bm__OpState s)
{
	switch (s) {
	case BM__OP_STATE__OP_RUNNING: return "running";
	case BM__OP_STATE__OP_DONE: return "done";
	case BM__OP_STATE__OP_FAILED: return "failed";
	case BM__OP_STATE__OP_CANCELLED: return "cancelled";
	case BM__OP_STATE__OP_HALTED: return "halted";
	default: return "?";
	}
}

struct counts {
	unsigned queued, reimaging, netbooting, installing, installed, deployed, failed, ready,
	    total;
};

static void
count(const Bm__OpResult *r, struct counts *k)
{
	const Bm__Operation *op = r->n_operations ? r->operations[0] : NULL;

	memset(k, 0, sizeof(*k));
	for (size_t i = 0; i < r->n_machines; i++) {
		const Bm__Machine *m = r->machines[i];
		bool mine = op && !strcmp(m->operation, op->name);
		switch (m->state) {
		case BM__MACHINE_STATE__STATE_REIMAGING:
			if (m->started_ms)
				k->reimaging++;
			else
				k->queued++;
			break;
		case BM__MACHINE_STATE__STATE_NETBOOTING: k->netbooting++; break;
		case BM__MACHINE_STATE__STATE_INSTALLING: k->installing++; break;
		case BM__MACHINE_STATE__STATE_INSTALLED: k->installed++; break;
		case BM__MACHINE_STATE__STATE_DEPLOYED: k->deployed += mine; break;
		case BM__MACHINE_STATE__STATE_FAILED: k->failed += mine; break;
		default: k->ready++; break;
		}
	}
	k->total = op ? (unsigned)op->n_machines : 0;
}

static void
counts_text(const struct counts *k, char *buf, size_t len)
{
	snprintf(
	    buf, len,
	    "queued %u  reimaging %u  netbooting %u  installing %u  installed %u  deployed %u  "
	    "failed %u",
	    k->queued, k->reimaging, k->netbooting, k->installing, k->installed, k->deployed,
	    k->failed);
}

/* Its canary, failure limit and halt, when it has them. */
static void
print_rollout(const Bm__Operation *op)
{
	if (op->canary)
		printf("  canary: %u machines, %s\n", op->canary,
		       op->canary_passed ? "passed" : "not yet deployed");
	if (op->max_failures_pct)
		printf("  max-failures: %u%% (%u machines)\n", op->max_failures_pct,
		       op->max_failures);
	else if (op->max_failures)
		printf("  max-failures: %u\n", op->max_failures);
	if (op->taking)
		printf("  taking its machines: %u of %zu checked, %u taken\n", op->checked,
		       op->n_machines, op->taken);
	if (op->refused)
		printf("  refused: %s\n", op->halt_reason);
	else if (op->state == BM__OP_STATE__OP_HALTED)
		printf("  halted: %s\n", op->halt_reason);
	else if (*op->halt_reason)
		printf("  halted, then resumed: %s\n", op->halt_reason);
}

static void
print_op(struct ctl *c, const Bm__OpResult *r)
{
	char mac[BM_MAC_STR], line[256];
	struct counts k;

	if (!r->n_operations)
		return;
	const Bm__Operation *op = r->operations[0];
	if (c->json) {
		struct bm_json j;
		bm_json_init(&j, stdout, true);
		bm_json_obj_begin(&j);
		bm_json_kstr(&j, "name", op->name);
		bm_json_kstr(&j, "state", op_state_name(op->state));
		bm_json_kstr(&j, "selector", op->selector);
		bm_json_kstr(&j, "profile", op->profile);
		bm_json_ku64(&j, "batch", op->batch);
		bm_json_ku64(&j, "canary", op->canary);
		bm_json_ku64(&j, "max_failures", op->max_failures);
		bm_json_kstr(&j, "halt_reason", op->halt_reason);
		bm_json_ku64(&j, "timeout_ms", op->timeout_ms);
		bm_json_ku64(&j, "created_ms", op->created_ms);
		bm_json_ku64(&j, "finished_ms", op->finished_ms);
		bm_json_key(&j, "machines");
		bm_json_arr_begin(&j);
		for (size_t i = 0; i < r->n_machines; i++) {
			const Bm__Machine *m = r->machines[i];
			bm_json_obj_begin(&j);
			bm_json_kstr(&j, "name", m->name);
			bm_json_kstr(&j, "rack", m->rack);
			bm_json_kstr(&j, "state", bm_state_name(m->state));
			bm_json_kstr(&j, "reason", m->reason);
			bm_json_obj_end(&j);
		}
		bm_json_arr_end(&j);
		bm_json_key(&j, "notes");
		bm_json_arr_begin(&j);
		for (size_t i = 0; i < r->n_notes; i++)
			bm_json_str(&j, r->notes[i]);
		bm_json_arr_end(&j);
		bm_json_obj_end(&j);
		fputc('\n', stdout);
		return;
	}
	count(r, &k);
	counts_text(&k, line, sizeof(line));
	printf("%s  %s  %s\n  %s\n", op->name, op_state_name(op->state), op->selector, line);
	print_rollout(op);
	for (size_t i = 0; i < r->n_notes; i++)
		printf("  note: %s\n", r->notes[i]);
	for (size_t i = 0; i < r->n_machines; i++) {
		const Bm__Machine *m = r->machines[i];
		printf("  %-20s %-10s %-17s %-11s %s\n", m->name, m->rack,
		       m->mac.len == 6 ? bm_mac_format(m->mac.data, mac) : "-",
		       bm_state_name(m->state), *m->reason ? m->reason : "");
	}
}

/* 1..UINT32_MAX. */
static int
parse_count(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end || v > UINT32_MAX)
		return -1;
	*ret = (uint32_t)v;
	return 0;
}

/* "K" (at least 1) or "P%" (1-100). */
static int
parse_failures(const char *s, Bm__ReimageRequest *q)
{
	char num[16];
	size_t n = strlen(s);
	uint32_t v;

	if (n && s[n - 1] == '%') {
		if (n - 1 >= sizeof(num))
			return -1;
		memcpy(num, s, n - 1);
		num[n - 1] = '\0';
		if (parse_count(num, &v) < 0 || !v || v > 100)
			return -1;
		q->max_failures_pct = v;
		q->max_failures = 0;
		return 0;
	}
	if (parse_count(s, &v) < 0 || !v)
		return -1;
	q->max_failures = v;
	q->max_failures_pct = 0;
	return 0;
}

/* The one operation an answer about an operation names, or NULL. */
static const Bm__Operation *
one_op(const Bm__Response *resp)
{
	return resp->op && resp->op->n_operations == 1 ? resp->op->operations[0] : NULL;
}

static int
op_call(struct ctl *c, Bm__OpRequest__Action action, const char *name, Bm__Response **ret)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__OpRequest q = BM__OP_REQUEST__INIT;
	int r;

	q.action = action;
	q.name = (char *)name;
	req.body_case = BM__REQUEST__BODY_OP;
	req.op = &q;
	if ((r = ctl_call(c, &req, ret, NULL, NULL)) != CTL_EXIT_OK)
		return r;
	if (action != BM__OP_REQUEST__ACTION__LIST && !one_op(*ret))
		return ctl_bad_answer(c, *ret, "no operation in it");
	return CTL_EXIT_OK;
}

/* Follow an operation until it finishes. Exit 0 only when every machine
 * deployed. */
static int
follow(struct ctl *c, const char *name)
{
	bool tty = isatty(STDOUT_FILENO);
	char last[256] = "", line[256];
	uint64_t t0 = bm_mono_ms();

	for (;;) {
		Bm__Response *resp;
		struct counts k;
		int r = op_call(c, BM__OP_REQUEST__ACTION__GET, name, &resp);
		if (r != CTL_EXIT_OK)
			return r;
		const Bm__Operation *op = one_op(resp);
		unsigned secs = (unsigned)((bm_mono_ms() - t0) / 1000);
		count(resp->op, &k);
		counts_text(&k, line, sizeof(line));
		if (tty) {
			unsigned done = k.deployed + k.failed, w = 20,
			         fill = k.total ? done * w / k.total : w;
			printf("\r%s %02u:%02u [%.*s%*s] %u/%u  %s\033[K", op->name, secs / 60,
			       secs % 60, (int)fill, "####################", (int)(w - fill), "",
			       done, k.total, line);
			fflush(stdout);
		} else if (strcmp(line, last)) {
			printf("%s %02u:%02u %s\n", op->name, secs / 60, secs % 60, line);
			fflush(stdout);
			snprintf(last, sizeof(last), "%s", line);
		}
		if (op->state != BM__OP_STATE__OP_RUNNING) {
			if (tty)
				putchar('\n');
			printf("%s %s: %u of %u deployed\n", op->name, op_state_name(op->state),
			       k.deployed, k.total);
			if (op->state == BM__OP_STATE__OP_HALTED)
				printf("  halted: %s; `bmctl op resume %s` goes on, `bmctl op "
				       "cancel %s` ends it\n",
				       op->halt_reason, op->name, op->name);
			for (size_t i = 0; i < resp->op->n_machines; i++) {
				const Bm__Machine *m = resp->op->machines[i];
				if (m->state != BM__MACHINE_STATE__STATE_DEPLOYED)
					printf("  %s %s: %s\n", m->name, bm_state_name(m->state),
					       m->reason);
			}
			r = op->state == BM__OP_STATE__OP_DONE ? CTL_EXIT_OK : CTL_EXIT_REFUSED;
			bm__response__free_unpacked(resp, NULL);
			return r;
		}
		bm__response__free_unpacked(resp, NULL);
		usleep(WATCH_POLL_MS * 1000);
	}
}

int
cmd_reimage(struct ctl *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "batch", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 't' },
		{ "wait", no_argument, NULL, 'w' },
		{ "canary", required_argument, NULL, 'c' },
		{ "max-failures", required_argument, NULL, 'm' },
		{ 0 },
	};
	Bm__Request req = BM__REQUEST__INIT;
	Bm__ReimageRequest q = BM__REIMAGE_REQUEST__INIT;
	const Bm__Operation *op;
	Bm__Response *resp;
	bool wait = false;
	char name[64];
	int opt, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "l:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p': q.profile = optarg; break;
		case 'b': q.batch = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 't':
			if (ctl_parse_duration(optarg, &q.timeout_ms) < 0)
				return ctl_usage_error(c, "--timeout takes 90s, 30m, 2h, not %s",
				                       optarg);
			break;
		case 'w': wait = true; break;
		case 'c':
			if (parse_count(optarg, &q.canary) < 0 || !q.canary)
				return ctl_usage_error(
				    c, "--canary takes a number of machines, not %s", optarg);
			break;
		case 'm':
			if (parse_failures(optarg, &q) < 0)
				return ctl_usage_error(
				    c, "--max-failures takes K or P%% (1-100%%), not %s", optarg);
			break;
		case 'l':
			if (ctl_parse_label(optarg, &q.n_labels, (void ***)&q.labels,
			                    &bm__reimage_request__labels_entry__descriptor) < 0)
				return ctl_usage_error(c, "-l takes key=value, not %s", optarg);
			break;
		default: return ctl_usage_error(c, "reimage: unknown option");
		}
	}
	if (optind == argc && !q.n_labels)
		return ctl_usage_error(c, "reimage takes TARGET... (rack/NAME, site/NAME, "
		                          "machine/NAME, NAME) or -l key=value");
	q.targets = argv + optind;
	q.n_targets = (size_t)(argc - optind);
	req.body_case = BM__REQUEST__BODY_REIMAGE;
	req.reimage = &q;
	r = ctl_call(c, &req, &resp, NULL, NULL);
	for (size_t i = 0; i < q.n_labels; i++)
		protobuf_c_message_free_unpacked(&q.labels[i]->base, NULL);
	free(q.labels);
	if (r != CTL_EXIT_OK)
		return r;
	if (!(op = one_op(resp)))
		return ctl_bad_answer(c, resp, "no operation in it");
	snprintf(name, sizeof(name), "%s", op->name);
	if (!wait)
		print_op(c, resp->op);
	else
		fprintf(stderr, "%s started: %zu machines\n", name, op->n_machines);
	bm__response__free_unpacked(resp, NULL);
	return wait ? follow(c, name) : CTL_EXIT_OK;
}

#define OP_USAGE "op takes: get [ID] | watch ID | cancel ID | resume ID"

int
cmd_op(struct ctl *c, int argc, char **argv)
{
	Bm__OpRequest__Action action;
	Bm__Response *resp;
	int r;

	if (argc == 2 && !strcmp(argv[1], "get")) { /* all operations */
		if ((r = op_call(c, BM__OP_REQUEST__ACTION__LIST, "", &resp)) != CTL_EXIT_OK)
			return r;
		for (size_t i = 0; i < resp->op->n_operations; i++) {
			const Bm__Operation *op = resp->op->operations[i];
			printf("%-12s %-10s %4u machines  %s\n", op->name,
			       op->taking ? "taking" : op_state_name(op->state),
			       op->listed_machines, op->selector);
		}
		bm__response__free_unpacked(resp, NULL);
		return CTL_EXIT_OK;
	}
	if (argc != 3)
		return ctl_usage_error(c, OP_USAGE);
	if (!strcmp(argv[1], "watch"))
		return follow(c, argv[2]);
	if (!strcmp(argv[1], "get"))
		action = BM__OP_REQUEST__ACTION__GET;
	else if (!strcmp(argv[1], "cancel"))
		action = BM__OP_REQUEST__ACTION__CANCEL;
	else if (!strcmp(argv[1], "resume"))
		action = BM__OP_REQUEST__ACTION__RESUME;
	else
		return ctl_usage_error(c, OP_USAGE);
	r = op_call(c, action, argv[2], &resp);
	if (r != CTL_EXIT_OK)
		return r;
	print_op(c, resp->op);
	bm__response__free_unpacked(resp, NULL);
	return CTL_EXIT_OK;
}
