/* Caps on what a DHCP client controls. */
#pragma once

/* Largest DHCP message parsed or built. Ethernet's 1500-byte MTU less IP
 * and UDP headers is 1472; jumbo-frame clients may announce more in option
 * 57, but nothing a PXE client needs comes near this. Larger datagrams are
 * dropped as malformed ("giant packets"). */
#define DHCP_PKT_MAX 1472u

/* Longest client identifier (option 61) used as a key; a longer one is
 * hashed down to the MAC-based key, never trusted to size a buffer. */
#define DHCP_CLIENT_KEY_MAX 64u

/* Leases one agent tracks (its rack's reservations and pool, offers
 * included). A /16 pool fits; beyond it new clients get no offer. */
#define DHCP_LEASES_MAX 262144u

/* How long an OFFERed address is held for the client that was offered it
 * (simultaneous new clients must never be offered the same address). */
#define DHCP_OFFER_HOLD_MS 30000u

/* How long a DECLINEd address stays out of the pool. */
#define DHCP_DECLINE_HOLD_MS 600000u
