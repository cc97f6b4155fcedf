/* ops.c — FUSE operations: thin glue over store, content, policy, grants and
 * audit. Owns the open-file table (one cfs_file per backing inode, shared by
 * its handles) and per-thread scratch buffers. Must never hand plaintext to
 * anything but the kernel reply, never follow a path outside the store, and
 * never serve an open it could not decide and record. */
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
#include "coachfs/reqctl.h"
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

static struct rstr *rstr_new(const char *s)
{
	size_t n = strlen(s);
	struct rstr *r = malloc(sizeof *r + n + 1);
	if (r) {
		r->refs = 1;
		memcpy(r->s, s, n + 1);
	}
	return r;
}

static void rstr_put(struct rstr *r)
{
	if (r && --r->refs == 0)
		free(r);
}

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

/* Track which uids hold handles on an open file, so that a creator still
 * sees (getattr) a file it is writing even when derivation lifted its class
 * beyond what it may open. */
static void holder_add(struct cfs_ctx *c, struct cfs_ofile *o, uid_t uid, int delta)
{
	pthread_mutex_lock(&c->lock);
	int i;
	for (i = 0; i < o->nholders; i++)
		if (o->holders[i] == uid)
			break;
	if (i == o->nholders && delta > 0 && o->nholders < 8) {
		o->holders[o->nholders] = uid;
		o->holder_refs[o->nholders++] = 0;
	}
	if (i < o->nholders) {
		o->holder_refs[i] += delta;
		if (o->holder_refs[i] <= 0) {
			o->holders[i] = o->holders[o->nholders - 1];
			o->holder_refs[i] = o->holder_refs[o->nholders - 1];
			o->nholders--;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

static int holds_handle(struct cfs_ctx *c, const struct stat *st, uid_t uid)
{
	int yes = 0;
	pthread_mutex_lock(&c->lock);
	for (struct cfs_ofile *o = c->ofiles; o && !yes; o = o->next)
		if (o->dev == st->st_dev && o->ino == st->st_ino)
			for (int i = 0; i < o->nholders; i++)
				if (o->holders[i] == uid)
					yes = 1;
	pthread_mutex_unlock(&c->lock);
	return yes;
}

static struct cfs_ctx *ctx_get(void)
{
	return fuse_get_context()->private_data;
}

static void log_err(const char *what, const char *path, const struct cfs_err *e)
{
	syslog(LOG_ERR, "coachfs: %s %s: %s", what, path ? path : "", e->msg);
}

static struct cfs_scratch *scratch(struct cfs_ctx *c)
{
	struct cfs_scratch *s = pthread_getspecific(c->scratch_key);
	if (!s) {
		s = calloc(1, sizeof *s);
		if (s && pthread_setspecific(c->scratch_key, s) != 0) {
			free(s);
			s = NULL;
		}
		if (s) {
			s->par = c->workers;
			s->shells = c->shells;
		}
	}
	return s;
}

/* ---- open-file table ---- */

/* Take a reference on the open file behind backing fd `fd` (consumed).
 * f: that fd's file as just created (consumed too), or NULL to open it. */
static int ofile_adopt_e(struct cfs_ctx *c, int fd, struct cfs_file *f, const char *path,
			 struct cfs_ofile **out, struct cfs_err *why)
{
	struct stat st;
	struct cfs_err e = { "" };
	if (fstat(fd, &st) != 0) {
		int r = -errno;
		cfs_content_close(f);
		close(fd);
		return r;
	}
	pthread_mutex_lock(&c->lock);
	for (struct cfs_ofile *o = c->ofiles; o; o = o->next) {
		if (o->dev == st.st_dev && o->ino == st.st_ino) {
			o->refs++;
			pthread_mutex_unlock(&c->lock);
			cfs_content_close(f);
			close(fd);
			*out = o;
			return 0;
		}
	}
	struct cfs_ofile *o = calloc(1, sizeof *o);
	int rc = !o ? -ENOMEM : f ? 0 : cfs_entry_open(c, path, fd, scratch(c), &o->f, &e);
	if (rc < 0) {
		pthread_mutex_unlock(&c->lock);
		if (rc == -EIO)
			log_err("tamper", path, &e);
		if (why)
			*why = e;
		cfs_content_close(f);
		free(o);
		close(fd);
		return rc;
	}
	if (f)
		o->f = f;
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	o->fd = fd;
	o->refs = 1;
	o->next = c->ofiles;
	c->ofiles = o;
	pthread_mutex_unlock(&c->lock);
	*out = o;
	return 0;
}

static int ofile_adopt(struct cfs_ctx *c, int fd, struct cfs_file *f, const char *path,
		       struct cfs_ofile **out)
{
	return ofile_adopt_e(c, fd, f, path, out, NULL);
}

/* why: the reason an open of the header failed (tamper rows say it). */
static int ofile_get_e(struct cfs_ctx *c, const char *path, struct cfs_ofile **out, struct cfs_err *why)
{
	int fd = cfs_store_openat(c->store, path, O_RDWR, 0);
	if (fd < 0)
		return fd == -ELOOP ? -EPERM : fd;
	return ofile_adopt_e(c, fd, NULL, path, out, why);
}

static int ofile_get(struct cfs_ctx *c, const char *path, struct cfs_ofile **out)
{
	return ofile_get_e(c, path, out, NULL);
}

/* Truncate of's file crash-safely through its current name (path), and
 * follow it to its new inode; nameless (unlinked while open): in place. */
static int ofile_truncate(struct cfs_ctx *c, struct cfs_ofile *o, const char *path, off_t size,
			  struct cfs_scratch *s, struct cfs_err *e)
{
	const char *leaf;
	int replaced = 0, rc;
	int d = path ? cfs_store_parent(c->store, path, &leaf) : -ENOENT;
	pthread_rwlock_wrlock(&o->f->lock);
	rc = d >= 0 ? cfs_content_truncate_at(o->f, size, d, leaf, &replaced, s, e) : -ESTALE;
	if (rc == -ESTALE) {
		/* unlinked, or renamed since it was opened: no name to build the
		 * new file beside, so in place (not crash-safe; see the README) */
		rc = cfs_content_truncate(o->f, size, s, e);
	}
	struct stat st;
	if (replaced && fstat(o->fd, &st) == 0) {
		pthread_mutex_lock(&c->lock);
		o->dev = st.st_dev;
		o->ino = st.st_ino;
		pthread_mutex_unlock(&c->lock);
	}
	pthread_rwlock_unlock(&o->f->lock);
	if (d >= 0)
		close(d);
	return rc;
}

static void ofile_put(struct cfs_ctx *c, struct cfs_ofile *o)
{
	pthread_mutex_lock(&c->lock);
	if (--o->refs > 0) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	for (struct cfs_ofile **pp = &c->ofiles; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	cfs_content_release(o->f, scratch(c)); /* key wiped, shell kept for the next open */
	close(o->fd);
	free(o);
}

/* ---- helpers ---- */

static int is_root(const char *path)
{
	return path && path[0] == '/' && path[1] == 0;
}

/* Refuse reserved names anywhere in the path. */
static int path_ok(const char *path)
{
	const char *p = path;
	if (!path)
		return -ENOENT; /* nullpath_ok: an unlinked entry without a handle */
	int depth = 0;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchrnul(p, '/');
		char name[NAME_MAX + 1];
		size_t n = (size_t)(e - p);
		if (n > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, p, n);
		name[n] = 0;
		if (cfs_store_reserved(name, depth == 0))
			return -ENOENT;
		depth++;
		p = e;
	}
	return 0;
}

static void plain_stat(struct cfs_ctx *c, struct stat *st)
{
	if (S_ISREG(st->st_mode)) {
		off_t s = cfs_content_plain_size(st->st_size, c->keys->chunk_log2, c->keys->aead);
		st->st_size = s < 0 ? 0 : s;
	}
}

/* Parent descriptor for a path whose leaf we will act on. */
static int parent_of(struct cfs_ctx *c, const char *path, const char **leaf)
{
	int rc = path_ok(path);
	if (rc < 0)
		return rc;
	int d = cfs_store_parent(c->store, path, leaf);
	return d == -ELOOP ? -EPERM : d;
}

static void set_owner(int dirfd, const char *leaf)
{
	struct fuse_context *fc = fuse_get_context();
	if (fchownat(dirfd, leaf, fc->uid, fc->gid, AT_SYMLINK_NOFOLLOW) != 0)
		syslog(LOG_WARNING, "coachfs: chown %s: %s", leaf, strerror(errno));
}

/* ---- FUSE operations ---- */
/* ---- callers, policies, decisions ---- */

static int64_t now_ms(void)
{
	return cfs_now_us() / 1000;
}

/* The caller of the current request (heap: a caller carries a PATH_MAX exe).
 * full = 0: ids, groups and roles only, for visibility checks (never audited);
 * full = -1: the same without the supplementary groups (see visible_to). */
static struct cfs_caller *who_as(struct cfs_ctx *c, int full)
{
	struct fuse_context *fc = fuse_get_context();
	gid_t groups[CFS_GROUPS_MAX];
	pid_t tgid = 0, ppid = 0;
	int n = 0;
	/* one read of /proc/TID/status (what fuse_getgroups reads) gives the
	 * groups, the thread group and its parent */
	if (full >= 0 && cfs_proc_status(fc->pid, &tgid, &ppid, groups, CFS_GROUPS_MAX, &n) < 0)
		n = 0, tgid = 0, ppid = 0;
	if (full < 0)
		full = 0;
	struct cfs_caller *cl = malloc(sizeof *cl);
	if (!cl)
		return NULL;
	if (cfs_access_caller(c, fc->uid, fc->gid, fc->pid, groups, n, full, cl) < 0) {
		free(cl);
		return NULL;
	}
	if (full)
		cfs_caller_set_process(cl, tgid, ppid);
	return cl;
}

static struct cfs_caller *who(struct cfs_ctx *c)
{
	return who_as(c, 1);
}

static const char *verdict_word(enum cfs_verdict v)
{
	return v == CFS_ALLOW ? "allow" : v == CFS_FLAG ? "flag" : "deny";
}

/* Own attribute block of an entry: file header or directory sidecar. */
static int own_meta(struct cfs_ctx *c, const char *path, const struct stat *st, unsigned char *meta,
		    size_t *len)
{
	*len = 0;
	if (S_ISDIR(st->st_mode))
		return cfs_dir_meta_load(c, path, meta, len);
	if (!S_ISREG(st->st_mode))
		return 0;
	struct cfs_err e = { "" };
	int fd = cfs_store_openat(c->store, path, O_RDONLY, 0);
	if (fd < 0)
		return fd == -ELOOP ? -ENOENT : fd;
	int rc = cfs_entry_meta(c, path, fd, meta, len, &e);
	close(fd);
	if (rc < 0)
		*len = 0; /* a damaged header: decided on the inherited policy, fails on open */
	return 0;
}

/* Effective policy of an existing entry. */
static int entry_eff(struct cfs_ctx *c, const char *path, const struct stat *st, struct cfs_eff *e)
{
	unsigned char meta[CFS_META_MAX];
	size_t len;
	int rc = own_meta(c, path, st, meta, &len);
	return rc < 0 ? rc : cfs_eff_resolve(c, path, meta, len, e);
}

/* hide_denied: 0 when cl may see path, else -ENOENT. */
static int visible(struct cfs_ctx *c, const struct cfs_caller *cl, const char *path, const struct stat *st)
{
	if (!c->cfg->hide_denied || is_root(path) || cfs_caller_has_role(cl, "admin"))
		return 0; /* admins see everything: no need to resolve the policy */
	if (S_ISREG(st->st_mode) && holds_handle(c, st, cl->uid))
		return 0;
	struct cfs_eff *e = malloc(sizeof *e);
	if (!e)
		return -ENOMEM;
	int rc = entry_eff(c, path, st, e);
	if (rc == 0)
		rc = cfs_access_visible(c, cl, e, path, S_ISDIR(st->st_mode)) ? 0 : -ENOENT;
	free(e);
	return rc == -EACCES ? -ENOENT : rc;
}

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

static int visible_to(struct cfs_ctx *c, struct seer *w, const char *path, const struct stat *st)
{
	if (!w->cl) {
		w->cl = who_as(c, -1);
		if (!w->cl)
			return -EACCES;
	}
	int rc = visible(c, w->cl, path, st);
	if (rc != -ENOENT || w->grouped)
		return rc;
	struct cfs_caller *full = who_as(c, 0);
	if (!full)
		return -EACCES;
	free(w->cl);
	w->cl = full;
	w->grouped = 1;
	return visible(c, w->cl, path, st);
}

/* Resolve, check visibility for the caller of this request; 0 or -errno. */
static int see(struct cfs_ctx *c, const char *path)
{
	struct stat st;
	int rc = path_ok(path);
	if (rc < 0)
		return rc;
	if (!c->cfg->hide_denied || is_root(path))
		return 0;
	rc = cfs_store_lstat(c->store, path, &st);
	if (rc < 0)
		return rc == -ELOOP ? -ENOENT : rc;
	struct seer w = { NULL, 0 };
	rc = visible_to(c, &w, path, &st);
	free(w.cl);
	return rc;
}

/* Record an entry-management operation (unlink, rename, ...), committed. */
static int record(struct cfs_ctx *c, const char *action, const char *path, const char *result,
		  const char *reason)
{
	struct cfs_caller *cl = who(c);
	int rc = cfs_access_audit(c, cl, action, path, result, reason, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
	free(cl);
	return rc < 0 ? -EIO : 0;
}

/* A change is recorded before it is made, so none happens unrecorded (fail
 * closed); when making it then fails, a second row says so. */
static void record_failed(struct cfs_ctx *c, const struct cfs_caller *cl, const char *action,
			  const char *path, int err)
{
	char why[160];
	snprintf(why, sizeof why, "failed after it was recorded: %s", strerror(-err));
	if (cl)
		cfs_access_audit(c, cl, action, path, "error", why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
	else
		record(c, action, path, "error", why);
}

static int is_write_open(int flags);

/* May cl remove the existing entry at path (unlink, rmdir, rename it away
 * or replace it)? Write rights on its class, or the admin role (policy.c,
 * CFS_OP_DELETE). 0 with *d the decision, or -EACCES with a deny row. */
static int may_remove(struct cfs_ctx *c, const struct cfs_caller *cl, const char *path,
		      const struct stat *st, const char *action, const char *what,
		      struct cfs_decision *d)
{
	struct cfs_eff *e = malloc(sizeof *e);
	if (!e)
		return -ENOMEM;
	int rc = 0;
	if (cfs_caller_has_role(cl, "admin")) {
		/* admins manage entries whatever the class: no header to read */
		memset(e, 0, sizeof *e);
		e->fp.cls = &c->cfg->classes[0];
	} else {
		rc = entry_eff(c, path, st, e);
	}
	if (rc == 0) {
		cfs_access_decide(c, cl, e, path, CFS_OP_DELETE, 0, 0, d);
	} else {
		memset(d, 0, sizeof *d);
		d->verdict = CFS_DENY;
		snprintf(d->reason, sizeof d->reason, "the entry's policy cannot be resolved");
	}
	free(e);
	if (d->verdict != CFS_DENY)
		return 0;
	char why[600];
	snprintf(why, sizeof why, "%s: %s", what, d->reason);
	cfs_access_audit(c, cl, action, path, "deny", why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
	return -EACCES;
}

/* Before making an entry at path: is the name free? 0 when it is; -EEXIST
 * when an entry the caller may see holds it; -EACCES (and a deny row) when
 * one it may not see does (hide_denied): answering EEXIST would reveal it,
 * and answering as if it were not there would mean replacing it. */
static int name_free(struct cfs_ctx *c, const struct cfs_caller *cl, const char *path,
		     const char *action)
{
	struct stat st;
	int rc = cfs_store_lstat(c->store, path, &st);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc == -ELOOP ? -EACCES : rc;
	struct seer w = { NULL, 0 };
	rc = visible_to(c, &w, path, &st);
	free(w.cl);
	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	cfs_access_audit(c, cl, action, path, "deny",
			 "the name is taken by an entry the caller may not see", 0, CFS_AUDIT_NONE,
			 CFS_AUDIT_NONE, 1);
	return -EACCES;
}

/* Is the handle's access still live? Grant expiry is exact; revocation,
 * class changes and role changes are noticed within 250 ms. */
static int handle_live(struct cfs_ctx *c, struct handle *h, const char *what)
{
	if (h->dead)
		return -EACCES;
	/* The writer of derived content may go on writing what it already knows
	 * (its class was lifted above what it may open); reading back through the
	 * handle is decided like any other read. */
	if (h->derived && strcmp(what, "write") == 0)
		return 0;
	int64_t t = now_ms();
	if (h->link) {
		struct cfs_link lk;
		struct cfs_err err = { "" };
		char why[300] = "link ended";
		int live = t / 1000 < h->link_end;
		if (live && t >= h->next_check_ms) {
			live = cfs_links_get(c->links, h->link, &lk, &err) == 0 && lk.row_state == CFS_ROW_OK &&
			       !lk.revoked_at;
			snprintf(why, sizeof why, "link L%lld was revoked", (long long)h->link);
			h->next_check_ms = t + 250;
		} else if (!live) {
			snprintf(why, sizeof why, "link L%lld expired", (long long)h->link);
		}
		if (live)
			return 0;
		h->dead = 1;
		cfs_access_audit(c, h->cl, what, h->path, "deny", why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
		return -EACCES;
	}
	if (t < h->next_check_ms)
		return 0;
	struct cfs_eff *e = malloc(sizeof *e);
	struct cfs_decision d;
	if (!e)
		return -ENOMEM;
	pthread_rwlock_rdlock(&h->of->f->lock);
	unsigned char meta[CFS_META_MAX];
	size_t len = h->of->f->meta_len;
	memcpy(meta, h->of->f->meta, len);
	pthread_rwlock_unlock(&h->of->f->lock);
	int rc = cfs_eff_resolve(c, h->path, meta, len, e);
	if (rc == 0) {
		/* admit whoever the open admitted: a write handle keeps the writers */
		cfs_access_decide(c, h->cl, e, h->path,
				  is_write_open(h->flags) ? CFS_OP_RECHECK_WRITE : CFS_OP_RECHECK, 0,
				  h->grant, &d);
	} else {
		memset(&d, 0, sizeof d);
		d.verdict = CFS_DENY;
		snprintf(d.reason, sizeof d.reason, "the file's policy cannot be resolved");
	}
	free(e);
	if (d.verdict == CFS_DENY) {
		h->dead = 1;
		cfs_access_audit(c, h->cl, what, h->path, "deny", d.reason, h->grant, CFS_AUDIT_NONE,
				 CFS_AUDIT_NONE, 1);
		return -EACCES;
	}
	h->next_check_ms = t + 250;
	return 0;
}

static void cwatch_add(struct cfs_ctx *c, struct handle *h)
{
	struct cfs_cwatch *w = c->cwatch;
	pthread_mutex_lock(&w->lock);
	h->cprev = NULL;
	h->cnext = w->head;
	if (w->head)
		w->head->cprev = h;
	w->head = h;
	pthread_mutex_unlock(&w->lock);
}

static void cwatch_remove(struct cfs_ctx *c, struct handle *h)
{
	struct cfs_cwatch *w = c->cwatch;
	pthread_mutex_lock(&w->lock);
	if (h->cprev)
		h->cprev->cnext = h->cnext;
	else if (w->head == h)
		w->head = h->cnext;
	if (h->cnext)
		h->cnext->cprev = h->cprev;
	free(h->cpath);
	h->cpath = NULL;
	pthread_mutex_unlock(&w->lock);
}

/* A rename moved `from` (and everything under it) to `to`, or swapped the
 * two (exchange): keep the cached handles' paths right, so their pages can
 * still be dropped. */
static int under(const char *p, const char *dir, size_t n)
{
	return strncmp(p, dir, n) == 0 && (p[n] == 0 || p[n] == '/');
}

static void cwatch_renamed(struct cfs_ctx *c, const char *from, const char *to, int exchange)
{
	struct cfs_cwatch *w = c->cwatch;
	size_t nf = strlen(from), nt = strlen(to);
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	for (struct handle *h = w->head; h; h = h->cnext) {
		const char *rest, *base;
		if (!h->cpath)
			continue;
		if (under(h->cpath, from, nf)) {
			base = to;
			rest = h->cpath + nf;
		} else if (exchange && under(h->cpath, to, nt)) {
			base = from;
			rest = h->cpath + nt;
		} else {
			continue;
		}
		char *np = malloc(strlen(base) + strlen(rest) + 1);
		if (!np) {
			syslog(LOG_ERR, "coachfs: out of memory following a rename of an open file");
			continue;
		}
		strcpy(np, base);
		strcat(np, rest);
		free(h->cpath);
		h->cpath = np;
	}
	pthread_mutex_unlock(&w->lock);
}

#define CWATCH_BATCH 64

static void *cwatch_run(void *arg)
{
	struct cfs_ctx *c = arg;
	struct cfs_cwatch *w = c->cwatch;
	char *drop[CWATCH_BATCH];
	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += CWATCH_PERIOD_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
		int n = 0;
		for (struct handle *h = w->head; h && !w->stop && n < CWATCH_BATCH; h = h->cnext) {
			if (h->dropped || !h->cpath || handle_live(c, h, "read") == 0)
				continue;
			h->dropped = 1;
			if ((drop[n] = strdup(h->cpath)) != NULL)
				n++;
		}
		/* outside the lock: the kernel may wait on a read a FUSE thread serves */
		pthread_mutex_unlock(&w->lock);
		for (int i = 0; i < n; i++) {
			int rc = fuse_invalidate_path(w->fuse, drop[i]);
			if (rc < 0 && rc != -ENOENT)
				syslog(LOG_WARNING, "coachfs: %s: cannot drop cached pages: %s", drop[i],
				       strerror(-rc));
			free(drop[i]);
		}
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static int cwatch_start(struct cfs_ctx *c, struct fuse *fuse)
{
	struct cfs_cwatch *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->fuse = fuse;
	c->cwatch = w;
	int rc = pthread_create(&w->thread, NULL, cwatch_run, c);
	if (rc != 0)
		return -rc;
	w->started = 1;
	return 0;
}

static void cwatch_stop(struct cfs_ctx *c)
{
	struct cfs_cwatch *w = c->cwatch;
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stop = 1;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
	c->cwatch = NULL;
}

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

static void reader_fill(struct reader *r, const struct cfs_caller *cl, struct rstr *exe)
{
	rstr_put(r->exe);
	r->pid = cl->pid;
	r->uid = cl->uid;
	cfs_strlcpy(r->user, cl->user, sizeof r->user);
	r->exe = exe;
	cfs_lineage_init(&r->lin, cl);
	r->noted = -1;
}

static int reader_find(struct handle *h, pid_t pid, uid_t uid)
{
	for (int i = 0; i < READERS; i++)
		if (h->rd[i].pid == pid && h->rd[i].uid == uid && h->rd[i].exe)
			return i;
	return -1;
}

/* The process behind the current request on h: from the slot cache, or
 * (a thread not seen on this handle) from /proc once. 0 or -ENOMEM. */
static int reader_of(struct cfs_ctx *c, struct handle *h, struct rref *out)
{
	struct fuse_context *fc = fuse_get_context();
	pthread_mutex_lock(&h->rlock);
	int i = reader_find(h, fc->pid, fc->uid);
	if (i < 0) {
		pthread_mutex_unlock(&h->rlock);
		struct cfs_caller *cl = who(c);
		struct rstr *x = cl ? rstr_new(cl->exe) : NULL;
		if (!x) {
			free(cl);
			return -ENOMEM;
		}
		pthread_mutex_lock(&h->rlock);
		i = reader_find(h, fc->pid, fc->uid);
		if (i < 0) {
			i = (int)(h->rnext++ % READERS);
			reader_fill(&h->rd[i], cl, x);
		} else {
			rstr_put(x);
		}
		free(cl);
	}
	const struct reader *r = &h->rd[i];
	out->slot = i;
	out->pid = r->pid;
	out->uid = r->uid;
	memcpy(out->user, r->user, sizeof out->user);
	out->exe = r->exe;
	out->exe->refs++;
	out->self = r->lin.self;
	out->ppid = r->lin.ppid;
	out->noted = r->noted;
	pthread_mutex_unlock(&h->rlock);
	return 0;
}

static void rref_done(struct rref *r)
{
	rstr_put(r->exe);
	r->exe = NULL;
}

static struct cfs_rowproc rref_row(const struct rref *r)
{
	struct cfs_rowproc rp = { r->uid, r->user, r->pid, r->exe->s };
	return rp;
}

/* Derived content: the reading process now holds class `rank`. */
static void rref_note(struct cfs_ctx *c, struct handle *h, struct rref *r, int rank)
{
	if (rank <= r->noted)
		return;
	cfs_access_note_read(c, r->self.pid, r->self.start, rank);
	pthread_mutex_lock(&h->rlock);
	struct reader *s = &h->rd[r->slot];
	if (s->pid == r->pid && s->lin.self.pid == r->self.pid && s->noted < rank)
		s->noted = rank;
	pthread_mutex_unlock(&h->rlock);
	r->noted = rank;
}

/* The highest class the writing process (or an ancestor) has read, when it
 * is above floor; the ancestors are walked at most once per slot. */
static int rref_max_read(struct cfs_ctx *c, struct handle *h, const struct rref *r, int floor)
{
	struct cfs_lineage lin;
	pthread_mutex_lock(&h->rlock);
	const struct reader *s = &h->rd[r->slot];
	int same = s->pid == r->pid && s->lin.self.pid == r->self.pid;
	if (same)
		lin = s->lin;
	pthread_mutex_unlock(&h->rlock);
	if (!same) {  /* the slot went to another thread meanwhile: walk afresh */
		memset(&lin, 0, sizeof lin);
		lin.self = r->self;
		lin.ppid = r->ppid;
	}
	int was = lin.walked;
	int rank = cfs_access_max_read(c, &lin, floor);
	if (same && !was && lin.walked) {
		pthread_mutex_lock(&h->rlock);
		struct reader *w = &h->rd[r->slot];
		if (w->pid == r->pid && w->lin.self.pid == r->self.pid)
			w->lin = lin;
		pthread_mutex_unlock(&h->rlock);
	}
	return rank;
}

/* Derived content: a process that read class r writes only at class >= r.
 * rp names the writing process in the row. */
static int lift_class(struct cfs_ctx *c, struct handle *h, int r, const struct cfs_rowproc *rp)
{
	if (r <= h->rank || r >= c->cfg->nclasses)
		return 0;
	const char *name = c->cfg->classes[r].name;
	struct cfs_err e = { "" };
	unsigned char meta[CFS_META_MAX];
	pthread_rwlock_wrlock(&h->of->f->lock);
	int old = h->rank;
	if (r <= old) { /* another write on this handle lifted it meanwhile */
		pthread_rwlock_unlock(&h->of->f->lock);
		return 0;
	}
	size_t len = h->of->f->meta_len;
	memcpy(meta, h->of->f->meta, len);
	int rc = cfs_meta_set(meta, &len, CFS_META_MAX, CFS_XATTR_PREFIX "class", name, strlen(name));
	if (rc == 0)
		rc = cfs_content_set_meta(h->of->f, meta, len, &e);
	if (rc == 0) {
		h->rank = r;
		h->derived = 1;
	}
	pthread_rwlock_unlock(&h->of->f->lock);
	if (rc < 0)
		return rc;
	char why[256];
	snprintf(why, sizeof why, "derived content: class %s -> %s (the writing process read class %s)",
		 c->cfg->classes[old].name, name, name);
	return cfs_access_audit_proc(c, rp, "setxattr", h->path, "allow", why, 0, CFS_AUDIT_NONE,
				     CFS_AUDIT_NONE, 1) < 0 ? -EIO : 0;
}

/* ---- FUSE operations ---- */

static int link_path(const char *path, const char **token);
static int link_getattr(struct cfs_ctx *c, int kind, const char *token, struct stat *st);

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct cfs_ctx *c = ctx_get();
	/* Every caller may see a different tree (hide_denied) and every read must
	 * reach the daemon to be decided and audited: no caching of entries or
	 * data, so every path walk LOOKUPs each name for its caller and every
	 * read is a READ. Attributes alone may be kept for a second (as
	 * gocryptfs does): they are only ever reached through a dentry that was
	 * just looked up for the same caller, or an open file, so the cache
	 * serves nobody what their own LOOKUP would refuse. It spares the
	 * GETATTRs the kernel sends for default_permissions after each LOOKUP
	 * (an open+close is 3 requests instead of 5). A change made through the
	 * mount invalidates them; one made on another host that shares the
	 * store shows within the second. */
	/* With hide_denied = no every caller sees the same names, so names may be
	 * kept for a second too (gocryptfs's entry timeout): an open still
	 * reaches the daemon and is decided for its caller, whoever looked the
	 * name up, and names under /.links reveal nothing to anyone who does
	 * not already hold the token. With hide_denied = yes a name one caller
	 * may see must never serve another's path walk. */
	cfg->entry_timeout = c->cfg->hide_denied ? 0 : 1.0;
	cfg->attr_timeout = 1.0;
	cfg->negative_timeout = 0;
	cfg->direct_io = 0;   /* chosen per open: handle_new */
	cfg->kernel_cache = 0;
	cfg->hard_remove = 1;
	cfg->nullpath_ok = 1;
	cfg->use_ino = 0;
	conn->max_write = 1 << 20;
	conn->max_read = 1 << 20;
	conn->max_readahead = 1 << 20;
	conn->want &= ~(unsigned)FUSE_CAP_SPLICE_READ;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/* Without the watcher no page may be cached: every open is direct_io. */
	if (cwatch_start(c, fuse_get_context()->fuse) < 0)
		syslog(LOG_WARNING, "coachfs: no page-cache watcher: every read goes through the daemon");
	return c;
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	if (fi && fi->fh) {
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;
		if (fstat(h->of->fd, st) != 0)
			return -errno;
		plain_stat(c, st);
		return 0;
	}
	const char *token;
	int lk = link_path(path, &token);
	if (lk)
		return link_getattr(c, lk, token, st);
	int rc = path_ok(path);
	if (rc < 0)
		return rc;
	rc = cfs_store_lstat(c->store, path, st);
	if (rc < 0)
		return rc == -ELOOP ? -ENOENT : rc;
	if (c->cfg->hide_denied && !is_root(path)) {
		struct seer w = { NULL, 0 };
		rc = visible_to(c, &w, path, st);
		free(w.cl);
		if (rc < 0)
			return rc;
	}
	plain_stat(c, st);
	return 0;
}

static int op_readlink(const char *path, char *buf, size_t size)
{
	struct cfs_ctx *c = ctx_get();
	const char *leaf;
	if (size == 0)
		return -EINVAL;
	int rc = see(c, path);
	if (rc < 0)
		return rc;
	int d = parent_of(c, path, &leaf);
	if (d < 0)
		return d;
	ssize_t n = readlinkat(d, leaf, buf, size - 1);
	rc = n < 0 ? -errno : 0;
	close(d);
	if (rc < 0)
		return rc;
	buf[n] = 0;
	if (cfs_store_link_ok(path, buf) < 0) {
		/* the mount never makes such a link: it was planted in the store */
		record(c, "tamper", path, "error", "symlink in the store points outside the mount");
		return -EIO;
	}
	return 0;
}

static int op_mknod(const char *path, mode_t mode, dev_t rdev)
{
	(void)path;
	(void)mode;
	(void)rdev;
	/* Device nodes and FIFOs have no place in an encrypted store; regular
	 * files arrive through create(). */
	return -EPERM;
}

/* May the caller create an entry at path (decided on the parent's policy)? */
static int may_create(struct cfs_ctx *c, struct cfs_caller *cl, const char *path, const char *action,
		      struct cfs_eff *e, struct cfs_decision *d)
{
	int rc = cfs_eff_resolve(c, path, NULL, 0, e);
	if (rc < 0)
		return rc;
	cfs_access_decide(c, cl, e, path, CFS_OP_WRITE, 0, 0, d);
	if (d->verdict == CFS_DENY) {
		cfs_access_audit(c, cl, action, path, "deny", d->reason, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
		return -EACCES;
	}
	return 0;
}

static int op_mkdir(const char *path, mode_t mode)
{
	struct cfs_ctx *c = ctx_get();
	const char *leaf;
	struct cfs_decision d;
	struct cfs_caller *cl = who(c);
	struct cfs_eff *e = malloc(sizeof *e);
	int rc = cl && e ? 0 : -ENOMEM;
	int dfd = -1;
	if (rc == 0)
		rc = path_ok(path);
	if (rc == 0)
		rc = may_create(c, cl, path, "create", e, &d);
	if (rc == 0)
		rc = name_free(c, cl, path, "create");
	if (rc == 0 && (dfd = parent_of(c, path, &leaf)) < 0)
		rc = dfd;
	/* A process that read a higher class cannot make a lower folder. */
	int r = -1;
	if (rc == 0) {
		struct cfs_lineage lin;
		cfs_lineage_init(&lin, cl);
		r = cfs_access_max_read(c, &lin, e->class_rank);
	}
	if (rc == 0) {
		char why[300];
		snprintf(why, sizeof why, "directory; %.200s; class %s", d.reason,
			 c->cfg->classes[r > e->class_rank && r < c->cfg->nclasses ? r : e->class_rank].name);
		if (cfs_access_audit(c, cl, "create", path, verdict_word(d.verdict), why, d.grant_id,
				     CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1) < 0)
			rc = -EACCES; /* not recorded: refused (fail closed) */
	}
	if (rc == 0) {
		/* made whole under a temporary name with its sidecar (its id, and the
		 * derived class: an unclassified folder would be a downgrade) */
		unsigned char meta[CFS_META_MAX];
		size_t len = 0;
		struct cfs_err err = { "" };
		if (r > e->class_rank && r < c->cfg->nclasses) {
			const char *name = c->cfg->classes[r].name;
			rc = cfs_meta_set(meta, &len, sizeof meta, CFS_XATTR_PREFIX "class", name, strlen(name));
		}
		if (rc == 0 && (rc = cfs_dir_create(c, dfd, leaf, e->dir_id, meta, len, mode, &err)) < 0)
			log_err("mkdir", path, &err);
		if (rc < 0)
			record_failed(c, cl, "create", path, rc);
		if (rc == -EEXIST) /* made since the check: EEXIST only if the caller may see it */
			rc = name_free(c, cl, path, "create") == -EEXIST ? -EEXIST : -EACCES;
	}
	if (rc == 0)
		set_owner(dfd, leaf);
	if (dfd >= 0)
		close(dfd);
	free(cl);
	free(e);
	return rc;
}

/* The decision shared by unlink and rmdir: the entry is visible, exists,
 * and may_remove admits its caller. 0 with *clp (the caller, for the
 * caller to free) and *dec, or -errno (nothing to free). */
static int decide_removal(struct cfs_ctx *c, const char *path, const char *what,
			  struct cfs_caller **clp, struct cfs_decision *dec)
{
	struct stat st;
	int rc = see(c, path);
	if (rc == 0)
		rc = cfs_store_lstat(c->store, path, &st);
	if (rc < 0)
		return rc == -ELOOP ? -ENOENT : rc;
	struct cfs_caller *cl = who(c);
	if (!cl)
		return -ENOMEM;
	rc = may_remove(c, cl, path, &st, "unlink", what, dec);
	if (rc < 0) {
		free(cl);
		return rc;
	}
	*clp = cl;
	return 0;
}

static int op_unlink(const char *path)
{
	struct cfs_ctx *c = ctx_get();
	const char *leaf;
	struct cfs_decision dec;
	struct cfs_caller *cl = NULL;
	int rc = decide_removal(c, path, "remove", &cl, &dec);
	if (rc < 0)
		return rc;
	int d = parent_of(c, path, &leaf);
	if (d < 0)
		rc = d;
	if (rc == 0) {
		char why[300];
		snprintf(why, sizeof why, "removed; %.250s", dec.reason);
		if (cfs_access_audit(c, cl, "unlink", path, "allow", why, dec.grant_id, CFS_AUDIT_NONE,
				     CFS_AUDIT_NONE, 1) < 0)
			rc = -EIO;
	}
	if (rc == 0 && unlinkat(d, leaf, 0) != 0) {
		rc = -errno;
		record_failed(c, cl, "unlink", path, rc);
	}
	if (d >= 0)
		close(d);
	free(cl);
	return rc;
}

/* A directory is empty for the mount when it holds nothing but its sidecar. */
static int dir_empty(int dfd)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	int rc = 1;
	while ((de = readdir(dp))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, CFS_DIR_SIDECAR)) {
			rc = 0;
			break;
		}
	}
	closedir(dp);
	return rc;
}

static int op_rmdir(const char *path)
{
	struct cfs_ctx *c = ctx_get();
	const char *leaf;
	struct cfs_decision dec;
	struct cfs_caller *cl = NULL;
	int rc = decide_removal(c, path, "remove directory", &cl, &dec);
	if (rc < 0)
		return rc;
	free(cl);
	int d = parent_of(c, path, &leaf);
	if (d < 0)
		return d;
	int dd = openat(d, leaf, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dd < 0) {
		rc = -errno;
	} else {
		rc = dir_empty(dd);
		if (rc == 1 && record(c, "unlink", path, "allow", "directory removed") < 0) {
			rc = -EIO;
		} else if (rc == 1) {
			/* out of the tree's view first (a temporary name), then its
			 * sidecar, then itself: a crash never leaves a directory
			 * without its sidecar under its name */
			char tmp[64];
			rc = cfs_store_tmpname(tmp, sizeof tmp);
			if (rc == 0 && renameat2(d, leaf, d, tmp, RENAME_NOREPLACE) != 0)
				rc = -errno;
			if (rc == 0 && unlinkat(dd, CFS_DIR_SIDECAR, 0) != 0 && errno != ENOENT)
				rc = -errno;
			if (rc == 0 && unlinkat(d, tmp, AT_REMOVEDIR) != 0)
				rc = -errno;
			if (rc < 0)
				record_failed(c, NULL, "unlink", path, rc);
		} else if (rc == 0) {
			rc = -ENOTEMPTY;
		}
		close(dd);
	}
	close(d);
	return rc;
}

/* The mount path a relative link target names (cfs_store_link_ok has
 * checked it stays inside the mount): the link's directory, minus one
 * component per leading "..", plus the named components. */
static void link_target_path(const char *link, const char *target, char *out, size_t n)
{
	size_t len = cfs_strlcpy(out, link, n);
	if (len >= n) {
		cfs_strlcpy(out, "(too long)", n);
		return;
	}
	char *slash = strrchr(out, '/');
	*(slash ? slash : out) = 0;                /* the link's directory ("" = root) */
	len = strlen(out);
	for (const char *p = target; *p;) {
		const char *e = strchrnul(p, '/');
		size_t k = (size_t)(e - p);
		if (k == 2 && p[0] == '.' && p[1] == '.') {
			char *up = strrchr(out, '/');
			len = up ? (size_t)(up - out) : 0;
			out[len] = 0;
		} else if (k > 0 && !(k == 1 && p[0] == '.')) {
			if (len + 1 + k >= n) {
				cfs_strlcpy(out, "(too long)", n);
				return;
			}
			out[len++] = '/';
			memcpy(out + len, p, k);
			out[len += k] = 0;
		}
		p = *e ? e + 1 : e;
	}
	if (!out[0])
		cfs_strlcpy(out, "/", n);
}

/* A symbolic link is made like any other entry: write rights where it is
 * made, and a create row naming (mount-relative) what it points at. */
static int op_symlink(const char *target, const char *path)
{
	struct cfs_ctx *c = ctx_get();
	const char *leaf;
	struct cfs_decision dec;
	if (cfs_store_link_ok(path, target) < 0)
		return -EPERM; /* a shared link must not send another user outside the mount */
	struct cfs_caller *cl = who(c);
	struct cfs_eff *e = malloc(sizeof *e);
	int rc = cl && e ? path_ok(path) : -ENOMEM;
	int d = -1;
	if (rc == 0)
		rc = may_create(c, cl, path, "create", e, &dec);
	if (rc == 0)
		rc = name_free(c, cl, path, "create");
	if (rc == 0 && (d = parent_of(c, path, &leaf)) < 0)
		rc = d;
	if (rc == 0) {
		char to[PATH_MAX], why[600];
		link_target_path(path, target, to, sizeof to);
		snprintf(why, sizeof why, "symbolic link to %.250s; %.250s", to, dec.reason);
		if (cfs_access_audit(c, cl, "create", path, verdict_word(dec.verdict), why, dec.grant_id,
				     CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1) < 0)
			rc = -EACCES; /* not recorded: refused (fail closed) */
	}
	if (rc == 0) {
		rc = symlinkat(target, d, leaf) == 0 ? 0 : -errno;
		if (rc < 0)
			record_failed(c, cl, "create", path, rc);
		if (rc == -EEXIST)
			rc = name_free(c, cl, path, "create") == -EEXIST ? -EEXIST : -EACCES;
	}
	if (rc == 0)
		set_owner(d, leaf);
	if (d >= 0)
		close(d);
	free(cl);
	free(e);
	return rc;
}

/* Set an entry's own class attribute (file header or directory sidecar). */
static int set_own_class(struct cfs_ctx *c, const char *path, const struct stat *st, const char *name)
{
	unsigned char meta[CFS_META_MAX];
	size_t len;
	struct cfs_err e = { "" };
	int rc;
	if (S_ISDIR(st->st_mode)) {
		pthread_mutex_lock(&c->lock);
		rc = cfs_dir_meta_load(c, path, meta, &len);
		if (rc == 0)
			rc = cfs_meta_set(meta, &len, sizeof meta, CFS_XATTR_PREFIX "class", name, strlen(name));
		if (rc == 0)
			rc = cfs_dir_meta_store(c, path, meta, len);
		pthread_mutex_unlock(&c->lock);
		return rc;
	}
	if (!S_ISREG(st->st_mode))
		return 0;
	struct cfs_ofile *of;
	rc = ofile_get(c, path, &of);
	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&of->f->lock);
	len = of->f->meta_len;
	memcpy(meta, of->f->meta, len);
	rc = cfs_meta_set(meta, &len, sizeof meta, CFS_XATTR_PREFIX "class", name, strlen(name));
	if (rc == 0)
		rc = cfs_content_set_meta(of->f, meta, len, &e);
	pthread_rwlock_unlock(&of->f->lock);
	ofile_put(c, of);
	return rc;
}

/* Rename never downgrades: if `from` would resolve to a lower class at `to`,
 * pin its current class as its own attribute first. */
static int keep_class(struct cfs_ctx *c, const char *from, const char *to)
{
	struct stat st;
	unsigned char meta[CFS_META_MAX];
	size_t len;
	struct cfs_eff *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	int rc = a && b ? cfs_store_lstat(c->store, from, &st) : -ENOMEM;
	if (rc == 0)
		rc = own_meta(c, from, &st, meta, &len);
	if (rc == 0)
		rc = cfs_eff_resolve(c, from, meta, len, a);
	if (rc == 0)
		rc = cfs_eff_resolve(c, to, meta, len, b);
	if (rc == 0 && b->class_rank < a->class_rank) {
		char why[300];
		snprintf(why, sizeof why, "rename to %.200s keeps class %s", to, a->fp.cls->name);
		rc = record(c, "setxattr", from, "allow", why);
		if (rc == 0 && (rc = set_own_class(c, from, &st, a->fp.cls->name)) < 0)
			record_failed(c, NULL, "setxattr", from, rc);
	}
	free(a);
	free(b);
	return rc;
}

/* A moved entry: where it goes, what it is, and the place it was bound to. */
struct rebind {
	const char *from, *to;
	int kind;                   /* CFS_KIND_*, or -1: nothing to rebind (a symlink) */
	struct cfs_bind old;
};

static int rebind_prepare(struct cfs_ctx *c, const char *from, const char *to, struct rebind *rb)
{
	struct stat st;
	struct cfs_err e = { "" };
	int rc = cfs_store_lstat(c->store, from, &st);
	rb->to = to;
	rb->from = from;
	rb->kind = S_ISDIR(st.st_mode) ? CFS_KIND_DIR : S_ISREG(st.st_mode) ? CFS_KIND_FILE : -1;
	if (rc < 0 || rb->kind < 0)
		return rc;
	rc = cfs_rename_intent(c, from, rb->kind, &rb->old, &e);
	if (rc < 0)
		log_err("rename", from, &e);
	return rc;
}

/* The rename did not happen: drop the intents (each entry is still where
 * its header says). */
static void rebind_cancel(struct cfs_ctx *c, const struct rebind *rb, int n)
{
	struct cfs_err e = { "" };
	for (int i = 0; i < n && c->state; i++) {
		unsigned char id[CFS_FILE_ID_BYTES];
		int ok = 0;
		if (rb[i].kind == CFS_KIND_DIR) {
			ok = cfs_dir_id_claimed(c, rb[i].from, id) == 0;
		} else if (rb[i].kind == CFS_KIND_FILE) {
			int fd = cfs_store_openat(c->store, rb[i].from, O_RDONLY | O_NONBLOCK, 0);
			ok = fd >= 0 && cfs_content_peek_id(fd, id) == 0;
			if (fd >= 0)
				close(fd);
		}
		if (ok)
			cfs_state_intent_clear(c->state, id, &e);
	}
}

/* Rebind a moved file through its shared open file (an open one keeps its
 * version and binding in memory) or a moved directory's sidecar. */
static int rebind_finish(struct cfs_ctx *c, const struct rebind *rb)
{
	struct cfs_err e = { "" };
	struct cfs_bind nb;
	struct cfs_ofile *of;
	struct cfs_file *f = NULL;
	int rc;
	if (rb->kind < 0)
		return 0;
	if (rb->kind == CFS_KIND_DIR) {
		rc = cfs_dir_rebind(c, rb->to, &rb->old, &e);
		if (rc < 0)
			log_err("rename", rb->to, &e);
		return rc;
	}
	rc = cfs_entry_bind(c, rb->to, CFS_KIND_FILE, &nb);
	int fd = rc < 0 ? rc : cfs_store_openat(c->store, rb->to, O_RDWR, 0);
	if (fd < 0)
		return fd == -ELOOP ? -EPERM : fd;
	unsigned char id[CFS_FILE_ID_BYTES];
	rc = cfs_content_open_b(fd, c->keys, &rb->old, c->state, scratch(c), &f, &e);
	int done = 0;
	if (rc == -EIO && cfs_content_open_b(fd, c->keys, &nb, c->state, scratch(c), &f, &e) == 0)
		rc = 0, done = 1; /* an open meanwhile found it moved and rebound it (cfs_entry_open) */
	if (rc == 0)
		memcpy(id, f->id, sizeof id);
	rc = rc < 0 ? (close(fd), rc) : ofile_adopt(c, fd, f, rb->to, &of);
	if (rc == 0) {
		pthread_rwlock_wrlock(&of->f->lock);
		if (!done || memcmp(of->f->bind.parent, nb.parent, sizeof nb.parent) || strcmp(of->f->bind.name, nb.name))
			rc = cfs_content_rebind(of->f, &nb, &e);
		pthread_rwlock_unlock(&of->f->lock);
		ofile_put(c, of);
	}
	if (rc == 0 && c->state)
		cfs_state_intent_clear(c->state, id, &e);
	if (rc < 0)
		log_err("rename", rb->to, &e);
	return rc;
}

/* Rename: the source leaves its name, so it needs the rights of a removal
 * (CFS_OP_DELETE); an existing target is replaced (or, with
 * RENAME_EXCHANGE, moved), so it must be visible to the caller and needs
 * them too. When there was no target, the backing rename is
 * RENAME_NOREPLACE: a name made meanwhile is never clobbered. */
static int op_rename(const char *from, const char *to, unsigned int flags)
{
	struct cfs_ctx *c = ctx_get();
	const char *l1, *l2;
	struct stat st1, st2;
	struct cfs_decision d;
	char what[300];
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	int rc = see(c, from);
	if (rc == 0 && (flags & RENAME_EXCHANGE))
		rc = see(c, to);
	if (rc == 0)
		rc = path_ok(to);
	if (rc == 0)
		rc = cfs_store_lstat(c->store, from, &st1);
	if (rc < 0)
		return rc == -ELOOP ? -ENOENT : rc;
	struct cfs_caller *cl = who(c);
	if (!cl)
		return -ENOMEM;
	snprintf(what, sizeof what, "rename to %.250s", to);
	rc = may_remove(c, cl, from, &st1, "rename", what, &d);
	int target = 0;
	if (rc == 0) {
		rc = cfs_store_lstat(c->store, to, &st2);
		if (rc == 0)
			target = 1;
		else if (rc == -ENOENT && !(flags & RENAME_EXCHANGE))
			rc = 0;
		else if (rc == -ELOOP)
			rc = -EACCES;
	}
	if (rc == 0 && target) {
		if (flags & RENAME_NOREPLACE) {
			/* EEXIST only for a target the caller may see */
			rc = name_free(c, cl, to, "rename");
		} else {
			struct seer w = { NULL, 0 };
			rc = visible_to(c, &w, to, &st2);
			free(w.cl);
			if (rc == -ENOENT) {
				snprintf(what, sizeof what,
					 "rename onto %.200s: the name is taken by an entry the caller may not see",
					 to);
				cfs_access_audit(c, cl, "rename", from, "deny", what, 0, CFS_AUDIT_NONE,
						 CFS_AUDIT_NONE, 1);
				rc = -EACCES;
			}
		}
		if (rc == 0) {
			struct cfs_decision dt;
			snprintf(what, sizeof what, "%s by rename from %.200s",
				 (flags & RENAME_EXCHANGE) ? "exchange" : "replace", from);
			rc = may_remove(c, cl, to, &st2, "rename", what, &dt);
		}
	}
	if (rc == 0)
		rc = keep_class(c, from, to);
	if (rc == 0 && (flags & RENAME_EXCHANGE))
		rc = keep_class(c, to, from);
	if (rc < 0) {
		free(cl);
		return rc;
	}
	int d1 = parent_of(c, from, &l1);
	if (d1 < 0) {
		free(cl);
		return d1;
	}
	int d2 = parent_of(c, to, &l2);
	if (d2 < 0) {
		close(d1);
		free(cl);
		return d2;
	}
	unsigned int bflags = flags;
	if (!target)
		bflags |= RENAME_NOREPLACE;
	char why[600];
	snprintf(why, sizeof why, "renamed to %.250s%s; %.250s", to, target ? " (replacing it)" : "",
		 d.reason);
	if (target && (flags & RENAME_EXCHANGE))
		snprintf(why, sizeof why, "exchanged with %.250s; %.250s", to, d.reason);
	rc = cfs_access_audit(c, cl, "rename", from, "allow", why, d.grant_id, CFS_AUDIT_NONE,
			      CFS_AUDIT_NONE, 1) < 0 ? -EIO : 0;
	/* the moved entries' headers are bound to their places: record where
	 * they were, rename, rebind them where they are */
	struct rebind rb[2];
	int nrb = 0;
	if (rc == 0)
		rc = rebind_prepare(c, from, to, &rb[nrb++]);
	if (rc == 0 && (flags & RENAME_EXCHANGE))
		rc = rebind_prepare(c, to, from, &rb[nrb++]);
	if (rc == 0 && renameat2(d1, l1, d2, l2, bflags) != 0) {
		rc = -errno;
		if (rc == -EEXIST && !(flags & RENAME_NOREPLACE))
			rc = -EACCES; /* a name made since the check: never clobbered */
		rebind_cancel(c, rb, nrb);
	} else {
		for (int i = 0; rc == 0 && i < nrb; i++)
			rc = rebind_finish(c, &rb[i]);
	}
	if (rc < 0)
		record_failed(c, cl, "rename", from, rc);
	if (rc == 0)
		cwatch_renamed(c, from, to, (flags & RENAME_EXCHANGE) != 0);
	close(d1);
	close(d2);
	free(cl);
	return rc;
}

static int op_link(const char *from, const char *to)
{
	(void)from;
	(void)to;
	/* One ciphertext under two names could resolve to two classes. */
	return -EPERM;
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	if (fi && fi->fh) {
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;
		return fchmod(h->of->fd, mode & 07777) == 0 ? 0 : -errno;
	}
	int rc = see(c, path);
	if (rc < 0)
		return rc;
	int fd = cfs_store_openat(c->store, path, O_PATH, 0);
	if (fd < 0)
		return fd == -ELOOP ? -EOPNOTSUPP : fd;
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	rc = chmod(p, mode & 07777) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	if (fi && fi->fh) {
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;
		return fchown(h->of->fd, uid, gid) == 0 ? 0 : -errno;
	}
	int rc = see(c, path);
	if (rc < 0)
		return rc;
	const char *leaf;
	int d = is_root(path) ? cfs_store_openat(c->store, "/", O_PATH | O_DIRECTORY, 0)
			      : parent_of(c, path, &leaf);
	if (d < 0)
		return d;
	rc = fchownat(d, is_root(path) ? "" : leaf, uid, gid,
		      is_root(path) ? AT_EMPTY_PATH : AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
	close(d);
	return rc;
}

/* Free a handle's own memory (not its open file or caller). A page-cached
 * handle must be off the watcher's list (cwatch_remove) before its open
 * file goes. */
static void handle_drop(struct handle *h)
{
	free(h->cpath);
	for (int i = 0; i < READERS; i++)
		rstr_put(h->rd[i].exe);
	pthread_mutex_destroy(&h->rlock);
	free(h->path);
	free(h);
}

static int handle_new(struct cfs_ofile *of, const char *path, int flags, struct cfs_caller *cl,
		      int64_t grant, int rank, struct fuse_file_info *fi)
{
	struct handle *h = calloc(1, sizeof *h);
	if (!h || !(h->path = strdup(path ? path : ""))) {
		free(h);
		return -ENOMEM;
	}
	struct rstr *x = rstr_new(cl->exe);
	if (!x || pthread_mutex_init(&h->rlock, NULL) != 0) {
		free(x);
		free(h->path);
		free(h);
		return -ENOMEM;
	}
	reader_fill(&h->rd[0], cl, x);  /* the opener: its reads cost no /proc access */
	h->rnext = 1;
	h->of = of;
	h->flags = flags;
	h->cl = cl;
	h->grant = grant;
	h->rank = rank;
	h->next_check_ms = now_ms() + 250;
	struct cfs_ctx *c = ctx_get();
	/* a row per read, or one per open and the page cache (see cfs_cwatch) */
	h->every = rank < 0 || rank >= c->cfg->nclasses ||
		   c->cfg->classes[rank].reads == CFS_READS_EVERY || !c->cwatch || !c->cwatch->started;
	if (!h->every && !(h->cpath = strdup(h->path))) {
		handle_drop(h);
		return -ENOMEM;
	}
	holder_add(c, of, cl->uid, 1);
	if (!h->every)
		cwatch_add(c, h);
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = h->every;
	fi->keep_cache = 0;
	return 0;
}

static int is_write_open(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_TRUNC | O_APPEND));
}

/* Decide and record an open of an existing file; on success *d is the
 * decision. Returns 0, -EACCES (denied) or -EIO (could not record). */
static int decide_open(struct cfs_ctx *c, struct cfs_caller *cl, struct cfs_ofile *of, const char *path,
		       int flags, struct cfs_eff *e, struct cfs_decision *d)
{
	unsigned char meta[CFS_META_MAX];
	pthread_rwlock_rdlock(&of->f->lock);
	size_t len = of->f->meta_len;
	memcpy(meta, of->f->meta, len);
	pthread_rwlock_unlock(&of->f->lock);
	int rc = cfs_eff_resolve(c, path, meta, len, e), counted = 0;
	if (rc == 0 && memcmp(e->dir_id, of->f->bind.parent, sizeof e->dir_id) != 0) {
		rc = -EIO; /* the parent's id changed between the open and the chain's proof */
		snprintf(e->why, sizeof e->why, "the parent directory's sidecar changed while opening");
	}
	if (rc == -EIO) {
		cfs_access_audit(c, cl, "tamper", path, "error", e->why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
		return -EIO;
	}
	if (rc < 0) {
		memset(d, 0, sizeof *d);
		d->verdict = CFS_DENY;
		snprintf(d->reason, sizeof d->reason, "the file's policy cannot be resolved");
	} else {
		int wr = is_write_open(flags);
		/* Export is reading content out: a tool opening for reading. */
		int tool = (flags & O_ACCMODE) != O_WRONLY && cfs_config_is_export_tool(c->cfg, cl->exe);
		cfs_access_decide(c, cl, e, path, wr ? CFS_OP_WRITE : CFS_OP_READ, tool, 0, d);
		if (d->verdict != CFS_DENY)
			counted = cfs_access_count_open(c, e, d, path) == 1;
	}
	const char *action = d->is_export ? "export" : "open";
	if (d->verdict != CFS_DENY && !d->is_export && cfs_access_replay(c, cl->uid, d->grant_id, path))
		action = "replay";
	if (cfs_access_audit(c, cl, action, path, verdict_word(d->verdict), d->reason, d->grant_id,
			     CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1) < 0) {
		/* not recorded: refused (fail closed), and not a first open either,
		 * nor one of the grant's max_opens */
		if (!strcmp(action, "open") && d->verdict != CFS_DENY)
			cfs_access_replay_forget(c, cl->uid, d->grant_id, path);
		if (counted)
			cfs_access_uncount_open(c, d, path);
		return -EACCES;
	}
	return d->verdict == CFS_DENY ? -EACCES : 0;
}

/* ---- expiring links: /.links/TOKEN ---- */

/* 1 for "/.links", 2 for "/.links/NAME" (*token = NAME), 0 otherwise. */
static int link_path(const char *path, const char **token)
{
	static const char pre[] = "/" CFS_LINKS_DIR;
	size_t n = sizeof pre - 1;
	if (!path || strncmp(path, pre, n) != 0)
		return 0;
	if (path[n] == 0)
		return 1;
	if (path[n] != '/' || !path[n + 1] || strchr(path + n + 1, '/'))
		return path[n] == '/' ? 3 : 0; /* deeper: nothing there */
	*token = path + n + 1;
	return 2;
}

/* The control file through which a second admin approves: setxattr of
 * user.coachfs.approve = "ID" or "LID" on MOUNT/.links/approve. Not a token
 * (tokens are 22 characters), never opened, never listed. */
#define LINK_APPROVE "approve"

/* Find a usable link for this caller without using it: 0, -ENOENT (unknown
 * or malformed token), -EACCES (why says so) or -EBADMSG (a forged or edited
 * row: why says so). */
static int link_lookup(struct cfs_ctx *c, const char *token, uid_t uid, struct cfs_link *lk, char *why,
		       size_t whylen)
{
	unsigned char hash[CFS_LINK_HASH_BYTES];
	struct cfs_err err = { "" };
	if (cfs_link_token_hash(c->keys->link, token, hash) < 0) {
		snprintf(why, whylen, "malformed link token");
		return -ENOENT;
	}
	if (cfs_links_find(c->links, hash, lk, &err) < 0) {
		snprintf(why, whylen, "unknown link token");
		return -ENOENT;
	}
	return cfs_link_check(lk, uid, cfs_now_s(), why, whylen);
}

/* A refused link: a link_use deny row, or a tamper row (and syslog) for a
 * row that failed authentication. The token is never recorded. */
static void link_refused(struct cfs_ctx *c, const struct cfs_caller *cl, int rc, const char *path,
			 const char *why)
{
	if (rc == -EBADMSG)
		syslog(LOG_ERR, "coachfs: policy.db: %s", why);
	cfs_access_audit(c, cl, rc == -EBADMSG ? "tamper" : "link_use", path, rc == -EBADMSG ? "error" : "deny",
			 why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
}

static int link_getattr(struct cfs_ctx *c, int kind, const char *token, struct stat *st)
{
	memset(st, 0, sizeof *st);
	if (kind == 1) {
		st->st_mode = S_IFDIR | 0111; /* enter, never list */
		st->st_nlink = 2;
		return 0;
	}
	if (kind != 2)
		return -ENOENT;
	if (strcmp(token, LINK_APPROVE) == 0) {
		/* writable attributes for everyone: the daemon decides who approves */
		plain_stat(c, st);
		st->st_uid = 0;
		st->st_gid = 0;
		st->st_mode = S_IFREG | 0666;
		st->st_nlink = 1;
		st->st_size = 0;
		return 0;
	}
	struct cfs_link *lk = malloc(sizeof *lk);
	char why[400] = "";
	if (!lk)
		return -ENOMEM;
	struct fuse_context *fc = fuse_get_context();
	int rc = link_lookup(c, token, fc->uid, lk, why, sizeof why);
	int known = rc != -ENOENT;
	if (known && rc != -EBADMSG && cfs_store_lstat(c->store, lk->path, st) == 0 && S_ISREG(st->st_mode)) {
		/* a caller already holding the target open (through this link)
		 * keeps seeing it after its last use */
		if (rc == -EACCES && holds_handle(c, st, fc->uid))
			rc = 0;
	} else if (rc == 0) {
		rc = -ENOENT;
	}
	if (rc < 0) {
		/* every refused attempt is recorded; the token never is */
		struct cfs_caller *cl = who(c);
		if (cl)
			link_refused(c, cl, rc, known ? lk->path : "/" CFS_LINKS_DIR,
				     why[0] ? why : "link target is gone");
		free(cl);
	}
	free(lk);
	if (rc < 0)
		return -ENOENT; /* no oracle: unknown, expired, used up and foreign look the same */
	plain_stat(c, st);
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	return 0;
}

/* Open through a link: the link stands in for a grant on exactly its target
 * (read-only) and obeys its class like one; policy.c decides
 * (cfs_decide_link): approval, max_ttl, max_opens, readers, export. */
static int link_open(struct cfs_ctx *c, const char *token, struct fuse_file_info *fi)
{
	if (strcmp(token, LINK_APPROVE) == 0)
		return -EACCES;
	struct cfs_caller *cl = who(c);
	struct cfs_link *lk = malloc(sizeof *lk);
	struct cfs_eff *e = malloc(sizeof *e);
	struct cfs_ofile *of = NULL;
	struct cfs_decision d;
	struct cfs_err err = { "" };
	struct cfs_grant g;
	char why[400] = "", reason[700];
	int rc = cl && lk && e ? 0 : -ENOMEM, by_rules = 0;
	if (lk)
		lk->path[0] = 0;
	if (rc == 0) {
		rc = link_lookup(c, token, cl->uid, lk, why, sizeof why);
		if (rc == 0) {
			rc = ofile_get(c, lk->path, &of);
			if (rc < 0)
				snprintf(why, sizeof why, "link L%lld: target %.200s: %s", (long long)lk->id, lk->path,
					 strerror(-rc));
		}
		if (rc == 0) {
			unsigned char meta[CFS_META_MAX];
			pthread_rwlock_rdlock(&of->f->lock);
			size_t len = of->f->meta_len;
			memcpy(meta, of->f->meta, len);
			pthread_rwlock_unlock(&of->f->lock);
			rc = cfs_eff_resolve(c, lk->path, meta, len, e);
			if (rc == 0 && memcmp(e->dir_id, of->f->bind.parent, sizeof e->dir_id) != 0)
				rc = -EIO;
			if (rc == -EIO)
				snprintf(why, sizeof why, "link L%lld: target %.200s failed authentication",
					 (long long)lk->id, lk->path);
			else if (rc < 0)
				snprintf(why, sizeof why, "link L%lld: the policy of %.200s cannot be resolved",
					 (long long)lk->id, lk->path);
		}
		if (rc == 0) {
			cfs_link_as_grant(lk, &g);
			struct cfs_request req = { lk->path, is_write_open(fi->flags) ? CFS_OP_WRITE : CFS_OP_READ,
						   cfs_now_s(), cfs_config_is_export_tool(c->cfg, cl->exe), 0 };
			cfs_decide_link(cl, &e->fp, &g, &req, &d);
			if (d.verdict == CFS_DENY) {
				/* refused by the file's readers or export rules (EACCES),
				 * or by the link's own limits and its class (ENOENT) */
				by_rules = d.is_export || strncmp(d.reason, "program ", 8) == 0;
				snprintf(why, sizeof why, "%s%.300s", by_rules ? "through a link: " : "",
					 d.reason);
				rc = -EACCES;
			}
		}
		if (rc == 0) {
			/* use it, atomically: another open may have raced us; the
			 * class's max_opens caps the uses */
			unsigned char hash[CFS_LINK_HASH_BYTES];
			cfs_link_token_hash(c->keys->link, token, hash);
			rc = cfs_links_use(c->links, hash, cl->uid, cfs_now_s(), e->fp.max_opens, lk, why,
					   sizeof why, &err);
			if (rc == -EIO || rc == -EPERM)
				snprintf(why, sizeof why, "%.250s", err.msg);
		}
	}
	if (cl) {
		const char *path = lk && lk->path[0] ? lk->path : "/" CFS_LINKS_DIR;
		if (rc == 0) {
			snprintf(reason, sizeof reason, "link L%lld, use %u of %u, until %lld; %.300s",
				 (long long)lk->id, lk->used, lk->uses,
				 (long long)cfs_grant_effective_end(&g, e->fp.cls), d.reason);
			if (cfs_access_audit(c, cl, "link_use", lk->path, verdict_word(d.verdict), reason, 0,
					     CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1) < 0)
				rc = -EACCES;
		} else {
			link_refused(c, cl, rc, path, why[0] ? why : strerror(-rc));
		}
	}
	if (rc == 0) {
		cfs_access_note_read(c, cl->pid, cl->start_time, e->class_rank);
		rc = handle_new(of, lk->path, fi->flags, cl, 0, e->class_rank, fi);
		if (rc == 0) {
			struct handle *h = (struct handle *)(uintptr_t)fi->fh;
			h->link = lk->id;
			h->link_end = cfs_grant_effective_end(&g, e->fp.cls); /* max_ttl caps it */
		}
	}
	free(lk);
	free(e);
	if (rc < 0) {
		if (of)
			ofile_put(c, of);
		free(cl);
		return by_rules ? -EACCES : -ENOENT;
	}
	return 0;
}

/* ---- two-person approval: setxattr on MOUNT/.links/approve ---- */

struct approval {
	struct cfs_ctx *c;
	const struct cfs_caller *cl;
	const char *what;               /* "grant 7" / "link L7" */
};

/* The effective class of path, whatever it is (file or directory). */
static int path_class(struct cfs_ctx *c, const char *path, struct cfs_eff *e, int *is_dir)
{
	struct stat st;
	unsigned char meta[CFS_META_MAX];
	size_t len = 0;
	int rc = cfs_store_lstat(c->store, path, &st);
	if (rc < 0)
		return rc;
	*is_dir = S_ISDIR(st.st_mode);
	if (S_ISDIR(st.st_mode)) {
		if ((rc = cfs_dir_meta_load(c, path, meta, &len)) < 0)
			return rc;
	} else if (S_ISREG(st.st_mode)) {
		struct cfs_ofile *of;
		if ((rc = ofile_get(c, path, &of)) < 0)
			return rc;
		pthread_rwlock_rdlock(&of->f->lock);
		len = of->f->meta_len;
		memcpy(meta, of->f->meta, len);
		pthread_rwlock_unlock(&of->f->lock);
		ofile_put(c, of);
	} else {
		return -EINVAL;
	}
	return cfs_eff_resolve(c, path, meta, len, e);
}

/* Who may approve at all, whatever the row: an admin, never root. */
static int approver_check(struct approval *ap, struct cfs_err *err)
{
	if (ap->cl->uid == 0)
		return cfs_errf(err, -EPERM, "%s: root is a shared identity, not a second person: approve "
				"as yourself", ap->what);
	if (!cfs_caller_has_role(ap->cl, "admin"))
		return cfs_errf(err, -EPERM, "%s: %s is not in the admin role", ap->what, ap->cl->user);
	return 0;
}

/* Everything the approver must be, and the approval's audit row (committed
 * inside the policy.db transaction: an approval never stands unrecorded). */
static int approval_check(struct approval *ap, const char *path, const char *granted_by, int is_subject,
			  int64_t end, struct cfs_err *err)
{
	const struct cfs_caller *cl = ap->cl;
	struct cfs_eff *e;
	int rc;
	if ((rc = approver_check(ap, err)) < 0)
		return rc;
	if (strcmp(cl->user, granted_by) == 0)
		return cfs_errf(err, -EPERM, "%s: %s granted it and cannot also approve it", ap->what,
				cl->user);
	if (is_subject)
		return cfs_errf(err, -EPERM, "%s: %s is its subject and cannot approve it", ap->what,
				cl->user);
	if (end <= cfs_now_s())
		return cfs_errf(err, -EACCES, "%s has expired", ap->what);
	if (!(e = malloc(sizeof *e)))
		return cfs_errf(err, -ENOMEM, "out of memory");
	/* for a two-person class: the path's own, or, for a directory, any
	 * class of the configuration (its subtree may hold such files) */
	int is_dir = 0, any = 0;
	for (int i = 0; i < ap->c->cfg->nclasses; i++)
		any |= ap->c->cfg->classes[i].approval == CFS_APPROVAL_TWO_PERSON;
	rc = path_class(ap->c, path, e, &is_dir);
	if (rc < 0)
		rc = cfs_errf(err, -EINVAL, "%s: %s: %s", ap->what, path, strerror(-rc));
	else if (e->fp.cls->approval != CFS_APPROVAL_TWO_PERSON && !(is_dir && any))
		rc = cfs_errf(err, -EINVAL, "%s: class %s of %s needs no two-person approval", ap->what,
			      e->fp.cls->name, path);
	free(e);
	if (rc < 0)
		return rc;
	char why[300];
	snprintf(why, sizeof why, "%s approved by %s (granted by %s)", ap->what, cl->user, granted_by);
	if (cfs_access_audit(ap->c, cl, "grant_approve", path, "allow", why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE,
			     1) < 0)
		return cfs_errf(err, -EIO, "%s: the approval's audit row could not be written", ap->what);
	return 0;
}

static int approve_grant_cb(const struct cfs_grant_rec *rec, void *arg, struct cfs_err *err)
{
	struct approval *ap = arg;
	return approval_check(ap, rec->path, rec->granted_by, cfs_grant_matches_caller(&rec->g, ap->cl),
			      rec->g.end, err);
}

static int approve_link_cb(const struct cfs_link *rec, void *arg, struct cfs_err *err)
{
	struct approval *ap = arg;
	return approval_check(ap, rec->path, rec->issued_by, rec->uid >= 0 && (uid_t)rec->uid == ap->cl->uid,
			      rec->end, err);
}

static int link_approve(struct cfs_ctx *c, const char *name, const char *value, size_t size)
{
	char idb[24], what[40];
	uint64_t id;
	if (cfs_reqctl_handles(name, value, size)) {
		/* requests and break-glass: reqctl.c, for the kernel's caller */
		struct cfs_caller *rcl = who(c);
		int rc = rcl ? cfs_reqctl_set(c, rcl, name, value, size, path_class) : -ENOMEM;
		free(rcl);
		return rc;
	}
	if (strcmp(name, CFS_XATTR_PREFIX "approve") != 0)
		return -EPERM;
	if (size == 0 || size >= sizeof idb)
		return -EINVAL;
	memcpy(idb, value, size);
	idb[size] = 0;
	int is_link = idb[0] == 'L';
	if (cfs_parse_uint(idb + is_link, (uint64_t)INT64_MAX, &id) < 0 || id == 0)
		return -EINVAL;
	snprintf(what, sizeof what, is_link ? "link L%llu" : "grant %llu", (unsigned long long)id);
	struct cfs_caller *cl = who(c);
	if (!cl)
		return -ENOMEM;
	struct approval ap = { c, cl, what };
	struct cfs_err err = { "" };
	int rc = approver_check(&ap, &err);
	if (rc == 0)
		rc = is_link ? cfs_links_approve(c->links, (int64_t)id, cl->user, cfs_now_s(), approve_link_cb, &ap, &err)
			 : cfs_grants_approve(c->grants, (int64_t)id, cl->user, cfs_now_s(), approve_grant_cb, &ap,
					      &err);
	if (rc < 0) {
		/* a refusal is recorded too (the grant_approve row of an approval
		 * is committed with it, inside the transaction) */
		if (rc == -EBADMSG)
			syslog(LOG_ERR, "coachfs: policy.db: %s", err.msg);
		cfs_access_audit(c, cl, rc == -EBADMSG ? "tamper" : "grant_approve", "/" CFS_LINKS_DIR "/" LINK_APPROVE,
				 rc == -EBADMSG ? "error" : "deny", err.msg[0] ? err.msg : strerror(-rc), 0,
				 CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
	}
	free(cl);
	return rc;
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	const char *token;
	int lk = link_path(path, &token);
	if (lk)
		return lk == 2 ? link_open(c, token, fi) : -EISDIR;
	struct cfs_ofile *of = NULL;
	struct cfs_decision d;
	struct cfs_caller *cl = who(c);
	struct cfs_eff *e = malloc(sizeof *e);
	int rc = cl && e ? path_ok(path) : -ENOMEM;
	if (rc == 0) {
		struct cfs_err why = { "file header failed authentication" };
		rc = ofile_get_e(c, path, &of, &why);
		if (rc == -EIO)
			cfs_access_audit(c, cl, "tamper", path, "error", why.msg, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
	}
	if (rc == 0)
		rc = decide_open(c, cl, of, path, fi->flags, e, &d);
	if (rc == 0 && (fi->flags & O_ACCMODE) != O_WRONLY)
		cfs_access_note_read(c, cl->tgid, cl->start_time, e->class_rank);
	if (rc == 0 && (fi->flags & O_TRUNC)) {
		struct cfs_err err = { "" };
		struct cfs_scratch *s = scratch(c);
		rc = s ? ofile_truncate(c, of, path, 0, s, &err) : -ENOMEM;
		if (rc < 0)
			log_err("truncate", path, &err);
	}
	if (rc == 0 && is_write_open(fi->flags)) {
		/* a new header version per write handle: an older copy of the whole
		 * file is then a rollback the record catches */
		struct cfs_err err = { "" };
		pthread_rwlock_wrlock(&of->f->lock);
		rc = cfs_content_bump(of->f, &err);
		pthread_rwlock_unlock(&of->f->lock);
		if (rc < 0)
			log_err("open", path, &err);
	}
	if (rc == 0)
		rc = handle_new(of, path, fi->flags, cl, d.grant_id, e->class_rank, fi);
	if (rc == 0) {
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;
		if (is_write_open(fi->flags)) {
			struct rref r;
			rc = reader_of(c, h, &r);
			if (rc == 0) {
				struct cfs_rowproc rp = rref_row(&r);
				rc = lift_class(c, h, rref_max_read(c, h, &r, h->rank), &rp);
				rref_done(&r);
			}
		}
		if (rc < 0) {
			if (!h->every)
				cwatch_remove(c, h);
			holder_add(c, of, cl->uid, -1);
			handle_drop(h);
		}
	}
	free(e);
	if (rc < 0) {
		if (of)
			ofile_put(c, of);
		free(cl);
		return rc;
	}
	return 0;
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	struct cfs_err err = { "" };
	struct cfs_decision d;
	const char *leaf;
	struct cfs_file *f;
	char tmpname[64];
	unsigned char meta[CFS_META_MAX];
	size_t mlen = 0;
	if (!S_ISREG(mode) && (mode & S_IFMT))
		return -EPERM;
	struct cfs_caller *cl = who(c);
	struct cfs_eff *e = malloc(sizeof *e);
	int rc = cl && e ? path_ok(path) : -ENOMEM;
	if (rc == 0)
		rc = may_create(c, cl, path, "create", e, &d);
	if (rc == 0)
		rc = name_free(c, cl, path, "create");
	if (rc == -EEXIST && !(fi->flags & O_EXCL)) {
		/* made since the kernel's lookup, and the caller may see it: an
		 * open(O_CREAT) of an existing file opens it, decided as an open */
		free(cl);
		free(e);
		return op_open(path, fi);
	}
	if (rc < 0) {
		free(cl);
		free(e);
		return rc;
	}
	/* Derived content: the highest class this process has read. */
	struct cfs_lineage lin;
	cfs_lineage_init(&lin, cl);
	int rank = e->class_rank, r = cfs_access_max_read(c, &lin, rank);
	if (r > rank && r < c->cfg->nclasses) {
		const char *name = c->cfg->classes[r].name;
		if (cfs_meta_set(meta, &mlen, sizeof meta, CFS_XATTR_PREFIX "class", name, strlen(name)) < 0) {
			free(e);
			free(cl);
			return -EIO; /* cannot record the derived class: refuse the file */
		}
		rank = r;
	}
	struct cfs_bind bind;
	rc = cfs_bind_set(&bind, e->dir_id, strrchr(path, '/') + 1, CFS_KIND_FILE);
	free(e);
	int d_fd = rc < 0 ? rc : parent_of(c, path, &leaf);
	if (d_fd < 0) {
		free(cl);
		return d_fd;
	}
	/* Build the file under a temporary name, then link it in atomically:
	 * a crash never leaves a half-written header under the real name. */
	int fd = cfs_store_tmpfile(d_fd, tmpname, sizeof tmpname);
	if (fd < 0) {
		rc = fd;
		close(d_fd);
		free(cl);
		return rc;
	}
	if (fchown(fd, cl->uid, cl->gid) != 0 || fchmod(fd, mode & 07777) != 0)
		rc = -errno;
	f = NULL;
	if (rc == 0)
		rc = cfs_content_create_b(fd, c->keys, &bind, c->state, NULL, 1, meta, mlen, scratch(c), &f, &err);
	if (rc == 0) {
		/* Recorded before it appears under its name: not recorded, not created. */
		char why[300];
		snprintf(why, sizeof why, "%.200s; class %s%s", d.reason, c->cfg->classes[rank].name,
			 mlen ? " (derived from what this process read)" : "");
		if (cfs_access_audit(c, cl, "create", path, verdict_word(d.verdict), why, d.grant_id,
				     CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1) < 0) {
			rc = -EACCES;
		} else if (renameat2(d_fd, tmpname, d_fd, leaf, RENAME_NOREPLACE) != 0) {
			/* never over an existing name: it may be one the caller cannot see */
			rc = -errno;
			record_failed(c, cl, "create", path, rc);
			if (rc == -EEXIST)
				rc = name_free(c, cl, path, "create") == -EEXIST ? -EEXIST : -EACCES;
		}
	}
	if (rc < 0) {
		cfs_content_close(f);
		unlinkat(d_fd, tmpname, 0);
		close(fd);
		close(d_fd);
		free(cl);
		return rc;
	}
	close(d_fd);
	/* the file as created, key and all: no second header read and key derivation */
	struct cfs_ofile *of;
	rc = ofile_adopt(c, fd, f, path, &of);
	if (rc < 0) {
		free(cl);
		return rc;
	}
	rc = handle_new(of, path, fi->flags, cl, d.grant_id, rank, fi);
	if (rc < 0) {
		ofile_put(c, of);
		free(cl);
		return rc;
	}
	((struct handle *)(uintptr_t)fi->fh)->derived = mlen != 0;
	return 0;
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	struct cfs_ofile *of = NULL;
	struct cfs_err e = { "" };
	int rc, own = 0;
	if (fi && fi->fh) {
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;
		if (!is_write_open(h->flags))
			return -EACCES;
		rc = handle_live(c, h, "write");
		if (rc < 0)
			return rc;
		of = h->of;
		if (!path)
			path = h->path; /* nullpath_ok: the name it was opened by (checked to still be it) */
	} else {
		/* truncate(2) by path: decided like an open for writing */
		struct cfs_caller *cl = who(c);
		struct cfs_eff *ef = malloc(sizeof *ef);
		struct cfs_decision d;
		rc = cl && ef ? path_ok(path) : -ENOMEM;
		if (rc == 0)
			rc = ofile_get(c, path, &of);
		if (rc == 0) {
			own = 1;
			rc = decide_open(c, cl, of, path, O_WRONLY | O_TRUNC, ef, &d);
		}
		free(cl);
		free(ef);
		if (rc < 0) {
			if (own)
				ofile_put(c, of);
			return rc;
		}
	}
	struct cfs_scratch *s = scratch(c);
	if (!s)
		rc = -ENOMEM;
	else {
		rc = ofile_truncate(c, of, path, size, s, &e);
		if (rc == -EIO)
			log_err("tamper", path, &e);
		else if (rc < 0)
			log_err("truncate", path, &e);
	}
	if (own)
		ofile_put(c, of);
	return rc;
}

static void tamper(struct cfs_ctx *c, struct handle *h, const struct cfs_err *e)
{
	log_err("tamper", h->path, e);
	cfs_access_audit(c, h->cl, "tamper", h->path, "error", e->msg, h->grant, CFS_AUDIT_NONE,
			 CFS_AUDIT_NONE, 1);
}

static int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	struct cfs_err e = { "" };
	struct cfs_scratch *s = scratch(c);
	(void)path;
	if (!s)
		return -ENOMEM;
	int rc = handle_live(c, h, "read");
	struct rref r;
	if (rc == 0)
		rc = reader_of(c, h, &r);
	if (rc < 0)
		return rc;
	/* the reading process holds this class from now on (before it gets a byte) */
	rref_note(c, h, &r, h->rank);
	pthread_rwlock_rdlock(&h->of->f->lock);
	ssize_t n = cfs_content_read(h->of->f, buf, size, off, s, &e);
	pthread_rwlock_unlock(&h->of->f->lock);
	if (n == -EIO) {
		rref_done(&r);
		tamper(c, h, &e);
		return -EIO;
	}
	struct cfs_rowproc rp = rref_row(&r);
	if (n >= 0 && h->every &&
	    cfs_access_audit_proc(c, &rp, "read", h->path, "allow", NULL, h->grant, off, n, 0) < 0)
		n = -EIO;
	rref_done(&r);
	return (int)n;
}

static int op_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	struct cfs_err e = { "" };
	struct cfs_scratch *s = scratch(c);
	(void)path;
	if (!s)
		return -ENOMEM;
	int rc = handle_live(c, h, "write");
	struct rref r;
	if (rc == 0)
		rc = reader_of(c, h, &r);
	if (rc < 0)
		return rc;
	/* the writing process (thread group, or an ancestor it was forked from) */
	struct cfs_rowproc rp = rref_row(&r);
	rc = lift_class(c, h, rref_max_read(c, h, &r, h->rank), &rp);
	if (rc < 0) {
		rref_done(&r);
		return rc;
	}
	pthread_rwlock_wrlock(&h->of->f->lock);
	if (h->flags & O_APPEND) {
		off_t sz;
		rc = cfs_content_size(h->of->f, &sz);
		if (rc < 0) {
			pthread_rwlock_unlock(&h->of->f->lock);
			rref_done(&r);
			return rc;
		}
		off = sz;
	}
	ssize_t n = cfs_content_write(h->of->f, buf, size, off, s, &e);
	pthread_rwlock_unlock(&h->of->f->lock);
	if (n == -EIO) {
		rref_done(&r);
		tamper(c, h, &e);
		return -EIO;
	}
	if (n >= 0 && h->every &&
	    cfs_access_audit_proc(c, &rp, "write", h->path, "allow", NULL, h->grant, off, n, 0) < 0)
		n = -EIO;
	rref_done(&r);
	return (int)n;
}

static ssize_t op_copy_file_range(const char *path_in, struct fuse_file_info *fi_in, off_t off_in,
				  const char *path_out, struct fuse_file_info *fi_out, off_t off_out,
				  size_t len, int flags)
{
	struct cfs_ctx *c = ctx_get();
	struct handle *in = (struct handle *)(uintptr_t)fi_in->fh;
	struct handle *out = (struct handle *)(uintptr_t)fi_out->fh;
	struct cfs_decision d;
	struct cfs_err e = { "" };
	(void)path_in;
	(void)path_out;
	if (flags)
		return -EINVAL;
	int rc = handle_live(c, in, "read");
	if (rc == 0)
		rc = handle_live(c, out, "write");
	if (rc < 0)
		return rc;
	/* Copying content out of a file is an export, whatever the program. */
	struct cfs_caller *cl = who(c);
	struct cfs_eff *ef = malloc(sizeof *ef);
	if (!cl || !ef) {
		free(cl);
		free(ef);
		return -ENOMEM;
	}
	unsigned char meta[CFS_META_MAX];
	pthread_rwlock_rdlock(&in->of->f->lock);
	size_t mlen = in->of->f->meta_len;
	memcpy(meta, in->of->f->meta, mlen);
	pthread_rwlock_unlock(&in->of->f->lock);
	rc = cfs_eff_resolve(c, in->path, meta, mlen, ef);
	if (rc == 0) {
		cfs_access_decide(c, cl, ef, in->path, CFS_OP_RECHECK, 0, in->grant, &d);
		if (d.verdict != CFS_DENY) {
			/* access was decided at open; what remains is the export rule */
			d.verdict = ef->fp.export == CFS_EXPORT_LOG ? CFS_FLAG
				  : ef->fp.export == CFS_EXPORT_ALLOW ? CFS_ALLOW : CFS_DENY;
			snprintf(d.reason, sizeof d.reason, "copy_file_range to %.200s: export rule %s",
				 out->path, cfs_export_name(ef->fp.export));
		}
	}
	int rank = ef->class_rank;
	free(ef);
	if (rc < 0 || cfs_access_audit(c, cl, "export", in->path, verdict_word(d.verdict), d.reason,
				       in->grant, off_in, (int64_t)len, 1) < 0 ||
	    d.verdict == CFS_DENY) {
		free(cl);
		return -EACCES;
	}
	/* Inside the mount the copy carries the source's class. */
	cfs_access_note_read(c, cl->tgid, cl->start_time, rank);
	if (rank > out->rank) {
		struct cfs_rowproc rp = { cl->uid, cl->user, cl->pid, cl->exe };
		rc = lift_class(c, out, rank, &rp);
		if (rc < 0) {
			free(cl);
			return rc;
		}
	}
	free(cl);
	struct cfs_scratch *s = scratch(c);
	size_t chunk = len < (1u << 20) ? len : (1u << 20);
	char *buf = malloc(chunk ? chunk : 1);
	if (!s || !buf) {
		free(buf);
		return -ENOMEM;
	}
	ssize_t done = 0;
	while ((size_t)done < len) {
		size_t want = len - (size_t)done < chunk ? len - (size_t)done : chunk;
		pthread_rwlock_rdlock(&in->of->f->lock);
		ssize_t n = cfs_content_read(in->of->f, buf, want, off_in + done, s, &e);
		pthread_rwlock_unlock(&in->of->f->lock);
		if (n <= 0) {
			if (n == -EIO)
				tamper(c, in, &e);
			if (n < 0 && !done)
				done = n;
			break;
		}
		pthread_rwlock_wrlock(&out->of->f->lock);
		ssize_t w = cfs_content_write(out->of->f, buf, (size_t)n, off_out + done, s, &e);
		pthread_rwlock_unlock(&out->of->f->lock);
		if (w < 0) {
			if (!done)
				done = w;
			break;
		}
		done += w;
	}
	sodium_memzero(buf, chunk ? chunk : 1);
	free(buf);
	return done;
}

static int op_statfs(const char *path, struct statvfs *st)
{
	struct cfs_ctx *c = ctx_get();
	(void)path;
	return fstatvfs(c->store->root, st) == 0 ? 0 : -errno;
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	(void)path;
	if (!h->every)
		cwatch_remove(c, h);
	holder_add(c, h->of, h->cl->uid, -1);
	ofile_put(c, h->of);
	free(h->cl);
	handle_drop(h);
	return 0;
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	(void)path;
	int r = datasync ? fdatasync(h->of->fd) : fsync(h->of->fd);
	return r == 0 ? 0 : -errno;
}

/* ---- extended attributes: user.* only, stored encrypted ---- */

static int xattr_name_ok(const char *name)
{
	if (strncmp(name, "user.", 5) != 0)
		return -EOPNOTSUPP;
	if (strlen(name) > 255 || name[5] == 0)
		return -ERANGE;
	return 0;
}

static const char *policy_key(const char *name)
{
	size_t n = strlen(CFS_XATTR_PREFIX);
	return strncmp(name, CFS_XATTR_PREFIX, n) == 0 ? name + n : NULL;
}

/* Load the attribute block of a path (file header or directory sidecar). */
static int meta_load(struct cfs_ctx *c, const char *path, struct stat *st, unsigned char *meta, size_t *len)
{
	int rc = path_ok(path);
	if (rc < 0)
		return rc;
	rc = cfs_store_lstat(c->store, path, st);
	if (rc < 0)
		return rc == -ELOOP ? -ENOENT : rc;
	if (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode))
		return -EOPNOTSUPP;
	return own_meta(c, path, st, meta, len);
}

/* Apply fn to the attribute block of path and store it back. */
static int meta_update(struct cfs_ctx *c, const char *path,
		       int (*fn)(unsigned char *meta, size_t *len, void *arg), void *arg)
{
	struct stat st;
	unsigned char meta[CFS_META_MAX];
	size_t len;
	struct cfs_err e = { "" };
	int rc = path_ok(path);
	if (rc < 0)
		return rc;
	rc = cfs_store_lstat(c->store, path, &st);
	if (rc < 0)
		return rc;
	if (S_ISDIR(st.st_mode)) {
		pthread_mutex_lock(&c->lock); /* one sidecar writer at a time */
		rc = cfs_dir_meta_load(c, path, meta, &len);
		if (rc == 0)
			rc = fn(meta, &len, arg);
		if (rc == 0)
			rc = cfs_dir_meta_store(c, path, meta, len);
		pthread_mutex_unlock(&c->lock);
		return rc;
	}
	if (!S_ISREG(st.st_mode))
		return -EOPNOTSUPP;
	struct cfs_ofile *of;
	rc = ofile_get(c, path, &of);
	if (rc < 0)
		return rc;
	pthread_rwlock_wrlock(&of->f->lock);
	len = of->f->meta_len;
	memcpy(meta, of->f->meta, len);
	rc = fn(meta, &len, arg);
	if (rc == 0)
		rc = cfs_content_set_meta(of->f, meta, len, &e);
	pthread_rwlock_unlock(&of->f->lock);
	ofile_put(c, of);
	return rc;
}

struct xset {
	const char *name;
	const char *value;
	size_t size;
	int flags;
	char old[200];
};

static int xset_fn(unsigned char *meta, size_t *len, void *arg)
{
	struct xset *x = arg;
	const unsigned char *v;
	size_t vl;
	int have = cfs_meta_get(meta, *len, x->name, &v, &vl) == 0;
	if ((x->flags & XATTR_CREATE) && have)
		return -EEXIST;
	if ((x->flags & XATTR_REPLACE) && !have)
		return -ENODATA;
	snprintf(x->old, sizeof x->old, "%.*s", have ? (int)(vl < 150 ? vl : 150) : 6,
		 have ? (const char *)v : "(none)");
	return cfs_meta_set(meta, len, CFS_META_MAX, x->name, x->value, x->size);
}

static int xdel_fn(unsigned char *meta, size_t *len, void *arg)
{
	struct xset *x = arg;
	const unsigned char *v;
	size_t vl;
	int have = cfs_meta_get(meta, *len, x->name, &v, &vl) == 0;
	if (have)
		snprintf(x->old, sizeof x->old, "%.*s", (int)(vl < 150 ? vl : 150), (const char *)v);
	return cfs_meta_remove(meta, len, x->name);
}

/* Policy attributes: admin only, validated, audited (old -> new). */
static int policy_change(struct cfs_ctx *c, const char *path, struct xset *x, int remove)
{
	const char *key = policy_key(x->name);
	struct cfs_err e = { "" };
	struct cfs_decision d;
	char why[512];
	struct cfs_caller *cl = who(c);
	if (!cl)
		return -ENOMEM;
	struct cfs_eff dummy;
	memset(&dummy, 0, sizeof dummy);
	dummy.fp.cls = &c->cfg->classes[0];
	cfs_access_decide(c, cl, &dummy, path, CFS_OP_ADMIN, 0, 0, &d);
	int rc = 0;
	if (d.verdict == CFS_DENY) {
		snprintf(why, sizeof why, "%s %s: %s", remove ? "remove" : "set", x->name, d.reason);
		rc = cfs_access_audit(c, cl, "setxattr", path, "deny", why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
		free(cl);
		return rc < 0 ? -EIO : -EPERM;
	}
	if (!remove && (rc = cfs_policy_value_check(c->cfg, key, x->value, x->size, &e)) < 0) {
		snprintf(why, sizeof why, "set %s refused: %.300s", x->name, e.msg);
		cfs_access_audit(c, cl, "setxattr", path, "deny", why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
		free(cl);
		return rc == -EOPNOTSUPP ? -EINVAL : rc;
	}
	/* Recorded before it is made (fail closed): the old value read first. */
	struct stat st;
	unsigned char meta[CFS_META_MAX];
	size_t len;
	const unsigned char *v;
	size_t vl;
	rc = meta_load(c, path, &st, meta, &len);
	if (rc < 0) {
		free(cl);
		return rc;
	}
	int have = cfs_meta_get(meta, len, x->name, &v, &vl) == 0;
	if ((remove || (x->flags & XATTR_REPLACE)) && !have) {
		free(cl);
		return -ENODATA;
	}
	if (!remove && (x->flags & XATTR_CREATE) && have) {
		free(cl);
		return -EEXIST;
	}
	snprintf(x->old, sizeof x->old, "%.*s", have ? (int)(vl < 150 ? vl : 150) : 6,
		 have ? (const char *)v : "(none)");
	if (remove)
		snprintf(why, sizeof why, "%s: %.150s -> (inherited)", x->name, x->old);
	else
		snprintf(why, sizeof why, "%s: %.150s -> %.*s", x->name, x->old,
			 (int)(x->size < 150 ? x->size : 150), x->value);
	if (cfs_access_audit(c, cl, "setxattr", path, "allow", why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1) < 0) {
		free(cl);
		return -EIO;
	}
	rc = meta_update(c, path, remove ? xdel_fn : xset_fn, x);
	if (rc < 0)
		record_failed(c, cl, "setxattr", path, rc);
	free(cl);
	return rc;
}

static int op_setxattr(const char *path, const char *name, const char *value, size_t size, int flags)
{
	struct cfs_ctx *c = ctx_get();
	const char *token;
	int lk = link_path(path, &token);
	if (lk)
		return lk == 2 && strcmp(token, LINK_APPROVE) == 0 ? link_approve(c, name, value, size) : -EPERM;
	int rc = xattr_name_ok(name);
	if (rc == 0)
		rc = see(c, path);
	if (rc < 0)
		return rc;
	struct xset x = { .name = name, .value = value, .size = size, .flags = flags };
	if (policy_key(name))
		return policy_change(c, path, &x, 0);
	return meta_update(c, path, xset_fn, &x);
}

/* A non-policy user.* attribute is content the entry's owner wrote: its
 * value (and, for listxattr, its name) is read only by a caller who may open
 * the entry for reading, decided like such an open (no open is counted) and
 * audited as a read of the attribute. 0, or -EACCES with a deny row. */
static int may_read_attr(struct cfs_ctx *c, const char *path, const unsigned char *meta, size_t len,
			 const char *name, int64_t length, int audit_allow)
{
	struct cfs_caller *cl = who(c);
	struct cfs_eff *e = malloc(sizeof *e);
	struct cfs_decision d;
	char why[600];
	int rc = cl && e ? cfs_eff_resolve(c, path, meta, len, e) : -ENOMEM;
	if (rc == 0) {
		int tool = cfs_config_is_export_tool(c->cfg, cl->exe);
		cfs_access_decide(c, cl, e, path, CFS_OP_READ, tool, 0, &d);
	} else if (rc != -ENOMEM) {
		memset(&d, 0, sizeof d);
		d.verdict = CFS_DENY;
		snprintf(d.reason, sizeof d.reason, "the entry's policy cannot be resolved");
	}
	if (rc == -ENOMEM) {
		free(cl);
		free(e);
		return rc;
	}
	snprintf(why, sizeof why, "attribute %.200s; %.300s", name, d.reason);
	if (d.verdict == CFS_DENY) {
		cfs_access_audit(c, cl, "read", path, "deny", why, 0, CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1);
		rc = -EACCES;
	} else if (audit_allow &&
		   cfs_access_audit(c, cl, "read", path, verdict_word(d.verdict), why, d.grant_id,
				    CFS_AUDIT_NONE, length, 0) < 0) {
		rc = -EIO;
	}
	free(cl);
	free(e);
	return rc;
}

static int op_getxattr(const char *path, const char *name, char *value, size_t size)
{
	struct cfs_ctx *c = ctx_get();
	unsigned char meta[CFS_META_MAX];
	size_t len;
	struct stat st;
	const unsigned char *v;
	size_t vl;
	char buf[CFS_META_MAX + 1];
	const char *token;
	if (link_path(path, &token) == 2 && strcmp(token, LINK_APPROVE) == 0) {
		/* the caller's own newest request or break-glass */
		int n = cfs_reqctl_get(c, fuse_get_context()->uid, name, buf, sizeof buf);
		if (n < 0)
			return n == -EOPNOTSUPP ? -ENODATA : n;
		if (size == 0)
			return n;
		if ((size_t)n > size)
			return -ERANGE;
		memcpy(value, buf, (size_t)n);
		return n;
	}
	int rc = xattr_name_ok(name);
	if (rc < 0)
		return rc == -EOPNOTSUPP ? -ENODATA : rc;
	rc = see(c, path);
	if (rc == 0)
		rc = meta_load(c, path, &st, meta, &len);
	if (rc < 0)
		return rc == -EOPNOTSUPP ? -ENODATA : rc;
	const char *key = policy_key(name);
	if (key) {
		/* policy attributes read as their effective value */
		struct cfs_eff *e = malloc(sizeof *e);
		if (!e)
			return -ENOMEM;
		rc = cfs_eff_resolve(c, path, meta, len, e);
		if (rc == 0)
			rc = cfs_eff_value(e, key, buf, sizeof buf);
		free(e);
		if (rc < 0)
			return rc == -EACCES ? -EIO : rc;
		v = (const unsigned char *)buf;
		vl = (size_t)rc;
	} else {
		/* decided before it is looked up: EACCES says nothing of whether it exists */
		rc = cfs_meta_get(meta, len, name, &v, &vl);
		int dr = may_read_attr(c, path, meta, len, name, rc < 0 ? CFS_AUDIT_NONE : (int64_t)vl,
				       rc == 0);
		if (dr < 0)
			return dr;
		if (rc < 0)
			return rc;
	}
	if (size == 0)
		return (int)vl;
	if (vl > size)
		return -ERANGE;
	memcpy(value, v, vl);
	return (int)vl;
}

static int op_listxattr(const char *path, char *list, size_t size)
{
	struct cfs_ctx *c = ctx_get();
	unsigned char meta[CFS_META_MAX];
	size_t len;
	struct stat st;
	char names[CFS_META_MAX * 2];
	int rc = see(c, path);
	if (rc == 0)
		rc = meta_load(c, path, &st, meta, &len);
	if (rc == -EOPNOTSUPP)
		return 0;
	if (rc < 0)
		return rc;
	/* the effective policy attributes first, then the entry's own others */
	struct cfs_eff *e = malloc(sizeof *e);
	if (!e)
		return -ENOMEM;
	size_t need = 0;
	char tmp[CFS_META_MAX + 1];
	if (cfs_eff_resolve(c, path, meta, len, e) == 0) {
		static const char *const keys[] = { "class", "export", "readers", "max_opens" };
		for (size_t i = 0; i < 4; i++)
			if (cfs_eff_value(e, keys[i], tmp, sizeof tmp) >= 0)
				need += (size_t)snprintf(names + need, sizeof names - need, "%s%s", CFS_XATTR_PREFIX,
							 keys[i]) + 1;
	}
	free(e);
	ssize_t own = cfs_meta_list(meta, len, tmp, sizeof tmp);
	if (own < 0)
		return (int)own;
	for (size_t p = 0; p < (size_t)own; p += strlen(tmp + p) + 1) {
		if (policy_key(tmp + p))
			continue;
		/* the entry has attributes of its own: their names are content too */
		rc = may_read_attr(c, path, meta, len, "names (listxattr)", CFS_AUDIT_NONE, 1);
		if (rc < 0)
			return rc;
		break;
	}
	for (size_t p = 0; p < (size_t)own; p += strlen(tmp + p) + 1) {
		if (policy_key(tmp + p))
			continue;
		size_t l = strlen(tmp + p) + 1;
		if (need + l > sizeof names)
			return -E2BIG;
		memcpy(names + need, tmp + p, l);
		need += l;
	}
	if (size == 0)
		return (int)need;
	if (need > size)
		return -ERANGE;
	memcpy(list, names, need);
	return (int)need;
}

static int op_removexattr(const char *path, const char *name)
{
	struct cfs_ctx *c = ctx_get();
	int rc = xattr_name_ok(name);
	if (rc == 0)
		rc = see(c, path);
	if (rc < 0)
		return rc;
	struct xset x = { .name = name };
	if (policy_key(name))
		return policy_change(c, path, &x, 1);
	return meta_update(c, path, xdel_fn, &x);
}

/* With nullpath_ok libfuse calls readdir without a path: opendir keeps it. */
static int op_opendir(const char *path, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	int rc = see(c, path);
	if (rc < 0)
		return rc;
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	fi->fh = (uint64_t)(uintptr_t)p;
	return 0;
}

static int op_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	free((char *)(uintptr_t)fi->fh);
	fi->fh = 0;
	return 0;
}

static int op_readdir(const char *path_arg, void *buf, fuse_fill_dir_t filler, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct cfs_ctx *c = ctx_get();
	const char *path = fi && fi->fh ? (const char *)(uintptr_t)fi->fh : path_arg;
	(void)off;
	(void)flags;
	const char *token;
	if (link_path(path, &token))
		return -EACCES; /* links are never listed */
	int rc = see(c, path);
	if (rc < 0)
		return rc;
	int fd = cfs_store_openat(c->store, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd == -ELOOP ? -EPERM : fd;
	DIR *dp = fdopendir(fd);
	if (!dp) {
		rc = -errno;
		close(fd);
		return rc;
	}
	struct seer w = { NULL, 0 };
	struct dirent *de;
	int root = is_root(path);
	char child[PATH_MAX];
	while ((de = readdir(dp))) {
		if (cfs_store_reserved(de->d_name, root))
			continue;
		struct stat st;
		memset(&st, 0, sizeof st);
		if (c->cfg->hide_denied && strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			if ((size_t)snprintf(child, sizeof child, "%s/%s", root ? "" : path, de->d_name) >=
			    sizeof child)
				continue;
			if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
			    visible_to(c, &w, child, &st) != 0)
				continue;
		}
		st.st_ino = de->d_ino;
		st.st_mode = (mode_t)DTTOIF(de->d_type);
		if (filler(buf, de->d_name, &st, 0, 0))
			break;
	}
	free(w.cl);
	closedir(dp);
	return 0;
}

static int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct cfs_ctx *c = ctx_get();
	if (fi && fi->fh) {
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;
		return futimens(h->of->fd, tv) == 0 ? 0 : -errno;
	}
	int rc = see(c, path);
	if (rc < 0)
		return rc;
	if (is_root(path)) {
		int d = cfs_store_openat(c->store, "/", O_RDONLY | O_DIRECTORY, 0);
		if (d < 0)
			return d;
		rc = futimens(d, tv) == 0 ? 0 : -errno;
		close(d);
		return rc;
	}
	const char *leaf;
	int d = parent_of(c, path, &leaf);
	if (d < 0)
		return d;
	rc = utimensat(d, leaf, tv, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
	close(d);
	return rc;
}

static void op_destroy(void *private_data)
{
	cwatch_stop(private_data);
	cfs_access_free(private_data);
}

static const struct fuse_operations cfs_ops = {
	.init = op_init,
	.destroy = op_destroy,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.chmod = op_chmod,
	.chown = op_chown,
	.truncate = op_truncate,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.statfs = op_statfs,
	/* No .flush: nothing is buffered in the daemon, and without one libfuse
	 * answers ENOSYS once, after which the kernel stops sending FLUSH on
	 * every close (one FUSE round trip less per close). */
	.release = op_release,
	.fsync = op_fsync,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.create = op_create,
	.utimens = op_utimens,
	.copy_file_range = op_copy_file_range,
};

const void *cfs_fuse_ops(void)
{
	return &cfs_ops;
}

size_t cfs_fuse_ops_size(void)
{
	return sizeof cfs_ops;
}
