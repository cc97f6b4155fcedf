/* grants_read.c — reading grants back: one, a filtered list, and the
 * daemon's reference-counted snapshot of the live, authentic ones (rebuilt
 * only when policy.db changed). A row that is not authentic is passed on
 * marked (list) or left out and reported (snapshot), never trusted. */
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

/* ---- grants: read -------------------------------------------------------- */

int cfs_grants_get(struct cfs_grants *g, int64_t id, struct cfs_grant_rec *rec,
		   struct cfs_err *err)
{
	memset(rec, 0, sizeof *rec);
	pthread_mutex_lock(&g->mu);
	int rc = read_rec(g, id, rec, err);
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
	rc = cfs_gr_select(g, "ORDER BY id DESC", &st, err);
	if (rc == 0) {
		while ((rc = cfs_policydb_step(g->pdb, st, "listing grants", err)) == 1) {
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
	rc = cfs_gr_select(g, "WHERE "
		     "NOT (typeof(revoked_at) = 'integer' AND revoked_at > 0) AND "
		     "NOT (typeof(\"end\") = 'integer' AND \"end\" <= ?1) ORDER BY id", &st, err);
	if (rc < 0)
		goto fail;
	sqlite3_bind_int64(st, 1, snap->built);
	while ((rc = cfs_policydb_step(g->pdb, st, "reading grants", err)) == 1) {
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

