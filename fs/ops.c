/* ops.c — the FUSE operation table and the daemon-wide glue: the context
 * and per-thread scratch, path checks, who the caller is, init, getattr,
 * readlink, statfs and destroy. The other FUSE concerns live in ops_*.c
 * (open-file table, decisions, page cache, entries, rename, file data,
 * xattrs, /.links); ops_int.h is what they share. All of them are thin
 * glue: verdicts come from policy.c, bytes from content.c, rows go to
 * audit. They must never hand plaintext to anything but the kernel reply,
 * never follow a path outside the store, and never serve an open they could
 * not decide and record. */
#include "ops_int.h"

struct cfs_ctx *cfs_op_ctx_get(void)
{
	return fuse_get_context()->private_data;
}

void cfs_op_log_err(const char *what, const char *path, const struct cfs_err *e)
{
	syslog(LOG_ERR, "coachfs: %s %s: %s", what, path ? path : "", e->msg);
}

struct cfs_scratch *cfs_op_scratch(struct cfs_ctx *c)
{
	struct cfs_scratch *s = pthread_getspecific(c->scratch_key);
	if (!s) {
		s = calloc(1, sizeof *s);
		if (s && pthread_setspecific(c->scratch_key, s) != 0) {
			free(s);
			s = NULL;
		}
		if (s) {
			s->par = c->workers;
			s->shells = c->shells;
		}
	}
	return s;
}

/* ---- helpers ---- */

int cfs_op_is_root(const char *path)
{
	return path && path[0] == '/' && path[1] == 0;
}

/* Refuse reserved names anywhere in the path. */
int cfs_op_path_ok(const char *path)
{
	const char *p = path;
	if (!path)
		return -ENOENT; /* nullpath_ok: an unlinked entry without a handle */
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

/* The backing entry of a mount path, as the caller sees it: a checked
 * path, lstat'ed, a planted symbolic link in the way answering ENOENT. */
int cfs_op_lstat(struct cfs_ctx *c, const char *path, struct stat *st)
{
	int rc = cfs_op_path_ok(path);
	if (rc == 0)
		rc = cfs_store_lstat(c->store, path, st);
	return rc == -ELOOP ? -ENOENT : rc;
}

void cfs_op_plain_stat(struct cfs_ctx *c, struct stat *st)
{
	if (S_ISREG(st->st_mode)) {
		off_t s = cfs_content_plain_size(st->st_size, c->keys->chunk_log2, c->keys->aead);
		st->st_size = s < 0 ? 0 : s;
	}
}

/* Parent descriptor for a path whose leaf we will act on. */
int cfs_op_parent_of(struct cfs_ctx *c, const char *path, const char **leaf)
{
	int rc = cfs_op_path_ok(path);
	if (rc < 0)
		return rc;
	int d = cfs_store_parent(c->store, path, leaf);
	return d == -ELOOP ? -EPERM : d;
}

void cfs_op_set_owner(int dirfd, const char *leaf)
{
	struct fuse_context *fc = fuse_get_context();
	if (fchownat(dirfd, leaf, fc->uid, fc->gid, AT_SYMLINK_NOFOLLOW) != 0)
		syslog(LOG_WARNING, "coachfs: chown %s: %s", leaf, strerror(errno));
}

/* ---- callers ---- */

int64_t cfs_op_now_ms(void)
{
	return cfs_now_us() / 1000;
}

/* The caller of the current request (heap: a caller carries a PATH_MAX exe).
 * full = 0: ids, groups and roles only, for visibility checks (never audited);
 * full = -1: the same without the supplementary groups (see visible_to). */
struct cfs_caller *cfs_op_who_as(struct cfs_ctx *c, int full)
{
	struct fuse_context *fc = fuse_get_context();
	gid_t groups[CFS_GROUPS_MAX];
	pid_t tgid = 0, ppid = 0;
	int n = 0;
	/* one read of /proc/TID/status (what fuse_getgroups reads) gives the
	 * groups, the thread group and its parent */
	if (full >= 0 && cfs_proc_status(fc->pid, &tgid, &ppid, groups, CFS_GROUPS_MAX, &n) < 0)
		n = 0, tgid = 0, ppid = 0;
	if (full < 0)
		full = 0;
	struct cfs_caller *cl = malloc(sizeof *cl);
	if (!cl)
		return NULL;
	if (cfs_access_caller(c, fc->uid, fc->gid, fc->pid, tgid, ppid, groups, n, full, cl) < 0) {
		free(cl);
		return NULL;
	}
	return cl;
}

struct cfs_caller *cfs_op_who(struct cfs_ctx *c)
{
	return cfs_op_who_as(c, 1);
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	/* Every caller may see a different tree (hide_denied) and every read must
	 * reach the daemon to be decided and audited: no caching of entries or
	 * data, so every path walk LOOKUPs each name for its caller and every
	 * read is a READ. Attributes alone may be kept for a second (as
	 * gocryptfs does): they are only ever reached through a dentry that was
	 * just looked up for the same caller, or an open file, so the cache
	 * serves nobody what their own LOOKUP would refuse. It spares the
	 * GETATTRs the kernel sends for default_permissions after each LOOKUP
	 * (an open+close is 3 requests instead of 5). A change made through the
	 * mount invalidates them; one made on another host that shares the
	 * store shows within the second. */
	/* With hide_denied = no every caller sees the same names, so names may be
	 * kept for a second too (gocryptfs's entry timeout): an open still
	 * reaches the daemon and is decided for its caller, whoever looked the
	 * name up, and names under /.links reveal nothing to anyone who does
	 * not already hold the token. With hide_denied = yes a name one caller
	 * may see must never serve another's path walk. */
	cfg->entry_timeout = c->cfg->hide_denied ? 0 : 1.0;
	cfg->attr_timeout = 1.0;
	cfg->negative_timeout = 0;
	cfg->direct_io = 0;   /* chosen per open: handle_new */
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
	/* Without the watcher no page may be cached: every open is direct_io. */
	if (cfs_op_cwatch_start(c, fuse_get_context()->fuse) < 0)
		syslog(LOG_WARNING, "coachfs: no page-cache watcher: every read goes through the daemon");
	return c;
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	if (fi && fi->fh) {
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;
		if (fstat(h->of->fd, st) != 0)
			return -errno;
		cfs_op_plain_stat(c, st);
		return 0;
	}
	const char *token;
	int lk = cfs_op_link_path(path, &token);
	if (lk)
		return cfs_op_link_getattr(c, lk, token, st);
	int rc = cfs_op_lstat(c, path, st);
	if (rc < 0)
		return rc;
	if (c->cfg->hide_denied && !cfs_op_is_root(path)) {
		struct seer w = { NULL, 0 };
		rc = cfs_op_visible_to(c, &w, path, st);
		free(w.cl);
		if (rc < 0)
			return rc;
	}
	cfs_op_plain_stat(c, st);
	return 0;
}

static int op_readlink(const char *path, char *buf, size_t size)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	const char *leaf;
	if (size == 0)
		return -EINVAL;
	int rc = cfs_op_see(c, path);
	if (rc < 0)
		return rc;
	int d = cfs_op_parent_of(c, path, &leaf);
	if (d < 0)
		return d;
	ssize_t n = readlinkat(d, leaf, buf, size - 1);
	rc = n < 0 ? -errno : 0;
	close(d);
	if (rc < 0)
		return rc;
	buf[n] = 0;
	if (cfs_store_link_ok(path, buf) < 0) {
		/* the mount never makes such a link: it was planted in the store */
		cfs_op_record(c, CFS_ACT_TAMPER, path, "error", "symlink in the store points outside the mount");
		return -EIO;
	}
	return 0;
}

static int op_statfs(const char *path, struct statvfs *st)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	(void)path;
	return fstatvfs(c->store->root, st) == 0 ? 0 : -errno;
}

static void op_destroy(void *private_data)
{
	cfs_op_cwatch_stop(private_data);
	cfs_access_free(private_data);
}

static const struct fuse_operations cfs_ops = {
	.init = op_init,
	.destroy = op_destroy,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.mknod = cfs_op_mknod,
	.mkdir = cfs_op_mkdir,
	.unlink = cfs_op_unlink,
	.rmdir = cfs_op_rmdir,
	.symlink = cfs_op_symlink,
	.rename = cfs_op_rename,
	.link = cfs_op_link,
	.chmod = cfs_op_chmod,
	.chown = cfs_op_chown,
	.truncate = cfs_op_truncate,
	.open = cfs_op_open,
	.read = cfs_op_read,
	.write = cfs_op_write,
	.statfs = op_statfs,
	/* No .flush: nothing is buffered in the daemon, and without one libfuse
	 * answers ENOSYS once, after which the kernel stops sending FLUSH on
	 * every close (one FUSE round trip less per close). */
	.release = cfs_op_release,
	.fsync = cfs_op_fsync,
	.setxattr = cfs_op_setxattr,
	.getxattr = cfs_op_getxattr,
	.listxattr = cfs_op_listxattr,
	.removexattr = cfs_op_removexattr,
	.opendir = cfs_op_opendir,
	.readdir = cfs_op_readdir,
	.releasedir = cfs_op_releasedir,
	.create = cfs_op_create,
	.utimens = cfs_op_utimens,
	.copy_file_range = cfs_op_copy_file_range,
};

const void *cfs_fuse_ops(void)
{
	return &cfs_ops;
}

size_t cfs_fuse_ops_size(void)
{
	return sizeof cfs_ops;
}
