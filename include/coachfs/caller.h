/* caller.h — who is calling: ids, groups, program, roles. caller.c fills a
 * struct cfs_caller from the FUSE context and /proc; it must never decide
 * anything (that is policy.c) and never trust pid or program for more than
 * advice (a pid can be reused; it is pinned by its start time). */
#ifndef COACHFS_CALLER_H
#define COACHFS_CALLER_H

#include <stdint.h>
#include <sys/types.h>
#include <string.h>
#include "coachfs/config.h"

#define CFS_GROUPS_MAX 64
#define CFS_ROLES_MAX 16
#define CFS_USER_MAX 64
#define CFS_EXE_MAX 4096

struct cfs_caller {
	uid_t uid;
	gid_t gid;
	int ngroups;                     /* supplementary groups, gid included */
	gid_t groups[CFS_GROUPS_MAX];
	pid_t pid;                       /* the calling thread (FUSE reports the thread id) */
	pid_t tgid;                      /* its thread group, i.e. the process (pid when unknown) */
	pid_t ppid;                      /* the process's parent (0 when unknown) */
	uint64_t start_time;             /* /proc/TGID/stat field 22: pins the process */
	char user[CFS_USER_MAX];         /* login name, or "#UID" when unknown */
	char exe[CFS_EXE_MAX];           /* /proc/PID/exe, "" when unreadable */
	int nroles;
	const char *roles[CFS_ROLES_MAX]; /* role names (pointers into the config) */
};

/* Pure predicates over a caller, inline so that policy.c (pure) needs
 * nothing of caller.c, which reads /proc. */
static inline int cfs_caller_has_role(const struct cfs_caller *c, const char *role)
{
	if (!c || !role)
		return 0;
	int n = c->nroles;
	if (n < 0)
		n = 0;
	if (n > CFS_ROLES_MAX)
		n = CFS_ROLES_MAX;
	for (int i = 0; i < n; i++)
		if (c->roles[i] && strcmp(c->roles[i], role) == 0)
			return 1;
	return 0;
}

static inline int cfs_caller_in_group(const struct cfs_caller *c, gid_t gid)
{
	if (!c)
		return 0;
	if (c->gid == gid)
		return 1;
	int n = c->ngroups;
	if (n < 0)
		n = 0;
	if (n > CFS_GROUPS_MAX)
		n = CFS_GROUPS_MAX;
	for (int i = 0; i < n; i++)
		if (c->groups[i] == gid)
			return 1;
	return 0;
}

/* A resolved [roles] table: login names -> uids and @groups -> gids, looked
 * up once (at mount) so that deciding a role never reads /etc/passwd. */
struct cfs_roletab;
int cfs_roletab_build(const struct cfs_config *cfg, struct cfs_roletab **out, struct cfs_err *err);
void cfs_roletab_free(struct cfs_roletab *t);

/* The i-th (from 0) [roles] member that did not resolve to an account on
 * this host (it is ignored, not an error): 0 with *role and *member set
 * (pointers into the config), or -ENOENT past the last. For a warning. */
int cfs_roletab_unresolved(const struct cfs_roletab *t, int i, const char **role,
			   const char **member);

/* Fill roles[] of c (uid, gid and groups already set) from the table. */
void cfs_caller_set_roles(const struct cfs_roletab *t, struct cfs_caller *c);

/* Fill c with ids, groups (gid first, deduplicated, at most CFS_GROUPS_MAX),
 * user "#UID" and roles only: no /proc or passwd reads. */
int cfs_caller_ids(const struct cfs_roletab *t, struct cfs_caller *c, uid_t uid, gid_t gid,
		   pid_t pid, const gid_t *groups, int ngroups);

/* Fill c for thread pid with the given ids and groups: user name, program,
 * roles, and, when tgid > 0 (what /proc/PID/status said), the process
 * (tgid, ppid) and its start time; else the thread's start time. Names and
 * start times come through cc (caller_cache.h; NULL: read afresh).
 * Unreadable /proc entries leave exe "" and start_time 0. */
struct cfs_ccache;
int cfs_caller_fill(const struct cfs_roletab *t, struct cfs_ccache *cc, struct cfs_caller *c,
		    uid_t uid, gid_t gid, pid_t pid, pid_t tgid, pid_t ppid, const gid_t *groups,
		    int ngroups);

/* What /proc/TID/status says of a thread: its thread group (the process),
 * the process's parent and the supplementary groups (at most max kept;
 * *ngroups is how many were kept). Parsed from text, or read for tid.
 * 0 or -EINVAL / -errno. */
int cfs_parse_proc_status(const char *text, pid_t *tgid, pid_t *ppid, gid_t *groups, int max,
			  int *ngroups);
int cfs_proc_status(pid_t tid, pid_t *tgid, pid_t *ppid, gid_t *groups, int max, int *ngroups);

/* A process pinned by its start time (a pid alone can be reused). */
struct cfs_proc {
	pid_t pid;
	uint64_t start;
};

/* Fields 4 (ppid) and 22 (starttime) of a /proc/PID/stat line. 0 or -EINVAL. */
int cfs_parse_proc_stat(const char *line, pid_t *ppid, uint64_t *start);
/* Start time of a live process (0 when it is gone or unreadable). */
uint64_t cfs_proc_start(pid_t pid);
/* This boot's id (/proc/sys/kernel/random/boot_id, 36 characters) into
 * out[cap]: start times count from boot, so a process is pinned by pid,
 * start time and boot. 0, or -errno / -EINVAL when it is not one. */
#define CFS_BOOT_ID_LEN 36
int cfs_proc_boot_id(char *out, size_t cap);

/* A process and, once walked, its ancestors (parent first), for the
 * derived-content rule: a forked child holds in memory whatever its
 * ancestors had read. The walk reads /proc (one stat per ancestor), stops at
 * pid 1, at an unreadable entry or after CFS_ANCESTORS_MAX, and is done at
 * most once (walked). */
#define CFS_ANCESTORS_MAX 16
struct cfs_lineage {
	struct cfs_proc self;
	pid_t ppid;
	int walked;
	int n;
	struct cfs_proc anc[CFS_ANCESTORS_MAX];
};
void cfs_lineage_init(struct cfs_lineage *l, const struct cfs_caller *c);
void cfs_lineage_walk(struct cfs_lineage *l);
/* Pin the process itself when the caller was filled without /proc (ids
 * only: self is the thread, start time 0): its thread group, start time and
 * parent, from /proc/TID/status and stat. Left as is when unreadable. */
void cfs_lineage_pin(struct cfs_lineage *l);

/* Resolve a user name for a uid (cached by the caller if it wants). */
void cfs_user_name(uid_t uid, char *out, size_t outlen);

/* Parse field 22 (starttime, clock ticks since boot) of a /proc/PID/stat
 * line; fields are counted after the LAST ')' since the command name may
 * contain spaces and parentheses. 0 or -EINVAL. */
int cfs_parse_proc_stat_start(const char *line, uint64_t *out);

#endif
