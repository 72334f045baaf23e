/* Fleet files from operators: the YAML parser and every file-level rule. */
#include <stdint.h>
#include <stdlib.h>

#include "bm/fleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bm_problems p;
	struct bm_fleet fl;
	int r;

	if (size > (1u << 20))
		return 0;
	bm_problems_init(&p);
	r = bm_fleet_parse((const char *)data, size, &fl, &p);
	if (r == 0 || r == -22) {
		bm_fleet_check(fl.fleet, &p);
		bm_fleet_fini(&fl);
	}
	bm_problems_fini(&p);
	return 0;
}
