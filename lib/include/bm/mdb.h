/* The LMDB glue both stores use (the coordinator's store, the agent's
 * rackdb): MDB_* codes become -errno here and nowhere else, records are
 * protobufs packed straight into LMDB's pages, and counters are 8-byte
 * big-endian values under a name. Borrowed values never outlive the
 * transaction. */
#pragma once
#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* MDB_* codes (and the errno values LMDB passes through) to -errno:
 * NOTFOUND -ENOENT, KEYEXIST -EEXIST, MAP_FULL/TXN_FULL -ENOSPC,
 * READERS_FULL -EAGAIN, BAD_VALSIZE -EINVAL, any other LMDB code -EIO. */
int bm_mdb_errno(int rc);
/* Read and unpack the record under key. Returns 0 with *ret_msg (free with
 * protobuf_c_message_free_unpacked), -ENOENT, -EIO (undecodable), -errno. */
int bm_mdb_get_msg(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                   const ProtobufCMessageDescriptor *desc, ProtobufCMessage **ret_msg);
/* Pack msg straight into LMDB's page under key. Returns 0 or -errno. */
int bm_mdb_put_msg(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                   const ProtobufCMessage *msg);
/* Delete key (with val, that one duplicate); an absent key is not an
 * error. Returns 0 or -errno. */
int bm_mdb_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val,
               size_t vlen);
/* fn for every record of dbi, in key order, in a read transaction of its
 * own (fn must not write through it). Returns 0 or -errno. */
int bm_mdb_each(MDB_env *env, MDB_dbi dbi,
                void (*fn)(void *arg, const MDB_val *key, const MDB_val *val), void *arg);
/* The counter under name: 0 when absent, -EIO when not 8 bytes. */
int bm_mdb_get_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t *ret_val);
int bm_mdb_put_u64(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t val);
