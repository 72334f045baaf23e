/* Fleet files: a valid file parses into the expected records; each rule
 * refuses its case with the entry, field and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bm/fleet.h"

static const char good[] =
    "sites: [{name: fra1, labels: {region: eu}}]\n"
    "racks:\n"
    "  - {name: rack12, site: fra1, subnet: 10.12.0.0/24, gateway: 10.12.0.1,\n"
    "     dns: [10.12.0.1, 10.12.0.2], pool: 10.12.0.200-10.12.0.250}\n"
    "  - {name: rack13, site: fra1, subnet: 10.12.0.0/24, dns: 10.12.0.1}\n"
    "images:\n"
    "  - {name: k, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08,\n"
    "     size: 4, url: 'http://10.12.0.1/k'}\n"
    "profiles:\n"
    "  - name: tiny\n"
    "    kernel: k\n"
    "    cmdline: 'console=ttyS0 cb={{callback_url}}'\n"
    "    templates: {user-data: \"#cloud-config\\nhostname: {{hostname}}\\n\"}\n"
    "machines:\n"
    "  - {name: r12n01, rack: rack12, mac: '52:54:00:12:00:01', ip: 10.12.0.11, profile: tiny,\n"
    "     bmc: 'ipmi://admin:secret@10.12.1.11', labels: {role: gpu}, netboot: true}\n"
    "  - {name: r13n01, rack: rack13, mac: '52:54:00:13:00:01', ip: 10.12.0.11, firmware: uefi,\n"
    "     bmc: 'redfish://root@10.12.1.12/redfish/v1/Systems/1',\n"
    "     bmc_fingerprint: "
    "'9F:86:D0:81:88:4C:7D:65:9A:2F:EA:A0:C5:5A:D0:15:A3:BF:4F:1B:2B:0B:82:2C:"
    "D1:5D:6C:15:B0:F0:0A:08'}\n";

static void
test_good(void **state)
{
	struct bm_problems p;
	struct bm_fleet fl;

	(void)state;
	bm_problems_init(&p);
	assert_int_equal(bm_fleet_parse(good, strlen(good), &fl, &p), 0);
	assert_int_equal(bm_fleet_check(fl.fleet, &p), 0);
	assert_int_equal(p.total, 0);
	const Bm__Fleet *f = fl.fleet;
	assert_int_equal(f->n_sites, 1);
	assert_int_equal(f->n_racks, 2);
	assert_int_equal(f->racks[0]->network, 0x0a0c0000);
	assert_int_equal(f->racks[0]->prefix_len, 24);
	assert_int_equal(f->racks[0]->n_dns, 2);
	assert_int_equal(f->racks[1]->n_dns, 1);
	assert_int_equal(f->racks[0]->pool_end - f->racks[0]->pool_start, 50);
	assert_int_equal(f->images[0]->sha256.len, 32);
	assert_int_equal(f->images[0]->size, 4);
	assert_int_equal(f->profiles[0]->n_templates, 1);
	assert_int_equal(f->n_machines, 2);
	assert_true(f->machines[0]->netboot);
	assert_int_equal(f->machines[0]->mac.len, 6);
	assert_int_equal(f->machines[0]->mac.data[5], 1);
	assert_string_equal(
	    bm_map_get(f->machines[0]->n_labels, (void **)f->machines[0]->labels, "role"), "gpu");
	/* The same IP in two racks is fine: reservations are unique per rack. */
	assert_int_equal(f->machines[1]->ip, f->machines[0]->ip);
	assert_string_equal(f->machines[1]->firmware, "uefi");
	assert_string_equal(bm_machine_firmware(f->machines[1]), "uefi");
	assert_string_equal(bm_machine_firmware(f->machines[0]), "");
	assert_int_equal(fl.lines[BM__KIND__KIND_MACHINE][0], 15);
	assert_int_equal(fl.lines[BM__KIND__KIND_MACHINE][1], 17);
	bm_fleet_fini(&fl);
	bm_problems_fini(&p);
}

/* Parse and check `yaml`; expect exactly `n` problems, the first on
 * (kind, name, field) with `why` containing `frag`, on `line` if non-zero. */
static void
refused(const char *yaml, size_t n, Bm__Kind kind, const char *name, const char *field,
        const char *frag, uint32_t line)
{
	struct bm_problems p;
	struct bm_fleet fl = { 0 };
	int r;

	bm_problems_init(&p);
	r = bm_fleet_parse(yaml, strlen(yaml), &fl, &p);
	if (r == 0)
		bm_fleet_check(fl.fleet, &p);
	if (p.total != n || !p.n)
		fail_msg("%s: %zu problems, wanted %zu (first: %s)", yaml, p.total, n,
		         p.n ? p.v[0].why : "-");
	assert_int_equal(p.v[0].kind, kind);
	assert_string_equal(p.v[0].name, name);
	assert_string_equal(p.v[0].field, field);
	if (!strstr(p.v[0].why, frag))
		fail_msg("why \"%s\" lacks \"%s\"", p.v[0].why, frag);
	if (line)
		assert_int_equal(p.v[0].line, line);
	bm_fleet_fini(&fl);
	bm_problems_fini(&p);
}

#define RACK                                                                                       \
	"racks: [{name: r1, site: s, subnet: 10.0.0.0/24, gateway: 10.0.0.1, pool: "               \
	"10.0.0.200-10.0.0.250}]\n"
#define M BM__KIND__KIND_MACHINE
#define R BM__KIND__KIND_RACK
#define SHA "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static void
test_machine_refusals(void **state)
{
	(void)state;
	refused("machines: [{name: m1, rack: r1, mac: '52:54:00:zz:00:01'}]", 1, M, "m1", "mac",
	        "not a MAC", 1);
	refused("machines:\n - {name: m1, rack: r1, mac: '52:54:00:00:00:01', ip: 10.0.0.256}", 1,
	        M, "m1", "ip", "not an IPv4", 2);
	refused(RACK "machines: [{name: m1, rack: r1, mac: '52:54:00:00:00:01', ip: 10.1.0.5}]", 1,
	        M, "m1", "ip", "outside the subnet of rack r1", 0);
	refused(RACK "machines: [{name: m1, rack: r1, mac: '52:54:00:00:00:01', ip: 10.0.0.1}]", 1,
	        M, "m1", "ip", "is the gateway", 0);
	refused(RACK "machines: [{name: m1, rack: r1, mac: '52:54:00:00:00:01', ip: 10.0.0.201}]",
	        1, M, "m1", "ip", "inside the discovery pool", 0);
	refused(RACK "machines: [{name: m1, rack: r1, mac: '52:54:00:00:00:01', ip: 10.0.0.255}]",
	        1, M, "m1", "ip", "outside the subnet", 0);
	refused("machines: [{name: m1, rack: r1, mac: '52:54:00:00:00:01'},\n"
	        "           {name: m2, rack: r1, mac: '52:54:00:00:00:01'}]",
	        1, M, "m2", "mac", "also used by machine m1", 0);
	refused("machines: [{name: m1, rack: r1, mac: '52:54:00:00:00:01', ip: 10.0.0.5},\n"
	        "           {name: m2, rack: r1, mac: '52:54:00:00:00:02', ip: 10.0.0.5}]",
	        1, M, "m2", "ip", "also used by machine m1", 0);
	refused("machines: [{name: m1, rack: r1, mac: '52:54:00:00:00:01'},\n"
	        "           {name: m1, rack: r1, mac: '52:54:00:00:00:02'}]",
	        1, M, "m1", "name", "also used by machine m1", 0);
	refused("machines: [{name: Bad_Name, rack: r1, mac: '52:54:00:00:00:01'}]", 1, M, "",
	        "name", "1-63 of a-z", 0);
	refused("machines: [{name: m1, rack: R1, mac: '52:54:00:00:00:01'}]", 1, M, "m1", "rack",
	        "not a valid name", 0);
	refused("machines: [{name: m1, mac: '52:54:00:00:00:01'}]", 1, M, "m1", "rack", "missing",
	        0);
	refused("machines: [{name: m1, rack: r1}]", 1, M, "m1", "mac", "missing", 0);
	refused("machines: [{name: m1, rack: r1, mac: '01:00:5e:00:00:01'}]", 1, M, "m1", "mac",
	        "not a unicast", 0);
	refused("machines: [{name: m1, rack: r1, mac: '52:54:00:00:00:01', colour: red}]", 1, M,
	        "m1", "", "unknown field \"colour\"", 1);
	refused("machines: [{name: m1, rack: r1, mac: '52:54:00:00:00:01', bmc: 'telnet://x'}]", 1,
	        M, "m1", "bmc", "ipmi://", 0);
	refused("machines: [{name: m1, rack: r1, mac: '52:54:00:00:00:01', netboot: maybe}]", 1, M,
	        "m1", "netboot", "true or false", 0);
	refused(
	    "machines: [{name: m1, rack: r1, mac: '52:54:00:00:00:01', labels: {'bad key': x}}]", 1,
	    M, "m1", "labels", "key must be", 0);
	refused("machines: [{name: m1, rack: r1, mac: '52:54:00:00:00:01', rack: r2}]", 1, M, "m1",
	        "rack", "appears twice", 0);
	refused("machines: [{name: m1, rack: r1, mac: '52:54:00:00:00:01', firmware: efi}]", 1, M,
	        "m1", "firmware", "bios or uefi", 0);
	refused("machines: [{name: m1, rack: r1, mac: '52:54:00:00:00:01', bmc: 'redfish://a@h',\n"
	        "            bmc_fingerprint: 'AB:CD'}]",
	        1, M, "m1", "bmc_fingerprint", "SHA-256 fingerprint", 0);
	refused("machines: [{name: m1, rack: r1, mac: '52:54:00:00:00:01', bmc: 'ipmi://a@h',\n"
	        "            bmc_fingerprint: " SHA "}]",
	        1, M, "m1", "bmc_fingerprint", "must be redfish://", 0);
	refused("machines: [{name: m1, rack: r1, mac: '52:54:00:00:00:01', bmc: "
	        "'redfish+http://a@h', bmc_fingerprint: " SHA "}]",
	        1, M, "m1", "bmc_fingerprint", "must be redfish://", 0);
}

#define P BM__KIND__KIND_PROFILE

/* Disk images and image-based deploy profiles. */
static void
disk_refusals(void)
{
	struct bm_problems p;
	struct bm_fleet fl;
	const char *ok = "images:\n"
	                 " - {name: k, sha256: " SHA "}\n"
	                 " - {name: d, sha256: " SHA ", kind: disk, format: raw}\n"
	                 "profiles:\n"
	                 " - {name: p, kernel: k, disk_image: d, grow: true, cmdline: "
	                 "'u={{image_url}} s={{image_sha256}} f={{image_format}} "
	                 "r={{root_device}} g={{grow}}',\n"
	                 "    root_device: {size: 100G-2T, pick: largest, serial: S1}}\n";
	uint64_t lo, hi;

	bm_problems_init(&p);
	assert_int_equal(bm_fleet_parse(ok, strlen(ok), &fl, &p), 0);
	assert_int_equal(bm_fleet_check(fl.fleet, &p) + bm_fleet_check_refs(fl.fleet, &p), 0);
	assert_string_equal(fl.fleet->profiles[0]->disk_image, "d");
	assert_true(fl.fleet->profiles[0]->grow);
	assert_int_equal(fl.fleet->profiles[0]->n_root_device, 3);
	bm_fleet_fini(&fl);
	bm_problems_fini(&p);
	assert_int_equal(bm_root_device_size("100G-2T", &lo, &hi), 0);
	assert_true(lo == 100000000000ull && hi == 2000000000000ull);
	assert_int_equal(bm_root_device_size("-500M", &lo, &hi), 0);
	assert_true(lo == 0 && hi == 500000000ull);
	assert_int_equal(bm_root_device_size("2T-1T", &lo, &hi), -1);
	assert_int_equal(bm_root_device_size("12X", &lo, &hi), -1);
	refused("images: [{name: d, sha256: " SHA ", kind: iso}]", 1, BM__KIND__KIND_IMAGE, "d",
	        "kind", "must be disk", 0);
	refused("images: [{name: d, sha256: " SHA ", kind: disk, format: qcow2}]", 1,
	        BM__KIND__KIND_IMAGE, "d", "format", "raw.zst or raw", 0);
	refused("images: [{name: k, sha256: " SHA ", format: raw}]", 1, BM__KIND__KIND_IMAGE, "k",
	        "format", "only a disk image", 0);
	refused("profiles: [{name: p, kernel: k, disk_image: d, root_device: {size: big}}]", 1, P,
	        "p", "root_device", "MIN-MAX", 0);
	refused("profiles: [{name: p, kernel: k, disk_image: d, root_device: {pick: first}}]", 1, P,
	        "p", "root_device", "largest or smallest", 0);
	refused("profiles: [{name: p, kernel: k, disk_image: d, root_device: {wwn: x}}]", 1, P, "p",
	        "root_device", "unknown", 0);
	refused("profiles: [{name: p, kernel: k, grow: true}]", 1, P, "p", "grow",
	        "only with disk_image", 0);
	refused("profiles: [{name: p, kernel: k, loader: pxelinux}]", 1, P, "p", "loader",
	        "ipxe or grub", 0);
	/* References: a disk image for disk_image, boot files for kernel. */
	const char *wrong = "images:\n"
	                    " - {name: k, sha256: " SHA "}\n"
	                    " - {name: d, sha256: " SHA ", kind: disk}\n"
	                    "profiles:\n"
	                    " - {name: p, kernel: d, disk_image: k}\n";
	bm_problems_init(&p);
	assert_int_equal(bm_fleet_parse(wrong, strlen(wrong), &fl, &p), 0);
	assert_int_equal(bm_fleet_check(fl.fleet, &p), 0);
	assert_int_equal(bm_fleet_check_refs(fl.fleet, &p), 2);
	assert_non_null(strstr(p.v[0].why, "image k is not of kind disk"));
	assert_non_null(strstr(p.v[1].why, "image d is a disk image"));
	bm_fleet_fini(&fl);
	bm_problems_fini(&p);
}

static void
test_other_refusals(void **state)
{
	(void)state;
	refused("racks: [{name: r1, site: s, subnet: 10.0.0.1/24}]", 1, R, "r1", "subnet",
	        "no host bits", 1);
	refused("racks: [{name: r1, site: s}]", 1, R, "r1", "subnet", "missing", 0);
	refused("racks: [{name: r1, subnet: 10.0.0.0/24}]", 1, R, "r1", "site", "missing", 0);
	refused("racks: [{name: r1, site: s, subnet: 10.0.0.0/24, gateway: 10.0.1.1}]", 1, R, "r1",
	        "gateway", "not a host address", 0);
	refused("racks: [{name: r1, site: s, subnet: 10.0.0.0/24, pool: 10.0.0.200-10.0.1.5}]", 1,
	        R, "r1", "pool", "host addresses of the subnet", 0);
	refused("racks: [{name: r1, site: s, subnet: 10.0.0.0/24, gateway: 10.0.0.210, pool: "
	        "10.0.0.200-10.0.0.250}]",
	        1, R, "r1", "pool", "contains the gateway", 0);
	refused("racks: [{name: r1, site: s, subnet: 10.0.0.0/24, dns: [1.1.1.1, 1.1.1.2, 1.1.1.3, "
	        "1.1.1.4, "
	        "10.0.0.5]}]",
	        1, R, "r1", "dns", "more than 4", 0);
	refused("images: [{name: k, sha256: abc}]", 1, BM__KIND__KIND_IMAGE, "k", "sha256",
	        "64 hex", 0);
	refused("images: [{name: k}]", 1, BM__KIND__KIND_IMAGE, "k", "sha256", "missing", 0);
	refused("images: [{name: k, sha256: "
	        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08, "
	        "url: 'ftp://x/k'}]",
	        1, BM__KIND__KIND_IMAGE, "k", "url", "http", 0);
	refused("profiles: [{name: p, kernel: k, cmdline: 'x={{hostnam}}'}]", 1,
	        BM__KIND__KIND_PROFILE, "p", "cmdline", "unknown variable {{hostnam}}", 0);
	refused("profiles: [{name: p, kernel: k, templates: {user-data: \"a\\n{{ip\"}}]", 1,
	        BM__KIND__KIND_PROFILE, "p", "templates", "user-data: line 2", 0);
	refused("profiles: [{name: p}]", 1, BM__KIND__KIND_PROFILE, "p", "kernel", "missing", 0);
	disk_refusals();
	refused("sites: [{name: s}]\nnodes: []", 1, BM__KIND__KIND_UNSPECIFIED, "", "",
	        "unknown section", 2);
	refused("sites: [{name: s}\n", 1, BM__KIND__KIND_UNSPECIFIED, "", "", "column", 0);
	refused("- a\n- b\n", 1, BM__KIND__KIND_UNSPECIFIED, "", "", "must be a mapping", 0);
	refused("sites: [{name: s}]\n---\nsites: []\n", 1, BM__KIND__KIND_UNSPECIFIED, "", "",
	        "more than one YAML document", 0);
	refused("sites: [x]\n", 1, BM__KIND__KIND_SITE, "", "", "not a mapping", 0);
	refused("sites: {name: s}\n", 1, BM__KIND__KIND_UNSPECIFIED, "", "", "not a list", 0);
	refused("sites: [{name: \"a\\0b\"}]\n", 1, BM__KIND__KIND_SITE, "", "name", "not a text",
	        0);
}

static void
test_all_problems_reported(void **state)
{
	const char *y = "machines:\n"
	                " - {name: m1, rack: r1, mac: 'zz'}\n"
	                " - {name: m2, rack: r1, mac: 'yy'}\n"
	                " - {name: m3, rack: r1, mac: '52:54:00:00:00:01', ip: 'x'}\n";
	struct bm_problems p;
	struct bm_fleet fl;

	(void)state;
	bm_problems_init(&p);
	assert_int_equal(bm_fleet_parse(y, strlen(y), &fl, &p), -22);
	assert_int_equal(p.total, 3);
	assert_int_equal(p.v[0].line, 2);
	assert_int_equal(p.v[1].line, 3);
	assert_int_equal(p.v[2].line, 4);
	bm_fleet_fini(&fl);
	bm_problems_fini(&p);
}

static void
test_problem_cap(void **state)
{
	struct bm_problems p;

	(void)state;
	bm_problems_init(&p);
	for (unsigned i = 0; i < BM_PROBLEMS_KEPT + 50; i++)
		bm_problems_add(&p, M, "m", i, "mac", "bad %u", i);
	assert_int_equal(p.n, BM_PROBLEMS_KEPT);
	assert_int_equal(p.total, BM_PROBLEMS_KEPT + 50);
	bm_problems_fini(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),           cmocka_unit_test(test_machine_refusals),
		cmocka_unit_test(test_other_refusals), cmocka_unit_test(test_all_problems_reported),
		cmocka_unit_test(test_problem_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
