#include "redfish.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ URL */

static bool
host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

/* A path of ours in a URL: printable, no query, no "..". */
static bool
path_ok(const char *p)
{
	if (*p != '/' || strstr(p, ".."))
		return false;
	for (; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#' || *p == '%' || *p == '\\' ||
		    (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

static int
url_fail(char *why, size_t wlen, const char *what)
{
	snprintf(why, wlen, "BMC URL: %s", what);
	return -EINVAL;
}

static int
url_scheme(const char *url, struct redfish_target *t, const char **rest)
{
	static const struct {
		const char *p;
		bool https;
	} s[] = { { "redfish://", true },
		  { "redfish+https://", true },
		  { "redfish+http://", false } };
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (!strncmp(url, s[i].p, strlen(s[i].p))) {
			t->https = s[i].https;
			t->port = s[i].https ? 443 : 80;
			*rest = url + strlen(s[i].p);
			return 0;
		}
	return -EINVAL;
}

int
redfish_parse_url(const char *url, struct redfish_target *t, char *why, size_t wlen)
{
	const char *p, *at, *colon, *hp, *slash, *pc;
	size_t n;

	memset(t, 0, sizeof(*t));
	if (why && wlen)
		*why = '\0';
	if (url_scheme(url, t, &p) < 0)
		return url_fail(why, wlen, "not redfish://, redfish+https:// or redfish+http://");
	slash = p + strcspn(p, "/");
	at = memchr(p, '@', (size_t)(slash - p));
	if (!at)
		return url_fail(why, wlen, "a user is required (redfish://USER@HOST)");
	for (const char *q = at + 1; q < slash; q++)
		if (*q == '@')
			return url_fail(why, wlen, "more than one '@' before the path");
	colon = memchr(p, ':', (size_t)(at - p));
	if (!colon)
		colon = at;
	if ((n = (size_t)(colon - p)) == 0 || n >= sizeof(t->user))
		return url_fail(why, wlen, "the user is empty or too long");
	memcpy(t->user, p, n);
	if (colon < at) {
		if ((n = (size_t)(at - colon - 1)) >= sizeof(t->pass))
			return url_fail(why, wlen, "the password is too long");
		memcpy(t->pass, colon + 1, n);
	}
	hp = at + 1;
	pc = memchr(hp, ':', (size_t)(slash - hp));
	const char *hend = pc ? pc : slash;
	if (pc) {
		char *e;
		unsigned long port = strtoul(pc + 1, &e, 10);
		if (e != slash || e == pc + 1 || port == 0 || port > 65535)
			return url_fail(why, wlen, "the port is not 1-65535");
		t->port = (unsigned)port;
	}
	if ((n = (size_t)(hend - hp)) == 0 || n >= sizeof(t->host))
		return url_fail(why, wlen, "the host is empty or too long");
	for (size_t i = 0; i < n; i++)
		if (!host_char(hp[i]))
			return url_fail(why, wlen, "the host is not a name or an IPv4 address");
	memcpy(t->host, hp, n);
	if (*slash && strcmp(slash, "/")) {
		if (strlen(slash) >= sizeof(t->system) || !path_ok(slash) ||
		    strncmp(slash, "/redfish/v1/Systems/", 20) || !slash[20])
			return url_fail(why, wlen, "the path is not /redfish/v1/Systems/ID");
		snprintf(t->system, sizeof(t->system), "%s", slash);
		n = strlen(t->system);
		if (t->system[n - 1] == '/')
			t->system[n - 1] = '\0';
	}
	return 0;
}

/* ----------------------------------------------------------------- JSON */

static json_object *
parse(const char *body, size_t len)
{
	if (!body || len == 0 || len > REDFISH_BODY_MAX)
		return NULL;
	json_tokener *tok = json_tokener_new_ex(REDFISH_JSON_DEPTH);
	if (!tok)
		return NULL;
	json_object *o = json_tokener_parse_ex(tok, body, (int)len);
	if (o && json_tokener_get_error(tok) == json_tokener_success) {
		for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
			if (!strchr(" \t\r\n", body[i])) {
				json_object_put(o);
				o = NULL;
				break;
			}
	} else if (o) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

static json_object *
member(json_object *o, const char *key, json_type type)
{
	json_object *v;
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

/* o's string member key into out (truncation refused: ""). */
static bool
str_member(json_object *o, const char *key, char *out, size_t olen)
{
	json_object *v = member(o, key, json_type_string);
	*out = '\0';
	if (!v || (size_t)json_object_get_string_len(v) >= olen)
		return false;
	memcpy(out, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
	return true;
}

/* ---------------------------------------------------------------- reset */

static const char *const reset_names[] = { "On",         "ForceOff",        "ForceRestart",
	                                   "PowerCycle", "GracefulRestart", "ForceOn" };

const char *
redfish_reset_name(unsigned bit)
{
	for (unsigned i = 0; i < sizeof(reset_names) / sizeof(reset_names[0]); i++)
		if (bit == 1u << i)
			return reset_names[i];
	return "?";
}

static unsigned
reset_bit(const char *name)
{
	for (unsigned i = 0; i < sizeof(reset_names) / sizeof(reset_names[0]); i++)
		if (!strcmp(name, reset_names[i]))
			return 1u << i;
	return 0;
}

static void
parse_reset(json_object *sys, struct redfish_system *s)
{
	json_object *act = member(member(sys, "Actions", json_type_object), "#ComputerSystem.Reset",
	                          json_type_object);
	json_object *av = member(act, "ResetType@Redfish.AllowableValues", json_type_array);

	str_member(act, "target", s->reset_target, sizeof(s->reset_target));
	s->allowed = ~0u;
	if (!av)
		return; /* the schema's default: every ResetType */
	s->listed = true;
	s->allowed = 0;
	for (size_t i = 0; i < json_object_array_length(av); i++) {
		json_object *e = json_object_array_get_idx(av, i);
		if (json_object_is_type(e, json_type_string))
			s->allowed |= reset_bit(json_object_get_string(e));
	}
}

static void
parse_boot(json_object *sys, struct redfish_system *s)
{
	json_object *boot = member(sys, "Boot", json_type_object), *av, *v;

	if (!boot)
		return;
	s->has_boot = true;
	str_member(boot, "BootSourceOverrideTarget", s->boot_target, sizeof(s->boot_target));
	str_member(boot, "BootSourceOverrideEnabled", s->boot_enabled, sizeof(s->boot_enabled));
	s->has_mode = json_object_object_get_ex(boot, "BootSourceOverrideMode", &v);
	str_member(boot, "BootSourceOverrideMode", s->boot_mode, sizeof(s->boot_mode));
	av = member(boot, "BootSourceOverrideTarget@Redfish.AllowableValues", json_type_array);
	s->targets_listed = av != NULL;
	for (size_t i = 0; av && i < json_object_array_length(av); i++) {
		json_object *e = json_object_array_get_idx(av, i);
		if (json_object_is_type(e, json_type_string) &&
		    !strcmp(json_object_get_string(e), "UefiHttp"))
			s->uefi_http_allowed = true;
	}
}

int
redfish_parse_system(const char *body, size_t len, struct redfish_system *s, char *why, size_t wlen)
{
	json_object *o = parse(body, len);

	memset(s, 0, sizeof(*s));
	if (!o) {
		snprintf(why, wlen, "the system's answer is not a JSON object");
		return -EINVAL;
	}
	str_member(o, "PowerState", s->power, sizeof(s->power));
	str_member(o, "@odata.etag", s->etag, sizeof(s->etag));
	parse_reset(o, s);
	parse_boot(o, s);
	json_object_put(o);
	if (!*s->reset_target || !path_ok(s->reset_target)) {
		snprintf(why, wlen, "the system names no usable #ComputerSystem.Reset target");
		return -EINVAL;
	}
	return 0;
}

int
redfish_pick_system(const char *body, size_t len, char *path, size_t plen, char *why, size_t wlen)
{
	json_object *o = parse(body, len), *m;
	int r = 0;
	size_t n, used = 0;

	*path = '\0';
	if (!o || !(m = member(o, "Members", json_type_array))) {
		json_object_put(o);
		snprintf(why, wlen, "the Systems collection has no Members list");
		return -EINVAL;
	}
	if ((n = json_object_array_length(m)) == 0) {
		snprintf(why, wlen, "the BMC lists no system");
		r = -ENOENT;
	} else if (n > 1) {
		used = (size_t)snprintf(why, wlen,
		                        "the BMC lists %zu systems; name one in the URL:", n);
		r = -EEXIST;
	}
	for (size_t i = 0; i < n && used < wlen; i++) {
		char id[256];
		str_member(json_object_array_get_idx(m, i), "@odata.id", id, sizeof(id));
		if (r == -EEXIST)
			used += (size_t)snprintf(why + used, wlen - used, " %s", id);
		else if (path_ok(id) && strlen(id) < plen)
			memcpy(path, id, strlen(id) + 1);
		else {
			snprintf(why, wlen, "the one system's @odata.id is not a usable path");
			r = -EINVAL;
		}
	}
	json_object_put(o);
	return r;
}

int
redfish_sessions_path(const char *body, size_t len, char *path, size_t plen)
{
	json_object *o = parse(body, len);
	json_object *s = member(member(o, "Links", json_type_object), "Sessions", json_type_object);

	*path = '\0';
	if (!o)
		return -EINVAL;
	if (s && str_member(s, "@odata.id", path, plen) && !path_ok(path))
		*path = '\0';
	json_object_put(o);
	return 0;
}

/* The Message members of an ExtendedInfo-shaped array, "; "-joined. */
static size_t
messages(json_object *arr, char *out, size_t olen)
{
	size_t used = 0;
	for (size_t i = 0; arr && i < json_object_array_length(arr) && used + 1 < olen; i++) {
		char m[256];
		if (str_member(json_object_array_get_idx(arr, i), "Message", m, sizeof(m)) && *m)
			used +=
			    (size_t)snprintf(out + used, olen - used, "%s%s", used ? "; " : "", m);
	}
	return used < olen ? used : olen - 1;
}

void
redfish_error(const char *body, size_t len, long status, char *out, size_t olen)
{
	json_object *o = parse(body, len);
	json_object *e = member(o, "error", json_type_object);
	size_t n = messages(member(e, "@Message.ExtendedInfo", json_type_array), out, olen);

	if (!n && !str_member(e, "message", out, olen))
		n = 0;
	else if (!n)
		n = strlen(out);
	if (!n)
		snprintf(out, olen, "HTTP %ld", status);
	json_object_put(o);
}

int
redfish_task(const char *body, size_t len, char *msg, size_t mlen)
{
	static const char *const running[] = { "New",       "Starting",    "Running",
		                               "Suspended", "Pending",     "Stopping",
		                               "Service",   "Interrupted", NULL };
	json_object *o = parse(body, len);
	char state[32], status[32];
	int r = -1;

	*msg = '\0';
	if (!o || !str_member(o, "TaskState", state, sizeof(state))) {
		json_object_put(o);
		return -2;
	}
	str_member(o, "TaskStatus", status, sizeof(status));
	for (size_t i = 0; running[i]; i++)
		if (!strcmp(state, running[i]))
			r = 0;
	if (r != 0 && !strcmp(state, "Completed") && (!*status || !strcmp(status, "OK")))
		r = 1;
	if (r < 0 && !messages(member(o, "Messages", json_type_array), msg, mlen))
		snprintf(msg, mlen, "the task ended %s (status %s)", state,
		         *status ? status : "none");
	json_object_put(o);
	return r;
}

int
redfish_reset_plan(const struct redfish_system *s, enum redfish_verb v, const char *steps[3],
                   char *why, size_t wlen)
{
	bool off = !strcmp(s->power, "Off"), on = !strcmp(s->power, "On");
	unsigned a = s->allowed, n = 0;

	steps[0] = steps[1] = steps[2] = NULL;
	if (v == RF_STATUS || (v == RF_ON && on) || (v == RF_OFF && off))
		return 0;
	if (v == RF_OFF && !(a & RF_RESET_FORCE_OFF)) {
		snprintf(why, wlen, "the BMC does not allow ResetType ForceOff");
		return -1;
	}
	if (v == RF_OFF) {
		steps[n++] = "ForceOff";
		return (int)n;
	}
	if (off || v == RF_ON) {
		if (!(a & (RF_RESET_ON | RF_RESET_FORCE_ON))) {
			snprintf(why, wlen, "the BMC allows neither ResetType On nor ForceOn");
			return -1;
		}
		steps[n++] = a & RF_RESET_ON ? "On" : "ForceOn";
		return (int)n;
	}
	if (a & RF_RESET_FORCE_RESTART)
		steps[n++] = "ForceRestart";
	else if (a & RF_RESET_POWER_CYCLE)
		steps[n++] = "PowerCycle";
	else if ((a & RF_RESET_FORCE_OFF) && (a & (RF_RESET_ON | RF_RESET_FORCE_ON))) {
		steps[n++] = "ForceOff";
		steps[n++] = a & RF_RESET_ON ? "On" : "ForceOn";
	} else {
		snprintf(why, wlen,
		         "the BMC allows none of ForceRestart, PowerCycle, ForceOff + On to cycle "
		         "the power");
		return -1;
	}
	return (int)n;
}

int
redfish_boot_body(const struct redfish_system *s, const char *firmware, struct redfish_boot *want,
                  char *out, size_t olen)
{
	bool http = firmware && !strcmp(firmware, "uefi-http");
	int n;

	memset(want, 0, sizeof(*want));
	snprintf(want->target, sizeof(want->target), "%s",
	         http && s->uefi_http_allowed ? "UefiHttp" : "Pxe");
	if (s->has_mode && firmware && *firmware)
		snprintf(want->mode, sizeof(want->mode), "%s",
		         !strcmp(firmware, "bios") ? "Legacy" : "UEFI");
	if (*want->mode)
		n = snprintf(out, olen,
		             "{\"Boot\":{\"BootSourceOverrideTarget\":\"%s\","
		             "\"BootSourceOverrideEnabled\":\"Once\","
		             "\"BootSourceOverrideMode\":\"%s\"}}",
		             want->target, want->mode);
	else
		n = snprintf(out, olen,
		             "{\"Boot\":{\"BootSourceOverrideTarget\":\"%s\","
		             "\"BootSourceOverrideEnabled\":\"Once\"}}",
		             want->target);
	return n < 0 || (size_t)n >= olen ? -ENOSPC : n;
}

int
redfish_boot_check(const struct redfish_system *s, const struct redfish_boot *want, char *why,
                   size_t wlen)
{
	if (!s->has_boot) {
		snprintf(why, wlen, "the system has no Boot property to read the override back");
		return -1;
	}
	if (strcmp(s->boot_target, want->target) || strcmp(s->boot_enabled, "Once") ||
	    (*want->mode && strcmp(s->boot_mode, want->mode))) {
		snprintf(why, wlen,
		         "the BMC did not take the boot override (read back: target %s, enabled "
		         "%s, mode %s)",
		         *s->boot_target ? s->boot_target : "none",
		         *s->boot_enabled ? s->boot_enabled : "none",
		         *s->boot_mode ? s->boot_mode : "none");
		return -1;
	}
	return 0;
}
