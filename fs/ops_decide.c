/* ops_decide.c — the daemon's side of every decision: who sees an entry,
 * may remove or replace it, may open it; the recheck that ends a handle's
 * access; who is reading through a handle and the derived-class lift. The
 * verdicts themselves are policy.c's; this file gathers their inputs and
 * writes the rows. It must never allow what it could not record. */
#include "ops_int.h"

const char *cfs_op_verdict_word(enum cfs_verdict v)
{
	return v == CFS_ALLOW ? "allow" : v == CFS_FLAG ? "flag" : "deny";
}

/* Own attribute block of an entry: file header or directory sidecar, bound
 * under parent (NULL: the id the parent's sidecar claims). */
static int own_meta_under(struct cfs_ctx *c, const char *path, const struct stat *st,
			  const unsigned char *parent, unsigned char *meta, size_t *len)
{
	*len = 0;
	if (S_ISDIR(st->st_mode))
		return cfs_dir_meta_load_under(c, path, parent, meta, len);
	if (!S_ISREG(st->st_mode))
		return 0;
	struct cfs_err e = { "" };
	int fd = cfs_store_openat(c->store, path, O_RDONLY, 0);
	if (fd < 0)
		return fd == -ELOOP ? -ENOENT : fd;
	int rc = cfs_entry_meta_under(c, path, parent, fd, meta, len, &e);
	close(fd);
	if (rc < 0)
		*len = 0; /* a damaged header: decided on the inherited policy, fails on open */
	return 0;
}

int cfs_op_own_meta(struct cfs_ctx *c, const char *path, const struct stat *st, unsigned char *meta,
		    size_t *len)
{
	return own_meta_under(c, path, st, NULL, meta, len);
}

struct own_arg {
	struct cfs_ctx *c;
	const char *path;
	const struct stat *st;
};

static int own_of_entry(void *arg, const unsigned char parent[CFS_FILE_ID_BYTES], unsigned char *meta,
			size_t *len)
{
	const struct own_arg *a = arg;
	return own_meta_under(a->c, a->path, a->st, parent, meta, len);
}

/* Effective policy of an existing entry: the ancestors' chain first, then
 * the entry's own block bound under the parent id the chain proved (one
 * read of each sidecar). */
static int entry_eff(struct cfs_ctx *c, const char *path, const struct stat *st, struct cfs_eff *e)
{
	struct own_arg a = { c, path, st };
	return cfs_eff_resolve_own(c, path, own_of_entry, &a, e);
}

/* hide_denied: 0 when cl may see path, else -ENOENT. */
int cfs_op_visible(struct cfs_ctx *c, const struct cfs_caller *cl, const char *path, const struct stat *st)
{
	if (cfs_decide_sees_all(c->cfg->hide_denied, cl, path))
		return 0; /* no need to resolve the policy */
	if (S_ISREG(st->st_mode) && cfs_op_holds_handle(c, st, cl->uid))
		return 0;
	struct cfs_eff *e = malloc(sizeof *e);
	if (!e)
		return -ENOMEM;
	int rc = entry_eff(c, path, st, e);
	if (rc == 0)
		rc = cfs_access_visible(c, cl, e, path, S_ISDIR(st->st_mode)) ? 0 : -ENOENT;
	free(e);
	return rc == -EACCES ? -ENOENT : rc;
}

int cfs_op_visible_to(struct cfs_ctx *c, struct seer *w, const char *path, const struct stat *st)
{
	if (!w->cl) {
		w->cl = cfs_op_who_as(c, -1);
		if (!w->cl)
			return -EACCES;
	}
	int rc = cfs_op_visible(c, w->cl, path, st);
	if (rc != -ENOENT || w->grouped)
		return rc;
	struct cfs_caller *full = cfs_op_who_as(c, 0);
	if (!full)
		return -EACCES;
	free(w->cl);
	w->cl = full;
	w->grouped = 1;
	return cfs_op_visible(c, w->cl, path, st);
}

/* Resolve, check visibility for the caller of this request; 0 or -errno. */
int cfs_op_see(struct cfs_ctx *c, const char *path)
{
	struct stat st;
	int rc = cfs_op_path_ok(path);
	if (rc < 0)
		return rc;
	if (cfs_decide_sees_all(c->cfg->hide_denied, NULL, path)) /* before asking who calls */
		return 0;
	rc = cfs_store_lstat(c->store, path, &st);
	if (rc < 0)
		return rc == -ELOOP ? -ENOENT : rc;
	struct seer w = { NULL, 0 };
	rc = cfs_op_visible_to(c, &w, path, &st);
	free(w.cl);
	return rc;
}

/* Record an entry-management operation (unlink, rename, ...), committed. */
int cfs_op_record(struct cfs_ctx *c, enum cfs_action action, const char *path, const char *result,
		  const char *reason)
{
	struct cfs_caller *cl = cfs_op_who(c);
	int rc = cfs_access_audit(c, cl, action, path, result, reason, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
	free(cl);
	return rc < 0 ? -EIO : 0;
}

/* A change is recorded before it is made, so none happens unrecorded (fail
 * closed); when making it then fails, a second row says so. */
void cfs_op_record_failed(struct cfs_ctx *c, const struct cfs_caller *cl, enum cfs_action action,
			  const char *path, int err)
{
	char why[160];
	snprintf(why, sizeof why, "failed after it was recorded: %s", strerror(-err));
	if (cl)
		cfs_access_audit(c, cl, action, path, "error", why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
	else
		cfs_op_record(c, action, path, "error", why);
}

/* May cl remove the existing entry at path (unlink, rmdir, rename it away
 * or replace it)? Write rights on its class, or the admin role (policy.c,
 * CFS_OP_DELETE). 0 with *d the decision, or -EACCES with a deny row. */
int cfs_op_may_remove(struct cfs_ctx *c, const struct cfs_caller *cl, const char *path,
		      const struct stat *st, enum cfs_action action, const char *what,
		      struct cfs_decision *d)
{
	struct cfs_eff *e = malloc(sizeof *e);
	if (!e)
		return -ENOMEM;
	int rc = 0;
	if (cfs_caller_has_role(cl, "admin")) {
		/* admins manage entries whatever the class: no header to read */
		memset(e, 0, sizeof *e);
		e->fp.cls = &c->cfg->classes[0];
	} else {
		rc = entry_eff(c, path, st, e);
	}
	if (rc == 0) {
		cfs_access_decide(c, cl, e, path, CFS_OP_DELETE, 0, 0, d);
	} else {
		memset(d, 0, sizeof *d);
		d->verdict = CFS_DENY;
		snprintf(d->reason, sizeof d->reason, "the entry's policy cannot be resolved");
	}
	free(e);
	if (d->verdict != CFS_DENY)
		return 0;
	char why[600];
	snprintf(why, sizeof why, "%s: %s", what, d->reason);
	cfs_access_audit(c, cl, action, path, "deny", why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
	return -EACCES;
}

/* Before making an entry at path: is the name free? 0 when it is; -EEXIST
 * when an entry the caller may see holds it; -EACCES (and a deny row) when
 * one it may not see does (hide_denied): answering EEXIST would reveal it,
 * and answering as if it were not there would mean replacing it. */
int cfs_op_name_free(struct cfs_ctx *c, const struct cfs_caller *cl, const char *path,
		     enum cfs_action action)
{
	struct stat st;
	int rc = cfs_store_lstat(c->store, path, &st);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc == -ELOOP ? -EACCES : rc;
	struct seer w = { NULL, 0 };
	rc = cfs_op_visible_to(c, &w, path, &st);
	free(w.cl);
	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	cfs_access_audit(c, cl, action, path, "deny",
			 "the name is taken by an entry the caller may not see", 0, CFS_AUDIT_NONE,
			 CFS_AUDIT_NONE, 1);
	return -EACCES;
}

/* Is the handle's access still live? Grant expiry is exact; revocation,
 * class changes and role changes are noticed within 250 ms. */
int cfs_op_handle_live(struct cfs_ctx *c, struct handle *h, enum cfs_action what)
{
	if (h->dead)
		return -EACCES;
	/* The writer of derived content may go on writing what it already knows
	 * (its class was lifted above what it may open); reading back through the
	 * handle is decided like any other read. */
	if (h->derived && what == CFS_ACT_WRITE)
		return 0;
	int64_t t = cfs_op_now_ms();
	if (h->link) {
		struct cfs_link lk;
		struct cfs_err err = { "" };
		char why[300] = "link ended";
		int live = t / 1000 < h->link_end;
		if (live && t >= h->next_check_ms) {
			live = cfs_links_get(c->links, h->link, &lk, &err) == 0 && lk.row_state == CFS_ROW_OK &&
			       !lk.revoked_at;
			snprintf(why, sizeof why, "link L%lld was revoked", (long long)h->link);
			h->next_check_ms = t + 250;
		} else if (!live) {
			snprintf(why, sizeof why, "link L%lld expired", (long long)h->link);
		}
		if (live)
			return 0;
		h->dead = 1;
		cfs_access_audit(c, h->cl, what, h->path, "deny", why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
		return -EACCES;
	}
	if (t < h->next_check_ms)
		return 0;
	struct cfs_eff *e = malloc(sizeof *e);
	struct cfs_decision d;
	if (!e)
		return -ENOMEM;
	pthread_rwlock_rdlock(&h->of->f->lock);
	unsigned char meta[CFS_META_MAX];
	size_t len = h->of->f->meta_len;
	memcpy(meta, h->of->f->meta, len);
	pthread_rwlock_unlock(&h->of->f->lock);
	int rc = cfs_eff_resolve(c, h->path, meta, len, e);
	if (rc == 0) {
		/* admit whoever the open admitted: a write handle keeps the writers */
		cfs_access_decide(c, h->cl, e, h->path,
				  cfs_op_is_write_open(h->flags) ? CFS_OP_RECHECK_WRITE : CFS_OP_RECHECK, 0,
				  h->grant, &d);
	} else {
		memset(&d, 0, sizeof d);
		d.verdict = CFS_DENY;
		snprintf(d.reason, sizeof d.reason, "the file's policy cannot be resolved");
	}
	free(e);
	if (d.verdict == CFS_DENY) {
		h->dead = 1;
		cfs_access_audit(c, h->cl, what, h->path, "deny", d.reason, h->grant, CFS_AUDIT_NONE,
				 CFS_AUDIT_NONE, 1);
		return -EACCES;
	}
	h->next_check_ms = t + 250;
	return 0;
}

void cfs_op_reader_fill(struct reader *r, const struct cfs_caller *cl, struct rstr *exe)
{
	cfs_op_rstr_put(r->exe);
	r->pid = cl->pid;
	r->uid = cl->uid;
	cfs_strlcpy(r->user, cl->user, sizeof r->user);
	r->exe = exe;
	cfs_lineage_init(&r->lin, cl);
	r->noted = -1;
}

static int reader_find(struct handle *h, pid_t pid, uid_t uid)
{
	for (int i = 0; i < READERS; i++)
		if (h->rd[i].pid == pid && h->rd[i].uid == uid && h->rd[i].exe)
			return i;
	return -1;
}

/* The process behind the current request on h: from the slot cache, or
 * (a thread not seen on this handle) from /proc once. 0 or -ENOMEM. */
int cfs_op_reader_of(struct cfs_ctx *c, struct handle *h, struct rref *out)
{
	struct fuse_context *fc = fuse_get_context();
	pthread_mutex_lock(&h->rlock);
	int i = reader_find(h, fc->pid, fc->uid);
	if (i < 0) {
		pthread_mutex_unlock(&h->rlock);
		struct cfs_caller *cl = cfs_op_who(c);
		struct rstr *x = cl ? cfs_op_rstr_new(cl->exe) : NULL;
		if (!x) {
			free(cl);
			return -ENOMEM;
		}
		pthread_mutex_lock(&h->rlock);
		i = reader_find(h, fc->pid, fc->uid);
		if (i < 0) {
			i = (int)(h->rnext++ % READERS);
			cfs_op_reader_fill(&h->rd[i], cl, x);
		} else {
			cfs_op_rstr_put(x);
		}
		free(cl);
	}
	const struct reader *r = &h->rd[i];
	out->slot = i;
	out->pid = r->pid;
	out->uid = r->uid;
	memcpy(out->user, r->user, sizeof out->user);
	out->exe = r->exe;
	out->exe->refs++;
	out->self = r->lin.self;
	out->ppid = r->lin.ppid;
	out->noted = r->noted;
	pthread_mutex_unlock(&h->rlock);
	return 0;
}

void cfs_op_rref_done(struct rref *r)
{
	cfs_op_rstr_put(r->exe);
	r->exe = NULL;
}

struct cfs_rowproc cfs_op_rref_row(const struct rref *r)
{
	struct cfs_rowproc rp = { r->uid, r->user, r->pid, r->exe->s };
	return rp;
}

/* Derived content: the reading process now holds class `rank`. */
void cfs_op_rref_note(struct cfs_ctx *c, struct handle *h, struct rref *r, int rank)
{
	if (rank <= r->noted)
		return;
	cfs_access_note_read(c, r->self.pid, r->self.start, rank);
	pthread_mutex_lock(&h->rlock);
	struct reader *s = &h->rd[r->slot];
	if (s->pid == r->pid && s->lin.self.pid == r->self.pid && s->noted < rank)
		s->noted = rank;
	pthread_mutex_unlock(&h->rlock);
	r->noted = rank;
}

/* The highest class the writing process (or an ancestor) has read, when it
 * is above floor; the ancestors are walked at most once per slot. */
int cfs_op_rref_max_read(struct cfs_ctx *c, struct handle *h, const struct rref *r, int floor)
{
	struct cfs_lineage lin;
	pthread_mutex_lock(&h->rlock);
	const struct reader *s = &h->rd[r->slot];
	int same = s->pid == r->pid && s->lin.self.pid == r->self.pid;
	if (same)
		lin = s->lin;
	pthread_mutex_unlock(&h->rlock);
	if (!same) {  /* the slot went to another thread meanwhile: walk afresh */
		memset(&lin, 0, sizeof lin);
		lin.self = r->self;
		lin.ppid = r->ppid;
	}
	int was = lin.walked;
	int rank = cfs_access_max_read(c, &lin, floor);
	if (same && !was && lin.walked) {
		pthread_mutex_lock(&h->rlock);
		struct reader *w = &h->rd[r->slot];
		if (w->pid == r->pid && w->lin.self.pid == r->self.pid)
			w->lin = lin;
		pthread_mutex_unlock(&h->rlock);
	}
	return rank;
}

/* Derived content: a process that read class r writes only at class >= r.
 * rp names the writing process in the row. */
int cfs_op_lift_class(struct cfs_ctx *c, struct handle *h, int r, const struct cfs_rowproc *rp)
{
	r = cfs_decide_derived_rank(h->rank, r, c->cfg->nclasses);
	if (r == h->rank)
		return 0;
	const char *name = c->cfg->classes[r].name;
	struct cfs_err e = { "" };
	unsigned char meta[CFS_META_MAX];
	pthread_rwlock_wrlock(&h->of->f->lock);
	int old = h->rank;
	if (r <= old) { /* another write on this handle lifted it meanwhile */
		pthread_rwlock_unlock(&h->of->f->lock);
		return 0;
	}
	size_t len = h->of->f->meta_len;
	memcpy(meta, h->of->f->meta, len);
	int rc = cfs_meta_set(meta, &len, CFS_META_MAX, CFS_XATTR_PREFIX "class", name, strlen(name));
	if (rc == 0)
		rc = cfs_content_set_meta(h->of->f, meta, len, &e);
	if (rc == 0) {
		h->rank = r;
		h->derived = 1;
	}
	pthread_rwlock_unlock(&h->of->f->lock);
	if (rc < 0)
		return rc;
	char why[256];
	snprintf(why, sizeof why, "derived content: class %s -> %s (the writing process read class %s)",
		 c->cfg->classes[old].name, name, name);
	return cfs_access_audit_proc(c, rp, CFS_ACT_SETXATTR, h->path, "allow", why, 0, CFS_AUDIT_NONE,
				     CFS_AUDIT_NONE, 1) < 0 ? -EIO : 0;
}

int cfs_op_is_write_open(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_TRUNC | O_APPEND));
}

/* Decide and record an open of an existing file; on success *d is the
 * decision. Returns 0, -EACCES (denied) or -EIO (could not record). */
static void of_meta(struct cfs_ofile *of, unsigned char *meta, size_t *len)
{
	pthread_rwlock_rdlock(&of->f->lock);
	*len = of->f->meta_len;
	memcpy(meta, of->f->meta, *len);
	pthread_rwlock_unlock(&of->f->lock);
}

/* The rest of an open's decision, its policy resolved into e with result
 * rc (of is NULL only when rc < 0: the chain failed before the header). */
static int decide_resolved(struct cfs_ctx *c, struct cfs_caller *cl, struct cfs_ofile *of,
			   const char *path, int flags, int rc, struct cfs_eff *e,
			   struct cfs_decision *d)
{
	int counted = 0;
	if (rc == 0 && memcmp(e->dir_id, of->f->bind.parent, sizeof e->dir_id) != 0) {
		rc = -EIO; /* the parent's id changed between the open and the chain's proof */
		snprintf(e->why, sizeof e->why, "the parent directory's sidecar changed while opening");
	}
	if (rc == -EIO) {
		cfs_access_audit(c, cl, CFS_ACT_TAMPER, path, "error", e->why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
		return -EIO;
	}
	if (rc < 0) {
		memset(d, 0, sizeof *d);
		d->verdict = CFS_DENY;
		snprintf(d->reason, sizeof d->reason, "the file's policy cannot be resolved");
	} else {
		int wr = cfs_op_is_write_open(flags);
		/* Export is reading content out: a tool opening for reading. */
		int tool = (flags & O_ACCMODE) != O_WRONLY && cfs_config_is_export_tool(c->cfg, cl->exe);
		cfs_access_decide(c, cl, e, path, wr ? CFS_OP_WRITE : CFS_OP_READ, tool, 0, d);
		if (d->verdict != CFS_DENY)
			counted = cfs_access_count_open(c, e, d, path) == 1;
	}
	enum cfs_action action = d->is_export ? CFS_ACT_EXPORT : CFS_ACT_OPEN;
	if (d->verdict != CFS_DENY && !d->is_export && cfs_access_replay(c, cl->uid, d->grant_id, path))
		action = CFS_ACT_REPLAY;
	if (cfs_access_audit(c, cl, action, path, cfs_op_verdict_word(d->verdict), d->reason, d->grant_id,
			     CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1) < 0) {
		/* not recorded: refused (fail closed), and not a first open either,
		 * nor one of the grant's max_opens */
		if (action == CFS_ACT_OPEN && d->verdict != CFS_DENY)
			cfs_access_replay_forget(c, cl->uid, d->grant_id, path);
		if (counted)
			cfs_access_uncount_open(c, d, path);
		return -EACCES;
	}
	return d->verdict == CFS_DENY ? -EACCES : 0;
}

int cfs_op_decide_open(struct cfs_ctx *c, struct cfs_caller *cl, struct cfs_ofile *of, const char *path,
		       int flags, struct cfs_eff *e, struct cfs_decision *d)
{
	unsigned char meta[CFS_META_MAX];
	size_t len;
	of_meta(of, meta, &len);
	int rc = cfs_eff_resolve(c, path, meta, len, e);
	return decide_resolved(c, cl, of, path, flags, rc, e, d);
}

struct open_own {
	struct cfs_ctx *c;
	const char *path;
	struct cfs_ofile *of;
	struct cfs_err why;          /* why the header could not be opened */
	int rc;                      /* that failure, else 0 */
};

static int own_of_open(void *arg, const unsigned char parent[CFS_FILE_ID_BYTES], unsigned char *meta,
		       size_t *len)
{
	struct open_own *o = arg;
	o->rc = cfs_op_ofile_get_under(o->c, o->path, parent, &o->of, &o->why);
	if (o->rc < 0)
		return o->rc;
	of_meta(o->of, meta, len);
	return 0;
}

int cfs_op_open_decide(struct cfs_ctx *c, struct cfs_caller *cl, const char *path, int flags,
		       struct cfs_ofile **of, struct cfs_eff *e, struct cfs_decision *d)
{
	struct open_own o = { c, path, NULL, { "file header failed authentication" }, 0 };
	int rc = cfs_eff_resolve_own(c, path, own_of_open, &o, e);
	*of = o.of;
	if (o.rc < 0) {
		if (o.rc == -EIO)
			cfs_access_audit(c, cl, CFS_ACT_TAMPER, path, "error", o.why.msg, 0, CFS_AUDIT_NONE,
					 CFS_AUDIT_NONE, 1);
		return o.rc;
	}
	return decide_resolved(c, cl, o.of, path, flags, rc, e, d);
}
