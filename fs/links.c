/* links.c — the `links` table of policy.db (opened, and the table made,
 * by policydb.c): issue, find, use (atomically), revoke, list. Tokens exist
 * only in the issuer's output and the holder's hands; the table keeps a
 * keyed BLAKE2b hash. Must never store or log a
 * token, and never decide more than a link's own limits (class rules are
 * policy.c's). Every row carries a MAC under the store's rowmac key: a row
 * written or edited without the key (a longer life, more uses, another user,
 * a fake approval) is refused, never trusted, and never re-sealed. */
#include "coachfs/links.h"
#include "coachfs/grants.h"
#include "coachfs/policydb.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cfs_links {
	struct cfs_policydb *pdb;  /* the connection and its schema */
	sqlite3 *db;              /* pdb's connection */
	pthread_mutex_t mu;       /* guards db */
	const char *file;         /* pdb's path, for messages */
	unsigned char *key;       /* rowmac key, sodium_malloc; NULL = none */
};

#define COLS "id, token_hash, path, user, uid, start, \"end\", uses, used, issued_by, created, " \
	     "revoked_at, revoked_by, revoke_reason, approved_by, approved_at, mac"

static int dberr(struct cfs_links *l, struct cfs_err *err, const char *what)
{
	return cfs_policydb_err(l->pdb, sqlite3_extended_errcode(l->db), what, err);
}

/* policy.db as links have always opened it: the file must exist, its
 * schema is made when it has none (policydb.c owns both). */
int cfs_links_open(const char *path, struct cfs_links **out, struct cfs_err *err)
{
	struct cfs_links *l = calloc(1, sizeof *l);
	*out = NULL;
	if (!l)
		return cfs_errf(err, -ENOMEM, "out of memory");
	if (pthread_mutex_init(&l->mu, NULL) != 0) {
		free(l);
		return cfs_errf(err, -ENOMEM, "cannot create a mutex");
	}
	int rc = cfs_policydb_open(path, CFS_PDB_SCHEMA, &l->pdb, err);
	if (rc < 0) {
		cfs_links_close(l);
		return rc;
	}
	l->db = cfs_policydb_conn(l->pdb);
	l->file = cfs_policydb_file(l->pdb);
	*out = l;
	return 0;
}

void cfs_links_close(struct cfs_links *l)
{
	if (!l)
		return;
	cfs_policydb_close(l->pdb);
	if (l->key)
		sodium_free(l->key);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static int need_key(struct cfs_links *l, struct cfs_err *err)
{
	if (!l->key)
		return cfs_errf(err, -EPERM, "%s: changing links needs the store key (unlock the store)",
				l->file);
	return 0;
}

/* Lock the handle and begin a write transaction (needing the key when
 * keyed): 0 with the lock held, else the error with it released. */
static int begin(struct cfs_links *l, int keyed, const char *what, struct cfs_err *err)
{
	pthread_mutex_lock(&l->mu);
	int rc = keyed ? need_key(l, err) : 0;
	if (rc == 0)
		rc = cfs_policydb_begin(l->pdb, what, err);
	if (rc < 0)
		pthread_mutex_unlock(&l->mu);
	return rc;
}

/* Commit (rc == 0, a callback's positive return counting as -EIO) or roll
 * back, and release the lock. */
static int finish(struct cfs_links *l, int rc, const char *what, struct cfs_err *err)
{
	rc = cfs_policydb_end(l->pdb, rc > 0 ? -EIO : rc, what, err);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

void cfs_link_token_new(char token[CFS_TOKEN_CHARS + 1])
{
	unsigned char raw[CFS_TOKEN_BYTES];
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(token, CFS_TOKEN_CHARS + 1, raw, sizeof raw,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
}

int cfs_link_token_hash(const unsigned char key[32], const char *token, unsigned char hash[CFS_LINK_HASH_BYTES])
{
	if (!token || strlen(token) != CFS_TOKEN_CHARS)
		return -EINVAL;
	for (const char *p = token; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_'))
			return -EINVAL;
	crypto_generichash(hash, CFS_LINK_HASH_BYTES, (const unsigned char *)token, CFS_TOKEN_CHARS, key, 32);
	return 0;
}

int cfs_links_set_key(struct cfs_links *l, const unsigned char key[32], struct cfs_err *err)
{
	return cfs_rowmac_key_set(&l->mu, &l->key, NULL, l->file, key, err);
}

int cfs_link_text_ok(const char *s)
{
	if (!s || strlen(s) >= 256)
		return -EINVAL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return -EINVAL;
	return 0;
}

#define MF_S(x) { 1, 0, (x), SIZE_MAX }
#define MF_I(x) { 0, (int64_t)(x), NULL, 0 }

static void link_mac(const unsigned char *key, const struct cfs_link *r, unsigned char out[32])
{
	const struct cfs_macf f[] = {
		MF_I(r->id), { 1, 0, r->hash, CFS_LINK_HASH_BYTES }, MF_S(r->path), MF_S(r->user),
		MF_I(r->uid), MF_I(r->start), MF_I(r->end), MF_I(r->uses), MF_I(r->used),
		MF_S(r->issued_by), MF_I(r->created), MF_I(r->revoked_at), MF_S(r->revoked_by),
		MF_S(r->revoke_reason), MF_S(r->approved_by), MF_I(r->approved_at) };
	cfs_rowmac(key, "coachfs policy.db link v1", f, sizeof f / sizeof f[0], out);
}

/* Write every mutable column of rec and its MAC. Lock held, in a transaction. */
static int store_row(struct cfs_links *l, const struct cfs_link *rec, struct cfs_err *err)
{
	unsigned char mac[32];
	sqlite3_stmt *st;
	link_mac(l->key, rec, mac);
	if (sqlite3_prepare_v2(l->db, "UPDATE links SET used = ?, revoked_at = ?, revoked_by = ?, "
			       "revoke_reason = ?, approved_by = ?, approved_at = ?, mac = ? WHERE id = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return dberr(l, err, "seal link");
	sqlite3_bind_int64(st, 1, rec->used);
	if (rec->revoked_at)
		sqlite3_bind_int64(st, 2, rec->revoked_at);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_text(st, 3, rec->revoked_by, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, rec->revoke_reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, rec->approved_by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, rec->approved_at);
	sqlite3_bind_blob(st, 7, mac, sizeof mac, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 8, rec->id);
	return cfs_policydb_update_one(l->pdb, st, "seal link", "link L", rec->id, err);
}

void cfs_link_as_grant(const struct cfs_link *rec, struct cfs_grant *g)
{
	memset(g, 0, sizeof *g);
	g->link = 1;
	g->id = rec->id;
	g->kind = rec->uid >= 0 ? CFS_SUBJ_USER : CFS_SUBJ_ANY;
	g->ugid = rec->uid >= 0 ? (uint32_t)rec->uid : 0;
	g->path = rec->path;
	g->start = rec->start;
	g->end = rec->end;
	g->max_opens = rec->uses;
	g->opens_used = rec->used;
	g->granted_by = rec->issued_by;
	g->approved_by = rec->approved_by;
	g->approved_at = rec->approved_at;
	g->revoked_at = rec->revoked_at;
}

static void text_col(sqlite3_stmt *st, int i, char *buf, size_t cap, int *bad)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);
	buf[0] = 0;
	if (!t)
		return;
	if ((size_t)n >= cap || memchr(t, 0, (size_t)n)) {
		*bad = 1;
		return;
	}
	memcpy(buf, t, (size_t)n);
	buf[n] = 0;
}

/* Read one row (hostile: bounded, validated). */
static int row(struct cfs_links *l, sqlite3_stmt *st, struct cfs_link *r, struct cfs_err *err)
{
	int bad = 0;
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(st, 0);
	if (sqlite3_column_bytes(st, 1) != CFS_LINK_HASH_BYTES || !sqlite3_column_blob(st, 1))
		bad = 1;
	else
		memcpy(r->hash, sqlite3_column_blob(st, 1), CFS_LINK_HASH_BYTES);
	text_col(st, 2, r->path, sizeof r->path, &bad);
	text_col(st, 3, r->user, sizeof r->user, &bad);
	r->uid = sqlite3_column_int64(st, 4);
	r->start = sqlite3_column_int64(st, 5);
	r->end = sqlite3_column_int64(st, 6);
	int64_t uses = sqlite3_column_int64(st, 7), used = sqlite3_column_int64(st, 8);
	text_col(st, 9, r->issued_by, sizeof r->issued_by, &bad);
	r->created = sqlite3_column_int64(st, 10);
	r->revoked_at = sqlite3_column_int64(st, 11);
	text_col(st, 12, r->revoked_by, sizeof r->revoked_by, &bad);
	text_col(st, 13, r->revoke_reason, sizeof r->revoke_reason, &bad);
	text_col(st, 14, r->approved_by, sizeof r->approved_by, &bad);
	r->approved_at = sqlite3_column_int64(st, 15);
	if (r->approved_at < 0 || r->revoked_at < 0 || r->created < 0 || r->start < 0)
		bad = 1;
	if (uses < 1 || uses > 1000000 || used < 0 || used > uses + 1 || r->uid < -1 || r->uid > UINT32_MAX ||
	    cfs_path_valid(r->path) < 0 || r->end <= r->start)
		bad = 1;
	r->uses = (uint32_t)uses;
	r->used = (uint32_t)(used > uses ? uses : used);
	if (bad)
		return cfs_errf(err, -EIO, "%s: link %lld is malformed", l->file, (long long)r->id);
	/* authentic? (the stored used, not the clamped one, is what was sealed) */
	if (sqlite3_column_type(st, 16) == SQLITE_NULL) {
		r->row_state = CFS_ROW_UNSEALED;
	} else if (!l->key) {
		r->row_state = CFS_ROW_NOKEY;
	} else {
		unsigned char want[32];
		struct cfs_link tmp = *r;
		tmp.used = (uint32_t)used;
		link_mac(l->key, &tmp, want);
		const void *b = sqlite3_column_blob(st, 16);
		r->row_state = sqlite3_column_bytes(st, 16) == 32 && b && sodium_memcmp(b, want, 32) == 0
				       ? CFS_ROW_OK : CFS_ROW_BADMAC;
	}
	return 0;
}

/* Insert rec (lock held, in a write transaction) and seal it. */
static int insert_row(struct cfs_links *l, struct cfs_link *rec, struct cfs_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(l->db,
			       "INSERT INTO links (token_hash, path, user, uid, start, \"end\", uses, used, "
			       "issued_by, created) VALUES (?,?,?,?,?,?,?,0,?,?)",
			       -1, &st, NULL) != SQLITE_OK)
		return dberr(l, err, "add link");
	sqlite3_bind_blob(st, 1, rec->hash, CFS_LINK_HASH_BYTES, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, rec->path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, rec->user, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, rec->uid);
	sqlite3_bind_int64(st, 5, rec->start);
	sqlite3_bind_int64(st, 6, rec->end);
	sqlite3_bind_int64(st, 7, rec->uses);
	sqlite3_bind_text(st, 8, rec->issued_by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, rec->created);
	int s = sqlite3_step(st);
	sqlite3_finalize(st);
	if (s != SQLITE_DONE)
		return cfs_policydb_err(l->pdb, s, "add link", err);
	rec->id = sqlite3_last_insert_rowid(l->db);
	int rc = store_row(l, rec, err);
	if (rc == 0)
		rec->row_state = CFS_ROW_OK;
	return rc;
}

int cfs_links_add(struct cfs_links *l, struct cfs_link *rec,
		  int (*before_commit)(const struct cfs_link *rec, void *arg, struct cfs_err *err),
		  void *arg, struct cfs_err *err)
{
	int rc;
	if (cfs_path_valid(rec->path) < 0 || rec->uses < 1 || rec->uses > 1000000 ||
	    rec->end <= rec->start || rec->start < 0 || rec->uid < -1 || rec->uid > UINT32_MAX)
		return cfs_errf(err, -EINVAL, "link: invalid path, uses or window");
	if (cfs_link_text_ok(rec->user) < 0 || cfs_link_text_ok(rec->issued_by) < 0 || !rec->issued_by[0])
		return cfs_errf(err, -EINVAL, "link: user or issuer too long or not printable");
	rec->used = 0;
	rec->revoked_at = 0;
	rec->revoked_by[0] = rec->revoke_reason[0] = rec->approved_by[0] = 0;
	rec->approved_at = 0;
	if ((rc = begin(l, 1, "add link", err)) < 0)
		return rc;
	rc = insert_row(l, rec, err);
	if (rc == 0 && before_commit)
		rc = before_commit(rec, arg, err);
	if ((rc = finish(l, rc, "add link", err)) < 0)
		rec->id = 0;
	return rc;
}

/* Select one link by hash (by_hash) or id; caller holds mu. */
static int select_one(struct cfs_links *l, const unsigned char *hash, int64_t id, struct cfs_link *rec,
		      struct cfs_err *err)
{
	sqlite3_stmt *st;
	const char *sql = hash ? "SELECT " COLS " FROM links WHERE token_hash = ?"
			       : "SELECT " COLS " FROM links WHERE id = ?";
	if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK)
		return dberr(l, err, "find link");
	if (hash)
		sqlite3_bind_blob(st, 1, hash, CFS_LINK_HASH_BYTES, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 1, id);
	int s = sqlite3_step(st), rc;
	if (s == SQLITE_ROW)
		rc = row(l, st, rec, err);
	else if (s == SQLITE_DONE)
		rc = cfs_errf(err, -ENOENT, "no such link");
	else
		rc = dberr(l, err, "find link");
	sqlite3_finalize(st);
	return rc;
}

/* begin(), then link id read in that transaction into rec: 0 with the
 * lock held and the transaction open (finish() ends both), else the error
 * with both ended. */
static int begin_get(struct cfs_links *l, int keyed, int64_t id, struct cfs_link *rec,
		     const char *what, struct cfs_err *err)
{
	int rc = begin(l, keyed, what, err);
	if (rc < 0)
		return rc;
	if ((rc = select_one(l, NULL, id, rec, err)) == -ENOENT)
		cfs_errf(err, -ENOENT, "no link L%lld", (long long)id);
	return rc < 0 ? finish(l, rc, what, err) : 0;
}

int cfs_links_find(struct cfs_links *l, const unsigned char hash[CFS_LINK_HASH_BYTES], struct cfs_link *rec,
		   struct cfs_err *err)
{
	pthread_mutex_lock(&l->mu);
	int rc = select_one(l, hash, 0, rec, err);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int cfs_links_get(struct cfs_links *l, int64_t id, struct cfs_link *rec, struct cfs_err *err)
{
	pthread_mutex_lock(&l->mu);
	int rc = select_one(l, NULL, id, rec, err);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int cfs_link_check(const struct cfs_link *r, int64_t uid, int64_t now, char *why, size_t whylen)
{
	const char *w = NULL;
	if (r->row_state != CFS_ROW_OK) {
		snprintf(why, whylen, "link %lld to %.200s failed authentication: %s (forged or edited "
			 "in policy.db)", (long long)r->id, r->path, cfs_row_state_name(r->row_state));
		return -EBADMSG;
	}
	if (r->revoked_at && r->revoked_at <= now)
		w = "revoked";
	else if (now < r->start)
		w = "not yet valid";
	else if (now >= r->end)
		w = "expired";
	else if (r->used >= r->uses)
		w = "used up";
	else if (r->uid >= 0 && r->uid != uid)
		w = "for another user";
	if (!w)
		return 0;
	snprintf(why, whylen, "link %lld to %.200s is %s", (long long)r->id, r->path, w);
	return -EACCES;
}

int cfs_links_use(struct cfs_links *l, const unsigned char hash[CFS_LINK_HASH_BYTES], int64_t uid, int64_t now,
		  uint32_t max_uses, struct cfs_link *rec, char *why, size_t whylen, struct cfs_err *err)
{
	int rc = begin(l, 1, "use link", err);
	if (rc < 0)
		return rc;
	rc = select_one(l, hash, 0, rec, err);
	if (rc == 0)
		rc = cfs_link_check(rec, uid, now, why, whylen);
	if (rc == 0 && max_uses && rec->used >= max_uses) {
		snprintf(why, whylen, "link %lld to %.200s is used up (its class allows %u opens)",
			 (long long)rec->id, rec->path, max_uses);
		rc = -EACCES;
	}
	if (rc == 0) {
		rec->used++;
		rc = store_row(l, rec, err);
	}
	return finish(l, rc, "use link", err);
}

/* Revoke rec (read in this transaction; lock held). */
static int revoke_row(struct cfs_links *l, struct cfs_link *rec, const char *by, const char *reason,
		      int64_t now, struct cfs_err *err)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(l->db,
			       "UPDATE links SET revoked_at = ?, revoked_by = ?, revoke_reason = ? WHERE id = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return dberr(l, err, "revoke link");
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, by, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, reason ? reason : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, rec->id);
	int rc = cfs_policydb_update_one(l->pdb, st, "revoke link", "link L", rec->id, err);
	/* an authentic row stays authentic; a forged one is never blessed */
	if (rc < 0 || rec->row_state != CFS_ROW_OK || !l->key)
		return rc;
	rec->revoked_at = now;
	cfs_strlcpy(rec->revoked_by, by, sizeof rec->revoked_by);
	cfs_strlcpy(rec->revoke_reason, reason ? reason : "", sizeof rec->revoke_reason);
	return store_row(l, rec, err);
}

int cfs_links_revoke(struct cfs_links *l, int64_t id, const char *by, const char *reason, int64_t now,
		     struct cfs_err *err)
{
	struct cfs_link rec;
	if (!by || !*by || cfs_link_text_ok(by) < 0)
		return cfs_errf(err, -EINVAL, "revoke: the revoking admin's name is empty, too long or "
				"not printable");
	if (reason && cfs_link_text_ok(reason) < 0)
		return cfs_errf(err, -EINVAL, "--reason: at most 255 bytes and no control characters");
	int rc = begin_get(l, 0, id, &rec, "revoke link", err);
	if (rc < 0)
		return rc;
	if (rec.revoked_at)
		rc = cfs_errf(err, -EALREADY, "link L%lld is already revoked", (long long)id);
	if (rc == 0)
		rc = revoke_row(l, &rec, by, reason, now, err);
	return finish(l, rc, "revoke link", err);
}

int cfs_links_approve(struct cfs_links *l, int64_t id, const char *approver, int64_t now,
		      int (*check)(const struct cfs_link *rec, void *arg, struct cfs_err *err),
		      void *arg, struct cfs_err *err)
{
	struct cfs_link rec;
	if (!approver || !*approver || cfs_link_text_ok(approver) < 0 || now <= 0)
		return cfs_errf(err, -EINVAL, "approve: bad approver or time");
	int rc = begin_get(l, 1, id, &rec, "approve link", err);
	if (rc < 0)
		return rc;
	if (rec.row_state != CFS_ROW_OK)
		rc = cfs_errf(err, -EBADMSG, "link L%lld is %s: it opens nothing and cannot be approved",
			      (long long)id, cfs_row_state_name(rec.row_state));
	if (rc == 0 && rec.approved_at)
		rc = cfs_errf(err, -EALREADY, "link L%lld is already approved by %s", (long long)id,
			      rec.approved_by);
	if (rc == 0 && rec.revoked_at)
		rc = cfs_errf(err, -EACCES, "link L%lld is revoked", (long long)id);
	if (rc == 0) {
		cfs_strlcpy(rec.approved_by, approver, sizeof rec.approved_by);
		rec.approved_at = now;
		rc = store_row(l, &rec, err);
	}
	if (rc == 0 && check)
		rc = check(&rec, arg, err);
	return finish(l, rc, "approve link", err);
}

/* The rows of st into a growing array (*recs, *n): malformed rows are an
 * error, never sealed. */
static int read_rows(struct cfs_links *l, sqlite3_stmt *st, struct cfs_link **recs, size_t *n,
		     struct cfs_err *err)
{
	size_t cap = 0;
	int rc;
	while ((rc = cfs_policydb_step(l->pdb, st, "seal links", err)) == 1) {
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct cfs_link *nr = realloc(*recs, ncap * sizeof *nr);
			if (!nr)
				return cfs_errf(err, -ENOMEM, "out of memory");
			*recs = nr;
			cap = ncap;
		}
		if ((rc = row(l, st, &(*recs)[*n], err)) < 0)
			return rc; /* malformed: never sealed, named */
		(*n)++;
	}
	return rc;
}

int cfs_links_seal_legacy(struct cfs_links *l, int64_t *sealed, struct cfs_err *err)
{
	sqlite3_stmt *st;
	struct cfs_link *recs = NULL;
	size_t n = 0;
	*sealed = 0;
	int rc = begin(l, 1, "seal links", err);
	if (rc < 0)
		return rc;
	rc = cfs_policydb_prepare(l->pdb, "SELECT " COLS " FROM links WHERE mac IS NULL ORDER BY id",
				  "seal links", &st, err);
	if (rc == 0) {
		rc = read_rows(l, st, &recs, &n, err);
		sqlite3_finalize(st);
	}
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = store_row(l, &recs[i], err);
	if ((rc = finish(l, rc, "seal links", err)) == 0)
		*sealed = (int64_t)n;
	free(recs);
	return rc;
}

int cfs_links_list(struct cfs_links *l, int (*cb)(const struct cfs_link *rec, void *arg), void *arg,
		   struct cfs_err *err)
{
	sqlite3_stmt *st;
	struct cfs_link rec;
	pthread_mutex_lock(&l->mu);
	int rc = cfs_policydb_prepare(l->pdb, "SELECT " COLS " FROM links ORDER BY id DESC", "list links",
				      &st, err);
	while (rc == 0 && (rc = cfs_policydb_step(l->pdb, st, "list links", err)) == 1)
		if ((rc = row(l, st, &rec, err)) == 0 && cb(&rec, arg))
			break;
	sqlite3_finalize(st);
	pthread_mutex_unlock(&l->mu);
	return rc < 0 ? rc : 0;
}
