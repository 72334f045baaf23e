/* Files served to the rack (TFTP now, HTTP next): names resolved beneath a
 * root only, each file opened and mapped once however many clients read
 * it. Shared by the agent's servers; the only module that opens them. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct file_table;

struct served_file {
	const uint8_t *data; /* the whole file, mapped read-only (NULL when empty) */
	uint64_t size;
	int fd; /* for sendfile */
	time_t mtime;
	/* private */
	dev_t dev;
	ino_t ino;
	unsigned refs;
	bool made; /* file_from_text: data is malloc'd, in no table */
	struct served_file *next;
};

/* Roots by name: "tftp" (tftp_root) and "cache" (the image cache). */
int file_table_new(const char *tftp_root, const char *cache_dir, struct file_table **ret);
void file_table_free(struct file_table *t);

/* Open `name` for reading. Names under "images/" are looked up in the image
 * cache, others under the TFTP root. Refused: empty or absolute names, any
 * ".." component, names that leave the root through a symlink, anything but
 * a regular file. Returns 0 with *ret (release with file_put), -EACCES
 * (refused: outside the roots), -ENOENT, -errno. */
int file_get(struct file_table *t, const char *name, struct served_file **ret);
void file_put(struct file_table *t, struct served_file *f);
/* Serve `name` (a plain file name at the top, e.g. "shimx64.efi") from
 * the file at `path` (outside the roots: Debian's signed boot programs).
 * The file is opened now, before the agent drops its privileges. At most
 * FILE_ALIASES_MAX. Returns 0, -ENOSPC, or -errno (path cannot be read). */
#define FILE_ALIASES_MAX 4u
int file_table_alias(struct file_table *t, const char *name, const char *path);
/* file_table_alias, a failure logged with what it costs (loader: grub
 * machines cannot boot) and the Debian package that provides the file. */
void file_table_alias_logged(struct file_table *t, const char *name, const char *path);
/* A file made for one asker (a GRUB config): text (malloc'd) is taken
 * over and freed by file_put. Returns 0 or -ENOMEM (text freed). */
int file_from_text(char *text, size_t len, struct served_file **ret);
/* Files open at the moment (for metrics and tests). */
size_t file_table_open_count(const struct file_table *t);
