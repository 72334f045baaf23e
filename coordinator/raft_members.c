/* The Raft node's membership and leadership changes: add (as a spare,
 * then assigned voter), remove, transfer; leader only. */
#include <errno.h>
#include <stdlib.h>

#include "raft_node_priv.h"

struct change {
	struct raft_change req;
	struct raft_transfer xfer;
	struct raftnode *n;
	uint64_t id;
	bool then_assign;
	void (*cb)(void *arg, int status);
	void *arg;
};

static void
change_cb(struct raft_change *req, int status)
{
	struct change *c = req->data;

	if (status == 0 && c->then_assign) { /* added as spare: now a voter */
		c->then_assign = false;
		int rv = raft_assign(&c->n->raft, &c->req, c->id, RAFT_VOTER, change_cb);
		if (rv == 0)
			return;
		status = rv;
	}
	c->cb(c->arg, raftnode_map_status(status));
	free(c);
}

static struct change *
change_new(struct raftnode *n, uint64_t id, void (*cb)(void *, int), void *arg)
{
	struct change *c = calloc(1, sizeof(*c));
	if (c) {
		c->n = n;
		c->id = id;
		c->cb = cb;
		c->arg = arg;
		c->req.data = c;
		c->xfer.data = c;
	}
	return c;
}

int
raftnode_add(struct raftnode *n, uint64_t id, const char *address, void (*cb)(void *, int),
             void *arg)
{
	struct change *c = change_new(n, id, cb, arg);
	int rv;

	if (!c)
		return -ENOMEM;
	c->then_assign = true;
	if ((rv = raft_add(&n->raft, &c->req, id, address, change_cb)) != 0) {
		free(c);
		return rv == RAFT_DUPLICATEID || rv == RAFT_DUPLICATEADDRESS
		           ? -EEXIST
		           : raftnode_map_status(rv);
	}
	return 0;
}

int
raftnode_remove(struct raftnode *n, uint64_t id, void (*cb)(void *, int), void *arg)
{
	struct change *c = change_new(n, id, cb, arg);
	int rv;

	if (!c)
		return -ENOMEM;
	if ((rv = raft_remove(&n->raft, &c->req, id, change_cb)) != 0) {
		free(c);
		return rv == RAFT_BADID ? -ENOENT : raftnode_map_status(rv);
	}
	return 0;
}

static void
transfer_cb(struct raft_transfer *req)
{
	struct change *c = req->data;
	raft_id leader = 0;
	const char *addr = NULL;

	raft_leader(&c->n->raft, &leader, &addr);
	c->cb(c->arg, leader == c->id ? 0 : -EAGAIN);
	free(c);
}

int
raftnode_transfer(struct raftnode *n, uint64_t id, void (*cb)(void *, int), void *arg)
{
	struct change *c = change_new(n, id, cb, arg);
	int rv;

	if (!c)
		return -ENOMEM;
	if ((rv = raft_transfer(&n->raft, &c->xfer, id, transfer_cb)) != 0) {
		free(c);
		return rv == RAFT_BADID ? -ENOENT : raftnode_map_status(rv);
	}
	return 0;
}
