/* The DHCP server core: a request and the current time in, a decision out
 * (a reply and where it goes, a lease change to make durable before the
 * reply leaves, a discovery). No sockets, no clock, no log, no disk. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dhcp_pxe.h"
#include "dhcp_wire.h"
#include "lease.h"

#define DHCP_HOSTNAME_MAX 64u

/* One served segment: the rack's subnet on one interface. */
struct dhcp_segment {
	uint32_t server_ip; /* ours on this segment: server id, siaddr */
	uint32_t network;
	unsigned prefix_len;
	uint32_t gateway;
	uint32_t dns[4];
	unsigned n_dns;
	uint32_t pool_start, pool_end; /* 0: no discovery pool */
};

struct dhcp_config {
	bool proxy;                  /* proxyDHCP: PXE clients only, no addresses */
	uint32_t lease_secs;         /* default 3600 */
	uint32_t unknown_lease_secs; /* for a MAC not in the rack view (0: lease_secs) */
	/* Discovery events (an unknown MAC's first lease) recorded at most at
	 * this rate a second, after a burst; beyond, dropped and counted
	 * (0: no limit). The lease is still given. */
	uint32_t discovery_rate, discovery_burst;
	char marker[32]; /* user class set in ACKs to a chainloaded iPXE */
	struct pxe_boot_table boot;
	uint16_t http_port;
	bool chain_ipxe;
};

/* What the rack view knows of a MAC. */
struct dhcp_host {
	char name[DHCP_HOSTNAME_MAX];
	uint32_t ip;  /* reservation, 0: none */
	bool netboot; /* marked for netboot by an operation or `netboot: true` */
	/* Installed, its OS yet to boot from its disk: a firmware that tries
	 * the network first is sent on to the disk at once (pxe_decide), not
	 * left to wait out its PXE timeouts. */
	bool local_boot;
	/* Its profile says `loader: grub`: UEFI x64 PXE boots the signed shim. */
	bool grub;
};

struct dhcp_view {
	/* 0 with *ret for a known machine, -ENOENT for an unknown MAC. */
	int (*host)(void *arg, const uint8_t mac[6], struct dhcp_host *ret);
	/* Is ip some known machine's reservation? (kept out of the pool) */
	bool (*reserved)(void *arg, uint32_t ip);
	void *arg;
};

struct dhcp_server {
	const struct dhcp_config *cfg;
	struct dhcp_view view;
	struct lease_table *leases;
	struct dhcp_msg msg; /* the request being handled (6 KB, kept off the stack) */
};

/* Where a packet arrived. */
struct dhcp_rx {
	const struct dhcp_segment *seg;
	uint32_t src_ip;
	uint16_t src_port;
	bool port_4011; /* arrived on the PXE boot server port */
};

enum dhcp_dest {
	DHCP_DEST_NONE,      /* no reply */
	DHCP_DEST_BROADCAST, /* 255.255.255.255:68 */
	DHCP_DEST_UNICAST,   /* dest_ip:dest_port, an address the client has */
	DHCP_DEST_HW,        /* yiaddr:68 to chaddr: the client has no address yet */
	DHCP_DEST_RELAY,     /* giaddr:67 */
};

enum dhcp_lease_op { DHCP_LEASE_KEEP, DHCP_LEASE_SAVE, DHCP_LEASE_DELETE };

struct dhcp_decision {
	uint8_t in_type, out_type;
	enum dhcp_dest dest;
	uint32_t dest_ip;
	uint16_t dest_port;
	uint8_t mac[6];
	enum dhcp_lease_op lease_op; /* to make durable before the reply leaves */
	struct lease lease;
	bool discovered; /* an unknown MAC was given a pool address */
	bool booted;     /* the reply names a boot program or script */
	bool known;      /* the MAC is a machine of the rack: its exchange is traced */
	char note[200];  /* for a known machine: what it asked and what it got */
	bool firmware;   /* asked as PXE or HTTP boot firmware (not iPXE, not an OS) */
	bool discover;   /* a DISCOVER (or a BOOTP request) */
	/* Set by the service (loader_watch.h): the UEFI boot program this
	 * machine's firmware fetched and at once refused; "" when none. */
	char refused[48];
	const char *why; /* why nothing was sent, or why a NAK */
	size_t len;
	/* Last: everything before it is cleared for each packet, the buffer
	 * only written. */
	uint8_t reply[DHCP_PKT_MAX];
};
_Static_assert(offsetof(struct dhcp_decision, reply) + DHCP_PKT_MAX == sizeof(struct dhcp_decision),
               "dhcp_decision.reply must be the last member");

/* Handle one packet. Returns 0 with *d filled (d->dest NONE when nothing is
 * sent), or the parse error (-EMSGSIZE, -EPROTO, -EPROTONOSUPPORT,
 * -EBADMSG) for the caller to count and log, rate-limited. The lease table
 * is updated here; d->lease_op says what to persist. */
int dhcp_server_handle(struct dhcp_server *s, const struct dhcp_rx *rx, const uint8_t *pkt,
                       size_t len, uint64_t now_ms, struct dhcp_decision *d);

/* The lease key of a request: option 61 if sent (and not too long), else
 * 0x01 + chaddr. */
void dhcp_client_key(const struct dhcp_msg *m, struct lease_key *ret);
