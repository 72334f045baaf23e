/* A request's token as a coordinator reads it from the network: the
 * protobuf, then the certificate (DER, parsed by OpenSSL), its chain to the
 * fleet CA, and the signature. The input is tried as a packed Auth (at a
 * time within its life, so the certificate is reached) and as a bare DER
 * certificate (a Raft peer's). Nothing may crash or leak; a forged input
 * must never verify: the CA is made fresh at start, so nothing in the
 * corpus chains to it. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bm/auth.h"
#include "bm/pki.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct bm_auth_verifier *v;
static char dir[] = "/tmp/bm-fuzz-auth-XXXXXX";

static void
cleanup(void)
{
	static const char *const files[] = { "ca.crt", "ca.key", "crl.pem", "secrets.key" };
	char p[PATH_MAX];

	bm_auth_verifier_free(v);
	for (unsigned i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/ca/%s", dir, files[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/ca", dir);
	rmdir(p);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char ca[PATH_MAX + 16], crl[PATH_MAX + 16], sub[PATH_MAX], err[256];

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir))
		abort();
	snprintf(sub, sizeof(sub), "%s/ca", dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", sub);
	snprintf(crl, sizeof(crl), "%s/crl.pem", sub);
	if (bm_pki_init(sub, err, sizeof(err)) < 0 ||
	    bm_auth_verifier_new(ca, crl, &v, err, sizeof(err)) < 0)
		abort();
	atexit(cleanup);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Bm__Auth *a = bm__auth__unpack(NULL, size, data);
	struct bm_identity id;
	char why[256];

	if (a) {
		if (bm_auth_verify(v, a, a->issued_ms + 1, &id, why, sizeof(why)) == 0)
			abort();
		bm__auth__free_unpacked(a, NULL);
	}
	if (bm_auth_verify_cert(v, data, size, &id, why, sizeof(why)) == 0)
		abort();
	return 0;
}
