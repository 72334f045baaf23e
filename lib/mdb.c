#include "bm/mdb.h"

#include <errno.h>
#include <string.h>

#include "bm/wr.h"

int
bm_mdb_errno(int rc)
{
	switch (rc) {
	case MDB_SUCCESS: return 0;
	case MDB_NOTFOUND: return -ENOENT;
	case MDB_KEYEXIST: return -EEXIST;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL: return -ENOSPC;
	case MDB_READERS_FULL: return -EAGAIN;
	case MDB_BAD_VALSIZE: return -EINVAL;
	default: return rc > 0 ? -rc : -EIO; /* LMDB passes errno through */
	}
}

int
bm_mdb_get_msg(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
               const ProtobufCMessageDescriptor *desc, ProtobufCMessage **ret_msg)
{
	MDB_val k = { klen, (void *)key }, v;
	ProtobufCMessage *m;
	int rc = mdb_get(txn, dbi, &k, &v);

	if (rc != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	if (!(m = protobuf_c_message_unpack(desc, NULL, v.mv_size, v.mv_data)))
		return -EIO;
	*ret_msg = m;
	return 0;
}

int
bm_mdb_put_msg(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const ProtobufCMessage *msg)
{
	MDB_val k = { klen, (void *)key }, v = { protobuf_c_message_get_packed_size(msg), NULL };
	int rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE);

	if (rc != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	protobuf_c_message_pack(msg, v.mv_data);
	return 0;
}

int
bm_mdb_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val, size_t vlen)
{
	MDB_val k = { klen, (void *)key }, v = { vlen, (void *)val };
	int rc = mdb_del(txn, dbi, &k, val ? &v : NULL);
	return rc == MDB_NOTFOUND ? 0 : bm_mdb_errno(rc);
}

int
bm_mdb_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t *ret)
{
	MDB_val k = { strlen(name), (void *)name }, v;
	int rc = mdb_get(txn, dbi, &k, &v);

	*ret = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	if (v.mv_size != 8)
		return -EIO;
	*ret = bm_get_be64(v.mv_data);
	return 0;
}

int
bm_mdb_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t val)
{
	uint8_t b[8];
	MDB_val k = { strlen(name), (void *)name }, v = { 8, b };

	bm_put_be64(b, val);
	return bm_mdb_errno(mdb_put(txn, dbi, &k, &v, 0));
}

int
bm_mdb_each(MDB_env *env, MDB_dbi dbi,
            void (*fn)(void *arg, const MDB_val *key, const MDB_val *val), void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != MDB_SUCCESS) {
		mdb_txn_abort(txn);
		return bm_mdb_errno(rc);
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		fn(arg, &k, &v);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND ? 0 : bm_mdb_errno(rc);
}
