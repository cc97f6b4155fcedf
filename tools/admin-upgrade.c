/* admin-upgrade.c — coach-admin upgrade: convert a format-1 store to
 * format 2 in place, re-runnable after a crash, and seal policy.db rows from
 * before row MACs. It must never run under a live mount, nor leave a file
 * that neither format can read. */
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

/* ---- upgrade: format 1 -> 2, in place ---- */

struct upgrader {
	const struct cfs_keys *keys;
	long files, dirs, done, removed;
	int tty;
	int64_t last_us;
};

static void up_progress(struct upgrader *u, int final)
{
	if (!u->tty || !cfs_progress_due(&u->last_us, final))
		return;
	fprintf(stderr, "\rupgrade: %ld files in %ld directories seen, %ld converted%s", u->files, u->dirs, u->done,
		final ? "\n" : "");
}

static int up_fail(const char *path, const char *why)
{
	cfs_say(0, "upgrade: %s: %s", path, why);
	return -1;
}

/* Rewrite entry `name` of dfd (a format-1 file or sidecar) as format 2
 * bound to b: a temporary file with the same owner, mode and times, fsync,
 * rename over. id gets its id. */
static int up_rewrite(struct upgrader *u, int dfd, const char *name, const char *path, const struct cfs_bind *b,
		      unsigned char id[CFS_FILE_ID_BYTES])
{
	struct cfs_err e = { "" };
	char tmp[64];
	struct stat st;
	int old = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (old < 0 || fstat(old, &st) != 0) {
		if (old >= 0)
			close(old);
		return up_fail(path, strerror(errno));
	}
	int nfd = cfs_store_tmpfile(dfd, tmp, sizeof tmp);
	if (nfd < 0) {
		close(old);
		return up_fail(path, strerror(-nfd));
	}
	int rc = cfs_content_upgrade_v1(old, nfd, u->keys, b, id, &e);
	struct timespec ts[2] = { st.st_atim, st.st_mtim };
	if (rc == 0 && (fchown(nfd, st.st_uid, st.st_gid) != 0 || fchmod(nfd, st.st_mode & 07777) != 0 ||
			futimens(nfd, ts) != 0 || fsync(nfd) != 0))
		rc = cfs_errf(&e, -errno, "%s", strerror(errno));
	close(nfd);
	close(old);
	if (rc == 0 && renameat(dfd, tmp, dfd, name) != 0)
		rc = cfs_errf(&e, -errno, "rename: %s", strerror(errno));
	if (rc < 0) {
		unlinkat(dfd, tmp, 0);
		return up_fail(path, e.msg);
	}
	u->done++;
	return 0;
}

/* Bring the sidecar of the directory at dfd to format 2 bound to b (made
 * when format 1 had none); id gets the directory's id. Re-runnable: a
 * sidecar already in format 2 is only checked. */
static int up_sidecar(struct upgrader *u, int dfd, const char *path, const struct cfs_bind *b,
		      unsigned char id[CFS_FILE_ID_BYTES])
{
	struct cfs_err e = { "" };
	unsigned char meta[CFS_META_MAX];
	size_t len;
	int fd = openat(dfd, CFS_DIR_SIDECAR, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return up_fail(path, strerror(errno));
	if (fd < 0) {
		/* format 1 made sidecars only for directories with attributes */
		if (cfs_sidecar_write_at(dfd, u->keys, NULL, b, NULL, 1, NULL, 0, &e) < 0)
			return up_fail(path, e.msg);
		fd = openat(dfd, CFS_DIR_SIDECAR, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		int rc = fd < 0 ? -errno : cfs_content_peek_id(fd, id);
		if (fd >= 0)
			close(fd);
		u->done++;
		return rc < 0 ? up_fail(path, "the new sidecar cannot be read back") : 0;
	}
	int ver = cfs_content_peek_version(fd);
	int rc = 0;
	if (ver == CFS_FILE_VERSION) {
		rc = cfs_content_meta_b(fd, u->keys, b, NULL, meta, &len, id, NULL, &e);
		sodium_memzero(meta, sizeof meta);
		close(fd);
		return rc < 0 ? up_fail(path, e.msg) : 0;
	}
	close(fd);
	if (ver != 1)
		return up_fail(path, "the sidecar is not a coachfs header");
	return up_rewrite(u, dfd, CFS_DIR_SIDECAR, path, b, id);
}

static int up_dir(struct upgrader *u, int dfd, const char *path, int depth, const unsigned char dir_id[CFS_FILE_ID_BYTES])
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dp) {
		if (fd >= 0)
			close(fd);
		return up_fail(path, strerror(errno));
	}
	u->dirs++;
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(dp))) {
		char sub[PATH_MAX];
		struct stat st;
		struct cfs_bind b;
		struct cfs_err e = { "" };
		unsigned char id[CFS_FILE_ID_BYTES];
		const char *n = de->d_name;
		if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, CFS_DIR_SIDECAR))
			continue;
		snprintf(sub, sizeof sub, "%s%s%s", path, depth ? "/" : "", n);
		if (fstatat(dfd, n, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			rc = up_fail(sub, strerror(errno));
			break;
		}
		if (!strncmp(n, TMP_PREFIX, sizeof TMP_PREFIX - 1) && cfs_admin_is_tmp_name(n) && S_ISREG(st.st_mode)) {
			/* an interrupted write's or upgrade's leftover: the store is
			 * not mounted, so nobody is writing it */
			if (unlinkat(dfd, n, 0) == 0) {
				u->removed++;
				continue;
			}
			rc = up_fail(sub, strerror(errno));
			break;
		}
		if (cfs_bind_set(&b, dir_id, n, S_ISDIR(st.st_mode) ? CFS_KIND_DIR : CFS_KIND_FILE) < 0) {
			rc = up_fail(sub, "name too long");
			break;
		}
		if (S_ISREG(st.st_mode)) {
			u->files++;
			int ffd = openat(dfd, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			int ver = ffd < 0 ? -errno : cfs_content_peek_version(ffd);
			if (ver == CFS_FILE_VERSION) {
				unsigned char meta[CFS_META_MAX];
				size_t len;
				if (cfs_content_meta_b(ffd, u->keys, &b, NULL, meta, &len, NULL, NULL, &e) < 0)
					rc = up_fail(sub, e.msg);
				sodium_memzero(meta, sizeof meta);
			} else if (ver == 1) {
				rc = up_rewrite(u, dfd, n, sub, &b, id);
			} else {
				rc = up_fail(sub, ver < 0 && ffd < 0 ? strerror(-ver) : "not a coachfs file");
			}
			if (ffd >= 0)
				close(ffd);
		} else if (S_ISDIR(st.st_mode)) {
			int sfd = openat(dfd, n, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sfd < 0) {
				rc = up_fail(sub, strerror(errno));
				break;
			}
			rc = up_sidecar(u, sfd, sub, &b, id);
			if (rc == 0)
				rc = up_dir(u, sfd, sub, depth + 1, id);
			close(sfd);
		} else if (!S_ISLNK(st.st_mode)) {
			rc = up_fail(sub, "not a file, directory or symlink");
		}
		up_progress(u, 0);
	}
	closedir(dp);
	return rc;
}

/* Seal policy.db's rows from before row MACs (grants, open counters,
 * links), as they stand: the administrator's explicit upgrade is the one
 * place that may bless them (grants.h). A missing policy.db has nothing. */
static int seal_policy_db(const struct cfs_config *cfg, const struct cfs_keys *k, int64_t *ng,
			  int64_t *nl, struct cfs_err *e)
{
	struct cfs_grants *g = NULL;
	struct cfs_links *l = NULL;
	*ng = *nl = 0;
	if (access(cfg->policy_db, F_OK) != 0)
		return 0;
	int rc = cfs_grants_open(cfg->policy_db, 0, &g, e);
	if (rc == 0)
		rc = cfs_grants_set_key(g, k->rowmac, e);
	if (rc == 0)
		rc = cfs_grants_seal_legacy(g, ng, e);
	cfs_grants_close(g);
	if (rc == 0)
		rc = cfs_links_open(cfg->policy_db, &l, e);
	if (rc == 0)
		rc = cfs_links_set_key(l, k->rowmac, e);
	if (rc == 0)
		rc = cfs_links_seal_legacy(l, nl, e);
	cfs_links_close(l);
	return rc;
}

/* Refuse while the store is mounted, as far as can be told: the daemon
 * records its mountpoint in the policy database. 1 when mounted (said). */
static int mounted_now(const struct cfs_config *cfg)
{
	struct cfs_grants *g = NULL;
	struct cfs_err e = { "" };
	char mp[PATH_MAX], real[PATH_MAX];
	int yes = cfs_grants_open(cfg->policy_db, 0, &g, &e) == 0 &&
		  cfs_grants_meta_get(g, "mountpoint", mp, sizeof mp, &e) == 0 && mp[0] && realpath(mp, real) &&
		  cfs_admin_is_coachfs_mount(real) == 1;
	cfs_grants_close(g);
	if (yes)
		cfs_say(0, "%s is mounted at %s: unmount it first (fusermount3 -u %s)", cfg->store_path, real,
			real);
	return yes;
}

static void print_sealed(const struct cfs_config *cfg, int64_t ng, int64_t nl)
{
	if (ng || nl)
		printf("%s: sealed %lld grant and counter rows and %lld link rows from before row MACs\n",
		       cfg->policy_db, (long long)ng, (long long)nl);
}

/* Convert the tree: every sidecar and header, from the root down, after
 * making sure the integrity record exists. */
static int upgrade_tree(struct upgrader *u, const struct cfs_config *cfg, const struct cfs_keys *k)
{
	struct cfs_err e = { "" };
	char tree[PATH_MAX];
	int rc = 0;
	snprintf(tree, sizeof tree, "%s/%s", cfg->store_path, CFS_STORE_TREE);
	int fd = open(tree, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		rc = up_fail(tree, strerror(errno));
	struct cfs_state *st = NULL;
	if (rc == 0 && (cfs_admin_mkparents(cfg->state_db, &e) < 0 || cfs_state_open(cfg->state_db, k, 1, &st, &e) < 0))
		rc = up_fail(cfg->state_db, e.msg);
	cfs_state_close(st);
	if (rc == 0) {
		struct cfs_bind rb;
		unsigned char rid[CFS_FILE_ID_BYTES];
		static const unsigned char zero[CFS_FILE_ID_BYTES];
		cfs_bind_set(&rb, zero, "", CFS_KIND_DIR);
		rc = up_sidecar(u, fd, "/", &rb, rid);
		if (rc == 0)
			rc = up_dir(u, fd, "/", 0, rid);
	}
	if (fd >= 0)
		close(fd);
	up_progress(u, 1);
	return rc;
}

int cfs_admin_upgrade(struct cfs_config *cfg, int argc)
{
	struct upgrader u;
	struct cfs_err e = { "" };
	char hdr[PATH_MAX], *pass;
	size_t passlen;
	int version;
	struct cfs_keys *k;
	if (argc != 1)
		return cfs_admin_usage_error("upgrade takes no arguments");
	memset(&u, 0, sizeof u);
	if (cfs_store_header_path(cfg->store_path, hdr, sizeof hdr) < 0)
		return cfs_admin_die("store path too long");
	if (mounted_now(cfg))
		return 1;
	if (cfs_pass_obtain(cfg, 0, "Store passphrase: ", &pass, &passlen, &e) < 0)
		return cfs_admin_die(e.msg);
	int rc = cfs_store_unlock_any(hdr, pass, passlen, &version, &k, &e);
	if (rc < 0) {
		cfs_pass_free(pass, passlen);
		return cfs_admin_die(e.msg);
	}
	int64_t ng = 0, nl = 0;
	if (version == CFS_STORE_VERSION) {
		cfs_pass_free(pass, passlen);
		rc = seal_policy_db(cfg, k, &ng, &nl, &e);
		cfs_keys_free(k);
		if (rc < 0)
			return cfs_admin_die(e.msg);
		print_sealed(cfg, ng, nl);
		printf("%s: already format %d, nothing else to do\n", cfg->store_path, CFS_STORE_VERSION);
		return 0;
	}
	u.keys = k;
	u.tty = isatty(2);
	u.last_us = cfs_clock_us(CLOCK_MONOTONIC);
	rc = upgrade_tree(&u, cfg, k);
	/* policy.db's rows from before row MACs, before the header says the
	 * upgrade is done (a crash between them: the next run seals nothing
	 * twice, sealed rows are left alone) */
	if (rc == 0 && seal_policy_db(cfg, k, &ng, &nl, &e) < 0)
		rc = up_fail(cfg->policy_db, e.msg);
	if (rc == 0 && cfs_store_set_version(hdr, pass, passlen, &e) < 0)
		rc = up_fail(hdr, e.msg);
	cfs_pass_free(pass, passlen);
	cfs_keys_free(k);
	if (rc < 0) {
		cfs_say(0, "upgrade stopped; nothing is lost: run it again to finish");
		return 1;
	}
	printf("%s: upgraded to format %d (%ld files, %ld directories, %ld converted, %ld leftover temporary files removed)\n",
	       cfg->store_path, CFS_STORE_VERSION, u.files, u.dirs, u.done, u.removed);
	print_sealed(cfg, ng, nl);
	return 0;
}
