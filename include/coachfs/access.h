/* access.h — the daemon's access layer between FUSE glue and the modules:
 * who is calling, the effective policy of a path (own attribute, else the
 * nearest ancestor directory's, else default_class), the grants that might
 * apply, the decision, replay and derived-class tracking, and the audit row
 * for each decision. access.c must never let an open through that it could
 * not decide and record (fail closed), and never log a key or content. */
#ifndef COACHFS_ACCESS_H
#define COACHFS_ACCESS_H

#include <stddef.h>
#include <stdint.h>
#include "coachfs/action.h"
#include "coachfs/content.h"
#include "coachfs/ctx.h"
#include "coachfs/sidecar.h"
#include "coachfs/policy.h"

/* An effective policy with storage for a readers list taken from an xattr. */
struct cfs_eff {
	struct cfs_file_policy fp;
	int class_rank;                 /* position of the class in the config (higher = more sensitive) */
	int own_class;                  /* the entry carries its own class attribute */
	unsigned char dir_id[CFS_FILE_ID_BYTES]; /* the parent directory's id, proven by the chain */
	char why[200];                  /* why resolving failed (-EIO: tamper) */
	struct cfs_list readers;        /* when readers came from an xattr */
	char rbuf[CFS_META_MAX + 1];
};

/* A directory's attribute block from its encrypted sidecar, authenticated
 * in its place (the id its parent's sidecar claims, its name). A missing
 * sidecar, one bound elsewhere or rolled back: -EIO (tamper). */
int cfs_dir_meta_load(struct cfs_ctx *c, const char *dir, unsigned char *meta, size_t *len);
/* The same, bound under parent (an id the chain proved; NULL: the claim):
 * cfs_dir_meta_load_under, sidecar.h. */
/* Replace it atomically (temporary sidecar, fsync, rename), keeping the
 * directory's id and raising its version. */
int cfs_dir_meta_store(struct cfs_ctx *c, const char *dir, const unsigned char *meta, size_t len);
/* Effective policy of `path` whose own attribute block is own/own_len. */
int cfs_eff_resolve(struct cfs_ctx *c, const char *path, const unsigned char *own, size_t own_len,
		    struct cfs_eff *out);
/* The same, the own block read by own_of(arg, parent, meta, len) once the
 * ancestors' chain has proved the parent's id: each sidecar is read once.
 * own_of returns 0 or a negative errno (returned as is). */
typedef int (*cfs_own_fn)(void *arg, const unsigned char parent[CFS_FILE_ID_BYTES],
			  unsigned char *meta, size_t *len);
int cfs_eff_resolve_own(struct cfs_ctx *c, const char *path, cfs_own_fn own_of, void *arg,
			struct cfs_eff *out);
/* Effective value of one policy attribute as text ("class", "export",
 * "readers", "max_opens"); -ENODATA when it has none (readers/max_opens). */
int cfs_eff_value(const struct cfs_eff *e, const char *key, char *buf, size_t cap);

/* The caller of the current request. need_exe = 0: only ids, groups and
 * roles (user "#UID", no program or start time), for visibility checks
 * that are never audited; need_exe = 1: everything, for opens and rows,
 * with the process tgid/ppid (0 when /proc/PID/status was unreadable)
 * pinned by its start time through the context's caller cache. */
int cfs_access_caller(struct cfs_ctx *c, uid_t uid, gid_t gid, pid_t pid, pid_t tgid, pid_t ppid,
		      const gid_t *groups, int ngroups, int need_exe, struct cfs_caller *out);

/* Decide op on path for caller, with the live grants. */
void cfs_access_decide(struct cfs_ctx *c, const struct cfs_caller *cl, const struct cfs_eff *e,
		       const char *path, enum cfs_op op, int export_tool, int64_t held_grant,
		       struct cfs_decision *d);

/* May this caller see this entry (hide_denied)? Admins see everything; a
 * directory is also visible when a grant for the caller lies below it. */
int cfs_access_visible(struct cfs_ctx *c, const struct cfs_caller *cl, const struct cfs_eff *e,
		       const char *path, int is_dir);

/* Count an open against a grant's limit. 0 (nothing to count), 1 (counted),
 * or -EDQUOT (reason filled). */
int cfs_access_count_open(struct cfs_ctx *c, const struct cfs_eff *e, struct cfs_decision *d,
			  const char *path);
/* Give back an open cfs_access_count_open counted (returned 1) when the open
 * is refused after all because its audit row could not be committed. */
void cfs_access_uncount_open(struct cfs_ctx *c, const struct cfs_decision *d, const char *path);

/* Has this user opened this path under this grant (or role, grant 0)
 * before in this mount? Records it; returns 1 for a replay. */
int cfs_access_replay(struct cfs_ctx *c, uid_t uid, int64_t grant, const char *path);
/* Undo cfs_access_replay's record of a first open that was then refused
 * (its row could not be committed), so the next open is not a replay. */
void cfs_access_replay_forget(struct cfs_ctx *c, uid_t uid, int64_t grant, const char *path);

/* Derived content: remember that process (its thread group id and start
 * time: threads share what they read) read class rank r. */
void cfs_access_note_read(struct cfs_ctx *c, pid_t pid, uint64_t start, int rank);
/* The highest rank this process has read (-1 if none) or, when a rank above
 * both that and floor is on record anywhere, any of its ancestors had read
 * (a forked child holds what its parent read): then l is walked (reads
 * /proc once). Ranks at or below floor do not matter to the caller. */
int cfs_access_max_read(struct cfs_ctx *c, struct cfs_lineage *l, int floor);
/* At most this many processes are tracked (CFS_TRACK_PROCS by default);
 * and how many are. */
#define CFS_TRACK_PROCS 8192
void cfs_access_track_limit(struct cfs_ctx *c, size_t cap);
size_t cfs_access_track_procs(struct cfs_ctx *c);
/* Free all tracking state. */
void cfs_access_free(struct cfs_ctx *c);

/* An audit row for this caller. sync = 1: committed before return (opens,
 * denials, policy changes) — failure is returned and must fail the
 * operation; sync = 0: queued (reads, writes). offset/length CFS_AUDIT_NONE
 * when not applicable. */
int cfs_access_audit(struct cfs_ctx *c, const struct cfs_caller *cl, enum cfs_action action,
		     const char *path, const char *result, const char *reason, int64_t grant,
		     int64_t offset, int64_t length, int sync);

/* The process a row names, when it is not the caller that opened the
 * handle (a read or write by another thread, a child, or a receiver of the
 * descriptor). */
struct cfs_rowproc {
	uid_t uid;
	const char *user;
	pid_t pid;
	const char *exe;
};
int cfs_access_audit_proc(struct cfs_ctx *c, const struct cfs_rowproc *rp, enum cfs_action action,
			  const char *path, const char *result, const char *reason, int64_t grant,
			  int64_t offset, int64_t length, int sync);

#endif
