/* Image staging targets (`bmctl image stage IMAGE TARGET`): where an image
 * is wanted ahead of a reimage. A target is stored in one form:
 * "rack/NAME", "site/NAME" or "label/KEY=VALUE" (the racks holding
 * machines with that label). Pure: the coordinator checks and normalizes,
 * agents match their rack. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "bm/proto.h"

#define BM_STAGED_MAX 64u /* staging targets per image */

enum bm_stage_kind { BM_STAGE_RACK, BM_STAGE_SITE, BM_STAGE_LABEL };

struct bm_stage_target {
	enum bm_stage_kind kind;
	char name[256];  /* rack or site name, or the label's key */
	char value[256]; /* the label's value */
};

/* Parse a stored or typed target. Typed forms also take "KEY=VALUE" for a
 * label; a bare NAME is left to the caller (kind RACK, *bare set). Returns
 * 0, or -EINVAL with why filled. */
int bm_stage_parse(const char *text, struct bm_stage_target *t, bool *bare, char *why, size_t wlen);
/* The stored form of t. */
void bm_stage_format(const struct bm_stage_target *t, char *out, size_t len);
/* Does a stored target name this rack (of this site, with these machines,
 * all of the rack)? */
bool bm_stage_matches(const char *target, const char *rack, const char *site,
                      Bm__Machine *const *machines, size_t n_machines);
