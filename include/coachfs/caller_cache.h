/* caller_cache.h — what the daemon remembers between requests about who
 * calls, so that an open does not read /etc/passwd and /proc/PID/stat each
 * time: login names per uid (for CFS_CCACHE_NAME_TTL_MS), and the start
 * time of each recently seen process, held with a pidfd so that it is never
 * served for another process that reuses the pid. Never cached: the uid and
 * gid (FUSE gives them per request), the supplementary groups and the
 * thread group (read from /proc/TID/status per request), the program
 * (/proc/PID/exe changes on execve), and any verdict. */
#ifndef COACHFS_CALLER_CACHE_H
#define COACHFS_CALLER_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A login name is served from the cache for this long after it was looked
 * up: a renamed account shows its old name in rows for at most 5 s (the uid
 * is in every row; roles are resolved to uids at mount, never by name). */
#define CFS_CCACHE_NAME_TTL_MS 5000
/* At most this many uids' names and processes' start times are held; the
 * least recently used one is dropped for a new one. */
#define CFS_CCACHE_NAMES 32
#define CFS_CCACHE_PROCS 64

struct cfs_ccache;

/* The counters a test or a benchmark reads. */
struct cfs_ccache_stats {
	unsigned long name_hits, name_misses;
	unsigned long proc_hits, proc_misses;
	unsigned long proc_gone;   /* a cached process had exited: dropped, not served */
};

/* A new, empty cache; 0 or -ENOMEM / -ENOSYS (no pidfd_open: the kernel is
 * older than 5.3, and the daemon runs without a cache). */
int cfs_ccache_new(struct cfs_ccache **out);
/* Close every held pidfd and free the cache (NULL is fine). */
void cfs_ccache_free(struct cfs_ccache *cc);

/* The login name of uid into out[outlen], as cfs_user_name() gives it
 * ("#UID" when unknown), from the cache while fresh. cc NULL: looked up. */
void cfs_ccache_user(struct cfs_ccache *cc, uid_t uid, char *out, size_t outlen);

/* The start time (/proc/TGID/stat field 22) of the live process tgid, 0 when
 * it cannot be read or the process is gone. Invariant: a cached start time
 * is served only while the pidfd opened for tgid before the start time was
 * read says that process has not exited; a pid is reused only after its
 * process exited and was reaped, so a process that reuses tgid is never
 * given another's start time. cc NULL: read from /proc. */
uint64_t cfs_ccache_start(struct cfs_ccache *cc, pid_t tgid);

/* The counters so far. */
void cfs_ccache_stats(struct cfs_ccache *cc, struct cfs_ccache_stats *out);

#endif
