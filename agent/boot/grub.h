/* A machine's GRUB config, for profiles with `loader: grub`: UEFI firmware
 * with Secure Boot on boots Debian's signed shim (PXE_SHIM_FILE), which
 * loads Debian's signed network GRUB (PXE_GRUB_FILE) from the same TFTP
 * server. That GRUB's prefix is (tftp,AGENT)/grub and its built-in config
 * sources $prefix/grub.cfg: the agent's bootstrap (boot_grub_bootstrap),
 * which hands over to grub.cfg-01-<mac with dashes>, the name GRUB's own
 * net config search uses, rendered for that machine (boot_grub_cfg).
 * Kernel and initrd come over TFTP from the image cache: GRUB 2.06's
 * (http,SERVER) device has no port, and the agent's HTTP is not on 80.
 * Pure, like ipxe.h. */
#pragma once
#include "ipxe.h"

#define GRUB_CFG "grub/grub.cfg"
#define GRUB_CFG_MAC_PREFIX "grub/grub.cfg-01-"

/* The bootstrap grub.cfg (the same for every machine). Returns its length
 * with *ret, or -ENOMEM. */
long boot_grub_bootstrap(char **ret);

/* The MAC a per-machine config's name carries: "grub/grub.cfg-01-52-54-
 * 00-0c-00-04" -> "52:54:00:0c:00:04". Returns 0, or -ENOENT when name is
 * not one. */
int boot_grub_cfg_mac(const char *name, char mac_text[BM_MAC_STR]);

/* The machine's config: for one netbooting, its profile's kernel with the
 * rendered command line (each word quoted for GRUB's parser) and its
 * initrd; for any other, exit (shim returns to the firmware, which boots
 * the next option: the disk). Returns the length with *ret, -ENOENT
 * (netboot without a profile or kernel image), -ENOMEM. */
long boot_grub_cfg(struct boot_ctx *c, char **ret);
