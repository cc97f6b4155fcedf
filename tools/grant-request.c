/* grant-request.c — coach-grant's access workflow commands that go through
 * the mount: request and breakglass (any user, as themselves), approve R12,
 * deny and review (an admin, as themselves). Each is a setxattr on the
 * daemon-owned control file MOUNT/.links/approve, so the daemon learns who
 * acts from the kernel; this program sends no name, needs no root and no
 * key, and must never trust SUDO_USER or any name for identity. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/xattr.h>

#include "coachfs/requests.h"
#include "coachfs/util.h"
#include "grant.h"

#define CTL "/.links/approve"
#define XA "user.coachfs."

/* The one coachfs mount in /proc/self/mounts (its \ooo escapes undone). */
static int mount_from_proc(char *buf, size_t cap)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	char line[8192], dir[4200], type[64];
	int found = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%*s %4199s %63s", dir, type) == 2 && strcmp(type, "fuse.coachfs") == 0) {
			size_t o = 0;
			for (const char *p = dir; *p && o + 1 < cap; p++) {
				unsigned a, b, c;
				if (p[0] == '\\' && sscanf(p + 1, "%1o%1o%1o", &a, &b, &c) == 3) {
					buf[o++] = (char)(a * 64 + b * 8 + c);
					p += 3;
				} else {
					buf[o++] = *p;
				}
			}
			buf[o] = 0;
			found++;
		}
	fclose(f);
	return found == 1 ? 0 : -1;
}

/* --mount, else the one coachfs mount, else the one the daemon recorded. */
static int find_mount(const char *mnt, const char **cfile, char *buf, size_t cap)
{
	struct cfs_config *cfg = NULL;
	if (mnt || mount_from_proc(buf, cap) < 0) {
		int rc = !mnt ? load_config(*cfile, &cfg) : 0;
		if (rc == 0)
			rc = mount_dir(cfg, mnt, buf, cap);
		cfs_config_free(cfg);
		return rc;
	}
	return 0;
}

#define STR_(x) #x
#define STR(x) STR_(x)

/* What the daemon's refusals of a request, a decision or a review mean. */
static const struct errno_msg ctl_msgs[] = {
	{ ENOENT, "no such request or path (or not a coachfs mount)" },
	{ EALREADY, "already decided (or reviewed)" },
	{ EPERM, "you may not (the daemon recorded why: coach-audit log --action "
		 "grant_request,grant_approve,grant_deny,breakglass,breakglass_review)" },
	{ EACCES, "the request has expired" },
	{ EINVAL, "refused: wrong kind of id, a class that admits by role, a directory for "
		  "break-glass, or a malformed value" },
	{ EDQUOT, "you already have " STR(CFS_REQ_PENDING_MAX) " pending requests" },
	{ EBADMSG, "the record failed authentication (edited or forged in policy.db)" },
	{ 0, NULL } };

/* Set user.coachfs.NAME = value on the control file; then, for a new
 * record, read back the caller's newest one into out. */
static int ctl(const char *mnt, const char **cfile, const char *name, const char *value, const char *what,
	       char *out, size_t cap)
{
	char m[4096], path[4200], xa[64];
	int rc = find_mount(mnt, cfile, m, sizeof m);
	if (rc != 0)
		return rc;
	snprintf(path, sizeof path, "%s" CTL, m);
	snprintf(xa, sizeof xa, XA "%s", name);
	if (setxattr(path, xa, value, strlen(value), 0) < 0)
		return errno_say(what, errno, ctl_msgs);
	if (!out)
		return 0;
	ssize_t n = getxattr(path, xa, out, cap - 1);
	if (n <= 0)
		return cfs_say(EXIT_FAIL, "%s: recorded, but its id could not be read back", what);
	out[n] = 0;
	return 0;
}

static int not_root(const char *cmd)
{
	if (getuid() == 0)
		return cfs_say(EXIT_FAIL, "%s: run it as yourself, not as root: the daemon acts for the user "
			       "the kernel names", cmd);
	return 0;
}

/* The options these commands share. */
struct ropts {
	const char *mount, *reason, *ttl;
	int write;
};

static int parse_opts(const char *cmd, int argc, char **argv, const char **cfile, struct ropts *o, const char *want)
{
	struct grant_opt opts[6] = { { "mount", &o->mount, NULL } };
	int n = 1, rc;
	memset(o, 0, sizeof *o);
	if (strchr(want, 'r'))
		opts[n++] = (struct grant_opt){ "reason", &o->reason, NULL };
	if (strchr(want, 'n'))
		opts[n++] = (struct grant_opt){ "note", &o->reason, NULL };
	if (strchr(want, 't'))
		opts[n++] = (struct grant_opt){ "ttl", &o->ttl, NULL };
	if (strchr(want, 'w'))
		opts[n++] = (struct grant_opt){ "write", NULL, &o->write };
	if ((rc = grant_getopt(argc, argv, cmd, opts, 0, cfile)) != 0)
		return rc;
	if (o->reason && text_arg(strchr(want, 'n') ? "--note" : "--reason", o->reason) != 0)
		return EXIT_USAGE;
	if (o->mount && (strlen(o->mount) >= 4000 || !cfs_printable(o->mount)))
		return cfs_say(EXIT_USAGE, "--mount: too long or not printable");
	return argc - optind == 1 ? 0 : -1;
}

int cmd_request(int argc, char **argv, const char **cfile)
{
	struct ropts o;
	int64_t ttl;
	char val[4096 + 600], id[64];
	int rc = parse_opts("request", argc, argv, cfile, &o, "rtw");
	if (rc > 0)
		return rc;
	if (rc < 0 || !o.ttl || !o.reason)
		return cfs_say(EXIT_USAGE, "usage: coach-grant request PATH --ttl DURATION --reason TEXT [--write] "
			       "[--mount DIR]");
	const char *path = argv[optind];
	if (cfs_path_valid(path) < 0 || strlen(path) >= 4096)
		return cfs_say(EXIT_USAGE, "'%.200s' is not a mount-relative path like /inc/a.md", path);
	if (cfs_parse_duration(o.ttl, &ttl) < 0 || ttl <= 0 || ttl > CFS_REQUEST_TTL_MAX)
		return cfs_say(EXIT_USAGE, "--ttl: '%.40s' is not a duration up to 30d (like 90s, 15m, 4h, 2d)", o.ttl);
	if ((rc = not_root("request")) != 0)
		return rc;
	snprintf(val, sizeof val, "%s\n%lld\n%c\n%s", path, (long long)ttl, o.write ? 'w' : 'r', o.reason);
	if ((rc = ctl(o.mount, cfile, "request", val, "request", id, sizeof id)) != 0)
		return rc;
	cfs_put_term(stdout, id);
	putchar('\n');
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

int cmd_breakglass(int argc, char **argv, const char **cfile)
{
	struct ropts o;
	char val[4096 + 300], out[128];
	int rc = parse_opts("breakglass", argc, argv, cfile, &o, "r");
	if (rc > 0)
		return rc;
	if (rc < 0 || !o.reason)
		return cfs_say(EXIT_USAGE, "usage: coach-grant breakglass PATH --reason TEXT [--mount DIR]");
	const char *path = argv[optind];
	if (cfs_path_valid(path) < 0 || strlen(path) >= 4096)
		return cfs_say(EXIT_USAGE, "'%.200s' is not a mount-relative path like /inc/a.md", path);
	if ((rc = not_root("breakglass")) != 0)
		return rc;
	snprintf(val, sizeof val, "%s\n%s", path, o.reason);
	if ((rc = ctl(o.mount, cfile, "breakglass", val, "break-glass", out, sizeof out)) != 0)
		return rc;
	long long bid, gid, until;
	char t[32];
	if (sscanf(out, "B%lld grant %lld until %lld", &bid, &gid, &until) != 3)
		return cfs_say(EXIT_FAIL, "break-glass: taken, but the daemon's answer is unreadable");
	cfs_fmt_utc(until, t, sizeof t);
	printf("B%lld: grant %lld on %s until %s; an admin is alerted and must review it\n", bid, gid, path, t);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

/* approve R12, deny R12, review B12: the id as typed, R or B. */
static int rid_arg(const char *s, char want)
{
	uint64_t v;
	if (s[0] != want || cfs_parse_uint(s + 1, (uint64_t)INT64_MAX, &v) < 0 || v == 0)
		return cfs_say(EXIT_USAGE, "'%.40s' is not a %s id (like %c12)", s,
			       want == 'R' ? "request" : "break-glass", want);
	return 0;
}

int approve_request(const char *ids, const char *mnt, const char **cfile)
{
	int rc = rid_arg(ids, 'R');
	if (rc == 0 && (rc = not_root("approve")) == 0 &&
	    (rc = ctl(mnt, cfile, "approve", ids, ids, NULL, 0)) == 0) {
		printf("request %s approved\n", ids);
		rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
	}
	return rc;
}

static int decide_cmd(const char *cmd, int argc, char **argv, const char **cfile)
{
	struct ropts o;
	int review = cmd[0] == 'r';
	char val[64 + 300];
	int rc = parse_opts(cmd, argc, argv, cfile, &o, review ? "n" : "r");
	if (rc > 0)
		return rc;
	if (rc < 0 || (!review && !o.reason))
		return cfs_say(EXIT_USAGE, review ? "usage: coach-grant review B12 [--note TEXT] [--mount DIR]"
			       : "usage: coach-grant deny R12 --reason TEXT [--mount DIR]");
	const char *ids = argv[optind];
	if ((rc = rid_arg(ids, review ? 'B' : 'R')) != 0 || (rc = not_root(cmd)) != 0)
		return rc;
	snprintf(val, sizeof val, "%s\n%s", ids, o.reason ? o.reason : "");
	if ((rc = ctl(o.mount, cfile, cmd, val, ids, NULL, 0)) != 0)
		return rc;
	printf("%s %s %s\n", review ? "break-glass" : "request", ids, review ? "reviewed" : "denied");
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}

int cmd_deny(int argc, char **argv, const char **cfile)
{
	return decide_cmd("deny", argc, argv, cfile);
}

int cmd_review(int argc, char **argv, const char **cfile)
{
	return decide_cmd("review", argc, argv, cfile);
}
