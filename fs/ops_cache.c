/* ops_cache.c — the watcher that drops cached pages of files whose class
 * audits per open once a handle's access ends (see ops_int.h). It must never
 * let a page outlive the access that read it by more than one period. */
#include "ops_int.h"

void cfs_op_cwatch_add(struct cfs_ctx *c, struct handle *h)
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

void cfs_op_cwatch_remove(struct cfs_ctx *c, struct handle *h)
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
int cfs_op_under(const char *p, const char *dir, size_t n)
{
	return strncmp(p, dir, n) == 0 && (p[n] == 0 || p[n] == '/');
}

void cfs_op_cwatch_renamed(struct cfs_ctx *c, const char *from, const char *to, int exchange)
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
		if (cfs_op_under(h->cpath, from, nf)) {
			base = to;
			rest = h->cpath + nf;
		} else if (exchange && cfs_op_under(h->cpath, to, nt)) {
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
			if (h->dropped || !h->cpath || cfs_op_handle_live(c, h, CFS_ACT_READ) == 0)
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

int cfs_op_cwatch_start(struct cfs_ctx *c, struct fuse *fuse)
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

void cfs_op_cwatch_stop(struct cfs_ctx *c)
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
