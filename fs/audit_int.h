/* audit_int.h — what the audit module's files (fs/audit*.c) share: the
 * handle, the queued event, the hashed column values and the constants of
 * the formats. Never included outside fs/audit*.c: everything else goes
 * through include/coachfs/audit.h. */
#ifndef COACHFS_AUDIT_INT_H
#define COACHFS_AUDIT_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/types.h>

#include "coachfs/audit.h"

#define HASH_BYTES 32
#define SIG_BYTES 64
#define NCOLS 14                 /* columns hashed: id .. length */
#define QUEUE_CAP 65536          /* queued rows before cfs_audit_queue waits */
#define QUEUE_HIGH 8192          /* wake the writer early at this depth */
/* Lock fairness: other processes (coach-grant, coach-audit) append to the
 * same file. One transaction commits at most BATCH_MAX queued rows (~20 ms
 * of the write lock), and once this handle has held the lock for RUN_MAX_US
 * in transactions less than RUN_BREAK_US apart (full batches, or opens from
 * many threads at once), it keeps off the lock for GAP_US: a process polling every
 * BUSY_POLL_US then gets it in between, even while the daemon is saturated. */
#ifndef BATCH_MAX
#define BATCH_MAX 4096
#endif
#ifndef GAP_US
#define GAP_US 1000
#endif
#define RUN_MAX_US 10000
/* A pause this long between transactions ends a run: a process polling
 * every BUSY_POLL_US finds such pauses often enough. Without it, a single
 * caller's stream of opens (one short transaction every ~100 us) would
 * count as a run and pay GAP_US every RUN_MAX_US (~10% of open+close). */
#define RUN_BREAK_US 100
#define BUSY_POLL_US 250         /* a waiting appender retries this often */
#define CHECKPOINT_MS 5000
#define RETRY_MS 200             /* writer retry after a failed batch */
#define BUSY_TIMEOUT_MS 2000     /* a lock held longer than this fails closed */
#define BUSY_MAX_MS 60000        /* the longest wait cfs_audit_set_busy_timeout allows */
#define FIELD_MAX 65536          /* longest text field accepted */
#define FORMAT "coachfs-audit-1"

/* The checkpoint contexts are signed with their NUL. */
#define CP_CONTEXT_TEXT "coachfs audit checkpoint v1"
#define CP2_CONTEXT_TEXT "coachfs audit checkpoint v2"
#define HEAD_TAG_TEXT "coachfs-audit-head-2"
extern const char CFS_AUD_CP_CONTEXT[sizeof CP_CONTEXT_TEXT];
extern const char CFS_AUD_CP2_CONTEXT[sizeof CP2_CONTEXT_TEXT];
extern const char CFS_AUD_HEAD_TAG[sizeof HEAD_TAG_TEXT];
#define CP_MSG_BYTES (sizeof CFS_AUD_CP_CONTEXT + 8 + HASH_BYTES + 8)
#define CP2_MSG_BYTES (sizeof CFS_AUD_CP2_CONTEXT + 8 + 8 + HASH_BYTES + 8 + HASH_BYTES)

enum { TAG_NULL = 0, TAG_INT = 1, TAG_TEXT = 2 };

/* One column value as hashed. */
struct val {
	int tag;
	int64_t i;
	const unsigned char *p;
	size_t n;
};

/* A synchronous row waiting for its group commit (audit_group.c): on the
 * waiting thread's stack, in the list under q_mu; done, rc and err are
 * written and read under db_mu. */
struct cfs_aud_ticket {
	const struct cfs_event *ev;
	struct cfs_aud_ticket *next;
	int done, rc;
	struct cfs_err err;
};

/* A queued event: the struct and its strings in one allocation. */
struct qev {
	int64_t qtime_ms;            /* monotonic, when queued */
	struct cfs_event ev;
	char data[];
};

struct cfs_audit {
	char *path;                  /* absolute */
	int readonly;
	char host[256];
	sqlite3 *db;
	sqlite3_stmt *st_insert, *st_head, *st_begin, *st_commit, *st_rollback;
	sqlite3_stmt *st_cp_head, *st_cp_insert, *st_row_hash;
	unsigned char pk[CFS_AUDIT_PK_BYTES]; /* the signing key's public half */
	void (*head_hook)(const char *line, void *arg);   /* set before use, then read-only */
	void *head_arg;
	int fd;                      /* O_PATH on the database file (see check_identity) */
	dev_t dev;
	ino_t ino;
	uint32_t busy_ms;            /* wait this long for the write lock, then fail */
	int64_t busy_since_us;       /* when the current wait began, under db_mu */
	int64_t run_start_us;        /* the current run of transactions began, under db_mu */
	int64_t last_end_us;         /* the last transaction ended, under db_mu */

	pthread_mutex_t db_mu;       /* all database access; taken before q_mu */
	unsigned char *enc;          /* encoding buffer, under db_mu */
	size_t enc_cap;
	struct qev **batch;          /* QUEUE_CAP slots, under db_mu */
	unsigned char *sk;           /* sodium_malloc'd signing key or NULL */

	pthread_mutex_t q_mu;        /* the queue and the writer's state */
	pthread_cond_t q_wake;       /* writer: something to do */
	pthread_cond_t q_space;      /* producers: room in the queue / writer failed */
	struct qev **ring;
	size_t head, count;
	int64_t unsealed_since_ms;   /* first commit not yet under a checkpoint; 0 = none */
	int64_t retry_at_ms;
	struct cfs_aud_ticket *g_head, *g_tail; /* synchronous rows waiting for a group commit */
	unsigned long g_rows, g_commits;        /* group commits so far, under db_mu */
	int running, stop, failed;
	pthread_t thread;
	uint32_t flush_ms, cp_ms;
};


extern const char cfs_aud_schema[];
extern const char cfs_aud_sql_insert[];
extern const char cfs_aud_sql_head[];
extern const char cfs_aud_sql_cp_head[];
extern const char cfs_aud_sql_cp_insert[];
#define SQL_ALL_TEXT \
	"SELECT id, ts, host, uid, user, pid, exe, action, path, result, reason, grant_id," \
	" \"offset\", length, prev_hash, hash FROM events"
extern const char cfs_aud_sql_all[sizeof SQL_ALL_TEXT];

int64_t cfs_aud_mono_ms(void);
int64_t cfs_aud_mono_us(void);
void cfs_aud_sleep_us(int64_t us);
void cfs_aud_finalize_all(struct cfs_audit *a);
void cfs_aud_free_handle(struct cfs_audit *a);
int cfs_aud_open_ro_db(const char *path, sqlite3 **out, struct cfs_err *err);
int cfs_aud_check_format(sqlite3 *db, const char *path, struct cfs_err *err);
int cfs_aud_has_cp2_columns(sqlite3 *db);
int cfs_aud_exec_sql(sqlite3 *db, const char *sql);
int cfs_aud_dberr(struct cfs_audit *a, struct cfs_err *err, const char *what);
/* cfs_aud_drain_locked with db_mu taken and released. */
int cfs_aud_drain(struct cfs_audit *a, const struct cfs_event *const *sync, size_t nsync,
		  struct cfs_err *err, int *more);
/* Caller holds db_mu (audit_db.c). */
int cfs_aud_drain_locked(struct cfs_audit *a, const struct cfs_event *const *sync, size_t nsync,
			 struct cfs_err *err, int *more);
/* Commit ev before returning, in one transaction with whatever other
 * threads' synchronous rows arrived meanwhile (audit_group.c). */
int cfs_aud_group_commit(struct cfs_audit *a, const struct cfs_event *ev, struct cfs_err *err);
int cfs_aud_checkpoint_locked(struct cfs_audit *a, int empty_only, struct cfs_audit_head *out,
			     int *signed_out, struct cfs_err *err);
void cfs_aud_announce(struct cfs_audit *a, const struct cfs_audit_head *h);
void cfs_aud_event_vals(const struct cfs_event *ev, int64_t id, struct val v[NCOLS]);
void cfs_aud_chain_hash(const unsigned char prev[HASH_BYTES], const unsigned char *enc, size_t n,
		       unsigned char out[HASH_BYTES]);
int cfs_aud_encode_grow(const struct val v[NCOLS], unsigned char **buf, size_t *cap, size_t *len);
void cfs_aud_cp_message(int64_t last_id, const unsigned char last_hash[HASH_BYTES], int64_t ts,
		       unsigned char msg[CP_MSG_BYTES]);
void cfs_aud_cp2_message(const struct cfs_audit_head *h, unsigned char msg[CP2_MSG_BYTES]);
void cfs_aud_msg_hash(const unsigned char *msg, size_t n, unsigned char out[HASH_BYTES]);
int cfs_aud_row_hash(sqlite3_stmt *ev, int64_t id, unsigned char out[HASH_BYTES]);

#endif
