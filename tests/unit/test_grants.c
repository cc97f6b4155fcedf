/* test_grants.c — policy.db: add/get/list/revoke, meta, snapshot caching and
 * refresh across handles, atomic open counting, and hostile rows. */
#include "t.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coachfs/grants.h"
#include "coachfs/links.h"

/* the row MAC key a test store would derive (keys->rowmac) */
static const unsigned char KEY[32] = "test rowmac key, 32 bytes long!";
static char dir[64];
static char dbpath[128];
static int64_t NOW;

static void fresh_db(void)
{
	t_rm_db(dbpath);
}

static struct cfs_grants *open_db(int create)
{
	struct cfs_grants *g = NULL;
	struct cfs_err err = { "" };
	int rc = cfs_grants_open(dbpath, create, &g, &err);
	if (rc == 0)
		rc = cfs_grants_set_key(g, KEY, &err);
	if (rc != 0)
		fprintf(stderr, "open: %d %s\n", rc, err.msg);
	return g;
}

/* A valid rec for subject ("alice", "@soc", "role:responder"). */
static void mk(struct cfs_grant_rec *r, const char *subject, const char *path, int64_t start,
	       int64_t end)
{
	memset(r, 0, sizeof *r);
	snprintf(r->subject, sizeof r->subject, "%s", subject);
	if (subject[0] == '@') {
		r->g.kind = CFS_SUBJ_GROUP;
		r->g.ugid = 1500;
	} else if (strncmp(subject, "role:", 5) == 0) {
		r->g.kind = CFS_SUBJ_ROLE;
		snprintf(r->role, sizeof r->role, "%s", subject + 5);
	} else {
		r->g.kind = CFS_SUBJ_USER;
		r->g.ugid = 1001;
	}
	snprintf(r->path, sizeof r->path, "%s", path);
	r->g.start = start;
	r->g.end = end;
	snprintf(r->granted_by, sizeof r->granted_by, "root");
	r->created = start;
}

static int64_t add(struct cfs_grants *g, const char *subject, const char *path, int64_t start,
		   int64_t end)
{
	struct cfs_grant_rec r;
	struct cfs_err err = { "" };
	mk(&r, subject, path, start, end);
	if (cfs_grants_add(g, &r, &err) != 0) {
		fprintf(stderr, "add: %s\n", err.msg);
		return -1;
	}
	return r.g.id;
}

static void test_open_and_meta(void)
{
	struct cfs_grants *g = NULL;
	struct cfs_err err = { "" };
	char buf[64];
	struct stat st;
	fresh_db();
	T_EQ_INT(cfs_grants_open(dbpath, 0, &g, &err), -ENOENT);
	T_CHECK(g == NULL);
	T_CONTAINS(err.msg, "policy.db: No such file or directory");
	g = open_db(1);
	T_CHECK(g != NULL);
	if (!g)
		return;
	T_EQ_INT(stat(dbpath, &st), 0);
	T_EQ_INT(st.st_mode & 0777, 0600);
	T_EQ_INT(cfs_grants_meta_get(g, "format", buf, sizeof buf, &err), 0);
	T_EQ_STR(buf, "1");
	T_EQ_INT(cfs_grants_meta_get(g, "mountpoint", buf, sizeof buf, &err), -ENOENT);
	T_EQ_STR(buf, "");
	T_EQ_INT(cfs_grants_meta_set(g, "mountpoint", "/mnt/coach", &err), 0);
	T_EQ_INT(cfs_grants_meta_set(g, "mountpoint", "/mnt/coachfs", &err), 0);
	T_EQ_INT(cfs_grants_meta_get(g, "mountpoint", buf, sizeof buf, &err), 0);
	T_EQ_STR(buf, "/mnt/coachfs");
	T_EQ_INT(cfs_grants_meta_get(g, "mountpoint", buf, 5, &err), -ENAMETOOLONG);
	T_EQ_STR(buf, "");
	T_CONTAINS(err.msg, "meta 'mountpoint': value too long");
	T_EQ_INT(cfs_grants_meta_set(g, "", "x", &err), -EINVAL);
	cfs_grants_close(g);

	/* Reopen without create: schema and meta persist, WAL is on. */
	g = open_db(0);
	T_CHECK(g != NULL);
	T_EQ_INT(cfs_grants_meta_get(g, "mountpoint", buf, sizeof buf, &err), 0);
	T_EQ_STR(buf, "/mnt/coachfs");
	cfs_grants_close(g);

	sqlite3 *raw;
	T_EQ_INT(sqlite3_open(dbpath, &raw), SQLITE_OK);
	sqlite3_stmt *q;
	T_EQ_INT(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
	T_EQ_INT(sqlite3_step(q), SQLITE_ROW);
	T_EQ_STR((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	/* An unknown format version is refused. */
	T_EQ_INT(sqlite3_exec(raw, "UPDATE meta SET value = '2' WHERE key = 'format'", NULL, NULL,
			      NULL), SQLITE_OK);
	sqlite3_close(raw);
	g = NULL;
	T_EQ_INT(cfs_grants_open(dbpath, 0, &g, &err), -EIO);
	T_CHECK(g == NULL);
	T_CONTAINS(err.msg, "unsupported policy database format");

	/* Some other SQLite database, and a file that is not a database. */
	fresh_db();
	T_EQ_INT(sqlite3_open(dbpath, &raw), SQLITE_OK);
	T_EQ_INT(sqlite3_exec(raw, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	T_EQ_INT(cfs_grants_open(dbpath, 0, &g, &err), -EIO);
	T_CONTAINS(err.msg, "policy.db: not a coachfs policy database");
	fresh_db();
	FILE *f = fopen(dbpath, "w");
	T_CHECK(f != NULL);
	if (f) {
		fputs("this is not an SQLite database, not at all, no. padding padding padding\n", f);
		fclose(f);
	}
	T_EQ_INT(cfs_grants_open(dbpath, 0, &g, &err), -EIO);
	T_CHECK(g == NULL);
	T_CONTAINS(err.msg, "policy.db");
	/* A symlink is not followed. */
	fresh_db();
	char link[160];
	snprintf(link, sizeof link, "%s/link.db", dir);
	unlink(link);
	T_EQ_INT(symlink(dbpath, link), 0);
	T_CHECK(cfs_grants_open(link, 1, &g, &err) < 0);
	T_CHECK(g == NULL);
	T_CHECK(access(dbpath, F_OK) != 0);
	unlink(link);
}

static void test_add_get(void)
{
	struct cfs_grant_rec r, got;
	struct cfs_err err = { "" };
	fresh_db();
	struct cfs_grants *g = open_db(1);
	if (!g) {
		T_CHECK(0);
		return;
	}
	mk(&r, "alice", "/incidents/2026", NOW - 10, NOW + 3600);
	r.g.write = 1;
	r.g.max_opens = 3;
	snprintf(r.reason, sizeof r.reason, "on call");
	snprintf(r.approved_by, sizeof r.approved_by, "bob");
	r.created = 0; /* = now */
	T_EQ_INT(cfs_grants_add(g, &r, &err), 0);
	T_EQ_INT(r.g.id, 1);
	T_CHECK(r.g.path == r.path);
	T_CHECK(r.created >= NOW);

	T_EQ_INT(cfs_grants_get(g, 1, &got, &err), 0);
	T_EQ_INT(got.g.id, 1);
	T_EQ_STR(got.subject, "alice");
	T_EQ_INT(got.g.kind, CFS_SUBJ_USER);
	T_EQ_INT(got.g.ugid, 1001);
	T_CHECK(got.g.role == NULL);
	T_EQ_STR(got.g.path, "/incidents/2026");
	T_CHECK(got.g.path == got.path);
	T_EQ_INT(got.g.write, 1);
	T_EQ_INT(got.g.start, NOW - 10);
	T_EQ_INT(got.g.end, NOW + 3600);
	T_EQ_INT(got.g.max_opens, 3);
	T_EQ_INT(got.g.opens_used, 0);
	T_EQ_STR(got.g.granted_by, "root");
	T_CHECK(got.g.granted_by == got.granted_by);
	T_EQ_STR(got.g.approved_by, "bob");
	T_CHECK(got.g.approved_by == got.approved_by);
	T_EQ_STR(got.reason, "on call");
	T_EQ_INT(got.created, r.created);
	T_EQ_INT(got.g.revoked_at, 0);
	T_EQ_STR(got.revoked_by, "");

	T_EQ_INT(add(g, "@soc", "/", NOW, NOW + 60), 2);
	T_EQ_INT(cfs_grants_get(g, 2, &got, &err), 0);
	T_EQ_INT(got.g.kind, CFS_SUBJ_GROUP);
	T_EQ_INT(got.g.ugid, 1500);
	T_EQ_STR(got.g.approved_by, "");
	T_EQ_STR(got.reason, "");
	T_EQ_INT(add(g, "role:responder", "/playbooks", NOW, NOW + 60), 3);
	T_EQ_INT(cfs_grants_get(g, 3, &got, &err), 0);
	T_EQ_INT(got.g.kind, CFS_SUBJ_ROLE);
	T_EQ_STR(got.g.role, "responder");
	T_CHECK(got.g.role == got.role);
	T_EQ_STR(got.subject, "role:responder");

	T_EQ_INT(cfs_grants_get(g, 99, &got, &err), -ENOENT);
	T_CONTAINS(err.msg, "no grant 99");

	/* add refuses what it would refuse to read back. */
	mk(&r, "alice", "a/../b", NOW, NOW + 60);
	T_EQ_INT(cfs_grants_add(g, &r, &err), -EINVAL);
	T_CONTAINS(err.msg, "new grant: path is not a canonical mount-relative path");
	mk(&r, "alice", "/a/../b", NOW, NOW + 60);
	T_EQ_INT(cfs_grants_add(g, &r, &err), -EINVAL);
	mk(&r, "alice", "/a", NOW, NOW);
	T_EQ_INT(cfs_grants_add(g, &r, &err), -EINVAL);
	T_CONTAINS(err.msg, "end is not after start");
	mk(&r, "alice", "/a", NOW, NOW + 1);
	r.g.kind = 4;
	T_EQ_INT(cfs_grants_add(g, &r, &err), -EINVAL);
	T_CONTAINS(err.msg, "kind out of range");
	mk(&r, "role:responder", "/a", NOW, NOW + 1);
	snprintf(r.role, sizeof r.role, "admin");
	T_EQ_INT(cfs_grants_add(g, &r, &err), -EINVAL);
	T_CONTAINS(err.msg, "role subject does not match role");
	mk(&r, "alice", "/a", NOW, NOW + 1);
	r.granted_by[0] = 0;
	T_EQ_INT(cfs_grants_add(g, &r, &err), -EINVAL);
	mk(&r, "alice", "/a", NOW, NOW + 1);
	memset(r.reason, 'x', sizeof r.reason); /* not terminated */
	T_EQ_INT(cfs_grants_add(g, &r, &err), -EINVAL);
	T_CONTAINS(err.msg, "new grant: reason too long");
	mk(&r, "alice", "/a", NOW, NOW + 1);
	r.g.ugid = 0xffffffffu;
	T_EQ_INT(cfs_grants_add(g, &r, &err), -EINVAL);
	T_CONTAINS(err.msg, "uid out of range");
	mk(&r, "alice", "/a", NOW, NOW + 1);
	r.g.write = 2;
	T_EQ_INT(cfs_grants_add(g, &r, &err), -EINVAL);
	/* Nothing of that was stored. */
	T_EQ_INT(add(g, "alice", "/next", NOW, NOW + 1), 4);
	cfs_grants_close(g);
}

static int fail_hook(const struct cfs_grant_rec *rec, void *arg, struct cfs_err *err)
{
	*(int64_t *)arg = rec->g.id;
	return cfs_errf(err, -EIO, "audit: disk on fire");
}

static int ok_hook(const struct cfs_grant_rec *rec, void *arg, struct cfs_err *err)
{
	(void)err;
	*(int64_t *)arg = rec->g.id;
	return 0;
}

static void test_add_hook(void)
{
	struct cfs_grant_rec r, got;
	struct cfs_err err = { "" };
	int64_t seen = 0;
	fresh_db();
	struct cfs_grants *g = open_db(1);
	if (!g) {
		T_CHECK(0);
		return;
	}
	mk(&r, "alice", "/x", NOW, NOW + 60);
	T_EQ_INT(cfs_grants_add_ex(g, &r, fail_hook, &seen, &err), -EIO);
	T_EQ_INT(seen, 1);
	T_EQ_INT(r.g.id, 0);
	T_EQ_STR(err.msg, "audit: disk on fire");
	T_EQ_INT(cfs_grants_get(g, 1, &got, &err), -ENOENT);
	mk(&r, "alice", "/x", NOW, NOW + 60);
	T_EQ_INT(cfs_grants_add_ex(g, &r, ok_hook, &seen, &err), 0);
	T_EQ_INT(seen, 1);
	T_EQ_INT(r.g.id, 1);
	T_EQ_INT(cfs_grants_get(g, 1, &got, &err), 0);
	cfs_grants_close(g);
}

struct collect {
	int n, stop_after;
	int64_t ids[16];
};

static int collect_cb(const struct cfs_grant_rec *rec, void *arg)
{
	struct collect *c = arg;
	if (c->n < 16)
		c->ids[c->n] = rec->g.id;
	c->n++;
	return c->stop_after && c->n >= c->stop_after;
}

static void test_list_filter(void)
{
	struct cfs_err err = { "" };
	struct collect c;
	struct cfs_grants_filter f;
	fresh_db();
	struct cfs_grants *g = open_db(1);
	if (!g) {
		T_CHECK(0);
		return;
	}
	T_EQ_INT(add(g, "alice", "/inc", NOW - 100, NOW + 100), 1);        /* active */
	T_EQ_INT(add(g, "alice", "/incident", NOW - 100, NOW - 50), 2);    /* expired */
	T_EQ_INT(add(g, "bob", "/inc/a/b", NOW - 100, NOW + 100), 3);      /* active, revoked below */
	T_EQ_INT(add(g, "@soc", "/", NOW + 50, NOW + 100), 4);             /* not yet started */
	T_EQ_INT(add(g, "bob", "/other", NOW - 100, NOW + 100), 5);
	T_EQ_INT(cfs_grants_revoke(g, 3, "root", "done", NOW, &err), 0);

	memset(&c, 0, sizeof c);
	T_EQ_INT(cfs_grants_list(g, NULL, collect_cb, &c, &err), 0);
	T_EQ_INT(c.n, 5);
	T_EQ_INT(c.ids[0], 5);
	T_EQ_INT(c.ids[4], 1);

	memset(&c, 0, sizeof c);
	memset(&f, 0, sizeof f);
	f.active_only = 1;
	f.now = NOW;
	T_EQ_INT(cfs_grants_list(g, &f, collect_cb, &c, &err), 0);
	T_EQ_INT(c.n, 3);
	T_EQ_INT(c.ids[0], 5);
	T_EQ_INT(c.ids[1], 4);
	T_EQ_INT(c.ids[2], 1);

	memset(&c, 0, sizeof c);
	memset(&f, 0, sizeof f);
	f.subject = "bob";
	T_EQ_INT(cfs_grants_list(g, &f, collect_cb, &c, &err), 0);
	T_EQ_INT(c.n, 2);
	T_EQ_INT(c.ids[0], 5);
	T_EQ_INT(c.ids[1], 3);

	memset(&c, 0, sizeof c);
	memset(&f, 0, sizeof f);
	f.path = "/inc/a/b/c.md"; /* covered by /inc, /inc/a/b and / */
	T_EQ_INT(cfs_grants_list(g, &f, collect_cb, &c, &err), 0);
	T_EQ_INT(c.n, 3);
	T_EQ_INT(c.ids[0], 4);
	T_EQ_INT(c.ids[1], 3);
	T_EQ_INT(c.ids[2], 1);

	memset(&c, 0, sizeof c);
	f.path = "/incident/x"; /* /inc does not cover /incident */
	f.subject = "alice";
	T_EQ_INT(cfs_grants_list(g, &f, collect_cb, &c, &err), 0);
	T_EQ_INT(c.n, 1);
	T_EQ_INT(c.ids[0], 2);

	memset(&c, 0, sizeof c);
	c.stop_after = 2;
	T_EQ_INT(cfs_grants_list(g, NULL, collect_cb, &c, &err), 0);
	T_EQ_INT(c.n, 2);
	cfs_grants_close(g);
}

static void test_revoke(void)
{
	struct cfs_err err = { "" };
	struct cfs_grant_rec got;
	fresh_db();
	struct cfs_grants *g = open_db(1);
	if (!g) {
		T_CHECK(0);
		return;
	}
	T_EQ_INT(add(g, "alice", "/a", NOW, NOW + 100), 1);
	T_EQ_INT(cfs_grants_revoke(g, 1, "carol", "left the team", NOW + 5, &err), 0);
	T_EQ_INT(cfs_grants_get(g, 1, &got, &err), 0);
	T_EQ_INT(got.g.revoked_at, NOW + 5);
	T_EQ_STR(got.revoked_by, "carol");
	T_EQ_STR(got.revoke_reason, "left the team");
	T_EQ_INT(cfs_grants_revoke(g, 1, "carol", NULL, NOW + 6, &err), -EALREADY);
	T_CONTAINS(err.msg, "grant 1 is already revoked");
	T_EQ_INT(cfs_grants_get(g, 1, &got, &err), 0);
	T_EQ_INT(got.g.revoked_at, NOW + 5); /* unchanged */
	T_EQ_INT(cfs_grants_revoke(g, 42, "carol", NULL, NOW, &err), -ENOENT);
	T_CONTAINS(err.msg, "no grant 42");
	T_EQ_INT(cfs_grants_revoke(g, 0, "carol", NULL, NOW, &err), -ENOENT);
	T_EQ_INT(cfs_grants_revoke(g, 1, "", NULL, NOW, &err), -EINVAL);
	T_EQ_INT(add(g, "alice", "/b", NOW, NOW + 100), 2);
	T_EQ_INT(cfs_grants_revoke(g, 2, "carol", NULL, NOW, &err), 0);
	T_EQ_INT(cfs_grants_get(g, 2, &got, &err), 0);
	T_EQ_STR(got.revoke_reason, "");
	cfs_grants_close(g);
}

static int has_id(const struct cfs_grant_snap *s, int64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->recs[i].g.id == id)
			return 1;
	return 0;
}

static void test_snapshot_refresh(void)
{
	struct cfs_err err = { "" };
	struct cfs_grant_snap *s1 = NULL, *s2 = NULL, *s3 = NULL, *s4 = NULL, *s5 = NULL,
			      *s6 = NULL;
	fresh_db();
	struct cfs_grants *h1 = open_db(1), *h2 = open_db(0);
	if (!h1 || !h2) {
		T_CHECK(0);
		cfs_grants_close(h1);
		cfs_grants_close(h2);
		return;
	}
	T_EQ_INT(add(h1, "alice", "/a", NOW - 100, NOW + 1000), 1);
	T_EQ_INT(add(h1, "alice", "/gone", NOW - 100, NOW - 1), 2);   /* expired: left out */
	T_EQ_INT(add(h1, "@soc", "/later", NOW + 500, NOW + 1000), 3); /* future: kept */
	T_EQ_INT(add(h1, "bob", "/r", NOW - 100, NOW + 1000), 4);
	T_EQ_INT(cfs_grants_revoke(h1, 4, "root", NULL, NOW, &err), 0); /* revoked: left out */

	T_EQ_INT(cfs_grants_snapshot(h1, &s1, &err), 0);
	T_CHECK(s1 != NULL);
	if (!s1)
		goto out;
	T_EQ_INT(s1->n, 2);
	T_EQ_INT(s1->recs[0].g.id, 1);
	T_EQ_INT(s1->recs[1].g.id, 3);
	T_CHECK(s1->built >= NOW);
	for (size_t i = 0; i < s1->n; i++) {
		const struct cfs_grant_rec *r = &s1->recs[i];
		T_CHECK(r->g.path == r->path);
		T_CHECK(r->g.granted_by == r->granted_by);
		T_CHECK(r->g.approved_by == r->approved_by);
	}
	T_EQ_STR(s1->recs[1].g.path, "/later");

	/* Nothing changed: the very same snapshot. */
	T_EQ_INT(cfs_grants_snapshot(h1, &s2, &err), 0);
	T_CHECK(s2 == s1);

	/* A write from a second handle (another connection): rebuilt. */
	T_EQ_INT(add(h2, "carol", "/c", NOW - 1, NOW + 1000), 5);
	T_EQ_INT(cfs_grants_snapshot(h1, &s3, &err), 0);
	T_CHECK(s3 != s1);
	if (!s3)
		goto out;
	T_EQ_INT(s3->n, 3);
	T_CHECK(has_id(s3, 5));
	T_EQ_INT(s1->n, 2); /* the old one is still intact for its holders */
	T_EQ_STR(s1->recs[0].g.path, "/a");

	T_EQ_INT(cfs_grants_snapshot(h1, &s4, &err), 0);
	T_CHECK(s4 == s3);

	/* A revocation from the second handle. */
	T_EQ_INT(cfs_grants_revoke(h2, 1, "root", "x", NOW, &err), 0);
	T_EQ_INT(cfs_grants_snapshot(h1, &s5, &err), 0);
	T_CHECK(s5 != s3);
	if (!s5)
		goto out;
	T_EQ_INT(s5->n, 2);
	T_CHECK(!has_id(s5, 1));

	/* Opens counted elsewhere do not change grants but do move data_version:
	 * the rebuilt snapshot is equal in content. A write through h1 itself
	 * (which data_version does not see) is picked up too. */
	T_EQ_INT(add(h1, "dave", "/d", NOW - 1, NOW + 1000), 6);
	T_EQ_INT(cfs_grants_snapshot(h1, &s6, &err), 0);
	T_CHECK(s6 != s5);
	if (s6) {
		T_EQ_INT(s6->n, 3);
		T_CHECK(has_id(s6, 6));
	}
out:
	cfs_grants_snap_put(s1);
	cfs_grants_snap_put(s2);
	cfs_grants_snap_put(s3);
	cfs_grants_snap_put(s4);
	cfs_grants_snap_put(s5);
	cfs_grants_snap_put(s6);
	cfs_grants_close(h1);
	cfs_grants_close(h2);
}

static void test_snapshot_outlives_handle(void)
{
	struct cfs_err err = { "" };
	struct cfs_grant_snap *s = NULL;
	fresh_db();
	struct cfs_grants *g = open_db(1);
	if (!g) {
		T_CHECK(0);
		return;
	}
	T_EQ_INT(add(g, "alice", "/a", NOW - 1, NOW + 100), 1);
	T_EQ_INT(cfs_grants_snapshot(g, &s, &err), 0);
	cfs_grants_close(g);
	T_CHECK(s != NULL);
	if (s) {
		T_EQ_INT(s->n, 1);
		T_EQ_STR(s->recs[0].g.path, "/a");
		cfs_grants_snap_put(s);
	}
}

static void test_count_open(void)
{
	struct cfs_err err = { "" };
	uint32_t used = 99;
	fresh_db();
	struct cfs_grants *g = open_db(1);
	if (!g) {
		T_CHECK(0);
		return;
	}
	T_EQ_INT(add(g, "alice", "/", NOW - 1, NOW + 100), 1);
	T_EQ_INT(add(g, "alice", "/", NOW - 1, NOW + 100), 2);
	T_EQ_INT(cfs_grants_opens(g, 1, "/f", &used, &err), 0);
	T_EQ_INT(used, 0);
	/* no such grant: nothing to count against (fail closed) */
	T_EQ_INT(cfs_grants_count_open(g, 9, "/f", 3, &used, &err), -ENOENT);
	for (uint32_t i = 1; i <= 3; i++) {
		T_EQ_INT(cfs_grants_count_open(g, 1, "/f", 3, &used, &err), 0);
		T_EQ_INT(used, i);
	}
	used = 99;
	T_EQ_INT(cfs_grants_count_open(g, 1, "/f", 3, &used, &err), -EDQUOT);
	T_EQ_INT(used, 3);
	T_CONTAINS(err.msg, "grant 1: all 3 opens of /f used");
	T_EQ_INT(cfs_grants_opens(g, 1, "/f", &used, &err), 0);
	T_EQ_INT(used, 3);
	/* Per file and per grant. */
	T_EQ_INT(cfs_grants_count_open(g, 1, "/g", 3, &used, &err), 0);
	T_EQ_INT(used, 1);
	T_EQ_INT(cfs_grants_count_open(g, 2, "/f", 3, &used, &err), 0);
	T_EQ_INT(used, 1);
	/* A raised limit allows more; 0 = unlimited but still counted. */
	T_EQ_INT(cfs_grants_count_open(g, 1, "/f", 4, &used, &err), 0);
	T_EQ_INT(used, 4);
	T_EQ_INT(cfs_grants_count_open(g, 1, "/f", 0, &used, &err), 0);
	T_EQ_INT(used, 5);
	T_EQ_INT(cfs_grants_count_open(g, 1, "f", 0, &used, &err), -EINVAL);
	T_EQ_INT(cfs_grants_count_open(g, 0, "/f", 0, &used, &err), -EINVAL);
	T_EQ_INT(cfs_grants_opens(g, 1, "/a/../f", &used, &err), -EINVAL);
	cfs_grants_close(g);
}

#define CO_THREADS 4
#define CO_TRIES 40
#define CO_LIMIT 70

struct co_arg {
	struct cfs_grants *g;
	int ok, quota, other;
};

static void *co_thread(void *p)
{
	struct co_arg *a = p;
	struct cfs_err err;
	uint32_t used;
	for (int i = 0; i < CO_TRIES; i++) {
		int rc = cfs_grants_count_open(a->g, 7, "/secret/plan.md", CO_LIMIT, &used, &err);
		if (rc == 0)
			a->ok++;
		else if (rc == -EDQUOT)
			a->quota++;
		else
			a->other++;
	}
	return NULL;
}

/* Two connections, two threads on each: exactly CO_LIMIT opens succeed. */
static void test_count_open_atomic(void)
{
	struct cfs_err err = { "" };
	pthread_t th[CO_THREADS];
	struct co_arg args[CO_THREADS];
	uint32_t used = 0;
	fresh_db();
	struct cfs_grants *h1 = open_db(1), *h2 = open_db(0);
	if (!h1 || !h2) {
		T_CHECK(0);
		cfs_grants_close(h1);
		cfs_grants_close(h2);
		return;
	}
	for (int i = 1; i <= 7; i++)
		T_EQ_INT(add(h1, "alice", "/secret", NOW - 1, NOW + 100), i);
	for (int i = 0; i < CO_THREADS; i++) {
		memset(&args[i], 0, sizeof args[i]);
		args[i].g = i % 2 ? h2 : h1;
		T_EQ_INT(pthread_create(&th[i], NULL, co_thread, &args[i]), 0);
	}
	int ok = 0, quota = 0, other = 0;
	for (int i = 0; i < CO_THREADS; i++) {
		pthread_join(th[i], NULL);
		ok += args[i].ok;
		quota += args[i].quota;
		other += args[i].other;
	}
	T_EQ_INT(other, 0);
	T_EQ_INT(ok, CO_LIMIT);
	T_EQ_INT(quota, CO_THREADS * CO_TRIES - CO_LIMIT);
	T_EQ_INT(cfs_grants_opens(h1, 7, "/secret/plan.md", &used, &err), 0);
	T_EQ_INT(used, CO_LIMIT);
	T_EQ_INT(cfs_grants_opens(h2, 7, "/secret/plan.md", &used, &err), 0);
	T_EQ_INT(used, CO_LIMIT);
	cfs_grants_close(h1);
	cfs_grants_close(h2);
}

/* Exact message comparison that shows both on stderr when they differ. */
static int same_msg(const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		return 1;
	fprintf(stderr, "got:  %s\nwant: %s\n", got, want);
	return 0;
}

/* Insert a row with raw SQL (values as SQL literals), then check that get,
 * list and snapshot all report exactly `msg` for it. */
static void hostile(const char *values, const char *msg)
{
	struct cfs_err err = { "" };
	struct cfs_grant_rec got;
	struct cfs_grant_snap *s = NULL;
	char sql[8192];
	char *emsg = NULL;
	struct collect c;
	fresh_db();
	struct cfs_grants *g = open_db(1);
	if (!g) {
		T_CHECK(0);
		return;
	}
	T_EQ_INT(add(g, "alice", "/fine", NOW - 1, NOW + 100), 1);
	sqlite3 *raw;
	T_EQ_INT(sqlite3_open(dbpath, &raw), SQLITE_OK);
	snprintf(sql, sizeof sql,
		 "INSERT INTO grants(id, subject, kind, ugid, role, path, write, start, \"end\", "
		 "max_opens, reason, granted_by, approved_by, created, revoked_at, revoked_by, "
		 "revoke_reason) VALUES(7, %s)", values);
	int rc = sqlite3_exec(raw, sql, NULL, NULL, &emsg);
	if (rc != SQLITE_OK)
		fprintf(stderr, "hostile insert: %s\n", emsg ? emsg : "?");
	sqlite3_free(emsg);
	T_EQ_INT(rc, SQLITE_OK);
	sqlite3_close(raw);

	char want[600];
	snprintf(want, sizeof want, "%s: grant 7: %s", dbpath, msg);
	T_EQ_INT(cfs_grants_get(g, 7, &got, &err), -EIO);
	T_CHECK(same_msg(err.msg, want));
	T_EQ_INT(got.g.id, 0);
	T_EQ_INT(got.path[0], 0);
	memset(&c, 0, sizeof c);
	err.msg[0] = 0;
	T_EQ_INT(cfs_grants_list(g, NULL, collect_cb, &c, &err), -EIO);
	T_CHECK(same_msg(err.msg, want));
	err.msg[0] = 0;
	T_EQ_INT(cfs_grants_snapshot(g, &s, &err), -EIO);
	T_CHECK(s == NULL);
	T_CHECK(same_msg(err.msg, want));
	/* The good row is still readable on its own. */
	T_EQ_INT(cfs_grants_get(g, 1, &got, &err), 0);
	/* Revoking the bad row takes it out of the snapshot. */
	T_EQ_INT(cfs_grants_revoke(g, 7, "root", "corrupt", NOW, &err), 0);
	T_EQ_INT(cfs_grants_snapshot(g, &s, &err), 0);
	if (s) {
		T_EQ_INT(s->n, 1);
		T_EQ_INT(s->recs[0].g.id, 1);
	}
	cfs_grants_snap_put(s);
	cfs_grants_close(g);
}

#define OK_TAIL "0, NULL, 'root', NULL, 1, NULL, NULL, NULL"

static void test_hostile_rows(void)
{
	char long_path[5200], long_subj[400], vals[6000];
	/* Path longer than the 4096-byte buffer. */
	long_path[0] = '/';
	memset(long_path + 1, 'a', 5000);
	long_path[5001] = 0;
	snprintf(vals, sizeof vals, "'alice', 1, 1001, NULL, '%s', 0, 1, 99999999999, " OK_TAIL,
		 long_path);
	hostile(vals, "path too long");
	/* Exactly 4096 bytes: does not fit with its NUL either. */
	long_path[4096] = 0;
	snprintf(vals, sizeof vals, "'alice', 1, 1001, NULL, '%s', 0, 1, 99999999999, " OK_TAIL,
		 long_path);
	hostile(vals, "path too long");
	hostile("'alice', 1, 1001, NULL, 'a/../b', 0, 1, 99999999999, " OK_TAIL,
		"path is not a canonical mount-relative path");
	hostile("'alice', 1, 1001, NULL, '/a/../b', 0, 1, 99999999999, " OK_TAIL,
		"path is not a canonical mount-relative path");
	hostile("'alice', 1, 1001, NULL, NULL, 0, 1, 99999999999, " OK_TAIL, "path is NULL");
	hostile("'alice', 1, 1001, NULL, X'2f61', 0, 1, 99999999999, " OK_TAIL,
		"path is not text");
	hostile("NULL, 1, 1001, NULL, '/a', 0, 1, 99999999999, " OK_TAIL, "subject is NULL");
	hostile("'al' || char(0) || 'ice', 1, 1001, NULL, '/a', 0, 1, 99999999999, " OK_TAIL,
		"subject contains a NUL byte");
	memset(long_subj, 'b', 300);
	long_subj[300] = 0;
	snprintf(vals, sizeof vals, "'%s', 1, 1001, NULL, '/a', 0, 1, 99999999999, " OK_TAIL,
		 long_subj);
	hostile(vals, "subject too long");
	hostile("'alice', NULL, 1001, NULL, '/a', 0, 1, 99999999999, " OK_TAIL, "kind is NULL");
	hostile("'alice', 7, 1001, NULL, '/a', 0, 1, 99999999999, " OK_TAIL, "kind is out of range");
	hostile("'alice', 'user', 1001, NULL, '/a', 0, 1, 99999999999, " OK_TAIL,
		"kind is not an integer");
	hostile("'alice', 1, -1, NULL, '/a', 0, 1, 99999999999, " OK_TAIL, "ugid is out of range");
	hostile("'alice', 1, 4294967295, NULL, '/a', 0, 1, 99999999999, " OK_TAIL,
		"ugid is out of range");
	hostile("'alice', 1, NULL, NULL, '/a', 0, 1, 99999999999, " OK_TAIL, "ugid is NULL");
	hostile("'alice', 1, 1001, NULL, '/a', 2, 1, 99999999999, " OK_TAIL, "write is out of range");
	hostile("'alice', 1, 1001, NULL, '/a', 0, 'soon', 99999999999, " OK_TAIL,
		"start is not an integer");
	hostile("'alice', 1, 1001, NULL, '/a', 0, 1, NULL, " OK_TAIL, "end is NULL");
	hostile("'alice', 1, 1001, NULL, '/a', 0, 99999999999, 99999999999, " OK_TAIL,
		"end is not after start");
	hostile("'alice', 1, 1001, NULL, '/a', 0, 1, 99999999999, -1, NULL, 'root', NULL, 1, "
		"NULL, NULL, NULL", "max_opens is out of range");
	hostile("'alice', 1, 1001, NULL, '/a', 0, 1, 99999999999, 0, NULL, NULL, NULL, 1, "
		"NULL, NULL, NULL", "granted_by is NULL");
	hostile("'alice', 1, 1001, NULL, '/a', 0, 1, 99999999999, 0, NULL, 'root', NULL, 1, "
		"'yesterday', NULL, NULL", "revoked_at is not an integer");
	hostile("'role:x y', 3, NULL, 'x y', '/a', 0, 1, 99999999999, " OK_TAIL,
		"role is not a role name");
	hostile("'role:admin', 3, NULL, 'responder', '/a', 0, 1, 99999999999, " OK_TAIL,
		"role subject does not match role");
	hostile("'@', 2, 10, NULL, '/a', 0, 1, 99999999999, " OK_TAIL,
		"group subject does not start with '@'");
	hostile("'alice', 1, 1001, NULL, '/a', 0, 1, 99999999999, 0, NULL, 'root', NULL, 1, "
		"NULL, NULL, X'41'", "revoke_reason is not text");
}

/* A corrupt open count is reported, not trusted. */
static void test_hostile_opens(void)
{
	struct cfs_err err = { "" };
	uint32_t used;
	fresh_db();
	struct cfs_grants *g = open_db(1);
	if (!g) {
		T_CHECK(0);
		return;
	}
	sqlite3 *raw;
	T_EQ_INT(sqlite3_open(dbpath, &raw), SQLITE_OK);
	for (int i = 1; i <= 5; i++)
		T_EQ_INT(add(g, "alice", "/", NOW - 1, NOW + 100), i);
	T_EQ_INT(sqlite3_exec(raw, "INSERT INTO opens(grant_id, path, count) VALUES(3, '/f', -5), "
			      "(4, '/f', 'many')", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	T_EQ_INT(cfs_grants_count_open(g, 3, "/f", 10, &used, &err), -EBADMSG);
	T_CONTAINS(err.msg, "grant 3: a malformed open count");
	T_EQ_INT(cfs_grants_opens(g, 4, "/f", &used, &err), -EIO);
	T_CONTAINS(err.msg, "grant 4: open count is not an integer");
	/* The failed attempt left nothing behind and the handle still works. */
	T_EQ_INT(cfs_grants_count_open(g, 5, "/f", 10, &used, &err), 0);
	T_EQ_INT(used, 1);
	cfs_grants_close(g);
}

/* ---- row MACs --------------------------------------------------------------- */

static int raw_sql(const char *sql)
{
	sqlite3 *raw;
	char *emsg = NULL;
	if (sqlite3_open(dbpath, &raw) != SQLITE_OK)
		return -1;
	int rc = sqlite3_exec(raw, sql, NULL, NULL, &emsg);
	if (rc != SQLITE_OK)
		fprintf(stderr, "raw: %s: %s\n", sql, emsg ? emsg : "?");
	sqlite3_free(emsg);
	sqlite3_close(raw);
	return rc;
}

struct reported {
	int n;
	int64_t ids[8];
	char why[8][40];
};

static void report_cb(void *arg, int64_t id, const char *path, const char *why)
{
	struct reported *r = arg;
	(void)path;
	if (r->n < 8) {
		r->ids[r->n] = id;
		snprintf(r->why[r->n], sizeof r->why[0], "%s", why);
	}
	r->n++;
}

/* Rows written or edited without the key grant nothing: the snapshot leaves
 * them out and reports each once per rebuild; get and list mark them. */
static void test_forged_rows(void)
{
	struct cfs_err err = { "" };
	struct cfs_grant_rec got;
	struct cfs_grant_snap *s = NULL;
	struct reported rep;
	memset(&rep, 0, sizeof rep);
	fresh_db();
	struct cfs_grants *g = open_db(1);
	if (!g) {
		T_CHECK(0);
		return;
	}
	cfs_grants_set_report(g, report_cb, &rep);
	T_EQ_INT(add(g, "alice", "/a", NOW - 1, NOW + 100), 1);
	T_EQ_INT(add(g, "alice", "/b", NOW - 1, NOW + 100), 2);
	T_EQ_INT(add(g, "alice", "/c", NOW - 1, NOW + 100), 3);
	T_EQ_INT(cfs_grants_get(g, 1, &got, &err), 0);
	T_EQ_INT(got.row_state, CFS_ROW_OK);
	/* extended by hand */
	T_EQ_INT(raw_sql("UPDATE grants SET \"end\" = \"end\" + 86400 WHERE id = 1"), SQLITE_OK);
	/* inserted by hand (no MAC) */
	T_EQ_INT(raw_sql("INSERT INTO grants(id, subject, kind, ugid, path, write, start, \"end\", "
			 "max_opens, granted_by, created) VALUES(9, 'mallory', 1, 1666, '/', 1, 1, "
			 "99999999999, 0, 'root', 1)"), SQLITE_OK);
	/* another row's (valid) MAC moved onto row 3: the id is bound */
	T_EQ_INT(raw_sql("UPDATE grants SET mac = (SELECT mac FROM grants WHERE id = 2) WHERE id = 3"),
		 SQLITE_OK);
	T_EQ_INT(cfs_grants_get(g, 1, &got, &err), 0);
	T_EQ_INT(got.row_state, CFS_ROW_BADMAC);
	T_EQ_INT(cfs_grants_get(g, 9, &got, &err), 0);
	T_EQ_INT(got.row_state, CFS_ROW_UNSEALED);
	T_EQ_STR(cfs_row_state_name(CFS_ROW_BADMAC), "INVALID (MAC)");
	T_EQ_STR(cfs_row_state_name(CFS_ROW_UNSEALED), "INVALID (no MAC)");
	T_EQ_INT(cfs_grants_snapshot(g, &s, &err), 0);
	if (s) {
		T_EQ_INT(s->n, 1);
		T_EQ_INT(s->recs[0].g.id, 2);
	}
	cfs_grants_snap_put(s);
	T_EQ_INT(rep.n, 3);
	T_EQ_INT(rep.ids[0], 1);
	T_EQ_STR(rep.why[0], "INVALID (MAC)");
	T_EQ_INT(rep.ids[1], 3);
	T_EQ_INT(rep.ids[2], 9);
	T_EQ_STR(rep.why[2], "INVALID (no MAC)");
	/* the same snapshot again: no new reports */
	T_EQ_INT(cfs_grants_snapshot(g, &s, &err), 0);
	cfs_grants_snap_put(s);
	T_EQ_INT(rep.n, 3);
	/* --active leaves them out; a plain list shows them, marked */
	struct cfs_grants_filter f = { .active_only = 1, .now = NOW };
	struct collect c;
	memset(&c, 0, sizeof c);
	T_EQ_INT(cfs_grants_list(g, &f, collect_cb, &c, &err), 0);
	T_EQ_INT(c.n, 1);
	memset(&c, 0, sizeof c);
	T_EQ_INT(cfs_grants_list(g, NULL, collect_cb, &c, &err), 0);
	T_EQ_INT(c.n, 4);
	/* revoking a forged row does not bless it */
	T_EQ_INT(cfs_grants_revoke(g, 9, "root", "forged", NOW, &err), 0);
	T_EQ_INT(cfs_grants_get(g, 9, &got, &err), 0);
	T_EQ_INT(got.row_state, CFS_ROW_UNSEALED);
	/* revoking an authentic row keeps it authentic */
	T_EQ_INT(cfs_grants_revoke(g, 2, "root", "done", NOW, &err), 0);
	T_EQ_INT(cfs_grants_get(g, 2, &got, &err), 0);
	T_EQ_INT(got.row_state, CFS_ROW_OK);
	T_EQ_INT(got.g.revoked_at, NOW);
	cfs_grants_close(g);

	/* without the key: nothing is authentic and nothing can be written */
	struct cfs_grants *nk = NULL;
	T_EQ_INT(cfs_grants_open(dbpath, 0, &nk, &err), 0);
	if (nk) {
		struct cfs_grant_rec r;
		mk(&r, "alice", "/x", NOW, NOW + 10);
		T_EQ_INT(cfs_grants_add(nk, &r, &err), -EPERM);
		T_CONTAINS(err.msg, "needs the store key");
		T_EQ_INT(cfs_grants_get(nk, 2, &got, &err), 0);
		T_EQ_INT(got.row_state, CFS_ROW_NOKEY);
		T_EQ_INT(cfs_grants_snapshot(nk, &s, &err), 0);
		if (s)
			T_EQ_INT(s->n, 0);
		cfs_grants_snap_put(s);
		cfs_grants_close(nk);
	}
}

/* Open counters are authenticated and add up: resetting or deleting one
 * never gives opens back. */
static void test_opens_tamper(void)
{
	struct cfs_err err = { "" };
	uint32_t used = 0;
	fresh_db();
	struct cfs_grants *g = open_db(1);
	if (!g) {
		T_CHECK(0);
		return;
	}
	T_EQ_INT(add(g, "alice", "/", NOW - 1, NOW + 100), 1);
	T_EQ_INT(add(g, "alice", "/", NOW - 1, NOW + 100), 2);
	T_EQ_INT(cfs_grants_count_open(g, 1, "/f", 3, &used, &err), 0);
	T_EQ_INT(cfs_grants_count_open(g, 1, "/f", 3, &used, &err), 0);
	T_EQ_INT(cfs_grants_count_open(g, 2, "/f", 3, &used, &err), 0);
	T_EQ_INT(raw_sql("UPDATE opens SET count = 0 WHERE grant_id = 1"), SQLITE_OK);
	T_EQ_INT(cfs_grants_opens(g, 1, "/f", &used, &err), -EBADMSG);
	T_EQ_INT(cfs_grants_count_open(g, 1, "/f", 3, &used, &err), -EBADMSG);
	T_CONTAINS(err.msg, "grant 1: the open count of /f failed authentication");
	T_EQ_INT(raw_sql("DELETE FROM opens WHERE grant_id = 2"), SQLITE_OK);
	T_EQ_INT(cfs_grants_count_open(g, 2, "/f", 3, &used, &err), -EBADMSG);
	T_CONTAINS(err.msg, "grant 2: its open counts add up to 0, not 1 (a count was removed or reset)");
	/* the total itself is in the grant's MAC */
	T_EQ_INT(raw_sql("UPDATE grants SET opens_total = 0 WHERE id = 2"), SQLITE_OK);
	T_EQ_INT(cfs_grants_count_open(g, 2, "/f", 3, &used, &err), -EBADMSG);
	T_CONTAINS(err.msg, "grant 2 is INVALID (MAC)");
	cfs_grants_close(g);
}

static int approve_ok_cb(const struct cfs_grant_rec *rec, void *arg, struct cfs_err *err)
{
	(void)err;
	*(int64_t *)arg = rec->approved_at;
	return 0;
}

static int approve_no_cb(const struct cfs_grant_rec *rec, void *arg, struct cfs_err *err)
{
	(void)rec;
	(void)arg;
	return cfs_errf(err, -EPERM, "not you");
}

static void test_approve(void)
{
	struct cfs_err err = { "" };
	struct cfs_grant_rec r, got;
	int64_t seen = 0;
	fresh_db();
	struct cfs_grants *g = open_db(1);
	if (!g) {
		T_CHECK(0);
		return;
	}
	mk(&r, "alice", "/sec", NOW - 1, NOW + 100);
	snprintf(r.approved_by, sizeof r.approved_by, "carol");
	r.approved_at = NOW; /* ignored: only cfs_grants_approve approves */
	T_EQ_INT(cfs_grants_add(g, &r, &err), 0);
	T_EQ_INT(cfs_grants_get(g, 1, &got, &err), 0);
	T_EQ_STR(got.approved_by, "carol");
	T_EQ_INT(got.approved_at, 0);
	T_EQ_INT(cfs_grants_approve(g, 1, "dave", NOW, approve_ok_cb, &seen, &err), -EPERM);
	T_EQ_STR(err.msg, "grant 1 names carol as its approver, not dave");
	T_EQ_INT(cfs_grants_approve(g, 1, "carol", NOW, approve_no_cb, NULL, &err), -EPERM);
	T_EQ_INT(cfs_grants_get(g, 1, &got, &err), 0);
	T_EQ_INT(got.approved_at, 0); /* rolled back */
	T_EQ_INT(got.row_state, CFS_ROW_OK);
	T_EQ_INT(cfs_grants_approve(g, 1, "carol", NOW + 5, approve_ok_cb, &seen, &err), 0);
	T_EQ_INT(seen, NOW + 5);
	T_EQ_INT(cfs_grants_get(g, 1, &got, &err), 0);
	T_EQ_INT(got.approved_at, NOW + 5);
	T_EQ_INT(got.g.approved_at, NOW + 5);
	T_EQ_INT(got.row_state, CFS_ROW_OK);
	T_EQ_INT(cfs_grants_approve(g, 1, "carol", NOW, NULL, NULL, &err), -EALREADY);
	/* an unnamed approver: anyone the caller's check accepts */
	T_EQ_INT(add(g, "alice", "/sec", NOW - 1, NOW + 100), 2);
	T_EQ_INT(cfs_grants_approve(g, 2, "erin", NOW, NULL, NULL, &err), 0);
	T_EQ_INT(cfs_grants_get(g, 2, &got, &err), 0);
	T_EQ_STR(got.approved_by, "erin");
	/* a forged approval is not one */
	T_EQ_INT(add(g, "alice", "/sec", NOW - 1, NOW + 100), 3);
	T_EQ_INT(raw_sql("UPDATE grants SET approved_by = 'carol', approved_at = 5 WHERE id = 3"),
		 SQLITE_OK);
	T_EQ_INT(cfs_grants_get(g, 3, &got, &err), 0);
	T_EQ_INT(got.row_state, CFS_ROW_BADMAC);
	T_EQ_INT(cfs_grants_approve(g, 3, "carol", NOW, NULL, NULL, &err), -EBADMSG);
	/* revoked: no approval */
	T_EQ_INT(add(g, "alice", "/sec", NOW - 1, NOW + 100), 4);
	T_EQ_INT(cfs_grants_revoke(g, 4, "root", NULL, NOW, &err), 0);
	T_EQ_INT(cfs_grants_approve(g, 4, "carol", NOW, NULL, NULL, &err), -EACCES);
	T_EQ_INT(cfs_grants_approve(g, 99, "carol", NOW, NULL, NULL, &err), -ENOENT);
	cfs_grants_close(g);
}

/* An older policy.db: its rows are refused until an administrator seals them
 * once; sealing blesses only rows without a MAC and keeps approvals pending. */
static void test_seal_legacy(void)
{
	struct cfs_err err = { "" };
	struct cfs_grant_rec got;
	int64_t sealed = -1;
	uint32_t used = 0;
	fresh_db();
	/* the old schema, as format 1 wrote it */
	T_EQ_INT(raw_sql("CREATE TABLE grants(id INTEGER PRIMARY KEY, subject TEXT, kind INTEGER, "
			 "ugid INTEGER, role TEXT, path TEXT, write INTEGER, start INTEGER, \"end\" "
			 "INTEGER, max_opens INTEGER, reason TEXT, granted_by TEXT, approved_by TEXT, "
			 "created INTEGER, revoked_at INTEGER, revoked_by TEXT, revoke_reason TEXT);"
			 "CREATE TABLE opens(grant_id INTEGER, path TEXT, count INTEGER, "
			 "PRIMARY KEY(grant_id, path));"
			 "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
			 "INSERT INTO meta VALUES('format', '1');"
			 "INSERT INTO grants VALUES(1, 'alice', 1, 1001, NULL, '/a', 0, 1, 99999999999, "
			 "3, NULL, 'root', 'carol', 1, NULL, NULL, NULL);"
			 "INSERT INTO grants VALUES(2, 'bob', 1, 1002, NULL, '/b', 0, 1, 99999999999, "
			 "0, NULL, 'root', NULL, 1, NULL, NULL, NULL);"
			 "INSERT INTO opens VALUES(1, '/a/x', 2), (1, '/a/y', 1);"), SQLITE_OK);
	struct cfs_grants *g = open_db(0);
	if (!g) {
		T_CHECK(0);
		return;
	}
	T_EQ_INT(cfs_grants_get(g, 1, &got, &err), 0);
	T_EQ_INT(got.row_state, CFS_ROW_UNSEALED);
	T_EQ_INT(cfs_grants_count_open(g, 1, "/a/x", 3, &used, &err), -EBADMSG);
	/* a row edited after sealing began keeps its bad MAC: not re-sealed */
	T_EQ_INT(add(g, "carol", "/c", NOW - 1, NOW + 100), 3);
	T_EQ_INT(raw_sql("UPDATE grants SET \"end\" = \"end\" + 1 WHERE id = 3"), SQLITE_OK);
	T_EQ_INT(cfs_grants_seal_legacy(g, &sealed, &err), 0);
	T_EQ_INT(sealed, 4); /* two counters, two grants */
	T_EQ_INT(cfs_grants_get(g, 1, &got, &err), 0);
	T_EQ_INT(got.row_state, CFS_ROW_OK);
	T_EQ_INT(got.opens_total, 3);
	T_EQ_STR(got.approved_by, "carol");
	T_EQ_INT(got.approved_at, 0); /* never confirmed: still pending */
	T_EQ_INT(cfs_grants_get(g, 2, &got, &err), 0);
	T_EQ_INT(got.row_state, CFS_ROW_OK);
	T_EQ_INT(cfs_grants_get(g, 3, &got, &err), 0);
	T_EQ_INT(got.row_state, CFS_ROW_BADMAC);
	T_EQ_INT(cfs_grants_opens(g, 1, "/a/x", &used, &err), 0);
	T_EQ_INT(used, 2);
	T_EQ_INT(cfs_grants_count_open(g, 1, "/a/x", 3, &used, &err), 0);
	T_EQ_INT(used, 3);
	/* run again: nothing left to seal */
	T_EQ_INT(cfs_grants_seal_legacy(g, &sealed, &err), 0);
	T_EQ_INT(sealed, 0);
	cfs_grants_close(g);
	/* without the key it refuses */
	struct cfs_grants *nk = NULL;
	T_EQ_INT(cfs_grants_open(dbpath, 0, &nk, &err), 0);
	if (nk) {
		T_EQ_INT(cfs_grants_seal_legacy(nk, &sealed, &err), -EPERM);
		cfs_grants_close(nk);
	}
}

/* ---- links: sealed rows, audit hook, approval, legacy sealing --------------- */

static int link_fail_hook(const struct cfs_link *rec, void *arg, struct cfs_err *err)
{
	*(int64_t *)arg = rec->id;
	return cfs_errf(err, -EIO, "audit: refused");
}

static struct cfs_links *open_links_db(void)
{
	struct cfs_links *l = NULL;
	struct cfs_err err = { "" };
	if (cfs_links_open(dbpath, &l, &err) < 0 || cfs_links_set_key(l, KEY, &err) < 0) {
		fprintf(stderr, "links: %s\n", err.msg);
		cfs_links_close(l);
		return NULL;
	}
	return l;
}

static void mk_link(struct cfs_link *r, const char *token, int64_t uid)
{
	memset(r, 0, sizeof *r);
	T_EQ_INT(cfs_link_token_hash(KEY, token, r->hash), 0);
	snprintf(r->path, sizeof r->path, "/inc/a.md");
	snprintf(r->user, sizeof r->user, "%s", uid >= 0 ? "alice" : "");
	r->uid = uid;
	r->start = r->created = NOW - 1;
	r->end = NOW + 100;
	r->uses = 2;
	snprintf(r->issued_by, sizeof r->issued_by, "root");
}

static void test_links_sealed(void)
{
	struct cfs_err err = { "" };
	struct cfs_link r, got;
	unsigned char h[CFS_LINK_HASH_BYTES];
	char why[300];
	int64_t seen = 0;
	fresh_db();
	struct cfs_grants *g = open_db(1); /* the schema */
	struct cfs_links *l = open_links_db();
	if (!g || !l) {
		T_CHECK(0);
		cfs_grants_close(g);
		cfs_links_close(l);
		return;
	}
	/* a failing audit hook: no link at all */
	mk_link(&r, "AAAAAAAAAAAAAAAAAAAAAA", 1001);
	T_EQ_INT(cfs_links_add(l, &r, link_fail_hook, &seen, &err), -EIO);
	T_EQ_INT(seen, 1);
	T_EQ_INT(cfs_links_get(l, 1, &got, &err), -ENOENT);
	/* stored, sealed, used */
	mk_link(&r, "BBBBBBBBBBBBBBBBBBBBBB", 1001);
	T_EQ_INT(cfs_links_add(l, &r, NULL, NULL, &err), 0);
	int64_t id = r.id;
	T_EQ_INT(cfs_links_get(l, id, &got, &err), 0);
	T_EQ_INT(got.row_state, CFS_ROW_OK);
	T_EQ_INT(cfs_link_token_hash(KEY, "BBBBBBBBBBBBBBBBBBBBBB", h), 0);
	T_EQ_INT(cfs_links_use(l, h, 1001, NOW, 0, &got, why, sizeof why, &err), 0);
	T_EQ_INT(got.used, 1);
	/* the class's cap: at most 1 use */
	T_EQ_INT(cfs_links_use(l, h, 1001, NOW, 1, &got, why, sizeof why, &err), -EACCES);
	T_CONTAINS(why, "is used up (its class allows 1 opens)");
	T_EQ_INT(cfs_links_get(l, id, &got, &err), 0);
	T_EQ_INT(got.row_state, CFS_ROW_OK);
	/* edited by hand: refused, not authentic */
	char sql[200];
	snprintf(sql, sizeof sql, "UPDATE links SET uses = 50 WHERE id = %lld", (long long)id);
	T_EQ_INT(raw_sql(sql), SQLITE_OK);
	T_EQ_INT(cfs_links_get(l, id, &got, &err), 0);
	T_EQ_INT(got.row_state, CFS_ROW_BADMAC);
	T_EQ_INT(cfs_link_check(&got, 1001, NOW, why, sizeof why), -EBADMSG);
	T_CONTAINS(why, "failed authentication: INVALID (MAC)");
	T_EQ_INT(cfs_links_use(l, h, 1001, NOW, 0, &got, why, sizeof why, &err), -EBADMSG);
	T_EQ_INT(cfs_links_approve(l, id, "carol", NOW, NULL, NULL, &err), -EBADMSG);
	/* revocation text is bounded and printable */
	char longr[300];
	memset(longr, 'x', 299);
	longr[299] = 0;
	T_EQ_INT(cfs_links_revoke(l, id, "root", longr, NOW, &err), -EINVAL);
	T_EQ_INT(cfs_links_revoke(l, id, "root", "a\nb", NOW, &err), -EINVAL);
	/* approval of an authentic link, once */
	mk_link(&r, "CCCCCCCCCCCCCCCCCCCCCC", -1);
	T_EQ_INT(cfs_links_add(l, &r, NULL, NULL, &err), 0);
	T_EQ_INT(cfs_links_approve(l, r.id, "carol", NOW + 3, NULL, NULL, &err), 0);
	T_EQ_INT(cfs_links_get(l, r.id, &got, &err), 0);
	T_EQ_STR(got.approved_by, "carol");
	T_EQ_INT(got.approved_at, NOW + 3);
	T_EQ_INT(got.row_state, CFS_ROW_OK);
	T_EQ_INT(cfs_links_approve(l, r.id, "carol", NOW, NULL, NULL, &err), -EALREADY);
	T_EQ_INT(cfs_links_revoke(l, r.id, "root", "done", NOW, &err), 0);
	T_EQ_INT(cfs_links_get(l, r.id, &got, &err), 0);
	T_EQ_INT(got.row_state, CFS_ROW_OK);
	T_EQ_INT(got.revoked_at, NOW);
	/* as policy.c sees it */
	struct cfs_grant gv;
	cfs_link_as_grant(&got, &gv);
	T_EQ_INT(gv.link, 1);
	T_EQ_INT(gv.kind, CFS_SUBJ_ANY);
	T_EQ_INT(gv.max_opens, 2);
	T_EQ_INT(gv.approved_at, NOW + 3);
	T_EQ_STR(gv.approved_by, "carol");
	T_EQ_STR(gv.granted_by, "root");
	cfs_links_close(l);
	cfs_grants_close(g);
}

static void test_links_seal_legacy(void)
{
	struct cfs_err err = { "" };
	struct cfs_link got;
	int64_t sealed = -1;
	fresh_db();
	/* links as the first format wrote them: no approval, no MAC columns */
	T_EQ_INT(raw_sql("CREATE TABLE links (id INTEGER PRIMARY KEY, token_hash BLOB NOT NULL UNIQUE, "
			 "path TEXT NOT NULL, user TEXT NOT NULL, uid INTEGER NOT NULL, start INTEGER "
			 "NOT NULL, \"end\" INTEGER NOT NULL, uses INTEGER NOT NULL, used INTEGER NOT "
			 "NULL DEFAULT 0, issued_by TEXT NOT NULL, created INTEGER NOT NULL, revoked_at "
			 "INTEGER, revoked_by TEXT, revoke_reason TEXT);"
			 "INSERT INTO links VALUES(1, randomblob(32), '/a', 'alice', 1001, 1, "
			 "99999999999, 3, 1, 'root', 1, NULL, NULL, NULL);"
			 "INSERT INTO links VALUES(2, randomblob(32), '/b', '', -1, 1, 99999999999, 1, 0, "
			 "'root', 1, NULL, NULL, NULL);"), SQLITE_OK);
	struct cfs_links *nk = NULL;
	T_EQ_INT(cfs_links_open(dbpath, &nk, &err), 0);
	if (nk) {
		T_EQ_INT(cfs_links_seal_legacy(nk, &sealed, &err), -EPERM);
		cfs_links_close(nk);
	}
	struct cfs_links *l = open_links_db();
	if (!l) {
		T_CHECK(0);
		return;
	}
	T_EQ_INT(cfs_links_get(l, 1, &got, &err), 0);
	T_EQ_INT(got.row_state, CFS_ROW_UNSEALED);
	T_EQ_INT(raw_sql("UPDATE links SET mac = randomblob(32) WHERE id = 2"), SQLITE_OK);
	T_EQ_INT(cfs_links_seal_legacy(l, &sealed, &err), 0);
	T_EQ_INT(sealed, 1); /* the row with a (bad) MAC is left alone */
	T_EQ_INT(cfs_links_get(l, 1, &got, &err), 0);
	T_EQ_INT(got.row_state, CFS_ROW_OK);
	T_EQ_INT(got.used, 1);
	T_EQ_INT(got.approved_at, 0);
	T_EQ_INT(cfs_links_get(l, 2, &got, &err), 0);
	T_EQ_INT(got.row_state, CFS_ROW_BADMAC);
	T_EQ_INT(cfs_links_seal_legacy(l, &sealed, &err), 0);
	T_EQ_INT(sealed, 0);
	cfs_links_close(l);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/cfs-grants-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dbpath, sizeof dbpath, "%s/policy.db", dir);
	NOW = cfs_now_s();
	T_RUN(test_open_and_meta);
	T_RUN(test_add_get);
	T_RUN(test_add_hook);
	T_RUN(test_list_filter);
	T_RUN(test_revoke);
	T_RUN(test_snapshot_refresh);
	T_RUN(test_snapshot_outlives_handle);
	T_RUN(test_count_open);
	T_RUN(test_count_open_atomic);
	T_RUN(test_hostile_rows);
	T_RUN(test_hostile_opens);
	T_RUN(test_forged_rows);
	T_RUN(test_opens_tamper);
	T_RUN(test_approve);
	T_RUN(test_seal_legacy);
	T_RUN(test_links_sealed);
	T_RUN(test_links_seal_legacy);
	fresh_db();
	rmdir(dir);
	T_END();
}
