/* The TFTP service on the agent's libev loop: read requests on port 69 of
 * the rack's interfaces; each transfer on its own ephemeral port, its file
 * shared and mapped, a window sent with one sendmmsg. */
#pragma once
struct bm_rate;
#include <ev.h>
#include <stdint.h>

struct file_table;
struct tftp_service;

struct tftp_service_opts {
	const char *const *ifaces;
	unsigned n_ifaces;
	struct file_table *files; /* borrowed */
	uint16_t port;            /* 69; another for tests */
	/* Limits (tftp_limits.h; 0: the default): transfers at once, transfers
	 * at once from one client address, the largest timeout option granted. */
	unsigned max_sessions, max_per_client, timeout_max;
	/* Called when a transfer ends (why: NULL when it completed). */
	void (*on_done)(void *arg, uint32_t peer_ip, const char *file, uint64_t bytes,
	                const char *why);
	void *arg;
	/* Files made for the asker (http_routes_tftp_file: GRUB configs), tried
	 * before the roots for names starting with make_prefix only: the text
	 * with its length, -ENOENT (not such a name: the roots), -EACCES
	 * (refused). NULL: none. */
	long (*make)(void *arg, const char *name, uint32_t peer_ip, uint32_t local_ip, char **ret);
	void *make_arg;
	const char *make_prefix;
	/* Blocks go at most at this rate (the agent's image_rate_mbit, shared
	 * with HTTP); NULL: no limit. Borrowed, loop thread. */
	struct bm_rate *rate;
};

struct tftp_stats {
	uint64_t requests, refused, started, completed, failed, retransmits, bytes, sessions;
	uint64_t refused_per_client; /* of refused: the client's address at its cap */
	uint64_t timeouts_declined;  /* timeout options above timeout_max, not granted */
};

int tftp_service_start(struct ev_loop *loop, const struct tftp_service_opts *o,
                       struct tftp_service **ret);
void tftp_service_stats(const struct tftp_service *s, struct tftp_stats *ret);
/* Close every transfer and listener; accepts NULL. */
void tftp_service_stop(struct tftp_service *s);
