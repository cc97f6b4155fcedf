/* track.c — replay and derived-class tracking: which user opened which
 * path under which grant in this mount, and the highest class each process
 * (thread group, pinned by start time) has read, in a bounded table. It must
 * never lower a live process's class to make room (fail closed). */
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
#include "coachfs/state.h"
#include "coachfs/store.h"

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
	pthread_mutex_lock(&c->track_lock);
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
	pthread_mutex_unlock(&c->track_lock);
	return replay;
}

void cfs_access_replay_forget(struct cfs_ctx *c, uid_t uid, int64_t grant, const char *path)
{
	pthread_mutex_lock(&c->track_lock);
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
	pthread_mutex_unlock(&c->track_lock);
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
	pthread_mutex_unlock(&c->track_lock);
	size_t dead = 0;
	for (size_t i = 0; i < n; i++)
		if (cfs_proc_start(v[i].pid) != v[i].start)
			v[dead++] = v[i];
	pthread_mutex_lock(&c->track_lock);
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
	pthread_mutex_lock(&c->track_lock);
	struct cfs_track *t = tracks(c);
	if (!t) {
		pthread_mutex_unlock(&c->track_lock);
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
	pthread_mutex_unlock(&c->track_lock);
}

static int rank_of(struct cfs_track *t, pid_t pid, uint64_t start)
{
	struct track_ent *e = proc_find(t, pid, start);
	return e ? e->rank : -1;
}

int cfs_access_max_read(struct cfs_ctx *c, struct cfs_lineage *l, int floor)
{
	int rank = -1, hi = -1;
	pthread_mutex_lock(&c->track_lock);
	struct cfs_track *t = tracks(c);
	if (t) {
		rank = rank_of(t, l->self.pid, l->self.start);
		if (t->overflow > rank)
			rank = t->overflow;
		hi = t->hiwater;
	}
	pthread_mutex_unlock(&c->track_lock);
	if (!t)
		return c->cfg && c->cfg->nclasses > 0 ? c->cfg->nclasses - 1 : INT_MAX; /* fail closed */
	/* The ancestors matter only when something above both is on record. */
	if (hi <= floor || hi <= rank)
		return rank;
	cfs_lineage_walk(l);
	pthread_mutex_lock(&c->track_lock);
	for (int i = 0; i < l->n && i < CFS_ANCESTORS_MAX; i++) {
		int r = rank_of(t, l->anc[i].pid, l->anc[i].start);
		if (r > rank)
			rank = r;
	}
	pthread_mutex_unlock(&c->track_lock);
	return rank;
}

void cfs_access_track_limit(struct cfs_ctx *c, size_t cap)
{
	pthread_mutex_lock(&c->track_lock);
	struct cfs_track *t = tracks(c);
	if (t)
		t->proc_cap = cap;
	pthread_mutex_unlock(&c->track_lock);
}

size_t cfs_access_track_procs(struct cfs_ctx *c)
{
	pthread_mutex_lock(&c->track_lock);
	size_t n = c->tracks ? c->tracks->nproc : 0;
	pthread_mutex_unlock(&c->track_lock);
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
