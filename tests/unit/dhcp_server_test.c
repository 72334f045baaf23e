/* The DHCP server core with crafted packets: DORA and every REQUEST state,
 * RELEASE, DECLINE, INFORM, NAK, relays and destinations, every PXE branch
 * (each arch, iPXE by user class or 175, the chain marker, UEFI HTTP boot,
 * not marked for netboot, installed and sent on to its disk), unknown MACs
 * with and without a pool, proxyDHCP on 67 and 4011, and a malformed
 * packet followed by a valid one. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dhcp_pkt.h"
#include "dhcp_server.h"

#define SERVER 0x0a0c0001u /* 10.12.0.1 */
#define NET 0x0a0c0000u
#define RES1 0x0a0c000bu   /* 10.12.0.11: r12n01's reservation */
#define POOL_A 0x0a0c00c8u /* .200 */
#define POOL_B 0x0a0c00c9u /* .201 */
#define T0 1000000u

static const uint8_t MAC1[6] = { 0x52, 0x54, 0, 0x12, 0, 0x01 }; /* r12n01, netboot */
static const uint8_t MAC2[6] = { 0x52, 0x54, 0, 0x12, 0, 0x02 }; /* r12n02, not marked */
static const uint8_t MAC3[6] = { 0x52, 0x54, 0, 0x12, 0, 0x03 }; /* r12n03, installed */
static const uint8_t MAC4[6] = { 0x52, 0x54, 0, 0x12, 0, 0x04 }; /* r12-sb, loader grub */
static const uint8_t MACU[6] = { 0x52, 0x54, 0, 0x99, 0, 0x01 }; /* unknown */
static const uint8_t MACV[6] = { 0x52, 0x54, 0, 0x99, 0, 0x02 }; /* unknown */

static int
host_cb(void *arg, const uint8_t mac[6], struct dhcp_host *h)
{
	(void)arg;
	memset(h, 0, sizeof(*h));
	if (!memcmp(mac, MAC1, 6)) {
		snprintf(h->name, sizeof(h->name), "r12n01");
		h->ip = RES1;
		h->netboot = true;
		return 0;
	}
	if (!memcmp(mac, MAC2, 6)) {
		snprintf(h->name, sizeof(h->name), "r12n02");
		h->ip = 0x0a0c000c;
		return 0;
	}
	if (!memcmp(mac, MAC3, 6)) {
		snprintf(h->name, sizeof(h->name), "r12n03");
		h->ip = 0x0a0c000d;
		h->local_boot = true;
		return 0;
	}
	if (!memcmp(mac, MAC4, 6)) {
		snprintf(h->name, sizeof(h->name), "r12-sb");
		h->ip = 0x0a0c000e;
		h->netboot = true;
		h->grub = true;
		return 0;
	}
	return -ENOENT;
}

static bool
reserved_cb(void *arg, uint32_t ip)
{
	(void)arg;
	return ip == RES1 || ip == 0x0a0c000c || ip == 0x0a0c000d;
}

struct fx {
	struct dhcp_config cfg;
	struct dhcp_segment seg;
	struct dhcp_server srv;
	struct dhcp_rx rx;
	struct dhcp_decision d;
	struct dhcp_msg out; /* the reply, parsed back */
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->cfg.lease_secs = 3600;
	f->cfg.http_port = 8080;
	snprintf(f->cfg.marker, sizeof(f->cfg.marker), "bm-chained");
	pxe_boot_table_default(&f->cfg.boot);
	f->seg = (struct dhcp_segment){ .server_ip = SERVER,
		                        .network = NET,
		                        .prefix_len = 24,
		                        .gateway = SERVER,
		                        .dns = { SERVER },
		                        .n_dns = 1,
		                        .pool_start = POOL_A,
		                        .pool_end = POOL_B };
	f->srv.cfg = &f->cfg;
	f->srv.view = (struct dhcp_view){ host_cb, reserved_cb, NULL };
	f->srv.leases = lease_table_new(64);
	f->rx = (struct dhcp_rx){ .seg = &f->seg, .src_port = 68 };
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	lease_table_free(f->srv.leases);
	free(f);
	return 0;
}

/* Handle p at time now; parse the reply back into f->out if there is one. */
static int
handle(struct fx *f, struct pkt *p, uint64_t now)
{
	int r = dhcp_server_handle(&f->srv, &f->rx, p->b, p->len, now, &f->d);
	if (r == 0 && f->d.dest != DHCP_DEST_NONE) {
		uint8_t copy[DHCP_PKT_MAX];
		memcpy(copy, f->d.reply, f->d.len);
		copy[0] = DHCP_BOOTREQUEST; /* parse the reply with the request parser */
		assert_int_equal(dhcp_msg_parse(copy, f->d.len, &f->out), 0);
		/* Views point into `copy`: keep the values we check in f->out. */
		static uint8_t keep[DHCP_PKT_MAX];
		memcpy(keep, copy, f->d.len);
		for (unsigned c = 0; c < 256; c++)
			if (f->out.opt[c].present && f->out.opt[c].p >= copy &&
			    f->out.opt[c].p < copy + f->d.len)
				f->out.opt[c].p = keep + (f->out.opt[c].p - copy);
	}
	return r;
}

static const char *
file_of(struct fx *f)
{
	static char buf[130];
	const struct dhcp_opt *o = &f->out.opt[DHCP_OPT_BOOTFILE];
	snprintf(buf, sizeof(buf), "%.*s", o->present ? (int)o->len : 0,
	         o->present ? (const char *)o->p : "");
	return buf;
}

static void
discover(struct pkt *p, const uint8_t *mac, uint32_t xid)
{
	pkt_init_mac(p, DHCP_BOOTREQUEST, mac, xid);
	pkt_opt(p, DHCP_OPT_MSG_TYPE, (uint8_t[]){ DHCP_DISCOVER }, 1);
}

static void
pxe(struct pkt *p, unsigned arch, const char *vc)
{
	pkt_opt(p, DHCP_OPT_CLIENT_ARCH, (uint8_t[]){ (uint8_t)(arch >> 8), (uint8_t)arch }, 2);
	pkt_opt_str(p, DHCP_OPT_VENDOR_CLASS, vc);
}

static void
select_req(struct pkt *p, const uint8_t *mac, uint32_t ip)
{
	pkt_init_mac(p, DHCP_BOOTREQUEST, mac, 7);
	pkt_opt(p, DHCP_OPT_MSG_TYPE, (uint8_t[]){ DHCP_REQUEST }, 1);
	pkt_opt_be32(p, DHCP_OPT_SERVER_ID, SERVER);
	pkt_opt_be32(p, DHCP_OPT_REQUESTED_IP, ip);
}

/* ---------------------------------------------------------------- DORA */

static void
test_ipxe_rom_dora(void **state)
{
	struct fx *f = *state;
	struct pkt p;
	char want[80];
	uint32_t v;

	discover(&p, MAC1, 0x1111);
	pxe(&p, 0, "PXEClient:Arch:00000:UNDI:002001");
	pkt_opt_str(&p, DHCP_OPT_USER_CLASS, "iPXE");
	pkt_broadcast(&p);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.out_type, DHCP_OFFER);
	assert_int_equal(f->d.dest, DHCP_DEST_BROADCAST);
	assert_int_equal(f->out.yiaddr, RES1);
	assert_int_equal(f->d.lease_op, DHCP_LEASE_KEEP); /* an offer is held, not persisted */
	snprintf(want, sizeof(want), "http://10.12.0.1:8080/boot/52:54:00:12:00:01.ipxe");
	assert_string_equal(file_of(f), want);
	assert_true(dhcp_opt_equals(&f->out, DHCP_OPT_VENDOR_CLASS, "PXEClient", 9));
	assert_false(f->out.opt[DHCP_OPT_VENDOR].present); /* no 43 for iPXE */
	assert_true(dhcp_opt_equals(&f->out, DHCP_OPT_HOSTNAME, "r12n01", 6));
	assert_int_equal(dhcp_opt_be32(&f->out, DHCP_OPT_SERVER_ID, &v), 0);
	assert_int_equal(v, SERVER);

	select_req(&p, MAC1, RES1);
	pkt_opt_str(&p, DHCP_OPT_USER_CLASS, "iPXE");
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0 + 10), 0);
	assert_int_equal(f->d.out_type, DHCP_ACK);
	assert_int_equal(f->d.dest, DHCP_DEST_HW); /* no broadcast flag, no address yet */
	assert_int_equal(f->d.dest_ip, RES1);
	assert_int_equal(f->d.lease_op, DHCP_LEASE_SAVE);
	assert_int_equal(f->d.lease.ip, RES1);
	assert_int_equal(f->d.lease.state, LEASE_BOUND);
	assert_int_equal(dhcp_opt_be32(&f->out, DHCP_OPT_LEASE_TIME, &v), 0);
	assert_int_equal(v, 3600);
	assert_false(f->d.discovered);
}

/* Each architecture and firmware gets its own program. */
static void
test_pxe_branches(void **state)
{
	static const struct {
		unsigned arch;
		const char *vc, *uc;
		const char *file;
		bool tftp, opt43, echo60;
	} v[] = {
		{ 0, "PXEClient:Arch:00000:UNDI:002001", NULL, "undionly.kpxe", true, true, false },
		{ 6, "PXEClient:Arch:00006:UNDI:003000", NULL, "i386/ipxe.efi", true, true, false },
		{ 7, "PXEClient:Arch:00007:UNDI:003000", NULL, "ipxe.efi", true, true, false },
		{ 9, "PXEClient:Arch:00009:UNDI:003000", NULL, "ipxe.efi", true, true, false },
		{ 11, "PXEClient:Arch:00011:UNDI:003000", NULL, "arm64/ipxe.efi", true, true,
		  false },
		{ 16, "HTTPClient:Arch:00016:UNDI:003000", NULL,
		  "http://10.12.0.1:8080/boot/ipxe.efi", false, false, true },
		{ 7, "PXEClient:Arch:00007:UNDI:003010", "iPXE",
		  "http://10.12.0.1:8080/boot/52:54:00:12:00:01.ipxe", false, false, true },
	};
	struct fx *f = *state;
	struct pkt p;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		discover(&p, MAC1, 0x2222);
		pxe(&p, v[i].arch, v[i].vc);
		if (v[i].uc)
			pkt_opt_str(&p, DHCP_OPT_USER_CLASS, v[i].uc);
		pkt_opt(&p, DHCP_OPT_CLIENT_UUID, (uint8_t[17]){ 0, 0xb0, 0x1a, 0x5e, 0x7a }, 17);
		pkt_end(&p);
		assert_int_equal(handle(f, &p, T0), 0);
		assert_int_equal(f->d.out_type, DHCP_OFFER);
		assert_string_equal(file_of(f), v[i].file);
		/* next-server with every boot file: iPXE asks port 4011 otherwise. */
		assert_int_equal(f->out.siaddr, SERVER);
		assert_int_equal(f->out.opt[DHCP_OPT_TFTP_SERVER].present, v[i].tftp);
		assert_int_equal(f->out.opt[DHCP_OPT_VENDOR].present, v[i].opt43);
		assert_int_equal(f->out.opt[DHCP_OPT_VENDOR_CLASS].present, v[i].echo60);
		assert_true(f->out.opt[DHCP_OPT_CLIENT_UUID].present); /* 97 echoed */
		if (v[i].arch == 16)
			assert_true(
			    dhcp_opt_equals(&f->out, DHCP_OPT_VENDOR_CLASS, "HTTPClient", 10));
	}
	/* Option 175 alone marks iPXE too. */
	discover(&p, MAC1, 0x2223);
	pxe(&p, 0, "PXEClient:Arch:00000:UNDI:002001");
	pkt_opt(&p, DHCP_OPT_IPXE, (uint8_t[]){ 0xb1, 0x05, 0x01, 0x80, 0x86, 0x10, 0x0e }, 7);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_string_equal(file_of(f), "http://10.12.0.1:8080/boot/52:54:00:12:00:01.ipxe");
}

static void
test_chain_marker(void **state)
{
	struct fx *f = *state;
	struct pkt p;

	f->cfg.chain_ipxe = true;
	/* The iPXE ROM gets our iPXE, with the marker in 77... */
	discover(&p, MAC1, 0x3333);
	pxe(&p, 0, "PXEClient:Arch:00000:UNDI:002001");
	pkt_opt_str(&p, DHCP_OPT_USER_CLASS, "iPXE");
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_string_equal(file_of(f), "undionly.kpxe");
	assert_true(dhcp_opt_equals(&f->out, DHCP_OPT_USER_CLASS, "bm-chained", 10));
	/* ...and the chainloaded stage, sending the same options but echoing
	 * the marker, gets its script: the loop is broken without state. */
	discover(&p, MAC1, 0x3334);
	pxe(&p, 0, "PXEClient:Arch:00000:UNDI:002001");
	pkt_opt_str(&p, DHCP_OPT_USER_CLASS, "bm-chained");
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_string_equal(file_of(f), "http://10.12.0.1:8080/boot/52:54:00:12:00:01.ipxe");
	assert_false(f->out.opt[DHCP_OPT_USER_CLASS].present);
}

static void
test_not_marked_for_netboot(void **state)
{
	struct fx *f = *state;
	struct pkt p;

	discover(&p, MAC2, 0x4444);
	pxe(&p, 7, "PXEClient:Arch:00007:UNDI:003000");
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.out_type, DHCP_OFFER);
	assert_int_equal(f->out.yiaddr, 0x0a0c000c);         /* its address */
	assert_false(f->out.opt[DHCP_OPT_BOOTFILE].present); /* no boot file: local disk */
	assert_false(f->out.opt[DHCP_OPT_VENDOR].present);
	assert_int_equal(f->out.siaddr, 0);
	assert_false(f->d.booted);
}

/* A PXE client of each kind, and the boot file its offer must carry. */
struct boot_case {
	unsigned arch;
	const char *vc, *uc, *file;
};

static void
offers(struct fx *f, const uint8_t *mac, uint32_t xid, const struct boot_case *v, size_t n)
{
	struct pkt p;

	for (size_t i = 0; i < n; i++) {
		discover(&p, mac, xid + (uint32_t)i);
		pxe(&p, v[i].arch, v[i].vc);
		if (v[i].uc)
			pkt_opt_str(&p, DHCP_OPT_USER_CLASS, v[i].uc);
		pkt_end(&p);
		assert_int_equal(handle(f, &p, T0), 0);
		assert_int_equal(f->d.out_type, DHCP_OFFER);
		assert_string_equal(file_of(f), v[i].file);
	}
}

/* Installed, its OS yet to boot from its disk: BIOS PXE and iPXE get the
 * chain to its script (which exits to the disk); UEFI firmware gets a boot
 * file that fails, so it goes on to its disk. */
static void
test_installed_goes_to_disk(void **state)
{
	static const struct boot_case v[] = {
		{ 0, "PXEClient:Arch:00000:UNDI:002001", NULL, "undionly.kpxe" },
		{ 0, "PXEClient:Arch:00000:UNDI:002001", "iPXE",
		  "http://10.12.0.1:8080/boot/52:54:00:12:00:03.ipxe" },
		{ 7, "PXEClient:Arch:00007:UNDI:003000", NULL, PXE_LOCAL_DISK_FILE },
		{ 11, "PXEClient:Arch:00011:UNDI:003000", NULL, PXE_LOCAL_DISK_FILE },
		{ 16, "HTTPClient:Arch:00016:UNDI:003000", NULL,
		  "http://10.12.0.1:8080/boot/" PXE_LOCAL_DISK_FILE },
	};
	struct fx *f = *state;

	offers(f, MAC3, 0x4500, v, sizeof(v) / sizeof(v[0]));
	assert_int_equal(f->out.yiaddr, 0x0a0c000d);
}

/* loader grub: UEFI x64 PXE firmware (arch 7 and 9) gets the signed shim
 * over TFTP, never iPXE; BIOS and iPXE itself are as before; UEFI HTTP
 * boot gets nothing, with the reason. */
static void
test_grub_loader(void **state)
{
	static const struct boot_case v[] = {
		{ 7, "PXEClient:Arch:00007:UNDI:003000", NULL, PXE_SHIM_FILE },
		{ 9, "PXEClient:Arch:00009:UNDI:003000", NULL, PXE_SHIM_FILE },
		{ 0, "PXEClient:Arch:00000:UNDI:002001", NULL, "undionly.kpxe" },
		{ 7, "PXEClient:Arch:00007:UNDI:003000", "iPXE",
		  "http://10.12.0.1:8080/boot/52:54:00:12:00:04.ipxe" },
		{ 16, "HTTPClient:Arch:00016:UNDI:003000", NULL, "" },
	};
	struct fx *f = *state;

	offers(f, MAC4, 0x4600, v, sizeof(v) / sizeof(v[0]));
	assert_non_null(strstr(f->d.why, "loader grub boots over PXE only"));
}

/* ------------------------------------------------------ unknown clients */

static void
test_unknown_with_pool(void **state)
{
	struct fx *f = *state;
	struct pkt p;
	uint32_t a, b;

	/* Two new clients at once, with the same xid (OVMF), get different
	 * addresses: the first offer holds its address. */
	discover(&p, MACU, 0x6f6fc7e3);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	a = f->out.yiaddr;
	discover(&p, MACV, 0x6f6fc7e3);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	b = f->out.yiaddr;
	assert_true(a >= POOL_A && a <= POOL_B && b >= POOL_A && b <= POOL_B);
	assert_int_not_equal(a, b);
	/* A third finds the pool exhausted. */
	discover(&p, (uint8_t[]){ 0x52, 0x54, 0, 0x99, 0, 3 }, 1);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.dest, DHCP_DEST_NONE);
	assert_string_equal(f->d.why, "pool exhausted");
	/* The first binds: a discovery, once. */
	select_req(&p, MACU, a);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0 + 1), 0);
	assert_int_equal(f->d.out_type, DHCP_ACK);
	assert_true(f->d.discovered);
	assert_int_equal(f->d.lease.ip, a);
	/* So does the second, with its own address. */
	select_req(&p, MACV, b);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0 + 1), 0);
	assert_int_equal(f->d.out_type, DHCP_ACK);
	assert_true(f->d.discovered);
	assert_int_equal(f->d.lease.ip, b);
	assert_int_equal(f->out.yiaddr, b);
	pkt_init_mac(&p, DHCP_BOOTREQUEST, MACU, 8); /* RENEWING */
	pkt_opt(&p, DHCP_OPT_MSG_TYPE, (uint8_t[]){ DHCP_REQUEST }, 1);
	pkt_ciaddr(&p, a);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0 + 2), 0);
	assert_int_equal(f->d.out_type, DHCP_ACK);
	assert_int_equal(f->d.dest, DHCP_DEST_UNICAST);
	assert_int_equal(f->d.dest_ip, a);
	assert_false(f->d.discovered);
}

/* An offer not taken up is held only DHCP_OFFER_HOLD_MS. */
static void
test_offer_hold_expires(void **state)
{
	struct fx *f = *state;
	struct pkt p;
	uint32_t a;

	f->seg.pool_end = POOL_A; /* a pool of one */
	discover(&p, MACU, 1);
	pkt_end(&p);
	handle(f, &p, T0);
	a = f->out.yiaddr;
	assert_int_equal(a, POOL_A);
	discover(&p, MACV, 2);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0 + DHCP_OFFER_HOLD_MS - 1), 0);
	assert_int_equal(f->d.dest, DHCP_DEST_NONE); /* still held for MACU */
	assert_int_equal(handle(f, &p, T0 + DHCP_OFFER_HOLD_MS + 1), 0);
	assert_int_equal(f->d.out_type, DHCP_OFFER);
	assert_int_equal(f->out.yiaddr, a);
}

static void
test_unknown_without_pool(void **state)
{
	struct fx *f = *state;
	struct pkt p;

	f->seg.pool_start = f->seg.pool_end = 0;
	discover(&p, MACU, 1);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.dest, DHCP_DEST_NONE);
	assert_string_equal(f->d.why, "unknown MAC and no discovery pool");
}

/* ------------------------------------------------------ REQUEST states */

static void
test_request_states(void **state)
{
	struct fx *f = *state;
	struct pkt p;

	/* SELECTING another server: silence, and our offer is let go. */
	discover(&p, MACU, 1);
	pkt_end(&p);
	handle(f, &p, T0);
	uint32_t offered = f->out.yiaddr;
	pkt_init_mac(&p, DHCP_BOOTREQUEST, MACU, 2);
	pkt_opt(&p, DHCP_OPT_MSG_TYPE, (uint8_t[]){ DHCP_REQUEST }, 1);
	pkt_opt_be32(&p, DHCP_OPT_SERVER_ID, 0x0a0c00fe);
	pkt_opt_be32(&p, DHCP_OPT_REQUESTED_IP, offered);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.dest, DHCP_DEST_NONE);
	assert_null(lease_by_ip(f->srv.leases, offered, T0));
	/* SELECTING us without an offer: NAK, broadcast. */
	select_req(&p, MACV, POOL_B);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.out_type, DHCP_NAK);
	assert_int_equal(f->d.dest, DHCP_DEST_BROADCAST);
	assert_true(f->out.opt[DHCP_OPT_MESSAGE].present);
	/* INIT-REBOOT: its reservation is ACKed, another subnet or another
	 * machine's address NAKed. */
	pkt_init_mac(&p, DHCP_BOOTREQUEST, MAC1, 3);
	pkt_opt(&p, DHCP_OPT_MSG_TYPE, (uint8_t[]){ DHCP_REQUEST }, 1);
	pkt_opt_be32(&p, DHCP_OPT_REQUESTED_IP, RES1);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.out_type, DHCP_ACK);
	pkt_init_mac(&p, DHCP_BOOTREQUEST, MAC1, 4);
	pkt_opt(&p, DHCP_OPT_MSG_TYPE, (uint8_t[]){ DHCP_REQUEST }, 1);
	pkt_opt_be32(&p, DHCP_OPT_REQUESTED_IP, 0xc0a80005);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.out_type, DHCP_NAK);
	assert_string_equal(f->d.why, "address not on this network");
	pkt_init_mac(&p, DHCP_BOOTREQUEST, MACU, 5);
	pkt_opt(&p, DHCP_OPT_MSG_TYPE, (uint8_t[]){ DHCP_REQUEST }, 1);
	pkt_opt_be32(&p, DHCP_OPT_REQUESTED_IP, RES1);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.out_type, DHCP_NAK);
	/* REBINDING (broadcast, ciaddr set) to its reservation: ACK unicast. */
	pkt_init_mac(&p, DHCP_BOOTREQUEST, MAC1, 6);
	pkt_opt(&p, DHCP_OPT_MSG_TYPE, (uint8_t[]){ DHCP_REQUEST }, 1);
	pkt_ciaddr(&p, RES1);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.out_type, DHCP_ACK);
	assert_int_equal(f->d.dest, DHCP_DEST_UNICAST);
}

static void
test_release_decline_inform(void **state)
{
	struct fx *f = *state;
	struct pkt p;
	uint32_t a;

	discover(&p, MACU, 1);
	pkt_end(&p);
	handle(f, &p, T0);
	a = f->out.yiaddr;
	select_req(&p, MACU, a);
	pkt_end(&p);
	handle(f, &p, T0);
	/* RELEASE: the lease goes, from memory and disk. */
	pkt_init_mac(&p, DHCP_BOOTREQUEST, MACU, 2);
	pkt_opt(&p, DHCP_OPT_MSG_TYPE, (uint8_t[]){ DHCP_RELEASE }, 1);
	pkt_opt_be32(&p, DHCP_OPT_SERVER_ID, SERVER);
	pkt_ciaddr(&p, a);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.dest, DHCP_DEST_NONE);
	assert_int_equal(f->d.lease_op, DHCP_LEASE_DELETE);
	assert_null(lease_by_ip(f->srv.leases, a, T0));
	/* DECLINE: the address is quarantined, persisted, and skipped. */
	discover(&p, MACU, 3);
	pkt_end(&p);
	handle(f, &p, T0);
	a = f->out.yiaddr;
	select_req(&p, MACU, a);
	pkt_end(&p);
	handle(f, &p, T0);
	pkt_init_mac(&p, DHCP_BOOTREQUEST, MACU, 4);
	pkt_opt(&p, DHCP_OPT_MSG_TYPE, (uint8_t[]){ DHCP_DECLINE }, 1);
	pkt_opt_be32(&p, DHCP_OPT_SERVER_ID, SERVER);
	pkt_opt_be32(&p, DHCP_OPT_REQUESTED_IP, a);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.lease_op, DHCP_LEASE_SAVE);
	assert_int_equal(f->d.lease.state, LEASE_DECLINED);
	discover(&p, MACU, 5);
	pkt_end(&p);
	handle(f, &p, T0);
	assert_int_not_equal(f->out.yiaddr, a);
	/* INFORM: configuration, no address, no lease time, to ciaddr. */
	pkt_init_mac(&p, DHCP_BOOTREQUEST, MAC1, 6);
	pkt_opt(&p, DHCP_OPT_MSG_TYPE, (uint8_t[]){ DHCP_INFORM }, 1);
	pkt_ciaddr(&p, RES1);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.out_type, DHCP_ACK);
	assert_int_equal(f->out.yiaddr, 0);
	assert_false(f->out.opt[DHCP_OPT_LEASE_TIME].present);
	assert_int_equal(f->d.dest_ip, RES1);
}

static void
test_options_relay_and_limits(void **state)
{
	struct fx *f = *state;
	struct pkt p;

	/* Only what 55 asks for among the optional options. */
	discover(&p, MAC1, 1);
	pkt_opt(&p, DHCP_OPT_PARAM_LIST, (uint8_t[]){ DHCP_OPT_SUBNET_MASK }, 1);
	pkt_end(&p);
	handle(f, &p, T0);
	assert_true(f->out.opt[DHCP_OPT_SUBNET_MASK].present);
	assert_false(f->out.opt[DHCP_OPT_ROUTER].present);
	assert_false(f->out.opt[DHCP_OPT_DNS].present);
	assert_true(f->out.opt[DHCP_OPT_LEASE_TIME].present); /* required */
	/* Through a relay: to giaddr:67. */
	discover(&p, MAC1, 2);
	pkt_giaddr(&p, 0x0a0c00fe);
	pkt_end(&p);
	handle(f, &p, T0);
	assert_int_equal(f->d.dest, DHCP_DEST_RELAY);
	assert_int_equal(f->d.dest_ip, 0x0a0c00fe);
	assert_int_equal(f->d.dest_port, 67);
	assert_int_equal(f->out.giaddr, 0x0a0c00fe);
	/* Client id (61) keys the lease, not the MAC. */
	discover(&p, MACU, 3);
	pkt_opt(&p, DHCP_OPT_CLIENT_ID, (uint8_t[]){ 0xff, 1, 2, 3, 4 }, 5);
	pkt_end(&p);
	handle(f, &p, T0);
	uint32_t a = f->out.yiaddr;
	discover(&p, MACU, 4);
	pkt_opt(&p, DHCP_OPT_CLIENT_ID, (uint8_t[]){ 0xff, 9, 9, 9, 9 }, 5);
	pkt_end(&p);
	handle(f, &p, T0);
	assert_int_not_equal(f->out.yiaddr, a);
}

/* --------------------------------------------------------------- proxy */

static void
test_proxy(void **state)
{
	struct fx *f = *state;
	struct pkt p;

	f->cfg.proxy = true;
	discover(&p, MAC1, 1);
	pxe(&p, 7, "PXEClient:Arch:00007:UNDI:003000");
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.out_type, DHCP_OFFER);
	assert_int_equal(f->out.yiaddr, 0); /* no address from a proxy */
	assert_string_equal(file_of(f), "ipxe.efi");
	assert_true(dhcp_opt_equals(&f->out, DHCP_OPT_VENDOR_CLASS, "PXEClient", 9));
	assert_true(f->out.opt[DHCP_OPT_VENDOR].present);
	/* A plain client is left to the real server. */
	discover(&p, MAC1, 2);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.dest, DHCP_DEST_NONE);
	/* REQUEST on 67 goes to the real server; on 4011 we ACK to the source. */
	select_req(&p, MAC1, RES1);
	pxe(&p, 7, "PXEClient:Arch:00007:UNDI:003000");
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.dest, DHCP_DEST_NONE);
	f->rx.port_4011 = true;
	f->rx.src_ip = 0x0a0c0063;
	f->rx.src_port = 4011;
	pkt_ciaddr(&p, 0x0a0c0063);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.out_type, DHCP_ACK);
	assert_int_equal(f->d.dest, DHCP_DEST_UNICAST);
	assert_int_equal(f->d.dest_ip, 0x0a0c0063);
	assert_int_equal(f->d.dest_port, 4011);
	assert_string_equal(file_of(f), "ipxe.efi");
}

/* The decision is reused packet after packet (the agent decides in place):
 * nothing of a RELEASE may leak into the OFFER that follows. */
static void
test_decision_reuse(void **state)
{
	struct fx *f = *state;
	struct pkt p;

	discover(&p, MAC1, 1);
	pkt_end(&p);
	handle(f, &p, T0);
	select_req(&p, MAC1, RES1);
	pkt_end(&p);
	handle(f, &p, T0);
	assert_int_equal(f->d.out_type, DHCP_ACK);
	pkt_init_mac(&p, DHCP_BOOTREQUEST, MAC1, 2);
	pkt_opt(&p, DHCP_OPT_MSG_TYPE, (uint8_t[]){ DHCP_RELEASE }, 1);
	pkt_ciaddr(&p, RES1);
	pkt_end(&p);
	handle(f, &p, T0);
	assert_int_equal(f->d.lease_op, DHCP_LEASE_DELETE);
	discover(&p, MAC1, 3);
	pkt_end(&p);
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.out_type, DHCP_OFFER);
	assert_int_equal(f->d.lease_op, DHCP_LEASE_KEEP);
	assert_false(f->d.discovered);
	assert_null(f->d.why);
}

static void
test_malformed_then_valid(void **state)
{
	struct fx *f = *state;
	struct pkt p;

	discover(&p, MAC1, 1);
	pkt_end(&p);
	p.b[0] = DHCP_BOOTREPLY;
	assert_int_equal(handle(f, &p, T0), -EPROTO);
	p.b[0] = DHCP_BOOTREQUEST;
	assert_int_equal(handle(f, &p, T0), 0);
	assert_int_equal(f->d.out_type, DHCP_OFFER);
}

static void
test_uuid(void **state)
{
	struct fx *f = *state;
	struct pkt p;
	char u[37];
	/* 7a5e1ab0-0000-4000-8000-525400770101 on the wire, SMBIOS order. */
	uint8_t w[17] = { 0,    0xb0, 0x1a, 0x5e, 0x7a, 0,    0, 0, 0x40,
		          0x80, 0,    0x52, 0x54, 0,    0x77, 1, 1 };

	discover(&p, MAC1, 1);
	pkt_opt(&p, DHCP_OPT_CLIENT_UUID, w, 17);
	pkt_end(&p);
	assert_int_equal(dhcp_msg_parse(p.b, p.len, &f->out), 0);
	assert_int_equal(pxe_uuid_text(&f->out, u), 0);
	assert_string_equal(u, "7a5e1ab0-0000-4000-8000-525400770101");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ipxe_rom_dora, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pxe_branches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_marker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_marked_for_netboot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_installed_goes_to_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grub_loader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_with_pool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offer_hold_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_without_pool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_states, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_decline_inform, setup, teardown),
		cmocka_unit_test_setup_teardown(test_options_relay_and_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proxy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decision_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_then_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uuid, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
