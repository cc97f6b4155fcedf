/* policydb.h — policy.db's one owner: opening it with every defence applied
 * once, its whole schema (grants, opens, meta, links, requests, with the
 * columns later formats added), created and migrated once per open, its
 * meta table, and the statement helpers grants.c, links.c and requests.c
 * share over a connection. It must never interpret a row (the table's
 * module does), never hold a key and never print. */
#ifndef COACHFS_POLICYDB_H
#define COACHFS_POLICYDB_H

#include <stddef.h>
#include <stdint.h>
#include "coachfs/util.h"

#define CFS_POLICYDB_FORMAT 1        /* meta 'format': the schema version this code reads */

/* How to open: none of them = an existing policy.db, read-write, migrated
 * in place when it lacks a table or column this code uses. */
enum cfs_policydb_flags {
	CFS_PDB_CREATE = 1,          /* create the file (0600) and the schema when absent */
	CFS_PDB_SCHEMA = 2,          /* the file must exist; create the schema when absent */
	CFS_PDB_RDONLY = 4,          /* read only: nothing created or migrated (refused when
					a migration is due) */
};

struct cfs_policydb;
struct sqlite3;
struct sqlite3_stmt;

/* Open policy.db at path: a symbolic link or anything but a regular file is
 * refused; the connection is defensive (SQLITE_DBCONFIG_DEFENSIVE,
 * trusted_schema OFF: a hostile schema runs no function for us), waits 5 s
 * on a lock, uses WAL with synchronous FULL and extended result codes. A
 * file with no meta table or no format is not a policy database (-EIO)
 * unless a flag says to create the schema; a format other than
 * CFS_POLICYDB_FORMAT is refused (-EIO) before anything is written. The
 * handle is not locked: its user guards the connection. */
int cfs_policydb_open(const char *path, int flags, struct cfs_policydb **out,
		      struct cfs_err *err);
void cfs_policydb_close(struct cfs_policydb *p);
struct sqlite3 *cfs_policydb_conn(const struct cfs_policydb *p);
const char *cfs_policydb_file(const struct cfs_policydb *p);   /* for messages */

/* meta(key, value): get is -ENOENT when absent, -ENAMETOOLONG when the value
 * does not fit buf (buf is then ""), -EIO when it is not text. */
int cfs_policydb_meta_get(struct cfs_policydb *p, const char *key, char *buf, size_t buflen,
			  struct cfs_err *err);
int cfs_policydb_meta_set(struct cfs_policydb *p, const char *key, const char *value,
			  struct cfs_err *err);

/* Statement helpers. Each error is "FILE: what: SQLite's message" with the
 * errno of cfs_sqlite_errno(rc). */
int cfs_policydb_err(struct cfs_policydb *p, int rc, const char *what, struct cfs_err *err);
int cfs_policydb_exec(struct cfs_policydb *p, const char *sql, const char *what,
		      struct cfs_err *err);
int cfs_policydb_prepare(struct cfs_policydb *p, const char *sql, const char *what,
			 struct sqlite3_stmt **st, struct cfs_err *err);
/* Step a query: 1 a row, 0 done, or the error. */
int cfs_policydb_step(struct cfs_policydb *p, struct sqlite3_stmt *st, const char *what,
		      struct cfs_err *err);
/* Step (and finalize) an UPDATE of exactly one row: 0, the error, or -EIO
 * "FILE: ROW ID vanished" when no row changed (row: "grant ", "link L"). */
int cfs_policydb_update_one(struct cfs_policydb *p, struct sqlite3_stmt *st, const char *what,
			    const char *row, int64_t id, struct cfs_err *err);
/* BEGIN IMMEDIATE; and the end of that transaction: COMMIT when rc is 0,
 * else ROLLBACK. Returns rc, or the commit's error. */
int cfs_policydb_begin(struct cfs_policydb *p, const char *what, struct cfs_err *err);
int cfs_policydb_end(struct cfs_policydb *p, int rc, const char *what, struct cfs_err *err);
/* Text, or NULL for NULL and "". An integer, or NULL for 0 when null_zero. */
void cfs_policydb_bind_text(struct sqlite3_stmt *st, int i, const char *s);
void cfs_policydb_bind_int(struct sqlite3_stmt *st, int i, int64_t v, int null_zero);

#endif
