#include "bm/netaddr.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "bm/util.h"

int
bm_mac_parse(const char *s, uint8_t ret_mac[6])
{
	uint8_t mac[6];
	char sep;

	if (strlen(s) != 17)
		return -EINVAL;
	sep = s[2];
	if (sep != ':' && sep != '-')
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = bm_hexval(s[i * 3]), lo = bm_hexval(s[i * 3 + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != sep))
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(ret_mac, mac, 6);
	return 0;
}

const char *
bm_mac_format(const uint8_t mac[6], char buf[BM_MAC_STR])
{
	snprintf(buf, BM_MAC_STR, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
	         mac[4], mac[5]);
	return buf;
}

/* Parse a decimal in [0, max] at *s, advancing it. No sign, no leading zero. */
static int
parse_dec(const char **s, unsigned max, unsigned *ret)
{
	const char *p = *s;
	unsigned v = 0;
	int digits = 0;

	while (*p >= '0' && *p <= '9') {
		if (digits == 1 && v == 0)
			return -EINVAL;
		v = v * 10 + (unsigned)(*p - '0');
		if (v > max)
			return -EINVAL;
		p++;
		digits++;
	}
	if (digits == 0)
		return -EINVAL;
	*s = p;
	*ret = v;
	return 0;
}

/* Parse a quad at *s, advancing it past the quad. */
static int
parse_quad(const char **s, uint32_t *ret)
{
	uint32_t ip = 0;
	for (int i = 0; i < 4; i++) {
		unsigned octet;
		if (i > 0 && *(*s)++ != '.')
			return -EINVAL;
		if (parse_dec(s, 255, &octet) < 0)
			return -EINVAL;
		ip = ip << 8 | octet;
	}
	*ret = ip;
	return 0;
}

int
bm_ip4_parse(const char *s, uint32_t *ret_ip)
{
	uint32_t ip;

	if (parse_quad(&s, &ip) < 0 || *s != '\0')
		return -EINVAL;
	*ret_ip = ip;
	return 0;
}

const char *
bm_ip4_format(uint32_t ip, char buf[BM_IP4_STR])
{
	snprintf(buf, BM_IP4_STR, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
	         ip & 255);
	return buf;
}

uint32_t
bm_ip4_mask(unsigned plen)
{
	return plen == 0 ? 0 : plen >= 32 ? 0xffffffffu : ~((1u << (32 - plen)) - 1);
}

int
bm_cidr_parse(const char *s, uint32_t *ret_net, unsigned *ret_plen)
{
	uint32_t net;
	unsigned plen;

	if (parse_quad(&s, &net) < 0 || *s++ != '/')
		return -EINVAL;
	if (parse_dec(&s, 32, &plen) < 0 || *s != '\0')
		return -EINVAL;
	if (plen < 8 || plen > 30 || (net & ~bm_ip4_mask(plen)) != 0)
		return -EINVAL;
	*ret_net = net;
	*ret_plen = plen;
	return 0;
}

bool
bm_ip4_in_subnet(uint32_t ip, uint32_t net, unsigned plen)
{
	return (ip & bm_ip4_mask(plen)) == net;
}

bool
bm_ip4_is_host(uint32_t ip, uint32_t net, unsigned plen)
{
	uint32_t bcast = net | ~bm_ip4_mask(plen);
	return bm_ip4_in_subnet(ip, net, plen) && ip != net && ip != bcast;
}

int
bm_ip4_range_parse(const char *s, uint32_t *ret_start, uint32_t *ret_end)
{
	uint32_t a, b;

	if (parse_quad(&s, &a) < 0 || *s++ != '-')
		return -EINVAL;
	if (parse_quad(&s, &b) < 0 || *s != '\0' || a > b)
		return -EINVAL;
	*ret_start = a;
	*ret_end = b;
	return 0;
}

bool
bm_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > BM_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0);
		if (!ok)
			return false;
	}
	return true;
}

int
bm_iface_mac(int fd, const char *ifname, uint8_t ret[6])
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return -errno;
	memcpy(ret, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

bool
bm_http_base_ok(const char *url)
{
	const char *host = url + 7;

	if (strncmp(url, "http://", 7))
		return false;
	size_t n = strcspn(host, "/?#@ ");
	return n > 0 && !host[n];
}
