/* Fleet files (YAML): the declarative input of `bmctl apply`, of the
 * coordinator's Apply, and of standalone agents. Parsing turns the file into
 * a Bm__Fleet; checking applies every rule that needs nothing but the file. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "bm/problems.h"
#include "bm/proto.h"

#define BM_FLEET_FILE_MAX (64u << 20) /* bytes; a 100k-machine file is ~12 MiB */
#define BM_LABELS_MAX 32u             /* labels per object */
#define BM_LABEL_KEY_MAX 63u
#define BM_LABEL_VALUE_MAX 255u
#define BM_TEMPLATES_MAX 16u         /* templates per profile */
#define BM_TEMPLATE_MAX (256u << 10) /* bytes per template */
#define BM_TEXT_MAX 4096u            /* cmdline, bmc, url */
#define BM_DNS_MAX 4u
/* A rack's discovery_max: machines in state `new` that discovery may make
 * in it, by default (0) and at most. Past it, the coordinator counts
 * unknown MACs (Rack.discoveries_refused) and logs them, not stores them. */
#define BM_DISCOVERY_DEFAULT 1024u
#define BM_DISCOVERY_MAX 1000000u
/* A rack's max_booting: machines an operation has powered that have not
 * reached installing, at most (default; most allowed). */
#define BM_MAX_BOOTING_DEFAULT 32u
#define BM_MAX_BOOTING_MAX 10000u
/* Machines in one Apply request (one command of the store: it holds every
 * coordinator's loop while applied, ~9 ms per 1,000 machines here). The
 * coordinator refuses more; `bmctl apply` sends a larger file in parts of
 * this many, each applied all or nothing. */
#define BM_APPLY_MACHINES_MAX 10000u

/* A parsed fleet file. Everything is heap-allocated: free with
 * bm_fleet_fini. lines[kind][i] is the 1-based line of entry i of that kind. */
struct bm_fleet {
	Bm__Fleet *fleet;
	uint32_t *lines[6];
};

/* Parse YAML text. Every problem found is added to `probs`; parsing goes on
 * past a bad entry so all are reported. Returns 0 when the file parsed
 * without problems, -EINVAL when problems were added (ret still holds the
 * entries that parsed), -ENOMEM. On success or -EINVAL, *ret must be
 * released with bm_fleet_fini. */
int bm_fleet_parse(const char *text, size_t len, struct bm_fleet *ret, struct bm_problems *probs);
/* Read and parse a file (at most BM_FLEET_FILE_MAX bytes). Returns as
 * bm_fleet_parse, or -errno when the file cannot be read (ret untouched). */
int bm_fleet_load(const char *path, struct bm_fleet *ret, struct bm_problems *probs);
void bm_fleet_fini(struct bm_fleet *f);
/* Load, parse and check a file, reporting each bad value once. Returns 0
 * when it is clean, -EINVAL with problems (ret must be released), -errno
 * when it cannot be read, -ENOMEM. */
int bm_fleet_load_checked(const char *path, struct bm_fleet *ret, struct bm_problems *probs);

/* The rules that need only the fleet itself: names, required fields, value
 * ranges, templates, and uniqueness of names, MACs and per-rack IPs within
 * it; a machine whose rack is in the same fleet is checked against it. Adds
 * to probs; returns the number of problems added. The coordinator runs this
 * on every Apply, as it trusts no client. */
size_t bm_fleet_check(const Bm__Fleet *f, struct bm_problems *probs);

/* For a fleet that stands alone (a standalone agent's file): every
 * reference resolves within it (rack -> site, profile -> images, machine ->
 * rack and profile). Adds to probs; returns the number added. */
size_t bm_fleet_check_refs(const Bm__Fleet *f, struct bm_problems *probs);

/* Rules between a machine (entry `index` of its request) and its rack: the
 * reservation is a host address of the rack's subnet, not its gateway, and
 * outside its discovery pool. */
void bm_fleet_check_machine_rack(const Bm__Machine *m, uint32_t index, const Bm__Rack *r,
                                 struct bm_problems *probs);

/* New empty records, as malloc-built protobufs (free with
 * protobuf_c_message_free_unpacked(msg, NULL)). NULL on ENOMEM. */
Bm__Fleet *bm_fleet_new(void);

/* A root_device size range, "MIN-MAX" with either side optional ("100G-",
 * "-2T", "500G": at least), in bytes (K, M, G, T: powers of 1000, as disks
 * are sold; 0: no bound). Returns 0 or -1. */
int bm_root_device_size(const char *text, uint64_t *ret_min, uint64_t *ret_max);
