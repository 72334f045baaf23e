/* Templates of profiles: text with {{ variable }} substitutions, rendered
 * per machine by the agent (iPXE command lines, cloud-init, kickstart,
 * preseed). There is no logic in a template, only variables. */
#pragma once
#include <stddef.h>

#define BM_TMPL_VAR_MAX 64u /* longest variable name */

/* Variables a template may name. "labels.KEY" names a machine label. */
extern const char *const bm_tmpl_vars[];

/* Called for each variable; returns its value, or NULL when it has none
 * (rendered as empty). */
typedef const char *(*bm_tmpl_lookup_fn)(void *arg, const char *name);

/* Check that `text` (len bytes, need not be NUL-terminated) parses and names
 * only known variables. On failure returns -EINVAL and writes a reason
 * (with the line number) into `why` (size `whylen`). */
int bm_tmpl_check(const char *text, size_t len, char *why, size_t whylen);

/* Render `text` into a new NUL-terminated string (*ret_out, caller frees).
 * Returns the length, -EINVAL if the template does not parse, -ENOMEM. */
long bm_tmpl_render(const char *text, size_t len, bm_tmpl_lookup_fn lookup, void *arg,
                    char **ret_out);
