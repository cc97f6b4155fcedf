/* audit.h — the tamper-evident audit database (README, "Audit log").
 * audit.c owns audit.db: the schema, the synchronous appender, the batched
 * read-row writer thread, the BLAKE2b hash chain, counted and chained
 * Ed25519 checkpoints, their one-line heads, and verification. It must never record a key, passphrase, file content or link
 * token, and never report success for a row it did not commit. */
#ifndef COACHFS_AUDIT_H
#define COACHFS_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include "coachfs/action.h"
#include "coachfs/util.h"

#define CFS_AUDIT_PK_BYTES 32   /* crypto_sign_PUBLICKEYBYTES */
#define CFS_AUDIT_SK_BYTES 64   /* crypto_sign_SECRETKEYBYTES */

/* One row. NULL strings and CFS_AUDIT_NONE integers are stored as SQL NULL. */
#define CFS_AUDIT_NONE INT64_MIN
struct cfs_event {
	int64_t ts;            /* microseconds; 0 = now, set by the appender */
	const char *host;      /* NULL = this host's name */
	int64_t uid;           /* CFS_AUDIT_NONE allowed */
	const char *user;
	int64_t pid;
	const char *exe;
	enum cfs_action action; /* required; stored as its name (action.h) */
	const char *path;
	const char *result;    /* "allow" "flag" "deny" "error" — required */
	const char *reason;
	int64_t grant_id;      /* CFS_AUDIT_NONE = NULL */
	int64_t offset;        /* CFS_AUDIT_NONE = NULL */
	int64_t length;        /* CFS_AUDIT_NONE = NULL */
};
/* An event with every integer NULL, every string NULL and no action. */
void cfs_event_init(struct cfs_event *ev);

struct cfs_audit;

/* Open (create = 1: create the file and schema if absent) audit.db in WAL
 * mode. The handle remembers the file's identity (device, inode) and every
 * append first checks that the path still names that same, linked file. */
int cfs_audit_open(const char *path, int create, struct cfs_audit **out, struct cfs_err *err);

/* Append one row and commit it before returning (BEGIN IMMEDIATE, last hash
 * read inside the transaction). Any failure: a negative errno (-EBUSY when
 * locked past the busy timeout, see cfs_sqlite_errno; else -EIO) and err
 * says why; the caller must then refuse the operation (fail closed).
 * Thread-safe. */
int cfs_audit_append(struct cfs_audit *a, const struct cfs_event *ev, struct cfs_err *err);

/* Start the writer thread: queued rows are committed in batches at most
 * flush_ms after queuing; with a signing key (64 bytes, copied into secure
 * memory; see cfs_audit_set_key, which this calls) it also signs a
 * checkpoint at least every 5 s while rows arrive. */
int cfs_audit_start(struct cfs_audit *a, uint32_t flush_ms, const unsigned char *sign_sk,
		    struct cfs_err *err);

/* Queue a row (strings copied). Never blocks for long: when the queue is
 * full it waits for the writer. -EIO once the writer has failed. */
int cfs_audit_queue(struct cfs_audit *a, const struct cfs_event *ev);

/* Commit everything queued now (used before a synchronous row, at unmount). */
int cfs_audit_flush(struct cfs_audit *a, struct cfs_err *err);

/* Sign a checkpoint over the last row now (needs the signing key), unless
 * the newest checkpoint already covers it. Never over a tampered log: -EIO
 * when the newest checkpoint does not hold (bad signature, its event
 * missing or rewritten) or events exist with no checkpoint at all. */
int cfs_audit_checkpoint(struct cfs_audit *a, struct cfs_err *err);

/* Give the handle the signing key (64 bytes, copied into secure memory)
 * without starting the writer (coach-admin init). An empty log with no
 * checkpoint is sealed at once (checkpoint seq 1, last_id 0), so a log with
 * events and no checkpoint is always a tampered one; a log that is tampered
 * in the ways cfs_audit_checkpoint refuses is refused here (-EIO, key not
 * kept). 0, or -EINVAL for a malformed key, -EALREADY. */
int cfs_audit_set_key(struct cfs_audit *a, const unsigned char *sign_sk, struct cfs_err *err);

/* Called with the head line (cfs_audit_head_format) of every checkpoint this
 * handle signs, after it is committed and with no lock held, from whichever
 * thread signed it (the writer's included). The daemon sends it to syslog. */
int cfs_audit_set_head_hook(struct cfs_audit *a, void (*fn)(const char *line, void *arg),
			    void *arg);

/* Flush, final checkpoint, stop the writer, close. NULL-safe. Returns the
 * first error met, having still closed everything. */
int cfs_audit_close(struct cfs_audit *a, struct cfs_err *err);

/* A signed checkpoint of format 2, as an auditor pins it ("head"). The
 * signature covers a format tag, seq (1, 2, 3... with no gaps), last_id,
 * last_hash, ts and prev (BLAKE2b-256 of the previous checkpoint's signed
 * bytes; zeros for the first), so deleting, reordering or inserting
 * checkpoints breaks the checkpoint chain. last_id 0 (an empty log, signed
 * by coach-admin init) seals no event. */
#define CFS_AUDIT_HASH_BYTES 32
#define CFS_AUDIT_SIG_BYTES 64
/* "coachfs-audit-head-2 seq=.. last_id=.. ts=.. last_hash=<64 hex>
 *  prev=<64 hex> sig=<128 hex>" on one line: at most this many bytes. */
#define CFS_AUDIT_HEAD_LINE_MAX 512
struct cfs_audit_head {
	int64_t seq;
	int64_t last_id;
	int64_t ts;              /* microseconds, when it was signed */
	unsigned char last_hash[CFS_AUDIT_HASH_BYTES];
	unsigned char prev[CFS_AUDIT_HASH_BYTES];
	unsigned char sig[CFS_AUDIT_SIG_BYTES];
};
/* The one-line text form (no newline); out must hold
 * CFS_AUDIT_HEAD_LINE_MAX bytes. */
void cfs_audit_head_format(const struct cfs_audit_head *h, char *out, size_t cap);
/* Parse one line (trailing newline/space allowed; fields in any order, each
 * exactly once). 0 or -EINVAL with err saying what is wrong. The signature
 * is not checked here (cfs_audit_head_check does). */
int cfs_audit_head_parse(const char *line, struct cfs_audit_head *h, struct cfs_err *err);
/* 0 if h is signed by pk, else -EBADMSG. */
int cfs_audit_head_check(const struct cfs_audit_head *h, const unsigned char pk[CFS_AUDIT_PK_BYTES]);

/* Verify a database (may be a copy) with only the public key.
 * Returns 0 when the chain, every checkpoint and the checkpoint chain hold,
 * some valid checkpoint exists whenever events do, and every pinned head is
 * still in the log; -EBADMSG with report->first_bad set and err naming the
 * first bad event (or checkpoint) otherwise. */
struct cfs_verify_report {
	int64_t rows;            /* rows checked */
	int64_t checkpoints;     /* checkpoints checked */
	int64_t checkpoints_v1;  /* of which old-format (no seq, not chained) */
	int64_t last_sealed_id;  /* id covered by the newest valid checkpoint */
	int64_t unsealed;        /* rows after it */
	int64_t first_bad;       /* first event id that does not hold, 0 if none */
	int64_t pins;            /* pinned heads found in the log */
	int has_head;            /* head below is set: the newest valid format-2 checkpoint */
	struct cfs_audit_head head;
	int64_t newest_ts;       /* the newest valid checkpoint's time (any format), 0 none */
};
int cfs_audit_verify(const char *path, const unsigned char pk[CFS_AUDIT_PK_BYTES],
		     struct cfs_verify_report *report, struct cfs_err *err);
/* The same, and each of pins[0..npins) must still be in the log: the very
 * checkpoint of that seq with the same signed fields (a log truncated or
 * rolled back to an older checkpoint fails here, naming what is missing).
 * Pins not signed by pk: -EINVAL (a bad pin, not a bad log). */
int cfs_audit_verify_pinned(const char *path, const unsigned char pk[CFS_AUDIT_PK_BYTES],
			    const struct cfs_audit_head *pins, size_t npins,
			    struct cfs_verify_report *report, struct cfs_err *err);

/* The canonical encoding hashed into the chain (exposed for tests/fuzzing):
 * every column in fixed order, each length-prefixed. Returns the length
 * needed; writes at most cap bytes. */
size_t cfs_audit_encode(const struct cfs_event *ev, int64_t id, unsigned char *buf, size_t cap);

/* ---- Additions (audit.c owns these too) ---- */

/* Seal rows within this many milliseconds of their commit (default 5000;
 * tests use less). Call before cfs_audit_start. 0 or -EINVAL (0 or > 1 h). */
int cfs_audit_set_checkpoint_interval(struct cfs_audit *a, uint32_t ms);

/* How long an append waits for another process's write lock before it
 * fails (default 2000 ms, which the daemon keeps: its synchronous rows fail
 * closed). The wait polls every 250 us, so it wins the short gaps another
 * writer leaves between batches. Tools that append one row (coach-grant,
 * coach-audit) wait longer. 0, or -EINVAL (0, > 60000, read-only handle). */
int cfs_audit_set_busy_timeout(struct cfs_audit *a, uint32_t ms);

/* Synchronous rows (cfs_audit_append) committed so far, and in how many
 * transactions: rows appended by several threads at once share one (a group
 * commit). For tests and diagnostics. */
void cfs_audit_group_stats(struct cfs_audit *a, unsigned long *rows, unsigned long *commits);

/* The audit public key file: "<dbpath>.pub", 64 lowercase hex chars and a
 * newline, written atomically (0644). */
int cfs_audit_write_pubkey(const char *dbpath, const unsigned char pk[CFS_AUDIT_PK_BYTES],
			   struct cfs_err *err);
/* pk from 64 hex chars given directly, else from the file of that name
 * (64 hex chars, optional trailing newline). 0, or -EINVAL/-ENOENT/... */
int cfs_audit_read_pubkey(const char *file_or_hex, unsigned char pk[CFS_AUDIT_PK_BYTES],
			  struct cfs_err *err);

/* Reading the log (coach-audit). A read-only handle: queries only; append,
 * queue, flush, checkpoint return -EACCES. Works on a copy. */
int cfs_audit_open_ro(const char *path, struct cfs_audit **out, struct cfs_err *err);

/* Filter: every set member must match. */
struct cfs_audit_filter {
	const char *path;      /* NULL or "/" = all; else this path and everything under it */
	int64_t since_us;      /* CFS_AUDIT_NONE = unbounded; ts >= since_us */
	int64_t until_us;      /* CFS_AUDIT_NONE = unbounded; ts <  until_us */
	const char *user;      /* NULL = any */
	int has_action;        /* 0 = any action; else only rows of action */
	enum cfs_action action;
	const char *result;
	int64_t after_id;      /* 0 = from the first event; else only ids > after_id */
};
void cfs_audit_filter_init(struct cfs_audit_filter *f);

/* One stored row as read back. Strings point into SQLite's memory and are
 * valid only during the callback; they are whatever the (possibly hostile)
 * file holds, so escape them before printing. The action column is kept as
 * stored in action (NULL for SQL NULL), which is what to show; ev.action is
 * the action it names, or CFS_ACT_COUNT when it names none this version
 * knows (a forged row, or one from a newer version): such a row is shown
 * and counted like any other, never dropped. */
struct cfs_audit_row {
	int64_t id;
	struct cfs_event ev;
	const char *action;
	unsigned char prev_hash[32], hash[32];
	size_t prev_hash_len, hash_len;   /* bytes actually stored (<= 32 shown) */
};

/* Rows matching f in id order; cb returns non-zero to stop (that value is
 * returned). 0 or -errno. */
int cfs_audit_query(struct cfs_audit *a, const struct cfs_audit_filter *f,
		    int (*cb)(const struct cfs_audit_row *row, void *arg), void *arg,
		    struct cfs_err *err);

/* Grouped counts of rows matching f. ACTION_RESULT: key = action, key2 =
 * result, ordered by action, result. USER: key = user (NULL for none),
 * ordered by count desc. PATH: key = path, count desc. limit 0 = all. */
enum cfs_audit_group { CFS_AUDIT_BY_ACTION_RESULT, CFS_AUDIT_BY_USER, CFS_AUDIT_BY_PATH };
int cfs_audit_count(struct cfs_audit *a, const struct cfs_audit_filter *f,
		    enum cfs_audit_group g, int64_t limit,
		    int (*cb)(const char *key, const char *key2, int64_t n, void *arg), void *arg,
		    struct cfs_err *err);

/* Counts of rows matching f grouped by any of user, path, action and
 * result (keys, in the order given; nkeys 0..4) and, when bucket_us > 0,
 * by time bucket ts / bucket_us. cb gets the key values (NULL for SQL
 * NULL; valid only during the call), the bucket (0 without one) and the
 * count; rows come by count descending, then keys and bucket ascending.
 * cb returns non-zero to stop (that value is returned). 0 or -errno. */
enum cfs_audit_key { CFS_AUDIT_KEY_USER, CFS_AUDIT_KEY_PATH, CFS_AUDIT_KEY_ACTION,
		     CFS_AUDIT_KEY_RESULT, CFS_AUDIT_KEY_COUNT };
int cfs_audit_group(struct cfs_audit *a, const struct cfs_audit_filter *f,
		    const enum cfs_audit_key *keys, size_t nkeys, int64_t bucket_us,
		    int (*cb)(const char *const *vals, int64_t bucket, int64_t n, void *arg),
		    void *arg, struct cfs_err *err);

#endif
