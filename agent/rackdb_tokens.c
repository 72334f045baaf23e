/* Per-boot tokens at rest (token.h): one record per MAC in the `tokens`
 * table, the whole record sealed under the agent's key (bm/seal.h) and
 * bound to its MAC, so a copied rackdb gives no live token away. */
#include "rackdb.h"
#include "rackdb_priv.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <string.h>

#include "bm/netaddr.h"
#include "bm/util.h"

static void
aad(const uint8_t mac[6], char out[8 + BM_MAC_STR])
{
	memcpy(out, "token ", 6);
	bm_mac_format(mac, out + 6);
}

static int
token_open(struct rackdb *db, const uint8_t mac[6], const MDB_val *v, struct boot_token *ret)
{
	char a[8 + BM_MAC_STR], plain[sizeof(*ret) + 1];
	int n;

	aad(mac, a);
	if (v->mv_size != sizeof(*ret) + BM_SEAL_OVERHEAD)
		return -ENOENT; /* another layout: as if none (a new one is made) */
	n = bm_unseal(db->seal_key, a, v->mv_data, v->mv_size, plain);
	if (n != (int)sizeof(*ret)) {
		OPENSSL_cleanse(plain, sizeof(plain));
		return -ENOENT;
	}
	memcpy(ret, plain, sizeof(*ret));
	ret->key.op[sizeof(ret->key.op) - 1] = '\0';
	OPENSSL_cleanse(plain, sizeof(plain));
	return 0;
}

int
rackdb_token_get(struct rackdb *db, const uint8_t mac[6], struct boot_token *ret)
{
	MDB_txn *txn;
	MDB_val k = { 6, (void *)mac }, v;
	int rc, r;

	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	rc = mdb_get(txn, db->dbi[T_TOKENS], &k, &v);
	r = rc == MDB_SUCCESS    ? token_open(db, mac, &v, ret)
	    : rc == MDB_NOTFOUND ? -ENOENT
	                         : bm_mdb_errno(rc);
	mdb_txn_abort(txn);
	return r;
}

int
rackdb_token_put(struct rackdb_batch *b, const uint8_t mac[6], const struct boot_token *t)
{
	uint8_t sealed[sizeof(*t) + BM_SEAL_OVERHEAD];
	char a[8 + BM_MAC_STR];
	MDB_val k = { 6, (void *)mac }, v = { sizeof(sealed), sealed };

	aad(mac, a);
	if (bm_seal(b->db->seal_key, a, t, sizeof(*t), sealed) < 0)
		return -EIO;
	return bm_mdb_errno(mdb_put(b->txn, b->db->dbi[T_TOKENS], &k, &v, 0));
}

int
rackdb_token_del(struct rackdb_batch *b, const uint8_t mac[6])
{
	MDB_val k = { 6, (void *)mac };
	int rc = mdb_del(b->txn, b->db->dbi[T_TOKENS], &k, NULL);

	return rc == MDB_NOTFOUND ? 0 : bm_mdb_errno(rc);
}

struct each {
	struct rackdb *db;
	void (*fn)(void *arg, const uint8_t mac[6], const struct boot_token *t);
	void *arg;
};

static void
token_record(void *arg, const MDB_val *k, const MDB_val *v)
{
	struct each *e = arg;
	struct boot_token t;

	if (k->mv_size == 6 && token_open(e->db, k->mv_data, v, &t) == 0)
		e->fn(e->arg, k->mv_data, &t);
	OPENSSL_cleanse(&t, sizeof(t));
}

int
rackdb_tokens_each(struct rackdb *db,
                   void (*fn)(void *arg, const uint8_t mac[6], const struct boot_token *t),
                   void *arg)
{
	struct each e = { db, fn, arg };

	return bm_mdb_each(db->env, db->dbi[T_TOKENS], token_record, &e);
}

/* ------------------------------------------------------ following the view */

struct follow {
	struct rackdb_batch *b;
	const struct rack_view *v;
	unsigned changed;
	int err;
};

/* A kept token whose machine left the view or stopped netbooting, or
 * whose operation boot was replaced: deleted (a cancel or a timeout). */
static void
drop_ended(void *arg, const uint8_t mac[6], const struct boot_token *t)
{
	struct follow *f = arg;
	const struct rack_host *h = rack_view_host(f->v, mac);
	struct boot_key k;

	if (h && boot_key_of(h, &k) && token_same_boot(t, &k))
		return;
	if (f->err == 0 && (f->err = rackdb_token_del(f->b, mac)) == 0)
		f->changed++;
}

/* An operation's new boot (power sequence) gets its token now, before the
 * power action makes the machine boot. */
static void
make_new(struct follow *f, const struct rack_host *h)
{
	struct boot_key k;
	struct boot_token kept, t;
	int e;
	bool have;

	if (!boot_key_of(h, &k) || !*k.op)
		return; /* a standing netboot gets its token at its script */
	have = rackdb_token_get(f->b->db, h->mac, &kept) == 0;
	if (token_renew(have ? &kept : NULL, &k, bm_wall_ms(), &t, &e)) {
		if ((f->err = rackdb_token_put(f->b, h->mac, &t)) == 0)
			f->changed++;
	} else if (e < 0) {
		f->err = e;
	}
	OPENSSL_cleanse(&t, sizeof(t));
}

/* What following depends on: each host's MAC and boot key, in order. */
static void
boots_digest(const struct rack_view *v, uint8_t out[BM_SHA256_LEN])
{
	struct bm_sha256 h;

	bm_sha256_init(&h);
	for (size_t i = 0; i < v->n_hosts; i++) {
		struct boot_key k; /* zeroed by boot_key_of: padding included */
		uint8_t boots = boot_key_of(&v->hosts[i], &k);
		bm_sha256_update(&h, v->hosts[i].mac, 6);
		bm_sha256_update(&h, &boots, 1);
		bm_sha256_update(&h, &k, sizeof(k));
	}
	bm_sha256_final(&h, out);
}

/* Skipped when no host's boot changed since the last follow: its outcome
 * depends on those and on the kept tokens, which change only here and at
 * a machine's script (made or revoked there for the boot it is in, which
 * a follow keeps). A view change that moves no boot (a progress event, a
 * profile) then opens no token: in a boot storm that was most of the
 * loop's time. */
int
rackdb_tokens_follow(struct rackdb *db, const struct rack_view *v, unsigned *ret_changed)
{
	struct follow f = { NULL, v, 0, 0 };
	uint8_t boots[BM_SHA256_LEN];
	int r;

	*ret_changed = 0;
	boots_digest(v, boots);
	if (db->have_followed && !memcmp(boots, db->followed, sizeof(boots)))
		return 0;
	if ((r = rackdb_batch_begin(db, &f.b)) < 0)
		return r;
	r = rackdb_tokens_each(db, drop_ended, &f);
	for (size_t i = 0; r == 0 && f.err == 0 && i < v->n_hosts; i++)
		make_new(&f, &v->hosts[i]);
	if (r < 0 || f.err < 0 || f.changed == 0) {
		rackdb_batch_abort(f.b);
		r = r < 0 ? r : f.err;
	} else {
		*ret_changed = f.changed;
		r = rackdb_batch_commit(f.b);
	}
	if ((db->have_followed = r == 0))
		memcpy(db->followed, boots, sizeof(boots));
	return r;
}
