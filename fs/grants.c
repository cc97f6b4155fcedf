/* grants.c — policy.db's grants: validating and sealing a row, reading one
 * back, adding, revoking and approving, and the transaction helper other
 * sealed tables share (its pieces: grants_db.c the handle over policydb.c's
 * connection, and meta, grants_read.c listing and the daemon's snapshot, grants_opens.c
 * open counters and legacy sealing). It must never decide access (policy.c does), never
 * print, and never trust a row: every value read back is type-checked,
 * bounded and validated before it reaches a struct, and every grant and open
 * counter carries a MAC under the store's rowmac key, so a row written or
 * edited without the key grants nothing. It never blesses a row it did not
 * write itself, except in cfs_grants_seal_legacy (an administrator's act). */
#include "grants_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRANT_COLS "id, subject, kind, ugid, role, path, write, start, \"end\", max_opens, " \
		   "reason, granted_by, approved_by, created, revoked_at, revoked_by, revoke_reason, " \
		   "approved_at, opens_total, mac, session_pid, session_start, session_boot, " \
		   "session_cmd"
enum { C_ID, C_SUBJECT, C_KIND, C_UGID, C_ROLE, C_PATH, C_WRITE, C_START, C_END, C_MAX_OPENS,
       C_REASON, C_GRANTED_BY, C_APPROVED_BY, C_CREATED, C_REVOKED_AT, C_REVOKED_BY,
       C_REVOKE_REASON, C_APPROVED_AT, C_OPENS_TOTAL, C_MAC, C_SESSION_PID, C_SESSION_START,
       C_SESSION_BOOT, C_SESSION_CMD };

int cfs_gr_select(struct cfs_grants *g, const char *tail, sqlite3_stmt **st, struct cfs_err *err)
{
	char sql[1024];
	snprintf(sql, sizeof sql, "SELECT " GRANT_COLS " FROM grants %s", tail);
	return prepare(g, sql, st, err);
}

/* Length of s if it is NUL-terminated within cap bytes, else cap. */
static size_t bounded_len(const char *s, size_t cap)
{
	return strnlen(s, cap);
}

static int role_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Point g's string members into rec's own arrays. */
void point_into(struct cfs_grant_rec *rec)
{
	rec->g.path = rec->path;
	rec->g.role = rec->g.kind == CFS_SUBJ_ROLE ? rec->role : NULL;
	rec->g.granted_by = rec->granted_by;
	rec->g.approved_by = rec->approved_by;
	rec->g.session_boot = rec->session_boot;
	rec->g.session_cmd = rec->session_cmd;
}

void cfs_grant_rec_for_user(struct cfs_grant_rec *rec, const char *user, uint32_t uid,
			    const char *path, int write, int64_t start, int64_t ttl)
{
	memset(rec, 0, sizeof *rec);
	cfs_strlcpy(rec->subject, user, sizeof rec->subject);
	rec->g.kind = CFS_SUBJ_USER;
	rec->g.ugid = uid;
	cfs_strlcpy(rec->path, path, sizeof rec->path);
	rec->g.write = write;
	rec->g.start = start;
	rec->g.end = start + ttl;
	rec->created = start;
}

/* ---- row MACs ------------------------------------------------------------ */

#define MF_S(x) { 1, 0, (x), SIZE_MAX }
#define MF_I(x) { 0, (int64_t)(x), NULL, 0 }

static void grant_mac(const unsigned char *key, const struct cfs_grant_rec *r,
		      unsigned char out[CFS_ROWMAC_BYTES])
{
	const int role = r->g.kind == CFS_SUBJ_ROLE;
	const struct cfs_macf f[] = {
		MF_I(r->g.id), MF_S(r->subject), MF_I(r->g.kind), MF_I(role ? 0 : r->g.ugid),
		MF_S(role ? r->role : ""), MF_S(r->path), MF_I(r->g.write), MF_I(r->g.start),
		MF_I(r->g.end), MF_I(r->g.max_opens), MF_S(r->reason), MF_S(r->granted_by),
		MF_S(r->approved_by), MF_I(r->approved_at), MF_I(r->created), MF_I(r->g.revoked_at),
		MF_S(r->revoked_by), MF_S(r->revoke_reason), MF_I(r->opens_total),
		/* a session-bound row: its binding too, under its own domain */
		MF_I(r->g.session_pid), MF_I(r->g.session_start), MF_S(r->session_boot),
		MF_S(r->session_cmd) };
	const size_t n = sizeof f / sizeof f[0];
	if (r->g.session_pid)
		cfs_rowmac(key, "coachfs policy.db grant v1 session", f, n, out);
	else   /* as before sessions: rows sealed then stay valid */
		cfs_rowmac(key, "coachfs policy.db grant v1", f, n - 4, out);
}

int mac_state(struct cfs_grants *g, sqlite3_stmt *st, int col,
		     const unsigned char want[CFS_ROWMAC_BYTES])
{
	return cfs_db_mac_state(g->key, st, col, want);
}

/* The rules every stored grant satisfies, checked before writing and after
 * reading. Returns NULL when rec is valid, else what is wrong. */
static const char *rec_invalid(const struct cfs_grant_rec *rec)
{
	static const struct { size_t off, cap; const char *name; } strs[] = {
		{ offsetof(struct cfs_grant_rec, subject), CFS_TEXT_MAX, "subject" },
		{ offsetof(struct cfs_grant_rec, path), 4096, "path" },
		{ offsetof(struct cfs_grant_rec, role), CFS_TEXT_MAX, "role" },
		{ offsetof(struct cfs_grant_rec, granted_by), CFS_TEXT_MAX, "granted_by" },
		{ offsetof(struct cfs_grant_rec, approved_by), CFS_TEXT_MAX, "approved_by" },
		{ offsetof(struct cfs_grant_rec, reason), CFS_TEXT_MAX, "reason" },
		{ offsetof(struct cfs_grant_rec, revoked_by), CFS_TEXT_MAX, "revoked_by" },
		{ offsetof(struct cfs_grant_rec, revoke_reason), CFS_TEXT_MAX, "revoke_reason" },
		{ offsetof(struct cfs_grant_rec, session_boot), 40, "session_boot" },
		{ offsetof(struct cfs_grant_rec, session_cmd), CFS_TEXT_MAX, "session_cmd" },
	};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		if (bounded_len((const char *)rec + strs[i].off, strs[i].cap) >= strs[i].cap)
			return strs[i].name; /* "X too long" by the caller's wording */
	return NULL;
}

/* A session binding is all there (pid, start time, a boot id, a printable
 * command name) or all absent. */
static const char *session_bad(const struct cfs_grant_rec *rec)
{
	const struct cfs_grant *g = &rec->g;
	if (!g->session_pid)
		return g->session_start || rec->session_boot[0] || rec->session_cmd[0]
			       ? "session columns without session_pid" : NULL;
	if (g->session_pid < 2 || g->session_start == 0 || g->session_start > INT64_MAX)
		return "session_pid or session_start out of range";
	if (strlen(rec->session_boot) != 36 ||
	    strspn(rec->session_boot, "0123456789abcdef-") != 36)
		return "session_boot is not a boot id";
	for (const unsigned char *p = (const unsigned char *)rec->session_cmd; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "session_cmd has control characters";
	return NULL;
}

static const char *rec_bad(const struct cfs_grant_rec *rec, int *too_long)
{
	const char *s = rec_invalid(rec);
	*too_long = s != NULL;
	if (s)
		return s;
	const struct cfs_grant *g = &rec->g;
	if (rec->subject[0] == 0)
		return "subject is empty";
	switch (g->kind) {
	case CFS_SUBJ_USER:
		if (rec->subject[0] == '@' || strncmp(rec->subject, "role:", 5) == 0)
			return "user subject looks like a group or role";
		if (g->ugid > UGID_MAX)
			return "uid out of range";
		break;
	case CFS_SUBJ_GROUP:
		if (rec->subject[0] != '@' || rec->subject[1] == 0)
			return "group subject does not start with '@'";
		if (g->ugid > UGID_MAX)
			return "gid out of range";
		break;
	case CFS_SUBJ_ROLE:
		if (!role_name_ok(rec->role))
			return "role is not a role name";
		if (strncmp(rec->subject, "role:", 5) != 0 || strcmp(rec->subject + 5, rec->role) != 0)
			return "role subject does not match role";
		break;
	default:
		return "kind out of range";
	}
	if (cfs_path_valid(rec->path) < 0)
		return "path is not a canonical mount-relative path";
	if (g->write != 0 && g->write != 1)
		return "write is not 0 or 1";
	if (g->start < 0)
		return "start is negative";
	if (g->end <= g->start)
		return "end is not after start";
	if (rec->granted_by[0] == 0)
		return "granted_by is empty";
	if (rec->created < 0)
		return "created is negative";
	if (g->revoked_at < 0)
		return "revoked_at is negative";
	return session_bad(rec);
}

/* ---- reading a row ------------------------------------------------------- */

#define col_int cfs_db_col_int
#define col_text cfs_db_col_text

int row_to_rec(struct cfs_grants *g, sqlite3_stmt *st, struct cfs_grant_rec *rec,
		      struct cfs_err *err)
{
	static const char *const names[] = {
		"id", "subject", "kind", "ugid", "role", "path", "write", "start", "end",
		"max_opens", "reason", "granted_by", "approved_by", "created", "revoked_at",
		"revoked_by", "revoke_reason", "approved_at", "opens_total", "mac", "session_pid",
		"session_start", "session_boot", "session_cmd" };
	int64_t id = sqlite3_column_int64(st, C_ID); /* rowid: always an integer */
	int64_t v;
	const char *bad = NULL;
	int col = -1;
	memset(rec, 0, sizeof *rec);
	rec->g.id = id;

#define INT_COL(c, req, lo, hi, def, dst) \
	if (!bad && (bad = col_int(st, c, req, lo, hi, def, &v)) == NULL) dst = v; \
	else if (bad && col < 0) col = c;
#define TEXT_COL(c, req, dst) \
	if (!bad && (bad = col_text(st, c, req, dst, sizeof dst)) != NULL) col = c;

	if (id <= 0) {
		bad = "is not positive";
		col = C_ID;
	}
	TEXT_COL(C_SUBJECT, 1, rec->subject)
	INT_COL(C_KIND, 1, CFS_SUBJ_USER, CFS_SUBJ_ROLE, 0, rec->g.kind)
	INT_COL(C_UGID, 0, 0, UGID_MAX, 0, rec->g.ugid)
	TEXT_COL(C_ROLE, 0, rec->role)
	TEXT_COL(C_PATH, 1, rec->path)
	INT_COL(C_WRITE, 1, 0, 1, 0, rec->g.write)
	INT_COL(C_START, 1, 0, INT64_MAX / 2, 0, rec->g.start)
	INT_COL(C_END, 1, 1, INT64_MAX / 2, 0, rec->g.end)
	INT_COL(C_MAX_OPENS, 1, 0, UINT32_MAX, 0, rec->g.max_opens)
	TEXT_COL(C_REASON, 0, rec->reason)
	TEXT_COL(C_GRANTED_BY, 1, rec->granted_by)
	TEXT_COL(C_APPROVED_BY, 0, rec->approved_by)
	INT_COL(C_CREATED, 1, 0, INT64_MAX / 2, 0, rec->created)
	INT_COL(C_REVOKED_AT, 0, 0, INT64_MAX / 2, 0, rec->g.revoked_at)
	TEXT_COL(C_REVOKED_BY, 0, rec->revoked_by)
	TEXT_COL(C_REVOKE_REASON, 0, rec->revoke_reason)
	INT_COL(C_APPROVED_AT, 0, 0, INT64_MAX / 2, 0, rec->approved_at)
	INT_COL(C_OPENS_TOTAL, 0, 0, UINT32_MAX, 0, rec->opens_total)
	INT_COL(C_SESSION_PID, 0, 1, INT32_MAX, 0, rec->g.session_pid)
	INT_COL(C_SESSION_START, 0, 1, INT64_MAX, 0, rec->g.session_start)
	TEXT_COL(C_SESSION_BOOT, 0, rec->session_boot)
	TEXT_COL(C_SESSION_CMD, 0, rec->session_cmd)
#undef INT_COL
#undef TEXT_COL
	if (bad)
		return cfs_errf(err, -EIO, "%s: grant %lld: %s %s", g->file, (long long)id,
				names[col], bad);
	if (rec->g.kind == CFS_SUBJ_USER || rec->g.kind == CFS_SUBJ_GROUP) {
		if (sqlite3_column_type(st, C_UGID) == SQLITE_NULL)
			return cfs_errf(err, -EIO, "%s: grant %lld: ugid is NULL", g->file,
					(long long)id);
		rec->role[0] = 0; /* a role name on a user/group grant means nothing */
	}
	int too_long;
	bad = rec_bad(rec, &too_long);
	if (bad)
		return cfs_errf(err, -EIO, "%s: grant %lld: %s%s", g->file, (long long)id, bad,
				too_long ? " too long" : "");
	rec->g.approved_at = rec->approved_at;
	point_into(rec);
	unsigned char want[CFS_ROWMAC_BYTES];
	if (g->key)
		grant_mac(g->key, rec, want);
	rec->row_state = mac_state(g, st, C_MAC, want);
	return 0;
}

/* ---- grants: write ------------------------------------------------------- */

/* The session binding's four columns from index i (NULL when unbound). */
static void bind_session(sqlite3_stmt *st, int i, const struct cfs_grant_rec *rec)
{
	if (!rec->g.session_pid) {
		for (int k = 0; k < 4; k++)
			sqlite3_bind_null(st, i + k);
		return;
	}
	sqlite3_bind_int64(st, i, rec->g.session_pid);
	sqlite3_bind_int64(st, i + 1, (int64_t)rec->g.session_start);
	sqlite3_bind_text(st, i + 2, rec->session_boot, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, i + 3, rec->session_cmd, -1, SQLITE_STATIC);
}

/* Write rec's MAC (and approval, revocation and open total, the columns that
 * change after the insert) to its row. Caller holds the lock, in a write
 * transaction, with a key. */
int store_mac(struct cfs_grants *g, const struct cfs_grant_rec *rec, struct cfs_err *err)
{
	unsigned char mac[CFS_ROWMAC_BYTES];
	sqlite3_stmt *st;
	int rc;
	grant_mac(g->key, rec, mac);
	if ((rc = prepare(g, "UPDATE grants SET approved_by = ?2, approved_at = ?3, revoked_at = ?4, "
			  "revoked_by = ?5, revoke_reason = ?6, opens_total = ?7, mac = ?8 WHERE id = ?1",
			  &st, err)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, rec->g.id);
	cfs_policydb_bind_text(st, 2, rec->approved_by);
	cfs_policydb_bind_int(st, 3, rec->approved_at, 1);
	cfs_policydb_bind_int(st, 4, rec->g.revoked_at, 1);
	cfs_policydb_bind_text(st, 5, rec->revoked_by);
	cfs_policydb_bind_text(st, 6, rec->revoke_reason);
	sqlite3_bind_int64(st, 7, rec->opens_total);
	sqlite3_bind_blob(st, 8, mac, sizeof mac, SQLITE_TRANSIENT);
	return cfs_policydb_update_one(g->pdb, st, "sealing a grant", "grant ", rec->g.id, err);
}

/* Read grant id inside the caller's transaction (lock held). */
int read_rec(struct cfs_grants *g, int64_t id, struct cfs_grant_rec *rec,
		    struct cfs_err *err)
{
	sqlite3_stmt *st;
	int rc = prepare(g, "SELECT " GRANT_COLS " FROM grants WHERE id = ?1", &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		rc = row_to_rec(g, st, rec, err);
	else if (s == SQLITE_DONE)
		rc = cfs_errf(err, -ENOENT, "%s: no grant %lld", g->file, (long long)id);
	else
		rc = db_err(g, s, "reading a grant", err);
	sqlite3_finalize(st);
	return rc;
}

/* Insert rec as a new row and seal it (lock held, in a write transaction).
 * approved_by/approved_at are stored as given: only a caller that decided
 * the approval (cfs_grants_approve, requests.c) passes them set. */
static int insert_rec(struct cfs_grants *g, struct cfs_grant_rec *rec, struct cfs_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(g, "INSERT INTO grants(subject, kind, ugid, role, path, write, start, "
			 "\"end\", max_opens, reason, granted_by, approved_by, created, session_pid, "
			 "session_start, session_boot, session_cmd) VALUES(?1, ?2, ?3, ?4, ?5, ?6, "
			 "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)", &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, rec->subject, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, rec->g.kind);
	if (rec->g.kind == CFS_SUBJ_ROLE)
		sqlite3_bind_null(st, 3);
	else
		sqlite3_bind_int64(st, 3, rec->g.ugid);
	cfs_policydb_bind_text(st, 4, rec->g.kind == CFS_SUBJ_ROLE ? rec->role : NULL);
	sqlite3_bind_text(st, 5, rec->path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, rec->g.write);
	sqlite3_bind_int64(st, 7, rec->g.start);
	sqlite3_bind_int64(st, 8, rec->g.end);
	sqlite3_bind_int64(st, 9, rec->g.max_opens);
	cfs_policydb_bind_text(st, 10, rec->reason);
	sqlite3_bind_text(st, 11, rec->granted_by, -1, SQLITE_STATIC);
	cfs_policydb_bind_text(st, 12, rec->approved_by);
	sqlite3_bind_int64(st, 13, rec->created);
	bind_session(st, 14, rec);
	int s = sqlite3_step(st);
	sqlite3_finalize(st);
	if (s != SQLITE_DONE)
		return db_err(g, s, "adding a grant", err);
	rec->g.id = sqlite3_last_insert_rowid(g->db);
	point_into(rec);
	if ((rc = store_mac(g, rec, err)) < 0)
		return rc;
	rec->row_state = CFS_ROW_OK;
	return 0;
}

/* Normalise and validate a new grant: the history columns start empty. */
static int new_rec_ok(struct cfs_grants *g, struct cfs_grant_rec *rec, struct cfs_err *err)
{
	int too_long;
	if (rec->created == 0)
		rec->created = cfs_now_s();
	if (rec->g.kind != CFS_SUBJ_ROLE && bounded_len(rec->role, sizeof rec->role) < sizeof rec->role)
		rec->role[0] = 0;
	rec->g.revoked_at = 0;
	rec->g.approved_at = rec->approved_at;
	rec->opens_total = 0;
	if (bounded_len(rec->revoked_by, CFS_TEXT_MAX) < CFS_TEXT_MAX)
		rec->revoked_by[0] = 0;
	if (bounded_len(rec->revoke_reason, CFS_TEXT_MAX) < CFS_TEXT_MAX)
		rec->revoke_reason[0] = 0;
	const char *bad = rec_bad(rec, &too_long);
	if (bad)
		return cfs_errf(err, -EINVAL, "%s: new grant: %s%s", g->file, bad, too_long ? " too long" : "");
	if (rec->approved_at < 0 || (rec->approved_at && !rec->approved_by[0]))
		return cfs_errf(err, -EINVAL, "%s: new grant: an approval without its approver", g->file);
	return 0;
}

int cfs_grants_txn(struct cfs_grants *g, int write,
		   int (*fn)(struct cfs_grants_tx *tx, void *arg, struct cfs_err *err), void *arg,
		   struct cfs_err *err)
{
	struct cfs_grants_tx tx = { g, g->db, g->key, g->file, g->pdb };
	int rc = 0;
	pthread_mutex_lock(&g->mu);
	if (write && ((rc = need_key(g, err)) < 0 || (rc = cfs_policydb_begin(g->pdb, "begin", err)) < 0))
		goto out;
	rc = fn(&tx, arg, err);
	if (rc > 0)
		rc = -EIO;
	if (write && (rc = cfs_policydb_end(g->pdb, rc, "commit", err)) == 0)
		g->snap_stale = 1; /* our own writes do not move data_version */
out:
	pthread_mutex_unlock(&g->mu);
	return rc;
}

int cfs_grants_insert_tx(struct cfs_grants_tx *tx, struct cfs_grant_rec *rec, struct cfs_err *err)
{
	int rc = new_rec_ok(tx->g, rec, err);
	return rc < 0 ? rc : insert_rec(tx->g, rec, err);
}

struct add_tx {
	struct cfs_grant_rec *rec;
	int (*before_commit)(const struct cfs_grant_rec *, void *, struct cfs_err *);
	void *arg;
};

static int add_fn(struct cfs_grants_tx *tx, void *arg, struct cfs_err *err)
{
	struct add_tx *a = arg;
	int rc = insert_rec(tx->g, a->rec, err);
	if (rc == 0 && a->before_commit)
		rc = a->before_commit(a->rec, a->arg, err);
	return rc;
}

int cfs_grants_add_ex(struct cfs_grants *g, struct cfs_grant_rec *rec,
		      int (*before_commit)(const struct cfs_grant_rec *, void *, struct cfs_err *),
		      void *arg, struct cfs_err *err)
{
	struct add_tx a = { rec, before_commit, arg };
	rec->approved_at = 0; /* only cfs_grants_approve approves */
	int rc = new_rec_ok(g, rec, err);
	if (rc == 0 && (rc = cfs_grants_txn(g, 1, add_fn, &a, err)) < 0)
		rec->g.id = 0;
	return rc;
}

int cfs_grants_add(struct cfs_grants *g, struct cfs_grant_rec *rec, struct cfs_err *err)
{
	return cfs_grants_add_ex(g, rec, NULL, NULL, err);
}

/* Revoke grant id inside the caller's write transaction (lock held). */
static int revoke_row(struct cfs_grants *g, int64_t id, const char *by, const char *reason,
		      int64_t now, struct cfs_grant_rec *rec, struct cfs_err *err)
{
	sqlite3_stmt *st;
	int rc, authentic = 0;
	if ((rc = prepare(g, "SELECT revoked_at FROM grants WHERE id = ?1", &st, err)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = cfs_policydb_step(g->pdb, st, "reading a grant", err);
	if (rc == 0)
		rc = cfs_errf(err, -ENOENT, "%s: no grant %lld", g->file, (long long)id);
	/* Only a well-formed revocation counts: a corrupt revoked_at is
	 * overwritten, so an admin can always revoke. */
	else if (rc == 1 && sqlite3_column_type(st, 0) == SQLITE_INTEGER && sqlite3_column_int64(st, 0) > 0)
		rc = cfs_errf(err, -EALREADY, "%s: grant %lld is already revoked", g->file,
			      (long long)id);
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;
	/* An authentic row stays authentic, revoked; any other row keeps its
	 * (missing or wrong) MAC: revoking never blesses a forgery. */
	if (g->key) {
		struct cfs_err e2 = { "" };
		authentic = read_rec(g, id, rec, &e2) == 0 && rec->row_state == CFS_ROW_OK;
	}
	if ((rc = prepare(g, "UPDATE grants SET revoked_at = ?2, revoked_by = ?3, "
			  "revoke_reason = ?4 WHERE id = ?1", &st, err)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, by, -1, SQLITE_STATIC);
	cfs_policydb_bind_text(st, 4, reason);
	if ((rc = cfs_policydb_update_one(g->pdb, st, "revoking a grant", "grant ", id, err)) < 0 ||
	    !authentic)
		return rc;
	rec->g.revoked_at = now;
	cfs_strlcpy(rec->revoked_by, by, sizeof rec->revoked_by);
	cfs_strlcpy(rec->revoke_reason, reason ? reason : "", sizeof rec->revoke_reason);
	return store_mac(g, rec, err);
}

int cfs_grants_revoke(struct cfs_grants *g, int64_t id, const char *by, const char *reason,
		      int64_t now, struct cfs_err *err)
{
	struct cfs_grant_rec *rec = NULL;
	int rc;
	if (id <= 0)
		return cfs_errf(err, -ENOENT, "%s: no grant %lld", g->file, (long long)id);
	if (now <= 0)
		return cfs_errf(err, -EINVAL, "%s: revoke: bad time", g->file);
	if (!by || !*by || strlen(by) >= CFS_TEXT_MAX)
		return cfs_errf(err, -EINVAL, "%s: revoke: revoked_by missing or too long", g->file);
	if (reason && strlen(reason) >= CFS_TEXT_MAX)
		return cfs_errf(err, -EINVAL, "%s: revoke: reason too long", g->file);
	if (!(rec = malloc(sizeof *rec)))
		return cfs_errf(err, -ENOMEM, "%s: out of memory", g->file);
	pthread_mutex_lock(&g->mu);
	if ((rc = cfs_policydb_begin(g->pdb, "begin", err)) == 0) {
		rc = revoke_row(g, id, by, reason, now, rec, err);
		if ((rc = cfs_policydb_end(g->pdb, rc, "commit", err)) == 0)
			g->snap_stale = 1;
	}
	pthread_mutex_unlock(&g->mu);
	free(rec);
	return rc;
}

struct approve_tx {
	int64_t id;
	const char *approver;
	int64_t now;
	int (*check)(const struct cfs_grant_rec *rec, void *arg, struct cfs_err *err);
	void *arg;
	struct cfs_grant_rec rec;
};

/* 0 when grant a->rec may be approved now, else why not. */
static int approvable(struct approve_tx *a, struct cfs_err *err)
{
	const struct cfs_grant_rec *rec = &a->rec;
	long long id = (long long)a->id;
	if (rec->row_state != CFS_ROW_OK)
		return cfs_errf(err, -EBADMSG, "grant %lld is %s: it grants nothing and cannot be "
				"approved", id, cfs_row_state_name(rec->row_state));
	if (rec->approved_at)
		return cfs_errf(err, -EALREADY, "grant %lld is already approved by %s", id, rec->approved_by);
	if (rec->g.revoked_at)
		return cfs_errf(err, -EACCES, "grant %lld is revoked", id);
	if (rec->approved_by[0] && strcmp(rec->approved_by, a->approver) != 0)
		return cfs_errf(err, -EPERM, "grant %lld names %s as its approver, not %s", id,
				rec->approved_by, a->approver);
	return 0;
}

static int approve_fn(struct cfs_grants_tx *tx, void *arg, struct cfs_err *err)
{
	struct approve_tx *a = arg;
	struct cfs_grant_rec *rec = &a->rec;
	int rc;
	if ((rc = read_rec(tx->g, a->id, rec, err)) < 0 || (rc = approvable(a, err)) < 0)
		return rc;
	cfs_strlcpy(rec->approved_by, a->approver, sizeof rec->approved_by);
	rec->approved_at = rec->g.approved_at = a->now;
	point_into(rec);
	if ((rc = store_mac(tx->g, rec, err)) < 0)
		return rc;
	return a->check ? a->check(rec, a->arg, err) : 0;
}

int cfs_grants_approve(struct cfs_grants *g, int64_t id, const char *approver, int64_t now,
		       int (*check)(const struct cfs_grant_rec *rec, void *arg, struct cfs_err *err),
		       void *arg, struct cfs_err *err)
{
	if (!approver || !*approver || strlen(approver) >= CFS_TEXT_MAX || now <= 0)
		return cfs_errf(err, -EINVAL, "%s: approve: bad approver or time", g->file);
	struct approve_tx *a = malloc(sizeof *a);
	if (!a)
		return cfs_errf(err, -ENOMEM, "%s: out of memory", g->file);
	*a = (struct approve_tx){ .id = id, .approver = approver, .now = now, .check = check,
				  .arg = arg };
	int rc = cfs_grants_txn(g, 1, approve_fn, a, err);
	free(a);
	return rc;
}
