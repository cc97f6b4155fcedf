/* grants_opens.c — per-file open counters under a grant, each sealed with
 * a MAC and adding up to the grant's sealed total (so a deleted or reset
 * counter is noticed), counted atomically; and sealing an older policy.db's
 * rows once, by an administrator's explicit upgrade. */
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

#define MF_S(x) { 1, 0, (x), SIZE_MAX }
#define MF_I(x) { 0, (int64_t)(x), NULL, 0 }

static void opens_mac(const unsigned char *key, int64_t id, const char *path, uint32_t count,
		      unsigned char out[CFS_ROWMAC_BYTES])
{
	const struct cfs_macf f[] = { MF_I(id), MF_S(path), MF_I(count) };
	cfs_rowmac(key, "coachfs policy.db opens v1", f, sizeof f / sizeof f[0], out);
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
	while ((rc = cfs_policydb_step(g->pdb, st, "reading open counts", err)) == 1) {
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

/* One counted open of (id, path), up or down, inside one transaction: the
 * grant and every counter under it authentic first (opens_consistent). */
struct count_tx {
	int64_t id;
	const char *path;
	uint32_t limit;
	int down;                      /* give one back instead */
	uint32_t used;                 /* the count after */
	struct cfs_grant_rec rec;
};

static int count_fn(struct cfs_grants_tx *tx, void *arg, struct cfs_err *err)
{
	struct count_tx *ct = arg;
	struct cfs_grants *g = tx->g;
	struct cfs_grant_rec *rec = &ct->rec;
	uint32_t n = 0;
	int rc;
	if ((rc = opens_consistent(g, ct->id, rec, err)) < 0 || (rc = opens_read(g, ct->id, ct->path, &n, err)) < 0)
		return rc;
	ct->used = n;
	if (ct->down) {
		if (n == 0 || rec->opens_total == 0)
			return 0;
		rec->opens_total--;
		ct->used = n - 1;
	} else if (ct->limit > 0 && n >= ct->limit) {
		return cfs_errf(err, -EDQUOT, "grant %lld: all %u opens of %s used", (long long)ct->id, ct->limit,
				ct->path);
	} else if (n == UINT32_MAX || rec->opens_total == UINT32_MAX) {
		return cfs_errf(err, -EOVERFLOW, "grant %lld: open count overflow", (long long)ct->id);
	} else {
		rec->opens_total++;
		ct->used = n + 1;
	}
	if ((rc = opens_write(g, ct->id, ct->path, ct->used, err)) < 0)
		return rc;
	return store_mac(g, rec, err);
}

static int count(struct cfs_grants *g, int64_t id, const char *path, uint32_t limit, int down,
		 uint32_t *used, struct cfs_err *err)
{
	int rc = opens_args_ok(g, id, path, err);
	if (rc < 0)
		return rc;
	struct count_tx *ct = malloc(sizeof *ct);
	if (!ct)
		return cfs_errf(err, -ENOMEM, "%s: out of memory", g->file);
	ct->id = id;
	ct->path = path;
	ct->limit = limit;
	ct->down = down;
	ct->used = 0;
	rc = cfs_grants_txn(g, 1, count_fn, ct, err);
	if (used)
		*used = ct->used;
	free(ct);
	return rc;
}

int cfs_grants_uncount_open(struct cfs_grants *g, int64_t id, const char *path,
			    struct cfs_err *err)
{
	return count(g, id, path, 0, 1, NULL, err);
}

int cfs_grants_count_open(struct cfs_grants *g, int64_t id, const char *path, uint32_t limit,
			  uint32_t *used, struct cfs_err *err)
{
	return count(g, id, path, limit, 0, used, err);
}

/* ---- sealing an older policy.db -------------------------------------------- */

/* Seal every open counter without a MAC, as it stands. Read them all, then
 * write (never while stepping over the table). */
static int seal_opens(struct cfs_grants *g, int64_t *count, struct cfs_err *err)
{
	struct ocount { int64_t id; uint32_t v; char path[4096]; } *oc = NULL;
	size_t on = 0, ocap = 0;
	sqlite3_stmt *st;
	int rc = prepare(g, "SELECT grant_id, path, count FROM opens WHERE mac IS NULL", &st, err), s;
	while (rc == 0 && (s = sqlite3_step(st)) != SQLITE_DONE) {
		int64_t v;
		if (s != SQLITE_ROW) {
			rc = db_err(g, s, "reading open counts", err);
		} else if (on == ocap) {
			size_t ncap = ocap ? ocap * 2 : 16;
			struct ocount *nr = realloc(oc, ncap * sizeof *nr);
			if (!nr)
				rc = cfs_errf(err, -ENOMEM, "%s: out of memory", g->file);
			else
				oc = nr, ocap = ncap;
		}
		if (rc == 0 && (col_int(st, 0, 1, 1, INT64_MAX, 0, &oc[on].id) ||
				col_text(st, 1, 1, oc[on].path, sizeof oc[on].path) ||
				cfs_path_valid(oc[on].path) < 0 || col_int(st, 2, 1, 0, UINT32_MAX, 0, &v)))
			rc = cfs_errf(err, -EIO, "%s: a malformed open count: not sealed", g->file);
		if (rc == 0)
			oc[on++].v = (uint32_t)v;
	}
	sqlite3_finalize(st);
	for (size_t i = 0; rc == 0 && i < on; i++)
		if ((rc = opens_write(g, oc[i].id, oc[i].path, oc[i].v, err)) == 0)
			(*count)++;
	free(oc);
	return rc;
}

/* Every grant row without a MAC, read and validated (a malformed one is
 * never sealed: it is reported by name). */
static int unsealed_grants(struct cfs_grants *g, struct cfs_grant_rec **out, size_t *n, struct cfs_err *err)
{
	struct cfs_grant_rec *recs = NULL;
	size_t cap = 0;
	sqlite3_stmt *st;
	int rc = cfs_gr_select(g, "WHERE mac IS NULL ORDER BY id", &st, err), s;
	*n = 0;
	while (rc == 0 && (s = sqlite3_step(st)) != SQLITE_DONE) {
		if (s != SQLITE_ROW) {
			rc = db_err(g, s, "reading grants", err);
			break;
		}
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct cfs_grant_rec *nr = realloc(recs, ncap * sizeof *nr);
			if (!nr) {
				rc = cfs_errf(err, -ENOMEM, "%s: out of memory", g->file);
				break;
			}
			recs = nr;
			cap = ncap;
		}
		if ((rc = row_to_rec(g, st, &recs[*n], err)) == 0)
			(*n)++;
	}
	sqlite3_finalize(st);
	*out = recs;
	return rc;
}

/* Seal one grant as it stands, its total the sum of its (sealed) counters. */
static int seal_grant(struct cfs_grants *g, struct cfs_grant_rec *r, struct cfs_err *err)
{
	sqlite3_stmt *st;
	int rc = prepare(g, "SELECT coalesce(sum(count), 0) FROM opens WHERE grant_id = ?1", &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, r->g.id);
	int s = sqlite3_step(st);
	int64_t total = s == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	if (total < 0 || total > UINT32_MAX)
		return cfs_errf(err, -EIO, "%s: grant %lld: open counts out of range", g->file, (long long)r->g.id);
	r->opens_total = (uint32_t)total;
	point_into(r);
	return store_mac(g, r, err);
}

struct seal_tx {
	int64_t count;
};

static int seal_fn(struct cfs_grants_tx *tx, void *arg, struct cfs_err *err)
{
	struct seal_tx *sx = arg;
	struct cfs_grant_rec *recs = NULL;
	size_t n = 0;
	/* open counters first: a grant's total is the sum of its counters */
	int rc = seal_opens(tx->g, &sx->count, err);
	if (rc == 0)
		rc = unsealed_grants(tx->g, &recs, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if ((rc = seal_grant(tx->g, &recs[i], err)) == 0)
			sx->count++;
	free(recs);
	return rc;
}

int cfs_grants_seal_legacy(struct cfs_grants *g, int64_t *sealed, struct cfs_err *err)
{
	struct seal_tx sx = { 0 };
	int rc = cfs_grants_txn(g, 1, seal_fn, &sx, err);
	*sealed = rc == 0 ? sx.count : 0;
	return rc;
}
