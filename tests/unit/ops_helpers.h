/* What the operation tests share (ops_test.c, rollout_test.c): a fixture's
 * store driven by commands at a given time. Machines' MACs are
 * 52:54:00:11:00:xx, reported by agent a1 of rack11. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "store_helpers.h"

#define KM BM__KIND__KIND_MACHINE
#define OK BM__STATUS__STATUS_OK
#define S(x) BM__MACHINE_STATE__STATE_##x
#define T0 1000000u

/* Rack rack11 (max_booting 3) with m1..m6 (MACs ..:00:01-06) of profile
 * tiny (kernel k). */
extern const char ops_rack11_fleet[];
/* sha256 of image k of the fixtures. */
extern const uint8_t ksha[32];

/* Apply cmd at time now; its message into msg (256), the operation it
 * started or named into name (32). */
Bm__Status run(struct store *s, Bm__Command *cmd, uint64_t now, char *msg, char *name);
Bm__Status reimage_q(struct th_fx *f, Bm__ReimageRequest *q, uint64_t now, char *msg, char *op);
/* Reimage targets t0 (and t1, or NULL) with batch and timeout. */
Bm__Status reimage(struct th_fx *f, const char *profile, uint32_t batch, uint64_t timeout,
                   uint64_t now, char *msg, char *op, const char *t0, const char *t1);
void tick(struct th_fx *f, uint64_t now);
/* Resume or cancel op at now (its message into msg, or NULL). */
Bm__Status op_verb(struct th_fx *f, Bm__Command__OpCase verb, char *op, uint64_t now, char *msg);
/* Agent a1 of rack11 registers, holding image k or not. */
void agent_holds_k(struct th_fx *f, bool holds);
/* Agent `id` of `rack` registers, holding image k or not. */
void rack_agent_holds_k(struct th_fx *f, const char *id, const char *rack, bool holds);
/* Agent a1 reports an event of MAC 52:54:00:11:00:mac_last. */
void event(struct th_fx *f, uint8_t mac_last, Bm__EventKind kind, const char *detail, uint64_t now);
/* Agent `agent` reports an event of mac. */
void agent_event(struct th_fx *f, const char *agent, const uint8_t mac[6], Bm__EventKind kind,
                 const char *detail, uint64_t now);
Bm__Machine *machine(struct th_fx *f, const char *name);
/* The operation's record (free with bm__operation__free_unpacked). */
Bm__Operation *operation(struct th_fx *f, const char *op);
Bm__MachineState mstate(struct th_fx *f, const char *name);
Bm__OpState op_state(struct th_fx *f, const char *op);
void assert_reason(struct th_fx *f, const char *name, const char *part);
uint64_t started(struct th_fx *f, const char *name);
