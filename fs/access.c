/* access.c — the daemon's access layer: caller identity, effective policy
 * resolution through directory sidecars, candidate grants, decisions, open
 * counting, replay and derived-class tracking (per process, bounded), and
 * the audit row for each.
 * It knows nothing of FUSE. It must never admit an open it could not decide
 * and record (fail closed), and never put a key, token or content in a row. */
#include "coachfs/access.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "coachfs/audit.h"
#include "coachfs/grants.h"
#include "coachfs/session.h"
#include "coachfs/state.h"
#include "coachfs/store.h"

/* ---- attribute values ---- */

static int list_split(char *buf, struct cfs_list *l)
{
	l->n = 0;
	char *p = buf;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		char *e = strchr(p, ',');
		if (e)
			*e = 0;
		char *t = p + strlen(p);
		while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
			*--t = 0;
		if (*p) {
			if (l->n >= CFS_LIST_MAX)
				return -EINVAL;
			l->v[l->n++] = p;
		}
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
}

int cfs_policy_value_check(const struct cfs_config *cfg, const char *key, const char *val, size_t len,
			   struct cfs_err *err)
{
	char buf[CFS_META_MAX + 1];
	if (len > CFS_META_MAX)
		return cfs_errf(err, -EINVAL, "value too long");
	memcpy(buf, val, len);
	buf[len] = 0;
	if (memchr(val, 0, len))
		return cfs_errf(err, -EINVAL, "value contains a NUL byte");
	if (!strcmp(key, "class")) {
		if (!cfs_config_class(cfg, buf))
			return cfs_errf(err, -EINVAL, "unknown class '%s'", buf);
		return 0;
	}
	if (!strcmp(key, "export")) {
		enum cfs_export x;
		if (cfs_export_parse(buf, &x) < 0 || x == CFS_EXPORT_UNSET)
			return cfs_errf(err, -EINVAL, "export must be allow, log or deny, not '%s'", buf);
		return 0;
	}
	if (!strcmp(key, "max_opens")) {
		uint64_t v;
		if (cfs_parse_uint(buf, 1000000, &v) < 0 || v == 0)
			return cfs_errf(err, -EINVAL, "max_opens must be a number from 1 to 1000000, not '%s'", buf);
		return 0;
	}
	if (!strcmp(key, "readers")) {
		struct cfs_list l;
		if (list_split(buf, &l) < 0)
			return cfs_errf(err, -EINVAL, "readers: more than %d programs", CFS_LIST_MAX);
		for (int i = 0; i < l.n; i++)
			if (l.v[i][0] != '/')
				return cfs_errf(err, -EINVAL, "readers: '%s' is not an absolute program path", l.v[i]);
		return 0;
	}
	return cfs_errf(err, -EOPNOTSUPP, "unknown policy attribute '%s'", key);
}

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
static int sidecar_load(struct cfs_ctx *c, const char *dir, const struct cfs_bind *b, unsigned char *meta,
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

int cfs_dir_meta_load(struct cfs_ctx *c, const char *dir, unsigned char *meta, size_t *len)
{
	struct cfs_bind b;
	struct cfs_err e = { "" };
	int rc = cfs_entry_bind(c, dir, CFS_KIND_DIR, &b);
	if (rc == 0)
		rc = sidecar_load(c, dir, &b, meta, len, NULL, NULL, &e);
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
		rc = sidecar_load(c, dir, &b, old, &oldlen, id, &v, &e);
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
	struct cfs_bind b;
	int rc = cfs_entry_bind(c, path, CFS_KIND_FILE, &b);
	if (rc < 0)
		return cfs_errf(err, rc == -ENOMEM ? rc : -EIO, "%s: its directory's sidecar is missing or unreadable",
				path);
	rc = cfs_content_open_b(fd, c->keys, &b, c->state, s, out, err);
	unsigned char id[CFS_FILE_ID_BYTES];
	if (rc == -EIO && c->state && cfs_content_peek_id(fd, id) == 0) {
		struct cfs_bind old;
		struct cfs_err e2 = { "" };
		struct cfs_file *f;
		if (cfs_state_intent_get(c->state, id, old.parent, old.name, sizeof old.name, &e2) == 0) {
			old.kind = CFS_KIND_FILE;
			if (cfs_content_open_b(fd, c->keys, &old, c->state, s, &f, &e2) == 0) {
				if (cfs_content_rebind(f, &b, &e2) == 0) {
					syslog(LOG_NOTICE, "coachfs: %s: finished an interrupted rename", path);
					cfs_state_intent_clear(c->state, id, &e2);
					*out = f;
					return 0;
				}
				cfs_content_close(f);
			}
		}
	}
	return rc;
}

int cfs_entry_meta(struct cfs_ctx *c, const char *path, int fd, unsigned char *meta, size_t *len,
		   struct cfs_err *err)
{
	struct cfs_bind b;
	int rc = cfs_entry_bind(c, path, CFS_KIND_FILE, &b);
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

/* ---- effective policy ---- */

enum { K_CLASS, K_EXPORT, K_READERS, K_MAXOPENS, K_N };
static const char *const KEYS[K_N] = { CFS_XATTR_PREFIX "class", CFS_XATTR_PREFIX "export",
				       CFS_XATTR_PREFIX "readers", CFS_XATTR_PREFIX "max_opens" };

/* Take from meta every key it has: called from the root down and then with
 * the entry's own block, so the nearest value wins. */
static void take(const unsigned char *meta, size_t len, char val[K_N][CFS_META_MAX + 1], int found[K_N])
{
	for (int k = 0; k < K_N; k++) {
		const unsigned char *v;
		size_t vl;
		if (cfs_meta_get(meta, len, KEYS[k], &v, &vl) < 0)
			continue;
		memcpy(val[k], v, vl);
		val[k][vl] = 0;
		found[k] = 1;
	}
}

static int class_rank(const struct cfs_config *cfg, const struct cfs_class *cls)
{
	return (int)(cls - cfg->classes);
}

int cfs_eff_resolve(struct cfs_ctx *c, const char *path, const unsigned char *own, size_t own_len,
		    struct cfs_eff *out)
{
	static const size_t VSZ = CFS_META_MAX + 1;
	char (*val)[CFS_META_MAX + 1] = malloc(K_N * VSZ);
	int found[K_N] = { 0 };
	unsigned char meta[CFS_META_MAX];
	char dir[PATH_MAX];
	size_t len;
	int rc = 0;
	if (!val)
		return -ENOMEM;
	memset(out, 0, sizeof *out);
	if (cfs_strlcpy(dir, path, sizeof dir) >= sizeof dir) {
		free(val);
		return -ENAMETOOLONG;
	}
	/* Every ancestor from the root down, each sidecar authenticated in its
	 * place (its parent's id, its name): the chain proves the parent's id
	 * that the entry's own header was bound to. */
	struct cfs_bind b;
	struct cfs_err e = { "" };
	unsigned char id[CFS_FILE_ID_BYTES];
	memset(id, 0, sizeof id);
	if (!is_root_path(path)) {
		cfs_bind_set(&b, ROOT_PARENT, "", CFS_KIND_DIR);
		rc = sidecar_load(c, "/", &b, meta, &len, id, NULL, &e);
		if (rc == 0)
			take(meta, len, val, found);
		for (char *p = dir + 1, *slash; rc == 0 && (slash = strchr(p, '/')) != NULL; p = slash + 1) {
			*slash = 0;
			rc = cfs_bind_set(&b, id, p, CFS_KIND_DIR);
			if (rc == 0)
				rc = sidecar_load(c, dir, &b, meta, &len, id, NULL, &e);
			if (rc == 0)
				take(meta, len, val, found);
			*slash = '/';
		}
	}
	sodium_memzero(meta, sizeof meta);
	if (rc < 0) {
		syslog(LOG_ERR, "coachfs: tamper %s: %s", path, e.msg);
		snprintf(out->why, sizeof out->why, "%s", e.msg);
		cfs_access_audit(c, NULL, "tamper", path, "error", e.msg, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 0);
		free(val);
		return rc == -ENOMEM ? rc : -EIO;
	}
	memcpy(out->dir_id, id, sizeof id);
	take(own, own_len, val, found);
	{
		const unsigned char *v;
		size_t vl;
		out->own_class = cfs_meta_get(own, own_len, KEYS[K_CLASS], &v, &vl) == 0;
	}
	if (rc == 0) {
		const char *cname = found[K_CLASS] ? val[K_CLASS] : c->cfg->default_class;
		out->fp.cls = cfs_config_class(c->cfg, cname);
		if (!out->fp.cls) {
			syslog(LOG_ERR, "coachfs: %s: class '%s' is not in the configuration; refusing access",
			       path, cname);
			rc = -EACCES;
		}
	}
	if (rc == 0) {
		const struct cfs_class *cls = out->fp.cls;
		out->class_rank = class_rank(c->cfg, cls);
		out->fp.export = cls->export == CFS_EXPORT_UNSET ? CFS_EXPORT_ALLOW : cls->export;
		if (found[K_EXPORT] && cfs_export_parse(val[K_EXPORT], &out->fp.export) < 0)
			out->fp.export = CFS_EXPORT_DENY; /* unreadable rule: the strictest */
		out->fp.readers = &cls->readers;
		if (found[K_READERS]) {
			memcpy(out->rbuf, val[K_READERS], VSZ);
			if (list_split(out->rbuf, &out->readers) < 0)
				rc = -EACCES;
			out->fp.readers = &out->readers;
		}
		out->fp.max_opens = cls->max_opens;
		if (found[K_MAXOPENS]) {
			uint64_t v;
			out->fp.max_opens = cfs_parse_uint(val[K_MAXOPENS], 1000000, &v) == 0 ? (uint32_t)v : 1;
		}
	}
	free(val);
	return rc;
}

int cfs_eff_value(const struct cfs_eff *e, const char *key, char *buf, size_t cap)
{
	int n;
	if (!strcmp(key, "class"))
		n = snprintf(buf, cap, "%s", e->fp.cls->name);
	else if (!strcmp(key, "export"))
		n = snprintf(buf, cap, "%s", cfs_export_name(e->fp.export));
	else if (!strcmp(key, "max_opens")) {
		if (!e->fp.max_opens)
			return -ENODATA;
		n = snprintf(buf, cap, "%u", e->fp.max_opens);
	} else if (!strcmp(key, "readers")) {
		const struct cfs_list *l = e->fp.readers;
		if (!l || !l->n)
			return -ENODATA;
		size_t off = 0;
		for (int i = 0; i < l->n; i++) {
			int w = snprintf(buf + off, off < cap ? cap - off : 0, "%s%s", i ? "," : "", l->v[i]);
			if (w < 0)
				return -EIO;
			off += (size_t)w;
		}
		n = (int)off;
	} else
		return -ENODATA;
	if (n < 0 || (size_t)n >= cap)
		return -ERANGE;
	return n;
}

/* ---- caller and decisions ---- */

int cfs_access_caller(struct cfs_ctx *c, uid_t uid, gid_t gid, pid_t pid, const gid_t *groups,
		      int ngroups, int need_exe, struct cfs_caller *out)
{
	if (need_exe)
		return cfs_caller_fill(c->roles, out, uid, gid, pid, groups, ngroups);
	/* Visibility only: uid, groups and roles decide it. The program, its
	 * start time and the login name (three /proc and passwd reads) matter to
	 * opens and audit rows, which always ask for them. */
	return cfs_caller_ids(c->roles, out, uid, gid, pid, groups, ngroups);
}

#define CAND_MAX 256

void cfs_access_decide(struct cfs_ctx *c, const struct cfs_caller *cl, const struct cfs_eff *e,
		       const char *path, enum cfs_op op, int export_tool, int64_t held_grant,
		       struct cfs_decision *d)
{
	struct cfs_grant_snap *snap = NULL;
	struct cfs_err err = { "" };
	struct cfs_grant *cand = NULL;
	size_t n = 0;
	struct cfs_request req = { path, op, cfs_now_s(), export_tool, held_grant, NULL };
	if (op != CFS_OP_ADMIN) {
		/* cfs_decide settles role admission (and re-checks of handles
		 * opened by role) before it looks at any grant, so a decision that
		 * roles alone allow is the decision: no snapshot, no open counts.
		 * test_policy's roles_decide_before_grants holds policy.c to it. */
		cfs_decide(cl, &e->fp, NULL, 0, &req, d);
		if (d->verdict != CFS_DENY)
			return;
		if (cfs_grants_snapshot(c->grants, &snap, &err) < 0) {
			memset(d, 0, sizeof *d);
			d->verdict = CFS_DENY;
			snprintf(d->reason, sizeof d->reason, "grants unavailable: %.200s", err.msg);
			syslog(LOG_ERR, "coachfs: %s", d->reason);
			return;
		}
		cand = calloc(snap->n < CAND_MAX ? snap->n + 1 : CAND_MAX, sizeof *cand);
		if (!cand) {
			cfs_grants_snap_put(snap);
			memset(d, 0, sizeof *d);
			d->verdict = CFS_DENY;
			snprintf(d->reason, sizeof d->reason, "out of memory");
			return;
		}
		for (size_t i = 0; i < snap->n && n < CAND_MAX; i++) {
			const struct cfs_grant *g = &snap->recs[i].g;
			if (!cfs_grant_matches_caller(g, cl) || !cfs_path_covers(g->path, path))
				continue;
			cand[n] = *g;
			uint32_t limit = g->max_opens;
			if (e->fp.max_opens && (!limit || e->fp.max_opens < limit))
				limit = e->fp.max_opens;
			if (limit && (op == CFS_OP_READ || op == CFS_OP_WRITE) &&
			    cfs_grants_opens(c->grants, g->id, path, &cand[n].opens_used, &err) < 0)
				cand[n].opens_used = UINT32_MAX; /* cannot count: no opens left */
			n++;
		}
	}
	/* A handle whose grant left the snapshot (revoked, or expired before a
	 * rebuild): read it back only so the reason says which. */
	struct cfs_grant_rec *held = NULL;
	if (op == CFS_OP_RECHECK && held_grant && cand && n < CAND_MAX) {
		int found = 0;
		for (size_t i = 0; i < n && !found; i++)
			found = cand[i].id == held_grant;
		if (!found && (held = malloc(sizeof *held)) != NULL) {
			if (cfs_grants_get(c->grants, held_grant, held, &err) == 0)
				cand[n++] = held->g;
			else {
				free(held);
				held = NULL;
			}
		}
	}
	/* session-bound grants: is their process alive, and is the caller in it? */
	struct cfs_lineage lin;
	cfs_lineage_init(&lin, cl);
	req.lineage = &lin;
	cfs_session_facts(cand, n, &lin, op != CFS_OP_RECHECK && op != CFS_OP_RECHECK_WRITE);
	cfs_decide(cl, &e->fp, cand, n, &req, d);
	if (held && d->verdict != CFS_DENY) {
		/* not in the snapshot means not in force, whatever the row says */
		d->verdict = CFS_DENY;
		d->grant_id = 0;
		snprintf(d->reason, sizeof d->reason,
			 "grant %lld is no longer in force (revoked, expired or removed)",
			 (long long)held_grant);
	}
	free(held);
	free(cand);
	if (snap)
		cfs_grants_snap_put(snap);
}

int cfs_access_visible(struct cfs_ctx *c, const struct cfs_caller *cl, const struct cfs_eff *e,
		       const char *path, int is_dir)
{
	struct cfs_decision d;
	if (!c->cfg->hide_denied || (path[0] == '/' && path[1] == 0))
		return 1;
	if (cfs_caller_has_role(cl, "admin"))
		return 1;
	cfs_access_decide(c, cl, e, path, CFS_OP_SEE, 0, 0, &d);
	if (d.verdict != CFS_DENY)
		return 1;
	if (!is_dir)
		return 0;
	/* a directory on the way to something this caller was granted */
	struct cfs_grant_snap *snap;
	struct cfs_err err = { "" };
	int vis = 0;
	int64_t now = cfs_now_s();
	if (cfs_grants_snapshot(c->grants, &snap, &err) < 0)
		return 0;
	for (size_t i = 0; i < snap->n && !vis; i++) {
		const struct cfs_grant *g = &snap->recs[i].g;
		if ((g->revoked_at && g->revoked_at <= now) || g->end <= now)
			continue;
		if (cfs_grant_matches_caller(g, cl) && cfs_path_covers(path, g->path))
			vis = 1;
	}
	cfs_grants_snap_put(snap);
	return vis;
}

int cfs_access_count_open(struct cfs_ctx *c, const struct cfs_eff *e, struct cfs_decision *d,
			  const char *path)
{
	struct cfs_grant_snap *snap;
	struct cfs_err err = { "" };
	uint32_t limit = e->fp.max_opens, used = 0;
	if (!d->grant_id)
		return 0;
	if (cfs_grants_snapshot(c->grants, &snap, &err) < 0)
		return -EACCES;
	for (size_t i = 0; i < snap->n; i++) {
		const struct cfs_grant *g = &snap->recs[i].g;
		if (g->id == d->grant_id && g->max_opens && (!limit || g->max_opens < limit))
			limit = g->max_opens;
	}
	cfs_grants_snap_put(snap);
	if (!limit)
		return 0;
	int rc = cfs_grants_count_open(c->grants, d->grant_id, path, limit, &used, &err);
	if (rc == 0)
		return 1;
	d->verdict = CFS_DENY;
	if (rc == -EDQUOT)
		snprintf(d->reason, sizeof d->reason, "grant %lld has used its %u opens of %s",
			 (long long)d->grant_id, limit, path);
	else
		snprintf(d->reason, sizeof d->reason, "cannot count the open: %.200s", err.msg);
	return -EDQUOT;
}

void cfs_access_uncount_open(struct cfs_ctx *c, const struct cfs_decision *d, const char *path)
{
	struct cfs_err err = { "" };
	if (d->grant_id && cfs_grants_uncount_open(c->grants, d->grant_id, path, &err) < 0)
		syslog(LOG_ERR, "coachfs: an unrecorded open of %s still counts against grant "
		       "%lld: %s", path, (long long)d->grant_id, err.msg);
}

/* ---- tracking: replays and derived classes ---- */

#define TRACK_BUCKETS 1024
#define TRACK_MAX 100000

struct track_ent {
	struct track_ent *next;
	int kind;                  /* 1 replay, 2 process read rank */
	uint32_t uid;
	int64_t grant;
	pid_t pid;
	uint64_t start;
	int rank;
	char path[];
};

struct cfs_track {
	struct track_ent *b[TRACK_BUCKETS];
	size_t n;                  /* all entries */
	size_t nproc;              /* process (derived-content) entries */
	size_t proc_cap;           /* at most this many of them */
	int hiwater;               /* highest rank ever noted (-1: none) */
	int overflow;              /* highest rank that found no room (-1: none) */
	int64_t last_sweep_ms;
};

static struct cfs_track *tracks(struct cfs_ctx *c)
{
	if (!c->tracks && (c->tracks = calloc(1, sizeof *c->tracks))) {
		c->tracks->proc_cap = CFS_TRACK_PROCS;
		c->tracks->hiwater = -1;
		c->tracks->overflow = -1;
	}
	return c->tracks;
}

static size_t hash_of(int kind, uint64_t a, uint64_t b, const char *s)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;
	h = (h ^ a) * 1099511628211ULL;
	h = (h ^ b) * 1099511628211ULL;
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)(h % TRACK_BUCKETS);
}

int cfs_access_replay(struct cfs_ctx *c, uid_t uid, int64_t grant, const char *path)
{
	int replay = 0;
	pthread_mutex_lock(&c->lock);
	struct cfs_track *t = tracks(c);
	if (t) {
		size_t h = hash_of(1, uid, (uint64_t)grant, path);
		struct track_ent *e;
		for (e = t->b[h]; e; e = e->next)
			if (e->kind == 1 && e->uid == uid && e->grant == grant && !strcmp(e->path, path))
				break;
		if (e) {
			replay = 1;
		} else if (t->n < TRACK_MAX && (e = calloc(1, sizeof *e + strlen(path) + 1))) {
			e->kind = 1;
			e->uid = uid;
			e->grant = grant;
			strcpy(e->path, path);
			e->next = t->b[h];
			t->b[h] = e;
			t->n++;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return replay;
}

void cfs_access_replay_forget(struct cfs_ctx *c, uid_t uid, int64_t grant, const char *path)
{
	pthread_mutex_lock(&c->lock);
	struct cfs_track *t = c->tracks;
	if (t) {
		struct track_ent **pp = &t->b[hash_of(1, uid, (uint64_t)grant, path)];
		for (; *pp; pp = &(*pp)->next) {
			struct track_ent *e = *pp;
			if (e->kind == 1 && e->uid == uid && e->grant == grant && !strcmp(e->path, path)) {
				*pp = e->next;
				free(e);
				t->n--;
				break;
			}
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/* Process entries (derived content) are bounded: when the table holds
 * proc_cap of them, those of processes that are gone (their pid no longer
 * has the recorded start time) are dropped — at most one such sweep a
 * second, with /proc read outside the lock. A live process's entry is never
 * dropped. When there is still no room, the rank goes into `overflow`,
 * which every process is then taken to have read (fail closed: files are
 * classified higher, never lower) for the rest of the mount. */
static struct track_ent *proc_find(struct cfs_track *t, pid_t pid, uint64_t start)
{
	for (struct track_ent *e = t->b[hash_of(2, (uint64_t)pid, start, NULL)]; e; e = e->next)
		if (e->kind == 2 && e->pid == pid && e->start == start)
			return e;
	return NULL;
}

static void proc_sweep(struct cfs_ctx *c)
{
	struct cfs_track *t = c->tracks;
	int64_t now = cfs_now_us() / 1000;
	if (now - t->last_sweep_ms < 1000 && t->last_sweep_ms)
		return;
	t->last_sweep_ms = now;
	size_t n = 0, cap = t->nproc;
	struct cfs_proc *v = cap ? malloc(cap * sizeof *v) : NULL;
	if (!v)
		return;
	for (size_t i = 0; i < TRACK_BUCKETS && n < cap; i++)
		for (struct track_ent *e = t->b[i]; e && n < cap; e = e->next)
			if (e->kind == 2) {
				v[n].pid = e->pid;
				v[n++].start = e->start;
			}
	pthread_mutex_unlock(&c->lock);
	size_t dead = 0;
	for (size_t i = 0; i < n; i++)
		if (cfs_proc_start(v[i].pid) != v[i].start)
			v[dead++] = v[i];
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < dead; i++) {
		struct track_ent **pp = &t->b[hash_of(2, (uint64_t)v[i].pid, v[i].start, NULL)];
		for (; *pp; pp = &(*pp)->next) {
			struct track_ent *e = *pp;
			if (e->kind == 2 && e->pid == v[i].pid && e->start == v[i].start) {
				*pp = e->next;
				free(e);
				t->n--;
				t->nproc--;
				break;
			}
		}
	}
	free(v);
}

void cfs_access_note_read(struct cfs_ctx *c, pid_t pid, uint64_t start, int rank)
{
	if (rank <= 0)
		return;  /* nothing lies below the least sensitive class */
	pthread_mutex_lock(&c->lock);
	struct cfs_track *t = tracks(c);
	if (!t) {
		pthread_mutex_unlock(&c->lock);
		syslog(LOG_ERR, "coachfs: out of memory tracking reads");
		return;
	}
	if (rank > t->hiwater)
		t->hiwater = rank;
	struct track_ent *e = proc_find(t, pid, start);
	if (!e && t->nproc >= t->proc_cap) {
		proc_sweep(c);   /* drops and retakes the lock */
		e = proc_find(t, pid, start);
	}
	if (e) {
		if (rank > e->rank)
			e->rank = rank;
	} else if (t->nproc < t->proc_cap && (e = calloc(1, sizeof *e + 1))) {
		e->kind = 2;
		e->pid = pid;
		e->start = start;
		e->rank = rank;
		size_t h = hash_of(2, (uint64_t)pid, start, NULL);
		e->next = t->b[h];
		t->b[h] = e;
		t->n++;
		t->nproc++;
	} else if (rank > t->overflow) {
		if (t->overflow < 0)
			syslog(LOG_WARNING, "coachfs: read tracking is full (%zu live processes); "
			       "new files are classified as if every process had read class rank %d",
			       t->nproc, rank);
		t->overflow = rank;
	}
	pthread_mutex_unlock(&c->lock);
}

static int rank_of(struct cfs_track *t, pid_t pid, uint64_t start)
{
	struct track_ent *e = proc_find(t, pid, start);
	return e ? e->rank : -1;
}

int cfs_access_max_read(struct cfs_ctx *c, struct cfs_lineage *l, int floor)
{
	int rank = -1, hi = -1;
	pthread_mutex_lock(&c->lock);
	struct cfs_track *t = tracks(c);
	if (t) {
		rank = rank_of(t, l->self.pid, l->self.start);
		if (t->overflow > rank)
			rank = t->overflow;
		hi = t->hiwater;
	}
	pthread_mutex_unlock(&c->lock);
	if (!t)
		return c->cfg && c->cfg->nclasses > 0 ? c->cfg->nclasses - 1 : INT_MAX; /* fail closed */
	/* The ancestors matter only when something above both is on record. */
	if (hi <= floor || hi <= rank)
		return rank;
	cfs_lineage_walk(l);
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < l->n && i < CFS_ANCESTORS_MAX; i++) {
		int r = rank_of(t, l->anc[i].pid, l->anc[i].start);
		if (r > rank)
			rank = r;
	}
	pthread_mutex_unlock(&c->lock);
	return rank;
}

void cfs_access_track_limit(struct cfs_ctx *c, size_t cap)
{
	pthread_mutex_lock(&c->lock);
	struct cfs_track *t = tracks(c);
	if (t)
		t->proc_cap = cap;
	pthread_mutex_unlock(&c->lock);
}

size_t cfs_access_track_procs(struct cfs_ctx *c)
{
	pthread_mutex_lock(&c->lock);
	size_t n = c->tracks ? c->tracks->nproc : 0;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void cfs_access_free(struct cfs_ctx *c)
{
	if (!c->tracks)
		return;
	for (size_t i = 0; i < TRACK_BUCKETS; i++) {
		struct track_ent *e = c->tracks->b[i];
		while (e) {
			struct track_ent *n = e->next;
			free(e);
			e = n;
		}
	}
	free(c->tracks);
	c->tracks = NULL;
}

/* ---- audit ---- */

int cfs_access_audit(struct cfs_ctx *c, const struct cfs_caller *cl, const char *action, const char *path,
		     const char *result, const char *reason, int64_t grant, int64_t offset, int64_t length,
		     int sync)
{
	if (!cl)
		return cfs_access_audit_proc(c, NULL, action, path, result, reason, grant, offset,
					     length, sync);
	struct cfs_rowproc rp = { cl->uid, cl->user, cl->pid, cl->exe };
	return cfs_access_audit_proc(c, &rp, action, path, result, reason, grant, offset, length,
				     sync);
}

int cfs_access_audit_proc(struct cfs_ctx *c, const struct cfs_rowproc *rp, const char *action,
			  const char *path, const char *result, const char *reason, int64_t grant,
			  int64_t offset, int64_t length, int sync)
{
	struct cfs_event ev;
	struct cfs_err e = { "" };
	cfs_event_init(&ev);
	ev.host = c->host;
	if (rp) {
		ev.uid = rp->uid;
		ev.user = rp->user;
		ev.pid = rp->pid;
		ev.exe = rp->exe;
	}
	ev.action = action;
	ev.path = path;
	ev.result = result;
	ev.reason = reason;
	ev.grant_id = grant ? grant : CFS_AUDIT_NONE;
	ev.offset = offset;
	ev.length = length;
	if (!sync) {
		int rc = cfs_audit_queue(c->audit, &ev);
		if (rc < 0)
			syslog(LOG_ERR, "coachfs: audit queue refused a %s row for %s", action, path);
		return rc;
	}
	int rc = cfs_audit_append(c->audit, &ev, &e);
	if (rc < 0)
		syslog(LOG_ERR, "coachfs: AUDIT FAILURE, refusing %s of %s: %s", action, path, e.msg);
	return rc;
}
