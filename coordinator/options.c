#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/log.h"
#include "bm/version.h"
#include "raft_node.h"

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: bmcoord [--data-dir DIR] [--listen URL] [--contexts N]\n"
	        "               [--map-size-gib N] [--log-level debug|info|warn|error]\n"
	        "  --data-dir DIR   store and blobs (default $XDG_STATE_HOME/bmcoord,\n"
	        "                   else ~/.local/state/bmcoord)\n"
	        "  --listen URL     API address (default " DEFAULT_LISTEN ")\n"
	        "  --advertise URL  API URL followers redirect clients to (default: --listen)\n"
	        "  --contexts N     requests served at once (default %u)\n"
	        "  --id N           this node's Raft id (default 1)\n"
	        "  --raft-address HOST:PORT  Raft transport (default 127.0.0.1:0: a\n"
	        "                   cluster of one, reachable by no other node)\n"
	        "  --bootstrap ID=HOST:PORT,...  a new cluster of these voters (default:\n"
	        "                   a cluster of this node alone; ignored once it has state)\n"
	        "  --join URL,...   ask a running cluster (its API) to add this node\n"
	        "  --snapshot-threshold N  Raft entries between snapshots (default 8192)\n"
	        "  --election-ms N, --heartbeat-ms N  Raft timeouts (default %u, %u)\n"
	        "  --tls-ca FILE --tls-cert FILE --tls-key FILE  serve the API on tls+tcp://\n"
	        "                   and Raft over TLS: every client and peer needs a\n"
	        "                   certificate of this CA (bmctl pki); SIGHUP rereads them\n"
	        "  --tls-crl FILE   certificates revoked (bmctl pki revoke)\n"
	        "  --insecure       allow plaintext on a non-loopback address (a lab)\n"
	        "  --secrets-key FILE  the key BMC passwords are sealed under in the store\n"
	        "                   (bmctl pki init writes DIR/secrets.key; the same on\n"
	        "                   every node); without it, passwords are refused\n",
	        BM_RPC_CONTEXTS_DEFAULT, RAFT_ELECTION_MS_DEFAULT, RAFT_HEARTBEAT_MS_DEFAULT);
}

static int
default_data_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	int n;

	if (xdg && *xdg)
		n = snprintf(buf, len, "%s/bmcoord", xdg);
	else if (home && *home)
		n = snprintf(buf, len, "%s/.local/state/bmcoord", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool
options_is_loopback(const char *u)
{
	if (!strncmp(u, "ipc://", 6) || !strncmp(u, "inproc://", 9))
		return true;
	if (!strncmp(u, "tcp://", 6))
		u += 6;
	else if (!strncmp(u, "tls+tcp://", 10))
		u += 10;
	return !strncmp(u, "127.", 4) || !strncmp(u, "localhost:", 10) || !strncmp(u, "[::1]:", 6);
}

/* TLS all or nothing; plaintext only on loopback unless --insecure. */
static int
check_security(const struct options *o)
{
	bool tls = o->tls.ca || o->tls.cert || o->tls.key;

	if (tls && (!o->tls.ca || !o->tls.cert || !o->tls.key)) {
		fprintf(stderr, "bmcoord: TLS needs all of --tls-ca, --tls-cert and --tls-key\n");
		return 2;
	}
	if (o->tls.crl && !tls) {
		fprintf(stderr,
		        "bmcoord: --tls-crl goes with --tls-ca, --tls-cert and --tls-key\n");
		return 2;
	}
	if (tls && !bm_rpc_url_tls(o->listen) && strncmp(o->listen, "ipc://", 6)) {
		fprintf(stderr, "bmcoord: with TLS, --listen takes tls+tcp://HOST:PORT, not %s\n",
		        o->listen);
		return 2;
	}
	if (!tls && bm_rpc_url_tls(o->listen)) {
		fprintf(stderr, "bmcoord: %s needs --tls-ca, --tls-cert and --tls-key\n",
		        o->listen);
		return 2;
	}
	if (!tls && !o->insecure &&
	    (!options_is_loopback(o->listen) || !options_is_loopback(o->raft_address))) {
		fprintf(stderr,
		        "bmcoord: refusing to serve %s without TLS: give --tls-ca, --tls-cert and "
		        "--tls-key (bmctl pki), or --insecure for a lab\n",
		        options_is_loopback(o->listen) ? o->raft_address : o->listen);
		return 2;
	}
	return 0;
}

int
options_parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "advertise", required_argument, NULL, 'a' },
		{ "contexts", required_argument, NULL, 'c' },
		{ "map-size-gib", required_argument, NULL, 'm' },
		{ "id", required_argument, NULL, 'i' },
		{ "raft-address", required_argument, NULL, 'r' },
		{ "bootstrap", required_argument, NULL, 'b' },
		{ "join", required_argument, NULL, 'J' },
		{ "snapshot-threshold", required_argument, NULL, 'S' },
		{ "election-ms", required_argument, NULL, 'E' },
		{ "heartbeat-ms", required_argument, NULL, 'H' },
		{ "tls-ca", required_argument, NULL, 1 },
		{ "tls-cert", required_argument, NULL, 2 },
		{ "tls-key", required_argument, NULL, 3 },
		{ "tls-crl", required_argument, NULL, 4 },
		{ "insecure", no_argument, NULL, 5 },
		{ "secrets-key", required_argument, NULL, 6 },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	enum bm_log_level lvl;
	int c;

	o->listen = DEFAULT_LISTEN;
	o->contexts = BM_RPC_CONTEXTS_DEFAULT;
	o->id = 1;
	o->raft_address = "127.0.0.1:0"; /* a cluster of one; give an address to grow */
	if (default_data_dir(o->data_dir, sizeof(o->data_dir)) < 0)
		o->data_dir[0] = '\0';
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'd':
			if (strlen(optarg) >= sizeof(o->data_dir)) {
				fprintf(stderr, "bmcoord: --data-dir is too long\n");
				return 2;
			}
			snprintf(o->data_dir, sizeof(o->data_dir), "%s", optarg);
			break;
		case 'l': o->listen = optarg; break;
		case 'a':
			if (strlen(optarg) >= STORE_URL_MAX) {
				fprintf(stderr, "bmcoord: --advertise is too long\n");
				return 2;
			}
			o->advertise = optarg;
			break;
		case 'c':
			o->contexts = (unsigned)strtoul(optarg, &end, 10);
			if (*end || o->contexts == 0 || o->contexts > BM_RPC_CONTEXTS_MAX) {
				fprintf(stderr, "bmcoord: --contexts must be 1..%u\n",
				        BM_RPC_CONTEXTS_MAX);
				return 2;
			}
			break;
		case 'm':
			o->map_size = strtoull(optarg, &end, 10) << 30;
			if (*end || o->map_size == 0) {
				fprintf(stderr,
				        "bmcoord: --map-size-gib must be a positive integer\n");
				return 2;
			}
			break;
		case 'L':
			if (bm_log_level_parse(optarg, &lvl) < 0) {
				fprintf(stderr, "bmcoord: unknown log level %s\n", optarg);
				return 2;
			}
			bm_log_set_level(lvl);
			break;
		case 'i':
			o->id = strtoull(optarg, &end, 10);
			if (*end || !o->id) {
				fprintf(stderr, "bmcoord: --id must be a positive integer\n");
				return 2;
			}
			break;
		case 'r': o->raft_address = optarg; break;
		case 'b': o->bootstrap = optarg; break;
		case 'J': o->join = optarg; break;
		case 'S':
			o->snapshot_threshold = (unsigned)strtoul(optarg, &end, 10);
			if (*end || o->snapshot_threshold < 4) {
				fprintf(stderr,
				        "bmcoord: --snapshot-threshold takes entries (>= 4)\n");
				return 2;
			}
			break;
		case 'E':
		case 'H': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < 10 || v > 600000) {
				fprintf(stderr, "bmcoord: --%s takes milliseconds\n",
				        c == 'E' ? "election-ms" : "heartbeat-ms");
				return 2;
			}
			*(c == 'E' ? &o->election_ms : &o->heartbeat_ms) = (unsigned)v;
			break;
		}
		case 1: o->tls.ca = optarg; break;
		case 2: o->tls.cert = optarg; break;
		case 3: o->tls.key = optarg; break;
		case 4: o->tls.crl = optarg; break;
		case 5: o->insecure = true; break;
		case 6: o->secrets_key = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("bmcoord %s\n", BM_VERSION); exit(0);
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || !o->data_dir[0]) {
		usage(stderr);
		return 2;
	}
	return check_security(o);
}
