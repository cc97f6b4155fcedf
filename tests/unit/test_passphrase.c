/* test_passphrase.c — passphrase.c: a command's first line (no shell,
 * arguments split on blanks), its failures named, the systemd credential,
 * and the order command > file > credential. */
#include "coachfs/config.h"
#include "coachfs/crypto.h"
#include "coachfs/passphrase.h"
#include "t.h"

#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void script(const char *name, const char *body)
{
	char p[128];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(p, 0755);
}

/* run "DIR/cmd" + args; returns rc, fills got (or "") and err */
static int run(const char *cmd, char *got, size_t cap, struct cfs_err *e)
{
	char line[256];
	snprintf(line, sizeof line, "%s/%s", dir, cmd);
	char *p = NULL;
	size_t n = 0;
	got[0] = 0;
	int rc = cfs_pass_from_command(line, &p, &n, e);
	if (rc == 0) {
		snprintf(got, cap, "%.*s", (int)n, p);
		cfs_pass_free(p, n);
	}
	return rc;
}

static void test_command(void)
{
	struct cfs_err e = { "" };
	char got[128], want[256];
	script("two", "printf 'hunter2\\nsecond line\\n'");
	T_EQ_INT(run("two", got, sizeof got, &e), 0);
	T_EQ_STR(got, "hunter2");
	/* arguments split on blanks, no shell: $HOME and ; reach it literally */
	script("args", "printf '%s|' \"$@\"; echo");
	T_EQ_INT(run("args  a\tb;c $HOME", got, sizeof got, &e), 0);
	T_EQ_STR(got, "a|b;c|$HOME|");
	script("crlf", "printf 'pw\\r\\n'");
	T_EQ_INT(run("crlf", got, sizeof got, &e), 0);
	T_EQ_STR(got, "pw");
	/* failures name the program */
	script("fails", "echo right; exit 3");
	T_EQ_INT(run("fails", got, sizeof got, &e), -EIO);
	snprintf(want, sizeof want, "passphrase_command %s/fails: exited with status 3", dir);
	T_EQ_STR(e.msg, want);
	script("silent", "exit 0");
	T_EQ_INT(run("silent", got, sizeof got, &e), -EINVAL);
	snprintf(want, sizeof want, "passphrase_command %s/silent: the passphrase is empty", dir);
	T_EQ_STR(e.msg, want);
	script("killed", "echo pw; kill -9 $$");
	T_EQ_INT(run("killed", got, sizeof got, &e), -EIO);
	snprintf(want, sizeof want, "passphrase_command %s/killed: killed by signal 9", dir);
	T_EQ_STR(e.msg, want);
	T_EQ_INT(run("missing", got, sizeof got, &e), -ENOENT);
	snprintf(want, sizeof want, "passphrase_command %s/missing: No such file or directory", dir);
	T_EQ_STR(e.msg, want);
	/* a program that goes on writing after the first line is not waited on forever */
	script("chatty", "echo pw; exec yes");
	T_EQ_INT(run("chatty", got, sizeof got, &e), -EIO);
	snprintf(want, sizeof want, "passphrase_command %s/chatty: killed by signal 13", dir);
	T_EQ_STR(e.msg, want);
	char *p = NULL;
	size_t n = 0;
	T_EQ_INT(cfs_pass_from_command("relative/prog", &p, &n, &e), -EINVAL);
	T_EQ_STR(e.msg, "passphrase_command: 'relative/prog' is not an absolute program path");
	T_EQ_INT(cfs_pass_from_command("   ", &p, &n, &e), -EINVAL);
}

static void test_order(void)
{
	struct cfs_err e = { "" };
	struct cfs_config cfg;
	char cmd[128], file[128], cred[128], *p = NULL;
	size_t n = 0;
	memset(&cfg, 0, sizeof cfg);
	script("cmdpw", "echo from-command");
	snprintf(cmd, sizeof cmd, "%s/cmdpw", dir);
	snprintf(file, sizeof file, "%s/passfile", dir);
	FILE *f = fopen(file, "w");
	fputs("from-file\n", f);
	fclose(f);
	snprintf(cred, sizeof cred, "%s/" CFS_CREDENTIAL_NAME, dir);
	f = fopen(cred, "w");
	fputs("from-credential\n", f);
	fclose(f);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);

	cfg.passphrase_command = cmd;
	T_EQ_INT(cfs_pass_obtain(&cfg, 0, "", &p, &n, &e), 0);
	T_EQ_STR(p, "from-command");
	cfs_pass_free(p, n);
	cfg.passphrase_command = NULL;
	cfg.passphrase_file = file;
	T_EQ_INT(cfs_pass_obtain(&cfg, 0, "", &p, &n, &e), 0);
	T_EQ_STR(p, "from-file");
	cfs_pass_free(p, n);
	cfg.passphrase_file = NULL;
	T_EQ_INT(cfs_pass_obtain(&cfg, 0, "", &p, &n, &e), 0);
	T_EQ_STR(p, "from-credential");
	cfs_pass_free(p, n);
	/* no credential of that name: the terminal (none here) */
	unlink(cred);
	int rc = cfs_pass_obtain(&cfg, 0, "", &p, &n, &e);
	if (isatty(0))
		T_CHECK(1);   /* interactive run: would ask; nothing to assert */
	else
		T_CHECK(rc < 0);
	unsetenv("CREDENTIALS_DIRECTORY");
	unlink(file);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/cfs-pass-XXXXXX");
	if (!mkdtemp(dir) || cfs_crypto_init(NULL) < 0) {
		printf("FAIL test_passphrase.setup\n");
		return 1;
	}
	T_RUN(test_command);
	T_RUN(test_order);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0) { /* best effort */ }
	T_END();
}
