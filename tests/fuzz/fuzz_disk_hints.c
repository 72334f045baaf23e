/* The root_device hints as the deploy program reads them from its kernel
 * command line, then the choice over a fixed set of disks: any text is
 * either refused with a reason or gives hints that choose a disk or refuse
 * with one; never a crash or an overread. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disk_choice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct disk d[] = {
		{ "sda", "pci-0000:00:1f.2-ata-1", "S1", 480000000000ull, false, false },
		{ "sdb", "pci-0000:00:1f.2-ata-2", "S2", 480000000000ull, false, false },
		{ "sdc", "usb-1", "U1", 64000000000ull, true, false },
		{ "vda", "pci-0000:00:05.0", "", 10000000000ull, false, false },
	};
	struct disk_hints h;
	char *text = malloc(size + 1), why[256];
	int r;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	why[0] = '\0';
	if (disk_hints_parse(text, &h, why, sizeof(why)) == 0) {
		r = disk_choose(d, 4, &h, 1000000000ull, why, sizeof(why));
		if (r >= 4 || (r < 0 && !why[0]) || (r >= 0 && d[r].removable))
			abort();
	} else if (!why[0]) {
		abort();
	}
	free(text);
	return 0;
}
