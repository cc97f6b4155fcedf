/* ctx.h — the daemon's one context struct: all of its mutable state. Only
 * the daemon's own layers (access, ops, main) include it; the tools never do. */
#ifndef COACHFS_CTX_H
#define COACHFS_CTX_H

#include <pthread.h>
#include <stdint.h>
#include "coachfs/audit.h"
#include "coachfs/caller.h"
#include "coachfs/config.h"
#include "coachfs/crypto.h"
#include "coachfs/grants.h"
#include "coachfs/readahead.h"
#include "coachfs/store.h"

struct cfs_ofile;
struct cfs_track;
struct cfs_links;
struct cfs_workers;
struct cfs_shells;
struct cfs_state;
struct cfs_cwatch;

/* The daemon's one context struct: all of its mutable state lives here. */
struct cfs_ctx {
	struct cfs_config *cfg;
	struct cfs_keys *keys;
	struct cfs_store *store;
	struct cfs_state *state;        /* the local integrity record (versions seen) */
	int state_lock;                 /* its one-daemon lock (cfs_state_lock), -1 when not held */
	struct cfs_audit *audit;
	struct cfs_grants *grants;
	struct cfs_links *links;
	struct cfs_roletab *roles;
	struct cfs_ccache *ccache;      /* names and process start times between requests; NULL = none */
	char host[256];
	char mountpoint[4096];
	pthread_key_t scratch_key;
	struct cfs_workers *workers;    /* helpers for large reads and writes; NULL = none */
	struct cfs_shells *shells;      /* wiped file shells shared by FUSE threads; NULL = none */
	/* Three locks, none held across I/O or decryption: */
	pthread_mutex_t lock;           /* the open-file table (ofiles) */
	pthread_mutex_t track_lock;     /* the tracking table (tracks) */
	pthread_mutex_t sidecar_lock;   /* one sidecar rewrite, or interrupted-rename rebind, at a time */
	struct cfs_ofile *ofiles;       /* open backing files, shared by handles */
	struct cfs_track *tracks;       /* replay and derived-class tracking */
	struct cfs_cwatch *cwatch;      /* page-cached handles and their watcher (ops_cache.c) */
	struct cfs_ra_budget ra_budget; /* what every-read handles' read-ahead windows hold together */
};

/* The context's locks, made and destroyed together. */
static inline void cfs_ctx_locks_init(struct cfs_ctx *c)
{
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->track_lock, NULL);
	pthread_mutex_init(&c->sidecar_lock, NULL);
}

static inline void cfs_ctx_locks_destroy(struct cfs_ctx *c)
{
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->track_lock);
	pthread_mutex_destroy(&c->sidecar_lock);
}

#endif
