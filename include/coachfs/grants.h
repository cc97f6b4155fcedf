/* grants.h — policy.db's grants, read concurrently by the daemon and written
 * by coach-grant. grants.c owns every query on them (policydb.c the
 * connection and the schema);
 * it must never decide access (policy.c does) and never store a link token
 * in the clear. */
#ifndef COACHFS_GRANTS_H
#define COACHFS_GRANTS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "coachfs/policy.h"
#include "coachfs/util.h"

#define CFS_TEXT_MAX 256
#define CFS_GRANTS_SNAP_MAX 10000    /* live grants a snapshot holds at most (else -E2BIG) */
#define CFS_ROWMAC_BYTES 32

/* Whether a row read back from policy.db is authentic: its MAC (keyed
 * BLAKE2b under keys->rowmac over a canonical, length-prefixed encoding of
 * every column that matters, the id included) matches. Only CFS_ROW_OK rows
 * grant anything; the others are shown as invalid and reported. */
enum cfs_row_state {
	CFS_ROW_OK = 0,
	CFS_ROW_UNSEALED,   /* no MAC: written by hand, or by an older coachfs and not yet sealed */
	CFS_ROW_BADMAC,     /* a MAC that does not match: forged or edited */
	CFS_ROW_NOKEY,      /* read without the store key: cannot be checked */
};
/* "valid", "INVALID (no MAC)", "INVALID (MAC)", "unverified (no key)" */
const char *cfs_row_state_name(int state);

/* One field of a row's canonical encoding: an integer, or bytes (text or blob,
 * length-prefixed; s == NULL encodes like ""). */
struct cfs_macf {
	int is_bytes;
	int64_t i;
	const void *s;
	size_t len;                    /* for bytes; SIZE_MAX = strlen(s) */
};
/* MAC = BLAKE2b-256 keyed with key over: the domain (length-prefixed), then
 * each field as a type byte ('i': 8 bytes little-endian; 's': 4-byte
 * little-endian length and the bytes). */
void cfs_rowmac(const unsigned char key[32], const char *domain, const struct cfs_macf *f,
		size_t n, unsigned char out[CFS_ROWMAC_BYTES]);

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
	int64_t approved_at;           /* when the approver confirmed (0 = pending); also in g */
	uint32_t opens_total;          /* opens counted under this grant, all files (authenticates
					  the per-file counters: deleting one is noticed) */
	char session_boot[40];         /* session-bound (g.session_pid != 0): the boot it ran on */
	char session_cmd[CFS_TEXT_MAX]; /* and its command's name */
	int row_state;                 /* enum cfs_row_state: set when read back */
};

/* rec cleared to a grant to user (uid) of path (write 0 or 1) from start
 * for ttl seconds, created at start: what every new user grant sets first. */
void cfs_grant_rec_for_user(struct cfs_grant_rec *rec, const char *user, uint32_t uid,
			    const char *path, int write, int64_t start, int64_t ttl);

struct cfs_grants;

/* Open policy.db (cfs_policydb_open: WAL, defensive, migrated). create = 1
 * creates file (mode 0600) and schema.
 * Every row read back is validated (strings bounded, kind/ugid in range,
 * paths canonical); a row that is not is reported as -EIO
 * "FILE: grant N: what is wrong", never truncated or guessed at.
 * The handle may be shared by threads; a callback (cfs_grants_list) must not
 * call back into the same handle. */
int cfs_grants_open(const char *path, int create, struct cfs_grants **out, struct cfs_err *err);
void cfs_grants_close(struct cfs_grants *db);

/* For a handle over a sealed table: replace *slot (its row MAC key in
 * secure memory, or NULL) with a copy of key, under mu, and set *stale
 * (when not NULL) there too. */
int cfs_rowmac_key_set(pthread_mutex_t *mu, unsigned char **slot, int *stale, const char *file,
		       const unsigned char key[32], struct cfs_err *err);
/* Give the handle the row MAC key (keys->rowmac; copied into secure memory).
 * Without it every row reads back as CFS_ROW_NOKEY (grants nothing) and
 * every write is refused (-EPERM). */
int cfs_grants_set_key(struct cfs_grants *db, const unsigned char key[32], struct cfs_err *err);
/* Called (under the handle's lock: must not use this handle) once for each
 * row a snapshot rebuild leaves out because it is not authentic. */
void cfs_grants_set_report(struct cfs_grants *db,
			   void (*report)(void *arg, int64_t id, const char *path, const char *why),
			   void *arg);
/* Seal an older policy.db's rows that have no MAC (grants, open counters),
 * as they stand, under the handle's key: run once, by an administrator's
 * explicit upgrade, never automatically (a row without a MAC may be a
 * forgery: sealing it blesses it). Rows with a MAC, good or bad, are left
 * alone. A legacy approved_by with no approved_at stays pending (it was
 * never confirmed by the approver): it needs `coach-grant approve`.
 * *sealed = rows sealed. One transaction: all or nothing. */
int cfs_grants_seal_legacy(struct cfs_grants *db, int64_t *sealed, struct cfs_err *err);

/* The meta(key, value) table: 'format' (CFS_POLICYDB_FORMAT) and whatever the
 * daemon records (e.g. 'mountpoint'). get: -ENOENT when absent, -ENAMETOOLONG
 * when the value does not fit buf (buf is then ""). */
int cfs_grants_meta_set(struct cfs_grants *db, const char *key, const char *value,
			struct cfs_err *err);
int cfs_grants_meta_get(struct cfs_grants *db, const char *key, char *buf, size_t buflen,
			struct cfs_err *err);

/* Add a grant (rec->g.id set on return). Validation of subjects and limits is
 * the tool's; this only stores. */
int cfs_grants_add(struct cfs_grants *db, struct cfs_grant_rec *rec, struct cfs_err *err);
/* Same, but call before_commit(rec, arg) inside the write transaction once
 * rec->g.id is known; a non-zero (negative errno) return rolls the grant back
 * and is returned (before_commit fills err). Lets a caller make "grant stored"
 * and "grant audited" happen together: no grant is ever visible without its
 * audit row. The store's strings are rec's arrays; g's pointers are ignored
 * and re-pointed into rec on return. created = now when 0. */
int cfs_grants_add_ex(struct cfs_grants *db, struct cfs_grant_rec *rec,
		      int (*before_commit)(const struct cfs_grant_rec *rec, void *arg,
					   struct cfs_err *err),
		      void *arg, struct cfs_err *err);
int cfs_grants_revoke(struct cfs_grants *db, int64_t id, const char *by, const char *reason,
		      int64_t now, struct cfs_err *err);   /* -ENOENT unknown, -EALREADY revoked */
/* Record approver's confirmation of grant id: the row must be authentic
 * (-EBADMSG), pending (-EALREADY), not revoked (-EACCES), and approver must be
 * the named approver when one was named (-EPERM). Inside the write
 * transaction, check(rec, arg, err) sees the row as it will be stored; a
 * non-zero return rolls back and is returned (the caller's own checks and
 * its audit row go there, so the approval and its row commit together). */
int cfs_grants_approve(struct cfs_grants *db, int64_t id, const char *approver, int64_t now,
		       int (*check)(const struct cfs_grant_rec *rec, void *arg, struct cfs_err *err),
		       void *arg, struct cfs_err *err);
int cfs_grants_get(struct cfs_grants *db, int64_t id, struct cfs_grant_rec *rec, struct cfs_err *err);

/* For modules that keep their own sealed tables in policy.db (requests.c)
 * and must change them together with grants: fn runs under the handle's
 * lock with its connection and row MAC key (NULL when the handle has none).
 * write = 1: inside BEGIN IMMEDIATE (needs the key: -EPERM), committed when
 * fn returns 0 and rolled back otherwise; write = 0: no transaction. */
struct sqlite3;
struct sqlite3_stmt;
struct cfs_policydb;
struct cfs_grants_tx {
	struct cfs_grants *g;
	struct sqlite3 *db;
	const unsigned char *key;
	const char *file;              /* for messages */
	struct cfs_policydb *pdb;      /* db's owner: its statement helpers (policydb.h) */
};
int cfs_grants_txn(struct cfs_grants *db, int write,
		   int (*fn)(struct cfs_grants_tx *tx, void *arg, struct cfs_err *err), void *arg,
		   struct cfs_err *err);
/* Inside a write cfs_grants_txn: store rec as a new, sealed grant
 * (rec->g.id set). Unlike cfs_grants_add, approved_by and approved_at are
 * kept as given: for a grant whose approval was already decided (an
 * approved request, a break-glass). */
int cfs_grants_insert_tx(struct cfs_grants_tx *tx, struct cfs_grant_rec *rec, struct cfs_err *err);
/* Reading policy.db's rows, hostile: an integer column in [min, max] (NULL
 * gives def unless required) and a text column shorter than cap with no
 * NUL: NULL when good, else what is wrong. The MAC in column col against
 * want: a CFS_ROW_* state (CFS_ROW_NOKEY without a key). */
const char *cfs_db_col_int(struct sqlite3_stmt *st, int col, int required, int64_t min, int64_t max,
			   int64_t def, int64_t *out);
const char *cfs_db_col_text(struct sqlite3_stmt *st, int col, int required, char *dst, size_t cap);
int cfs_db_mac_state(const unsigned char *key, struct sqlite3_stmt *st, int col,
		     const unsigned char want[CFS_ROWMAC_BYTES]);

/* Iterate over grants, newest first; cb returns non-zero to stop. Rows that
 * are not authentic are passed too (rec->row_state says so); active_only
 * leaves them out. */
struct cfs_grants_filter {
	int active_only; int64_t now;
	const char *subject;           /* exact subject text, or NULL */
	const char *path;              /* grants covering this path, or NULL */
};
int cfs_grants_list(struct cfs_grants *db, const struct cfs_grants_filter *f,
		    int (*cb)(const struct cfs_grant_rec *rec, void *arg), void *arg,
		    struct cfs_err *err);

/* Daemon side: an in-memory snapshot of all unrevoked, unexpired, authentic grants,
 * refreshed only when the database changed (PRAGMA data_version). The
 * snapshot is immutable and reference-counted so decisions can use it
 * without holding a lock. */
struct cfs_grant_snap {
	size_t n;
	struct cfs_grant_rec *recs;
	int64_t built;                 /* cfs_now_s() when built: holds grants with end > built */
	_Atomic long refs;             /* owned by grants.c: the handle's + each caller's */
};
/* Each call returns a reference the caller drops with cfs_grants_snap_put;
 * the same snapshot is returned until policy.db changes. Snapshot grants may
 * have expired since it was built (cfs_decide checks time); opens_used is 0. */
int cfs_grants_snapshot(struct cfs_grants *db, struct cfs_grant_snap **out, struct cfs_err *err);
void cfs_grants_snap_put(struct cfs_grant_snap *snap);

/* Opens of `path` under grant id so far (0 when none); -EBADMSG when the
 * counter is not authentic. */
int cfs_grants_opens(struct cfs_grants *db, int64_t id, const char *path, uint32_t *used,
		     struct cfs_err *err);
/* Count one open of path under grant id, atomically refusing (-EDQUOT) when
 * limit (> 0) opens were already used, and (-EBADMSG) when the grant's row or
 * any of its counters is not authentic or a counter went missing. *used is
 * the count after. */
int cfs_grants_count_open(struct cfs_grants *db, int64_t id, const char *path, uint32_t limit,
			  uint32_t *used, struct cfs_err *err);
/* Give back one open counted by cfs_grants_count_open (the open was then
 * refused after all, e.g. its audit row could not be committed). The count
 * never goes below 0. 0 or a negative errno. */
int cfs_grants_uncount_open(struct cfs_grants *db, int64_t id, const char *path,
			    struct cfs_err *err);

#endif
