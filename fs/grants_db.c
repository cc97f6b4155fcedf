/* grants_db.c — the grants handle over policydb.c's connection (opening,
 * closing, its lock around meta), the row MAC helpers every sealed table
 * uses, and the hostile-column readers. It must never trust a value it
 * reads back and never print; the schema and the connection's defences are
 * policydb.c's alone. */
#include "grants_int.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the connection's helpers (policydb.c's, with "prepare" for a name) -- */

int db_err(struct cfs_grants *g, int rc, const char *what, struct cfs_err *err)
{
	return cfs_policydb_err(g->pdb, rc, what, err);
}

int exec(struct cfs_grants *g, const char *sql, const char *what, struct cfs_err *err)
{
	return cfs_policydb_exec(g->pdb, sql, what, err);
}

int prepare(struct cfs_grants *g, const char *sql, sqlite3_stmt **st, struct cfs_err *err)
{
	return cfs_policydb_prepare(g->pdb, sql, "prepare", st, err);
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


int cfs_rowmac_key_set(pthread_mutex_t *mu, unsigned char **slot, int *stale, const char *file,
		       const unsigned char key[32], struct cfs_err *err)
{
	if (sodium_init() < 0) /* idempotent; secure memory needs it */
		return cfs_errf(err, -EIO, "%s: libsodium cannot start", file);
	unsigned char *k = sodium_malloc(32);
	if (!k)
		return cfs_errf(err, -ENOMEM, "%s: out of secure memory", file);
	memcpy(k, key, 32);
	pthread_mutex_lock(mu);
	if (*slot)
		sodium_free(*slot);
	*slot = k;
	if (stale)
		*stale = 1;
	pthread_mutex_unlock(mu);
	return 0;
}

int cfs_grants_set_key(struct cfs_grants *g, const unsigned char key[32], struct cfs_err *err)
{
	return cfs_rowmac_key_set(&g->mu, &g->key, &g->snap_stale, g->file, key, err);
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
		*out = def;
		return required ? "is NULL" : NULL;
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
	if (t == SQLITE_NULL)
		return required ? "is NULL" : NULL;
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

int cfs_grants_open(const char *path, int create, struct cfs_grants **out, struct cfs_err *err)
{
	struct cfs_grants *g = calloc(1, sizeof *g);
	int rc;
	*out = NULL;
	if (!g)
		return cfs_errf(err, -ENOMEM, "%s: out of memory", path ? path : "policy.db");
	if (pthread_mutex_init(&g->mu, NULL) != 0) {
		free(g);
		return cfs_errf(err, -ENOMEM, "%s: cannot create a mutex", path ? path : "policy.db");
	}
	rc = cfs_policydb_open(path, create ? CFS_PDB_CREATE : 0, &g->pdb, err);
	if (rc == 0) {
		g->db = cfs_policydb_conn(g->pdb);
		g->file = cfs_policydb_file(g->pdb);
		if ((rc = prepare(g, "PRAGMA data_version", &g->st_version, err)) == 0 &&
		    (rc = prepare(g, "SELECT count, mac FROM opens WHERE grant_id = ?1 AND path = ?2",
				  &g->st_opens_get, err)) == 0)
			rc = prepare(g, "INSERT INTO opens(grant_id, path, count, mac) VALUES(?1, ?2, ?3, ?4) "
				     "ON CONFLICT(grant_id, path) DO UPDATE SET count = excluded.count, "
				     "mac = excluded.mac", &g->st_opens_bump, err);
	}
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
	cfs_policydb_close(g->pdb);
	if (g->snap)
		cfs_grants_snap_put(g->snap);
	if (g->key)
		sodium_free(g->key);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

/* ---- meta (policydb.c's, under the handle's lock) --------------------------- */

int cfs_grants_meta_set(struct cfs_grants *g, const char *key, const char *value,
			struct cfs_err *err)
{
	pthread_mutex_lock(&g->mu);
	int rc = cfs_policydb_meta_set(g->pdb, key, value, err);
	pthread_mutex_unlock(&g->mu);
	return rc;
}

int cfs_grants_meta_get(struct cfs_grants *g, const char *key, char *buf, size_t buflen,
			struct cfs_err *err)
{
	pthread_mutex_lock(&g->mu);
	int rc = cfs_policydb_meta_get(g->pdb, key, buf, buflen, err);
	pthread_mutex_unlock(&g->mu);
	return rc;
}
