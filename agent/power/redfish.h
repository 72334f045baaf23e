/* Redfish (DMTF DSP0266) for the power driver, the pure part: the BMC URL,
 * and what the BMC's JSON answers mean (json-c parses them). No I/O here,
 * so unit tests and fuzz_redfish drive it with recorded DMTF-shaped bodies;
 * redfish_io.c makes the HTTP calls. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "bm/seal.h"

#define REDFISH_BODY_MAX (1u << 20) /* an answer larger than this is refused */
#define REDFISH_JSON_DEPTH 32       /* nesting json-c accepts in an answer */

/* redfish://USER[:PASS]@HOST[:PORT][/redfish/v1/Systems/ID] (HTTPS; also
 * redfish+https://), redfish+http:// for labs. */
struct redfish_target {
	bool https;
	char user[64], pass[BM_SECRET_MAX + 1], host[256];
	unsigned port;
	char system[256]; /* the system's path, or "" to discover the one system */
};
/* Returns 0, or -EINVAL with why ("" when url is fine). */
int redfish_parse_url(const char *url, struct redfish_target *t, char *why, size_t wlen);

/* What the power driver is asked for: an operation's RF_NETBOOT (the boot
 * override once, then a cycle), or `bmctl machine power`'s verbs. */
enum redfish_verb { RF_NETBOOT, RF_CYCLE, RF_ON, RF_OFF, RF_STATUS };

/* Reset types (bits of redfish_system.allowed). */
enum {
	RF_RESET_ON = 1u << 0,
	RF_RESET_FORCE_OFF = 1u << 1,
	RF_RESET_FORCE_RESTART = 1u << 2,
	RF_RESET_POWER_CYCLE = 1u << 3,
	RF_RESET_GRACEFUL_RESTART = 1u << 4,
	RF_RESET_FORCE_ON = 1u << 5,
};
const char *redfish_reset_name(unsigned bit);

/* A ComputerSystem resource, as far as the driver reads it. */
struct redfish_system {
	char power[24];         /* PowerState: On, Off, PoweringOn, ... ("" if absent) */
	char reset_target[256]; /* Actions."#ComputerSystem.Reset".target */
	unsigned allowed;       /* ResetType@Redfish.AllowableValues (all when absent) */
	bool listed;            /* the BMC listed its allowable reset types */
	char etag[128];         /* @odata.etag ("" if none) */
	bool has_boot, has_mode;
	char boot_target[32], boot_enabled[16], boot_mode[16];
	bool uefi_http_allowed; /* UefiHttp in the target's allowable values */
	bool targets_listed;
};
/* Returns 0, or -EINVAL with why. */
int redfish_parse_system(const char *body, size_t len, struct redfish_system *s, char *why,
                         size_t wlen);

/* A Systems collection: the path of its one member into path. Returns 0, or
 * -ENOENT (none) / -EEXIST (several, listed in why) / -EINVAL. */
int redfish_pick_system(const char *body, size_t len, char *path, size_t plen, char *why,
                        size_t wlen);

/* The service root: the Sessions collection's path (Links.Sessions), or
 * "" when it names none. Returns 0 or -EINVAL. */
int redfish_sessions_path(const char *body, size_t len, char *path, size_t plen);

/* The message of an error answer (error.@Message.ExtendedInfo[].Message,
 * else error.message), else "HTTP <status>". */
void redfish_error(const char *body, size_t len, long status, char *out, size_t olen);

/* A task (the body a task monitor answers): 1 finished well, 0 running,
 * -1 finished badly (why in msg: its Messages or TaskStatus), -2 not a
 * task (no TaskState: an empty body, or the action's own answer). */
int redfish_task(const char *body, size_t len, char *msg, size_t mlen);

/* The Reset calls for verb given the system: up to two ResetTypes into
 * steps (NULL-terminated); none when the system is already as asked.
 * Returns the number of steps, or -1 with why when the BMC allows none of
 * the ways (ForceRestart, else PowerCycle, else ForceOff then On). */
int redfish_reset_plan(const struct redfish_system *s, enum redfish_verb v, const char *steps[3],
                       char *why, size_t wlen);

/* The boot override to PATCH: Pxe (UefiHttp for an HTTP-booting machine
 * when the BMC lists it), Once, and the mode (UEFI or Legacy) when the
 * firmware is known and the BMC has the property. firmware: "bios",
 * "uefi", "uefi-http", "arm64" or "". The wanted values go to want_*.
 * Returns the body's length or -ENOSPC. */
struct redfish_boot {
	char target[32], mode[16];
};
int redfish_boot_body(const struct redfish_system *s, const char *firmware,
                      struct redfish_boot *want, char *out, size_t olen);
/* The system read back after the PATCH has want. Returns 0 or -1 with why. */
int redfish_boot_check(const struct redfish_system *s, const struct redfish_boot *want, char *why,
                       size_t wlen);

/* ------------------------------------------------------------------ I/O */

/* How long the driver waits (named settings; docs/architecture.md). */
#define REDFISH_CALL_TIMEOUT_S 30u /* one HTTP call, like ipmitool's */
#define REDFISH_TASK_WAIT_S 120u   /* a 202 task monitor, or power going off */
#define REDFISH_POLL_MS 500u       /* between two looks at a task or the power */

struct redfish_opts {
	const char *ca_file;     /* bmc_ca: CA bundle for HTTPS BMCs ("" or NULL: the system's) */
	const char *fingerprint; /* the machine's bmc_fingerprint: the certificate pinned */
	const char *firmware;    /* "bios", "uefi", "uefi-http", "arm64" or "" */
	unsigned call_timeout_s; /* 0: REDFISH_CALL_TIMEOUT_S */
	unsigned task_wait_s;    /* 0: REDFISH_TASK_WAIT_S */
};

/* Drive the BMC at url (pass: its password unless the URL has one): for
 * RF_NETBOOT, next boot from the network once, read back, then a reset that
 * cycles the power (On when it is off); RF_CYCLE the same reset without
 * the override; RF_ON, RF_OFF as said; RF_STATUS
 * only reads. A session is opened (Basic when the BMC has no
 * SessionService) and deleted after. Returns 0 with what was done in msg
 * ("redfish: boot Pxe once (UEFI), ForceRestart; power was On"), or -1
 * with why (the BMC's own message when it gave one). */
int redfish_power(const char *url, const char *pass, enum redfish_verb v,
                  const struct redfish_opts *o, char *msg, size_t mlen);
