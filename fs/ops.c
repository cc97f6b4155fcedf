/* ops.c — FUSE operations: thin glue over store, content, policy, grants and
 * audit. Owns the open-file table (one cfs_file per backing inode, shared by
 * its handles) and per-thread scratch buffers. Must never hand plaintext to
 * anything but the kernel reply, never follow a path outside the store, and
 * never serve an open it could not decide and record. */
#define FUSE_USE_VERSION 314
#include "coachfs/ops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <unistd.h>

#include "coachfs/content.h"

struct cfs_ofile {
	struct cfs_ofile *next;
	dev_t dev;
	ino_t ino;
	int refs;
	int fd;
	struct cfs_file *f;
};

struct handle {
	struct cfs_ofile *of;
	int flags;
	char *path;
};

static struct cfs_ctx *ctx_get(void)
{
	return fuse_get_context()->private_data;
}

static void log_err(const char *what, const char *path, const struct cfs_err *e)
{
	syslog(LOG_ERR, "coachfs: %s %s: %s", what, path ? path : "", e->msg);
}

static struct cfs_scratch *scratch(struct cfs_ctx *c)
{
	struct cfs_scratch *s = pthread_getspecific(c->scratch_key);
	if (!s) {
		s = calloc(1, sizeof *s);
		if (s && pthread_setspecific(c->scratch_key, s) != 0) {
			free(s);
			s = NULL;
		}
	}
	return s;
}

/* ---- open-file table ---- */

/* Take a reference on the open file behind backing fd `fd` (consumed). */
static int ofile_adopt(struct cfs_ctx *c, int fd, const char *path, struct cfs_ofile **out)
{
	struct stat st;
	struct cfs_err e = { "" };
	if (fstat(fd, &st) != 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	pthread_mutex_lock(&c->lock);
	for (struct cfs_ofile *o = c->ofiles; o; o = o->next) {
		if (o->dev == st.st_dev && o->ino == st.st_ino) {
			o->refs++;
			pthread_mutex_unlock(&c->lock);
			close(fd);
			*out = o;
			return 0;
		}
	}
	struct cfs_ofile *o = calloc(1, sizeof *o);
	int rc = o ? cfs_content_open(fd, c->keys, &o->f, &e) : -ENOMEM;
	if (rc < 0) {
		pthread_mutex_unlock(&c->lock);
		if (rc == -EIO)
			log_err("tamper", path, &e);
		free(o);
		close(fd);
		return rc;
	}
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	o->fd = fd;
	o->refs = 1;
	o->next = c->ofiles;
	c->ofiles = o;
	pthread_mutex_unlock(&c->lock);
	*out = o;
	return 0;
}

static int ofile_get(struct cfs_ctx *c, const char *path, struct cfs_ofile **out)
{
	int fd = cfs_store_openat(c->store, path, O_RDWR, 0);
	if (fd < 0)
		return fd == -ELOOP ? -EPERM : fd;
	return ofile_adopt(c, fd, path, out);
}

static void ofile_put(struct cfs_ctx *c, struct cfs_ofile *o)
{
	pthread_mutex_lock(&c->lock);
	if (--o->refs > 0) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	for (struct cfs_ofile **pp = &c->ofiles; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	cfs_content_close(o->f);
	close(o->fd);
	free(o);
}

/* ---- helpers ---- */

static int is_root(const char *path)
{
	return path[0] == '/' && path[1] == 0;
}

/* Refuse reserved names anywhere in the path. */
static int path_ok(const char *path)
{
	const char *p = path;
	int depth = 0;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchrnul(p, '/');
		char name[NAME_MAX + 1];
		size_t n = (size_t)(e - p);
		if (n > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, p, n);
		name[n] = 0;
		if (cfs_store_reserved(name, depth == 0))
			return -ENOENT;
		depth++;
		p = e;
	}
	return 0;
}

static void plain_stat(struct cfs_ctx *c, struct stat *st)
{
	if (S_ISREG(st->st_mode)) {
		off_t s = cfs_content_plain_size(st->st_size, c->keys->chunk_log2, c->keys->aead);
		st->st_size = s < 0 ? 0 : s;
	}
}

/* Parent descriptor for a path whose leaf we will act on. */
static int parent_of(struct cfs_ctx *c, const char *path, const char **leaf)
{
	int rc = path_ok(path);
	if (rc < 0)
		return rc;
	int d = cfs_store_parent(c->store, path, leaf);
	return d == -ELOOP ? -EPERM : d;
}

static void set_owner(int dirfd, const char *leaf)
{
	struct fuse_context *fc = fuse_get_context();
	if (fchownat(dirfd, leaf, fc->uid, fc->gid, AT_SYMLINK_NOFOLLOW) != 0)
		syslog(LOG_WARNING, "coachfs: chown %s: %s", leaf, strerror(errno));
}

/* ---- directory attribute sidecars ---- */

static int sidecar_path(const char *dir, char *buf, size_t len)
{
	int n = is_root(dir) ? snprintf(buf, len, "/%s", CFS_DIR_SIDECAR)
			     : snprintf(buf, len, "%s/%s", dir, CFS_DIR_SIDECAR);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Load a directory's attribute block (empty when it has none). */
static int dir_meta_load(struct cfs_ctx *c, const char *dir, unsigned char *meta, size_t *len)
{
	char p[PATH_MAX];
	struct cfs_file *f;
	struct cfs_err e = { "" };
	int rc = sidecar_path(dir, p, sizeof p);
	if (rc < 0)
		return rc;
	int fd = cfs_store_openat(c->store, p, O_RDONLY, 0);
	if (fd == -ENOENT) {
		*len = 0;
		return 0;
	}
	if (fd < 0)
		return fd == -ELOOP ? -EIO : fd;
	rc = cfs_content_open(fd, c->keys, &f, &e);
	close(fd);
	if (rc < 0) {
		log_err("tamper", p, &e);
		return -EIO;
	}
	memcpy(meta, f->meta, f->meta_len);
	*len = f->meta_len;
	cfs_content_close(f);
	return 0;
}

/* Replace a directory's attribute block atomically (temp sidecar + rename). */
static int dir_meta_store(struct cfs_ctx *c, const char *dir, const unsigned char *meta, size_t len)
{
	char tmpname[64];
	struct cfs_file *f;
	struct cfs_err e = { "" };
	int d = cfs_store_openat(c->store, dir, O_PATH | O_DIRECTORY, 0);
	if (d < 0)
		return d == -ELOOP ? -EPERM : d;
	unsigned char rnd[8];
	randombytes_buf(rnd, sizeof rnd);
	snprintf(tmpname, sizeof tmpname, ".coachfs-tmp.%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	int fd = openat(d, tmpname, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		int r = -errno;
		close(d);
		return r;
	}
	int rc = cfs_content_create(fd, c->keys, meta, len, &f, &e);
	if (rc == 0) {
		cfs_content_close(f);
		if (fsync(fd) != 0)
			rc = -errno;
	}
	close(fd);
	if (rc == 0 && renameat(d, tmpname, d, CFS_DIR_SIDECAR) != 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(d, tmpname, 0);
	close(d);
	return rc;
}

/* ---- FUSE operations ---- */

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct cfs_ctx *c = ctx_get();
	/* Every caller may see a different tree (hide_denied) and every read must
	 * reach the daemon to be decided and audited: no kernel caching. */
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	cfg->kernel_cache = 0;
	cfg->hard_remove = 1;
	cfg->nullpath_ok = 1;
	cfg->use_ino = 0;
	conn->max_write = 1 << 20;
	conn->max_read = 1 << 20;
	conn->max_readahead = 1 << 20;
	conn->want &= ~(unsigned)FUSE_CAP_SPLICE_READ;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	return c;
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	if (fi && fi->fh) {
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;
		if (fstat(h->of->fd, st) != 0)
			return -errno;
		plain_stat(c, st);
		return 0;
	}
	int rc = path_ok(path);
	if (rc < 0)
		return rc;
	rc = cfs_store_lstat(c->store, path, st);
	if (rc < 0)
		return rc == -ELOOP ? -ENOENT : rc;
	plain_stat(c, st);
	return 0;
}

static int op_readlink(const char *path, char *buf, size_t size)
{
	struct cfs_ctx *c = ctx_get();
	const char *leaf;
	if (size == 0)
		return -EINVAL;
	int d = parent_of(c, path, &leaf);
	if (d < 0)
		return d;
	ssize_t n = readlinkat(d, leaf, buf, size - 1);
	int rc = n < 0 ? -errno : 0;
	close(d);
	if (rc == 0)
		buf[n] = 0;
	return rc;
}

static int op_mknod(const char *path, mode_t mode, dev_t rdev)
{
	(void)path;
	(void)mode;
	(void)rdev;
	/* Device nodes and FIFOs have no place in an encrypted store; regular
	 * files arrive through create(). */
	return -EPERM;
}

static int op_mkdir(const char *path, mode_t mode)
{
	struct cfs_ctx *c = ctx_get();
	const char *leaf;
	int d = parent_of(c, path, &leaf);
	if (d < 0)
		return d;
	int rc = mkdirat(d, leaf, mode & 07777) == 0 ? 0 : -errno;
	if (rc == 0)
		set_owner(d, leaf);
	close(d);
	return rc;
}

static int op_unlink(const char *path)
{
	struct cfs_ctx *c = ctx_get();
	const char *leaf;
	int d = parent_of(c, path, &leaf);
	if (d < 0)
		return d;
	int rc = unlinkat(d, leaf, 0) == 0 ? 0 : -errno;
	close(d);
	return rc;
}

/* A directory is empty for the mount when it holds nothing but its sidecar. */
static int dir_empty(int dfd)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	int rc = 1;
	while ((de = readdir(dp))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, CFS_DIR_SIDECAR)) {
			rc = 0;
			break;
		}
	}
	closedir(dp);
	return rc;
}

static int op_rmdir(const char *path)
{
	struct cfs_ctx *c = ctx_get();
	const char *leaf;
	int d = parent_of(c, path, &leaf);
	if (d < 0)
		return d;
	int rc;
	int dd = openat(d, leaf, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dd < 0) {
		rc = -errno;
	} else {
		rc = dir_empty(dd);
		if (rc == 1) {
			if (unlinkat(dd, CFS_DIR_SIDECAR, 0) != 0 && errno != ENOENT)
				rc = -errno;
			else
				rc = unlinkat(d, leaf, AT_REMOVEDIR) == 0 ? 0 : -errno;
		} else if (rc == 0) {
			rc = -ENOTEMPTY;
		}
		close(dd);
	}
	close(d);
	return rc;
}

static int op_symlink(const char *target, const char *path)
{
	struct cfs_ctx *c = ctx_get();
	const char *leaf;
	int d = parent_of(c, path, &leaf);
	if (d < 0)
		return d;
	int rc = symlinkat(target, d, leaf) == 0 ? 0 : -errno;
	if (rc == 0)
		set_owner(d, leaf);
	close(d);
	return rc;
}

static int op_rename(const char *from, const char *to, unsigned int flags)
{
	struct cfs_ctx *c = ctx_get();
	const char *l1, *l2;
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	int d1 = parent_of(c, from, &l1);
	if (d1 < 0)
		return d1;
	int d2 = parent_of(c, to, &l2);
	if (d2 < 0) {
		close(d1);
		return d2;
	}
	int rc = renameat2(d1, l1, d2, l2, flags) == 0 ? 0 : -errno;
	close(d1);
	close(d2);
	return rc;
}

static int op_link(const char *from, const char *to)
{
	(void)from;
	(void)to;
	/* One ciphertext under two names could resolve to two classes. */
	return -EPERM;
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	if (fi && fi->fh) {
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;
		return fchmod(h->of->fd, mode & 07777) == 0 ? 0 : -errno;
	}
	int rc = path_ok(path);
	if (rc < 0)
		return rc;
	int fd = cfs_store_openat(c->store, path, O_PATH, 0);
	if (fd < 0)
		return fd == -ELOOP ? -EOPNOTSUPP : fd;
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	rc = chmod(p, mode & 07777) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	if (fi && fi->fh) {
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;
		return fchown(h->of->fd, uid, gid) == 0 ? 0 : -errno;
	}
	const char *leaf;
	int d = is_root(path) ? cfs_store_openat(c->store, "/", O_PATH | O_DIRECTORY, 0)
			      : parent_of(c, path, &leaf);
	if (d < 0)
		return d;
	int rc = fchownat(d, is_root(path) ? "" : leaf, uid, gid,
			  is_root(path) ? AT_EMPTY_PATH : AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
	close(d);
	return rc;
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	struct cfs_ofile *of;
	struct cfs_err e = { "" };
	int rc, own = 0;
	if (fi && fi->fh) {
		of = ((struct handle *)(uintptr_t)fi->fh)->of;
	} else {
		rc = path_ok(path);
		if (rc < 0)
			return rc;
		rc = ofile_get(c, path, &of);
		if (rc < 0)
			return rc;
		own = 1;
	}
	struct cfs_scratch *s = scratch(c);
	if (!s)
		rc = -ENOMEM;
	else {
		pthread_rwlock_wrlock(&of->f->lock);
		rc = cfs_content_truncate(of->f, size, s, &e);
		pthread_rwlock_unlock(&of->f->lock);
		if (rc == -EIO)
			log_err("tamper", path, &e);
	}
	if (own)
		ofile_put(c, of);
	return rc;
}

static int handle_new(struct cfs_ofile *of, const char *path, int flags, struct fuse_file_info *fi)
{
	struct handle *h = calloc(1, sizeof *h);
	if (!h || !(h->path = strdup(path ? path : ""))) {
		free(h);
		return -ENOMEM;
	}
	h->of = of;
	h->flags = flags;
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	return 0;
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	struct cfs_ofile *of;
	int rc = path_ok(path);
	if (rc < 0)
		return rc;
	rc = ofile_get(c, path, &of);
	if (rc < 0)
		return rc;
	if (fi->flags & O_TRUNC) {
		struct cfs_err e = { "" };
		struct cfs_scratch *s = scratch(c);
		pthread_rwlock_wrlock(&of->f->lock);
		rc = s ? cfs_content_truncate(of->f, 0, s, &e) : -ENOMEM;
		pthread_rwlock_unlock(&of->f->lock);
	}
	if (rc == 0)
		rc = handle_new(of, path, fi->flags, fi);
	if (rc < 0)
		ofile_put(c, of);
	return rc;
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	struct cfs_err e = { "" };
	const char *leaf;
	struct cfs_file *f;
	char tmpname[64];
	if (!S_ISREG(mode) && (mode & S_IFMT))
		return -EPERM;
	int d = parent_of(c, path, &leaf);
	if (d < 0)
		return d;
	/* Build the file under a temporary name, then link it in atomically:
	 * a crash never leaves a half-written header under the real name. */
	unsigned char rnd[8];
	randombytes_buf(rnd, sizeof rnd);
	snprintf(tmpname, sizeof tmpname, ".coachfs-tmp.%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	int fd = openat(d, tmpname, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		int r = -errno;
		close(d);
		return r;
	}
	struct fuse_context *fc = fuse_get_context();
	int rc = 0;
	if (fchown(fd, fc->uid, fc->gid) != 0 || fchmod(fd, mode & 07777) != 0)
		rc = -errno;
	if (rc == 0)
		rc = cfs_content_create(fd, c->keys, NULL, 0, &f, &e);
	if (rc == 0) {
		cfs_content_close(f);
		if (renameat2(d, tmpname, d, leaf, (fi->flags & O_EXCL) ? RENAME_NOREPLACE : 0) != 0)
			rc = -errno;
	}
	if (rc < 0) {
		unlinkat(d, tmpname, 0);
		close(fd);
		close(d);
		return rc;
	}
	close(d);
	struct cfs_ofile *of;
	rc = ofile_adopt(c, fd, path, &of);
	if (rc < 0)
		return rc;
	rc = handle_new(of, path, fi->flags, fi);
	if (rc < 0)
		ofile_put(c, of);
	return rc;
}

static int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	struct cfs_err e = { "" };
	struct cfs_scratch *s = scratch(c);
	(void)path;
	if (!s)
		return -ENOMEM;
	pthread_rwlock_rdlock(&h->of->f->lock);
	ssize_t n = cfs_content_read(h->of->f, buf, size, off, s, &e);
	pthread_rwlock_unlock(&h->of->f->lock);
	if (n == -EIO)
		log_err("tamper", h->path, &e);
	return (int)n;
}

static int op_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	struct cfs_err e = { "" };
	struct cfs_scratch *s = scratch(c);
	(void)path;
	if (!s)
		return -ENOMEM;
	pthread_rwlock_wrlock(&h->of->f->lock);
	if (h->flags & O_APPEND) {
		off_t sz;
		int rc = cfs_content_size(h->of->f, &sz);
		if (rc < 0) {
			pthread_rwlock_unlock(&h->of->f->lock);
			return rc;
		}
		off = sz;
	}
	ssize_t n = cfs_content_write(h->of->f, buf, size, off, s, &e);
	pthread_rwlock_unlock(&h->of->f->lock);
	if (n == -EIO)
		log_err("tamper", h->path, &e);
	return (int)n;
}

static int op_statfs(const char *path, struct statvfs *st)
{
	struct cfs_ctx *c = ctx_get();
	(void)path;
	return fstatvfs(c->store->root, st) == 0 ? 0 : -errno;
}

static int op_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	(void)fi;
	return 0; /* nothing is buffered in the daemon */
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	(void)path;
	ofile_put(c, h->of);
	free(h->path);
	free(h);
	return 0;
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	(void)path;
	int r = datasync ? fdatasync(h->of->fd) : fsync(h->of->fd);
	return r == 0 ? 0 : -errno;
}

/* ---- extended attributes: user.* only, stored encrypted ---- */

static int xattr_name_ok(const char *name)
{
	if (strncmp(name, "user.", 5) != 0)
		return -EOPNOTSUPP;
	if (strlen(name) > 255 || name[5] == 0)
		return -ERANGE;
	return 0;
}

/* Load the attribute block of a path (file header or directory sidecar). */
static int meta_load(struct cfs_ctx *c, const char *path, unsigned char *meta, size_t *len)
{
	struct stat st;
	int rc = path_ok(path);
	if (rc < 0)
		return rc;
	rc = cfs_store_lstat(c->store, path, &st);
	if (rc < 0)
		return rc;
	if (S_ISDIR(st.st_mode))
		return dir_meta_load(c, path, meta, len);
	if (!S_ISREG(st.st_mode))
		return -EOPNOTSUPP;
	struct cfs_ofile *of;
	rc = ofile_get(c, path, &of);
	if (rc < 0)
		return rc;
	pthread_rwlock_rdlock(&of->f->lock);
	memcpy(meta, of->f->meta, of->f->meta_len);
	*len = of->f->meta_len;
	pthread_rwlock_unlock(&of->f->lock);
	ofile_put(c, of);
	return 0;
}

/* Apply fn to the attribute block of path and store it back. */
static int meta_update(struct cfs_ctx *c, const char *path,
		       int (*fn)(unsigned char *meta, size_t *len, void *arg), void *arg)
{
	struct stat st;
	unsigned char meta[CFS_META_MAX];
	size_t len;
	struct cfs_err e = { "" };
	int rc = path_ok(path);
	if (rc < 0)
		return rc;
	rc = cfs_store_lstat(c->store, path, &st);
	if (rc < 0)
		return rc;
	if (S_ISDIR(st.st_mode)) {
		pthread_mutex_lock(&c->lock); /* one sidecar writer at a time */
		rc = dir_meta_load(c, path, meta, &len);
		if (rc == 0)
			rc = fn(meta, &len, arg);
		if (rc == 0)
			rc = dir_meta_store(c, path, meta, len);
		pthread_mutex_unlock(&c->lock);
		return rc;
	}
	if (!S_ISREG(st.st_mode))
		return -EOPNOTSUPP;
	struct cfs_ofile *of;
	rc = ofile_get(c, path, &of);
	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&of->f->lock);
	len = of->f->meta_len;
	memcpy(meta, of->f->meta, len);
	rc = fn(meta, &len, arg);
	if (rc == 0)
		rc = cfs_content_set_meta(of->f, meta, len, &e);
	pthread_rwlock_unlock(&of->f->lock);
	ofile_put(c, of);
	return rc;
}

struct xset {
	const char *name;
	const char *value;
	size_t size;
	int flags;
};

static int xset_fn(unsigned char *meta, size_t *len, void *arg)
{
	struct xset *x = arg;
	const unsigned char *v;
	size_t vl;
	int have = cfs_meta_get(meta, *len, x->name, &v, &vl) == 0;
	if ((x->flags & XATTR_CREATE) && have)
		return -EEXIST;
	if ((x->flags & XATTR_REPLACE) && !have)
		return -ENODATA;
	int rc = cfs_meta_set(meta, len, CFS_META_MAX, x->name, x->value, x->size);
	return rc == -ENOSPC ? -ENOSPC : rc;
}

static int xdel_fn(unsigned char *meta, size_t *len, void *arg)
{
	return cfs_meta_remove(meta, len, arg);
}

static int op_setxattr(const char *path, const char *name, const char *value, size_t size, int flags)
{
	struct cfs_ctx *c = ctx_get();
	int rc = xattr_name_ok(name);
	if (rc < 0)
		return rc;
	struct xset x = { name, value, size, flags };
	return meta_update(c, path, xset_fn, &x);
}

static int op_getxattr(const char *path, const char *name, char *value, size_t size)
{
	struct cfs_ctx *c = ctx_get();
	unsigned char meta[CFS_META_MAX];
	size_t len;
	const unsigned char *v;
	size_t vl;
	int rc = xattr_name_ok(name);
	if (rc < 0)
		return rc == -EOPNOTSUPP ? -ENODATA : rc;
	rc = meta_load(c, path, meta, &len);
	if (rc < 0)
		return rc == -EOPNOTSUPP ? -ENODATA : rc;
	rc = cfs_meta_get(meta, len, name, &v, &vl);
	if (rc < 0)
		return rc;
	if (size == 0)
		return (int)vl;
	if (vl > size)
		return -ERANGE;
	memcpy(value, v, vl);
	return (int)vl;
}

static int op_listxattr(const char *path, char *list, size_t size)
{
	struct cfs_ctx *c = ctx_get();
	unsigned char meta[CFS_META_MAX];
	size_t len;
	int rc = meta_load(c, path, meta, &len);
	if (rc == -EOPNOTSUPP)
		return 0;
	if (rc < 0)
		return rc;
	ssize_t need = cfs_meta_list(meta, len, size ? list : NULL, size);
	if (need < 0)
		return (int)need;
	if (size && (size_t)need > size)
		return -ERANGE;
	return (int)need;
}

static int op_removexattr(const char *path, const char *name)
{
	struct cfs_ctx *c = ctx_get();
	int rc = xattr_name_ok(name);
	if (rc < 0)
		return rc;
	return meta_update(c, path, xdel_fn, (void *)name);
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct cfs_ctx *c = ctx_get();
	(void)off;
	(void)fi;
	(void)flags;
	int rc = path_ok(path);
	if (rc < 0)
		return rc;
	int fd = cfs_store_openat(c->store, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd == -ELOOP ? -EPERM : fd;
	DIR *dp = fdopendir(fd);
	if (!dp) {
		rc = -errno;
		close(fd);
		return rc;
	}
	struct dirent *de;
	int root = is_root(path);
	while ((de = readdir(dp))) {
		if (cfs_store_reserved(de->d_name, root))
			continue;
		struct stat st;
		memset(&st, 0, sizeof st);
		st.st_ino = de->d_ino;
		st.st_mode = (mode_t)DTTOIF(de->d_type);
		if (filler(buf, de->d_name, &st, 0, 0))
			break;
	}
	closedir(dp);
	return 0;
}

static int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	if (fi && fi->fh) {
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;
		return futimens(h->of->fd, tv) == 0 ? 0 : -errno;
	}
	if (is_root(path)) {
		int d = cfs_store_openat(c->store, "/", O_RDONLY | O_DIRECTORY, 0);
		if (d < 0)
			return d;
		int rc = futimens(d, tv) == 0 ? 0 : -errno;
		close(d);
		return rc;
	}
	const char *leaf;
	int d = parent_of(c, path, &leaf);
	if (d < 0)
		return d;
	int rc = utimensat(d, leaf, tv, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
	close(d);
	return rc;
}

static const struct fuse_operations cfs_ops = {
	.init = op_init,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.chmod = op_chmod,
	.chown = op_chown,
	.truncate = op_truncate,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.statfs = op_statfs,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.readdir = op_readdir,
	.create = op_create,
	.utimens = op_utimens,
};

const void *cfs_fuse_ops(void)
{
	return &cfs_ops;
}

size_t cfs_fuse_ops_size(void)
{
	return sizeof cfs_ops;
}
