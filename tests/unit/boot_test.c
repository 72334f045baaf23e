/* What a machine boots: per-boot tokens (the
 * boot a machine is in, when a token is made, renewed or stays revoked),
 * the rack's part of a fleet kept by the view, and the iPXE script and
 * seeds rendered for a netboot machine, a local-disk machine and a machine
 * with nothing to boot. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bm/sha256.h"
#include "ipxe.h"
#include "rackview.h"
#include "grub.h"
#include "token.h"

static const char fleet_text[] =
    "sites: [{name: fra1}]\n"
    "racks:\n"
    "  - {name: rack12, site: fra1, subnet: 10.12.0.0/24, gateway: 10.12.0.1,\n"
    "     dns: [10.12.0.1, 10.12.0.2]}\n"
    "  - {name: rack13, site: fra1, subnet: 10.13.0.0/24}\n"
    "images:\n"
    "  - {name: k, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}\n"
    "  - {name: i, sha256: 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752}\n"
    "  - {name: other, sha256: 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752}\n"
    "profiles:\n"
    "  - name: inst\n"
    "    kernel: k\n"
    "    initrd: i\n"
    "    cmdline: 'ip={{ip}}::{{gateway}}:{{netmask}}:{{hostname}} cb={{callback_url}} "
    "t={{token}} r={{labels.role}}'\n"
    "    templates: {user-data: \"#cloud-config\\nhostname: {{hostname}}\\ndns: {{dns}}\\n\"}\n"
    "  - {name: unused, kernel: other}\n"
    "machines:\n"
    "  - {name: n1, rack: rack12, mac: '52:54:00:12:00:01', ip: 10.12.0.11, profile: inst,\n"
    "     labels: {role: gpu}, netboot: true}\n"
    "  - {name: n2, rack: rack12, mac: '52:54:00:12:00:02', profile: inst}\n"
    "  - {name: n3, rack: rack12, mac: '52:54:00:12:00:03', netboot: true}\n"
    "  - {name: m1, rack: rack13, mac: '52:54:00:13:00:01', profile: unused}\n";

static const char tok[] = "00112233445566778899aabbccddeeff";
static struct rack_view *view;

static int
setup(void **state)
{
	struct bm_problems p;
	struct bm_fleet fl;

	(void)state;
	bm_problems_init(&p);
	assert_int_equal(bm_fleet_parse(fleet_text, strlen(fleet_text), &fl, &p), 0);
	assert_int_equal(bm_fleet_check(fl.fleet, &p) + bm_fleet_check_refs(fl.fleet, &p), 0);
	assert_int_equal(rack_view_from_fleet(fl.fleet, "rack12", &view, &p), 0);
	bm_fleet_fini(&fl); /* the view keeps its own copy */
	bm_problems_fini(&p);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	rack_view_free(view);
	return 0;
}

/* A machine of an operation: its boot is (operation, power sequence). */
static struct rack_host
op_host(const char *op, uint64_t seq, Bm__MachineState st, Bm__Machine *m)
{
	struct rack_host h = { .netboot = true, .m = m };

	bm__machine__init(m);
	m->operation = (char *)op;
	m->power_seq = seq;
	m->started_ms = 1;
	m->state = st;
	return h;
}

static void
test_token(void **state)
{
	Bm__Machine m;
	struct rack_host h = op_host("op-1", 3, BM__MACHINE_STATE__STATE_NETBOOTING, &m);
	struct boot_key k, k2;
	struct boot_token t, t2, t3;
	char hex[TOKEN_HEX];
	int e;

	(void)state;
	assert_true(boot_key_of(&h, &k));
	assert_string_equal(k.op, "op-1");
	assert_int_equal(k.seq, 3);
	/* None kept: a new one, 128 random bits. */
	assert_true(token_renew(NULL, &k, 1000, &t, &e));
	assert_true(token_live(&t, &k));
	token_hex(&t, hex);
	assert_int_equal(strlen(hex), 32);
	assert_true(token_matches(&t, hex));
	hex[31] = hex[31] == '0' ? '1' : '0';
	assert_false(token_matches(&t, hex));
	assert_false(token_matches(&t, ""));
	/* Live: it stands. */
	assert_false(token_renew(&t, &k, 2000, &t2, &e));
	assert_int_equal(e, 0);
	/* Revoked (done): this boot gets no other. */
	t.revoked = true;
	assert_false(token_live(&t, &k));
	assert_false(token_renew(&t, &k, 2000, &t2, &e));
	/* The next power cycle (or another operation) is another boot. */
	h = op_host("op-1", 4, BM__MACHINE_STATE__STATE_REIMAGING, &m);
	assert_true(boot_key_of(&h, &k2));
	assert_false(token_live(&t, &k2));
	assert_true(token_renew(&t, &k2, 3000, &t2, &e));
	assert_memory_not_equal(t.secret, t2.secret, TOKEN_BYTES);
	/* Deployed, failed, or waiting its turn: not netbooting, no boot. */
	h = op_host("op-1", 4, BM__MACHINE_STATE__STATE_DEPLOYED, &m);
	h.netboot = false;
	assert_false(boot_key_of(&h, &k2));
	/* Standing netboot: ("", n); after its done, the next script starts
	 * boot n + 1 with a new token. */
	h = op_host("", 0, BM__MACHINE_STATE__STATE_READY, &m);
	m.started_ms = 0;
	assert_true(boot_key_of(&h, &k));
	assert_string_equal(k.op, "");
	assert_true(token_renew(NULL, &k, 1000, &t, &e));
	assert_int_equal(t.key.seq, 1);
	assert_false(token_renew(&t, &k, 1000, &t2, &e));
	t.revoked = true;
	assert_true(token_renew(&t, &k, 1000, &t3, &e));
	assert_int_equal(t3.key.seq, 2);
	assert_true(token_live(&t3, &k));
}

/* v is rack12's part of fleet_text. */
static void
check_part(const struct rack_view *v)
{
	const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0, 1 },
	              m13[6] = { 0x52, 0x54, 0, 0x13, 0, 1 };
	const struct rack_host *h = rack_view_host(v, mac);

	assert_non_null(h);
	assert_string_equal(h->m->profile, "inst");
	assert_null(rack_view_host(v, m13));
	assert_string_equal(v->site, "fra1");
	assert_int_equal(v->fleet->n_racks, 1);
	assert_int_equal(v->fleet->n_sites, 1);
	/* Only what the rack's machines boot: inst and its images. */
	assert_int_equal(v->fleet->n_machines, 3);
	assert_int_equal(v->fleet->n_profiles, 1);
	assert_non_null(rack_view_profile(v, "inst"));
	assert_null(rack_view_profile(v, "unused"));
	assert_int_equal(v->fleet->n_images, 2);
	assert_non_null(rack_view_image(v, "i"));
	assert_null(rack_view_image(v, "other"));
}

static void
test_view_part(void **state)
{
	(void)state;
	check_part(view);
}

/* The stored view's path: the view takes a fleet unpacked message by
 * message and cuts it to the rack's part, as the copy does. */
static void
test_view_take(void **state)
{
	struct bm_problems p;
	struct bm_fleet fl;
	struct rack_view *v;
	uint8_t *buf;
	size_t len;

	(void)state;
	bm_problems_init(&p);
	assert_int_equal(bm_fleet_parse(fleet_text, strlen(fleet_text), &fl, &p), 0);
	len = bm__fleet__get_packed_size(fl.fleet);
	assert_non_null(buf = malloc(len));
	bm__fleet__pack(fl.fleet, buf);
	bm_fleet_fini(&fl);
	bm_problems_fini(&p);
	assert_int_equal(rack_view_take(bm__fleet__unpack(NULL, len, buf), "nope", &v), -ENOENT);
	assert_int_equal(rack_view_take(bm__fleet__unpack(NULL, len, buf), "rack12", &v), 0);
	free(buf);
	check_part(v);
	rack_view_free(v);
}

static void
ctx(struct boot_ctx *c, uint8_t last)
{
	const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0, last };
	const struct rack_host *h = rack_view_host(view, mac);

	assert_non_null(h);
	boot_ctx_init(c, view, h, "http://10.12.0.1:8080", 0x0a0c0063, tok);
}

static void
test_script(void **state)
{
	struct boot_ctx c;
	char *s, want[1024];

	(void)state;
	ctx(&c, 1);
	assert_true(boot_ipxe_script(&c, &s) > 0);
	snprintf(
	    want, sizeof(want),
	    "#!ipxe\n"
	    "# n1 (52:54:00:12:00:01) rack rack12, profile inst: install\n"
	    "kernel http://10.12.0.1:8080/images/"
	    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 initrd=initrd.img "
	    "ip=10.12.0.11::10.12.0.1:255.255.255.0:n1 "
	    "cb=http://10.12.0.1:8080/callback/52:54:00:12:00:01 t=%s r=gpu || goto failed\n"
	    "initrd --name initrd.img http://10.12.0.1:8080/images/"
	    "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752 || goto failed\n"
	    "boot || goto failed\n"
	    ":failed\n"
	    "echo bmagent: boot of n1 failed, rebooting in 10 s\n"
	    "sleep 10\n"
	    "reboot\n",
	    tok);
	assert_string_equal(s, want);
	free(s);

	/* Not marked for netboot: the local disk. */
	ctx(&c, 2);
	assert_true(boot_ipxe_script(&c, &s) > 0);
	assert_string_equal(s,
	                    "#!ipxe\n# n2 (52:54:00:12:00:02): boot from the local disk\nexit\n");
	free(s);

	/* Marked for netboot without a profile: nothing to boot. */
	ctx(&c, 3);
	assert_int_equal(boot_ipxe_script(&c, &s), -ENOENT);
}

/* loader grub: the bootstrap hands over by MAC; the machine's config has
 * its kernel and initrd over TFTP and each command-line word quoted. */
static void
test_grub(void **state)
{
	struct boot_ctx c;
	char *s, want[1024], mac[BM_MAC_STR];

	(void)state;
	assert_true(boot_grub_bootstrap(&s) > 0);
	assert_non_null(strstr(s, "\"$net_default_mac\"\n"));
	assert_non_null(strstr(s, "configfile $prefix/grub.cfg-01-$m1-$m2-$m3-$m4-$m5-$m6\n"));
	free(s);
	assert_int_equal(boot_grub_cfg_mac("grub/grub.cfg-01-52-54-00-12-00-01", mac), 0);
	assert_string_equal(mac, "52:54:00:12:00:01");
	assert_int_equal(boot_grub_cfg_mac("grub/grub.cfg-01-52:54:00:12:00:01", mac), -ENOENT);
	assert_int_equal(boot_grub_cfg_mac("grub/grub.cfg-01-52-54-00-12-00", mac), -ENOENT);
	assert_int_equal(boot_grub_cfg_mac("grub/grub.cfg-01-zz-54-00-12-00-01", mac), -ENOENT);
	assert_int_equal(boot_grub_cfg_mac("grub/grub.cfg", mac), -ENOENT);

	ctx(&c, 1);
	assert_true(boot_grub_cfg(&c, &s) > 0);
	snprintf(want, sizeof(want),
	         "# n1 (52:54:00:12:00:01) rack rack12, profile inst: install\n"
	         "set timeout=0\necho 'bmagent: n1: kernel, initrd over TFTP'\n"
	         "linux /images/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 "
	         "'ip=10.12.0.11::10.12.0.1:255.255.255.0:n1' "
	         "'cb=http://10.12.0.1:8080/callback/52:54:00:12:00:01' 't=%s' 'r=gpu'\n"
	         "initrd /images/60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752\n"
	         "boot\necho 'bmagent: boot of n1 failed, rebooting in 10 s'\nsleep 10\nreboot\n",
	         tok);
	assert_string_equal(s, want);
	free(s);
	ctx(&c, 2);
	assert_true(boot_grub_cfg(&c, &s) > 0);
	assert_string_equal(s, "# n2 (52:54:00:12:00:02): boot from the local disk\nexit\n");
	free(s);
	ctx(&c, 3);
	assert_int_equal(boot_grub_cfg(&c, &s), -ENOENT);
}

static void
test_seeds(void **state)
{
	struct boot_ctx c;
	char *s;

	(void)state;
	ctx(&c, 2);
	/* No reservation: the address the machine came from. */
	assert_string_equal(boot_var(&c, "ip"), "10.12.0.99");
	assert_string_equal(boot_var(&c, "seed_url"),
	                    "http://10.12.0.1:8080/seed/52:54:00:12:00:02/");
	assert_null(boot_var(&c, "labels.role")); /* rendered as empty */
	assert_true(boot_seed(&c, "user-data", &s) > 0);
	assert_string_equal(s, "#cloud-config\nhostname: n2\ndns: 10.12.0.1,10.12.0.2\n");
	free(s);
	assert_true(boot_seed(&c, "meta-data", &s) > 0);
	assert_string_equal(s, "instance-id: n2\nlocal-hostname: n2\n");
	free(s);
	assert_int_equal(boot_seed(&c, "vendor-data", &s), 0);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(boot_seed(&c, "ks.cfg", &s), -ENOENT);
}

/* Image-based deploy: the profile's disk image on this agent, its digest,
 * format and hints, for the deploy ramdisk's command line; the rack's view
 * holds the disk image, so the agent caches it. */
static void
test_disk_vars(void **state)
{
	static const char text[] =
	    "sites: [{name: s}]\n"
	    "racks: [{name: rack12, site: s, subnet: 10.12.0.0/24}]\n"
	    "images:\n"
	    "  - {name: k, sha256: "
	    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}\n"
	    "  - {name: d, kind: disk,\n"
	    "     sha256: 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752}\n"
	    "profiles:\n"
	    "  - {name: img, kernel: k, disk_image: d, grow: true,\n"
	    "     root_device: {pick: largest, size: 100G-},\n"
	    "     cmdline: 'bm.image={{image_url}} bm.sha256={{image_sha256}} "
	    "bm.format={{image_format}} bm.root={{root_device}} bm.grow={{grow}}'}\n"
	    "machines:\n"
	    "  - {name: n5, rack: rack12, mac: '52:54:00:12:00:05', profile: img, netboot: true}\n";
	const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0, 5 };
	struct bm_problems p;
	struct bm_fleet fl;
	struct rack_view *v;
	struct boot_ctx c;
	char *s;

	(void)state;
	bm_problems_init(&p);
	assert_int_equal(bm_fleet_parse(text, strlen(text), &fl, &p), 0);
	assert_int_equal(bm_fleet_check(fl.fleet, &p) + bm_fleet_check_refs(fl.fleet, &p), 0);
	assert_int_equal(rack_view_from_fleet(fl.fleet, "rack12", &v, &p), 0);
	bm_fleet_fini(&fl);
	bm_problems_fini(&p);
	assert_non_null(rack_view_image(v, "d"));
	boot_ctx_init(&c, v, rack_view_host(v, mac), "http://10.12.0.1:8080", 0x0a0c0063, tok);
	assert_true(boot_ipxe_script(&c, &s) > 0);
	assert_non_null(
	    strstr(s, "bm.image=http://10.12.0.1:8080/images/"
	              "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752 "
	              "bm.sha256=60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752 "
	              "bm.format=raw.zst bm.root=pick=largest,size=100G- bm.grow=1"));
	free(s);
	rack_view_free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token),     cmocka_unit_test(test_view_part),
		cmocka_unit_test(test_view_take), cmocka_unit_test(test_script),
		cmocka_unit_test(test_grub),      cmocka_unit_test(test_seeds),
		cmocka_unit_test(test_disk_vars),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
