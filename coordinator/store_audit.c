/* The audit log (table audit: seq, 8 bytes big-endian -> AuditEntry): one
 * entry for each command that carries an audit record, accepted or
 * refused, written in the batch's transaction after the command so that
 * every node keeps the same log. Not versioned (no revision, no watch);
 * the oldest entries go beyond audit_keep (STORE_AUDIT_KEEP). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_priv.h"

/* The outcome of the command, as the audit log says it. */
static void
outcome_text(const Bm__Command *cmd, const struct store_result *res, char *buf, size_t len)
{
	if (cmd->op_case == BM__COMMAND__OP_AUDIT_ONLY && *cmd->audit->outcome)
		snprintf(buf, len, "%s", cmd->audit->outcome);
	else if (res->status != BM__STATUS__STATUS_OK && res->problems.n)
		snprintf(buf, len, "refused: %s (%s: %s)", res->message, res->problems.v[0].name,
		         res->problems.v[0].why);
	else if (res->status != BM__STATUS__STATUS_OK)
		snprintf(buf, len, "refused: %s", res->message);
	else if (*res->name)
		snprintf(buf, len, "ok: %s", res->name);
	else
		snprintf(buf, len, "ok");
}

/* Drop the oldest entries beyond the store's audit_keep. */
static int
trim(struct store_batch *b)
{
	MDB_dbi dbi = b->s->dbi[DB_AUDIT];
	MDB_cursor *cur;
	MDB_stat st;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_stat(b->txn, dbi, &st)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	if (st.ms_entries <= b->s->audit_keep)
		return 0;
	if ((rc = mdb_cursor_open(b->txn, dbi, &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (size_t n = st.ms_entries - b->s->audit_keep; n > 0; n--)
		if ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) != MDB_SUCCESS ||
		    (rc = mdb_cursor_del(cur, 0)) != MDB_SUCCESS)
			break;
	mdb_cursor_close(cur);
	return rc == MDB_SUCCESS ? 0 : bm_mdb_errno(rc);
}

int
st_audit_record(struct store_batch *b, const Bm__Command *cmd, const struct store_result *res,
                uint64_t now)
{
	Bm__AuditEntry e = *cmd->audit;
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t key[8];
	char outcome[sizeof(res->message) + 256];
	int rc, r;

	if ((rc = mdb_cursor_open(b->txn, b->s->dbi[DB_AUDIT], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		return bm_mdb_errno(rc);
	e.seq = rc == MDB_SUCCESS && k.mv_size == 8 ? bm_get_be64(k.mv_data) + 1 : 1;
	e.time_ms = now;
	e.revision = b->revision;
	outcome_text(cmd, res, outcome, sizeof(outcome));
	e.outcome = outcome;
	bm_put_be64(key, e.seq);
	if ((r = bm_mdb_put_msg(b->txn, b->s->dbi[DB_AUDIT], key, sizeof(key), &e.base)) < 0)
		return r;
	return trim(b);
}

int
store_audit_list(struct store_read *r, uint64_t since_ms, uint64_t after_seq, uint32_t limit,
                 Bm__AuditResult **ret)
{
	Bm__AuditResult *out = calloc(1, sizeof(*out));
	MDB_cursor *cur = NULL;
	uint8_t key[8];
	MDB_val k = { sizeof(key), key }, v;
	int rc, e = 0;

	if (!out)
		return -ENOMEM;
	bm__audit_result__init(out);
	limit = limit ? limit : 1;
	if (!(out->entries = calloc(limit, sizeof(*out->entries)))) {
		free(out);
		return -ENOMEM;
	}
	bm_put_be64(key, after_seq + 1);
	if ((rc = mdb_cursor_open(r->txn, r->s->dbi[DB_AUDIT], &cur)) != MDB_SUCCESS)
		e = bm_mdb_errno(rc);
	for (rc = e ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == MDB_SUCCESS && e == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Bm__AuditEntry *a = bm__audit_entry__unpack(NULL, v.mv_size, v.mv_data);
		if (!a)
			continue; /* unreadable: skipped */
		if (a->time_ms < since_ms) {
			bm__audit_entry__free_unpacked(a, NULL);
			continue;
		}
		if (out->n_entries == limit) {
			out->next_seq = out->entries[limit - 1]->seq;
			bm__audit_entry__free_unpacked(a, NULL);
			break;
		}
		out->entries[out->n_entries++] = a;
	}
	if (cur)
		mdb_cursor_close(cur);
	if (e == 0 && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		e = bm_mdb_errno(rc);
	if (e < 0) {
		bm__audit_result__free_unpacked(out, NULL);
		return e;
	}
	*ret = out;
	return 0;
}
