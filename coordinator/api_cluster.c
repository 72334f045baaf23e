/* The API of the Raft cluster: status (any node, its own view), and add,
 * remove, transfer (the leader). Changes run on the loop thread, where
 * libraft lives: handed over through a queue and an async handle. */
#include <errno.h>
#include <pthread.h>
#include <raft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_priv.h"
#include "bm/log.h"
#include "bm/rpc.h"
#include "bm/util.h"
#include "raft_node.h"

struct cluster_call {
	struct bm_rpc_call *call;
	struct api *a;
	int action;
	uint64_t id;
	char address[64];
	struct cluster_call *next;
};

struct cluster_q {
	uv_async_t wake;
	pthread_mutex_t mu;
	struct cluster_call *head;
	bool closed;
};

static const char *
state_name(int s)
{
	return s == RAFT_LEADER ? "leader" : s == RAFT_CANDIDATE ? "candidate" : "follower";
}

static const char *
role_name(int r)
{
	return r == RAFT_VOTER ? "voter" : r == RAFT_STANDBY ? "standby" : "spare";
}

static void
reply_status(struct api *a, struct bm_rpc_call *call)
{
	Bm__Response resp = BM__RESPONSE__INIT;
	Bm__ClusterResult cr = BM__CLUSTER_RESULT__INIT;
	Bm__ClusterMember mem[16], *mp[16];
	struct raftnode_status st;

	raftnode_status_get(a->raft, &st);
	cr.id = st.id;
	cr.state = (char *)state_name(st.state);
	cr.leader_id = st.leader_id;
	cr.leader_address = st.leader_address;
	cr.term = st.term;
	cr.last_index = st.last_index;
	cr.applied_index = st.last_applied;
	for (unsigned i = 0; i < st.n_members; i++) {
		bm__cluster_member__init(&mem[i]);
		mem[i].id = st.members[i].id;
		mem[i].address = st.members[i].address;
		mem[i].role = (char *)role_name(st.members[i].role);
		mem[i].leader = st.members[i].id == st.leader_id;
		mp[i] = &mem[i];
	}
	cr.members = mp;
	cr.n_members = st.n_members;
	resp.body_case = BM__RESPONSE__BODY_CLUSTER;
	resp.cluster = &cr;
	bm_rpc_reply(call, &resp);
}

static const char *
action_name(int action)
{
	return action == BM__CLUSTER_REQUEST__ACTION__ADD      ? "cluster add"
	       : action == BM__CLUSTER_REQUEST__ACTION__REMOVE ? "cluster remove"
	                                                       : "cluster transfer";
}

/* A membership change is no command: the audit log gets a note of it. */
static void
change_audit(struct cluster_call *cc, const char *outcome)
{
	char targets[128], peer[80];

	snprintf(targets, sizeof(targets), "node %llu%s%s", (unsigned long long)cc->id,
	         *cc->address ? " at " : "", cc->address);
	api_audit_note(cc->a, bm_rpc_call_who(cc->call),
	               bm_rpc_call_peer(cc->call, peer, sizeof(peer)), action_name(cc->action),
	               targets, outcome);
}

static void
change_done(void *arg, int status)
{
	struct cluster_call *cc = arg;
	char msg[160];

	if (status == 0) {
		change_audit(cc, "ok");
		reply_status(cc->a, cc->call);
	} else if (status == -ENOTCONN) {
		api_reply_unavailable(cc->a, cc->call,
		                      "cluster change failed: not the leader: ask another "
		                      "coordinator");
	} else {
		snprintf(msg, sizeof(msg), "cluster change failed: %s",
		         status == -EEXIST   ? "that id or address is already a member"
		         : status == -ENOENT ? "no such member"
		         : status == -EAGAIN ? "leadership did not move; retry"
		                             : strerror(-status));
		change_audit(cc, msg);
		bm_rpc_reply_status(cc->call, BM__STATUS__STATUS_PRECONDITION, msg);
	}
	free(cc);
}

static void
run_change(struct cluster_call *cc)
{
	struct raftnode *n = cc->a->raft;
	int r;

	if (!raftnode_is_leader(n)) {
		change_done(cc, -ENOTCONN);
		return;
	}
	switch (cc->action) {
	case BM__CLUSTER_REQUEST__ACTION__ADD:
		r = raftnode_add(n, cc->id, cc->address, change_done, cc);
		break;
	case BM__CLUSTER_REQUEST__ACTION__REMOVE:
		r = raftnode_remove(n, cc->id, change_done, cc);
		break;
	default: r = raftnode_transfer(n, cc->id, change_done, cc); break;
	}
	if (r < 0)
		change_done(cc, r);
}

static void
wake_cb(uv_async_t *h)
{
	struct cluster_q *q = bm_container_of(h, struct cluster_q, wake);
	struct cluster_call *list;

	pthread_mutex_lock(&q->mu);
	list = q->head;
	q->head = NULL;
	pthread_mutex_unlock(&q->mu);
	while (list) {
		struct cluster_call *next = list->next;
		run_change(list);
		list = next;
	}
}

void
api_handle_cluster(struct api *a, struct bm_rpc_call *call, const Bm__Request *req)
{
	const Bm__ClusterRequest *q = req->cluster;
	struct cluster_call *cc;

	if (!a->raft || !a->cluster) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_UNAVAILABLE, "no Raft node");
		return;
	}
	if (q->action == BM__CLUSTER_REQUEST__ACTION__STATUS) {
		reply_status(a, call);
		return;
	}
	if (!q->id || (q->action == BM__CLUSTER_REQUEST__ACTION__ADD &&
	               (!*q->address || strlen(q->address) >= sizeof(cc->address)))) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID,
		                    "cluster changes need an id (and, to add, an address)");
		return;
	}
	if (!(cc = calloc(1, sizeof(*cc)))) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_UNAVAILABLE, "out of memory");
		return;
	}
	cc->call = call;
	cc->a = a;
	cc->action = q->action;
	cc->id = q->id;
	snprintf(cc->address, sizeof(cc->address), "%s", q->address);
	pthread_mutex_lock(&a->cluster->mu);
	if (a->cluster->closed) {
		pthread_mutex_unlock(&a->cluster->mu);
		free(cc);
		bm_rpc_reply_status(call, BM__STATUS__STATUS_UNAVAILABLE, "shutting down");
		return;
	}
	cc->next = a->cluster->head;
	a->cluster->head = cc;
	pthread_mutex_unlock(&a->cluster->mu);
	uv_async_send(&a->cluster->wake);
}

int
api_cluster_start(struct api *a, uv_loop_t *loop)
{
	struct cluster_q *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	pthread_mutex_init(&q->mu, NULL);
	uv_async_init(loop, &q->wake, wake_cb);
	a->cluster = q;
	return 0;
}

void
api_cluster_free(struct api *a)
{
	struct cluster_q *q = a->cluster;
	if (!q)
		return;
	pthread_mutex_destroy(&q->mu);
	free(q);
	a->cluster = NULL;
}

/* Refuse new changes and answer queued ones; before the Raft node closes. */
void
api_cluster_stop(struct api *a)
{
	struct cluster_q *q = a->cluster;
	struct cluster_call *list;

	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->closed = true;
	list = q->head;
	q->head = NULL;
	pthread_mutex_unlock(&q->mu);
	while (list) {
		struct cluster_call *next = list->next;
		bm_rpc_reply_status(list->call, BM__STATUS__STATUS_UNAVAILABLE, "shutting down");
		free(list);
		list = next;
	}
	uv_close((uv_handle_t *)&q->wake, NULL); /* freed after the API stops */
}
