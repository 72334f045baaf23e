/* The deploy program's small HTTP exchanges with its agent (libcurl):
 * callbacks (state, token, and fields such as written= and total=) and
 * the machine's seed files. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "args.h"

#define REPORT_TRIES 10    /* a callback that must arrive: tries, 1 s apart */
#define REPORT_TIMEOUT_S 5 /* each try */
#define SEED_FILE_MAX (256u << 10)

/* GET callback?state=STATE&token=T[&reason=][&k=v...] (extra: "k", "v",
 * ... NULL-ended, escaped here). With must, retried REPORT_TRIES times.
 * Returns 0 or -EIO. */
int report(const struct deploy_args *a, const char *state, const char *reason, int must, ...);

/* GET url into out (at most cap bytes). Returns the length, -ENOENT (404),
 * -EFBIG, or -EIO (the agent did not answer, or answered another error). */
long http_get(const char *url, char *out, size_t cap);
