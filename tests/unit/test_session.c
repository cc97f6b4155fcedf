/* test_session.c — session-bound grants: the binding stored in policy.db
 * and sealed in the row MAC (editing or removing it grants nothing), a
 * policy.db from before sessions still opening with its rows valid, and
 * whether a pinned process still runs (pid, start time, boot). */
#include "t.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coachfs/caller.h"
#include "coachfs/grants.h"
#include "coachfs/session.h"

static const unsigned char KEY[32] = "test rowmac key, 32 bytes long!";
static char dir[64];
static char dbpath[128];
static char boot[CFS_BOOT_ID_LEN + 1];

static struct cfs_grants *open_db(int create)
{
	struct cfs_grants *g = NULL;
	struct cfs_err err = { "" };
	int rc = cfs_grants_open(dbpath, create, &g, &err);
	if (rc == 0)
		rc = cfs_grants_set_key(g, KEY, &err);
	if (rc != 0)
		fprintf(stderr, "open: %d %s\n", rc, err.msg);
	return g;
}

static int raw_sql(const char *sql)
{
	sqlite3 *raw;
	if (sqlite3_open(dbpath, &raw) != SQLITE_OK)
		return -1;
	int rc = sqlite3_exec(raw, sql, NULL, NULL, NULL);
	sqlite3_close(raw);
	return rc;
}

/* alice's grant on /inc, bound to pid (start) when pid != 0. */
static int64_t add(struct cfs_grants *g, pid_t pid, uint64_t start, const char *cmd)
{
	struct cfs_grant_rec r;
	struct cfs_err err = { "" };
	memset(&r, 0, sizeof r);
	snprintf(r.subject, sizeof r.subject, "alice");
	r.g.kind = CFS_SUBJ_USER;
	r.g.ugid = 1001;
	snprintf(r.path, sizeof r.path, "/inc");
	r.g.start = cfs_now_s() - 1;
	r.g.end = r.g.start + 3600;
	snprintf(r.granted_by, sizeof r.granted_by, "root");
	r.g.session_pid = pid;
	r.g.session_start = start;
	if (pid) {
		snprintf(r.session_boot, sizeof r.session_boot, "%s", boot);
		snprintf(r.session_cmd, sizeof r.session_cmd, "%s", cmd);
	}
	if (cfs_grants_add(g, &r, &err) != 0) {
		fprintf(stderr, "add: %s\n", err.msg);
		return -(int64_t)1;
	}
	return r.g.id;
}

static int state_of(struct cfs_grants *g, int64_t id)
{
	struct cfs_grant_rec r;
	struct cfs_err err = { "" };
	return cfs_grants_get(g, id, &r, &err) == 0 ? r.row_state : -1;
}

static void binding_round_trip(void)
{
	struct cfs_grant_rec r;
	struct cfs_err err = { "" };
	struct cfs_grants *g = open_db(1);
	T_CHECK(g != NULL);
	if (!g)
		return;
	T_EQ_INT(add(g, 4242, 900, "assistant"), 1);
	T_EQ_INT(cfs_grants_get(g, 1, &r, &err), 0);
	T_EQ_INT(r.row_state, CFS_ROW_OK);
	T_EQ_INT(r.g.session_pid, 4242);
	T_EQ_INT(r.g.session_start, 900);
	T_EQ_STR(r.g.session_boot, boot);
	T_EQ_STR(r.g.session_cmd, "assistant");
	/* a snapshot carries it to the daemon's decisions */
	struct cfs_grant_snap *s = NULL;
	T_EQ_INT(cfs_grants_snapshot(g, &s, &err), 0);
	if (s) {
		T_EQ_INT(s->n, 1);
		T_EQ_INT(s->recs[0].g.session_pid, 4242);
		T_EQ_STR(s->recs[0].g.session_cmd, "assistant");
	}
	cfs_grants_snap_put(s);
	/* a binding that is half there, or not a boot id, is refused when written */
	memset(&r, 0, sizeof r);
	snprintf(r.subject, sizeof r.subject, "alice");
	r.g.kind = CFS_SUBJ_USER;
	snprintf(r.path, sizeof r.path, "/inc");
	r.g.start = 1;
	r.g.end = 2;
	snprintf(r.granted_by, sizeof r.granted_by, "root");
	r.g.session_pid = 4242;
	r.g.session_start = 900;
	snprintf(r.session_boot, sizeof r.session_boot, "not-a-boot-id");
	T_EQ_INT(cfs_grants_add(g, &r, &err), -EINVAL);
	T_CONTAINS(err.msg, "session_boot is not a boot id");
	r.g.session_pid = 0;
	T_EQ_INT(cfs_grants_add(g, &r, &err), -EINVAL);
	T_CONTAINS(err.msg, "session columns without session_pid");
	cfs_grants_close(g);
}

/* Unbinding, rebinding or renaming a session by hand breaks the row's MAC. */
static void binding_is_sealed(void)
{
	static const char *const edits[] = {
		"UPDATE grants SET session_pid = NULL, session_start = NULL, session_boot = NULL, "
		"session_cmd = NULL WHERE id = 2",
		"UPDATE grants SET session_pid = 4243 WHERE id = 3",
		"UPDATE grants SET session_start = 901 WHERE id = 4",
		"UPDATE grants SET session_cmd = 'other' WHERE id = 5",
		"UPDATE grants SET session_boot = '00000000-0000-0000-0000-000000000000' WHERE id = 6",
		/* a plain grant given a binding */
		"UPDATE grants SET session_pid = 4242, session_start = 900, session_cmd = 'x', "
		"session_boot = (SELECT session_boot FROM grants WHERE id = 3) WHERE id = 7",
		"UPDATE grants SET session_pid = 1, session_start = 1 WHERE id = 8",
	};
	struct cfs_grants *g = open_db(0);
	T_CHECK(g != NULL);
	if (!g)
		return;
	for (int i = 0; i < 5; i++)
		T_EQ_INT(add(g, 4242, 900, "assistant"), i + 2);
	T_EQ_INT(add(g, 0, 0, NULL), 7);
	T_EQ_INT(add(g, 0, 0, NULL), 8);
	for (int64_t id = 2; id <= 8; id++)
		T_EQ_INT(state_of(g, id), CFS_ROW_OK);
	for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++)
		T_EQ_INT(raw_sql(edits[i]), SQLITE_OK);
	for (int64_t id = 2; id <= 7; id++)
		T_EQ_INT(state_of(g, id), CFS_ROW_BADMAC);
	/* pid 1 is not a session's process: the row is refused when read */
	struct cfs_grant_rec r;
	struct cfs_err err = { "" };
	T_EQ_INT(cfs_grants_get(g, 8, &r, &err), -EIO);
	T_CONTAINS(err.msg, "session_pid or session_start out of range");
	cfs_grants_close(g);
}

/* A policy.db from before sessions (no session columns, rows sealed) opens:
 * the columns are added empty and its grants stay valid and unbound. */
static void older_db_opens(void)
{
	unlink(dbpath);
	struct cfs_grants *g = open_db(1);
	T_CHECK(g != NULL);
	if (!g)
		return;
	T_EQ_INT(add(g, 0, 0, NULL), 1);
	cfs_grants_close(g);
	T_EQ_INT(raw_sql("ALTER TABLE grants DROP COLUMN session_cmd;"
			 "ALTER TABLE grants DROP COLUMN session_boot;"
			 "ALTER TABLE grants DROP COLUMN session_start;"
			 "ALTER TABLE grants DROP COLUMN session_pid;"), SQLITE_OK);
	g = open_db(0);
	T_CHECK(g != NULL);
	if (!g)
		return;
	struct cfs_grant_rec r;
	struct cfs_err err = { "" };
	T_EQ_INT(cfs_grants_get(g, 1, &r, &err), 0);
	T_EQ_INT(r.row_state, CFS_ROW_OK);
	T_EQ_INT(r.g.session_pid, 0);
	T_EQ_INT(add(g, 4242, 900, "assistant"), 2);
	T_EQ_INT(state_of(g, 2), CFS_ROW_OK);
	cfs_grants_close(g);
}

static void liveness(void)
{
	pid_t me = getpid();
	uint64_t start = cfs_proc_start(me);
	T_CHECK(start != 0);
	T_EQ_INT(cfs_session_live(me, start, boot, NULL), 1);
	T_EQ_INT(cfs_session_live(me, start, boot, boot), 1);
	T_EQ_INT(cfs_session_live(me, start + 1, boot, NULL), 0);
	T_EQ_INT(cfs_session_live(me, start, "00000000-0000-0000-0000-000000000000", NULL), 0);
	T_EQ_INT(cfs_session_live(me, 0, boot, NULL), 0);
	T_EQ_INT(cfs_session_live(1, cfs_proc_start(1), boot, NULL), 0);
	/* a process that has exited (and been reaped) has ended */
	pid_t c = fork();
	if (c == 0)
		_exit(0);
	uint64_t cs = c > 0 ? cfs_proc_start(c) : 0;
	int st;
	waitpid(c, &st, 0);
	T_EQ_INT(cfs_session_live(c, cs, boot, NULL), 0);
	/* the facts for candidates: only bound grants are looked at */
	struct cfs_grant gs[2] = {
		{ .id = 1, .session_pid = me, .session_start = start, .session_boot = boot },
		{ .id = 2, .session_live = 7 } };
	struct cfs_lineage l;
	struct cfs_caller cl;
	memset(&cl, 0, sizeof cl);
	cl.pid = cl.tgid = me;
	cl.ppid = getppid();
	cl.start_time = start;
	cfs_session_facts(gs, 2, &cl, &l, 1);
	T_EQ_INT(l.self.pid, me);
	/* a visibility check's caller has ids only: its process gets pinned */
	cl.start_time = 0;
	cl.ppid = 0;
	cfs_session_facts(gs, 2, &cl, &l, 1);
	T_EQ_INT(l.self.start, start);
	T_EQ_INT(l.ppid, getppid());
	T_EQ_INT(l.walked, 1);
	/* no lineage walk for a recheck, nor when no bound grant is live */
	cl.start_time = start;
	cl.ppid = getppid();
	cfs_session_facts(gs, 2, &cl, &l, 0);
	T_EQ_INT(l.walked, 0);
	gs[0].session_start++;
	cfs_session_facts(gs, 2, &cl, &l, 1);
	T_EQ_INT(gs[0].session_live, 0);
	T_EQ_INT(l.walked, 0);
	gs[0].session_start--;
	cfs_session_facts(gs, 2, &cl, &l, 1);
	T_EQ_INT(gs[0].session_live, 1);
	T_EQ_INT(gs[1].session_live, 7);
	T_EQ_INT(l.walked, 1);
	T_CHECK(l.n >= 1 && l.anc[0].pid == getppid());
	T_EQ_STR(cfs_session_state(&gs[0]), "running");
	gs[0].session_start++;
	T_EQ_STR(cfs_session_state(&gs[0]), "ended");
}

static void boot_id(void)
{
	char small[8];
	T_EQ_INT(strlen(boot), CFS_BOOT_ID_LEN);
	T_EQ_INT(cfs_proc_boot_id(small, sizeof small), -ENAMETOOLONG);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/cfs-session-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dbpath, sizeof dbpath, "%s/policy.db", dir);
	if (cfs_proc_boot_id(boot, sizeof boot) != 0) {
		fprintf(stderr, "no boot id\n");
		return 1;
	}
	T_RUN(boot_id);
	T_RUN(binding_round_trip);
	T_RUN(binding_is_sealed);
	T_RUN(older_db_opens);
	T_RUN(liveness);
	t_rm_db(dbpath);
	rmdir(dir);
	T_END();
}
