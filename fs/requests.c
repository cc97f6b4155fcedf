/* requests.c — the `requests` table of policy.db: access requests waiting
 * for admins, and break-glass records waiting for review. It owns that
 * table's schema, its row MACs (under the rowmac key, like grants: a row
 * written or edited without the key reads back as not authentic and is
 * never acted on; the table itself is policydb.c's, made when policy.db is
 * opened), validation of every value read back, and the one
 * transaction in which a decision, the grant it creates and the caller's
 * audit row are committed together. It must never decide who may act
 * (the caller's decide hook, which asks policy.c), and never print. */
#include "coachfs/requests.h"
#include "coachfs/policydb.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UID_MAX_ 0xfffffffeu
#define T_MAX (INT64_MAX / 4)

#define REQ_COLS "id, kind, uid, user, path, write, ttl, reason, created, expires, approved_by, " \
	"approver_uid, approved_at, decided_by, decided_uid, decided_at, denied, note, grant_id, " \
	"reviewed_by, reviewed_at, review_note, mac"
enum { R_ID, R_KIND, R_UID, R_USER, R_PATH, R_WRITE, R_TTL, R_REASON, R_CREATED, R_EXPIRES,
       R_APPR_BY, R_APPR_UID, R_APPR_AT, R_DEC_BY, R_DEC_UID, R_DEC_AT, R_DENIED, R_NOTE,
       R_GRANT, R_REV_BY, R_REV_AT, R_REV_NOTE, R_MAC, R_NCOLS };

/* ---- names and states ---- */

void cfs_req_name(const struct cfs_req_rec *r, char *out, size_t cap)
{
	snprintf(out, cap, "%c%lld", r->kind == CFS_REQ_BREAKGLASS ? 'B' : 'R', (long long)r->id);
}

const char *cfs_req_state(const struct cfs_req_rec *r, int64_t now)
{
	if (r->row_state != CFS_ROW_OK)
		return cfs_row_state_name(r->row_state);
	if (r->kind == CFS_REQ_BREAKGLASS)
		return r->reviewed_at ? "reviewed" : "unreviewed";
	if (r->decided_at)
		return r->denied ? "denied" : "granted";
	if (now >= r->expires)
		return "expired";
	return r->approved_at ? "approved 1/2" : "pending";
}

void cfs_req_grant_base(const struct cfs_req_rec *r, int64_t start, int64_t ttl, struct cfs_grant_rec *g)
{
	cfs_grant_rec_for_user(g, r->user, r->uid, r->path, r->write, start, ttl);
}

void cfs_req_view_of(const struct cfs_req_rec *r, int two_person, struct cfs_req_view *v)
{
	*v = (struct cfs_req_view){ .id = r->id, .kind = (enum cfs_req_kind)r->kind, .uid = r->uid,
				    .expires = r->expires, .approver_uid = r->approver_uid,
				    .approved_at = r->approved_at, .decided_at = r->decided_at,
				    .reviewed_at = r->reviewed_at, .two_person = two_person };
}

/* ---- MAC ---- */

#define MF_S(x) { 1, 0, (x), SIZE_MAX }
#define MF_I(x) { 0, (int64_t)(x), NULL, 0 }

static void req_mac(const unsigned char *key, const struct cfs_req_rec *r, unsigned char out[CFS_ROWMAC_BYTES])
{
	const struct cfs_macf f[] = {
		MF_I(r->id), MF_I(r->kind), MF_I(r->uid), MF_S(r->user), MF_S(r->path), MF_I(r->write),
		MF_I(r->ttl), MF_S(r->reason), MF_I(r->created), MF_I(r->expires), MF_S(r->approved_by),
		MF_I(r->approver_uid), MF_I(r->approved_at), MF_S(r->decided_by), MF_I(r->decided_uid),
		MF_I(r->decided_at), MF_I(r->denied), MF_S(r->note), MF_I(r->grant_id),
		MF_S(r->reviewed_by), MF_I(r->reviewed_at), MF_S(r->review_note) };
	cfs_rowmac(key, "coachfs policy.db request v1", f, sizeof f / sizeof f[0], out);
}

/* ---- reading a row, hostile ---- */

static int db_fail(struct cfs_grants_tx *tx, int rc, const char *what, struct cfs_err *err)
{
	return cfs_policydb_err(tx->pdb, rc, what, err);
}

static const char *read_ints(sqlite3_stmt *st, struct cfs_req_rec *r, int *col)
{
	static const struct { int col, req; int64_t lo, hi; size_t off; int is32; } ints[] = {
		{ R_KIND, 1, CFS_REQ_REQUEST, CFS_REQ_BREAKGLASS, offsetof(struct cfs_req_rec, kind), 2 },
		{ R_UID, 1, 1, UID_MAX_, offsetof(struct cfs_req_rec, uid), 1 },
		{ R_WRITE, 1, 0, 1, offsetof(struct cfs_req_rec, write), 2 },
		{ R_TTL, 1, 1, T_MAX, offsetof(struct cfs_req_rec, ttl), 0 },
		{ R_CREATED, 1, 1, T_MAX, offsetof(struct cfs_req_rec, created), 0 },
		{ R_EXPIRES, 1, 1, T_MAX, offsetof(struct cfs_req_rec, expires), 0 },
		{ R_APPR_UID, 0, 0, UID_MAX_, offsetof(struct cfs_req_rec, approver_uid), 1 },
		{ R_APPR_AT, 0, 0, T_MAX, offsetof(struct cfs_req_rec, approved_at), 0 },
		{ R_DEC_UID, 0, 0, UID_MAX_, offsetof(struct cfs_req_rec, decided_uid), 1 },
		{ R_DEC_AT, 0, 0, T_MAX, offsetof(struct cfs_req_rec, decided_at), 0 },
		{ R_DENIED, 0, 0, 1, offsetof(struct cfs_req_rec, denied), 2 },
		{ R_GRANT, 0, 0, INT64_MAX, offsetof(struct cfs_req_rec, grant_id), 0 },
		{ R_REV_AT, 0, 0, T_MAX, offsetof(struct cfs_req_rec, reviewed_at), 0 },
	};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		int64_t v;
		const char *bad = cfs_db_col_int(st, ints[i].col, ints[i].req, ints[i].lo, ints[i].hi, 0, &v);
		if (bad) {
			*col = ints[i].col;
			return bad;
		}
		char *p = (char *)r + ints[i].off;
		if (ints[i].is32 == 1)
			*(uint32_t *)(void *)p = (uint32_t)v;
		else if (ints[i].is32 == 2)
			*(int *)(void *)p = (int)v;
		else
			*(int64_t *)(void *)p = v;
	}
	return NULL;
}

static const char *read_texts(sqlite3_stmt *st, struct cfs_req_rec *r, int *col)
{
	static const struct { int col, req; size_t off, cap; } txt[] = {
		{ R_USER, 1, offsetof(struct cfs_req_rec, user), CFS_TEXT_MAX },
		{ R_PATH, 1, offsetof(struct cfs_req_rec, path), 4096 },
		{ R_REASON, 0, offsetof(struct cfs_req_rec, reason), CFS_TEXT_MAX },
		{ R_APPR_BY, 0, offsetof(struct cfs_req_rec, approved_by), CFS_TEXT_MAX },
		{ R_DEC_BY, 0, offsetof(struct cfs_req_rec, decided_by), CFS_TEXT_MAX },
		{ R_NOTE, 0, offsetof(struct cfs_req_rec, note), CFS_TEXT_MAX },
		{ R_REV_BY, 0, offsetof(struct cfs_req_rec, reviewed_by), CFS_TEXT_MAX },
		{ R_REV_NOTE, 0, offsetof(struct cfs_req_rec, review_note), CFS_TEXT_MAX },
	};
	for (size_t i = 0; i < sizeof txt / sizeof txt[0]; i++) {
		const char *bad = cfs_db_col_text(st, txt[i].col, txt[i].req, (char *)r + txt[i].off, txt[i].cap);
		if (bad) {
			*col = txt[i].col;
			return bad;
		}
	}
	if (cfs_path_valid(r->path) < 0) {
		*col = R_PATH;
		return "is not a canonical mount-relative path";
	}
	return NULL;
}

static int row_to_rec(struct cfs_grants_tx *tx, sqlite3_stmt *st, struct cfs_req_rec *r,
		      struct cfs_err *err)
{
	static const char *const names[R_NCOLS] = {
		"id", "kind", "uid", "user", "path", "write", "ttl", "reason", "created", "expires",
		"approved_by", "approver_uid", "approved_at", "decided_by", "decided_uid", "decided_at",
		"denied", "note", "grant_id", "reviewed_by", "reviewed_at", "review_note", "mac" };
	int col = R_ID;
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(st, R_ID);
	const char *bad = r->id <= 0 ? "is not positive" : read_ints(st, r, &col);
	if (!bad)
		bad = read_texts(st, r, &col);
	if (bad)
		return cfs_errf(err, -EIO, "%s: request %lld: %s %s", tx->file, (long long)r->id,
				names[col], bad);
	unsigned char want[CFS_ROWMAC_BYTES];
	if (tx->key)
		req_mac(tx->key, r, want);
	r->row_state = cfs_db_mac_state(tx->key, st, R_MAC, want);
	return 0;
}

/* ---- statements ---- */

/* Step a SELECT of REQ_COLS, one row into r: 1 a row, 0 none, or an error. */
static int step_rec(struct cfs_grants_tx *tx, sqlite3_stmt *st, struct cfs_req_rec *r, struct cfs_err *err)
{
	int rc = cfs_policydb_step(tx->pdb, st, "reading requests", err);
	if (rc == 1 && (rc = row_to_rec(tx, st, r, err)) == 0)
		rc = 1;
	return rc;
}

static int read_one(struct cfs_grants_tx *tx, int64_t id, struct cfs_req_rec *r, struct cfs_err *err)
{
	sqlite3_stmt *st;
	int rc, s = sqlite3_prepare_v2(tx->db, "SELECT " REQ_COLS " FROM requests WHERE id = ?1", -1, &st, NULL);
	if (s != SQLITE_OK)
		return db_fail(tx, s, "reading a request", err);
	sqlite3_bind_int64(st, 1, id);
	rc = step_rec(tx, st, r, err);
	sqlite3_finalize(st);
	if (rc == 0)
		rc = cfs_errf(err, -ENOENT, "no request %lld", (long long)id);
	return rc < 0 ? rc : 0;
}

#define bind_text cfs_policydb_bind_text
#define bind_int cfs_policydb_bind_int

/* Write every column of r (and its MAC) over row r->id. */
static int write_rec(struct cfs_grants_tx *tx, const struct cfs_req_rec *r, struct cfs_err *err)
{
	sqlite3_stmt *st;
	unsigned char mac[CFS_ROWMAC_BYTES];
	int s = sqlite3_prepare_v2(tx->db, "UPDATE requests SET kind = ?2, uid = ?3, user = ?4, path = ?5, "
				   "write = ?6, ttl = ?7, reason = ?8, created = ?9, expires = ?10, "
				   "approved_by = ?11, approver_uid = ?12, approved_at = ?13, decided_by = ?14, "
				   "decided_uid = ?15, decided_at = ?16, denied = ?17, note = ?18, grant_id = ?19, "
				   "reviewed_by = ?20, reviewed_at = ?21, review_note = ?22, mac = ?23 "
				   "WHERE id = ?1", -1, &st, NULL);
	if (s != SQLITE_OK)
		return db_fail(tx, s, "storing a request", err);
	req_mac(tx->key, r, mac);
	sqlite3_bind_int64(st, 1, r->id);
	sqlite3_bind_int(st, 2, r->kind);
	sqlite3_bind_int64(st, 3, r->uid);
	bind_text(st, 4, r->user);
	bind_text(st, 5, r->path);
	sqlite3_bind_int(st, 6, r->write);
	sqlite3_bind_int64(st, 7, r->ttl);
	bind_text(st, 8, r->reason);
	sqlite3_bind_int64(st, 9, r->created);
	sqlite3_bind_int64(st, 10, r->expires);
	bind_text(st, 11, r->approved_by);
	bind_int(st, 12, r->approver_uid, 1);
	bind_int(st, 13, r->approved_at, 1);
	bind_text(st, 14, r->decided_by);
	bind_int(st, 15, r->decided_uid, 1);
	bind_int(st, 16, r->decided_at, 1);
	bind_int(st, 17, r->denied, !r->decided_at);
	bind_text(st, 18, r->note);
	bind_int(st, 19, r->grant_id, 1);
	bind_text(st, 20, r->reviewed_by);
	bind_int(st, 21, r->reviewed_at, 1);
	bind_text(st, 22, r->review_note);
	sqlite3_bind_blob(st, 23, mac, sizeof mac, SQLITE_TRANSIENT);
	return cfs_policydb_update_one(tx->pdb, st, "storing a request", "request ", r->id, err);
}

/* ---- create ---- */

static int count_pending(struct cfs_grants_tx *tx, uint32_t uid, int64_t now, int64_t *n, struct cfs_err *err)
{
	sqlite3_stmt *st;
	int s = sqlite3_prepare_v2(tx->db, "SELECT count(*) FROM requests WHERE uid = ?1 AND kind = 1 AND "
				   "decided_at IS NULL AND expires > ?2", -1, &st, NULL);
	if (s != SQLITE_OK)
		return db_fail(tx, s, "counting requests", err);
	sqlite3_bind_int64(st, 1, uid);
	sqlite3_bind_int64(st, 2, now);
	s = sqlite3_step(st);
	*n = s == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return s == SQLITE_ROW ? 0 : db_fail(tx, s, "counting requests", err);
}

struct create_tx {
	struct cfs_req_rec *rec;
	struct cfs_grant_rec *bg;
	int (*record)(const struct cfs_req_rec *, void *, struct cfs_err *);
	void *arg;
};

/* The break-glass grant: its reason names the record it came from. */
static int create_grant(struct cfs_grants_tx *tx, struct cfs_req_rec *r, struct cfs_grant_rec *bg,
			struct cfs_err *err)
{
	char name[32];
	cfs_req_name(r, name, sizeof name);
	snprintf(bg->reason, sizeof bg->reason, "break-glass %s: %.200s", name, r->reason);
	int rc = cfs_grants_insert_tx(tx, bg, err);
	if (rc == 0)
		r->grant_id = bg->g.id;
	return rc;
}

static int create_fn(struct cfs_grants_tx *tx, void *arg, struct cfs_err *err)
{
	struct create_tx *c = arg;
	struct cfs_req_rec *r = c->rec;
	sqlite3_stmt *st;
	int64_t n = 0;
	int rc, s;
	if (r->kind == CFS_REQ_REQUEST && (rc = count_pending(tx, r->uid, r->created, &n, err)) < 0)
		return rc;
	if (n >= CFS_REQ_PENDING_MAX)
		return cfs_errf(err, -EDQUOT, "%s already has %lld pending requests", r->user, (long long)n);
	s = sqlite3_prepare_v2(tx->db, "INSERT INTO requests(kind, uid, user, path, created, expires) "
			       "VALUES(?1, ?2, ?3, ?4, ?5, ?6)", -1, &st, NULL);
	if (s != SQLITE_OK)
		return db_fail(tx, s, "adding a request", err);
	sqlite3_bind_int(st, 1, r->kind);
	sqlite3_bind_int64(st, 2, r->uid);
	sqlite3_bind_text(st, 3, r->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, r->created);
	sqlite3_bind_int64(st, 6, r->expires);
	s = sqlite3_step(st);
	sqlite3_finalize(st);
	if (s != SQLITE_DONE)
		return db_fail(tx, s, "adding a request", err);
	r->id = sqlite3_last_insert_rowid(tx->db);
	if (c->bg && (rc = create_grant(tx, r, c->bg, err)) < 0)
		return rc;
	r->row_state = CFS_ROW_OK;
	if ((rc = write_rec(tx, r, err)) < 0)
		return rc;
	return c->record ? c->record(r, c->arg, err) : 0;
}

static int rec_ok(const struct cfs_req_rec *r)
{
	return r->uid > 0 && r->uid <= UID_MAX_ && r->user[0] && strnlen(r->user, CFS_TEXT_MAX) < CFS_TEXT_MAX &&
	       strnlen(r->reason, CFS_TEXT_MAX) < CFS_TEXT_MAX && cfs_path_valid(r->path) == 0 &&
	       (r->kind == CFS_REQ_REQUEST || r->kind == CFS_REQ_BREAKGLASS) && r->ttl > 0 &&
	       r->created > 0 && r->expires > r->created && (r->write == 0 || r->write == 1);
}

int cfs_requests_create(struct cfs_grants *g, struct cfs_req_rec *rec, struct cfs_grant_rec *bg,
			int (*record)(const struct cfs_req_rec *rec, void *arg, struct cfs_err *err),
			void *arg, struct cfs_err *err)
{
	struct create_tx c = { rec, bg, record, arg };
	if (!rec_ok(rec) || (bg != NULL) != (rec->kind == CFS_REQ_BREAKGLASS))
		return cfs_errf(err, -EINVAL, "request: bad fields");
	int rc = cfs_grants_txn(g, 1, create_fn, &c, err);
	if (rc < 0)
		rec->id = 0;
	return rc;
}

/* ---- act ---- */

struct act_tx {
	int64_t id;
	enum cfs_req_act act;
	const struct cfs_req_actor *who;
	int64_t now;
	const struct cfs_req_hooks *h;
	struct cfs_req_rec rec;
	struct cfs_grant_rec grant;
};

/* The grant a completed request becomes. */
static int grant_request(struct cfs_grants_tx *tx, struct act_tx *a, int64_t ttl, struct cfs_err *err)
{
	struct cfs_req_rec *r = &a->rec;
	struct cfs_grant_rec *gr = &a->grant;
	cfs_req_grant_base(r, a->now, ttl, gr);
	snprintf(gr->reason, sizeof gr->reason, "request R%lld: %.200s", (long long)r->id, r->reason);
	cfs_strlcpy(gr->granted_by, r->approved_at ? r->approved_by : a->who->name, sizeof gr->granted_by);
	if (r->approved_at) {
		cfs_strlcpy(gr->approved_by, a->who->name, sizeof gr->approved_by);
		gr->approved_at = a->now;
	}
	int rc = cfs_grants_insert_tx(tx, gr, err);
	if (rc == 0)
		r->grant_id = gr->g.id;
	return rc;
}

static void decided(struct act_tx *a, int denied)
{
	struct cfs_req_rec *r = &a->rec;
	cfs_strlcpy(r->decided_by, a->who->name, sizeof r->decided_by);
	r->decided_uid = a->who->uid;
	r->decided_at = a->now;
	r->denied = denied;
}

static int apply(struct cfs_grants_tx *tx, struct act_tx *a, const struct cfs_req_outcome *o,
		 struct cfs_err *err)
{
	struct cfs_req_rec *r = &a->rec;
	const char *note = a->who->note ? a->who->note : "";
	int rc = 0;
	if (a->act == CFS_REQ_REVIEW) {
		cfs_strlcpy(r->reviewed_by, a->who->name, sizeof r->reviewed_by);
		r->reviewed_at = a->now;
		cfs_strlcpy(r->review_note, note, sizeof r->review_note);
	} else if (a->act == CFS_REQ_DENY) {
		decided(a, 1);
		cfs_strlcpy(r->note, note, sizeof r->note);
	} else if (o->grant_now) {
		if ((rc = grant_request(tx, a, o->ttl, err)) == 0)
			decided(a, 0);
	} else {
		cfs_strlcpy(r->approved_by, a->who->name, sizeof r->approved_by);
		r->approver_uid = a->who->uid;
		r->approved_at = a->now;
	}
	return rc;
}

static int act_fn(struct cfs_grants_tx *tx, void *arg, struct cfs_err *err)
{
	struct act_tx *a = arg;
	struct cfs_req_outcome o = { 0, 0 };
	char name[32];
	int rc = read_one(tx, a->id, &a->rec, err);
	if (rc < 0)
		return rc;
	cfs_req_name(&a->rec, name, sizeof name);
	if (a->rec.row_state != CFS_ROW_OK)
		return cfs_errf(err, -EBADMSG, "%s: request %s is %s: it is never acted on", tx->file, name,
				cfs_row_state_name(a->rec.row_state));
	if ((rc = a->h->decide(&a->rec, a->h->arg, &o, err)) != 0)
		return rc;
	if ((rc = apply(tx, a, &o, err)) < 0 || (rc = write_rec(tx, &a->rec, err)) < 0)
		return rc;
	return a->h->record ? a->h->record(&a->rec, a->h->arg, err) : 0;
}

int cfs_requests_act(struct cfs_grants *g, int64_t id, enum cfs_req_act act,
		     const struct cfs_req_actor *who, int64_t now, const struct cfs_req_hooks *h,
		     struct cfs_err *err)
{
	if (id <= 0 || now <= 0 || !who->name || !*who->name || strlen(who->name) >= CFS_TEXT_MAX ||
	    (who->note && strlen(who->note) >= CFS_TEXT_MAX) || !h || !h->decide)
		return cfs_errf(err, -EINVAL, "request: bad arguments");
	struct act_tx *a = malloc(sizeof *a);
	if (!a)
		return cfs_errf(err, -ENOMEM, "out of memory");
	*a = (struct act_tx){ .id = id, .act = act, .who = who, .now = now, .h = h };
	int rc = cfs_grants_txn(g, 1, act_fn, a, err);
	free(a);
	return rc;
}

/* ---- read ---- */

struct get_tx {
	int64_t id;
	struct cfs_req_rec *rec;
};

static int get_fn(struct cfs_grants_tx *tx, void *arg, struct cfs_err *err)
{
	struct get_tx *gt = arg;
	return read_one(tx, gt->id, gt->rec, err);
}

int cfs_requests_get(struct cfs_grants *g, int64_t id, struct cfs_req_rec *rec, struct cfs_err *err)
{
	struct get_tx gt = { id, rec };
	return cfs_grants_txn(g, 0, get_fn, &gt, err);
}

struct latest_tx {
	uint32_t uid;
	int kind;
	int64_t id;
};

static int latest_fn(struct cfs_grants_tx *tx, void *arg, struct cfs_err *err)
{
	struct latest_tx *l = arg;
	sqlite3_stmt *st;
	int rc = 0, s = sqlite3_prepare_v2(tx->db, "SELECT max(id) FROM requests WHERE uid = ?1 AND kind = ?2", -1,
				   &st, NULL);
	if (s != SQLITE_OK)
		return db_fail(tx, s, "reading requests", err);
	sqlite3_bind_int64(st, 1, l->uid);
	sqlite3_bind_int(st, 2, l->kind);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
		l->id = sqlite3_column_int64(st, 0);
	else if (s == SQLITE_ROW)
		rc = cfs_errf(err, -ENOENT, "no requests");
	else
		rc = db_fail(tx, s, "reading requests", err);
	sqlite3_finalize(st);
	return rc;
}

int cfs_requests_latest(struct cfs_grants *g, uint32_t uid, int kind, int64_t *id, struct cfs_err *err)
{
	struct latest_tx l = { uid, kind, 0 };
	int rc = cfs_grants_txn(g, 0, latest_fn, &l, err);
	*id = rc == 0 ? l.id : 0;
	return rc;
}

struct list_tx {
	int (*cb)(const struct cfs_req_rec *, void *);
	void *arg;
	struct cfs_req_rec rec;
};

static int list_fn(struct cfs_grants_tx *tx, void *arg, struct cfs_err *err)
{
	struct list_tx *l = arg;
	sqlite3_stmt *st;
	int rc, s = sqlite3_prepare_v2(tx->db, "SELECT " REQ_COLS " FROM requests ORDER BY id DESC", -1, &st, NULL);
	if (s != SQLITE_OK)
		return db_fail(tx, s, "listing requests", err);
	while ((rc = step_rec(tx, st, &l->rec, err)) == 1)
		if (l->cb(&l->rec, l->arg) != 0)
			break;
	sqlite3_finalize(st);
	return rc < 0 ? rc : 0;
}

int cfs_requests_list(struct cfs_grants *g, int (*cb)(const struct cfs_req_rec *rec, void *arg),
		      void *arg, struct cfs_err *err)
{
	struct list_tx *l = calloc(1, sizeof *l);
	if (!l)
		return cfs_errf(err, -ENOMEM, "out of memory");
	l->cb = cb;
	l->arg = arg;
	int rc = cfs_grants_txn(g, 0, list_fn, l, err);
	free(l);
	return rc;
}
