/* test_place.c — access.c's places on a real (temporary) store without a
 * mount: directories made with their sidecars and ids, files bound to
 * (parent id, name), the effective policy's chain proving the parent id,
 * and a rename interrupted between the rename and the header rewrite (the
 * crash the intents exist for): the entry's first use finds its old place in
 * the record, accepts it once, rebinds it and clears the intent; without an
 * intent the same move is refused. */
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coachfs/access.h"
#include "coachfs/config.h"
#include "coachfs/content.h"
#include "coachfs/crypto.h"
#include "coachfs/state.h"
#include "coachfs/store.h"

static char g_dir[64];
static struct cfs_ctx g_c;
static int g_tree = -1;

static int setup(void)
{
	struct cfs_err e = { "" };
	char p[256];
	snprintf(g_dir, sizeof g_dir, "/tmp/cfs-test-place.XXXXXX");
	if (!mkdtemp(g_dir) || cfs_crypto_init(&e) < 0)
		return -1;
	snprintf(p, sizeof p, "%s/store", g_dir);
	if (cfs_store_init(p, &e) < 0)
		return -1;
	char hdr[300];
	cfs_store_header_path(p, hdr, sizeof hdr);
	if (cfs_store_create(hdr, "pw", 2, CFS_AEAD_XCHACHA, 12, CFS_KDF_INTERACTIVE, &g_c.keys, &e) < 0 ||
	    cfs_store_open(p, g_c.keys, &g_c.store, &e) < 0)
		return -1;
	snprintf(p, sizeof p, "%s/state.db", g_dir);
	if (cfs_state_open(p, g_c.keys, 1, &g_c.state, &e) < 0)
		return -1;
	snprintf(p, sizeof p, "%s/c.ini", g_dir);
	FILE *f = fopen(p, "w");
	if (!f)
		return -1;
	fprintf(f, "[store]\npath = %s/store\n[policy]\ndb = %s/p.db\ndefault_class = internal\n"
		"[audit]\ndb = %s/a.db\n[roles]\nstaff = alice\n[class.internal]\nroles = staff\n", g_dir, g_dir,
		g_dir);
	fclose(f);
	if (cfs_config_load(p, &g_c.cfg, &e) < 0)
		return -1;
	snprintf(p, sizeof p, "%s/store/tree", g_dir);
	g_tree = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct cfs_bind rb;
	static const unsigned char zero[CFS_FILE_ID_BYTES];
	cfs_bind_set(&rb, zero, "", CFS_KIND_DIR);
	return g_tree >= 0 && cfs_sidecar_write_at(g_tree, g_c.keys, NULL, &rb, NULL, 1, NULL, 0, &e) == 0 ? 0 : -1;
}

static int tree_path(char *out, size_t cap, const char *mpath)
{
	return snprintf(out, cap, "%s/store/tree%s", g_dir, mpath) < (int)cap ? 0 : -1;
}

/* A file at mount path `path` in directory `dir` (made by the daemon's way). */
static int make_file(const char *dir, const char *path, const char *text)
{
	struct cfs_err e = { "" };
	struct cfs_bind b;
	unsigned char pid[CFS_FILE_ID_BYTES];
	char p[512];
	struct cfs_file *f = NULL;
	if (cfs_dir_id_claimed(&g_c, dir, pid) < 0 || cfs_bind_set(&b, pid, strrchr(path, '/') + 1, CFS_KIND_FILE) < 0)
		return -1;
	tree_path(p, sizeof p, path);
	int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int rc = fd < 0 ? -1 : cfs_content_create_b(fd, g_c.keys, &b, g_c.state, NULL, 1, NULL, 0, NULL, &f, &e);
	if (rc == 0) {
		struct cfs_scratch s;
		memset(&s, 0, sizeof s);
		rc = cfs_content_write(f, text, strlen(text), 0, &s, &e) == (ssize_t)strlen(text) ? 0 : -1;
		cfs_scratch_free(&s);
		cfs_content_close(f);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

static int mkdir_at(const char *parent, const char *leaf)
{
	struct cfs_err e = { "" };
	unsigned char pid[CFS_FILE_ID_BYTES];
	char p[512];
	tree_path(p, sizeof p, parent);
	int d = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int rc = d < 0 || cfs_dir_id_claimed(&g_c, parent, pid) < 0 ? -1
		 : cfs_dir_create(&g_c, d, leaf, pid, NULL, 0, 0755, &e);
	if (d >= 0)
		close(d);
	return rc;
}

/* Open mount path `path` as the daemon does; its plaintext into buf. */
static int open_read(const char *path, char *buf, size_t cap, struct cfs_file **keep)
{
	struct cfs_err e = { "" };
	char p[512];
	struct cfs_file *f = NULL;
	tree_path(p, sizeof p, path);
	int fd = open(p, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = cfs_entry_open(&g_c, path, fd, NULL, &f, &e);
	if (rc == 0) {
		struct cfs_scratch s;
		memset(&s, 0, sizeof s);
		ssize_t n = cfs_content_read(f, buf, cap - 1, 0, &s, &e);
		buf[n > 0 ? n : 0] = 0;
		cfs_scratch_free(&s);
		if (keep)
			*keep = f;
		else
			cfs_content_close(f);
		if (keep)
			return fd; /* the caller closes */
	}
	close(fd);
	return rc;
}

static void test_bound_tree(void)
{
	char buf[64], a[512], b[512];
	struct cfs_eff *ef = malloc(sizeof *ef);
	T_EQ_INT(mkdir_at("/", "d1"), 0);
	T_EQ_INT(mkdir_at("/", "d2"), 0);
	T_EQ_INT(mkdir_at("/d1", "sub"), 0);
	T_EQ_INT(make_file("/d1", "/d1/f", "in d1"), 0);
	T_EQ_INT(make_file("/d1/sub", "/d1/sub/g", "in sub"), 0);
	T_EQ_INT(open_read("/d1/f", buf, sizeof buf, NULL), 0);
	T_EQ_STR(buf, "in d1");
	/* the chain from the root proves each parent's id */
	unsigned char d1[CFS_FILE_ID_BYTES];
	T_EQ_INT(cfs_dir_id_claimed(&g_c, "/d1/sub", d1), 0);
	if (ef) {
		T_EQ_INT(cfs_eff_resolve(&g_c, "/d1/sub/g", NULL, 0, ef), 0);
		T_CHECK(memcmp(ef->dir_id, d1, sizeof d1) == 0);
	}
	/* moved in the backing tree, no intent: refused */
	tree_path(a, sizeof a, "/d1/f");
	tree_path(b, sizeof b, "/d2/f");
	T_EQ_INT(rename(a, b), 0);
	T_EQ_INT(open_read("/d2/f", buf, sizeof buf, NULL), -EIO);
	T_EQ_INT(rename(b, a), 0);
	free(ef);
}

static void test_interrupted_rename(void)
{
	struct cfs_err e = { "" };
	struct cfs_bind old;
	char buf[64], a[512], b[512];
	unsigned char id[CFS_FILE_ID_BYTES], par[CFS_FILE_ID_BYTES];
	char name[256];
	/* a file: intent recorded, renamed, "crash" before the rebind */
	T_EQ_INT(cfs_rename_intent(&g_c, "/d1/f", CFS_KIND_FILE, &old, &e), 0);
	T_EQ_STR(old.name, "f");
	tree_path(a, sizeof a, "/d1/f");
	tree_path(b, sizeof b, "/d2/moved");
	T_EQ_INT(rename(a, b), 0);
	int fd = open(b, O_RDONLY | O_CLOEXEC);
	T_EQ_INT(cfs_content_peek_id(fd, id), 0);
	close(fd);
	T_EQ_INT(cfs_state_intent_get(g_c.state, id, par, name, sizeof name, &e), 0);
	T_EQ_INT(open_read("/d2/moved", buf, sizeof buf, NULL), 0);     /* accepted once, rebound */
	T_EQ_STR(buf, "in d1");
	T_EQ_INT(cfs_state_intent_get(g_c.state, id, par, name, sizeof name, &e), -ENOENT);
	struct cfs_bind nb;
	unsigned char meta[CFS_META_MAX];
	size_t ml;
	T_EQ_INT(cfs_entry_bind(&g_c, "/d2/moved", CFS_KIND_FILE, &nb), 0);
	fd = open(b, O_RDONLY | O_CLOEXEC);
	T_EQ_INT(cfs_content_meta_b(fd, g_c.keys, &nb, g_c.state, meta, &ml, NULL, NULL, &e), 0);
	T_EQ_INT(cfs_content_meta_b(fd, g_c.keys, &old, g_c.state, meta, &ml, NULL, NULL, &e), -EIO);
	close(fd);
	/* moved back now: the intent is gone, so the old place no longer opens it */
	T_EQ_INT(rename(b, a), 0);
	T_EQ_INT(open_read("/d1/f", buf, sizeof buf, NULL), -EIO);
	T_EQ_INT(rename(a, b), 0);

	/* a directory: its sidecar rebinds on first use, its children untouched */
	T_EQ_INT(cfs_rename_intent(&g_c, "/d1/sub", CFS_KIND_DIR, &old, &e), 0);
	tree_path(a, sizeof a, "/d1/sub");
	tree_path(b, sizeof b, "/d2/sub2");
	T_EQ_INT(rename(a, b), 0);
	T_EQ_INT(cfs_dir_meta_load(&g_c, "/d2/sub2", meta, &ml), 0);
	T_EQ_INT(ml, 0);
	T_EQ_INT(open_read("/d2/sub2/g", buf, sizeof buf, NULL), 0);
	T_EQ_STR(buf, "in sub");
	struct cfs_eff *ef = malloc(sizeof *ef);
	if (ef) {
		T_EQ_INT(cfs_eff_resolve(&g_c, "/d2/sub2/g", NULL, 0, ef), 0);
		free(ef);
	}
	/* and through the daemon's path: rebind right after the rename */
	T_EQ_INT(cfs_rename_intent(&g_c, "/d2/sub2", CFS_KIND_DIR, &old, &e), 0);
	tree_path(a, sizeof a, "/d2/sub2");
	tree_path(b, sizeof b, "/d1/sub3");
	T_EQ_INT(rename(a, b), 0);
	T_EQ_INT(cfs_dir_rebind(&g_c, "/d1/sub3", &old, &e), 0);
	T_EQ_INT(cfs_dir_meta_load(&g_c, "/d1/sub3", meta, &ml), 0);
	T_EQ_INT(open_read("/d1/sub3/g", buf, sizeof buf, NULL), 0);
	T_EQ_STR(buf, "in sub");
}

int main(void)
{
	if (setup() < 0) {
		printf("FAIL test_place.setup: cannot make a store in %s\n", g_dir);
		return 1;
	}
	T_RUN(test_bound_tree);
	T_RUN(test_interrupted_rename);
	cfs_state_close(g_c.state);
	cfs_config_free(g_c.cfg);
	cfs_store_close(g_c.store);
	cfs_keys_free(g_c.keys);
	close(g_tree);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
	if (system(cmd) != 0)
		printf("FAIL test_place.cleanup: %s\n", g_dir);
	T_END();
}
