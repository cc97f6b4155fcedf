/* grant-run.c — `coach-grant run`: a grant bound to one process tree, for
 * agents and scripts. It starts COMMAND as USER with a grant on PATH that
 * admits only COMMAND's process (pinned by pid, start time and boot) and its
 * descendants, waits for it, revokes the grant the moment it exits ("session
 * ended") and exits with its status. Also how list and show print a binding.
 * It must never run COMMAND with more than USER's own ids and groups, never
 * let COMMAND start before its grant exists and is audited, never hand
 * COMMAND the store's keys (the child is forked before they are unlocked and
 * holds none), and never count on itself to end access: the daemon refuses
 * the grant once the process is gone, whatever happens to this program. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coachfs/caller.h"
#include "coachfs/session.h"
#include "coachfs/util.h"
#include "grant.h"

#define RUN_PATH "/usr/local/bin:/usr/bin:/bin"
#define RUN_GROUPS_MAX 1024

/* Who COMMAND runs as, resolved before anything starts. */
struct runas {
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[RUN_GROUPS_MAX];
	char name[CFS_TEXT_MAX];
	char home[4096];
	char shell[4096];
};

struct run_args {
	const char *user, *path, *ttl, *reason;
	int64_t ttl_s;
	int write;
	char **cmd;                    /* COMMAND and its arguments, NULL-terminated */
};

static int run_usage(void)
{
	return cfs_say(EXIT_USAGE, "usage: coach-grant run --user U --path P --ttl DURATION "
		       "[--reason TEXT] [--write] -- COMMAND [ARGS...]");
}

static int parse_run(int argc, char **argv, const char **cfile, struct run_args *ra)
{
	const struct grant_opt opts[] = {
		{ "user", &ra->user, NULL }, { "path", &ra->path, NULL }, { "ttl", &ra->ttl, NULL },
		{ "reason", &ra->reason, NULL }, { "write", NULL, &ra->write }, { NULL, NULL, NULL } };
	int rc;
	memset(ra, 0, sizeof *ra);
	/* stop at COMMAND: its own options are its own */
	if ((rc = grant_getopt(argc, argv, "run", opts, 1, cfile)) != 0)
		return rc;
	if (optind >= argc || !ra->user || !ra->path || !ra->ttl)
		return run_usage();
	ra->cmd = argv + optind;
	return 0;
}

/* USER: a login name (a session runs as one user, not a group or role). */
static int resolve_runas(const char *user, struct runas *ru)
{
	struct passwd *pw = user[0] && user[0] != '@' && strncmp(user, "role:", 5) != 0
				    ? getpwnam(user) : NULL;
	if (!pw)
		return cfs_say(EXIT_USAGE, "--user: '%.80s' is not a user on this host (run takes a "
			       "login name)", user);
	if (pw->pw_uid == 0)
		return cfs_say(EXIT_USAGE, "--user: a session runs as an ordinary user, not root");
	ru->uid = pw->pw_uid;
	ru->gid = pw->pw_gid;
	cfs_strlcpy(ru->name, pw->pw_name, sizeof ru->name);
	cfs_strlcpy(ru->home, pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : "/", sizeof ru->home);
	cfs_strlcpy(ru->shell, pw->pw_shell && pw->pw_shell[0] ? pw->pw_shell : "/bin/sh",
		    sizeof ru->shell);
	ru->ngroups = RUN_GROUPS_MAX;
	if (getgrouplist(pw->pw_name, pw->pw_gid, ru->groups, &ru->ngroups) < 0)
		return cfs_say(EXIT_FAIL, "--user: %s is in more than %d groups", user, RUN_GROUPS_MAX);
	return 0;
}

/* The grant as it will be stored, bound to process pid (start time st). */
static int build_rec(const struct run_args *ra, const struct runas *ru, const struct cfs_who *adm,
		     pid_t pid, uint64_t st, struct cfs_grant_rec *rec)
{
	int64_t now = cfs_now_s();
	const char *base = strrchr(ra->cmd[0], '/');
	cfs_grant_rec_for_user(rec, ru->name, ru->uid, ra->path, ra->write, now, ra->ttl_s);
	if (cfs_proc_boot_id(rec->session_boot, sizeof rec->session_boot) < 0 || st == 0)
		return cfs_say(EXIT_FAIL, "cannot pin the session's process (/proc unreadable)");
	cfs_strlcpy(rec->granted_by, adm->name, sizeof rec->granted_by);
	if (ra->reason)
		cfs_strlcpy(rec->reason, ra->reason, sizeof rec->reason);
	rec->g.session_pid = pid;
	rec->g.session_start = st;
	cfs_strlcpy(rec->session_cmd, base ? base + 1 : ra->cmd[0], sizeof rec->session_cmd);
	return 0;
}

/* ---- the child: COMMAND as USER ---- */

static void child_env(const struct runas *ru, int64_t id, char **env, char bufs[][4200])
{
	int n = 0;
	snprintf(bufs[n], sizeof bufs[n], "PATH=%s", RUN_PATH);
	env[n] = bufs[n], n++;
	snprintf(bufs[n], sizeof bufs[n], "HOME=%s", ru->home);
	env[n] = bufs[n], n++;
	snprintf(bufs[n], sizeof bufs[n], "USER=%s", ru->name);
	env[n] = bufs[n], n++;
	snprintf(bufs[n], sizeof bufs[n], "LOGNAME=%s", ru->name);
	env[n] = bufs[n], n++;
	snprintf(bufs[n], sizeof bufs[n], "SHELL=%s", ru->shell);
	env[n] = bufs[n], n++;
	snprintf(bufs[n], sizeof bufs[n], "COACHFS_GRANT_ID=%lld", (long long)id);
	env[n] = bufs[n], n++;
	static const char *const keep[] = { "TERM", "LANG", "LC_ALL" };
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
		const char *v = getenv(keep[i]);
		if (v && strlen(v) < 200 && cfs_printable(v)) {
			snprintf(bufs[n], sizeof bufs[n], "%s=%s", keep[i], v);
			env[n] = bufs[n], n++;
		}
	}
	env[n] = NULL;
}

/* Become USER for good: groups, then gid, then uid (real, effective, saved),
 * and check nothing of root is left. */
static int drop_to(const struct runas *ru)
{
	uid_t r, e, s;
	gid_t gr, ge, gs;
	if (setgroups((size_t)ru->ngroups, ru->groups) != 0 ||
	    setresgid(ru->gid, ru->gid, ru->gid) != 0 || setresuid(ru->uid, ru->uid, ru->uid) != 0)
		return -errno;
	if (getresuid(&r, &e, &s) != 0 || getresgid(&gr, &ge, &gs) != 0 || r != ru->uid ||
	    e != ru->uid || s != ru->uid || gr != ru->gid || ge != ru->gid || gs != ru->gid ||
	    setuid(0) == 0)
		return -EPERM;
	return 0;
}

/* Runs in the child: wait for the parent's go (the grant exists and is
 * audited), then exec COMMAND as USER. Never returns. */
static void child_run(int go, pid_t parent, const struct runas *ru, char **cmd)
{
	int64_t id = 0;
	char *env[12], bufs[11][4200];
	ssize_t n;
	do
		n = read(go, &id, sizeof id);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof id || id <= 0)
		_exit(127);  /* the parent gave up: COMMAND never starts */
	close(go);
	int rc = drop_to(ru);
	if (rc < 0) {
		cfs_say(126, "cannot become %s: %s", ru->name, strerror(-rc));
		_exit(126);
	}
	/* if coach-grant dies, so does COMMAND's process, and with it the grant */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(127);
	if (chdir(ru->home) != 0 && chdir("/") != 0)
		_exit(126);
	close_range(3, ~0U, 0);
	child_env(ru, id, env, bufs);
	/* execvpe looks COMMAND up in this process's PATH, not env's */
	if (setenv("PATH", RUN_PATH, 1) != 0)
		_exit(126);
	execvpe(cmd[0], cmd, env);
	int e = errno;
	cfs_say(126, "%s: %s", cmd[0], strerror(e));
	_exit(e == ENOENT ? 127 : 126);
}

/* ---- the parent ---- */

/* The signals the parent takes with sigwaitinfo once COMMAND may start
 * (blocked after the fork: the child keeps the mask it was started with). */
static void run_signals(sigset_t *set)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGHUP, SIGINT, SIGQUIT };
	sigemptyset(set);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaddset(set, sigs[i]);
}

/* Wait for the child; forward SIGTERM and SIGHUP to it; SIGINT and SIGQUIT
 * reach it from the terminal and leave this program waiting to revoke.
 * Returns its wait status (-1 when waiting failed). */
static int wait_child(pid_t child)
{
	sigset_t set;
	int st = 0;
	run_signals(&set);
	for (;;) {
		pid_t w = waitpid(child, &st, WNOHANG);
		if (w == child)
			return st;
		if (w < 0 && errno != EINTR)
			return -1;
		int sig = sigwaitinfo(&set, NULL);
		if (sig == SIGTERM || sig == SIGHUP)
			kill(child, sig);
	}
}

static int exit_status(int st)
{
	if (st < 0)
		return EXIT_FAIL;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return EXIT_FAIL;
}

struct run_state {
	struct cfs_config *cfg;
	struct cfs_keys *keys;
	struct cfs_grants *g;
	struct add_audit aa;
	struct cfs_who adm;
	struct cfs_grant_rec rec;
};

/* Unlock, open, and add the grant bound to child with its grant_add row. */
static int add_session_grant(const struct run_args *ra, const struct runas *ru, pid_t child,
			     struct run_state *rs)
{
	struct cfs_err err = { "" };
	int rc = build_rec(ra, ru, &rs->adm, child, cfs_proc_start(child), &rs->rec);
	if (rc != 0)
		return rc;
	if (open_audit(rs->cfg->audit_db, &rs->aa.a, &err) < 0)
		return cfs_say(EXIT_FAIL, "audit: %s", err.msg);
	rs->aa.adm = &rs->adm;
	if ((rc = unlock_keys(rs->cfg, &rs->keys)) != 0 ||
	    (rc = open_grants(rs->cfg, rs->keys, &rs->g)) != 0)
		return rc;
	if (cfs_grants_add_ex(rs->g, &rs->rec, add_audit_hook, &rs->aa, &err) < 0)
		return cfs_say(EXIT_FAIL, "the session's grant was not added%s: %s",
			       rs->aa.failed ? " (its audit row could not be written)" : "", err.msg);
	return 0;
}

static int check_args(struct run_args *ra)
{
	int rc;
	if (cfs_path_valid(ra->path) < 0)
		return cfs_say(EXIT_USAGE, "--path: '%.200s' is not a mount-relative path (like "
			       "/incidents/2026)", ra->path);
	if (cfs_parse_duration(ra->ttl, &ra->ttl_s) < 0)
		return cfs_say(EXIT_USAGE, "--ttl: '%.80s' is not a duration (like 90s, 15m, 4h, 2d)",
			       ra->ttl);
	if (ra->reason && (rc = text_arg("--reason", ra->reason)) != 0)
		return rc;
	if (!ra->cmd[0][0] || !cfs_printable(ra->cmd[0]))
		return cfs_say(EXIT_USAGE, "COMMAND: empty, or with control characters");
	return 0;
}

/* Fork COMMAND's process, waiting on its go pipe; -1 on failure. */
static pid_t start_child(const struct runas *ru, char **cmd, int *go)
{
	int p[2];
	pid_t parent = getpid();
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	fflush(NULL);
	pid_t child = fork();
	if (child == 0) {
		close(p[1]);
		child_run(p[0], parent, ru, cmd);
	}
	close(p[0]);
	if (child < 0)
		close(p[1]);
	else
		*go = p[1];
	return child;
}

int cmd_run(int argc, char **argv, const char **cfile)
{
	struct run_args ra;
	struct runas *ru = calloc(1, sizeof *ru);
	struct run_state *rs = calloc(1, sizeof *rs);
	sigset_t block;
	int rc, go = -1;
	pid_t child = -1;
	if (!ru || !rs) {
		rc = cfs_say(EXIT_FAIL, "out of memory");
		goto out;
	}
	if ((rc = parse_run(argc, argv, cfile, &ra)) != 0 || (rc = check_args(&ra)) != 0 ||
	    (rc = need_root()) != 0 || (rc = resolve_runas(ra.user, ru)) != 0 ||
	    (rc = load_config(*cfile, &rs->cfg)) != 0)
		goto out;
	cfs_who_am_i(&rs->adm);
	/* the child first, before any key is unlocked: it must never hold one */
	if ((child = start_child(ru, ra.cmd, &go)) < 0) {
		rc = cfs_say(EXIT_FAIL, "cannot start %s: %s", ra.cmd[0], strerror(errno));
		goto out;
	}
	if ((rc = add_session_grant(&ra, ru, child, rs)) != 0) {
		kill(child, SIGKILL);
		goto reap;
	}
	int64_t id = rs->rec.g.id;
	fprintf(stderr, "coach-grant: grant %lld: %s may use %s until the command exits "
		"(session %ld)\n", (long long)id, ru->name, ra.path, (long)child);
	/* from here signals wait for sigwaitinfo (before, ^C at the passphrase
	 * prompt ends this program, and the child, seeing no go, exits 127) */
	run_signals(&block);
	sigprocmask(SIG_BLOCK, &block, NULL);
	if (write(go, &id, sizeof id) != (ssize_t)sizeof id)
		kill(child, SIGKILL);
	close(go);
	go = -1;
	int st = wait_child(child);
	child = -1;
	/* the process is gone: the daemon already refuses the grant; end it in
	 * policy.db too, with its row */
	revoke_audited(rs->g, rs->aa.a, &rs->adm, id, "session ended");
	rc = exit_status(st);
	goto out;
reap:
	if (go >= 0)
		close(go);
	while (child > 0 && waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
out:
	if (rs) {
		cfs_keys_free(rs->keys);
		cfs_grants_close(rs->g);
		close_audit(rs->aa.a);
		cfs_config_free(rs->cfg);
	}
	free(rs);
	free(ru);
	return rc;
}

/* ---- how list and show print a binding ---- */

void run_json(FILE *f, const struct cfs_grant_rec *r)
{
	if (!r->g.session_pid) {
		fputs(",\"session\":null", f);
		return;
	}
	fprintf(f, ",\"session\":{\"pid\":%ld,\"start\":%llu,\"boot\":", (long)r->g.session_pid,
		(unsigned long long)r->g.session_start);
	cfs_put_json_str(f, r->session_boot);
	fputs(",\"command\":", f);
	cfs_put_json_str(f, r->session_cmd);
	fprintf(f, ",\"state\":\"%s\"}", cfs_session_state(&r->g));
}

void run_show(const struct cfs_grant_rec *r)
{
	char cmd[CFS_TEXT_MAX * 4];
	if (!r->g.session_pid)
		return;
	cfs_term_buf(r->session_cmd, cmd, sizeof cmd);
	printf("%-13s pid %ld (%s), %s\n", "session:", (long)r->g.session_pid, cmd,
	       cfs_session_state(&r->g));
}

void run_subject(const struct cfs_grant_rec *r, char *out, size_t cap)
{
	char cmd[CFS_TEXT_MAX * 4];
	size_t n = strlen(out);
	if (!r->g.session_pid || n >= cap)
		return;
	cfs_term_buf(r->session_cmd, cmd, sizeof cmd);
	snprintf(out + n, cap - n, " (session %ld: %s)", (long)r->g.session_pid, cmd);
}
