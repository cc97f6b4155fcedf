/* workers.c — the helper-thread pool behind cfs_workers_split.
 * Owns: the worker threads, their hand-off state and their scratch buffers.
 * Must never queue a job behind another (a caller finding no idle worker
 * does its work itself), never return from a split before the worker's part
 * finished (the worker uses the caller's buffers and keys), and never look
 * at what a job does. Both sides poll for up to SPIN_NS before sleeping on
 * a condition variable: waking a sleeping thread on this 2-vCPU machine
 * costs ~40 us, as much as decrypting 24 chunks, and would eat the gain on
 * anything but the largest requests. */
#include "coachfs/workers.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "coachfs/scratch.h"

struct worker {
	pthread_t tid;
	atomic_int claimed;       /* 1 while a caller owns this worker */
	pthread_mutex_t m;        /* guards the fields below */
	pthread_cond_t go, fin;
	cfs_job_fn *fn;           /* the pending job, NULL when none */
	void *arg;
	atomic_int done;          /* set under m, also read without it */
	atomic_int pending;       /* a job or stop was posted; polled */
	int stop;
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

/* How long a thread polls before sleeping on a condition variable. */
#define SPIN_NS 100000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static int64_t mono_ns(void)
{
	struct timespec t;
	if (clock_gettime(CLOCK_MONOTONIC, &t) != 0)
		return INT64_MAX; /* cannot happen; ends the polling at once */
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Poll flag for up to SPIN_NS; the caller then checks it under a lock. */
static void spin_on(atomic_int *flag)
{
	int64_t until = mono_ns() + SPIN_NS;
	while (!atomic_load_explicit(flag, memory_order_acquire)) {
		for (int i = 0; i < 16; i++)
			cpu_relax();
		if (mono_ns() >= until)
			return;
	}
}

static void *worker_main(void *p)
{
	struct worker *wk = p;
	pthread_mutex_lock(&wk->m);
	for (;;) {
		if (!wk->fn && !wk->stop) {
			/* the next large read usually follows within a FUSE round
			 * trip: poll for it a while before sleeping */
			pthread_mutex_unlock(&wk->m);
			spin_on(&wk->pending);
			pthread_mutex_lock(&wk->m);
		}
		while (!wk->fn && !wk->stop)
			pthread_cond_wait(&wk->go, &wk->m);
		if (!wk->fn)
			break; /* stop, and no job left */
		cfs_job_fn *fn = wk->fn;
		void *arg = wk->arg;
		atomic_store_explicit(&wk->pending, 0, memory_order_relaxed);
		pthread_mutex_unlock(&wk->m);
		fn(arg, &wk->scratch);
		pthread_mutex_lock(&wk->m);
		wk->fn = NULL;
		wk->arg = NULL;
		atomic_store_explicit(&wk->done, 1, memory_order_release);
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
		atomic_store(&wk->pending, 1);
		pthread_cond_signal(&wk->go);
		pthread_mutex_unlock(&wk->m);
		pthread_join(wk->tid, NULL);
	}
	for (unsigned i = 0; i < w->inited; i++) {
		struct worker *wk = &w->w[i];
		cfs_scratch_wipe(&wk->scratch); /* a worker never holds a spare shell */
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
		atomic_init(&wk->done, 0);
		atomic_init(&wk->pending, 0);
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
	atomic_store_explicit(&wk->done, 0, memory_order_relaxed);
	atomic_store_explicit(&wk->pending, 1, memory_order_release);
	pthread_cond_signal(&wk->go);
	pthread_mutex_unlock(&wk->m);
	fn(mine, s);
	/* The worker started later (it had to wake up) and is usually still
	 * busy: poll for a while before sleeping, since waking the caller up
	 * again would cost about as long as the rest of the worker's half. */
	spin_on(&wk->done);
	if (!atomic_load_explicit(&wk->done, memory_order_acquire)) {
		pthread_mutex_lock(&wk->m);
		while (!atomic_load_explicit(&wk->done, memory_order_relaxed))
			pthread_cond_wait(&wk->fin, &wk->m);
		pthread_mutex_unlock(&wk->m);
	}
	atomic_store(&wk->claimed, 0);
	atomic_fetch_add_explicit(&w->handed, 1, memory_order_relaxed);
	return 1;
}

unsigned long cfs_workers_handed(struct cfs_workers *w)
{
	return w ? atomic_load(&w->handed) : 0;
}
