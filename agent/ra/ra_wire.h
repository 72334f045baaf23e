/* IPv6 router advertisements (RFC 4861 section 4.2), the agent's only IPv6:
 * iPXE waits ~13 s for a router before it gives up on IPv6 and boots on.
 * The agent's RA says "no default router, no addresses, no DHCPv6" (router
 * lifetime 0, M and O clear, no prefix), which ends iPXE's autoconfiguration
 * at once (it takes the first solicited RA) and tells hosts nothing else.
 * Pure functions: no I/O. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RA_LEN 24u /* header 16 + source link-layer address option 8 */

/* The advertisement, from the interface whose MAC is given (the ICMPv6
 * checksum is the kernel's on a raw ICMPv6 socket). Returns its length, or
 * 0 when len is too small. */
size_t ra_build(uint8_t *buf, size_t len, const uint8_t mac[6]);

/* Is this ICMPv6 message (as read from a raw socket: no IPv6 header) a
 * router solicitation? Anything else, or malformed: false. */
bool ra_is_solicitation(const uint8_t *msg, size_t len);
