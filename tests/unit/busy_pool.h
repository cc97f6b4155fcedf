/* busy_pool.h — for unit tests: keep a worker of a cfs_workers pool busy
 * with another "request" (a split whose worker half blocks on a gate) until
 * released, to show that a split never waits for a busy worker. */
#ifndef COACHFS_TEST_BUSY_POOL_H
#define COACHFS_TEST_BUSY_POOL_H

#include <pthread.h>
#include "coachfs/content.h"
#include "coachfs/workers.h"

struct gate {
	pthread_mutex_t m;
	pthread_cond_t cv;
	int started, open;
};

/* The worker's half blocks until the gate opens; the holder's own half
 * (NULL) does nothing. */
static inline void gate_job(void *arg, struct cfs_scratch *s)
{
	struct gate *g = arg;
	(void)s;
	if (!g)
		return;
	pthread_mutex_lock(&g->m);
	g->started++;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->m);
	pthread_mutex_unlock(&g->m);
}

struct holder {
	struct cfs_workers *w;
	struct gate g;
	struct cfs_scratch s;
	int handed;             /* what the holder's split returned */
	pthread_t t;
};

static inline void *holder_main(void *p)
{
	struct holder *h = p;
	h->handed = cfs_workers_split(h->w, gate_job, NULL, &h->g, &h->s);
	return NULL;
}

/* Occupy one worker of w; returns once it is running the gate. 0 or -1. */
static inline int hold_worker(struct holder *h, struct cfs_workers *w)
{
	*h = (struct holder){ .w = w, .handed = -1 };
	pthread_mutex_init(&h->g.m, NULL);
	pthread_cond_init(&h->g.cv, NULL);
	if (pthread_create(&h->t, NULL, holder_main, h) != 0)
		return -1;
	pthread_mutex_lock(&h->g.m);
	while (h->g.started == 0)
		pthread_cond_wait(&h->g.cv, &h->g.m);
	pthread_mutex_unlock(&h->g.m);
	return 0;
}

/* Open the gate and wait for the holder's split to return. */
static inline void release_worker(struct holder *h)
{
	pthread_mutex_lock(&h->g.m);
	h->g.open = 1;
	pthread_cond_broadcast(&h->g.cv);
	pthread_mutex_unlock(&h->g.m);
	pthread_join(h->t, NULL);
	cfs_scratch_free(&h->s);
	pthread_cond_destroy(&h->g.cv);
	pthread_mutex_destroy(&h->g.m);
}

#endif
