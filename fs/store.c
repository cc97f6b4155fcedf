/* store.c — the backing tree: layout, creation, and confined path
 * resolution. Every lookup goes through openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) from the
 * tree's root descriptor. Must never follow a symlink in the backing tree,
 * never resolve outside it, and never see plaintext. */
#include "coachfs/store.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sodium.h>
#include <unistd.h>

static int openat2_confined(int dirfd, const char *rel, int flags, mode_t mode)
{
	struct open_how how;
	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC);
	if (flags & (O_CREAT | O_TMPFILE))
		how.mode = mode & 07777;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
	for (;;) {
		long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
		if (fd >= 0)
			return (int)fd;
		if (errno == EAGAIN || errno == EINTR)
			continue; /* RESOLVE_* may ask for a retry under rename races */
		return -errno;
	}
}

int cfs_store_header_path(const char *store, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/%s", store, CFS_STORE_HEADER) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int cfs_store_init(const char *store, struct cfs_err *err)
{
	char p[4096];
	if (mkdir(store, 0700) != 0 && errno != EEXIST)
		return cfs_errf(err, -errno, "%s: cannot create the store directory: %s", store, strerror(errno));
	if (cfs_store_header_path(store, p, sizeof p) < 0)
		return cfs_errf(err, -ENAMETOOLONG, "%s: path too long", store);
	if (access(p, F_OK) == 0)
		return cfs_errf(err, -EEXIST, "%s: a store already exists here", store);
	if ((size_t)snprintf(p, sizeof p, "%s/%s", store, CFS_STORE_TREE) >= sizeof p)
		return cfs_errf(err, -ENAMETOOLONG, "%s: path too long", store);
	if (mkdir(p, 0755) != 0 && errno != EEXIST)
		return cfs_errf(err, -errno, "%s: %s", p, strerror(errno));
	return 0;
}

int cfs_store_open(const char *store, const struct cfs_keys *keys, struct cfs_store **out,
		   struct cfs_err *err)
{
	char p[4096];
	if ((size_t)snprintf(p, sizeof p, "%s/%s", store, CFS_STORE_TREE) >= sizeof p)
		return cfs_errf(err, -ENAMETOOLONG, "%s: path too long", store);
	int fd = open(p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cfs_errf(err, -errno, "%s: %s (is this a coachfs store? run 'coach-admin init')", p,
				strerror(errno));
	struct cfs_store *s = calloc(1, sizeof *s);
	if (!s || !(s->path = strdup(store))) {
		free(s);
		close(fd);
		return cfs_errf(err, -ENOMEM, "out of memory");
	}
	s->root = fd;
	s->keys = keys;
	*out = s;
	return 0;
}

void cfs_store_close(struct cfs_store *s)
{
	if (!s)
		return;
	if (s->root >= 0)
		close(s->root);
	free(s->path);
	free(s);
}

int cfs_store_reserved(const char *name, int at_root)
{
	if (strcmp(name, CFS_DIR_SIDECAR) == 0)
		return 1;
	if (at_root && strcmp(name, CFS_LINKS_DIR) == 0)
		return 1;
	/* temporary names used for atomic replacement inside the store */
	if (strncmp(name, ".coachfs-", 9) == 0)
		return 1;
	return 0;
}

/* Mount path "/a/b" -> relative "a/b" ("." for "/"). */
static const char *relpath(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

int cfs_store_openat(struct cfs_store *s, const char *path, int flags, mode_t mode)
{
	return openat2_confined(s->root, relpath(path), flags, mode);
}

int cfs_store_parent(struct cfs_store *s, const char *path, const char **leaf)
{
	const char *slash = strrchr(path, '/');
	if (!slash || slash[1] == 0)
		return -EINVAL;
	*leaf = slash + 1;
	size_t n = (size_t)(slash - path);
	if (n == 0)
		return openat2_confined(s->root, ".", O_PATH | O_DIRECTORY, 0);
	char buf[4096];
	if (n >= sizeof buf)
		return -ENAMETOOLONG;
	memcpy(buf, path, n);
	buf[n] = 0;
	return openat2_confined(s->root, relpath(buf), O_PATH | O_DIRECTORY, 0);
}

int cfs_store_lstat(struct cfs_store *s, const char *path, struct stat *st)
{
	if (path[0] == '/' && path[1] == 0)
		return fstatat(s->root, "", st, AT_EMPTY_PATH) == 0 ? 0 : -errno;
	const char *leaf;
	int d = cfs_store_parent(s, path, &leaf);
	if (d < 0)
		return d;
	int rc = fstatat(d, leaf, st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
	close(d);
	return rc;
}

int cfs_store_link_ok(const char *link, const char *target)
{
	int depth = 0, ups = 0, named = 0;
	if (!link || link[0] != '/' || !target || !target[0] || target[0] == '/')
		return -EPERM;
	for (const char *p = link + 1; *p; p++)
		if (*p == '/')
			depth++;          /* components of the link's directory */
	for (const char *p = target; *p;) {
		const char *e = strchrnul(p, '/');
		size_t n = (size_t)(e - p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (named || ++ups > depth)
				return -EPERM;
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			named = 1;
		}
		p = *e ? e + 1 : e;
	}
	return 0;
}

int cfs_store_tmpname(char *name, size_t namelen)
{
	unsigned char rnd[8];
	randombytes_buf(rnd, sizeof rnd);
	if ((size_t)snprintf(name, namelen, ".coachfs-tmp.%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
			     rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]) >= namelen)
		return -ENAMETOOLONG;
	return 0;
}

int cfs_store_tmpdir(int dirfd, char *name, size_t namelen, mode_t mode)
{
	int rc = cfs_store_tmpname(name, namelen);
	if (rc < 0)
		return rc;
	return mkdirat(dirfd, name, mode & 07777) == 0 ? 0 : -errno;
}

int cfs_store_tmpfile(int dirfd, char *name, size_t namelen)
{
	unsigned char rnd[8];
	randombytes_buf(rnd, sizeof rnd);
	if ((size_t)snprintf(name, namelen, ".coachfs-tmp.%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
			     rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]) >= namelen)
		return -ENAMETOOLONG;
	int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}
