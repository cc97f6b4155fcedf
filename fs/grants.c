/* grants.c — policy.db: the schema, every query on grants, opens and meta,
 * and the daemon's reference-counted grant snapshot. It owns the SQLite
 * connection and its lock. It must never decide access (policy.c does), never
 * print, and never trust a row: every value read back is type-checked,
 * bounded and validated before it reaches a struct, and every grant and open
 * counter carries a MAC under the store's rowmac key, so a row written or
 * edited without the key grants nothing. It never blesses a row it did not
 * write itself, except in cfs_grants_seal_legacy (an administrator's act). */
#include "coachfs/grants.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000
#define UGID_MAX 0xfffffffeu /* (uid_t)-1 is "no id", never a subject */

struct cfs_grants {
	sqlite3 *db;
	pthread_mutex_t mu;            /* guards db, the statements and the cache */
	char *file;                    /* for messages */
	sqlite3_stmt *st_version;      /* PRAGMA data_version */
	sqlite3_stmt *st_opens_get;
	sqlite3_stmt *st_opens_bump;
	struct cfs_grant_snap *snap;   /* cached; the handle holds one reference */
	int64_t snap_version;          /* data_version it was built at */
	int snap_stale;                /* this handle wrote grants (data_version misses that) */
	unsigned char *key;            /* rowmac key, sodium_malloc; NULL = none */
	void (*report)(void *arg, int64_t id, const char *path, const char *why);
	void *report_arg;
};

#define GRANT_COLS "id, subject, kind, ugid, role, path, write, start, \"end\", max_opens, " \
		   "reason, granted_by, approved_by, created, revoked_at, revoked_by, revoke_reason, " \
		   "approved_at, opens_total, mac"
enum { C_ID, C_SUBJECT, C_KIND, C_UGID, C_ROLE, C_PATH, C_WRITE, C_START, C_END, C_MAX_OPENS,
       C_REASON, C_GRANTED_BY, C_APPROVED_BY, C_CREATED, C_REVOKED_AT, C_REVOKED_BY,
       C_REVOKE_REASON, C_APPROVED_AT, C_OPENS_TOTAL, C_MAC };

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS grants(id INTEGER PRIMARY KEY, subject TEXT, kind INTEGER, "
	"ugid INTEGER, role TEXT, path TEXT, write INTEGER, start INTEGER, \"end\" INTEGER, "
	"max_opens INTEGER, reason TEXT, granted_by TEXT, approved_by TEXT, created INTEGER, "
	"revoked_at INTEGER, revoked_by TEXT, revoke_reason TEXT, approved_at INTEGER, "
	"opens_total INTEGER, mac BLOB);"
	"CREATE TABLE IF NOT EXISTS opens(grant_id INTEGER, path TEXT, count INTEGER, mac BLOB, "
	"PRIMARY KEY(grant_id, path));"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);";

/* ---- errors ---------------------------------------------------------- */

/* An error from the connection: "FILE: what (sqlite message)". */
static int db_err(struct cfs_grants *g, int rc, const char *what, struct cfs_err *err)
{
	return cfs_errf(err, cfs_sqlite_errno(rc), "%s: %s: %s", g->file, what, sqlite3_errmsg(g->db));
}

/* ---- small helpers ----------------------------------------------------- */

static int exec(struct cfs_grants *g, const char *sql, const char *what, struct cfs_err *err)
{
	int rc = sqlite3_exec(g->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return db_err(g, rc, what, err);
	return 0;
}

static void rollback(struct cfs_grants *g)
{
	/* Fails harmlessly when no transaction is open (SQLite may have rolled
	 * back already after an I/O error). */
	(void)sqlite3_exec(g->db, "ROLLBACK", NULL, NULL, NULL);
}

static int prepare(struct cfs_grants *g, const char *sql, sqlite3_stmt **st, struct cfs_err *err)
{
	int rc = sqlite3_prepare_v2(g->db, sql, -1, st, NULL);
	if (rc != SQLITE_OK) {
		*st = NULL;
		return db_err(g, rc, "prepare", err);
	}
	return 0;
}

/* Length of s if it is NUL-terminated within cap bytes, else cap. */
static size_t bounded_len(const char *s, size_t cap)
{
	return strnlen(s, cap);
}

static int role_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Point g's string members into rec's own arrays. */
static void point_into(struct cfs_grant_rec *rec)
{
	rec->g.path = rec->path;
	rec->g.role = rec->g.kind == CFS_SUBJ_ROLE ? rec->role : NULL;
	rec->g.granted_by = rec->granted_by;
	rec->g.approved_by = rec->approved_by;
}

/* ---- row MACs ------------------------------------------------------------ */

const char *cfs_row_state_name(int state)
{
	switch (state) {
	case CFS_ROW_OK: return "valid";
	case CFS_ROW_UNSEALED: return "INVALID (no MAC)";
	case CFS_ROW_BADMAC: return "INVALID (MAC)";
	case CFS_ROW_NOKEY: return "unverified (no key)";
	}
	return "INVALID";
}

static void mac_bytes(crypto_generichash_state *h, const void *p, size_t n)
{
	unsigned char hd[5] = { 's', (unsigned char)(n & 0xff), (unsigned char)((n >> 8) & 0xff),
				(unsigned char)((n >> 16) & 0xff), (unsigned char)((n >> 24) & 0xff) };
	crypto_generichash_update(h, hd, sizeof hd);
	if (n)
		crypto_generichash_update(h, p, n);
}

void cfs_rowmac(const unsigned char key[32], const char *domain, const struct cfs_macf *f,
		size_t n, unsigned char out[CFS_ROWMAC_BYTES])
{
	crypto_generichash_state h;
	crypto_generichash_init(&h, key, 32, CFS_ROWMAC_BYTES);
	mac_bytes(&h, domain, strlen(domain));
	for (size_t i = 0; i < n; i++) {
		if (f[i].is_bytes) {
			const void *p = f[i].s ? f[i].s : "";
			mac_bytes(&h, p, f[i].len == SIZE_MAX ? strlen(p) : f[i].len);
		} else {
			unsigned char b[9];
			uint64_t v = (uint64_t)f[i].i;
			b[0] = 'i';
			for (int k = 0; k < 8; k++)
				b[1 + k] = (unsigned char)(v >> (8 * k));
			crypto_generichash_update(&h, b, sizeof b);
		}
	}
	crypto_generichash_final(&h, out, CFS_ROWMAC_BYTES);
	sodium_memzero(&h, sizeof h);
}

#define MF_S(x) { 1, 0, (x), SIZE_MAX }
#define MF_I(x) { 0, (int64_t)(x), NULL, 0 }

static void grant_mac(const unsigned char *key, const struct cfs_grant_rec *r,
		      unsigned char out[CFS_ROWMAC_BYTES])
{
	const int role = r->g.kind == CFS_SUBJ_ROLE;
	const struct cfs_macf f[] = {
		MF_I(r->g.id), MF_S(r->subject), MF_I(r->g.kind), MF_I(role ? 0 : r->g.ugid),
		MF_S(role ? r->role : ""), MF_S(r->path), MF_I(r->g.write), MF_I(r->g.start),
		MF_I(r->g.end), MF_I(r->g.max_opens), MF_S(r->reason), MF_S(r->granted_by),
		MF_S(r->approved_by), MF_I(r->approved_at), MF_I(r->created), MF_I(r->g.revoked_at),
		MF_S(r->revoked_by), MF_S(r->revoke_reason), MF_I(r->opens_total) };
	cfs_rowmac(key, "coachfs policy.db grant v1", f, sizeof f / sizeof f[0], out);
}

static void opens_mac(const unsigned char *key, int64_t id, const char *path, uint32_t count,
		      unsigned char out[CFS_ROWMAC_BYTES])
{
	const struct cfs_macf f[] = { MF_I(id), MF_S(path), MF_I(count) };
	cfs_rowmac(key, "coachfs policy.db opens v1", f, sizeof f / sizeof f[0], out);
}

/* Is the MAC in column col of st the expected one? want is computed only
 * when the handle has a key. */
static int mac_state(struct cfs_grants *g, sqlite3_stmt *st, int col,
		     const unsigned char want[CFS_ROWMAC_BYTES])
{
	int t = sqlite3_column_type(st, col);
	if (t == SQLITE_NULL)
		return CFS_ROW_UNSEALED;
	if (!g->key)
		return CFS_ROW_NOKEY;
	if (t != SQLITE_BLOB || sqlite3_column_bytes(st, col) != CFS_ROWMAC_BYTES)
		return CFS_ROW_BADMAC;
	const void *b = sqlite3_column_blob(st, col);
	return b && sodium_memcmp(b, want, CFS_ROWMAC_BYTES) == 0 ? CFS_ROW_OK : CFS_ROW_BADMAC;
}

int cfs_grants_set_key(struct cfs_grants *g, const unsigned char key[32], struct cfs_err *err)
{
	if (sodium_init() < 0) /* idempotent; secure memory needs it */
		return cfs_errf(err, -EIO, "%s: libsodium cannot start", g->file);
	unsigned char *k = sodium_malloc(32);
	if (!k)
		return cfs_errf(err, -ENOMEM, "%s: out of secure memory", g->file);
	memcpy(k, key, 32);
	pthread_mutex_lock(&g->mu);
	if (g->key)
		sodium_free(g->key);
	g->key = k;
	g->snap_stale = 1;
	pthread_mutex_unlock(&g->mu);
	return 0;
}

void cfs_grants_set_report(struct cfs_grants *g,
			   void (*report)(void *arg, int64_t id, const char *path, const char *why),
			   void *arg)
{
	pthread_mutex_lock(&g->mu);
	g->report = report;
	g->report_arg = arg;
	pthread_mutex_unlock(&g->mu);
}

static int need_key(struct cfs_grants *g, struct cfs_err *err)
{
	if (!g->key)
		return cfs_errf(err, -EPERM, "%s: changing grants needs the store key (unlock the store)",
				g->file);
	return 0;
}

/* The rules every stored grant satisfies, checked before writing and after
 * reading. Returns NULL when rec is valid, else what is wrong. */
static const char *rec_invalid(const struct cfs_grant_rec *rec)
{
	static const struct { size_t off, cap; const char *name; } strs[] = {
		{ offsetof(struct cfs_grant_rec, subject), CFS_TEXT_MAX, "subject" },
		{ offsetof(struct cfs_grant_rec, path), 4096, "path" },
		{ offsetof(struct cfs_grant_rec, role), CFS_TEXT_MAX, "role" },
		{ offsetof(struct cfs_grant_rec, granted_by), CFS_TEXT_MAX, "granted_by" },
		{ offsetof(struct cfs_grant_rec, approved_by), CFS_TEXT_MAX, "approved_by" },
		{ offsetof(struct cfs_grant_rec, reason), CFS_TEXT_MAX, "reason" },
		{ offsetof(struct cfs_grant_rec, revoked_by), CFS_TEXT_MAX, "revoked_by" },
		{ offsetof(struct cfs_grant_rec, revoke_reason), CFS_TEXT_MAX, "revoke_reason" },
	};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		if (bounded_len((const char *)rec + strs[i].off, strs[i].cap) >= strs[i].cap)
			return strs[i].name; /* "X too long" by the caller's wording */
	return NULL;
}

static const char *rec_bad(const struct cfs_grant_rec *rec, int *too_long)
{
	const char *s = rec_invalid(rec);
	*too_long = s != NULL;
	if (s)
		return s;
	const struct cfs_grant *g = &rec->g;
	if (rec->subject[0] == 0)
		return "subject is empty";
	switch (g->kind) {
	case CFS_SUBJ_USER:
		if (rec->subject[0] == '@' || strncmp(rec->subject, "role:", 5) == 0)
			return "user subject looks like a group or role";
		if (g->ugid > UGID_MAX)
			return "uid out of range";
		break;
	case CFS_SUBJ_GROUP:
		if (rec->subject[0] != '@' || rec->subject[1] == 0)
			return "group subject does not start with '@'";
		if (g->ugid > UGID_MAX)
			return "gid out of range";
		break;
	case CFS_SUBJ_ROLE:
		if (!role_name_ok(rec->role))
			return "role is not a role name";
		if (strncmp(rec->subject, "role:", 5) != 0 || strcmp(rec->subject + 5, rec->role) != 0)
			return "role subject does not match role";
		break;
	default:
		return "kind out of range";
	}
	if (cfs_path_valid(rec->path) < 0)
		return "path is not a canonical mount-relative path";
	if (g->write != 0 && g->write != 1)
		return "write is not 0 or 1";
	if (g->start < 0)
		return "start is negative";
	if (g->end <= g->start)
		return "end is not after start";
	if (rec->granted_by[0] == 0)
		return "granted_by is empty";
	if (rec->created < 0)
		return "created is negative";
	if (g->revoked_at < 0)
		return "revoked_at is negative";
	return NULL;
}

/* ---- reading a row ------------------------------------------------------- */

/* Integer column: SQL INTEGER in [min, max]; NULL gives def when !required. */
static const char *col_int(sqlite3_stmt *st, int col, int required, int64_t min, int64_t max,
			   int64_t def, int64_t *out)
{
	int t = sqlite3_column_type(st, col);
	if (t == SQLITE_NULL) {
		if (required)
			return "is NULL";
		*out = def;
		return NULL;
	}
	if (t != SQLITE_INTEGER)
		return "is not an integer";
	int64_t v = sqlite3_column_int64(st, col);
	if (v < min || v > max)
		return "is out of range";
	*out = v;
	return NULL;
}

/* Text column into dst[cap]: TEXT, no NUL inside, shorter than cap. */
static const char *col_text(sqlite3_stmt *st, int col, int required, char *dst, size_t cap)
{
	int t = sqlite3_column_type(st, col);
	dst[0] = 0;
	if (t == SQLITE_NULL) {
		if (required)
			return "is NULL";
		return NULL;
	}
	if (t != SQLITE_TEXT)
		return "is not text";
	const unsigned char *s = sqlite3_column_text(st, col);
	int n = sqlite3_column_bytes(st, col);
	if (!s || n < 0)
		return "could not be read";
	if ((size_t)n >= cap)
		return "too long";
	if (memchr(s, 0, (size_t)n))
		return "contains a NUL byte";
	memcpy(dst, s, (size_t)n);
	dst[n] = 0;
	return NULL;
}

static int row_to_rec(struct cfs_grants *g, sqlite3_stmt *st, struct cfs_grant_rec *rec,
		      struct cfs_err *err)
{
	static const char *const names[] = {
		"id", "subject", "kind", "ugid", "role", "path", "write", "start", "end",
		"max_opens", "reason", "granted_by", "approved_by", "created", "revoked_at",
		"revoked_by", "revoke_reason", "approved_at", "opens_total", "mac" };
	int64_t id = sqlite3_column_int64(st, C_ID); /* rowid: always an integer */
	int64_t v;
	const char *bad = NULL;
	int col = -1;
	memset(rec, 0, sizeof *rec);
	rec->g.id = id;

#define INT_COL(c, req, lo, hi, def, dst) \
	if (!bad && (bad = col_int(st, c, req, lo, hi, def, &v)) == NULL) dst = v; \
	else if (bad && col < 0) col = c;
#define TEXT_COL(c, req, dst) \
	if (!bad && (bad = col_text(st, c, req, dst, sizeof dst)) != NULL) col = c;

	if (id <= 0) {
		bad = "is not positive";
		col = C_ID;
	}
	TEXT_COL(C_SUBJECT, 1, rec->subject)
	INT_COL(C_KIND, 1, CFS_SUBJ_USER, CFS_SUBJ_ROLE, 0, rec->g.kind)
	INT_COL(C_UGID, 0, 0, UGID_MAX, 0, rec->g.ugid)
	TEXT_COL(C_ROLE, 0, rec->role)
	TEXT_COL(C_PATH, 1, rec->path)
	INT_COL(C_WRITE, 1, 0, 1, 0, rec->g.write)
	INT_COL(C_START, 1, 0, INT64_MAX / 2, 0, rec->g.start)
	INT_COL(C_END, 1, 1, INT64_MAX / 2, 0, rec->g.end)
	INT_COL(C_MAX_OPENS, 1, 0, UINT32_MAX, 0, rec->g.max_opens)
	TEXT_COL(C_REASON, 0, rec->reason)
	TEXT_COL(C_GRANTED_BY, 1, rec->granted_by)
	TEXT_COL(C_APPROVED_BY, 0, rec->approved_by)
	INT_COL(C_CREATED, 1, 0, INT64_MAX / 2, 0, rec->created)
	INT_COL(C_REVOKED_AT, 0, 0, INT64_MAX / 2, 0, rec->g.revoked_at)
	TEXT_COL(C_REVOKED_BY, 0, rec->revoked_by)
	TEXT_COL(C_REVOKE_REASON, 0, rec->revoke_reason)
	INT_COL(C_APPROVED_AT, 0, 0, INT64_MAX / 2, 0, rec->approved_at)
	INT_COL(C_OPENS_TOTAL, 0, 0, UINT32_MAX, 0, rec->opens_total)
#undef INT_COL
#undef TEXT_COL
	if (bad)
		return cfs_errf(err, -EIO, "%s: grant %lld: %s %s", g->file, (long long)id,
				names[col], bad);
	if (rec->g.kind == CFS_SUBJ_USER || rec->g.kind == CFS_SUBJ_GROUP) {
		if (sqlite3_column_type(st, C_UGID) == SQLITE_NULL)
			return cfs_errf(err, -EIO, "%s: grant %lld: ugid is NULL", g->file,
					(long long)id);
		rec->role[0] = 0; /* a role name on a user/group grant means nothing */
	}
	int too_long;
	bad = rec_bad(rec, &too_long);
	if (bad)
		return cfs_errf(err, -EIO, "%s: grant %lld: %s%s", g->file, (long long)id, bad,
				too_long ? " too long" : "");
	rec->g.approved_at = rec->approved_at;
	point_into(rec);
	unsigned char want[CFS_ROWMAC_BYTES];
	if (g->key)
		grant_mac(g->key, rec, want);
	rec->row_state = mac_state(g, st, C_MAC, want);
	return 0;
}

/* ---- open / close ------------------------------------------------------- */

static int check_format(struct cfs_grants *g, struct cfs_err *err)
{
	char v[32];
	int rc = cfs_grants_meta_get(g, "format", v, sizeof v, err);
	if (rc == -ENOENT)
		return cfs_errf(err, -EIO, "%s: not a coachfs policy database (no format version)",
				g->file);
	if (rc == -ENAMETOOLONG || (rc == 0 && strcmp(v, "1") != 0))
		return cfs_errf(err, -EIO, "%s: unsupported policy database format (this is %d)",
				g->file, CFS_GRANTS_FORMAT);
	return rc;
}

static int has_meta_table(struct cfs_grants *g, int *yes, struct cfs_err *err)
{
	sqlite3_stmt *st;
	int rc = prepare(g, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
			 &st, err);
	if (rc < 0)
		return rc;
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		*yes = 1;
	else if (s == SQLITE_DONE)
		*yes = 0;
	else
		rc = db_err(g, s, "reading the schema", err);
	sqlite3_finalize(st);
	return rc;
}

/* A policy.db from before row MACs lacks their columns: add them (empty, so
 * its rows read back as CFS_ROW_UNSEALED until an administrator seals them). */
static int has_column(struct cfs_grants *g, const char *table, const char *col, int *yes,
		      struct cfs_err *err)
{
	char sql[160];
	sqlite3_stmt *st;
	int rc;
	snprintf(sql, sizeof sql, "SELECT 1 FROM pragma_table_info('%s') WHERE name = '%s'", table,
		 col);
	if ((rc = prepare(g, sql, &st, err)) < 0)
		return rc;
	int s = sqlite3_step(st);
	sqlite3_finalize(st);
	if (s != SQLITE_ROW && s != SQLITE_DONE)
		return db_err(g, s, "reading the schema", err);
	*yes = s == SQLITE_ROW;
	return 0;
}

static int add_mac_columns(struct cfs_grants *g, struct cfs_err *err)
{
	static const char *const cols[][3] = {
		{ "grants", "approved_at", "INTEGER" }, { "grants", "opens_total", "INTEGER" },
		{ "grants", "mac", "BLOB" }, { "opens", "mac", "BLOB" } };
	const size_t n = sizeof cols / sizeof cols[0];
	int rc, yes, missing = 0;
	for (size_t i = 0; i < n; i++) {
		if ((rc = has_column(g, cols[i][0], cols[i][1], &yes, err)) < 0)
			return rc;
		missing |= !yes;
	}
	if (!missing)
		return 0;
	/* again, under the write lock: another process may have added them */
	if ((rc = exec(g, "BEGIN IMMEDIATE", "begin", err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		char sql[160];
		if ((rc = has_column(g, cols[i][0], cols[i][1], &yes, err)) < 0)
			goto fail;
		if (yes)
			continue;
		snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", cols[i][0], cols[i][1],
			 cols[i][2]);
		if ((rc = exec(g, sql, "adding the row MAC columns", err)) < 0)
			goto fail;
	}
	if ((rc = exec(g, "COMMIT", "commit", err)) < 0)
		goto fail;
	return 0;
fail:
	rollback(g);
	return rc;
}

static int configure(struct cfs_grants *g, int create, struct cfs_err *err)
{
	int rc, on = 1;
	sqlite3_busy_timeout(g->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(g->db, 1);
	if (sqlite3_db_config(g->db, SQLITE_DBCONFIG_DEFENSIVE, 1, &on) != SQLITE_OK)
		return db_err(g, SQLITE_ERROR, "defensive mode", err);
	/* A hostile schema (triggers, views) must not run functions for us. */
	if ((rc = exec(g, "PRAGMA trusted_schema = OFF", "trusted_schema", err)) < 0)
		return rc;

	sqlite3_stmt *st;
	if ((rc = prepare(g, "PRAGMA journal_mode = WAL", &st, err)) < 0)
		return rc;
	int s = sqlite3_step(st);
	if (s != SQLITE_ROW) {
		rc = db_err(g, s, "setting WAL mode", err);
	} else {
		const unsigned char *m = sqlite3_column_text(st, 0);
		if (!m || strcmp((const char *)m, "wal") != 0)
			rc = cfs_errf(err, -EIO, "%s: cannot use WAL mode (journal_mode is %s)",
				      g->file, m ? (const char *)m : "unknown");
	}
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;
	if ((rc = exec(g, "PRAGMA synchronous = NORMAL", "synchronous", err)) < 0)
		return rc;

	if (create) {
		if ((rc = exec(g, "BEGIN IMMEDIATE", "begin", err)) < 0)
			return rc;
		if ((rc = exec(g, schema_sql, "creating the schema", err)) < 0 ||
		    (rc = exec(g, "INSERT OR IGNORE INTO meta(key, value) VALUES('format', '1')",
			       "creating the schema", err)) < 0 ||
		    (rc = exec(g, "COMMIT", "commit", err)) < 0) {
			rollback(g);
			return rc;
		}
	} else {
		int yes = 0;
		if ((rc = has_meta_table(g, &yes, err)) < 0)
			return rc;
		if (!yes)
			return cfs_errf(err, -EIO, "%s: not a coachfs policy database", g->file);
	}
	if ((rc = check_format(g, err)) < 0)
		return rc;
	if ((rc = add_mac_columns(g, err)) < 0)
		return rc;

	if ((rc = prepare(g, "PRAGMA data_version", &g->st_version, err)) < 0 ||
	    (rc = prepare(g, "SELECT count, mac FROM opens WHERE grant_id = ?1 AND path = ?2",
			  &g->st_opens_get, err)) < 0 ||
	    (rc = prepare(g, "INSERT INTO opens(grant_id, path, count, mac) VALUES(?1, ?2, ?3, ?4) "
			  "ON CONFLICT(grant_id, path) DO UPDATE SET count = excluded.count, "
			  "mac = excluded.mac", &g->st_opens_bump, err)) < 0)
		return rc;
	return 0;
}

int cfs_grants_open(const char *path, int create, struct cfs_grants **out, struct cfs_err *err)
{
	struct cfs_grants *g;
	int rc;
	*out = NULL;
	if (!path || !*path)
		return cfs_errf(err, -EINVAL, "policy.db: no path given");
	if (create) {
		/* Create it 0600 ourselves: SQLite would use 0644 & ~umask. */
		int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return cfs_errf(err, -errno, "%s: %s", path, strerror(errno));
		close(fd);
	} else if (access(path, F_OK) != 0) {
		return cfs_errf(err, -errno, "%s: %s", path, strerror(errno));
	}
	g = calloc(1, sizeof *g);
	if (!g)
		return cfs_errf(err, -ENOMEM, "%s: out of memory", path);
	g->file = strdup(path);
	if (!g->file) {
		free(g);
		return cfs_errf(err, -ENOMEM, "%s: out of memory", path);
	}
	if (pthread_mutex_init(&g->mu, NULL) != 0) {
		free(g->file);
		free(g);
		return cfs_errf(err, -ENOMEM, "%s: cannot create a mutex", path);
	}
	rc = sqlite3_open_v2(path, &g->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
			     NULL);
	if (rc != SQLITE_OK) {
		if (g->db)
			rc = cfs_errf(err, cfs_sqlite_errno(rc), "%s: cannot open: %s", path,
				      sqlite3_errmsg(g->db));
		else
			rc = cfs_errf(err, -ENOMEM, "%s: cannot open: out of memory", path);
		cfs_grants_close(g);
		return rc;
	}
	rc = configure(g, create, err);
	if (rc < 0) {
		cfs_grants_close(g);
		return rc;
	}
	*out = g;
	return 0;
}

void cfs_grants_close(struct cfs_grants *g)
{
	if (!g)
		return;
	sqlite3_finalize(g->st_version);
	sqlite3_finalize(g->st_opens_get);
	sqlite3_finalize(g->st_opens_bump);
	if (g->db)
		sqlite3_close(g->db);
	if (g->snap)
		cfs_grants_snap_put(g->snap);
	if (g->key)
		sodium_free(g->key);
	pthread_mutex_destroy(&g->mu);
	free(g->file);
	free(g);
}

/* ---- meta ---------------------------------------------------------------- */

static int meta_key_ok(const char *key)
{
	return key && *key && strlen(key) < CFS_TEXT_MAX;
}

int cfs_grants_meta_set(struct cfs_grants *g, const char *key, const char *value,
			struct cfs_err *err)
{
	sqlite3_stmt *st;
	int rc;
	if (!meta_key_ok(key) || !value || strlen(value) >= 4096)
		return cfs_errf(err, -EINVAL, "%s: meta: bad key or value", g->file);
	pthread_mutex_lock(&g->mu);
	rc = prepare(g, "INSERT INTO meta(key, value) VALUES(?1, ?2) "
		     "ON CONFLICT(key) DO UPDATE SET value = excluded.value", &st, err);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
		int s = sqlite3_step(st);
		if (s != SQLITE_DONE)
			rc = db_err(g, s, "meta", err);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&g->mu);
	return rc;
}

/* Unlocked: also used by open before the handle is shared. */
static int meta_get(struct cfs_grants *g, const char *key, char *buf, size_t buflen,
		    struct cfs_err *err)
{
	sqlite3_stmt *st;
	int rc = prepare(g, "SELECT value FROM meta WHERE key = ?1", &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int s = sqlite3_step(st);
	if (s == SQLITE_DONE) {
		rc = cfs_errf(err, -ENOENT, "%s: meta: no '%s'", g->file, key);
	} else if (s != SQLITE_ROW) {
		rc = db_err(g, s, "meta", err);
	} else {
		const char *what = col_text(st, 0, 1, buf, buflen);
		if (what && strcmp(what, "too long") == 0)
			rc = cfs_errf(err, -ENAMETOOLONG, "%s: meta '%s': value too long",
				      g->file, key);
		else if (what)
			rc = cfs_errf(err, -EIO, "%s: meta '%s': value %s", g->file, key, what);
	}
	if (rc < 0)
		buf[0] = 0;
	sqlite3_finalize(st);
	return rc;
}

int cfs_grants_meta_get(struct cfs_grants *g, const char *key, char *buf, size_t buflen,
			struct cfs_err *err)
{
	int rc;
	if (!buf || buflen == 0)
		return cfs_errf(err, -EINVAL, "%s: meta: no buffer", g->file);
	buf[0] = 0;
	if (!meta_key_ok(key))
		return cfs_errf(err, -EINVAL, "%s: meta: bad key", g->file);
	pthread_mutex_lock(&g->mu);
	rc = meta_get(g, key, buf, buflen, err);
	pthread_mutex_unlock(&g->mu);
	return rc;
}

/* ---- grants: write ------------------------------------------------------- */

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
	if (s && *s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Write rec's MAC (and approval, revocation and open total, the columns that
 * change after the insert) to its row. Caller holds the lock, in a write
 * transaction, with a key. */
static int store_mac(struct cfs_grants *g, const struct cfs_grant_rec *rec, struct cfs_err *err)
{
	unsigned char mac[CFS_ROWMAC_BYTES];
	sqlite3_stmt *st;
	int rc;
	grant_mac(g->key, rec, mac);
	if ((rc = prepare(g, "UPDATE grants SET approved_by = ?2, approved_at = ?3, revoked_at = ?4, "
			  "revoked_by = ?5, revoke_reason = ?6, opens_total = ?7, mac = ?8 WHERE id = ?1",
			  &st, err)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, rec->g.id);
	bind_text_or_null(st, 2, rec->approved_by);
	if (rec->approved_at)
		sqlite3_bind_int64(st, 3, rec->approved_at);
	else
		sqlite3_bind_null(st, 3);
	if (rec->g.revoked_at)
		sqlite3_bind_int64(st, 4, rec->g.revoked_at);
	else
		sqlite3_bind_null(st, 4);
	bind_text_or_null(st, 5, rec->revoked_by);
	bind_text_or_null(st, 6, rec->revoke_reason);
	sqlite3_bind_int64(st, 7, rec->opens_total);
	sqlite3_bind_blob(st, 8, mac, sizeof mac, SQLITE_TRANSIENT);
	int s = sqlite3_step(st);
	sqlite3_finalize(st);
	if (s != SQLITE_DONE || sqlite3_changes(g->db) != 1)
		return s != SQLITE_DONE ? db_err(g, s, "sealing a grant", err)
					: cfs_errf(err, -EIO, "%s: grant %lld vanished", g->file,
						   (long long)rec->g.id);
	return 0;
}

/* Read grant id inside the caller's transaction (lock held). */
static int read_rec(struct cfs_grants *g, int64_t id, struct cfs_grant_rec *rec,
		    struct cfs_err *err)
{
	sqlite3_stmt *st;
	int rc = prepare(g, "SELECT " GRANT_COLS " FROM grants WHERE id = ?1", &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		rc = row_to_rec(g, st, rec, err);
	else if (s == SQLITE_DONE)
		rc = cfs_errf(err, -ENOENT, "%s: no grant %lld", g->file, (long long)id);
	else
		rc = db_err(g, s, "reading a grant", err);
	sqlite3_finalize(st);
	return rc;
}

int cfs_grants_add_ex(struct cfs_grants *g, struct cfs_grant_rec *rec,
		      int (*before_commit)(const struct cfs_grant_rec *, void *, struct cfs_err *),
		      void *arg, struct cfs_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, too_long;
	if (rec->created == 0)
		rec->created = cfs_now_s();
	if (rec->g.kind != CFS_SUBJ_ROLE && bounded_len(rec->role, sizeof rec->role) < sizeof rec->role)
		rec->role[0] = 0;
	rec->g.revoked_at = 0;
	rec->approved_at = rec->g.approved_at = 0; /* only cfs_grants_approve approves */
	rec->opens_total = 0;
	if (bounded_len(rec->revoked_by, CFS_TEXT_MAX) < CFS_TEXT_MAX)
		rec->revoked_by[0] = 0;
	if (bounded_len(rec->revoke_reason, CFS_TEXT_MAX) < CFS_TEXT_MAX)
		rec->revoke_reason[0] = 0;
	const char *bad = rec_bad(rec, &too_long);
	if (bad)
		return cfs_errf(err, -EINVAL, "%s: new grant: %s%s", g->file, bad,
				too_long ? " too long" : "");

	pthread_mutex_lock(&g->mu);
	if ((rc = need_key(g, err)) < 0 || (rc = exec(g, "BEGIN IMMEDIATE", "begin", err)) < 0)
		goto out;
	if ((rc = prepare(g, "INSERT INTO grants(subject, kind, ugid, role, path, write, start, "
			  "\"end\", max_opens, reason, granted_by, approved_by, created) "
			  "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
			  &st, err)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, rec->subject, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, rec->g.kind);
	if (rec->g.kind == CFS_SUBJ_ROLE)
		sqlite3_bind_null(st, 3);
	else
		sqlite3_bind_int64(st, 3, rec->g.ugid);
	bind_text_or_null(st, 4, rec->g.kind == CFS_SUBJ_ROLE ? rec->role : NULL);
	sqlite3_bind_text(st, 5, rec->path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, rec->g.write);
	sqlite3_bind_int64(st, 7, rec->g.start);
	sqlite3_bind_int64(st, 8, rec->g.end);
	sqlite3_bind_int64(st, 9, rec->g.max_opens);
	bind_text_or_null(st, 10, rec->reason);
	sqlite3_bind_text(st, 11, rec->granted_by, -1, SQLITE_STATIC);
	bind_text_or_null(st, 12, rec->approved_by);
	sqlite3_bind_int64(st, 13, rec->created);
	int s = sqlite3_step(st);
	if (s != SQLITE_DONE) {
		rc = db_err(g, s, "adding a grant", err);
		goto fail;
	}
	rec->g.id = sqlite3_last_insert_rowid(g->db);
	point_into(rec);
	if ((rc = store_mac(g, rec, err)) < 0)
		goto fail;
	rec->row_state = CFS_ROW_OK;
	if (before_commit && (rc = before_commit(rec, arg, err)) != 0) {
		if (rc > 0)
			rc = -EIO;
		goto fail;
	}
	if ((rc = exec(g, "COMMIT", "commit", err)) < 0)
		goto fail;
	/* Our own writes do not move data_version: rebuild next time. */
	g->snap_stale = 1;
	goto out;
fail:
	rollback(g);
	rec->g.id = 0;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&g->mu);
	return rc;
}

int cfs_grants_add(struct cfs_grants *g, struct cfs_grant_rec *rec, struct cfs_err *err)
{
	return cfs_grants_add_ex(g, rec, NULL, NULL, err);
}

int cfs_grants_revoke(struct cfs_grants *g, int64_t id, const char *by, const char *reason,
		      int64_t now, struct cfs_err *err)
{
	sqlite3_stmt *st = NULL;
	struct cfs_grant_rec *rec = NULL;
	int rc, s, authentic = 0;
	if (id <= 0)
		return cfs_errf(err, -ENOENT, "%s: no grant %lld", g->file, (long long)id);
	if (now <= 0)
		return cfs_errf(err, -EINVAL, "%s: revoke: bad time", g->file);
	if (!by || !*by || strlen(by) >= CFS_TEXT_MAX)
		return cfs_errf(err, -EINVAL, "%s: revoke: revoked_by missing or too long", g->file);
	if (reason && strlen(reason) >= CFS_TEXT_MAX)
		return cfs_errf(err, -EINVAL, "%s: revoke: reason too long", g->file);
	if (!(rec = malloc(sizeof *rec)))
		return cfs_errf(err, -ENOMEM, "%s: out of memory", g->file);

	pthread_mutex_lock(&g->mu);
	if ((rc = exec(g, "BEGIN IMMEDIATE", "begin", err)) < 0)
		goto out;
	if ((rc = prepare(g, "SELECT revoked_at FROM grants WHERE id = ?1", &st, err)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	s = sqlite3_step(st);
	if (s == SQLITE_DONE) {
		rc = cfs_errf(err, -ENOENT, "%s: no grant %lld", g->file, (long long)id);
		goto fail;
	}
	if (s != SQLITE_ROW) {
		rc = db_err(g, s, "reading a grant", err);
		goto fail;
	}
	/* Only a well-formed revocation counts: a corrupt revoked_at is
	 * overwritten, so an admin can always revoke. */
	if (sqlite3_column_type(st, 0) == SQLITE_INTEGER && sqlite3_column_int64(st, 0) > 0) {
		rc = cfs_errf(err, -EALREADY, "%s: grant %lld is already revoked", g->file,
			      (long long)id);
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	/* An authentic row stays authentic, revoked; any other row keeps its
	 * (missing or wrong) MAC: revoking never blesses a forgery. */
	if (g->key) {
		struct cfs_err e2 = { "" };
		authentic = read_rec(g, id, rec, &e2) == 0 && rec->row_state == CFS_ROW_OK;
	}
	if ((rc = prepare(g, "UPDATE grants SET revoked_at = ?2, revoked_by = ?3, "
			  "revoke_reason = ?4 WHERE id = ?1", &st, err)) < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, by, -1, SQLITE_STATIC);
	bind_text_or_null(st, 4, reason);
	s = sqlite3_step(st);
	if (s != SQLITE_DONE) {
		rc = db_err(g, s, "revoking a grant", err);
		goto fail;
	}
	if (authentic) {
		rec->g.revoked_at = now;
		cfs_strlcpy(rec->revoked_by, by, sizeof rec->revoked_by);
		cfs_strlcpy(rec->revoke_reason, reason ? reason : "", sizeof rec->revoke_reason);
		if ((rc = store_mac(g, rec, err)) < 0)
			goto fail;
	}
	if ((rc = exec(g, "COMMIT", "commit", err)) < 0)
		goto fail;
	g->snap_stale = 1;
	goto out;
fail:
	rollback(g);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&g->mu);
	free(rec);
	return rc;
}

int cfs_grants_approve(struct cfs_grants *g, int64_t id, const char *approver, int64_t now,
		       int (*check)(const struct cfs_grant_rec *rec, void *arg, struct cfs_err *err),
		       void *arg, struct cfs_err *err)
{
	struct cfs_grant_rec *rec;
	int rc;
	if (!approver || !*approver || strlen(approver) >= CFS_TEXT_MAX || now <= 0)
		return cfs_errf(err, -EINVAL, "%s: approve: bad approver or time", g->file);
	if (!(rec = malloc(sizeof *rec)))
		return cfs_errf(err, -ENOMEM, "%s: out of memory", g->file);
	pthread_mutex_lock(&g->mu);
	if ((rc = need_key(g, err)) < 0 || (rc = exec(g, "BEGIN IMMEDIATE", "begin", err)) < 0)
		goto out;
	if ((rc = read_rec(g, id, rec, err)) < 0)
		goto fail;
	if (rec->row_state != CFS_ROW_OK) {
		rc = cfs_errf(err, -EBADMSG, "grant %lld is %s: it grants nothing and cannot be "
			      "approved", (long long)id, cfs_row_state_name(rec->row_state));
		goto fail;
	}
	if (rec->approved_at) {
		rc = cfs_errf(err, -EALREADY, "grant %lld is already approved by %s", (long long)id,
			      rec->approved_by);
		goto fail;
	}
	if (rec->g.revoked_at) {
		rc = cfs_errf(err, -EACCES, "grant %lld is revoked", (long long)id);
		goto fail;
	}
	if (rec->approved_by[0] && strcmp(rec->approved_by, approver) != 0) {
		rc = cfs_errf(err, -EPERM, "grant %lld names %s as its approver, not %s",
			      (long long)id, rec->approved_by, approver);
		goto fail;
	}
	cfs_strlcpy(rec->approved_by, approver, sizeof rec->approved_by);
	rec->approved_at = rec->g.approved_at = now;
	point_into(rec);
	if ((rc = store_mac(g, rec, err)) < 0)
		goto fail;
	if (check && (rc = check(rec, arg, err)) != 0) {
		if (rc > 0)
			rc = -EIO;
		goto fail;
	}
	if ((rc = exec(g, "COMMIT", "commit", err)) < 0)
		goto fail;
	g->snap_stale = 1;
	goto out;
fail:
	rollback(g);
out:
	pthread_mutex_unlock(&g->mu);
	free(rec);
	return rc;
}

/* ---- grants: read -------------------------------------------------------- */

int cfs_grants_get(struct cfs_grants *g, int64_t id, struct cfs_grant_rec *rec,
		   struct cfs_err *err)
{
	sqlite3_stmt *st;
	int rc;
	memset(rec, 0, sizeof *rec);
	pthread_mutex_lock(&g->mu);
	rc = prepare(g, "SELECT " GRANT_COLS " FROM grants WHERE id = ?1", &st, err);
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, id);
		int s = sqlite3_step(st);
		if (s == SQLITE_ROW)
			rc = row_to_rec(g, st, rec, err);
		else if (s == SQLITE_DONE)
			rc = cfs_errf(err, -ENOENT, "%s: no grant %lld", g->file, (long long)id);
		else
			rc = db_err(g, s, "reading a grant", err);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&g->mu);
	if (rc < 0)
		memset(rec, 0, sizeof *rec);
	return rc;
}

int cfs_grants_list(struct cfs_grants *g, const struct cfs_grants_filter *f,
		    int (*cb)(const struct cfs_grant_rec *rec, void *arg), void *arg,
		    struct cfs_err *err)
{
	sqlite3_stmt *st;
	struct cfs_grant_rec *rec;
	int rc;
	rec = malloc(sizeof *rec);
	if (!rec)
		return cfs_errf(err, -ENOMEM, "%s: out of memory", g->file);
	pthread_mutex_lock(&g->mu);
	rc = prepare(g, "SELECT " GRANT_COLS " FROM grants ORDER BY id DESC", &st, err);
	if (rc == 0) {
		for (;;) {
			int s = sqlite3_step(st);
			if (s == SQLITE_DONE)
				break;
			if (s != SQLITE_ROW) {
				rc = db_err(g, s, "listing grants", err);
				break;
			}
			if ((rc = row_to_rec(g, st, rec, err)) < 0)
				break;
			if (f) {
				if (f->active_only && (rec->g.revoked_at != 0 || rec->g.end <= f->now ||
						       rec->row_state != CFS_ROW_OK))
					continue;
				if (f->subject && strcmp(f->subject, rec->subject) != 0)
					continue;
				if (f->path && !cfs_path_covers(rec->path, f->path))
					continue;
			}
			if (cb(rec, arg) != 0)
				break;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&g->mu);
	free(rec);
	return rc;
}

/* ---- snapshot ------------------------------------------------------------ */

void cfs_grants_snap_put(struct cfs_grant_snap *snap)
{
	if (!snap)
		return;
	if (atomic_fetch_sub_explicit(&snap->refs, 1, memory_order_acq_rel) == 1) {
		free(snap->recs);
		free(snap);
	}
}

static int build_snapshot(struct cfs_grants *g, struct cfs_grant_snap **out, struct cfs_err *err)
{
	sqlite3_stmt *st;
	struct cfs_grant_snap *snap;
	size_t cap = 0;
	int rc;
	snap = calloc(1, sizeof *snap);
	if (!snap)
		return cfs_errf(err, -ENOMEM, "%s: out of memory", g->file);
	snap->built = cfs_now_s();
	/* Skip only rows that are well-formed and revoked or ended; anything
	 * else is read and validated, so a corrupt row is reported, not hidden. */
	rc = prepare(g, "SELECT " GRANT_COLS " FROM grants WHERE "
		     "NOT (typeof(revoked_at) = 'integer' AND revoked_at > 0) AND "
		     "NOT (typeof(\"end\") = 'integer' AND \"end\" <= ?1) ORDER BY id", &st, err);
	if (rc < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, snap->built);
	for (;;) {
		int s = sqlite3_step(st);
		if (s == SQLITE_DONE)
			break;
		if (s != SQLITE_ROW) {
			rc = db_err(g, s, "reading grants", err);
			break;
		}
		if (snap->n == CFS_GRANTS_SNAP_MAX) {
			rc = cfs_errf(err, -E2BIG, "%s: more than %d live grants", g->file,
				      CFS_GRANTS_SNAP_MAX);
			break;
		}
		if (snap->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			if (ncap > CFS_GRANTS_SNAP_MAX)
				ncap = CFS_GRANTS_SNAP_MAX;
			struct cfs_grant_rec *nr = realloc(snap->recs, ncap * sizeof *nr);
			if (!nr) {
				rc = cfs_errf(err, -ENOMEM, "%s: out of memory", g->file);
				break;
			}
			snap->recs = nr;
			cap = ncap;
		}
		if ((rc = row_to_rec(g, st, &snap->recs[snap->n], err)) < 0)
			break;
		if (snap->recs[snap->n].row_state != CFS_ROW_OK) {
			/* not written with the key: grants nothing, and is reported */
			if (g->report)
				g->report(g->report_arg, snap->recs[snap->n].g.id,
					  snap->recs[snap->n].path,
					  cfs_row_state_name(snap->recs[snap->n].row_state));
			continue;
		}
		snap->n++;
	}
	sqlite3_finalize(st);
	if (rc < 0)
		goto fail;
	/* The array may have moved while growing: point every rec into itself now. */
	for (size_t i = 0; i < snap->n; i++)
		point_into(&snap->recs[i]);
	atomic_init(&snap->refs, 1);
	*out = snap;
	return 0;
fail:
	free(snap->recs);
	free(snap);
	return rc;
}

static int data_version(struct cfs_grants *g, int64_t *v, struct cfs_err *err)
{
	int s = sqlite3_step(g->st_version);
	int rc = 0;
	if (s == SQLITE_ROW)
		*v = sqlite3_column_int64(g->st_version, 0);
	else
		rc = db_err(g, s, "data_version", err);
	sqlite3_reset(g->st_version);
	return rc;
}

int cfs_grants_snapshot(struct cfs_grants *g, struct cfs_grant_snap **out, struct cfs_err *err)
{
	int64_t v = 0;
	int rc;
	*out = NULL;
	pthread_mutex_lock(&g->mu);
	rc = data_version(g, &v, err);
	if (rc == 0 && (!g->snap || g->snap_stale || g->snap_version != v)) {
		struct cfs_grant_snap *fresh = NULL;
		rc = build_snapshot(g, &fresh, err);
		if (rc == 0) {
			if (g->snap)
				cfs_grants_snap_put(g->snap);
			g->snap = fresh;
			g->snap_version = v;
			g->snap_stale = 0;
		}
	}
	if (rc == 0) {
		atomic_fetch_add_explicit(&g->snap->refs, 1, memory_order_relaxed);
		*out = g->snap;
	}
	pthread_mutex_unlock(&g->mu);
	return rc;
}

/* ---- open counts ----------------------------------------------------------- */

/* Read the count (0 when no row), authenticated. Caller holds the lock. */
static int opens_read(struct cfs_grants *g, int64_t id, const char *path, uint32_t *used,
		      struct cfs_err *err)
{
	sqlite3_stmt *st = g->st_opens_get;
	int rc = 0;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
	int s = sqlite3_step(st);
	if (s == SQLITE_DONE) {
		*used = 0;
	} else if (s == SQLITE_ROW) {
		int64_t v;
		unsigned char want[CFS_ROWMAC_BYTES];
		const char *bad = col_int(st, 0, 1, 0, UINT32_MAX, 0, &v);
		int ms = CFS_ROW_NOKEY;
		if (!bad) {
			if (g->key)
				opens_mac(g->key, id, path, (uint32_t)v, want);
			ms = mac_state(g, st, 1, want);
		}
		if (bad)
			rc = cfs_errf(err, -EIO, "%s: grant %lld: open count %s", g->file,
				      (long long)id, bad);
		else if (ms != CFS_ROW_OK)
			rc = cfs_errf(err, -EBADMSG, "%s: grant %lld: open count of %s is %s",
				      g->file, (long long)id, path, cfs_row_state_name(ms));
		else
			*used = (uint32_t)v;
	} else {
		rc = db_err(g, s, "reading open counts", err);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

/* Set the count of (id, path) to n with its MAC. Lock held, in a transaction. */
static int opens_write(struct cfs_grants *g, int64_t id, const char *path, uint32_t n,
		       struct cfs_err *err)
{
	sqlite3_stmt *st = g->st_opens_bump;
	unsigned char mac[CFS_ROWMAC_BYTES];
	opens_mac(g->key, id, path, n, mac);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, n);
	sqlite3_bind_blob(st, 4, mac, sizeof mac, SQLITE_TRANSIENT);
	int s = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return s == SQLITE_DONE ? 0 : db_err(g, s, "counting an open", err);
}

/* The grant's row, authentic, and every counter under it authentic and adding
 * up to its opens_total (a deleted or reset counter does not). */
static int opens_consistent(struct cfs_grants *g, int64_t id, struct cfs_grant_rec *rec,
			    struct cfs_err *err)
{
	sqlite3_stmt *st;
	uint64_t sum = 0;
	int rc = read_rec(g, id, rec, err);
	if (rc < 0)
		return rc;
	if (rec->row_state != CFS_ROW_OK)
		return cfs_errf(err, -EBADMSG, "%s: grant %lld is %s", g->file, (long long)id,
				cfs_row_state_name(rec->row_state));
	if ((rc = prepare(g, "SELECT path, count, mac FROM opens WHERE grant_id = ?1", &st, err)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	for (;;) {
		int s = sqlite3_step(st);
		if (s == SQLITE_DONE)
			break;
		if (s != SQLITE_ROW) {
			rc = db_err(g, s, "reading open counts", err);
			break;
		}
		char path[4096];
		int64_t v;
		unsigned char want[CFS_ROWMAC_BYTES];
		if (col_text(st, 0, 1, path, sizeof path) || col_int(st, 1, 1, 0, UINT32_MAX, 0, &v)) {
			rc = cfs_errf(err, -EBADMSG, "%s: grant %lld: a malformed open count", g->file,
				      (long long)id);
			break;
		}
		opens_mac(g->key, id, path, (uint32_t)v, want);
		if (mac_state(g, st, 2, want) != CFS_ROW_OK) {
			rc = cfs_errf(err, -EBADMSG, "%s: grant %lld: the open count of %s failed "
				      "authentication", g->file, (long long)id, path);
			break;
		}
		sum += (uint64_t)v;
	}
	sqlite3_finalize(st);
	if (rc == 0 && sum != rec->opens_total)
		rc = cfs_errf(err, -EBADMSG, "%s: grant %lld: its open counts add up to %llu, not "
			      "%u (a count was removed or reset)", g->file, (long long)id,
			      (unsigned long long)sum, rec->opens_total);
	return rc;
}

static int opens_args_ok(struct cfs_grants *g, int64_t id, const char *path, struct cfs_err *err)
{
	if (id <= 0)
		return cfs_errf(err, -EINVAL, "%s: open count: bad grant id %lld", g->file,
				(long long)id);
	if (cfs_path_valid(path) < 0)
		return cfs_errf(err, -EINVAL, "%s: open count: bad path", g->file);
	return 0;
}

int cfs_grants_opens(struct cfs_grants *g, int64_t id, const char *path, uint32_t *used,
		     struct cfs_err *err)
{
	int rc = opens_args_ok(g, id, path, err);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&g->mu);
	rc = opens_read(g, id, path, used, err);
	pthread_mutex_unlock(&g->mu);
	return rc;
}

int cfs_grants_uncount_open(struct cfs_grants *g, int64_t id, const char *path,
			    struct cfs_err *err)
{
	struct cfs_grant_rec *rec;
	uint32_t n = 0;
	int rc = opens_args_ok(g, id, path, err);
	if (rc < 0)
		return rc;
	if (!(rec = malloc(sizeof *rec)))
		return cfs_errf(err, -ENOMEM, "%s: out of memory", g->file);
	pthread_mutex_lock(&g->mu);
	if ((rc = need_key(g, err)) < 0 || (rc = exec(g, "BEGIN IMMEDIATE", "begin", err)) < 0)
		goto out;
	if ((rc = opens_consistent(g, id, rec, err)) < 0 ||
	    (rc = opens_read(g, id, path, &n, err)) < 0)
		goto fail;
	if (n > 0 && rec->opens_total > 0) {
		rec->opens_total--;
		if ((rc = opens_write(g, id, path, n - 1, err)) < 0 ||
		    (rc = store_mac(g, rec, err)) < 0)
			goto fail;
	}
	if ((rc = exec(g, "COMMIT", "commit", err)) < 0)
		goto fail;
	g->snap_stale = 1;
	goto out;
fail:
	rollback(g);
out:
	pthread_mutex_unlock(&g->mu);
	free(rec);
	return rc;
}

int cfs_grants_count_open(struct cfs_grants *g, int64_t id, const char *path, uint32_t limit,
			  uint32_t *used, struct cfs_err *err)
{
	struct cfs_grant_rec *rec;
	uint32_t n = 0;
	int rc = opens_args_ok(g, id, path, err);
	if (rc < 0)
		return rc;
	if (!(rec = malloc(sizeof *rec)))
		return cfs_errf(err, -ENOMEM, "%s: out of memory", g->file);
	pthread_mutex_lock(&g->mu);
	if ((rc = need_key(g, err)) < 0 || (rc = exec(g, "BEGIN IMMEDIATE", "begin", err)) < 0)
		goto out;
	if ((rc = opens_consistent(g, id, rec, err)) < 0 ||
	    (rc = opens_read(g, id, path, &n, err)) < 0)
		goto fail;
	*used = n;
	if (limit > 0 && n >= limit) {
		rc = cfs_errf(err, -EDQUOT, "grant %lld: all %u opens of %s used", (long long)id,
			      limit, path);
		goto fail;
	}
	if (n == UINT32_MAX || rec->opens_total == UINT32_MAX) {
		rc = cfs_errf(err, -EOVERFLOW, "grant %lld: open count overflow", (long long)id);
		goto fail;
	}
	rec->opens_total++;
	if ((rc = opens_write(g, id, path, n + 1, err)) < 0 || (rc = store_mac(g, rec, err)) < 0)
		goto fail;
	if ((rc = exec(g, "COMMIT", "commit", err)) < 0)
		goto fail;
	g->snap_stale = 1;
	*used = n + 1;
	goto out;
fail:
	rollback(g);
out:
	pthread_mutex_unlock(&g->mu);
	free(rec);
	return rc;
}

/* ---- sealing an older policy.db -------------------------------------------- */

int cfs_grants_seal_legacy(struct cfs_grants *g, int64_t *sealed, struct cfs_err *err)
{
	sqlite3_stmt *st = NULL;
	struct cfs_grant_rec *recs = NULL;
	size_t n = 0, cap = 0;
	int64_t count = 0;
	int rc, s;
	*sealed = 0;
	pthread_mutex_lock(&g->mu);
	if ((rc = need_key(g, err)) < 0 || (rc = exec(g, "BEGIN IMMEDIATE", "begin", err)) < 0)
		goto out;
	/* open counters first: a grant's total is the sum of its counters.
	 * Read them all, then write (never while stepping over the table). */
	struct ocount { int64_t id; uint32_t v; char path[4096]; } *oc = NULL;
	size_t on = 0, ocap = 0;
	if ((rc = prepare(g, "SELECT grant_id, path, count FROM opens WHERE mac IS NULL", &st,
			  err)) < 0)
		goto fail;
	for (;;) {
		s = sqlite3_step(st);
		if (s == SQLITE_DONE)
			break;
		if (s != SQLITE_ROW) {
			rc = db_err(g, s, "reading open counts", err);
			break;
		}
		if (on == ocap) {
			size_t ncap = ocap ? ocap * 2 : 16;
			struct ocount *nr = realloc(oc, ncap * sizeof *nr);
			if (!nr) {
				rc = cfs_errf(err, -ENOMEM, "%s: out of memory", g->file);
				break;
			}
			oc = nr;
			ocap = ncap;
		}
		int64_t v;
		if (col_int(st, 0, 1, 1, INT64_MAX, 0, &oc[on].id) ||
		    col_text(st, 1, 1, oc[on].path, sizeof oc[on].path) ||
		    cfs_path_valid(oc[on].path) < 0 || col_int(st, 2, 1, 0, UINT32_MAX, 0, &v)) {
			rc = cfs_errf(err, -EIO, "%s: a malformed open count: not sealed", g->file);
			break;
		}
		oc[on++].v = (uint32_t)v;
	}
	sqlite3_finalize(st);
	st = NULL;
	for (size_t i = 0; rc == 0 && i < on; i++)
		if ((rc = opens_write(g, oc[i].id, oc[i].path, oc[i].v, err)) == 0)
			count++;
	free(oc);
	if (rc < 0)
		goto fail;
	if ((rc = prepare(g, "SELECT " GRANT_COLS " FROM grants WHERE mac IS NULL ORDER BY id", &st,
			  err)) < 0)
		goto fail;
	for (;;) {
		s = sqlite3_step(st);
		if (s == SQLITE_DONE)
			break;
		if (s != SQLITE_ROW) {
			rc = db_err(g, s, "reading grants", err);
			goto fail;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct cfs_grant_rec *nr = realloc(recs, ncap * sizeof *nr);
			if (!nr) {
				rc = cfs_errf(err, -ENOMEM, "%s: out of memory", g->file);
				goto fail;
			}
			recs = nr;
			cap = ncap;
		}
		if ((rc = row_to_rec(g, st, &recs[n], err)) < 0)
			goto fail; /* malformed: sealed never, reported by name */
		n++;
	}
	sqlite3_finalize(st);
	st = NULL;
	for (size_t i = 0; i < n; i++) {
		struct cfs_grant_rec *r = &recs[i];
		if ((rc = prepare(g, "SELECT coalesce(sum(count), 0) FROM opens WHERE grant_id = ?1",
				  &st, err)) < 0)
			goto fail;
		sqlite3_bind_int64(st, 1, r->g.id);
		s = sqlite3_step(st);
		int64_t total = s == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
		sqlite3_finalize(st);
		st = NULL;
		if (total < 0 || total > UINT32_MAX) {
			rc = cfs_errf(err, -EIO, "%s: grant %lld: open counts out of range", g->file,
				      (long long)r->g.id);
			goto fail;
		}
		r->opens_total = (uint32_t)total;
		point_into(r);
		if ((rc = store_mac(g, r, err)) < 0)
			goto fail;
		count++;
	}
	if ((rc = exec(g, "COMMIT", "commit", err)) < 0)
		goto fail;
	g->snap_stale = 1;
	*sealed = count;
	goto out;
fail:
	rollback(g);
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&g->mu);
	free(recs);
	return rc;
}
