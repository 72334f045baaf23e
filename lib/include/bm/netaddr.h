/* MAC and IPv4 text forms: strict parsers for outside input, and formatters. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define BM_MAC_STR 18 /* "52:54:00:12:00:01" + NUL */
#define BM_IP4_STR 16 /* "255.255.255.255" + NUL */

/* Parse six hex pairs separated by ':' or '-' (one separator kind), either
 * case. Returns 0 or -EINVAL; ret_mac untouched on failure. */
int bm_mac_parse(const char *s, uint8_t ret_mac[6]);
/* Lower-case colon form into buf. Returns buf. */
const char *bm_mac_format(const uint8_t mac[6], char buf[BM_MAC_STR]);

/* Parse a dotted quad, no leading zeros (inet_aton would read 010 as octal).
 * The result is in host order. Returns 0 or -EINVAL. */
int bm_ip4_parse(const char *s, uint32_t *ret_ip);
const char *bm_ip4_format(uint32_t ip, char buf[BM_IP4_STR]);

/* "10.12.0.0/24": network with no host bits set, prefix 8..30 (a rack
 * needs at least two host addresses). Returns 0 or -EINVAL. */
int bm_cidr_parse(const char *s, uint32_t *ret_net, unsigned *ret_plen);
uint32_t bm_ip4_mask(unsigned plen);
bool bm_ip4_in_subnet(uint32_t ip, uint32_t net, unsigned plen);
/* True when ip is in the subnet and is neither its network nor its
 * broadcast address. */
bool bm_ip4_is_host(uint32_t ip, uint32_t net, unsigned plen);

/* "10.12.0.200-10.12.0.250", start <= end. Returns 0 or -EINVAL. */
int bm_ip4_range_parse(const char *s, uint32_t *ret_start, uint32_t *ret_end);

/* Object names: [a-z0-9][a-z0-9-]{0,62}. */
#define BM_NAME_MAX 63u /* the longest name bm_name_valid accepts */
bool bm_name_valid(const char *s);
/* "http://HOST[:PORT]" and nothing after (no path, query or user): the base
 * a peer agent's paths are appended to (peer_url). */
bool bm_http_base_ok(const char *url);

/* The hardware address of interface ifname, asked through any socket fd.
 * Returns 0 or -errno (errno is left set). */
int bm_iface_mac(int fd, const char *ifname, uint8_t ret_mac[6]);
