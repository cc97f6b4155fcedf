/* workers.h — a fixed pool of helper threads that lets one request use a
 * second core: the calling thread hands half of its work to an idle worker,
 * does the other half itself, and waits for the worker before returning.
 * The pool never queues: with no idle worker the caller does everything
 * itself. Nothing here knows about files, keys or FUSE. */
#ifndef COACHFS_WORKERS_H
#define COACHFS_WORKERS_H

#include "coachfs/util.h"

struct cfs_workers;
struct cfs_scratch;

#define CFS_WORKERS_MAX 16

/* A job: fn(arg, s) with s a scratch buffer owned by the thread running it
 * (the worker's own, or the caller's). It must not call cfs_workers_split. */
typedef void cfs_job_fn(void *arg, struct cfs_scratch *s);

/* The pool size for this machine: online CPUs - 1, capped at
 * CFS_WORKERS_MAX; 0 on a single CPU (no pool). */
unsigned cfs_workers_default(void);

/* Start n (1..CFS_WORKERS_MAX) worker threads, all signals blocked in them.
 * Create it in the process that will use it (after any fork). */
int cfs_workers_new(unsigned n, struct cfs_workers **out, struct cfs_err *err);

/* Stop and join every worker, wipe and free their scratch. No split may be
 * in progress. NULL-safe. */
void cfs_workers_free(struct cfs_workers *w);

/* Run fn(theirs, worker's scratch) on an idle worker while the calling
 * thread runs fn(mine, s); return only once both are done, so both may use
 * the caller's buffers. If w is NULL or no worker is idle right now, run
 * fn(mine, s) then fn(theirs, s) on the calling thread, never waiting for a
 * busy worker. Returns 1 if a worker ran `theirs`, 0 if the caller did. */
int cfs_workers_split(struct cfs_workers *w, cfs_job_fn *fn, void *mine, void *theirs,
		      struct cfs_scratch *s);

/* How many splits so far had a worker run their second half (for tests and
 * diagnostics). 0 for NULL. */
unsigned long cfs_workers_handed(struct cfs_workers *w);

#endif
