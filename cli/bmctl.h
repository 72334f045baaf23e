/* bmctl: shared state of the operator's CLI. */
#pragma once
#include <stdbool.h>
#include <stdio.h>

#include "bm/fleet.h"
#include "bm/json.h"
#include "bm/proto.h"
#include "bm/rpc.h"

#define CTL_DEFAULT_URL "tcp://127.0.0.1:7400"
#define CTL_EXIT_OK 0
#define CTL_EXIT_REFUSED 1
#define CTL_EXIT_USAGE 2

struct ctl {
	const char *url;
	bool json;
	int timeout_ms;
	struct bm_rpc_client *client;
	unsigned url_index; /* of url, a comma-separated list */
	char redirect[256]; /* the leader a follower named; tried before the list */
	bool linearizable;  /* reads wait for every write acknowledged before them */
	const char *prog;
	struct bm_rpc_tls tls;      /* --ca --cert --key, or BMCTL_CA ... */
	struct bm_rpc_creds *creds; /* loaded at the first call that needs them */
};

/* Send a request; on a transport failure, a status other than OK or an OK
 * answer without the result the request asks for, print why (and the
 * problems, located in `fl` read from `fname` when given) on stderr.
 * Returns CTL_EXIT_OK with *ret_resp, or CTL_EXIT_REFUSED. */
int ctl_call(struct ctl *c, Bm__Request *req, Bm__Response **ret_resp, const char *fname,
             const struct bm_fleet *fl);
/* An OK answer of the wrong shape: say so, free it. Returns CTL_EXIT_REFUSED. */
int ctl_bad_answer(struct ctl *c, Bm__Response *resp, const char *what);
/* Send a request; print only a transport failure. Returns CTL_EXIT_OK with
 * *ret_resp whatever its status, or CTL_EXIT_REFUSED. */
int ctl_call_any(struct ctl *c, Bm__Request *req, Bm__Response **ret_resp);
/* Print problems, one a line: "FILE:LINE: machine r12n04: mac: why". */
void ctl_print_problems(FILE *f, const char *fname, const struct bm_fleet *fl,
                        struct bm_problems *p);
int ctl_usage_error(struct ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "90", "90s", "30m", "2h" -> ms. Returns 0 or -1. */
int ctl_parse_duration(const char *s, uint64_t *ms);
/* "key=value" into a ListRequest or Machine label map. Returns 0 or -EINVAL. */
int ctl_parse_label(const char *kv, size_t *n, void ***entries,
                    const ProtobufCMessageDescriptor *d);

int cmd_apply(struct ctl *c, int argc, char **argv);
int cmd_get(struct ctl *c, int argc, char **argv);
int cmd_describe(struct ctl *c, int argc, char **argv);
int cmd_delete(struct ctl *c, int argc, char **argv);
int cmd_machine(struct ctl *c, int argc, char **argv);
/* machine power (cmd_power.c): argv[0] is "power". */
int ctl_machine_power(struct ctl *c, int argc, char **argv);
int cmd_image(struct ctl *c, int argc, char **argv);
int cmd_status(struct ctl *c, int argc, char **argv);
int cmd_agents(struct ctl *c, int argc, char **argv);
int cmd_trace(struct ctl *c, int argc, char **argv);
int cmd_reimage(struct ctl *c, int argc, char **argv);
int cmd_op(struct ctl *c, int argc, char **argv);
int cmd_cluster(struct ctl *c, int argc, char **argv);
int cmd_pki(struct ctl *c, int argc, char **argv);
int cmd_audit(struct ctl *c, int argc, char **argv);

/* output.c: tables and JSON. A list is printed across pages: begin, items
 * (any number of times), end; a table is aligned when it ends. */
struct table;
struct out {
	FILE *f;
	bool json;
	Bm__Kind kind;
	struct bm_json j;
	struct table *t;
	size_t count;
};
void out_list_begin(struct out *o, FILE *f, bool json, Bm__Kind kind);
void out_list_items(struct out *o, Bm__Object *const *items, size_t n);
void out_list_end(struct out *o);
/* Drop a list that failed part way, printing nothing more. */
void out_list_discard(struct out *o);
/* One object as JSON (the element form of `get -o json`). */
void out_json_object(struct bm_json *j, const Bm__Object *o);
void out_describe(FILE *f, bool json, const Bm__Object *o);
/* ms since the epoch as "2026-12-02T05:40:01.123Z". */
void out_time_text(uint64_t ms, char *buf, size_t len);
