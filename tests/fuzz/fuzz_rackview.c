/* A managed agent's view as the coordinator sends it (protobuf from the
 * network, stored as it came): decoded as a fleet, made into each rack's
 * view, and everything the agent serves from it rendered -- every host's
 * iPXE script, GRUB config and seeds, its boot key, lookups by MAC and
 * address; each machine's name, as the tail of a GRUB config name a client
 * asks for over TFTP, through the MAC parser of those names. Nothing in the bytes
 * may crash the agent or read out of bounds (a MAC of 3 bytes, a machine
 * naming a profile that is absent, a profile naming no kernel, ...). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grub.h"
#include "ipxe.h"
#include "rackview.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* GRUB_CFG_MAC_PREFIX + name: a MAC comes out well formed, or nothing. */
static void
grub_name(const char *name)
{
	char path[160], mac[BM_MAC_STR];
	snprintf(path, sizeof(path), "%s%s", GRUB_CFG_MAC_PREFIX, name ? name : "");
	if (boot_grub_cfg_mac(path, mac) == 0 && strlen(mac) != BM_MAC_STR - 1)
		abort();
}

static void
render(const struct rack_view *v)
{
	for (size_t i = 0; i < v->n_hosts; i++) {
		struct boot_ctx c;
		struct boot_key k;
		char *text = NULL;
		(void)boot_key_of(&v->hosts[i], &k); /* the operation's name may be anything */
		boot_ctx_init(&c, v, &v->hosts[i], "http://10.12.0.1:8080", 0x0a0c0063,
		              "00112233445566778899aabbccddeeff");
		if (boot_ipxe_script(&c, &text) >= 0)
			free(text);
		text = NULL;
		if (boot_grub_cfg(&c, &text) >= 0)
			free(text);
		text = NULL;
		grub_name(v->hosts[i].name);
		if (boot_seed(&c, "user-data", &text) >= 0)
			free(text);
		text = NULL;
		if (boot_seed(&c, "meta-data", &text) >= 0)
			free(text);
		(void)rack_view_host(v, v->hosts[i].mac);
		(void)rack_view_host_by_ip(v, v->hosts[i].ip);
		(void)rack_view_reserved_cb((void *)v, v->hosts[i].ip);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Bm__Fleet *f = bm__fleet__unpack(NULL, size, data);

	if (!f)
		return 0;
	for (size_t i = 0; i < f->n_racks && i < 4; i++) {
		struct rack_view *v = NULL;
		if (rack_view_from_fleet(f, f->racks[i]->name, &v, NULL) == 0) {
			render(v);
			rack_view_free(v);
		}
	}
	/* The stored view's path: a fleet the view takes and cuts in place. */
	if (f->n_racks) {
		struct rack_view *v = NULL;
		Bm__Fleet *own = bm__fleet__unpack(NULL, size, data);
		if (own && rack_view_take(own, f->racks[0]->name, &v) == 0) {
			render(v);
			rack_view_free(v);
		}
	}
	bm__fleet__free_unpacked(f, NULL);
	return 0;
}
