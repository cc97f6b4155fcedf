/* test_coach_grant.c — the coach-grant tool, run as a program (build/bin/
 * coach-grant, next to this test's directory) against a temporary config,
 * policy.db and audit.db: exact output, messages and exit codes, the rows it
 * writes in both databases, the root-only rule (run as nobody), and that an
 * unwritable audit row means no grant. Needs root (to act as another user). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coachfs/audit.h"
#include "coachfs/crypto.h"
#include "coachfs/grants.h"
#include "coachfs/store.h"

static char dir[64], cfgpath[128], policy[128], auditdb[128], bin[4200], passfile[128];
static struct cfs_keys *keys;   /* the test store's, to write rows as the tool would */
static uid_t nobody_uid;
static gid_t nobody_gid;

struct run {
	int status;          /* exit code, or 128 + signal */
	char out[16384];
	char err[8192];
};

static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	if (f) {
		n = fread(buf, 1, cap - 1, f);
		fclose(f);
	}
	buf[n] = 0;
}

/* Run coach-grant with args (NULL-terminated); env holds extra "K=V"
 * entries (NULL-terminated, may be NULL); as_nobody drops to nobody. */
static void run_env(struct run *r, const char *const *env, int as_nobody, ...)
{
	const char *argv[32];
	char envbuf[8][256];
	const char *envp[16];
	int argc = 0, envc = 0;
	va_list ap;
	argv[argc++] = bin;
	va_start(ap, as_nobody);
	for (const char *a; argc < 31 && (a = va_arg(ap, const char *)) != NULL;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	snprintf(envbuf[0], sizeof envbuf[0], "COACHFS_CONFIG=%s", cfgpath);
	envp[envc++] = envbuf[0];
	envp[envc++] = "TZ=UTC";
	envp[envc++] = "PATH=/usr/bin:/bin";
	for (int i = 0; env && env[i] && envc < 15; i++)
		envp[envc++] = env[i];
	envp[envc] = NULL;

	char outp[160], errp[160];
	snprintf(outp, sizeof outp, "%s/out", dir);
	snprintf(errp, sizeof errp, "%s/err", dir);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(120);
		if (as_nobody && (setgroups(0, NULL) != 0 || setgid(nobody_gid) != 0 ||
				  setuid(nobody_uid) != 0))
			_exit(121);
		execve(bin, (char *const *)argv, (char *const *)envp);
		_exit(122);
	}
	int st = 0;
	r->status = -1;
	if (pid > 0 && waitpid(pid, &st, 0) == pid)
		r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	slurp(outp, r->out, sizeof r->out);
	slurp(errp, r->err, sizeof r->err);
}

#define RUN(r, ...) run_env(r, NULL, 0, __VA_ARGS__, (const char *)NULL)

static void write_config(const char *extra)
{
	FILE *f = fopen(cfgpath, "w");
	if (!f)
		return;
	fprintf(f,
		"[store]\npath = %s/store\npassphrase_file = %s\n"
		"[policy]\ndb = %s\ndefault_class = internal\n"
		"[audit]\ndb = %s\n"
		"[roles]\nresponder = alice, @soc\nadmin = root, daemon\n"
		"[class.internal]\nroles = responder, admin\n"
		"[class.sensitive]\ngrant = yes\nmax_ttl = 8h\n"
		"[class.secret]\ngrant = yes\nmax_ttl = 1h\napproval = two-person\n%s",
		dir, passfile, policy, auditdb, extra);
	fclose(f);
}


/* Fresh, empty policy.db and audit.db. */
static int fresh(void)
{
	struct cfs_err err = { "" };
	struct cfs_grants *g = NULL;
	struct cfs_audit *a = NULL;
	t_rm_db(policy);
	t_rm_db(auditdb);
	write_config("");
	if (cfs_grants_open(policy, 1, &g, &err) < 0 || cfs_audit_open(auditdb, 1, &a, &err) < 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		cfs_grants_close(g);
		return -1;
	}
	cfs_grants_close(g);
	if (cfs_audit_close(a, &err) < 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/* One integer/text from the first row of a query. */
static long long q_int(const char *db, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long long v = -999;
	if (sqlite3_open(db, &h) != SQLITE_OK)
		return v;
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return v;
}

static void q_text(const char *db, const char *sql, char *out, size_t cap)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	snprintf(out, cap, "(no row)");
	if (sqlite3_open(db, &h) != SQLITE_OK)
		return;
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(out, cap, "%s", sqlite3_column_text(st, 0) ?
				 (const char *)sqlite3_column_text(st, 0) : "(null)");
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
}

static void test_help_version_usage(void)
{
	struct run r;
	RUN(&r, "--version");
	T_EQ_INT(r.status, 0);
	T_EQ_STR(r.out, "coach-grant (coachfs) " CFS_VERSION "\n");
	RUN(&r, "--help");
	T_EQ_INT(r.status, 0);
	T_CONTAINS(r.out, "usage: coach-grant [-c FILE] COMMAND [ARGS]\n");
	T_CONTAINS(r.out, "  add USER PATH --ttl DURATION");
	T_EQ_STR(r.err, "");
	RUN(&r, "add", "--help");
	T_EQ_INT(r.status, 0);
	T_CONTAINS(r.out, "usage: coach-grant");
	RUN(&r, "");
	T_EQ_INT(r.status, 2);
	RUN(&r, "--bogus");
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: unknown option '--bogus' (see coach-grant --help)\n");
	run_env(&r, NULL, 0, (const char *)NULL);
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: no command given (add, list, show, revoke; see --help)\n");
	RUN(&r, "frobnicate");
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: unknown command 'frobnicate' (add, list, show, revoke; "
		 "see --help)\n");
	RUN(&r, "list", "--user");
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: list: option '--user' needs a value\n");
	RUN(&r, "show", "x1");
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: 'x1' is not a grant id\n");
	RUN(&r, "add", "root", "/x");
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: add: --ttl is required (like --ttl 4h)\n");
}

static void test_add_and_audit(void)
{
	struct run r;
	char t[2048], want[256];
	if (fresh() < 0) {
		T_CHECK(0);
		return;
	}
	RUN(&r, "add", "nobody", "/incidents/2026", "--ttl", "4h", "--reason", "on call");
	T_EQ_INT(r.status, 0);
	T_EQ_STR(r.out, "1\n");
	T_EQ_STR(r.err, "");
	T_EQ_INT(q_int(policy, "SELECT kind FROM grants WHERE id = 1"), CFS_SUBJ_USER);
	T_EQ_INT(q_int(policy, "SELECT ugid FROM grants WHERE id = 1"), nobody_uid);
	T_EQ_INT(q_int(policy, "SELECT \"end\" - start FROM grants WHERE id = 1"), 4 * 3600);
	T_CHECK(q_int(policy, "SELECT abs(start - strftime('%s','now')) FROM grants WHERE id = 1") <= 2);
	T_EQ_INT(q_int(policy, "SELECT write FROM grants WHERE id = 1"), 0);
	T_EQ_INT(q_int(policy, "SELECT max_opens FROM grants WHERE id = 1"), 0);
	q_text(policy, "SELECT granted_by FROM grants WHERE id = 1", t, sizeof t);
	T_EQ_STR(t, "root");
	q_text(policy, "SELECT reason FROM grants WHERE id = 1", t, sizeof t);
	T_EQ_STR(t, "on call");
	/* Its audit row. */
	T_EQ_INT(q_int(auditdb, "SELECT count(*) FROM events WHERE action = 'grant_add'"), 1);
	T_EQ_INT(q_int(auditdb, "SELECT grant_id FROM events WHERE action = 'grant_add'"), 1);
	T_EQ_INT(q_int(auditdb, "SELECT uid FROM events WHERE action = 'grant_add'"), 0);
	q_text(auditdb, "SELECT path FROM events WHERE action = 'grant_add'", t, sizeof t);
	T_EQ_STR(t, "/incidents/2026");
	q_text(auditdb, "SELECT user FROM events WHERE action = 'grant_add'", t, sizeof t);
	T_EQ_STR(t, "root");
	q_text(auditdb, "SELECT result FROM events WHERE action = 'grant_add'", t, sizeof t);
	T_EQ_STR(t, "allow");
	q_text(auditdb, "SELECT reason FROM events WHERE action = 'grant_add'", t, sizeof t);
	snprintf(want, sizeof want, "grant 1 to nobody (uid %u) from ", (unsigned)nobody_uid);
	T_CONTAINS(t, want);
	T_CONTAINS(t, " (4h), read-only, unlimited opens, no approver; reason: on call");

	/* Group, role, all the options; SUDO_USER names the admin. */
	const char *sudo[] = { "SUDO_USER=carol", "SUDO_UID=4242", NULL };
	run_env(&r, sudo, 0, "add", "@root", "/play/book", "--ttl", "2h", "--start",
		"@4102444800", "--write", "--max-opens", "3", "--approved-by", "daemon",
		(const char *)NULL);
	T_EQ_INT(r.status, 0);
	T_EQ_STR(r.out, "2\n");
	T_EQ_STR(r.err, "coach-grant: grant 2 is not approved yet: on a two-person class it opens "
		 "nothing until daemon runs: coach-grant approve 2\n");
	T_EQ_INT(q_int(policy, "SELECT kind FROM grants WHERE id = 2"), CFS_SUBJ_GROUP);
	T_EQ_INT(q_int(policy, "SELECT ugid FROM grants WHERE id = 2"), 0);
	T_EQ_INT(q_int(policy, "SELECT start FROM grants WHERE id = 2"), 4102444800LL);
	T_EQ_INT(q_int(policy, "SELECT \"end\" FROM grants WHERE id = 2"), 4102444800LL + 7200);
	T_EQ_INT(q_int(policy, "SELECT write FROM grants WHERE id = 2"), 1);
	T_EQ_INT(q_int(policy, "SELECT max_opens FROM grants WHERE id = 2"), 3);
	q_text(policy, "SELECT granted_by || '/' || approved_by FROM grants WHERE id = 2", t,
	       sizeof t);
	T_EQ_STR(t, "carol/daemon");
	/* naming the approver is not approving */
	T_EQ_INT(q_int(policy, "SELECT approved_at IS NULL FROM grants WHERE id = 2"), 1);
	q_text(auditdb, "SELECT user || ' ' || uid || ' ' || reason FROM events WHERE grant_id = 2",
	       t, sizeof t);
	T_EQ_STR(t, "carol 4242 grant 2 to @root (gid 0) from 2100-01-01T00:00:00Z until "
		 "2100-01-01T02:00:00Z (2h), read-write, max 3 opens, to be approved by daemon");

	RUN(&r, "add", "role:responder", "/", "--ttl", "90s");
	T_EQ_INT(r.status, 0);
	T_EQ_STR(r.out, "3\n");
	q_text(policy, "SELECT subject || ' ' || role || ' ' || kind FROM grants WHERE id = 3", t,
	       sizeof t);
	T_EQ_STR(t, "role:responder responder 3");

	/* A ttl beyond every class's max_ttl: stored, with a warning. */
	RUN(&r, "add", "nobody", "/x", "--ttl", "2d");
	T_EQ_INT(r.status, 0);
	T_EQ_STR(r.out, "4\n");
	T_EQ_STR(r.err, "coach-grant: warning: --ttl 2d is longer than the largest max_ttl of any "
		 "class (8h); the grant will end at its start plus the max_ttl of the file's "
		 "class\n");
	T_EQ_INT(q_int(policy, "SELECT \"end\" - start FROM grants WHERE id = 4"), 2 * 86400);
	T_EQ_INT(q_int(auditdb, "SELECT count(*) FROM events WHERE action = 'grant_add'"), 4);
}

static void test_add_refusals(void)
{
	struct run r;
	char want[512];
	if (fresh() < 0) {
		T_CHECK(0);
		return;
	}
	RUN(&r, "add", "nosuchuser-xyz", "/x", "--ttl", "1h");
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: unknown user 'nosuchuser-xyz'\n");
	RUN(&r, "add", "@nosuchgroup-xyz", "/x", "--ttl", "1h");
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: unknown group 'nosuchgroup-xyz'\n");
	RUN(&r, "add", "role:auditor", "/x", "--ttl", "1h");
	T_EQ_INT(r.status, 2);
	snprintf(want, sizeof want, "coach-grant: unknown role 'auditor' (not in [roles] of %s)\n",
		 cfgpath);
	T_EQ_STR(r.err, want);
	RUN(&r, "add", "nobody", "/x", "--ttl", "5x");
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: --ttl: '5x' is not a duration (like 90s, 15m, 4h, 2d)\n");
	RUN(&r, "add", "nobody", "/x", "--ttl", "0h");
	T_EQ_INT(r.status, 2);
	RUN(&r, "add", "nobody", "/x", "--ttl", "1h", "--max-opens", "0");
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: --max-opens: '0' is not a number from 1 to 1000000\n");
	RUN(&r, "add", "nobody", "/x", "--ttl", "1h", "--max-opens", "1000001");
	T_EQ_INT(r.status, 2);
	RUN(&r, "add", "nobody", "/x", "--ttl", "1h", "--max-opens", "-1");
	T_EQ_INT(r.status, 2);
	RUN(&r, "add", "nobody", "a/../b", "--ttl", "1h");
	T_EQ_INT(r.status, 2);
	T_CONTAINS(r.err, "coach-grant: PATH: 'a/../b' is not a mount-relative path");
	RUN(&r, "add", "nobody", "/a/", "--ttl", "1h");
	T_EQ_INT(r.status, 2);
	RUN(&r, "add", "nobody", "/x", "--ttl", "1h", "--start", "yesterday");
	T_EQ_INT(r.status, 2);
	T_CONTAINS(r.err, "coach-grant: --start: 'yesterday' is not a time");
	RUN(&r, "add", "nobody", "/x", "--ttl", "1h", "--start", "2d"); /* ended a day ago */
	T_EQ_INT(r.status, 2);
	T_CONTAINS(r.err, ", before now\n");
	RUN(&r, "add", "nobody", "/x", "--ttl", "1h", "--approved-by", "root");
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: --approved-by must name a second person, not root\n");
	const char *sudo[] = { "SUDO_USER=carol", NULL };
	run_env(&r, sudo, 0, "add", "nobody", "/x", "--ttl", "1h", "--approved-by", "carol",
		(const char *)NULL);
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: --approved-by must name a second person, not carol\n");
	RUN(&r, "add", "nobody", "/x", "--ttl", "1h", "--approved-by", "nobody");
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: --approved-by must name a second person, not the grantee\n");
	/* the approver must be a real user in the admin role, never root */
	RUN(&r, "add", "nobody", "/x", "--ttl", "1h", "--approved-by", "nosuchuser-xyz");
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: --approved-by: no user 'nosuchuser-xyz'\n");
	RUN(&r, "add", "daemon", "/x", "--ttl", "1h", "--approved-by", "bin");
	T_EQ_INT(r.status, 2);
	snprintf(want, sizeof want, "coach-grant: --approved-by: 'bin' is not in the admin role "
		 "([roles] admin in %s)\n", cfgpath);
	T_EQ_STR(r.err, want);
	const char *sudo2[] = { "SUDO_USER=carol", NULL };
	run_env(&r, sudo2, 0, "add", "nobody", "/x", "--ttl", "1h", "--approved-by", "root",
		(const char *)NULL);
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: --approved-by: root is a shared identity, not a second "
		 "person\n");
	RUN(&r, "add", "nobody", "/x", "--ttl", "1h", "--reason", "two\nlines");
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: --reason: control characters are not allowed\n");
	char longtext[400];
	memset(longtext, 'r', 300);
	longtext[300] = 0;
	RUN(&r, "add", "nobody", "/x", "--ttl", "1h", "--reason", longtext);
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: --reason: too long (at most 255 bytes)\n");
	RUN(&r, "revoke", "1", "--reason", longtext);
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: --reason: too long (at most 255 bytes)\n");
	RUN(&r, "revoke", "L1", "--reason", longtext);
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: --reason: too long (at most 255 bytes)\n");
	RUN(&r, "link", "/x", "--ttl", "1h", "--user", "a\tb");
	T_EQ_INT(r.status, 2);
	T_EQ_STR(r.err, "coach-grant: --user: control characters are not allowed\n");
	RUN(&r, "add", "nobody", "/x", "/y", "--ttl", "1h");
	T_EQ_INT(r.status, 2);
	/* Nothing of that was stored or audited. */
	T_EQ_INT(q_int(policy, "SELECT count(*) FROM grants"), 0);
	T_EQ_INT(q_int(auditdb, "SELECT count(*) FROM events WHERE action LIKE 'grant_%'"), 0);
}

static void test_root_only(void)
{
	struct run r;
	if (fresh() < 0) {
		T_CHECK(0);
		return;
	}
	RUN(&r, "add", "nobody", "/x", "--ttl", "1h");
	T_EQ_STR(r.out, "1\n");
	/* The config must be readable by the unprivileged run. */
	T_EQ_INT(chmod(dir, 0755), 0);
	T_EQ_INT(chmod(cfgpath, 0644), 0);
	run_env(&r, NULL, 1, "add", "nobody", "/x", "--ttl", "1h", (const char *)NULL);
	T_EQ_INT(r.status, 1);
	T_EQ_STR(r.out, "");
	T_EQ_STR(r.err, "coach-grant: only root (or an admin via sudo) may change grants\n");
	run_env(&r, NULL, 1, "revoke", "1", (const char *)NULL);
	T_EQ_INT(r.status, 1);
	T_EQ_STR(r.err, "coach-grant: only root (or an admin via sudo) may change grants\n");
	T_EQ_INT(q_int(policy, "SELECT count(*) FROM grants"), 1);
	T_EQ_INT(q_int(policy, "SELECT count(*) FROM grants WHERE revoked_at IS NOT NULL"), 0);
	T_EQ_INT(chmod(dir, 0700), 0);
}

static void test_list_show(void)
{
	struct run r;
	char want[2048];
	if (fresh() < 0) {
		T_CHECK(0);
		return;
	}
	RUN(&r, "add", "nobody", "/inc", "--ttl", "1h", "--start", "@4102444800");
	T_EQ_STR(r.out, "1\n");
	RUN(&r, "add", "@root", "/play/book", "--ttl", "2h", "--start", "@4102444800", "--write",
	    "--max-opens", "3", "--approved-by", "daemon", "--reason", "drill \"A\"");
	T_EQ_STR(r.out, "2\n");
	/* An expired grant (the tool refuses to create one). */
	struct cfs_grants *g = NULL;
	struct cfs_grant_rec *rec = calloc(1, sizeof *rec);
	struct cfs_err err = { "" };
	T_CHECK(rec != NULL);
	T_EQ_INT(cfs_grants_open(policy, 0, &g, &err), 0);
	T_EQ_INT(cfs_grants_set_key(g, keys->rowmac, &err), 0);
	if (rec && g) {
		snprintf(rec->subject, sizeof rec->subject, "nobody");
		rec->g.kind = CFS_SUBJ_USER;
		rec->g.ugid = nobody_uid;
		snprintf(rec->path, sizeof rec->path, "/old");
		rec->g.start = cfs_now_s() - 5400;
		rec->g.end = rec->g.start + 3600;
		snprintf(rec->granted_by, sizeof rec->granted_by, "root");
		T_EQ_INT(cfs_grants_add(g, rec, &err), 0);
		T_EQ_INT(rec->g.id, 3);
	}
	cfs_grants_close(g);
	free(rec);
	RUN(&r, "list", "--active");
	T_EQ_INT(r.status, 0);
	T_EQ_STR(r.err, "");
	T_EQ_STR(r.out,
		 "ID  SUBJECT  PATH        ACCESS  START                END                  OPENS  STATE    BY    APPROVED\n"
		 " 2  @root    /play/book  rw      2100-01-01 00:00:00  2100-01-01 02:00:00  3      pending  root  (waiting: daemon)\n"
		 " 1  nobody   /inc        ro      2100-01-01 00:00:00  2100-01-01 01:00:00  -      pending  root  -\n");
	RUN(&r, "list");
	T_EQ_INT(r.status, 0);
	T_CONTAINS(r.out, "\n 3  nobody   /old ");
	T_CONTAINS(r.out, "  expired  root  -\n");
	RUN(&r, "list", "--user", "nobody", "--path", "/inc/x/y", "--active");
	T_EQ_INT(r.status, 0);
	T_EQ_STR(r.out,
		 "ID  SUBJECT  PATH  ACCESS  START                END                  OPENS  STATE    BY    APPROVED\n"
		 " 1  nobody   /inc  ro      2100-01-01 00:00:00  2100-01-01 01:00:00  -      pending  root  -\n");
	RUN(&r, "list", "--user", "nobody", "--path", "/incident");
	T_EQ_INT(r.status, 0);
	T_EQ_STR(r.out, "ID  SUBJECT  PATH  ACCESS  START  END  OPENS  STATE  BY  APPROVED\n");
	RUN(&r, "list", "--path", "inc");
	T_EQ_INT(r.status, 2);

	RUN(&r, "list", "--json", "--user", "@root");
	T_EQ_INT(r.status, 0);
	T_CONTAINS(r.out, "[\n  {\"id\":2,\"subject\":\"@root\",\"kind\":\"group\",\"uid\":null,"
		   "\"gid\":0,\"role\":null,\"path\":\"/play/book\",\"write\":true,"
		   "\"start\":4102444800,\"end\":4102452000,\"max_opens\":3,"
		   "\"reason\":\"drill \\\"A\\\"\",\"granted_by\":\"root\",\"approved_by\":\"daemon\","
		   "\"created\":");
	T_CONTAINS(r.out, ",\"revoked_at\":null,\"revoked_by\":null,\"revoke_reason\":null,"
		   "\"approved_at\":null,\"session\":null,\"valid\":true,\"invalid\":null,"
		   "\"state\":\"pending\"}\n]\n");
	RUN(&r, "list", "--json", "--user", "nobody-else");
	T_EQ_STR(r.out, "[]\n");

	RUN(&r, "show", "2");
	T_EQ_INT(r.status, 0);
	T_CONTAINS(r.out,
		   "id:           2\n"
		   "subject:      @root (group, gid 0)\n"
		   "path:         /play/book\n"
		   "access:       read-write\n"
		   "start:        2100-01-01 00:00:00\n"
		   "end:          2100-01-01 02:00:00 (ttl 2h)\n"
		   "max opens:    3 per file\n"
		   "granted by:   root\n"
		   "approved by:  daemon (not yet: coach-grant approve 2)\n"
		   "reason:       drill \"A\"\n"
		   "created:      ");
	T_CONTAINS(r.out, "\nstate:        pending\n");
	/* rows forged or edited in policy.db are shown as invalid, never as live */
	sqlite3 *h;
	T_EQ_INT(sqlite3_open(policy, &h), SQLITE_OK);
	T_EQ_INT(sqlite3_exec(h, "UPDATE grants SET \"end\" = \"end\" + 86400 WHERE id = 1;"
			      "INSERT INTO grants(id, subject, kind, ugid, path, write, start, \"end\", "
			      "max_opens, granted_by, created) VALUES(4, 'nobody', 1, 65534, '/x', 1, 1, "
			      "99999999999, 0, 'root', 1)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	RUN(&r, "list", "--active");
	T_EQ_INT(r.status, 0);
	T_EQ_STR(r.out,
		 "ID  SUBJECT  PATH        ACCESS  START                END                  OPENS  STATE    BY    APPROVED\n"
		 " 2  @root    /play/book  rw      2100-01-01 00:00:00  2100-01-01 02:00:00  3      pending  root  (waiting: daemon)\n");
	RUN(&r, "list");
	T_CONTAINS(r.out, "\n 4  nobody   /x          rw      1970-01-01 00:00:01  5138-11-16 09:46:39  -      INVALID (no MAC)  root  -\n");
	T_CONTAINS(r.out, "\n 1  nobody   /inc        ro      2100-01-01 00:00:00  2100-01-02 01:00:00  -      INVALID (MAC)     root  -\n");
	RUN(&r, "show", "1", "--json");
	T_CONTAINS(r.out, ",\"valid\":false,\"invalid\":\"mac\",\"state\":\"INVALID (MAC)\"}\n");
	RUN(&r, "show", "4");
	T_CONTAINS(r.out, "\nstate:        INVALID (no MAC)\n");

	RUN(&r, "show", "99");
	T_EQ_INT(r.status, 1);
	snprintf(want, sizeof want, "coach-grant: %s: no grant 99\n", policy);
	T_EQ_STR(r.err, want);

	/* -c wins over $COACHFS_CONFIG. */
	RUN(&r, "-c", "/nonexistent/coachfs.ini", "list");
	T_EQ_INT(r.status, 1);
	T_EQ_STR(r.err, "coach-grant: /nonexistent/coachfs.ini: cannot open: No such file or "
		 "directory\n");
	write_config("bogus = 1\n");
	RUN(&r, "list");
	T_EQ_INT(r.status, 1);
	snprintf(want, sizeof want, "coach-grant: %s:21: ", cfgpath);
	T_CONTAINS(r.err, want);
	write_config("");
}

static void test_revoke(void)
{
	struct run r;
	char want[512], t[2048];
	if (fresh() < 0) {
		T_CHECK(0);
		return;
	}
	RUN(&r, "add", "nobody", "/inc", "--ttl", "1h");
	T_EQ_STR(r.out, "1\n");
	const char *sudo[] = { "SUDO_USER=dave", NULL };
	run_env(&r, sudo, 0, "revoke", "1", "--reason", "shift over", (const char *)NULL);
	T_EQ_INT(r.status, 0);
	T_EQ_STR(r.out, "");
	T_EQ_STR(r.err, "");
	q_text(policy, "SELECT revoked_by || '/' || revoke_reason FROM grants WHERE id = 1", t,
	       sizeof t);
	T_EQ_STR(t, "dave/shift over");
	T_CHECK(q_int(policy, "SELECT revoked_at FROM grants WHERE id = 1") > 0);
	T_EQ_INT(q_int(auditdb, "SELECT grant_id FROM events WHERE action = 'grant_revoke'"), 1);
	q_text(auditdb, "SELECT user || ' ' || path FROM events WHERE action = 'grant_revoke'", t,
	       sizeof t);
	T_EQ_STR(t, "dave /inc");
	q_text(auditdb, "SELECT reason FROM events WHERE action = 'grant_revoke'", t, sizeof t);
	T_CONTAINS(t, "revoked grant 1 to nobody (uid ");
	T_CONTAINS(t, "; reason: shift over");

	RUN(&r, "revoke", "1");
	T_EQ_INT(r.status, 1);
	snprintf(want, sizeof want, "coach-grant: %s: grant 1 is already revoked\n", policy);
	T_EQ_STR(r.err, want);
	RUN(&r, "revoke", "7");
	T_EQ_INT(r.status, 1);
	snprintf(want, sizeof want, "coach-grant: %s: no grant 7\n", policy);
	T_EQ_STR(r.err, want);
	RUN(&r, "revoke", "0");
	T_EQ_INT(r.status, 2);
	T_EQ_INT(q_int(auditdb, "SELECT count(*) FROM events WHERE action = 'grant_revoke'"), 1);
	RUN(&r, "show", "1");
	T_CONTAINS(r.out, "\nstate:        revoked\nrevoked:      ");
	T_CONTAINS(r.out, " by dave\nrevoke reason: shift over\n");
}

/* When the audit row cannot be written: no grant (add), and a revocation
 * that stands but is reported (revoke). */
static void test_audit_failure(void)
{
	struct run r;
	sqlite3 *h;
	if (fresh() < 0) {
		T_CHECK(0);
		return;
	}
	RUN(&r, "add", "nobody", "/inc", "--ttl", "1h");
	T_EQ_STR(r.out, "1\n");
	T_EQ_INT(sqlite3_open(auditdb, &h), SQLITE_OK);
	T_EQ_INT(sqlite3_exec(h, "CREATE TRIGGER refuse BEFORE INSERT ON events "
			      "BEGIN SELECT RAISE(ABORT, 'refused by test'); END", NULL, NULL, NULL),
		 SQLITE_OK);
	sqlite3_close(h);
	RUN(&r, "add", "nobody", "/more", "--ttl", "1h");
	T_EQ_INT(r.status, 1);
	T_EQ_STR(r.out, "");
	T_CONTAINS(r.err, "coach-grant: the grant was not added: its audit row could not be "
		   "written: ");
	T_EQ_INT(q_int(policy, "SELECT count(*) FROM grants"), 1);
	RUN(&r, "revoke", "1");
	T_EQ_INT(r.status, 1);
	T_CONTAINS(r.err, "coach-grant: grant 1 is revoked, but its audit row could not be "
		   "written: ");
	T_CHECK(q_int(policy, "SELECT revoked_at FROM grants WHERE id = 1") > 0);

	/* No audit database at all: nothing changes. */
	t_rm_db(auditdb);
	RUN(&r, "add", "nobody", "/more", "--ttl", "1h");
	T_EQ_INT(r.status, 1);
	T_CONTAINS(r.err, "coach-grant: audit: ");
	T_EQ_INT(q_int(policy, "SELECT count(*) FROM grants"), 1);
}

int main(void)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0) {
		perror("readlink");
		return 1;
	}
	self[n] = 0;
	char *slash = strrchr(self, '/'); /* .../build/tests/test_coach_grant */
	if (slash)
		*slash = 0;
	snprintf(bin, sizeof bin, "%s/../bin/coach-grant", self);
	snprintf(dir, sizeof dir, "/tmp/cfs-cgrant-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(cfgpath, sizeof cfgpath, "%s/coachfs.ini", dir);
	snprintf(policy, sizeof policy, "%s/policy.db", dir);
	snprintf(auditdb, sizeof auditdb, "%s/audit.db", dir);
	struct passwd *pw = getpwnam("nobody");
	if (pw) {
		nobody_uid = pw->pw_uid;
		nobody_gid = pw->pw_gid;
	}
	/* a store: coach-grant unlocks it for the row MAC key */
	snprintf(passfile, sizeof passfile, "%s/pass", dir);
	char sdir[160], hdr[300];
	struct cfs_err err = { "" };
	snprintf(sdir, sizeof sdir, "%s/store", dir);
	FILE *pf = fopen(passfile, "w");
	if (!pf || fputs("test passphrase\n", pf) < 0 || fclose(pf) != 0 || mkdir(sdir, 0700) != 0 ||
	    cfs_crypto_init(&err) < 0 || cfs_store_header_path(sdir, hdr, sizeof hdr) < 0 ||
	    cfs_store_create(hdr, "test passphrase", 15, CFS_AEAD_XCHACHA, 12, CFS_KDF_INTERACTIVE,
			     &keys, &err) < 0) {
		printf("FAIL test_coach_grant.setup: cannot create a store: %s\n", err.msg);
		return 1;
	}
	if (geteuid() != 0 || !pw || access(bin, X_OK) != 0) {
		printf("FAIL test_coach_grant.setup: needs root, user 'nobody' and %s (make all)\n",
		       bin);
		return 1;
	}
	T_RUN(test_help_version_usage);
	T_RUN(test_add_and_audit);
	T_RUN(test_add_refusals);
	T_RUN(test_root_only);
	T_RUN(test_list_show);
	T_RUN(test_revoke);
	T_RUN(test_audit_failure);
	t_rm_db(policy);
	t_rm_db(auditdb);
	cfs_keys_free(keys);
	char p[400];
	static const char *const files[] = { "coachfs.ini", "out", "err", "pass" };
	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, files[i]);
		unlink(p);
	}
	if (cfs_store_header_path(sdir, p, sizeof p) == 0)
		unlink(p);
	rmdir(sdir);
	rmdir(dir);
	T_END();
}
