/* audit_db.c — audit.db's schema statements, the chained insert of a batch
 * of rows inside one transaction, and the signed checkpoints (see audit.c
 * for the chain and checkpoint formats). It must never commit a row whose
 * hash does not follow the head it read inside the same transaction, and
 * never sign over a chain it has not checked. */
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


/* ------------------------------------------------------------- database */

const char cfs_aud_schema[] =
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

const char cfs_aud_sql_insert[] =
	"INSERT INTO events(id, ts, host, uid, user, pid, exe, action, path, result, reason,"
	" grant_id, \"offset\", length, prev_hash, hash)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";
const char cfs_aud_sql_head[] = "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1";
const char cfs_aud_sql_cp_head[] =
	"SELECT id, last_id, ts, last_hash, seq, prev, sig FROM checkpoints ORDER BY id DESC LIMIT 1";
const char cfs_aud_sql_cp_insert[] =
	"INSERT INTO checkpoints(id, ts, last_id, last_hash, sig, seq, prev)"
	" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";

int cfs_aud_exec_sql(sqlite3 *db, const char *sql)
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

int cfs_aud_dberr(struct cfs_audit *a, struct cfs_err *err, const char *what)
{
	return cfs_errf(err, cfs_sqlite_errno(sqlite3_extended_errcode(a->db)), "audit database %s: %s: %s", a->path, what,
			sqlite3_errmsg(a->db));
}

/* Does the path still name the file we opened (and so is it still linked)?
 * At open, SQLite's file, our descriptor and the path were shown to be one
 * inode (connect_db, audit.c: fstat and SQLITE_FCNTL_HAS_MOVED), and
 * SQLite never reopens it; so before each transaction one stat of the path
 * says all three still are: a deleted file no longer resolves, a replaced
 * or moved one resolves to another inode, and an inode the path resolves to
 * has a link. (The descriptor is O_PATH on purpose: closing an ordinary one
 * on the database file would drop every POSIX lock this process holds on
 * it, SQLite's included.) */
static int check_identity(struct cfs_audit *a, struct cfs_err *err)
{
	struct stat ps;
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
		return cfs_aud_dberr(a, err, "cannot read the chain head");
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
	cfs_aud_event_vals(&ev, id, v);
	rc = cfs_aud_encode_grow(v, &a->enc, &a->enc_cap, &n);
	if (rc < 0)
		return cfs_errf(err, -EIO, "audit database %s: cannot encode event: %s", a->path,
				strerror(-rc));
	cfs_aud_chain_hash(prev, a->enc, n, h);
	if (sqlite3_bind_int64(st, 1, id) || sqlite3_bind_int64(st, 2, ev.ts) ||
	    bind_text(st, 3, ev.host) || bind_int(st, 4, ev.uid) || bind_text(st, 5, ev.user) ||
	    bind_int(st, 6, ev.pid) || bind_text(st, 7, ev.exe) ||
	    bind_text(st, 8, cfs_action_name(ev.action)) ||
	    bind_text(st, 9, ev.path) || bind_text(st, 10, ev.result) ||
	    bind_text(st, 11, ev.reason) || bind_int(st, 12, ev.grant_id) ||
	    bind_int(st, 13, ev.offset) || bind_int(st, 14, ev.length) ||
	    sqlite3_bind_blob(st, 15, prev, HASH_BYTES, SQLITE_STATIC) ||
	    sqlite3_bind_blob(st, 16, h, HASH_BYTES, SQLITE_STATIC)) {
		sqlite3_reset(st);
		return cfs_aud_dberr(a, err, "cannot bind event");
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return cfs_aud_dberr(a, err, "cannot record event");
	memcpy(prev, h, HASH_BYTES);
	return 0;
}

/* Commit rows (queued ones, then the synchronous ones) in one
 * transaction. Caller holds db_mu. */
static int write_rows(struct cfs_audit *a, struct qev *const *rows, size_t n,
		      const struct cfs_event *const *sync, size_t nsync, struct cfs_err *err)
{
	unsigned char prev[HASH_BYTES];
	int64_t id = 0;
	int rc = check_identity(a, err);
	if (rc < 0)
		return rc;
	if (step_done(a->st_begin) != SQLITE_OK)
		return cfs_aud_dberr(a, err, "cannot begin a transaction");
	rc = read_head(a, &id, prev, err);
	for (size_t k = 0; rc == 0 && k < n; k++)
		rc = insert_row(a, &rows[k]->ev, ++id, prev, err);
	for (size_t k = 0; rc == 0 && k < nsync; k++)
		rc = insert_row(a, sync[k], ++id, prev, err);
	if (rc == 0 && step_done(a->st_commit) != SQLITE_OK)
		rc = cfs_aud_dberr(a, err, "cannot commit");
	if (rc < 0)
		rollback(a);
	return rc;
}

/* Commit the oldest queued rows (at most BATCH_MAX), plus the nsync
 * synchronous rows sync[] (a group commit: audit_group.c), in one
 * transaction; *more (if given) says whether rows are still queued.
 * Rows leave the queue only once committed; on failure they stay queued
 * and the handle is marked failed until a later commit succeeds. A sync_ev
 * may thus be committed before rows queued earlier beyond the first
 * BATCH_MAX (their ts still says when they happened). */
int cfs_aud_drain(struct cfs_audit *a, const struct cfs_event *const *sync, size_t nsync,
		  struct cfs_err *err, int *more)
{
	pthread_mutex_lock(&a->db_mu);
	int rc = cfs_aud_drain_locked(a, sync, nsync, err, more);
	pthread_mutex_unlock(&a->db_mu);
	return rc;
}

int cfs_aud_drain_locked(struct cfs_audit *a, const struct cfs_event *const *sync, size_t nsync,
			 struct cfs_err *err, int *more)
{
	size_t n;
	int rc, was_failed;
	int64_t now;
	if (more)
		*more = 0;
	pthread_mutex_lock(&a->q_mu);
	n = a->count < BATCH_MAX ? a->count : BATCH_MAX;
	was_failed = a->failed;
	for (size_t k = 0; k < n; k++)
		a->batch[k] = a->ring[(a->head + k) % QUEUE_CAP];
	pthread_mutex_unlock(&a->q_mu);
	/* Nothing to write: done, unless the handle is marked failed — then an
	 * empty transaction (with the identity check) probes whether it can
	 * record again. */
	if (n == 0 && !nsync && !was_failed)
		return 0;
	/* After a long run of transactions, leave the lock to others a moment. */
	now = cfs_aud_mono_us();
	if (now - a->last_end_us >= RUN_BREAK_US) {
		a->run_start_us = now;
	} else if (now - a->run_start_us >= RUN_MAX_US) {
		cfs_aud_sleep_us(GAP_US - (now - a->last_end_us));
		a->run_start_us = cfs_aud_mono_us();
	}
	rc = write_rows(a, a->batch, n, sync, nsync, err);
	a->last_end_us = cfs_aud_mono_us();
	pthread_mutex_lock(&a->q_mu);
	if (rc == 0) {
		a->head = (a->head + n) % QUEUE_CAP;
		a->count -= n;
		a->failed = 0;
		if (more)
			*more = a->count > 0;
		if (a->unsealed_since_ms == 0 && (n > 0 || nsync))
			a->unsealed_since_ms = cfs_aud_mono_ms();
		pthread_cond_broadcast(&a->q_space);
	} else {
		a->failed = 1;
		a->retry_at_ms = cfs_aud_mono_ms() + RETRY_MS;
		pthread_cond_broadcast(&a->q_space);
		pthread_cond_signal(&a->q_wake);   /* the writer schedules the retry */
	}
	pthread_mutex_unlock(&a->q_mu);
	if (rc == 0)
		for (size_t k = 0; k < n; k++)
			free(a->batch[k]);
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
		return cfs_aud_dberr(a, err, "cannot read the last checkpoint");
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
		cfs_aud_cp2_message(&h, msg);
		cfs_aud_msg_hash(msg, sizeof msg, t->prev_of_next);
		t->sig_ok = crypto_sign_verify_detached(sqlite3_column_blob(st, 6), msg, sizeof msg,
							a->pk) == 0;
	} else {
		unsigned char msg[CP_MSG_BYTES];
		cfs_aud_cp_message(t->last_id, sqlite3_column_blob(st, 3), sqlite3_column_int64(st, 2), msg);
		cfs_aud_msg_hash(msg, sizeof msg, t->prev_of_next);
		t->sig_ok = crypto_sign_verify_detached(sqlite3_column_blob(st, 6), msg, sizeof msg,
							a->pk) == 0;
	}
	if (rc == 0)
		memcpy(t->last_hash, sqlite3_column_blob(st, 3), HASH_BYTES);
	sqlite3_reset(st);
	return rc;
}


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
		s = cfs_aud_row_hash(a->st_row_hash, t->last_id, stored);
		if (s == -2)
			return cfs_aud_dberr(a, err, "cannot read the event the last checkpoint sealed");
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
int cfs_aud_checkpoint_locked(struct cfs_audit *a, int empty_only, struct cfs_audit_head *out,
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
		return cfs_aud_dberr(a, err, "cannot begin a transaction");
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
		cfs_aud_cp2_message(&h, msg);
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
			rc = cfs_aud_dberr(a, err, "cannot record checkpoint");
		sqlite3_reset(st);
		did = 1;
	}
	if (rc == 0 && step_done(a->st_commit) != SQLITE_OK)
		rc = cfs_aud_dberr(a, err, "cannot commit checkpoint");
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
void cfs_aud_announce(struct cfs_audit *a, const struct cfs_audit_head *h)
{
	char line[CFS_AUDIT_HEAD_LINE_MAX];
	if (!a->head_hook)
		return;
	cfs_audit_head_format(h, line, sizeof line);
	a->head_hook(line, a->head_arg);
}

