/* sidecar.c — directory sidecars and bound headers (store format 2): a
 * directory's id and attribute block in its encrypted sidecar, bound to its
 * place; files' headers bound to theirs; crash-safe rename intents. It must
 * never accept a sidecar or header bound elsewhere or rolled back (-EIO,
 * tamper), nor leave a directory without its sidecar. */
#include "coachfs/sidecar.h"
#include "coachfs/ctx.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "coachfs/state.h"
#include "coachfs/store.h"

/* ---- directory sidecars ---- */

static const unsigned char ROOT_PARENT[CFS_FILE_ID_BYTES] = { 0 };

static int is_root_path(const char *p)
{
	return p[0] == '/' && p[1] == 0;
}

static int sidecar_path(const char *dir, char *buf, size_t len)
{
	int n = is_root_path(dir) ? snprintf(buf, len, "/%s", CFS_DIR_SIDECAR)
				  : snprintf(buf, len, "%s/%s", dir, CFS_DIR_SIDECAR);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int sidecar_open(struct cfs_ctx *c, const char *dir)
{
	char p[PATH_MAX];
	int rc = sidecar_path(dir, p, sizeof p);
	if (rc < 0)
		return rc;
	/* O_NONBLOCK: a FIFO planted in its place must not hang the daemon */
	int fd = cfs_store_openat(c->store, p, O_RDONLY | O_NONBLOCK, 0);
	return fd == -ELOOP ? -EIO : fd;
}

int cfs_dir_id_claimed(struct cfs_ctx *c, const char *dir, unsigned char id[CFS_FILE_ID_BYTES])
{
	int fd = sidecar_open(c, dir);
	if (fd < 0)
		return fd == -ENOENT ? -EIO : fd;
	int rc = cfs_content_peek_id(fd, id);
	close(fd);
	return rc;
}

/* The parent directory of mount path `path` ("/a/b" -> "/a", "/a" -> "/")
 * into buf, and its leaf. */
static int split_path(const char *path, char *buf, size_t cap, const char **leaf)
{
	const char *slash = strrchr(path, '/');
	if (!slash || is_root_path(path))
		return -EINVAL;
	size_t n = (size_t)(slash - path);
	if (n + 2 > cap)
		return -ENAMETOOLONG;
	if (n == 0)
		n = 1; /* "/" */
	memcpy(buf, path, n);
	buf[n] = 0;
	*leaf = slash + 1;
	return 0;
}

int cfs_entry_bind(struct cfs_ctx *c, const char *path, int kind, struct cfs_bind *b)
{
	char dir[PATH_MAX];
	const char *leaf;
	unsigned char pid[CFS_FILE_ID_BYTES];
	if (is_root_path(path))
		return kind == CFS_KIND_DIR ? cfs_bind_set(b, ROOT_PARENT, "", CFS_KIND_DIR) : -EINVAL;
	int rc = split_path(path, dir, sizeof dir, &leaf);
	if (rc == 0)
		rc = cfs_dir_id_claimed(c, dir, pid);
	if (rc == 0)
		rc = cfs_bind_set(b, pid, leaf, kind);
	return rc;
}

int cfs_sidecar_write_at(int dirfd, const struct cfs_keys *keys, struct cfs_state *st, const struct cfs_bind *b,
			 const unsigned char *id, uint64_t version, const unsigned char *meta, size_t len,
			 struct cfs_err *err)
{
	char tmpname[64];
	struct cfs_file *f = NULL;
	int fd = cfs_store_tmpfile(dirfd, tmpname, sizeof tmpname);
	if (fd < 0)
		return cfs_errf(err, fd, "cannot make a temporary sidecar: %s", strerror(-fd));
	/* the record is raised only once the new sidecar is in place: before,
	 * a reader would find the old one "older than recorded" */
	unsigned char myid[CFS_FILE_ID_BYTES];
	int rc = cfs_content_create_b(fd, keys, b, NULL, id, version, meta, len, NULL, &f, err);
	if (rc == 0) {
		memcpy(myid, f->id, sizeof myid);
		cfs_content_close(f);
		if (fsync(fd) != 0)
			rc = cfs_errf(err, -errno, "fsync: %s", strerror(errno));
	}
	close(fd);
	if (rc == 0 && renameat(dirfd, tmpname, dirfd, CFS_DIR_SIDECAR) != 0)
		rc = cfs_errf(err, -errno, "rename: %s", strerror(errno));
	if (rc < 0)
		unlinkat(dirfd, tmpname, 0);
	if (rc == 0 && st && version > 1)
		rc = cfs_state_note(st, myid, version, err);
	return rc;
}

/* Rewrite dir's sidecar (open at dirfd... by mount path) bound to b. */
static int sidecar_write(struct cfs_ctx *c, const char *dir, const struct cfs_bind *b, const unsigned char *id,
			 uint64_t version, const unsigned char *meta, size_t len, struct cfs_err *err)
{
	int d = cfs_store_openat(c->store, dir, O_PATH | O_DIRECTORY, 0);
	if (d < 0)
		return cfs_errf(err, d == -ELOOP ? -EPERM : d, "%s: %s", dir, strerror(-d));
	int rc = cfs_sidecar_write_at(d, c->keys, c->state, b, id, version, meta, len, err);
	close(d);
	return rc;
}

/* Load dir's sidecar bound to b. A sidecar that fails only because a rename
 * of its directory was interrupted (the local record holds the binding it
 * had before) is accepted once and rebound on the spot. Missing: -EIO. */
int cfs_sidecar_load(struct cfs_ctx *c, const char *dir, const struct cfs_bind *b, unsigned char *meta,
		     size_t *len, unsigned char *id, uint64_t *version, struct cfs_err *err)
{
	int fd = sidecar_open(c, dir);
	if (fd == -ENOENT)
		return cfs_errf(err, -EIO, "directory %s has no sidecar (deleted?)", dir);
	if (fd < 0)
		return cfs_errf(err, fd, "directory %s: sidecar: %s", dir, strerror(-fd));
	unsigned char myid[CFS_FILE_ID_BYTES];
	uint64_t v;
	int rc = cfs_content_meta_b(fd, c->keys, b, c->state, meta, len, myid, &v, err);
	if (rc == -EIO) {
		/* a sidecar is replaced by a rename and its version recorded after
		 * it: one opened just before a rewrite reads as older than recorded,
		 * or (while its directory is being renamed) bound elsewhere. Open
		 * the name again once. */
		int fd2 = sidecar_open(c, dir);
		if (fd2 >= 0) {
			close(fd);
			fd = fd2;
			rc = cfs_content_meta_b(fd, c->keys, b, c->state, meta, len, myid, &v, err);
		}
	}
	if (rc == -EIO && c->state && cfs_content_peek_id(fd, myid) == 0) {
		struct cfs_bind old;
		struct cfs_err e2 = { "" };
		if (cfs_state_intent_get(c->state, myid, old.parent, old.name, sizeof old.name, &e2) == 0) {
			old.kind = CFS_KIND_DIR;
			if (cfs_content_meta_b(fd, c->keys, &old, c->state, meta, len, myid, &v, &e2) == 0 &&
			    sidecar_write(c, dir, b, myid, v + 1, meta, *len, &e2) == 0) {
				syslog(LOG_NOTICE, "coachfs: %s: finished an interrupted rename", dir);
				cfs_state_intent_clear(c->state, myid, &e2);
				v++;
				rc = 0;
			}
		}
	}
	close(fd);
	if (rc < 0)
		return rc;
	if (id)
		memcpy(id, myid, CFS_FILE_ID_BYTES);
	if (version)
		*version = v;
	return 0;
}

/* Bind path (not the root) under the given parent id instead of the id its
 * parent's sidecar claims. */
static int bind_under(const char *path, const unsigned char parent[CFS_FILE_ID_BYTES], int kind,
		      struct cfs_bind *b)
{
	char dir[PATH_MAX];
	const char *leaf;
	int rc = split_path(path, dir, sizeof dir, &leaf);
	return rc < 0 ? rc : cfs_bind_set(b, parent, leaf, kind);
}

int cfs_dir_meta_load(struct cfs_ctx *c, const char *dir, unsigned char *meta, size_t *len)
{
	return cfs_dir_meta_load_under(c, dir, NULL, meta, len);
}

int cfs_dir_meta_load_under(struct cfs_ctx *c, const char *dir,
			    const unsigned char parent[CFS_FILE_ID_BYTES], unsigned char *meta,
			    size_t *len)
{
	struct cfs_bind b;
	struct cfs_err e = { "" };
	int rc = parent && !is_root_path(dir) ? bind_under(dir, parent, CFS_KIND_DIR, &b)
					      : cfs_entry_bind(c, dir, CFS_KIND_DIR, &b);
	if (rc == 0)
		rc = cfs_sidecar_load(c, dir, &b, meta, len, NULL, NULL, &e);
	else
		snprintf(e.msg, sizeof e.msg, "the sidecar of %s's parent is missing or unreadable", dir);
	if (rc < 0) {
		syslog(LOG_ERR, "coachfs: tamper %s: %s", dir, e.msg);
		return rc == -ENOMEM || rc == -ENAMETOOLONG ? rc : -EIO;
	}
	return 0;
}

int cfs_dir_meta_store(struct cfs_ctx *c, const char *dir, const unsigned char *meta, size_t len)
{
	struct cfs_bind b;
	struct cfs_err e = { "" };
	unsigned char old[CFS_META_MAX], id[CFS_FILE_ID_BYTES];
	size_t oldlen;
	uint64_t v;
	int rc = cfs_entry_bind(c, dir, CFS_KIND_DIR, &b);
	if (rc == 0)
		rc = cfs_sidecar_load(c, dir, &b, old, &oldlen, id, &v, &e);
	sodium_memzero(old, sizeof old);
	if (rc == 0)
		rc = sidecar_write(c, dir, &b, id, v + 1, meta, len, &e);
	if (rc < 0) {
		syslog(LOG_ERR, "coachfs: %s: cannot store its attributes: %s", dir, e.msg);
		return rc == -EIO || rc == -ENOSPC || rc == -EINVAL ? rc : -EIO;
	}
	return 0;
}

int cfs_dir_create(struct cfs_ctx *c, int pdfd, const char *leaf, const unsigned char parent[CFS_FILE_ID_BYTES],
		   const unsigned char *meta, size_t len, mode_t mode, struct cfs_err *err)
{
	char tmp[64];
	struct cfs_bind b;
	int rc = cfs_bind_set(&b, parent, leaf, CFS_KIND_DIR);
	if (rc < 0)
		return cfs_errf(err, rc, "%s: bad name", leaf);
	rc = cfs_store_tmpdir(pdfd, tmp, sizeof tmp, mode);
	if (rc < 0)
		return cfs_errf(err, rc, "cannot make a temporary directory: %s", strerror(-rc));
	int d = openat(pdfd, tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0)
		rc = cfs_errf(err, -errno, "%s", strerror(errno));
	if (rc == 0)
		rc = cfs_sidecar_write_at(d, c->keys, c->state, &b, NULL, 1, meta, len, err);
	if (rc == 0 && renameat2(pdfd, tmp, pdfd, leaf, RENAME_NOREPLACE) != 0)
		rc = cfs_errf(err, -errno, "%s", strerror(errno));
	if (rc < 0) {
		if (d >= 0)
			unlinkat(d, CFS_DIR_SIDECAR, 0);
		unlinkat(pdfd, tmp, AT_REMOVEDIR);
	}
	if (d >= 0)
		close(d);
	return rc;
}

int cfs_dir_rebind(struct cfs_ctx *c, const char *dir, const struct cfs_bind *old, struct cfs_err *err)
{
	struct cfs_bind b;
	unsigned char meta[CFS_META_MAX], id[CFS_FILE_ID_BYTES];
	size_t len;
	uint64_t v;
	int rc = cfs_entry_bind(c, dir, CFS_KIND_DIR, &b);
	if (rc < 0)
		return cfs_errf(err, rc, "%s: its parent's sidecar: %s", dir, strerror(-rc));
	int fd = sidecar_open(c, dir);
	if (fd < 0)
		return cfs_errf(err, fd == -ENOENT ? -EIO : fd, "%s has no sidecar", dir);
	rc = cfs_content_meta_b(fd, c->keys, old, c->state, meta, &len, id, &v, err);
	close(fd);
	if (rc == 0)
		rc = sidecar_write(c, dir, &b, id, v + 1, meta, len, err);
	sodium_memzero(meta, sizeof meta);
	if (rc == 0 && c->state)
		cfs_state_intent_clear(c->state, id, err);
	return rc;
}

/* ---- files: bound headers, interrupted renames ---- */

int cfs_entry_open(struct cfs_ctx *c, const char *path, int fd, struct cfs_scratch *s, struct cfs_file **out,
		   struct cfs_err *err)
{
	return cfs_entry_open_under(c, path, NULL, fd, s, out, err);
}

int cfs_entry_open_under(struct cfs_ctx *c, const char *path,
			 const unsigned char parent[CFS_FILE_ID_BYTES], int fd, struct cfs_scratch *s,
			 struct cfs_file **out, struct cfs_err *err)
{
	struct cfs_bind b;
	int rc = parent ? bind_under(path, parent, CFS_KIND_FILE, &b)
			: cfs_entry_bind(c, path, CFS_KIND_FILE, &b);
	if (rc < 0)
		return cfs_errf(err, rc == -ENOMEM ? rc : -EIO, "%s: its directory's sidecar is missing or unreadable",
				path);
	rc = cfs_content_open_b(fd, c->keys, &b, c->state, s, out, err);
	unsigned char id[CFS_FILE_ID_BYTES];
	if (rc != -EIO || !c->state || cfs_content_peek_id(fd, id) != 0)
		return rc;
	/* Perhaps an interrupted rename: one rebind at a time, and another
	 * opener may have finished it while this one waited. */
	pthread_mutex_lock(&c->sidecar_lock);
	struct cfs_bind old;
	struct cfs_err e2 = { "" };
	struct cfs_file *f;
	if (cfs_content_open_b(fd, c->keys, &b, c->state, s, out, &e2) == 0) {
		rc = 0;
	} else if (cfs_state_intent_get(c->state, id, old.parent, old.name, sizeof old.name, &e2) == 0) {
		old.kind = CFS_KIND_FILE;
		if (cfs_content_open_b(fd, c->keys, &old, c->state, s, &f, &e2) == 0) {
			if (cfs_content_rebind(f, &b, &e2) == 0) {
				syslog(LOG_NOTICE, "coachfs: %s: finished an interrupted rename", path);
				cfs_state_intent_clear(c->state, id, &e2);
				*out = f;
				rc = 0;
			} else {
				cfs_content_close(f);
			}
		}
	}
	pthread_mutex_unlock(&c->sidecar_lock);
	return rc;
}

int cfs_entry_meta(struct cfs_ctx *c, const char *path, int fd, unsigned char *meta, size_t *len,
		   struct cfs_err *err)
{
	return cfs_entry_meta_under(c, path, NULL, fd, meta, len, err);
}

int cfs_entry_meta_under(struct cfs_ctx *c, const char *path,
			 const unsigned char parent[CFS_FILE_ID_BYTES], int fd, unsigned char *meta,
			 size_t *len, struct cfs_err *err)
{
	struct cfs_bind b;
	int rc = parent ? bind_under(path, parent, CFS_KIND_FILE, &b)
			: cfs_entry_bind(c, path, CFS_KIND_FILE, &b);
	if (rc < 0)
		return cfs_errf(err, -EIO, "%s: its directory's sidecar is missing or unreadable", path);
	rc = cfs_content_meta_b(fd, c->keys, &b, c->state, meta, len, NULL, NULL, err);
	unsigned char id[CFS_FILE_ID_BYTES];
	if (rc == -EIO && c->state && cfs_content_peek_id(fd, id) == 0) {
		struct cfs_bind old;
		struct cfs_err e2 = { "" };
		if (cfs_state_intent_get(c->state, id, old.parent, old.name, sizeof old.name, &e2) == 0) {
			old.kind = CFS_KIND_FILE;
			if (cfs_content_meta_b(fd, c->keys, &old, c->state, meta, len, NULL, NULL, &e2) == 0)
				return 0; /* the next open rebinds it */
		}
	}
	return rc;
}

int cfs_rename_intent(struct cfs_ctx *c, const char *path, int kind, struct cfs_bind *old, struct cfs_err *err)
{
	unsigned char id[CFS_FILE_ID_BYTES];
	int rc = cfs_entry_bind(c, path, kind, old);
	if (rc < 0)
		return cfs_errf(err, -EIO, "%s: its directory's sidecar is missing or unreadable", path);
	int fd = kind == CFS_KIND_DIR ? sidecar_open(c, path) : cfs_store_openat(c->store, path, O_RDONLY, 0);
	if (fd < 0)
		return cfs_errf(err, fd == -ENOENT || fd == -ELOOP ? -EIO : fd, "%s: %s", path, strerror(-fd));
	rc = cfs_content_peek_id(fd, id);
	close(fd);
	if (rc < 0)
		return cfs_errf(err, -EIO, "%s: not a coachfs header", path);
	return c->state ? cfs_state_intent_set(c->state, id, old->parent, old->name, err) : 0;
}
