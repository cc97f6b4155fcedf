/* state.c — the local integrity record (see state.h): versions seen and
 * renames in flight, in SQLite (WAL), each row MACed with the state subkey,
 * versions cached in a hash table so an open costs no query once an id has
 * been seen. Must never lower a version, never trust a row whose MAC fails,
 * and never store a key. */
#include "coachfs/state.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096
#define MAC_BYTES 32

struct ent {
	struct ent *next;
	unsigned char id[CFS_STATE_ID_BYTES];
	uint64_t v;
};

struct cfs_state {
	sqlite3 *db;
	const struct cfs_keys *keys;
	pthread_mutex_t mu;          /* the cache and the connection */
	struct ent *b[BUCKETS];
};

static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS versions (id BLOB PRIMARY KEY, version INTEGER NOT NULL, mac BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS intents (id BLOB PRIMARY KEY, parent BLOB NOT NULL, name BLOB NOT NULL,"
	" mac BLOB NOT NULL);";

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void mac_version(const struct cfs_keys *k, const unsigned char *id, uint64_t v, unsigned char mac[MAC_BYTES])
{
	unsigned char m[1 + CFS_STATE_ID_BYTES + 8];
	m[0] = 'v';
	memcpy(m + 1, id, CFS_STATE_ID_BYTES);
	put_u64(m + 1 + CFS_STATE_ID_BYTES, v);
	crypto_generichash(mac, MAC_BYTES, m, sizeof m, k->state, CFS_KEY_BYTES);
}

static void mac_intent(const struct cfs_keys *k, const unsigned char *id, const unsigned char *parent,
		       const char *name, size_t nl, unsigned char mac[MAC_BYTES])
{
	crypto_generichash_state st;
	unsigned char hd[1 + 2 * CFS_STATE_ID_BYTES + 1];
	hd[0] = 'r';
	memcpy(hd + 1, id, CFS_STATE_ID_BYTES);
	memcpy(hd + 1 + CFS_STATE_ID_BYTES, parent, CFS_STATE_ID_BYTES);
	hd[sizeof hd - 1] = (unsigned char)nl;
	crypto_generichash_init(&st, k->state, CFS_KEY_BYTES, MAC_BYTES);
	crypto_generichash_update(&st, hd, sizeof hd);
	crypto_generichash_update(&st, (const unsigned char *)name, nl);
	crypto_generichash_final(&st, mac, MAC_BYTES);
}

static size_t bucket(const unsigned char *id)
{
	/* ids are random: their first bytes are a fine hash */
	return ((size_t)id[0] | ((size_t)id[1] << 8)) % BUCKETS;
}

static int dberr(struct cfs_state *s, struct cfs_err *err, const char *what)
{
	return cfs_errf(err, cfs_sqlite_errno(sqlite3_extended_errcode(s->db)), "integrity record: %s: %s", what,
			sqlite3_errmsg(s->db));
}

int cfs_state_lock(const char *path, int *fd, struct cfs_err *err)
{
	char lp[4096 + 8], pid[24] = "";
	*fd = -1;
	if (snprintf(lp, sizeof lp, "%s.lock", path) >= (int)sizeof lp)
		return cfs_errf(err, -ENAMETOOLONG, "%s: path too long", path);
	int f = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (f < 0)
		return cfs_errf(err, -errno, "%s: %s", lp, strerror(errno));
	if (flock(f, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		ssize_t n = e == EWOULDBLOCK ? pread(f, pid, sizeof pid - 1, 0) : -1;
		close(f);
		if (e != EWOULDBLOCK)
			return cfs_errf(err, -e, "%s: %s", lp, strerror(e));
		pid[n > 0 ? strcspn(pid, "\n") : 0] = 0;
		for (const char *p = pid; *p; p++)
			if (*p < '0' || *p > '9')
				pid[0] = 0;   /* hostile bytes: say nothing of them */
		return cfs_errf(err, -EBUSY,
				"the integrity record %s is held by another coachfs daemon%s%s%s: "
				"one daemon serves a store on a host", path, pid[0] ? " (pid " : "", pid,
				pid[0] ? ")" : "");
	}
	int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	errno = 0;
	if (ftruncate(f, 0) != 0 || pwrite(f, pid, (size_t)n, 0) != n) {
		int e = errno ? errno : EIO;   /* a short write sets none */
		close(f);
		return cfs_errf(err, -e, "%s: %s", lp, strerror(e));
	}
	*fd = f;
	return 0;
}

int cfs_state_open(const char *path, const struct cfs_keys *keys, int create, struct cfs_state **out,
		   struct cfs_err *err)
{
	*out = NULL;
	struct cfs_state *s = calloc(1, sizeof *s);
	if (!s)
		return cfs_errf(err, -ENOMEM, "out of memory");
	int fl = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	if (sqlite3_open_v2(path, &s->db, fl, NULL) != SQLITE_OK) {
		int rc = cfs_errf(err, -EIO, "%s: cannot open the integrity record: %s%s", path,
				  s->db ? sqlite3_errmsg(s->db) : "out of memory",
				  create ? "" : " (run 'coach-admin upgrade' or 'init' to create it)");
		sqlite3_close(s->db);
		free(s);
		return rc;
	}
	sqlite3_busy_timeout(s->db, 5000);
	char *msg = NULL;
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(s->db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = cfs_errf(err, -EIO, "%s: %s", path, msg ? msg : "cannot set up the integrity record");
		sqlite3_free(msg);
		sqlite3_close(s->db);
		free(s);
		return rc;
	}
	pthread_mutex_init(&s->mu, NULL);
	s->keys = keys;
	*out = s;
	return 0;
}

void cfs_state_close(struct cfs_state *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < BUCKETS; i++)
		for (struct ent *e = s->b[i], *n; e; e = n) {
			n = e->next;
			free(e);
		}
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static struct ent *cache_find(struct cfs_state *s, const unsigned char *id)
{
	for (struct ent *e = s->b[bucket(id)]; e; e = e->next)
		if (memcmp(e->id, id, CFS_STATE_ID_BYTES) == 0)
			return e;
	return NULL;
}

static void cache_put(struct cfs_state *s, const unsigned char *id, uint64_t v)
{
	struct ent *e = cache_find(s, id);
	if (e) {
		if (v > e->v)
			e->v = v;
		return;
	}
	e = calloc(1, sizeof *e);
	if (!e)
		return; /* only the cache: the database still answers */
	memcpy(e->id, id, CFS_STATE_ID_BYTES);
	e->v = v;
	e->next = s->b[bucket(id)];
	s->b[bucket(id)] = e;
}

/* The database's row for id, its MAC checked (locked). */
static int db_get(struct cfs_state *s, const unsigned char *id, uint64_t *v, struct cfs_err *err)
{
	sqlite3_stmt *st;
	*v = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT version, mac FROM versions WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
		return dberr(s, err, "query");
	sqlite3_bind_blob(st, 1, id, CFS_STATE_ID_BYTES, SQLITE_STATIC);
	int rc = 0, r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		sqlite3_int64 ver = sqlite3_column_int64(st, 0);
		const void *m = sqlite3_column_blob(st, 1);
		unsigned char want[MAC_BYTES];
		mac_version(s->keys, id, (uint64_t)ver, want);
		if (ver < 0 || !m || sqlite3_column_bytes(st, 1) != MAC_BYTES ||
		    sodium_memcmp(m, want, MAC_BYTES) != 0)
			rc = cfs_errf(err, -EIO, "integrity record: a version row failed its MAC (edited)");
		else
			*v = (uint64_t)ver;
	} else if (r != SQLITE_DONE) {
		rc = dberr(s, err, "query");
	}
	sqlite3_finalize(st);
	return rc;
}

int cfs_state_get(struct cfs_state *s, const unsigned char id[CFS_STATE_ID_BYTES], uint64_t *v,
		  struct cfs_err *err)
{
	pthread_mutex_lock(&s->mu);
	struct ent *e = cache_find(s, id);
	int rc = 0;
	if (e) {
		*v = e->v;
	} else if ((rc = db_get(s, id, v, err)) == 0) {
		cache_put(s, id, *v);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int cfs_state_note(struct cfs_state *s, const unsigned char id[CFS_STATE_ID_BYTES], uint64_t v,
		   struct cfs_err *err)
{
	uint64_t cur;
	unsigned char mac[MAC_BYTES];
	if (v > INT64_MAX)
		return cfs_errf(err, -EOVERFLOW, "integrity record: version out of range");
	pthread_mutex_lock(&s->mu);
	struct ent *e = cache_find(s, id);
	int rc = 0;
	if (e)
		cur = e->v;
	else
		rc = db_get(s, id, &cur, err);
	if (rc == 0 && v > cur) {
		sqlite3_stmt *st;
		mac_version(s->keys, id, v, mac);
		if (sqlite3_prepare_v2(s->db,
				       "INSERT INTO versions (id, version, mac) VALUES (?, ?, ?) ON CONFLICT(id) "
				       "DO UPDATE SET version = excluded.version, mac = excluded.mac "
				       "WHERE excluded.version > versions.version",
				       -1, &st, NULL) != SQLITE_OK) {
			rc = dberr(s, err, "update");
		} else {
			sqlite3_bind_blob(st, 1, id, CFS_STATE_ID_BYTES, SQLITE_STATIC);
			sqlite3_bind_int64(st, 2, (sqlite3_int64)v);
			sqlite3_bind_blob(st, 3, mac, MAC_BYTES, SQLITE_STATIC);
			if (sqlite3_step(st) != SQLITE_DONE)
				rc = dberr(s, err, "update");
			sqlite3_finalize(st);
		}
	}
	if (rc == 0)
		cache_put(s, id, v > cur ? v : cur);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int cfs_state_intent_set(struct cfs_state *s, const unsigned char id[CFS_STATE_ID_BYTES],
			 const unsigned char parent[CFS_STATE_ID_BYTES], const char *name, struct cfs_err *err)
{
	size_t nl = strlen(name);
	unsigned char mac[MAC_BYTES];
	sqlite3_stmt *st;
	if (nl > 255)
		return cfs_errf(err, -ENAMETOOLONG, "integrity record: name too long");
	mac_intent(s->keys, id, parent, name, nl, mac);
	pthread_mutex_lock(&s->mu);
	int rc = 0;
	if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO intents (id, parent, name, mac) VALUES (?, ?, ?, ?)",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = dberr(s, err, "rename intent");
	} else {
		sqlite3_bind_blob(st, 1, id, CFS_STATE_ID_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, parent, CFS_STATE_ID_BYTES, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, nl ? name : "", (int)nl, SQLITE_STATIC);
		sqlite3_bind_blob(st, 4, mac, MAC_BYTES, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = dberr(s, err, "rename intent");
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int cfs_state_intent_get(struct cfs_state *s, const unsigned char id[CFS_STATE_ID_BYTES],
			 unsigned char parent[CFS_STATE_ID_BYTES], char *name, size_t cap, struct cfs_err *err)
{
	sqlite3_stmt *st;
	pthread_mutex_lock(&s->mu);
	int rc = -ENOENT;
	if (sqlite3_prepare_v2(s->db, "SELECT parent, name, mac FROM intents WHERE id = ?", -1, &st, NULL) != SQLITE_OK) {
		rc = dberr(s, err, "rename intent");
	} else {
		sqlite3_bind_blob(st, 1, id, CFS_STATE_ID_BYTES, SQLITE_STATIC);
		int r = sqlite3_step(st);
		if (r == SQLITE_ROW) {
			const unsigned char *p = sqlite3_column_blob(st, 0), *m = sqlite3_column_blob(st, 2);
			const char *n = sqlite3_column_blob(st, 1);
			size_t nl = (size_t)sqlite3_column_bytes(st, 1);
			unsigned char want[MAC_BYTES];
			if (!p || sqlite3_column_bytes(st, 0) != CFS_STATE_ID_BYTES || !m ||
			    sqlite3_column_bytes(st, 2) != MAC_BYTES || nl > 255 || nl + 1 > cap ||
			    (nl && (!n || memchr(n, 0, nl) || memchr(n, '/', nl)))) {
				rc = cfs_errf(err, -EIO, "integrity record: a rename intent row is malformed");
			} else {
				mac_intent(s->keys, id, p, nl ? n : "", nl, want);
				if (sodium_memcmp(m, want, MAC_BYTES) != 0) {
					rc = cfs_errf(err, -EIO, "integrity record: a rename intent row failed its MAC");
				} else {
					memcpy(parent, p, CFS_STATE_ID_BYTES);
					if (nl)
						memcpy(name, n, nl);
					name[nl] = 0;
					rc = 0;
				}
			}
		} else if (r != SQLITE_DONE) {
			rc = dberr(s, err, "rename intent");
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int cfs_state_intent_clear(struct cfs_state *s, const unsigned char id[CFS_STATE_ID_BYTES], struct cfs_err *err)
{
	sqlite3_stmt *st;
	pthread_mutex_lock(&s->mu);
	int rc = 0;
	if (sqlite3_prepare_v2(s->db, "DELETE FROM intents WHERE id = ?", -1, &st, NULL) != SQLITE_OK) {
		rc = dberr(s, err, "rename intent");
	} else {
		sqlite3_bind_blob(st, 1, id, CFS_STATE_ID_BYTES, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = dberr(s, err, "rename intent");
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}
