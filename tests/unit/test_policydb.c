/* test_policydb.c — policy.db's one owner: the exact schema of a fresh
 * database, the files it refuses (a symlink, a directory, a FIFO, another
 * SQLite database, a newer format, which it never writes to), the golden v1
 * and v2 stores migrated to exactly a fresh database's columns, rows kept,
 * a read-only open, an open that takes no write lock when nothing is due,
 * and the statement helpers' messages. Run from the source tree (the
 * golden stores are read from tests/golden). */
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coachfs/policydb.h"

static char dir[64];
static char dbpath[128];


/* Every row of query on the database at path, "a|b|c;" each, or the error. */
static const char *rows(const char *path, const char *query)
{
	static char out[8192];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t o = 0;
	out[0] = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, query, -1, &st, NULL) != SQLITE_OK) {
		snprintf(out, sizeof out, "error: %s", sqlite3_errmsg(db));
	} else {
		while (sqlite3_step(st) == SQLITE_ROW && o < sizeof out) {
			for (int c = 0; c < sqlite3_column_count(st); c++) {
				const unsigned char *v = sqlite3_column_text(st, c);
				o += (size_t)snprintf(out + o, sizeof out - o, "%s%s", c ? "|" : "",
						      v ? (const char *)v : "NULL");
				if (o >= sizeof out)
					break;
			}
			if (o < sizeof out)
				o += (size_t)snprintf(out + o, sizeof out - o, ";");
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

static int raw(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static int copy(const char *src, const char *dst)
{
	char buf[65536];
	int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
	ssize_t n;
	if (in >= 0)
		out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	while (out >= 0 && (n = read(in, buf, sizeof buf)) >= 0) {
		if (n == 0) {
			rc = 0;
			break;
		}
		if (write(out, buf, (size_t)n) != n)
			break;
	}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

/* Each table's columns in order, "table: a b c;" — what every reader
 * depends on, whichever way the schema came to be. */
#define COLUMNS_Q "SELECT m.name || ': ' || group_concat(p.name, ' ') FROM sqlite_master m, " \
	"pragma_table_info(m.name) p WHERE m.type = 'table' GROUP BY m.name ORDER BY m.name"

static const char FRESH_COLUMNS[] =
	"grants: id subject kind ugid role path write start end max_opens reason granted_by "
	"approved_by created revoked_at revoked_by revoke_reason approved_at opens_total mac "
	"session_pid session_start session_boot session_cmd;"
	"links: id token_hash path user uid start end uses used issued_by created revoked_at "
	"revoked_by revoke_reason approved_by approved_at mac;"
	"meta: key value;"
	"opens: grant_id path count mac;"
	"requests: id kind uid user path write ttl reason created expires approved_by "
	"approver_uid approved_at decided_by decided_uid decided_at denied note grant_id "
	"reviewed_by reviewed_at review_note mac;";

static void fresh_schema(void)
{
	struct cfs_policydb *p = NULL;
	struct cfs_err err = { "" };
	struct stat st;
	t_rm_db(dbpath);
	T_EQ_INT(cfs_policydb_open(dbpath, 0, &p, &err), -ENOENT);
	T_EQ_INT(access(dbpath, F_OK), -1);
	err.msg[0] = 0;
	T_EQ_INT(cfs_policydb_open(dbpath, CFS_PDB_CREATE, &p, &err), 0);
	T_EQ_STR(err.msg, "");
	if (!p)
		return;
	T_EQ_STR(cfs_policydb_file(p), dbpath);
	cfs_policydb_close(p);
	T_EQ_INT(stat(dbpath, &st), 0);
	T_EQ_INT(st.st_mode & 0777, 0600);
	T_EQ_STR(rows(dbpath, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"),
		 "table|grants|grants|CREATE TABLE grants(id INTEGER PRIMARY KEY, subject TEXT, kind "
		 "INTEGER, ugid INTEGER, role TEXT, path TEXT, write INTEGER, start INTEGER, \"end\" "
		 "INTEGER, max_opens INTEGER, reason TEXT, granted_by TEXT, approved_by TEXT, created "
		 "INTEGER, revoked_at INTEGER, revoked_by TEXT, revoke_reason TEXT, approved_at INTEGER, "
		 "opens_total INTEGER, mac BLOB, session_pid INTEGER, session_start INTEGER, "
		 "session_boot TEXT, session_cmd TEXT);"
		 "table|links|links|CREATE TABLE links ( id INTEGER PRIMARY KEY, token_hash BLOB NOT "
		 "NULL UNIQUE, path TEXT NOT NULL, user TEXT NOT NULL, uid INTEGER NOT NULL, start "
		 "INTEGER NOT NULL, \"end\" INTEGER NOT NULL, uses INTEGER NOT NULL, used INTEGER NOT "
		 "NULL DEFAULT 0, issued_by TEXT NOT NULL, created INTEGER NOT NULL, revoked_at INTEGER, "
		 "revoked_by TEXT, revoke_reason TEXT, approved_by TEXT, approved_at INTEGER, mac BLOB);"
		 "table|meta|meta|CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
		 "table|opens|opens|CREATE TABLE opens(grant_id INTEGER, path TEXT, count INTEGER, "
		 "mac BLOB, PRIMARY KEY(grant_id, path));"
		 "table|requests|requests|CREATE TABLE requests(id INTEGER PRIMARY KEY, kind INTEGER, "
		 "uid INTEGER, user TEXT, path TEXT, write INTEGER, ttl INTEGER, reason TEXT, created "
		 "INTEGER, expires INTEGER, approved_by TEXT, approver_uid INTEGER, approved_at INTEGER, "
		 "decided_by TEXT, decided_uid INTEGER, decided_at INTEGER, denied INTEGER, note TEXT, "
		 "grant_id INTEGER, reviewed_by TEXT, reviewed_at INTEGER, review_note TEXT, mac BLOB);"
		 "index|sqlite_autoindex_links_1|links|NULL;"
		 "index|sqlite_autoindex_meta_1|meta|NULL;"
		 "index|sqlite_autoindex_opens_1|opens|NULL;");
	T_EQ_STR(rows(dbpath, COLUMNS_Q), FRESH_COLUMNS);
	T_EQ_STR(rows(dbpath, "SELECT key, value FROM meta"), "format|1;");
	T_EQ_STR(rows(dbpath, "PRAGMA journal_mode"), "wal;");
}

/* A current database is opened without the write lock: nothing is due, so
 * a writer holding policy.db does not hold up the daemon's start. */
static void current_opens_without_writing(void)
{
	struct cfs_policydb *p = NULL;
	struct cfs_err err = { "" };
	sqlite3 *w = NULL;
	T_EQ_INT(sqlite3_open(dbpath, &w), SQLITE_OK);
	T_EQ_INT(sqlite3_exec(w, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	int64_t t0 = cfs_now_us();
	T_EQ_INT(cfs_policydb_open(dbpath, 0, &p, &err), 0);
	T_CHECK(cfs_now_us() - t0 < 1000000);
	/* and its writes wait for the lock, then say so */
	if (p) {
		sqlite3_busy_timeout(cfs_policydb_conn(p), 50);
		T_EQ_INT(cfs_policydb_meta_set(p, "mountpoint", "/mnt", &err), -EBUSY);
		T_CONTAINS(err.msg, "policy.db: meta: database is locked");
	}
	cfs_policydb_close(p);
	sqlite3_exec(w, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(w);
}

static void refused_files(void)
{
	struct cfs_policydb *p = NULL;
	struct cfs_err err = { "" };
	char other[160], msg[400];
	/* a symlink, to a database or to nothing, is never followed */
	snprintf(other, sizeof other, "%s/link.db", dir);
	T_EQ_INT(symlink(dbpath, other), 0);
	T_EQ_INT(cfs_policydb_open(other, 0, &p, &err), -ELOOP);
	snprintf(msg, sizeof msg, "%s: a symbolic link: refused", other);
	T_EQ_STR(err.msg, msg);
	T_CHECK(p == NULL);
	unlink(other);
	char target[160];
	snprintf(target, sizeof target, "%s/target.db", dir);
	T_EQ_INT(symlink(target, other), 0);
	T_EQ_INT(cfs_policydb_open(other, CFS_PDB_CREATE, &p, &err), -ELOOP);
	T_EQ_INT(access(target, F_OK), -1);
	unlink(other);
	/* a directory, a FIFO (never opened: no hang) */
	T_EQ_INT(mkdir(other, 0700), 0);
	T_EQ_INT(cfs_policydb_open(other, CFS_PDB_CREATE, &p, &err), -EINVAL);
	snprintf(msg, sizeof msg, "%s: not a regular file", other);
	T_EQ_STR(err.msg, msg);
	rmdir(other);
	T_EQ_INT(mkfifo(other, 0600), 0);
	T_EQ_INT(cfs_policydb_open(other, 0, &p, &err), -EINVAL);
	T_EQ_STR(err.msg, msg);
	unlink(other);
	/* another SQLite database: refused, unless told to make the schema */
	T_EQ_INT(raw(other, "CREATE TABLE t(x)"), SQLITE_OK);
	T_EQ_INT(cfs_policydb_open(other, 0, &p, &err), -EIO);
	snprintf(msg, sizeof msg, "%s: not a coachfs policy database", other);
	T_EQ_STR(err.msg, msg);
	T_EQ_STR(rows(other, "SELECT name FROM sqlite_master"), "t;");
	T_EQ_INT(cfs_policydb_open(other, CFS_PDB_SCHEMA, &p, &err), 0);
	cfs_policydb_close(p);
	p = NULL;
	T_EQ_STR(rows(other, "SELECT value FROM meta WHERE key = 'format'"), "1;");
	t_rm_db(other);
	/* not a database at all */
	FILE *f = fopen(other, "w");
	if (f) {
		fputs("not an SQLite database, padding padding padding padding padding padding\n", f);
		fclose(f);
	}
	T_EQ_INT(cfs_policydb_open(other, 0, &p, &err), -EIO);
	snprintf(msg, sizeof msg, "%s: setting WAL mode: file is not a database", other);
	T_EQ_STR(err.msg, msg);
	t_rm_db(other);
	T_EQ_INT(cfs_policydb_open("", 0, &p, &err), -EINVAL);
	T_EQ_STR(err.msg, "policy.db: no path given");
	T_EQ_INT(cfs_policydb_open(dbpath, CFS_PDB_RDONLY | CFS_PDB_CREATE, &p, &err), -EINVAL);
}

/* A newer format is refused by name, before anything is written: its
 * missing table stays missing. */
static void newer_format_refused(void)
{
	struct cfs_policydb *p = NULL;
	struct cfs_err err = { "" };
	char msg[400];
	T_EQ_INT(raw(dbpath, "UPDATE meta SET value = '2' WHERE key = 'format'; DROP TABLE requests"),
		 SQLITE_OK);
	for (int flags = 0; flags <= CFS_PDB_SCHEMA; flags++) {
		T_EQ_INT(cfs_policydb_open(dbpath, flags, &p, &err), -EIO);
		snprintf(msg, sizeof msg, "%s: unsupported policy database format 2: made by a newer "
			 "coachfs (this one reads format 1); use that version", dbpath);
		T_EQ_STR(err.msg, msg);
		T_CHECK(p == NULL);
	}
	T_EQ_STR(rows(dbpath, "SELECT count(*) FROM sqlite_master WHERE name = 'requests'"), "0;");
	/* a format that is no number: unsupported, said plainly */
	T_EQ_INT(raw(dbpath, "UPDATE meta SET value = 'x' WHERE key = 'format'"), SQLITE_OK);
	T_EQ_INT(cfs_policydb_open(dbpath, 0, &p, &err), -EIO);
	snprintf(msg, sizeof msg, "%s: unsupported policy database format (this is 1)", dbpath);
	T_EQ_STR(err.msg, msg);
	T_EQ_INT(raw(dbpath, "DELETE FROM meta WHERE key = 'format'"), SQLITE_OK);
	T_EQ_INT(cfs_policydb_open(dbpath, 0, &p, &err), -EIO);
	snprintf(msg, sizeof msg, "%s: not a coachfs policy database (no format version)", dbpath);
	T_EQ_STR(err.msg, msg);
	t_rm_db(dbpath);
}

/* A golden store's policy.db, copied: read-only it is refused (a migration
 * is due) and left as it was; read-write it gains exactly a fresh database's
 * columns and keeps every row. */
static void golden(const char *version, const char *counts)
{
	struct cfs_policydb *p = NULL;
	struct cfs_err err = { "" };
	char src[160], msg[400], before[8192];
	snprintf(src, sizeof src, "tests/golden/%s/var/policy.db", version);
	t_rm_db(dbpath);
	T_EQ_INT(copy(src, dbpath), 0);
	snprintf(before, sizeof before, "%s", rows(dbpath, "SELECT sql FROM sqlite_master"));
	T_EQ_INT(cfs_policydb_open(dbpath, CFS_PDB_RDONLY, &p, &err), -EROFS);
	snprintf(msg, sizeof msg, "%s: made by an older coachfs: open it read-write once to add "
		 "what it lacks", dbpath);
	T_EQ_STR(err.msg, msg);
	T_EQ_STR(rows(dbpath, "SELECT sql FROM sqlite_master"), before);
	err.msg[0] = 0;
	T_EQ_INT(cfs_policydb_open(dbpath, 0, &p, &err), 0);
	T_EQ_STR(err.msg, "");
	cfs_policydb_close(p);
	T_EQ_STR(rows(dbpath, COLUMNS_Q), FRESH_COLUMNS);
	T_EQ_STR(rows(dbpath, "SELECT (SELECT count(*) FROM grants) || ' ' || (SELECT count(*) FROM "
		      "opens) || ' ' || (SELECT count(*) FROM links) || ' ' || (SELECT count(*) FROM "
		      "requests) || ' ' || (SELECT value FROM meta WHERE key = 'format')"), counts);
	/* the columns added are empty in the rows that were there */
	T_EQ_STR(rows(dbpath, "SELECT count(*) FROM grants WHERE session_pid IS NOT NULL"), "0;");
	/* now current: read-only is fine, and a write through it is refused */
	p = NULL;
	T_EQ_INT(cfs_policydb_open(dbpath, CFS_PDB_RDONLY, &p, &err), 0);
	if (p) {
		T_EQ_INT(cfs_policydb_meta_set(p, "mountpoint", "/mnt", &err), -EACCES);
		T_CONTAINS(err.msg, "attempt to write a readonly database");
		char v[8];
		T_EQ_INT(cfs_policydb_meta_get(p, "format", v, sizeof v, &err), 0);
		T_EQ_STR(v, "1");
	}
	cfs_policydb_close(p);
}

static void golden_v1(void)
{
	golden("v1", "0 0 0 0 1;");
}

static void golden_v2(void)
{
	golden("v2", "3 2 1 0 1;");
}

static void helpers(void)
{
	struct cfs_policydb *p = NULL;
	struct cfs_err err = { "" };
	sqlite3_stmt *st = NULL;
	char msg[400], v[8];
	t_rm_db(dbpath);
	T_EQ_INT(cfs_policydb_open(dbpath, CFS_PDB_CREATE, &p, &err), 0);
	if (!p)
		return;
	/* policy changes survive a power loss: the WAL is synced per commit */
	T_EQ_INT(cfs_policydb_prepare(p, "PRAGMA synchronous", "reading", &st, &err), 0);
	T_EQ_INT(cfs_policydb_step(p, st, "reading", &err), 1);
	T_EQ_INT(sqlite3_column_int(st, 0), 2);
	sqlite3_finalize(st);
	st = NULL;
	T_EQ_INT(cfs_policydb_exec(p, "SELEC 1", "a test", &err), -EIO);
	snprintf(msg, sizeof msg, "%s: a test: near \"SELEC\": syntax error", dbpath);
	T_EQ_STR(err.msg, msg);
	T_EQ_INT(cfs_policydb_prepare(p, "SELECT nope FROM grants", "reading", &st, &err), -EIO);
	T_CHECK(st == NULL);
	T_EQ_INT(cfs_policydb_prepare(p, "UPDATE grants SET mac = NULL WHERE id = 99", "x", &st, &err), 0);
	T_EQ_INT(cfs_policydb_update_one(p, st, "sealing", "grant ", 99, &err), -EIO);
	snprintf(msg, sizeof msg, "%s: grant 99 vanished", dbpath);
	T_EQ_STR(err.msg, msg);
	/* a transaction ended with an error is rolled back */
	T_EQ_INT(cfs_policydb_begin(p, "begin", &err), 0);
	T_EQ_INT(cfs_policydb_meta_set(p, "k", "v", &err), 0);
	T_EQ_INT(cfs_policydb_end(p, -EPERM, "commit", &err), -EPERM);
	T_EQ_INT(cfs_policydb_meta_get(p, "k", v, sizeof v, &err), -ENOENT);
	T_EQ_INT(cfs_policydb_begin(p, "begin", &err), 0);
	T_EQ_INT(cfs_policydb_meta_set(p, "k", "long value", &err), 0);
	T_EQ_INT(cfs_policydb_end(p, 0, "commit", &err), 0);
	T_EQ_INT(cfs_policydb_meta_get(p, "k", v, sizeof v, &err), -ENAMETOOLONG);
	T_EQ_STR(v, "");
	T_EQ_INT(cfs_policydb_exec(p, "UPDATE meta SET value = x'37' WHERE key = 'k'", "x", &err), 0);
	T_EQ_INT(cfs_policydb_meta_get(p, "k", v, sizeof v, &err), -EIO);
	snprintf(msg, sizeof msg, "%s: meta 'k': value is not text", dbpath);
	T_EQ_STR(err.msg, msg);
	cfs_policydb_close(p);
	t_rm_db(dbpath);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/cfs-policydb-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dbpath, sizeof dbpath, "%s/policy.db", dir);
	T_RUN(fresh_schema);
	T_RUN(current_opens_without_writing);
	T_RUN(refused_files);
	T_RUN(newer_format_refused);
	T_RUN(golden_v1);
	T_RUN(golden_v2);
	T_RUN(helpers);
	t_rm_db(dbpath);
	rmdir(dir);
	T_END();
}
