/* Commands as they arrive from the network (the Request bodies the API turns
 * into Commands), applied to a real store holding a small fleet. Each input
 * runs in a batch that is aborted, so inputs never see each other. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bm/fleet.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct store *store;
static char dir[PATH_MAX];

static const char base[] =
    "sites: [{name: fra1}]\n"
    "racks: [{name: rack12, site: fra1, subnet: 10.12.0.0/24, gateway: 10.12.0.1,"
    " pool: 10.12.0.200-10.12.0.250}]\n"
    "images: [{name: k, sha256: "
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}]\n"
    "profiles: [{name: tiny, kernel: k}]\n"
    "machines: [{name: r12n01, rack: rack12, mac: '52:54:00:12:00:01', ip: 10.12.0.11, profile: "
    "tiny}]\n";

static void
cleanup(void)
{
	char path[PATH_MAX + 16];
	store_close(store);
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
}

static void
apply(const Bm__Command *cmd, int commit)
{
	struct store_result res;
	struct store_batch *b;

	if (store_batch_begin(store, &b) < 0)
		abort();
	store_result_init(&res);
	if (store_apply(b, 0, cmd, &res) < 0 || !commit)
		store_batch_abort(b);
	else if (store_batch_commit(b) < 0)
		abort();
	store_result_fini(&res);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	struct bm_problems p;
	struct bm_fleet fl;

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "/tmp/bm-fuzz-store-XXXXXX");
	if (!mkdtemp(dir) || store_open(dir, 1ull << 30, &store) < 0)
		abort();
	atexit(cleanup);
	bm_problems_init(&p);
	if (bm_fleet_parse(base, strlen(base), &fl, &p) != 0)
		abort();
	cmd.op_case = BM__COMMAND__OP_APPLY;
	cmd.apply = fl.fleet;
	apply(&cmd, 1);
	bm_fleet_fini(&fl);
	bm_problems_fini(&p);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Bm__Command *cmd;

	if (!store)
		LLVMFuzzerInitialize(NULL, NULL);
	if (size > (1u << 20))
		return 0;
	cmd = bm__command__unpack(NULL, size, data);
	if (!cmd)
		return 0;
	apply(cmd, 0);
	bm__command__free_unpacked(cmd, NULL);
	return 0;
}
