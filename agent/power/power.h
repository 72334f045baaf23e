/* Power actions for the rack's machines, run by the agent because it sits
 * next to their BMCs. A machine whose operation powered it (power_seq above
 * the last one done here) gets "next boot from the network, then power
 * cycle" from the driver its BMC URL names:
 *   ipmi://USER[:PASS]@HOST[:PORT]  ipmitool -I lanplus: chassis bootdev
 *                                 pxe (options=efiboot for UEFI machines),
 *                                 read back (ipmitool exits 0 even when
 *                                 the BMC refuses it), then power cycle (or
 *                                 on);
 *   redfish://, redfish+https://, redfish+http://  redfish.h: the boot
 *                                 override once (mode from the firmware),
 *                                 read back, then a Reset the BMC allows;
 *                                 HTTPS checked against bmc_ca or the
 *                                 machine's bmc_fingerprint;
 *   the password is the machine's own (sealed in the view,
 *   rackdb_bmc_password) unless a standalone fleet's URL has one;
 *   manual:// or empty            the operator (or a lab) power-cycles it;
 *                                 recorded as done.
 * Actions run on a pool of POWER_WORKERS threads, at most one per machine
 * at a time, each call to a BMC bounded by the agent's bmc_timeout
 * (POWER_TOOL_TIMEOUT_S by default). The outcome ("ok ...", or "failed: the tool's
 * message") goes to the outbox in the same transaction that records the sequence as done, so a
 * restart neither repeats a finished action nor loses one. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "bm/proto.h"
#include "bm/seal.h"

#define POWER_TOOL_TIMEOUT_S 30u
/* A `bmctl machine power` request older than this when the agent sees it
 * (coordinator's clock against the agent's) is refused, not acted on: an
 * agent back after an outage must not power machines off hours late. */
#define POWER_REQ_TTL_S 300u
#define POWER_QUEUE_MAX 4096u
/* Power actions run at once: a BMC that times out holds one worker, not
 * the rack (and a batch of N powers up together, as an operator would). */
#define POWER_WORKERS 8u

struct power;
struct rackdb;

/* The parts of an ipmi:// URL (pass "" when it has none). Returns 0 or
 * -EINVAL. Exposed for tests. */
struct power_ipmi_target {
	char user[64], pass[BM_SECRET_MAX + 1], host[128];
	unsigned port;
};
int power_parse_ipmi(const char *url, struct power_ipmi_target *ret);

/* The agent's power_stagger_ms: default and most allowed. */
#define POWER_STAGGER_DEFAULT_MS 200u
#define POWER_STAGGER_MAX_MS 60000u

struct power_opts {
	const char *bmc_ca;  /* agent's bmc_ca: CA bundle for HTTPS BMCs ("": the system's) */
	unsigned timeout_s;  /* agent's bmc_timeout: one ipmitool run or Redfish call */
	unsigned stagger_ms; /* agent's power_stagger_ms: between two power-ons */
};
int power_start(struct rackdb *db, const char *rack, const struct power_opts *o,
                struct power **ret);
/* A machine of the view: queue its operation's action if its power_seq is
 * new, and its `bmctl machine power` request (on, off, cycle without the
 * boot override, status) if its power_req_seq is. Outcomes go out as
 * EVENT_POWER "ok|failed seq=N: ..." or "ok|failed req=N: ...". Loop
 * thread. */
void power_consider(struct power *p, const Bm__Machine *m);
void power_stop(struct power *p);
