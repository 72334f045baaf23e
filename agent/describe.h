/* What a managed agent registers with (describe.c). */
#pragma once
#include "bm/proto.h"
#include "config.h"

struct rogue;

/* "eth1 10.12.0.1/24" for each IPv4 address of the interfaces c serves
 * (info->interfaces: allocated, each string too). */
void agent_describe_interfaces(const struct agent_config *c, Bm__AgentInfo *info);
/* The DHCP servers rogue saw (NULL: none), into info->rogue_dhcp (static
 * storage: one caller at a time, the report thread). */
void agent_describe_rogues(struct rogue *rogue, Bm__AgentInfo *info);
