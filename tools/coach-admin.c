/* coach-admin — the administrator's tool: create a store (init), change its
 * passphrase (passwd), verify every file offline (check), convert a format-1
 * store (upgrade), print the audit public key (pubkey), and read or set
 * policy attributes (policy). It owns only its command line; it must never
 * print a key or a passphrase. */
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

#include "coachfs/access.h"
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

const char cfs_tool_prog[] = "coach-admin";

static void usage(FILE *out)
{
	fprintf(out,
		"usage: coach-admin [-c FILE] COMMAND [ARGS]\n"
		"\n"
		"Commands:\n"
		"  init [--kdf interactive|moderate|sensitive] [--chunk-size BYTES]\n"
		"        create the store, its key (wrapped under the passphrase with\n"
		"        Argon2id), the policy and audit databases, and print the audit\n"
		"        public key for auditors to pin\n"
		"  passwd [--new-passphrase-file FILE]\n"
		"        re-wrap the store key under a new passphrase\n"
		"  check [-q] [--clean]\n"
		"        verify every file's header and chunk tags offline, every\n"
		"        directory's sidecar, each header's place (moved, copied or\n"
		"        swapped entries) and version (rolled back, against the local\n"
		"        record); names each bad one and exits 1 if there is any. --clean removes the temporary\n"
		"        files (.coachfs-tmp.*) an interrupted write left behind: regular\n"
		"        files of exactly the daemon's naming, untouched for an hour (a\n"
		"        running daemon may be writing a newer one); symlinks are never\n"
		"        followed\n"
		"  upgrade\n"
		"        convert a format-1 store to format 2 in place (with the store\n"
		"        unmounted): directory ids and sidecars, headers bound to their\n"
		"        places, version counters. Each file is rewritten through a\n"
		"        temporary file and a rename, the store header last; after a\n"
		"        crash, run it again\n"
		"  pubkey\n"
		"        print the audit public key\n"
		"  policy [--mount DIR] get PATH [KEY] | set PATH KEY VALUE | unset PATH KEY\n"
		"        read the effective value of user.coachfs.KEY on PATH (all four as\n"
		"        KEY=VALUE lines without KEY; empty: no readers list / no limit), set\n"
		"        it, or remove PATH's own value so it inherits again. KEY: class,\n"
		"        export, readers, max_opens. PATH is mount-relative; the change goes\n"
		"        through the running mount (DIR, else the mountpoint the daemon\n"
		"        recorded in the policy database), which checks and audits it\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE   configuration (default: $COACHFS_CONFIG, else %s)\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n"
		"\n"
		"The passphrase comes from [store] passphrase_file, else from the terminal.\n",
		CFS_DEFAULT_CONFIG);
}

static int die(const char *msg)
{
	return cfs_say(CFS_EXIT_FAIL, "%s", msg);
}

static int usage_error(const char *msg)
{
	return cfs_say(CFS_EXIT_USAGE, "%s (see 'coach-admin --help')", msg);
}

/* mkdir -p for the parent directory of a file path, mode 0700 for new ones. */
static int mkparents(const char *file, struct cfs_err *err)
{
	char p[PATH_MAX];
	if (cfs_strlcpy(p, file, sizeof p) >= sizeof p)
		return cfs_errf(err, -ENAMETOOLONG, "%s: path too long", file);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			return cfs_errf(err, -errno, "%s: %s", p, strerror(errno));
		*s = '/';
	}
	return 0;
}

/* The root directory's sidecar: its id and the root marker binding. */
static int root_sidecar(struct cfs_config *cfg, const struct cfs_keys *k, struct cfs_err *e)
{
	char tree[PATH_MAX];
	struct cfs_bind b;
	static const unsigned char zero[CFS_FILE_ID_BYTES];
	snprintf(tree, sizeof tree, "%s/%s", cfg->store_path, CFS_STORE_TREE);
	int fd = open(tree, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cfs_errf(e, -errno, "%s: %s", tree, strerror(errno));
	cfs_bind_set(&b, zero, "", CFS_KIND_DIR);
	int rc = cfs_sidecar_write_at(fd, k, NULL, &b, NULL, 1, NULL, 0, e);
	close(fd);
	return rc;
}

static int cmd_init(struct cfs_config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "kdf", required_argument, NULL, 'k' },
		{ "chunk-size", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	enum cfs_kdf_level kdf = CFS_KDF_MODERATE;
	int chunk_log2 = 12, opt, aead;
	uint64_t v;
	struct cfs_err e = { "" };
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'k':
			if (!strcmp(optarg, "interactive")) kdf = CFS_KDF_INTERACTIVE;
			else if (!strcmp(optarg, "moderate")) kdf = CFS_KDF_MODERATE;
			else if (!strcmp(optarg, "sensitive")) kdf = CFS_KDF_SENSITIVE;
			else return usage_error("--kdf: expected interactive, moderate or sensitive");
			break;
		case 's':
			if (cfs_parse_uint(optarg, 1 << 20, &v) < 0 || v < 4096 || (v & (v - 1)))
				return usage_error("--chunk-size: expected a power of two from 4096 to 1048576");
			chunk_log2 = __builtin_ctzll(v);
			break;
		default: return usage_error("init: unknown option");
		}
	}
	if (optind != argc)
		return usage_error("init takes no arguments");
	if (cfs_aead_resolve((int)cfg->cipher, &aead, &e) < 0) {
		cfs_say(0, "%s: [store] cipher: %s", cfg->file, e.msg);
		return 1;
	}
	char hdr[PATH_MAX];
	if (cfs_store_header_path(cfg->store_path, hdr, sizeof hdr) < 0)
		return die("store path too long");
	if (access(hdr, F_OK) == 0) {
		cfs_say(0, "%s: a store already exists (use 'coach-admin passwd' to change its passphrase)", cfg->store_path);
		return 1;
	}
	char *pass;
	size_t passlen;
	if (cfs_pass_obtain(cfg, 1, "New store passphrase: ", &pass, &passlen, &e) < 0)
		return die(e.msg);
	struct cfs_keys *k = NULL;
	struct cfs_grants *g = NULL;
	struct cfs_audit *a = NULL;
	int rc = cfs_store_init(cfg->store_path, &e);
	if (rc == 0) {
		if (isatty(2))
			fprintf(stderr, "deriving the key (Argon2id, %s)...\n",
				kdf == CFS_KDF_INTERACTIVE ? "interactive" : kdf == CFS_KDF_SENSITIVE ? "sensitive" : "moderate");
		rc = cfs_store_create(hdr, pass, passlen, aead, chunk_log2, kdf, &k, &e);
	}
	cfs_pass_free(pass, passlen);
	if (rc == 0)
		rc = root_sidecar(cfg, k, &e);
	if (rc == 0 && (rc = mkparents(cfg->state_db, &e)) == 0) {
		struct cfs_state *st = NULL;
		rc = cfs_state_open(cfg->state_db, k, 1, &st, &e);
		cfs_state_close(st);
	}
	if (rc == 0 && (rc = mkparents(cfg->policy_db, &e)) == 0)
		rc = cfs_grants_open(cfg->policy_db, 1, &g, &e);
	if (rc == 0 && (rc = mkparents(cfg->audit_db, &e)) == 0)
		rc = cfs_audit_open(cfg->audit_db, 1, &a, &e);
	unsigned char pk[CFS_AUDIT_PK_BYTES];
	if (rc == 0) {
		unsigned char *sk = sodium_malloc(CFS_AUDIT_SK_BYTES);
		if (!sk) {
			rc = cfs_errf(&e, -ENOMEM, "out of secure memory");
		} else {
			cfs_audit_keypair(k, pk, sk);
			/* seals the empty log (checkpoint seq 1): from now on a log
			 * with events and no checkpoint is a tampered one */
			rc = cfs_audit_set_key(a, sk, &e);
			sodium_free(sk);
			if (rc == 0)
				rc = cfs_audit_write_pubkey(cfg->audit_db, pk, &e);
		}
	}
	if (a && cfs_audit_close(a, rc == 0 ? &e : NULL) < 0 && rc == 0)
		rc = -EIO;
	cfs_grants_close(g);
	if (rc < 0) {
		cfs_keys_free(k);
		return die(e.msg);
	}
	char hex[2 * CFS_AUDIT_PK_BYTES + 1];
	sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
	printf("created store %s (%s, %d-byte chunks)\n", cfg->store_path, cfs_aead_name(k->aead),
	       1 << k->chunk_log2);
	printf("policy database %s\n", cfg->policy_db);
	printf("audit database %s\n", cfg->audit_db);
	printf("audit public key %s\n", hex);
	printf("(also written to %s.pub; give it to your auditors to pin)\n", cfg->audit_db);
	cfs_keys_free(k);
	return 0;
}

static int cmd_passwd(struct cfs_config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "new-passphrase-file", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *newfile = NULL;
	int opt;
	struct cfs_err e = { "" };
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == 'n')
			newfile = optarg;
		else
			return usage_error("passwd: unknown option");
	}
	if (optind != argc)
		return usage_error("passwd takes no arguments");
	char hdr[PATH_MAX], *oldp, *newp;
	size_t oldl, newl;
	if (cfs_store_header_path(cfg->store_path, hdr, sizeof hdr) < 0)
		return die("store path too long");
	if (cfs_pass_obtain(cfg, 0, "Current passphrase: ", &oldp, &oldl, &e) < 0)
		return die(e.msg);
	if (cfs_pass_read(newfile, 1, "New passphrase: ", &newp, &newl, &e) < 0) {
		cfs_pass_free(oldp, oldl);
		return die(e.msg);
	}
	int rc = cfs_store_passwd(hdr, oldp, oldl, newp, newl, &e);
	cfs_pass_free(oldp, oldl);
	cfs_pass_free(newp, newl);
	if (rc < 0)
		return die(e.msg);
	printf("passphrase changed for %s\n", cfg->store_path);
	if (cfg->passphrase_file)
		printf("remember to update %s\n", cfg->passphrase_file);
	return 0;
}

#define TMP_PREFIX ".coachfs-tmp."      /* cfs_store_tmpfile's names: this and 16 hex */
#define CLEAN_AGE_S 3600                /* --clean leaves younger temporary files */

struct checker {
	const struct cfs_keys *keys;
	struct cfs_state *state;         /* the integrity record, NULL when there is none */
	struct cfs_scratch scratch;
	long files, bad, dirs, removed;
	int quiet, tty, clean;
	time_t now;
	struct timespec last;
};

static void progress(struct checker *ck, int final)
{
	if (!ck->tty || ck->quiet)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (now.tv_sec - ck->last.tv_sec) * 1000 + (now.tv_nsec - ck->last.tv_nsec) / 1000000;
	if (!final && ms < 100)
		return;
	ck->last = now;
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
static int is_tmp_name(const char *name)
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
	if (is_tmp_name(name) && S_ISDIR(st->st_mode)) {
		leftover_tmpdir(ck, dfd, name, path, st);
		return;
	}
	if (!is_tmp_name(name) || !S_ISREG(st->st_mode)) {
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

static int cmd_check(struct cfs_config *cfg, int argc, char **argv)
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
			return usage_error("check: unknown argument");
	}
	char hdr[PATH_MAX], tree[PATH_MAX], *pass;
	size_t passlen;
	struct cfs_keys *k;
	if (cfs_store_header_path(cfg->store_path, hdr, sizeof hdr) < 0)
		return die("store path too long");
	if (cfs_pass_obtain(cfg, 0, "Store passphrase: ", &pass, &passlen, &e) < 0)
		return die(e.msg);
	int rc = cfs_store_unlock(hdr, pass, passlen, &k, &e);
	cfs_pass_free(pass, passlen);
	if (rc < 0)
		return die(e.msg);
	if (access(cfg->state_db, F_OK) != 0) {
		cfs_say(0, "%s: no integrity record here: rollbacks cannot be checked", cfg->state_db);
	} else if (cfs_state_open(cfg->state_db, k, 0, &ck.state, &e) < 0) {
		cfs_keys_free(k);
		return die(e.msg);
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
	clock_gettime(CLOCK_MONOTONIC, &ck.last);
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

/* ---- upgrade: format 1 -> 2, in place ---- */

struct upgrader {
	const struct cfs_keys *keys;
	long files, dirs, done, removed;
	int tty;
	struct timespec last;
};

static void up_progress(struct upgrader *u, int final)
{
	if (!u->tty)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (now.tv_sec - u->last.tv_sec) * 1000 + (now.tv_nsec - u->last.tv_nsec) / 1000000;
	if (!final && ms < 100)
		return;
	u->last = now;
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
		if (!strncmp(n, TMP_PREFIX, sizeof TMP_PREFIX - 1) && is_tmp_name(n) && S_ISREG(st.st_mode)) {
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

static int is_coachfs_mount(const char *dir);

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

static int cmd_upgrade(struct cfs_config *cfg, int argc)
{
	struct upgrader u;
	struct cfs_err e = { "" };
	char hdr[PATH_MAX], tree[PATH_MAX], *pass;
	size_t passlen;
	int version;
	struct cfs_keys *k;
	if (argc != 1)
		return usage_error("upgrade takes no arguments");
	memset(&u, 0, sizeof u);
	if (cfs_store_header_path(cfg->store_path, hdr, sizeof hdr) < 0)
		return die("store path too long");
	/* refuse while the store is mounted, as far as can be told: the daemon
	 * records its mountpoint in the policy database */
	struct cfs_grants *g = NULL;
	char mp[PATH_MAX], real[PATH_MAX];
	if (cfs_grants_open(cfg->policy_db, 0, &g, &e) == 0 &&
	    cfs_grants_meta_get(g, "mountpoint", mp, sizeof mp, &e) == 0 && mp[0] && realpath(mp, real) &&
	    is_coachfs_mount(real) == 1) {
		cfs_grants_close(g);
		cfs_say(0, "%s is mounted at %s: unmount it first (fusermount3 -u %s)",
			cfg->store_path, real, real);
		return 1;
	}
	cfs_grants_close(g);
	if (cfs_pass_obtain(cfg, 0, "Store passphrase: ", &pass, &passlen, &e) < 0)
		return die(e.msg);
	int rc = cfs_store_unlock_any(hdr, pass, passlen, &version, &k, &e);
	if (rc < 0) {
		cfs_pass_free(pass, passlen);
		return die(e.msg);
	}
	int64_t ng = 0, nl = 0;
	if (version == CFS_STORE_VERSION) {
		cfs_pass_free(pass, passlen);
		rc = seal_policy_db(cfg, k, &ng, &nl, &e);
		cfs_keys_free(k);
		if (rc < 0)
			return die(e.msg);
		if (ng || nl)
			printf("%s: sealed %lld grant and counter rows and %lld link rows from before row MACs\n",
			       cfg->policy_db, (long long)ng, (long long)nl);
		printf("%s: already format %d, nothing else to do\n", cfg->store_path, CFS_STORE_VERSION);
		return 0;
	}
	u.keys = k;
	u.tty = isatty(2);
	clock_gettime(CLOCK_MONOTONIC, &u.last);
	snprintf(tree, sizeof tree, "%s/%s", cfg->store_path, CFS_STORE_TREE);
	int fd = open(tree, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		rc = up_fail(tree, strerror(errno));
	struct cfs_state *st = NULL;
	if (rc == 0 && (mkparents(cfg->state_db, &e) < 0 || cfs_state_open(cfg->state_db, k, 1, &st, &e) < 0))
		rc = up_fail(cfg->state_db, e.msg);
	cfs_state_close(st);
	if (rc == 0) {
		struct cfs_bind rb;
		unsigned char rid[CFS_FILE_ID_BYTES];
		static const unsigned char zero[CFS_FILE_ID_BYTES];
		cfs_bind_set(&rb, zero, "", CFS_KIND_DIR);
		rc = up_sidecar(&u, fd, "/", &rb, rid);
		if (rc == 0)
			rc = up_dir(&u, fd, "/", 0, rid);
	}
	if (fd >= 0)
		close(fd);
	up_progress(&u, 1);
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
	if (ng || nl)
		printf("%s: sealed %lld grant and counter rows and %lld link rows from before row MACs\n",
		       cfg->policy_db, (long long)ng, (long long)nl);
	return 0;
}

static int cmd_pubkey(struct cfs_config *cfg, int argc)
{
	unsigned char pk[CFS_AUDIT_PK_BYTES];
	char pubfile[PATH_MAX], hex[2 * CFS_AUDIT_PK_BYTES + 1];
	struct cfs_err e = { "" };
	if (argc != 1)
		return usage_error("pubkey takes no arguments");
	snprintf(pubfile, sizeof pubfile, "%s.pub", cfg->audit_db);
	if (cfs_audit_read_pubkey(pubfile, pk, &e) < 0)
		return die(e.msg);
	sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
	printf("%s\n", hex);
	return 0;
}

/* ---- policy: attributes through the running mount ---- */

static const char *const POLICY_KEYS[] = { "class", "export", "readers", "max_opens" };

static int policy_key_ok(const char *key)
{
	for (size_t i = 0; i < sizeof POLICY_KEYS / sizeof POLICY_KEYS[0]; i++)
		if (!strcmp(key, POLICY_KEYS[i]))
			return 1;
	return 0;
}

/* Undo mountinfo's octal escapes (\040 and friends) in place. */
static void unescape_mountinfo(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
		    p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
}

/* Is the topmost mount on `dir` (a real path) a coachfs mount?
 * 1 yes, 0 no, -errno when /proc/self/mountinfo cannot be read. */
static int is_coachfs_mount(const char *dir)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	int found = 0;
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
		char *save = NULL, *tok = strtok_r(line, " \n", &save);
		char *mp = NULL, *fstype = NULL;
		for (int i = 0; tok; i++, tok = strtok_r(NULL, " \n", &save)) {
			if (i == 4)
				mp = tok;
			if (i > 5 && !strcmp(tok, "-")) {
				fstype = strtok_r(NULL, " \n", &save);
				break;
			}
		}
		if (!mp || !fstype)
			continue;
		unescape_mountinfo(mp);
		if (!strcmp(mp, dir))
			found = !strcmp(fstype, "fuse.coachfs") ? 1 : 0; /* the last one listed is on top */
	}
	free(line);
	fclose(f);
	return found;
}

/* The mount to act through: --mount DIR, else the daemon's record. */
static int policy_mount(struct cfs_config *cfg, const char *opt, char out[PATH_MAX])
{
	char rec[PATH_MAX];
	struct cfs_err e = { "" };
	if (!opt) {
		struct cfs_grants *g = NULL;
		int rc = cfs_grants_open(cfg->policy_db, 0, &g, &e);
		if (rc == 0)
			rc = cfs_grants_meta_get(g, "mountpoint", rec, sizeof rec, &e);
		cfs_grants_close(g);
		if (rc == -ENOENT || (rc == 0 && !rec[0])) {
			cfs_say(0, "no mount recorded in %s (mount coachfs first, or give --mount DIR)", cfg->policy_db);
			return 1;
		}
		if (rc < 0) {
			cfs_say(0, "cannot read the recorded mountpoint: %s (or give --mount DIR)",
				e.msg);
			return 1;
		}
		opt = rec;
	}
	if (!realpath(opt, out)) {
		cfs_say(0, "mount %s: %s", opt, strerror(errno));
		return 1;
	}
	int m = is_coachfs_mount(out);
	if (m < 0) {
		cfs_say(0, "/proc/self/mountinfo: %s", strerror(-m));
		return 1;
	}
	if (!m) {
		cfs_say(0, "%s is not a mounted coachfs (is the daemon running?)", out);
		return 1;
	}
	return 0;
}

/* Open PATH (canonical, mount-relative) below the mount as an O_PATH
 * descriptor, never following a symbolic link or leaving the mount. */
static int policy_open(const char *mnt, const char *path)
{
	int root = open(mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0 || (path[0] == '/' && path[1] == 0))
		return root < 0 ? -errno : root;
	struct open_how how;
	memset(&how, 0, sizeof how);
	how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
	long fd = syscall(SYS_openat2, root, path + 1, &how, sizeof how);
	int rc = fd < 0 ? -errno : (int)fd;
	close(root);
	if (rc >= 0) {
		struct stat st;
		if (fstat(rc, &st) != 0 || S_ISLNK(st.st_mode)) {
			close(rc);
			return -ELOOP;
		}
	}
	return rc;
}

/* The words for a refused policy request. */
static int policy_fail(struct cfs_config *cfg, const char *path, const char *key, const char *value, int err)
{
	struct cfs_err e = { "" };
	switch (err) {
	case EPERM:
		cfs_say(0, "%s: %s: only the admin role may change policy (refused by the mount and audited)", path, key);
		break;
	case EINVAL:
		if (value && cfs_policy_value_check(cfg, key, value, strlen(value), &e) < 0)
			cfs_say(0, "%s: %s: %s", path, key, e.msg);
		else
			cfs_say(0, "%s: %s: the mount refused '%s' as invalid (is it running with %s?)", path, key, value ? value : "", cfg->file);
		break;
	case ENODATA:
		cfs_say(0, "%s has no %s of its own (its value is inherited)", path, key);
		break;
	case ENOENT:
		cfs_say(0, "%s: no such file or directory in the mount", path);
		break;
	case ELOOP:
		cfs_say(0, "%s: a symbolic link is on the way (policy is set on files and directories, "
			"never through links)", path);
		break;
	case EXDEV:
		cfs_say(0, "%s: crosses into another mount", path);
		break;
	case EACCES:
		cfs_say(0, "%s: %s: permission denied (the file's mode does not let you change its "
			"attributes)", path, key);
		break;
	default:
		cfs_say(0, "%s: %s: %s", path, key ? key : "", strerror(err));
		break;
	}
	return 1;
}

static int cmd_policy(struct cfs_config *cfg, int argc, char **argv)
{
	const char *mount_opt = NULL, *pos[5];
	int npos = 0, opts = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (opts && !strcmp(a, "--")) {
			opts = 0;
		} else if (opts && !strcmp(a, "--mount")) {
			if (++i >= argc)
				return usage_error("policy: --mount needs a directory");
			mount_opt = argv[i];
		} else if (opts && !strncmp(a, "--mount=", 8)) {
			mount_opt = a + 8;
		} else if (opts && !strncmp(a, "--", 2)) {
			return usage_error("policy: unknown option");
		} else if (npos < 5) {
			pos[npos++] = a;
		} else {
			return usage_error("policy: too many arguments");
		}
	}
	if (npos < 2)
		return usage_error("policy: expected get PATH [KEY], set PATH KEY VALUE or unset PATH KEY");
	const char *verb = pos[0], *key = npos > 2 ? pos[2] : NULL, *value = npos > 3 ? pos[3] : NULL;
	int get = !strcmp(verb, "get"), set = !strcmp(verb, "set"), unset = !strcmp(verb, "unset");
	if (!get && !set && !unset) {
		cfs_say(0, "policy: unknown action '%s' (get, set or unset)", verb);
		return 2;
	}
	if ((get && npos > 3) || (set && npos != 4) || (unset && npos != 3))
		return usage_error(get ? "policy get PATH [KEY]" : set ? "policy set PATH KEY VALUE" : "policy unset PATH KEY");
	if (key && !policy_key_ok(key)) {
		cfs_say(0, "unknown policy key '%s' (class, export, readers or max_opens)", key);
		return 2;
	}
	char path[PATH_MAX], mnt[PATH_MAX], proc[64], name[64], buf[4096];
	if ((size_t)snprintf(path, sizeof path, "%s%s", pos[1][0] == '/' ? "" : "/", pos[1]) >= sizeof path ||
	    cfs_path_valid(path) != 0) {
		cfs_say(0, "%s: not a canonical mount path (like /incidents/2026, no '.', '..' or '//')", pos[1]);
		return 2;
	}
	int rc = policy_mount(cfg, mount_opt, mnt);
	if (rc != 0)
		return rc;
	int fd = policy_open(mnt, path);
	if (fd < 0)
		return policy_fail(cfg, path, key, value, -fd);
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	rc = 0;
	if (set || unset) {
		snprintf(name, sizeof name, "%s%s", CFS_XATTR_PREFIX, key);
		int r = set ? setxattr(proc, name, value, strlen(value), 0) : removexattr(proc, name);
		if (r != 0)
			rc = policy_fail(cfg, path, key, value, errno);
	} else {
		for (size_t i = 0; i < sizeof POLICY_KEYS / sizeof POLICY_KEYS[0] && rc == 0; i++) {
			if (key && strcmp(key, POLICY_KEYS[i]))
				continue;
			snprintf(name, sizeof name, "%s%s", CFS_XATTR_PREFIX, POLICY_KEYS[i]);
			ssize_t n = getxattr(proc, name, buf, sizeof buf - 1);
			if (n < 0 && errno == ENODATA)
				n = 0; /* no readers list / no limit */
			if (n < 0) {
				rc = policy_fail(cfg, path, POLICY_KEYS[i], NULL, errno);
				break;
			}
			buf[n] = 0;
			if (memchr(buf, 0, (size_t)n) || strchr(buf, '\n')) {
				cfs_say(0, "%s: %s: the mount returned a malformed value", path,
					POLICY_KEYS[i]);
				rc = 1;
				break;
			}
			if (key)
				printf("%s\n", buf);
			else
				printf("%s=%s\n", POLICY_KEYS[i], buf);
		}
	}
	close(fd);
	if (rc == 0 && fflush(stdout) != 0)
		rc = die("writing the output failed");
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfgfile = NULL;
	int opt;
	struct cfs_err e = { "" };
	while ((opt = getopt_long(argc, argv, "+c:hV", lo, NULL)) != -1) {
		switch (opt) {
		case 'c': cfgfile = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("coach-admin %s\n", CFS_VERSION); return 0;
		default: return usage_error("unknown option");
		}
	}
	if (optind >= argc)
		return usage_error("missing command");
	const char *cmd = argv[optind];
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	if (!strcmp(cmd, "help"))
		return usage(stdout), 0;
	if (strcmp(cmd, "init") && strcmp(cmd, "passwd") && strcmp(cmd, "check") && strcmp(cmd, "pubkey") &&
	    strcmp(cmd, "policy") && strcmp(cmd, "upgrade")) {
		cfs_say(0, "unknown command '%s' (see 'coach-admin --help')", cmd);
		return 2;
	}
	if (cfs_crypto_init(&e) < 0)
		return die(e.msg);
	struct cfs_config *cfg;
	if (cfs_config_load(cfs_config_path(cfgfile), &cfg, &e) < 0)
		return die(e.msg);
	int rc;
	if (!strcmp(cmd, "init"))
		rc = cmd_init(cfg, sub_argc, sub_argv);
	else if (!strcmp(cmd, "passwd"))
		rc = cmd_passwd(cfg, sub_argc, sub_argv);
	else if (!strcmp(cmd, "check"))
		rc = cmd_check(cfg, sub_argc, sub_argv);
	else if (!strcmp(cmd, "pubkey"))
		rc = cmd_pubkey(cfg, sub_argc);
	else if (!strcmp(cmd, "upgrade"))
		rc = cmd_upgrade(cfg, sub_argc);
	else
		rc = cmd_policy(cfg, sub_argc, sub_argv);
	cfs_config_free(cfg);
	return rc;
}
