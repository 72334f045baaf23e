#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bm/log.h"

struct file_table {
	int tftp_fd, cache_fd;
	struct alias {
		char name[32];
		int fd;
	} alias[FILE_ALIASES_MAX];
	unsigned n_alias;
	struct served_file *open; /* a short list: a rack serves a handful of files */
	size_t count;
};

static int
open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int
file_table_new(const char *tftp_root, const char *cache_dir, struct file_table **ret)
{
	struct file_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	/* A missing root serves nothing from it; that is not an error here. */
	t->tftp_fd = tftp_root ? open_dir(tftp_root) : -1;
	t->cache_fd = cache_dir ? open_dir(cache_dir) : -1;
	*ret = t;
	return 0;
}

void
file_table_free(struct file_table *t)
{
	if (!t)
		return;
	while (t->open) {
		struct served_file *f = t->open;
		t->open = f->next;
		if (f->data)
			munmap((void *)f->data, f->size);
		close(f->fd);
		free(f);
	}
	for (unsigned i = 0; i < t->n_alias; i++)
		close(t->alias[i].fd);
	if (t->tftp_fd >= 0)
		close(t->tftp_fd);
	if (t->cache_fd >= 0)
		close(t->cache_fd);
	free(t);
}

size_t
file_table_open_count(const struct file_table *t)
{
	return t->count;
}

/* Refuse by the name alone what no root may give: clearer logs than a
 * failed open, and independent of the kernel's checks below. */
static bool
name_ok(const char *name)
{
	const char *p = name;

	if (!*name || *name == '/')
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/')
			p++;
	}
	return p[-1] != '/';
}

/* openat2 with RESOLVE_BENEATH: the kernel refuses any path (through
 * "..", an absolute symlink or a symlink to elsewhere) leaving dirfd. */
static int
open_beneath(int dirfd, const char *name)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
		                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));

	if (fd >= 0)
		return (int)fd;
	return errno == EXDEV || errno == ELOOP ? -EACCES : -errno;
}

static struct served_file *
find(struct file_table *t, const struct stat *st)
{
	for (struct served_file *f = t->open; f; f = f->next)
		if (f->dev == st->st_dev && f->ino == st->st_ino &&
		    f->size == (uint64_t)st->st_size && f->mtime == st->st_mtime)
			return f;
	return NULL;
}

static int
map_new(struct file_table *t, int fd, const struct stat *st, struct served_file **ret)
{
	struct served_file *f = calloc(1, sizeof(*f));
	void *m = NULL;

	if (!f)
		return -ENOMEM;
	if (st->st_size > 0 &&
	    (m = mmap(NULL, (size_t)st->st_size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		free(f);
		return -errno;
	}
	f->data = m;
	f->size = (uint64_t)st->st_size;
	f->fd = fd;
	f->mtime = st->st_mtime;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->refs = 1;
	f->next = t->open;
	t->open = f;
	t->count++;
	*ret = f;
	return 0;
}

int
file_table_alias(struct file_table *t, const char *name, const char *path)
{
	int fd;

	if (t->n_alias >= FILE_ALIASES_MAX || strlen(name) >= sizeof(t->alias[0].name))
		return -ENOSPC;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	snprintf(t->alias[t->n_alias].name, sizeof(t->alias[0].name), "%s", name);
	t->alias[t->n_alias++].fd = fd;
	return 0;
}

void
file_table_alias_logged(struct file_table *t, const char *name, const char *path)
{
	int r;

	if (*path && (r = file_table_alias(t, name, path)) < 0)
		BM_WARN("files",
		        "%s is not served: %s: %s (loader: grub machines cannot boot; Debian's "
		        "shim-signed and grub-efi-amd64-signed provide it)",
		        name, path, strerror(-r));
}

int
file_from_text(char *text, size_t len, struct served_file **ret)
{
	struct served_file *f = calloc(1, sizeof(*f));

	if (!f) {
		free(text);
		return -ENOMEM;
	}
	f->data = (const uint8_t *)text;
	f->size = len;
	f->fd = -1;
	f->mtime = time(NULL);
	f->refs = 1;
	f->made = true;
	*ret = f;
	return 0;
}

/* name's file: an alias's (a new descriptor of it), else beneath its root. */
static int
open_name(struct file_table *t, const char *name)
{
	bool cache = !strncmp(name, "images/", 7);
	int dirfd = cache ? t->cache_fd : t->tftp_fd;

	for (unsigned i = 0; i < t->n_alias; i++)
		if (!strcmp(name, t->alias[i].name)) {
			int fd = fcntl(t->alias[i].fd, F_DUPFD_CLOEXEC, 0);
			return fd < 0 ? -errno : fd;
		}
	if (!name_ok(name) || (cache && !name_ok(name + 7)))
		return -EACCES;
	if (dirfd < 0)
		return -ENOENT;
	return open_beneath(dirfd, cache ? name + 7 : name);
}

int
file_get(struct file_table *t, const char *name, struct served_file **ret)
{
	struct served_file *f;
	struct stat st;
	int fd, r;

	if ((fd = open_name(t, name)) < 0)
		return fd;
	r = fstat(fd, &st) < 0 ? -errno : !S_ISREG(st.st_mode) ? -EACCES : 0;
	if (r < 0) { /* directories, devices, fifos: not served */
		close(fd);
		return r;
	}
	if ((f = find(t, &st))) {
		close(fd); /* already open: share it */
		f->refs++;
		*ret = f;
		return 0;
	}
	if ((r = map_new(t, fd, &st, ret)) < 0)
		close(fd);
	return r;
}

void
file_put(struct file_table *t, struct served_file *f)
{
	struct served_file **pp;

	if (!f || --f->refs)
		return;
	if (f->made) {
		free((void *)f->data);
		free(f);
		return;
	}
	for (pp = &t->open; *pp && *pp != f; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = f->next;
	if (f->data)
		munmap((void *)f->data, f->size);
	close(f->fd);
	free(f);
	t->count--;
}
