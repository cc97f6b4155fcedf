/* access_req.c — access requests and break-glass, the daemon's side: the
 * values an ordinary user or an admin sets on MOUNT/.links/approve, as
 * themselves (the kernel names the caller; no typed name is trusted). It
 * owns parsing those hostile values, turning a row and the path's current
 * class into policy.c's inputs, the audit rows (committed inside the
 * policy.db transaction, so nothing stands unrecorded) and the break-glass
 * alert to syslog (authpriv, alert). It must never decide who may act
 * (policy.c does), never act on a row that is not authentic, and never log
 * a key or file contents. */
#include "coachfs/access_req.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "coachfs/requests.h"
#include "coachfs/store.h"

#define CTL_PATH "/" CFS_LINKS_DIR "/approve"
#define VALUE_MAX (4096 + 2 * CFS_TEXT_MAX)

struct rctx {
	struct cfs_ctx *c;
	const struct cfs_caller *cl;
	cfs_path_class_fn path_class;
	enum cfs_action action;         /* the audit action of this step */
	enum cfs_req_act act;
	char why[700];                  /* the allow row's reason, filled by decide */
};

/* ---- hostile values ---- */

static int text_ok(const char *s, int empty_ok)
{
	size_t n = strnlen(s, CFS_TEXT_MAX);
	if (n >= CFS_TEXT_MAX || (!empty_ok && n == 0))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* Split value into exactly nf '\n'-separated fields, copied into buf. */
static int fields(const char *value, size_t size, char *buf, size_t cap, char **f, int nf)
{
	if (size == 0 || size >= cap || memchr(value, 0, size))
		return -EINVAL;
	memcpy(buf, value, size);
	buf[size] = 0;
	char *p = buf;
	for (int i = 0; i < nf; i++) {
		f[i] = p;
		char *nl = strchr(p, '\n');
		if ((i < nf - 1) != (nl != NULL))
			return -EINVAL;
		if (nl) {
			*nl = 0;
			p = nl + 1;
		}
	}
	return 0;
}

/* "R12" or "B12" (either letter: the row's kind decides). */
static int parse_rid(const char *s, int64_t *id)
{
	uint64_t v;
	if ((s[0] != 'R' && s[0] != 'B') || cfs_parse_uint(s + 1, (uint64_t)INT64_MAX, &v) < 0 || v == 0)
		return -EINVAL;
	*id = (int64_t)v;
	return 0;
}

static const char *key_of(const char *name)
{
	size_t n = sizeof CFS_XATTR_PREFIX - 1;
	return strncmp(name, CFS_XATTR_PREFIX, n) == 0 ? name + n : "";
}

int cfs_access_req_handles(const char *name, const char *value, size_t size)
{
	const char *k = key_of(name);
	if (!strcmp(k, "request") || !strcmp(k, "breakglass") || !strcmp(k, "deny") || !strcmp(k, "review"))
		return 1;
	return !strcmp(k, "approve") && size > 0 && value[0] == 'R';
}

/* ---- audit ---- */

static int row(struct rctx *x, const char *path, const char *result, const char *why, int64_t grant)
{
	return cfs_access_audit(x->c, x->cl, x->action, path, result, why, grant, CFS_AUDIT_NONE,
				CFS_AUDIT_NONE, 1);
}

/* A refusal: its row (a tamper row, and syslog, for a forged record). */
static int refused(struct rctx *x, int rc, const char *path, const char *why)
{
	if (rc == -EBADMSG) {
		syslog(LOG_ERR, "coachfs: policy.db: %s", why);
		x->action = CFS_ACT_TAMPER;
	}
	cfs_access_audit(x->c, x->cl, x->action, path ? path : CTL_PATH, rc == -EBADMSG ? "error" : "deny",
			 why[0] ? why : strerror(-rc), 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
	return rc;
}

/* ---- the class of a path ---- */

/* Its class, and whether it needs two admins: its own class's approval,
 * or for a directory any two-person class (its subtree may hold one). */
static int class_of(struct rctx *x, const char *path, struct cfs_eff *e, int *is_dir, int *two)
{
	int rc = x->path_class(x->c, path, e, is_dir);
	if (rc < 0)
		return rc;
	*two = e->fp.cls->approval == CFS_APPROVAL_TWO_PERSON;
	for (int i = 0; *is_dir && i < x->c->cfg->nclasses; i++)
		*two |= x->c->cfg->classes[i].approval == CFS_APPROVAL_TWO_PERSON;
	return 0;
}

static void fmt_ttl(int64_t s, char *out, size_t cap)
{
	if (s % 3600 == 0)
		snprintf(out, cap, "%lldh", (long long)(s / 3600));
	else if (s % 60 == 0)
		snprintf(out, cap, "%lldm", (long long)(s / 60));
	else
		snprintf(out, cap, "%llds", (long long)s);
}

/* ---- request ---- */

static int created_row(const struct cfs_req_rec *r, void *arg, struct cfs_err *err)
{
	struct rctx *x = arg;
	char name[32], ttl[32], why[1400];
	cfs_req_name(r, name, sizeof name);
	fmt_ttl(r->ttl, ttl, sizeof ttl);
	if (r->kind == CFS_REQ_BREAKGLASS)
		snprintf(why, sizeof why, "%s: break-glass by %.255s: grant %lld for %s; %.400s; reason: %.255s", name, r->user,
			 (long long)r->grant_id, ttl, x->why, r->reason);
	else
		snprintf(why, sizeof why, "%s: %.255s asks for %s access for %s; %.400s; expires at @%lld; reason: %.255s",
			 name, r->user, r->write ? "read-write" : "read-only", ttl, x->why, (long long)r->expires,
			 r->reason);
	if (row(x, r->path, r->kind == CFS_REQ_BREAKGLASS ? "flag" : "allow", why, r->grant_id) < 0)
		return cfs_errf(err, -EIO, "%s: its audit row could not be written", name);
	return 0;
}

static void rec_base(struct rctx *x, struct cfs_req_rec *r, int kind, const char *path, const char *reason)
{
	memset(r, 0, sizeof *r);
	r->kind = kind;
	r->uid = (uint32_t)x->cl->uid;
	cfs_strlcpy(r->user, x->cl->user, sizeof r->user);
	cfs_strlcpy(r->path, path, sizeof r->path);
	cfs_strlcpy(r->reason, reason, sizeof r->reason);
	r->created = cfs_now_s();
}

/* Parse, decide and resolve what a new request or break-glass needs. */
static int new_common(struct rctx *x, const char *path, const char *reason, int bg, struct cfs_eff *e,
		      struct cfs_err *err)
{
	int is_dir = 0, two = 0, rc;
	if (cfs_path_valid(path) < 0 || !text_ok(reason, 0))
		return cfs_errf(err, -EINVAL, "a path and a reason (printable, under %d bytes) are needed",
				CFS_TEXT_MAX);
	if ((rc = class_of(x, path, e, &is_dir, &two)) < 0)
		return cfs_errf(err, rc, "%.300s: %s", path, strerror(-rc));
	if (bg && is_dir)
		return cfs_errf(err, -EINVAL, "break-glass: %.300s is a directory; it opens one file", path);
	rc = cfs_decide_request_new(x->cl, e->fp.cls, bg, x->why, sizeof x->why);
	return rc < 0 ? cfs_errf(err, rc, "%s", x->why) : 0;
}

static int do_request(struct rctx *x, char **f, struct cfs_eff *e, struct cfs_req_rec *r, struct cfs_err *err)
{
	uint64_t ttl;
	if (cfs_parse_uint(f[1], CFS_REQUEST_TTL_MAX, &ttl) < 0 || ttl == 0 || (strcmp(f[2], "r") && strcmp(f[2], "w")))
		return cfs_errf(err, -EINVAL, "request: a ttl in seconds (at most 30 days) and r or w are needed");
	int rc = new_common(x, f[0], f[3], 0, e, err);
	if (rc < 0)
		return rc;
	rec_base(x, r, CFS_REQ_REQUEST, f[0], f[3]);
	r->write = f[2][0] == 'w';
	r->ttl = cfs_request_grant_ttl((int64_t)ttl, e->fp.cls, 0);
	r->expires = r->created + x->c->cfg->request_ttl;
	if (r->ttl < (int64_t)ttl)
		snprintf(x->why + strlen(x->why), sizeof x->why - strlen(x->why),
			 " (asked %llus: capped by its max_ttl)", (unsigned long long)ttl);
	return cfs_requests_create(x->c->grants, r, NULL, created_row, x, err);
}

/* ---- break-glass ---- */

static void bg_grant(const struct cfs_req_rec *r, struct cfs_grant_rec *g)
{
	cfs_req_grant_base(r, r->created, r->ttl, g);
	cfs_strlcpy(g->granted_by, r->user, sizeof g->granted_by);
	cfs_strlcpy(g->approved_by, CFS_REQ_BREAKGLASS_BY, sizeof g->approved_by);
	g->approved_at = r->created;
}

static int do_breakglass(struct rctx *x, char **f, struct cfs_eff *e, struct cfs_req_rec *r, struct cfs_err *err)
{
	struct cfs_grant_rec *g;
	int rc = new_common(x, f[0], f[1], 1, e, err);
	if (rc < 0)
		return rc;
	if (!(g = malloc(sizeof *g)))
		return cfs_errf(err, -ENOMEM, "out of memory");
	rec_base(x, r, CFS_REQ_BREAKGLASS, f[0], f[1]);
	r->ttl = cfs_request_grant_ttl(0, e->fp.cls, 1);
	r->expires = r->created + r->ttl;
	cfs_strlcpy(r->decided_by, r->user, sizeof r->decided_by);
	r->decided_uid = r->uid;
	r->decided_at = r->created;
	bg_grant(r, g);
	rc = cfs_requests_create(x->c->grants, r, g, created_row, x, err);
	free(g);
	if (rc == 0)
		syslog(LOG_AUTHPRIV | LOG_ALERT, "coachfs: BREAK-GLASS B%lld: %s (uid %u, %s) took read access to "
		       "%s for %llds (grant %lld), unreviewed; reason: %s", (long long)r->id, r->user,
		       (unsigned)r->uid, x->cl->exe[0] ? x->cl->exe : "?", r->path, (long long)r->ttl,
		       (long long)r->grant_id, r->reason);
	return rc;
}

static int new_record(struct rctx *x, const char *value, size_t size, int bg)
{
	char *buf = malloc(VALUE_MAX), *f[4];
	struct cfs_eff *e = malloc(sizeof *e);
	struct cfs_req_rec *r = malloc(sizeof *r);
	struct cfs_err err = { "" };
	int rc = buf && e && r ? fields(value, size, buf, VALUE_MAX, f, bg ? 2 : 4) : -ENOMEM;
	if (rc == -EINVAL)
		cfs_errf(&err, rc, "%s: malformed value", bg ? "break-glass" : "request");
	else if (rc == 0)
		rc = bg ? do_breakglass(x, f, e, r, &err) : do_request(x, f, e, r, &err);
	if (rc < 0)
		refused(x, rc, rc == -EINVAL || rc == -ENOMEM ? NULL : f[0], err.msg);
	free(buf);
	free(e);
	free(r);
	return rc;
}

/* ---- approve, deny, review ---- */

static int decide_hook(const struct cfs_req_rec *r, void *arg, struct cfs_req_outcome *o, struct cfs_err *err)
{
	struct rctx *x = arg;
	struct cfs_req_view v;
	struct cfs_eff *e = NULL;
	int is_dir = 0, two = 0, rc = 0;
	if (x->act != CFS_REQ_REVIEW && r->kind == CFS_REQ_REQUEST) {
		if (!(e = malloc(sizeof *e)))
			return cfs_errf(err, -ENOMEM, "out of memory");
		if ((rc = class_of(x, r->path, e, &is_dir, &two)) < 0) {
			free(e);
			return cfs_errf(err, -ENOENT, "R%lld: %.300s: %s", (long long)r->id, r->path, strerror(-rc));
		}
	}
	cfs_req_view_of(r, two, &v);
	rc = cfs_decide_request(x->cl, &v, x->act, cfs_now_s(), &o->grant_now, x->why, sizeof x->why);
	if (rc == 0 && o->grant_now)
		o->ttl = cfs_request_grant_ttl(r->ttl, e->fp.cls, 0);
	free(e);
	return rc < 0 ? cfs_errf(err, rc, "%s", x->why) : 0;
}

static int acted_row(const struct cfs_req_rec *r, void *arg, struct cfs_err *err)
{
	struct rctx *x = arg;
	char why[1600];
	const char *note = x->act == CFS_REQ_DENY ? r->note : x->act == CFS_REQ_REVIEW ? r->review_note : "";
	snprintf(why, sizeof why, "%.400s%s%.255s; asked by %.255s for %.300s", x->why, note[0] ? "; note: " : "", note,
		 r->user, r->path);
	if (r->grant_id && x->act == CFS_REQ_APPROVE && r->decided_at)
		snprintf(why + strlen(why), sizeof why - strlen(why), "; grant %lld", (long long)r->grant_id);
	if (row(x, r->path, "allow", why, r->grant_id) < 0)
		return cfs_errf(err, -EIO, "its audit row could not be written");
	return 0;
}

static int act(struct rctx *x, const char *value, size_t size)
{
	char buf[64 + CFS_TEXT_MAX], *f[2] = { NULL, NULL };
	struct cfs_err err = { "" };
	int64_t id = 0;
	int nf = x->act == CFS_REQ_APPROVE ? 1 : 2;
	int rc = fields(value, size, buf, sizeof buf, f, nf);
	if (rc == 0 && (parse_rid(f[0], &id) < 0 || (f[1] && !text_ok(f[1], x->act == CFS_REQ_REVIEW))))
		rc = -EINVAL;
	if (rc < 0)
		return refused(x, rc, NULL, x->act == CFS_REQ_DENY ? "deny: an id (R12) and a reason are needed"
					    : "a request id (R12, or B12 to review) is needed");
	struct cfs_req_actor who = { (uint32_t)x->cl->uid, x->cl->user, f[1] };
	struct cfs_req_hooks h = { decide_hook, acted_row, x };
	rc = cfs_requests_act(x->c->grants, id, x->act, &who, cfs_now_s(), &h, &err);
	return rc < 0 ? refused(x, rc, NULL, err.msg) : 0;
}

int cfs_access_req_set(struct cfs_ctx *c, const struct cfs_caller *cl, const char *name, const char *value,
		   size_t size, cfs_path_class_fn path_class)
{
	struct rctx x = { .c = c, .cl = cl, .path_class = path_class };
	const char *k = key_of(name);
	if (!strcmp(k, "request") || !strcmp(k, "breakglass")) {
		int bg = k[0] == 'b';
		x.action = bg ? CFS_ACT_BREAKGLASS : CFS_ACT_GRANT_REQUEST;
		return new_record(&x, value, size, bg);
	}
	x.act = !strcmp(k, "approve") ? CFS_REQ_APPROVE : !strcmp(k, "deny") ? CFS_REQ_DENY : CFS_REQ_REVIEW;
	x.action = x.act == CFS_REQ_APPROVE ? CFS_ACT_GRANT_APPROVE : x.act == CFS_REQ_DENY ? CFS_ACT_GRANT_DENY
										     : CFS_ACT_BREAKGLASS_REVIEW;
	return act(&x, value, size);
}

int cfs_access_req_get(struct cfs_ctx *c, uid_t uid, const char *name, char *buf, size_t cap)
{
	const char *k = key_of(name);
	int kind = !strcmp(k, "request") ? CFS_REQ_REQUEST : !strcmp(k, "breakglass") ? CFS_REQ_BREAKGLASS : 0;
	struct cfs_req_rec *r;
	struct cfs_err err = { "" };
	int64_t id;
	int n;
	if (!kind)
		return -EOPNOTSUPP;
	if (cfs_requests_latest(c->grants, (uint32_t)uid, kind, &id, &err) < 0)
		return -ENODATA;
	if (kind == CFS_REQ_REQUEST)
		n = snprintf(buf, cap, "R%lld", (long long)id);
	else {
		if (!(r = malloc(sizeof *r)))
			return -ENOMEM;
		n = cfs_requests_get(c->grants, id, r, &err) < 0 || r->row_state != CFS_ROW_OK ? -1
		    : snprintf(buf, cap, "B%lld grant %lld until %lld", (long long)id, (long long)r->grant_id,
			       (long long)r->expires);
		free(r);
	}
	return n > 0 && (size_t)n < cap ? n : -ENODATA;
}
