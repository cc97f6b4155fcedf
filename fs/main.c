/* main.c — the coachfs program: options, config, passphrase, unlocking the
 * store, opening the databases, mounting, daemonising once the mount is
 * ready, and an orderly unmount (audit flushed and sealed). It owns the
 * process's global state; it must never print a key or passphrase, and never
 * report success before the mount can be used. */
#define FUSE_USE_VERSION 314
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "coachfs/audit.h"
#include "coachfs/bdi.h"
#include "coachfs/caller.h"
#include "coachfs/config.h"
#include "coachfs/content.h"
#include "coachfs/crypto.h"
#include "coachfs/access.h"
#include "coachfs/passphrase.h"
#include "coachfs/grants.h"
#include "coachfs/links.h"
#include "coachfs/ops.h"
#include "coachfs/state.h"
#include "coachfs/store.h"
#include "coachfs/caller_cache.h"
#include "coachfs/workers.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: coachfs [-c FILE] [-f] [-o OPTIONS] [STORE] MOUNTPOINT\n"
		"\n"
		"Mount the coachfs store named by the configuration at MOUNTPOINT.\n"
		"STORE, when given (as mount(8) does for an fstab line), must be the\n"
		"configuration's [store] path.\n"
		"\n"
		"  -c, --config FILE   configuration (default: $COACHFS_CONFIG, else %s)\n"
		"  -f, --foreground    stay in the foreground (log to stderr as well)\n"
		"  -o OPTIONS          extra FUSE mount options, comma separated; may repeat.\n"
		"                      config=FILE is the same as -c FILE; mount(8)'s own\n"
		"                      words (_netdev, nofail, noauto, x-*, ...) are ignored\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n"
		"\n"
		"Without -f, coachfs returns once the mount is ready and keeps serving in\n"
		"the background. Unmount with 'fusermount3 -u MOUNTPOINT'; the audit queue\n"
		"is flushed and sealed with a signed checkpoint on the way out.\n",
		CFS_DEFAULT_CONFIG);
}

/* Tell the waiting parent how the start went ("" = mounted), once. */
static void report(int fd, const char *msg)
{
	if (fd < 0)
		return;
	size_t n = strlen(msg);
	if (write(fd, msg, n) < 0 || write(fd, "", n ? 0 : 1) < 0) {
		/* the parent has gone; nothing to tell */
	}
	close(fd);
}

static int fail(int fd, const char *msg)
{
	if (fd >= 0) {
		report(fd, msg);
	} else {
		fprintf(stderr, "coachfs: %s\n", msg);
	}
	return 1;
}

/* Before the passphrase is read: no core dump can carry a key or the
 * passphrase, and no process without CAP_SYS_PTRACE may attach or read
 * this one's memory or environment. */
static int harden(void)
{
	struct rlimit rl = { 0, 0 };
	if (setrlimit(RLIMIT_CORE, &rl) != 0) {
		fprintf(stderr, "coachfs: cannot disable core dumps: %s\n", strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		fprintf(stderr, "coachfs: cannot mark the process non-dumpable: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int audit_row(struct cfs_ctx *c, enum cfs_action action, const char *result, const char *reason,
		     struct cfs_err *err)
{
	struct cfs_event ev;
	struct cfs_err e = { "" };
	if (!err)
		err = &e;
	cfs_event_init(&ev);
	ev.uid = (int64_t)getuid();
	ev.user = "coachfs";
	ev.pid = getpid();
	ev.action = action;
	ev.path = "/";
	ev.result = result;
	ev.reason = reason;
	int rc = cfs_audit_append(c->audit, &ev, err);
	if (rc < 0)
		syslog(LOG_ERR, "coachfs: audit %s: %s",
		       cfs_action_name(action) ? cfs_action_name(action) : "?", err->msg);
	return rc;
}

/* Every checkpoint the daemon signs, as the line an auditor pins: to the
 * authpriv facility, so a forwarded syslog keeps a copy off this machine. */
static void head_to_syslog(const char *line, void *arg)
{
	(void)arg;
	syslog(LOG_AUTHPRIV | LOG_INFO, "coachfs: audit head %s", line);
}

/* A grant row left out of a snapshot because it is not authentic (forged,
 * edited, or an unsealed legacy row): a tamper row and syslog, once per row
 * per snapshot rebuild. Called under the grants handle's lock. */
static void grant_tamper(void *arg, int64_t id, const char *path, const char *why)
{
	struct cfs_ctx *c = arg;
	char reason[300];
	snprintf(reason, sizeof reason, "policy.db: grant %lld is %s: ignored, it grants nothing",
		 (long long)id, why);
	syslog(LOG_ERR, "coachfs: %s", reason);
	cfs_access_audit(c, NULL, CFS_ACT_TAMPER, path, "error", reason, id, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
}

/* Unlock the store with the passphrase (wiped here) and open every module:
 * store, integrity record, roles, policy.db with its row MAC key, and the
 * audit log with its writer and signing key. 0, or -errno with e set. */
static int open_modules(struct cfs_ctx *c, char *pass, size_t passlen, struct cfs_err *e)
{
	char hdr[PATH_MAX];
	int rc;
	if (cfs_store_header_path(c->cfg->store_path, hdr, sizeof hdr) < 0) {
		cfs_pass_free(pass, passlen);
		return cfs_errf(e, -ENAMETOOLONG, "store path too long");
	}
	/* before the passphrase's slow unlock: a second daemon stops at once */
	if ((rc = cfs_state_lock(c->cfg->state_db, &c->state_lock, e)) < 0) {
		cfs_pass_free(pass, passlen);
		return rc;
	}
	rc = cfs_store_unlock(hdr, pass, passlen, &c->keys, e);
	cfs_pass_free(pass, passlen);
	if (rc < 0)
		return rc;
	if ((rc = cfs_store_open(c->cfg->store_path, c->keys, &c->store, e)) < 0 ||
	    (rc = cfs_state_open(c->cfg->state_db, c->keys, 0, &c->state, e)) < 0 ||
	    (rc = cfs_roletab_build(c->cfg, &c->roles, e)) < 0 ||
	    (rc = cfs_grants_open(c->cfg->policy_db, 0, &c->grants, e)) < 0 ||
	    (rc = cfs_links_open(c->cfg->policy_db, &c->links, e)) < 0 ||
	    (rc = cfs_audit_open(c->cfg->audit_db, 0, &c->audit, e)) < 0)
		return rc;
	/* every grant and link row must carry a MAC under the store's key; a
	 * grant row that does not is left out and reported (grant_tamper) */
	if ((rc = cfs_grants_set_key(c->grants, c->keys->rowmac, e)) < 0 ||
	    (rc = cfs_links_set_key(c->links, c->keys->rowmac, e)) < 0)
		return rc;
	cfs_grants_set_report(c->grants, grant_tamper, c);
	unsigned char *sk = sodium_malloc(CFS_AUDIT_SK_BYTES);
	unsigned char pk[CFS_AUDIT_PK_BYTES];
	if (!sk)
		return cfs_errf(e, -ENOMEM, "out of secure memory");
	cfs_audit_keypair(c->keys, pk, sk);
	rc = cfs_audit_set_head_hook(c->audit, head_to_syslog, NULL);
	if (rc < 0)
		cfs_errf(e, rc, "audit: cannot set the checkpoint hook");
	else
		rc = cfs_audit_start(c->audit, c->cfg->flush_ms, sk, e);
	sodium_free(sk);
	return rc;
}

/* Where and as what this daemon serves: host name, the mount point (made
 * absolute) recorded in policy.db for the tools — a locked policy.db
 * refuses here. 0 or -1 with msg set. */
static int where_we_serve(struct cfs_ctx *c, const char *mnt, char *msg, size_t cap)
{
	struct cfs_err e = { "" };
	if (gethostname(c->host, sizeof c->host - 1) != 0)
		cfs_strlcpy(c->host, "localhost", sizeof c->host);
	if (!realpath(mnt, c->mountpoint)) {
		snprintf(msg, cap, "%s: %s", mnt, strerror(errno));
		return -1;
	}
	if (cfs_grants_meta_set(c->grants, "mountpoint", c->mountpoint, &e) < 0) {
		snprintf(msg, cap, "cannot record the mount point in the policy database: %.900s", e.msg);
		return -1;
	}
	return 0;
}

/* Create the FUSE session and mount it. 0, or -1 with msg set; *mounted
 * says whether fuse_unmount is owed. */
static int mount_fuse(struct cfs_ctx *c, const char *argv0, const char *fuse_opts, struct fuse **out,
		      int *mounted, char *msg, size_t cap)
{
	char opts[2048];
	if ((size_t)snprintf(opts, sizeof opts,
			     "default_permissions,allow_other,fsname=coachfs,subtype=coachfs,"
			     "max_read=1048576%s%s",
			     fuse_opts ? "," : "", fuse_opts ? fuse_opts : "") >= sizeof opts) {
		snprintf(msg, cap, "-o: options too long");
		return -1;
	}
	char *fargv[] = { (char *)argv0, "-o", opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	*out = fuse_new(&args, (const struct fuse_operations *)cfs_fuse_ops(), cfs_fuse_ops_size(), c);
	fuse_opt_free_args(&args);
	if (!*out) {
		snprintf(msg, cap, "-o: FUSE rejected the mount options");
		return -1;
	}
	if (fuse_mount(*out, c->mountpoint) != 0) {
		snprintf(msg, cap, "%.900s: cannot mount (is FUSE available and the directory empty?)",
			 c->mountpoint);
		return -1;
	}
	*mounted = 1;
	if (fuse_set_signal_handlers(fuse_get_session(*out)) != 0) {
		snprintf(msg, cap, "cannot install signal handlers");
		return -1;
	}
	return 0;
}

/* The mount row, committed, and a checkpoint over it at once: rows never
 * sit unsealed for long, and a log with events but no checkpoint is always
 * a tampered one. A mount the log cannot record does not serve (fail
 * closed). 0, or -1 with msg set; on success msg says what was mounted. */
static int record_mount(struct cfs_ctx *c, char *msg, size_t cap)
{
	struct cfs_err e = { "" };
	snprintf(msg, cap, "mounted %.400s at %.400s", c->cfg->store_path, c->mountpoint);
	if (audit_row(c, CFS_ACT_MOUNT, "allow", msg, &e) < 0) {
		snprintf(msg, cap, "cannot record the mount in the audit log: %.900s", e.msg);
		return -1;
	}
	if (cfs_audit_checkpoint(c->audit, &e) < 0) {
		snprintf(msg, cap, "cannot sign an audit checkpoint: %.900s", e.msg);
		return -1;
	}
	return 0;
}

/* The waiting parent learns the mount is ready; the daemon lets go of the
 * terminal and the working directory. */
static void detach(int notify_fd)
{
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		close(devnull);
	}
	if (chdir("/") != 0) { /* "/" always exists */ }
	report(notify_fd, "");
}

/* The kernel's readahead for the mount, raised once the FUSE handshake
 * has capped it (bdi.h): per-open files read with small requests then
 * reach the daemon as 1 MiB READs instead of 128 KiB ones. Runs on its
 * own thread, as its stat waits for the loop to answer INIT; a mount that
 * cannot be tuned serves as it is. */
static void *tune_readahead(void *arg)
{
	const struct cfs_ctx *c = arg;
	struct cfs_err e = { "" };
	if (cfs_bdi_readahead(c->mountpoint, CFS_READAHEAD_KB, &e) < 0)
		syslog(LOG_WARNING, "coachfs: kernel readahead stays at its default: %s", e.msg);
	return NULL;
}

/* Serve until unmounted; 0 when the loop ended cleanly. */
static int run_loop(struct cfs_ctx *c, struct fuse *fuse)
{
	struct cfs_err e = { "" };
	/* Helper threads for large reads (after the fork: threads do not
	 * survive one). Without them every read runs on one core, no worse. */
	unsigned nw = cfs_workers_default();
	if (nw && cfs_workers_new(nw, &c->workers, &e) < 0)
		syslog(LOG_WARNING, "coachfs: reads stay on one core: %s", e.msg);
	/* Opens reuse released files' key pages whichever thread released
	 * them (a fresh sodium_malloc page costs mmap, mlock and mprotects, and
	 * freeing one a TLB shootdown on every CPU). */
	if (cfs_shells_new(16, &c->shells, &e) < 0)
		syslog(LOG_WARNING, "coachfs: no shared file shells: %s", e.msg);
	/* Names and start times of callers between requests (an open then
	 * reads neither /etc/passwd nor /proc/PID/stat again). */
	int crc = cfs_ccache_new(&c->ccache);
	if (crc < 0)
		syslog(LOG_WARNING, "coachfs: no caller cache: %s", strerror(-crc));
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	if (!lc)
		return -1;
	fuse_loop_cfg_set_idle_threads(lc, 16);
	fuse_loop_cfg_set_max_threads(lc, 64);
	int rc = fuse_loop_mt(fuse, lc);
	fuse_loop_cfg_destroy(lc);
	fuse_remove_signal_handlers(fuse_get_session(fuse));
	return rc == 0 ? 0 : -1;
}

/* Close everything open_modules and run_loop opened; 0, or 1 when the
 * audit log could not be closed cleanly. */
static int close_modules(struct cfs_ctx *c)
{
	struct cfs_err e = { "" };
	int status = 0;
	cfs_workers_free(c->workers); /* every FUSE thread has stopped */
	c->workers = NULL;
	cfs_shells_free(c->shells);
	c->shells = NULL;
	cfs_ccache_free(c->ccache);
	c->ccache = NULL;
	if (c->audit && cfs_audit_close(c->audit, &e) < 0) {
		syslog(LOG_ERR, "coachfs: closing the audit log: %s", e.msg);
		status = 1;
	}
	c->audit = NULL;
	cfs_links_close(c->links);
	cfs_grants_close(c->grants);
	cfs_roletab_free(c->roles);
	cfs_store_close(c->store);
	cfs_state_close(c->state);
	cfs_keys_free(c->keys);
	if (c->state_lock >= 0)
		close(c->state_lock);   /* another daemon may serve the store now */
	c->state_lock = -1;
	return status;
}

/* Everything after the passphrase: unlock, open, mount, serve.
 * notify_fd >= 0 when a parent waits for the outcome. */
static int serve(struct cfs_ctx *c, const char *argv0, const char *mnt, const char *fuse_opts,
		 char *pass, size_t passlen, int notify_fd)
{
	struct cfs_err e = { "" };
	char msg[1024];
	struct fuse *fuse = NULL;
	int status = 1, mounted = 0, tuner = 0;
	pthread_t tuner_thread;

	if (open_modules(c, pass, passlen, &e) < 0)
		status = fail(notify_fd, e.msg);
	else if (where_we_serve(c, mnt, msg, sizeof msg) < 0 ||
		 mount_fuse(c, argv0, fuse_opts, &fuse, &mounted, msg, sizeof msg) < 0 ||
		 record_mount(c, msg, sizeof msg) < 0)
		status = fail(notify_fd, msg);
	else {
		syslog(LOG_INFO, "coachfs: %s", msg);   /* and to stderr with -f (LOG_PERROR) */
		if (notify_fd >= 0) {
			detach(notify_fd);
			notify_fd = -1;
		}
		tuner = pthread_create(&tuner_thread, NULL, tune_readahead, c) == 0;
		if (!tuner)
			syslog(LOG_WARNING, "coachfs: kernel readahead stays at its default: no thread");
		status = run_loop(c, fuse) == 0 ? 0 : 1;
		if (audit_row(c, CFS_ACT_UNMOUNT, "allow", "unmounted", NULL) < 0)
			status = 1;
	}
	if (fuse) {
		if (mounted)
			fuse_unmount(fuse);   /* ends a stat the tuner may still wait in */
		fuse_destroy(fuse);
	}
	if (tuner)
		pthread_join(tuner_thread, NULL);
	if (close_modules(c) != 0)
		status = 1;
	if (notify_fd >= 0)
		report(notify_fd, "the daemon stopped before the mount was ready");
	return status;
}

static void scratch_free(void *p)
{
	struct cfs_scratch *s = p;
	if (s) {
		if (s->buf)
			sodium_memzero(s->buf, s->cap);
		cfs_scratch_free(s);
		free(s);
	}
}

/* Do a and b name the same directory (1), different ones (0), or is one
 * missing (-errno)? Compared by device and inode, so a symlink or a
 * trailing slash in an fstab line does not matter. */
static int same_dir(const char *a, const char *b)
{
	struct stat sa, sb;
	if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
		return -errno;
	return S_ISDIR(sa.st_mode) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The command line. */
struct args {
	const char *cfgfile, *fuse_opts, *source, *mnt;
	int foreground;
	char optbuf[4096], optcfg[4096];
};

/* Parse argv into a; -1 to go on, else the exit status (--help, errors). */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cfs_err e = { "" };
	int opt;
	while ((opt = getopt_long(argc, argv, "c:fo:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': a->cfgfile = optarg; break;
		case 'f': a->foreground = 1; break;
		case 'o':
			if (cfs_mount_opts(optarg, a->optbuf, sizeof a->optbuf, a->optcfg, sizeof a->optcfg,
					   &e) < 0) {
				fprintf(stderr, "coachfs: %s\n", e.msg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("coachfs %s\n", CFS_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc || argc - optind > 2) {
		fprintf(stderr, "coachfs: %s\n", optind >= argc ? "missing MOUNTPOINT" : "too many arguments");
		usage(stderr);
		return 2;
	}
	if (a->optbuf[0])
		a->fuse_opts = a->optbuf;
	if (a->optcfg[0]) {
		if (a->cfgfile && strcmp(a->cfgfile, a->optcfg) != 0) {
			fprintf(stderr, "coachfs: -c %s and -o config=%s name different files\n", a->cfgfile,
				a->optcfg);
			return 2;
		}
		a->cfgfile = a->optcfg;
	}
	a->source = argc - optind == 2 ? argv[optind] : NULL;
	a->mnt = argv[argc - 1];
	return -1;
}

/* Load the configuration and check the arguments against it: the store a
 * mount(8) source names, the mount point. 0, or 1 with a message printed. */
static int load_checked(const struct args *a, struct cfs_config **cfg)
{
	struct cfs_err e = { "" };
	struct stat st;
	if (cfs_config_load(cfs_config_path(a->cfgfile), cfg, &e) < 0) {
		fprintf(stderr, "coachfs: %s\n", e.msg);
		return 1;
	}
	if (a->source && same_dir(a->source, (*cfg)->store_path) != 1) {
		fprintf(stderr, "coachfs: %s: not the store %s names ([store] path = %s)\n", a->source,
			cfs_config_path(a->cfgfile), (*cfg)->store_path);
	} else if (stat(a->mnt, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "coachfs: %s: not a directory\n", a->mnt);
	} else {
		return 0;
	}
	cfs_config_free(*cfg);
	*cfg = NULL;
	return 1;
}

/* The parent of a daemon that forked: wait for its word on the pipe (a
 * single NUL: mounted; text: why it failed) and return the exit status. */
static int await_daemon(pid_t pid, int fd)
{
	char msg[1100];
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, msg + got, sizeof msg - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got >= sizeof msg - 1)
			break;
	}
	close(fd);
	msg[got] = 0;
	if (got > 0 && msg[0]) {
		fprintf(stderr, "coachfs: %s\n", msg);
		waitpid(pid, NULL, 0);
		return 1;
	}
	if (got == 0) {
		waitpid(pid, NULL, 0);
		fprintf(stderr, "coachfs: the daemon exited before the mount was ready\n");
		return 1;
	}
	return 0;
}

/* Serve in a child that detaches once mounted; the parent exits with the
 * outcome. The passphrase is wiped in the parent and by serve. */
static int serve_detached(struct cfs_ctx *ctx, const char *argv0, const struct args *a, char *pass,
			  size_t passlen)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		fprintf(stderr, "coachfs: pipe: %s\n", strerror(errno));
		cfs_pass_free(pass, passlen);
		return 1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "coachfs: fork: %s\n", strerror(errno));
		cfs_pass_free(pass, passlen);
		return 1;
	}
	if (pid == 0) {
		close(p[0]);
		setsid();
		int status = serve(ctx, argv0, a->mnt, a->fuse_opts, pass, passlen, p[1]);
		cfs_config_free(ctx->cfg);
		_exit(status);
	}
	close(p[1]);
	cfs_pass_free(pass, passlen);
	return await_daemon(pid, p[0]);
}

int main(int argc, char **argv)
{
	static struct args a;
	struct cfs_err e = { "" };
	struct cfs_ctx ctx;
	int status = parse_args(argc, argv, &a);
	if (status >= 0)
		return status;
	openlog("coachfs", LOG_PID | (a.foreground ? LOG_PERROR : 0), LOG_DAEMON);
	if (harden() < 0)
		return 1;
	/* Before any database is opened: SQLite's allocator keeps no
	 * statistics (a global mutex and counters around every malloc and
	 * free), 8-10% of the audit writer's time per row (RESULTS.md). */
	if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
		syslog(LOG_NOTICE, "coachfs: SQLite was initialised already; it keeps its memory statistics");
	if (cfs_crypto_init(&e) < 0) {
		fprintf(stderr, "coachfs: %s\n", e.msg);
		return 1;
	}
	memset(&ctx, 0, sizeof ctx);
	ctx.state_lock = -1;
	cfs_ctx_locks_init(&ctx);
	if (pthread_key_create(&ctx.scratch_key, scratch_free) != 0) {
		fprintf(stderr, "coachfs: cannot create thread key\n");
		return 1;
	}
	if (load_checked(&a, &ctx.cfg) != 0)
		return 1;
	char *pass;
	size_t passlen;
	if (cfs_pass_obtain(ctx.cfg, 0, "coachfs passphrase: ", &pass, &passlen, &e) < 0) {
		fprintf(stderr, "coachfs: %s\n", e.msg);
		cfs_config_free(ctx.cfg);
		return 1;
	}
	if (a.foreground)
		status = serve(&ctx, argv[0], a.mnt, a.fuse_opts, pass, passlen, -1);
	else
		status = serve_detached(&ctx, argv[0], &a, pass, passlen);
	cfs_config_free(ctx.cfg);
	pthread_key_delete(ctx.scratch_key);
	return status;
}
