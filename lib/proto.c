#include "bm/proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {
	[BM__KIND__KIND_SITE] = "site",           [BM__KIND__KIND_RACK] = "rack",
	[BM__KIND__KIND_MACHINE] = "machine",     [BM__KIND__KIND_PROFILE] = "profile",
	[BM__KIND__KIND_IMAGE] = "image",         [BM__KIND__KIND_AGENT] = "agent",
	[BM__KIND__KIND_OPERATION] = "operation",
};

const char *
bm_kind_name(Bm__Kind k)
{
	if ((unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) && kind_names[k])
		return kind_names[k];
	return "object";
}

int
bm_kind_parse(const char *s, Bm__Kind *ret_kind)
{
	size_t n = strlen(s);

	for (unsigned k = 1; k < sizeof(kind_names) / sizeof(kind_names[0]); k++) {
		size_t kn = strlen(kind_names[k]);
		if (strcmp(s, kind_names[k]) == 0 ||
		    (n == kn + 1 && strncmp(s, kind_names[k], kn) == 0 && s[kn] == 's')) {
			*ret_kind = (Bm__Kind)k;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *const state_names[] = {
	[BM__MACHINE_STATE__STATE_NEW] = "new",
	[BM__MACHINE_STATE__STATE_READY] = "ready",
	[BM__MACHINE_STATE__STATE_REIMAGING] = "reimaging",
	[BM__MACHINE_STATE__STATE_NETBOOTING] = "netbooting",
	[BM__MACHINE_STATE__STATE_INSTALLING] = "installing",
	[BM__MACHINE_STATE__STATE_DEPLOYED] = "deployed",
	[BM__MACHINE_STATE__STATE_FAILED] = "failed",
	[BM__MACHINE_STATE__STATE_INSTALLED] = "installed",
};

const char *
bm_state_name(Bm__MachineState s)
{
	if ((unsigned)s < sizeof(state_names) / sizeof(state_names[0]) && state_names[s])
		return state_names[s];
	return "unknown";
}

int
bm_state_parse(const char *s, Bm__MachineState *ret_state)
{
	for (unsigned i = 1; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (strcmp(s, state_names[i]) == 0) {
			*ret_state = (Bm__MachineState)i;
			return 0;
		}
	return -EINVAL;
}

static const char *const status_names[] = {
	[BM__STATUS__STATUS_OK] = "ok",
	[BM__STATUS__STATUS_INVALID] = "invalid",
	[BM__STATUS__STATUS_NOT_FOUND] = "not found",
	[BM__STATUS__STATUS_EXISTS] = "already exists",
	[BM__STATUS__STATUS_PRECONDITION] = "failed precondition",
	[BM__STATUS__STATUS_UNAVAILABLE] = "unavailable",
	[BM__STATUS__STATUS_INTERNAL] = "internal error",
	[BM__STATUS__STATUS_BAD_VERSION] = "protocol version mismatch",
	[BM__STATUS__STATUS_DENIED] = "permission denied",
};

const char *
bm_status_name(Bm__Status s)
{
	if ((unsigned)s < sizeof(status_names) / sizeof(status_names[0]) && status_names[s])
		return status_names[s];
	return "unknown status";
}

/* Map entries are generated as { base; char *key; char *value; }: the
 * descriptor's two fields give their offsets. */
static char **
entry_str(void *entry, const ProtobufCMessageDescriptor *d, unsigned field)
{
	return (char **)((char *)entry + d->fields[field].offset);
}

const char *
bm_map_get(size_t n_entries, void **entries, const char *key)
{
	for (size_t i = 0; i < n_entries; i++) {
		const ProtobufCMessage *m = entries[i];
		if (strcmp(*entry_str(entries[i], m->descriptor, 0), key) == 0)
			return *entry_str(entries[i], m->descriptor, 1);
	}
	return NULL;
}

bool
bm_map_contains(size_t n_have, void **have, size_t n_want, void **want)
{
	for (size_t i = 0; i < n_want; i++) {
		const ProtobufCMessageDescriptor *d =
		    ((const ProtobufCMessage *)want[i])->descriptor;
		const char *v = bm_map_get(n_have, have, *entry_str(want[i], d, 0));
		if (!v || strcmp(v, *entry_str(want[i], d, 1)))
			return false;
	}
	return true;
}

int
bm_map_set(size_t *n_entries, void ***entries, const ProtobufCMessageDescriptor *d, const char *key,
           const char *value)
{
	size_t i = 0, n = *n_entries;
	char *v = strdup(value), *k = NULL;
	void *e = NULL, **arr;

	if (!v)
		goto oom;
	for (; i < n; i++) {
		int c = strcmp(*entry_str((*entries)[i], d, 0), key);
		if (c == 0) {
			char **slot = entry_str((*entries)[i], d, 1);
			if (*slot != d->fields[1].default_value)
				free(*slot);
			*slot = v;
			return 0;
		}
		if (c > 0)
			break;
	}
	arr = realloc(*entries, (n + 1) * sizeof(void *));
	if (!arr)
		goto oom;
	*entries = arr; /* the larger array is ours even if what follows fails */
	k = strdup(key);
	e = malloc(d->sizeof_message);
	if (!k || !e)
		goto oom;
	protobuf_c_message_init(d, e);
	*entry_str(e, d, 0) = k;
	*entry_str(e, d, 1) = v;
	memmove(arr + i + 1, arr + i, (n - i) * sizeof(void *));
	arr[i] = e;
	*n_entries = n + 1;
	return 0;
oom:
	free(v);
	free(k);
	free(e);
	return -ENOMEM;
}

const char *
bm_firmware_of_arch(long arch)
{
	switch (arch) {
	case 0: return "bios";
	case 6:
	case 7:
	case 9: return "uefi";
	case 16: return "uefi-http";
	case 11:
	case 19: return "arm64";
	default: return NULL;
	}
}

const char *
bm_machine_firmware(const Bm__Machine *m)
{
	const char *seen = m->firmware_seen ? m->firmware_seen : "";
	const char *said = m->firmware ? m->firmware : "";

	if (!*said)
		return seen;
	if (!strcmp(said, "uefi") && !strncmp(seen, "uefi", 4))
		return seen;
	return said;
}
