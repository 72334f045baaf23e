/* Least privilege: bmagent opens its sockets as root, then becomes its own
 * user before any thread starts, keeping CAP_NET_ADMIN alone (the DHCP
 * reply to a client without an address teaches the kernel its neighbour
 * entry with SIOCSARP, as dnsmasq does) in its permitted, effective and
 * bounding sets; nothing inheritable or ambient, and no_new_privs, so the
 * tools it runs (ipmitool) have no capability at all. Its data directory
 * is given to that user first. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#define PRIVS_DEFAULT_USER "bmagent"

/* Become `user` (NULL or "": PRIVS_DEFAULT_USER when it exists). Returns 0
 * (also when not root: nothing to drop; *ret_dropped false), or -errno
 * with why in err. *ret_dropped: the process now runs as that user. */
int privs_drop(const char *user, const char *data_dir, bool *ret_dropped, char *err, size_t n);
