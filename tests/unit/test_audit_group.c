/* test_audit_group.c — group commit of synchronous rows (fs/audit_group.c):
 * rows appended by threads that arrive while a commit is in flight are
 * committed together in the next transaction (shown by holding the write
 * lock from another connection while eight threads append: two
 * transactions at most, not eight); many threads appending at once lose and
 * repeat nothing and the chain verifies; a transaction that fails fails
 * every row in it (each caller gets its error, none of the rows is in the
 * log). */
#include "coachfs/audit.h"
#include "t.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned char PK[32], SK[64];
static char g_dir[64];

struct appender {
	struct cfs_audit *a;
	int id, n, rc;
	struct cfs_err err;
	pthread_t t;
};

static void *append_main(void *p)
{
	struct appender *ap = p;
	char user[32];
	snprintf(user, sizeof user, "u%d", ap->id);
	for (int k = 0; k < ap->n && ap->rc == 0; k++) {
		struct cfs_event ev;
		cfs_event_init(&ev);
		ev.host = "ws";
		ev.uid = 1000 + (int64_t)ap->id;
		ev.user = user;
		ev.pid = 100 + ap->id;
		ev.exe = "/bin/cat";
		ev.action = CFS_ACT_OPEN;
		ev.path = "/doc";
		ev.result = "allow";
		ev.length = k;
		ap->rc = cfs_audit_append(ap->a, &ev, &ap->err);
	}
	return NULL;
}

static int64_t count_rows(const char *db, const char *where)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	char sql[256];
	int64_t n = -1;
	snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE %s", where);
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

/* Another connection holds the write lock (BEGIN IMMEDIATE) until commit. */
static sqlite3 *hold_lock(const char *db)
{
	sqlite3 *h = NULL;
	if (sqlite3_open(db, &h) != SQLITE_OK || sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(h);
		return NULL;
	}
	return h;
}

static void release_lock(sqlite3 *h)
{
	sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(h);
}

static void run(struct appender *ap, int nthreads)
{
	for (int i = 0; i < nthreads; i++)
		T_EQ_INT(pthread_create(&ap[i].t, NULL, append_main, &ap[i]), 0);
}

static void join(struct appender *ap, int nthreads)
{
	for (int i = 0; i < nthreads; i++)
		pthread_join(ap[i].t, NULL);
}

static void test_waiting_rows_share_a_commit(void)
{
	char db[128];
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct appender ap[8];
	snprintf(db, sizeof db, "%s/group.db", g_dir);
	T_EQ_INT(cfs_audit_open(db, 1, &a, &err), 0);
	T_EQ_INT(cfs_audit_start(a, 10, SK, &err), 0);
	if (!a)
		return;
	sqlite3 *h = hold_lock(db);
	T_CHECK(h != NULL);
	for (int i = 0; i < 8; i++)
		ap[i] = (struct appender){ a, i, 1, 0, { "" }, 0 };
	run(ap, 8);
	usleep(300000); /* all eight are waiting: one on the lock, seven behind it */
	release_lock(h);
	join(ap, 8);
	unsigned long rows, commits;
	cfs_audit_group_stats(a, &rows, &commits);
	for (int i = 0; i < 8; i++)
		T_EQ_INT(ap[i].rc, 0);
	T_EQ_INT(rows, 8);
	T_CHECK(commits >= 1 && commits <= 2);
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	T_EQ_INT(count_rows(db, "action = 'open'"), 8);
	struct cfs_verify_report r;
	T_EQ_INT(cfs_audit_verify(db, PK, &r, &err), 0);
}

static void test_many_threads(void)
{
	char db[128];
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct appender ap[8];
	snprintf(db, sizeof db, "%s/many.db", g_dir);
	T_EQ_INT(cfs_audit_open(db, 1, &a, &err), 0);
	T_EQ_INT(cfs_audit_start(a, 10, SK, &err), 0);
	if (!a)
		return;
	for (int i = 0; i < 8; i++)
		ap[i] = (struct appender){ a, i, 300, 0, { "" }, 0 };
	run(ap, 8);
	join(ap, 8);
	unsigned long rows, commits;
	cfs_audit_group_stats(a, &rows, &commits);
	for (int i = 0; i < 8; i++)
		T_EQ_INT(ap[i].rc, 0);
	T_EQ_INT(rows, 2400);
	T_CHECK(commits <= rows);
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	/* every row once: 300 distinct lengths for each of the eight users */
	T_EQ_INT(count_rows(db, "action = 'open'"), 2400);
	T_EQ_INT(count_rows(db, "action = 'open' AND user = 'u3' AND length BETWEEN 0 AND 299"), 300);
	struct cfs_verify_report r;
	T_EQ_INT(cfs_audit_verify(db, PK, &r, &err), 0);
	T_EQ_INT(r.rows, 2400);
}

static void test_failed_commit_fails_all(void)
{
	char db[128];
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct appender ap[4];
	snprintf(db, sizeof db, "%s/fail.db", g_dir);
	T_EQ_INT(cfs_audit_open(db, 1, &a, &err), 0);
	T_EQ_INT(cfs_audit_start(a, 10, SK, &err), 0);
	if (!a)
		return;
	T_EQ_INT(cfs_audit_set_busy_timeout(a, 200), 0);
	sqlite3 *h = hold_lock(db);
	T_CHECK(h != NULL);
	for (int i = 0; i < 4; i++)
		ap[i] = (struct appender){ a, i, 1, 0, { "" }, 0 };
	run(ap, 4);
	join(ap, 4);
	release_lock(h);
	for (int i = 0; i < 4; i++) {
		T_CHECK(ap[i].rc < 0);
		T_CHECK(ap[i].err.msg[0] != 0);
	}
	unsigned long rows, commits;
	cfs_audit_group_stats(a, &rows, &commits);
	T_EQ_INT(rows, 0);
	/* the lock is free again: the next row commits */
	ap[0] = (struct appender){ a, 9, 1, 0, { "" }, 0 };
	append_main(&ap[0]);
	T_EQ_INT(ap[0].rc, 0);
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	T_EQ_INT(count_rows(db, "action = 'open'"), 1);
	T_EQ_INT(count_rows(db, "action = 'open' AND user = 'u9'"), 1);
}

int main(void)
{
	if (sodium_init() < 0) {
		printf("FAIL test_audit_group.main: sodium_init\n");
		return 1;
	}
	crypto_sign_keypair(PK, SK);
	snprintf(g_dir, sizeof g_dir, "/tmp/coachfs-unit-ag.XXXXXX");
	if (!mkdtemp(g_dir)) {
		printf("FAIL test_audit_group.main: mkdtemp\n");
		return 1;
	}
	T_RUN(test_waiting_rows_share_a_commit);
	T_RUN(test_many_threads);
	T_RUN(test_failed_commit_fails_all);
	char cmd[160];
	snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
	if (system(cmd) != 0)
		printf("FAIL test_audit_group.main: cleanup\n");
	T_END();
}
