/* workers.c — the helper-thread pool behind cfs_workers_split.
 * Owns: the worker threads, their hand-off state and their scratch buffers.
 * Must never queue a job behind another (a caller finding no idle worker
 * does its work itself), never return from a split before the worker's part
 * finished (the worker uses the caller's buffers and keys), and never look
 * at what a job does. */
#include "coachfs/workers.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "coachfs/content.h"

struct worker {
	pthread_t tid;
	atomic_int claimed;       /* 1 while a caller owns this worker */
	pthread_mutex_t m;        /* guards the fields below */
	pthread_cond_t go, fin;
	cfs_job_fn *fn;           /* the pending job, NULL when none */
	void *arg;
	int done, stop;
	struct cfs_scratch scratch; /* only the worker thread touches it */
};

struct cfs_workers {
	unsigned n, inited, started;
	struct worker *w;
	atomic_ulong handed;      /* splits a worker took part in */
};

unsigned cfs_workers_default(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n <= 1)
		return 0;
	return n - 1 > CFS_WORKERS_MAX ? CFS_WORKERS_MAX : (unsigned)(n - 1);
}

static void *worker_main(void *p)
{
	struct worker *wk = p;
	pthread_mutex_lock(&wk->m);
	for (;;) {
		while (!wk->fn && !wk->stop)
			pthread_cond_wait(&wk->go, &wk->m);
		if (!wk->fn)
			break; /* stop, and no job left */
		cfs_job_fn *fn = wk->fn;
		void *arg = wk->arg;
		pthread_mutex_unlock(&wk->m);
		fn(arg, &wk->scratch);
		pthread_mutex_lock(&wk->m);
		wk->fn = NULL;
		wk->arg = NULL;
		wk->done = 1;
		pthread_cond_signal(&wk->fin);
	}
	pthread_mutex_unlock(&wk->m);
	return NULL;
}

static void stop_workers(struct cfs_workers *w)
{
	for (unsigned i = 0; i < w->started; i++) {
		struct worker *wk = &w->w[i];
		pthread_mutex_lock(&wk->m);
		wk->stop = 1;
		pthread_cond_signal(&wk->go);
		pthread_mutex_unlock(&wk->m);
		pthread_join(wk->tid, NULL);
	}
	for (unsigned i = 0; i < w->inited; i++) {
		struct worker *wk = &w->w[i];
		cfs_scratch_free(&wk->scratch);
		pthread_cond_destroy(&wk->go);
		pthread_cond_destroy(&wk->fin);
		pthread_mutex_destroy(&wk->m);
	}
	w->started = w->inited = 0;
}

int cfs_workers_new(unsigned n, struct cfs_workers **out, struct cfs_err *err)
{
	if (n < 1 || n > CFS_WORKERS_MAX)
		return cfs_errf(err, -EINVAL, "worker count %u is not 1..%d", n, CFS_WORKERS_MAX);
	struct cfs_workers *w = calloc(1, sizeof *w);
	if (!w || !(w->w = calloc(n, sizeof *w->w))) {
		free(w);
		return cfs_errf(err, -ENOMEM, "out of memory for the worker pool");
	}
	w->n = n;
	atomic_init(&w->handed, 0);
	int rc = 0;
	for (unsigned i = 0; rc == 0 && i < n; i++) {
		struct worker *wk = &w->w[i];
		atomic_init(&wk->claimed, 0);
		if ((rc = pthread_mutex_init(&wk->m, NULL)) != 0)
			break;
		if ((rc = pthread_cond_init(&wk->go, NULL)) != 0) {
			pthread_mutex_destroy(&wk->m);
			break;
		}
		if ((rc = pthread_cond_init(&wk->fin, NULL)) != 0) {
			pthread_cond_destroy(&wk->go);
			pthread_mutex_destroy(&wk->m);
			break;
		}
		w->inited++;
	}
	/* Workers inherit a full signal mask: signals go to the FUSE threads. */
	sigset_t all, old;
	sigfillset(&all);
	if (rc == 0)
		rc = pthread_sigmask(SIG_SETMASK, &all, &old);
	int masked = rc == 0;
	for (unsigned i = 0; rc == 0 && i < n; i++) {
		rc = pthread_create(&w->w[i].tid, NULL, worker_main, &w->w[i]);
		if (rc == 0)
			w->started++;
	}
	if (masked && pthread_sigmask(SIG_SETMASK, &old, NULL) != 0 && rc == 0)
		rc = EINVAL; /* cannot happen with a mask it just returned */
	if (rc != 0) {
		stop_workers(w);
		free(w->w);
		free(w);
		return cfs_errf(err, -rc, "cannot start worker threads: %s", strerror(rc));
	}
	*out = w;
	return 0;
}

void cfs_workers_free(struct cfs_workers *w)
{
	if (!w)
		return;
	stop_workers(w);
	free(w->w);
	free(w);
}

/* An idle worker, now claimed by the caller, or NULL. Never waits. */
static struct worker *claim(struct cfs_workers *w)
{
	for (unsigned i = 0; w && i < w->n; i++) {
		struct worker *wk = &w->w[i];
		int idle = 0;
		if (atomic_load_explicit(&wk->claimed, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_strong(&wk->claimed, &idle, 1))
			return wk;
	}
	return NULL;
}

int cfs_workers_split(struct cfs_workers *w, cfs_job_fn *fn, void *mine, void *theirs,
		      struct cfs_scratch *s)
{
	struct worker *wk = claim(w);
	if (!wk) {
		fn(mine, s);
		fn(theirs, s);
		return 0;
	}
	pthread_mutex_lock(&wk->m);
	wk->fn = fn;
	wk->arg = theirs;
	wk->done = 0;
	pthread_cond_signal(&wk->go);
	pthread_mutex_unlock(&wk->m);
	fn(mine, s);
	pthread_mutex_lock(&wk->m);
	while (!wk->done)
		pthread_cond_wait(&wk->fin, &wk->m);
	pthread_mutex_unlock(&wk->m);
	atomic_store(&wk->claimed, 0);
	atomic_fetch_add_explicit(&w->handed, 1, memory_order_relaxed);
	return 1;
}

unsigned long cfs_workers_handed(struct cfs_workers *w)
{
	return w ? atomic_load(&w->handed) : 0;
}
