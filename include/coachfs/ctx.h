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
	struct cfs_audit *audit;
	struct cfs_grants *grants;
	struct cfs_links *links;
	struct cfs_roletab *roles;
	char host[256];
	char mountpoint[4096];
	pthread_key_t scratch_key;
	struct cfs_workers *workers;    /* helpers for large reads; NULL = none */
	struct cfs_shells *shells;      /* wiped file shells shared by FUSE threads; NULL = none */
	pthread_mutex_t lock;           /* guards the tables below */
	struct cfs_ofile *ofiles;       /* open backing files, shared by handles */
	struct cfs_track *tracks;       /* replay and derived-class tracking */
	struct cfs_cwatch *cwatch;      /* page-cached handles and their watcher (ops_cache.c) */
};

#endif
