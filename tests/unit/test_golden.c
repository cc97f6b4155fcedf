/* test_golden.c — the committed golden v2 store (tests/golden/v2, made once
 * by the store-format-2 code) read through the library alone, no mount and
 * no tools: the store header and unlock, every plaintext, attribute block,
 * effective class and header version (against the integrity record), every
 * policy.db row and its MAC, the link token's hash, and the audit chain and
 * checkpoints under the committed public key. An incompatible change to any
 * of those formats fails here: add tests/golden/v3 then, never regenerate v2.
 * It never writes the fixture: the databases are opened as copies in a
 * temporary directory. CFS_GOLDEN names another copy of v2 (to show that a
 * damaged one fails); by default tests/golden/v2 from the source tree. */
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coachfs/audit.h"
#include "coachfs/config.h"
#include "coachfs/content.h"
#include "coachfs/crypto.h"
#include "coachfs/grants.h"
#include "coachfs/links.h"
#include "coachfs/policy.h"
#include "coachfs/state.h"
#include "coachfs/store.h"

/* Grants start 2026-12-01T00:00:00Z and end 2099-01-01T00:00:00Z. */
#define G_START 1796083200
#define G_END 4070908800

/* The fixture as this test holds it: the committed directory, the copies,
 * and what is opened from them. Set up once in main, read by every test. */
struct golden {
	char dir[PATH_MAX];            /* the committed fixture */
	char tmp[64];                  /* copies of its databases */
	struct cfs_keys *keys;
	struct cfs_config *cfg;
	struct cfs_state *state;
	struct cfs_scratch scratch;
};
static struct golden G;

static void gpath(char *buf, size_t cap, const char *base, const char *rel)
{
	int n = snprintf(buf, cap, "%s/%s", base, rel);
	if (n < 0 || (size_t)n >= cap)
		buf[0] = 0;   /* opens nothing: the check that uses it fails */
}

/* Read a whole small file into buf (NUL-terminated). 0 or -errno. */
static int slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, cap - 1);
	int rc = n < 0 ? -errno : (size_t)n == cap - 1 ? -EFBIG : 0;
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return rc;
}

static int copy_file(const char *src, const char *dst)
{
	static char buf[1 << 20];
	int in = open(src, O_RDONLY | O_CLOEXEC), out, rc = 0;
	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = -errno;
		close(in);
		return rc;
	}
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = -EIO;
			break;
		}
	if (n < 0)
		rc = -errno;
	close(in);
	if (close(out) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* The configuration the fixture was made with, @DIR@ standing for the copy. */
static int load_config(struct cfs_err *e)
{
	char p[PATH_MAX], in[4096], text[8192];
	gpath(p, sizeof p, G.dir, "coachfs.ini.in");
	int rc = slurp(p, in, sizeof in);
	if (rc < 0)
		return cfs_errf(e, rc, "%s: %s", p, strerror(-rc));
	size_t o = 0;
	for (const char *s = in; *s && o < sizeof text - 1;) {
		if (!strncmp(s, "@DIR@", 5)) {
			o += (size_t)snprintf(text + o, sizeof text - o, "%s", G.tmp);
			s += 5;
		} else {
			text[o++] = *s++;
		}
	}
	text[o < sizeof text ? o : sizeof text - 1] = 0;
	return cfs_config_parse(text, "coachfs.ini.in", &G.cfg, e);
}

static int unlock(struct cfs_err *e)
{
	char p[PATH_MAX], *pass;
	size_t len;
	gpath(p, sizeof p, G.dir, "passphrase");
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cfs_errf(e, -errno, "%s: %s", p, strerror(errno));
	int rc = cfs_pass_read_fd(fd, p, &pass, &len, e);
	close(fd);
	if (rc < 0)
		return rc;
	gpath(p, sizeof p, G.dir, "store/" CFS_STORE_HEADER);
	rc = cfs_store_unlock(p, pass, len, &G.keys, e);
	cfs_pass_free(pass, len);
	return rc;
}

static const char *const DBS[] = { "policy.db", "audit.db", "state.db" };

static int setup(struct cfs_err *e)
{
	const char *env = getenv("CFS_GOLDEN");
	snprintf(G.dir, sizeof G.dir, "%s", env && *env ? env : "tests/golden/v2");
	snprintf(G.tmp, sizeof G.tmp, "/tmp/cfs-golden.XXXXXX");
	if (!mkdtemp(G.tmp))
		return cfs_errf(e, -errno, "mkdtemp: %s", strerror(errno));
	char var[96];
	snprintf(var, sizeof var, "%s/var", G.tmp);
	if (mkdir(var, 0700) < 0)
		return cfs_errf(e, -errno, "%s: %s", var, strerror(errno));
	for (size_t i = 0; i < sizeof DBS / sizeof *DBS; i++) {
		char src[PATH_MAX], dst[128], rel[32];
		snprintf(rel, sizeof rel, "var/%s", DBS[i]);
		gpath(src, sizeof src, G.dir, rel);
		gpath(dst, sizeof dst, G.tmp, rel);
		int rc = copy_file(src, dst);
		if (rc < 0)
			return cfs_errf(e, rc, "copy %s: %s", src, strerror(-rc));
	}
	int rc = cfs_crypto_init(e);
	if (rc == 0)
		rc = load_config(e);
	if (rc == 0)
		rc = unlock(e);
	if (rc == 0)
		rc = cfs_state_open(G.cfg->state_db, G.keys, 0, &G.state, e);
	return rc;
}

static void teardown(void)
{
	cfs_scratch_free(&G.scratch);
	cfs_state_close(G.state);
	cfs_keys_free(G.keys);
	cfs_config_free(G.cfg);
	for (size_t i = 0; i < sizeof DBS / sizeof *DBS; i++) {
		char p[160];
		snprintf(p, sizeof p, "%s/var/%s", G.tmp, DBS[i]);
		t_rm_db(p);
	}
	char p[96];
	snprintf(p, sizeof p, "%s/var", G.tmp);
	rmdir(p);
	rmdir(G.tmp);
}

/* ---- the store: header, tree, attributes ---- */

static void store_header(void)
{
	char p[PATH_MAX];
	unsigned char buf[CFS_STORE_HDR_SIZE + 1];
	struct cfs_store_hdr h;
	struct cfs_err e = { "" };
	gpath(p, sizeof p, G.dir, "store/" CFS_STORE_HEADER);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
	if (fd >= 0)
		close(fd);
	T_EQ_INT(n, CFS_STORE_HDR_SIZE);
	T_EQ_INT(cfs_store_hdr_parse(buf, CFS_STORE_HDR_SIZE, &h, &e), 0);
	T_EQ_INT(h.version, 2);
	T_EQ_INT(h.aead, CFS_AEAD_XCHACHA);
	T_EQ_INT(h.chunk_log2, 12);
	T_CHECK(h.slot[0].used == 1 && h.slot[1].used == 0);
	T_CHECK(G.keys->aead == CFS_AEAD_XCHACHA && G.keys->chunk_log2 == 12);
	/* the committed configuration still parses to what it said */
	T_EQ_STR(G.cfg->default_class, "internal");
	const struct cfs_class *s = cfs_config_class(G.cfg, "secret");
	T_CHECK(s && s->grant && s->approval == CFS_APPROVAL_TWO_PERSON && s->max_ttl == 36500LL * 86400 &&
		s->max_opens == 50);
}

/* One entry of the tree, authenticated in its place. */
struct ent {
	unsigned char id[CFS_FILE_ID_BYTES];
	unsigned char meta[CFS_META_MAX];
	size_t len;
	uint64_t version;
	char cls[CFS_NAME_MAX];        /* effective class */
};

/* The class an entry's attribute block gives it, else inherited. */
static void eff_class(struct ent *x, const char *inherited)
{
	const unsigned char *v;
	size_t vl;
	if (cfs_meta_get(x->meta, x->len, CFS_XATTR_PREFIX "class", &v, &vl) == 0 && vl < sizeof x->cls) {
		memcpy(x->cls, v, vl);
		x->cls[vl] = 0;
	} else {
		snprintf(x->cls, sizeof x->cls, "%s", inherited);
	}
}

/* The sidecar of the directory open at dfd, bound to (parent, name). */
static int load_sidecar(int dfd, const unsigned char *parent, const char *name, const char *inherited,
			struct ent *out, struct cfs_err *e)
{
	struct cfs_bind b;
	int rc = cfs_bind_set(&b, parent, name, CFS_KIND_DIR);
	if (rc < 0)
		return rc;
	int fd = openat(dfd, CFS_DIR_SIDECAR, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cfs_errf(e, -errno, "%s: no sidecar", name);
	rc = cfs_content_meta_b(fd, G.keys, &b, NULL, out->meta, &out->len, out->id, &out->version, e);
	close(fd);
	if (rc == 0)
		eff_class(out, inherited);
	return rc;
}

/* Walk from the root to directory `dir` ("/" or "/a/b/"), authenticating
 * each sidecar in its place: *dfd (O_PATH, the caller closes it) and out
 * get dir's. 0 or a negative errno. */
static int walk_dir(const char *dir, int *dfd, struct ent *out, struct cfs_err *e)
{
	static const unsigned char zero[CFS_FILE_ID_BYTES];
	char tree[PATH_MAX], comp[256];
	gpath(tree, sizeof tree, G.dir, "store/" CFS_STORE_TREE);
	int fd = open(tree, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cfs_errf(e, -errno, "%s: %s", tree, strerror(errno));
	int rc = load_sidecar(fd, zero, "", G.cfg->default_class, out, e);
	for (const char *s = dir + 1; rc == 0 && *s;) {
		size_t n = strcspn(s, "/");
		if (n == 0 || n >= sizeof comp) {
			rc = -EINVAL;
			break;
		}
		memcpy(comp, s, n);
		comp[n] = 0;
		s += n + (s[n] == '/');
		int sub = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if ((fd = sub) < 0)
			return cfs_errf(e, -errno, "%s: %s", comp, strerror(errno));
		struct ent parent = *out;
		rc = load_sidecar(fd, parent.id, comp, parent.cls, out, e);
	}
	if (rc < 0)
		close(fd);
	else
		*dfd = fd;
	return rc;
}

/* Open file `path` bound to its place; *fd (the caller closes it) and *f
 * (cfs_content_release) on success; dir gets its directory's entry. */
static int open_file(const char *path, int *fd, struct cfs_file **f, struct ent *dir, struct cfs_err *e)
{
	char d[PATH_MAX];
	const char *leaf = strrchr(path, '/');
	if (!leaf || (size_t)(leaf - path) + 2 > sizeof d)
		return -EINVAL;
	memcpy(d, path, (size_t)(leaf - path) + 1);
	d[leaf - path + 1] = 0;
	leaf++;
	int dfd, rc = walk_dir(d, &dfd, dir, e);
	if (rc < 0)
		return rc;
	struct cfs_bind b;
	*fd = openat(dfd, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dfd);
	if (*fd < 0)
		return cfs_errf(e, -errno, "%s: %s", path, strerror(errno));
	if ((rc = cfs_bind_set(&b, dir->id, leaf, CFS_KIND_FILE)) == 0)
		rc = cfs_content_open_b(*fd, G.keys, &b, NULL, &G.scratch, f, e);
	if (rc < 0)
		close(*fd);
	return rc;
}

/* SHA-256 (hex) of the whole plaintext, every chunk's tag checked. */
static int plain_sha256(struct cfs_file *f, char hex[65], struct cfs_err *e)
{
	unsigned char buf[64 * 1024], sum[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state h;
	off_t off = 0;
	ssize_t n;
	int rc = cfs_content_verify(f, &G.scratch, e);
	if (rc < 0)
		return rc;
	crypto_hash_sha256_init(&h);
	while ((n = cfs_content_read(f, buf, sizeof buf, off, &G.scratch, e)) > 0) {
		crypto_hash_sha256_update(&h, buf, (size_t)n);
		off += n;
	}
	crypto_hash_sha256_final(&h, sum);
	sodium_memzero(buf, sizeof buf);
	sodium_bin2hex(hex, 65, sum, sizeof sum);
	return n < 0 ? (int)n : 0;
}

/* One line of expected.txt: a file's class and plaintext hash. */
static void expect_file(const char *path, const char *cls, const char *sum)
{
	struct cfs_err e = { "" };
	struct cfs_file *f = NULL;
	struct ent dir;
	char hex[65] = "", what[PATH_MAX + 64];
	int fd = -1, rc = open_file(path, &fd, &f, &dir, &e);
	if (rc == 0)
		rc = plain_sha256(f, hex, &e);
	snprintf(what, sizeof what, "%s: %d %s", path, rc, e.msg);
	T_EQ_STR(rc == 0 ? "ok" : what, "ok");
	if (f) {
		struct ent x;
		memcpy(x.meta, f->meta, f->meta_len);
		x.len = f->meta_len;
		eff_class(&x, dir.cls);
		snprintf(what, sizeof what, "%s %s %s", path, x.cls, hex);
		cfs_content_release(f, &G.scratch);
	}
	if (fd >= 0)
		close(fd);
	char want[PATH_MAX + 128];
	snprintf(want, sizeof want, "%s %s %s", path, cls, sum);
	T_EQ_STR(what, want);
}

static void expect_dir(const char *path, const char *cls)
{
	struct cfs_err e = { "" };
	struct ent d;
	int fd, rc = walk_dir(path, &fd, &d, &e);
	T_EQ_STR(rc == 0 ? d.cls : e.msg, cls);
	if (rc == 0)
		close(fd);
}

static void expect_symlink(const char *path, const char *target)
{
	char p[PATH_MAX], t[PATH_MAX], rel[PATH_MAX];
	snprintf(rel, sizeof rel, "store/" CFS_STORE_TREE "%.4000s", path);
	gpath(p, sizeof p, G.dir, rel);
	ssize_t n = readlink(p, t, sizeof t - 1);
	t[n > 0 ? n : 0] = 0;
	T_EQ_STR(t, target);
	T_EQ_INT(cfs_store_link_ok(path, t), 0);
}

/* Every line of expected.txt, as a mount shows it, read from the format. */
static void expected_txt(void)
{
	char p[PATH_MAX], line[PATH_MAX + 160];
	int lines = 0;
	gpath(p, sizeof p, G.dir, "expected.txt");
	FILE *fp = fopen(p, "re");
	T_CHECK(fp != NULL);
	while (fp && fgets(line, sizeof line, fp)) {
		char path[PATH_MAX], a[CFS_NAME_MAX], b[PATH_MAX];
		int n = sscanf(line, "%4095s %63s %4095s", path, a, b);
		lines++;
		if (n == 2 && path[strlen(path) - 1] == '/')
			expect_dir(path, a);
		else if (n == 3 && !strcmp(a, "->"))
			expect_symlink(path, b);
		else if (n == 3)
			expect_file(path, a, b);
		else
			T_FAILF("expected.txt: line %d does not parse", lines);
	}
	if (fp)
		fclose(fp);
	T_EQ_INT(lines, 13);
}

/* An attribute block as "name=value;name=value" in stored order. */
static void render_meta(const unsigned char *meta, size_t len, char *out, size_t cap)
{
	char names[CFS_META_MAX];
	ssize_t n = cfs_meta_list(meta, len, names, sizeof names);
	size_t o = 0;
	out[0] = 0;
	for (ssize_t i = 0; n > 0 && i < n && (size_t)n <= sizeof names; i += (ssize_t)strlen(names + i) + 1) {
		const unsigned char *v;
		size_t vl;
		if (cfs_meta_get(meta, len, names + i, &v, &vl) < 0)
			vl = 0;
		int w = snprintf(out + o, cap - o, "%s%s=%.*s", o ? ";" : "", names + i, (int)vl, (const char *)v);
		if (w < 0 || (size_t)w >= cap - o)
			break;
		o += (size_t)w;
	}
}

/* Every sidecar and file: its exact attribute block and header version,
 * and what the integrity record holds for its id: that version, or nothing
 * (0) for a header still at version 1, the lowest there is. */
static const struct {
	const char *path, *attrs;
	uint64_t version, recorded;
} ENTRIES[] = {
	{ "/", "", 1, 0 },
	{ "/playbooks/", "", 1, 0 },
	{ "/playbooks/ransomware/", "", 1, 0 },
	{ "/secret/", "user.coachfs.class=secret", 2, 2 },
	{ "/notes/", "", 1, 0 },
	{ "/readme.txt", "", 1, 0 },
	{ "/empty.txt", "", 1, 0 },
	{ "/playbooks/big.md", "", 1, 0 },
	{ "/playbooks/ransomware/contain.md", "", 1, 0 },
	{ "/playbooks/ransomware/eradicate.md", "", 1, 0 },
	{ "/secret/plan.md", "", 1, 0 },
	{ "/notes/handoff.txt", "user.note=a user attribute", 2, 2 },
	{ "/notes/own.txt", "user.coachfs.class=sensitive;user.coachfs.export=deny;user.coachfs.max_opens=5", 4, 4 },
};

/* The one-row, one-column text answer of query on the database at path
 * (read-only), or the error. */
static const char *sql_counts(const char *path, const char *query)
{
	static char out[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	snprintf(out, sizeof out, "error");
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, query, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, sizeof out, "%s", (const char *)sqlite3_column_text(st, 0));
	else
		snprintf(out, sizeof out, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

static int load_entry(const char *path, struct ent *x, struct cfs_err *e)
{
	int fd, rc;
	if (path[strlen(path) - 1] == '/') {
		if ((rc = walk_dir(path, &fd, x, e)) == 0)
			close(fd);
		return rc;
	}
	struct cfs_file *f;
	struct ent dir;
	if ((rc = open_file(path, &fd, &f, &dir, e)) < 0)
		return rc;
	memcpy(x->id, f->id, sizeof x->id);
	memcpy(x->meta, f->meta, f->meta_len);
	x->len = f->meta_len;
	x->version = f->version;
	cfs_content_release(f, &G.scratch);
	close(fd);
	return 0;
}

static void attributes_and_versions(void)
{
	for (size_t i = 0; i < sizeof ENTRIES / sizeof *ENTRIES; i++) {
		struct cfs_err e = { "" };
		struct ent x;
		char got[CFS_META_MAX * 2], want[CFS_META_MAX * 2];
		uint64_t rec = 0;
		int rc = load_entry(ENTRIES[i].path, &x, &e);
		if (rc == 0)
			rc = cfs_state_get(G.state, x.id, &rec, &e);
		if (rc == 0) {
			render_meta(x.meta, x.len, want, sizeof want);
			snprintf(got, sizeof got, "%s v%llu rec%llu [%s]", ENTRIES[i].path,
				 (unsigned long long)x.version, (unsigned long long)rec, want);
		} else {
			snprintf(got, sizeof got, "%s: %d %s", ENTRIES[i].path, rc, e.msg);
		}
		snprintf(want, sizeof want, "%s v%llu rec%llu [%s]", ENTRIES[i].path,
			 (unsigned long long)ENTRIES[i].version, (unsigned long long)ENTRIES[i].recorded,
			 ENTRIES[i].attrs);
		T_EQ_STR(got, want);
	}
	/* and the record holds nothing else: three versions, no rename in flight */
	T_EQ_STR(sql_counts(G.cfg->state_db, "SELECT (SELECT count(*) FROM versions) || ' ' || "
			    "(SELECT count(*) FROM intents)"), "3 0");
}

/* ---- policy.db: grants, open counters, the link ---- */

static struct cfs_grants *open_grants(void)
{
	char p[128];
	struct cfs_grants *db = NULL;
	struct cfs_err e = { "" };
	gpath(p, sizeof p, G.tmp, "var/policy.db");
	int rc = cfs_grants_open(p, 0, &db, &e);
	if (rc == 0)
		rc = cfs_grants_set_key(db, G.keys->rowmac, &e);
	T_EQ_STR(rc == 0 ? "" : e.msg, "");
	return rc == 0 ? db : NULL;
}

/* One grant as "id subject kind ugid role path write start end max_opens
 * granted_by approved_by approved? revoked_by|revoke_reason reason state". */
static void grant_line(struct cfs_grants *db, int64_t id, char *out, size_t cap)
{
	struct cfs_grant_rec r;
	struct cfs_err e = { "" };
	int rc = cfs_grants_get(db, id, &r, &e);
	if (rc < 0) {
		snprintf(out, cap, "grant %lld: %d %s", (long long)id, rc, e.msg);
		return;
	}
	snprintf(out, cap, "%lld %s %d %u %s %s %d %lld %lld %u %s %s %s %s|%s %s %s", (long long)r.g.id,
		 r.subject, (int)r.g.kind, r.g.ugid, r.role, r.path, r.g.write, (long long)r.g.start,
		 (long long)r.g.end, r.g.max_opens, r.granted_by, r.approved_by[0] ? r.approved_by : "-",
		 r.approved_at > r.created ? "approved" : r.approved_at ? "approved-early" : "pending",
		 r.g.revoked_at > r.created ? r.revoked_by : "-", r.revoke_reason, r.reason,
		 cfs_row_state_name(r.row_state));
}

static int count_rows(const struct cfs_grant_rec *rec, void *arg)
{
	int *n = arg;
	n[0]++;
	n[1] += rec->row_state == CFS_ROW_OK;
	return 0;
}

static void policy_db_grants(void)
{
	struct cfs_grants *db = open_grants();
	if (!db)
		return;
	static const char *const want[] = {
		"1 cfs_gold 1 64201  /notes 0 1796083200 4070908800 0 root - pending -| golden plain grant valid",
		"2 cfs_gold 1 64201  /secret 0 1796083200 4070908800 0 root cfs_goldadm approved -| "
		"golden two-person grant valid",
		"3 role:contractor 3 0 contractor /notes/own.txt 1 1796083200 4070908800 0 root - pending "
		"root|golden revocation golden revoked grant valid",
	};
	char got[1024], fmt[32];
	for (int i = 0; i < 3; i++) {
		grant_line(db, i + 1, got, sizeof got);
		T_EQ_STR(got, want[i]);
	}
	struct cfs_err e = { "" };
	struct cfs_grants_filter f = { 0, 0, NULL, NULL };
	int n[2] = { 0, 0 };
	T_EQ_INT(cfs_grants_list(db, &f, count_rows, n, &e), 0);
	T_EQ_INT(n[0], 3);
	T_EQ_INT(n[1], 3);
	T_EQ_INT(cfs_grants_meta_get(db, "format", fmt, sizeof fmt, &e), 0);
	T_EQ_STR(fmt, "1");
	/* the open counters, each MAC-checked: one open per grant in make.sh */
	uint32_t used = 99;
	T_EQ_INT(cfs_grants_opens(db, 1, "/notes/own.txt", &used, &e), 0);
	T_EQ_INT(used, 1);
	T_EQ_INT(cfs_grants_opens(db, 2, "/secret/plan.md", &used, &e), 0);
	T_EQ_INT(used, 1);
	T_EQ_INT(cfs_grants_opens(db, 1, "/notes/handoff.txt", &used, &e), 0);
	T_EQ_INT(used, 0);
	cfs_grants_close(db);
}

static void policy_db_link(void)
{
	char p[128], token[64];
	struct cfs_links *l = NULL;
	struct cfs_link r;
	struct cfs_err e = { "" };
	unsigned char h[CFS_LINK_HASH_BYTES];
	gpath(p, sizeof p, G.tmp, "var/policy.db");
	int rc = cfs_links_open(p, &l, &e);
	if (rc == 0)
		rc = cfs_links_set_key(l, G.keys->rowmac, &e);
	if (rc == 0)
		rc = cfs_links_get(l, 1, &r, &e);
	T_EQ_STR(rc == 0 ? "" : e.msg, "");
	if (rc == 0) {
		T_EQ_STR(cfs_row_state_name(r.row_state), "valid");
		T_EQ_STR(r.path, "/playbooks/big.md");
		T_EQ_STR(r.user, "cfs_gold");
		T_EQ_INT(r.uid, 64201);
		T_EQ_INT(r.uses, 1000);
		T_EQ_INT(r.used, 1);
		T_EQ_STR(r.issued_by, "root");
		T_EQ_INT(r.revoked_at, 0);
		T_EQ_INT(r.end - r.start, 26000LL * 86400);
		/* the committed token hashes, under the store's link key, to the row's hash */
		gpath(p, sizeof p, G.dir, "link-token");
		T_EQ_INT(slurp(p, token, sizeof token), 0);
		token[strcspn(token, "\n")] = 0;
		T_EQ_INT(cfs_link_token_hash(G.keys->link, token, h), 0);
		T_CHECK(sodium_memcmp(h, r.hash, sizeof h) == 0);
	}
	T_EQ_INT(cfs_links_get(l, 2, &r, &e), -ENOENT);
	cfs_links_close(l);
}

/* ---- audit.db: chain, checkpoints, the signing key ---- */

static int open_row(const struct cfs_audit_row *row, void *arg)
{
	char *out = arg;
	size_t o = strlen(out);
	snprintf(out + o, 1024 - o, "%lld %s %s %s %lld;", (long long)row->id, row->ev.user ? row->ev.user : "-",
		 row->ev.path ? row->ev.path : "-", row->ev.result ? row->ev.result : "-",
		 (long long)(row->ev.grant_id == CFS_AUDIT_NONE ? 0 : row->ev.grant_id));
	return 0;
}

static void audit_db(void)
{
	char p[PATH_MAX], db[128], opens[1024] = "";
	unsigned char pk[CFS_AUDIT_PK_BYTES], mine[CFS_AUDIT_PK_BYTES], *sk = sodium_malloc(CFS_AUDIT_SK_BYTES);
	struct cfs_err e = { "" };
	struct cfs_verify_report rep;
	gpath(p, sizeof p, G.dir, "var/audit.db.pub");
	gpath(db, sizeof db, G.tmp, "var/audit.db");
	T_EQ_INT(cfs_audit_read_pubkey(p, pk, &e), 0);
	/* the committed public key is the one the store's keys derive */
	T_CHECK(sk != NULL);
	if (sk) {
		cfs_audit_keypair(G.keys, mine, sk);
		T_CHECK(memcmp(pk, mine, sizeof pk) == 0);
		sodium_free(sk);
	}
	int rc = cfs_audit_verify(db, pk, &rep, &e);
	T_EQ_STR(rc == 0 ? "" : e.msg, "");
	T_EQ_INT(rep.rows, 48);
	T_EQ_INT(rep.checkpoints, 3);
	T_EQ_INT(rep.checkpoints_v1, 0);
	T_EQ_INT(rep.last_sealed_id, 48);
	T_EQ_INT(rep.unsealed, 0);
	T_EQ_INT(rep.has_head, 1);
	T_EQ_INT(rep.head.seq, 3);
	struct cfs_audit *a = NULL;
	struct cfs_audit_filter f;
	cfs_audit_filter_init(&f);
	f.has_action = 1;
	f.action = CFS_ACT_OPEN;
	if (cfs_audit_open_ro(db, &a, &e) == 0) {
		T_EQ_INT(cfs_audit_query(a, &f, open_row, opens, &e), 0);
		cfs_audit_close(a, &e);
	}
	T_EQ_STR(opens, "33 cfs_gold /readme.txt allow 0;36 cfs_gold /notes/own.txt allow 1;"
		 "39 cfs_gold /secret/plan.md allow 2;45 root /playbooks/big.md allow 0;");
}

int main(void)
{
	struct cfs_err e = { "" };
	int rc = setup(&e);
	if (rc < 0) {
		printf("FAIL test_golden.setup: %s (run from the source tree, or set CFS_GOLDEN)\n", e.msg);
		teardown();
		return 1;
	}
	T_RUN(store_header);
	T_RUN(expected_txt);
	T_RUN(attributes_and_versions);
	T_RUN(policy_db_grants);
	T_RUN(policy_db_link);
	T_RUN(audit_db);
	teardown();
	T_END();
}
