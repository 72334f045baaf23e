/* bmdeploy: the deploy ramdisk's program (issue 15). Reads its orders from
 * the kernel command line (args.h), reports `installing` with bytes
 * written at most once a second, writes the image (deploy.h), calls back
 * `installed` and reboots the machine into its disk; or calls back
 * `failed` with the reason and stays up for an operator to look.
 *   usage: bmdeploy [--cmdline TEXT] [--sysroot DIR] [--dev DIR]
 *                   [--no-reboot]
 * The options are for tests: a folder in place of /sys and /dev, and a
 * command line in place of /proc/cmdline. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "bm/log.h"
#include "deploy.h"
#include "disks.h"
#include "report.h"

static int
read_cmdline(char *out, size_t n)
{
	FILE *f = fopen("/proc/cmdline", "r");
	size_t len = f ? fread(out, 1, n - 1, f) : 0;

	if (f)
		fclose(f);
	out[len] = '\0';
	return f ? 0 : -errno;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bmdeploy [--cmdline TEXT] [--sysroot DIR] [--dev DIR] "
	                "[--no-reboot]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = { { "cmdline", required_argument, NULL, 'c' },
		                              { "sysroot", required_argument, NULL, 's' },
		                              { "dev", required_argument, NULL, 'd' },
		                              { "no-reboot", no_argument, NULL, 'n' },
		                              { NULL, 0, NULL, 0 } };
	static struct deploy d = { .sysroot = "/sys", .devdir = "/dev" };
	static char cmdline[4096];
	bool reboot_after = true;
	char written[24];
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': snprintf(cmdline, sizeof(cmdline), "%s", optarg); break;
		case 's': d.sysroot = optarg; break;
		case 'd': d.devdir = optarg; break;
		case 'n': reboot_after = false; break;
		default: usage();
		}
	}
	if (!*cmdline && read_cmdline(cmdline, sizeof(cmdline)) < 0) {
		BM_ERROR("deploy", "cannot read /proc/cmdline err=\"%s\"", strerror(errno));
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (deploy_args_parse(cmdline, &d.a, d.why, sizeof(d.why)) < 0) {
		BM_ERROR("deploy", "cannot deploy reason=\"%s\"", d.why);
		if (*d.a.callback)
			report(&d.a, "failed", d.why, 1, (char *)NULL);
		return 1;
	}
	/* Secure Boot as the firmware says it, in the trace (UEFI only). */
	int sb = efi_secure_boot(d.sysroot);
	const char *sbk = sb >= 0 ? "secureboot" : NULL, *sbv = sb > 0 ? "1" : "0";
	report(&d.a, "installing", NULL, 0, sbk, sbv, (char *)NULL);
	if ((r = deploy_run(&d)) < 0) {
		BM_ERROR("deploy", "deploy failed reason=\"%s\"", d.why);
		report(&d.a, "failed", d.why, 1, (char *)NULL);
		return 1;
	}
	snprintf(written, sizeof(written), "%" PRIu64, d.raw);
	BM_INFO("deploy", "installed disk=%s bytes=%s", d.disk, written);
	if (report(&d.a, "installed", NULL, 1, "disk", d.disk, "written", written, sbk, sbv,
	           (char *)NULL) < 0)
		BM_WARN("deploy", "the agent did not take the installed callback");
	sync();
	if (reboot_after && reboot(RB_AUTOBOOT) < 0) {
		BM_ERROR("deploy", "cannot reboot err=\"%s\"", strerror(errno));
		return 1;
	}
	return 0;
}
