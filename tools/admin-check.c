/* admin-check.c — coach-admin check: verify every file, sidecar and
 * integrity-record entry of a store offline, report leftovers of a crash,
 * and (--clean) remove old temporary files. It reads the store and must never
 * change anything but the temporary files it was asked to clean. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "coachfs/policy.h"
#include "coachfs/sidecar.h"
#include "coachfs/audit.h"
#include "coachfs/config.h"
#include "coachfs/content.h"
#include "coachfs/crypto.h"
#include "coachfs/passphrase.h"
#include "coachfs/grants.h"
#include "coachfs/links.h"
#include "coachfs/state.h"
#include "coachfs/store.h"
#include "tool.h"
#include "admin.h"

#define CLEAN_AGE_S 3600                /* --clean leaves younger temporary files */

struct checker {
	const struct cfs_keys *keys;
	struct cfs_state *state;         /* the integrity record, NULL when there is none */
	struct cfs_scratch scratch;
	long files, bad, dirs, removed;
	int quiet, tty, clean;
	time_t now;
	int64_t last_us;
};

static void progress(struct checker *ck, int final)
{
	if (!ck->tty || ck->quiet || !cfs_progress_due(&ck->last_us, final))
		return;
	fprintf(stderr, "\rchecked %ld files in %ld directories, %ld bad%s", ck->files, ck->dirs, ck->bad,
		final ? "\n" : "");
}

static void bad(struct checker *ck, const char *path, const char *why)
{
	if (ck->tty && !ck->quiet)
		fputc('\r', stderr);
	printf("BAD %s: %s\n", path, why);
	fflush(stdout);
	ck->bad++;
}

/* A header that fails in its place but authenticates in the place the
 * record says it had before a rename: the rename was interrupted, and the
 * daemon finishes it on the entry's next use. 1 if so. */
static int interrupted_rename(struct checker *ck, int fd, int kind)
{
	unsigned char id[CFS_FILE_ID_BYTES], meta[CFS_META_MAX];
	size_t len;
	struct cfs_bind old;
	struct cfs_err e = { "" };
	if (!ck->state || cfs_content_peek_id(fd, id) < 0 ||
	    cfs_state_intent_get(ck->state, id, old.parent, old.name, sizeof old.name, &e) < 0)
		return 0;
	old.kind = kind;
	int ok = cfs_content_meta_b(fd, ck->keys, &old, ck->state, meta, &len, NULL, NULL, &e) == 0;
	sodium_memzero(meta, sizeof meta);
	return ok;
}

static void check_file(struct checker *ck, int dfd, const char *name, const char *path,
		       const unsigned char dir_id[CFS_FILE_ID_BYTES])
{
	struct cfs_err e = { "" };
	struct cfs_file *f;
	struct cfs_bind b;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		bad(ck, path, strerror(errno));
		return;
	}
	if (cfs_bind_set(&b, dir_id, name, CFS_KIND_FILE) < 0) {
		bad(ck, path, "name too long");
	} else if (cfs_content_open_b(fd, ck->keys, &b, ck->state, &ck->scratch, &f, &e) < 0) {
		if (!interrupted_rename(ck, fd, CFS_KIND_FILE))
			bad(ck, path, e.msg);
	} else {
		if (cfs_content_verify(f, &ck->scratch, &e) < 0)
			bad(ck, path, e.msg);
		cfs_content_release(f, &ck->scratch);
	}
	close(fd);
	ck->files++;
	progress(ck, 0);
}

/* Check the sidecar of the directory open at dfd, bound to b; id gets the
 * directory's id (the one it claims when it fails, so the check goes on). */
static void check_sidecar(struct checker *ck, int dfd, const char *path, const struct cfs_bind *b,
			  unsigned char id[CFS_FILE_ID_BYTES])
{
	unsigned char meta[CFS_META_MAX];
	size_t len;
	struct cfs_err e = { "" };
	memset(id, 0, CFS_FILE_ID_BYTES);
	int fd = openat(dfd, CFS_DIR_SIDECAR, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		bad(ck, path, errno == ENOENT ? "directory has no sidecar (deleted: its class and id are lost)"
			      : strerror(errno));
		return;
	}
	if (cfs_content_meta_b(fd, ck->keys, b, ck->state, meta, &len, id, NULL, &e) < 0) {
		if (!interrupted_rename(ck, fd, CFS_KIND_DIR)) {
			char why[300];
			snprintf(why, sizeof why, "directory sidecar: %s", e.msg);
			bad(ck, path, why);
		}
		cfs_content_peek_id(fd, id);
	}
	sodium_memzero(meta, sizeof meta);
	close(fd);
}

/* Exactly the daemon's temporary-file name: the prefix and 16 lowercase hex. */
int cfs_admin_is_tmp_name(const char *name)
{
	size_t n = sizeof TMP_PREFIX - 1;
	if (strncmp(name, TMP_PREFIX, n) != 0 || strlen(name) != n + 16)
		return 0;
	for (const char *p = name + n; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

/* A directory made (mkdir) or being removed (rmdir) under a temporary
 * name, left by a crash: with --clean, removed when it holds nothing but
 * its sidecar and is old enough. */
static void leftover_tmpdir(struct checker *ck, int dfd, const char *name, const char *path,
			    const struct stat *st)
{
	if (!ck->clean) {
		bad(ck, path, "leftover temporary directory from an interrupted mkdir or rmdir (check --clean "
		    "removes it once empty but for its sidecar and older than an hour)");
		return;
	}
	if (ck->now - st->st_mtime < CLEAN_AGE_S) {
		bad(ck, path, "temporary directory changed within the last hour: a daemon may be making it (left alone)");
		return;
	}
	int d = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *dp = d >= 0 ? fdopendir(d) : NULL;
	int other = !dp;
	struct dirent *de;
	while (dp && (de = readdir(dp)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, CFS_DIR_SIDECAR))
			other = 1;
	if (!other) {
		unlinkat(dirfd(dp), CFS_DIR_SIDECAR, 0);
		other = unlinkat(dfd, name, AT_REMOVEDIR) != 0;
	}
	if (dp)
		closedir(dp);
	else if (d >= 0)
		close(d);
	if (other) {
		bad(ck, path, "leftover temporary directory that is not empty (left alone)");
		return;
	}
	if (ck->tty && !ck->quiet)
		fputc('\r', stderr);
	printf("removed %s: leftover temporary directory from an interrupted mkdir or rmdir\n", path);
	fflush(stdout);
	ck->removed++;
}

/* A leftover temporary file: with --clean, remove it when it is one of ours
 * and old enough; otherwise report it. st is from fstatat without following
 * a symlink, and unlinkat never follows one either. */
static void leftover_tmp(struct checker *ck, int dfd, const char *name, const char *path,
			 const struct stat *st)
{
	time_t touched = st->st_mtime;   /* every write by the daemon moves it */
	if (cfs_admin_is_tmp_name(name) && S_ISDIR(st->st_mode)) {
		leftover_tmpdir(ck, dfd, name, path, st);
		return;
	}
	if (!cfs_admin_is_tmp_name(name) || !S_ISREG(st->st_mode)) {
		bad(ck, path, "named like a temporary file but not one the daemon makes (left alone)");
		return;
	}
	if (!ck->clean) {
		bad(ck, path, "leftover temporary file from an interrupted write (safe to delete; "
		    "check --clean removes those older than an hour)");
		return;
	}
	if (ck->now - touched < CLEAN_AGE_S) {
		bad(ck, path, "temporary file changed within the last hour: a daemon may be "
		    "writing it (left alone)");
		return;
	}
	if (unlinkat(dfd, name, 0) < 0) {
		char why[300];
		snprintf(why, sizeof why, "leftover temporary file: cannot remove: %s", strerror(errno));
		bad(ck, path, why);
		return;
	}
	if (ck->tty && !ck->quiet)
		fputc('\r', stderr);
	printf("removed %s: leftover temporary file from an interrupted write\n", path);
	fflush(stdout);
	ck->removed++;
}

static void check_dir(struct checker *ck, int dfd, const char *path, int depth,
		      const unsigned char dir_id[CFS_FILE_ID_BYTES])
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dp) {
		if (fd >= 0)
			close(fd);
		bad(ck, path, strerror(errno));
		return;
	}
	ck->dirs++;
	struct dirent *de;
	while ((de = readdir(dp))) {
		char sub[PATH_MAX];
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, CFS_DIR_SIDECAR))
			continue;
		snprintf(sub, sizeof sub, "%s%s%s", path, depth ? "/" : "", de->d_name);
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			bad(ck, sub, strerror(errno));
			continue;
		}
		if (!strncmp(de->d_name, TMP_PREFIX, sizeof TMP_PREFIX - 1)) {
			leftover_tmp(ck, dfd, de->d_name, sub, &st);
			continue;
		}
		if (S_ISREG(st.st_mode)) {
			check_file(ck, dfd, de->d_name, sub, dir_id);
		} else if (S_ISDIR(st.st_mode)) {
			int sfd = openat(dfd, de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sfd < 0) {
				bad(ck, sub, strerror(errno));
				continue;
			}
			struct cfs_bind b;
			unsigned char id[CFS_FILE_ID_BYTES];
			if (cfs_bind_set(&b, dir_id, de->d_name, CFS_KIND_DIR) == 0)
				check_sidecar(ck, sfd, sub, &b, id);
			check_dir(ck, sfd, sub, depth + 1, id);
			close(sfd);
		} else if (!S_ISLNK(st.st_mode)) {
			bad(ck, sub, "not a file, directory or symlink (nothing else belongs in a store)");
		}
	}
	closedir(dp);
}

int cfs_admin_check(struct cfs_config *cfg, int argc, char **argv)
{
	struct checker ck;
	struct cfs_err e = { "" };
	memset(&ck, 0, sizeof ck);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
			ck.quiet = 1;
		else if (!strcmp(argv[i], "--clean"))
			ck.clean = 1;
		else
			return cfs_admin_usage_error("check: unknown argument");
	}
	char hdr[PATH_MAX], tree[PATH_MAX], *pass;
	size_t passlen;
	struct cfs_keys *k;
	if (cfs_store_header_path(cfg->store_path, hdr, sizeof hdr) < 0)
		return cfs_admin_die("store path too long");
	if (cfs_pass_obtain(cfg, 0, "Store passphrase: ", &pass, &passlen, &e) < 0)
		return cfs_admin_die(e.msg);
	int rc = cfs_store_unlock(hdr, pass, passlen, &k, &e);
	cfs_pass_free(pass, passlen);
	if (rc < 0)
		return cfs_admin_die(e.msg);
	if (access(cfg->state_db, F_OK) != 0) {
		cfs_say(0, "%s: no integrity record here: rollbacks cannot be checked", cfg->state_db);
	} else if (cfs_state_open(cfg->state_db, k, 0, &ck.state, &e) < 0) {
		cfs_keys_free(k);
		return cfs_admin_die(e.msg);
	}
	snprintf(tree, sizeof tree, "%s/%s", cfg->store_path, CFS_STORE_TREE);
	int fd = open(tree, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		cfs_say(0, "%s: %s", tree, strerror(errno));
		cfs_keys_free(k);
		return 1;
	}
	ck.keys = k;
	ck.tty = isatty(2);
	ck.now = time(NULL);
	ck.last_us = cfs_clock_us(CLOCK_MONOTONIC);
	struct cfs_bind rb;
	unsigned char rid[CFS_FILE_ID_BYTES];
	static const unsigned char zero[CFS_FILE_ID_BYTES];
	cfs_bind_set(&rb, zero, "", CFS_KIND_DIR);
	check_sidecar(&ck, fd, "/", &rb, rid);
	check_dir(&ck, fd, "/", 0, rid);
	close(fd);
	progress(&ck, 1);
	cfs_scratch_free(&ck.scratch);
	cfs_state_close(ck.state);
	cfs_keys_free(k);
	printf("%s: %ld files checked in %ld directories, %ld bad", cfg->store_path, ck.files, ck.dirs,
	       ck.bad);
	if (ck.clean)
		printf(", %ld temporary file%s removed", ck.removed, ck.removed == 1 ? "" : "s");
	putchar('\n');
	return ck.bad ? 1 : 0;
}
