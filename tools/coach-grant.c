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
#include "coachfs/session.h"
#include "coachfs/grants.h"
#include "coachfs/links.h"
#include "coachfs/store.h"
#include "coachfs/util.h"
#include "grant.h"

#define PROG "coach-grant"
const char cfs_tool_prog[] = PROG;
#define MAX_OPENS_LIMIT 1000000

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
	"                 one grant in full (R12 / B12: a request or break-glass)\n"
	"  revoke ID [--reason TEXT]\n"
	"                 end a grant now (open files lose access within a second);\n"
	"                 a link's id is written L7\n"
	"  approve ID [--mount DIR]\n"
	"                 confirm, as yourself (not root), a grant or link (L7) on a\n"
	"                 two-person class; the daemon checks you are a second admin\n"
	"  run --user U --path P --ttl DURATION [--reason TEXT] [--write] -- COMMAND [ARGS]\n"
	"                 run COMMAND as U with a grant on P bound to its process: only\n"
	"                 it and its descendants may use it, and it ends when COMMAND\n"
	"                 exits (or at DURATION); exits with COMMAND's status\n"
	"  request PATH --ttl DURATION --reason TEXT [--write] [--mount DIR]\n"
	"                 ask, as yourself (no root), for access to PATH; prints R12.\n"
	"                 It expires undecided after [grants] request_ttl (default 24h)\n"
	"  requests [--all] [--json]\n"
	"                 pending requests and unreviewed break-glass (--all: every one)\n"
	"  approve R12 [--mount DIR]\n"
	"                 approve a request as yourself (an admin, not root, not the\n"
	"                 requester); a two-person class needs two distinct admins\n"
	"  deny R12 --reason TEXT [--mount DIR]\n"
	"                 refuse a request, as yourself (an admin)\n"
	"  breakglass PATH --reason TEXT [--mount DIR]\n"
	"                 take read access to one file at once for its class's\n"
	"                 breakglass_ttl (a role in its breakglass list); alerts\n"
	"  review B12 [--note TEXT] [--mount DIR]\n"
	"                 an admin (not the one who broke the glass) reviews it\n"
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

int errno_say(const char *what, int e, const struct errno_msg *t)
{
	for (; t->msg; t++)
		if (t->e == e)
			return cfs_say(EXIT_FAIL, "%s: %s", what, t->msg);
	return cfs_say(EXIT_FAIL, "%s: %s", what, strerror(e));
}

/* coach-grant prints absent text as null, and "" is absent. */
void json_str(FILE *f, const char *s)
{
	cfs_put_json_str(f, s && *s ? s : NULL);
}

void json_time(FILE *f, const char *key, int64_t t)
{
	if (t)
		fprintf(f, ",\"%s\":%lld", key, (long long)t);
	else
		fprintf(f, ",\"%s\":null", key);
}

void json_text(FILE *f, const char *key, const char *s)
{
	fprintf(f, ",\"%s\":", key);
	json_str(f, s);
}

/* "4h", "90m", "1d2h": the largest units that divide exactly, up to two. */
void fmt_duration(int64_t s, char *out, size_t cap)
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

const char *state_of(const struct cfs_grant_rec *r, int64_t now)
{
	if (r->row_state != CFS_ROW_OK)
		return cfs_row_state_name(r->row_state);
	if (r->g.revoked_at)
		return "revoked";
	if (r->g.end <= now)
		return "expired";
	if (r->g.session_pid && strcmp(cfs_session_state(&r->g), "ended") == 0)
		return "ended";   /* its process is gone: the daemon refuses it */
	if (r->g.start > now)
		return "pending";
	return "active";
}

const char *kind_name(enum cfs_subject k)
{
	return k == CFS_SUBJ_USER ? "user" : k == CFS_SUBJ_GROUP ? "group" : "role";
}

/* Free text from argv: bounded, no control characters. */
int text_arg(const char *opt, const char *s)
{
	if (strlen(s) >= CFS_TEXT_MAX)
		return cfs_say(EXIT_USAGE, "%s: too long (at most %d bytes)", opt, CFS_TEXT_MAX - 1);
	if (!cfs_printable(s))
		return cfs_say(EXIT_USAGE, "%s: control characters are not allowed", opt);
	return 0;
}

int parse_id(const char *s, int64_t *id)
{
	uint64_t v;
	if (cfs_parse_uint(s, (uint64_t)INT64_MAX, &v) < 0 || v == 0)
		return cfs_say(EXIT_USAGE, "'%s' is not a grant id", s);
	*id = (int64_t)v;
	return 0;
}

/* ---- shared state ---------------------------------------------------------- */

int need_root(void)
{
	if (geteuid() != 0)
		return cfs_say(EXIT_FAIL, "only root (or an admin via sudo) may change grants");
	return 0;
}

int load_config(const char *cfile, struct cfs_config **cfg)
{
	struct cfs_err err = { "" };
	const char *path = cfs_config_path(cfile);
	if (cfs_config_load(path, cfg, &err) < 0)
		return cfs_say(EXIT_FAIL, "%s", err.msg);
	return 0;
}

/* Unlock the store to derive the keys this tool uses (row MACs, link
 * hashing); they live in sodium_malloc memory, freed with cfs_keys_free. */
int unlock_keys(const struct cfs_config *cfg, struct cfs_keys **k)
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

int open_admin(const char *cfile, struct cfs_who *adm, struct cfs_config **cfg, struct cfs_keys **keys)
{
	int rc = need_root();
	if (rc != 0)
		return rc;
	if (adm)
		cfs_who_am_i(adm);
	if ((rc = load_config(cfile, cfg)) != 0)
		return rc;
	return unlock_keys(*cfg, keys);
}

int admin_begin(const char *cfile, struct admin_run *r)
{
	struct cfs_err err = { "" };
	memset(r, 0, sizeof *r);
	int rc = open_admin(cfile, &r->adm, &r->cfg, &r->keys);
	if (rc == 0 && open_audit(r->cfg->audit_db, &r->a, &err) < 0)
		rc = cfs_say(EXIT_FAIL, "audit: %s", err.msg);
	return rc;
}

void admin_end(struct admin_run *r)
{
	close_audit(r->a);
	cfs_keys_free(r->keys);
	cfs_config_free(r->cfg);
	memset(r, 0, sizeof *r);
}

/* policy.db's grants, with the row MAC key when keys is given. */
int open_grants(const struct cfs_config *cfg, const struct cfs_keys *keys,
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

int open_links(const struct cfs_config *cfg, const struct cfs_keys *keys,
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
int open_audit(const char *db, struct cfs_audit **a, struct cfs_err *err)
{
	int rc = cfs_audit_open(db, 0, a, err);
	if (rc == 0 && (rc = cfs_audit_set_busy_timeout(*a, AUDIT_WAIT_MS)) < 0) {
		cfs_audit_close(*a, NULL);
		*a = NULL;
		return cfs_errf(err, rc, "%s: cannot set the lock wait", db);
	}
	return rc;
}

void close_audit(struct cfs_audit *a)
{
	struct cfs_err err = { "" };
	if (a && cfs_audit_close(a, &err) < 0)
		fprintf(stderr, PROG ": warning: closing the audit database: %s\n", err.msg);
}

void event_base(struct cfs_event *ev, const struct cfs_who *adm, enum cfs_action action)
{
	cfs_event_init(ev);
	ev->uid = adm->uid;
	ev->user = adm->name;
	ev->pid = getpid();
	ev->exe = adm->exe[0] ? adm->exe : NULL;
	ev->action = action;
}

/* ---- add --------------------------------------------------------------------- */

void describe_grant(const struct cfs_grant_rec *r, char *out, size_t cap)
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
	int n = snprintf(out, cap, "grant %lld to %s from %s until %s (%s), %s, %s, %s",
			 (long long)r->g.id, subj, s, e, ttl, r->g.write ? "read-write" : "read-only",
			 opens, appr);
	if (r->g.session_pid && n > 0 && (size_t)n < cap) {
		char cmd[CFS_TEXT_MAX * 4];
		cfs_term_buf(r->session_cmd, cmd, sizeof cmd);
		snprintf(out + n, cap - (size_t)n, ", bound to session pid %ld (%s): only it and "
			 "its descendants, until it exits", (long)r->g.session_pid, cmd);
	}
}

int add_audit_hook(const struct cfs_grant_rec *rec, void *arg, struct cfs_err *err)
{
	struct add_audit *aa = arg;
	struct cfs_event ev;
	char desc[2400];
	describe_grant(rec, desc, sizeof desc);
	if (rec->reason[0])
		snprintf(aa->reason, sizeof aa->reason, "%s; reason: %s", desc, rec->reason);
	else
		snprintf(aa->reason, sizeof aa->reason, "%s", desc);
	event_base(&ev, aa->adm, CFS_ACT_GRANT_ADD);
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

/* ---- revoke ------------------------------------------------------------------- */

int revoked_row(struct cfs_audit *a, const struct cfs_who *adm, const char *path, const char *why,
		int64_t grant_id, const char *what)
{
	struct cfs_event ev;
	struct cfs_err err = { "" };
	event_base(&ev, adm, CFS_ACT_GRANT_REVOKE);
	ev.path = path;
	ev.result = "allow";
	ev.reason = why;
	if (grant_id)
		ev.grant_id = grant_id;
	if (cfs_audit_append(a, &ev, &err) < 0)
		return cfs_say(EXIT_FAIL, "%s is revoked, but its audit row could not be written: %s", what,
			       err.msg);
	return EXIT_OK;
}

static int cmd_revoke(int argc, char **argv, const char **cfile)
{
	const char *reason = NULL;
	const struct grant_opt opts[] = { { "reason", &reason, NULL }, { NULL, NULL, NULL } };
	int rc;
	int64_t id;
	if ((rc = grant_getopt(argc, argv, "revoke", opts, 0, cfile)) != 0)
		return rc;
	if (argc - optind != 1)
		return cfs_say(EXIT_USAGE, "usage: coach-grant revoke ID [--reason TEXT]");
	if (reason && (rc = text_arg("--reason", reason)) != 0)
		return rc;
	if (argv[optind][0] == 'L')
		return revoke_link(argv[optind], reason, cfile);
	if ((rc = parse_id(argv[optind], &id)) != 0)
		return rc;
	struct admin_run r;
	struct cfs_grants *g = NULL;
	/* The audit log opens first: if it is missing altogether, nothing
	 * changes. Once open, a failing append does not undo a revocation. */
	if ((rc = admin_begin(*cfile, &r)) == 0 && (rc = open_grants(r.cfg, r.keys, &g)) == 0)
		rc = revoke_audited(g, r.a, &r.adm, id, reason);
	cfs_grants_close(g);
	admin_end(&r);
	return rc;
}

int revoke_audited(struct cfs_grants *g, struct cfs_audit *a, const struct cfs_who *adm,
		   int64_t id, const char *reason)
{
	struct cfs_grant_rec *rec = calloc(1, sizeof *rec);
	struct cfs_err err = { "" };
	char why[2800], desc[2400];
	int rc;
	if (!rec)
		return cfs_say(EXIT_FAIL, "out of memory");
	/* For the audit row's words; a corrupt row can still be revoked. */
	int have_rec = cfs_grants_get(g, id, rec, &err) == 0;
	if (cfs_grants_revoke(g, id, adm->name, reason, cfs_now_s(), &err) < 0) {
		rc = cfs_say(EXIT_FAIL, "%s", err.msg);
		goto out;
	}
	if (have_rec)
		describe_grant(rec, desc, sizeof desc);
	else
		snprintf(desc, sizeof desc, "grant %lld (unreadable: %s)", (long long)id, err.msg);
	snprintf(why, sizeof why, "revoked %s%s%s", desc, reason ? "; reason: " : "",
		 reason ? reason : "");
	char what[40];
	snprintf(what, sizeof what, "grant %lld", (long long)id);
	rc = revoked_row(a, adm, have_rec ? rec->path : NULL, why, id, what);
out:
	free(rec);
	return rc;
}

/* ---- approve ------------------------------------------------------------------ */

/* What the daemon's refusals of an approval mean. */
static const struct errno_msg approve_msgs[] = {
	{ ENOENT, "no such grant or link (or not a coachfs mount)" },
	{ EALREADY, "already approved" },
	{ EPERM, "you may not approve it (not an admin, its granter, its subject, or not the "
		 "approver it names); the daemon recorded why (coach-audit log --action grant_approve)" },
	{ EACCES, "revoked or expired" },
	{ EINVAL, "its class needs no two-person approval, or its path is gone" },
	{ EBADMSG, "failed authentication (edited or forged in policy.db): it grants nothing" },
	{ 0, NULL } };

/* Run by the approving admin as themselves, without root: a setxattr on the
 * mount's control file, so the daemon learns who approves from the kernel and
 * checks and records it (a grant_approve row) itself. */
static int cmd_approve(int argc, char **argv, const char **cfile)
{
	const char *mnt = NULL;
	const struct grant_opt opts[] = { { "mount", &mnt, NULL }, { NULL, NULL, NULL } };
	int rc;
	if ((rc = grant_getopt(argc, argv, "approve", opts, 0, cfile)) != 0)
		return rc;
	if (argc - optind != 1)
		return cfs_say(EXIT_USAGE, "usage: coach-grant approve ID [--mount DIR]   (a link's ID is L7)");
	const char *ids = argv[optind];
	int64_t id;
	uint64_t v;
	if (ids[0] == 'R')
		return approve_request(ids, mnt, cfile);
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
	return errno_say(ids, errno, approve_msgs);
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
	if (strcmp(cmd, "run") == 0)
		return cmd_run(sub_argc, sub_argv, &cfile);
	static const struct { const char *name; int (*fn)(int, char **, const char **); } more[] = {
		{ "request", cmd_request }, { "requests", cmd_requests }, { "deny", cmd_deny },
		{ "breakglass", cmd_breakglass }, { "review", cmd_review } };
	for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
		if (strcmp(cmd, more[i].name) == 0)
			return more[i].fn(sub_argc, sub_argv, &cfile);
	return cfs_say(EXIT_USAGE, "unknown command '%.80s' (add, list, show, revoke; see --help)", cmd);
}
