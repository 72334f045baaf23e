/* What the deploy ramdisk's kernel command line tells the deploy program,
 * rendered by the agent from the profile's cmdline template:
 *   bm.image={{image_url}} bm.sha256={{image_sha256}}
 *   bm.format={{image_format}} bm.root={{root_device}} bm.grow={{grow}}
 *   bm.callback={{callback_url}} bm.token={{token}} bm.seed={{seed_url}}
 * Other words (console=, ip=) are the kernel's and are skipped. Pure. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm/sha256.h"

#define ARGS_URL_MAX 512u

struct deploy_args {
	char image[ARGS_URL_MAX], callback[ARGS_URL_MAX], seed[ARGS_URL_MAX];
	char token[80], root[256];
	uint8_t sha256[BM_SHA256_LEN];
	bool zstd, grow;
};

/* Returns 0, or -EINVAL with why (a missing or malformed word). Without
 * bm.callback the caller cannot report, so it is checked first. */
int deploy_args_parse(const char *cmdline, struct deploy_args *a, char *why, size_t wlen);
