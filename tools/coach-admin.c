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

int cfs_admin_die(const char *msg)
{
	return cfs_say(CFS_EXIT_FAIL, "%s", msg);
}

int cfs_admin_usage_error(const char *msg)
{
	return cfs_say(CFS_EXIT_USAGE, "%s (see 'coach-admin --help')", msg);
}

/* mkdir -p for the parent directory of a file path, mode 0700 for new ones. */
int cfs_admin_mkparents(const char *file, struct cfs_err *err)
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

/* init's options: the key derivation level and the chunk size. -1 to go
 * on, else the exit status. */
static int init_args(int argc, char **argv, enum cfs_kdf_level *kdf, int *chunk_log2)
{
	static const struct option lo[] = {
		{ "kdf", required_argument, NULL, 'k' },
		{ "chunk-size", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 'k':
			if (!strcmp(optarg, "interactive")) *kdf = CFS_KDF_INTERACTIVE;
			else if (!strcmp(optarg, "moderate")) *kdf = CFS_KDF_MODERATE;
			else if (!strcmp(optarg, "sensitive")) *kdf = CFS_KDF_SENSITIVE;
			else return cfs_admin_usage_error("--kdf: expected interactive, moderate or sensitive");
			break;
		case 's':
			if (cfs_parse_uint(optarg, 1 << 20, &v) < 0 || v < 4096 || (v & (v - 1)))
				return cfs_admin_usage_error("--chunk-size: expected a power of two from 4096 to 1048576");
			*chunk_log2 = __builtin_ctzll(v);
			break;
		default: return cfs_admin_usage_error("init: unknown option");
		}
	}
	if (optind != argc)
		return cfs_admin_usage_error("init takes no arguments");
	return -1;
}

/* The databases of a new store: the integrity record, policy.db, and the
 * audit log sealed empty (checkpoint seq 1: from now on a log with events
 * and no checkpoint is a tampered one) with its public key beside it. */
static int init_databases(struct cfs_config *cfg, const struct cfs_keys *k,
			  unsigned char pk[CFS_AUDIT_PK_BYTES], struct cfs_err *e)
{
	struct cfs_grants *g = NULL;
	struct cfs_audit *a = NULL;
	int rc = cfs_admin_mkparents(cfg->state_db, e);
	if (rc == 0) {
		struct cfs_state *st = NULL;
		rc = cfs_state_open(cfg->state_db, k, 1, &st, e);
		cfs_state_close(st);
	}
	if (rc == 0 && (rc = cfs_admin_mkparents(cfg->policy_db, e)) == 0)
		rc = cfs_grants_open(cfg->policy_db, 1, &g, e);
	if (rc == 0 && (rc = cfs_admin_mkparents(cfg->audit_db, e)) == 0)
		rc = cfs_audit_open(cfg->audit_db, 1, &a, e);
	if (rc == 0) {
		unsigned char *sk = sodium_malloc(CFS_AUDIT_SK_BYTES);
		if (!sk) {
			rc = cfs_errf(e, -ENOMEM, "out of secure memory");
		} else {
			cfs_audit_keypair(k, pk, sk);
			rc = cfs_audit_set_key(a, sk, e);
			sodium_free(sk);
			if (rc == 0)
				rc = cfs_audit_write_pubkey(cfg->audit_db, pk, e);
		}
	}
	if (a && cfs_audit_close(a, rc == 0 ? e : NULL) < 0 && rc == 0)
		rc = -EIO;
	cfs_grants_close(g);
	return rc;
}

static int cmd_init(struct cfs_config *cfg, int argc, char **argv)
{
	enum cfs_kdf_level kdf = CFS_KDF_MODERATE;
	int chunk_log2 = 12, aead;
	struct cfs_err e = { "" };
	int rc = init_args(argc, argv, &kdf, &chunk_log2);
	if (rc >= 0)
		return rc;
	if (cfs_aead_resolve((int)cfg->cipher, &aead, &e) < 0) {
		cfs_say(0, "%s: [store] cipher: %s", cfg->file, e.msg);
		return 1;
	}
	char hdr[PATH_MAX];
	if (cfs_store_header_path(cfg->store_path, hdr, sizeof hdr) < 0)
		return cfs_admin_die("store path too long");
	if (access(hdr, F_OK) == 0) {
		cfs_say(0, "%s: a store already exists (use 'coach-admin passwd' to change its passphrase)", cfg->store_path);
		return 1;
	}
	char *pass;
	size_t passlen;
	if (cfs_pass_obtain(cfg, 1, "New store passphrase: ", &pass, &passlen, &e) < 0)
		return cfs_admin_die(e.msg);
	struct cfs_keys *k = NULL;
	rc = cfs_store_init(cfg->store_path, &e);
	if (rc == 0) {
		if (isatty(2))
			fprintf(stderr, "deriving the key (Argon2id, %s)...\n",
				kdf == CFS_KDF_INTERACTIVE ? "interactive" : kdf == CFS_KDF_SENSITIVE ? "sensitive" : "moderate");
		rc = cfs_store_create(hdr, pass, passlen, aead, chunk_log2, kdf, &k, &e);
	}
	cfs_pass_free(pass, passlen);
	unsigned char pk[CFS_AUDIT_PK_BYTES];
	if (rc == 0)
		rc = root_sidecar(cfg, k, &e);
	if (rc == 0)
		rc = init_databases(cfg, k, pk, &e);
	if (rc < 0) {
		cfs_keys_free(k);
		return cfs_admin_die(e.msg);
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
			return cfs_admin_usage_error("passwd: unknown option");
	}
	if (optind != argc)
		return cfs_admin_usage_error("passwd takes no arguments");
	char hdr[PATH_MAX], *oldp, *newp;
	size_t oldl, newl;
	if (cfs_store_header_path(cfg->store_path, hdr, sizeof hdr) < 0)
		return cfs_admin_die("store path too long");
	if (cfs_pass_obtain(cfg, 0, "Current passphrase: ", &oldp, &oldl, &e) < 0)
		return cfs_admin_die(e.msg);
	if (cfs_pass_read(newfile, 1, "New passphrase: ", &newp, &newl, &e) < 0) {
		cfs_pass_free(oldp, oldl);
		return cfs_admin_die(e.msg);
	}
	int rc = cfs_store_passwd(hdr, oldp, oldl, newp, newl, &e);
	cfs_pass_free(oldp, oldl);
	cfs_pass_free(newp, newl);
	if (rc < 0)
		return cfs_admin_die(e.msg);
	printf("passphrase changed for %s\n", cfg->store_path);
	if (cfg->passphrase_file)
		printf("remember to update %s\n", cfg->passphrase_file);
	return 0;
}

static int cmd_pubkey(struct cfs_config *cfg, int argc)
{
	unsigned char pk[CFS_AUDIT_PK_BYTES];
	char pubfile[PATH_MAX], hex[2 * CFS_AUDIT_PK_BYTES + 1];
	struct cfs_err e = { "" };
	if (argc != 1)
		return cfs_admin_usage_error("pubkey takes no arguments");
	snprintf(pubfile, sizeof pubfile, "%s.pub", cfg->audit_db);
	if (cfs_audit_read_pubkey(pubfile, pk, &e) < 0)
		return cfs_admin_die(e.msg);
	sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
	printf("%s\n", hex);
	return 0;
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
		default: return cfs_admin_usage_error("unknown option");
		}
	}
	if (optind >= argc)
		return cfs_admin_usage_error("missing command");
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
		return cfs_admin_die(e.msg);
	struct cfs_config *cfg;
	if (cfs_config_load(cfs_config_path(cfgfile), &cfg, &e) < 0)
		return cfs_admin_die(e.msg);
	int rc;
	if (!strcmp(cmd, "init"))
		rc = cmd_init(cfg, sub_argc, sub_argv);
	else if (!strcmp(cmd, "passwd"))
		rc = cmd_passwd(cfg, sub_argc, sub_argv);
	else if (!strcmp(cmd, "check"))
		rc = cfs_admin_check(cfg, sub_argc, sub_argv);
	else if (!strcmp(cmd, "pubkey"))
		rc = cmd_pubkey(cfg, sub_argc);
	else if (!strcmp(cmd, "upgrade"))
		rc = cfs_admin_upgrade(cfg, sub_argc);
	else
		rc = cfs_admin_policy(cfg, sub_argc, sub_argv);
	cfs_config_free(cfg);
	return rc;
}
