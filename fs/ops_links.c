/* ops_links.c — MOUNT/.links: expiring links (/.links/TOKEN) and the
 * two-person approval control file (/.links/approve). The daemon learns who
 * approves from the kernel; it must never take an identity from the caller's
 * words, nor show a link to anyone but its user. */
#include "ops_int.h"
#include "coachfs/access_req.h"

/* ---- expiring links: /.links/TOKEN ---- */

/* 1 for "/.links", 2 for "/.links/NAME" (*token = NAME), 0 otherwise. */
int cfs_op_link_path(const char *path, const char **token)
{
	static const char pre[] = "/" CFS_LINKS_DIR;
	size_t n = sizeof pre - 1;
	if (!path || strncmp(path, pre, n) != 0)
		return 0;
	if (path[n] == 0)
		return 1;
	if (path[n] != '/' || !path[n + 1] || strchr(path + n + 1, '/'))
		return path[n] == '/' ? 3 : 0; /* deeper: nothing there */
	*token = path + n + 1;
	return 2;
}

/* Find a usable link for this caller without using it: 0, -ENOENT (unknown
 * or malformed token), -EACCES (why says so) or -EBADMSG (a forged or edited
 * row: why says so). */
static int link_lookup(struct cfs_ctx *c, const char *token, uid_t uid, struct cfs_link *lk, char *why,
		       size_t whylen)
{
	unsigned char hash[CFS_LINK_HASH_BYTES];
	struct cfs_err err = { "" };
	if (cfs_link_token_hash(c->keys->link, token, hash) < 0) {
		snprintf(why, whylen, "malformed link token");
		return -ENOENT;
	}
	if (cfs_links_find(c->links, hash, lk, &err) < 0) {
		snprintf(why, whylen, "unknown link token");
		return -ENOENT;
	}
	return cfs_link_check(lk, uid, cfs_now_s(), why, whylen);
}

/* A refused link: a link_use deny row, or a tamper row (and syslog) for a
 * row that failed authentication. The token is never recorded. */
static void link_refused(struct cfs_ctx *c, const struct cfs_caller *cl, int rc, const char *path,
			 const char *why)
{
	if (rc == -EBADMSG)
		syslog(LOG_ERR, "coachfs: policy.db: %s", why);
	cfs_access_audit(c, cl, rc == -EBADMSG ? CFS_ACT_TAMPER : CFS_ACT_LINK_USE, path,
			 rc == -EBADMSG ? "error" : "deny", why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
}

int cfs_op_link_getattr(struct cfs_ctx *c, int kind, const char *token, struct stat *st)
{
	memset(st, 0, sizeof *st);
	if (kind == 1) {
		st->st_mode = S_IFDIR | 0111; /* enter, never list */
		st->st_nlink = 2;
		return 0;
	}
	if (kind != 2)
		return -ENOENT;
	if (strcmp(token, LINK_APPROVE) == 0) {
		/* writable attributes for everyone: the daemon decides who approves */
		cfs_op_plain_stat(c, st);
		st->st_uid = 0;
		st->st_gid = 0;
		st->st_mode = S_IFREG | 0666;
		st->st_nlink = 1;
		st->st_size = 0;
		return 0;
	}
	struct cfs_link *lk = malloc(sizeof *lk);
	char why[400] = "";
	if (!lk)
		return -ENOMEM;
	struct fuse_context *fc = fuse_get_context();
	int rc = link_lookup(c, token, fc->uid, lk, why, sizeof why);
	int known = rc != -ENOENT;
	if (known && rc != -EBADMSG && cfs_store_lstat(c->store, lk->path, st) == 0 && S_ISREG(st->st_mode)) {
		/* a caller already holding the target open (through this link)
		 * keeps seeing it after its last use */
		if (rc == -EACCES && cfs_op_holds_handle(c, st, fc->uid))
			rc = 0;
	} else if (rc == 0) {
		rc = -ENOENT;
	}
	if (rc < 0) {
		/* every refused attempt is recorded; the token never is */
		struct cfs_caller *cl = cfs_op_who(c);
		if (cl)
			link_refused(c, cl, rc, known ? lk->path : "/" CFS_LINKS_DIR,
				     why[0] ? why : "link target is gone");
		free(cl);
	}
	free(lk);
	if (rc < 0)
		return -ENOENT; /* no oracle: unknown, expired, used up and foreign look the same */
	cfs_op_plain_stat(c, st);
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	return 0;
}

/* An open through a link in progress. */
struct linkopen {
	struct cfs_caller *cl;
	struct cfs_link *lk;
	struct cfs_eff *e;
	struct cfs_ofile *of;
	struct cfs_decision d;
	struct cfs_grant g;
	char why[400];
	int by_rules;               /* refused by the file's readers or export rules */
};

/* The link's target: its open file and effective policy, authenticated in
 * its place. 0, or -errno with why set. */
static int link_target(struct cfs_ctx *c, struct linkopen *lo)
{
	struct cfs_link *lk = lo->lk;
	int rc = cfs_op_ofile_get(c, lk->path, &lo->of);
	if (rc < 0) {
		snprintf(lo->why, sizeof lo->why, "link L%lld: target %.200s: %s", (long long)lk->id, lk->path,
			 strerror(-rc));
		return rc;
	}
	unsigned char meta[CFS_META_MAX];
	pthread_rwlock_rdlock(&lo->of->f->lock);
	size_t len = lo->of->f->meta_len;
	memcpy(meta, lo->of->f->meta, len);
	pthread_rwlock_unlock(&lo->of->f->lock);
	rc = cfs_eff_resolve(c, lk->path, meta, len, lo->e);
	if (rc == 0 && memcmp(lo->e->dir_id, lo->of->f->bind.parent, sizeof lo->e->dir_id) != 0)
		rc = -EIO;
	if (rc == -EIO)
		snprintf(lo->why, sizeof lo->why, "link L%lld: target %.200s failed authentication",
			 (long long)lk->id, lk->path);
	else if (rc < 0)
		snprintf(lo->why, sizeof lo->why, "link L%lld: the policy of %.200s cannot be resolved",
			 (long long)lk->id, lk->path);
	return rc;
}

/* policy.c decides the link as a grant on its target; then it is used,
 * atomically (another open may have raced us; the class's max_opens caps
 * the uses). 0, or -errno with why set. */
static int link_decide_use(struct cfs_ctx *c, struct linkopen *lo, const char *token, int flags)
{
	struct cfs_err err = { "" };
	cfs_link_as_grant(lo->lk, &lo->g);
	struct cfs_request req = { lo->lk->path, cfs_op_is_write_open(flags) ? CFS_OP_WRITE : CFS_OP_READ,
				   cfs_now_s(), cfs_config_is_export_tool(c->cfg, lo->cl->exe), 0, NULL };
	cfs_decide_link(lo->cl, &lo->e->fp, &lo->g, &req, &lo->d);
	if (lo->d.verdict == CFS_DENY) {
		/* refused by the file's readers or export rules (EACCES), or by
		 * the link's own limits and its class (ENOENT) */
		lo->by_rules = lo->d.is_export || strncmp(lo->d.reason, "program ", 8) == 0;
		snprintf(lo->why, sizeof lo->why, "%s%.300s", lo->by_rules ? "through a link: " : "",
			 lo->d.reason);
		return -EACCES;
	}
	unsigned char hash[CFS_LINK_HASH_BYTES];
	cfs_link_token_hash(c->keys->link, token, hash);
	int rc = cfs_links_use(c->links, hash, lo->cl->uid, cfs_now_s(), lo->e->fp.max_opens, lo->lk, lo->why,
			       sizeof lo->why, &err);
	if (rc < 0 && rc != -EACCES && rc != -ENOENT)
		snprintf(lo->why, sizeof lo->why, "%.250s", err.msg); /* the database's own error */
	return rc;
}

/* The link_use row of an admitted open (committed: not recorded, refused),
 * or the refusal's. */
static int link_record(struct cfs_ctx *c, struct linkopen *lo, int rc)
{
	char reason[700];
	struct cfs_link *lk = lo->lk;
	if (rc < 0) {
		const char *path = lk && lk->path[0] ? lk->path : "/" CFS_LINKS_DIR;
		link_refused(c, lo->cl, rc, path, lo->why[0] ? lo->why : strerror(-rc));
		return rc;
	}
	snprintf(reason, sizeof reason, "link L%lld, use %u of %u, until %lld; %.300s", (long long)lk->id,
		 lk->used, lk->uses, (long long)cfs_grant_effective_end(&lo->g, lo->e->fp.cls), lo->d.reason);
	if (cfs_access_audit(c, lo->cl, CFS_ACT_LINK_USE, lk->path, cfs_op_verdict_word(lo->d.verdict), reason, 0,
			     CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1) < 0)
		return -EACCES;
	return 0;
}

/* Open through a link: the link stands in for a grant on exactly its target
 * (read-only) and obeys its class like one; policy.c decides
 * (cfs_decide_link): approval, max_ttl, max_opens, readers, export. */
int cfs_op_link_open(struct cfs_ctx *c, const char *token, struct fuse_file_info *fi)
{
	if (strcmp(token, LINK_APPROVE) == 0)
		return -EACCES;
	struct linkopen lo = { .cl = cfs_op_who(c), .lk = malloc(sizeof *lo.lk), .e = malloc(sizeof *lo.e) };
	int rc = lo.cl && lo.lk && lo.e ? 0 : -ENOMEM;
	if (lo.lk)
		lo.lk->path[0] = 0;
	if (rc == 0)
		rc = link_lookup(c, token, lo.cl->uid, lo.lk, lo.why, sizeof lo.why);
	if (rc == 0)
		rc = link_target(c, &lo);
	if (rc == 0)
		rc = link_decide_use(c, &lo, token, fi->flags);
	if (lo.cl)
		rc = link_record(c, &lo, rc);
	if (rc == 0) {
		cfs_access_note_read(c, lo.cl->pid, lo.cl->start_time, lo.e->class_rank);
		rc = cfs_op_handle_new(lo.of, lo.lk->path, fi->flags, lo.cl, 0, lo.e->class_rank, fi);
		if (rc == 0) {
			struct handle *h = (struct handle *)(uintptr_t)fi->fh;
			h->link = lo.lk->id;
			h->link_end = cfs_grant_effective_end(&lo.g, lo.e->fp.cls); /* max_ttl caps it */
		}
	}
	free(lo.lk);
	free(lo.e);
	if (rc < 0) {
		if (lo.of)
			cfs_op_ofile_put(c, lo.of);
		free(lo.cl);
		return lo.by_rules ? -EACCES : -ENOENT;
	}
	return 0;
}

/* ---- two-person approval: setxattr on MOUNT/.links/approve ---- */

struct approval {
	struct cfs_ctx *c;
	const struct cfs_caller *cl;
	const char *what;               /* "grant 7" / "link L7" */
};

/* The effective class of path, whatever it is (file or directory). */
static int path_class(struct cfs_ctx *c, const char *path, struct cfs_eff *e, int *is_dir)
{
	struct stat st;
	unsigned char meta[CFS_META_MAX];
	size_t len = 0;
	int rc = cfs_store_lstat(c->store, path, &st);
	if (rc < 0)
		return rc;
	*is_dir = S_ISDIR(st.st_mode);
	if (S_ISDIR(st.st_mode)) {
		if ((rc = cfs_dir_meta_load(c, path, meta, &len)) < 0)
			return rc;
	} else if (S_ISREG(st.st_mode)) {
		struct cfs_ofile *of;
		if ((rc = cfs_op_ofile_get(c, path, &of)) < 0)
			return rc;
		pthread_rwlock_rdlock(&of->f->lock);
		len = of->f->meta_len;
		memcpy(meta, of->f->meta, len);
		pthread_rwlock_unlock(&of->f->lock);
		cfs_op_ofile_put(c, of);
	} else {
		return -EINVAL;
	}
	return cfs_eff_resolve(c, path, meta, len, e);
}

/* Who may approve at all, whatever the row: an admin, never root. */
static int approver_check(struct approval *ap, struct cfs_err *err)
{
	if (ap->cl->uid == 0)
		return cfs_errf(err, -EPERM, "%s: root is a shared identity, not a second person: approve "
				"as yourself", ap->what);
	if (!cfs_caller_has_role(ap->cl, "admin"))
		return cfs_errf(err, -EPERM, "%s: %s is not in the admin role", ap->what, ap->cl->user);
	return 0;
}

/* Everything the approver must be, and the approval's audit row (committed
 * inside the policy.db transaction: an approval never stands unrecorded). */
static int approval_check(struct approval *ap, const char *path, const char *granted_by, int is_subject,
			  int64_t end, struct cfs_err *err)
{
	const struct cfs_caller *cl = ap->cl;
	struct cfs_eff *e;
	int rc;
	if ((rc = approver_check(ap, err)) < 0)
		return rc;
	if (strcmp(cl->user, granted_by) == 0)
		return cfs_errf(err, -EPERM, "%s: %s granted it and cannot also approve it", ap->what,
				cl->user);
	if (is_subject)
		return cfs_errf(err, -EPERM, "%s: %s is its subject and cannot approve it", ap->what,
				cl->user);
	if (end <= cfs_now_s())
		return cfs_errf(err, -EACCES, "%s has expired", ap->what);
	if (!(e = malloc(sizeof *e)))
		return cfs_errf(err, -ENOMEM, "out of memory");
	/* for a two-person class: the path's own, or, for a directory, any
	 * class of the configuration (its subtree may hold such files) */
	int is_dir = 0, any = 0;
	for (int i = 0; i < ap->c->cfg->nclasses; i++)
		any |= ap->c->cfg->classes[i].approval == CFS_APPROVAL_TWO_PERSON;
	rc = path_class(ap->c, path, e, &is_dir);
	if (rc < 0)
		rc = cfs_errf(err, -EINVAL, "%s: %s: %s", ap->what, path, strerror(-rc));
	else if (e->fp.cls->approval != CFS_APPROVAL_TWO_PERSON && !(is_dir && any))
		rc = cfs_errf(err, -EINVAL, "%s: class %s of %s needs no two-person approval", ap->what,
			      e->fp.cls->name, path);
	free(e);
	if (rc < 0)
		return rc;
	char why[300];
	snprintf(why, sizeof why, "%s approved by %s (granted by %s)", ap->what, cl->user, granted_by);
	if (cfs_access_audit(ap->c, cl, CFS_ACT_GRANT_APPROVE, path, "allow", why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE,
			     1) < 0)
		return cfs_errf(err, -EIO, "%s: the approval's audit row could not be written", ap->what);
	return 0;
}

static int approve_grant_cb(const struct cfs_grant_rec *rec, void *arg, struct cfs_err *err)
{
	struct approval *ap = arg;
	return approval_check(ap, rec->path, rec->granted_by, cfs_grant_matches_caller(&rec->g, ap->cl),
			      rec->g.end, err);
}

static int approve_link_cb(const struct cfs_link *rec, void *arg, struct cfs_err *err)
{
	struct approval *ap = arg;
	return approval_check(ap, rec->path, rec->issued_by, rec->uid >= 0 && (uid_t)rec->uid == ap->cl->uid,
			      rec->end, err);
}

int cfs_op_link_approve(struct cfs_ctx *c, const char *name, const char *value, size_t size)
{
	char idb[24], what[40];
	uint64_t id;
	if (cfs_access_req_handles(name, value, size)) {
		/* requests and break-glass: access_req.c, for the kernel's caller */
		struct cfs_caller *rcl = cfs_op_who(c);
		int rc = rcl ? cfs_access_req_set(c, rcl, name, value, size, path_class) : -ENOMEM;
		free(rcl);
		return rc;
	}
	if (strcmp(name, CFS_XATTR_PREFIX "approve") != 0)
		return -EPERM;
	if (size == 0 || size >= sizeof idb)
		return -EINVAL;
	memcpy(idb, value, size);
	idb[size] = 0;
	int is_link = idb[0] == 'L';
	if (cfs_parse_uint(idb + is_link, (uint64_t)INT64_MAX, &id) < 0 || id == 0)
		return -EINVAL;
	snprintf(what, sizeof what, is_link ? "link L%llu" : "grant %llu", (unsigned long long)id);
	struct cfs_caller *cl = cfs_op_who(c);
	if (!cl)
		return -ENOMEM;
	struct approval ap = { c, cl, what };
	struct cfs_err err = { "" };
	int rc = approver_check(&ap, &err);
	if (rc == 0)
		rc = is_link ? cfs_links_approve(c->links, (int64_t)id, cl->user, cfs_now_s(), approve_link_cb, &ap, &err)
			 : cfs_grants_approve(c->grants, (int64_t)id, cl->user, cfs_now_s(), approve_grant_cb, &ap,
					      &err);
	if (rc < 0) {
		/* a refusal is recorded too (the grant_approve row of an approval
		 * is committed with it, inside the transaction) */
		if (rc == -EBADMSG)
			syslog(LOG_ERR, "coachfs: policy.db: %s", err.msg);
		cfs_access_audit(c, cl, rc == -EBADMSG ? CFS_ACT_TAMPER : CFS_ACT_GRANT_APPROVE,
				 "/" CFS_LINKS_DIR "/" LINK_APPROVE,
				 rc == -EBADMSG ? "error" : "deny", err.msg[0] ? err.msg : strerror(-rc), 0,
				 CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
	}
	free(cl);
	return rc;
}
