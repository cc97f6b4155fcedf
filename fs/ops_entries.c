/* ops_entries.c — creating and removing names: mknod, mkdir, unlink,
 * rmdir, symlink, link, chmod, chown, utimens, and directory listing. Each is
 * decided (ops_decide.c) and recorded before it touches the store; it must
 * never replace or reveal an entry its caller may not see. */
#include "ops_int.h"

int cfs_op_mknod(const char *path, mode_t mode, dev_t rdev)
{
	(void)path;
	(void)mode;
	(void)rdev;
	/* Device nodes and FIFOs have no place in an encrypted store; regular
	 * files arrive through create(). */
	return -EPERM;
}

/* May the caller create an entry at path (decided on the parent's policy)? */
int cfs_op_may_create(struct cfs_ctx *c, struct cfs_caller *cl, const char *path, enum cfs_action action,
		      struct cfs_eff *e, struct cfs_decision *d)
{
	int rc = cfs_eff_resolve(c, path, NULL, 0, e);
	if (rc < 0)
		return rc;
	cfs_access_decide(c, cl, e, path, CFS_OP_WRITE, 0, 0, d);
	if (d->verdict == CFS_DENY) {
		cfs_access_audit(c, cl, action, path, "deny", d->reason, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
		return -EACCES;
	}
	return 0;
}

int cfs_op_mkdir(const char *path, mode_t mode)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	const char *leaf;
	struct cfs_decision d;
	struct cfs_caller *cl = cfs_op_who(c);
	struct cfs_eff *e = malloc(sizeof *e);
	int rc = cl && e ? 0 : -ENOMEM;
	int dfd = -1;
	if (rc == 0)
		rc = cfs_op_path_ok(path);
	if (rc == 0)
		rc = cfs_op_may_create(c, cl, path, CFS_ACT_CREATE, e, &d);
	if (rc == 0)
		rc = cfs_op_name_free(c, cl, path, CFS_ACT_CREATE);
	if (rc == 0 && (dfd = cfs_op_parent_of(c, path, &leaf)) < 0)
		rc = dfd;
	/* A process that read a higher class cannot make a lower folder. */
	int r = -1;
	if (rc == 0) {
		struct cfs_lineage lin;
		cfs_lineage_init(&lin, cl);
		r = cfs_access_max_read(c, &lin, e->class_rank);
	}
	if (rc == 0) {
		char why[300];
		snprintf(why, sizeof why, "directory; %.200s; class %s", d.reason,
			 c->cfg->classes[r > e->class_rank && r < c->cfg->nclasses ? r : e->class_rank].name);
		if (cfs_access_audit(c, cl, CFS_ACT_CREATE, path, cfs_op_verdict_word(d.verdict), why, d.grant_id,
				     CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1) < 0)
			rc = -EACCES; /* not recorded: refused (fail closed) */
	}
	if (rc == 0) {
		/* made whole under a temporary name with its sidecar (its id, and the
		 * derived class: an unclassified folder would be a downgrade) */
		unsigned char meta[CFS_META_MAX];
		size_t len = 0;
		struct cfs_err err = { "" };
		if (r > e->class_rank && r < c->cfg->nclasses) {
			const char *name = c->cfg->classes[r].name;
			rc = cfs_meta_set(meta, &len, sizeof meta, CFS_XATTR_PREFIX "class", name, strlen(name));
		}
		if (rc == 0 && (rc = cfs_dir_create(c, dfd, leaf, e->dir_id, meta, len, mode, &err)) < 0)
			cfs_op_log_err("mkdir", path, &err);
		if (rc < 0)
			cfs_op_record_failed(c, cl, CFS_ACT_CREATE, path, rc);
		if (rc == -EEXIST) /* made since the check: EEXIST only if the caller may see it */
			rc = cfs_op_name_free(c, cl, path, CFS_ACT_CREATE) == -EEXIST ? -EEXIST : -EACCES;
	}
	if (rc == 0)
		cfs_op_set_owner(dfd, leaf);
	if (dfd >= 0)
		close(dfd);
	free(cl);
	free(e);
	return rc;
}

/* The decision shared by unlink and rmdir: the entry is visible, exists,
 * and may_remove admits its caller. 0 with *clp (the caller, for the
 * caller to free) and *dec, or -errno (nothing to free). */
static int decide_removal(struct cfs_ctx *c, const char *path, const char *what,
			  struct cfs_caller **clp, struct cfs_decision *dec)
{
	struct stat st;
	int rc = cfs_op_see(c, path);
	if (rc == 0)
		rc = cfs_store_lstat(c->store, path, &st);
	if (rc < 0)
		return rc == -ELOOP ? -ENOENT : rc;
	struct cfs_caller *cl = cfs_op_who(c);
	if (!cl)
		return -ENOMEM;
	rc = cfs_op_may_remove(c, cl, path, &st, CFS_ACT_UNLINK, what, dec);
	if (rc < 0) {
		free(cl);
		return rc;
	}
	*clp = cl;
	return 0;
}

int cfs_op_unlink(const char *path)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	const char *leaf;
	struct cfs_decision dec;
	struct cfs_caller *cl = NULL;
	int rc = decide_removal(c, path, "remove", &cl, &dec);
	if (rc < 0)
		return rc;
	int d = cfs_op_parent_of(c, path, &leaf);
	if (d < 0)
		rc = d;
	if (rc == 0) {
		char why[300];
		snprintf(why, sizeof why, "removed; %.250s", dec.reason);
		if (cfs_access_audit(c, cl, CFS_ACT_UNLINK, path, "allow", why, dec.grant_id, CFS_AUDIT_NONE,
				     CFS_AUDIT_NONE, 1) < 0)
			rc = -EIO;
	}
	if (rc == 0 && unlinkat(d, leaf, 0) != 0) {
		rc = -errno;
		cfs_op_record_failed(c, cl, CFS_ACT_UNLINK, path, rc);
	}
	if (d >= 0)
		close(d);
	free(cl);
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

int cfs_op_rmdir(const char *path)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	const char *leaf;
	struct cfs_decision dec;
	struct cfs_caller *cl = NULL;
	int rc = decide_removal(c, path, "remove directory", &cl, &dec);
	if (rc < 0)
		return rc;
	free(cl);
	int d = cfs_op_parent_of(c, path, &leaf);
	if (d < 0)
		return d;
	int dd = openat(d, leaf, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dd < 0) {
		rc = -errno;
	} else {
		rc = dir_empty(dd);
		if (rc == 1 && cfs_op_record(c, CFS_ACT_UNLINK, path, "allow", "directory removed") < 0) {
			rc = -EIO;
		} else if (rc == 1) {
			/* out of the tree's view first (a temporary name), then its
			 * sidecar, then itself: a crash never leaves a directory
			 * without its sidecar under its name */
			char tmp[64];
			rc = cfs_store_tmpname(tmp, sizeof tmp);
			if (rc == 0 && renameat2(d, leaf, d, tmp, RENAME_NOREPLACE) != 0)
				rc = -errno;
			if (rc == 0 && unlinkat(dd, CFS_DIR_SIDECAR, 0) != 0 && errno != ENOENT)
				rc = -errno;
			if (rc == 0 && unlinkat(d, tmp, AT_REMOVEDIR) != 0)
				rc = -errno;
			if (rc < 0)
				cfs_op_record_failed(c, NULL, CFS_ACT_UNLINK, path, rc);
		} else if (rc == 0) {
			rc = -ENOTEMPTY;
		}
		close(dd);
	}
	close(d);
	return rc;
}

/* The mount path a relative link target names (cfs_store_link_ok has
 * checked it stays inside the mount): the link's directory, minus one
 * component per leading "..", plus the named components. */
static void link_target_path(const char *link, const char *target, char *out, size_t n)
{
	size_t len = cfs_strlcpy(out, link, n);
	if (len >= n) {
		cfs_strlcpy(out, "(too long)", n);
		return;
	}
	char *slash = strrchr(out, '/');
	*(slash ? slash : out) = 0;                /* the link's directory ("" = root) */
	len = strlen(out);
	for (const char *p = target; *p;) {
		const char *e = strchrnul(p, '/');
		size_t k = (size_t)(e - p);
		if (k == 2 && p[0] == '.' && p[1] == '.') {
			char *up = strrchr(out, '/');
			len = up ? (size_t)(up - out) : 0;
			out[len] = 0;
		} else if (k > 0 && !(k == 1 && p[0] == '.')) {
			if (len + 1 + k >= n) {
				cfs_strlcpy(out, "(too long)", n);
				return;
			}
			out[len++] = '/';
			memcpy(out + len, p, k);
			out[len += k] = 0;
		}
		p = *e ? e + 1 : e;
	}
	if (!out[0])
		cfs_strlcpy(out, "/", n);
}

/* A symbolic link is made like any other entry: write rights where it is
 * made, and a create row naming (mount-relative) what it points at. */
int cfs_op_symlink(const char *target, const char *path)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	const char *leaf;
	struct cfs_decision dec;
	if (cfs_store_link_ok(path, target) < 0)
		return -EPERM; /* a shared link must not send another user outside the mount */
	struct cfs_caller *cl = cfs_op_who(c);
	struct cfs_eff *e = malloc(sizeof *e);
	int rc = cl && e ? cfs_op_path_ok(path) : -ENOMEM;
	int d = -1;
	if (rc == 0)
		rc = cfs_op_may_create(c, cl, path, CFS_ACT_CREATE, e, &dec);
	if (rc == 0)
		rc = cfs_op_name_free(c, cl, path, CFS_ACT_CREATE);
	if (rc == 0 && (d = cfs_op_parent_of(c, path, &leaf)) < 0)
		rc = d;
	if (rc == 0) {
		char to[PATH_MAX], why[600];
		link_target_path(path, target, to, sizeof to);
		snprintf(why, sizeof why, "symbolic link to %.250s; %.250s", to, dec.reason);
		if (cfs_access_audit(c, cl, CFS_ACT_CREATE, path, cfs_op_verdict_word(dec.verdict), why, dec.grant_id,
				     CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1) < 0)
			rc = -EACCES; /* not recorded: refused (fail closed) */
	}
	if (rc == 0) {
		rc = symlinkat(target, d, leaf) == 0 ? 0 : -errno;
		if (rc < 0)
			cfs_op_record_failed(c, cl, CFS_ACT_CREATE, path, rc);
		if (rc == -EEXIST)
			rc = cfs_op_name_free(c, cl, path, CFS_ACT_CREATE) == -EEXIST ? -EEXIST : -EACCES;
	}
	if (rc == 0)
		cfs_op_set_owner(d, leaf);
	if (d >= 0)
		close(d);
	free(cl);
	free(e);
	return rc;
}

int cfs_op_link(const char *from, const char *to)
{
	(void)from;
	(void)to;
	/* One ciphertext under two names could resolve to two classes. */
	return -EPERM;
}

int cfs_op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	if (fi && fi->fh) {
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;
		return fchmod(h->of->fd, mode & 07777) == 0 ? 0 : -errno;
	}
	int rc = cfs_op_see(c, path);
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

int cfs_op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	if (fi && fi->fh) {
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;
		return fchown(h->of->fd, uid, gid) == 0 ? 0 : -errno;
	}
	int rc = cfs_op_see(c, path);
	if (rc < 0)
		return rc;
	const char *leaf;
	int d = cfs_op_is_root(path) ? cfs_store_openat(c->store, "/", O_PATH | O_DIRECTORY, 0)
			      : cfs_op_parent_of(c, path, &leaf);
	if (d < 0)
		return d;
	rc = fchownat(d, cfs_op_is_root(path) ? "" : leaf, uid, gid,
		      cfs_op_is_root(path) ? AT_EMPTY_PATH : AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
	close(d);
	return rc;
}

/* With nullpath_ok libfuse calls readdir without a path: opendir keeps it. */
int cfs_op_opendir(const char *path, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	int rc = cfs_op_see(c, path);
	if (rc < 0)
		return rc;
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	fi->fh = (uint64_t)(uintptr_t)p;
	return 0;
}

int cfs_op_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	free((char *)(uintptr_t)fi->fh);
	fi->fh = 0;
	return 0;
}

int cfs_op_readdir(const char *path_arg, void *buf, fuse_fill_dir_t filler, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	const char *path = fi && fi->fh ? (const char *)(uintptr_t)fi->fh : path_arg;
	(void)off;
	(void)flags;
	const char *token;
	if (cfs_op_link_path(path, &token))
		return -EACCES; /* links are never listed */
	int rc = cfs_op_see(c, path);
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
	struct seer w = { NULL, 0 };
	struct dirent *de;
	int root = cfs_op_is_root(path);
	char child[PATH_MAX];
	while ((de = readdir(dp))) {
		if (cfs_store_reserved(de->d_name, root))
			continue;
		struct stat st;
		memset(&st, 0, sizeof st);
		if (c->cfg->hide_denied && strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			if ((size_t)snprintf(child, sizeof child, "%s/%s", root ? "" : path, de->d_name) >=
			    sizeof child)
				continue;
			if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
			    cfs_op_visible_to(c, &w, child, &st) != 0)
				continue;
		}
		st.st_ino = de->d_ino;
		st.st_mode = (mode_t)DTTOIF(de->d_type);
		if (filler(buf, de->d_name, &st, 0, 0))
			break;
	}
	free(w.cl);
	closedir(dp);
	return 0;
}

int cfs_op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	if (fi && fi->fh) {
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;
		return futimens(h->of->fd, tv) == 0 ? 0 : -errno;
	}
	int rc = cfs_op_see(c, path);
	if (rc < 0)
		return rc;
	if (cfs_op_is_root(path)) {
		int d = cfs_store_openat(c->store, "/", O_RDONLY | O_DIRECTORY, 0);
		if (d < 0)
			return d;
		rc = futimens(d, tv) == 0 ? 0 : -errno;
		close(d);
		return rc;
	}
	const char *leaf;
	int d = cfs_op_parent_of(c, path, &leaf);
	if (d < 0)
		return d;
	rc = utimensat(d, leaf, tv, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
	close(d);
	return rc;
}
