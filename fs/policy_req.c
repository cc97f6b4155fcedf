/* policy_req.c — the pure verdicts of the access workflow (issue 16): who
 * may ask for access or break the glass on a class, who may approve, deny
 * or review a request, when an approval becomes a grant, and the TTL it
 * gets. Part of the policy module (policy.h): like policy.c it must never
 * perform I/O, read a clock or keep state; every input is an argument. */
#include "coachfs/policy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define WHO_MAX (CFS_USER_MAX + 16)

/* snprintf that leaves "" when it fails. */
static void setf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void setf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (vsnprintf(buf, n, fmt, ap) < 0 && n)
		buf[0] = 0;
	va_end(ap);
}

/* The caller's name, or "uid N" when it has none. */
static const char *who(const struct cfs_caller *c, char *buf, size_t n)
{
	size_t l = strnlen(c->user, sizeof c->user);
	if (l > 0 && l < sizeof c->user)
		return c->user;
	setf(buf, n, "uid %u", (unsigned)c->uid);
	return buf;
}

/* The first named role of list l the caller holds ("*" never counts). */
static const char *named_role(const struct cfs_list *l, const struct cfs_caller *c)
{
	int n = l->n < 0 ? 0 : l->n > CFS_LIST_MAX ? CFS_LIST_MAX : l->n;
	for (int i = 0; i < n; i++)
		if (l->v[i] && strcmp(l->v[i], "*") != 0 && cfs_caller_has_role(c, l->v[i]))
			return l->v[i];
	return NULL;
}


int cfs_decide_request_new(const struct cfs_caller *c, const struct cfs_class *cls, int breakglass,
			   char *why, size_t cap)
{
	char w[WHO_MAX];
	const char *what = breakglass ? "break-glass" : "a request";
	if (c->uid == 0) {
		setf(why, cap, "%s: root adds grants directly (coach-grant add)", what);
		return -EPERM;
	}
	if (!cls->grant) {
		setf(why, cap, "%s: class %s admits by role, not by grant", what, cls->name);
		return -EINVAL;
	}
	if (!breakglass) {
		setf(why, cap, "%s may request access to class %s", who(c, w, sizeof w), cls->name);
		return 0;
	}
	const char *r = named_role(&cls->breakglass, c);
	if (!r) {
		setf(why, cap, "break-glass: %s holds no role in class %s's breakglass list",
		     who(c, w, sizeof w), cls->name);
		return -EPERM;
	}
	setf(why, cap, "break-glass by %s (role %s) on class %s", who(c, w, sizeof w), r, cls->name);
	return 0;
}

/* Who the actor may not be, whatever the act: root, a non-admin, the one
 * who asked, or (approve, deny) the admin who already approved. */
static int request_actor(const struct cfs_caller *c, const struct cfs_req_view *r,
			 enum cfs_req_act act, char *why, size_t cap)
{
	char w[WHO_MAX];
	const char *tag = r->kind == CFS_REQ_BREAKGLASS ? "B" : "R";
	if (c->uid == 0) {
		setf(why, cap, "%s%" PRId64 ": root is a shared identity, not a second person: act as "
		     "yourself", tag, r->id);
		return -EPERM;
	}
	if (!cfs_caller_has_role(c, "admin")) {
		setf(why, cap, "%s%" PRId64 ": %s is not in the admin role", tag, r->id, who(c, w, sizeof w));
		return -EPERM;
	}
	if (c->uid == r->uid) {
		setf(why, cap, "%s%" PRId64 ": %s %s and cannot also %s it", tag, r->id,
		     who(c, w, sizeof w), r->kind == CFS_REQ_BREAKGLASS ? "broke the glass" : "asked for it",
		     act == CFS_REQ_APPROVE ? "approve" : act == CFS_REQ_DENY ? "deny" : "review");
		return -EPERM;
	}
	if (act != CFS_REQ_REVIEW && r->approved_at && c->uid == r->approver_uid) {
		setf(why, cap, "R%" PRId64 ": %s already approved it: a second admin must decide",
		     r->id, who(c, w, sizeof w));
		return -EPERM;
	}
	return 0;
}

int cfs_decide_request(const struct cfs_caller *c, const struct cfs_req_view *r, enum cfs_req_act act,
		       int64_t now, int *grant_now, char *why, size_t cap)
{
	char w[WHO_MAX];
	*grant_now = 0;
	if ((act == CFS_REQ_REVIEW) != (r->kind == CFS_REQ_BREAKGLASS)) {
		setf(why, cap, act == CFS_REQ_REVIEW ? "R%" PRId64 " is a request, not a break-glass: "
		     "approve or deny it" : "B%" PRId64 " is a break-glass: review it", r->id);
		return -EINVAL;
	}
	int rc = request_actor(c, r, act, why, cap);
	if (rc < 0)
		return rc;
	if (act == CFS_REQ_REVIEW) {
		if (r->reviewed_at) {
			setf(why, cap, "B%" PRId64 " is already reviewed", r->id);
			return -EALREADY;
		}
		setf(why, cap, "B%" PRId64 " reviewed by %s", r->id, who(c, w, sizeof w));
		return 0;
	}
	if (r->decided_at) {
		setf(why, cap, "R%" PRId64 " is already decided", r->id);
		return -EALREADY;
	}
	if (now >= r->expires) {
		setf(why, cap, "R%" PRId64 " has expired undecided", r->id);
		return -EACCES;
	}
	if (act == CFS_REQ_DENY) {
		setf(why, cap, "R%" PRId64 " denied by %s", r->id, who(c, w, sizeof w));
		return 0;
	}
	*grant_now = !r->two_person || r->approved_at != 0;
	setf(why, cap, "R%" PRId64 " approved by %s%s", r->id, who(c, w, sizeof w),
	     *grant_now ? (r->two_person ? " (second of two): granted" : ": granted")
			: " (first of two): a second admin must approve");
	return 0;
}

int64_t cfs_request_grant_ttl(int64_t asked, const struct cfs_class *cls, int breakglass)
{
	int64_t ttl = breakglass ? cls->breakglass_ttl : asked;
	if (cls->max_ttl > 0 && ttl > cls->max_ttl)
		ttl = cls->max_ttl;
	return ttl > 0 ? ttl : 1;
}
