#define _GNU_SOURCE /* setgroups */
#include "privs.h"

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KEPT_CAP CAP_NET_ADMIN

static uid_t chown_uid;
static gid_t chown_gid;

static int
chown_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return lchown(path, chown_uid, chown_gid) < 0 ? -1 : 0;
}

/* Bounding set: every capability but the kept one goes, for good. */
static int
drop_bounding(void)
{
	for (int c = 0; c <= 63; c++) {
		if (c == KEPT_CAP)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	}
	return 0;
}

/* Permitted and effective: the kept one; inheritable and ambient: none. */
static int
keep_one(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0 } };

	d[0].effective = d[0].permitted = 1u << KEPT_CAP;
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
}

static int
become(const struct passwd *pw, char *err, size_t n)
{
	int r;

	if ((r = drop_bounding()) < 0 || prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 ||
	    setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		r = r < 0 ? r : -errno;
		snprintf(err, n, "cannot become user %s: %s", pw->pw_name, strerror(-r));
		return r;
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	if ((r = keep_one()) < 0)
		snprintf(err, n, "cannot set the capabilities: %s", strerror(-r));
	return r;
}

int
privs_drop(const char *user, const char *data_dir, bool *ret_dropped, char *err, size_t n)
{
	bool named = user && *user;
	struct passwd *pw;

	*ret_dropped = false;
	if (geteuid() != 0)
		return 0;
	errno = 0;
	if (!(pw = getpwnam(named ? user : PRIVS_DEFAULT_USER))) {
		snprintf(err, n, "no user %s", named ? user : PRIVS_DEFAULT_USER);
		return named ? -ENOENT : 0;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, n, "user %s is root", pw->pw_name);
		return -EINVAL;
	}
	chown_uid = pw->pw_uid;
	chown_gid = pw->pw_gid;
	if (nftw(data_dir, chown_one, 32, FTW_PHYS) != 0) {
		snprintf(err, n, "cannot give %s to %s: %s", data_dir, pw->pw_name, strerror(errno));
		return -errno;
	}
	if (become(pw, err, n) < 0)
		return -EPERM;
	*ret_dropped = true;
	return 0;
}
