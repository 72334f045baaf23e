#include "ipxe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/buf.h"
#include "bm/sha256.h"
#include "bm/tmpl.h"

void
boot_image_ref(const struct boot_ctx *c, const char *name, const char *base, char *out, size_t n)
{
	const Bm__Image *im = *name ? rack_view_image(c->v, name) : NULL;
	char hex[BM_SHA256_HEX];

	out[0] = '\0';
	if (im && im->sha256.len == BM_SHA256_LEN)
		snprintf(out, n, "%s/images/%s", base, bm_sha256_hex(im->sha256.data, hex));
}

static void
image_url(const struct boot_ctx *c, const char *name, char *out, size_t n)
{
	boot_image_ref(c, name, c->agent_url, out, n);
}

/* The profile's disk image: its URL on this agent, digest, format, hints. */
static void
disk_vars(struct boot_ctx *c)
{
	const Bm__Image *im = rack_view_image(c->v, c->p->disk_image);
	size_t o = 0;

	snprintf(c->grow, sizeof(c->grow), "%d", c->p->grow ? 1 : 0);
	for (size_t i = 0; i < c->p->n_root_device && o < sizeof(c->root_device); i++)
		o += (size_t)snprintf(c->root_device + o, sizeof(c->root_device) - o, "%s%s=%s",
		                      i ? "," : "", c->p->root_device[i]->key,
		                      c->p->root_device[i]->value);
	if (!*c->p->disk_image || !im || im->sha256.len != BM_SHA256_LEN)
		return;
	image_url(c, c->p->disk_image, c->image_url, sizeof(c->image_url));
	bm_sha256_hex(im->sha256.data, c->image_sha256);
	snprintf(c->image_format, sizeof(c->image_format), "%s",
	         *im->format ? im->format : "raw.zst");
}

static void
dns_list(const struct rack_view *v, char *out, size_t n)
{
	char ip[BM_IP4_STR];
	size_t o = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < v->n_dns && o < n; i++)
		o += (size_t)snprintf(out + o, n - o, "%s%s", i ? "," : "",
		                      bm_ip4_format(v->dns[i], ip));
}

void
boot_ctx_init(struct boot_ctx *c, const struct rack_view *v, const struct rack_host *h,
              const char *agent_url, uint32_t peer_ip, const char *token)
{
	memset(c, 0, sizeof(*c));
	c->v = v;
	c->h = h;
	c->peer_ip = peer_ip;
	c->p = *rack_host_profile_name(h->m) ? rack_view_profile(v, rack_host_profile_name(h->m))
	                                     : NULL;
	snprintf(c->agent_url, sizeof(c->agent_url), "%s", agent_url);
	snprintf(c->token, sizeof(c->token), "%s", token ? token : "");
	bm_mac_format(h->mac, c->mac);
	bm_ip4_format(h->ip ? h->ip : peer_ip, c->ip);
	if (v->gateway)
		bm_ip4_format(v->gateway, c->gateway);
	bm_ip4_format(bm_ip4_mask(v->prefix_len), c->netmask);
	snprintf(c->prefix_len, sizeof(c->prefix_len), "%u", v->prefix_len);
	dns_list(v, c->dns, sizeof(c->dns));
	snprintf(c->callback_url, sizeof(c->callback_url), "%s/callback/%s", agent_url, c->mac);
	snprintf(c->seed_url, sizeof(c->seed_url), "%s/seed/%s/", agent_url, c->mac);
	if (c->p) {
		image_url(c, c->p->kernel, c->kernel_url, sizeof(c->kernel_url));
		image_url(c, c->p->initrd, c->initrd_url, sizeof(c->initrd_url));
		disk_vars(c);
	}
}

static const char *
label(const Bm__Machine *m, const char *key)
{
	for (size_t i = 0; i < m->n_labels; i++)
		if (!strcmp(m->labels[i]->key, key))
			return m->labels[i]->value;
	return NULL;
}

const char *
boot_var(void *arg, const char *name)
{
	const struct boot_ctx *c = arg;
	const struct {
		const char *name, *value;
	} vars[] = {
		{ "mac", c->mac },
		{ "hostname", c->h->name },
		{ "ip", c->ip },
		{ "gateway", c->gateway },
		{ "netmask", c->netmask },
		{ "prefix_len", c->prefix_len },
		{ "dns", c->dns },
		{ "rack", c->v->rack },
		{ "site", c->v->site },
		{ "profile", c->p ? c->p->name : "" },
		{ "agent_url", c->agent_url },
		{ "callback_url", c->callback_url },
		{ "token", c->token },
		{ "kernel_url", c->kernel_url },
		{ "initrd_url", c->initrd_url },
		{ "seed_url", c->seed_url },
		{ "image_url", c->image_url },
		{ "image_sha256", c->image_sha256 },
		{ "image_format", c->image_format },
		{ "root_device", c->root_device },
		{ "grow", c->grow },
	};

	if (!strncmp(name, "labels.", 7))
		return label(c->h->m, name + 7);
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (!strcmp(name, vars[i].name))
			return vars[i].value;
	return NULL;
}

/* The rendered command line on one line: a line break in a value must not
 * start a new iPXE command. */
static long
cmdline(struct boot_ctx *c, char **ret)
{
	long n = bm_tmpl_render(c->p->cmdline, strlen(c->p->cmdline), boot_var, c, ret);

	for (long i = 0; i < n; i++)
		if ((unsigned char)(*ret)[i] < 0x20)
			(*ret)[i] = ' ';
	return n;
}

/* Old iPXE EFI builds (Debian 12's, 2019) have no LoadFile2 initrd: the
 * kernel's EFI stub finds the initrd by the name on its command line
 * (initrd=initrd.img), which BIOS boots ignore. */
static int
netboot_script(struct boot_ctx *c, struct bm_buf *b)
{
	char *cl = NULL;
	int r;

	if (cmdline(c, &cl) < 0)
		return -ENOMEM;
	r = bm_buf_printf(b, "#!ipxe\n# %s (%s) rack %s, profile %s: install\n", c->h->name, c->mac,
	                  c->v->rack, c->p->name);
	if (r == 0)
		r = bm_buf_printf(b, "kernel %s%s %s || goto failed\n", c->kernel_url,
		                  *c->initrd_url ? " initrd=initrd.img" : "", cl);
	if (r == 0 && *c->initrd_url)
		r = bm_buf_printf(b, "initrd --name initrd.img %s || goto failed\n", c->initrd_url);
	if (r == 0)
		r = bm_buf_printf(b,
		                  "boot || goto failed\n:failed\n"
		                  "echo bmagent: boot of %s failed, rebooting in 10 s\n"
		                  "sleep 10\nreboot\n",
		                  c->h->name);
	free(cl);
	return r;
}

long
boot_text(struct boot_ctx *c, const char *head, int (*netboot)(struct boot_ctx *, struct bm_buf *),
          char **ret)
{
	struct bm_buf b = { 0 };
	size_t n;
	int r;

	if (c->h->netboot && (!c->p || !*c->kernel_url))
		return -ENOENT;
	if (c->h->netboot)
		r = netboot(c, &b);
	else
		r = bm_buf_printf(&b, "%s# %s (%s): boot from the local disk\nexit\n", head,
		                  c->h->name, c->mac);
	if (r < 0) {
		bm_buf_free(&b);
		return -ENOMEM;
	}
	*ret = bm_buf_take(&b, &n);
	return (long)n;
}

long
boot_ipxe_script(struct boot_ctx *c, char **ret)
{
	/* iPXE's exit returns to the BIOS, which boots the next device. (UEFI
	 * firmware that is to boot its disk is not handed iPXE: pxe_decide.) */
	return boot_text(c, "#!ipxe\n", netboot_script, ret);
}

static const char *
template_of(const Bm__Profile *p, const char *name)
{
	for (size_t i = 0; p && i < p->n_templates; i++)
		if (!strcmp(p->templates[i]->key, name))
			return p->templates[i]->value;
	return NULL;
}

long
boot_seed(struct boot_ctx *c, const char *name, char **ret)
{
	const char *t = template_of(c->p, name);
	struct bm_buf b = { 0 };
	size_t n;

	if (t)
		return bm_tmpl_render(t, strlen(t), boot_var, c, ret);
	if (!strcmp(name, "meta-data")) {
		if (bm_buf_printf(&b, "instance-id: %s\nlocal-hostname: %s\n", c->h->name,
		                  c->h->name) < 0)
			return -ENOMEM;
	} else if (strcmp(name, "user-data") && strcmp(name, "vendor-data")) {
		return -ENOENT;
	}
	if (!(*ret = bm_buf_take(&b, &n)))
		return -ENOMEM;
	return (long)n;
}
