/* grants_db.c — policy.db's connection for grants.c: opening it (WAL,
 * defensive, the schema and its format checked), the meta table, the row
 * MAC helpers every sealed table uses, and the hostile-column readers. It
 * must never trust a value it reads back and never print. */
#include "grants_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- errors ---------------------------------------------------------- */

/* An error from the connection: "FILE: what (sqlite message)". */
int db_err(struct cfs_grants *g, int rc, const char *what, struct cfs_err *err)
{
	return cfs_errf(err, cfs_sqlite_errno(rc), "%s: %s: %s", g->file, what, sqlite3_errmsg(g->db));
}

/* ---- small helpers ----------------------------------------------------- */

int exec(struct cfs_grants *g, const char *sql, const char *what, struct cfs_err *err)
{
	int rc = sqlite3_exec(g->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return db_err(g, rc, what, err);
	return 0;
}

void rollback(struct cfs_grants *g)
{
	/* Fails harmlessly when no transaction is open (SQLite may have rolled
	 * back already after an I/O error). */
	(void)sqlite3_exec(g->db, "ROLLBACK", NULL, NULL, NULL);
}

int prepare(struct cfs_grants *g, const char *sql, sqlite3_stmt **st, struct cfs_err *err)
{
	int rc = sqlite3_prepare_v2(g->db, sql, -1, st, NULL);
	if (rc != SQLITE_OK) {
		*st = NULL;
		return db_err(g, rc, "prepare", err);
	}
	return 0;
}


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


/* Is the MAC in column col of st the expected one? want is computed only
 * when there is a key. */
int cfs_db_mac_state(const unsigned char *key, sqlite3_stmt *st, int col,
		     const unsigned char want[CFS_ROWMAC_BYTES])
{
	int t = sqlite3_column_type(st, col);
	if (t == SQLITE_NULL)
		return CFS_ROW_UNSEALED;
	if (!key)
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

int need_key(struct cfs_grants *g, struct cfs_err *err)
{
	if (!g->key)
		return cfs_errf(err, -EPERM, "%s: changing grants needs the store key (unlock the store)",
				g->file);
	return 0;
}


/* Integer column: SQL INTEGER in [min, max]; NULL gives def when !required. */
const char *cfs_db_col_int(sqlite3_stmt *st, int col, int required, int64_t min, int64_t max,
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
const char *cfs_db_col_text(sqlite3_stmt *st, int col, int required, char *dst, size_t cap)
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
		if ((rc = exec(g, cfs_grants_schema_sql, "creating the schema", err)) < 0 ||
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

