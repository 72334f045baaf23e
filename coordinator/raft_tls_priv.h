/* Private to raft_tls*.c: the transport and its connections. */
#pragma once
#include <openssl/ssl.h>
#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stdint.h>

#include "raft_tls.h"

#define MAGIC "bmraft1\n" /* then id (8 bytes BE), address length (1), address */
#define MAGIC_LEN 8u
#define PREAMBLE_MAX (MAGIC_LEN + 8 + 1 + 255)

struct tls_transport {
	struct raft_uv_transport *t;
	uv_loop_t *loop;
	raft_id id;
	char address[256];
	SSL_CTX *srv, *cli;
	struct bm_auth_verifier *v;
	uv_tcp_t listener;
	uv_timer_t timer; /* handshake deadlines */
	bool listening, closing;
	raft_uv_accept_cb accept_cb;
	raft_uv_transport_close_cb close_cb;
	struct conn *conns;
	unsigned users; /* the listener, the timer and each connection, while open */
	uint64_t refused, logged_ms;
};

struct conn {
	struct tls_transport *tt;
	uv_tcp_t tcp;    /* to the peer, encrypted */
	uv_pipe_t mine;  /* our end of the socketpair, plain */
	uv_pipe_t *raft; /* the other end, raft_uv's once handed over */
	uv_connect_t creq;
	SSL *ssl;
	BIO *in, *out; /* from the peer, to the peer (memory) */
	bool outgoing, up, dead, mine_open, raft_given;
	unsigned open; /* of tcp and mine */
	struct raft_uv_connect *req;
	raft_uv_connect_cb connect_cb;
	raft_id peer_id;
	char peer[256];
	uint8_t pre[PREAMBLE_MAX];
	size_t npre;
	uint64_t deadline_ms;
	size_t pending; /* bytes queued to the peer, not yet written */
	struct conn *next;
};

struct wreq {
	uv_write_t w;
	struct conn *c; /* NULL: to raft's side, nothing to count */
	size_t len;
	char data[];
};

/* raft_tls_conn.c: a connection over an accepted (or dialed, with
 * c->peer its address) TCP socket; the handshake starts at conn_start. */
struct conn *conn_new(struct tls_transport *tt, bool outgoing);
void conn_start(struct conn *c);
/* Close it for good; an outgoing one not yet handed over answers its
 * connect request. why: logged (rate-limited) as a refusal. */
void conn_kill(struct conn *c, const char *why);
/* The transport's own handles closed. */
void raft_tls_handle_closed(uv_handle_t *h);
/* libuv callbacks of the listener and of a dial. */
void raft_tls_on_connection(uv_stream_t *l, int status);
void raft_tls_on_connected(uv_connect_t *req, int status);
