/* grant-add.c — coach-grant add: parse and check the arguments, resolve
 * USER to a uid, gid or role, and store the grant together with its
 * grant_add audit row (cfs_grants_add_ex's hook: no grant is ever visible
 * without its row). Root only, with the store's key; it must never print a
 * key or a passphrase and never add a grant whose row was not written. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coachfs/caller.h"
#include "coachfs/util.h"
#include "grant.h"

#define MAX_OPENS_LIMIT 1000000

/* Resolve USER into rec's subject, kind, ugid and role. */
static int resolve_subject(const char *user, const struct cfs_config *cfg,
			   struct cfs_grant_rec *rec)
{
	if (strlen(user) >= CFS_USER_MAX + 5 || !cfs_printable(user))
		return cfs_say(EXIT_USAGE, "USER: '%.80s' is not a user, @group or role:NAME", user);
	cfs_strlcpy(rec->subject, user, sizeof rec->subject);
	if (user[0] == '@') {
		struct group *gr = user[1] ? getgrnam(user + 1) : NULL;
		if (!gr)
			return cfs_say(EXIT_USAGE, "unknown group '%s'", user + 1);
		rec->g.kind = CFS_SUBJ_GROUP;
		rec->g.ugid = gr->gr_gid;
	} else if (strncmp(user, "role:", 5) == 0) {
		if (!cfs_config_role(cfg, user + 5))
			return cfs_say(EXIT_USAGE, "unknown role '%s' (not in [roles] of %s)", user + 5,
				   cfg->file);
		rec->g.kind = CFS_SUBJ_ROLE;
		cfs_strlcpy(rec->role, user + 5, sizeof rec->role);
	} else {
		struct passwd *pw = user[0] ? getpwnam(user) : NULL;
		if (!pw)
			return cfs_say(EXIT_USAGE, "unknown user '%s'", user);
		rec->g.kind = CFS_SUBJ_USER;
		rec->g.ugid = pw->pw_uid;
	}
	if (rec->g.kind != CFS_SUBJ_ROLE && rec->g.ugid > 0xfffffffeu)
		return cfs_say(EXIT_USAGE, "USER: '%s' has no usable id", user);
	return 0;
}

/* The largest max_ttl among grant = yes classes; 0 when any is uncapped. */
static int64_t largest_max_ttl(const struct cfs_config *cfg, int *any)
{
	int64_t m = 0;
	*any = 0;
	for (int i = 0; i < cfg->nclasses; i++) {
		const struct cfs_class *c = &cfg->classes[i];
		if (!c->grant)
			continue;
		if (c->max_ttl == 0)
			return 0;
		*any = 1;
		if (c->max_ttl > m)
			m = c->max_ttl;
	}
	return m;
}

/* --approved-by NAME: a real user, in the admin role, not root. (That it is
 * not the granter nor the grantee is checked by the caller; the daemon checks
 * all of it again when NAME approves.) */
static int approver_ok(const struct cfs_config *cfg, const char *name)
{
	struct passwd *pw = getpwnam(name);
	struct cfs_roletab *rt = NULL;
	struct cfs_caller *cl = NULL;
	struct cfs_err err = { "" };
	gid_t groups[256];
	int ng = 256, rc;
	if (!pw)
		return cfs_say(EXIT_USAGE, "--approved-by: no user '%s'", name);
	if (pw->pw_uid == 0)
		return cfs_say(EXIT_USAGE, "--approved-by: root is a shared identity, not a second person");
	if (getgrouplist(name, pw->pw_gid, groups, &ng) < 0)
		ng = 0;
	if (cfs_roletab_build(cfg, &rt, &err) < 0)
		return cfs_say(EXIT_FAIL, "%s", err.msg);
	if (!(cl = calloc(1, sizeof *cl))) {
		cfs_roletab_free(rt);
		return cfs_say(EXIT_FAIL, "out of memory");
	}
	rc = cfs_caller_ids(rt, cl, pw->pw_uid, pw->pw_gid, 0, groups, ng);
	if (rc < 0)
		rc = cfs_say(EXIT_FAIL, "--approved-by: cannot resolve the roles of '%s'", name);
	else if (!cfs_caller_has_role(cl, "admin"))
		rc = cfs_say(EXIT_USAGE, "--approved-by: '%s' is not in the admin role ([roles] admin in %s)",
			 name, cfg->file);
	else
		rc = 0;
	free(cl);
	cfs_roletab_free(rt);
	return rc;
}

struct add_args {
	const char *ttl_s, *start_s, *opens_s, *reason, *approver, *user, *path;
	int write;
	int64_t now, ttl, start, end;
	uint64_t max_opens;
};

static int add_options(int argc, char **argv, const char **cfile, struct add_args *a)
{
	const struct grant_opt opts[] = {
		{ "ttl", &a->ttl_s, NULL }, { "start", &a->start_s, NULL },
		{ "max-opens", &a->opens_s, NULL }, { "write", NULL, &a->write },
		{ "reason", &a->reason, NULL }, { "approved-by", &a->approver, NULL },
		{ NULL, NULL, NULL } };
	int rc = grant_getopt(argc, argv, "add", opts, 0, cfile);
	if (rc != 0)
		return rc;
	if (argc - optind != 2)
		return cfs_say(EXIT_USAGE, "usage: coach-grant add USER PATH --ttl DURATION [--start TIME] "
			   "[--max-opens N] [--write] [--reason TEXT] [--approved-by NAME]");
	a->user = argv[optind];
	a->path = argv[optind + 1];
	return 0;
}

/* Every argument checked before anything is opened. */
static int add_values(struct add_args *a)
{
	int rc;
	a->now = a->start = cfs_now_s();
	if (cfs_path_valid(a->path) < 0)
		return cfs_say(EXIT_USAGE, "PATH: '%.200s' is not a mount-relative path (like "
			   "/incidents/2026: absolute, no '.', '..' or '//', no trailing '/')", a->path);
	if (!a->ttl_s)
		return cfs_say(EXIT_USAGE, "add: --ttl is required (like --ttl 4h)");
	if (cfs_parse_duration(a->ttl_s, &a->ttl) < 0)
		return cfs_say(EXIT_USAGE, "--ttl: '%.80s' is not a duration (like 90s, 15m, 4h, 2d)",
			   a->ttl_s);
	if (a->start_s && cfs_parse_time(a->start_s, a->now, &a->start) < 0)
		return cfs_say(EXIT_USAGE, "--start: '%.80s' is not a time (like now, +2h, "
			   "2026-11-27T10:00:00Z, @1790000000)", a->start_s);
	if (a->opens_s && (cfs_parse_uint(a->opens_s, MAX_OPENS_LIMIT, &a->max_opens) < 0 || a->max_opens == 0))
		return cfs_say(EXIT_USAGE, "--max-opens: '%.80s' is not a number from 1 to %d", a->opens_s,
			   MAX_OPENS_LIMIT);
	if (a->reason && (rc = text_arg("--reason", a->reason)) != 0)
		return rc;
	if (a->approver) {
		if ((rc = text_arg("--approved-by", a->approver)) != 0)
			return rc;
		if (!*a->approver)
			return cfs_say(EXIT_USAGE, "--approved-by: empty name");
	}
	a->end = a->start + a->ttl;
	if (a->end <= a->now) {
		char e[32];
		cfs_fmt_local(a->end, e, sizeof e);
		return cfs_say(EXIT_USAGE, "the grant would end at %s, before now", e);
	}
	return 0;
}

/* The grant as it will be stored: subject resolved, approver checked. */
static int add_rec(const struct add_args *a, const struct cfs_config *cfg, const struct cfs_who *adm,
		   struct cfs_grant_rec *rec)
{
	int rc = resolve_subject(a->user, cfg, rec);
	if (rc != 0)
		return rc;
	if (a->approver && strcmp(a->approver, rec->subject) == 0)
		return cfs_say(EXIT_USAGE, "--approved-by must name a second person, not the grantee");
	if (a->approver && (rc = approver_ok(cfg, a->approver)) != 0)
		return rc;
	cfs_strlcpy(rec->path, a->path, sizeof rec->path);
	rec->g.write = a->write;
	rec->g.start = a->start;
	rec->g.end = a->end;
	rec->g.max_opens = (uint32_t)a->max_opens;
	cfs_strlcpy(rec->granted_by, adm->name, sizeof rec->granted_by);
	if (a->approver)
		cfs_strlcpy(rec->approved_by, a->approver, sizeof rec->approved_by);
	if (a->reason)
		cfs_strlcpy(rec->reason, a->reason, sizeof rec->reason);
	rec->created = a->now;
	return 0;
}

static void warn_ttl(const struct cfs_config *cfg, int64_t ttl)
{
	int any;
	int64_t cap = largest_max_ttl(cfg, &any);
	if (any && ttl > cap) {
		char a[32], b[32];
		fmt_duration(ttl, a, sizeof a);
		fmt_duration(cap, b, sizeof b);
		fprintf(stderr, "coach-grant: warning: --ttl %s is longer than the largest max_ttl of any "
			"class (%s); the grant will end at its start plus the max_ttl of the file's "
			"class\n", a, b);
	}
}

/* The grant was not added: say why (and, when its grant_add row was
 * committed but the grant was not, correct the log with an error row). */
static int add_failed(struct add_audit *aa, const struct cfs_grant_rec *rec, const char *path,
		      const struct cfs_err *err)
{
	if (aa->failed)
		return cfs_say(EXIT_FAIL, "the grant was not added: its audit row could not be "
			   "written: %s", err->msg);
	if (!aa->appended)
		return cfs_say(EXIT_FAIL, "%s", err->msg);
	struct cfs_event ev;
	struct cfs_err e2 = { "" };
	char why[1024];
	snprintf(why, sizeof why, "grant %lld was not stored after its grant_add row: %s",
		 (long long)rec->g.id, err->msg);
	event_base(&ev, aa->adm, CFS_ACT_GRANT_ADD);
	ev.path = path;
	ev.result = "error";
	ev.reason = why;
	if (cfs_audit_append(aa->a, &ev, &e2) < 0)
		return cfs_say(EXIT_FAIL, "%s (and the audit log could not be corrected: %s)", why, e2.msg);
	return cfs_say(EXIT_FAIL, "%s", why);
}

/* Store rec with its row; print its id. */
static int add_store(const struct cfs_config *cfg, struct cfs_grant_rec *rec, struct add_audit *aa,
		     const char *approver)
{
	struct cfs_grants *g = NULL;
	struct cfs_keys *keys = NULL;
	struct cfs_err err = { "" };
	int rc;
	if (open_audit(cfg->audit_db, &aa->a, &err) < 0)
		return cfs_say(EXIT_FAIL, "audit: %s", err.msg);
	if ((rc = unlock_keys(cfg, &keys)) != 0 || (rc = open_grants(cfg, keys, &g)) != 0)
		goto out;
	if (cfs_grants_add_ex(g, rec, add_audit_hook, aa, &err) < 0) {
		rc = add_failed(aa, rec, rec->path, &err);
		goto out;
	}
	printf("%lld\n", (long long)rec->g.id);
	if (approver)
		fprintf(stderr, "coach-grant: grant %lld is not approved yet: on a two-person class it opens "
			"nothing until %s runs: coach-grant approve %lld\n", (long long)rec->g.id,
			approver, (long long)rec->g.id);
	rc = fflush(stdout) == 0 ? EXIT_OK : cfs_say(EXIT_FAIL, "writing the grant id: %s", strerror(errno));
out:
	cfs_keys_free(keys);
	cfs_grants_close(g);
	return rc;
}

int cmd_add(int argc, char **argv, const char **cfile)
{
	struct add_args a;
	struct cfs_who adm;
	memset(&a, 0, sizeof a);
	int rc = add_options(argc, argv, cfile, &a);
	if (rc != 0 || (rc = add_values(&a)) != 0 || (rc = need_root()) != 0)
		return rc;
	cfs_who_am_i(&adm);
	if (a.approver && strcmp(a.approver, adm.name) == 0)
		return cfs_say(EXIT_USAGE, "--approved-by must name a second person, not %s", adm.name);
	struct cfs_config *cfg = NULL;
	struct cfs_grant_rec *rec = calloc(1, sizeof *rec);
	struct add_audit aa;
	memset(&aa, 0, sizeof aa);
	aa.adm = &adm;
	if (!rec)
		rc = cfs_say(EXIT_FAIL, "out of memory");
	else if ((rc = load_config(*cfile, &cfg)) == 0 && (rc = add_rec(&a, cfg, &adm, rec)) == 0) {
		warn_ttl(cfg, a.ttl);
		rc = add_store(cfg, rec, &aa, a.approver);
	}
	close_audit(aa.a);
	free(rec);
	cfs_config_free(cfg);
	return rc;
}
