/* A BMC's password, kept apart from its URL everywhere past the operator's
 * input: "ipmi://admin:pw@host" travels and rests as "ipmi://admin@host"
 * and the password (proto Machine.bmc_password in a request over TLS,
 * bmc_sealed at rest, bm/seal.h). */
#pragma once
#include <stddef.h>

#include "bm/problems.h"
#include "bm/proto.h"

/* Split url's password (if any) out: *url_out without it, pass_out the
 * password (""). Returns 1 when there was one, 0, or -ENAMETOOLONG. */
int bm_bmc_split(const char *url, char *url_out, size_t url_len, char *pass_out, size_t pass_len);
/* "ipmi://admin@host" with "pw": "ipmi://admin:pw@host" into out. */
int bm_bmc_join(const char *url, const char *pass, char *out, size_t len);
/* For display: "ipmi://admin:***@host" when a password is set. */
const char *bm_bmc_masked(const char *url, int password_set, char *buf, size_t len);

/* Read a password from a file ("-": standard input): its first line, one
 * trailing newline dropped. out holds BM_SECRET_MAX + 1 bytes. Returns its
 * length, -EINVAL (empty, or more than one line), -EFBIG (longer than
 * BM_SECRET_MAX), or -errno. */
int bm_secret_read(const char *path, char *out);

/* A fleet file's machines with `password_file:` (relative to the fleet
 * file's folder): each file read into bmc_password and password_file
 * cleared. A file that cannot be read is a problem on that machine.
 * Returns the number of problems added, or -ENOMEM. */
int bm_fleet_read_passwords(Bm__Fleet *f, const char *fleet_path, struct bm_problems *probs);
