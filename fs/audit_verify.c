/* audit_verify.c — verification of an audit.db with only the public key:
 * the hash chain, the checkpoint chain and signatures, and pinned heads. It
 * opens the database read-only and must never write to it. */
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

const char cfs_aud_sql_all[sizeof SQL_ALL_TEXT] = SQL_ALL_TEXT;

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
	char sql[sizeof cfs_aud_sql_all + 32];
	snprintf(sql, sizeof sql, "%s ORDER BY id", cfs_aud_sql_all);
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
		rc = cfs_aud_encode_grow(v, &buf, &cap, &n);
		if (rc < 0) {
			free(buf);
			sqlite3_finalize(st);
			return cfs_errf(err, rc, "%s: event %lld: cannot encode: %s", path,
					(long long)id, strerror(-rc));
		}
		cfs_aud_chain_hash(prev, buf, n, h);
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
int cfs_aud_row_hash(sqlite3_stmt *ev, int64_t id, unsigned char out[HASH_BYTES])
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

/* The walk over the checkpoints: what the next one must chain to. */
struct cpwalk {
	sqlite3_stmt *st, *ev;          /* the checkpoints; an event's hash by id */
	const unsigned char *pk;
	struct cfs_verify_report *r;
	struct vstate *vs;
	int64_t max_id;                 /* the newest event id */
	unsigned char expect_prev[HASH_BYTES];
	int64_t expect_seq, prev_last, valid;
	int seen_v2, unknown;
};

/* Is the current checkpoint row malformed (wrong types or sizes)? */
static int cp_malformed(sqlite3_stmt *st, int64_t last, int v2)
{
	return sqlite3_column_type(st, 1) != SQLITE_INTEGER ||
	       sqlite3_column_type(st, 2) != SQLITE_INTEGER || last < (v2 ? 0 : 1) ||
	       sqlite3_column_type(st, 3) != SQLITE_BLOB || sqlite3_column_bytes(st, 3) != HASH_BYTES ||
	       sqlite3_column_type(st, 4) != SQLITE_BLOB || sqlite3_column_bytes(st, 4) != SIG_BYTES ||
	       (v2 && (sqlite3_column_type(st, 5) != SQLITE_INTEGER || sqlite3_column_int64(st, 5) < 1 ||
		       sqlite3_column_int64(st, 5) == INT64_MAX ||
		       sqlite3_column_type(st, 6) != SQLITE_BLOB ||
		       sqlite3_column_bytes(st, 6) != HASH_BYTES));
}

/* The bytes the current checkpoint signed, into buf (CP2_MSG_BYTES): its
 * head h for format 2. Returns the message length. */
static size_t cp_signed(sqlite3_stmt *st, int v2, int64_t last, struct cfs_audit_head *h,
			unsigned char *buf)
{
	const unsigned char *lh = sqlite3_column_blob(st, 3);
	memset(h, 0, sizeof *h);
	if (!v2) {
		cfs_aud_cp_message(last, lh, sqlite3_column_int64(st, 1), buf);
		return CP_MSG_BYTES;
	}
	h->seq = sqlite3_column_int64(st, 5);
	h->last_id = last;
	h->ts = sqlite3_column_int64(st, 1);
	memcpy(h->last_hash, lh, HASH_BYTES);
	memcpy(h->prev, sqlite3_column_blob(st, 6), HASH_BYTES);
	memcpy(h->sig, sqlite3_column_blob(st, 4), SIG_BYTES);
	cfs_aud_cp2_message(h, buf);
	return CP2_MSG_BYTES;
}

/* Does the event the checkpoint sealed still hold what it sealed? 1 yes,
 * 0 no (reported), -1 the events cannot be read. */
static int cp_row_holds(struct cpwalk *w, int64_t cid, int64_t last)
{
	unsigned char stored[HASH_BYTES];
	const unsigned char *lh = sqlite3_column_blob(w->st, 3);
	if (last == 0)
		return 1;       /* an empty log's checkpoint (coach-admin init) */
	int s = cfs_aud_row_hash(w->ev, last, stored);
	if (s == 1 && sodium_memcmp(stored, lh, HASH_BYTES) == 0)
		return 1;
	if (s == 1 || s == -1) {
		vbad(w->vs, last, "event %lld: differs from what checkpoint %lld sealed (rewritten)",
		     (long long)last, (long long)cid);
	} else if (s == 0) {
		int64_t miss = last > w->max_id ? w->max_id + 1 : last;
		vbad(w->vs, miss, "event %lld: missing, but checkpoint %lld sealed events up to %lld "
		     "(deleted or truncated)", (long long)miss, (long long)cid, (long long)last);
	} else {
		return -1;
	}
	return 0;
}

/* The checkpoint chain (a forged checkpoint is bad already; the next one
 * is judged against its fields all the same). from: the first event this
 * checkpoint's place in the chain vouches for. */
static void cp_chain(struct cpwalk *w, const struct cfs_audit_head *h, int64_t cid, int64_t last,
		     int64_t from, int v2, int sig_ok)
{
	struct vstate *vs = w->vs;
	if (!sig_ok || (w->unknown && v2)) {
		if (v2) {
			w->seen_v2 = 1;
			w->expect_seq = h->seq + 1;
		}
		return;
	}
	if (!v2) {
		if (w->seen_v2)
			vbad(vs, last, "checkpoint %lld: an old-format checkpoint after new-format ones "
			     "(inserted or replayed)", (long long)cid);
		return;
	}
	/* the first event whose seal is in doubt, within this one's */
	int64_t at = ID1(from <= last ? from : last);
	if (h->seq != w->expect_seq)
		vbad(vs, at, "checkpoint %lld: seq %lld where seq %lld was expected (checkpoints "
		     "deleted, reordered or inserted)", (long long)cid, (long long)h->seq,
		     (long long)w->expect_seq);
	else if (sodium_memcmp(h->prev, w->expect_prev, HASH_BYTES) != 0)
		vbad(vs, at, "checkpoint %lld (seq %lld) does not chain to the checkpoint before it "
		     "(checkpoints deleted, replaced or reordered)", (long long)cid, (long long)h->seq);
	else if (w->seen_v2 && last <= w->prev_last)
		vbad(vs, ID1(last), "checkpoint %lld (seq %lld) seals events up to %lld, no further "
		     "than the one before it (reordered)", (long long)cid, (long long)h->seq,
		     (long long)last);
	w->seen_v2 = 1;
	w->expect_seq = h->seq + 1;
}

/* Judge the current checkpoint row; -1 when the events cannot be read. */
static int cp_one(struct cpwalk *w)
{
	struct cfs_audit_head h;
	unsigned char msg[CP2_MSG_BYTES];
	sqlite3_stmt *st = w->st;
	int64_t cid = sqlite3_column_int64(st, 0), last = sqlite3_column_int64(st, 2);
	int64_t from = w->prev_last + 1;
	int v2 = sqlite3_column_type(st, 5) != SQLITE_NULL || sqlite3_column_type(st, 6) != SQLITE_NULL;
	w->r->checkpoints++;
	if (cp_malformed(st, last, v2)) {
		vbad(w->vs, last > 0 ? last : ID1(from), "checkpoint %lld is malformed (edited)",
		     (long long)cid);
		w->unknown = 1;         /* the next one cannot be judged against it: no cascade */
		if (last > w->prev_last)
			w->prev_last = last;
		return 0;
	}
	size_t mlen = cp_signed(st, v2, last, &h, msg);
	if (!v2)
		w->r->checkpoints_v1++;
	int sig_ok = crypto_sign_verify_detached(sqlite3_column_blob(st, 4), msg, mlen, w->pk) == 0;
	if (!sig_ok && last > 0)
		vbad(w->vs, last, "event %lld: checkpoint %lld sealing it has a bad signature (forged, "
		     "edited, or another key)", (long long)last, (long long)cid);
	else if (!sig_ok)
		vbad(w->vs, ID1(from), "checkpoint %lld has a bad signature (forged, edited, or another "
		     "key)", (long long)cid);
	int row_ok = sig_ok ? cp_row_holds(w, cid, last) : 0;
	if (row_ok < 0)
		return -1;
	cp_chain(w, &h, cid, last, from, v2, sig_ok);
	cfs_aud_msg_hash(msg, mlen, w->expect_prev);
	w->prev_last = last;
	w->unknown = 0;
	if (sig_ok && row_ok) {
		w->valid++;
		if (last > w->r->last_sealed_id)
			w->r->last_sealed_id = last;
		w->r->newest_ts = sqlite3_column_int64(st, 1);
		if (v2) {
			w->r->head = h;
			w->r->has_head = 1;
		}
	}
	return 0;
}

/* Every checkpoint in id order: its signature, the event it seals, and the
 * checkpoint chain (seq 1, 2, 3..., each prev the hash of the one before;
 * no format-1 checkpoint after a format-2 one). */
static int verify_checkpoints(sqlite3 *db, const char *path, const unsigned char *pk,
			      int has2, struct cfs_verify_report *r, struct vstate *vs,
			      int64_t max_id, struct cfs_err *err)
{
	struct cpwalk w = { .pk = pk, .r = r, .vs = vs, .max_id = max_id, .expect_seq = 1 };
	int rc;
	if (sqlite3_prepare_v2(db, has2 ? "SELECT id, ts, last_id, last_hash, sig, seq, prev FROM"
			       " checkpoints ORDER BY id"
			       : "SELECT id, ts, last_id, last_hash, sig, NULL, NULL FROM"
			       " checkpoints ORDER BY id", -1, &w.st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT hash FROM events WHERE id = ?1", -1, &w.ev, NULL) !=
	    SQLITE_OK) {
		rc = cfs_errf(err, -EIO, "%s: cannot read checkpoints: %s", path, sqlite3_errmsg(db));
		sqlite3_finalize(w.st);
		sqlite3_finalize(w.ev);
		return rc;
	}
	int bad_read = 0;
	while ((rc = sqlite3_step(w.st)) == SQLITE_ROW && !(bad_read = cp_one(&w) < 0))
		;
	sqlite3_finalize(w.ev);
	sqlite3_finalize(w.st);
	if (bad_read)
		return cfs_errf(err, -EIO, "%s: cannot read events: %s", path, sqlite3_errmsg(db));
	if (rc != SQLITE_DONE)
		return cfs_errf(err, -EIO, "%s: cannot read checkpoints: %s", path, sqlite3_errmsg(db));
	/* Emptying the checkpoints table (and then rewriting the events with a
	 * recomputed chain, which needs no key) must not verify. */
	if (r->rows > 0 && w.valid == 0 && vs->bad == 0)
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
		s = cfs_aud_row_hash(ev, p->last_id, stored);
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
	rc = cfs_aud_open_ro_db(path, &db, err);
	if (rc < 0)
		return rc;
	/* One read transaction: a consistent snapshot even while the daemon
	 * appends. */
	if (cfs_aud_exec_sql(db, "BEGIN") != SQLITE_OK) {
		rc = cfs_errf(err, -EIO, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	rc = cfs_aud_check_format(db, path, err);
	if (rc == 0 && (has2 = cfs_aud_has_cp2_columns(db)) < 0)
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
	cfs_aud_exec_sql(db, "COMMIT");
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

