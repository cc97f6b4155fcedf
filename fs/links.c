/* links.c — the `links` table of policy.db: issue, find, use (atomically),
 * revoke, list. Tokens exist only in the issuer's output and the holder's
 * hands; the table keeps a keyed BLAKE2b hash. Must never store or log a
 * token, and never decide more than a link's own limits (class rules are
 * policy.c's). Every row carries a MAC under the store's rowmac key: a row
 * written or edited without the key (a longer life, more uses, another user,
 * a fake approval) is refused, never trusted, and never re-sealed. */
#include "coachfs/links.h"
#include "coachfs/grants.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cfs_links {
	sqlite3 *db;
	pthread_mutex_t mu;
	char *file;
	unsigned char *key;       /* rowmac key, sodium_malloc; NULL = none */
};

static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS links ("
	" id INTEGER PRIMARY KEY, token_hash BLOB NOT NULL UNIQUE, path TEXT NOT NULL,"
	" user TEXT NOT NULL, uid INTEGER NOT NULL, start INTEGER NOT NULL, \"end\" INTEGER NOT NULL,"
	" uses INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0, issued_by TEXT NOT NULL,"
	" created INTEGER NOT NULL, revoked_at INTEGER, revoked_by TEXT, revoke_reason TEXT);";

#define COLS "id, token_hash, path, user, uid, start, \"end\", uses, used, issued_by, created, " \
	     "revoked_at, revoked_by, revoke_reason, approved_by, approved_at, mac"

/* Columns added after the first format: a policy.db without them gets them
 * empty (its rows then read as unsealed, refused until sealed). */
static const char *const ADDED[][2] = {
	{ "approved_by", "TEXT" }, { "approved_at", "INTEGER" }, { "mac", "BLOB" } };

static int dberr(struct cfs_links *l, struct cfs_err *err, const char *what)
{
	return cfs_errf(err, cfs_sqlite_errno(sqlite3_extended_errcode(l->db)), "%s: %s: %s", l->file, what,
			sqlite3_errmsg(l->db));
}

int cfs_links_open(const char *path, struct cfs_links **out, struct cfs_err *err)
{
	struct cfs_links *l = calloc(1, sizeof *l);
	if (!l || !(l->file = strdup(path))) {
		free(l);
		return cfs_errf(err, -ENOMEM, "out of memory");
	}
	pthread_mutex_init(&l->mu, NULL);
	int rc = sqlite3_open_v2(path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX,
				 NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(l->db, 5000);
	/* the same defences as grants.c's connection: a hostile schema
	 * (triggers, views) must not run functions for us, nor may writes
	 * through SQL corrupt the file */
	if (rc == SQLITE_OK)
		rc = sqlite3_extended_result_codes(l->db, 1);
	if (rc == SQLITE_OK)
		rc = sqlite3_db_config(l->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(l->db, "PRAGMA trusted_schema = OFF; PRAGMA journal_mode=WAL; "
				  "PRAGMA synchronous=NORMAL;", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_exec(l->db, SCHEMA, NULL, NULL, NULL);
		for (size_t i = 0; rc == SQLITE_OK && i < sizeof ADDED / sizeof ADDED[0]; i++) {
			char sql[160];
			sqlite3_stmt *st;
			snprintf(sql, sizeof sql, "SELECT 1 FROM pragma_table_info('links') WHERE name = '%s'",
				 ADDED[i][0]);
			rc = sqlite3_prepare_v2(l->db, sql, -1, &st, NULL);
			if (rc != SQLITE_OK)
				break;
			int s = sqlite3_step(st);
			sqlite3_finalize(st);
			if (s == SQLITE_DONE) {
				snprintf(sql, sizeof sql, "ALTER TABLE links ADD COLUMN %s %s", ADDED[i][0],
					 ADDED[i][1]);
				rc = sqlite3_exec(l->db, sql, NULL, NULL, NULL);
			} else if (s != SQLITE_ROW) {
				rc = s;
			}
		}
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		int r = cfs_errf(err, cfs_sqlite_errno(rc), "%s: %s", path, l->db ? sqlite3_errmsg(l->db) : "cannot open");
		cfs_links_close(l);
		return r;
	}
	*out = l;
	return 0;
}

void cfs_links_close(struct cfs_links *l)
{
	if (!l)
		return;
	sqlite3_close(l->db);
	if (l->key)
		sodium_free(l->key);
	pthread_mutex_destroy(&l->mu);
	free(l->file);
	free(l);
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
	if (sodium_init() < 0) /* idempotent; secure memory needs it */
		return cfs_errf(err, -EIO, "%s: libsodium cannot start", l->file);
	unsigned char *k = sodium_malloc(32);
	if (!k)
		return cfs_errf(err, -ENOMEM, "%s: out of secure memory", l->file);
	memcpy(k, key, 32);
	pthread_mutex_lock(&l->mu);
	if (l->key)
		sodium_free(l->key);
	l->key = k;
	pthread_mutex_unlock(&l->mu);
	return 0;
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

static int need_key(struct cfs_links *l, struct cfs_err *err)
{
	if (!l->key)
		return cfs_errf(err, -EPERM, "%s: changing links needs the store key (unlock the store)",
				l->file);
	return 0;
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
	int s = sqlite3_step(st);
	sqlite3_finalize(st);
	if (s != SQLITE_DONE || sqlite3_changes(l->db) != 1)
		return s != SQLITE_DONE ? dberr(l, err, "seal link")
					: cfs_errf(err, -EIO, "%s: link L%lld vanished", l->file,
						   (long long)rec->id);
	return 0;
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

int cfs_links_add(struct cfs_links *l, struct cfs_link *rec,
		  int (*before_commit)(const struct cfs_link *rec, void *arg, struct cfs_err *err),
		  void *arg, struct cfs_err *err)
{
	sqlite3_stmt *st;
	int rc = 0;
	if (cfs_path_valid(rec->path) < 0 || rec->uses < 1 || rec->uses > 1000000 ||
	    rec->end <= rec->start || rec->start < 0 || rec->uid < -1 || rec->uid > UINT32_MAX)
		return cfs_errf(err, -EINVAL, "link: invalid path, uses or window");
	if (cfs_link_text_ok(rec->user) < 0 || cfs_link_text_ok(rec->issued_by) < 0 || !rec->issued_by[0])
		return cfs_errf(err, -EINVAL, "link: user or issuer too long or not printable");
	rec->used = 0;
	rec->revoked_at = 0;
	rec->revoked_by[0] = rec->revoke_reason[0] = rec->approved_by[0] = 0;
	rec->approved_at = 0;
	pthread_mutex_lock(&l->mu);
	if ((rc = need_key(l, err)) < 0)
		goto out;
	if (sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		rc = dberr(l, err, "add link");
		goto out;
	}
	if (sqlite3_prepare_v2(l->db,
			       "INSERT INTO links (token_hash, path, user, uid, start, \"end\", uses, used, "
			       "issued_by, created) VALUES (?,?,?,?,?,?,?,0,?,?)",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = dberr(l, err, "add link");
	} else {
		sqlite3_bind_blob(st, 1, rec->hash, CFS_LINK_HASH_BYTES, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, rec->path, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, rec->user, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, rec->uid);
		sqlite3_bind_int64(st, 5, rec->start);
		sqlite3_bind_int64(st, 6, rec->end);
		sqlite3_bind_int64(st, 7, rec->uses);
		sqlite3_bind_text(st, 8, rec->issued_by, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 9, rec->created);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = dberr(l, err, "add link");
		else
			rec->id = sqlite3_last_insert_rowid(l->db);
		sqlite3_finalize(st);
	}
	if (rc == 0 && (rc = store_row(l, rec, err)) == 0)
		rec->row_state = CFS_ROW_OK;
	if (rc == 0 && before_commit && (rc = before_commit(rec, arg, err)) > 0)
		rc = -EIO;
	if (rc == 0 && sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = dberr(l, err, "add link");
	if (rc != 0) {
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
		rec->id = 0;
	}
out:
	pthread_mutex_unlock(&l->mu);
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
	int rc;
	pthread_mutex_lock(&l->mu);
	if ((rc = need_key(l, err)) < 0) {
		pthread_mutex_unlock(&l->mu);
		return rc;
	}
	if (sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		rc = dberr(l, err, "use link");
		pthread_mutex_unlock(&l->mu);
		return rc;
	}
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
	if (rc == 0 && sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = dberr(l, err, "use link");
	if (rc != 0)
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&l->mu);
	return rc;
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
	pthread_mutex_lock(&l->mu);
	if (sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		int r = dberr(l, err, "revoke link");
		pthread_mutex_unlock(&l->mu);
		return r;
	}
	int rc = select_one(l, NULL, id, &rec, err);
	if (rc == -ENOENT)
		cfs_errf(err, -ENOENT, "no link L%lld", (long long)id);
	if (rc == 0 && rec.revoked_at)
		rc = cfs_errf(err, -EALREADY, "link L%lld is already revoked", (long long)id);
	if (rc == 0) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(l->db,
				       "UPDATE links SET revoked_at = ?, revoked_by = ?, revoke_reason = ? WHERE id = ?",
				       -1, &st, NULL) != SQLITE_OK) {
			rc = dberr(l, err, "revoke link");
		} else {
			sqlite3_bind_int64(st, 1, now);
			sqlite3_bind_text(st, 2, by, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, reason ? reason : "", -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 4, id);
			if (sqlite3_step(st) != SQLITE_DONE)
				rc = dberr(l, err, "revoke link");
			sqlite3_finalize(st);
		}
		/* an authentic row stays authentic; a forged one is never blessed */
		if (rc == 0 && rec.row_state == CFS_ROW_OK && l->key) {
			rec.revoked_at = now;
			cfs_strlcpy(rec.revoked_by, by, sizeof rec.revoked_by);
			cfs_strlcpy(rec.revoke_reason, reason ? reason : "", sizeof rec.revoke_reason);
			rc = store_row(l, &rec, err);
		}
	}
	if (rc == 0 && sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = dberr(l, err, "revoke link");
	if (rc != 0)
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int cfs_links_approve(struct cfs_links *l, int64_t id, const char *approver, int64_t now,
		      int (*check)(const struct cfs_link *rec, void *arg, struct cfs_err *err),
		      void *arg, struct cfs_err *err)
{
	struct cfs_link rec;
	int rc;
	if (!approver || !*approver || cfs_link_text_ok(approver) < 0 || now <= 0)
		return cfs_errf(err, -EINVAL, "approve: bad approver or time");
	pthread_mutex_lock(&l->mu);
	if ((rc = need_key(l, err)) < 0) {
		pthread_mutex_unlock(&l->mu);
		return rc;
	}
	if (sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		rc = dberr(l, err, "approve link");
		pthread_mutex_unlock(&l->mu);
		return rc;
	}
	rc = select_one(l, NULL, id, &rec, err);
	if (rc == -ENOENT)
		cfs_errf(err, -ENOENT, "no link L%lld", (long long)id);
	if (rc == 0 && rec.row_state != CFS_ROW_OK)
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
	if (rc == 0 && check && (rc = check(&rec, arg, err)) > 0)
		rc = -EIO;
	if (rc == 0 && sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = dberr(l, err, "approve link");
	if (rc != 0)
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int cfs_links_seal_legacy(struct cfs_links *l, int64_t *sealed, struct cfs_err *err)
{
	sqlite3_stmt *st;
	struct cfs_link *recs = NULL;
	size_t n = 0, cap = 0;
	int rc = 0, s;
	*sealed = 0;
	pthread_mutex_lock(&l->mu);
	if ((rc = need_key(l, err)) < 0) {
		pthread_mutex_unlock(&l->mu);
		return rc;
	}
	if (sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		rc = dberr(l, err, "seal links");
		pthread_mutex_unlock(&l->mu);
		return rc;
	}
	if (sqlite3_prepare_v2(l->db, "SELECT " COLS " FROM links WHERE mac IS NULL ORDER BY id", -1, &st,
			       NULL) != SQLITE_OK) {
		rc = dberr(l, err, "seal links");
	} else {
		while ((s = sqlite3_step(st)) == SQLITE_ROW) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 16;
				struct cfs_link *nr = realloc(recs, ncap * sizeof *nr);
				if (!nr) {
					rc = cfs_errf(err, -ENOMEM, "out of memory");
					break;
				}
				recs = nr;
				cap = ncap;
			}
			if ((rc = row(l, st, &recs[n], err)) < 0)
				break; /* malformed: never sealed, named */
			n++;
		}
		if (rc == 0 && s != SQLITE_DONE)
			rc = dberr(l, err, "seal links");
		sqlite3_finalize(st);
	}
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = store_row(l, &recs[i], err);
	if (rc == 0 && sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = dberr(l, err, "seal links");
	if (rc != 0)
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	else
		*sealed = (int64_t)n;
	pthread_mutex_unlock(&l->mu);
	free(recs);
	return rc;
}

int cfs_links_list(struct cfs_links *l, int (*cb)(const struct cfs_link *rec, void *arg), void *arg,
		   struct cfs_err *err)
{
	sqlite3_stmt *st;
	struct cfs_link rec;
	int rc = 0, s;
	pthread_mutex_lock(&l->mu);
	if (sqlite3_prepare_v2(l->db, "SELECT " COLS " FROM links ORDER BY id DESC", -1, &st, NULL) != SQLITE_OK) {
		rc = dberr(l, err, "list links");
		pthread_mutex_unlock(&l->mu);
		return rc;
	}
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		rc = row(l, st, &rec, err);
		if (rc < 0 || cb(&rec, arg))
			break;
	}
	if (rc == 0 && s != SQLITE_ROW && s != SQLITE_DONE)
		rc = dberr(l, err, "list links");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&l->mu);
	return rc;
}
