#define _GNU_SOURCE /* pipe2, execvpe */
#include "power.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bm/log.h"
#include "bm/netaddr.h"
#include "bm/util.h"
#include "bm/worker.h"
#include "rackdb.h"
#include "redfish.h"

struct job {
	uint8_t mac[6];
	uint64_t seq;
	bool req;               /* a `bmctl machine power` request, not an operation's */
	enum redfish_verb verb; /* RF_NETBOOT for operations: network boot, then cycle */
	uint64_t req_ms;        /* when the request was made (coordinator's clock) */
	char name[64];
	char bmc[512];
	char firmware[16];            /* bm_machine_firmware(): the override's mode */
	char fingerprint[128];        /* bmc_fingerprint: a Redfish BMC's certificate */
	char pass[BM_SECRET_MAX + 1]; /* while queued and running, then wiped */
};

_Static_assert(POWER_WORKERS <= BM_WORKER_THREADS_MAX, "one bm_worker holds the pool");

struct power {
	struct rackdb *db;
	char rack[64];
	struct power_opts o;
	struct bm_worker w; /* POWER_WORKERS threads; the mutex guards what follows */
	struct job *q;
	size_t n;
	uint64_t next_on_ms; /* the next power-on may start then (monotonic) */
	struct busy {        /* the jobs running, so they are not queued twice */
		uint8_t mac[6];
		uint64_t seq;
		bool req;
	} busy[POWER_WORKERS];
};

/* ----------------------------------------------------------- ipmi:// URL */

int
power_parse_ipmi(const char *url, struct power_ipmi_target *t)
{
	const char *p, *at, *colon, *hp;
	size_t n;

	memset(t, 0, sizeof(*t));
	t->port = 623;
	if (strncmp(url, "ipmi://", 7))
		return -EINVAL;
	p = url + 7;
	if (!(at = strrchr(p, '@')))
		return -EINVAL; /* a user is required */
	if (!(colon = memchr(p, ':', (size_t)(at - p))))
		colon = at;
	if ((n = (size_t)(colon - p)) == 0 || n >= sizeof(t->user))
		return -EINVAL;
	memcpy(t->user, p, n);
	if (colon < at && (n = (size_t)(at - colon - 1)) >= sizeof(t->pass))
		return -EINVAL;
	if (colon < at)
		memcpy(t->pass, colon + 1, n);
	hp = at + 1;
	const char *pc = strchr(hp, ':'), *end = hp + strcspn(hp, "/");
	if (pc && pc < end) {
		char *e;
		unsigned long port = strtoul(pc + 1, &e, 10);
		if (e != end || port == 0 || port > 65535)
			return -EINVAL;
		t->port = (unsigned)port;
		end = pc;
	}
	if ((n = (size_t)(end - hp)) == 0 || n >= sizeof(t->host))
		return -EINVAL;
	memcpy(t->host, hp, n);
	for (size_t i = 0; i < n; i++)
		if (!((t->host[i] >= 'a' && t->host[i] <= 'z') ||
		      (t->host[i] >= 'A' && t->host[i] <= 'Z') ||
		      (t->host[i] >= '0' && t->host[i] <= '9') || t->host[i] == '.' ||
		      t->host[i] == '-'))
			return -EINVAL; /* never an option to ipmitool */
	return 0;
}

/* ------------------------------------------------------------- ipmitool */

/* Run ipmitool with the target and args; its output (both streams) into
 * out. The password goes by environment (-E), never on the command line.
 * Returns its exit status, or -ETIMEDOUT / -errno. */
static int
ipmitool(const struct power_ipmi_target *t, const char *const *args, unsigned timeout_s, char *out,
         size_t olen)
{
	char port[16];
	const char *argv[24] = { "ipmitool", "-I", "lanplus", "-H", t->host, "-p", port, "-U",
		                 t->user,    "-E", "-C",      "3",  "-R",    "2",  "-N", "2" };
	int pfd[2], status = 0;
	size_t argc = 16, len = 0;
	pid_t pid;

	char pw[sizeof(t->pass) + 16];
	char *envp[] = { pw, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };

	snprintf(pw, sizeof(pw), "IPMI_PASSWORD=%s", t->pass);
	snprintf(port, sizeof(port), "%u", t->port);
	for (size_t i = 0; args[i] && argc < 23; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	if ((pid = fork()) < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls between fork and exec. */
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execvpe("ipmitool", (char *const *)argv, envp);
		_exit(127);
	}
	close(pfd[1]);
	OPENSSL_cleanse(pw, sizeof(pw));
	uint64_t deadline = bm_mono_ms() + timeout_s * 1000ull;
	for (;;) {
		struct pollfd pf = { pfd[0], POLLIN, 0 };
		uint64_t now = bm_mono_ms();
		if (now >= deadline || poll(&pf, 1, (int)(deadline - now)) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(pfd[0]);
			snprintf(out, olen, "ipmitool gave no answer within %us", timeout_s);
			return -ETIMEDOUT;
		}
		ssize_t r = read(pfd[0], out + len, olen - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len == olen - 1)
			len = 0; /* keep the tail */
	}
	out[len] = '\0';
	close(pfd[0]);
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The first meaningful line of a tool's output, one line, for a reason. */
static void
first_line(const char *out, char *buf, size_t len)
{
	const char *p = out;
	while (*p == '\n' || *p == ' ')
		p++;
	size_t n = strcspn(p, "\n");
	snprintf(buf, len, "%.*s", (int)(n < len ? n : len - 1), p);
}

/* j's ipmi:// URL with its password (the URL's, else the machine's).
 * Returns 0, or -1 with why. */
static int
ipmi_target(const struct job *j, struct power_ipmi_target *t, char *msg, size_t mlen)
{
	if (power_parse_ipmi(j->bmc, t) < 0) {
		snprintf(msg, mlen, "BMC URL is not ipmi://USER@HOST[:PORT]");
		return -1;
	}
	if (!*t->pass)
		snprintf(t->pass, sizeof(t->pass), "%s", j->pass);
	if (!*t->pass) {
		snprintf(msg, mlen,
		         "no BMC password for this machine (the coordinator gives them to its "
		         "rack's agent only over mTLS, and only when it has --secrets-key)");
		return -1;
	}
	return 0;
}

/* bootdev pxe (options=efiboot for a UEFI machine: many UEFI BMCs take a
 * bare bootdev pxe as "legacy PXE"), checked, then a power cycle (on when
 * it is off). Returns 0 with what was done in msg, or -1 with why. */
static int
ipmi_cycle(const struct power *p, const struct job *j, char *msg, size_t mlen)
{
	static const char *const check[] = { "chassis", "bootparam", "get", "5", NULL };
	static const char *const status[] = { "chassis", "power", "status", NULL };
	static const char *const cycle[] = { "chassis", "power", "cycle", NULL };
	static const char *const on[] = { "chassis", "power", "on", NULL };
	bool efi = *j->firmware && strcmp(j->firmware, "bios");
	const char *const bootdev[] = { "chassis", "bootdev", "pxe", efi ? "options=efiboot" : NULL,
		                        NULL };
	unsigned tmo = p->o.timeout_s;
	struct power_ipmi_target t;
	char out[4096], line[200];
	int r;

	if (ipmi_target(j, &t, msg, mlen) < 0)
		return -1;
	if ((r = ipmitool(&t, bootdev, tmo, out, sizeof(out))) != 0) {
		first_line(out, line, sizeof(line));
		snprintf(msg, mlen, "ipmitool chassis bootdev pxe%s: %s",
		         efi ? " options=efiboot" : "", line);
		return -1;
	}
	/* ipmitool exits 0 when the BMC refuses the boot device: read it back.
	 * The EFI flag is not required back: OpenIPMI's ipmi_sim (and BMCs
	 * built like it) keep the device but not the flag; the outcome says
	 * so. */
	if ((r = ipmitool(&t, check, tmo, out, sizeof(out))) != 0 || !strstr(out, "Force PXE")) {
		BM_DEBUG("power", "bootparam 5 read back: %s", out);
		first_line(out, line, sizeof(line));
		snprintf(msg, mlen, "the BMC did not take boot from PXE (bootparam 5: %s)", line);
		return -1;
	}
	bool efi_kept = efi && strstr(out, "BIOS EFI boot");
	if ((r = ipmitool(&t, status, tmo, out, sizeof(out))) != 0) {
		first_line(out, line, sizeof(line));
		snprintf(msg, mlen, "ipmitool chassis power status: %s", line);
		return -1;
	}
	bool off = strstr(out, "is off") != NULL;
	r = ipmitool(&t, off ? on : cycle, tmo, out, sizeof(out));
	OPENSSL_cleanse(&t, sizeof(t));
	if (r != 0) {
		first_line(out, line, sizeof(line));
		snprintf(msg, mlen, "ipmitool chassis power %s: %s", off ? "on" : "cycle", line);
		return -1;
	}
	snprintf(msg, mlen, "ipmi: boot from PXE%s, power %s",
	         !efi       ? ""
	         : efi_kept ? " (EFI)"
	                    : " (EFI asked; the BMC did not keep the EFI flag)",
	         off ? "on" : "cycle");
	return 0;
}

/* A `machine power` request over IPMI: status, on, off, or cycle (on when
 * off), without touching the boot device. */
static int
ipmi_verb(const struct power *p, const struct job *j, char *msg, size_t mlen)
{
	static const char *const words[] = { "cycle", "cycle", "on", "off", "status" };
	const char *status[] = { "chassis", "power", "status", NULL };
	const char *act[] = { "chassis", "power", words[j->verb], NULL };
	struct power_ipmi_target t;
	char out[4096], line[200];
	int r;

	if (ipmi_target(j, &t, msg, mlen) < 0)
		return -1;
	if ((r = ipmitool(&t, status, p->o.timeout_s, out, sizeof(out))) != 0) {
		OPENSSL_cleanse(&t, sizeof(t));
		first_line(out, line, sizeof(line));
		snprintf(msg, mlen, "ipmitool chassis power status: %s", line);
		return -1;
	}
	bool off = strstr(out, "is off") != NULL;
	if (j->verb == RF_CYCLE && off)
		act[2] = "on";
	if (j->verb == RF_STATUS || (j->verb == RF_ON && !off) || (j->verb == RF_OFF && off))
		r = 0, act[2] = NULL;
	else
		r = ipmitool(&t, act, p->o.timeout_s, out, sizeof(out));
	OPENSSL_cleanse(&t, sizeof(t));
	if (r != 0) {
		first_line(out, line, sizeof(line));
		snprintf(msg, mlen, "ipmitool chassis power %s: %s", act[2], line);
		return -1;
	}
	snprintf(msg, mlen, "ipmi: %s%s%spower was %s", act[2] ? "power " : "",
	         act[2] ? act[2] : "", act[2] ? "; " : "", off ? "Off" : "On");
	return 0;
}

static int
redfish_job(const struct power *p, const struct job *j, char *msg, size_t mlen)
{
	struct redfish_opts o = { p->o.bmc_ca, j->fingerprint, j->firmware, p->o.timeout_s, 0 };
	return redfish_power(j->bmc, j->pass, j->verb, &o, msg, mlen);
}

/* The driver for j's BMC URL: 0 done, -1 failed (why in msg). */
static int
drive(const struct power *p, const struct job *j, char *msg, size_t mlen)
{
	if (!*j->bmc || !strncmp(j->bmc, "manual", 6)) {
		if (j->req) {
			snprintf(msg, mlen, "manual BMC: nothing to drive; power %s by hand",
			         j->name);
			return -1;
		}
		snprintf(msg, mlen, "manual: power-cycle %s by hand", j->name);
		BM_WARN("power", "manual power action machine=%s: power-cycle it now", j->name);
		return 0;
	}
	if (!strncmp(j->bmc, "ipmi://", 7))
		return j->req ? ipmi_verb(p, j, msg, mlen) : ipmi_cycle(p, j, msg, mlen);
	if (!strncmp(j->bmc, "redfish", 7))
		return redfish_job(p, j, msg, mlen);
	snprintf(msg, mlen, "no power driver for this BMC URL scheme");
	return -1;
}

/* ---------------------------------------------------------------- thread */

static void
run_job(struct power *p, const struct job *j)
{
	struct rackdb_batch *b;
	char msg[320], detail[400];
	uint64_t now = bm_wall_ms();
	int ok;

	if (j->req && now > j->req_ms + POWER_REQ_TTL_S * 1000ull) {
		snprintf(msg, sizeof(msg),
		         "not done: the request reached the agent %llus late (at most %us)",
		         (unsigned long long)((now - j->req_ms) / 1000u), POWER_REQ_TTL_S);
		ok = -1;
	} else {
		ok = drive(p, j, msg, sizeof(msg));
	}
	snprintf(detail, sizeof(detail), "%s %s=%llu: %s", ok == 0 ? "ok" : "failed",
	         j->req ? "req" : "seq", (unsigned long long)j->seq, msg);
	BM_INFO("power", "action machine=%s result=\"%s\"", j->name, detail);
	if (rackdb_batch_begin(p->db, &b) < 0)
		return;
	if (rackdb_event_add(b, BM__EVENT_KIND__EVENT_POWER, j->mac, 0, bm_wall_ms(), p->rack,
	                     detail) == 0 &&
	    rackdb_power_record(b, j->mac, j->req, j->seq) == 0)
		rackdb_batch_commit(b);
	else
		rackdb_batch_abort(b);
}

/* Whether j may switch a machine on: those are staggered. */
static bool
powers_on(const struct job *j)
{
	return j->verb == RF_NETBOOT || j->verb == RF_CYCLE || j->verb == RF_ON;
}

/* Mutex held: the time j may start at, taking its place in the rack's
 * power-on sequence. */
static uint64_t
stagger_slot(struct power *p, const struct job *j)
{
	uint64_t now = bm_mono_ms(), at;

	if (!powers_on(j) || !p->o.stagger_ms)
		return now;
	at = p->next_on_ms > now ? p->next_on_ms : now;
	p->next_on_ms = at + p->o.stagger_ms;
	return at;
}

static void
power_main(void *arg, unsigned index)
{
	struct power *p = arg;
	struct busy *busy = &p->busy[index];

	bm_worker_lock(&p->w);
	while (!p->w.stop) {
		if (!p->n) {
			bm_worker_wait_locked(&p->w, 0);
			continue;
		}
		struct job j = p->q[0];
		memmove(p->q, p->q + 1, (p->n - 1) * sizeof(*p->q));
		p->n--;
		OPENSSL_cleanse(&p->q[p->n], sizeof(*p->q));
		memcpy(busy->mac, j.mac, 6);
		busy->seq = j.seq;
		busy->req = j.req;
		uint64_t at = stagger_slot(p, &j), now = bm_mono_ms();
		bm_worker_unlock(&p->w);
		if (at <= now || bm_worker_sleep(&p->w, (unsigned)(at - now)))
			run_job(p, &j);
		OPENSSL_cleanse(j.pass, sizeof(j.pass));
		bm_worker_lock(&p->w);
		busy->seq = 0;
	}
	bm_worker_unlock(&p->w);
}

static enum redfish_verb
verb_of(const char *s)
{
	return !strcmp(s, "on")       ? RF_ON
	       : !strcmp(s, "off")    ? RF_OFF
	       : !strcmp(s, "status") ? RF_STATUS
	                              : RF_CYCLE;
}

/* Queue m's action of sequence seq (req: its `machine power` request)
 * unless it is done, running or queued. */
static void
queue(struct power *p, const Bm__Machine *m, uint64_t seq, bool req)
{
	uint64_t done = 0;
	bool queued = false;

	if (rackdb_power_done(p->db, m->mac.data, req, &done) < 0 || done >= seq)
		return;
	bm_worker_lock(&p->w);
	for (unsigned i = 0; i < POWER_WORKERS && !queued; i++)
		queued = p->busy[i].seq == seq && p->busy[i].req == req &&
		         !memcmp(p->busy[i].mac, m->mac.data, 6);
	for (size_t i = 0; i < p->n && !queued; i++)
		queued = !memcmp(p->q[i].mac, m->mac.data, 6) && p->q[i].seq == seq &&
		         p->q[i].req == req;
	if (!queued && p->n < POWER_QUEUE_MAX) {
		struct job *j = &p->q[p->n++];
		memcpy(j->mac, m->mac.data, 6);
		j->seq = seq;
		j->req = req;
		j->verb = req ? verb_of(m->power_req) : RF_NETBOOT;
		j->req_ms = m->power_req_ms;
		snprintf(j->name, sizeof(j->name), "%s", m->name);
		snprintf(j->bmc, sizeof(j->bmc), "%s", m->bmc);
		snprintf(j->firmware, sizeof(j->firmware), "%s", bm_machine_firmware(m));
		snprintf(j->fingerprint, sizeof(j->fingerprint), "%s", m->bmc_fingerprint);
		if (rackdb_bmc_password(p->db, m, j->pass) < 0)
			BM_WARN("power", "machine=%s its BMC password does not open here", m->name);
		bm_worker_kick_locked(&p->w);
	}
	bm_worker_unlock(&p->w);
}

void
power_consider(struct power *p, const Bm__Machine *m)
{
	if (!p || m->mac.len != 6)
		return;
	if (m->started_ms && m->power_seq && m->state == BM__MACHINE_STATE__STATE_REIMAGING)
		queue(p, m, m->power_seq, false);
	if (m->power_req_seq && m->power_req)
		queue(p, m, m->power_req_seq, true);
}

int
power_start(struct rackdb *db, const char *rack, const struct power_opts *o, struct power **ret)
{
	struct power *p = calloc(1, sizeof(*p));

	if (!p || !(p->q = calloc(POWER_QUEUE_MAX, sizeof(*p->q)))) {
		free(p);
		return -ENOMEM;
	}
	p->db = db;
	snprintf(p->rack, sizeof(p->rack), "%s", rack);
	p->o = *o;
	if (!p->o.timeout_s)
		p->o.timeout_s = POWER_TOOL_TIMEOUT_S;
	bm_worker_init(&p->w);
	bm_worker_name(&p->w, "power");
	if (bm_worker_start(&p->w, POWER_WORKERS, power_main, p) < 0) {
		power_stop(p);
		return -EAGAIN;
	}
	*ret = p;
	return 0;
}

void
power_stop(struct power *p)
{
	if (!p)
		return;
	bm_worker_stop(&p->w); /* an action in progress ends within its timeout */
	bm_worker_fini(&p->w);
	free(p->q);
	free(p);
}
