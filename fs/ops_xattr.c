/* ops_xattr.c — extended attributes: user.* only, stored encrypted in the
 * header; user.coachfs.* are policy, changed only by admins and audited. It
 * must never store an attribute outside the encrypted header. */
#include "ops_int.h"
#include "coachfs/access_req.h"

/* ---- extended attributes: user.* only, stored encrypted ---- */

static int xattr_name_ok(const char *name)
{
	if (strncmp(name, "user.", 5) != 0)
		return -EOPNOTSUPP;
	if (strlen(name) > 255 || name[5] == 0)
		return -ERANGE;
	return 0;
}

static const char *policy_key(const char *name)
{
	size_t n = strlen(CFS_XATTR_PREFIX);
	return strncmp(name, CFS_XATTR_PREFIX, n) == 0 ? name + n : NULL;
}

/* Load the attribute block of a path (file header or directory sidecar). */
static int meta_load(struct cfs_ctx *c, const char *path, struct stat *st, unsigned char *meta, size_t *len)
{
	int rc = cfs_op_lstat(c, path, st);
	if (rc < 0)
		return rc;
	if (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode))
		return -EOPNOTSUPP;
	return cfs_op_own_meta(c, path, st, meta, len);
}

/* Apply fn to the attribute block of path (a file's header, a directory's
 * sidecar) and store it back. */
int cfs_op_meta_update(struct cfs_ctx *c, const char *path,
		       int (*fn)(unsigned char *meta, size_t *len, void *arg), void *arg)
{
	struct stat st;
	unsigned char meta[CFS_META_MAX];
	size_t len;
	struct cfs_err e = { "" };
	int rc = cfs_op_path_ok(path);
	if (rc < 0)
		return rc;
	rc = cfs_store_lstat(c->store, path, &st);
	if (rc < 0)
		return rc;
	if (S_ISDIR(st.st_mode)) {
		pthread_mutex_lock(&c->sidecar_lock); /* one sidecar writer at a time */
		rc = cfs_dir_meta_load(c, path, meta, &len);
		if (rc == 0)
			rc = fn(meta, &len, arg);
		if (rc == 0)
			rc = cfs_dir_meta_store(c, path, meta, len);
		pthread_mutex_unlock(&c->sidecar_lock);
		return rc;
	}
	if (!S_ISREG(st.st_mode))
		return -EOPNOTSUPP;
	struct cfs_ofile *of;
	rc = cfs_op_ofile_get(c, path, &of);
	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&of->f->lock);
	len = of->f->meta_len;
	memcpy(meta, of->f->meta, len);
	rc = fn(meta, &len, arg);
	if (rc == 0)
		rc = cfs_content_set_meta(of->f, meta, len, &e);
	pthread_rwlock_unlock(&of->f->lock);
	cfs_op_ofile_put(c, of);
	return rc;
}

struct xset {
	const char *name;
	const char *value;
	size_t size;
	int flags;
	char old[200];
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
	snprintf(x->old, sizeof x->old, "%.*s", have ? (int)(vl < 150 ? vl : 150) : 6,
		 have ? (const char *)v : "(none)");
	return cfs_meta_set(meta, len, CFS_META_MAX, x->name, x->value, x->size);
}

static int xdel_fn(unsigned char *meta, size_t *len, void *arg)
{
	struct xset *x = arg;
	const unsigned char *v;
	size_t vl;
	int have = cfs_meta_get(meta, *len, x->name, &v, &vl) == 0;
	if (have)
		snprintf(x->old, sizeof x->old, "%.*s", (int)(vl < 150 ? vl : 150), (const char *)v);
	return cfs_meta_remove(meta, len, x->name);
}

/* Policy attributes: admin only, validated, audited (old -> new). */
static int policy_change(struct cfs_ctx *c, const char *path, struct xset *x, int remove)
{
	const char *key = policy_key(x->name);
	struct cfs_err e = { "" };
	struct cfs_decision d;
	char why[512];
	struct cfs_caller *cl = cfs_op_who(c);
	if (!cl)
		return -ENOMEM;
	struct cfs_eff dummy;
	memset(&dummy, 0, sizeof dummy);
	dummy.fp.cls = &c->cfg->classes[0];
	cfs_access_decide(c, cl, &dummy, path, CFS_OP_ADMIN, 0, 0, &d);
	int rc = 0;
	if (d.verdict == CFS_DENY) {
		snprintf(why, sizeof why, "%s %s: %s", remove ? "remove" : "set", x->name, d.reason);
		rc = cfs_access_audit(c, cl, CFS_ACT_SETXATTR, path, "deny", why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
		free(cl);
		return rc < 0 ? -EIO : -EPERM;
	}
	if (!remove && (rc = cfs_policy_value_check(c->cfg, key, x->value, x->size, &e)) < 0) {
		snprintf(why, sizeof why, "set %s refused: %.300s", x->name, e.msg);
		cfs_access_audit(c, cl, CFS_ACT_SETXATTR, path, "deny", why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
		free(cl);
		return rc == -EOPNOTSUPP ? -EINVAL : rc;
	}
	/* Recorded before it is made (fail closed): the old value read first. */
	struct stat st;
	unsigned char meta[CFS_META_MAX];
	size_t len;
	const unsigned char *v;
	size_t vl;
	rc = meta_load(c, path, &st, meta, &len);
	if (rc < 0) {
		free(cl);
		return rc;
	}
	int have = cfs_meta_get(meta, len, x->name, &v, &vl) == 0;
	if ((remove || (x->flags & XATTR_REPLACE)) && !have) {
		free(cl);
		return -ENODATA;
	}
	if (!remove && (x->flags & XATTR_CREATE) && have) {
		free(cl);
		return -EEXIST;
	}
	snprintf(x->old, sizeof x->old, "%.*s", have ? (int)(vl < 150 ? vl : 150) : 6,
		 have ? (const char *)v : "(none)");
	if (remove)
		snprintf(why, sizeof why, "%s: %.150s -> (inherited)", x->name, x->old);
	else
		snprintf(why, sizeof why, "%s: %.150s -> %.*s", x->name, x->old,
			 (int)(x->size < 150 ? x->size : 150), x->value);
	if (cfs_access_audit(c, cl, CFS_ACT_SETXATTR, path, "allow", why, 0, CFS_AUDIT_NONE,
			     CFS_AUDIT_NONE, 1) < 0) {
		free(cl);
		return -EIO;
	}
	rc = cfs_op_meta_update(c, path, remove ? xdel_fn : xset_fn, x);
	if (rc < 0)
		cfs_op_record_failed(c, cl, CFS_ACT_SETXATTR, path, rc);
	free(cl);
	return rc;
}

int cfs_op_setxattr(const char *path, const char *name, const char *value, size_t size, int flags)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	const char *token;
	int lk = cfs_op_link_path(path, &token);
	if (lk)
		return lk == 2 && strcmp(token, LINK_APPROVE) == 0 ? cfs_op_link_approve(c, name, value, size) : -EPERM;
	int rc = xattr_name_ok(name);
	if (rc == 0)
		rc = cfs_op_see(c, path);
	if (rc < 0)
		return rc;
	struct xset x = { .name = name, .value = value, .size = size, .flags = flags };
	if (policy_key(name))
		return policy_change(c, path, &x, 0);
	return cfs_op_meta_update(c, path, xset_fn, &x);
}

/* A non-policy user.* attribute is content the entry's owner wrote: its
 * value (and, for listxattr, its name) is read only by a caller who may open
 * the entry for reading, decided like such an open (no open is counted) and
 * audited as a read of the attribute. 0, or -EACCES with a deny row. */
static int may_read_attr(struct cfs_ctx *c, const char *path, const unsigned char *meta, size_t len,
			 const char *name, int64_t length, int audit_allow)
{
	struct cfs_caller *cl = cfs_op_who(c);
	struct cfs_eff *e = malloc(sizeof *e);
	struct cfs_decision d;
	char why[600];
	int rc = cl && e ? cfs_eff_resolve(c, path, meta, len, e) : -ENOMEM;
	if (rc == 0) {
		int tool = cfs_config_is_export_tool(c->cfg, cl->exe);
		cfs_access_decide(c, cl, e, path, CFS_OP_READ, tool, 0, &d);
	} else if (rc != -ENOMEM) {
		memset(&d, 0, sizeof d);
		d.verdict = CFS_DENY;
		snprintf(d.reason, sizeof d.reason, "the entry's policy cannot be resolved");
	}
	if (rc == -ENOMEM) {
		free(cl);
		free(e);
		return rc;
	}
	snprintf(why, sizeof why, "attribute %.200s; %.300s", name, d.reason);
	if (d.verdict == CFS_DENY) {
		cfs_access_audit(c, cl, CFS_ACT_READ, path, "deny", why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
		rc = -EACCES;
	} else if (audit_allow &&
		   cfs_access_audit(c, cl, CFS_ACT_READ, path, cfs_op_verdict_word(d.verdict), why, d.grant_id,
				    CFS_AUDIT_NONE, length, 0) < 0) {
		rc = -EIO;
	}
	free(cl);
	free(e);
	return rc;
}

int cfs_op_getxattr(const char *path, const char *name, char *value, size_t size)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	unsigned char meta[CFS_META_MAX];
	size_t len;
	struct stat st;
	const unsigned char *v;
	size_t vl;
	char buf[CFS_META_MAX + 1];
	const char *token;
	if (cfs_op_link_path(path, &token) == 2 && strcmp(token, LINK_APPROVE) == 0) {
		/* the caller's own newest request or break-glass */
		int n = cfs_access_req_get(c, fuse_get_context()->uid, name, buf, sizeof buf);
		if (n < 0)
			return n == -EOPNOTSUPP ? -ENODATA : n;
		if (size == 0)
			return n;
		if ((size_t)n > size)
			return -ERANGE;
		memcpy(value, buf, (size_t)n);
		return n;
	}
	int rc = xattr_name_ok(name);
	if (rc < 0)
		return rc == -EOPNOTSUPP ? -ENODATA : rc;
	rc = cfs_op_see(c, path);
	if (rc == 0)
		rc = meta_load(c, path, &st, meta, &len);
	if (rc < 0)
		return rc == -EOPNOTSUPP ? -ENODATA : rc;
	const char *key = policy_key(name);
	if (key) {
		/* policy attributes read as their effective value */
		struct cfs_eff *e = malloc(sizeof *e);
		if (!e)
			return -ENOMEM;
		rc = cfs_eff_resolve(c, path, meta, len, e);
		if (rc == 0)
			rc = cfs_eff_value(e, key, buf, sizeof buf);
		free(e);
		if (rc < 0)
			return rc == -EACCES ? -EIO : rc;
		v = (const unsigned char *)buf;
		vl = (size_t)rc;
	} else {
		/* decided before it is looked up: EACCES says nothing of whether it exists */
		rc = cfs_meta_get(meta, len, name, &v, &vl);
		int dr = may_read_attr(c, path, meta, len, name, rc < 0 ? CFS_AUDIT_NONE : (int64_t)vl,
				       rc == 0);
		if (dr < 0)
			return dr;
		if (rc < 0)
			return rc;
	}
	if (size == 0)
		return (int)vl;
	if (vl > size)
		return -ERANGE;
	memcpy(value, v, vl);
	return (int)vl;
}

int cfs_op_listxattr(const char *path, char *list, size_t size)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	unsigned char meta[CFS_META_MAX];
	size_t len;
	struct stat st;
	char names[CFS_META_MAX * 2];
	int rc = cfs_op_see(c, path);
	if (rc == 0)
		rc = meta_load(c, path, &st, meta, &len);
	if (rc == -EOPNOTSUPP)
		return 0;
	if (rc < 0)
		return rc;
	/* the effective policy attributes first, then the entry's own others */
	struct cfs_eff *e = malloc(sizeof *e);
	if (!e)
		return -ENOMEM;
	size_t need = 0;
	char tmp[CFS_META_MAX + 1];
	if (cfs_eff_resolve(c, path, meta, len, e) == 0) {
		static const char *const keys[] = { "class", "export", "readers", "max_opens" };
		for (size_t i = 0; i < 4; i++)
			if (cfs_eff_value(e, keys[i], tmp, sizeof tmp) >= 0)
				need += (size_t)snprintf(names + need, sizeof names - need, "%s%s", CFS_XATTR_PREFIX,
							 keys[i]) + 1;
	}
	free(e);
	ssize_t own = cfs_meta_list(meta, len, tmp, sizeof tmp);
	if (own < 0)
		return (int)own;
	for (size_t p = 0; p < (size_t)own; p += strlen(tmp + p) + 1) {
		if (policy_key(tmp + p))
			continue;
		/* the entry has attributes of its own: their names are content too */
		rc = may_read_attr(c, path, meta, len, "names (listxattr)", CFS_AUDIT_NONE, 1);
		if (rc < 0)
			return rc;
		break;
	}
	for (size_t p = 0; p < (size_t)own; p += strlen(tmp + p) + 1) {
		if (policy_key(tmp + p))
			continue;
		size_t l = strlen(tmp + p) + 1;
		if (need + l > sizeof names)
			return -E2BIG;
		memcpy(names + need, tmp + p, l);
		need += l;
	}
	if (size == 0)
		return (int)need;
	if (need > size)
		return -ERANGE;
	memcpy(list, names, need);
	return (int)need;
}

int cfs_op_removexattr(const char *path, const char *name)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	int rc = xattr_name_ok(name);
	if (rc == 0)
		rc = cfs_op_see(c, path);
	if (rc < 0)
		return rc;
	struct xset x = { .name = name };
	if (policy_key(name))
		return policy_change(c, path, &x, 1);
	return cfs_op_meta_update(c, path, xdel_fn, &x);
}
