/* Rogue DHCP detection on the rack's segments: every `interval` seconds
 * the agent sends a DHCPDISCOVER (broadcast flag set, its interface's MAC)
 * from port 68 of each rack interface, and a packet socket filtered to UDP
 * 67 -> 68 sees every OFFER or ACK that reaches the interface, the answers
 * to real clients with the broadcast flag included. One from a server id
 * that is not one of the agent's own addresses is a rogue server: logged
 * (once a minute per server), counted, kept (the ROGUE_KEEP most recent)
 * and reported upstream with the agent's registration (changed() is called
 * for a new server, and at most once a minute for one seen again). Sockets
 * are opened at start, as root; the loop thread runs it. */
#pragma once
#include <ev.h>
#include <net/if.h>
#include <stdint.h>

#define ROGUE_KEEP 8u
#define ROGUE_REPORT_MS 60000u

struct rogue;

struct rogue_seen {
	uint32_t ip; /* the server id */
	uint8_t mac[6];
	char iface[IF_NAMESIZE];
	uint64_t first_ms, last_ms, offers;
};

int rogue_start(struct ev_loop *loop, const char *const *ifaces, unsigned n, unsigned interval_s,
                void (*changed)(void *arg), void *arg, struct rogue **ret);
/* The servers seen, most recent first (any thread). Returns how many. */
size_t rogue_list(struct rogue *r, struct rogue_seen *out, size_t max);
/* OFFERs and ACKs of other servers seen since start (any thread). */
uint64_t rogue_offers(struct rogue *r);
/* Accepts NULL. */
void rogue_stop(struct rogue *r);
