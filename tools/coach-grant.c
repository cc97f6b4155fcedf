/* coach-grant — add, list, show and revoke time-bound grants (README, "coach-grant").
 * Owns argument parsing, resolving USER to a uid/gid/role, and printing; the
 * database work is grants.c's and the audit rows are audit.c's. It must never
 * change a grant without root and the store's key, never leave an added grant
 * or link without its audit row, and never print a key or a passphrase. It
 * unlocks the store only to derive the row MAC and link-hashing keys (in
 * secure memory, wiped when the command ends). `approve` is the one command
 * run without root: it goes through the mount, so the daemon learns the
 * approver from the kernel, not from this program.
 *
 * Add and audit: the grant row is inserted inside a policy.db write
 * transaction, the grant_add audit row is appended (and committed) while that
 * transaction is open, and only then is the grant committed. If the audit row
 * cannot be written the grant is rolled back: no grant is ever visible without
 * its audit row. (If the final commit fails after the audit row was written,
 * an error row saying so is appended: the log may over-report, never
 * under-report.)
 * Revoke and audit: the revocation is committed first, then audited. A
 * broken audit database must never keep access alive, so a revocation stands
 * even when its audit row cannot be written; the tool then fails loudly
 * (exit 1) saying exactly that. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/xattr.h>
#include <sodium.h>

#include "coachfs/audit.h"
#include "coachfs/caller.h"
#include "coachfs/config.h"
#include "coachfs/crypto.h"
#include "coachfs/passphrase.h"
#include "coachfs/grants.h"
#include "coachfs/links.h"
#include "coachfs/store.h"
#include "coachfs/util.h"
#include "tool.h"

#define PROG "coach-grant"
const char cfs_tool_prog[] = PROG;
#define MAX_OPENS_LIMIT 1000000

enum { EXIT_OK = 0, EXIT_FAIL = CFS_EXIT_FAIL, EXIT_USAGE = CFS_EXIT_USAGE };

static const char usage_text[] =
	"usage: coach-grant [-c FILE] COMMAND [ARGS]\n"
	"\n"
	"Grant, list, show and revoke time-bound access to coachfs material.\n"
	"\n"
	"  add USER PATH --ttl DURATION [--start TIME] [--max-opens N] [--write]\n"
	"      [--reason TEXT] [--approved-by NAME]\n"
	"                 give USER access to PATH (a file or a whole subtree) for\n"
	"                 DURATION from TIME (default now); prints the grant id\n"
	"  list [--active] [--user U] [--path P] [--json]\n"
	"                 grants, newest first; --active: not revoked and not ended;\n"
	"                 --user: subject exactly as granted; --path: grants covering P\n"
	"  show ID [--json]\n"
	"                 one grant in full\n"
	"  revoke ID [--reason TEXT]\n"
	"                 end a grant now (open files lose access within a second);\n"
	"                 a link's id is written L7\n"
	"  approve ID [--mount DIR]\n"
	"                 confirm, as yourself (not root), a grant or link (L7) on a\n"
	"                 two-person class; the daemon checks you are a second admin\n"
	"  link PATH --ttl DURATION [--uses N] [--user U] [--mount DIR]\n"
	"                 issue an expiring delivery link: prints MOUNT/.links/TOKEN,\n"
	"                 which opens PATH read-only until it expires or is used N\n"
	"                 times (default 1); with --user only that user may use it.\n"
	"                 Needs the store passphrase (tokens are kept only as a keyed\n"
	"                 hash). The mount is the one the daemon recorded, or --mount.\n"
	"\n"
	"USER is a login name, @group, or role:NAME (a role in [roles]). PATH is\n"
	"mount-relative, like /incidents/2026. DURATION is 90s, 15m, 4h or 2d.\n"
	"TIME is now, +2h (from now), 2h (ago), 2026-11-27T10:00:00Z,\n"
	"2026-11-27 10:00 (local time) or @EPOCHSECONDS.\n"
	"The daemon ends a grant no later than its start plus the max_ttl of the\n"
	"file's class; on a class with approval = two-person a grant or link opens\n"
	"nothing until a second admin runs `coach-grant approve ID` as themselves\n"
	"(--approved-by NAME names who must).\n"
	"\n"
	"Options:\n"
	"  -c FILE        configuration (default: $COACHFS_CONFIG, else\n"
	"                 /etc/coachfs/coachfs.ini)\n"
	"  -h, --help     show this help\n"
	"  -V, --version  show the version\n"
	"\n"
	"Only root (or an admin via sudo) may add, revoke, link, list or show: each\n"
	"needs the store passphrase (rows are sealed with a key derived from it).\n"
	"Changes are recorded in the audit database, and fail when they cannot be.\n"
	"Exit status: 0 done, 1 failed, 2 bad usage or argument.\n";

/* ---- messages ------------------------------------------------------------- */

/* After getopt_long returned ':' (missing value) or '?' (unknown). cmd is
 * the command ("add: ") or "" before one. */
static int bad_option(const char *cmd, int c, int opt, char **argv, int ind)
{
	if (c == ':')
		return cfs_say(EXIT_USAGE, "%soption '%s' needs a value", cmd, argv[ind - 1]);
	if (opt && opt != '?')
		return cfs_say(EXIT_USAGE, "%sunknown option '-%c' (see coach-grant --help)", cmd, opt);
	return cfs_say(EXIT_USAGE, "%sunknown option '%s' (see coach-grant --help)", cmd,
		   argv[ind - 1]);
}

/* coach-grant prints absent text as null, and "" is absent. */
static void json_str(FILE *f, const char *s)
{
	cfs_put_json_str(f, s && *s ? s : NULL);
}

/* "4h", "90m", "1d2h": the largest units that divide exactly, up to two. */
static void fmt_duration(int64_t s, char *out, size_t cap)
{
	static const struct { int64_t n; char u; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' } };
	size_t o = 0;
	int parts = 0;
	out[0] = 0;
	for (size_t i = 0; i < 4 && s > 0 && parts < 2; i++) {
		if (s >= units[i].n) {
			o += (size_t)snprintf(out + o, cap > o ? cap - o : 0, "%lld%c",
					      (long long)(s / units[i].n), units[i].u);
			s %= units[i].n;
			parts++;
		}
	}
	if (s > 0 && o < cap)
		snprintf(out + o, cap - o, "+%llds", (long long)s);
	if (out[0] == 0)
		snprintf(out, cap, "0s");
}

static const char *state_of(const struct cfs_grant_rec *r, int64_t now)
{
	if (r->row_state != CFS_ROW_OK)
		return cfs_row_state_name(r->row_state);
	if (r->g.revoked_at)
		return "revoked";
	if (r->g.end <= now)
		return "expired";
	if (r->g.start > now)
		return "pending";
	return "active";
}

static const char *kind_name(enum cfs_subject k)
{
	return k == CFS_SUBJ_USER ? "user" : k == CFS_SUBJ_GROUP ? "group" : "role";
}

/* Free text from argv: bounded, no control characters. */
static int text_arg(const char *opt, const char *s)
{
	if (strlen(s) >= CFS_TEXT_MAX)
		return cfs_say(EXIT_USAGE, "%s: too long (at most %d bytes)", opt, CFS_TEXT_MAX - 1);
	if (!cfs_printable(s))
		return cfs_say(EXIT_USAGE, "%s: control characters are not allowed", opt);
	return 0;
}

static int parse_id(const char *s, int64_t *id)
{
	uint64_t v;
	if (cfs_parse_uint(s, (uint64_t)INT64_MAX, &v) < 0 || v == 0)
		return cfs_say(EXIT_USAGE, "'%s' is not a grant id", s);
	*id = (int64_t)v;
	return 0;
}

/* ---- shared state ---------------------------------------------------------- */

static int need_root(void)
{
	if (geteuid() != 0)
		return cfs_say(EXIT_FAIL, "only root (or an admin via sudo) may change grants");
	return 0;
}

static int load_config(const char *cfile, struct cfs_config **cfg)
{
	struct cfs_err err = { "" };
	const char *path = cfs_config_path(cfile);
	if (cfs_config_load(path, cfg, &err) < 0)
		return cfs_say(EXIT_FAIL, "%s", err.msg);
	return 0;
}

/* Unlock the store to derive the keys this tool uses (row MACs, link
 * hashing); they live in sodium_malloc memory, freed with cfs_keys_free. */
static int unlock_keys(const struct cfs_config *cfg, struct cfs_keys **k)
{
	char hdr[4096], *pass;
	size_t passlen;
	struct cfs_err err = { "" };
	*k = NULL;
	if (cfs_crypto_init(&err) < 0)
		return cfs_say(EXIT_FAIL, "%s", err.msg);
	if (cfs_store_header_path(cfg->store_path, hdr, sizeof hdr) < 0)
		return cfs_say(EXIT_FAIL, "store path too long");
	if (cfs_pass_obtain(cfg, 0, "Store passphrase: ", &pass, &passlen, &err) < 0)
		return cfs_say(EXIT_FAIL, "%s", err.msg);
	int rc = cfs_store_unlock(hdr, pass, passlen, k, &err);
	cfs_pass_free(pass, passlen);
	if (rc < 0)
		return cfs_say(EXIT_FAIL, "%s", err.msg);
	return 0;
}

/* policy.db's grants, with the row MAC key when keys is given. */
static int open_grants(const struct cfs_config *cfg, const struct cfs_keys *keys,
		       struct cfs_grants **g)
{
	struct cfs_err err = { "" };
	if (cfs_grants_open(cfg->policy_db, 0, g, &err) < 0 ||
	    (keys && cfs_grants_set_key(*g, keys->rowmac, &err) < 0)) {
		cfs_grants_close(*g);
		*g = NULL;
		return cfs_say(EXIT_FAIL, "%s", err.msg);
	}
	return 0;
}

static int open_links(const struct cfs_config *cfg, const struct cfs_keys *keys,
		      struct cfs_links **l, struct cfs_err *err)
{
	int rc = cfs_links_open(cfg->policy_db, l, err);
	if (rc == 0 && keys && (rc = cfs_links_set_key(*l, keys->rowmac, err)) < 0) {
		cfs_links_close(*l);
		*l = NULL;
	}
	return rc;
}

/* Close the audit database at the end of a command; a failure here cannot
 * undo what was already committed, so it is a warning. NULL-safe. */
/* The audit database for one row: wait up to AUDIT_WAIT_MS for the write
 * lock (a busy daemon leaves it free between its batches; the wait polls
 * finely enough to catch those gaps). */
#define AUDIT_WAIT_MS 10000
static int open_audit(const char *db, struct cfs_audit **a, struct cfs_err *err)
{
	int rc = cfs_audit_open(db, 0, a, err);
	if (rc == 0 && (rc = cfs_audit_set_busy_timeout(*a, AUDIT_WAIT_MS)) < 0) {
		cfs_audit_close(*a, NULL);
		*a = NULL;
		return cfs_errf(err, rc, "%s: cannot set the lock wait", db);
	}
	return rc;
}

static void close_audit(struct cfs_audit *a)
{
	struct cfs_err err = { "" };
	if (a && cfs_audit_close(a, &err) < 0)
		fprintf(stderr, PROG ": warning: closing the audit database: %s\n", err.msg);
}

static void event_base(struct cfs_event *ev, const struct cfs_who *adm, const char *action)
{
	cfs_event_init(ev);
	ev->uid = adm->uid;
	ev->user = adm->name;
	ev->pid = getpid();
	ev->exe = adm->exe[0] ? adm->exe : NULL;
	ev->action = action;
}

/* ---- add --------------------------------------------------------------------- */

struct add_audit {
	struct cfs_audit *a;
	const struct cfs_who *adm;
	char reason[2800];     /* filled once the id is known */
	int appended;          /* the grant_add row is committed */
	int failed;            /* the audit append failed */
};

static void describe_grant(const struct cfs_grant_rec *r, char *out, size_t cap)
{
	char s[32], e[32], ttl[32], subj[CFS_TEXT_MAX * 4 + 64], appr[CFS_TEXT_MAX * 4 + 32],
		opens[48];
	cfs_fmt_utc(r->g.start, s, sizeof s);
	cfs_fmt_utc(r->g.end, e, sizeof e);
	fmt_duration(r->g.end - r->g.start, ttl, sizeof ttl);
	cfs_term_buf(r->subject, subj, sizeof subj);
	if (r->g.kind != CFS_SUBJ_ROLE) {
		size_t n = strlen(subj);
		snprintf(subj + n, sizeof subj - n, " (%s %u)", r->g.kind == CFS_SUBJ_USER ? "uid" : "gid",
			 (unsigned)r->g.ugid);
	}
	if (r->approved_by[0]) {
		char t[CFS_TEXT_MAX * 4];
		cfs_term_buf(r->approved_by, t, sizeof t);
		snprintf(appr, sizeof appr, r->approved_at ? "approved by %s" : "to be approved by %s", t);
	} else {
		snprintf(appr, sizeof appr, "no approver");
	}
	if (r->g.max_opens)
		snprintf(opens, sizeof opens, "max %u opens", r->g.max_opens);
	else
		snprintf(opens, sizeof opens, "unlimited opens");
	snprintf(out, cap, "grant %lld to %s from %s until %s (%s), %s, %s, %s",
		 (long long)r->g.id, subj, s, e, ttl, r->g.write ? "read-write" : "read-only",
		 opens, appr);
}

static int add_audit_hook(const struct cfs_grant_rec *rec, void *arg, struct cfs_err *err)
{
	struct add_audit *aa = arg;
	struct cfs_event ev;
	char desc[2400];
	describe_grant(rec, desc, sizeof desc);
	if (rec->reason[0])
		snprintf(aa->reason, sizeof aa->reason, "%s; reason: %s", desc, rec->reason);
	else
		snprintf(aa->reason, sizeof aa->reason, "%s", desc);
	event_base(&ev, aa->adm, "grant_add");
	ev.path = rec->path;
	ev.result = "allow";
	ev.reason = aa->reason;
	ev.grant_id = rec->g.id;
	int rc = cfs_audit_append(aa->a, &ev, err);
	if (rc < 0)
		aa->failed = 1;
	else
		aa->appended = 1;
	return rc;
}

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

static int cmd_add(int argc, char **argv, const char **cfile)
{
	static const struct option lo[] = {
		{ "ttl", required_argument, NULL, 't' },
		{ "start", required_argument, NULL, 's' },
		{ "max-opens", required_argument, NULL, 'm' },
		{ "write", no_argument, NULL, 'w' },
		{ "reason", required_argument, NULL, 'r' },
		{ "approved-by", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 } };
	const char *ttl_s = NULL, *start_s = NULL, *opens_s = NULL, *reason = NULL,
		   *approver = NULL;
	int write = 0, c, rc;
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":c:", lo, NULL)) != -1) {
		switch (c) {
		case 'c': *cfile = optarg; break;
		case 't': ttl_s = optarg; break;
		case 's': start_s = optarg; break;
		case 'm': opens_s = optarg; break;
		case 'w': write = 1; break;
		case 'r': reason = optarg; break;
		case 'a': approver = optarg; break;
		default: return bad_option("add: ", c, optopt, argv, optind);
		}
	}
	if (argc - optind != 2)
		return cfs_say(EXIT_USAGE, "usage: coach-grant add USER PATH --ttl DURATION [--start TIME] "
			   "[--max-opens N] [--write] [--reason TEXT] [--approved-by NAME]");
	const char *user = argv[optind], *path = argv[optind + 1];
	int64_t now = cfs_now_s(), ttl, start = now;
	uint64_t max_opens = 0;

	if (cfs_path_valid(path) < 0)
		return cfs_say(EXIT_USAGE, "PATH: '%.200s' is not a mount-relative path (like "
			   "/incidents/2026: absolute, no '.', '..' or '//', no trailing '/')", path);
	if (!ttl_s)
		return cfs_say(EXIT_USAGE, "add: --ttl is required (like --ttl 4h)");
	if (cfs_parse_duration(ttl_s, &ttl) < 0)
		return cfs_say(EXIT_USAGE, "--ttl: '%.80s' is not a duration (like 90s, 15m, 4h, 2d)",
			   ttl_s);
	if (start_s && cfs_parse_time(start_s, now, &start) < 0)
		return cfs_say(EXIT_USAGE, "--start: '%.80s' is not a time (like now, +2h, "
			   "2026-11-27T10:00:00Z, @1790000000)", start_s);
	if (opens_s && (cfs_parse_uint(opens_s, MAX_OPENS_LIMIT, &max_opens) < 0 || max_opens == 0))
		return cfs_say(EXIT_USAGE, "--max-opens: '%.80s' is not a number from 1 to %d", opens_s,
			   MAX_OPENS_LIMIT);
	if (reason && (rc = text_arg("--reason", reason)) != 0)
		return rc;
	if (approver) {
		if ((rc = text_arg("--approved-by", approver)) != 0)
			return rc;
		if (!*approver)
			return cfs_say(EXIT_USAGE, "--approved-by: empty name");
	}
	int64_t end = start + ttl;
	if (end <= now) {
		char e[32];
		cfs_fmt_local(end, e, sizeof e);
		return cfs_say(EXIT_USAGE, "the grant would end at %s, before now", e);
	}
	if ((rc = need_root()) != 0)
		return rc;
	struct cfs_who adm;
	cfs_who_am_i(&adm);
	if (approver && strcmp(approver, adm.name) == 0)
		return cfs_say(EXIT_USAGE, "--approved-by must name a second person, not %s", adm.name);

	struct cfs_config *cfg = NULL;
	if ((rc = load_config(*cfile, &cfg)) != 0)
		return rc;
	struct cfs_grant_rec *rec = calloc(1, sizeof *rec);
	struct cfs_grants *g = NULL;
	struct cfs_keys *keys = NULL;
	struct add_audit aa;
	struct cfs_err err = { "" };
	memset(&aa, 0, sizeof aa);
	if (!rec) {
		rc = cfs_say(EXIT_FAIL, "out of memory");
		goto out;
	}
	if ((rc = resolve_subject(user, cfg, rec)) != 0)
		goto out;
	if (approver && strcmp(approver, rec->subject) == 0) {
		rc = cfs_say(EXIT_USAGE, "--approved-by must name a second person, not the grantee");
		goto out;
	}
	if (approver && (rc = approver_ok(cfg, approver)) != 0)
		goto out;
	cfs_strlcpy(rec->path, path, sizeof rec->path);
	rec->g.write = write;
	rec->g.start = start;
	rec->g.end = end;
	rec->g.max_opens = (uint32_t)max_opens;
	cfs_strlcpy(rec->granted_by, adm.name, sizeof rec->granted_by);
	if (approver)
		cfs_strlcpy(rec->approved_by, approver, sizeof rec->approved_by);
	if (reason)
		cfs_strlcpy(rec->reason, reason, sizeof rec->reason);
	rec->created = now;

	int any;
	int64_t cap = largest_max_ttl(cfg, &any);
	if (any && ttl > cap) {
		char a[32], b[32];
		fmt_duration(ttl, a, sizeof a);
		fmt_duration(cap, b, sizeof b);
		fprintf(stderr, PROG ": warning: --ttl %s is longer than the largest max_ttl of any "
			"class (%s); the grant will end at its start plus the max_ttl of the file's "
			"class\n", a, b);
	}

	if (open_audit(cfg->audit_db, &aa.a, &err) < 0) {
		rc = cfs_say(EXIT_FAIL, "audit: %s", err.msg);
		goto out;
	}
	aa.adm = &adm;
	if ((rc = unlock_keys(cfg, &keys)) != 0 || (rc = open_grants(cfg, keys, &g)) != 0)
		goto out;
	if (cfs_grants_add_ex(g, rec, add_audit_hook, &aa, &err) < 0) {
		if (aa.failed) {
			rc = cfs_say(EXIT_FAIL, "the grant was not added: its audit row could not be "
				 "written: %s", err.msg);
		} else if (aa.appended) {
			/* Audited but not stored: say so in the log as well. */
			struct cfs_event ev;
			struct cfs_err e2 = { "" };
			char why[1024];
			snprintf(why, sizeof why, "grant %lld was not stored after its grant_add row: %s",
				 (long long)rec->g.id, err.msg);
			event_base(&ev, &adm, "grant_add");
			ev.path = path;
			ev.result = "error";
			ev.reason = why;
			if (cfs_audit_append(aa.a, &ev, &e2) < 0)
				rc = cfs_say(EXIT_FAIL, "%s (and the audit log could not be corrected: %s)",
					 why, e2.msg);
			else
				rc = cfs_say(EXIT_FAIL, "%s", why);
		} else {
			rc = cfs_say(EXIT_FAIL, "%s", err.msg);
		}
		goto out;
	}
	printf("%lld\n", (long long)rec->g.id);
	if (approver)
		fprintf(stderr, PROG ": grant %lld is not approved yet: on a two-person class it opens "
			"nothing until %s runs: coach-grant approve %lld\n", (long long)rec->g.id,
			approver, (long long)rec->g.id);
	rc = fflush(stdout) == 0 ? EXIT_OK : cfs_say(EXIT_FAIL, "writing the grant id: %s",
						   strerror(errno));
out:
	cfs_keys_free(keys);
	cfs_grants_close(g);
	close_audit(aa.a);
	free(rec);
	cfs_config_free(cfg);
	return rc;
}

/* ---- list / show -------------------------------------------------------------- */

enum { L_ID, L_SUBJECT, L_PATH, L_ACCESS, L_START, L_END, L_OPENS, L_STATE, L_BY,
       L_APPROVED, L_NCOL };
static const char *const list_heads[L_NCOL] = {
	"ID", "SUBJECT", "PATH", "ACCESS", "START", "END", "OPENS", "STATE", "BY", "APPROVED" };

struct row {
	char *col[L_NCOL];
};

struct list_ctx {
	int json;
	int64_t now;
	size_t njson;          /* objects printed (--json) */
	size_t n, cap;         /* rows collected (table) */
	struct row *rows;
	int oom;
};

static void print_json_rec(FILE *f, const struct cfs_grant_rec *r, int64_t now)
{
	fprintf(f, "{\"id\":%lld,\"subject\":", (long long)r->g.id);
	json_str(f, r->subject);
	fprintf(f, ",\"kind\":\"%s\"", kind_name(r->g.kind));
	if (r->g.kind == CFS_SUBJ_USER)
		fprintf(f, ",\"uid\":%u,\"gid\":null,\"role\":null", (unsigned)r->g.ugid);
	else if (r->g.kind == CFS_SUBJ_GROUP)
		fprintf(f, ",\"uid\":null,\"gid\":%u,\"role\":null", (unsigned)r->g.ugid);
	else {
		fputs(",\"uid\":null,\"gid\":null,\"role\":", f);
		json_str(f, r->role);
	}
	fputs(",\"path\":", f);
	json_str(f, r->path);
	fprintf(f, ",\"write\":%s,\"start\":%lld,\"end\":%lld,\"max_opens\":",
		r->g.write ? "true" : "false", (long long)r->g.start, (long long)r->g.end);
	if (r->g.max_opens)
		fprintf(f, "%u", r->g.max_opens);
	else
		fputs("null", f);
	fputs(",\"reason\":", f);
	json_str(f, r->reason);
	fputs(",\"granted_by\":", f);
	json_str(f, r->granted_by);
	fputs(",\"approved_by\":", f);
	json_str(f, r->approved_by);
	fprintf(f, ",\"created\":%lld,\"revoked_at\":", (long long)r->created);
	if (r->g.revoked_at)
		fprintf(f, "%lld", (long long)r->g.revoked_at);
	else
		fputs("null", f);
	fputs(",\"revoked_by\":", f);
	json_str(f, r->revoked_by);
	fputs(",\"revoke_reason\":", f);
	json_str(f, r->revoke_reason);
	fputs(",\"approved_at\":", f);
	if (r->approved_at)
		fprintf(f, "%lld", (long long)r->approved_at);
	else
		fputs("null", f);
	fprintf(f, ",\"valid\":%s,\"invalid\":", r->row_state == CFS_ROW_OK ? "true" : "false");
	if (r->row_state == CFS_ROW_OK)
		fputs("null", f);
	else
		fprintf(f, "\"%s\"", r->row_state == CFS_ROW_UNSEALED ? "unsealed"
				     : r->row_state == CFS_ROW_NOKEY ? "unverified" : "mac");
	fprintf(f, ",\"state\":\"%s\"}", state_of(r, now));
}

static char *dup_term(const char *s)
{
	size_t cap = strlen(s) * 4 + 6; /* term_text keeps 5 bytes spare: "/" must fit */
	char *o = malloc(cap);
	if (o)
		cfs_term_buf(s, o, cap);
	return o;
}

static char *dup_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_fmt(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

static int list_cb(const struct cfs_grant_rec *r, void *arg)
{
	struct list_ctx *lc = arg;
	if (lc->json) {
		fputs(lc->njson ? ",\n  " : "\n  ", stdout);
		print_json_rec(stdout, r, lc->now);
		lc->njson++;
		return 0;
	}
	if (lc->n == lc->cap) {
		size_t ncap = lc->cap ? lc->cap * 2 : 32;
		struct row *nr = realloc(lc->rows, ncap * sizeof *nr);
		if (!nr) {
			lc->oom = 1;
			return 1;
		}
		lc->rows = nr;
		lc->cap = ncap;
	}
	struct row *row = &lc->rows[lc->n];
	char s[32], e[32];
	memset(row, 0, sizeof *row);
	lc->n++;
	cfs_fmt_local(r->g.start, s, sizeof s);
	cfs_fmt_local(r->g.end, e, sizeof e);
	row->col[L_ID] = dup_fmt("%lld", (long long)r->g.id);
	row->col[L_SUBJECT] = dup_term(r->subject);
	row->col[L_PATH] = dup_term(r->path);
	row->col[L_ACCESS] = dup_fmt("%s", r->g.write ? "rw" : "ro");
	row->col[L_START] = dup_fmt("%s", s);
	row->col[L_END] = dup_fmt("%s", e);
	row->col[L_OPENS] = r->g.max_opens ? dup_fmt("%u", r->g.max_opens) : dup_fmt("-");
	row->col[L_STATE] = dup_fmt("%s", state_of(r, lc->now));
	row->col[L_BY] = dup_term(r->granted_by);
	if (r->approved_by[0] && r->approved_at)
		row->col[L_APPROVED] = dup_term(r->approved_by);
	else if (r->approved_by[0]) {
		char *t = dup_term(r->approved_by);
		row->col[L_APPROVED] = t ? dup_fmt("(waiting: %s)", t) : NULL;
		free(t);
	} else
		row->col[L_APPROVED] = dup_fmt("-");
	for (int i = 0; i < L_NCOL; i++)
		if (!row->col[i]) {
			lc->oom = 1;
			return 1;
		}
	return 0;
}

static void print_table(const struct list_ctx *lc)
{
	size_t w[L_NCOL];
	for (int i = 0; i < L_NCOL; i++)
		w[i] = strlen(list_heads[i]);
	for (size_t r = 0; r < lc->n; r++)
		for (int i = 0; i < L_NCOL; i++) {
			size_t l = strlen(lc->rows[r].col[i]);
			if (l > w[i])
				w[i] = l;
		}
	for (size_t r = 0; r <= lc->n; r++) {
		for (int i = 0; i < L_NCOL; i++) {
			const char *s = r == 0 ? list_heads[i] : lc->rows[r - 1].col[i];
			if (i == L_NCOL - 1)
				printf("%s\n", s);
			else if (i == L_ID)
				printf("%*s  ", (int)w[i], s);
			else
				printf("%-*s  ", (int)w[i], s);
		}
	}
}

/* ---- links ------------------------------------------------------------------ */

struct link_list {
	int active_only;
	int64_t now;
	int n;
};

static int link_row(const struct cfs_link *r, void *arg)
{
	struct link_list *ll = arg;
	char why[300], s[32], e[32], who[300];
	int live = cfs_link_check(r, r->uid < 0 ? 0 : r->uid, ll->now, why, sizeof why) == 0 &&
		   r->row_state == CFS_ROW_OK;
	if (ll->active_only && !live)
		return 0;
	if (ll->n++ == 0)
		printf("\nLINKS\n%-6s %-10s %-30s %-9s %-19s %-8s %s\n", "ID", "FOR", "PATH", "USES LEFT",
		       "EXPIRES", "STATE", "BY");
	cfs_fmt_local(r->end, e, sizeof e);
	(void)s;
	cfs_term_buf(r->user[0] ? r->user : "(bearer)", who, sizeof who);
	const char *state = r->row_state != CFS_ROW_OK ? cfs_row_state_name(r->row_state)
			  : r->revoked_at ? "revoked" : ll->now >= r->end ? "expired"
			  : r->used >= r->uses ? "used" : ll->now < r->start ? "pending"
			  : r->approved_at ? "approved" : "active";
	char path[300], by[300];
	cfs_term_buf(r->path, path, sizeof path);
	cfs_term_buf(r->issued_by, by, sizeof by);
	printf("L%-5lld %-10s %-30s %-9u %-19s %-8s %s\n", (long long)r->id, who, path,
	       r->uses - r->used, e, state, by);
	return 0;
}

/* Links follow the grants table in `list`; a policy.db without links is fine. */
static void print_links(const struct cfs_config *cfg, const struct cfs_keys *keys, int active_only,
			int64_t now)
{
	struct cfs_links *l;
	struct cfs_err err = { "" };
	struct link_list ll = { active_only, now, 0 };
	if (open_links(cfg, keys, &l, &err) < 0) {
		fprintf(stderr, PROG ": links: %s\n", err.msg);
		return;
	}
	if (cfs_links_list(l, link_row, &ll, &err) < 0)
		fprintf(stderr, PROG ": links: %s\n", err.msg);
	cfs_links_close(l);
}

/* The mount to go through: --mount, else the one the daemon recorded in
 * policy.db. */
static int mount_dir(const struct cfs_config *cfg, const char *mnt, char *buf, size_t cap)
{
	struct cfs_grants *g = NULL;
	struct cfs_err err = { "" };
	if (mnt) {
		if (strlen(mnt) >= cap || !cfs_printable(mnt))
			return cfs_say(EXIT_USAGE, "--mount: too long or not printable");
		cfs_strlcpy(buf, mnt, cap);
		return 0;
	}
	if (!cfg)
		return cfs_say(EXIT_FAIL, "no mount known: give --mount DIR");
	if (cfs_grants_open(cfg->policy_db, 0, &g, &err) < 0 ||
	    cfs_grants_meta_get(g, "mountpoint", buf, cap, &err) < 0 || !buf[0]) {
		cfs_grants_close(g);
		return cfs_say(EXIT_FAIL, "no mount recorded in %s (mount coachfs first, or give --mount DIR)",
			   cfg->policy_db);
	}
	cfs_grants_close(g);
	return 0;
}

/* The effective class, max_opens and (for messages) name of PATH, asked of
 * the running mount: the daemon resolves inheritance and the file's own
 * attributes, which only it can read. */
static int link_limits(const struct cfs_config *cfg, const char *mnt, const char *path,
		       const struct cfs_class **cls, uint64_t *max_opens)
{
	char full[8400], val[256];
	snprintf(full, sizeof full, "%s%s", mnt, path);
	ssize_t n = getxattr(full, "user.coachfs.class", val, sizeof val - 1);
	if (n < 0)
		return cfs_say(EXIT_FAIL, "cannot learn the class of %s through the mount (%s): %s", path,
			   mnt, strerror(errno));
	val[n] = 0;
	*cls = NULL;
	for (int i = 0; i < cfg->nclasses; i++)
		if (strcmp(cfg->classes[i].name, val) == 0)
			*cls = &cfg->classes[i];
	if (!*cls)
		return cfs_say(EXIT_FAIL, "%s: the mount reports class '%.80s', which %s does not define",
			   path, val, cfg->file);
	*max_opens = 0;
	n = getxattr(full, "user.coachfs.max_opens", val, sizeof val - 1);
	if (n >= 0) {
		val[n] = 0;
		if (cfs_parse_uint(val, UINT32_MAX, max_opens) < 0)
			return cfs_say(EXIT_FAIL, "%s: the mount reports max_opens '%.80s'", path, val);
	} else if (errno != ENODATA) {
		return cfs_say(EXIT_FAIL, "cannot learn max_opens of %s through the mount: %s", path,
			   strerror(errno));
	}
	return 0;
}

struct link_audit {
	struct cfs_audit *a;
	const struct cfs_who *adm;
	const char *ttl_s, *user;
	int failed;
};

/* Inside the link's write transaction: its link_issue row, so no link is
 * ever usable without it. */
static int link_audit_hook(const struct cfs_link *rec, void *arg, struct cfs_err *err)
{
	struct link_audit *la = arg;
	char why[700];
	struct cfs_event ev;
	snprintf(why, sizeof why, "link L%lld to %.300s for %s, ttl %s, %u use%s", (long long)rec->id,
		 rec->path, la->user ? la->user : "any holder (bearer)", la->ttl_s, rec->uses,
		 rec->uses == 1 ? "" : "s");
	event_base(&ev, la->adm, "link_issue");
	ev.path = rec->path;
	ev.result = "allow";
	ev.reason = why;
	int rc = cfs_audit_append(la->a, &ev, err);
	if (rc < 0)
		la->failed = 1;
	return rc;
}

static int cmd_link(int argc, char **argv, const char **cfile)
{
	static const struct option lo[] = {
		{ "ttl", required_argument, NULL, 't' },
		{ "uses", required_argument, NULL, 'n' },
		{ "user", required_argument, NULL, 'u' },
		{ "mount", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 } };
	const char *ttl_s = NULL, *user = NULL, *mnt = NULL;
	uint64_t uses = 1, max_opens = 0;
	int64_t ttl;
	int c, rc;
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":c:", lo, NULL)) != -1) {
		switch (c) {
		case 'c': *cfile = optarg; break;
		case 't': ttl_s = optarg; break;
		case 'u': user = optarg; break;
		case 'm': mnt = optarg; break;
		case 'n':
			if (cfs_parse_uint(optarg, 1000000, &uses) < 0 || uses == 0)
				return cfs_say(EXIT_USAGE, "--uses: '%.80s' is not a number from 1 to 1000000", optarg);
			break;
		default: return bad_option("link: ", c, optopt, argv, optind);
		}
	}
	if (argc - optind != 1 || !ttl_s)
		return cfs_say(EXIT_USAGE, "usage: coach-grant link PATH --ttl DURATION [--uses N] [--user U] "
			   "[--mount DIR]");
	const char *path = argv[optind];
	if (cfs_path_valid(path) < 0)
		return cfs_say(EXIT_USAGE, "'%.200s' is not a mount-relative path (it must start with /)", path);
	if (cfs_parse_duration(ttl_s, &ttl) < 0)
		return cfs_say(EXIT_USAGE, "--ttl: '%.80s' is not a duration (like 90s, 15m, 4h, 2d)", ttl_s);
	int64_t uid = -1;
	if (user) {
		if ((rc = text_arg("--user", user)) != 0)
			return rc;
		struct passwd *pw = getpwnam(user);
		if (!pw)
			return cfs_say(EXIT_USAGE, "unknown user '%.80s'", user);
		uid = pw->pw_uid;
	}
	if ((rc = need_root()) != 0)
		return rc;
	struct cfs_who adm;
	cfs_who_am_i(&adm);
	struct cfs_config *cfg = NULL;
	struct cfs_links *l = NULL;
	struct cfs_keys *keys = NULL;
	struct link_audit la = { NULL, &adm, ttl_s, user, 0 };
	struct cfs_err err = { "" };
	struct cfs_link *rec = calloc(1, sizeof *rec);
	const struct cfs_class *cls = NULL;
	char token[CFS_TOKEN_CHARS + 1] = "", mbuf[4096];
	if (!rec)
		return cfs_say(EXIT_FAIL, "out of memory");
	if ((rc = load_config(*cfile, &cfg)) != 0 || (rc = mount_dir(cfg, mnt, mbuf, sizeof mbuf)) != 0 ||
	    (rc = link_limits(cfg, mbuf, path, &cls, &max_opens)) != 0)
		goto out;
	/* a link obeys its class like a grant: refuse what the daemon would cut */
	if (cls->max_ttl > 0 && ttl > cls->max_ttl) {
		char a[32], b[32];
		fmt_duration(ttl, a, sizeof a);
		fmt_duration(cls->max_ttl, b, sizeof b);
		rc = cfs_say(EXIT_USAGE, "--ttl %s is longer than max_ttl %s of class %s (%s)", a, b,
			 cls->name, path);
		goto out;
	}
	if (max_opens > 0 && uses > max_opens) {
		rc = cfs_say(EXIT_USAGE, "--uses %llu is more than max_opens %llu of %s (class %s)",
			 (unsigned long long)uses, (unsigned long long)max_opens, path, cls->name);
		goto out;
	}
	if ((rc = unlock_keys(cfg, &keys)) != 0)
		goto out;
	cfs_link_token_new(token);
	cfs_link_token_hash(keys->link, token, rec->hash);
	cfs_strlcpy(rec->path, path, sizeof rec->path);
	cfs_strlcpy(rec->user, user ? user : "", sizeof rec->user);
	rec->uid = uid;
	rec->created = rec->start = cfs_now_s();
	rec->end = rec->start + ttl;
	rec->uses = (uint32_t)uses;
	cfs_strlcpy(rec->issued_by, adm.name, sizeof rec->issued_by);
	if (open_audit(cfg->audit_db, &la.a, &err) < 0) {
		rc = cfs_say(EXIT_FAIL, "audit: %s", err.msg);
		goto out;
	}
	if (open_links(cfg, keys, &l, &err) < 0 || cfs_links_add(l, rec, link_audit_hook, &la, &err) < 0) {
		if (la.failed)
			rc = cfs_say(EXIT_FAIL, "the link was not issued: its audit row could not be written: %s",
				 err.msg);
		else
			rc = cfs_say(EXIT_FAIL, "%s", err.msg);
		goto out;
	}
	printf("%s/.links/%s\n", mbuf, token);
	if (cls->approval == CFS_APPROVAL_TWO_PERSON)
		fprintf(stderr, PROG ": link L%lld (class %s) opens nothing until a second admin runs: "
			"coach-grant approve L%lld\n", (long long)rec->id, cls->name, (long long)rec->id);
	rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
out:
	sodium_memzero(token, sizeof token);
	cfs_keys_free(keys);
	cfs_links_close(l);
	close_audit(la.a);
	cfs_config_free(cfg);
	free(rec);
	return rc;
}

static int revoke_link(const char *ids, const char *reason, const char **cfile)
{
	uint64_t v;
	int rc;
	if (cfs_parse_uint(ids + 1, (uint64_t)INT64_MAX, &v) < 0 || v == 0)
		return cfs_say(EXIT_USAGE, "'%s' is not a link id (like L7)", ids);
	if ((rc = need_root()) != 0)
		return rc;
	struct cfs_who adm;
	cfs_who_am_i(&adm);
	struct cfs_config *cfg = NULL;
	struct cfs_links *l = NULL;
	struct cfs_audit *a = NULL;
	struct cfs_keys *keys = NULL;
	struct cfs_err err = { "" };
	struct cfs_link *rec = calloc(1, sizeof *rec);
	if (!rec)
		return cfs_say(EXIT_FAIL, "out of memory");
	if ((rc = load_config(*cfile, &cfg)) != 0 || (rc = unlock_keys(cfg, &keys)) != 0)
		goto out;
	if (open_audit(cfg->audit_db, &a, &err) < 0) {
		rc = cfs_say(EXIT_FAIL, "audit: %s", err.msg);
		goto out;
	}
	if (open_links(cfg, keys, &l, &err) < 0 || cfs_links_get(l, (int64_t)v, rec, &err) < 0 ||
	    cfs_links_revoke(l, (int64_t)v, adm.name, reason, cfs_now_s(), &err) < 0) {
		rc = cfs_say(EXIT_FAIL, "%s", err.msg);
		goto out;
	}
	char why[600];
	snprintf(why, sizeof why, "revoked link L%llu to %.300s%s%.200s", (unsigned long long)v, rec->path,
		 reason ? "; reason: " : "", reason ? reason : "");
	struct cfs_event ev;
	event_base(&ev, &adm, "grant_revoke");
	ev.path = rec->path;
	ev.result = "allow";
	ev.reason = why;
	if (cfs_audit_append(a, &ev, &err) < 0) {
		rc = cfs_say(EXIT_FAIL, "link L%llu is revoked, but its audit row could not be written: %s",
			 (unsigned long long)v, err.msg);
		goto out;
	}
	rc = EXIT_OK;
out:
	cfs_keys_free(keys);
	cfs_links_close(l);
	close_audit(a);
	cfs_config_free(cfg);
	free(rec);
	return rc;
}

static int cmd_list(int argc, char **argv, const char **cfile)
{
	static const struct option lo[] = {
		{ "active", no_argument, NULL, 'A' },
		{ "user", required_argument, NULL, 'u' },
		{ "path", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 } };
	struct cfs_grants_filter f;
	struct list_ctx lc;
	int c, rc;
	memset(&f, 0, sizeof f);
	memset(&lc, 0, sizeof lc);
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":c:", lo, NULL)) != -1) {
		switch (c) {
		case 'c': *cfile = optarg; break;
		case 'A': f.active_only = 1; break;
		case 'u': f.subject = optarg; break;
		case 'p': f.path = optarg; break;
		case 'j': lc.json = 1; break;
		default: return bad_option("list: ", c, optopt, argv, optind);
		}
	}
	if (optind != argc)
		return cfs_say(EXIT_USAGE, "usage: coach-grant list [--active] [--user U] [--path P] "
			   "[--json]");
	if (f.path && cfs_path_valid(f.path) < 0)
		return cfs_say(EXIT_USAGE, "--path: '%.200s' is not a mount-relative path", f.path);
	if (f.subject && (rc = text_arg("--user", f.subject)) != 0)
		return rc;
	lc.now = f.now = cfs_now_s();

	struct cfs_config *cfg = NULL;
	struct cfs_grants *g = NULL;
	struct cfs_keys *keys = NULL;
	struct cfs_err err = { "" };
	if ((rc = load_config(*cfile, &cfg)) != 0)
		return rc;
	if ((rc = unlock_keys(cfg, &keys)) != 0 || (rc = open_grants(cfg, keys, &g)) != 0)
		goto out;
	if (lc.json)
		fputs("[", stdout);
	if (cfs_grants_list(g, &f, list_cb, &lc, &err) < 0) {
		if (lc.json)
			fputs("\n]\n", stdout); /* keep stdout valid JSON; the error goes to stderr */
		rc = cfs_say(EXIT_FAIL, "%s", err.msg);
		goto out;
	}
	if (lc.oom) {
		rc = cfs_say(EXIT_FAIL, "out of memory");
		goto out;
	}
	if (lc.json)
		fputs(lc.njson ? "\n]\n" : "]\n", stdout);
	else {
		print_table(&lc);
		print_links(cfg, keys, f.active_only, lc.now);
	}
	rc = fflush(stdout) == 0 ? EXIT_OK : cfs_say(EXIT_FAIL, "writing: %s", strerror(errno));
out:
	for (size_t r = 0; r < lc.n; r++)
		for (int i = 0; i < L_NCOL; i++)
			free(lc.rows[r].col[i]);
	free(lc.rows);
	cfs_keys_free(keys);
	cfs_grants_close(g);
	cfs_config_free(cfg);
	return rc;
}

static void show_line(const char *k, const char *v)
{
	printf("%-13s %s\n", k, v);
}

static void print_show(const struct cfs_grant_rec *r, int64_t now)
{
	char b[CFS_TEXT_MAX * 4 + 128], t[32], t2[32], big[4096 * 4 + 1];
	snprintf(b, sizeof b, "%lld", (long long)r->g.id);
	show_line("id:", b);
	cfs_term_buf(r->subject, big, sizeof big);
	if (r->g.kind == CFS_SUBJ_ROLE)
		snprintf(b, sizeof b, "%.1000s (role)", big);
	else
		snprintf(b, sizeof b, "%.1000s (%s, %s %u)", big, kind_name(r->g.kind),
			 r->g.kind == CFS_SUBJ_USER ? "uid" : "gid", (unsigned)r->g.ugid);
	show_line("subject:", b);
	cfs_term_buf(r->path, big, sizeof big);
	show_line("path:", big);
	show_line("access:", r->g.write ? "read-write" : "read-only");
	cfs_fmt_local(r->g.start, t, sizeof t);
	show_line("start:", t);
	cfs_fmt_local(r->g.end, t, sizeof t);
	fmt_duration(r->g.end - r->g.start, t2, sizeof t2);
	snprintf(b, sizeof b, "%s (ttl %s)", t, t2);
	show_line("end:", b);
	if (r->g.max_opens)
		snprintf(b, sizeof b, "%u per file", r->g.max_opens);
	else
		snprintf(b, sizeof b, "unlimited");
	show_line("max opens:", b);
	cfs_term_buf(r->granted_by, big, sizeof big);
	show_line("granted by:", big);
	if (r->approved_by[0] && r->approved_at) {
		char at[32], who_t[CFS_TEXT_MAX * 4];
		cfs_fmt_local(r->approved_at, at, sizeof at);
		cfs_term_buf(r->approved_by, who_t, sizeof who_t);
		snprintf(big, sizeof big, "%s at %s", who_t, at);
	} else if (r->approved_by[0]) {
		char who_t[CFS_TEXT_MAX * 4];
		cfs_term_buf(r->approved_by, who_t, sizeof who_t);
		snprintf(big, sizeof big, "%s (not yet: coach-grant approve %lld)", who_t,
			 (long long)r->g.id);
	} else {
		snprintf(big, sizeof big, "-");
	}
	show_line("approved by:", big);
	if (r->reason[0])
		cfs_term_buf(r->reason, big, sizeof big);
	else
		snprintf(big, sizeof big, "-");
	show_line("reason:", big);
	cfs_fmt_local(r->created, t, sizeof t);
	show_line("created:", t);
	show_line("state:", state_of(r, now));
	if (r->g.revoked_at) {
		cfs_fmt_local(r->g.revoked_at, t, sizeof t);
		cfs_term_buf(r->revoked_by[0] ? r->revoked_by : "?", big, sizeof big);
		snprintf(b, sizeof b, "%s by %.400s", t, big);
		show_line("revoked:", b);
		if (r->revoke_reason[0]) {
			cfs_term_buf(r->revoke_reason, big, sizeof big);
			show_line("revoke reason:", big);
		}
	}
}

static int cmd_show(int argc, char **argv, const char **cfile)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 } };
	int c, rc, json = 0;
	int64_t id;
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":c:", lo, NULL)) != -1) {
		switch (c) {
		case 'c': *cfile = optarg; break;
		case 'j': json = 1; break;
		default: return bad_option("show: ", c, optopt, argv, optind);
		}
	}
	if (argc - optind != 1)
		return cfs_say(EXIT_USAGE, "usage: coach-grant show ID [--json]");
	if ((rc = parse_id(argv[optind], &id)) != 0)
		return rc;

	struct cfs_config *cfg = NULL;
	struct cfs_grants *g = NULL;
	struct cfs_keys *keys = NULL;
	struct cfs_grant_rec *rec = calloc(1, sizeof *rec);
	struct cfs_err err = { "" };
	if (!rec)
		return cfs_say(EXIT_FAIL, "out of memory");
	if ((rc = load_config(*cfile, &cfg)) != 0)
		goto out;
	if ((rc = unlock_keys(cfg, &keys)) != 0 || (rc = open_grants(cfg, keys, &g)) != 0)
		goto out;
	if (cfs_grants_get(g, id, rec, &err) < 0) {
		rc = cfs_say(EXIT_FAIL, "%s", err.msg);
		goto out;
	}
	if (json) {
		print_json_rec(stdout, rec, cfs_now_s());
		fputc('\n', stdout);
	} else {
		print_show(rec, cfs_now_s());
	}
	rc = fflush(stdout) == 0 ? EXIT_OK : cfs_say(EXIT_FAIL, "writing: %s", strerror(errno));
out:
	cfs_keys_free(keys);
	cfs_grants_close(g);
	cfs_config_free(cfg);
	free(rec);
	return rc;
}

/* ---- revoke ------------------------------------------------------------------- */

static int cmd_revoke(int argc, char **argv, const char **cfile)
{
	static const struct option lo[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 } };
	const char *reason = NULL;
	int c, rc;
	int64_t id;
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":c:", lo, NULL)) != -1) {
		switch (c) {
		case 'c': *cfile = optarg; break;
		case 'r': reason = optarg; break;
		default: return bad_option("revoke: ", c, optopt, argv, optind);
		}
	}
	if (argc - optind != 1)
		return cfs_say(EXIT_USAGE, "usage: coach-grant revoke ID [--reason TEXT]");
	if (reason && (rc = text_arg("--reason", reason)) != 0)
		return rc;
	if (argv[optind][0] == 'L')
		return revoke_link(argv[optind], reason, cfile);
	if ((rc = parse_id(argv[optind], &id)) != 0)
		return rc;
	if ((rc = need_root()) != 0)
		return rc;
	struct cfs_who adm;
	cfs_who_am_i(&adm);

	struct cfs_config *cfg = NULL;
	struct cfs_grants *g = NULL;
	struct cfs_audit *a = NULL;
	struct cfs_keys *keys = NULL;
	struct cfs_grant_rec *rec = calloc(1, sizeof *rec);
	struct cfs_err err = { "" };
	char why[2800], desc[2400];
	int have_rec = 0;
	if (!rec)
		return cfs_say(EXIT_FAIL, "out of memory");
	if ((rc = load_config(*cfile, &cfg)) != 0 || (rc = unlock_keys(cfg, &keys)) != 0)
		goto out;
	/* Open the audit database first: if it is missing altogether, nothing
	 * changes. Once open, a failing append does not undo a revocation. */
	if (open_audit(cfg->audit_db, &a, &err) < 0) {
		rc = cfs_say(EXIT_FAIL, "audit: %s", err.msg);
		goto out;
	}
	if ((rc = open_grants(cfg, keys, &g)) != 0)
		goto out;
	/* For the audit row's words; a corrupt row can still be revoked. */
	have_rec = cfs_grants_get(g, id, rec, &err) == 0;
	int64_t now = cfs_now_s();
	if (cfs_grants_revoke(g, id, adm.name, reason, now, &err) < 0) {
		rc = cfs_say(EXIT_FAIL, "%s", err.msg);
		goto out;
	}
	if (have_rec)
		describe_grant(rec, desc, sizeof desc);
	else
		snprintf(desc, sizeof desc, "grant %lld (unreadable: %s)", (long long)id, err.msg);
	snprintf(why, sizeof why, "revoked %s%s%s", desc, reason ? "; reason: " : "",
		 reason ? reason : "");
	struct cfs_event ev;
	event_base(&ev, &adm, "grant_revoke");
	ev.path = have_rec ? rec->path : NULL;
	ev.result = "allow";
	ev.reason = why;
	ev.grant_id = id;
	if (cfs_audit_append(a, &ev, &err) < 0) {
		rc = cfs_say(EXIT_FAIL, "grant %lld is revoked, but its audit row could not be written: %s",
			 (long long)id, err.msg);
		goto out;
	}
	rc = EXIT_OK;
out:
	cfs_keys_free(keys);
	cfs_grants_close(g);
	close_audit(a);
	cfs_config_free(cfg);
	free(rec);
	return rc;
}

/* ---- approve ------------------------------------------------------------------ */

/* Run by the approving admin as themselves, without root: a setxattr on the
 * mount's control file, so the daemon learns who approves from the kernel and
 * checks and records it (a grant_approve row) itself. */
static int cmd_approve(int argc, char **argv, const char **cfile)
{
	static const struct option lo[] = {
		{ "mount", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 } };
	const char *mnt = NULL;
	int c, rc;
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":c:", lo, NULL)) != -1) {
		switch (c) {
		case 'c': *cfile = optarg; break;
		case 'm': mnt = optarg; break;
		default: return bad_option("approve: ", c, optopt, argv, optind);
		}
	}
	if (argc - optind != 1)
		return cfs_say(EXIT_USAGE, "usage: coach-grant approve ID [--mount DIR]   (a link's ID is L7)");
	const char *ids = argv[optind];
	int64_t id;
	uint64_t v;
	if (ids[0] == 'L') {
		if (cfs_parse_uint(ids + 1, (uint64_t)INT64_MAX, &v) < 0 || v == 0)
			return cfs_say(EXIT_USAGE, "'%.40s' is not a link id (like L7)", ids);
	} else if ((rc = parse_id(ids, &id)) != 0) {
		return rc;
	}
	if (getuid() == 0)
		return cfs_say(EXIT_FAIL, "approve as yourself, not as root: root is a shared identity, not "
			   "a second person");
	struct cfs_config *cfg = NULL;
	char mbuf[4096], full[4200];
	if (!mnt && (rc = load_config(*cfile, &cfg)) != 0)
		return rc;
	rc = mount_dir(cfg, mnt, mbuf, sizeof mbuf);
	cfs_config_free(cfg);
	if (rc != 0)
		return rc;
	snprintf(full, sizeof full, "%s/.links/approve", mbuf);
	if (setxattr(full, "user.coachfs.approve", ids, strlen(ids), 0) == 0) {
		printf("%s%s approved\n", ids[0] == 'L' ? "link " : "grant ", ids);
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
	}
	switch (errno) {
	case ENOENT:
		return cfs_say(EXIT_FAIL, "%s: no such grant or link (or %s is not a coachfs mount)", ids, mbuf);
	case EALREADY:
		return cfs_say(EXIT_FAIL, "%s is already approved", ids);
	case EPERM:
		return cfs_say(EXIT_FAIL, "%s: you may not approve it (not an admin, its granter, its subject, "
			   "or not the approver it names); the daemon recorded why (coach-audit log "
			   "--action grant_approve)", ids);
	case EACCES:
		return cfs_say(EXIT_FAIL, "%s is revoked or expired", ids);
	case EINVAL:
		return cfs_say(EXIT_FAIL, "%s: its class needs no two-person approval, or its path is gone", ids);
	case EBADMSG:
		return cfs_say(EXIT_FAIL, "%s failed authentication (edited or forged in policy.db): it "
			   "grants nothing", ids);
	default:
		return cfs_say(EXIT_FAIL, "%s: %s: %s", ids, full, strerror(errno));
	}
}

/* ---- main --------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 } };
	const char *cfile = NULL;
	int c;
	opterr = 0;
	/* '+': stop at the command; its own options are parsed by the command. */
	while ((c = getopt_long(argc, argv, "+:c:hV", lo, NULL)) != -1) {
		switch (c) {
		case 'c': cfile = optarg; break;
		case 'h': fputs(usage_text, stdout); return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
		case 'V': printf("coach-grant (coachfs) %s\n", CFS_VERSION); return EXIT_OK;
		default: return bad_option("", c, optopt, argv, optind);
		}
	}
	if (optind >= argc)
		return cfs_say(EXIT_USAGE, "no command given (add, list, show, revoke; see --help)");
	const char *cmd = argv[optind];
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	for (int i = 1; i < sub_argc; i++) {
		if (strcmp(sub_argv[i], "--") == 0)
			break;
		if (strcmp(sub_argv[i], "--help") == 0 || strcmp(sub_argv[i], "-h") == 0) {
			fputs(usage_text, stdout);
			return EXIT_OK;
		}
	}
	if (strcmp(cmd, "add") == 0)
		return cmd_add(sub_argc, sub_argv, &cfile);
	if (strcmp(cmd, "list") == 0)
		return cmd_list(sub_argc, sub_argv, &cfile);
	if (strcmp(cmd, "show") == 0)
		return cmd_show(sub_argc, sub_argv, &cfile);
	if (strcmp(cmd, "revoke") == 0)
		return cmd_revoke(sub_argc, sub_argv, &cfile);
	if (strcmp(cmd, "link") == 0)
		return cmd_link(sub_argc, sub_argv, &cfile);
	if (strcmp(cmd, "approve") == 0)
		return cmd_approve(sub_argc, sub_argv, &cfile);
	return cfs_say(EXIT_USAGE, "unknown command '%.80s' (add, list, show, revoke; see --help)", cmd);
}
