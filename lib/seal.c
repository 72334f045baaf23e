#include "bm/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>
#include <unistd.h>

#define NONCE 12
#define TAG 16

int
bm_seal(const uint8_t key[BM_SEAL_KEY_LEN], const char *aad, const void *plain, size_t len,
        uint8_t *out)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int n = 0, m = 0, ok;

	ok = x && len <= BM_SECRET_MAX && RAND_bytes(out, NONCE) == 1 &&
	     EVP_EncryptInit_ex(x, EVP_aes_256_gcm(), NULL, key, out) == 1 &&
	     EVP_EncryptUpdate(x, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) == 1 &&
	     EVP_EncryptUpdate(x, out + NONCE, &n, plain, (int)len) == 1 &&
	     EVP_EncryptFinal_ex(x, out + NONCE + n, &m) == 1 &&
	     EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, TAG, out + NONCE + len) == 1;
	EVP_CIPHER_CTX_free(x);
	return ok ? 0 : -EIO;
}

int
bm_unseal(const uint8_t key[BM_SEAL_KEY_LEN], const char *aad, const uint8_t *sealed, size_t len,
          char *out)
{
	EVP_CIPHER_CTX *x;
	size_t plen;
	int n = 0, m = 0, ok;

	if (len < BM_SEAL_OVERHEAD || len - BM_SEAL_OVERHEAD > BM_SECRET_MAX)
		return -EBADMSG;
	plen = len - BM_SEAL_OVERHEAD;
	if (!(x = EVP_CIPHER_CTX_new()))
		return -EBADMSG;
	ok = EVP_DecryptInit_ex(x, EVP_aes_256_gcm(), NULL, key, sealed) == 1 &&
	     EVP_DecryptUpdate(x, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) == 1 &&
	     EVP_DecryptUpdate(x, (uint8_t *)out, &n, sealed + NONCE, (int)plen) == 1 &&
	     EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, TAG, (void *)(sealed + NONCE + plen)) ==
	         1 &&
	     EVP_DecryptFinal_ex(x, (uint8_t *)out + n, &m) == 1;
	EVP_CIPHER_CTX_free(x);
	if (!ok) {
		memset(out, 0, plen);
		return -EBADMSG;
	}
	out[plen] = '\0';
	return (int)plen;
}

int
bm_seal_key_load(const char *path, uint8_t key[BM_SEAL_KEY_LEN])
{
	uint8_t buf[BM_SEAL_KEY_LEN + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n != BM_SEAL_KEY_LEN) {
		memset(buf, 0, sizeof(buf));
		return n < 0 ? -EIO : -EINVAL;
	}
	memcpy(key, buf, BM_SEAL_KEY_LEN);
	memset(buf, 0, sizeof(buf));
	return 0;
}

int
bm_seal_key_make(const char *path, uint8_t key[BM_SEAL_KEY_LEN])
{
	int r = bm_seal_key_load(path, key), fd;
	ssize_t n;

	if (r != -ENOENT)
		return r;
	if (RAND_bytes(key, BM_SEAL_KEY_LEN) != 1)
		return -EIO;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		r = -errno;
		OPENSSL_cleanse(key, BM_SEAL_KEY_LEN);
		return r == -EEXIST ? bm_seal_key_load(path, key) : r; /* made meanwhile */
	}
	n = write(fd, key, BM_SEAL_KEY_LEN);
	r = fsync(fd) < 0 ? -errno : 0;
	if (close(fd) < 0 || n != BM_SEAL_KEY_LEN || r < 0) {
		unlink(path);
		OPENSSL_cleanse(key, BM_SEAL_KEY_LEN);
		return -EIO;
	}
	return 0;
}
