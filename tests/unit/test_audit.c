/* test_audit.c — unit tests for fs/audit.c: appending, the batched writer,
 * the canonical encoding, fail-closed appends, verification against every
 * kind of tampering, public key files and the read queries. Every database
 * lives in a fresh temporary directory that is removed afterwards. */
#define _XOPEN_SOURCE 700
#include "coachfs/audit.h"
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <ftw.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static unsigned char PK[32], SK[64];

/* T_CONTAINS for a struct cfs_err (bounded so the harness buffer fits). */
#define T_MSG(e, needle) do { if (!strstr((e).msg, (needle))) \
	T_FAILF("%s:%d: message \"%.300s\" lacks \"%s\"", __FILE__, __LINE__, (e).msg, \
		(needle)); } while (0)

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

struct tdir {
	char dir[64];
	char db[128];
};

static void tdir_make(struct tdir *t)
{
	snprintf(t->dir, sizeof t->dir, "/tmp/test_audit.XXXXXX");
	if (!mkdtemp(t->dir)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(t->db, sizeof t->db, "%s/audit.db", t->dir);
}

static void tdir_rm(struct tdir *t)
{
	nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void tpath(const struct tdir *t, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", t->dir, name);
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;
	int rc = 0;
	if (in < 0 || out < 0)
		rc = -1;
	while (rc == 0 && (n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			rc = -1;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

static int same_bytes(const char *x, const char *y)
{
	char bx[4096], by[4096];
	int fx = open(x, O_RDONLY), fy = open(y, O_RDONLY), same = fx >= 0 && fy >= 0;
	while (same) {
		ssize_t nx = read(fx, bx, sizeof bx), ny = read(fy, by, sizeof by);
		if (nx != ny || nx < 0 || memcmp(bx, by, (size_t)nx) != 0)
			same = 0;
		if (nx <= 0)
			break;
	}
	if (fx >= 0)
		close(fx);
	if (fy >= 0)
		close(fy);
	return same;
}

/* Run SQL on a database file directly (the attacker's view). */
static int sql(const char *db, const char *text)
{
	sqlite3 *h = NULL;
	char *msg = NULL;
	int rc = sqlite3_open(db, &h);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(h, text, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fprintf(stderr, "sql: %s\n", msg ? msg : sqlite3_errmsg(h));
	sqlite3_free(msg);
	sqlite3_close(h);
	return rc;
}

static int64_t sql_int(const char *db, const char *text)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, text, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static const char DROP_GUARDS[] =
	"DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;"
	"DROP TRIGGER IF EXISTS checkpoints_no_update;"
	"DROP TRIGGER IF EXISTS checkpoints_no_delete;";

/* A deterministic event: the same k gives the same row in any database. */
static void mk_event(struct cfs_event *ev, int k)
{
	static const char *users[] = { "alice", "bob", "carol" };
	static const enum cfs_action actions[] = { CFS_ACT_OPEN, CFS_ACT_READ, CFS_ACT_READ,
						   CFS_ACT_RELEASE };
	cfs_event_init(ev);
	ev->ts = 1790000000000000LL + k * 1000;
	ev->host = "ws-17";
	ev->uid = 1000 + k % 3;
	ev->user = users[k % 3];
	ev->pid = 300 + k;
	ev->exe = "/usr/bin/less";
	ev->action = actions[k % 4];
	ev->path = k % 2 ? "/inc/playbook.md" : "/inc/notes/shift.md";
	ev->result = "allow";
	if (ev->action == CFS_ACT_READ) {
		ev->offset = k * 4096;
		ev->length = 4096;
		ev->grant_id = 9;
	}
}

/* Build db with rows 1..n appended synchronously and a checkpoint after
 * every row listed in cps (0-terminated). Closing without a writer key
 * adds no checkpoint of its own. */
static int build(const char *db, int n, const int *cps)
{
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct cfs_event ev;
	int rc = cfs_audit_open(db, 1, &a, &err);
	if (rc == 0)
		rc = cfs_audit_start(a, 10, SK, &err);
	for (int k = 1; rc == 0 && k <= n; k++) {
		mk_event(&ev, k);
		rc = cfs_audit_append(a, &ev, &err);
		for (const int *c = cps; rc == 0 && c && *c; c++)
			if (*c == k)
				rc = cfs_audit_checkpoint(a, &err);
	}
	/* close seals row n if the last checkpoint asked for did not */
	int rc2 = cfs_audit_close(a, &err);
	if (rc || rc2)
		fprintf(stderr, "build: %s\n", err.msg);
	return rc ? rc : rc2;
}

static int verify(const char *db, struct cfs_verify_report *r, struct cfs_err *err)
{
	return cfs_audit_verify(db, PK, r, err);
}

/* ------------------------------------------------------------------ tests */

static void test_encode_exact(void)
{
	struct cfs_event ev;
	unsigned char buf[200];
	static const unsigned char want[] = {
		1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7,          /* id 7 */
		1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 1, 0x2c,       /* ts 300 */
		0, 0, 0, 0, 0,                                  /* host NULL */
		1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0,          /* uid 0 */
		2, 0, 0, 0, 0,                                  /* user "" */
		1, 0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* pid -1 */
		0, 0, 0, 0, 0,                                  /* exe NULL */
		2, 0, 0, 0, 4, 'o', 'p', 'e', 'n',              /* action */
		0, 0, 0, 0, 0,                                  /* path NULL */
		2, 0, 0, 0, 5, 'a', 'l', 'l', 'o', 'w',         /* result */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,    /* reason grant_id offset */
		0, 0, 0, 0, 0,                                  /* length */
	};
	cfs_event_init(&ev);
	ev.ts = 300;
	ev.uid = 0;
	ev.user = "";
	ev.pid = -1;
	ev.action = CFS_ACT_OPEN;
	ev.result = "allow";
	memset(buf, 0xee, sizeof buf);
	size_t n = cfs_audit_encode(&ev, 7, buf, sizeof buf);
	T_EQ_INT(n, sizeof want);
	T_CHECK(memcmp(buf, want, sizeof want) == 0);
	T_EQ_INT(buf[sizeof want], 0xee);

	/* A short buffer: the length needed, nothing written past cap. */
	memset(buf, 0xee, sizeof buf);
	T_EQ_INT(cfs_audit_encode(&ev, 7, buf, 10), sizeof want);
	T_EQ_INT(buf[10], 0xee);
	T_CHECK(memcmp(buf, want, 5) == 0);
}

static void test_encode_null_empty_zero(void)
{
	struct cfs_event a, b, c;
	unsigned char ea[200], eb[200], ec[200];
	size_t na, nb, nc;
	/* user: NULL vs "" vs "0" */
	cfs_event_init(&a);
	a.action = CFS_ACT_OPEN;
	a.result = "allow";
	b = a;
	c = a;
	b.user = "";
	c.user = "0";
	na = cfs_audit_encode(&a, 1, ea, sizeof ea);
	nb = cfs_audit_encode(&b, 1, eb, sizeof eb);
	nc = cfs_audit_encode(&c, 1, ec, sizeof ec);
	T_EQ_INT(na, 87);
	T_EQ_INT(nb, 87);
	T_EQ_INT(nc, 88);
	T_CHECK(memcmp(ea, eb, na) != 0);
	T_CHECK(nb != nc || memcmp(eb, ec, nb) != 0);
	/* uid: NULL vs 0 */
	b = a;
	b.uid = 0;
	nb = cfs_audit_encode(&b, 1, eb, sizeof eb);
	T_EQ_INT(nb, 95);
	T_CHECK(na != nb);
	/* Moving text between adjacent columns changes the bytes. */
	b = a;
	c = a;
	b.reason = "x";
	c.path = "x";
	nb = cfs_audit_encode(&b, 1, eb, sizeof eb);
	nc = cfs_audit_encode(&c, 1, ec, sizeof ec);
	T_EQ_INT(nb, nc);
	T_CHECK(memcmp(eb, ec, nb) != 0);
	/* The id is part of it. */
	nb = cfs_audit_encode(&a, 2, eb, sizeof eb);
	T_EQ_INT(nb, na);
	T_CHECK(memcmp(ea, eb, na) != 0);
}

static void test_append_verify_ok(void)
{
	struct tdir t;
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct cfs_verify_report r;
	struct cfs_event ev;
	tdir_make(&t);
	T_EQ_INT(cfs_audit_open(t.db, 1, &a, &err), 0);
	T_EQ_INT(cfs_audit_start(a, 50, SK, &err), 0);
	for (int k = 1; k <= 3; k++) {
		mk_event(&ev, k);
		T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
	}
	/* committed before returning: another connection sees all three */
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM events"), 3);
	/* the key's holder sealed the empty log at start (checkpoint 1) */
	T_EQ_INT(cfs_audit_checkpoint(a, &err), 0);
	T_EQ_INT(cfs_audit_checkpoint(a, &err), 0);   /* nothing new: no third one */
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM checkpoints WHERE id = 1 AND seq = 1 AND"
			 " last_id = 0"), 1);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM checkpoints"), 2);
	mk_event(&ev, 4);
	ev.ts = 0;          /* now */
	ev.host = NULL;     /* this host */
	T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM events WHERE id = 4 AND host IS NOT NULL"
			 " AND ts > 1700000000000000"), 1);

	/* verify the live database: 4 rows, 3 sealed */
	T_EQ_INT(verify(t.db, &r, &err), 0);
	T_EQ_INT(r.rows, 4);
	T_EQ_INT(r.checkpoints, 2);
	T_EQ_INT(r.last_sealed_id, 3);
	T_EQ_INT(r.unsealed, 1);
	T_EQ_INT(r.first_bad, 0);

	/* close seals the rest */
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	T_EQ_INT(verify(t.db, &r, &err), 0);
	T_EQ_INT(r.rows, 4);
	T_EQ_INT(r.checkpoints, 3);
	T_EQ_INT(r.last_sealed_id, 4);
	T_EQ_INT(r.unsealed, 0);

	/* reopened later by another appender (a tool): the chain continues */
	T_EQ_INT(cfs_audit_open(t.db, 0, &a, &err), 0);
	mk_event(&ev, 5);
	T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	T_EQ_INT(verify(t.db, &r, &err), 0);
	T_EQ_INT(r.rows, 5);
	T_EQ_INT(r.unsealed, 1);

	/* the first row chains from 32 zero bytes, and the schema is as designed */
	T_EQ_INT(sql_int(t.db, "SELECT prev_hash = zeroblob(32) FROM events WHERE id = 1"), 1);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM pragma_table_info('events')"), 16);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
			 "name IN ('events_path', 'events_user', 'events_rare')"), 3);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM sqlite_master WHERE name = 'events_action'"), 0);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
			 "name = 'checkpoints_seq'"), 1);
	/* the rare-action index leaves read rows out */
	T_EQ_INT(sql_int(t.db, "SELECT sql LIKE '%WHERE action <> ''read''' FROM sqlite_master"
			 " WHERE name = 'events_rare'"), 1);
	{
		/* WAL mode: file format bytes 18 and 19 are 2 */
		unsigned char hdr[20] = { 0 };
		int fd = open(t.db, O_RDONLY);
		T_EQ_INT(read(fd, hdr, sizeof hdr), 20);
		close(fd);
		T_EQ_INT(hdr[18], 2);
		T_EQ_INT(hdr[19], 2);
	}
	/* a wrong public key: the checkpoints do not hold */
	unsigned char pk2[32], sk2[64];
	crypto_sign_keypair(pk2, sk2);
	T_EQ_INT(cfs_audit_verify(t.db, pk2, &r, &err), -EBADMSG);
	T_EQ_INT(r.first_bad, 1);
	T_MSG(err, "checkpoint 1 has a bad signature");
	tdir_rm(&t);
}

static void test_required_fields(void)
{
	struct tdir t;
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct cfs_event ev;
	tdir_make(&t);
	T_EQ_INT(cfs_audit_open(t.db, 0, &a, &err), -ENOENT);
	T_CHECK(a == NULL);
	T_EQ_INT(cfs_audit_open(t.db, 1, &a, &err), 0);
	cfs_event_init(&ev);
	ev.result = "allow";
	T_EQ_INT(cfs_audit_append(a, &ev, &err), -EINVAL);
	T_EQ_INT(cfs_audit_queue(a, &ev), -EINVAL);
	ev.action = CFS_ACT_OPEN;
	ev.result = NULL;
	T_EQ_INT(cfs_audit_append(a, &ev, &err), -EINVAL);
	T_EQ_INT(cfs_audit_checkpoint(a, &err), -EINVAL);   /* no key */
	T_EQ_INT(cfs_audit_start(a, 0, NULL, &err), -EINVAL);
	unsigned char bad[64];
	memcpy(bad, SK, 64);
	bad[40] ^= 1;   /* public half does not match the seed */
	T_EQ_INT(cfs_audit_start(a, 50, bad, &err), -EINVAL);
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM events"), 0);
	/* a file that is not an audit database */
	char other[160];
	tpath(&t, "other.db", other, sizeof other);
	T_EQ_INT(sql(other, "CREATE TABLE x(y)"), 0);
	T_EQ_INT(cfs_audit_open(other, 0, &a, &err), -EINVAL);
	T_MSG(err, "not a coachfs audit database");
	struct cfs_verify_report r;
	T_EQ_INT(verify(other, &r, &err), -EINVAL);
	tdir_rm(&t);
}

static void test_queue_10000(void)
{
	struct tdir t;
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct cfs_verify_report r;
	struct cfs_event ev;
	int64_t sum = 0;
	tdir_make(&t);
	T_EQ_INT(cfs_audit_open(t.db, 1, &a, &err), 0);
	T_EQ_INT(cfs_audit_start(a, 20, SK, &err), 0);
	for (int k = 0; k < 10000; k++) {
		mk_event(&ev, 2);
		ev.offset = k;
		ev.length = k % 977;
		sum += k % 977;
		T_EQ_INT(cfs_audit_queue(a, &ev), 0);
	}
	T_EQ_INT(cfs_audit_flush(a, &err), 0);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM events"), 10000);
	T_EQ_INT(sql_int(t.db, "SELECT sum(length) FROM events"), sum);
	/* ids follow queue order */
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM events WHERE \"offset\" != id - 1"), 0);

	/* without a flush, a queued row lands within flush_ms (20 ms; allow slack) */
	mk_event(&ev, 3);
	T_EQ_INT(cfs_audit_queue(a, &ev), 0);
	usleep(300 * 1000);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM events"), 10001);

	/* a synchronous append flushes queued rows first: causal order */
	mk_event(&ev, 2);
	ev.offset = 777777;
	T_EQ_INT(cfs_audit_queue(a, &ev), 0);
	mk_event(&ev, 0);   /* an open */
	T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
	T_EQ_INT(sql_int(t.db, "SELECT id FROM events WHERE \"offset\" = 777777"), 10002);
	T_EQ_INT(sql_int(t.db, "SELECT action = 'read' FROM events WHERE id = 10003"), 0);
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	T_EQ_INT(verify(t.db, &r, &err), 0);
	T_EQ_INT(r.rows, 10003);
	T_EQ_INT(r.unsealed, 0);
	tdir_rm(&t);
}

static void test_periodic_checkpoint(void)
{
	struct tdir t;
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct cfs_verify_report r;
	struct cfs_event ev;
	tdir_make(&t);
	T_EQ_INT(cfs_audit_open(t.db, 1, &a, &err), 0);
	T_EQ_INT(cfs_audit_set_checkpoint_interval(a, 100), 0);
	T_EQ_INT(cfs_audit_set_checkpoint_interval(a, 0), -EINVAL);
	T_EQ_INT(cfs_audit_start(a, 10, SK, &err), 0);
	mk_event(&ev, 2);
	T_EQ_INT(cfs_audit_queue(a, &ev), 0);
	mk_event(&ev, 1);
	T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
	usleep(500 * 1000);
	/* sealed by the writer while the handle is still open */
	T_EQ_INT(verify(t.db, &r, &err), 0);
	T_EQ_INT(r.rows, 2);
	T_EQ_INT(r.checkpoints, 2);      /* the empty log's, then this one */
	T_EQ_INT(r.last_sealed_id, 2);
	T_EQ_INT(r.unsealed, 0);
	/* quiet: no further checkpoints */
	usleep(300 * 1000);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM checkpoints"), 2);
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM checkpoints"), 2);
	tdir_rm(&t);
}

/* Each tampering of a copy of a sealed 10-row log must be caught at the
 * right event. */
struct tamper {
	const char *name;
	const char *sql;
	int64_t first_bad;
	const char *msg;
};

static void test_tamper(void)
{
	static const int cps[] = { 5, 10, 0 };
	static const struct tamper cases[] = {
		{ "edited field", "UPDATE events SET path = '/other' WHERE id = 4", 4,
		  "event 4: hash does not match its contents (edited)" },
		{ "edited integer", "UPDATE events SET length = 1 WHERE id = 6", 6,
		  "event 6: hash does not match its contents (edited)" },
		{ "NULL to empty", "UPDATE events SET reason = '' WHERE id = 7", 7,
		  "event 7: hash does not match its contents (edited)" },
		{ "type changed", "UPDATE events SET uid = x'31' WHERE id = 2", 2,
		  "event 2: column uid has the wrong type (edited)" },
		{ "deleted middle row", "DELETE FROM events WHERE id = 5", 5,
		  "event 5: missing (deleted; the next event is 6)" },
		{ "deleted first row", "DELETE FROM events WHERE id = 1", 1,
		  "event 1: missing" },
		{ "deleted sealed trailing rows", "DELETE FROM events WHERE id >= 8", 8,
		  "event 8: missing, but checkpoint 3 sealed events up to 10" },
		{ "swapped rows",
		  "CREATE TEMP TABLE s AS SELECT * FROM events WHERE id IN (3, 6);"
		  "UPDATE events SET (ts, host, uid, user, pid, exe, action, path, result, reason,"
		  " grant_id, \"offset\", length, prev_hash, hash) = (SELECT ts, host, uid, user,"
		  " pid, exe, action, path, result, reason, grant_id, \"offset\", length, prev_hash,"
		  " hash FROM s WHERE s.id = 9 - events.id) WHERE id IN (3, 6)", 3,
		  "event 3: prev_hash does not match event 2" },
		{ "forged empty-log checkpoint",
		  "UPDATE checkpoints SET sig = randomblob(64) WHERE id = 1", 1,
		  "checkpoint 1 has a bad signature" },
		{ "forged checkpoint", "UPDATE checkpoints SET sig = randomblob(64) WHERE id = 2", 5,
		  "event 5: checkpoint 2 sealing it has a bad signature" },
		{ "re-dated checkpoint", "UPDATE checkpoints SET ts = ts + 1 WHERE id = 3", 10,
		  "event 10: checkpoint 3 sealing it has a bad signature" },
		{ "malformed checkpoint", "UPDATE checkpoints SET last_hash = x'00' WHERE id = 3", 10,
		  "checkpoint 3 is malformed" },
		{ "hash column cut", "UPDATE events SET hash = x'00' WHERE id = 9", 9,
		  "event 9: prev_hash or hash is malformed" },
	};
	struct tdir t;
	char copy[160];
	tdir_make(&t);
	T_EQ_INT(build(t.db, 10, cps), 0);
	tpath(&t, "copy.db", copy, sizeof copy);
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct cfs_verify_report r;
		struct cfs_err err = { "" };
		unlink(copy);
		T_EQ_INT(copy_file(t.db, copy), 0);
		T_EQ_INT(sql(copy, DROP_GUARDS), 0);
		T_EQ_INT(verify(copy, &r, &err), 0);     /* the untouched copy holds */
		T_EQ_INT(r.last_sealed_id, 10);
		T_EQ_INT(sql(copy, cases[k].sql), 0);
		int rc = verify(copy, &r, &err);
		if (rc != -EBADMSG || r.first_bad != cases[k].first_bad ||
		    !strstr(err.msg, cases[k].msg))
			T_FAILF("%s: rc %d first_bad %lld msg \"%.300s\"", cases[k].name, rc,
				(long long)r.first_bad, err.msg);
	}
	tdir_rm(&t);
}

/* The guards stop casual edits of the live log. */
static void test_append_only_guards(void)
{
	struct tdir t;
	tdir_make(&t);
	T_EQ_INT(build(t.db, 3, NULL), 0);
	T_CHECK(sql(t.db, "UPDATE events SET user = 'x' WHERE id = 1") != SQLITE_OK);
	T_CHECK(sql(t.db, "DELETE FROM events WHERE id = 3") != SQLITE_OK);
	T_CHECK(sql(t.db, "DELETE FROM checkpoints") != SQLITE_OK);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM events"), 3);
	tdir_rm(&t);
}

/* Rewriting rows and recomputing the chain needs no key, but the
 * checkpoint that sealed them no longer matches. */
static void test_rewritten_chain(void)
{
	static const int cps[] = { 10, 0 };
	struct tdir t;
	struct cfs_verify_report r;
	struct cfs_err err = { "" };
	struct cfs_event ev;
	unsigned char prev[32] = { 0 }, enc[1024], h[32];
	char copy[160];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	tdir_make(&t);
	T_EQ_INT(build(t.db, 10, cps), 0);
	tpath(&t, "copy.db", copy, sizeof copy);
	T_EQ_INT(copy_file(t.db, copy), 0);
	T_EQ_INT(sql(copy, DROP_GUARDS), 0);
	T_EQ_INT(sqlite3_open(copy, &db), SQLITE_OK);
	T_EQ_INT(sqlite3_prepare_v2(db, "UPDATE events SET user = ?1, prev_hash = ?2, hash = ?3"
				    " WHERE id = ?4", -1, &st, NULL), SQLITE_OK);
	for (int k = 1; k <= 10; k++) {
		mk_event(&ev, k);
		if (k == 4)
			ev.user = "mallory";
		size_t n = cfs_audit_encode(&ev, k, enc, sizeof enc);
		T_CHECK(n <= sizeof enc);
		crypto_generichash_state s;
		crypto_generichash_init(&s, NULL, 0, 32);
		crypto_generichash_update(&s, prev, 32);
		crypto_generichash_update(&s, enc, n);
		crypto_generichash_final(&s, h, 32);
		sqlite3_bind_text(st, 1, ev.user, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, prev, 32, SQLITE_TRANSIENT);
		sqlite3_bind_blob(st, 3, h, 32, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 4, k);
		T_EQ_INT(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
		memcpy(prev, h, 32);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	/* our recomputation matches the appender's for untouched rows */
	T_EQ_INT(verify(t.db, &r, &err), 0);
	T_EQ_INT(verify(copy, &r, &err), -EBADMSG);
	T_EQ_INT(r.first_bad, 10);
	T_MSG(err, "event 10: differs from what checkpoint 2 sealed (rewritten)");
	tdir_rm(&t);
}

/* A validly signed checkpoint naming a row the log does not have. */
static void test_checkpoint_missing_row(void)
{
	static const int cps15[] = { 15, 0 }, cps10[] = { 10, 0 };
	struct tdir t;
	struct cfs_verify_report r;
	struct cfs_err err = { "" };
	char longer[160], q[512];
	tdir_make(&t);
	tpath(&t, "longer.db", longer, sizeof longer);
	T_EQ_INT(build(longer, 15, cps15), 0);
	T_EQ_INT(build(t.db, 10, cps10), 0);
	T_EQ_INT(verify(t.db, &r, &err), 0);
	snprintf(q, sizeof q, "%s ATTACH '%s' AS l; INSERT INTO checkpoints"
		 " SELECT 3, ts, last_id, last_hash, sig, seq, prev FROM l.checkpoints WHERE"
		 " last_id = 15;", DROP_GUARDS, longer);
	T_EQ_INT(sql(t.db, q), 0);
	T_EQ_INT(verify(t.db, &r, &err), -EBADMSG);
	T_EQ_INT(r.first_bad, 11);
	T_MSG(err, "event 11: missing, but checkpoint 3 sealed events up to 15");
	T_EQ_INT(r.checkpoints, 3);
	T_EQ_INT(r.last_sealed_id, 10);
	tdir_rm(&t);
}

/* Rows deleted after the last checkpoint cannot be detected (documented). */
static void test_unsealed_truncation_undetectable(void)
{
	static const int cps[] = { 6, 0 };
	struct tdir t;
	struct cfs_verify_report r;
	struct cfs_err err = { "" };
	struct cfs_audit *a = NULL;
	struct cfs_event ev;
	tdir_make(&t);
	T_EQ_INT(build(t.db, 6, cps), 0);
	T_EQ_INT(cfs_audit_open(t.db, 0, &a, &err), 0);   /* a tool: no key */
	for (int k = 7; k <= 10; k++) {
		mk_event(&ev, k);
		T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
	}
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	T_EQ_INT(verify(t.db, &r, &err), 0);
	T_EQ_INT(r.unsealed, 4);
	T_EQ_INT(sql(t.db, "DROP TRIGGER events_no_delete; DELETE FROM events WHERE id > 8"), 0);
	T_EQ_INT(verify(t.db, &r, &err), 0);
	T_EQ_INT(r.rows, 8);
	T_EQ_INT(r.unsealed, 2);
	tdir_rm(&t);
}

static void test_fail_closed_unlinked(void)
{
	struct tdir t;
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct cfs_event ev;
	tdir_make(&t);
	T_EQ_INT(cfs_audit_open(t.db, 1, &a, &err), 0);
	T_EQ_INT(cfs_audit_start(a, 10, NULL, &err), 0);
	mk_event(&ev, 1);
	T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
	T_EQ_INT(unlink(t.db), 0);
	/* the writer notices on its next batch, and then queueing refuses */
	T_EQ_INT(cfs_audit_queue(a, &ev), 0);
	usleep(200 * 1000);
	T_EQ_INT(cfs_audit_queue(a, &ev), -EIO);
	T_EQ_INT(cfs_audit_append(a, &ev, &err), -EIO);
	T_MSG(err, "was deleted or moved away; refusing to record");
	T_EQ_INT(cfs_audit_flush(a, &err), -EIO);
	T_EQ_INT(cfs_audit_close(a, &err), -EIO);
	T_MSG(err, "was deleted or moved away");
	tdir_rm(&t);

	/* the same with only synchronous appends */
	tdir_make(&t);
	T_EQ_INT(cfs_audit_open(t.db, 1, &a, &err), 0);
	T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
	T_EQ_INT(unlink(t.db), 0);
	T_EQ_INT(cfs_audit_append(a, &ev, &err), -EIO);
	T_MSG(err, "was deleted or moved away; refusing to record");
	T_EQ_INT(cfs_audit_queue(a, &ev), -EIO);
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	tdir_rm(&t);
}

static void test_fail_closed_replaced(void)
{
	struct tdir t;
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct cfs_event ev;
	char other[160], bak[160];
	tdir_make(&t);
	tpath(&t, "other.db", other, sizeof other);
	tpath(&t, "other.bak", bak, sizeof bak);
	T_EQ_INT(build(other, 2, NULL), 0);
	T_EQ_INT(copy_file(other, bak), 0);
	T_EQ_INT(cfs_audit_open(t.db, 1, &a, &err), 0);
	mk_event(&ev, 1);
	T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
	T_EQ_INT(rename(other, t.db), 0);
	T_EQ_INT(cfs_audit_append(a, &ev, &err), -EIO);
	T_MSG(err, "was replaced by another file");
	T_EQ_INT(cfs_audit_close(a, &err), 0);   /* nothing pending */
	/* the replacement's bytes are untouched (SQLite leaves the old -wal
	 * beside it: a moved database is not checkpointed on close) */
	T_CHECK(same_bytes(t.db, bak));
	tdir_rm(&t);
}

/* A lock held past the busy timeout fails the append closed; once it is
 * released the writer recovers by itself, with no synchronous append. */
static void test_recovers_after_lock(void)
{
	struct tdir t;
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct cfs_event ev;
	sqlite3 *h = NULL;
	tdir_make(&t);
	T_EQ_INT(cfs_audit_open(t.db, 1, &a, &err), 0);
	T_EQ_INT(cfs_audit_start(a, 10, NULL, &err), 0);
	T_EQ_INT(sqlite3_open(t.db, &h), SQLITE_OK);
	T_EQ_INT(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	mk_event(&ev, 0);
	T_EQ_INT(cfs_audit_append(a, &ev, &err), -EBUSY); /* cfs_sqlite_errno: locked past the busy timeout */
	T_MSG(err, "database is locked");
	mk_event(&ev, 2);
	T_EQ_INT(cfs_audit_queue(a, &ev), -EIO);
	T_EQ_INT(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	usleep(600 * 1000);
	T_EQ_INT(cfs_audit_queue(a, &ev), 0);
	T_EQ_INT(cfs_audit_flush(a, &err), 0);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM events"), 1);
	T_EQ_INT(sql_int(t.db, "SELECT action = 'read' FROM events WHERE id = 1"), 1);
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	tdir_rm(&t);
}

static void test_two_handles(void)
{
	struct tdir t;
	struct cfs_audit *d = NULL, *tool = NULL;
	struct cfs_err err = { "" };
	struct cfs_verify_report r;
	struct cfs_event ev;
	tdir_make(&t);
	T_EQ_INT(cfs_audit_open(t.db, 1, &d, &err), 0);
	T_EQ_INT(cfs_audit_start(d, 5, SK, &err), 0);
	T_EQ_INT(cfs_audit_open(t.db, 0, &tool, &err), 0);
	for (int k = 0; k < 200; k++) {
		mk_event(&ev, k);
		if (k % 3 == 0)
			T_EQ_INT(cfs_audit_append(tool, &ev, &err), 0);
		else if (k % 3 == 1)
			T_EQ_INT(cfs_audit_queue(d, &ev), 0);
		else
			T_EQ_INT(cfs_audit_append(d, &ev, &err), 0);
		if (k % 50 == 0)
			usleep(10 * 1000);
	}
	T_EQ_INT(cfs_audit_close(tool, &err), 0);   /* closing one leaves the other working */
	mk_event(&ev, 1);
	T_EQ_INT(cfs_audit_append(d, &ev, &err), 0);
	T_EQ_INT(cfs_audit_close(d, &err), 0);
	T_EQ_INT(verify(t.db, &r, &err), 0);
	T_EQ_INT(r.rows, 201);
	T_EQ_INT(r.last_sealed_id, 201);
	T_EQ_INT(r.first_bad, 0);
	tdir_rm(&t);
}

/* Lock fairness: while the daemon's writer is saturated (a producer keeps
 * its queue full), another handle — another process, as far as SQLite's
 * locks go — still gets the write lock between two batches, every time
 * within a quarter of the daemon's own 2 s bound (on main before the fix:
 * up to 1.5 s, as the writer committed up to 65,536 rows per transaction
 * back to back and SQLite's busy_timeout slept through the gaps). */
struct producer {
	struct cfs_audit *a;
	atomic_int stop;
	atomic_long queued;
	int rc;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	struct cfs_event ev;
	for (int k = 0; !atomic_load(&p->stop); k++) {
		mk_event(&ev, 1 + (k % 2) * 2);   /* read rows */
		p->rc = cfs_audit_queue(p->a, &ev);
		if (p->rc < 0)
			break;
		atomic_fetch_add(&p->queued, 1);
	}
	return NULL;
}

/* How long another append may wait for a saturated writer's lock: a batch
 * (BATCH_MAX rows) holds it ~20 ms, SQLite's busy handler sleeps up to 100
 * ms between tries. ThreadSanitizer runs the writer 5-15x slower, so its
 * batches hold the lock longer; still well under the busy timeout (2 s),
 * past which the append itself would fail. */
#if defined(__SANITIZE_THREAD__)
#define SATURATED_WAIT_MAX_MS 1500
#else
#define SATURATED_WAIT_MAX_MS 500
#endif

static void test_saturated_writer_lets_others_in(void)
{
	struct tdir t;
	struct cfs_audit *tool = NULL;
	struct cfs_err err = { "" };
	struct cfs_verify_report r;
	struct cfs_event ev;
	struct producer p = { .a = NULL };
	pthread_t th;
	int64_t slowest_ms = 0;
	tdir_make(&t);
	T_EQ_INT(cfs_audit_open(t.db, 1, &p.a, &err), 0);
	T_EQ_INT(cfs_audit_start(p.a, 50, SK, &err), 0);
	T_EQ_INT(cfs_audit_open(t.db, 0, &tool, &err), 0);
	T_EQ_INT(pthread_create(&th, NULL, produce, &p), 0);
	while (atomic_load(&p.queued) < 100000)   /* the queue has been full */
		usleep(1000);
	for (int k = 0; k < 20; k++) {
		struct timespec t0, t1;
		mk_event(&ev, 0);
		ev.action = CFS_ACT_GRANT_ADD;
		ev.grant_id = 100 + k;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		T_EQ_INT(cfs_audit_append(tool, &ev, &err), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		int64_t ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms > slowest_ms)
			slowest_ms = ms;
		usleep(20 * 1000);
	}
	atomic_store(&p.stop, 1);
	pthread_join(th, NULL);
	T_EQ_INT(p.rc, 0);
	printf("# saturated writer: the slowest other append waited %lld ms\n",
	       (long long)slowest_ms);
	if (slowest_ms >= SATURATED_WAIT_MAX_MS)
		T_FAILF("an append waited %lld ms for the lock", (long long)slowest_ms);
	T_EQ_INT(cfs_audit_close(tool, &err), 0);
	T_EQ_INT(cfs_audit_close(p.a, &err), 0);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM events WHERE action = 'grant_add'"), 20);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM events"), (int64_t)atomic_load(&p.queued) + 20);
	T_EQ_INT(verify(t.db, &r, &err), 0);
	T_EQ_INT(r.first_bad, 0);
	tdir_rm(&t);
}

static void test_pubkey_files(void)
{
	struct tdir t;
	struct cfs_err err = { "" };
	unsigned char got[32];
	char file[160], hex[65], buf[100];
	tdir_make(&t);
	T_EQ_INT(cfs_audit_write_pubkey(t.db, PK, &err), 0);
	snprintf(file, sizeof file, "%s.pub", t.db);
	int fd = open(file, O_RDONLY);
	T_CHECK(fd >= 0);
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	sodium_bin2hex(hex, sizeof hex, PK, 32);
	T_EQ_INT(n, 65);
	T_CHECK(n == 65 && memcmp(buf, hex, 64) == 0 && buf[64] == '\n');
	memset(got, 0, 32);
	T_EQ_INT(cfs_audit_read_pubkey(file, got, &err), 0);
	T_CHECK(memcmp(got, PK, 32) == 0);
	memset(got, 0, 32);
	T_EQ_INT(cfs_audit_read_pubkey(hex, got, &err), 0);
	T_CHECK(memcmp(got, PK, 32) == 0);
	hex[63] = 'g';
	T_EQ_INT(cfs_audit_read_pubkey(hex, got, &err), -ENOENT);   /* not hex: taken as a file */
	T_EQ_INT(cfs_audit_read_pubkey("abcd", got, &err), -ENOENT);
	fd = open(file, O_WRONLY | O_TRUNC);
	T_EQ_INT(write(fd, "abcd\n", 5), 5);
	close(fd);
	T_EQ_INT(cfs_audit_read_pubkey(file, got, &err), -EINVAL);
	T_MSG(err, "not 64 hex characters");
	T_EQ_INT(cfs_audit_read_pubkey("", got, &err), -EINVAL);
	tdir_rm(&t);
}

struct collect {
	int n;
	int64_t ids[64];
	char first_user[32];
	int64_t first_len;
};

static int collect_cb(const struct cfs_audit_row *row, void *arg)
{
	struct collect *c = arg;
	if (c->n == 0) {
		snprintf(c->first_user, sizeof c->first_user, "%s",
			 row->ev.user ? row->ev.user : "(null)");
		c->first_len = row->ev.length;
	}
	if (c->n < 64)
		c->ids[c->n] = row->id;
	c->n++;
	return 0;
}

struct counts {
	char text[256];
};

static int count_cb(const char *k, const char *k2, int64_t n, void *arg)
{
	struct counts *c = arg;
	size_t l = strlen(c->text);
	snprintf(c->text + l, sizeof c->text - l, "%s/%s=%lld;", k ? k : "-", k2 ? k2 : "-",
		 (long long)n);
	return 0;
}

struct groups {
	char text[512];
	size_t nkeys;
	int64_t base;
};

static int group_cb(const char *const *vals, int64_t bucket, int64_t n, void *arg)
{
	struct groups *g = arg;
	size_t l = strlen(g->text);
	for (size_t k = 0; k < g->nkeys; k++) {
		snprintf(g->text + l, sizeof g->text - l, "%s%s", k ? "/" : "", vals[k] ? vals[k] : "-");
		l = strlen(g->text);
	}
	snprintf(g->text + l, sizeof g->text - l, "@%lld=%lld;",
		 (long long)(bucket ? bucket - g->base : 0), (long long)n);
	return 0;
}

/* cfs_audit_group: any keys, in the order given, with time buckets;
 * busiest first, then keys (NULL first) and bucket ascending. */
static void test_group(void)
{
	struct tdir t;
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct cfs_event ev;
	struct cfs_audit_filter f;
	static const enum cfs_audit_key user[] = { CFS_AUDIT_KEY_USER };
	static const enum cfs_audit_key path_action[] = { CFS_AUDIT_KEY_PATH, CFS_AUDIT_KEY_ACTION };
	static const enum cfs_audit_key action[] = { CFS_AUDIT_KEY_ACTION };
	static const enum cfs_audit_key bad[] = { CFS_AUDIT_KEY_COUNT };
	struct groups g;
	tdir_make(&t);
	T_EQ_INT(cfs_audit_open(t.db, 1, &a, &err), 0);
	for (int k = 0; k < 6; k++) {
		mk_event(&ev, k);      /* alice open, bob read, carol read, alice release,
					   bob open */
		if (k == 5) {          /* and one with no user and no path */
			ev.user = NULL;
			ev.path = NULL;
			ev.action = CFS_ACT_MOUNT;
		}
		T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
	}
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	T_EQ_INT(cfs_audit_open_ro(t.db, &a, &err), 0);
	memset(&g, 0, sizeof g);
	g.nkeys = 1;
	T_EQ_INT(cfs_audit_group(a, NULL, user, 1, 0, group_cb, &g, &err), 0);
	T_EQ_STR(g.text, "alice@0=2;bob@0=2;-@0=1;carol@0=1;");
	/* buckets of 2 ms: k = 0, 1 | 2, 3 | 4, 5 */
	memset(&g, 0, sizeof g);
	g.nkeys = 2;
	g.base = 1790000000000000LL / 2000;
	T_EQ_INT(cfs_audit_group(a, NULL, path_action, 2, 2000, group_cb, &g, &err), 0);
	T_EQ_STR(g.text, "-/mount@2=1;/inc/notes/shift.md/open@0=1;/inc/notes/shift.md/open@2=1;"
		 "/inc/notes/shift.md/read@1=1;/inc/playbook.md/read@0=1;"
		 "/inc/playbook.md/release@1=1;");
	memset(&g, 0, sizeof g);
	g.base = 1790000000000000LL / 2000;
	T_EQ_INT(cfs_audit_group(a, NULL, NULL, 0, 2000, group_cb, &g, &err), 0);
	T_EQ_STR(g.text, "@0=2;@1=2;@2=2;");
	memset(&g, 0, sizeof g);
	T_EQ_INT(cfs_audit_group(a, NULL, NULL, 0, 0, group_cb, &g, &err), 0);
	T_EQ_STR(g.text, "@0=6;");
	cfs_audit_filter_init(&f);
	f.user = "alice";
	memset(&g, 0, sizeof g);
	g.nkeys = 1;
	T_EQ_INT(cfs_audit_group(a, &f, action, 1, 0, group_cb, &g, &err), 0);
	T_EQ_STR(g.text, "open@0=1;release@0=1;");
	T_EQ_INT(cfs_audit_group(a, NULL, bad, 1, 0, group_cb, &g, &err), -EINVAL);
	T_EQ_INT(cfs_audit_group(a, NULL, user, 5, 0, group_cb, &g, &err), -EINVAL);
	T_EQ_INT(cfs_audit_group(a, NULL, user, 1, -1, group_cb, &g, &err), -EINVAL);
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	tdir_rm(&t);
}

static void test_queries(void)
{
	struct tdir t;
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct cfs_event ev;
	struct cfs_audit_filter f;
	struct collect c;
	struct counts cn;
	static const char *paths[] = { "/inc", "/inc/a.md", "/incident", "/inc/sub/b", NULL };
	tdir_make(&t);
	T_EQ_INT(cfs_audit_open(t.db, 1, &a, &err), 0);
	for (int k = 0; k < 5; k++) {
		mk_event(&ev, k);     /* users alice bob carol alice bob; ts k ms apart */
		ev.path = paths[k];
		if (k == 3)
			ev.result = "deny";
		T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
	}
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	T_EQ_INT(cfs_audit_open_ro(t.db, &a, &err), 0);
	T_EQ_INT(cfs_audit_append(a, &ev, &err), -EACCES);
	T_EQ_INT(cfs_audit_queue(a, &ev), -EACCES);

	cfs_audit_filter_init(&f);
	f.path = "/inc";
	memset(&c, 0, sizeof c);
	T_EQ_INT(cfs_audit_query(a, &f, collect_cb, &c, &err), 0);
	T_EQ_INT(c.n, 3);
	T_EQ_INT(c.ids[0], 1);
	T_EQ_INT(c.ids[1], 2);
	T_EQ_INT(c.ids[2], 4);
	T_EQ_STR(c.first_user, "alice");
	T_EQ_INT(c.first_len, CFS_AUDIT_NONE);

	cfs_audit_filter_init(&f);
	f.user = "bob";
	memset(&c, 0, sizeof c);
	T_EQ_INT(cfs_audit_query(a, &f, collect_cb, &c, &err), 0);
	T_EQ_INT(c.n, 2);
	T_EQ_INT(c.ids[0], 2);
	T_EQ_INT(c.ids[1], 5);

	cfs_audit_filter_init(&f);
	f.since_us = 1790000000000000LL + 1000;     /* events 1.. (k = 1..4) */
	f.until_us = 1790000000000000LL + 3000;     /* exclusive: k = 1, 2 */
	f.has_action = 1;
	f.action = CFS_ACT_READ;
	memset(&c, 0, sizeof c);
	T_EQ_INT(cfs_audit_query(a, &f, collect_cb, &c, &err), 0);
	T_EQ_INT(c.n, 2);
	T_EQ_INT(c.ids[0], 2);
	T_EQ_INT(c.ids[1], 3);
	T_EQ_INT(c.first_len, 4096);

	/* a rare action goes through the partial index, and still finds its rows */
	cfs_audit_filter_init(&f);
	f.has_action = 1;
	f.action = CFS_ACT_OPEN;
	memset(&c, 0, sizeof c);
	T_EQ_INT(cfs_audit_query(a, &f, collect_cb, &c, &err), 0);
	T_EQ_INT(c.n, 2);
	T_EQ_INT(c.ids[0], 1);
	T_EQ_INT(c.ids[1], 5);
	memset(&cn, 0, sizeof cn);
	T_EQ_INT(cfs_audit_count(a, &f, CFS_AUDIT_BY_USER, 0, count_cb, &cn, &err), 0);
	T_EQ_STR(cn.text, "alice/-=1;bob/-=1;");

	cfs_audit_filter_init(&f);
	f.result = "deny";
	memset(&c, 0, sizeof c);
	T_EQ_INT(cfs_audit_query(a, &f, collect_cb, &c, &err), 0);
	T_EQ_INT(c.n, 1);
	T_EQ_INT(c.ids[0], 4);

	memset(&cn, 0, sizeof cn);
	T_EQ_INT(cfs_audit_count(a, NULL, CFS_AUDIT_BY_ACTION_RESULT, 0, count_cb, &cn, &err), 0);
	T_EQ_STR(cn.text, "open/allow=2;read/allow=2;release/deny=1;");
	memset(&cn, 0, sizeof cn);
	T_EQ_INT(cfs_audit_count(a, NULL, CFS_AUDIT_BY_USER, 0, count_cb, &cn, &err), 0);
	T_EQ_STR(cn.text, "alice/-=2;bob/-=2;carol/-=1;");
	memset(&cn, 0, sizeof cn);
	T_EQ_INT(cfs_audit_count(a, NULL, CFS_AUDIT_BY_PATH, 2, count_cb, &cn, &err), 0);
	T_EQ_STR(cn.text, "/inc/-=1;/inc/a.md/-=1;");
	cfs_audit_filter_init(&f);
	f.user = "alice";
	memset(&cn, 0, sizeof cn);
	T_EQ_INT(cfs_audit_count(a, &f, CFS_AUDIT_BY_PATH, 0, count_cb, &cn, &err), 0);
	T_EQ_STR(cn.text, "/inc/-=1;/inc/sub/b/-=1;");
	T_EQ_INT(cfs_audit_close(a, &err), 0);

	/* a database from before events_rare loses its events_action index on
	 * the next writable open, and keeps verifying */
	T_EQ_INT(sql(t.db, "DROP INDEX events_rare; CREATE INDEX events_action ON events(action);"), 0);
	T_EQ_INT(cfs_audit_open(t.db, 1, &a, &err), 0);
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM sqlite_master WHERE name = 'events_action'"), 0);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM sqlite_master WHERE name = 'events_rare'"), 1);
	tdir_rm(&t);
}

/* ------------------------------------------- checkpoint chain and heads */

/* Rewrite every row of db as mk_event(k) (row `edit` with user mallory)
 * and recompute the whole hash chain: no key needed (the attacker's move). */
static int rechain(const char *db, int n, int edit)
{
	struct cfs_event ev;
	unsigned char prev[32] = { 0 }, enc[1024], h[32];
	sqlite3 *h_db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_open(db, &h_db);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(h_db, "UPDATE events SET user = ?1, prev_hash = ?2, hash = ?3"
					" WHERE id = ?4", -1, &st, NULL);
	for (int k = 1; rc == SQLITE_OK && k <= n; k++) {
		mk_event(&ev, k);
		if (k == edit)
			ev.user = "mallory";
		ev.host = "ws-17";
		size_t len = cfs_audit_encode(&ev, k, enc, sizeof enc);
		if (len > sizeof enc)
			return -1;
		crypto_generichash_state s;
		crypto_generichash_init(&s, NULL, 0, 32);
		crypto_generichash_update(&s, prev, 32);
		crypto_generichash_update(&s, enc, len);
		crypto_generichash_final(&s, h, 32);
		sqlite3_bind_text(st, 1, ev.user, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, prev, 32, SQLITE_TRANSIENT);
		sqlite3_bind_blob(st, 3, h, 32, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 4, k);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_reset(st);
		memcpy(prev, h, 32);
	}
	sqlite3_finalize(st);
	sqlite3_close(h_db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* A format-1 checkpoint as the old code signed it, inserted with raw SQL. */
static int insert_v1_checkpoint(const char *db, int64_t cid, int64_t last_id, int64_t ts)
{
	static const char ctx[] = "coachfs audit checkpoint v1";
	unsigned char msg[sizeof ctx + 8 + 32 + 8], sig[64], lh[32];
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_open(db, &h);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(h, "SELECT hash FROM events WHERE id = ?1", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, last_id);
		rc = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32 ? SQLITE_OK
										: SQLITE_ERROR;
		if (rc == SQLITE_OK)
			memcpy(lh, sqlite3_column_blob(st, 0), 32);
	}
	sqlite3_finalize(st);
	st = NULL;
	memcpy(msg, ctx, sizeof ctx);
	for (int k = 0; k < 8; k++) {
		msg[sizeof ctx + k] = (unsigned char)((uint64_t)last_id >> (56 - 8 * k));
		msg[sizeof ctx + 40 + k] = (unsigned char)((uint64_t)ts >> (56 - 8 * k));
	}
	memcpy(msg + sizeof ctx + 8, lh, 32);
	crypto_sign_detached(sig, NULL, msg, sizeof msg, SK);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(h, "INSERT INTO checkpoints(id, ts, last_id, last_hash, sig)"
					" VALUES(?1, ?2, ?3, ?4, ?5)", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, cid);
		sqlite3_bind_int64(st, 2, ts);
		sqlite3_bind_int64(st, 3, last_id);
		sqlite3_bind_blob(st, 4, lh, 32, SQLITE_STATIC);
		sqlite3_bind_blob(st, 5, sig, 64, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	}
	if (rc != SQLITE_OK)
		fprintf(stderr, "insert_v1_checkpoint: %s\n", sqlite3_errmsg(h));
	sqlite3_finalize(st);
	sqlite3_close(h);
	return rc == SQLITE_OK ? 0 : -1;
}

/* Attacks on the checkpoints of a 20-row log sealed empty, then at 5, 10,
 * 15, 20 (checkpoints 1..5, seq 1..5): each must fail, naming where. */
static void test_checkpoint_chain_tamper(void)
{
	static const int cps[] = { 5, 10, 15, 20, 0 };
	static const struct tamper cases[] = {
		{ "all checkpoints deleted", "DELETE FROM checkpoints", 1,
		  "event 1: the log has 20 events but no valid checkpoint at all" },
		{ "middle checkpoint deleted", "DELETE FROM checkpoints WHERE id = 3", 6,
		  "checkpoint 4: seq 4 where seq 3 was expected" },
		{ "first checkpoint deleted", "DELETE FROM checkpoints WHERE id = 1", 1,
		  "checkpoint 2: seq 2 where seq 1 was expected" },
		{ "first two checkpoints deleted", "DELETE FROM checkpoints WHERE id <= 2", 1,
		  "checkpoint 3: seq 3 where seq 1 was expected" },
		{ "checkpoints reordered",
		  "UPDATE checkpoints SET id = 100 WHERE id = 3; UPDATE checkpoints SET id = 3 WHERE"
		  " id = 4; UPDATE checkpoints SET id = 4 WHERE id = 100", 6,
		  "checkpoint 3: seq 4 where seq 3 was expected" },
		{ "forged seq", "UPDATE checkpoints SET seq = 7 WHERE id = 5", 20,
		  "event 20: checkpoint 5 sealing it has a bad signature" },
		{ "forged prev", "UPDATE checkpoints SET prev = zeroblob(32) WHERE id = 4", 15,
		  "event 15: checkpoint 4 sealing it has a bad signature" },
		{ "seq made NULL (downgraded)", "UPDATE checkpoints SET seq = NULL, prev = NULL WHERE"
		  " id = 4", 15, "event 15: checkpoint 4 sealing it has a bad signature" },
		{ "seq of the wrong type", "UPDATE checkpoints SET seq = x'02' WHERE id = 3", 10,
		  "checkpoint 3 is malformed" },
		{ "duplicated checkpoint",
		  "INSERT INTO checkpoints SELECT 6, ts, last_id, last_hash, sig, seq, prev FROM"
		  " checkpoints WHERE id = 5", 20,
		  "checkpoint 6: seq 5 where seq 6 was expected" },
	};
	struct tdir t;
	char copy[160];
	tdir_make(&t);
	T_EQ_INT(build(t.db, 20, cps), 0);
	{
		struct cfs_verify_report r;
		struct cfs_err err = { "" };
		T_EQ_INT(verify(t.db, &r, &err), 0);
		T_EQ_INT(r.checkpoints, 5);
		T_EQ_INT(r.checkpoints_v1, 0);
		T_EQ_INT(r.has_head, 1);
		T_EQ_INT(r.head.seq, 5);
		T_EQ_INT(r.head.last_id, 20);
		T_EQ_INT(r.newest_ts, r.head.ts);
		T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM checkpoints WHERE seq = id AND"
				 " length(prev) = 32"), 5);
		T_EQ_INT(sql_int(t.db, "SELECT prev = zeroblob(32) FROM checkpoints WHERE id = 1"), 1);
	}
	tpath(&t, "copy.db", copy, sizeof copy);
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct cfs_verify_report r;
		struct cfs_err err = { "" };
		unlink(copy);
		T_EQ_INT(copy_file(t.db, copy), 0);
		T_EQ_INT(sql(copy, DROP_GUARDS), 0);
		T_EQ_INT(sql(copy, cases[k].sql), 0);
		int rc = verify(copy, &r, &err);
		if (rc != -EBADMSG || r.first_bad != cases[k].first_bad ||
		    !strstr(err.msg, cases[k].msg))
			T_FAILF("%s: rc %d first_bad %lld msg \"%.300s\"", cases[k].name, rc,
				(long long)r.first_bad, err.msg);
	}
	/* an old-format checkpoint (validly signed) after new-format ones */
	unlink(copy);
	T_EQ_INT(copy_file(t.db, copy), 0);
	T_EQ_INT(insert_v1_checkpoint(copy, 6, 20, 1790000000000000LL), 0);
	{
		struct cfs_verify_report r;
		struct cfs_err err = { "" };
		T_EQ_INT(verify(copy, &r, &err), -EBADMSG);
		T_EQ_INT(r.first_bad, 20);
		T_MSG(err, "checkpoint 6: an old-format checkpoint after new-format ones");
	}
	tdir_rm(&t);
}

/* Emptying the checkpoints and re-chaining rewritten rows: before, verify
 * passed (the chain is plain BLAKE2b); now the log has no checkpoint. */
static void test_rechain_without_checkpoints(void)
{
	static const int cps[] = { 5, 10, 0 };
	struct tdir t;
	struct cfs_verify_report r;
	struct cfs_err err = { "" };
	char copy[160];
	tdir_make(&t);
	T_EQ_INT(build(t.db, 10, cps), 0);
	tpath(&t, "copy.db", copy, sizeof copy);
	T_EQ_INT(copy_file(t.db, copy), 0);
	T_EQ_INT(sql(copy, DROP_GUARDS), 0);
	T_EQ_INT(sql(copy, "DELETE FROM checkpoints"), 0);
	T_EQ_INT(rechain(copy, 10, 4), 0);
	T_EQ_INT(sql_int(copy, "SELECT count(*) FROM events WHERE user = 'mallory'"), 1);
	T_EQ_INT(verify(copy, &r, &err), -EBADMSG);
	T_EQ_INT(r.first_bad, 1);
	T_EQ_INT(r.rows, 10);
	T_EQ_INT(r.checkpoints, 0);
	T_EQ_INT(r.last_sealed_id, 0);
	T_EQ_INT(r.unsealed, 10);
	T_EQ_STR(err.msg, "event 1: the log has 10 events but no valid checkpoint at all "
		 "(checkpoints deleted, or never signed)");
	/* keeping the empty log's checkpoint and re-chaining after it: a
	 * rollback, which only a pinned head catches */
	T_EQ_INT(verify(t.db, &r, &err), 0);
	struct cfs_audit_head pin = r.head;
	unlink(copy);
	T_EQ_INT(copy_file(t.db, copy), 0);
	T_EQ_INT(sql(copy, DROP_GUARDS), 0);
	T_EQ_INT(sql(copy, "DELETE FROM checkpoints WHERE id > 1"), 0);
	T_EQ_INT(rechain(copy, 10, 4), 0);
	T_EQ_INT(verify(copy, &r, &err), 0);
	T_EQ_INT(r.last_sealed_id, 0);
	T_EQ_INT(r.unsealed, 10);
	T_EQ_INT(cfs_audit_verify_pinned(copy, PK, &pin, 1, &r, &err), -EBADMSG);
	T_EQ_INT(r.first_bad, 10);
	T_EQ_STR(err.msg, "event 10: differs from what the pinned head (checkpoint seq 3) sealed "
		 "(rewritten, rolled back)");
	/* keeping the first checkpoint that sealed events: the row it sealed
	 * no longer matches */
	unlink(copy);
	T_EQ_INT(copy_file(t.db, copy), 0);
	T_EQ_INT(sql(copy, DROP_GUARDS), 0);
	T_EQ_INT(sql(copy, "DELETE FROM checkpoints WHERE id > 2"), 0);
	T_EQ_INT(rechain(copy, 10, 4), 0);
	T_EQ_INT(verify(copy, &r, &err), -EBADMSG);
	T_EQ_INT(r.first_bad, 5);
	T_MSG(err, "event 5: differs from what checkpoint 2 sealed (rewritten)");
	tdir_rm(&t);
}

/* Truncation back to an older checkpoint (its rows and checkpoints gone)
 * leaves a consistent prefix: undetectable alone, caught against a pin. */
static void test_pinned_head(void)
{
	static const int cps[] = { 5, 10, 15, 0 };
	struct tdir t;
	struct cfs_verify_report r;
	struct cfs_err err = { "" };
	struct cfs_audit_head pin, pin2;
	char copy[160];
	tdir_make(&t);
	T_EQ_INT(build(t.db, 15, cps), 0);
	T_EQ_INT(verify(t.db, &r, &err), 0);
	T_EQ_INT(r.has_head, 1);
	pin = r.head;
	T_EQ_INT(pin.seq, 4);
	T_EQ_INT(pin.last_id, 15);
	T_EQ_INT(cfs_audit_head_check(&pin, PK), 0);
	T_EQ_INT(cfs_audit_verify_pinned(t.db, PK, &pin, 1, &r, &err), 0);
	T_EQ_INT(r.pins, 1);
	/* the log grows: an older pin still holds */
	{
		struct cfs_audit *a = NULL;
		struct cfs_event ev;
		T_EQ_INT(cfs_audit_open(t.db, 0, &a, &err), 0);
		T_EQ_INT(cfs_audit_start(a, 10, SK, &err), 0);
		mk_event(&ev, 16);
		T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
		T_EQ_INT(cfs_audit_close(a, &err), 0);
	}
	T_EQ_INT(cfs_audit_verify_pinned(t.db, PK, &pin, 1, &r, &err), 0);
	T_EQ_INT(r.head.seq, 5);
	pin2 = r.head;

	/* truncated back to checkpoint 3 (seq 3): verify alone cannot tell */
	tpath(&t, "copy.db", copy, sizeof copy);
	T_EQ_INT(copy_file(t.db, copy), 0);
	T_EQ_INT(sql(copy, DROP_GUARDS), 0);
	T_EQ_INT(sql(copy, "DELETE FROM checkpoints WHERE id > 3; DELETE FROM events WHERE id > 10"), 0);
	T_EQ_INT(verify(copy, &r, &err), 0);
	T_EQ_INT(r.head.seq, 3);
	T_EQ_INT(r.unsealed, 0);
	T_EQ_INT(cfs_audit_verify_pinned(copy, PK, &pin, 1, &r, &err), -EBADMSG);
	T_EQ_INT(r.first_bad, 11);
	T_EQ_STR(err.msg, "event 11: missing, but the pinned head (checkpoint seq 4) sealed events "
		 "up to 15 (truncated or rolled back)");
	/* several pins: the first failure in event order is named */
	struct cfs_audit_head both[2] = { pin2, pin };
	T_EQ_INT(cfs_audit_verify_pinned(copy, PK, both, 2, &r, &err), -EBADMSG);
	T_EQ_INT(r.first_bad, 11);
	T_MSG(err, "the pinned head (checkpoint seq 5) sealed events up to 16");

	/* rolled back, then new rows appended past the pinned id and sealed by
	 * someone with the key (here, another signing of the same log) */
	T_EQ_INT(sql(copy, "DELETE FROM checkpoints WHERE id > 2"), 0);
	T_EQ_INT(verify(copy, &r, &err), 0);
	{
		struct cfs_audit *a = NULL;
		struct cfs_event ev;
		T_EQ_INT(cfs_audit_open(copy, 0, &a, &err), 0);
		T_EQ_INT(cfs_audit_start(a, 10, SK, &err), 0);
		for (int k = 11; k <= 16; k++) {
			mk_event(&ev, k);
			ev.reason = "re-written";
			T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
		}
		T_EQ_INT(cfs_audit_close(a, &err), 0);
	}
	T_EQ_INT(verify(copy, &r, &err), 0);
	T_EQ_INT(cfs_audit_verify_pinned(copy, PK, &pin, 1, &r, &err), -EBADMSG);
	T_EQ_INT(r.first_bad, 15);
	T_EQ_STR(err.msg, "event 15: differs from what the pinned head (checkpoint seq 4) sealed "
		 "(rewritten, rolled back)");
	/* sealed once more: a checkpoint seq 4 exists again, but not the pinned one */
	{
		struct cfs_audit *a = NULL;
		struct cfs_event ev;
		T_EQ_INT(cfs_audit_open(copy, 0, &a, &err), 0);
		T_EQ_INT(cfs_audit_start(a, 10, SK, &err), 0);
		mk_event(&ev, 17);
		T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
		T_EQ_INT(cfs_audit_close(a, &err), 0);
	}
	T_EQ_INT(sql_int(copy, "SELECT count(*) FROM checkpoints WHERE seq = 4"), 1);
	T_EQ_INT(cfs_audit_verify_pinned(copy, PK, &pin, 1, &r, &err), -EBADMSG);
	T_EQ_INT(r.first_bad, 15);
	T_EQ_STR(err.msg, "event 15: checkpoint seq 4 differs from the pinned head (rewritten)");
	/* checkpoint gone but the rows intact */
	unlink(copy);
	T_EQ_INT(copy_file(t.db, copy), 0);
	T_EQ_INT(sql(copy, DROP_GUARDS), 0);
	T_EQ_INT(sql(copy, "DELETE FROM checkpoints WHERE id > 3"), 0);
	T_EQ_INT(cfs_audit_verify_pinned(copy, PK, &pin, 1, &r, &err), -EBADMSG);
	T_EQ_INT(r.first_bad, 15);
	T_EQ_STR(err.msg, "checkpoint seq 4 of the pinned head (sealing events up to 15) is missing "
		 "(checkpoints deleted or rolled back)");

	/* a pin that is not signed by this key is a bad argument, not a bad log */
	struct cfs_audit_head bad = pin;
	bad.ts++;
	T_EQ_INT(cfs_audit_head_check(&bad, PK), -EBADMSG);
	T_EQ_INT(cfs_audit_verify_pinned(t.db, PK, &bad, 1, &r, &err), -EINVAL);
	T_EQ_STR(err.msg, "pinned head 1 (checkpoint seq 4) is not signed by this public key");
	tdir_rm(&t);
}

static void test_head_line(void)
{
	struct cfs_audit_head h, g;
	struct cfs_err err = { "" };
	char line[CFS_AUDIT_HEAD_LINE_MAX], want[CFS_AUDIT_HEAD_LINE_MAX], buf[700];
	memset(&h, 0, sizeof h);
	h.seq = 12;
	h.last_id = 4711;
	h.ts = 1796000000123456LL;
	memset(h.last_hash, 0xab, 32);
	memset(h.prev, 0x01, 32);
	memset(h.sig, 0xfe, 64);
	cfs_audit_head_format(&h, line, sizeof line);
	snprintf(want, sizeof want, "coachfs-audit-head-2 seq=12 last_id=4711 ts=1796000000123456 "
		 "last_hash=%.64s prev=%.64s sig=%.128s",
		 "abababababababababababababababababababababababababababababababab",
		 "0101010101010101010101010101010101010101010101010101010101010101",
		 "fefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefe"
		 "fefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefe");
	T_EQ_STR(line, want);
	T_EQ_INT(strlen(line), 338);
	memset(&g, 0x55, sizeof g);
	snprintf(buf, sizeof buf, "%s\n", line);
	T_EQ_INT(cfs_audit_head_parse(buf, &g, &err), 0);
	T_CHECK(memcmp(&g, &h, sizeof h) == 0);
	/* fields in another order, upper-case hex, tabs */
	snprintf(buf, sizeof buf, "coachfs-audit-head-2\tsig=%.128s ts=1796000000123456 seq=12 "
		 "prev=%.64s last_hash=%.64s last_id=4711",
		 "FEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFE"
		 "FEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFEFE",
		 "0101010101010101010101010101010101010101010101010101010101010101",
		 "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB");
	T_EQ_INT(cfs_audit_head_parse(buf, &g, &err), 0);
	T_CHECK(memcmp(&g, &h, sizeof h) == 0);
	static const struct { const char *line; const char *msg; } bad[] = {
		{ "", "does not start with 'coachfs-audit-head-2'" },
		{ "coachfs-audit-head-1 seq=1", "does not start with" },
		{ "coachfs-audit-head-2 seq=1 seq=2", "field 'seq' given twice" },
		{ "coachfs-audit-head-2 seq=0", "field seq has a bad value" },
		{ "coachfs-audit-head-2 seq=-1", "field seq has a bad value" },
		{ "coachfs-audit-head-2 seq=1x", "field seq has a bad value" },
		{ "coachfs-audit-head-2 last_id=99999999999999999999", "field last_id has a bad value" },
		{ "coachfs-audit-head-2 last_hash=abc", "field last_hash has a bad value" },
		{ "coachfs-audit-head-2 sig=zz", "field sig has a bad value" },
		{ "coachfs-audit-head-2 seq=1 owner=me", "unknown field 'owner'" },
		{ "coachfs-audit-head-2 seq", "'seq' is not KEY=VALUE" },
		{ "coachfs-audit-head-2 seq=1 last_id=2 ts=3", "field last_hash is missing" },
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		int rc = cfs_audit_head_parse(bad[k].line, &g, &err);
		if (rc != -EINVAL || !strstr(err.msg, bad[k].msg))
			T_FAILF("\"%s\": rc %d msg \"%s\"", bad[k].line, rc, err.msg);
	}
	memset(buf, 'a', sizeof buf);
	buf[sizeof buf - 1] = 0;
	T_EQ_INT(cfs_audit_head_parse(buf, &g, &err), -EINVAL);
	T_MSG(err, "line too long");
}

/* coach-admin init's checkpoint of an empty log; the hook sees every head. */
struct hooked {
	pthread_mutex_t mu;      /* the writer thread calls the hook */
	int n;
	char last[CFS_AUDIT_HEAD_LINE_MAX];
};

static void hook(const char *line, void *arg)
{
	struct hooked *hk = arg;
	pthread_mutex_lock(&hk->mu);
	hk->n++;
	snprintf(hk->last, sizeof hk->last, "%s", line);
	pthread_mutex_unlock(&hk->mu);
}

/* What the hook saw so far: its count, and the last line copied to out. */
static int hooked_get(struct hooked *hk, char *out, size_t cap)
{
	pthread_mutex_lock(&hk->mu);
	int n = hk->n;
	snprintf(out, cap, "%s", hk->last);
	pthread_mutex_unlock(&hk->mu);
	return n;
}

static void test_empty_log_checkpoint_and_hook(void)
{
	struct tdir t;
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct cfs_verify_report r;
	struct cfs_audit_head h;
	struct cfs_event ev;
	struct hooked hk = { PTHREAD_MUTEX_INITIALIZER, 0, "" };
	char seen[CFS_AUDIT_HEAD_LINE_MAX];
	tdir_make(&t);
	T_EQ_INT(cfs_audit_open(t.db, 1, &a, &err), 0);
	T_EQ_INT(cfs_audit_set_head_hook(a, hook, &hk), 0);
	T_EQ_INT(cfs_audit_set_key(a, SK, &err), 0);
	T_EQ_INT(cfs_audit_set_key(a, SK, &err), -EALREADY);
	T_EQ_INT(cfs_audit_checkpoint(a, &err), 0);
	T_EQ_INT(cfs_audit_checkpoint(a, &err), 0);   /* nothing new: no second one */
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	T_EQ_INT(hooked_get(&hk, seen, sizeof seen), 1);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM checkpoints WHERE seq = 1 AND last_id = 0"
			 " AND last_hash = zeroblob(32) AND prev = zeroblob(32)"), 1);
	T_EQ_INT(cfs_audit_head_parse(seen, &h, &err), 0);
	T_EQ_INT(cfs_audit_head_check(&h, PK), 0);
	T_EQ_INT(verify(t.db, &r, &err), 0);
	T_EQ_INT(r.rows, 0);
	T_EQ_INT(r.checkpoints, 1);
	T_EQ_INT(r.has_head, 1);
	T_CHECK(memcmp(&r.head, &h, sizeof h) == 0);
	/* a tool appends before the first mount: verifies, one row unsealed */
	T_EQ_INT(cfs_audit_open(t.db, 0, &a, &err), 0);
	mk_event(&ev, 1);
	ev.action = CFS_ACT_GRANT_ADD;
	T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	T_EQ_INT(verify(t.db, &r, &err), 0);
	T_EQ_INT(r.last_sealed_id, 0);
	T_EQ_INT(r.unsealed, 1);
	/* the daemon: its writer's checkpoints reach the hook too */
	pthread_mutex_lock(&hk.mu);
	hk.n = 0;
	pthread_mutex_unlock(&hk.mu);
	T_EQ_INT(cfs_audit_open(t.db, 0, &a, &err), 0);
	T_EQ_INT(cfs_audit_set_head_hook(a, hook, &hk), 0);
	T_EQ_INT(cfs_audit_set_checkpoint_interval(a, 50), 0);
	T_EQ_INT(cfs_audit_start(a, 10, SK, &err), 0);
	T_EQ_INT(cfs_audit_set_head_hook(a, hook, &hk), -EINVAL);   /* only before start */
	mk_event(&ev, 2);
	T_EQ_INT(cfs_audit_queue(a, &ev), 0);
	usleep(400 * 1000);
	T_EQ_INT(hooked_get(&hk, seen, sizeof seen), 1);
	T_EQ_INT(cfs_audit_head_parse(seen, &h, &err), 0);
	T_EQ_INT(h.seq, 2);
	T_EQ_INT(h.last_id, 2);
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	T_EQ_INT(hooked_get(&hk, seen, sizeof seen), 1);   /* nothing new at close */
	T_EQ_INT(cfs_audit_verify_pinned(t.db, PK, &h, 1, &r, &err), 0);
	T_EQ_INT(r.unsealed, 0);
	tdir_rm(&t);
}

/* A database from before format 2: its format-1 checkpoints verify; the
 * next writable open adds the columns; the first format-2 checkpoint
 * chains to the newest format-1 one. */
static void test_old_format_database(void)
{
	struct tdir t;
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct cfs_verify_report r;
	struct cfs_event ev;
	char copy[160];
	tdir_make(&t);
	T_EQ_INT(build(t.db, 8, NULL), 0);               /* rows, no key: no checkpoint */
	T_EQ_INT(sql(t.db, "DROP TABLE checkpoints; CREATE TABLE checkpoints(id INTEGER PRIMARY KEY,"
		     " ts INTEGER NOT NULL, last_id INTEGER NOT NULL, last_hash BLOB NOT NULL,"
		     " sig BLOB NOT NULL)"), 0);
	T_EQ_INT(insert_v1_checkpoint(t.db, 1, 4, 1790000000000001LL), 0);
	T_EQ_INT(insert_v1_checkpoint(t.db, 2, 8, 1790000000000002LL), 0);
	T_EQ_INT(verify(t.db, &r, &err), 0);
	T_EQ_INT(r.checkpoints, 2);
	T_EQ_INT(r.checkpoints_v1, 2);
	T_EQ_INT(r.last_sealed_id, 8);
	T_EQ_INT(r.has_head, 0);
	T_EQ_INT(r.newest_ts, 1790000000000002LL);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM pragma_table_info('checkpoints')"), 5);
	/* a tampered old-format log still fails */
	tpath(&t, "copy.db", copy, sizeof copy);
	T_EQ_INT(copy_file(t.db, copy), 0);
	T_EQ_INT(sql(copy, DROP_GUARDS), 0);
	T_EQ_INT(sql(copy, "UPDATE events SET user = 'x' WHERE id = 3"), 0);
	T_EQ_INT(verify(copy, &r, &err), -EBADMSG);
	T_EQ_INT(r.first_bad, 3);

	/* the daemon opens it: columns added, then a format-2 checkpoint */
	T_EQ_INT(cfs_audit_open(t.db, 0, &a, &err), 0);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM pragma_table_info('checkpoints')"), 7);
	T_EQ_INT(sql_int(t.db, "SELECT count(*) FROM sqlite_master WHERE name = 'checkpoints_seq'"),
		 1);
	T_EQ_INT(cfs_audit_start(a, 10, SK, &err), 0);
	mk_event(&ev, 9);
	T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	T_EQ_INT(verify(t.db, &r, &err), 0);
	T_EQ_INT(r.checkpoints, 3);
	T_EQ_INT(r.checkpoints_v1, 2);
	T_EQ_INT(r.has_head, 1);
	T_EQ_INT(r.head.seq, 1);
	T_EQ_INT(r.head.last_id, 9);
	T_EQ_INT(sql_int(t.db, "SELECT prev = zeroblob(32) FROM checkpoints WHERE id = 3"), 0);
	/* the newest format-1 checkpoint is chained: deleting it is caught */
	unlink(copy);
	T_EQ_INT(copy_file(t.db, copy), 0);
	T_EQ_INT(sql(copy, DROP_GUARDS), 0);
	T_EQ_INT(sql(copy, "DELETE FROM checkpoints WHERE id = 2"), 0);
	T_EQ_INT(verify(copy, &r, &err), -EBADMSG);
	T_EQ_INT(r.first_bad, 5);
	T_MSG(err, "checkpoint 3 (seq 1) does not chain to the checkpoint before it");
	/* ... and all of them */
	unlink(copy);
	T_EQ_INT(copy_file(t.db, copy), 0);
	T_EQ_INT(sql(copy, DROP_GUARDS), 0);
	T_EQ_INT(sql(copy, "DELETE FROM checkpoints WHERE id < 3"), 0);
	T_EQ_INT(verify(copy, &r, &err), -EBADMSG);
	T_EQ_INT(r.first_bad, 1);
	T_MSG(err, "checkpoint 3 (seq 1) does not chain to the checkpoint before it");
	tdir_rm(&t);
}

/* The key's holder (the daemon) never seals over a tampered log: a new
 * checkpoint would make it verify. */
static void test_signer_refuses_tampered_log(void)
{
	static const struct { const char *name, *sql, *msg; } cases[] = {
		{ "checkpoints emptied", "DELETE FROM checkpoints",
		  "has 5 events but no checkpoint (checkpoints deleted?); refusing to seal" },
		{ "newest checkpoint forged", "UPDATE checkpoints SET sig = randomblob(64) WHERE id = 2",
		  "the newest checkpoint (id 2) does not hold: its signature is bad; refusing to seal" },
		{ "sealed rows cut", "DELETE FROM events WHERE id > 3",
		  "the newest checkpoint (id 2) does not hold: event 5 is missing" },
		{ "sealed row rewritten", "UPDATE events SET hash = zeroblob(32) WHERE id = 5",
		  "the newest checkpoint (id 2) does not hold: event 5 was rewritten" },
	};
	struct tdir t;
	char copy[160];
	tdir_make(&t);
	T_EQ_INT(build(t.db, 5, NULL), 0);
	tpath(&t, "copy.db", copy, sizeof copy);
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct cfs_audit *a = NULL;
		struct cfs_err err = { "" };
		struct cfs_event ev;
		unlink(copy);
		T_EQ_INT(copy_file(t.db, copy), 0);
		T_EQ_INT(sql(copy, DROP_GUARDS), 0);
		T_EQ_INT(sql(copy, cases[k].sql), 0);
		int64_t cps = sql_int(copy, "SELECT count(*) FROM checkpoints");
		T_EQ_INT(cfs_audit_open(copy, 0, &a, &err), 0);
		int rc = cfs_audit_start(a, 10, SK, &err);
		if (rc != -EIO || !strstr(err.msg, cases[k].msg))
			T_FAILF("%s: rc %d msg \"%.300s\"", cases[k].name, rc, err.msg);
		/* a tool (no key) still appends; nothing is signed */
		mk_event(&ev, 6);
		T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
		T_EQ_INT(cfs_audit_checkpoint(a, &err), -EINVAL);
		T_EQ_INT(cfs_audit_close(a, &err), 0);
		T_EQ_INT(sql_int(copy, "SELECT count(*) FROM checkpoints"), cps);
	}
	tdir_rm(&t);
}

int main(void)
{
	if (sodium_init() < 0)
		return 2;
	crypto_sign_keypair(PK, SK);
	T_RUN(test_encode_exact);
	T_RUN(test_encode_null_empty_zero);
	T_RUN(test_append_verify_ok);
	T_RUN(test_required_fields);
	T_RUN(test_queue_10000);
	T_RUN(test_periodic_checkpoint);
	T_RUN(test_tamper);
	T_RUN(test_append_only_guards);
	T_RUN(test_rewritten_chain);
	T_RUN(test_checkpoint_missing_row);
	T_RUN(test_unsealed_truncation_undetectable);
	T_RUN(test_fail_closed_unlinked);
	T_RUN(test_fail_closed_replaced);
	T_RUN(test_recovers_after_lock);
	T_RUN(test_two_handles);
	T_RUN(test_saturated_writer_lets_others_in);
	T_RUN(test_pubkey_files);
	T_RUN(test_queries);
	T_RUN(test_group);
	T_RUN(test_checkpoint_chain_tamper);
	T_RUN(test_rechain_without_checkpoints);
	T_RUN(test_pinned_head);
	T_RUN(test_head_line);
	T_RUN(test_empty_log_checkpoint_and_hook);
	T_RUN(test_old_format_database);
	T_RUN(test_signer_refuses_tampered_log);
	T_END();
}
