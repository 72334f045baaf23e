/* Caps on what a DHCP client controls. */
#pragma once

/* Largest DHCP message parsed or built. Ethernet's 1500-byte MTU less IP
 * and UDP headers is 1472; jumbo-frame clients may announce more in option
 * 57, but nothing a PXE client needs comes near this. Larger datagrams are
 * dropped as malformed ("giant packets"). */
#define DHCP_PKT_MAX 1472u
