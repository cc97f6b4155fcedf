/* links.c — the `links` table of policy.db: issue, find, use (atomically),
 * revoke, list. Tokens exist only in the issuer's output and the holder's
 * hands; the table keeps a keyed BLAKE2b hash. Must never store or log a
 * token, and never decide more than a link's own limits. */
#include "coachfs/links.h"

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
};

static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS links ("
	" id INTEGER PRIMARY KEY, token_hash BLOB NOT NULL UNIQUE, path TEXT NOT NULL,"
	" user TEXT NOT NULL, uid INTEGER NOT NULL, start INTEGER NOT NULL, \"end\" INTEGER NOT NULL,"
	" uses INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0, issued_by TEXT NOT NULL,"
	" created INTEGER NOT NULL, revoked_at INTEGER, revoked_by TEXT, revoke_reason TEXT);";

#define COLS "id, token_hash, path, user, uid, start, \"end\", uses, used, issued_by, created, " \
	     "revoked_at, revoked_by, revoke_reason"

static int dberr(struct cfs_links *l, struct cfs_err *err, const char *what)
{
	return cfs_errf(err, -EIO, "%s: %s: %s", l->file, what, sqlite3_errmsg(l->db));
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
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(l->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(l->db, SCHEMA, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int r = cfs_errf(err, -EIO, "%s: %s", path, l->db ? sqlite3_errmsg(l->db) : "cannot open");
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
	if (uses < 1 || uses > 1000000 || used < 0 || used > uses + 1 || r->uid < -1 || r->uid > UINT32_MAX ||
	    cfs_path_valid(r->path) < 0 || r->end <= r->start)
		bad = 1;
	r->uses = (uint32_t)uses;
	r->used = (uint32_t)(used > uses ? uses : used);
	if (bad)
		return cfs_errf(err, -EIO, "%s: link %lld is malformed", l->file, (long long)r->id);
	return 0;
}

int cfs_links_add(struct cfs_links *l, struct cfs_link *rec, struct cfs_err *err)
{
	sqlite3_stmt *st;
	int rc = 0;
	if (cfs_path_valid(rec->path) < 0 || rec->uses < 1 || rec->end <= rec->start)
		return cfs_errf(err, -EINVAL, "link: invalid path, uses or window");
	pthread_mutex_lock(&l->mu);
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
		  struct cfs_link *rec, char *why, size_t whylen, struct cfs_err *err)
{
	int rc;
	pthread_mutex_lock(&l->mu);
	if (sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		rc = dberr(l, err, "use link");
		pthread_mutex_unlock(&l->mu);
		return rc;
	}
	rc = select_one(l, hash, 0, rec, err);
	if (rc == 0)
		rc = cfs_link_check(rec, uid, now, why, whylen);
	if (rc == 0) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(l->db, "UPDATE links SET used = used + 1 WHERE id = ?", -1, &st, NULL) !=
		    SQLITE_OK) {
			rc = dberr(l, err, "use link");
		} else {
			sqlite3_bind_int64(st, 1, rec->id);
			if (sqlite3_step(st) != SQLITE_DONE)
				rc = dberr(l, err, "use link");
			sqlite3_finalize(st);
		}
		if (rc == 0)
			rec->used++;
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
	pthread_mutex_lock(&l->mu);
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
	}
	pthread_mutex_unlock(&l->mu);
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
