#include "test_tmp.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <cmocka.h>

void
th_tmpdir(char *dir, const char *prefix)
{
	const char *base = getenv("BM_TEST_TMP");

	if (!base || !*base)
		base = "/tmp";
	mkdir(base, 0700);
	snprintf(dir, PATH_MAX, "%s/%s-XXXXXX", base, prefix);
	assert_non_null(mkdtemp(dir));
}

void
th_rmtree(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}
