/* PXE in DHCP (RFC 4578, PXE 2.1, UEFI HTTP boot): who is asking (BIOS,
 * UEFI, ARM64, HTTP boot, iPXE, our own chained iPXE) and what boot
 * program or script each gets. Pure. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dhcp_wire.h"

#define DHCP_BOOTFILE_MAX 128u /* fits the BOOTP file field */

/* Client architectures of option 93 we serve (RFC 4578 2.1, IANA). */
enum pxe_arch {
	PXE_ARCH_BIOS = 0,
	PXE_ARCH_EFI_IA32 = 6,
	PXE_ARCH_EFI_X64 = 7,
	PXE_ARCH_EFI_BC = 9,
	PXE_ARCH_EFI_ARM64 = 11,
	PXE_ARCH_EFI_X64_HTTP = 16,
};

/* Boot programs, relative to the TFTP root (and the HTTP /boot/ route). */
struct pxe_boot_table {
	char bios[DHCP_BOOTFILE_MAX];      /* arch 0 */
	char efi_ia32[DHCP_BOOTFILE_MAX];  /* arch 6 */
	char efi_x64[DHCP_BOOTFILE_MAX];   /* arch 7 and 9 */
	char efi_arm64[DHCP_BOOTFILE_MAX]; /* arch 11 */
	char http_efi[DHCP_BOOTFILE_MAX];  /* arch 16, fetched over HTTP */
};

/* The defaults: the binaries Debian's `ipxe` package installs in
 * /usr/lib/ipxe (x86 only; ia32 and arm64 are for the operator to add). */
void pxe_boot_table_default(struct pxe_boot_table *t);

struct pxe_client {
	bool pxe;     /* vendor class PXEClient or HTTPClient */
	bool http;    /* HTTPClient: UEFI HTTP boot */
	bool ipxe;    /* already iPXE: user class "iPXE", option 175, or our marker */
	bool chained; /* an iPXE we handed out, announcing itself with our marker */
	int arch;     /* option 93, -1 when absent */
};

/* Classify a request. `marker` is the user class (option 77) the agent
 * sets in its ACK to an iPXE that it chainloads. */
void pxe_classify(const struct dhcp_msg *m, const char *marker, struct pxe_client *ret);

/* What a client is given to boot. */
struct pxe_boot {
	bool boot;                    /* false: address only, fall through to disk */
	char file[DHCP_BOOTFILE_MAX]; /* file field and option 67: name or URL */
	bool tftp;                    /* file is fetched over TFTP from siaddr (66) */
	bool send_marker;             /* put the chain marker in option 77 */
	const char *vendor_class;     /* option 60 to send, or NULL */
	const char *why;              /* when !boot and pxe: the reason */
};

struct pxe_policy {
	const struct pxe_boot_table *table;
	uint32_t server_ip;
	uint16_t http_port;
	bool chain_ipxe; /* hand even iPXE clients our own iPXE first (marker breaks the loop) */
	bool proxy;      /* proxyDHCP: 60 PXEClient always goes with 43 */
};

/* The boot file handed to UEFI firmware that must go on to its disk: no
 * such file is served, so the firmware's network boot option fails at once
 * and it tries the next one. (A UEFI firmware whose boot option returns
 * success, as iPXE's exit does, stops at its boot manager menu instead:
 * UEFI 2.10 3.1.1.) */
#define PXE_LOCAL_DISK_FILE "local-disk"
/* `loader: grub`: the boot file of UEFI x64 PXE clients, Debian's signed
 * shim, which then loads PXE_GRUB_FILE from the same server (its
 * DEFAULT_LOADER), Debian's signed network GRUB (agent/boot/grub.h). */
#define PXE_SHIM_FILE "shimx64.efi"
#define PXE_GRUB_FILE "grubx64.efi"

/* What the view says of the client's machine (all false: unknown). */
struct pxe_machine {
	bool netboot; /* marked for netboot */
	bool local;   /* to boot from its disk now (installed, its OS yet to boot) */
	bool grub;    /* its profile's loader is grub */
};

/* Decide the boot program for a client: for a machine to boot from its
 * disk, BIOS clients and iPXE get the chain to the machine's script, which
 * exits to the disk, and UEFI firmware gets PXE_LOCAL_DISK_FILE; for one
 * netbooting with loader grub, UEFI x64 PXE firmware gets PXE_SHIM_FILE
 * (Secure Boot: no unsigned loader), UEFI HTTP boot is refused (GRUB 2.06
 * cannot reach the agent's HTTP port), BIOS gets iPXE. `mac` names its
 * per-machine script. */
void pxe_decide(const struct pxe_policy *p, const struct pxe_client *c, const struct pxe_machine *m,
                const uint8_t mac[6], struct pxe_boot *ret);

/* Option 43 for PXE clients: PXE_DISCOVERY_CONTROL (6) = 8, "download the
 * boot file named in this offer, no menu, no boot server discovery". */
extern const uint8_t pxe_vendor_opts[4];

/* The SMBIOS UUID carried in option 97 (type 0 + 16 bytes) in its usual
 * text form: the first three fields are little-endian on the wire
 * (docs/firmware.md 1.1). Returns 0, or -EBADMSG. */
int pxe_uuid_text(const struct dhcp_msg *m, char out[37]);
