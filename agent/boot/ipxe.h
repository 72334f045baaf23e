/* What a machine boots: its iPXE script and the installer seeds of its
 * profile, rendered with the variables a profile's templates may name
 * (bm/tmpl.h). Pure: the caller gives the view, the machine and how it
 * reached the agent. */
#pragma once
#include <stdint.h>

#include "bm/netaddr.h"
#include "bm/sha256.h"
#include "rackview.h"
#include "token.h"

#define BOOT_URL_MAX 64u

struct boot_ctx {
	const struct rack_view *v;
	const struct rack_host *h;
	const Bm__Profile *p;         /* NULL: no profile, or not in the view */
	char agent_url[BOOT_URL_MAX]; /* "http://10.12.0.1:8080" */
	uint32_t peer_ip;             /* the machine's address when it has no reservation */
	char token[TOKEN_HEX];        /* this boot's (token.h); empty when not netbooting */
	/* private: values of the variables */
	char mac[BM_MAC_STR], ip[BM_IP4_STR], gateway[BM_IP4_STR], netmask[BM_IP4_STR];
	char prefix_len[4], dns[4 * BM_IP4_STR];
	char callback_url[BOOT_URL_MAX + 32], seed_url[BOOT_URL_MAX + 32];
	char kernel_url[BOOT_URL_MAX + 80], initrd_url[BOOT_URL_MAX + 80];
	/* image-based deploy: the disk image, its digest and format, the
	 * root_device hints as "key=value,..." and grow as 0 or 1 */
	char image_url[BOOT_URL_MAX + 80], image_sha256[BM_SHA256_HEX], image_format[16];
	char root_device[4 * 140], grow[2];
};

/* Fill ctx for machine h of view v, which reached the agent at agent_url
 * from peer_ip, in the boot whose token is `token` (NULL: none). */
void boot_ctx_init(struct boot_ctx *c, const struct rack_view *v, const struct rack_host *h,
                   const char *agent_url, uint32_t peer_ip, const char *token);
/* Image `name` of the view on this agent: BASE/images/<sha256> ("" when
 * the view has no such image). */
void boot_image_ref(const struct boot_ctx *c, const char *name, const char *base, char *out,
                    size_t n);
/* A bm_tmpl_lookup_fn over a struct boot_ctx. */
const char *boot_var(void *arg, const char *name);

/* The iPXE script of the machine: for one marked for netboot, its
 * profile's kernel with the rendered command line, its initrd, boot; for
 * any other, exit to the local disk. Returns the length with *ret (free
 * it), -ENOENT (netboot without a profile or kernel image: nothing to
 * boot), -ENOMEM. */
long boot_ipxe_script(struct boot_ctx *c, char **ret);
/* What boot_ipxe_script and boot_grub_cfg share: netboot(c, b) for a
 * machine netbooting, else `head` and a comment, then exit. */
struct bm_buf;
long boot_text(struct boot_ctx *c, const char *head,
               int (*netboot)(struct boot_ctx *, struct bm_buf *), char **ret);

/* Seed file `name` of the machine's profile, rendered. cloud-init's
 * NoCloud files have defaults when the profile has none (meta-data: the
 * instance id and hostname; user-data and vendor-data: empty), so a
 * nocloud-net boot always finds its three files. Returns the length with
 * *ret, -ENOENT, -ENOMEM. */
long boot_seed(struct boot_ctx *c, const char *name, char **ret);
