/* passphrase.c — where the store passphrase comes from: a configured
 * command, a file, a systemd credential or the terminal (passphrase.h).
 * It owns no state; the passphrase only ever lives in sodium_malloc memory
 * handed to the caller. It must never print or log the passphrase, never
 * put it in an argument or the environment, and never run a shell. */
#include "coachfs/passphrase.h"
#include "coachfs/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ARGS_MAX 32

/* Split a copy of command (in buf) on blanks into argv (NULL-terminated). */
static int split_args(const char *command, char *buf, size_t cap, char **argv, struct cfs_err *err)
{
	if (cfs_strlcpy(buf, command, cap) >= cap)
		return cfs_errf(err, -E2BIG, "passphrase_command: too long");
	int n = 0;
	for (char *save = NULL, *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (n == ARGS_MAX)
			return cfs_errf(err, -E2BIG, "passphrase_command: more than %d words", ARGS_MAX);
		argv[n++] = w;
	}
	argv[n] = NULL;
	if (n == 0 || argv[0][0] != '/')
		return cfs_errf(err, -EINVAL, "passphrase_command: '%s' is not an absolute program path",
				n ? argv[0] : "");
	return 0;
}

/* Wait for the child until the deadline (seconds from start); kill it then. */
static int reap(pid_t pid, const char *prog, int64_t deadline_ms, struct cfs_err *err)
{
	int ws;
	for (;;) {
		pid_t r = waitpid(pid, &ws, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return cfs_errf(err, -errno, "passphrase_command %s: %s", prog, strerror(errno));
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 > deadline_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &ws, 0);
			return cfs_errf(err, -ETIMEDOUT, "passphrase_command %s: no exit within %d s",
					prog, CFS_PASS_CMD_TIMEOUT_S);
		}
		struct timespec nap = { 0, 10 * 1000 * 1000 };
		nanosleep(&nap, NULL);
	}
	if (WIFSIGNALED(ws))
		return cfs_errf(err, -EIO, "passphrase_command %s: killed by signal %d", prog, WTERMSIG(ws));
	if (WEXITSTATUS(ws) != 0)
		return cfs_errf(err, -EIO, "passphrase_command %s: exited with status %d", prog,
				WEXITSTATUS(ws));
	return 0;
}

int cfs_pass_from_command(const char *command, char **out, size_t *len, struct cfs_err *err)
{
	char buf[4096], *argv[ARGS_MAX + 1];
	int rc = split_args(command, buf, sizeof buf, argv, err);
	if (rc < 0)
		return rc;
	if (access(argv[0], X_OK) != 0)
		return cfs_errf(err, -errno, "passphrase_command %s: %s", argv[0], strerror(errno));
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return cfs_errf(err, -errno, "passphrase_command: pipe: %s", strerror(errno));
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t deadline = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + CFS_PASS_CMD_TIMEOUT_S * 1000;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(p[0]);
		close(p[1]);
		return cfs_errf(err, rc, "passphrase_command: fork: %s", strerror(-rc));
	}
	if (pid == 0) {
		/* stdout is the pipe; stdin and stderr stay, so it may prompt */
		if (dup2(p[1], STDOUT_FILENO) < 0)
			_exit(127);
		execv(argv[0], argv);
		dprintf(STDERR_FILENO, "passphrase_command %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	/* wait for the first line no longer than the deadline */
	struct pollfd pfd = { .fd = p[0], .events = POLLIN };
	int pr;
	do
		pr = poll(&pfd, 1, CFS_PASS_CMD_TIMEOUT_S * 1000);
	while (pr < 0 && errno == EINTR);
	char *pass = NULL;
	size_t n = 0;
	char what[4200];
	snprintf(what, sizeof what, "passphrase_command %s", argv[0]);
	if (pr == 0)
		rc = cfs_errf(err, -ETIMEDOUT, "%s: no output within %d s", what, CFS_PASS_CMD_TIMEOUT_S);
	else
		rc = cfs_pass_read_fd(p[0], what, &pass, &n, err);
	close(p[0]);   /* a program still writing gets SIGPIPE, not a hang */
	struct cfs_err werr = { "" };
	int wrc = reap(pid, argv[0], rc == -ETIMEDOUT ? 0 : deadline, &werr);
	/* how the program ended says more than what it printed */
	if (wrc < 0 && rc != -ETIMEDOUT) {
		rc = wrc;
		*err = werr;
	}
	if (rc < 0) {
		cfs_pass_free(pass, n);
		return rc;
	}
	*out = pass;
	*len = n;
	return 0;
}

int cfs_pass_obtain(const struct cfs_config *cfg, int confirm, const char *prompt, char **out,
		    size_t *len, struct cfs_err *err)
{
	if (cfg->passphrase_command)
		return cfs_pass_from_command(cfg->passphrase_command, out, len, err);
	if (cfg->passphrase_file)
		return cfs_pass_read(cfg->passphrase_file, confirm, prompt, out, len, err);
	const char *dir = secure_getenv("CREDENTIALS_DIRECTORY");
	if (dir && *dir) {
		char path[4096];
		struct stat st;
		if (snprintf(path, sizeof path, "%s/%s", dir, CFS_CREDENTIAL_NAME) < (int)sizeof path &&
		    stat(path, &st) == 0)
			return cfs_pass_read(path, confirm, prompt, out, len, err);
	}
	return cfs_pass_read(NULL, confirm, prompt, out, len, err);
}
