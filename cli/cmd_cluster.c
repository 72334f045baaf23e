/* bmctl cluster: the coordinators' Raft membership. */
#include <stdlib.h>
#include <string.h>

#include "bmctl.h"

static void
print_cluster(struct ctl *c, const Bm__ClusterResult *r)
{
	if (c->json) {
		struct bm_json j;
		bm_json_init(&j, stdout, true);
		bm_json_obj_begin(&j);
		bm_json_ku64(&j, "id", r->id);
		bm_json_kstr(&j, "state", r->state);
		bm_json_ku64(&j, "leader_id", r->leader_id);
		bm_json_kstr(&j, "leader_address", r->leader_address);
		bm_json_ku64(&j, "term", r->term);
		bm_json_ku64(&j, "last_index", r->last_index);
		bm_json_ku64(&j, "applied_index", r->applied_index);
		bm_json_key(&j, "members");
		bm_json_arr_begin(&j);
		for (size_t i = 0; i < r->n_members; i++) {
			bm_json_obj_begin(&j);
			bm_json_ku64(&j, "id", r->members[i]->id);
			bm_json_kstr(&j, "address", r->members[i]->address);
			bm_json_kstr(&j, "role", r->members[i]->role);
			bm_json_kbool(&j, "leader", r->members[i]->leader);
			bm_json_obj_end(&j);
		}
		bm_json_arr_end(&j);
		bm_json_obj_end(&j);
		fputc('\n', stdout);
		return;
	}
	printf("Node %llu: %s, term %llu, last index %llu, applied %llu (lag %llu)\n",
	       (unsigned long long)r->id, r->state, (unsigned long long)r->term,
	       (unsigned long long)r->last_index, (unsigned long long)r->applied_index,
	       (unsigned long long)(r->last_index - r->applied_index));
	printf("Leader: %llu %s\n", (unsigned long long)r->leader_id,
	       *r->leader_address ? r->leader_address : "(none)");
	printf("%-6s %-22s %-8s %s\n", "ID", "ADDRESS", "ROLE", "");
	for (size_t i = 0; i < r->n_members; i++)
		printf("%-6llu %-22s %-8s %s\n", (unsigned long long)r->members[i]->id,
		       r->members[i]->address, r->members[i]->role,
		       r->members[i]->leader ? "leader" : "");
}

int
cmd_cluster(struct ctl *c, int argc, char **argv)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__ClusterRequest q = BM__CLUSTER_REQUEST__INIT;
	Bm__Response *resp;
	int r;

	if (argc == 2 && !strcmp(argv[1], "status")) {
		q.action = BM__CLUSTER_REQUEST__ACTION__STATUS;
	} else if (argc == 4 && !strcmp(argv[1], "add")) {
		q.action = BM__CLUSTER_REQUEST__ACTION__ADD;
		q.address = argv[3];
	} else if (argc == 3 && !strcmp(argv[1], "remove")) {
		q.action = BM__CLUSTER_REQUEST__ACTION__REMOVE;
	} else if (argc == 3 && !strcmp(argv[1], "transfer")) {
		q.action = BM__CLUSTER_REQUEST__ACTION__TRANSFER;
	} else {
		return ctl_usage_error(c, "cluster takes: status | add ID HOST:PORT | remove ID | "
		                          "transfer ID");
	}
	if (argc > 2 && !(q.id = strtoull(argv[2], NULL, 10)))
		return ctl_usage_error(c, "cluster: %s is not a node id", argv[2]);
	req.body_case = BM__REQUEST__BODY_CLUSTER;
	req.cluster = &q;
	if ((r = ctl_call(c, &req, &resp, NULL, NULL)) != CTL_EXIT_OK)
		return r;
	print_cluster(c, resp->cluster);
	bm__response__free_unpacked(resp, NULL);
	return CTL_EXIT_OK;
}
