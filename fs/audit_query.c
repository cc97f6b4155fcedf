/* audit_query.c — the read queries coach-audit uses (filtered rows, counts,
 * and counts grouped by any columns and time buckets). It must never write
 * to the log. */
#include "coachfs/audit.h"
#include "audit_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


/* -------------------------------------------------------------- queries */

/* WHERE clause for f with numbered parameters ?1..?9 bound by bind_filter. */
static void filter_sql(const struct cfs_audit_filter *f, char *out, size_t cap)
{
	int has_path = f->path && strcmp(f->path, "/") != 0;
	/* "action <> 'read'" is implied by "action = ?7" when ?7 is not read;
	 * written out, it lets the planner use the partial index events_rare. */
	int rare = f->has_action && f->action != CFS_ACT_READ;
	snprintf(out, cap, " WHERE 1%s%s%s%s%s%s%s%s",
		 f->after_id > 0 ? " AND id > ?9" : "",
		 has_path ? " AND (path = ?1 OR (path >= ?2 AND path < ?3))" : "",
		 f->since_us != CFS_AUDIT_NONE ? " AND ts >= ?4" : "",
		 f->until_us != CFS_AUDIT_NONE ? " AND ts < ?5" : "",
		 f->user ? " AND user = ?6" : "",
		 f->has_action ? " AND action = ?7" : "",
		 rare ? " AND action <> 'read'" : "",
		 f->result ? " AND result = ?8" : "");
}

static int bind_filter(sqlite3_stmt *st, const struct cfs_audit_filter *f, char **tmp)
{
	int rc = SQLITE_OK;
	*tmp = NULL;
	if (f->path && strcmp(f->path, "/") != 0) {
		/* Everything under P sorts in [P "/", P "0"): '0' follows '/'. */
		size_t n = strlen(f->path);
		char *lo = malloc(2 * (n + 2));
		if (!lo)
			return SQLITE_NOMEM;
		char *hi = lo + n + 2;
		memcpy(lo, f->path, n);
		memcpy(hi, f->path, n);
		lo[n] = '/';
		hi[n] = '0';
		lo[n + 1] = hi[n + 1] = 0;
		*tmp = lo;
		rc = sqlite3_bind_text(st, 1, f->path, -1, SQLITE_STATIC);
		if (!rc)
			rc = sqlite3_bind_text(st, 2, lo, -1, SQLITE_STATIC);
		if (!rc)
			rc = sqlite3_bind_text(st, 3, hi, -1, SQLITE_STATIC);
	}
	if (!rc && f->since_us != CFS_AUDIT_NONE)
		rc = sqlite3_bind_int64(st, 4, f->since_us);
	if (!rc && f->until_us != CFS_AUDIT_NONE)
		rc = sqlite3_bind_int64(st, 5, f->until_us);
	if (!rc && f->user)
		rc = sqlite3_bind_text(st, 6, f->user, -1, SQLITE_STATIC);
	if (!rc && f->has_action) {
		const char *name = cfs_action_name(f->action);
		rc = name ? sqlite3_bind_text(st, 7, name, -1, SQLITE_STATIC) : SQLITE_MISUSE;
	}
	if (!rc && f->result)
		rc = sqlite3_bind_text(st, 8, f->result, -1, SQLITE_STATIC);
	if (!rc && f->after_id > 0)
		rc = sqlite3_bind_int64(st, 9, f->after_id);
	return rc;
}

static int64_t col_int(sqlite3_stmt *st, int c)
{
	return sqlite3_column_type(st, c) == SQLITE_NULL ? CFS_AUDIT_NONE
							 : sqlite3_column_int64(st, c);
}

static const char *col_text(sqlite3_stmt *st, int c)
{
	return sqlite3_column_type(st, c) == SQLITE_NULL ? NULL
							 : (const char *)sqlite3_column_text(st, c);
}

static void col_hash(sqlite3_stmt *st, int c, unsigned char out[32], size_t *len)
{
	const void *p = sqlite3_column_blob(st, c);
	size_t n = (size_t)sqlite3_column_bytes(st, c);
	*len = n > 32 ? 32 : n;
	memset(out, 0, 32);
	if (p && *len)
		memcpy(out, p, *len);
}

/* Run a query: the filter's parameters, and value as parameter
 * param when param is not 0; row() turns each result row into the caller's
 * callback, and a non-zero return stops (and is returned). */
static int run_query(struct cfs_audit *a, const char *sql, const struct cfs_audit_filter *f,
		   int param, int64_t value, int (*row)(sqlite3_stmt *st, void *ctx), void *ctx,
		   struct cfs_err *err)
{
	sqlite3_stmt *st = NULL;
	char *tmp = NULL;
	int rc, ret = 0;
	pthread_mutex_lock(&a->db_mu);
	if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK ||
	    bind_filter(st, f, &tmp) != SQLITE_OK ||
	    (param && sqlite3_bind_int64(st, param, value) != SQLITE_OK)) {
		ret = cfs_aud_dberr(a, err, "cannot query");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((ret = row(st, ctx)) != 0)
			goto out;
	if (rc != SQLITE_DONE)
		ret = cfs_aud_dberr(a, err, "cannot query");
out:
	sqlite3_finalize(st);
	free(tmp);
	pthread_mutex_unlock(&a->db_mu);
	return ret;
}

struct query_ctx {
	int (*cb)(const struct cfs_audit_row *row, void *arg);
	void *arg;
};

static int query_row(sqlite3_stmt *st, void *ctx)
{
	struct query_ctx *q = ctx;
	struct cfs_audit_row row;
	memset(&row, 0, sizeof row);
	row.id = sqlite3_column_int64(st, 0);
	row.ev = (struct cfs_event){
		.ts = col_int(st, 1), .host = col_text(st, 2), .uid = col_int(st, 3),
		.user = col_text(st, 4), .pid = col_int(st, 5), .exe = col_text(st, 6),
		.path = col_text(st, 8), .result = col_text(st, 9), .reason = col_text(st, 10),
		.grant_id = col_int(st, 11), .offset = col_int(st, 12), .length = col_int(st, 13) };
	row.action = col_text(st, 7);   /* as stored; ev.action only when this version knows it */
	if (cfs_action_parse(row.action, &row.ev.action) < 0)
		row.ev.action = CFS_ACT_COUNT;
	col_hash(st, 14, row.prev_hash, &row.prev_hash_len);
	col_hash(st, 15, row.hash, &row.hash_len);
	return q->cb(&row, q->arg);
}

int cfs_audit_query(struct cfs_audit *a, const struct cfs_audit_filter *f,
		    int (*cb)(const struct cfs_audit_row *row, void *arg), void *arg,
		    struct cfs_err *err)
{
	struct cfs_audit_filter all;
	struct query_ctx q = { cb, arg };
	char where[400], sql[sizeof cfs_aud_sql_all + sizeof where + 32];
	if (!a || !cb)
		return cfs_errf(err, -EINVAL, "audit query: no handle or callback");
	if (!f) {
		cfs_audit_filter_init(&all);
		f = &all;
	}
	filter_sql(f, where, sizeof where);
	snprintf(sql, sizeof sql, "%s%s ORDER BY id", cfs_aud_sql_all, where);
	return run_query(a, sql, f, 0, 0, query_row, &q, err);
}


struct count_ctx {
	int (*cb)(const char *key, const char *key2, int64_t n, void *arg);
	void *arg;
};

static int count_row(sqlite3_stmt *st, void *ctx)
{
	struct count_ctx *c = ctx;
	return c->cb(col_text(st, 0), col_text(st, 1), sqlite3_column_int64(st, 2), c->arg);
}

int cfs_audit_count(struct cfs_audit *a, const struct cfs_audit_filter *f,
		    enum cfs_audit_group g, int64_t limit,
		    int (*cb)(const char *key, const char *key2, int64_t n, void *arg), void *arg,
		    struct cfs_err *err)
{
	struct cfs_audit_filter all;
	char where[400], sql[sizeof where + 256];
	const char *sel, *tail;
	if (!a || !cb)
		return cfs_errf(err, -EINVAL, "audit count: no handle or callback");
	if (limit < 0)
		return cfs_errf(err, -EINVAL, "audit count: negative limit");
	if (!f) {
		cfs_audit_filter_init(&all);
		f = &all;
	}
	switch (g) {
	case CFS_AUDIT_BY_ACTION_RESULT:
		sel = "action, result";
		tail = "GROUP BY action, result ORDER BY action, result";
		break;
	case CFS_AUDIT_BY_USER:
		sel = "user, NULL";
		tail = "GROUP BY user ORDER BY count(*) DESC, user";
		break;
	case CFS_AUDIT_BY_PATH:
		sel = "path, NULL";
		tail = "GROUP BY path ORDER BY count(*) DESC, path";
		break;
	default:
		return cfs_errf(err, -EINVAL, "audit count: unknown grouping");
	}
	filter_sql(f, where, sizeof where);
	snprintf(sql, sizeof sql, "SELECT %s, count(*) FROM events%s%s %s%s", sel, where,
		 g == CFS_AUDIT_BY_PATH ? " AND path IS NOT NULL" : "", tail,
		 limit > 0 ? " LIMIT ?9" : "");
	struct count_ctx c = { cb, arg };
	return run_query(a, sql, f, limit > 0 ? 9 : 0, limit, count_row, &c, err);
}


/* Columns a grouping may name, in enum cfs_audit_key order: a fixed list,
 * so no text from the caller ever reaches the SQL. */
static const char *const KEY_COL[CFS_AUDIT_KEY_COUNT] = { "user", "path", "action", "result" };

static int group_sql(const struct cfs_audit_filter *f, const enum cfs_audit_key *keys,
		     size_t nkeys, int64_t bucket_us, char *sql, size_t cap)
{
	char where[400], cols[160] = "", nums[64] = "";
	size_t c = 0, n = 0;
	for (size_t k = 0; k < nkeys; k++) {
		if ((unsigned)keys[k] >= CFS_AUDIT_KEY_COUNT)
			return -EINVAL;
		c += (size_t)snprintf(cols + c, sizeof cols - c, "%s, ", KEY_COL[keys[k]]);
		n += (size_t)snprintf(nums + n, sizeof nums - n, "%zu, ", k + 1);
	}
	filter_sql(f, where, sizeof where);
	/* column nkeys+1 is the time bucket (ts / bucket; 0 without one) */
	snprintf(sql, cap, "SELECT %s%s, count(*) FROM events%s GROUP BY %s%zu "
		 "ORDER BY count(*) DESC, %s%zu", cols, bucket_us > 0 ? "ts / ?10" : "0", where,
		 nums, nkeys + 1, nums, nkeys + 1);
	return 0;
}

struct group_ctx {
	int (*cb)(const char *const *vals, int64_t bucket, int64_t n, void *arg);
	void *arg;
	size_t nkeys;
};

static int group_row(sqlite3_stmt *st, void *ctx)
{
	struct group_ctx *g = ctx;
	const char *vals[CFS_AUDIT_KEY_COUNT];
	for (size_t k = 0; k < g->nkeys; k++)
		vals[k] = col_text(st, (int)k);
	return g->cb(vals, sqlite3_column_int64(st, (int)g->nkeys),
		     sqlite3_column_int64(st, (int)g->nkeys + 1), g->arg);
}

int cfs_audit_group(struct cfs_audit *a, const struct cfs_audit_filter *f,
		    const enum cfs_audit_key *keys, size_t nkeys, int64_t bucket_us,
		    int (*cb)(const char *const *vals, int64_t bucket, int64_t n, void *arg),
		    void *arg, struct cfs_err *err)
{
	struct cfs_audit_filter all;
	struct group_ctx g = { cb, arg, nkeys };
	char sql[1024];
	if (!a || !cb || nkeys > CFS_AUDIT_KEY_COUNT || bucket_us < 0 || (nkeys && !keys))
		return cfs_errf(err, -EINVAL, "audit group: bad arguments");
	if (!f) {
		cfs_audit_filter_init(&all);
		f = &all;
	}
	if (group_sql(f, keys, nkeys, bucket_us, sql, sizeof sql) < 0)
		return cfs_errf(err, -EINVAL, "audit group: unknown key");
	return run_query(a, sql, f, bucket_us > 0 ? 10 : 0, bucket_us, group_row, &g, err);
}
