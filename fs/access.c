/* access.c — the daemon's access layer: caller identity, effective policy
 * resolution through directory sidecars, candidate grants, decisions, open
 * counting, replay and derived-class tracking (per process, bounded), and
 * the audit row for each.
 * It knows nothing of FUSE. It must never admit an open it could not decide
 * and record (fail closed), and never put a key, token or content in a row. */
#include "coachfs/access.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "coachfs/audit.h"
#include "coachfs/grants.h"
#include "coachfs/store.h"

/* ---- attribute values ---- */

static int list_split(char *buf, struct cfs_list *l)
{
	l->n = 0;
	char *p = buf;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		char *e = strchr(p, ',');
		if (e)
			*e = 0;
		char *t = p + strlen(p);
		while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
			*--t = 0;
		if (*p) {
			if (l->n >= CFS_LIST_MAX)
				return -EINVAL;
			l->v[l->n++] = p;
		}
		if (!e)
			break;
		p = e + 1;
	}
	return 0;
}

int cfs_policy_value_check(const struct cfs_config *cfg, const char *key, const char *val, size_t len,
			   struct cfs_err *err)
{
	char buf[CFS_META_MAX + 1];
	if (len > CFS_META_MAX)
		return cfs_errf(err, -EINVAL, "value too long");
	memcpy(buf, val, len);
	buf[len] = 0;
	if (memchr(val, 0, len))
		return cfs_errf(err, -EINVAL, "value contains a NUL byte");
	if (!strcmp(key, "class")) {
		if (!cfs_config_class(cfg, buf))
			return cfs_errf(err, -EINVAL, "unknown class '%s'", buf);
		return 0;
	}
	if (!strcmp(key, "export")) {
		enum cfs_export x;
		if (cfs_export_parse(buf, &x) < 0 || x == CFS_EXPORT_UNSET)
			return cfs_errf(err, -EINVAL, "export must be allow, log or deny, not '%s'", buf);
		return 0;
	}
	if (!strcmp(key, "max_opens")) {
		uint64_t v;
		if (cfs_parse_uint(buf, 1000000, &v) < 0 || v == 0)
			return cfs_errf(err, -EINVAL, "max_opens must be a number from 1 to 1000000, not '%s'", buf);
		return 0;
	}
	if (!strcmp(key, "readers")) {
		struct cfs_list l;
		if (list_split(buf, &l) < 0)
			return cfs_errf(err, -EINVAL, "readers: more than %d programs", CFS_LIST_MAX);
		for (int i = 0; i < l.n; i++)
			if (l.v[i][0] != '/')
				return cfs_errf(err, -EINVAL, "readers: '%s' is not an absolute program path", l.v[i]);
		return 0;
	}
	return cfs_errf(err, -EOPNOTSUPP, "unknown policy attribute '%s'", key);
}

/* ---- directory sidecars ---- */

static int sidecar_path(const char *dir, char *buf, size_t len)
{
	int root = dir[0] == '/' && dir[1] == 0;
	int n = root ? snprintf(buf, len, "/%s", CFS_DIR_SIDECAR)
		     : snprintf(buf, len, "%s/%s", dir, CFS_DIR_SIDECAR);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int cfs_dir_meta_load(struct cfs_ctx *c, const char *dir, unsigned char *meta, size_t *len)
{
	char p[PATH_MAX];
	struct cfs_err e = { "" };
	int rc = sidecar_path(dir, p, sizeof p);
	if (rc < 0)
		return rc;
	int fd = cfs_store_openat(c->store, p, O_RDONLY, 0);
	if (fd == -ENOENT) {
		*len = 0;
		return 0;
	}
	if (fd < 0)
		return fd == -ELOOP ? -EIO : fd;
	rc = cfs_content_meta(fd, c->keys, meta, len, &e);
	close(fd);
	if (rc < 0) {
		syslog(LOG_ERR, "coachfs: tamper %s: %s", p, e.msg);
		return -EIO;
	}
	return 0;
}

int cfs_dir_meta_store(struct cfs_ctx *c, const char *dir, const unsigned char *meta, size_t len)
{
	char tmpname[64];
	struct cfs_file *f;
	struct cfs_err e = { "" };
	int d = cfs_store_openat(c->store, dir, O_PATH | O_DIRECTORY, 0);
	if (d < 0)
		return d == -ELOOP ? -EPERM : d;
	int fd = cfs_store_tmpfile(d, tmpname, sizeof tmpname);
	if (fd < 0) {
		close(d);
		return fd;
	}
	int rc = cfs_content_create(fd, c->keys, meta, len, &f, &e);
	if (rc == 0) {
		cfs_content_close(f);
		if (fsync(fd) != 0)
			rc = -errno;
	}
	close(fd);
	if (rc == 0 && renameat(d, tmpname, d, CFS_DIR_SIDECAR) != 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(d, tmpname, 0);
	close(d);
	return rc;
}

/* ---- effective policy ---- */

enum { K_CLASS, K_EXPORT, K_READERS, K_MAXOPENS, K_N };
static const char *const KEYS[K_N] = { CFS_XATTR_PREFIX "class", CFS_XATTR_PREFIX "export",
				       CFS_XATTR_PREFIX "readers", CFS_XATTR_PREFIX "max_opens" };

/* Take from meta every key not yet found. */
static void take(const unsigned char *meta, size_t len, char val[K_N][CFS_META_MAX + 1], int found[K_N])
{
	for (int k = 0; k < K_N; k++) {
		const unsigned char *v;
		size_t vl;
		if (found[k] || cfs_meta_get(meta, len, KEYS[k], &v, &vl) < 0)
			continue;
		memcpy(val[k], v, vl);
		val[k][vl] = 0;
		found[k] = 1;
	}
}

static int class_rank(const struct cfs_config *cfg, const struct cfs_class *cls)
{
	return (int)(cls - cfg->classes);
}

int cfs_eff_resolve(struct cfs_ctx *c, const char *path, const unsigned char *own, size_t own_len,
		    struct cfs_eff *out)
{
	static const size_t VSZ = CFS_META_MAX + 1;
	char (*val)[CFS_META_MAX + 1] = malloc(K_N * VSZ);
	int found[K_N] = { 0 };
	unsigned char meta[CFS_META_MAX];
	char dir[PATH_MAX];
	size_t len;
	int rc = 0;
	if (!val)
		return -ENOMEM;
	memset(out, 0, sizeof *out);
	take(own, own_len, val, found);
	out->own_class = found[K_CLASS];
	if (cfs_strlcpy(dir, path, sizeof dir) >= sizeof dir) {
		free(val);
		return -ENAMETOOLONG;
	}
	/* Walk the ancestors from the parent up to the root. */
	while (!(found[K_CLASS] && found[K_EXPORT] && found[K_READERS] && found[K_MAXOPENS])) {
		if (dir[0] == '/' && dir[1] == 0)
			break;
		char *slash = strrchr(dir, '/');
		if (!slash)
			break;
		if (slash == dir)
			slash[1] = 0;
		else
			*slash = 0;
		rc = cfs_dir_meta_load(c, dir, meta, &len);
		if (rc < 0)
			break;
		take(meta, len, val, found);
	}
	if (rc == 0) {
		const char *cname = found[K_CLASS] ? val[K_CLASS] : c->cfg->default_class;
		out->fp.cls = cfs_config_class(c->cfg, cname);
		if (!out->fp.cls) {
			syslog(LOG_ERR, "coachfs: %s: class '%s' is not in the configuration; refusing access",
			       path, cname);
			rc = -EACCES;
		}
	}
	if (rc == 0) {
		const struct cfs_class *cls = out->fp.cls;
		out->class_rank = class_rank(c->cfg, cls);
		out->fp.export = cls->export == CFS_EXPORT_UNSET ? CFS_EXPORT_ALLOW : cls->export;
		if (found[K_EXPORT] && cfs_export_parse(val[K_EXPORT], &out->fp.export) < 0)
			out->fp.export = CFS_EXPORT_DENY; /* unreadable rule: the strictest */
		out->fp.readers = &cls->readers;
		if (found[K_READERS]) {
			memcpy(out->rbuf, val[K_READERS], VSZ);
			if (list_split(out->rbuf, &out->readers) < 0)
				rc = -EACCES;
			out->fp.readers = &out->readers;
		}
		out->fp.max_opens = cls->max_opens;
		if (found[K_MAXOPENS]) {
			uint64_t v;
			out->fp.max_opens = cfs_parse_uint(val[K_MAXOPENS], 1000000, &v) == 0 ? (uint32_t)v : 1;
		}
	}
	free(val);
	return rc;
}

int cfs_eff_value(const struct cfs_eff *e, const char *key, char *buf, size_t cap)
{
	int n;
	if (!strcmp(key, "class"))
		n = snprintf(buf, cap, "%s", e->fp.cls->name);
	else if (!strcmp(key, "export"))
		n = snprintf(buf, cap, "%s", cfs_export_name(e->fp.export));
	else if (!strcmp(key, "max_opens")) {
		if (!e->fp.max_opens)
			return -ENODATA;
		n = snprintf(buf, cap, "%u", e->fp.max_opens);
	} else if (!strcmp(key, "readers")) {
		const struct cfs_list *l = e->fp.readers;
		if (!l || !l->n)
			return -ENODATA;
		size_t off = 0;
		for (int i = 0; i < l->n; i++) {
			int w = snprintf(buf + off, off < cap ? cap - off : 0, "%s%s", i ? "," : "", l->v[i]);
			if (w < 0)
				return -EIO;
			off += (size_t)w;
		}
		n = (int)off;
	} else
		return -ENODATA;
	if (n < 0 || (size_t)n >= cap)
		return -ERANGE;
	return n;
}

/* ---- caller and decisions ---- */

int cfs_access_caller(struct cfs_ctx *c, uid_t uid, gid_t gid, pid_t pid, const gid_t *groups,
		      int ngroups, int need_exe, struct cfs_caller *out)
{
	if (need_exe)
		return cfs_caller_fill(c->roles, out, uid, gid, pid, groups, ngroups);
	/* Visibility only: uid, groups and roles decide it. The program, its
	 * start time and the login name (three /proc and passwd reads) matter to
	 * opens and audit rows, which always ask for them. */
	return cfs_caller_ids(c->roles, out, uid, gid, pid, groups, ngroups);
}

#define CAND_MAX 256

void cfs_access_decide(struct cfs_ctx *c, const struct cfs_caller *cl, const struct cfs_eff *e,
		       const char *path, enum cfs_op op, int export_tool, int64_t held_grant,
		       struct cfs_decision *d)
{
	struct cfs_grant_snap *snap = NULL;
	struct cfs_err err = { "" };
	struct cfs_grant *cand = NULL;
	size_t n = 0;
	struct cfs_request req = { path, op, cfs_now_s(), export_tool, held_grant };
	if (op != CFS_OP_ADMIN) {
		/* cfs_decide settles role admission (and re-checks of handles
		 * opened by role) before it looks at any grant, so a decision that
		 * roles alone allow is the decision: no snapshot, no open counts.
		 * test_policy's roles_decide_before_grants holds policy.c to it. */
		cfs_decide(cl, &e->fp, NULL, 0, &req, d);
		if (d->verdict != CFS_DENY)
			return;
		if (cfs_grants_snapshot(c->grants, &snap, &err) < 0) {
			memset(d, 0, sizeof *d);
			d->verdict = CFS_DENY;
			snprintf(d->reason, sizeof d->reason, "grants unavailable: %.200s", err.msg);
			syslog(LOG_ERR, "coachfs: %s", d->reason);
			return;
		}
		cand = calloc(snap->n < CAND_MAX ? snap->n + 1 : CAND_MAX, sizeof *cand);
		if (!cand) {
			cfs_grants_snap_put(snap);
			memset(d, 0, sizeof *d);
			d->verdict = CFS_DENY;
			snprintf(d->reason, sizeof d->reason, "out of memory");
			return;
		}
		for (size_t i = 0; i < snap->n && n < CAND_MAX; i++) {
			const struct cfs_grant *g = &snap->recs[i].g;
			if (!cfs_grant_matches_caller(g, cl) || !cfs_path_covers(g->path, path))
				continue;
			cand[n] = *g;
			uint32_t limit = g->max_opens;
			if (e->fp.max_opens && (!limit || e->fp.max_opens < limit))
				limit = e->fp.max_opens;
			if (limit && (op == CFS_OP_READ || op == CFS_OP_WRITE) &&
			    cfs_grants_opens(c->grants, g->id, path, &cand[n].opens_used, &err) < 0)
				cand[n].opens_used = UINT32_MAX; /* cannot count: no opens left */
			n++;
		}
	}
	/* A handle whose grant left the snapshot (revoked, or expired before a
	 * rebuild): read it back only so the reason says which. */
	struct cfs_grant_rec *held = NULL;
	if (op == CFS_OP_RECHECK && held_grant && cand && n < CAND_MAX) {
		int found = 0;
		for (size_t i = 0; i < n && !found; i++)
			found = cand[i].id == held_grant;
		if (!found && (held = malloc(sizeof *held)) != NULL) {
			if (cfs_grants_get(c->grants, held_grant, held, &err) == 0)
				cand[n++] = held->g;
			else {
				free(held);
				held = NULL;
			}
		}
	}
	cfs_decide(cl, &e->fp, cand, n, &req, d);
	if (held && d->verdict != CFS_DENY) {
		/* not in the snapshot means not in force, whatever the row says */
		d->verdict = CFS_DENY;
		d->grant_id = 0;
		snprintf(d->reason, sizeof d->reason,
			 "grant %lld is no longer in force (revoked, expired or removed)",
			 (long long)held_grant);
	}
	free(held);
	free(cand);
	if (snap)
		cfs_grants_snap_put(snap);
}

int cfs_access_visible(struct cfs_ctx *c, const struct cfs_caller *cl, const struct cfs_eff *e,
		       const char *path, int is_dir)
{
	struct cfs_decision d;
	if (!c->cfg->hide_denied || (path[0] == '/' && path[1] == 0))
		return 1;
	if (cfs_caller_has_role(cl, "admin"))
		return 1;
	cfs_access_decide(c, cl, e, path, CFS_OP_SEE, 0, 0, &d);
	if (d.verdict != CFS_DENY)
		return 1;
	if (!is_dir)
		return 0;
	/* a directory on the way to something this caller was granted */
	struct cfs_grant_snap *snap;
	struct cfs_err err = { "" };
	int vis = 0;
	int64_t now = cfs_now_s();
	if (cfs_grants_snapshot(c->grants, &snap, &err) < 0)
		return 0;
	for (size_t i = 0; i < snap->n && !vis; i++) {
		const struct cfs_grant *g = &snap->recs[i].g;
		if ((g->revoked_at && g->revoked_at <= now) || g->end <= now)
			continue;
		if (cfs_grant_matches_caller(g, cl) && cfs_path_covers(path, g->path))
			vis = 1;
	}
	cfs_grants_snap_put(snap);
	return vis;
}

int cfs_access_count_open(struct cfs_ctx *c, const struct cfs_eff *e, struct cfs_decision *d,
			  const char *path)
{
	struct cfs_grant_snap *snap;
	struct cfs_err err = { "" };
	uint32_t limit = e->fp.max_opens, used = 0;
	if (!d->grant_id)
		return 0;
	if (cfs_grants_snapshot(c->grants, &snap, &err) < 0)
		return -EACCES;
	for (size_t i = 0; i < snap->n; i++) {
		const struct cfs_grant *g = &snap->recs[i].g;
		if (g->id == d->grant_id && g->max_opens && (!limit || g->max_opens < limit))
			limit = g->max_opens;
	}
	cfs_grants_snap_put(snap);
	if (!limit)
		return 0;
	int rc = cfs_grants_count_open(c->grants, d->grant_id, path, limit, &used, &err);
	if (rc == 0)
		return 1;
	d->verdict = CFS_DENY;
	if (rc == -EDQUOT)
		snprintf(d->reason, sizeof d->reason, "grant %lld has used its %u opens of %s",
			 (long long)d->grant_id, limit, path);
	else
		snprintf(d->reason, sizeof d->reason, "cannot count the open: %.200s", err.msg);
	return -EDQUOT;
}

void cfs_access_uncount_open(struct cfs_ctx *c, const struct cfs_decision *d, const char *path)
{
	struct cfs_err err = { "" };
	if (d->grant_id && cfs_grants_uncount_open(c->grants, d->grant_id, path, &err) < 0)
		syslog(LOG_ERR, "coachfs: an unrecorded open of %s still counts against grant "
		       "%lld: %s", path, (long long)d->grant_id, err.msg);
}

/* ---- tracking: replays and derived classes ---- */

#define TRACK_BUCKETS 1024
#define TRACK_MAX 100000

struct track_ent {
	struct track_ent *next;
	int kind;                  /* 1 replay, 2 process read rank */
	uint32_t uid;
	int64_t grant;
	pid_t pid;
	uint64_t start;
	int rank;
	char path[];
};

struct cfs_track {
	struct track_ent *b[TRACK_BUCKETS];
	size_t n;                  /* all entries */
	size_t nproc;              /* process (derived-content) entries */
	size_t proc_cap;           /* at most this many of them */
	int hiwater;               /* highest rank ever noted (-1: none) */
	int overflow;              /* highest rank that found no room (-1: none) */
	int64_t last_sweep_ms;
};

static struct cfs_track *tracks(struct cfs_ctx *c)
{
	if (!c->tracks && (c->tracks = calloc(1, sizeof *c->tracks))) {
		c->tracks->proc_cap = CFS_TRACK_PROCS;
		c->tracks->hiwater = -1;
		c->tracks->overflow = -1;
	}
	return c->tracks;
}

static size_t hash_of(int kind, uint64_t a, uint64_t b, const char *s)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;
	h = (h ^ a) * 1099511628211ULL;
	h = (h ^ b) * 1099511628211ULL;
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)(h % TRACK_BUCKETS);
}

int cfs_access_replay(struct cfs_ctx *c, uid_t uid, int64_t grant, const char *path)
{
	int replay = 0;
	pthread_mutex_lock(&c->lock);
	struct cfs_track *t = tracks(c);
	if (t) {
		size_t h = hash_of(1, uid, (uint64_t)grant, path);
		struct track_ent *e;
		for (e = t->b[h]; e; e = e->next)
			if (e->kind == 1 && e->uid == uid && e->grant == grant && !strcmp(e->path, path))
				break;
		if (e) {
			replay = 1;
		} else if (t->n < TRACK_MAX && (e = calloc(1, sizeof *e + strlen(path) + 1))) {
			e->kind = 1;
			e->uid = uid;
			e->grant = grant;
			strcpy(e->path, path);
			e->next = t->b[h];
			t->b[h] = e;
			t->n++;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return replay;
}

void cfs_access_replay_forget(struct cfs_ctx *c, uid_t uid, int64_t grant, const char *path)
{
	pthread_mutex_lock(&c->lock);
	struct cfs_track *t = c->tracks;
	if (t) {
		struct track_ent **pp = &t->b[hash_of(1, uid, (uint64_t)grant, path)];
		for (; *pp; pp = &(*pp)->next) {
			struct track_ent *e = *pp;
			if (e->kind == 1 && e->uid == uid && e->grant == grant && !strcmp(e->path, path)) {
				*pp = e->next;
				free(e);
				t->n--;
				break;
			}
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/* Process entries (derived content) are bounded: when the table holds
 * proc_cap of them, those of processes that are gone (their pid no longer
 * has the recorded start time) are dropped — at most one such sweep a
 * second, with /proc read outside the lock. A live process's entry is never
 * dropped. When there is still no room, the rank goes into `overflow`,
 * which every process is then taken to have read (fail closed: files are
 * classified higher, never lower) for the rest of the mount. */
static struct track_ent *proc_find(struct cfs_track *t, pid_t pid, uint64_t start)
{
	for (struct track_ent *e = t->b[hash_of(2, (uint64_t)pid, start, NULL)]; e; e = e->next)
		if (e->kind == 2 && e->pid == pid && e->start == start)
			return e;
	return NULL;
}

static void proc_sweep(struct cfs_ctx *c)
{
	struct cfs_track *t = c->tracks;
	int64_t now = cfs_now_us() / 1000;
	if (now - t->last_sweep_ms < 1000 && t->last_sweep_ms)
		return;
	t->last_sweep_ms = now;
	size_t n = 0, cap = t->nproc;
	struct cfs_proc *v = cap ? malloc(cap * sizeof *v) : NULL;
	if (!v)
		return;
	for (size_t i = 0; i < TRACK_BUCKETS && n < cap; i++)
		for (struct track_ent *e = t->b[i]; e && n < cap; e = e->next)
			if (e->kind == 2) {
				v[n].pid = e->pid;
				v[n++].start = e->start;
			}
	pthread_mutex_unlock(&c->lock);
	size_t dead = 0;
	for (size_t i = 0; i < n; i++)
		if (cfs_proc_start(v[i].pid) != v[i].start)
			v[dead++] = v[i];
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < dead; i++) {
		struct track_ent **pp = &t->b[hash_of(2, (uint64_t)v[i].pid, v[i].start, NULL)];
		for (; *pp; pp = &(*pp)->next) {
			struct track_ent *e = *pp;
			if (e->kind == 2 && e->pid == v[i].pid && e->start == v[i].start) {
				*pp = e->next;
				free(e);
				t->n--;
				t->nproc--;
				break;
			}
		}
	}
	free(v);
}

void cfs_access_note_read(struct cfs_ctx *c, pid_t pid, uint64_t start, int rank)
{
	if (rank <= 0)
		return;  /* nothing lies below the least sensitive class */
	pthread_mutex_lock(&c->lock);
	struct cfs_track *t = tracks(c);
	if (!t) {
		pthread_mutex_unlock(&c->lock);
		syslog(LOG_ERR, "coachfs: out of memory tracking reads");
		return;
	}
	if (rank > t->hiwater)
		t->hiwater = rank;
	struct track_ent *e = proc_find(t, pid, start);
	if (!e && t->nproc >= t->proc_cap) {
		proc_sweep(c);   /* drops and retakes the lock */
		e = proc_find(t, pid, start);
	}
	if (e) {
		if (rank > e->rank)
			e->rank = rank;
	} else if (t->nproc < t->proc_cap && (e = calloc(1, sizeof *e + 1))) {
		e->kind = 2;
		e->pid = pid;
		e->start = start;
		e->rank = rank;
		size_t h = hash_of(2, (uint64_t)pid, start, NULL);
		e->next = t->b[h];
		t->b[h] = e;
		t->n++;
		t->nproc++;
	} else if (rank > t->overflow) {
		if (t->overflow < 0)
			syslog(LOG_WARNING, "coachfs: read tracking is full (%zu live processes); "
			       "new files are classified as if every process had read class rank %d",
			       t->nproc, rank);
		t->overflow = rank;
	}
	pthread_mutex_unlock(&c->lock);
}

static int rank_of(struct cfs_track *t, pid_t pid, uint64_t start)
{
	struct track_ent *e = proc_find(t, pid, start);
	return e ? e->rank : -1;
}

int cfs_access_max_read(struct cfs_ctx *c, struct cfs_lineage *l, int floor)
{
	int rank = -1, hi = -1;
	pthread_mutex_lock(&c->lock);
	struct cfs_track *t = tracks(c);
	if (t) {
		rank = rank_of(t, l->self.pid, l->self.start);
		if (t->overflow > rank)
			rank = t->overflow;
		hi = t->hiwater;
	}
	pthread_mutex_unlock(&c->lock);
	if (!t)
		return c->cfg && c->cfg->nclasses > 0 ? c->cfg->nclasses - 1 : INT_MAX; /* fail closed */
	/* The ancestors matter only when something above both is on record. */
	if (hi <= floor || hi <= rank)
		return rank;
	cfs_lineage_walk(l);
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < l->n && i < CFS_ANCESTORS_MAX; i++) {
		int r = rank_of(t, l->anc[i].pid, l->anc[i].start);
		if (r > rank)
			rank = r;
	}
	pthread_mutex_unlock(&c->lock);
	return rank;
}

void cfs_access_track_limit(struct cfs_ctx *c, size_t cap)
{
	pthread_mutex_lock(&c->lock);
	struct cfs_track *t = tracks(c);
	if (t)
		t->proc_cap = cap;
	pthread_mutex_unlock(&c->lock);
}

size_t cfs_access_track_procs(struct cfs_ctx *c)
{
	pthread_mutex_lock(&c->lock);
	size_t n = c->tracks ? c->tracks->nproc : 0;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void cfs_access_free(struct cfs_ctx *c)
{
	if (!c->tracks)
		return;
	for (size_t i = 0; i < TRACK_BUCKETS; i++) {
		struct track_ent *e = c->tracks->b[i];
		while (e) {
			struct track_ent *n = e->next;
			free(e);
			e = n;
		}
	}
	free(c->tracks);
	c->tracks = NULL;
}

/* ---- audit ---- */

int cfs_access_audit(struct cfs_ctx *c, const struct cfs_caller *cl, const char *action, const char *path,
		     const char *result, const char *reason, int64_t grant, int64_t offset, int64_t length,
		     int sync)
{
	if (!cl)
		return cfs_access_audit_proc(c, NULL, action, path, result, reason, grant, offset,
					     length, sync);
	struct cfs_rowproc rp = { cl->uid, cl->user, cl->pid, cl->exe };
	return cfs_access_audit_proc(c, &rp, action, path, result, reason, grant, offset, length,
				     sync);
}

int cfs_access_audit_proc(struct cfs_ctx *c, const struct cfs_rowproc *rp, const char *action,
			  const char *path, const char *result, const char *reason, int64_t grant,
			  int64_t offset, int64_t length, int sync)
{
	struct cfs_event ev;
	struct cfs_err e = { "" };
	cfs_event_init(&ev);
	ev.host = c->host;
	if (rp) {
		ev.uid = rp->uid;
		ev.user = rp->user;
		ev.pid = rp->pid;
		ev.exe = rp->exe;
	}
	ev.action = action;
	ev.path = path;
	ev.result = result;
	ev.reason = reason;
	ev.grant_id = grant ? grant : CFS_AUDIT_NONE;
	ev.offset = offset;
	ev.length = length;
	if (!sync) {
		int rc = cfs_audit_queue(c->audit, &ev);
		if (rc < 0)
			syslog(LOG_ERR, "coachfs: audit queue refused a %s row for %s", action, path);
		return rc;
	}
	int rc = cfs_audit_append(c->audit, &ev, &e);
	if (rc < 0)
		syslog(LOG_ERR, "coachfs: AUDIT FAILURE, refusing %s of %s: %s", action, path, e.msg);
	return rc;
}
