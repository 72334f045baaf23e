#include "grub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/buf.h"
#include "bm/netaddr.h"
#include "bm/tmpl.h"

long
boot_grub_bootstrap(char **ret)
{
	/* net_default_mac is "52:54:00:0c:00:04": GRUB's regexp splits it. */
	static const char text[] =
	    "# bmagent: each machine's own config, by its MAC\n"
	    "regexp --set=1:m1 --set=2:m2 --set=3:m3 --set=4:m4 --set=5:m5 --set=6:m6 "
	    "'^([0-9a-f][0-9a-f]):([0-9a-f][0-9a-f]):([0-9a-f][0-9a-f]):([0-9a-f][0-9a-f]):"
	    "([0-9a-f][0-9a-f]):([0-9a-f][0-9a-f])$' \"$net_default_mac\"\n"
	    "configfile $prefix/grub.cfg-01-$m1-$m2-$m3-$m4-$m5-$m6\n";

	if (!(*ret = strdup(text)))
		return -ENOMEM;
	return (long)(sizeof(text) - 1);
}

int
boot_grub_cfg_mac(const char *name, char mac_text[BM_MAC_STR])
{
	uint8_t mac[6];
	char text[BM_MAC_STR];
	size_t n = strlen(GRUB_CFG_MAC_PREFIX);

	if (strncmp(name, GRUB_CFG_MAC_PREFIX, n) || strlen(name + n) != BM_MAC_STR - 1)
		return -ENOENT;
	memcpy(text, name + n, BM_MAC_STR);
	for (size_t i = 2; i < BM_MAC_STR - 1; i += 3)
		if (text[i] != '-')
			return -ENOENT;
	if (bm_mac_parse(text, mac) < 0)
		return -ENOENT;
	bm_mac_format(mac, mac_text);
	return 0;
}

/* The command line as GRUB words: each in single quotes (a quote inside
 * as '\''), control characters as spaces. */
static int
quoted_words(const char *cl, struct bm_buf *b)
{
	int r = 0;
	for (const char *p = cl; *p && r == 0;) {
		while (*p && (*p == ' ' || (unsigned char)*p < 0x20))
			p++;
		if (!*p)
			break;
		r = bm_buf_printf(b, " '");
		for (; *p && *p != ' ' && (unsigned char)*p >= 0x20 && r == 0; p++)
			r = *p == '\'' ? bm_buf_printf(b, "'\\''") : bm_buf_printf(b, "%c", *p);
		if (r == 0)
			r = bm_buf_printf(b, "'");
	}
	return r;
}

static int
netboot_cfg(struct boot_ctx *c, struct bm_buf *b)
{
	char kernel[96], initrd[96], *cl = NULL;
	int r;

	boot_image_ref(c, c->p->kernel, "", kernel, sizeof(kernel)); /* TFTP: "/images/..." */
	boot_image_ref(c, c->p->initrd, "", initrd, sizeof(initrd));
	if (bm_tmpl_render(c->p->cmdline, strlen(c->p->cmdline), boot_var, c, &cl) < 0)
		return -ENOMEM;
	r = bm_buf_printf(b,
	                  "# %s (%s) rack %s, profile %s: install\n"
	                  "set timeout=0\necho 'bmagent: %s: kernel, initrd over TFTP'\n"
	                  "linux %s",
	                  c->h->name, c->mac, c->v->rack, c->p->name, c->h->name, kernel);
	if (r == 0)
		r = quoted_words(cl, b);
	if (r == 0 && *initrd)
		r = bm_buf_printf(b, "\ninitrd %s", initrd);
	if (r == 0)
		r = bm_buf_printf(b,
		                  "\nboot\necho 'bmagent: boot of %s failed, rebooting in 10 s'\n"
		                  "sleep 10\nreboot\n",
		                  c->h->name);
	free(cl);
	return r;
}

long
boot_grub_cfg(struct boot_ctx *c, char **ret)
{
	return boot_text(c, "", netboot_cfg, ret);
}
