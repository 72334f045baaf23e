/* bmagent's configuration file (YAML). Every key is known; an unknown key
 * or a bad value is refused at start with the file, line, key and reason. */
#pragma once
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "bm/log.h"
#include "bm/problems.h"
#include "dhcp_pxe.h"

/* Interfaces an agent serves (DHCP, TFTP, HTTP, RA listen on each), and
 * the IPv4 addresses of each that it registers. */
#define AGENT_IFACES_MAX 8u
#define AGENT_IFACE_ADDRS_MAX 4u
#define AGENT_COORDINATORS_MAX 8u
#define AGENT_URL_MAX 256u
#define AGENT_PEER_URL_MAX 128u /* peer_url, with its NUL (CACHE_PEER_URL_MAX) */
#define AGENT_HTTP_LISTEN_MAX 8u

struct agent_config {
	char path[PATH_MAX];
	char rack[64];
	char data_dir[PATH_MAX];
	char ifaces[AGENT_IFACES_MAX][IF_NAMESIZE];
	unsigned n_ifaces;
	bool proxy; /* mode: proxy */
	uint16_t http_port;
	/* http_listen: [ADDR...]: listen on these addresses instead of on the
	 * rack interfaces only (0.0.0.0: everywhere). */
	uint32_t http_listen[AGENT_HTTP_LISTEN_MAX];
	unsigned n_http_listen;
	/* metrics_listen: ADDR:PORT for /metrics, apart from the rack's
	 * boot network (port 0: off). */
	uint32_t metrics_addr;
	uint16_t metrics_port;
	unsigned http_max_conns;
	unsigned http_header_timeout; /* seconds */
	unsigned http_idle_timeout;   /* seconds */
	unsigned http_max_per_client; /* connections at once from one address */
	unsigned tftp_max_transfers, tftp_max_per_client;
	unsigned tftp_timeout_max; /* seconds: the largest timeout option granted */
	char tftp_root[PATH_MAX];
	char user[64];        /* who the agent becomes after opening its sockets (privs.h) */
	char fleet[PATH_MAX]; /* standalone: the rack view comes from this file */
	char coordinators[AGENT_COORDINATORS_MAX][AGENT_URL_MAX];
	/* tls: {ca, cert, key}: the fleet CA and this agent's certificate (of
	 * its rack) for tls+tcp:// coordinators. */
	char tls_ca[PATH_MAX], tls_cert[PATH_MAX], tls_key[PATH_MAX];
	unsigned n_coordinators;
	/* bmc_ca: the CA bundle HTTPS (Redfish) BMCs are checked against ("":
	 * the system's; a machine's bmc_fingerprint pins its certificate
	 * instead); bmc_timeout: seconds one BMC call may take (an ipmitool
	 * run, one Redfish request), 30 by default. */
	char bmc_ca[PATH_MAX];
	unsigned bmc_timeout;
	/* power_stagger_ms: at least this long between two power-ons in the
	 * rack (POWER_STAGGER_DEFAULT_MS; 0: none), so that a reimage does not
	 * switch a rack's PSUs and its DHCP on all at once. */
	unsigned power_stagger_ms;
	/* image_rate_mbit: the rack's file bytes over TFTP and HTTP (kernels,
	 * initrds, disk images) at most this fast, together (token bucket,
	 * bm/rate.h); 0: no limit (the default). */
	unsigned image_rate_mbit;
	/* peer_url: http://ADDRESS:PORT where the agents of this rack's site
	 * reach this agent's HTTP (one of its http_listen addresses) for the
	 * images it holds (/images/SHA256: site-local fill). "": it serves no
	 * peers (it still fetches from them). Managed agents only. */
	char peer_url[AGENT_PEER_URL_MAX];
	/* signed_shim, signed_grub: Debian's signed shim and network GRUB,
	 * served as shimx64.efi and grubx64.efi to `loader: grub` profiles
	 * (defaults: shim-signed's and grub-efi-amd64-signed's files). */
	char signed_shim[PATH_MAX], signed_grub[PATH_MAX];
	uint32_t lease_secs;
	/* discovery_lease_time, discovery_rate, discovery_burst (dhcp_server.h) */
	unsigned discovery_lease_secs, discovery_rate, discovery_burst;
	unsigned rogue_probe_secs; /* rogue_dhcp_probe: seconds between probes (0: off) */
	uint64_t outbox_max;       /* events kept for the coordinator */
	uint64_t cache_budget;     /* bytes of verified images kept; 0: no limit */
	bool chain_ipxe;
	bool ipv6_ra; /* send router advertisements on the interfaces (ra.h) */
	char marker[32];
	struct pxe_boot_table boot;
	enum bm_log_level log_level;
};

/* file is one of the agent's own UEFI iPXE programs (boot_files: efi_x64,
 * efi_ia32, efi_arm64), which are not signed for Secure Boot. */
bool agent_config_unsigned_loader(const struct agent_config *c, const char *file);
/* Defaults for everything optional. */
void agent_config_init(struct agent_config *c);
/* Read `path` into c (initialised with agent_config_init). Returns 0, or
 * -EINVAL with every problem in probs (line in problem.line, key in
 * problem.field), or -errno when the file cannot be read. */
int agent_config_load(const char *path, struct agent_config *c, struct bm_problems *probs);
