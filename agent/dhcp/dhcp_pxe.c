#include "dhcp_pxe.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bm/netaddr.h"

const uint8_t pxe_vendor_opts[4] = { 6, 1, 8, DHCP_OPT_END };

void
pxe_boot_table_default(struct pxe_boot_table *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->bios, sizeof(t->bios), "undionly.kpxe");
	snprintf(t->efi_ia32, sizeof(t->efi_ia32), "i386/ipxe.efi");
	snprintf(t->efi_x64, sizeof(t->efi_x64), "ipxe.efi");
	snprintf(t->efi_arm64, sizeof(t->efi_arm64), "arm64/ipxe.efi");
	snprintf(t->http_efi, sizeof(t->http_efi), "ipxe.efi");
}

void
pxe_classify(const struct dhcp_msg *m, const char *marker, struct pxe_client *c)
{
	uint16_t arch;
	size_t ml = strlen(marker);

	memset(c, 0, sizeof(*c));
	c->arch = dhcp_opt_be16(m, DHCP_OPT_CLIENT_ARCH, &arch) == 0 ? arch : -1;
	c->http = dhcp_opt_has_prefix(m, DHCP_OPT_VENDOR_CLASS, "HTTPClient", 10);
	c->pxe = c->http || dhcp_opt_has_prefix(m, DHCP_OPT_VENDOR_CLASS, "PXEClient", 9);
	/* iPXE sends its user class raw ("iPXE"), not in RFC 3004 form; a
	 * chainloaded iPXE echoes the user class of the ACK that loaded it
	 * (cachedhcp), which is how our marker comes back. */
	c->chained = ml && dhcp_opt_equals(m, DHCP_OPT_USER_CLASS, marker, ml);
	c->ipxe = c->chained || dhcp_opt_equals(m, DHCP_OPT_USER_CLASS, "iPXE", 4) ||
	          m->opt[DHCP_OPT_IPXE].present;
}

static const char *
arch_file(const struct pxe_boot_table *t, int arch)
{
	switch (arch) {
	case PXE_ARCH_BIOS: return t->bios;
	case PXE_ARCH_EFI_IA32: return t->efi_ia32;
	case PXE_ARCH_EFI_X64:
	case PXE_ARCH_EFI_BC: return t->efi_x64;
	case PXE_ARCH_EFI_ARM64: return t->efi_arm64;
	default: return NULL;
	}
}

static void
url(char *out, const struct pxe_policy *p, const char *path)
{
	char ip[BM_IP4_STR];
	snprintf(out, DHCP_BOOTFILE_MAX, "http://%s:%u/%s", bm_ip4_format(p->server_ip, ip),
	         p->http_port, path);
}

/* loader grub: UEFI x64 firmware gets the signed shim over TFTP, UEFI
 * HTTP boot nothing. Returns true when b is decided. */
static bool
grub_boot(const struct pxe_client *c, struct pxe_boot *b)
{
	if (c->ipxe)
		return false;
	if (c->http || c->arch == PXE_ARCH_EFI_X64_HTTP) {
		b->why = "loader grub boots over PXE only (GRUB 2.06 cannot reach the agent's HTTP "
		         "port)";
		return true;
	}
	if (c->arch != PXE_ARCH_EFI_X64 && c->arch != PXE_ARCH_EFI_BC)
		return false;
	snprintf(b->file, sizeof(b->file), "%s", PXE_SHIM_FILE);
	b->tftp = true;
	b->boot = true;
	return true;
}

void
pxe_decide(const struct pxe_policy *p, const struct pxe_client *c, const struct pxe_machine *pm,
           const uint8_t mac[6], struct pxe_boot *b)
{
	bool netboot = pm->netboot, local = pm->local;
	char path[64], m[BM_MAC_STR];
	const char *file;

	memset(b, 0, sizeof(*b));
	if (!c->pxe && !c->ipxe)
		return; /* an OS, an installer: an address only */
	/* A proxyDHCP must send 60 PXEClient with 43 (PXE 2.1 2.2.5). Without
	 * 43 it would make OVMF skip its TFTP download, and iPXE saves ~2 s a
	 * round with it (docs/firmware.md 2.3), so: proxy, iPXE. */
	if (c->http)
		b->vendor_class = "HTTPClient";
	else if (p->proxy || c->ipxe)
		b->vendor_class = "PXEClient";
	if (!netboot && !local) {
		b->why = "not marked for netboot";
		return;
	}
	if (!netboot && !c->ipxe && (c->http || (c->arch > PXE_ARCH_BIOS))) {
		if (c->http || c->arch == PXE_ARCH_EFI_X64_HTTP)
			url(b->file, p, "boot/" PXE_LOCAL_DISK_FILE);
		else
			snprintf(b->file, sizeof(b->file), "%s", PXE_LOCAL_DISK_FILE);
		b->tftp = !c->http && c->arch != PXE_ARCH_EFI_X64_HTTP;
		b->boot = true;
		return;
	}
	if (pm->grub && grub_boot(c, b))
		return;
	if (c->ipxe && (c->chained || !p->chain_ipxe)) {
		/* Already iPXE: its own script, which breaks the chain loop. */
		snprintf(path, sizeof(path), "boot/%s.ipxe", bm_mac_format(mac, m));
		url(b->file, p, path);
		b->boot = true;
		return;
	}
	if (c->http || c->arch == PXE_ARCH_EFI_X64_HTTP) {
		snprintf(path, sizeof(path), "boot/%.50s", p->table->http_efi);
		url(b->file, p, path);
		b->vendor_class = "HTTPClient"; /* EDK2 wants it echoed with the URL */
		b->boot = true;
		return;
	}
	file = arch_file(p->table, c->arch < 0 ? PXE_ARCH_BIOS : c->arch);
	if (!file || !*file) {
		b->why = "no boot program for this client architecture";
		return;
	}
	snprintf(b->file, sizeof(b->file), "%s", file);
	b->tftp = true;
	b->boot = true;
	/* An iPXE we chainload from an iPXE ROM sends the ROM's options
	 * byte for byte; the marker it echoes back is what tells them apart. */
	b->send_marker = c->ipxe;
}

int
pxe_uuid_text(const struct dhcp_msg *m, char out[37])
{
	const struct dhcp_opt *o = &m->opt[DHCP_OPT_CLIENT_UUID];
	const uint8_t *u;

	if (!o->present || o->len != 17 || o->p[0] != 0)
		return -EBADMSG;
	u = o->p + 1;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         u[3], u[2], u[1], u[0], u[5], u[4], u[7], u[6], u[8], u[9], u[10], u[11], u[12],
	         u[13], u[14], u[15]);
	return 0;
}
