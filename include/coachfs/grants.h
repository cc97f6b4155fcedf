/* grants.h — policy.db: grants (and later links), read concurrently by the
 * daemon and written by coach-grant. grants.c owns the schema and every query;
 * it must never decide access (policy.c does) and never store a link token
 * in the clear. */
#ifndef COACHFS_GRANTS_H
#define COACHFS_GRANTS_H

#include <stddef.h>
#include <stdint.h>
#include "coachfs/policy.h"
#include "coachfs/util.h"

#define CFS_TEXT_MAX 256

/* A grant as stored: the policy view plus its history. */
struct cfs_grant_rec {
	struct cfs_grant g;            /* g.path/role/granted_by/approved_by point into the strings below */
	char subject[CFS_TEXT_MAX];    /* as given: "alice", "@soc", "role:responder" */
	char path[4096];
	char role[CFS_TEXT_MAX];
	char granted_by[CFS_TEXT_MAX];
	char approved_by[CFS_TEXT_MAX];
	char reason[CFS_TEXT_MAX];
	int64_t created;
	char revoked_by[CFS_TEXT_MAX];
	char revoke_reason[CFS_TEXT_MAX];
};

struct cfs_grants;

/* Open policy.db (WAL). create = 1 creates file and schema. */
int cfs_grants_open(const char *path, int create, struct cfs_grants **out, struct cfs_err *err);
void cfs_grants_close(struct cfs_grants *db);

/* Add a grant (rec->g.id set on return). Validation of subjects and limits is
 * the tool's; this only stores. */
int cfs_grants_add(struct cfs_grants *db, struct cfs_grant_rec *rec, struct cfs_err *err);
int cfs_grants_revoke(struct cfs_grants *db, int64_t id, const char *by, const char *reason,
		      int64_t now, struct cfs_err *err);   /* -ENOENT unknown, -EALREADY revoked */
int cfs_grants_get(struct cfs_grants *db, int64_t id, struct cfs_grant_rec *rec, struct cfs_err *err);

/* Iterate over grants, newest first; cb returns non-zero to stop. */
struct cfs_grants_filter {
	int active_only; int64_t now;
	const char *subject;           /* exact subject text, or NULL */
	const char *path;              /* grants covering this path, or NULL */
};
int cfs_grants_list(struct cfs_grants *db, const struct cfs_grants_filter *f,
		    int (*cb)(const struct cfs_grant_rec *rec, void *arg), void *arg,
		    struct cfs_err *err);

/* Daemon side: an in-memory snapshot of all unrevoked, unexpired grants,
 * refreshed only when the database changed (PRAGMA data_version). The
 * snapshot is immutable and reference-counted so decisions can use it
 * without holding a lock. */
struct cfs_grant_snap {
	size_t n;
	struct cfs_grant_rec *recs;
};
int cfs_grants_snapshot(struct cfs_grants *db, struct cfs_grant_snap **out, struct cfs_err *err);
void cfs_grants_snap_put(struct cfs_grant_snap *snap);

/* Opens of `path` under grant id so far (0 when none). */
int cfs_grants_opens(struct cfs_grants *db, int64_t id, const char *path, uint32_t *used,
		     struct cfs_err *err);
/* Count one open of path under grant id, atomically refusing (-EDQUOT) when
 * limit (> 0) opens were already used. *used is the count after. */
int cfs_grants_count_open(struct cfs_grants *db, int64_t id, const char *path, uint32_t limit,
			  uint32_t *used, struct cfs_err *err);

#endif
