/* A UEFI firmware that refuses the boot program it was handed (Secure Boot
 * on, and the agent's iPXE is not signed) downloads it, fails to verify
 * it, and at once asks DHCP again as firmware for its next boot option
 * (seen with OVMF: the TFTP transfer of ipxe.efi completes, then a
 * DISCOVER arch=16 follows within the second); iPXE, had it run, would ask
 * with user class iPXE. The watch keeps, per MAC, the last UEFI iPXE
 * program fetched; a firmware DHCP from that MAC soon after names it
 * refused, once. Pure: the callers give the times. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOADER_WATCH_MAX 256u           /* machines watched at once (oldest replaced) */
#define LOADER_REFUSED_WINDOW_MS 30000u /* from the fetch to the firmware asking again */

struct loader_watch {
	struct loader_fetch {
		uint8_t mac[6];
		uint64_t at; /* 0: free */
		char file[48];
	} e[LOADER_WATCH_MAX];
};

/* mac's firmware fetched `file` (an unsigned UEFI boot program) at now. */
void loader_fetched(struct loader_watch *w, const uint8_t mac[6], const char *file, uint64_t now);
/* mac asked DHCP as something else than firmware (iPXE, an OS): what it
 * fetched ran. */
void loader_forget(struct loader_watch *w, const uint8_t mac[6]);
/* mac's firmware asks DHCP again at now: the file it refused into out
 * (forgotten then) and true, or false. */
bool loader_refused(struct loader_watch *w, const uint8_t mac[6], uint64_t now, char *out,
                    size_t len);
