/* How long finished operations are kept. A live operation (running,
 * halted) always is. Of the finished ones, those beyond the newest
 * ops_keep (by creation) or beyond ops_keep_bytes of records in all
 * (STORE_OPS_KEEP, STORE_OPS_KEEP_BYTES) are forgotten, oldest first,
 * when another finishes (STORE_OPS_FORGET_MAX at most each time); never
 * the one finishing then, so that whoever waits on it reads how it ended.
 * Without this every operation stayed: each record up to ~1 MB (the names
 * of its machines) until the store filled, and every tick walked all of
 * them. `bmctl delete operation` forgets a finished one too (a live one is
 * refused: store_apply.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/netaddr.h"
#include "store_priv.h"

/* A finished operation: its revision (the name is op-REVISION), its
 * record's size and name. */
struct done {
	uint64_t rev;
	size_t bytes;
	char name[BM_NAME_MAX + 1];
};

static int
done_cmp(const void *a, const void *b)
{
	const struct done *x = a, *y = b;

	return x->rev < y->rev ? -1 : x->rev > y->rev;
}

/* Its record and wake entry. The machines it ended last keep its name in
 * their records (`operation`: what last reimaged them), and so their
 * index entries ('d', 'f': store_op_index.c, which follows the machines;
 * one per machine at most, moved by the next operation that takes it).
 * Names are op-REVISION: never made again. */
int
st_op_forget(struct apply_ctx *c, const char *name)
{
	size_t len = strlen(name);
	int r;

	if ((r = bm_mdb_del(c->txn, c->s->dbi[DB_OPS], name, len, NULL, 0)) < 0 ||
	    (r = bm_mdb_del(c->txn, c->s->dbi[DB_OP_WAKE], name, len, NULL, 0)) < 0)
		return r;
	return st_change(c, BM__KIND__KIND_OPERATION, name, "", true);
}

/* The finished operations but `except`, into *ret (sorted oldest first),
 * with their count and bytes; `except`'s bytes added to *ret_bytes. */
static int
finished(struct apply_ctx *c, const char *except, struct done **ret, size_t *ret_n,
         uint64_t *ret_bytes)
{
	MDB_cursor *cur;
	MDB_val k, v, rec;
	struct done *d = NULL;
	size_t n = 0, cap = 0;
	int rc, r = 0;

	*ret_bytes = 0;
	if ((rc = mdb_cursor_open(c->txn, c->s->dbi[DB_OP_WAKE], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS && r == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char name[BM_NAME_MAX + 1];
		uint64_t rev;
		char end;
		if (v.mv_size != 8 || bm_get_be64(v.mv_data) != OP_WAKE_DONE ||
		    k.mv_size > BM_NAME_MAX || mdb_get(c->txn, c->s->dbi[DB_OPS], &k, &rec))
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		*ret_bytes += rec.mv_size;
		if (!strcmp(name, except) || sscanf(name, "op-%" SCNu64 "%c", &rev, &end) != 1)
			continue;
		if (n == cap) {
			struct done *g = realloc(d, (cap = cap ? cap * 2 : 64) * sizeof(*d));
			if (!g) {
				r = -ENOMEM;
				break;
			}
			d = g;
		}
		d[n] = (struct done){ .rev = rev, .bytes = rec.mv_size };
		memcpy(d[n++].name, name, k.mv_size + 1);
	}
	mdb_cursor_close(cur);
	if (r == 0 && n)
		qsort(d, n, sizeof(*d), done_cmp);
	*ret = d;
	*ret_n = n;
	return r;
}

int
st_op_keep(struct apply_ctx *c, const char *except)
{
	struct done *d = NULL;
	size_t n = 0, i = 0;
	uint64_t bytes = 0;
	int r = finished(c, except, &d, &n, &bytes);

	/* n + 1: `except` is one of the finished, and counts. */
	for (; r == 0 && i < n && i < STORE_OPS_FORGET_MAX &&
	       (n - i + 1 > c->s->ops_keep || bytes > c->s->ops_keep_bytes);
	     i++) {
		r = st_op_forget(c, d[i].name);
		bytes -= d[i].bytes;
	}
	free(d);
	return r;
}
