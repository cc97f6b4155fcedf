/* admin-policy.c — coach-admin policy: read and set policy attributes
 * through the running mount, so the daemon decides and audits the change.
 * It must never write policy to the store directly. */
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
int cfs_admin_is_coachfs_mount(const char *dir)
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
	int m = cfs_admin_is_coachfs_mount(out);
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

/* policy get: print each key asked for (all four without KEY) through the
 * open descriptor's /proc path. 0, else the exit status. */
static int policy_get(struct cfs_config *cfg, const char *proc, const char *path, const char *key)
{
	char name[64], buf[4096];
	for (size_t i = 0; i < sizeof POLICY_KEYS / sizeof POLICY_KEYS[0]; i++) {
		if (key && strcmp(key, POLICY_KEYS[i]))
			continue;
		snprintf(name, sizeof name, "%s%s", CFS_XATTR_PREFIX, POLICY_KEYS[i]);
		ssize_t n = getxattr(proc, name, buf, sizeof buf - 1);
		if (n < 0 && errno == ENODATA)
			n = 0; /* no readers list / no limit */
		if (n < 0)
			return policy_fail(cfg, path, POLICY_KEYS[i], NULL, errno);
		buf[n] = 0;
		if (memchr(buf, 0, (size_t)n) || strchr(buf, '\n')) {
			cfs_say(0, "%s: %s: the mount returned a malformed value", path, POLICY_KEYS[i]);
			return 1;
		}
		if (key)
			printf("%s\n", buf);
		else
			printf("%s=%s\n", POLICY_KEYS[i], buf);
	}
	return 0;
}

/* The words after "policy": --mount DIR and up to five positionals. -1
 * to go on, else the exit status. */
static int policy_args(int argc, char **argv, const char **mount_opt, const char *pos[5], int *npos)
{
	int opts = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (opts && !strcmp(a, "--")) {
			opts = 0;
		} else if (opts && !strcmp(a, "--mount")) {
			if (++i >= argc)
				return cfs_admin_usage_error("policy: --mount needs a directory");
			*mount_opt = argv[i];
		} else if (opts && !strncmp(a, "--mount=", 8)) {
			*mount_opt = a + 8;
		} else if (opts && !strncmp(a, "--", 2)) {
			return cfs_admin_usage_error("policy: unknown option");
		} else if (*npos < 5) {
			pos[(*npos)++] = a;
		} else {
			return cfs_admin_usage_error("policy: too many arguments");
		}
	}
	if (*npos < 2)
		return cfs_admin_usage_error("policy: expected get PATH [KEY], set PATH KEY VALUE or unset PATH KEY");
	return -1;
}

int cfs_admin_policy(struct cfs_config *cfg, int argc, char **argv)
{
	const char *mount_opt = NULL, *pos[5];
	int npos = 0;
	int rc = policy_args(argc, argv, &mount_opt, pos, &npos);
	if (rc >= 0)
		return rc;
	const char *verb = pos[0], *key = npos > 2 ? pos[2] : NULL, *value = npos > 3 ? pos[3] : NULL;
	int get = !strcmp(verb, "get"), set = !strcmp(verb, "set"), unset = !strcmp(verb, "unset");
	if (!get && !set && !unset) {
		cfs_say(0, "policy: unknown action '%s' (get, set or unset)", verb);
		return 2;
	}
	if ((get && npos > 3) || (set && npos != 4) || (unset && npos != 3))
		return cfs_admin_usage_error(get ? "policy get PATH [KEY]" : set ? "policy set PATH KEY VALUE" : "policy unset PATH KEY");
	if (key && !policy_key_ok(key)) {
		cfs_say(0, "unknown policy key '%s' (class, export, readers or max_opens)", key);
		return 2;
	}
	char path[PATH_MAX], mnt[PATH_MAX], proc[64], name[64];
	if ((size_t)snprintf(path, sizeof path, "%s%s", pos[1][0] == '/' ? "" : "/", pos[1]) >= sizeof path ||
	    cfs_path_valid(path) != 0) {
		cfs_say(0, "%s: not a canonical mount path (like /incidents/2026, no '.', '..' or '//')", pos[1]);
		return 2;
	}
	rc = policy_mount(cfg, mount_opt, mnt);
	if (rc != 0)
		return rc;
	int fd = policy_open(mnt, path);
	if (fd < 0)
		return policy_fail(cfg, path, key, value, -fd);
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	if (set || unset) {
		snprintf(name, sizeof name, "%s%s", CFS_XATTR_PREFIX, key);
		int r = set ? setxattr(proc, name, value, strlen(value), 0) : removexattr(proc, name);
		rc = r != 0 ? policy_fail(cfg, path, key, value, errno) : 0;
	} else {
		rc = policy_get(cfg, proc, path, key);
	}
	close(fd);
	if (rc == 0 && fflush(stdout) != 0)
		rc = cfs_admin_die("writing the output failed");
	return rc;
}
