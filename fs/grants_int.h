/* grants_int.h — what grants.c and its pieces (grants_db.c, grants_read.c,
 * grants_opens.c) share: the handle and the helpers over its connection.
 * Private to those files: nothing else includes it. Every helper expects
 * the handle's lock held unless it says otherwise. */
#ifndef COACHFS_GRANTS_INT_H
#define COACHFS_GRANTS_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include "coachfs/grants.h"
#include "coachfs/policydb.h"

#define UGID_MAX 0xfffffffeu /* (uid_t)-1 is "no id", never a subject */

struct cfs_grants {
	struct cfs_policydb *pdb;      /* the connection and its schema */
	sqlite3 *db;                   /* pdb's connection */
	pthread_mutex_t mu;            /* guards db, the statements and the cache */
	const char *file;              /* pdb's path, for messages */
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

/* A SELECT of every grant column followed by tail ("WHERE id = ?1",
 * "ORDER BY id"). */
int cfs_gr_select(struct cfs_grants *g, const char *tail, sqlite3_stmt **st, struct cfs_err *err);

/* grants_db.c: errors, statements, transactions. */
int cfs_gr_db_err(struct cfs_grants *g, int rc, const char *what, struct cfs_err *err);
int cfs_gr_exec(struct cfs_grants *g, const char *sql, const char *what, struct cfs_err *err);
int cfs_gr_prepare(struct cfs_grants *g, const char *sql, sqlite3_stmt **st, struct cfs_err *err);
int cfs_gr_need_key(struct cfs_grants *g, struct cfs_err *err);
/* grants.c: rows. */
int cfs_gr_row_to_rec(struct cfs_grants *g, sqlite3_stmt *st, struct cfs_grant_rec *rec, struct cfs_err *err);
void cfs_gr_point_into(struct cfs_grant_rec *rec);
int cfs_gr_read_rec(struct cfs_grants *g, int64_t id, struct cfs_grant_rec *rec, struct cfs_err *err);
int cfs_gr_store_mac(struct cfs_grants *g, const struct cfs_grant_rec *rec, struct cfs_err *err);
int cfs_gr_mac_state(struct cfs_grants *g, sqlite3_stmt *st, int col, const unsigned char want[CFS_ROWMAC_BYTES]);

#define db_err cfs_gr_db_err
#define exec cfs_gr_exec
#define prepare cfs_gr_prepare
#define need_key cfs_gr_need_key
#define row_to_rec cfs_gr_row_to_rec
#define point_into cfs_gr_point_into
#define read_rec cfs_gr_read_rec
#define store_mac cfs_gr_store_mac
#define mac_state cfs_gr_mac_state
#define col_int cfs_db_col_int
#define col_text cfs_db_col_text

#endif
