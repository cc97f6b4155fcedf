/* access.c — the daemon's access layer: caller identity, effective policy
 * resolution (sidecars: sidecar.c), candidate grants, decisions, open
 * counting and the audit row for each (replay and derived-class tracking:
 * track.c).
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

/* Every ancestor of path from the root down, each sidecar authenticated in
 * its place (its parent's id, its name): the chain proves the parent's id
 * that the entry's own header was bound to (into id). Their values go to
 * val/found. 0, or the sidecar's error in e. */
static int walk_ancestors(struct cfs_ctx *c, const char *path, char val[K_N][CFS_META_MAX + 1],
			  int found[K_N], unsigned char id[CFS_FILE_ID_BYTES], struct cfs_err *e)
{
	unsigned char meta[CFS_META_MAX];
	char dir[PATH_MAX];
	struct cfs_bind b;
	size_t len;
	int rc = 0;
	memset(id, 0, CFS_FILE_ID_BYTES);
	if (strcmp(path, "/") == 0)
		return 0;
	if (cfs_strlcpy(dir, path, sizeof dir) >= sizeof dir)
		return cfs_errf(e, -ENAMETOOLONG, "%s: path too long", path);
	cfs_entry_bind(c, "/", CFS_KIND_DIR, &b);
	rc = cfs_sidecar_load(c, "/", &b, meta, &len, id, NULL, e);
	if (rc == 0)
		take(meta, len, val, found);
	for (char *p = dir + 1, *slash; rc == 0 && (slash = strchr(p, '/')) != NULL; p = slash + 1) {
		*slash = 0;
		rc = cfs_bind_set(&b, id, p, CFS_KIND_DIR);
		if (rc == 0)
			rc = cfs_sidecar_load(c, dir, &b, meta, &len, id, NULL, e);
		if (rc == 0)
			take(meta, len, val, found);
		*slash = '/';
	}
	sodium_memzero(meta, sizeof meta);
	return rc;
}

/* The effective policy from the values found: the class (which must be in
 * the configuration), its export rule, readers and max_opens, each
 * overridden by an attribute. 0 or -EACCES (fail closed). */
static int apply_values(struct cfs_ctx *c, const char *path, char val[K_N][CFS_META_MAX + 1],
			const int found[K_N], struct cfs_eff *out)
{
	const char *cname = found[K_CLASS] ? val[K_CLASS] : c->cfg->default_class;
	const struct cfs_class *cls = cfs_config_class(c->cfg, cname);
	int rc = 0;
	out->fp.cls = cls;
	if (!cls) {
		syslog(LOG_ERR, "coachfs: %s: class '%s' is not in the configuration; refusing access",
		       path, cname);
		return -EACCES;
	}
	out->class_rank = class_rank(c->cfg, cls);
	out->fp.export = cls->export == CFS_EXPORT_UNSET ? CFS_EXPORT_ALLOW : cls->export;
	if (found[K_EXPORT] && cfs_export_parse(val[K_EXPORT], &out->fp.export) < 0)
		out->fp.export = CFS_EXPORT_DENY; /* unreadable rule: the strictest */
	out->fp.readers = &cls->readers;
	if (found[K_READERS]) {
		memcpy(out->rbuf, val[K_READERS], CFS_META_MAX + 1);
		if (cfs_list_split(out->rbuf, &out->readers) < 0)
			rc = -EACCES;
		out->fp.readers = &out->readers;
	}
	out->fp.max_opens = cls->max_opens;
	if (found[K_MAXOPENS]) {
		uint64_t v;
		out->fp.max_opens = cfs_parse_uint(val[K_MAXOPENS], 1000000, &v) == 0 ? (uint32_t)v : 1;
	}
	return rc;
}

struct own_given {
	const unsigned char *meta;
	size_t len;
};

static int own_copy(void *arg, const unsigned char parent[CFS_FILE_ID_BYTES], unsigned char *meta,
		    size_t *len)
{
	const struct own_given *g = arg;
	(void)parent;
	if (g->len > CFS_META_MAX)
		return -EINVAL;
	if (g->len)
		memcpy(meta, g->meta, g->len);
	*len = g->len;
	return 0;
}

int cfs_eff_resolve(struct cfs_ctx *c, const char *path, const unsigned char *own, size_t own_len,
		    struct cfs_eff *out)
{
	struct own_given g = { own, own_len };
	return cfs_eff_resolve_own(c, path, own_copy, &g, out);
}

int cfs_eff_resolve_own(struct cfs_ctx *c, const char *path, cfs_own_fn own_of, void *arg,
			struct cfs_eff *out)
{
	char (*val)[CFS_META_MAX + 1] = malloc(K_N * (CFS_META_MAX + 1));
	int found[K_N] = { 0 };
	unsigned char id[CFS_FILE_ID_BYTES], own[CFS_META_MAX];
	size_t own_len = 0;
	struct cfs_err e = { "" };
	if (!val)
		return -ENOMEM;
	memset(out, 0, sizeof *out);
	int rc = walk_ancestors(c, path, val, found, id, &e);
	if (rc == -ENAMETOOLONG) {
		free(val);
		return rc;
	}
	if (rc < 0) {
		syslog(LOG_ERR, "coachfs: tamper %s: %s", path, e.msg);
		snprintf(out->why, sizeof out->why, "%s", e.msg);
		cfs_access_audit(c, NULL, CFS_ACT_TAMPER, path, "error", e.msg, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 0);
		free(val);
		return rc == -ENOMEM ? rc : -EIO;
	}
	memcpy(out->dir_id, id, sizeof id);
	rc = own_of(arg, id, own, &own_len);
	if (rc < 0) {
		free(val);
		return rc;
	}
	take(own, own_len, val, found);
	const unsigned char *v;
	size_t vl;
	out->own_class = cfs_meta_get(own, own_len, KEYS[K_CLASS], &v, &vl) == 0;
	rc = apply_values(c, path, val, found, out);
	sodium_memzero(own, sizeof own);
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

int cfs_access_caller(struct cfs_ctx *c, uid_t uid, gid_t gid, pid_t pid, pid_t tgid, pid_t ppid,
		      const gid_t *groups, int ngroups, int need_exe, struct cfs_caller *out)
{
	if (need_exe)
		return cfs_caller_fill(c->roles, c->ccache, out, uid, gid, pid, tgid, ppid, groups,
				       ngroups);
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
	struct cfs_lineage lin;   /* session-bound grants: their process alive? the caller in it? */
	req.lineage = &lin;
	cfs_session_facts(cand, n, cl, &lin, op != CFS_OP_RECHECK && op != CFS_OP_RECHECK_WRITE);
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
	if (cfs_decide_sees_all(c->cfg->hide_denied, cl, path))
		return 1;
	cfs_access_decide(c, cl, e, path, CFS_OP_SEE, 0, 0, &d);
	if (d.verdict != CFS_DENY)
		return 1;
	if (!is_dir)
		return 0;
	struct cfs_grant_snap *snap;
	struct cfs_err err = { "" };
	if (cfs_grants_snapshot(c->grants, &snap, &err) < 0)
		return 0;
	const struct cfs_grant **gs = snap->n ? calloc(snap->n, sizeof *gs) : NULL;
	int vis = 0;
	if (gs || !snap->n) {
		for (size_t i = 0; i < snap->n; i++)
			gs[i] = &snap->recs[i].g;
		vis = cfs_decide_dir_on_way(gs, snap->n, cl, path, cfs_now_s());
	}
	free(gs);
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

/* ---- audit ---- */

int cfs_access_audit(struct cfs_ctx *c, const struct cfs_caller *cl, enum cfs_action action, const char *path,
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

int cfs_access_audit_proc(struct cfs_ctx *c, const struct cfs_rowproc *rp, enum cfs_action action,
			  const char *path, const char *result, const char *reason, int64_t grant,
			  int64_t offset, int64_t length, int sync)
{
	struct cfs_event ev;
	struct cfs_err e = { "" };
	const char *name = cfs_action_name(action);   /* NULL: the appender refuses it */
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
			syslog(LOG_ERR, "coachfs: audit queue refused a %s row for %s", name ? name : "?",
			       path);
		return rc;
	}
	int rc = cfs_audit_append(c->audit, &ev, &e);
	if (rc < 0)
		syslog(LOG_ERR, "coachfs: AUDIT FAILURE, refusing %s of %s: %s", name ? name : "?",
		       path, e.msg);
	return rc;
}
