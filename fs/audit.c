/* audit.c — opening and closing audit.db (README, "Audit log"): the handle,
 * its identity checks and migrations. The module's other files: audit_enc.c
 * (canonical encoding, chain hash, checkpoint messages, heads, public keys),
 * audit_db.c (schema statements, chained batch insert, checkpoints),
 * audit_writer.c (appender, queue, writer thread), audit_verify.c and
 * audit_query.c; audit_int.h is what they share.
 * The module must never record a key, passphrase, file content or link token, never
 * report success for a row it did not commit, never write to a database file
 * other than the one it opened (fail closed), and never print.
 *
 * Chain: row.hash = BLAKE2b-256(prev_hash || cfs_audit_encode(row)), the first
 * row's prev_hash is 32 zero bytes. Every appender (the daemon and tools such
 * as coach-grant, in other processes) reads the chain head inside its own
 * BEGIN IMMEDIATE transaction, so the chain stays one line.
 *
 * Checkpoint (format 2): Ed25519 signature over CFS_AUD_CP2_CONTEXT || be64(seq) ||
 * be64(last_id) || last_hash || be64(ts) || prev, where seq counts 1, 2, 3...
 * and prev is BLAKE2b-256 of the previous checkpoint's signed bytes (zeros
 * for the first). It seals every row up to last_id: editing, deleting or
 * truncating them is then detected with only the public key; and deleting,
 * reordering or inserting checkpoints breaks the checkpoint chain. A log with
 * events but no valid checkpoint at all fails. Format 1 (CFS_AUD_CP_CONTEXT ||
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


/* ---------------------------------------------------------------- helpers */

int64_t cfs_aud_mono_ms(void)
{
	return cfs_clock_us(CLOCK_MONOTONIC) / 1000;
}

int64_t cfs_aud_mono_us(void)
{
	return cfs_clock_us(CLOCK_MONOTONIC);
}

void cfs_aud_sleep_us(int64_t us)
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
	int64_t now = cfs_aud_mono_us();
	if (tries == 0)
		a->busy_since_us = now;
	if (now - a->busy_since_us >= (int64_t)a->busy_ms * 1000)
		return 0;
	cfs_aud_sleep_us(BUSY_POLL_US);
	return 1;
}

void cfs_event_init(struct cfs_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->ts = CFS_AUDIT_NONE;
	ev->uid = ev->pid = ev->grant_id = ev->offset = ev->length = CFS_AUDIT_NONE;
	ev->action = CFS_ACT_COUNT;   /* none: an append refuses it until set */
}

void cfs_audit_filter_init(struct cfs_audit_filter *f)
{
	memset(f, 0, sizeof *f);
	f->since_us = f->until_us = CFS_AUDIT_NONE;
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

void cfs_aud_finalize_all(struct cfs_audit *a)
{
	sqlite3_stmt **st[] = { &a->st_insert, &a->st_head, &a->st_begin, &a->st_commit,
				&a->st_rollback, &a->st_cp_head, &a->st_cp_insert,
				&a->st_row_hash };
	for (size_t k = 0; k < sizeof st / sizeof st[0]; k++) {
		sqlite3_finalize(*st[k]);
		*st[k] = NULL;
	}
}

void cfs_aud_free_handle(struct cfs_audit *a)
{
	cfs_aud_finalize_all(a);
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
int cfs_aud_open_ro_db(const char *path, sqlite3 **out, struct cfs_err *err)
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
		rc = cfs_aud_exec_sql(db, "SELECT count(*) FROM sqlite_master");
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
			rc = cfs_aud_exec_sql(db, "SELECT count(*) FROM sqlite_master");
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
int cfs_aud_check_format(sqlite3 *db, const char *path, struct cfs_err *err)
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
int cfs_aud_has_cp2_columns(sqlite3 *db)
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
	int has = cfs_aud_has_cp2_columns(a->db);
	if (has == 1)
		return 0;
	if (has < 0)
		return cfs_aud_dberr(a, err, "cannot read the checkpoints table");
	if (cfs_aud_exec_sql(a->db, "BEGIN IMMEDIATE") != SQLITE_OK)
		return cfs_aud_dberr(a, err, "cannot upgrade the checkpoints table");
	has = cfs_aud_has_cp2_columns(a->db);   /* another process may have just done it */
	if (has == 0 &&
	    (cfs_aud_exec_sql(a->db, "ALTER TABLE checkpoints ADD COLUMN seq INTEGER") != SQLITE_OK ||
	     cfs_aud_exec_sql(a->db, "ALTER TABLE checkpoints ADD COLUMN prev BLOB") != SQLITE_OK ||
	     cfs_aud_exec_sql(a->db, "CREATE INDEX IF NOT EXISTS checkpoints_seq ON checkpoints(seq)") !=
	     SQLITE_OK))
		has = -1;
	if (has < 0 || cfs_aud_exec_sql(a->db, "COMMIT") != SQLITE_OK) {
		int rc = cfs_aud_dberr(a, err, "cannot upgrade the checkpoints table");
		cfs_aud_exec_sql(a->db, "ROLLBACK");
		return rc;
	}
	return 0;
}

/* A handle for path with its buffers, not yet connected. */
static int new_handle(const char *path, struct cfs_audit **out, struct cfs_err *err)
{
	struct cfs_audit *a = alloc_handle();
	if (!a)
		return cfs_errf(err, -ENOMEM, "out of memory");
	int rc = make_absolute(path, &a->path);
	if (rc < 0) {
		cfs_aud_free_handle(a);
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
		cfs_aud_free_handle(a);
		return cfs_errf(err, -ENOMEM, "out of memory");
	}
	*out = a;
	return 0;
}

/* "audit database PATH: strerror(errno)" */
static int sys_err(const char *path, struct cfs_err *err)
{
	int rc = -errno;
	return cfs_errf(err, rc, "audit database %s: %s", path, strerror(-rc));
}

/* Open the database file for writing, defensively, and pin its identity
 * (see check_identity). */
static int connect_db(struct cfs_audit *a, const char *path, int create, struct cfs_err *err)
{
	struct stat sb;
	int moved = 0;
	if (create) {
		/* Create it ourselves so it starts private (SQLite gives -wal and
		 * -shm the database's mode). Only when absent: closing a descriptor
		 * on a file SQLite has open in this process would drop its locks. */
		int fd = open(a->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0)
			close(fd);
		else if (errno != EEXIST)
			return sys_err(path, err);
	}
	int rc = sqlite3_open_v2(a->path, &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		int missing = rc == SQLITE_CANTOPEN && access(a->path, F_OK) < 0;
		return cfs_errf(err, missing ? -ENOENT : -EIO, "audit database %s: cannot open: %s",
				a->path, missing ? strerror(ENOENT)
				: a->db ? sqlite3_errmsg(a->db) : sqlite3_errstr(rc));
	}
	if (sqlite3_db_readonly(a->db, "main") == 1)
		return cfs_errf(err, -EACCES, "audit database %s: no permission to write", path);
	a->busy_ms = BUSY_TIMEOUT_MS;
	sqlite3_busy_handler(a->db, busy_wait, a);
	sqlite3_db_config(a->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(a->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	a->fd = open(a->path, O_PATH | O_CLOEXEC);
	if (a->fd < 0 || fstat(a->fd, &sb) < 0)
		return sys_err(path, err);
	if (!S_ISREG(sb.st_mode))
		return cfs_errf(err, -EINVAL, "audit database %s: not a regular file", path);
	a->dev = sb.st_dev;
	a->ino = sb.st_ino;
	if (sqlite3_file_control(a->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved)
		return cfs_errf(err, -EIO, "audit database %s changed while being opened", path);
	return 0;
}

/* WAL: appenders in several processes, readers never block them.
 * synchronous=NORMAL: in WAL mode a commit survives a crash of any process
 * (the daemon, coach-audit, coach-grant) — which is the threat here; only a
 * power loss or kernel crash may lose the last few transactions (never
 * corrupt the file or the chain). FULL would cost an fsync per commit. */
static int set_journal(struct cfs_audit *a, struct cfs_err *err)
{
	sqlite3_stmt *st = NULL;
	int wal = 0;
	if (sqlite3_prepare_v2(a->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *m = sqlite3_column_text(st, 0);
		wal = m && strcmp((const char *)m, "wal") == 0;
	}
	sqlite3_finalize(st);
	if (!wal)
		return cfs_aud_dberr(a, err, "cannot switch to WAL mode");
	if (cfs_aud_exec_sql(a->db, "PRAGMA synchronous=NORMAL") != SQLITE_OK)
		return cfs_aud_dberr(a, err, "cannot set synchronous=NORMAL");
	return 0;
}

static int create_schema(struct cfs_audit *a, struct cfs_err *err)
{
	if (cfs_aud_exec_sql(a->db, "BEGIN IMMEDIATE") != SQLITE_OK ||
	    cfs_aud_exec_sql(a->db, cfs_aud_schema) != SQLITE_OK || cfs_aud_exec_sql(a->db, "COMMIT") != SQLITE_OK) {
		int rc = cfs_aud_dberr(a, err, "cannot create the schema");
		cfs_aud_exec_sql(a->db, "ROLLBACK");
		return rc;
	}
	return 0;
}

static int prepare_all(struct cfs_audit *a, struct cfs_err *err)
{
	if (sqlite3_prepare_v2(a->db, cfs_aud_sql_insert, -1, &a->st_insert, NULL) ||
	    sqlite3_prepare_v2(a->db, cfs_aud_sql_head, -1, &a->st_head, NULL) ||
	    sqlite3_prepare_v2(a->db, "BEGIN IMMEDIATE", -1, &a->st_begin, NULL) ||
	    sqlite3_prepare_v2(a->db, "COMMIT", -1, &a->st_commit, NULL) ||
	    sqlite3_prepare_v2(a->db, "ROLLBACK", -1, &a->st_rollback, NULL) ||
	    sqlite3_prepare_v2(a->db, cfs_aud_sql_cp_head, -1, &a->st_cp_head, NULL) ||
	    sqlite3_prepare_v2(a->db, cfs_aud_sql_cp_insert, -1, &a->st_cp_insert, NULL) ||
	    sqlite3_prepare_v2(a->db, "SELECT hash FROM events WHERE id = ?1", -1,
			       &a->st_row_hash, NULL))
		return cfs_aud_dberr(a, err, "cannot prepare statements");
	return 0;
}

int cfs_audit_open(const char *path, int create, struct cfs_audit **out, struct cfs_err *err)
{
	struct cfs_audit *a = NULL;
	*out = NULL;
	if (!path || !*path)
		return cfs_errf(err, -EINVAL, "audit database path is empty");
	if (sodium_init() < 0)
		return cfs_errf(err, -EIO, "libsodium failed to initialise");
	int rc = new_handle(path, &a, err);
	if (rc < 0)
		return rc;
	if ((rc = connect_db(a, path, create, err)) == 0 && (rc = set_journal(a, err)) == 0 &&
	    (!create || (rc = create_schema(a, err)) == 0) &&
	    (rc = cfs_aud_check_format(a->db, a->path, err)) == 0 && (rc = migrate(a, err)) == 0)
		rc = prepare_all(a, err);
	if (rc < 0) {
		cfs_aud_free_handle(a);
		return rc;
	}
	*out = a;
	return 0;
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
		cfs_aud_free_handle(a);
		return cfs_errf(err, rc, "%s: %s", path, strerror(-rc));
	}
	rc = cfs_aud_open_ro_db(a->path, &a->db, err);
	if (rc == 0)
		rc = cfs_aud_check_format(a->db, a->path, err);
	if (rc < 0) {
		cfs_aud_free_handle(a);
		return rc;
	}
	*out = a;
	return 0;
}

