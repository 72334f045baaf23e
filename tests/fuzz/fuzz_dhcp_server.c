/* The DHCP server core on arbitrary packets, authoritative and proxy, with
 * a lease table that lives across inputs (so sequences of requests are
 * explored too). The reply, when there is one, must fit the client. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dhcp_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dhcp_config cfg;
static struct dhcp_segment seg = { .server_ip = 0x0a0c0001,
	                           .network = 0x0a0c0000,
	                           .prefix_len = 24,
	                           .gateway = 0x0a0c0001,
	                           .dns = { 0x0a0c0001 },
	                           .n_dns = 1,
	                           .pool_start = 0x0a0c00c8,
	                           .pool_end = 0x0a0c00fa };
static struct dhcp_server srv;
static struct dhcp_decision d;
static uint64_t now = 1000000;

static int
host_cb(void *arg, const uint8_t mac[6], struct dhcp_host *h)
{
	(void)arg;
	memset(h, 0, sizeof(*h));
	if (mac[5] % 3)
		return -ENOENT;
	h->ip = 0x0a0c0000u | (uint32_t)(2 + mac[5] % 150);
	h->netboot = mac[4] & 1;
	return 0;
}

static bool
reserved_cb(void *arg, uint32_t ip)
{
	(void)arg;
	return (ip & 0xff) >= 2 && (ip & 0xff) < 152;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dhcp_rx rx = { .seg = &seg, .src_ip = 0x0a0c0063, .src_port = 68 };

	if (!srv.leases) {
		cfg.lease_secs = 3600;
		cfg.http_port = 8080;
		strcpy(cfg.marker, "bm-chained");
		pxe_boot_table_default(&cfg.boot);
		srv.cfg = &cfg;
		srv.view = (struct dhcp_view){ host_cb, reserved_cb, NULL };
		srv.leases = lease_table_new(512);
	}
	now += 1000;
	for (int mode = 0; mode < 3; mode++) {
		cfg.proxy = mode == 1;
		rx.port_4011 = mode == 2;
		if (dhcp_server_handle(&srv, &rx, data, size, now, &d) == 0 &&
		    d.dest != DHCP_DEST_NONE && (d.len < DHCP_MIN_LEN || d.len > DHCP_PKT_MAX))
			abort();
	}
	return 0;
}
