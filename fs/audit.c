/* audit.c — audit.db (DESIGN §6): the schema, the synchronous appender, the
 * bounded queue and its batched writer thread, the BLAKE2b-256 hash chain,
 * Ed25519-signed checkpoints, verification and the read queries coach-audit
 * uses.
 * It must never record a key, passphrase, file content or link token, never
 * report success for a row it did not commit, never write to a database file
 * other than the one it opened (fail closed), and never print.
 *
 * Chain: row.hash = BLAKE2b-256(prev_hash || cfs_audit_encode(row)), the first
 * row's prev_hash is 32 zero bytes. Every appender (the daemon and tools such
 * as coach-grant, in other processes) reads the chain head inside its own
 * BEGIN IMMEDIATE transaction, so the chain stays one line.
 *
 * Checkpoint (format 2): Ed25519 signature over CP2_CONTEXT || be64(seq) ||
 * be64(last_id) || last_hash || be64(ts) || prev, where seq counts 1, 2, 3...
 * and prev is BLAKE2b-256 of the previous checkpoint's signed bytes (zeros
 * for the first). It seals every row up to last_id: editing, deleting or
 * truncating them is then detected with only the public key; and deleting,
 * reordering or inserting checkpoints breaks the checkpoint chain. A log with
 * events but no valid checkpoint at all fails. Format 1 (CP_CONTEXT ||
 * be64(last_id) || last_hash || be64(ts), no seq, not chained) is still
 * verified in old databases; the first format-2 checkpoint chains to the
 * newest format-1 one, and a format-1 one after a format-2 one fails.
 * Rows after the newest checkpoint can be deleted (or rewritten, with a
 * recomputed chain) without detection, and so can a whole tail back to an
 * older checkpoint, unless an auditor pinned a newer head (verify with pins)
 * — that is why the writer signs at least every 5 s while rows arrive and at
 * close, and hands each head line to a hook (the daemon's syslog).
 */
#include "coachfs/audit.h"

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

static const char CP_CONTEXT[] = "coachfs audit checkpoint v1"; /* signed with its NUL */
static const char CP2_CONTEXT[] = "coachfs audit checkpoint v2"; /* signed with its NUL */
static const char HEAD_TAG[] = "coachfs-audit-head-2";

enum { TAG_NULL = 0, TAG_INT = 1, TAG_TEXT = 2 };

/* One column value as hashed. */
struct val {
	int tag;
	int64_t i;
	const unsigned char *p;
	size_t n;
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
	int running, stop, failed;
	pthread_t thread;
	uint32_t flush_ms, cp_ms;
};

/* ---------------------------------------------------------------- helpers */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(int64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* SQLite busy handler: retry every BUSY_POLL_US until busy_ms have passed
 * since the first refusal. SQLite's own busy_timeout sleeps up to 100 ms
 * between tries and so keeps missing the short gaps another process's
 * writer leaves between its batches. Runs with db_mu held (or in a tool,
 * single-threaded). */
static int busy_wait(void *arg, int tries)
{
	struct cfs_audit *a = arg;
	int64_t now = mono_us();
	if (tries == 0)
		a->busy_since_us = now;
	if (now - a->busy_since_us >= (int64_t)a->busy_ms * 1000)
		return 0;
	sleep_us(BUSY_POLL_US);
	return 1;
}

static void put_be32(unsigned char *p, uint32_t v)
{
	for (int k = 3; k >= 0; k--) {
		p[k] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int k = 7; k >= 0; k--) {
		p[k] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

void cfs_event_init(struct cfs_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->ts = CFS_AUDIT_NONE;
	ev->uid = ev->pid = ev->grant_id = ev->offset = ev->length = CFS_AUDIT_NONE;
}

void cfs_audit_filter_init(struct cfs_audit_filter *f)
{
	memset(f, 0, sizeof *f);
	f->since_us = f->until_us = CFS_AUDIT_NONE;
}

/* ---------------------------------------------------- canonical encoding */

/* Each column: tag (1 byte) || be32 length || payload. NULL: tag 0, length 0;
 * INTEGER: tag 1, length 8, be64 two's complement; TEXT: tag 2, its bytes.
 * Columns in fixed order: id ts host uid user pid exe action path result
 * reason grant_id offset length. Returns the bytes needed (0: a text longer
 * than 2^32-1), writing only what fits in cap. */
static size_t encode_vals(const struct val v[NCOLS], unsigned char *buf, size_t cap)
{
	size_t off = 0;
	for (int c = 0; c < NCOLS; c++) {
		unsigned char hdr[5 + 8];
		size_t plen = 0;
		const unsigned char *payload = NULL;
		hdr[0] = (unsigned char)v[c].tag;
		if (v[c].tag == TAG_INT) {
			put_be64(hdr + 5, (uint64_t)v[c].i);
			payload = hdr + 5;
			plen = 8;
		} else if (v[c].tag == TAG_TEXT) {
			if (v[c].n > UINT32_MAX)
				return 0;
			payload = v[c].p;
			plen = v[c].n;
		}
		put_be32(hdr + 1, (uint32_t)plen);
		if (off + 5 <= cap)
			memcpy(buf + off, hdr, 5);
		off += 5;
		if (plen && off + plen <= cap)
			memcpy(buf + off, payload, plen);
		off += plen;
	}
	return off;
}

static struct val vint(int64_t i)
{
	struct val v = { TAG_NULL, 0, NULL, 0 };
	if (i != CFS_AUDIT_NONE) {
		v.tag = TAG_INT;
		v.i = i;
	}
	return v;
}

static struct val vtext(const char *s)
{
	struct val v = { TAG_NULL, 0, NULL, 0 };
	if (s) {
		v.tag = TAG_TEXT;
		v.p = (const unsigned char *)s;
		v.n = strlen(s);
	}
	return v;
}

static void event_vals(const struct cfs_event *ev, int64_t id, struct val v[NCOLS])
{
	v[0] = vint(id);
	v[1] = vint(ev->ts);
	v[2] = vtext(ev->host);
	v[3] = vint(ev->uid);
	v[4] = vtext(ev->user);
	v[5] = vint(ev->pid);
	v[6] = vtext(ev->exe);
	v[7] = vtext(ev->action);
	v[8] = vtext(ev->path);
	v[9] = vtext(ev->result);
	v[10] = vtext(ev->reason);
	v[11] = vint(ev->grant_id);
	v[12] = vint(ev->offset);
	v[13] = vint(ev->length);
}

size_t cfs_audit_encode(const struct cfs_event *ev, int64_t id, unsigned char *buf, size_t cap)
{
	struct val v[NCOLS];
	event_vals(ev, id, v);
	return encode_vals(v, buf, cap);
}

static void chain_hash(const unsigned char prev[HASH_BYTES], const unsigned char *enc, size_t n,
		       unsigned char out[HASH_BYTES])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, HASH_BYTES);
	crypto_generichash_update(&st, prev, HASH_BYTES);
	crypto_generichash_update(&st, enc, n);
	crypto_generichash_final(&st, out, HASH_BYTES);
}

/* Encode into a growable buffer; 0 or -ENOMEM/-EINVAL. */
static int encode_grow(const struct val v[NCOLS], unsigned char **buf, size_t *cap, size_t *len)
{
	size_t n = encode_vals(v, *buf, *cap);
	if (n == 0)
		return -EINVAL;
	if (n > *cap) {
		size_t nc = n + 1024;
		unsigned char *nb = realloc(*buf, nc);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = nc;
		n = encode_vals(v, *buf, *cap);
	}
	*len = n;
	return 0;
}

#define CP_MSG_BYTES (sizeof CP_CONTEXT + 8 + HASH_BYTES + 8)
#define CP2_MSG_BYTES (sizeof CP2_CONTEXT + 8 + 8 + HASH_BYTES + 8 + HASH_BYTES)

static void cp_message(int64_t last_id, const unsigned char last_hash[HASH_BYTES], int64_t ts,
		       unsigned char msg[CP_MSG_BYTES])
{
	memcpy(msg, CP_CONTEXT, sizeof CP_CONTEXT);
	put_be64(msg + sizeof CP_CONTEXT, (uint64_t)last_id);
	memcpy(msg + sizeof CP_CONTEXT + 8, last_hash, HASH_BYTES);
	put_be64(msg + sizeof CP_CONTEXT + 8 + HASH_BYTES, (uint64_t)ts);
}

static void cp2_message(const struct cfs_audit_head *h, unsigned char msg[CP2_MSG_BYTES])
{
	unsigned char *p = msg;
	memcpy(p, CP2_CONTEXT, sizeof CP2_CONTEXT);
	p += sizeof CP2_CONTEXT;
	put_be64(p, (uint64_t)h->seq);
	put_be64(p + 8, (uint64_t)h->last_id);
	memcpy(p + 16, h->last_hash, HASH_BYTES);
	put_be64(p + 16 + HASH_BYTES, (uint64_t)h->ts);
	memcpy(p + 24 + HASH_BYTES, h->prev, HASH_BYTES);
}

/* What the next checkpoint's prev holds: the hash of these signed bytes. */
static void msg_hash(const unsigned char *msg, size_t n, unsigned char out[HASH_BYTES])
{
	crypto_generichash(out, HASH_BYTES, msg, n, NULL, 0);
}

/* ------------------------------------------------------------- database */

static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"INSERT OR IGNORE INTO meta(key, value) VALUES('format', '" FORMAT "');"
	"CREATE TABLE IF NOT EXISTS events("
	" id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, host TEXT, uid INTEGER, user TEXT,"
	" pid INTEGER, exe TEXT, action TEXT NOT NULL, path TEXT, result TEXT NOT NULL,"
	" reason TEXT, grant_id INTEGER, \"offset\" INTEGER, length INTEGER,"
	" prev_hash BLOB NOT NULL, hash BLOB NOT NULL);"
	"CREATE INDEX IF NOT EXISTS events_path ON events(path, id);"
	"CREATE INDEX IF NOT EXISTS events_user ON events(user, id);"
	/* Per-action lookups only for the rare actions: reads are nearly every
	 * row, and indexing them cost 18% of the writer's time per row. Queries
	 * filtering on another action add the same term (filter_sql) so that
	 * SQLite can use this partial index. */
	"DROP INDEX IF EXISTS events_action;"
	"CREATE INDEX IF NOT EXISTS events_rare ON events(action, id) WHERE action <> 'read';"
	/* seq and prev: format-2 checkpoints (NULL in format-1 ones; older
	 * databases get the columns on their next writable open). */
	"CREATE TABLE IF NOT EXISTS checkpoints("
	" id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, last_id INTEGER NOT NULL,"
	" last_hash BLOB NOT NULL, sig BLOB NOT NULL, seq INTEGER, prev BLOB);"
	/* verify --head looks each pinned head up by seq */
	"CREATE INDEX IF NOT EXISTS checkpoints_seq ON checkpoints(seq);"
	/* Rows are never changed. This stops mistakes, not an attacker with the
	 * file (who can drop the triggers); verify catches the attacker. */
	"CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events"
	" BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;"
	"CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events"
	" BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;"
	"CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints"
	" BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;"
	"CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints"
	" BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;";

static const char SQL_INSERT[] =
	"INSERT INTO events(id, ts, host, uid, user, pid, exe, action, path, result, reason,"
	" grant_id, \"offset\", length, prev_hash, hash)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";
static const char SQL_HEAD[] = "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1";
static const char SQL_CP_HEAD[] =
	"SELECT id, last_id, ts, last_hash, seq, prev, sig FROM checkpoints ORDER BY id DESC LIMIT 1";
static const char SQL_CP_INSERT[] =
	"INSERT INTO checkpoints(id, ts, last_id, last_hash, sig, seq, prev)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";

static int exec_sql(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Step a statement that returns no rows; resets it. */
static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void rollback(struct cfs_audit *a)
{
	if (!sqlite3_get_autocommit(a->db))
		step_done(a->st_rollback);
}

static int dberr(struct cfs_audit *a, struct cfs_err *err, const char *what)
{
	return cfs_errf(err, -EIO, "audit database %s: %s: %s", a->path, what,
			sqlite3_errmsg(a->db));
}

/* Does the path still name the file we opened, and is it still linked?
 * The descriptor is O_PATH on purpose: closing an ordinary descriptor on the
 * database file would drop every POSIX lock this process holds on it,
 * including SQLite's (another handle's) — O_PATH descriptors hold no locks
 * and closing them releases none. SQLite's own view (HAS_MOVED) is checked
 * too, which closes the race between its open and ours. */
static int check_identity(struct cfs_audit *a, struct cfs_err *err)
{
	struct stat fs, ps;
	int moved = 0;
	if (stat(a->path, &ps) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return cfs_errf(err, -EIO, "audit database %s was deleted or moved away; "
					"refusing to record (fail closed)", a->path);
		return cfs_errf(err, -EIO, "audit database %s: %s; refusing to record (fail "
				"closed)", a->path, strerror(errno));
	}
	if (ps.st_dev != a->dev || ps.st_ino != a->ino)
		return cfs_errf(err, -EIO, "audit database %s was replaced by another file; "
				"refusing to record (fail closed)", a->path);
	if (fstat(a->fd, &fs) < 0)
		return cfs_errf(err, -EIO, "audit database %s: fstat: %s", a->path, strerror(errno));
	if (fs.st_nlink == 0)
		return cfs_errf(err, -EIO, "audit database %s was deleted; refusing to record "
				"(fail closed)", a->path);
	if (sqlite3_file_control(a->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK &&
	    moved)
		return cfs_errf(err, -EIO, "audit database %s was moved or replaced; refusing to "
				"record (fail closed)", a->path);
	return 0;
}

/* Read the chain head inside the current transaction. */
static int read_head(struct cfs_audit *a, int64_t *id, unsigned char hash[HASH_BYTES],
		     struct cfs_err *err)
{
	int rc = sqlite3_step(a->st_head);
	if (rc == SQLITE_DONE) {
		*id = 0;
		memset(hash, 0, HASH_BYTES);
		sqlite3_reset(a->st_head);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(a->st_head);
		return dberr(a, err, "cannot read the chain head");
	}
	*id = sqlite3_column_int64(a->st_head, 0);
	if (sqlite3_column_type(a->st_head, 1) != SQLITE_BLOB ||
	    sqlite3_column_bytes(a->st_head, 1) != HASH_BYTES || *id <= 0 || *id == INT64_MAX) {
		sqlite3_reset(a->st_head);
		return cfs_errf(err, -EIO, "audit database %s: the last event's hash is malformed; "
				"refusing to extend a broken chain", a->path);
	}
	memcpy(hash, sqlite3_column_blob(a->st_head, 1), HASH_BYTES);
	sqlite3_reset(a->st_head);
	return 0;
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static int bind_int(sqlite3_stmt *st, int i, int64_t v)
{
	return v == CFS_AUDIT_NONE ? sqlite3_bind_null(st, i) : sqlite3_bind_int64(st, i, v);
}

/* Insert one row after prev (inside a transaction); prev becomes its hash. */
static int insert_row(struct cfs_audit *a, const struct cfs_event *in, int64_t id,
		      unsigned char prev[HASH_BYTES], struct cfs_err *err)
{
	struct cfs_event ev = *in;
	struct val v[NCOLS];
	unsigned char h[HASH_BYTES];
	size_t n;
	sqlite3_stmt *st = a->st_insert;
	int rc;
	if (!ev.host)
		ev.host = a->host;
	event_vals(&ev, id, v);
	rc = encode_grow(v, &a->enc, &a->enc_cap, &n);
	if (rc < 0)
		return cfs_errf(err, -EIO, "audit database %s: cannot encode event: %s", a->path,
				strerror(-rc));
	chain_hash(prev, a->enc, n, h);
	if (sqlite3_bind_int64(st, 1, id) || sqlite3_bind_int64(st, 2, ev.ts) ||
	    bind_text(st, 3, ev.host) || bind_int(st, 4, ev.uid) || bind_text(st, 5, ev.user) ||
	    bind_int(st, 6, ev.pid) || bind_text(st, 7, ev.exe) || bind_text(st, 8, ev.action) ||
	    bind_text(st, 9, ev.path) || bind_text(st, 10, ev.result) ||
	    bind_text(st, 11, ev.reason) || bind_int(st, 12, ev.grant_id) ||
	    bind_int(st, 13, ev.offset) || bind_int(st, 14, ev.length) ||
	    sqlite3_bind_blob(st, 15, prev, HASH_BYTES, SQLITE_STATIC) ||
	    sqlite3_bind_blob(st, 16, h, HASH_BYTES, SQLITE_STATIC)) {
		sqlite3_reset(st);
		return dberr(a, err, "cannot bind event");
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return dberr(a, err, "cannot record event");
	memcpy(prev, h, HASH_BYTES);
	return 0;
}

/* Commit rows (queued ones, then an optional synchronous one) in one
 * transaction. Caller holds db_mu. */
static int write_rows(struct cfs_audit *a, struct qev *const *rows, size_t n,
		      const struct cfs_event *sync_ev, struct cfs_err *err)
{
	unsigned char prev[HASH_BYTES];
	int64_t id = 0;
	int rc = check_identity(a, err);
	if (rc < 0)
		return rc;
	if (step_done(a->st_begin) != SQLITE_OK)
		return dberr(a, err, "cannot begin a transaction");
	rc = read_head(a, &id, prev, err);
	for (size_t k = 0; rc == 0 && k < n; k++)
		rc = insert_row(a, &rows[k]->ev, ++id, prev, err);
	if (rc == 0 && sync_ev)
		rc = insert_row(a, sync_ev, ++id, prev, err);
	if (rc == 0 && step_done(a->st_commit) != SQLITE_OK)
		rc = dberr(a, err, "cannot commit");
	if (rc < 0)
		rollback(a);
	return rc;
}

/* Commit the oldest queued rows (at most BATCH_MAX), plus sync_ev if given,
 * in one transaction; *more (if given) says whether rows are still queued.
 * Rows leave the queue only once committed; on failure they stay queued
 * and the handle is marked failed until a later commit succeeds. A sync_ev
 * may thus be committed before rows queued earlier beyond the first
 * BATCH_MAX (their ts still says when they happened). */
static int drain(struct cfs_audit *a, const struct cfs_event *sync_ev, struct cfs_err *err,
		 int *more)
{
	size_t n;
	int rc, was_failed;
	int64_t now;
	if (more)
		*more = 0;
	pthread_mutex_lock(&a->db_mu);
	pthread_mutex_lock(&a->q_mu);
	n = a->count < BATCH_MAX ? a->count : BATCH_MAX;
	was_failed = a->failed;
	for (size_t k = 0; k < n; k++)
		a->batch[k] = a->ring[(a->head + k) % QUEUE_CAP];
	pthread_mutex_unlock(&a->q_mu);
	/* Nothing to write: done, unless the handle is marked failed — then an
	 * empty transaction (with the identity check) probes whether it can
	 * record again. */
	if (n == 0 && !sync_ev && !was_failed) {
		pthread_mutex_unlock(&a->db_mu);
		return 0;
	}
	/* After a long run of transactions, leave the lock to others a moment. */
	now = mono_us();
	if (now - a->last_end_us >= RUN_BREAK_US) {
		a->run_start_us = now;
	} else if (now - a->run_start_us >= RUN_MAX_US) {
		sleep_us(GAP_US - (now - a->last_end_us));
		a->run_start_us = mono_us();
	}
	rc = write_rows(a, a->batch, n, sync_ev, err);
	a->last_end_us = mono_us();
	pthread_mutex_lock(&a->q_mu);
	if (rc == 0) {
		a->head = (a->head + n) % QUEUE_CAP;
		a->count -= n;
		a->failed = 0;
		if (more)
			*more = a->count > 0;
		if (a->unsealed_since_ms == 0 && (n > 0 || sync_ev))
			a->unsealed_since_ms = mono_ms();
		pthread_cond_broadcast(&a->q_space);
	} else {
		a->failed = 1;
		a->retry_at_ms = mono_ms() + RETRY_MS;
		pthread_cond_broadcast(&a->q_space);
		pthread_cond_signal(&a->q_wake);   /* the writer schedules the retry */
	}
	pthread_mutex_unlock(&a->q_mu);
	if (rc == 0)
		for (size_t k = 0; k < n; k++)
			free(a->batch[k]);
	pthread_mutex_unlock(&a->db_mu);
	return rc;
}

/* The newest checkpoint, as the next one chains to it. */
struct cp_tail {
	int have;                        /* any checkpoint at all */
	int64_t id, last_id, seq;        /* seq 0: format 1 */
	unsigned char last_hash[HASH_BYTES];
	unsigned char prev_of_next[HASH_BYTES];
	int sig_ok;                      /* signed by this handle's key */
};

/* Read the newest checkpoint inside the current transaction; a malformed
 * one stops the signer (it would chain onto garbage): fail closed. */
static int read_cp_tail(struct cfs_audit *a, struct cp_tail *t, struct cfs_err *err)
{
	sqlite3_stmt *st = a->st_cp_head;
	int rc = 0, s = sqlite3_step(st);
	memset(t, 0, sizeof *t);
	if (s == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	if (s != SQLITE_ROW) {
		sqlite3_reset(st);
		return dberr(a, err, "cannot read the last checkpoint");
	}
	t->have = 1;
	t->id = sqlite3_column_int64(st, 0);
	t->last_id = sqlite3_column_int64(st, 1);
	int v2 = sqlite3_column_type(st, 4) != SQLITE_NULL;
	if (t->id < 0 || t->id == INT64_MAX || sqlite3_column_type(st, 1) != SQLITE_INTEGER ||
	    t->last_id < 0 || sqlite3_column_type(st, 2) != SQLITE_INTEGER ||
	    sqlite3_column_type(st, 3) != SQLITE_BLOB ||
	    sqlite3_column_bytes(st, 3) != HASH_BYTES ||
	    (v2 && (sqlite3_column_type(st, 4) != SQLITE_INTEGER ||
		    sqlite3_column_int64(st, 4) < 1 || sqlite3_column_int64(st, 4) == INT64_MAX ||
		    sqlite3_column_type(st, 5) != SQLITE_BLOB ||
		    sqlite3_column_bytes(st, 5) != HASH_BYTES)) ||
	    (!v2 && sqlite3_column_type(st, 5) != SQLITE_NULL) ||
	    sqlite3_column_type(st, 6) != SQLITE_BLOB || sqlite3_column_bytes(st, 6) != SIG_BYTES) {
		rc = cfs_errf(err, -EIO, "audit database %s: the last checkpoint is malformed; "
			      "refusing to extend a broken checkpoint chain", a->path);
	} else if (v2) {
		struct cfs_audit_head h;
		unsigned char msg[CP2_MSG_BYTES];
		memset(&h, 0, sizeof h);
		h.seq = t->seq = sqlite3_column_int64(st, 4);
		h.last_id = t->last_id;
		h.ts = sqlite3_column_int64(st, 2);
		memcpy(h.last_hash, sqlite3_column_blob(st, 3), HASH_BYTES);
		memcpy(h.prev, sqlite3_column_blob(st, 5), HASH_BYTES);
		cp2_message(&h, msg);
		msg_hash(msg, sizeof msg, t->prev_of_next);
		t->sig_ok = crypto_sign_verify_detached(sqlite3_column_blob(st, 6), msg, sizeof msg,
							a->pk) == 0;
	} else {
		unsigned char msg[CP_MSG_BYTES];
		cp_message(t->last_id, sqlite3_column_blob(st, 3), sqlite3_column_int64(st, 2), msg);
		msg_hash(msg, sizeof msg, t->prev_of_next);
		t->sig_ok = crypto_sign_verify_detached(sqlite3_column_blob(st, 6), msg, sizeof msg,
							a->pk) == 0;
	}
	if (rc == 0)
		memcpy(t->last_hash, sqlite3_column_blob(st, 3), HASH_BYTES);
	sqlite3_reset(st);
	return rc;
}

static int row_hash(sqlite3_stmt *ev, int64_t id, unsigned char out[HASH_BYTES]);

/* Never seal over a log whose newest checkpoint no longer holds (forged,
 * or its events deleted or rewritten), nor over events with no checkpoint
 * at all (the checkpoints deleted): a new signature would make the
 * tampered log verify. Inside the transaction. */
static int tail_holds(struct cfs_audit *a, const struct cp_tail *t, int64_t head_id,
		      struct cfs_err *err)
{
	unsigned char stored[HASH_BYTES];
	const char *why = NULL;
	char buf[96];
	int s;
	if (!t->have) {
		if (head_id == 0)
			return 0;
		return cfs_errf(err, -EIO, "audit database %s has %lld events but no checkpoint "
				"(checkpoints deleted?); refusing to seal over them: run coach-audit "
				"verify", a->path, (long long)head_id);
	}
	if (!t->sig_ok) {
		why = "its signature is bad";
	} else if (t->last_id > 0) {
		s = row_hash(a->st_row_hash, t->last_id, stored);
		if (s == -2)
			return dberr(a, err, "cannot read the event the last checkpoint sealed");
		if (s == 0) {
			snprintf(buf, sizeof buf, "event %lld is missing", (long long)t->last_id);
			why = buf;
		} else if (s < 0 || sodium_memcmp(stored, t->last_hash, HASH_BYTES) != 0) {
			snprintf(buf, sizeof buf, "event %lld was rewritten", (long long)t->last_id);
			why = buf;
		}
	}
	if (!why)
		return 0;
	return cfs_errf(err, -EIO, "audit database %s: the newest checkpoint (id %lld) does not "
			"hold: %s; refusing to seal over a tampered log: run coach-audit verify",
			a->path, (long long)t->id, why);
}

/* Sign a checkpoint over the chain head unless it is already sealed (a log
 * with no checkpoint at all gets one even when empty). empty_only: only
 * that first checkpoint of an empty log, nothing else. *signed_out: set to
 * 1 and *out filled when one was committed. Caller holds db_mu. */
static int checkpoint_locked(struct cfs_audit *a, int empty_only, struct cfs_audit_head *out,
			     int *signed_out, struct cfs_err *err)
{
	struct cfs_audit_head h;
	struct cp_tail tail;
	unsigned char msg[CP2_MSG_BYTES];
	int64_t head_id = 0;
	int rc = check_identity(a, err), did = 0;
	*signed_out = 0;
	if (rc < 0)
		return rc;
	memset(&h, 0, sizeof h);
	if (step_done(a->st_begin) != SQLITE_OK)
		return dberr(a, err, "cannot begin a transaction");
	rc = read_head(a, &head_id, h.last_hash, err);
	if (rc == 0)
		rc = read_cp_tail(a, &tail, err);
	if (rc == 0)
		rc = tail_holds(a, &tail, head_id, err);
	if (rc == 0 && (!tail.have || head_id != tail.last_id) && (!empty_only || !tail.have)) {
		h.seq = tail.seq + 1;        /* the first format-2 one is 1 */
		h.last_id = head_id;
		h.ts = cfs_now_us();
		if (tail.have)
			memcpy(h.prev, tail.prev_of_next, HASH_BYTES);
		cp2_message(&h, msg);
		sodium_mprotect_readonly(a->sk);
		crypto_sign_detached(h.sig, NULL, msg, sizeof msg, a->sk);
		sodium_mprotect_noaccess(a->sk);
		sqlite3_stmt *st = a->st_cp_insert;
		if (sqlite3_bind_int64(st, 1, tail.id + 1) || sqlite3_bind_int64(st, 2, h.ts) ||
		    sqlite3_bind_int64(st, 3, h.last_id) ||
		    sqlite3_bind_blob(st, 4, h.last_hash, HASH_BYTES, SQLITE_STATIC) ||
		    sqlite3_bind_blob(st, 5, h.sig, SIG_BYTES, SQLITE_STATIC) ||
		    sqlite3_bind_int64(st, 6, h.seq) ||
		    sqlite3_bind_blob(st, 7, h.prev, HASH_BYTES, SQLITE_STATIC) ||
		    step_done(st) != SQLITE_OK)
			rc = dberr(a, err, "cannot record checkpoint");
		sqlite3_reset(st);
		did = 1;
	}
	if (rc == 0 && step_done(a->st_commit) != SQLITE_OK)
		rc = dberr(a, err, "cannot commit checkpoint");
	if (rc < 0) {
		rollback(a);
		return rc;
	}
	pthread_mutex_lock(&a->q_mu);
	a->unsealed_since_ms = 0;
	pthread_mutex_unlock(&a->q_mu);
	if (did) {
		*out = h;
		*signed_out = 1;
	}
	return 0;
}

/* Hand a new checkpoint's head line to the hook. No lock held. */
static void announce(struct cfs_audit *a, const struct cfs_audit_head *h)
{
	char line[CFS_AUDIT_HEAD_LINE_MAX];
	if (!a->head_hook)
		return;
	cfs_audit_head_format(h, line, sizeof line);
	a->head_hook(line, a->head_arg);
}

/* -------------------------------------------------------------- opening */

static int make_absolute(const char *path, char **out)
{
	char cwd[PATH_MAX];
	if (path[0] == '/') {
		*out = strdup(path);
	} else {
		if (!getcwd(cwd, sizeof cwd))
			return -errno;
		size_t n = strlen(cwd) + 1 + strlen(path) + 1;
		*out = malloc(n);
		if (*out)
			snprintf(*out, n, "%s/%s", cwd, path);
	}
	return *out ? 0 : -ENOMEM;
}

static struct cfs_audit *alloc_handle(void)
{
	struct cfs_audit *a = calloc(1, sizeof *a);
	pthread_condattr_t ca;
	if (!a)
		return NULL;
	a->fd = -1;
	a->flush_ms = 50;
	a->cp_ms = CHECKPOINT_MS;
	pthread_mutex_init(&a->db_mu, NULL);
	pthread_mutex_init(&a->q_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->q_wake, &ca);
	pthread_cond_init(&a->q_space, &ca);
	pthread_condattr_destroy(&ca);
	return a;
}

static void finalize_all(struct cfs_audit *a)
{
	sqlite3_stmt **st[] = { &a->st_insert, &a->st_head, &a->st_begin, &a->st_commit,
				&a->st_rollback, &a->st_cp_head, &a->st_cp_insert,
				&a->st_row_hash };
	for (size_t k = 0; k < sizeof st / sizeof st[0]; k++) {
		sqlite3_finalize(*st[k]);
		*st[k] = NULL;
	}
}

static void free_handle(struct cfs_audit *a)
{
	finalize_all(a);
	if (a->db)
		sqlite3_close(a->db);
	if (a->fd >= 0)
		close(a->fd);
	if (a->ring) {
		for (size_t k = 0; k < a->count; k++)
			free(a->ring[(a->head + k) % QUEUE_CAP]);
		free(a->ring);
	}
	free(a->batch);
	free(a->enc);
	if (a->sk)
		sodium_free(a->sk);
	pthread_mutex_destroy(&a->db_mu);
	pthread_mutex_destroy(&a->q_mu);
	pthread_cond_destroy(&a->q_wake);
	pthread_cond_destroy(&a->q_space);
	free(a->path);
	free(a);
}

/* Open for reading: a copy may sit in a directory we cannot write, where
 * SQLite cannot create the -shm file WAL needs; with no -wal content to
 * lose, fall back to immutable=1. */
static int open_ro_db(const char *path, sqlite3 **out, struct cfs_err *err)
{
	sqlite3 *db = NULL;
	struct stat sb;
	char wal[PATH_MAX + 8];
	int rc;
	*out = NULL;
	if (stat(path, &sb) < 0)
		return cfs_errf(err, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return cfs_errf(err, -EINVAL, "%s: not a regular file", path);
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK)
		rc = exec_sql(db, "SELECT count(*) FROM sqlite_master");
	if (rc == SQLITE_OK) {
		*out = db;
		goto ok;
	}
	if ((rc & 0xff) != SQLITE_CANTOPEN && (rc & 0xff) != SQLITE_READONLY) {
		int r = cfs_errf(err, -EIO, "%s: cannot read: %s", path,
				 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return r;
	}
	sqlite3_close(db);
	db = NULL;
	if ((size_t)snprintf(wal, sizeof wal, "%s-wal", path) >= sizeof wal)
		return cfs_errf(err, -ENAMETOOLONG, "%s: path too long", path);
	if (stat(wal, &sb) == 0 && sb.st_size > 0)
		return cfs_errf(err, -EACCES, "%s: cannot read it here (its -wal file needs a "
				"writable directory); copy it with sqlite3 .backup", path);
	{
		/* file: URI with %, ?, # escaped. */
		size_t n = strlen(path), o = 0;
		char *uri = malloc(n * 3 + 32);
		if (!uri)
			return cfs_errf(err, -ENOMEM, "out of memory");
		o += (size_t)sprintf(uri, "file:");
		for (size_t k = 0; k < n; k++) {
			unsigned char c = (unsigned char)path[k];
			if (c == '%' || c == '?' || c == '#')
				o += (size_t)sprintf(uri + o, "%%%02X", c);
			else
				uri[o++] = (char)c;
		}
		strcpy(uri + o, "?immutable=1");
		rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
				     SQLITE_OPEN_NOMUTEX, NULL);
		free(uri);
		if (rc == SQLITE_OK)
			rc = exec_sql(db, "SELECT count(*) FROM sqlite_master");
		if (rc != SQLITE_OK) {
			int r = cfs_errf(err, -EIO, "%s: cannot read: %s", path,
					 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
			sqlite3_close(db);
			return r;
		}
		*out = db;
	}
ok:
	/* Treat the file as hostile: no schema-defined functions with side
	 * effects, no writes through this connection. */
	sqlite3_db_config(*out, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(*out, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_busy_timeout(*out, BUSY_TIMEOUT_MS);
	return 0;
}

/* The file holds our schema: the format marker and both tables. */
static int check_format(sqlite3 *db, const char *path, struct cfs_err *err)
{
	sqlite3_stmt *st = NULL;
	int ok = 0, tables = 0, rc;
	rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
				" name IN ('meta', 'events', 'checkpoints')", -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		tables = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_OK)
		return cfs_errf(err, -EIO, "%s: cannot read: %s", path, sqlite3_errmsg(db));
	if (tables != 3)
		return cfs_errf(err, -EINVAL, "%s: not a coachfs audit database (tables missing)",
				path);
	rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'format'", -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);
		ok = v && strcmp((const char *)v, FORMAT) == 0;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return cfs_errf(err, -EIO, "%s: cannot read: %s", path, sqlite3_errmsg(db));
	if (!ok)
		return cfs_errf(err, -EINVAL, "%s: not a coachfs audit database of format %s",
				path, FORMAT);
	return 0;
}

/* Does the checkpoints table have both format-2 columns? 1, 0, or -1 on a
 * read error. */
static int has_cp2_columns(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int n = -1;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info('checkpoints')"
			       " WHERE name IN ('seq', 'prev')", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n < 0 ? -1 : n == 2;
}

/* A database from before format-2 checkpoints gains their columns (only
 * added: its format-1 checkpoints keep verifying). */
static int migrate(struct cfs_audit *a, struct cfs_err *err)
{
	int has = has_cp2_columns(a->db);
	if (has == 1)
		return 0;
	if (has < 0)
		return dberr(a, err, "cannot read the checkpoints table");
	if (exec_sql(a->db, "BEGIN IMMEDIATE") != SQLITE_OK)
		return dberr(a, err, "cannot upgrade the checkpoints table");
	has = has_cp2_columns(a->db);   /* another process may have just done it */
	if (has == 0 &&
	    (exec_sql(a->db, "ALTER TABLE checkpoints ADD COLUMN seq INTEGER") != SQLITE_OK ||
	     exec_sql(a->db, "ALTER TABLE checkpoints ADD COLUMN prev BLOB") != SQLITE_OK ||
	     exec_sql(a->db, "CREATE INDEX IF NOT EXISTS checkpoints_seq ON checkpoints(seq)") !=
	     SQLITE_OK))
		has = -1;
	if (has < 0 || exec_sql(a->db, "COMMIT") != SQLITE_OK) {
		int rc = dberr(a, err, "cannot upgrade the checkpoints table");
		exec_sql(a->db, "ROLLBACK");
		return rc;
	}
	return 0;
}

int cfs_audit_open(const char *path, int create, struct cfs_audit **out, struct cfs_err *err)
{
	struct cfs_audit *a;
	struct stat sb;
	int rc, moved = 0;
	*out = NULL;
	if (!path || !*path)
		return cfs_errf(err, -EINVAL, "audit database path is empty");
	if (sodium_init() < 0)
		return cfs_errf(err, -EIO, "libsodium failed to initialise");
	a = alloc_handle();
	if (!a)
		return cfs_errf(err, -ENOMEM, "out of memory");
	rc = make_absolute(path, &a->path);
	if (rc < 0) {
		free_handle(a);
		return cfs_errf(err, rc, "%s: %s", path, strerror(-rc));
	}
	if (gethostname(a->host, sizeof a->host - 1) < 0 || !a->host[0])
		cfs_strlcpy(a->host, "unknown", sizeof a->host);
	a->host[sizeof a->host - 1] = 0;
	a->ring = calloc(QUEUE_CAP, sizeof *a->ring);
	a->batch = calloc(QUEUE_CAP, sizeof *a->batch);
	a->enc_cap = 4096;
	a->enc = malloc(a->enc_cap);
	if (!a->ring || !a->batch || !a->enc) {
		free_handle(a);
		return cfs_errf(err, -ENOMEM, "out of memory");
	}
	if (create) {
		/* Create it ourselves so it starts private (SQLite gives -wal and
		 * -shm the database's mode). Only when absent: closing a descriptor
		 * on a file SQLite has open in this process would drop its locks. */
		int fd = open(a->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0)
			close(fd);
		else if (errno != EEXIST)
			goto sys_fail;
	}
	rc = sqlite3_open_v2(a->path, &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		int missing = rc == SQLITE_CANTOPEN && access(a->path, F_OK) < 0;
		int r = cfs_errf(err, missing ? -ENOENT : -EIO, "audit database %s: cannot open: %s",
				 a->path, missing ? strerror(ENOENT)
				 : a->db ? sqlite3_errmsg(a->db) : sqlite3_errstr(rc));
		free_handle(a);
		return r;
	}
	if (sqlite3_db_readonly(a->db, "main") == 1) {
		free_handle(a);
		return cfs_errf(err, -EACCES, "audit database %s: no permission to write", path);
	}
	a->busy_ms = BUSY_TIMEOUT_MS;
	sqlite3_busy_handler(a->db, busy_wait, a);
	sqlite3_db_config(a->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(a->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	a->fd = open(a->path, O_PATH | O_CLOEXEC);
	if (a->fd < 0 || fstat(a->fd, &sb) < 0)
		goto sys_fail;
	if (!S_ISREG(sb.st_mode)) {
		free_handle(a);
		return cfs_errf(err, -EINVAL, "audit database %s: not a regular file", path);
	}
	a->dev = sb.st_dev;
	a->ino = sb.st_ino;
	if (sqlite3_file_control(a->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK &&
	    moved) {
		free_handle(a);
		return cfs_errf(err, -EIO, "audit database %s changed while being opened", path);
	}
	{
		/* WAL: appenders in several processes, readers never block them.
		 * synchronous=NORMAL: in WAL mode a commit survives a crash of any
		 * process (the daemon, coach-audit, coach-grant) — which is the
		 * threat here; only a power loss or kernel crash may lose the last
		 * few transactions (never corrupt the file or the chain). FULL would
		 * cost an fsync per commit; make it configurable if that matters. */
		sqlite3_stmt *st = NULL;
		int wal = 0;
		if (sqlite3_prepare_v2(a->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW) {
			const unsigned char *m = sqlite3_column_text(st, 0);
			wal = m && strcmp((const char *)m, "wal") == 0;
		}
		sqlite3_finalize(st);
		if (!wal) {
			int r = dberr(a, err, "cannot switch to WAL mode");
			free_handle(a);
			return r;
		}
	}
	if (exec_sql(a->db, "PRAGMA synchronous=NORMAL") != SQLITE_OK) {
		rc = dberr(a, err, "cannot set synchronous=NORMAL");
		free_handle(a);
		return rc;
	}
	if (create) {
		if (exec_sql(a->db, "BEGIN IMMEDIATE") != SQLITE_OK ||
		    exec_sql(a->db, SCHEMA) != SQLITE_OK || exec_sql(a->db, "COMMIT") != SQLITE_OK) {
			rc = dberr(a, err, "cannot create the schema");
			exec_sql(a->db, "ROLLBACK");
			free_handle(a);
			return rc;
		}
	}
	rc = check_format(a->db, a->path, err);
	if (rc == 0)
		rc = migrate(a, err);
	if (rc < 0) {
		free_handle(a);
		return rc;
	}
	if (sqlite3_prepare_v2(a->db, SQL_INSERT, -1, &a->st_insert, NULL) ||
	    sqlite3_prepare_v2(a->db, SQL_HEAD, -1, &a->st_head, NULL) ||
	    sqlite3_prepare_v2(a->db, "BEGIN IMMEDIATE", -1, &a->st_begin, NULL) ||
	    sqlite3_prepare_v2(a->db, "COMMIT", -1, &a->st_commit, NULL) ||
	    sqlite3_prepare_v2(a->db, "ROLLBACK", -1, &a->st_rollback, NULL) ||
	    sqlite3_prepare_v2(a->db, SQL_CP_HEAD, -1, &a->st_cp_head, NULL) ||
	    sqlite3_prepare_v2(a->db, SQL_CP_INSERT, -1, &a->st_cp_insert, NULL) ||
	    sqlite3_prepare_v2(a->db, "SELECT hash FROM events WHERE id = ?1", -1,
			       &a->st_row_hash, NULL)) {
		rc = dberr(a, err, "cannot prepare statements");
		free_handle(a);
		return rc;
	}
	*out = a;
	return 0;
sys_fail:
	rc = -errno;
	cfs_errf(err, rc, "audit database %s: %s", path, strerror(errno));
	free_handle(a);
	return rc;
}

int cfs_audit_open_ro(const char *path, struct cfs_audit **out, struct cfs_err *err)
{
	struct cfs_audit *a;
	int rc;
	*out = NULL;
	if (!path || !*path)
		return cfs_errf(err, -EINVAL, "audit database path is empty");
	a = alloc_handle();
	if (!a)
		return cfs_errf(err, -ENOMEM, "out of memory");
	a->readonly = 1;
	rc = make_absolute(path, &a->path);
	if (rc < 0) {
		free_handle(a);
		return cfs_errf(err, rc, "%s: %s", path, strerror(-rc));
	}
	rc = open_ro_db(a->path, &a->db, err);
	if (rc == 0)
		rc = check_format(a->db, a->path, err);
	if (rc < 0) {
		free_handle(a);
		return rc;
	}
	*out = a;
	return 0;
}

/* ------------------------------------------------------------ appending */

static int check_event(const struct cfs_event *ev)
{
	const char *s[] = { ev->host, ev->user, ev->exe, ev->action, ev->path, ev->result,
			    ev->reason };
	if (!ev->action || !ev->action[0] || !ev->result || !ev->result[0])
		return -EINVAL;
	for (size_t k = 0; k < sizeof s / sizeof s[0]; k++)
		if (s[k] && strnlen(s[k], FIELD_MAX + 1) > FIELD_MAX)
			return -EINVAL;
	return 0;
}

int cfs_audit_append(struct cfs_audit *a, const struct cfs_event *ev, struct cfs_err *err)
{
	struct cfs_event e;
	if (!a || !ev)
		return cfs_errf(err, -EINVAL, "audit: no handle or event");
	if (a->readonly)
		return cfs_errf(err, -EACCES, "audit database %s is open read-only", a->path);
	if (check_event(ev) < 0)
		return cfs_errf(err, -EINVAL, "audit: event needs an action and a result, and "
				"fields of at most %d bytes", FIELD_MAX);
	e = *ev;
	if (e.ts == 0 || e.ts == CFS_AUDIT_NONE)
		e.ts = cfs_now_us();
	return drain(a, &e, err, NULL);
}

/* Commit everything queued, batch by batch. */
static int drain_all(struct cfs_audit *a, struct cfs_err *err)
{
	int rc, more;
	do
		rc = drain(a, NULL, err, &more);
	while (rc == 0 && more);
	return rc;
}

int cfs_audit_flush(struct cfs_audit *a, struct cfs_err *err)
{
	if (!a)
		return cfs_errf(err, -EINVAL, "audit: no handle");
	if (a->readonly)
		return cfs_errf(err, -EACCES, "audit database %s is open read-only", a->path);
	return drain_all(a, err);
}

static struct qev *copy_event(const struct cfs_event *ev)
{
	const char *src[7] = { ev->host, ev->user, ev->exe, ev->action, ev->path, ev->result,
			       ev->reason };
	size_t len[7], total = 0;
	struct qev *q;
	char *p;
	for (int k = 0; k < 7; k++) {
		len[k] = src[k] ? strlen(src[k]) + 1 : 0;
		total += len[k];
	}
	q = malloc(sizeof *q + total);
	if (!q)
		return NULL;
	q->ev = *ev;
	p = q->data;
	const char *dst[7];
	for (int k = 0; k < 7; k++) {
		if (src[k]) {
			memcpy(p, src[k], len[k]);
			dst[k] = p;
			p += len[k];
		} else {
			dst[k] = NULL;
		}
	}
	q->ev.host = dst[0];
	q->ev.user = dst[1];
	q->ev.exe = dst[2];
	q->ev.action = dst[3];
	q->ev.path = dst[4];
	q->ev.result = dst[5];
	q->ev.reason = dst[6];
	if (q->ev.ts == 0 || q->ev.ts == CFS_AUDIT_NONE)
		q->ev.ts = cfs_now_us();
	return q;
}

int cfs_audit_queue(struct cfs_audit *a, const struct cfs_event *ev)
{
	struct qev *q;
	if (!a || !ev || check_event(ev) < 0)
		return -EINVAL;
	if (a->readonly)
		return -EACCES;
	q = copy_event(ev);
	if (!q)
		return -ENOMEM;
	pthread_mutex_lock(&a->q_mu);
	for (;;) {
		if (a->failed) {
			pthread_mutex_unlock(&a->q_mu);
			free(q);
			return -EIO;
		}
		if (a->count < QUEUE_CAP)
			break;
		if (!a->running) {
			/* No writer: commit inline to make room. */
			pthread_mutex_unlock(&a->q_mu);
			if (drain(a, NULL, NULL, NULL) < 0) {
				free(q);
				return -EIO;
			}
			pthread_mutex_lock(&a->q_mu);
			continue;
		}
		pthread_cond_wait(&a->q_space, &a->q_mu);
	}
	q->qtime_ms = mono_ms();
	a->ring[(a->head + a->count) % QUEUE_CAP] = q;
	a->count++;
	if (a->count == 1 || a->count == QUEUE_HIGH)
		pthread_cond_signal(&a->q_wake);
	pthread_mutex_unlock(&a->q_mu);
	return 0;
}

int cfs_audit_checkpoint(struct cfs_audit *a, struct cfs_err *err)
{
	int rc;
	if (!a)
		return cfs_errf(err, -EINVAL, "audit: no handle");
	if (a->readonly)
		return cfs_errf(err, -EACCES, "audit database %s is open read-only", a->path);
	if (!a->sk)
		return cfs_errf(err, -EINVAL, "audit: no signing key (cfs_audit_start was not "
				"given one)");
	struct cfs_audit_head h;
	int did;
	pthread_mutex_lock(&a->db_mu);
	rc = checkpoint_locked(a, 0, &h, &did, err);
	pthread_mutex_unlock(&a->db_mu);
	if (rc == 0 && did)
		announce(a, &h);
	return rc;
}

int cfs_audit_set_head_hook(struct cfs_audit *a, void (*fn)(const char *line, void *arg),
			    void *arg)
{
	if (!a || a->readonly || a->running)
		return -EINVAL;
	a->head_hook = fn;
	a->head_arg = arg;
	return 0;
}

int cfs_audit_set_busy_timeout(struct cfs_audit *a, uint32_t ms)
{
	if (!a || a->readonly || ms == 0 || ms > BUSY_MAX_MS)
		return -EINVAL;
	pthread_mutex_lock(&a->db_mu);
	a->busy_ms = ms;
	pthread_mutex_unlock(&a->db_mu);
	return 0;
}

int cfs_audit_set_checkpoint_interval(struct cfs_audit *a, uint32_t ms)
{
	if (!a || ms == 0 || ms > 3600 * 1000)
		return -EINVAL;
	pthread_mutex_lock(&a->q_mu);
	a->cp_ms = ms;
	pthread_mutex_unlock(&a->q_mu);
	return 0;
}

/* ---------------------------------------------------------- the writer */

static void wait_until(struct cfs_audit *a, int64_t due_ms)
{
	struct timespec ts;
	if (due_ms == INT64_MAX) {
		pthread_cond_wait(&a->q_wake, &a->q_mu);
		return;
	}
	ts.tv_sec = (time_t)(due_ms / 1000);
	ts.tv_nsec = (long)(due_ms % 1000) * 1000000L;
	pthread_cond_timedwait(&a->q_wake, &a->q_mu, &ts);
}

static void *writer_main(void *arg)
{
	struct cfs_audit *a = arg;
	pthread_mutex_lock(&a->q_mu);
	while (!a->stop) {
		int64_t now = mono_ms(), due = INT64_MAX, cp_due = INT64_MAX;
		int want_cp;
		if (a->count > 0)
			due = a->count >= QUEUE_HIGH ? now
			      : a->ring[a->head]->qtime_ms + (int64_t)a->flush_ms;
		if (a->sk && a->unsealed_since_ms)
			cp_due = a->unsealed_since_ms + (int64_t)a->cp_ms;
		if (cp_due < due)
			due = cp_due;
		if (a->failed)   /* retry (or probe, when nothing is queued) */
			due = a->retry_at_ms;
		if (due > now) {
			wait_until(a, due);
			continue;
		}
		want_cp = cp_due <= now;
		pthread_mutex_unlock(&a->q_mu);
		struct cfs_err e;
		int rc = drain(a, NULL, &e, NULL);
		if (rc == 0 && want_cp) {
			struct cfs_audit_head h;
			int did;
			pthread_mutex_lock(&a->db_mu);
			rc = checkpoint_locked(a, 0, &h, &did, &e);
			pthread_mutex_unlock(&a->db_mu);
			if (rc == 0 && did)
				announce(a, &h);
		}
		pthread_mutex_lock(&a->q_mu);
		if (rc < 0) {
			a->failed = 1;
			a->retry_at_ms = mono_ms() + RETRY_MS;
			pthread_cond_broadcast(&a->q_space);
		}
	}
	pthread_mutex_unlock(&a->q_mu);
	return NULL;
}

int cfs_audit_set_key(struct cfs_audit *a, const unsigned char *sign_sk, struct cfs_err *err)
{
	unsigned char pk[CFS_AUDIT_PK_BYTES];
	unsigned char *sk, *sk2;
	if (!a || !sign_sk)
		return cfs_errf(err, -EINVAL, "audit: no handle or key");
	if (a->readonly)
		return cfs_errf(err, -EACCES, "audit database %s is open read-only", a->path);
	if (a->sk || a->running)
		return cfs_errf(err, -EALREADY, "audit: the signing key is already set");
	sk = sodium_malloc(CFS_AUDIT_SK_BYTES);
	sk2 = sodium_malloc(CFS_AUDIT_SK_BYTES);
	if (!sk || !sk2) {
		sodium_free(sk2);
		sodium_free(sk);
		return cfs_errf(err, -ENOMEM, "out of secure memory");
	}
	memcpy(sk, sign_sk, CFS_AUDIT_SK_BYTES);
	/* An Ed25519 secret key is seed || public key: rebuild it. */
	int rc = crypto_sign_seed_keypair(pk, sk2, sk);
	if (rc != 0 || sodium_memcmp(sk2, sk, CFS_AUDIT_SK_BYTES) != 0) {
		sodium_free(sk2);
		sodium_free(sk);
		return cfs_errf(err, -EINVAL, "audit: the signing key is malformed");
	}
	sodium_free(sk2);
	sodium_mprotect_noaccess(sk);
	a->sk = sk;
	memcpy(a->pk, pk, sizeof pk);
	/* Whoever holds the key seals an empty log at once (so a log with
	 * events and no checkpoint is always a tampered one), and refuses a log
	 * whose newest checkpoint does not hold. */
	struct cfs_audit_head h;
	int did;
	pthread_mutex_lock(&a->db_mu);
	rc = checkpoint_locked(a, 1, &h, &did, err);
	pthread_mutex_unlock(&a->db_mu);
	if (rc < 0) {
		sodium_free(a->sk);
		a->sk = NULL;
		return rc;
	}
	if (did)
		announce(a, &h);
	return 0;
}

int cfs_audit_start(struct cfs_audit *a, uint32_t flush_ms, const unsigned char *sign_sk,
		    struct cfs_err *err)
{
	int rc;
	if (!a)
		return cfs_errf(err, -EINVAL, "audit: no handle");
	if (a->readonly)
		return cfs_errf(err, -EACCES, "audit database %s is open read-only", a->path);
	if (a->running)
		return cfs_errf(err, -EALREADY, "audit writer already running");
	if (flush_ms == 0 || flush_ms > 10000)
		return cfs_errf(err, -EINVAL, "audit: flush_ms %u out of range 1..10000", flush_ms);
	if (sign_sk && (rc = cfs_audit_set_key(a, sign_sk, err)) < 0)
		return rc;
	pthread_mutex_lock(&a->q_mu);
	a->flush_ms = flush_ms;
	a->stop = 0;
	rc = pthread_create(&a->thread, NULL, writer_main, a);
	if (rc == 0)
		a->running = 1;
	pthread_mutex_unlock(&a->q_mu);
	if (rc != 0) {
		sodium_free(a->sk);
		a->sk = NULL;
		return cfs_errf(err, -rc, "audit: cannot start the writer thread: %s",
				strerror(rc));
	}
	return 0;
}

int cfs_audit_close(struct cfs_audit *a, struct cfs_err *err)
{
	int rc = 0, r;
	struct cfs_err e;
	if (!a)
		return 0;
	if (a->running) {
		pthread_mutex_lock(&a->q_mu);
		a->stop = 1;
		pthread_cond_signal(&a->q_wake);
		pthread_mutex_unlock(&a->q_mu);
		pthread_join(a->thread, NULL);
		a->running = 0;
	}
	if (!a->readonly) {
		r = a->count > 0 ? drain_all(a, &e) : 0;   /* writer stopped: no race */
		if (r < 0 && rc == 0) {
			rc = r;
			cfs_errf(err, r, "%s", e.msg);
		}
		if (a->sk) {
			struct cfs_audit_head h;
			int did;
			pthread_mutex_lock(&a->db_mu);
			r = checkpoint_locked(a, 0, &h, &did, &e);
			pthread_mutex_unlock(&a->db_mu);
			if (r == 0 && did)
				announce(a, &h);
			if (r < 0 && rc == 0) {
				rc = r;
				cfs_errf(err, r, "%s", e.msg);
			}
		}
		if (a->count > 0 && rc == 0)
			rc = cfs_errf(err, -EIO, "audit database %s: %zu queued events were not "
				      "recorded", a->path, a->count);
	}
	finalize_all(a);
	if (a->db && sqlite3_close(a->db) != SQLITE_OK) {
		if (rc == 0)
			rc = dberr(a, err, "cannot close");
		sqlite3_close_v2(a->db);
	}
	a->db = NULL;
	free_handle(a);
	return rc;
}

/* ------------------------------------------------------------- verifying */

/* Column c of st as a hashed value of the expected kind; 0, or -1 when the
 * stored type is not that kind (NULL always allowed). */
static int col_val(sqlite3_stmt *st, int c, int want_text, struct val *v)
{
	int t = sqlite3_column_type(st, c);
	memset(v, 0, sizeof *v);
	if (t == SQLITE_NULL) {
		v->tag = TAG_NULL;
		return 0;
	}
	if (want_text) {
		if (t != SQLITE_TEXT)
			return -1;
		v->tag = TAG_TEXT;
		v->p = sqlite3_column_text(st, c);
		v->n = (size_t)sqlite3_column_bytes(st, c);
		if (!v->p)
			return -1;
		return 0;
	}
	if (t != SQLITE_INTEGER)
		return -1;
	v->tag = TAG_INT;
	v->i = sqlite3_column_int64(st, c);
	return 0;
}

static const int COL_IS_TEXT[NCOLS] = { 0, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0 };
static const char *const COL_NAME[NCOLS] = { "id", "ts", "host", "uid", "user", "pid", "exe",
					     "action", "path", "result", "reason", "grant_id",
					     "offset", "length" };

static const char SQL_ALL[] =
	"SELECT id, ts, host, uid, user, pid, exe, action, path, result, reason, grant_id,"
	" \"offset\", length, prev_hash, hash FROM events";

struct vstate {
	int64_t bad;        /* first bad event id, 0 none */
	char msg[400];
};

static void vbad(struct vstate *vs, int64_t id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void vbad(struct vstate *vs, int64_t id, const char *fmt, ...)
{
	va_list ap;
	if (vs->bad != 0 && vs->bad <= id)
		return;
	vs->bad = id;
	va_start(ap, fmt);
	vsnprintf(vs->msg, sizeof vs->msg, fmt, ap);
	va_end(ap);
}

/* Walk the rows in id order recomputing the chain; stops checking at the
 * first break (later rows are only counted). *max_id: highest id present. */
static int verify_chain(sqlite3 *db, const char *path, struct cfs_verify_report *r,
			struct vstate *vs, int64_t *max_id, struct cfs_err *err)
{
	sqlite3_stmt *st = NULL;
	unsigned char prev[HASH_BYTES] = { 0 }, h[HASH_BYTES];
	unsigned char *buf = NULL;
	size_t cap = 0, n;
	int64_t good = 0, last = 0;   /* last id that held; last id seen */
	int broken = 0, rc;
	char sql[sizeof SQL_ALL + 32];
	snprintf(sql, sizeof sql, "%s ORDER BY id", SQL_ALL);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return cfs_errf(err, -EIO, "%s: cannot read events: %s", path, sqlite3_errmsg(db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct val v[NCOLS];
		int64_t id = sqlite3_column_int64(st, 0);
		int c;
		r->rows++;
		last = id;
		if (broken)
			continue;
		broken = 1;   /* until this row is shown to hold */
		if (id != good + 1) {
			vbad(vs, good + 1, "event %lld: missing (deleted; the next event is %lld)",
			     (long long)(good + 1), (long long)id);
			continue;
		}
		for (c = 0; c < NCOLS; c++)
			if (col_val(st, c, COL_IS_TEXT[c], &v[c]) < 0)
				break;
		if (c < NCOLS) {
			vbad(vs, id, "event %lld: column %s has the wrong type (edited)",
			     (long long)id, COL_NAME[c]);
			continue;
		}
		if (sqlite3_column_type(st, 14) != SQLITE_BLOB ||
		    sqlite3_column_bytes(st, 14) != HASH_BYTES ||
		    sqlite3_column_type(st, 15) != SQLITE_BLOB ||
		    sqlite3_column_bytes(st, 15) != HASH_BYTES) {
			vbad(vs, id, "event %lld: prev_hash or hash is malformed (edited)",
			     (long long)id);
			continue;
		}
		if (sodium_memcmp(sqlite3_column_blob(st, 14), prev, HASH_BYTES) != 0) {
			if (id == 1)
				vbad(vs, id, "event 1: prev_hash is not zero (edited, or earlier "
				     "events were removed)");
			else
				vbad(vs, id, "event %lld: prev_hash does not match event %lld "
				     "(events removed, inserted or reordered)", (long long)id,
				     (long long)(id - 1));
			continue;
		}
		rc = encode_grow(v, &buf, &cap, &n);
		if (rc < 0) {
			free(buf);
			sqlite3_finalize(st);
			return cfs_errf(err, rc, "%s: event %lld: cannot encode: %s", path,
					(long long)id, strerror(-rc));
		}
		chain_hash(prev, buf, n, h);
		if (sodium_memcmp(sqlite3_column_blob(st, 15), h, HASH_BYTES) != 0) {
			vbad(vs, id, "event %lld: hash does not match its contents (edited)",
			     (long long)id);
			continue;
		}
		memcpy(prev, h, HASH_BYTES);
		good = id;
		broken = 0;
	}
	free(buf);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return cfs_errf(err, -EIO, "%s: cannot read events: %s", path, sqlite3_errmsg(db));
	*max_id = last;
	return 0;
}

/* An event id to report: never 0 (0 means "nothing bad"). */
#define ID1(x) ((x) > 0 ? (int64_t)(x) : (int64_t)1)

/* The stored hash of event id: 1 (out filled), 0 absent, -1 malformed,
 * -2 read error. ev: "SELECT hash FROM events WHERE id = ?1". */
static int row_hash(sqlite3_stmt *ev, int64_t id, unsigned char out[HASH_BYTES])
{
	int rc, s;
	sqlite3_bind_int64(ev, 1, id);
	s = sqlite3_step(ev);
	if (s == SQLITE_ROW) {
		if (sqlite3_column_type(ev, 0) != SQLITE_BLOB ||
		    sqlite3_column_bytes(ev, 0) != HASH_BYTES) {
			rc = -1;
		} else {
			memcpy(out, sqlite3_column_blob(ev, 0), HASH_BYTES);
			rc = 1;
		}
	} else {
		rc = s == SQLITE_DONE ? 0 : -2;
	}
	sqlite3_reset(ev);
	return rc;
}

/* Every checkpoint in id order: its signature, the event it seals, and the
 * checkpoint chain (seq 1, 2, 3..., each prev the hash of the one before;
 * no format-1 checkpoint after a format-2 one). */
static int verify_checkpoints(sqlite3 *db, const char *path, const unsigned char *pk,
			      int has2, struct cfs_verify_report *r, struct vstate *vs,
			      int64_t max_id, struct cfs_err *err)
{
	sqlite3_stmt *st = NULL, *ev = NULL;
	unsigned char expect_prev[HASH_BYTES] = { 0 };
	int64_t expect_seq = 1, prev_last = 0, valid = 0;
	int seen_v2 = 0, unknown = 0, rc;
	if (sqlite3_prepare_v2(db, has2 ? "SELECT id, ts, last_id, last_hash, sig, seq, prev FROM"
			       " checkpoints ORDER BY id"
			       : "SELECT id, ts, last_id, last_hash, sig, NULL, NULL FROM"
			       " checkpoints ORDER BY id", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT hash FROM events WHERE id = ?1", -1, &ev, NULL) !=
	    SQLITE_OK) {
		rc = cfs_errf(err, -EIO, "%s: cannot read checkpoints: %s", path,
			      sqlite3_errmsg(db));
		sqlite3_finalize(st);
		sqlite3_finalize(ev);
		return rc;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct cfs_audit_head h;
		unsigned char msg2[CP2_MSG_BYTES], msg1[CP_MSG_BYTES], stored[HASH_BYTES];
		const unsigned char *msg, *lh;
		size_t mlen;
		int64_t cid = sqlite3_column_int64(st, 0);
		int64_t last = sqlite3_column_int64(st, 2);
		int64_t from = prev_last + 1;   /* events this checkpoint's place in the chain vouches for */
		int v2 = sqlite3_column_type(st, 5) != SQLITE_NULL ||
			 sqlite3_column_type(st, 6) != SQLITE_NULL;
		int sig_ok, row_ok = 0;
		r->checkpoints++;
		if (sqlite3_column_type(st, 1) != SQLITE_INTEGER ||
		    sqlite3_column_type(st, 2) != SQLITE_INTEGER || last < (v2 ? 0 : 1) ||
		    sqlite3_column_type(st, 3) != SQLITE_BLOB ||
		    sqlite3_column_bytes(st, 3) != HASH_BYTES ||
		    sqlite3_column_type(st, 4) != SQLITE_BLOB ||
		    sqlite3_column_bytes(st, 4) != SIG_BYTES ||
		    (v2 && (sqlite3_column_type(st, 5) != SQLITE_INTEGER ||
			    sqlite3_column_int64(st, 5) < 1 ||
			    sqlite3_column_int64(st, 5) == INT64_MAX ||
			    sqlite3_column_type(st, 6) != SQLITE_BLOB ||
			    sqlite3_column_bytes(st, 6) != HASH_BYTES))) {
			vbad(vs, last > 0 ? last : ID1(from), "checkpoint %lld is malformed (edited)",
			     (long long)cid);
			/* the next one cannot be judged against it: no cascade */
			unknown = 1;
			if (last > prev_last)
				prev_last = last;
			continue;
		}
		lh = sqlite3_column_blob(st, 3);
		memset(&h, 0, sizeof h);
		if (v2) {
			h.seq = sqlite3_column_int64(st, 5);
			h.last_id = last;
			h.ts = sqlite3_column_int64(st, 1);
			memcpy(h.last_hash, lh, HASH_BYTES);
			memcpy(h.prev, sqlite3_column_blob(st, 6), HASH_BYTES);
			memcpy(h.sig, sqlite3_column_blob(st, 4), SIG_BYTES);
			cp2_message(&h, msg2);
			msg = msg2;
			mlen = sizeof msg2;
		} else {
			cp_message(last, lh, sqlite3_column_int64(st, 1), msg1);
			msg = msg1;
			mlen = sizeof msg1;
			r->checkpoints_v1++;
		}
		sig_ok = crypto_sign_verify_detached(sqlite3_column_blob(st, 4), msg, mlen, pk) == 0;
		if (!sig_ok && last > 0)
			vbad(vs, last, "event %lld: checkpoint %lld sealing it has a bad signature "
			     "(forged, edited, or another key)", (long long)last, (long long)cid);
		else if (!sig_ok)
			vbad(vs, ID1(from), "checkpoint %lld has a bad signature (forged, edited, or "
			     "another key)", (long long)cid);
		if (sig_ok && last == 0) {
			row_ok = 1;     /* an empty log's checkpoint (coach-admin init) */
		} else if (sig_ok) {
			int s = row_hash(ev, last, stored);
			if (s == 1 && sodium_memcmp(stored, lh, HASH_BYTES) == 0) {
				row_ok = 1;
			} else if (s == 1 || s == -1) {
				vbad(vs, last, "event %lld: differs from what checkpoint %lld sealed "
				     "(rewritten)", (long long)last, (long long)cid);
			} else if (s == 0) {
				int64_t miss = last > max_id ? max_id + 1 : last;
				vbad(vs, miss, "event %lld: missing, but checkpoint %lld sealed events "
				     "up to %lld (deleted or truncated)", (long long)miss,
				     (long long)cid, (long long)last);
			} else {
				sqlite3_finalize(ev);
				sqlite3_finalize(st);
				return cfs_errf(err, -EIO, "%s: cannot read events: %s", path,
						sqlite3_errmsg(db));
			}
		}
		/* the checkpoint chain (a forged checkpoint is bad already; the next
		 * one is judged against its fields all the same) */
		if (!sig_ok || (unknown && v2)) {
			if (v2) {
				seen_v2 = 1;
				expect_seq = h.seq + 1;
			}
		} else if (!v2) {
			if (seen_v2)
				vbad(vs, last, "checkpoint %lld: an old-format checkpoint after "
				     "new-format ones (inserted or replayed)", (long long)cid);
		} else {
			/* the first event whose seal is in doubt, within this one's */
			int64_t at = ID1(from <= last ? from : last);
			if (h.seq != expect_seq)
				vbad(vs, at, "checkpoint %lld: seq %lld where seq %lld was "
				     "expected (checkpoints deleted, reordered or inserted)",
				     (long long)cid, (long long)h.seq, (long long)expect_seq);
			else if (sodium_memcmp(h.prev, expect_prev, HASH_BYTES) != 0)
				vbad(vs, at, "checkpoint %lld (seq %lld) does not chain to the "
				     "checkpoint before it (checkpoints deleted, replaced or reordered)",
				     (long long)cid, (long long)h.seq);
			else if (seen_v2 && last <= prev_last)
				vbad(vs, ID1(last), "checkpoint %lld (seq %lld) seals events up to %lld, "
				     "no further than the one before it (reordered)", (long long)cid,
				     (long long)h.seq, (long long)last);
			seen_v2 = 1;
			expect_seq = h.seq + 1;
		}
		msg_hash(msg, mlen, expect_prev);
		prev_last = last;
		unknown = 0;
		if (sig_ok && row_ok) {
			valid++;
			if (last > r->last_sealed_id)
				r->last_sealed_id = last;
			r->newest_ts = sqlite3_column_int64(st, 1);
			if (v2) {
				r->head = h;
				r->has_head = 1;
			}
		}
	}
	sqlite3_finalize(ev);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return cfs_errf(err, -EIO, "%s: cannot read checkpoints: %s", path,
				sqlite3_errmsg(db));
	/* Emptying the checkpoints table (and then rewriting the events with a
	 * recomputed chain, which needs no key) must not verify. */
	if (r->rows > 0 && valid == 0 && vs->bad == 0)
		vbad(vs, 1, "event 1: the log has %lld event%s but no valid checkpoint at all "
		     "(checkpoints deleted, or never signed)", (long long)r->rows,
		     r->rows == 1 ? "" : "s");
	return 0;
}

/* A pinned head must still be in the log: the checkpoint of its seq with
 * exactly its signed fields. */
static int check_pin(sqlite3 *db, const char *path, int has2, const struct cfs_audit_head *p,
		     int64_t max_id, struct cfs_verify_report *r, struct vstate *vs,
		     struct cfs_err *err)
{
	sqlite3_stmt *st = NULL, *ev = NULL;
	unsigned char stored[HASH_BYTES];
	int same = 0, other = 0, rc = SQLITE_DONE, s;
	if (has2) {
		if (sqlite3_prepare_v2(db, "SELECT ts, last_id, last_hash, sig, prev FROM checkpoints"
				       " WHERE seq = ?1", -1, &st, NULL) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 1, p->seq) != SQLITE_OK) {
			sqlite3_finalize(st);
			return cfs_errf(err, -EIO, "%s: cannot read checkpoints: %s", path,
					sqlite3_errmsg(db));
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (sqlite3_column_type(st, 0) == SQLITE_INTEGER &&
			    sqlite3_column_int64(st, 0) == p->ts &&
			    sqlite3_column_type(st, 1) == SQLITE_INTEGER &&
			    sqlite3_column_int64(st, 1) == p->last_id &&
			    sqlite3_column_type(st, 2) == SQLITE_BLOB &&
			    sqlite3_column_bytes(st, 2) == HASH_BYTES &&
			    memcmp(sqlite3_column_blob(st, 2), p->last_hash, HASH_BYTES) == 0 &&
			    sqlite3_column_type(st, 3) == SQLITE_BLOB &&
			    sqlite3_column_bytes(st, 3) == SIG_BYTES &&
			    memcmp(sqlite3_column_blob(st, 3), p->sig, SIG_BYTES) == 0 &&
			    sqlite3_column_type(st, 4) == SQLITE_BLOB &&
			    sqlite3_column_bytes(st, 4) == HASH_BYTES &&
			    memcmp(sqlite3_column_blob(st, 4), p->prev, HASH_BYTES) == 0)
				same = 1;
			else
				other = 1;
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return cfs_errf(err, -EIO, "%s: cannot read checkpoints: %s", path,
					sqlite3_errmsg(db));
	}
	if (same) {
		r->pins++;
		return 0;
	}
	if (other) {
		vbad(vs, ID1(p->last_id), "event %lld: checkpoint seq %lld differs from the pinned "
		     "head (rewritten)", (long long)ID1(p->last_id), (long long)p->seq);
		return 0;
	}
	if (p->last_id > max_id) {
		vbad(vs, max_id + 1, "event %lld: missing, but the pinned head (checkpoint seq %lld) "
		     "sealed events up to %lld (truncated or rolled back)", (long long)(max_id + 1),
		     (long long)p->seq, (long long)p->last_id);
		return 0;
	}
	s = 0;
	if (p->last_id > 0) {
		if (sqlite3_prepare_v2(db, "SELECT hash FROM events WHERE id = ?1", -1, &ev, NULL) !=
		    SQLITE_OK)
			return cfs_errf(err, -EIO, "%s: cannot read events: %s", path,
					sqlite3_errmsg(db));
		s = row_hash(ev, p->last_id, stored);
		sqlite3_finalize(ev);
		if (s == -2)
			return cfs_errf(err, -EIO, "%s: cannot read events: %s", path,
					sqlite3_errmsg(db));
	}
	if (s != 0 && (s != 1 || sodium_memcmp(stored, p->last_hash, HASH_BYTES) != 0))
		vbad(vs, p->last_id, "event %lld: differs from what the pinned head (checkpoint seq "
		     "%lld) sealed (rewritten, rolled back)", (long long)p->last_id,
		     (long long)p->seq);
	else
		vbad(vs, ID1(p->last_id), "checkpoint seq %lld of the pinned head (sealing events "
		     "up to %lld) is missing (checkpoints deleted or rolled back)",
		     (long long)p->seq, (long long)p->last_id);
	return 0;
}

int cfs_audit_verify_pinned(const char *path, const unsigned char pk[CFS_AUDIT_PK_BYTES],
			    const struct cfs_audit_head *pins, size_t npins,
			    struct cfs_verify_report *report, struct cfs_err *err)
{
	struct cfs_verify_report r;
	struct vstate vs;
	sqlite3 *db = NULL;
	int64_t max_id = 0;
	int rc, has2 = 0;
	memset(&r, 0, sizeof r);
	memset(&vs, 0, sizeof vs);
	if (report)
		*report = r;
	if (!path || !pk || (npins && !pins))
		return cfs_errf(err, -EINVAL, "audit verify: no path or key");
	if (sodium_init() < 0)
		return cfs_errf(err, -EIO, "libsodium failed to initialise");
	for (size_t k = 0; k < npins; k++)
		if (cfs_audit_head_check(&pins[k], pk) < 0)
			return cfs_errf(err, -EINVAL, "pinned head %zu (checkpoint seq %lld) is not "
					"signed by this public key", k + 1, (long long)pins[k].seq);
	rc = open_ro_db(path, &db, err);
	if (rc < 0)
		return rc;
	/* One read transaction: a consistent snapshot even while the daemon
	 * appends. */
	if (exec_sql(db, "BEGIN") != SQLITE_OK) {
		rc = cfs_errf(err, -EIO, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	rc = check_format(db, path, err);
	if (rc == 0 && (has2 = has_cp2_columns(db)) < 0)
		rc = cfs_errf(err, -EIO, "%s: cannot read checkpoints: %s", path, sqlite3_errmsg(db));
	if (rc == 0)
		rc = verify_chain(db, path, &r, &vs, &max_id, err);
	if (rc == 0)
		rc = verify_checkpoints(db, path, pk, has2, &r, &vs, max_id, err);
	for (size_t k = 0; rc == 0 && k < npins; k++)
		rc = check_pin(db, path, has2, &pins[k], max_id, &r, &vs, err);
	if (rc == 0) {
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(db, "SELECT count(*) FROM events WHERE id > ?1", -1, &st,
				       NULL) == SQLITE_OK &&
		    sqlite3_bind_int64(st, 1, r.last_sealed_id) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			r.unsealed = sqlite3_column_int64(st, 0);
		else
			rc = cfs_errf(err, -EIO, "%s: %s", path, sqlite3_errmsg(db));
		sqlite3_finalize(st);
	}
	exec_sql(db, "COMMIT");
	if (rc == 0 && vs.bad) {
		r.first_bad = vs.bad;
		rc = cfs_errf(err, -EBADMSG, "%s", vs.msg);
	}
out:
	sqlite3_close(db);
	if (report)
		*report = r;
	return rc;
}

int cfs_audit_verify(const char *path, const unsigned char pk[CFS_AUDIT_PK_BYTES],
		     struct cfs_verify_report *report, struct cfs_err *err)
{
	return cfs_audit_verify_pinned(path, pk, NULL, 0, report, err);
}

/* ---------------------------------------------------------------- heads */

int cfs_audit_head_check(const struct cfs_audit_head *h, const unsigned char pk[CFS_AUDIT_PK_BYTES])
{
	unsigned char msg[CP2_MSG_BYTES];
	if (!h || !pk || h->seq < 1 || h->last_id < 0)
		return -EBADMSG;
	cp2_message(h, msg);
	return crypto_sign_verify_detached(h->sig, msg, sizeof msg, pk) == 0 ? 0 : -EBADMSG;
}

void cfs_audit_head_format(const struct cfs_audit_head *h, char *out, size_t cap)
{
	char lh[2 * HASH_BYTES + 1], pv[2 * HASH_BYTES + 1], sg[2 * SIG_BYTES + 1];
	if (!out || cap == 0)
		return;
	sodium_bin2hex(lh, sizeof lh, h->last_hash, HASH_BYTES);
	sodium_bin2hex(pv, sizeof pv, h->prev, HASH_BYTES);
	sodium_bin2hex(sg, sizeof sg, h->sig, SIG_BYTES);
	snprintf(out, cap, "%s seq=%lld last_id=%lld ts=%lld last_hash=%s prev=%s sig=%s",
		 HEAD_TAG, (long long)h->seq, (long long)h->last_id, (long long)h->ts, lh, pv, sg);
}

static int hex_field(const char *v, size_t n, unsigned char *out, size_t outlen)
{
	size_t got = 0;
	if (n != 2 * outlen)
		return -1;
	for (size_t k = 0; k < n; k++)
		if (!((v[k] >= '0' && v[k] <= '9') || (v[k] >= 'a' && v[k] <= 'f') ||
		      (v[k] >= 'A' && v[k] <= 'F')))
			return -1;
	if (sodium_hex2bin(out, outlen, v, n, NULL, &got, NULL) != 0 || got != outlen)
		return -1;
	return 0;
}

int cfs_audit_head_parse(const char *line, struct cfs_audit_head *h, struct cfs_err *err)
{
	static const char *const keys[] = { "seq", "last_id", "ts", "last_hash", "prev", "sig" };
	enum { NKEYS = sizeof keys / sizeof keys[0] };
	char buf[CFS_AUDIT_HEAD_LINE_MAX];
	unsigned seen = 0;
	size_t n;
	char *save = NULL, *tok;
	if (!line || !h)
		return cfs_errf(err, -EINVAL, "head: nothing to parse");
	memset(h, 0, sizeof *h);
	n = strnlen(line, sizeof buf);
	if (n == sizeof buf)
		return cfs_errf(err, -EINVAL, "head: line too long (a head line is at most %d bytes)",
				CFS_AUDIT_HEAD_LINE_MAX - 1);
	memcpy(buf, line, n + 1);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
			 buf[n - 1] == '\t'))
		buf[--n] = 0;
	tok = strtok_r(buf, " \t", &save);
	if (!tok || strcmp(tok, HEAD_TAG) != 0)
		return cfs_errf(err, -EINVAL, "head: does not start with '%s' (the line printed by "
				"coach-audit head)", HEAD_TAG);
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
		char *eq = strchr(tok, '=');
		const char *v;
		uint64_t u = 0;
		size_t k;
		int bad;
		if (!eq)
			return cfs_errf(err, -EINVAL, "head: '%.40s' is not KEY=VALUE", tok);
		*eq = 0;
		v = eq + 1;
		for (k = 0; k < NKEYS; k++)
			if (strcmp(tok, keys[k]) == 0)
				break;
		if (k == NKEYS)
			return cfs_errf(err, -EINVAL, "head: unknown field '%.40s'", tok);
		if (seen & (1u << k))
			return cfs_errf(err, -EINVAL, "head: field '%s' given twice", keys[k]);
		seen |= 1u << k;
		switch (k) {
		case 0:
			bad = cfs_parse_uint(v, INT64_MAX - 1, &u) < 0 || u < 1;
			h->seq = (int64_t)u;
			break;
		case 1:
			bad = cfs_parse_uint(v, INT64_MAX - 1, &u) < 0;
			h->last_id = (int64_t)u;
			break;
		case 2:
			bad = cfs_parse_uint(v, INT64_MAX, &u) < 0;
			h->ts = (int64_t)u;
			break;
		case 3:
			bad = hex_field(v, strlen(v), h->last_hash, HASH_BYTES) < 0;
			break;
		case 4:
			bad = hex_field(v, strlen(v), h->prev, HASH_BYTES) < 0;
			break;
		default:
			bad = hex_field(v, strlen(v), h->sig, SIG_BYTES) < 0;
			break;
		}
		if (bad)
			return cfs_errf(err, -EINVAL, "head: field %s has a bad value", keys[k]);
	}
	for (size_t k = 0; k < NKEYS; k++)
		if (!(seen & (1u << k)))
			return cfs_errf(err, -EINVAL, "head: field %s is missing", keys[k]);
	return 0;
}

/* ------------------------------------------------------------- pubkeys */

int cfs_audit_write_pubkey(const char *dbpath, const unsigned char pk[CFS_AUDIT_PK_BYTES],
			   struct cfs_err *err)
{
	char file[PATH_MAX], tmp[PATH_MAX], line[2 * CFS_AUDIT_PK_BYTES + 2];
	int fd, rc;
	if (!dbpath || !pk)
		return cfs_errf(err, -EINVAL, "audit: no database path or key");
	if ((size_t)snprintf(file, sizeof file, "%s.pub", dbpath) >= sizeof file ||
	    (size_t)snprintf(tmp, sizeof tmp, "%s.pub.tmp", dbpath) >= sizeof tmp)
		return cfs_errf(err, -ENAMETOOLONG, "%s: path too long", dbpath);
	sodium_bin2hex(line, sizeof line, pk, CFS_AUDIT_PK_BYTES);
	line[2 * CFS_AUDIT_PK_BYTES] = '\n';
	line[2 * CFS_AUDIT_PK_BYTES + 1] = 0;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return cfs_errf(err, -errno, "%s: %s", tmp, strerror(errno));
	rc = cfs_pwrite_all(fd, line, 2 * CFS_AUDIT_PK_BYTES + 1, 0);
	if (rc == 0 && fchmod(fd, 0644) < 0)
		rc = -errno;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, file) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return cfs_errf(err, rc, "%s: %s", file, strerror(-rc));
	}
	return 0;
}

static int parse_hex_key(const char *s, size_t n, unsigned char pk[CFS_AUDIT_PK_BYTES])
{
	size_t got = 0;
	if (n != 2 * CFS_AUDIT_PK_BYTES)
		return -EINVAL;
	for (size_t k = 0; k < n; k++)
		if (!((s[k] >= '0' && s[k] <= '9') || (s[k] >= 'a' && s[k] <= 'f') ||
		      (s[k] >= 'A' && s[k] <= 'F')))
			return -EINVAL;
	if (sodium_hex2bin(pk, CFS_AUDIT_PK_BYTES, s, n, NULL, &got, NULL) != 0 ||
	    got != CFS_AUDIT_PK_BYTES)
		return -EINVAL;
	return 0;
}

int cfs_audit_read_pubkey(const char *file_or_hex, unsigned char pk[CFS_AUDIT_PK_BYTES],
			  struct cfs_err *err)
{
	char buf[256];
	ssize_t n;
	int fd;
	if (!file_or_hex || !*file_or_hex)
		return cfs_errf(err, -EINVAL, "audit public key: empty");
	if (sodium_init() < 0)
		return cfs_errf(err, -EIO, "libsodium failed to initialise");
	if (parse_hex_key(file_or_hex, strlen(file_or_hex), pk) == 0)
		return 0;
	fd = open(file_or_hex, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cfs_errf(err, -errno, "audit public key %s: %s (want 64 hex characters or "
				"a file holding them)", file_or_hex, strerror(errno));
	n = cfs_pread_full(fd, buf, sizeof buf, 0);
	close(fd);
	if (n < 0)
		return cfs_errf(err, (int)n, "audit public key %s: %s", file_or_hex,
				strerror((int)-n));
	size_t len = (size_t)n;
	if (len == sizeof buf)
		return cfs_errf(err, -EINVAL, "audit public key %s: too long (want 64 hex "
				"characters)", file_or_hex);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
			   buf[len - 1] == '\t'))
		len--;
	if (parse_hex_key(buf, len, pk) < 0)
		return cfs_errf(err, -EINVAL, "audit public key %s: not 64 hex characters",
				file_or_hex);
	return 0;
}

/* -------------------------------------------------------------- queries */

/* WHERE clause for f with numbered parameters ?1..?9 bound by bind_filter. */
static void filter_sql(const struct cfs_audit_filter *f, char *out, size_t cap)
{
	int has_path = f->path && strcmp(f->path, "/") != 0;
	/* "action <> 'read'" is implied by "action = ?7" when ?7 is not read;
	 * written out, it lets the planner use the partial index events_rare. */
	int rare = f->action && strcmp(f->action, "read") != 0;
	snprintf(out, cap, " WHERE 1%s%s%s%s%s%s%s%s",
		 f->after_id > 0 ? " AND id > ?9" : "",
		 has_path ? " AND (path = ?1 OR (path >= ?2 AND path < ?3))" : "",
		 f->since_us != CFS_AUDIT_NONE ? " AND ts >= ?4" : "",
		 f->until_us != CFS_AUDIT_NONE ? " AND ts < ?5" : "",
		 f->user ? " AND user = ?6" : "",
		 f->action ? " AND action = ?7" : "",
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
	if (!rc && f->action)
		rc = sqlite3_bind_text(st, 7, f->action, -1, SQLITE_STATIC);
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

int cfs_audit_query(struct cfs_audit *a, const struct cfs_audit_filter *f,
		    int (*cb)(const struct cfs_audit_row *row, void *arg), void *arg,
		    struct cfs_err *err)
{
	struct cfs_audit_filter all;
	sqlite3_stmt *st = NULL;
	char where[400], sql[sizeof SQL_ALL + sizeof where + 32], *tmp = NULL;
	int rc, ret = 0;
	if (!a || !cb)
		return cfs_errf(err, -EINVAL, "audit query: no handle or callback");
	if (!f) {
		cfs_audit_filter_init(&all);
		f = &all;
	}
	filter_sql(f, where, sizeof where);
	snprintf(sql, sizeof sql, "%s%s ORDER BY id", SQL_ALL, where);
	pthread_mutex_lock(&a->db_mu);
	if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK ||
	    bind_filter(st, f, &tmp) != SQLITE_OK) {
		ret = dberr(a, err, "cannot query");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct cfs_audit_row row;
		memset(&row, 0, sizeof row);
		row.id = sqlite3_column_int64(st, 0);
		row.ev.ts = col_int(st, 1);
		row.ev.host = col_text(st, 2);
		row.ev.uid = col_int(st, 3);
		row.ev.user = col_text(st, 4);
		row.ev.pid = col_int(st, 5);
		row.ev.exe = col_text(st, 6);
		row.ev.action = col_text(st, 7);
		row.ev.path = col_text(st, 8);
		row.ev.result = col_text(st, 9);
		row.ev.reason = col_text(st, 10);
		row.ev.grant_id = col_int(st, 11);
		row.ev.offset = col_int(st, 12);
		row.ev.length = col_int(st, 13);
		col_hash(st, 14, row.prev_hash, &row.prev_hash_len);
		col_hash(st, 15, row.hash, &row.hash_len);
		ret = cb(&row, arg);
		if (ret)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = dberr(a, err, "cannot query");
out:
	sqlite3_finalize(st);
	free(tmp);
	pthread_mutex_unlock(&a->db_mu);
	return ret;
}

int cfs_audit_count(struct cfs_audit *a, const struct cfs_audit_filter *f,
		    enum cfs_audit_group g, int64_t limit,
		    int (*cb)(const char *key, const char *key2, int64_t n, void *arg), void *arg,
		    struct cfs_err *err)
{
	struct cfs_audit_filter all;
	sqlite3_stmt *st = NULL;
	char where[400], sql[sizeof where + 256], *tmp = NULL;
	const char *sel, *tail;
	int rc, ret = 0;
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
	pthread_mutex_lock(&a->db_mu);
	if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK ||
	    bind_filter(st, f, &tmp) != SQLITE_OK ||
	    (limit > 0 && sqlite3_bind_int64(st, 9, limit) != SQLITE_OK)) {
		ret = dberr(a, err, "cannot query");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ret = cb(col_text(st, 0), col_text(st, 1), sqlite3_column_int64(st, 2), arg);
		if (ret)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = dberr(a, err, "cannot query");
out:
	sqlite3_finalize(st);
	free(tmp);
	pthread_mutex_unlock(&a->db_mu);
	return ret;
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

int cfs_audit_group(struct cfs_audit *a, const struct cfs_audit_filter *f,
		    const enum cfs_audit_key *keys, size_t nkeys, int64_t bucket_us,
		    int (*cb)(const char *const *vals, int64_t bucket, int64_t n, void *arg),
		    void *arg, struct cfs_err *err)
{
	struct cfs_audit_filter all;
	sqlite3_stmt *st = NULL;
	char sql[1024], *tmp = NULL;
	const char *vals[CFS_AUDIT_KEY_COUNT];
	int rc, ret = 0;
	if (!a || !cb || nkeys > CFS_AUDIT_KEY_COUNT || bucket_us < 0)
		return cfs_errf(err, -EINVAL, "audit group: bad arguments");
	if (!f) {
		cfs_audit_filter_init(&all);
		f = &all;
	}
	if (group_sql(f, keys, nkeys, bucket_us, sql, sizeof sql) < 0)
		return cfs_errf(err, -EINVAL, "audit group: unknown key");
	pthread_mutex_lock(&a->db_mu);
	if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK ||
	    bind_filter(st, f, &tmp) != SQLITE_OK ||
	    (bucket_us > 0 && sqlite3_bind_int64(st, 10, bucket_us) != SQLITE_OK)) {
		ret = dberr(a, err, "cannot query");
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (size_t k = 0; k < nkeys; k++)
			vals[k] = col_text(st, (int)k);
		ret = cb(vals, sqlite3_column_int64(st, (int)nkeys),
			 sqlite3_column_int64(st, (int)nkeys + 1), arg);
		if (ret)
			goto out;
	}
	if (rc != SQLITE_DONE)
		ret = dberr(a, err, "cannot query");
out:
	sqlite3_finalize(st);
	free(tmp);
	pthread_mutex_unlock(&a->db_mu);
	return ret;
}
