/* policydb.c — policy.db's one owner: the connection and its defences, the
 * whole schema (the first format's tables, then every column added since,
 * in the order they came), created and migrated once per open under the
 * write lock, the meta table, and the statement helpers the tables'
 * modules (grants, links, requests) share. It must never interpret a row,
 * never hold a key, never print, and never write to a database whose
 * format it does not know. */
#include "coachfs/policydb.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000
#define META_VALUE_MAX 4096
#define META_KEY_MAX 256

struct cfs_policydb {
	sqlite3 *db;
	char *file;
};

/* The tables as the first format made them. */
static const char TABLES_SQL[] =
	"CREATE TABLE IF NOT EXISTS grants(id INTEGER PRIMARY KEY, subject TEXT, kind INTEGER, "
	"ugid INTEGER, role TEXT, path TEXT, write INTEGER, start INTEGER, \"end\" INTEGER, "
	"max_opens INTEGER, reason TEXT, granted_by TEXT, approved_by TEXT, created INTEGER, "
	"revoked_at INTEGER, revoked_by TEXT, revoke_reason TEXT);"
	"CREATE TABLE IF NOT EXISTS opens(grant_id INTEGER, path TEXT, count INTEGER, "
	"PRIMARY KEY(grant_id, path));"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE IF NOT EXISTS links ("
	" id INTEGER PRIMARY KEY, token_hash BLOB NOT NULL UNIQUE, path TEXT NOT NULL,"
	" user TEXT NOT NULL, uid INTEGER NOT NULL, start INTEGER NOT NULL, \"end\" INTEGER NOT NULL,"
	" uses INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0, issued_by TEXT NOT NULL,"
	" created INTEGER NOT NULL, revoked_at INTEGER, revoked_by TEXT, revoke_reason TEXT);"
	"CREATE TABLE IF NOT EXISTS requests(id INTEGER PRIMARY KEY, kind INTEGER, uid INTEGER, "
	"user TEXT, path TEXT, write INTEGER, ttl INTEGER, reason TEXT, created INTEGER, "
	"expires INTEGER, approved_by TEXT, approver_uid INTEGER, approved_at INTEGER, "
	"decided_by TEXT, decided_uid INTEGER, decided_at INTEGER, denied INTEGER, note TEXT, "
	"grant_id INTEGER, reviewed_by TEXT, reviewed_at INTEGER, review_note TEXT, mac BLOB);";

/* Every column this code uses that a policy.db may lack: a table's first
 * column (the table itself: made by TABLES_SQL, type NULL), then the
 * columns added since, empty in the rows they find (row MACs: those rows
 * read as unsealed; session binding: those rows are unbound grants). */
static const struct { const char *table, *col, *type; } COLUMNS[] = {
	{ "grants", "id", NULL }, { "opens", "grant_id", NULL }, { "meta", "key", NULL },
	{ "links", "id", NULL }, { "requests", "id", NULL },
	{ "grants", "approved_at", "INTEGER" }, { "grants", "opens_total", "INTEGER" },
	{ "grants", "mac", "BLOB" }, { "opens", "mac", "BLOB" },
	{ "grants", "session_pid", "INTEGER" }, { "grants", "session_start", "INTEGER" },
	{ "grants", "session_boot", "TEXT" }, { "grants", "session_cmd", "TEXT" },
	{ "links", "approved_by", "TEXT" }, { "links", "approved_at", "INTEGER" },
	{ "links", "mac", "BLOB" },
};
#define NCOLUMNS (sizeof COLUMNS / sizeof COLUMNS[0])
#define META_KEY 2   /* COLUMNS[META_KEY]: the meta table */

/* ---- statement helpers ---------------------------------------------------- */

struct sqlite3 *cfs_policydb_conn(const struct cfs_policydb *p)
{
	return p->db;
}

const char *cfs_policydb_file(const struct cfs_policydb *p)
{
	return p->file;
}

int cfs_policydb_err(struct cfs_policydb *p, int rc, const char *what, struct cfs_err *err)
{
	return cfs_errf(err, cfs_sqlite_errno(rc), "%s: %s: %s", p->file, what,
			sqlite3_errmsg(p->db));
}

int cfs_policydb_exec(struct cfs_policydb *p, const char *sql, const char *what,
		      struct cfs_err *err)
{
	int rc = sqlite3_exec(p->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : cfs_policydb_err(p, rc, what, err);
}

int cfs_policydb_prepare(struct cfs_policydb *p, const char *sql, const char *what,
			 sqlite3_stmt **st, struct cfs_err *err)
{
	int rc = sqlite3_prepare_v2(p->db, sql, -1, st, NULL);
	if (rc == SQLITE_OK)
		return 0;
	*st = NULL;
	return cfs_policydb_err(p, rc, what, err);
}

int cfs_policydb_step(struct cfs_policydb *p, sqlite3_stmt *st, const char *what,
		      struct cfs_err *err)
{
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		return 1;
	return s == SQLITE_DONE ? 0 : cfs_policydb_err(p, s, what, err);
}

int cfs_policydb_update_one(struct cfs_policydb *p, sqlite3_stmt *st, const char *what,
			    const char *row, int64_t id, struct cfs_err *err)
{
	int s = sqlite3_step(st);
	sqlite3_finalize(st);
	if (s != SQLITE_DONE)
		return cfs_policydb_err(p, s, what, err);
	if (sqlite3_changes(p->db) != 1)
		return cfs_errf(err, -EIO, "%s: %s%lld vanished", p->file, row, (long long)id);
	return 0;
}

int cfs_policydb_begin(struct cfs_policydb *p, const char *what, struct cfs_err *err)
{
	return cfs_policydb_exec(p, "BEGIN IMMEDIATE", what, err);
}

int cfs_policydb_end(struct cfs_policydb *p, int rc, const char *what, struct cfs_err *err)
{
	if (rc == 0 && (rc = cfs_policydb_exec(p, "COMMIT", what, err)) == 0)
		return 0;
	/* fails harmlessly when SQLite already rolled back (after an I/O error) */
	(void)sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

void cfs_policydb_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s && *s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

void cfs_policydb_bind_int(sqlite3_stmt *st, int i, int64_t v, int null_zero)
{
	if (null_zero && v == 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

/* ---- meta ------------------------------------------------------------------ */

static int meta_key_ok(const char *key)
{
	return key && *key && strlen(key) < META_KEY_MAX;
}

int cfs_policydb_meta_set(struct cfs_policydb *p, const char *key, const char *value,
			  struct cfs_err *err)
{
	sqlite3_stmt *st;
	if (!meta_key_ok(key) || !value || strlen(value) >= META_VALUE_MAX)
		return cfs_errf(err, -EINVAL, "%s: meta: bad key or value", p->file);
	int rc = cfs_policydb_prepare(p, "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) "
				      "DO UPDATE SET value = excluded.value", "prepare", &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	int s = sqlite3_step(st);
	if (s != SQLITE_DONE)
		rc = cfs_policydb_err(p, s, "meta", err);
	sqlite3_finalize(st);
	return rc;
}

/* The value of a meta row into buf: TEXT, no NUL inside, shorter than cap. */
static int meta_value(struct cfs_policydb *p, sqlite3_stmt *st, const char *key, char *buf,
		      size_t cap, struct cfs_err *err)
{
	if (sqlite3_column_type(st, 0) != SQLITE_TEXT)
		return cfs_errf(err, -EIO, "%s: meta '%s': value is not text", p->file, key);
	const unsigned char *s = sqlite3_column_text(st, 0);
	int n = sqlite3_column_bytes(st, 0);
	if (!s || n < 0)
		return cfs_errf(err, -EIO, "%s: meta '%s': value could not be read", p->file, key);
	if ((size_t)n >= cap)
		return cfs_errf(err, -ENAMETOOLONG, "%s: meta '%s': value too long", p->file, key);
	if (memchr(s, 0, (size_t)n))
		return cfs_errf(err, -EIO, "%s: meta '%s': value contains a NUL byte", p->file, key);
	memcpy(buf, s, (size_t)n);
	buf[n] = 0;
	return 0;
}

int cfs_policydb_meta_get(struct cfs_policydb *p, const char *key, char *buf, size_t buflen,
			  struct cfs_err *err)
{
	sqlite3_stmt *st;
	if (!buf || buflen == 0)
		return cfs_errf(err, -EINVAL, "%s: meta: no buffer", p->file);
	buf[0] = 0;
	if (!meta_key_ok(key))
		return cfs_errf(err, -EINVAL, "%s: meta: bad key", p->file);
	int rc = cfs_policydb_prepare(p, "SELECT value FROM meta WHERE key = ?1", "prepare", &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = cfs_policydb_step(p, st, "meta", err);
	if (rc == 0)
		rc = cfs_errf(err, -ENOENT, "%s: meta: no '%s'", p->file, key);
	else if (rc == 1)
		rc = meta_value(p, st, key, buf, buflen, err);
	if (rc < 0)
		buf[0] = 0;
	sqlite3_finalize(st);
	return rc;
}

/* ---- format and schema ------------------------------------------------------ */

/* Refuse any format but ours, naming a newer one as such. *has = whether
 * there is one; none is refused unless absent_ok. */
static int check_format(struct cfs_policydb *p, int absent_ok, int *has, struct cfs_err *err)
{
	char v[32];
	int rc = cfs_policydb_meta_get(p, "format", v, sizeof v, err);
	*has = rc != -ENOENT;
	if (rc == -ENOENT)
		return absent_ok ? 0 : cfs_errf(err, -EIO, "%s: not a coachfs policy database "
						"(no format version)", p->file);
	if (rc == -ENAMETOOLONG)
		v[0] = 0;
	else if (rc < 0)
		return rc;
	if (strcmp(v, "1") == 0)
		return 0;
	uint64_t n;
	if (cfs_parse_uint(v, 1000000, &n) == 0 && n > CFS_POLICYDB_FORMAT)
		return cfs_errf(err, -EIO, "%s: unsupported policy database format %s: made by a "
				"newer coachfs (this one reads format %d); use that version",
				p->file, v, CFS_POLICYDB_FORMAT);
	return cfs_errf(err, -EIO, "%s: unsupported policy database format (this is %d)", p->file,
			CFS_POLICYDB_FORMAT);
}

/* Which of COLUMNS the database has, in one read of the schema; *missing
 * counts those it lacks. */
static int present(struct cfs_policydb *p, int have[NCOLUMNS], int *missing, struct cfs_err *err)
{
	sqlite3_stmt *st;
	int rc = cfs_policydb_prepare(p, "SELECT m.name, c.name FROM sqlite_master AS m, "
				      "pragma_table_info(m.name) AS c WHERE m.type = 'table'",
				      "reading the schema", &st, err);
	memset(have, 0, NCOLUMNS * sizeof have[0]);
	while (rc == 0 && (rc = cfs_policydb_step(p, st, "reading the schema", err)) == 1) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		const char *c = (const char *)sqlite3_column_text(st, 1);
		for (size_t i = 0; t && c && i < NCOLUMNS; i++)
			have[i] |= strcmp(t, COLUMNS[i].table) == 0 && strcmp(c, COLUMNS[i].col) == 0;
		rc = 0;
	}
	sqlite3_finalize(st);
	*missing = 0;
	for (size_t i = 0; i < NCOLUMNS; i++)
		*missing += !have[i];
	return rc;
}

/* Inside the write transaction: the tables, then each added column still
 * missing (another process may have added it since we looked). */
static int add_missing(struct cfs_policydb *p, struct cfs_err *err)
{
	int have[NCOLUMNS], missing;
	int rc = cfs_policydb_exec(p, TABLES_SQL, "creating the schema", err);
	if (rc == 0)
		rc = present(p, have, &missing, err);
	for (size_t i = 0; rc == 0 && i < NCOLUMNS; i++) {
		if (have[i] || !COLUMNS[i].type)
			continue;
		char sql[160];
		snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", COLUMNS[i].table,
			 COLUMNS[i].col, COLUMNS[i].type);
		rc = cfs_policydb_exec(p, sql, "adding the columns of a newer format", err);
	}
	return rc;
}

/* Check the format, then create or migrate the schema, once, under the
 * write lock, and only when something is missing: a database of another
 * format is never written to. */
static int schema(struct cfs_policydb *p, int flags, struct cfs_err *err)
{
	const int create = (flags & (CFS_PDB_CREATE | CFS_PDB_SCHEMA)) != 0;
	int have[NCOLUMNS], missing, format = 0;
	int rc = present(p, have, &missing, err);
	if (rc < 0)
		return rc;
	if (!have[META_KEY] && !create)
		return cfs_errf(err, -EIO, "%s: not a coachfs policy database", p->file);
	if (have[META_KEY] && (rc = check_format(p, create, &format, err)) < 0)
		return rc;
	if (flags & CFS_PDB_RDONLY)
		return missing ? cfs_errf(err, -EROFS, "%s: made by an older coachfs: open it "
					  "read-write once to add what it lacks", p->file) : 0;
	if (!missing && format)
		return 0;
	if ((rc = cfs_policydb_begin(p, "begin", err)) < 0)
		return rc;
	rc = add_missing(p, err);
	if (rc == 0 && create)
		rc = cfs_policydb_exec(p, "INSERT OR IGNORE INTO meta(key, value) VALUES('format', '1')",
				       "creating the schema", err);
	if ((rc = cfs_policydb_end(p, rc, "commit", err)) < 0)
		return rc;
	return format ? 0 : check_format(p, 0, &format, err);
}

/* ---- open / close ------------------------------------------------------------ */

/* WAL (a read-only connection takes the file's mode as it is). */
static int journal(struct cfs_policydb *p, int rdonly, struct cfs_err *err)
{
	sqlite3_stmt *st;
	int rc = cfs_policydb_prepare(p, rdonly ? "PRAGMA journal_mode" : "PRAGMA journal_mode = WAL",
				      "setting WAL mode", &st, err);
	if (rc < 0)
		return rc;
	rc = cfs_policydb_step(p, st, "setting WAL mode", err);
	const unsigned char *m = rc == 1 ? sqlite3_column_text(st, 0) : NULL;
	if (rc == 0 || (rc == 1 && (!m || strcmp((const char *)m, "wal") != 0)))
		rc = cfs_errf(err, -EIO, "%s: cannot use WAL mode (journal_mode is %s)", p->file,
			      m ? (const char *)m : "unknown");
	sqlite3_finalize(st);
	if (rc < 0 || rdonly)
		return rc < 0 ? rc : 0;
	return cfs_policydb_exec(p, "PRAGMA synchronous = NORMAL", "synchronous", err);
}

static int configure(struct cfs_policydb *p, int flags, struct cfs_err *err)
{
	int rc, on = 1;
	sqlite3_busy_timeout(p->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(p->db, 1);
	if (sqlite3_db_config(p->db, SQLITE_DBCONFIG_DEFENSIVE, 1, &on) != SQLITE_OK)
		return cfs_policydb_err(p, SQLITE_ERROR, "defensive mode", err);
	/* A hostile schema (triggers, views) must not run functions for us. */
	if ((rc = cfs_policydb_exec(p, "PRAGMA trusted_schema = OFF", "trusted_schema", err)) < 0 ||
	    (rc = journal(p, flags & CFS_PDB_RDONLY, err)) < 0)
		return rc;
	return schema(p, flags, err);
}

/* The path names a regular file, not a link (created 0600 with
 * CFS_PDB_CREATE: SQLite would use 0644 & ~umask). lstat, not open: closing
 * a descriptor of a database file would drop the POSIX locks this process's
 * other connections to it hold (the daemon has two), and a peer closing
 * its own connection would then take itself for the last one and remove
 * the WAL index under them. */
static int check_file(const char *path, int flags, struct cfs_err *err)
{
	struct stat st;
	if (lstat(path, &st) != 0) {
		int e = errno;
		if (e != ENOENT || !(flags & CFS_PDB_CREATE))
			return cfs_errf(err, -e, "%s: %s", path, strerror(e));
		int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return cfs_errf(err, -errno, "%s: %s", path, strerror(errno));
		close(fd);
		return 0;
	}
	if (S_ISLNK(st.st_mode))
		return cfs_errf(err, -ELOOP, "%s: a symbolic link: refused", path);
	if (!S_ISREG(st.st_mode))
		return cfs_errf(err, -EINVAL, "%s: not a regular file", path);
	return 0;
}

int cfs_policydb_open(const char *path, int flags, struct cfs_policydb **out,
		      struct cfs_err *err)
{
	*out = NULL;
	if (!path || !*path)
		return cfs_errf(err, -EINVAL, "policy.db: no path given");
	if ((flags & CFS_PDB_RDONLY) && (flags & (CFS_PDB_CREATE | CFS_PDB_SCHEMA)))
		return cfs_errf(err, -EINVAL, "%s: cannot create read-only", path);
	int rc = check_file(path, flags, err);
	if (rc < 0)
		return rc;
	struct cfs_policydb *p = calloc(1, sizeof *p);
	if (!p || !(p->file = strdup(path))) {
		free(p);
		return cfs_errf(err, -ENOMEM, "%s: out of memory", path);
	}
	rc = sqlite3_open_v2(path, &p->db, SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW |
			     (flags & CFS_PDB_RDONLY ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE),
			     NULL);
	if (rc != SQLITE_OK)
		rc = p->db ? cfs_errf(err, cfs_sqlite_errno(rc), "%s: cannot open: %s", path,
				      sqlite3_errmsg(p->db))
			   : cfs_errf(err, -ENOMEM, "%s: cannot open: out of memory", path);
	else
		rc = configure(p, flags, err);
	if (rc < 0)
		cfs_policydb_close(p);
	else
		*out = p;
	return rc;
}

void cfs_policydb_close(struct cfs_policydb *p)
{
	if (!p)
		return;
	if (p->db)
		sqlite3_close(p->db);
	free(p->file);
	free(p);
}
