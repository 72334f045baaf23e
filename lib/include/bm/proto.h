/* The generated schema plus small helpers shared by the three programs. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm/bm.pb-c.h"

#define BM_PROTO_VERSION 1u
/* The most events an agent's outbox holds (its outbox_max_events at most):
 * a coordinator refuses an event whose sequence jumps further ahead. */
#define BM_OUTBOX_EVENTS_MAX 100000000u

/* "site", "rack", ... ; "object" for an unknown kind. */
const char *bm_kind_name(Bm__Kind k);
/* Accepts singular and plural ("machine", "machines"). Returns 0 or -EINVAL. */
int bm_kind_parse(const char *s, Bm__Kind *ret_kind);
/* "new", "ready", ...; "unknown" outside the enum. */
const char *bm_state_name(Bm__MachineState s);
int bm_state_parse(const char *s, Bm__MachineState *ret_state);
const char *bm_status_name(Bm__Status s);
/* The firmware a DHCP client architecture (option 93, RFC 4578) means:
 * "bios" (0), "uefi" (6, 7, 9), "uefi-http" (16), "arm64" (11, 19), or
 * NULL. */
const char *bm_firmware_of_arch(long arch);
/* A machine's firmware for its BMC's boot override: the fleet's stated
 * one, refined by what was seen ("uefi" stated, "uefi-http" seen:
 * "uefi-http"); else the seen one; else "". */
const char *bm_machine_firmware(const Bm__Machine *m);

/* Set (or replace) key in a protobuf-c map field, keeping the entries
 * sorted by key so that encodings are reproducible.
 * Returns 0 or -ENOMEM. */
int bm_map_set(size_t *n_entries, void ***entries, const ProtobufCMessageDescriptor *entry_desc,
               const char *key, const char *value);
/* Value for key in a map field, or NULL. */
const char *bm_map_get(size_t n_entries, void **entries, const char *key);
/* Every key of map `want` is in map `have`, with the same value. */
bool bm_map_contains(size_t n_have, void **have, size_t n_want, void **want);
