/* test_workers.c — the helper-thread pool (fs/workers.c): a split runs one
 * half on a worker thread with the worker's own scratch and returns only
 * after it finished; with no pool or no idle worker the caller runs both
 * halves itself and never waits; many threads splitting at once on a pool
 * of 3 all get their work done; bad sizes are refused. An alarm turns a
 * deadlock into a failed run instead of a hang. */
#include "t.h"
#include "busy_pool.h"

#include "coachfs/content.h"
#include "coachfs/workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One half of a job: add up part of an array, slowly enough that the other
 * half overlaps it, and note which thread and scratch ran it. */
struct half {
	const uint32_t *v;
	size_t a, b;
	uint64_t sum;
	pthread_t tid;
	struct cfs_scratch *s;
	int ran, seq;
	atomic_int *clock;       /* order in which halves ran */
};

static void sum_job(void *arg, struct cfs_scratch *s)
{
	struct half *h = arg;
	uint64_t sum = 0;
	for (size_t i = h->a; i < h->b; i++)
		sum += h->v[i];
	h->sum = sum;
	h->tid = pthread_self();
	h->s = s;
	h->seq = atomic_fetch_add(h->clock, 1);
	h->ran++;
	usleep(2000);
}

#define NV 100000

static uint32_t *make_values(uint64_t *total)
{
	uint32_t *v = malloc(NV * sizeof *v);
	uint64_t t = 0;
	for (size_t i = 0; v && i < NV; i++) {
		v[i] = (uint32_t)(i * 2654435761u);
		t += v[i];
	}
	*total = t;
	return v;
}

static void test_bad_sizes(void)
{
	struct cfs_workers *w = (struct cfs_workers *)&w; /* sentinel */
	struct cfs_err e = { "" };
	T_EQ_INT(cfs_workers_new(0, &w, &e), -EINVAL);
	T_EQ_STR(e.msg, "worker count 0 is not 1..16");
	T_EQ_INT(cfs_workers_new(CFS_WORKERS_MAX + 1, &w, &e), -EINVAL);
	T_CHECK(w == (struct cfs_workers *)&w);
	cfs_workers_free(NULL);
	T_EQ_INT(cfs_workers_handed(NULL), 0);
}

static void test_default(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	long want = n <= 1 ? 0 : n - 1 > CFS_WORKERS_MAX ? CFS_WORKERS_MAX : n - 1;
	T_EQ_INT(cfs_workers_default(), want);
}

static void split_on(struct cfs_workers *w, int want_handed)
{
	uint64_t total;
	uint32_t *v = make_values(&total);
	atomic_int clock;
	atomic_init(&clock, 0);
	struct cfs_scratch s = { 0 };
	if (!v) {
		T_FAILF("out of memory");
		return;
	}
	for (int round = 0; round < 20; round++) {
		size_t cut = (size_t)round * (NV / 20);
		struct half a = { v, 0, cut, 0, 0, NULL, 0, 0, &clock };
		struct half b = { v, cut, NV, 0, 0, NULL, 0, 0, &clock };
		unsigned long before = cfs_workers_handed(w);
		int r = cfs_workers_split(w, sum_job, &a, &b, &s);
		T_EQ_INT(r, want_handed);
		T_EQ_INT(cfs_workers_handed(w), before + (unsigned long)want_handed);
		/* both halves finished before the split returned */
		T_EQ_INT(a.ran, 1);
		T_EQ_INT(b.ran, 1);
		T_CHECK(a.sum + b.sum == total);
		T_CHECK(pthread_equal(a.tid, pthread_self()));
		T_CHECK(a.s == &s);
		if (want_handed) {
			T_CHECK(!pthread_equal(b.tid, pthread_self()));
			T_CHECK(b.s != &s && b.s != NULL);
		} else {
			/* the caller ran both, its own half first, on its scratch */
			T_CHECK(pthread_equal(b.tid, pthread_self()));
			T_CHECK(b.s == &s);
			T_CHECK(a.seq < b.seq);
		}
	}
	cfs_scratch_free(&s);
	free(v);
}

static void test_split(void)
{
	struct cfs_workers *w = NULL;
	struct cfs_err e = { "" };
	T_EQ_INT(cfs_workers_new(1, &w, &e), 0);
	split_on(w, 1);
	cfs_workers_free(w);
	split_on(NULL, 0);
}

static void test_busy(void)
{
	struct cfs_workers *w = NULL;
	struct cfs_err e = { "" };
	T_EQ_INT(cfs_workers_new(1, &w, &e), 0);
	if (!w)
		return;
	struct holder h;
	T_EQ_INT(hold_worker(&h, w), 0);
	/* the only worker is held: this split must run here, now */
	split_on(w, 0);
	int started = h.g.started;
	release_worker(&h);
	T_EQ_INT(h.handed, 1);
	T_EQ_INT(started, 1);
	/* released: the worker takes work again */
	split_on(w, 1);
	cfs_workers_free(w);
}

struct racer {
	struct cfs_workers *w;
	const uint32_t *v;
	uint64_t total;
	int bad, handed;
};

static void quick_job(void *arg, struct cfs_scratch *s)
{
	struct half *h = arg;
	uint64_t sum = 0;
	(void)s;
	for (size_t i = h->a; i < h->b; i++)
		sum += h->v[i];
	h->sum = sum;
	h->ran++;
}

static void *race(void *p)
{
	struct racer *r = p;
	struct cfs_scratch s = { 0 };
	for (int i = 0; i < 2000; i++) {
		size_t cut = (size_t)(i * 37) % NV;
		struct half a = { r->v, 0, cut, 0, 0, NULL, 0, 0, NULL };
		struct half b = { r->v, cut, NV, 0, 0, NULL, 0, 0, NULL };
		r->handed += cfs_workers_split(r->w, quick_job, &a, &b, &s);
		if (a.ran != 1 || b.ran != 1 || a.sum + b.sum != r->total)
			r->bad++;
	}
	cfs_scratch_free(&s);
	return NULL;
}

static void test_many_callers(void)
{
	struct cfs_workers *w = NULL;
	struct cfs_err e = { "" };
	uint64_t total;
	uint32_t *v = make_values(&total);
	T_EQ_INT(cfs_workers_new(3, &w, &e), 0);
	if (!w || !v) {
		free(v);
		cfs_workers_free(w);
		return;
	}
	struct racer r[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		r[i] = (struct racer){ w, v, total, 0, 0 };
		T_EQ_INT(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	unsigned long handed = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		T_EQ_INT(r[i].bad, 0);
		handed += (unsigned long)r[i].handed;
	}
	T_EQ_INT(cfs_workers_handed(w), handed);
	T_CHECK(handed > 0);
	cfs_workers_free(w);
	free(v);
}

int main(void)
{
	alarm(120);
	T_RUN(test_bad_sizes);
	T_RUN(test_default);
	T_RUN(test_split);
	T_RUN(test_busy);
	T_RUN(test_many_callers);
	T_END();
}
