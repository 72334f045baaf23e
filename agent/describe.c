/* What a managed agent registers with, besides its cache (cache.c):
 * the addresses of the interfaces it serves and the rogue DHCP servers
 * it saw. */
#include "describe.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/netaddr.h"
#include "rogue.h"

/* "eth1 10.12.0.1/24" for each served interface's IPv4 addresses. */
void
agent_describe_interfaces(const struct agent_config *c, Bm__AgentInfo *info)
{
	struct ifaddrs *ifs, *i;

	if (getifaddrs(&ifs) < 0)
		return;
	info->interfaces = calloc(AGENT_IFACES_MAX * AGENT_IFACE_ADDRS_MAX + 1, sizeof(char *));
	for (i = ifs;
	     i && info->interfaces && info->n_interfaces < AGENT_IFACES_MAX * AGENT_IFACE_ADDRS_MAX;
	     i = i->ifa_next) {
		bool served = false;
		char ip[BM_IP4_STR], line[IF_NAMESIZE + 24];
		for (unsigned k = 0; k < c->n_ifaces && !served; k++)
			served = !strcmp(c->ifaces[k], i->ifa_name);
		if (!served || !i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_netmask)
			continue;
		uint32_t addr = ntohl(((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr);
		uint32_t mask =
		    ntohl(((struct sockaddr_in *)(void *)i->ifa_netmask)->sin_addr.s_addr);
		snprintf(line, sizeof(line), "%s %s/%d", i->ifa_name, bm_ip4_format(addr, ip),
		         __builtin_popcount(mask));
		if ((info->interfaces[info->n_interfaces] = strdup(line)))
			info->n_interfaces++;
	}
	freeifaddrs(ifs);
}

/* Other DHCP servers seen on the rack's segments. */
void
agent_describe_rogues(struct rogue *rogue, Bm__AgentInfo *info)
{
	static struct rogue_seen seen[ROGUE_KEEP];
	static Bm__RogueDhcp rd[ROGUE_KEEP], *p[ROGUE_KEEP];
	size_t n = rogue ? rogue_list(rogue, seen, ROGUE_KEEP) : 0;

	for (size_t i = 0; i < n; i++) {
		bm__rogue_dhcp__init(&rd[i]);
		rd[i].ip = seen[i].ip;
		rd[i].mac.data = seen[i].mac;
		rd[i].mac.len = 6;
		rd[i].iface = seen[i].iface;
		rd[i].first_seen_ms = seen[i].first_ms;
		rd[i].last_seen_ms = seen[i].last_ms;
		rd[i].offers = seen[i].offers;
		p[i] = &rd[i];
	}
	info->rogue_dhcp = p;
	info->n_rogue_dhcp = n;
}
