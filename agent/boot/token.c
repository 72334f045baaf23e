#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "bm/sha256.h"

static int
read_secret(int fd, uint8_t *out)
{
	ssize_t n = read(fd, out, TOKEN_SECRET_LEN);
	return n == TOKEN_SECRET_LEN ? 0 : n < 0 ? -errno : -EINVAL;
}

/* A new secret under a temporary name, synced, then renamed into place:
 * a crash leaves either no secret or a whole one. */
static int
create_secret(const char *dir, const char *path, uint8_t *out)
{
	char tmp[4200];
	int fd, r = 0;

	if (getrandom(out, TOKEN_SECRET_LEN, 0) != TOKEN_SECRET_LEN)
		return -EIO;
	snprintf(tmp, sizeof(tmp), "%s/secret.tmp", dir);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -errno;
	if (write(fd, out, TOKEN_SECRET_LEN) != TOKEN_SECRET_LEN || fsync(fd) < 0)
		r = -EIO;
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	return r;
}

int
token_secret_load(const char *dir, uint8_t ret[TOKEN_SECRET_LEN])
{
	char path[4200];
	int fd, r;

	snprintf(path, sizeof(path), "%s/secret", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? create_secret(dir, path, ret) : -errno;
	r = read_secret(fd, ret);
	close(fd);
	return r;
}

void
token_make(const uint8_t secret[TOKEN_SECRET_LEN], const uint8_t mac[6], char out[TOKEN_HEX])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t d[BM_SHA256_LEN];

	bm_hmac_sha256(secret, TOKEN_SECRET_LEN, mac, 6, d);
	for (unsigned i = 0; i < (TOKEN_HEX - 1) / 2; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[TOKEN_HEX - 1] = '\0';
}

bool
token_ok(const uint8_t secret[TOKEN_SECRET_LEN], const uint8_t mac[6], const char *token)
{
	char want[TOKEN_HEX];
	unsigned char diff = 0;

	if (strlen(token) != TOKEN_HEX - 1)
		return false;
	token_make(secret, mac, want);
	for (unsigned i = 0; i < TOKEN_HEX - 1; i++)
		diff |= (unsigned char)(want[i] ^ token[i]);
	return diff == 0;
}
