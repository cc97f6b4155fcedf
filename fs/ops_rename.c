/* ops_rename.c — rename: deciding both names, keeping the moved entry's
 * class, and rebinding the moved headers to their new place (store format
 * 2) crash-safely. It must never leave an entry bound to a place it is not
 * in, nor replace a target its caller may not remove. */
#include "ops_int.h"

static int class_fn(unsigned char *meta, size_t *len, void *arg)
{
	const char *name = arg;
	return cfs_meta_set(meta, len, CFS_META_MAX, CFS_XATTR_PREFIX "class", name, strlen(name));
}

/* Set an entry's own class attribute (file header or directory sidecar). */
static int set_own_class(struct cfs_ctx *c, const char *path, const struct stat *st, const char *name)
{
	if (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode))
		return 0;
	return cfs_op_meta_update(c, path, class_fn, (void *)name);
}

/* Rename never downgrades: if `from` would resolve to a lower class at `to`,
 * pin its current class as its own attribute first. */
static int keep_class(struct cfs_ctx *c, const char *from, const char *to)
{
	struct stat st;
	unsigned char meta[CFS_META_MAX];
	size_t len;
	struct cfs_eff *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	int rc = a && b ? cfs_store_lstat(c->store, from, &st) : -ENOMEM;
	if (rc == 0)
		rc = cfs_op_own_meta(c, from, &st, meta, &len);
	if (rc == 0)
		rc = cfs_eff_resolve(c, from, meta, len, a);
	if (rc == 0)
		rc = cfs_eff_resolve(c, to, meta, len, b);
	if (rc == 0 && cfs_decide_rename_pin(a->class_rank, b->class_rank)) {
		char why[300];
		snprintf(why, sizeof why, "rename to %.200s keeps class %s", to, a->fp.cls->name);
		rc = cfs_op_record(c, CFS_ACT_SETXATTR, from, "allow", why);
		if (rc == 0 && (rc = set_own_class(c, from, &st, a->fp.cls->name)) < 0)
			cfs_op_record_failed(c, NULL, CFS_ACT_SETXATTR, from, rc);
	}
	free(a);
	free(b);
	return rc;
}

/* A moved entry: where it goes, what it is, and the place it was bound to. */
struct rebind {
	const char *from, *to;
	int kind;                   /* CFS_KIND_*, or -1: nothing to rebind (a symlink) */
	struct cfs_bind old;
};

static int rebind_prepare(struct cfs_ctx *c, const char *from, const char *to, struct rebind *rb)
{
	struct stat st;
	struct cfs_err e = { "" };
	int rc = cfs_store_lstat(c->store, from, &st);
	rb->to = to;
	rb->from = from;
	rb->kind = S_ISDIR(st.st_mode) ? CFS_KIND_DIR : S_ISREG(st.st_mode) ? CFS_KIND_FILE : -1;
	if (rc < 0 || rb->kind < 0)
		return rc;
	rc = cfs_rename_intent(c, from, rb->kind, &rb->old, &e);
	if (rc < 0)
		cfs_op_log_err("rename", from, &e);
	return rc;
}

/* The rename did not happen: drop the intents (each entry is still where
 * its header says). */
static void rebind_cancel(struct cfs_ctx *c, const struct rebind *rb, int n)
{
	struct cfs_err e = { "" };
	for (int i = 0; i < n && c->state; i++) {
		unsigned char id[CFS_FILE_ID_BYTES];
		int ok = 0;
		if (rb[i].kind == CFS_KIND_DIR) {
			ok = cfs_dir_id_claimed(c, rb[i].from, id) == 0;
		} else if (rb[i].kind == CFS_KIND_FILE) {
			int fd = cfs_store_openat(c->store, rb[i].from, O_RDONLY | O_NONBLOCK, 0);
			ok = fd >= 0 && cfs_content_peek_id(fd, id) == 0;
			if (fd >= 0)
				close(fd);
		}
		if (ok)
			cfs_state_intent_clear(c->state, id, &e);
	}
}

/* Rebind a moved file through its shared open file (an open one keeps its
 * version and binding in memory) or a moved directory's sidecar. */
static int rebind_finish(struct cfs_ctx *c, const struct rebind *rb)
{
	struct cfs_err e = { "" };
	struct cfs_bind nb;
	struct cfs_ofile *of;
	struct cfs_file *f = NULL;
	int rc;
	if (rb->kind < 0)
		return 0;
	if (rb->kind == CFS_KIND_DIR) {
		rc = cfs_dir_rebind(c, rb->to, &rb->old, &e);
		if (rc < 0)
			cfs_op_log_err("rename", rb->to, &e);
		return rc;
	}
	rc = cfs_entry_bind(c, rb->to, CFS_KIND_FILE, &nb);
	int fd = rc < 0 ? rc : cfs_store_openat(c->store, rb->to, O_RDWR, 0);
	if (fd < 0)
		return fd == -ELOOP ? -EPERM : fd;
	unsigned char id[CFS_FILE_ID_BYTES];
	rc = cfs_content_open_b(fd, c->keys, &rb->old, c->state, cfs_op_scratch(c), &f, &e);
	int done = 0;
	if (rc == -EIO && cfs_content_open_b(fd, c->keys, &nb, c->state, cfs_op_scratch(c), &f, &e) == 0)
		rc = 0, done = 1; /* an open meanwhile found it moved and rebound it (cfs_entry_open) */
	if (rc == 0)
		memcpy(id, f->id, sizeof id);
	rc = rc < 0 ? (close(fd), rc) : cfs_op_ofile_adopt(c, fd, f, rb->to, &of);
	if (rc == 0) {
		pthread_rwlock_wrlock(&of->f->lock);
		if (!done || memcmp(of->f->bind.parent, nb.parent, sizeof nb.parent) || strcmp(of->f->bind.name, nb.name))
			rc = cfs_content_rebind(of->f, &nb, &e);
		pthread_rwlock_unlock(&of->f->lock);
		cfs_op_ofile_put(c, of);
	}
	if (rc == 0 && c->state)
		cfs_state_intent_clear(c->state, id, &e);
	if (rc < 0)
		cfs_op_log_err("rename", rb->to, &e);
	return rc;
}

/* Rename: the source leaves its name, so it needs the rights of a removal
 * (CFS_OP_DELETE); an existing target is replaced (or, with
 * RENAME_EXCHANGE, moved), so it must be visible to the caller and needs
 * them too. When there was no target, the backing rename is
 * RENAME_NOREPLACE: a name made meanwhile is never clobbered. */
/* May an existing target `to` be replaced (or exchanged) by cl? It must be
 * visible to cl (else EACCES and a deny row: never clobber what one may not
 * see) — with RENAME_NOREPLACE, EEXIST only when visible — and removable. */
static int target_ok(struct cfs_ctx *c, struct cfs_caller *cl, const char *from, const char *to,
		     const struct stat *st2, unsigned int flags)
{
	char what[300];
	int rc;
	if (flags & RENAME_NOREPLACE) {
		rc = cfs_op_name_free(c, cl, to, CFS_ACT_RENAME);
	} else {
		struct seer w = { NULL, 0 };
		rc = cfs_op_visible_to(c, &w, to, st2);
		free(w.cl);
		if (rc == -ENOENT) {
			snprintf(what, sizeof what,
				 "rename onto %.200s: the name is taken by an entry the caller may not see", to);
			cfs_access_audit(c, cl, CFS_ACT_RENAME, from, "deny", what, 0, CFS_AUDIT_NONE,
					 CFS_AUDIT_NONE, 1);
			rc = -EACCES;
		}
	}
	if (rc == 0) {
		struct cfs_decision dt;
		snprintf(what, sizeof what, "%s by rename from %.200s",
			 (flags & RENAME_EXCHANGE) ? "exchange" : "replace", from);
		rc = cfs_op_may_remove(c, cl, to, st2, CFS_ACT_RENAME, what, &dt);
	}
	return rc;
}

/* Everything decided before a rename: from may be moved away, an existing
 * target replaced, and both keep their classes. *target: the name exists. */
static int rename_decide(struct cfs_ctx *c, struct cfs_caller *cl, const char *from, const char *to,
			 unsigned int flags, const struct stat *st1, struct cfs_decision *d, int *target)
{
	struct stat st2;
	char what[300];
	snprintf(what, sizeof what, "rename to %.250s", to);
	int rc = cfs_op_may_remove(c, cl, from, st1, CFS_ACT_RENAME, what, d);
	*target = 0;
	if (rc == 0) {
		rc = cfs_store_lstat(c->store, to, &st2);
		if (rc == 0)
			*target = 1;
		else if (rc == -ENOENT && !(flags & RENAME_EXCHANGE))
			rc = 0;
		else if (rc == -ELOOP)
			rc = -EACCES;
	}
	if (rc == 0 && *target)
		rc = target_ok(c, cl, from, to, &st2, flags);
	if (rc == 0)
		rc = keep_class(c, from, to);
	if (rc == 0 && (flags & RENAME_EXCHANGE))
		rc = keep_class(c, to, from);
	return rc;
}

/* The decided rename: its row first, then the rename with the moved
 * headers rebound (crash-safely: the old places are recorded first). A new
 * name never replaces one made since the decision. */
static int rename_do(struct cfs_ctx *c, struct cfs_caller *cl, const char *from, const char *to,
		     unsigned int flags, int target, const struct cfs_decision *d, int d1, const char *l1,
		     int d2, const char *l2)
{
	unsigned int bflags = flags | (target ? 0 : RENAME_NOREPLACE);
	char why[600];
	snprintf(why, sizeof why, "renamed to %.250s%s; %.250s", to, target ? " (replacing it)" : "",
		 d->reason);
	if (target && (flags & RENAME_EXCHANGE))
		snprintf(why, sizeof why, "exchanged with %.250s; %.250s", to, d->reason);
	int rc = cfs_access_audit(c, cl, CFS_ACT_RENAME, from, "allow", why, d->grant_id, CFS_AUDIT_NONE,
				  CFS_AUDIT_NONE, 1) < 0 ? -EIO : 0;
	struct rebind rb[2];
	int nrb = 0;
	if (rc == 0)
		rc = rebind_prepare(c, from, to, &rb[nrb++]);
	if (rc == 0 && (flags & RENAME_EXCHANGE))
		rc = rebind_prepare(c, to, from, &rb[nrb++]);
	if (rc == 0 && renameat2(d1, l1, d2, l2, bflags) != 0) {
		rc = -errno;
		if (rc == -EEXIST && !(flags & RENAME_NOREPLACE))
			rc = -EACCES; /* a name made since the check: never clobbered */
		rebind_cancel(c, rb, nrb);
	} else {
		for (int i = 0; rc == 0 && i < nrb; i++)
			rc = rebind_finish(c, &rb[i]);
	}
	if (rc < 0)
		cfs_op_record_failed(c, cl, CFS_ACT_RENAME, from, rc);
	if (rc == 0)
		cfs_op_cwatch_renamed(c, from, to, (flags & RENAME_EXCHANGE) != 0);
	return rc;
}

int cfs_op_rename(const char *from, const char *to, unsigned int flags)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	const char *l1, *l2;
	struct stat st1;
	struct cfs_decision d;
	int target;
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	int rc = cfs_op_see(c, from);
	if (rc == 0 && (flags & RENAME_EXCHANGE))
		rc = cfs_op_see(c, to);
	if (rc == 0)
		rc = cfs_op_path_ok(to);
	if (rc == 0)
		rc = cfs_store_lstat(c->store, from, &st1);
	if (rc < 0)
		return rc == -ELOOP ? -ENOENT : rc;
	struct cfs_caller *cl = cfs_op_who(c);
	if (!cl)
		return -ENOMEM;
	rc = rename_decide(c, cl, from, to, flags, &st1, &d, &target);
	int d1 = rc < 0 ? rc : cfs_op_parent_of(c, from, &l1);
	int d2 = d1 < 0 ? d1 : cfs_op_parent_of(c, to, &l2);
	if (d1 >= 0 && d2 >= 0)
		rc = rename_do(c, cl, from, to, flags, target, &d, d1, l1, d2, l2);
	else
		rc = d1 < 0 ? d1 : d2;
	if (d1 >= 0)
		close(d1);
	if (d2 >= 0)
		close(d2);
	free(cl);
	return rc;
}
