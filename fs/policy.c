/* policy.c — the one pure decision function (README, "Policy attributes" and "Design"): caller, file policy,
 * grants, request -> allow / flag / deny with a reason in words.
 * It owns nothing. It must never perform I/O, read a clock, look at the
 * environment or keep state between calls: every input is an argument.
 *
 * The order of a decision (and so which reason a caller sees):
 *   0. CFS_OP_ADMIN: the admin role, nothing else. CFS_OP_DELETE: the admin
 *      role (it manages entries), else as WRITE below.
 *   1. The request path must be a canonical mount path.
 *   2. Access. Role admission first: a class with grant = no admits, for
 *      SEE/READ/RECHECK, a caller holding one of its `roles` (or any caller
 *      when they contain "*"), and for WRITE one of its `writers` (same "*"
 *      rule; a writer need not also be listed in roles); DELETE is decided
 *      as WRITE throughout (reasons included). When a role
 *      suffices, grant_id is 0 and no grant is looked at. Otherwise the
 *      FIRST grant in array order that satisfies every check allows.
 *      Checks of one grant, in order: names the caller, covers the path,
 *      not revoked, started, not expired (end capped at start + max_ttl),
 *      for a session-bound grant its process still runs (session_live) and
 *      — except on RECHECK — the caller's process is it or descends from it
 *      (req->lineage; policy_session.c), two-person approval when the class asks, write permission (WRITE),
 *      opens left (READ and WRITE only).
 *      RECHECK with held_grant != 0 looks at that grant only (subject, path,
 *      revocation, time, approval; no opens, no write bit); with
 *      held_grant == 0 role admission for reading must still hold, or for a
 *      handle opened for writing (CFS_OP_RECHECK_WRITE) admission for writing.
 *   3. Programs (READ and WRITE only; SEE, RECHECK and DELETE stop at 2):
 *      a non-empty readers list must name the caller's program.
 *   4. Export (READ and WRITE with export_tool only): allow, flag or deny by
 *      the file's export rule; is_export = 1 only when this stage is reached.
 * So a caller without access gets the access reason, not a program or
 * export one.
 *
 * When no grant allows, the reason is taken from the "most relevant" grant:
 * among grants that name the caller and cover the path, the one that got
 * furthest through the checks above (ties: the first in array order). When
 * no grant names the caller and covers the path, the reason says so.
 * Times in reasons are UTC, "YYYY-MM-DD HH:MM:SS UTC". */
#include "coachfs/content.h"
#include "coachfs/policy.h"
#include "coachfs/util.h"
#include "policy_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define WHO_MAX (CFS_USER_MAX + 16)
#define TIME_MAX 48

static void setf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void setf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	if (r < 0 && n)
		buf[0] = 0;
}

/* Format t as "YYYY-MM-DD HH:MM:SS UTC" without libc's time zone machinery
 * (days-to-civil in the proleptic Gregorian calendar; valid for all int64). */
static void fmt_utc(int64_t t, char *out, size_t n)
{
	int64_t days = t / 86400, secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;
	setf(out, n, "%04" PRId64 "-%02" PRId64 "-%02" PRId64 " %02d:%02d:%02d UTC", y, m, d,
	     (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

/* A duration in its largest exact unit: "1h", "90m", "8h", "2d", "61s". */
static void fmt_dur(int64_t s, char *out, size_t n)
{
	if (s % 86400 == 0)
		setf(out, n, "%" PRId64 "d", s / 86400);
	else if (s % 3600 == 0)
		setf(out, n, "%" PRId64 "h", s / 3600);
	else if (s % 60 == 0)
		setf(out, n, "%" PRId64 "m", s / 60);
	else
		setf(out, n, "%" PRId64 "s", s);
}

static const char *who(const struct cfs_caller *c, char *buf, size_t n)
{
	size_t l = strnlen(c->user, sizeof c->user);
	if (l == 0 || l == sizeof c->user)
		setf(buf, n, "uid %u", (unsigned)c->uid);
	else
		setf(buf, n, "%s", c->user);
	return buf;
}

static const char *program(const struct cfs_caller *c)
{
	size_t l = strnlen(c->exe, sizeof c->exe);
	return l == 0 || l == sizeof c->exe ? "(unknown)" : c->exe;
}

static const char *export_word(enum cfs_export e)
{
	switch (e) {
	case CFS_EXPORT_ALLOW: return "allow";
	case CFS_EXPORT_LOG: return "log";
	case CFS_EXPORT_DENY: return "deny";
	case CFS_EXPORT_UNSET: return "unset";
	}
	return "invalid";
}

static int list_len(const struct cfs_list *l)
{
	if (!l || l->n < 0)
		return 0;
	return l->n > CFS_LIST_MAX ? CFS_LIST_MAX : l->n;
}

static int list_has(const struct cfs_list *l, const char *s)
{
	int n = list_len(l);
	for (int i = 0; i < n; i++)
		if (l->v[i] && strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

/* Which entry of a class's roles/writers list admits the caller: the first
 * named role (list order) the caller holds, else "*" when listed, else NULL.
 * A named role is preferred so the reason says which one. */
static const char *role_admits(const struct cfs_list *l, const struct cfs_caller *c)
{
	int n = list_len(l), star = 0;
	for (int i = 0; i < n; i++) {
		const char *r = l->v[i];
		if (!r)
			continue;
		if (strcmp(r, "*") == 0)
			star = 1;
		else if (cfs_caller_has_role(c, r))
			return r;
	}
	return star ? "*" : NULL;
}

int64_t cfs_grant_effective_end(const struct cfs_grant *g, const struct cfs_class *cls)
{
	int64_t end = g->end;
	if (cls && cls->max_ttl > 0) {
		int64_t cap = g->start > INT64_MAX - cls->max_ttl ? INT64_MAX
								  : g->start + cls->max_ttl;
		if (cap < end)
			end = cap;
	}
	return end;
}

int cfs_grant_matches_caller(const struct cfs_grant *g, const struct cfs_caller *c)
{
	if (!g || !c)
		return 0;
	switch (g->kind) {
	case CFS_SUBJ_USER: return (uint32_t)c->uid == g->ugid;
	case CFS_SUBJ_GROUP: return cfs_caller_in_group(c, (gid_t)g->ugid);
	case CFS_SUBJ_ROLE: return g->role && g->role[0] && cfs_caller_has_role(c, g->role);
	case CFS_SUBJ_ANY: return g->link; /* a bearer link; never a grant */
	}
	return 0;
}

/* How far a grant gets through the checks; G_OK = it allows. */
enum gstage {
	G_SUBJECT = 0, G_PATH, G_REVOKED, G_EARLY, G_EXPIRED, G_SESSION, G_APPROVAL, G_WRITE,
	G_OPENS, G_OK
};

static int grant_covers(const struct cfs_grant *g, const char *path)
{
	/* A grant path from the database is hostile: only a canonical one
	 * covers anything ("" or "/inc/" would otherwise match oddly). */
	return g->path && cfs_path_valid(g->path) == 0 && cfs_path_covers(g->path, path);
}

static uint32_t opens_limit(const struct cfs_grant *g, const struct cfs_file_policy *fp)
{
	uint32_t a = g->max_opens, b = fp->max_opens;
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

static int is_recheck(enum cfs_op op)
{
	return op == CFS_OP_RECHECK || op == CFS_OP_RECHECK_WRITE;
}

/* Operations that need write rights on the class. */
static int needs_write(enum cfs_op op)
{
	return op == CFS_OP_WRITE || op == CFS_OP_DELETE;
}

static int str_empty(const char *s)
{
	return !s || !s[0];
}

static enum gstage check_grant(const struct cfs_grant *g, const struct cfs_caller *c,
			       const struct cfs_file_policy *fp, const struct cfs_request *req)
{
	const struct cfs_class *cls = fp->cls;
	if (!cfs_grant_matches_caller(g, c))
		return G_SUBJECT;
	if (!grant_covers(g, req->path))
		return G_PATH;
	if (g->revoked_at != 0 && g->revoked_at <= req->now)
		return G_REVOKED;
	if (req->now < g->start)
		return G_EARLY;
	if (req->now >= cfs_grant_effective_end(g, cls))
		return G_EXPIRED;
	if (cfs_policy_session_refuses(g, req->op == CFS_OP_RECHECK ||
				       req->op == CFS_OP_RECHECK_WRITE, req->lineage))
		return G_SESSION;
	/* a real approval: confirmed (approved_at) by someone other than the granter */
	if (cls->approval == CFS_APPROVAL_TWO_PERSON &&
	    (str_empty(g->approved_by) || g->approved_at <= 0 ||
	     strcmp(g->approved_by, str_empty(g->granted_by) ? "" : g->granted_by) == 0))
		return G_APPROVAL;
	if (needs_write(req->op) && !g->write)
		return G_WRITE;
	if (req->op == CFS_OP_READ || req->op == CFS_OP_WRITE) {
		uint32_t lim = opens_limit(g, fp);
		if (lim && g->opens_used >= lim)
			return G_OPENS;
	}
	return G_OK;
}

/* The words for a grant's stage (why it failed, or what it allows). */
static void grant_reason(const struct cfs_grant *g, enum gstage st, const struct cfs_caller *c,
			 const struct cfs_file_policy *fp, const struct cfs_request *req,
			 char *out, size_t n)
{
	const struct cfs_class *cls = fp->cls;
	char name[WHO_MAX], tbuf[TIME_MAX], dbuf[32], id[40];
	int64_t eend;
	if (g->link)
		setf(id, sizeof id, "link L%" PRId64, g->id);
	else
		setf(id, sizeof id, "grant %" PRId64, g->id);
	switch (st) {
	case G_SUBJECT:
		setf(out, n, "%s does not name %s", id, who(c, name, sizeof name));
		return;
	case G_PATH:
		setf(out, n, "%s does not cover %s", id, req->path);
		return;
	case G_REVOKED:
		setf(out, n, "%s is revoked", id);
		return;
	case G_EARLY:
		fmt_utc(g->start, tbuf, sizeof tbuf);
		setf(out, n, "%s starts at %s", id, tbuf);
		return;
	case G_EXPIRED:
		eend = cfs_grant_effective_end(g, cls);
		fmt_utc(eend, tbuf, sizeof tbuf);
		if (eend < g->end) {
			fmt_dur(cls->max_ttl, dbuf, sizeof dbuf);
			setf(out, n, "%s expired at %s (class %s allows at most %s)",
			     id, tbuf, cls->name, dbuf);
		} else {
			setf(out, n, "%s expired at %s", id, tbuf);
		}
		return;
	case G_SESSION:
		cfs_policy_session_why(g, id, req->lineage, out, n);
		return;
	case G_APPROVAL:
		if (str_empty(g->approved_by))
			setf(out, n, "%s needs two-person approval (approved by nobody)",
			     id);
		else if (g->approved_at <= 0 &&
			 strcmp(g->approved_by, str_empty(g->granted_by) ? "" : g->granted_by) != 0)
			setf(out, n, "%s needs two-person approval (waiting for %s to approve)", id,
			     g->approved_by);
		else
			setf(out, n,
			     "%s"
			     " needs two-person approval (approved by its own granter %s)",
			     id, g->approved_by);
		return;
	case G_WRITE:
		setf(out, n, "%s does not allow writing", id);
		return;
	case G_OPENS:
		setf(out, n, "%s has used its %" PRIu32 " opens", id,
		     opens_limit(g, fp));
		return;
	case G_OK:
		break;
	}
	fmt_utc(cfs_grant_effective_end(g, cls), tbuf, sizeof tbuf);
	who(c, name, sizeof name);
	uint32_t lim = opens_limit(g, fp);
	if ((req->op == CFS_OP_READ || req->op == CFS_OP_WRITE) && lim)
		setf(out, n, "%s admits %s%s until %s (open %" PRIu64 " of %" PRIu32 ")",
		     id, name, req->op == CFS_OP_WRITE ? " to write" : "", tbuf,
		     (uint64_t)g->opens_used + 1, lim);
	else
		setf(out, n, "%s admits %s%s until %s", id, name,
		     needs_write(req->op) ? " to write" : "", tbuf);
	cfs_policy_session_admits(g, out, n);
}

/* A recheck of a handle opened under a grant: that grant, still in force
 * for this caller. 1 = yes, 0 = no (out->reason set). */
static int recheck_held(const struct cfs_caller *c, const struct cfs_file_policy *fp,
			const struct cfs_grant *grants, size_t ngrants, const struct cfs_request *req,
			struct cfs_decision *out)
{
	for (size_t i = 0; grants && i < ngrants; i++) {
		if (grants[i].id != req->held_grant)
			continue;
		enum gstage st = check_grant(&grants[i], c, fp, req);
		grant_reason(&grants[i], st, c, fp, req, out->reason, sizeof out->reason);
		if (st != G_OK)
			return 0;
		out->grant_id = grants[i].id;
		return 1;
	}
	setf(out->reason, sizeof out->reason,
	     "grant %" PRId64 " is no longer in force (revoked, expired or removed)", req->held_grant);
	return 0;
}

/* The reason a role (or "*") admits: reading, or writing. */
static void role_reason(const char *role, int write, const struct cfs_class *cls, char *out, size_t n)
{
	if (strcmp(role, "*") == 0)
		setf(out, n, write ? "class %s lets every caller write" : "class %s admits every caller",
		     cls->name);
	else
		setf(out, n, write ? "role %s may write class %s" : "role %s admits class %s", role, cls->name);
}

/* Roles: 1 = a role admits (reason set), 0 = no role does and, for a
 * recheck of a handle opened by role, that is the answer (-1 = go on to
 * the grants). */
static int decide_by_role(const struct cfs_caller *c, const struct cfs_class *cls,
			  const struct cfs_request *req, const char *name, const char **rrole,
			  struct cfs_decision *out)
{
	const int write = needs_write(req->op);
	const char *wrole = NULL;
	if (!cls->grant) {
		*rrole = role_admits(&cls->roles, c);
		wrole = role_admits(&cls->writers, c);
	}
	if (!write && *rrole) {
		role_reason(*rrole, 0, cls, out->reason, sizeof out->reason);
		return 1;
	}
	/* a write, or a handle opened for writing by a role in writers: it keeps it */
	if ((write || req->op == CFS_OP_RECHECK_WRITE) && wrole) {
		role_reason(wrole, 1, cls, out->reason, sizeof out->reason);
		return 1;
	}
	if (!is_recheck(req->op))
		return -1;
	/* held_grant == 0: opened by role */
	if (cls->grant)
		setf(out->reason, sizeof out->reason,
		     "class %s requires a grant and this handle was opened without one", cls->name);
	else
		setf(out->reason, sizeof out->reason, "no role of %s admits class %s", name, cls->name);
	return 0;
}

/* Why nothing admits: the closest grant's reason, or what is missing. */
static void nothing_admits(const struct cfs_class *cls, const struct cfs_request *req, const char *name,
			   const char *rrole, struct cfs_decision *out)
{
	if (cls->grant)
		setf(out->reason, sizeof out->reason,
		     "no grant for %s covers %s (class %s requires a grant)", name, req->path, cls->name);
	else if (!needs_write(req->op))
		setf(out->reason, sizeof out->reason,
		     "no role of %s admits class %s and no grant for %s covers %s", name, cls->name, name,
		     req->path);
	else if (rrole && strcmp(rrole, "*") != 0)
		setf(out->reason, sizeof out->reason, "role %s may not write class %s", rrole, cls->name);
	else
		setf(out->reason, sizeof out->reason,
		     "no role of %s may write class %s and no grant for %s covers %s", name, cls->name,
		     name, req->path);
}

/* Step 2: may this caller reach the content at all? 1 = yes (out->reason
 * and out->grant_id set), 0 = no (out->reason set). */
static int decide_access(const struct cfs_caller *c, const struct cfs_file_policy *fp,
			 const struct cfs_grant *grants, size_t ngrants,
			 const struct cfs_request *req, struct cfs_decision *out)
{
	const char *rrole = NULL;
	char name[WHO_MAX];
	who(c, name, sizeof name);
	if (is_recheck(req->op) && req->held_grant != 0)
		return recheck_held(c, fp, grants, ngrants, req, out);
	int r = decide_by_role(c, fp->cls, req, name, &rrole, out);
	if (r >= 0)
		return r;
	const struct cfs_grant *best = NULL;
	enum gstage best_st = G_PATH;
	for (size_t i = 0; grants && i < ngrants; i++) {
		enum gstage st = check_grant(&grants[i], c, fp, req);
		if (st == G_OK) {
			grant_reason(&grants[i], st, c, fp, req, out->reason, sizeof out->reason);
			out->grant_id = grants[i].id;
			return 1;
		}
		if (st > best_st) {
			best = &grants[i];
			best_st = st;
		}
	}
	if (best)
		grant_reason(best, best_st, c, fp, req, out->reason, sizeof out->reason);
	else
		nothing_admits(fp->cls, req, name, rrole, out);
	return 0;
}

static void deny(struct cfs_decision *out)
{
	out->verdict = CFS_DENY;
	out->grant_id = 0;
}

static void programs_and_export(const struct cfs_caller *caller,
				const struct cfs_file_policy *fp,
				const struct cfs_request *req, struct cfs_decision *out);

void cfs_decide(const struct cfs_caller *caller, const struct cfs_file_policy *fp,
		const struct cfs_grant *grants, size_t ngrants, const struct cfs_request *req,
		struct cfs_decision *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof *out);
	deny(out);
	if (!caller || !fp || !fp->cls || !req) {
		setf(out->reason, sizeof out->reason, "incomplete request: denied");
		return;
	}
	switch (req->op) {
	case CFS_OP_ADMIN:
		if (cfs_caller_has_role(caller, "admin")) {
			out->verdict = CFS_ALLOW;
			setf(out->reason, sizeof out->reason, "admin role");
		} else {
			setf(out->reason, sizeof out->reason,
			     "only the admin role may change policy or manage entries");
		}
		return;
	case CFS_OP_DELETE:
		if (cfs_caller_has_role(caller, "admin")) {
			out->verdict = CFS_ALLOW;
			setf(out->reason, sizeof out->reason, "admin role manages entries");
			return;
		}
		break;
	case CFS_OP_SEE:
	case CFS_OP_READ:
	case CFS_OP_WRITE:
	case CFS_OP_RECHECK:
	case CFS_OP_RECHECK_WRITE:
		break;
	default:
		setf(out->reason, sizeof out->reason, "unknown operation %d: denied", (int)req->op);
		return;
	}
	if (!req->path || cfs_path_valid(req->path) != 0) {
		setf(out->reason, sizeof out->reason, "not a canonical mount path: denied");
		return;
	}

	if (!decide_access(caller, fp, grants, ngrants, req, out)) {
		deny(out);
		return;
	}
	out->verdict = CFS_ALLOW;
	if (req->op == CFS_OP_SEE || is_recheck(req->op) || req->op == CFS_OP_DELETE)
		return;
	programs_and_export(caller, fp, req, out);
}

void cfs_decide_link(const struct cfs_caller *caller, const struct cfs_file_policy *fp,
		     const struct cfs_grant *link, const struct cfs_request *req,
		     struct cfs_decision *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof *out);
	deny(out);
	if (!caller || !fp || !fp->cls || !req || !link || !link->link) {
		setf(out->reason, sizeof out->reason, "incomplete request: denied");
		return;
	}
	if (req->op != CFS_OP_READ) {
		setf(out->reason, sizeof out->reason, "link L%" PRId64 " is read-only", link->id);
		return;
	}
	if (!req->path || cfs_path_valid(req->path) != 0) {
		setf(out->reason, sizeof out->reason, "not a canonical mount path: denied");
		return;
	}
	/* exactly its target: a link never covers a subtree */
	if (!link->path || strcmp(link->path, req->path) != 0) {
		setf(out->reason, sizeof out->reason, "link L%" PRId64 " does not cover %s", link->id,
		     req->path);
		return;
	}
	enum gstage st = check_grant(link, caller, fp, req);
	grant_reason(link, st, caller, fp, req, out->reason, sizeof out->reason);
	if (st != G_OK)
		return;
	out->verdict = CFS_ALLOW;
	programs_and_export(caller, fp, req, out);
}

/* Steps 3 and 4 for READ and WRITE once access is settled (out allows). */
static void programs_and_export(const struct cfs_caller *caller,
				const struct cfs_file_policy *fp,
				const struct cfs_request *req, struct cfs_decision *out)
{
	const struct cfs_class *cls = fp->cls;
	if (list_len(fp->readers) > 0 && !list_has(fp->readers, caller->exe)) {
		deny(out);
		setf(out->reason, sizeof out->reason,
		     "program %s is not an allowed reader of %s (class %s)", program(caller),
		     req->path, cls->name);
		return;
	}

	if (!req->export_tool)
		return;
	enum cfs_export rule = fp->export != CFS_EXPORT_UNSET ? fp->export : cls->export;
	char access[sizeof out->reason];
	memcpy(access, out->reason, sizeof access);
	out->is_export = 1;
	switch (rule) {
	case CFS_EXPORT_ALLOW:
		setf(out->reason, sizeof out->reason, "export by %s allowed (export rule allow); %s",
		     program(caller), access);
		return;
	case CFS_EXPORT_LOG:
		out->verdict = CFS_FLAG;
		setf(out->reason, sizeof out->reason, "export by %s flagged (export rule log); %s",
		     program(caller), access);
		return;
	case CFS_EXPORT_DENY:
	case CFS_EXPORT_UNSET:
		break;
	}
	deny(out);
	setf(out->reason, sizeof out->reason, "export of %s by %s denied (export rule %s)",
	     req->path, program(caller), export_word(rule));
}

/* ---- derived content and renames ---- */

int cfs_decide_derived_rank(int own_rank, int read_rank, int nclasses)
{
	return read_rank > own_rank && read_rank < nclasses ? read_rank : own_rank;
}

int cfs_decide_rename_pin(int from_rank, int to_rank)
{
	return to_rank < from_rank;
}

/* ---- copies inside the mount ---- */

void cfs_decide_copy_export(const struct cfs_file_policy *fp, const char *to, struct cfs_decision *d)
{
	if (d->verdict == CFS_DENY)
		return;
	d->verdict = fp->export == CFS_EXPORT_LOG ? CFS_FLAG
		   : fp->export == CFS_EXPORT_ALLOW ? CFS_ALLOW : CFS_DENY;
	d->is_export = 1;
	snprintf(d->reason, sizeof d->reason, "copy_file_range to %.200s: export rule %s", to,
		 cfs_export_name(fp->export));
}

/* ---- visibility ---- */

int cfs_decide_sees_all(int hide_denied, const struct cfs_caller *cl, const char *path)
{
	return !hide_denied || (path[0] == '/' && path[1] == 0) || cfs_caller_has_role(cl, "admin");
}

int cfs_decide_dir_on_way(const struct cfs_grant *const *grants, size_t n, const struct cfs_caller *cl,
			  const char *dir, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		const struct cfs_grant *g = grants[i];
		if ((g->revoked_at && g->revoked_at <= now) || g->end <= now)
			continue;
		if (cfs_grant_matches_caller(g, cl) && cfs_path_covers(dir, g->path))
			return 1;
	}
	return 0;
}

/* ---- policy attribute values ---- */

int cfs_list_split(char *buf, struct cfs_list *l)
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
		if (cfs_list_split(buf, &l) < 0)
			return cfs_errf(err, -EINVAL, "readers: more than %d programs", CFS_LIST_MAX);
		for (int i = 0; i < l.n; i++)
			if (l.v[i][0] != '/')
				return cfs_errf(err, -EINVAL, "readers: '%s' is not an absolute program path", l.v[i]);
		return 0;
	}
	return cfs_errf(err, -EOPNOTSUPP, "unknown policy attribute '%s'", key);
}
