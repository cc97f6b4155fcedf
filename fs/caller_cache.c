/* caller_cache.c — the daemon's memory of callers between requests: login
 * names per uid for a few seconds, and processes' start times held with a
 * pidfd each (see caller_cache.h for what is never cached and why).
 * It owns the two tables and the pidfds. It must never serve a start time
 * for a process whose pidfd says it has exited (its pid may be another
 * process's by now), never hold a group, a program or a verdict, and never
 * do more than a nonblocking poll while holding its lock. */
#include "coachfs/caller_cache.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "coachfs/caller.h"
#include "coachfs/util.h"

struct name_ent {
	uid_t uid;
	int used;                 /* 0: empty slot */
	int64_t expires_ms;
	char name[CFS_USER_MAX];
};

struct proc_ent {
	pid_t tgid;               /* 0: empty slot */
	int fd;                   /* pidfd of that process */
	uint64_t start;
	uint64_t last_use;
};

struct cfs_ccache {
	pthread_mutex_t mu;
	uint64_t tick;            /* use counter for least-recently-used eviction */
	struct name_ent names[CFS_CCACHE_NAMES];
	struct proc_ent procs[CFS_CCACHE_PROCS];
	struct cfs_ccache_stats st;
};

static int64_t mono_ms(void)
{
	return cfs_clock_us(CLOCK_MONOTONIC) / 1000;
}

static int pidfd_open_(pid_t pid)
{
	long fd = syscall(SYS_pidfd_open, pid, 0);
	return fd < 0 ? -errno : (int)fd;
}

/* Has the process behind pidfd exited (or can we not tell)? */
static int pidfd_exited(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	int n;
	do
		n = poll(&p, 1, 0);
	while (n < 0 && errno == EINTR);
	return n != 0;   /* readable (exited), or poll failed: treat as gone */
}

int cfs_ccache_new(struct cfs_ccache **out)
{
	*out = NULL;
	int fd = pidfd_open_(getpid());
	if (fd < 0)
		return fd;
	close(fd);
	struct cfs_ccache *cc = calloc(1, sizeof *cc);
	if (!cc)
		return -ENOMEM;
	pthread_mutex_init(&cc->mu, NULL);
	for (int i = 0; i < CFS_CCACHE_PROCS; i++)
		cc->procs[i].fd = -1;
	*out = cc;
	return 0;
}

void cfs_ccache_free(struct cfs_ccache *cc)
{
	if (!cc)
		return;
	for (int i = 0; i < CFS_CCACHE_PROCS; i++)
		if (cc->procs[i].fd >= 0)
			close(cc->procs[i].fd);
	pthread_mutex_destroy(&cc->mu);
	free(cc);
}

void cfs_ccache_user(struct cfs_ccache *cc, uid_t uid, char *out, size_t outlen)
{
	if (!out || outlen == 0)
		return;
	if (!cc) {
		cfs_user_name(uid, out, outlen);
		return;
	}
	int64_t now = mono_ms();
	pthread_mutex_lock(&cc->mu);
	for (int i = 0; i < CFS_CCACHE_NAMES; i++) {
		const struct name_ent *n = &cc->names[i];
		if (n->used && n->uid == uid && now < n->expires_ms && strlen(n->name) < outlen) {
			cfs_strlcpy(out, n->name, outlen);
			cc->st.name_hits++;
			pthread_mutex_unlock(&cc->mu);
			return;
		}
	}
	cc->st.name_misses++;
	pthread_mutex_unlock(&cc->mu);
	char name[CFS_USER_MAX];
	cfs_user_name(uid, name, sizeof name);   /* NSS: no lock held */
	if (strlen(name) < outlen)
		cfs_strlcpy(out, name, outlen);
	else   /* as cfs_user_name: a cut name could be someone else's */
		snprintf(out, outlen, "#%u", (unsigned)uid);
	pthread_mutex_lock(&cc->mu);
	int slot = 0;   /* this uid's slot, else an empty or the oldest one */
	for (int i = 0; i < CFS_CCACHE_NAMES; i++) {
		const struct name_ent *n = &cc->names[i], *s = &cc->names[slot];
		if (n->used && n->uid == uid) {
			slot = i;
			break;
		}
		if (s->used && (!n->used || n->expires_ms < s->expires_ms))
			slot = i;
	}
	struct name_ent *n = &cc->names[slot];
	n->used = 1;
	n->uid = uid;
	n->expires_ms = now + CFS_CCACHE_NAME_TTL_MS;
	cfs_strlcpy(n->name, name, sizeof n->name);
	pthread_mutex_unlock(&cc->mu);
}

/* A cached, still live entry for tgid: its start time, else 0 (an exited
 * one is dropped here). Caller holds mu. */
static uint64_t proc_lookup(struct cfs_ccache *cc, pid_t tgid)
{
	for (int i = 0; i < CFS_CCACHE_PROCS; i++) {
		struct proc_ent *p = &cc->procs[i];
		if (p->tgid != tgid)
			continue;
		if (pidfd_exited(p->fd)) {
			close(p->fd);
			p->fd = -1;
			p->tgid = 0;
			cc->st.proc_gone++;
			return 0;
		}
		p->last_use = ++cc->tick;
		cc->st.proc_hits++;
		return p->start;
	}
	return 0;
}

/* Keep (tgid, fd, start), taking fd over; the least recently used entry
 * makes room. Caller holds mu. */
static void proc_insert(struct cfs_ccache *cc, pid_t tgid, int fd, uint64_t start)
{
	int slot = 0;
	for (int i = 0; i < CFS_CCACHE_PROCS; i++) {
		const struct proc_ent *p = &cc->procs[i];
		if (p->tgid == tgid) {     /* another thread filled it meanwhile */
			close(fd);
			return;
		}
		if (cc->procs[slot].tgid && (!p->tgid || p->last_use < cc->procs[slot].last_use))
			slot = i;
	}
	struct proc_ent *p = &cc->procs[slot];
	if (p->fd >= 0)
		close(p->fd);
	p->tgid = tgid;
	p->fd = fd;
	p->start = start;
	p->last_use = ++cc->tick;
}

uint64_t cfs_ccache_start(struct cfs_ccache *cc, pid_t tgid)
{
	if (tgid <= 0)
		return 0;
	if (!cc)
		return cfs_proc_start(tgid);
	pthread_mutex_lock(&cc->mu);
	uint64_t start = proc_lookup(cc, tgid);
	if (!start)
		cc->st.proc_misses++;
	pthread_mutex_unlock(&cc->mu);
	if (start)
		return start;
	/* The pidfd first, the start time second, the pidfd's liveness third:
	 * while the process the pidfd names is alive, no other can hold its
	 * pid, so what /proc said in between was that process's. */
	int fd = pidfd_open_(tgid);
	if (fd < 0)
		return 0;   /* gone (ESRCH), or no descriptor to pin it with */
	start = cfs_proc_start(tgid);
	if (!start || pidfd_exited(fd)) {
		close(fd);
		return 0;
	}
	pthread_mutex_lock(&cc->mu);
	proc_insert(cc, tgid, fd, start);
	pthread_mutex_unlock(&cc->mu);
	return start;
}

void cfs_ccache_stats(struct cfs_ccache *cc, struct cfs_ccache_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!cc)
		return;
	pthread_mutex_lock(&cc->mu);
	*out = cc->st;
	pthread_mutex_unlock(&cc->mu);
}
