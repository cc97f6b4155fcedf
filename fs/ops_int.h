/* ops_int.h — what the daemon's FUSE files (fs/ops*.c) share: the open
 * file, the handle and its reader slots, the page-cache watcher, and the
 * functions one concern offers another. Never included outside fs/ops*.c. */
#ifndef COACHFS_OPS_INT_H
#define COACHFS_OPS_INT_H

#define FUSE_USE_VERSION 314
#include "coachfs/ops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <unistd.h>

#include "coachfs/access.h"
#include "coachfs/content.h"
#include "coachfs/links.h"
#include "coachfs/state.h"


struct cfs_ofile {
	struct cfs_ofile *next;
	dev_t dev;
	ino_t ino;
	int refs;
	int fd;
	struct cfs_file *f;
	int nholders;               /* uids holding a handle (up to 8 distinct) */
	uid_t holders[8];
	int holder_refs[8];
};

/* A process that read or wrote through a handle (the opener first; then
 * another thread, a forked child, or whoever was passed the descriptor),
 * cached so that reads by the same thread cost no /proc access: rows name
 * the process that read, and derived-content tracking follows its thread
 * group and (for writes) its ancestors. */
struct rstr;
struct reader {
	pid_t pid;                  /* the requesting thread (FUSE's pid); 0 = empty */
	uid_t uid;
	char user[CFS_USER_MAX];
	struct rstr *exe;
	struct cfs_lineage lin;     /* its process, and ancestors once walked */
	int noted;                  /* highest rank noted for lin.self through this handle */
};
#define READERS 4

/* One open handle: what was decided at open, re-checked while it lives.
 * The kernel sends concurrent reads and writes on one handle to different
 * threads, so the fields that change after open are atomic. */
struct handle {
	struct cfs_ofile *of;
	int flags;
	char *path;
	struct cfs_caller *cl;      /* the opener */
	int64_t grant;              /* the grant it was opened under (0: a role) */
	_Atomic int rank;           /* class rank of the file as opened/written */
	_Atomic int64_t next_check_ms; /* next full re-check of the grant/role */
	_Atomic int dead;           /* access ended: every further read/write fails */
	_Atomic int derived;        /* class lifted by derivation: the writer keeps its handle */
	int64_t link;               /* opened through /.links/TOKEN: that link's id */
	int64_t link_end;           /* and its expiry */
	pthread_mutex_t rlock;      /* guards rd[] and rnext */
	struct reader rd[READERS];  /* who read or wrote through it lately */
	unsigned rnext;             /* the slot a new reader takes */
	int every;                  /* its class audits every read: direct_io, a row per read */
	struct cfs_ra *ra;          /* every-read handles: the read-ahead window (readahead.h) */
	/* page-cached handles (every = 0) only, guarded by the watcher's lock: */
	struct handle *cnext, *cprev;
	char *cpath;                /* where the file is now, for dropping its pages */
	int dropped;                /* access ended and its pages were dropped */
};

/* An immutable program name shared by a reader slot and the rows being
 * written for it (a slot may be reused while a row is on its way). */
struct rstr {
	_Atomic int refs;
	char s[];
};

/* ---- the page cache for classes audited per open ----
 * A file whose class audits reads per open (audit_reads = open) is opened
 * without direct_io, so the kernel serves it through the page cache with
 * readahead: its reads are no rows anyway, and the cache spares a FUSE round
 * trip per request. keep_cache stays 0, so every open drops the file's
 * cached pages and reaches the daemon, which decides it for its own caller:
 * nobody reads cached pages without a handle of their own. What the cache
 * must not outlive is a handle's access: this watcher rechecks every cached
 * handle at the recheck interval and, once one's grant or role no longer
 * admits it (revocation, expiry, reclassification), drops the file's pages,
 * so its next read reaches the daemon and is refused. A file unlinked while
 * open can no longer be named to the kernel: its pages then stay until the
 * handle closes (README, "What responders see"). */
struct cfs_cwatch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	int started, stop;
	struct fuse *fuse;
	struct handle *head;
};
#define CWATCH_PERIOD_MS 100

/* The caller for visibility checks, its supplementary groups fetched only
 * when needed: libfuse reads them from /proc/PID/task/TID/status, which the
 * kernel formats in full each time (a fifth of a lookup's cost). Seeing is
 * monotone in groups (more groups give more roles and matching grants, never
 * fewer; test_policy.see_monotone_in_groups holds policy.c to it), so a yes
 * for the uid and primary gid alone is the same yes with every group, and
 * only a no is asked again with them. */
struct seer {
	struct cfs_caller *cl;
	int grouped;            /* cl carries the supplementary groups */
};

/* A copy of the reader slot serving the current request. */
struct rref {
	int slot;
	pid_t pid;
	uid_t uid;
	char user[CFS_USER_MAX];
	struct rstr *exe;           /* a reference: rref_done drops it */
	struct cfs_proc self;
	pid_t ppid;
	int noted;
};

/* The control file through which a second admin approves: setxattr of
 * user.coachfs.approve = "ID" or "LID" on MOUNT/.links/approve. Not a token
 * (tokens are 22 characters), never opened, never listed. */
#define LINK_APPROVE "approve"

struct cfs_ctx *cfs_op_ctx_get(void);
void cfs_op_log_err(const char *what, const char *path, const struct cfs_err *e);
struct cfs_scratch *cfs_op_scratch(struct cfs_ctx *c);
int cfs_op_is_root(const char *path);
int cfs_op_path_ok(const char *path);
int cfs_op_lstat(struct cfs_ctx *c, const char *path, struct stat *st);
void cfs_op_plain_stat(struct cfs_ctx *c, struct stat *st);
int cfs_op_parent_of(struct cfs_ctx *c, const char *path, const char **leaf);
void cfs_op_set_owner(int dirfd, const char *leaf);
int64_t cfs_op_now_ms(void);
struct cfs_caller *cfs_op_who_as(struct cfs_ctx *c, int full);
struct cfs_caller *cfs_op_who(struct cfs_ctx *c);
struct rstr *cfs_op_rstr_new(const char *s);
void cfs_op_rstr_put(struct rstr *r);
void cfs_op_holder_add(struct cfs_ctx *c, struct cfs_ofile *o, uid_t uid, int delta);
int cfs_op_holds_handle(struct cfs_ctx *c, const struct stat *st, uid_t uid);
int cfs_op_ofile_adopt(struct cfs_ctx *c, int fd, struct cfs_file *f, const char *path,
		       struct cfs_ofile **out);
/* The open file at path, with a reference taken (cfs_op_ofile_get); a
 * header not yet open is bound under parent (an id the chain of sidecars
 * proved; NULL: the id the parent's sidecar claims); why: the reason an
 * open of the header failed (NULL: not wanted). */
int cfs_op_ofile_get_under(struct cfs_ctx *c, const char *path, const unsigned char *parent,
			   struct cfs_ofile **out, struct cfs_err *why);
int cfs_op_ofile_get(struct cfs_ctx *c, const char *path, struct cfs_ofile **out);
int cfs_op_ofile_truncate(struct cfs_ctx *c, struct cfs_ofile *o, const char *path, off_t size,
			  struct cfs_scratch *s, struct cfs_err *e);
void cfs_op_ofile_put(struct cfs_ctx *c, struct cfs_ofile *o);
void cfs_op_handle_drop(struct handle *h);
int cfs_op_handle_new(struct cfs_ofile *of, const char *path, int flags, struct cfs_caller *cl,
		      int64_t grant, int rank, struct fuse_file_info *fi);
const char *cfs_op_verdict_word(enum cfs_verdict v);
int cfs_op_own_meta(struct cfs_ctx *c, const char *path, const struct stat *st, unsigned char *meta,
		    size_t *len);
int cfs_op_visible(struct cfs_ctx *c, const struct cfs_caller *cl, const char *path, const struct stat *st);
int cfs_op_visible_to(struct cfs_ctx *c, struct seer *w, const char *path, const struct stat *st);
int cfs_op_see(struct cfs_ctx *c, const char *path);
int cfs_op_record(struct cfs_ctx *c, enum cfs_action action, const char *path, const char *result,
		  const char *reason);
void cfs_op_record_failed(struct cfs_ctx *c, const struct cfs_caller *cl, enum cfs_action action,
			  const char *path, int err);
int cfs_op_may_remove(struct cfs_ctx *c, const struct cfs_caller *cl, const char *path,
		      const struct stat *st, enum cfs_action action, const char *what,
		      struct cfs_decision *d);
int cfs_op_name_free(struct cfs_ctx *c, const struct cfs_caller *cl, const char *path,
		     enum cfs_action action);
int cfs_op_handle_live(struct cfs_ctx *c, struct handle *h, enum cfs_action what);
void cfs_op_reader_fill(struct reader *r, const struct cfs_caller *cl, struct rstr *exe);
int cfs_op_reader_of(struct cfs_ctx *c, struct handle *h, struct rref *out);
void cfs_op_rref_done(struct rref *r);
struct cfs_rowproc cfs_op_rref_row(const struct rref *r);
void cfs_op_rref_note(struct cfs_ctx *c, struct handle *h, struct rref *r, int rank);
int cfs_op_rref_max_read(struct cfs_ctx *c, struct handle *h, const struct rref *r, int floor);
int cfs_op_lift_class(struct cfs_ctx *c, struct handle *h, int r, const struct cfs_rowproc *rp);
int cfs_op_is_write_open(int flags);
int cfs_op_decide_open(struct cfs_ctx *c, struct cfs_caller *cl, struct cfs_ofile *of, const char *path,
		       int flags, struct cfs_eff *e, struct cfs_decision *d);
/* The same for a file not yet open: the chain of sidecars first, then the
 * header opened (*of, NULL until then) bound under the parent id the chain
 * proved, so the parent's sidecar is read once. A header that fails
 * authentication writes a tamper row and returns -EIO. */
int cfs_op_open_decide(struct cfs_ctx *c, struct cfs_caller *cl, const char *path, int flags,
		       struct cfs_ofile **of, struct cfs_eff *e, struct cfs_decision *d);
void cfs_op_cwatch_add(struct cfs_ctx *c, struct handle *h);
void cfs_op_cwatch_remove(struct cfs_ctx *c, struct handle *h);
int cfs_op_under(const char *p, const char *dir, size_t n);
void cfs_op_cwatch_renamed(struct cfs_ctx *c, const char *from, const char *to, int exchange);
int cfs_op_cwatch_start(struct cfs_ctx *c, struct fuse *fuse);
void cfs_op_cwatch_stop(struct cfs_ctx *c);
int cfs_op_mknod(const char *path, mode_t mode, dev_t rdev);
int cfs_op_may_create(struct cfs_ctx *c, struct cfs_caller *cl, const char *path, enum cfs_action action,
		      struct cfs_eff *e, struct cfs_decision *d);
int cfs_op_mkdir(const char *path, mode_t mode);
int cfs_op_unlink(const char *path);
int cfs_op_rmdir(const char *path);
int cfs_op_symlink(const char *target, const char *path);
int cfs_op_link(const char *from, const char *to);
int cfs_op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi);
int cfs_op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi);
int cfs_op_opendir(const char *path, struct fuse_file_info *fi);
int cfs_op_releasedir(const char *path, struct fuse_file_info *fi);
int cfs_op_readdir(const char *path_arg, void *buf, fuse_fill_dir_t filler, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags);
int cfs_op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi);
int cfs_op_rename(const char *from, const char *to, unsigned int flags);
int cfs_op_link_path(const char *path, const char **token);
int cfs_op_link_getattr(struct cfs_ctx *c, int kind, const char *token, struct stat *st);
int cfs_op_link_open(struct cfs_ctx *c, const char *token, struct fuse_file_info *fi);
int cfs_op_link_approve(struct cfs_ctx *c, const char *name, const char *value, size_t size);
int cfs_op_open(const char *path, struct fuse_file_info *fi);
int cfs_op_create(const char *path, mode_t mode, struct fuse_file_info *fi);
int cfs_op_truncate(const char *path, off_t size, struct fuse_file_info *fi);
void cfs_op_tamper(struct cfs_ctx *c, struct handle *h, const struct cfs_err *e);
int cfs_op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi);
int cfs_op_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi);
ssize_t cfs_op_copy_file_range(const char *path_in, struct fuse_file_info *fi_in, off_t off_in,
				  const char *path_out, struct fuse_file_info *fi_out, off_t off_out,
				  size_t len, int flags);
int cfs_op_release(const char *path, struct fuse_file_info *fi);
int cfs_op_fsync(const char *path, int datasync, struct fuse_file_info *fi);
int cfs_op_setxattr(const char *path, const char *name, const char *value, size_t size, int flags);
int cfs_op_getxattr(const char *path, const char *name, char *value, size_t size);
int cfs_op_listxattr(const char *path, char *list, size_t size);
int cfs_op_removexattr(const char *path, const char *name);

int cfs_op_meta_update(struct cfs_ctx *c, const char *path,
		       int (*fn)(unsigned char *meta, size_t *len, void *arg), void *arg);

#endif
