/* Private to the Raft node (raft_node.c, raft_members.c). */
#pragma once
#include <pthread.h>
#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>

#include "raft_node.h"

/* A batch's commands get store indexes (STORE_INDEX_SHIFT, store.h).
 * libraft replays entries after its last snapshot at every start; the store
 * skips those at or below its applied index. (raft_last_applied() is not
 * the index of the entry being applied while libraft replays a restarted
 * log: counting applies is what is stable.) */

struct raftnode {
	uv_loop_t *loop;
	struct store *store;
	struct raftnode_opts o;
	char address[64], dir[4096];
	struct raft raft;
	struct raft closed_raft; /* io.data once raft closed (raft_closed) */
	struct raft_io io;
	struct raft_uv_transport transport;
	struct raft_fsm fsm;
	/* raft_uv_tcp's own listen and connect, wrapped (nodelay_*). */
	int (*tcp_listen)(struct raft_uv_transport *t, raft_uv_accept_cb cb);
	int (*tcp_connect)(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
	                   const char *address, raft_uv_connect_cb cb);
	raft_uv_accept_cb accept_cb;
	bool raft_inited, io_inited, tcp_inited, tls; /* tls: raft_tls.h's transport */
	/* The results of the batch applied last (read by its apply callback,
	 * which libraft runs right after the FSM applied that entry). */
	struct store_result *res;
	size_t n_res, cap_res;
	uint64_t entries; /* command entries applied since the log began */
	bool leading;     /* as of the last status refresh */
	uv_timer_t status_timer, close_timer;
	/* The commit nudge (nudge_cb): entries of ours in flight, and the
	 * barrier sent after the last of them. */
	unsigned in_flight;
	bool nudging, closing;
	struct raft_barrier nudge;
	uv_timer_t nudge_timer;
	pthread_mutex_t mu;
	struct raftnode_status status; /* under mu */
	void (*done)(void *arg);
	void *done_arg;
};

/* libraft's status as -errno. */
int raftnode_map_status(int rv);
