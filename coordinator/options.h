/* bmcoord's command line, and the rules it must meet before anything
 * starts: TLS all or nothing, and plaintext only on loopback (or ipc://)
 * unless --insecure. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "bm/rpc.h"

#define DEFAULT_LISTEN "tcp://127.0.0.1:7400"

struct options {
	char data_dir[PATH_MAX];
	const char *listen;
	const char *advertise; /* the API URL other nodes send clients to */
	unsigned contexts;
	uint64_t map_size;
	uint64_t id;
	const char *raft_address;
	const char *bootstrap;
	const char *join; /* URLs of a running cluster to ask to add this node */
	unsigned election_ms, heartbeat_ms, snapshot_threshold;
	struct bm_rpc_tls tls; /* --tls-ca, --tls-cert, --tls-key, --tls-crl */
	bool insecure;         /* plaintext on a non-loopback address, by choice */
	const char *secrets_key; /* --secrets-key: seals BMC passwords (bm/seal.h) */
};

/* Parse argv into o. Returns 0, or 2 after printing why (a usage error);
 * --help and --version exit. */
int options_parse(int argc, char **argv, struct options *o);
/* A loopback or ipc:// URL (tcp://127.x, tcp://localhost, tcp://[::1]), or
 * a Raft HOST:PORT on loopback. */
bool options_is_loopback(const char *url_or_address);
