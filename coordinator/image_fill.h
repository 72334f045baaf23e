/* Site-local image fill: which agent of a site fetches an image from the
 * coordinators while the site's other agents wait to fetch it from that
 * peer. The coordinator then sends each image about once per site, not
 * once per rack. In memory, on the leader (followers send agents there);
 * any thread. A new leader starts empty: a fill in progress then gets at
 * most one more filler per site.
 *
 * The first agent of a site to ask for an image no agent of the site holds
 * becomes its filler; others of the site are told to wait (and ask again
 * after IMAGE_FILL_WAIT_MS) while the filler fetches, that is while its
 * blob reads keep coming (image_fill_progress) at most IMAGE_FILL_STALL_MS
 * apart. A silent filler yields to the next asker. Once holders exist the
 * askers fetch from them (image_fill_order: a stable order per asker that
 * spreads a site's askers over its holders). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAGE_FILL_MAX 4096u       /* (site, image) fills remembered */
#define IMAGE_FILL_STALL_MS 30000u /* a filler's blob reads at most this far apart */
#define IMAGE_FILL_WAIT_MS 2000u   /* a waiting agent asks again after this */
#define IMAGE_PEERS_MAX 4u         /* holders offered to an asker */

struct image_fill;

int image_fill_new(struct image_fill **ret);
void image_fill_free(struct image_fill *f);
/* May `agent` (of `site`) fetch sha from the coordinators now? true: it is
 * (or stays) the site's filler. false: another agent is filling; its id
 * into filler. */
bool image_fill_claim(struct image_fill *f, const char *site, const uint8_t sha[32],
                      const char *agent, uint64_t now_ms, char *filler, size_t len);
/* `agent` read bytes of sha from this node at now_ms: its fill is alive. */
void image_fill_progress(struct image_fill *f, const uint8_t sha[32], const char *agent,
                         uint64_t now_ms);
/* The site holds sha now: forget its fill. */
void image_fill_done(struct image_fill *f, const char *site, const uint8_t sha[32]);
/* Sort ids[] (n holders) into asker's order: highest rendezvous score of
 * (asker, holder) first. */
void image_fill_order(const char *asker, const char **ids, size_t n);
