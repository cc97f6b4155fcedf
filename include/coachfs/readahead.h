/* readahead.h — a per-handle read-ahead window for files whose every read
 * is decided and audited (direct_io, so the kernel does no readahead): on
 * sequential access it decrypts a window ahead of the reader in one large
 * read (which cfs_content_read splits across the worker threads) and serves
 * the following small requests from it. The window holds plaintext: it lives
 * in sodium_malloc'd memory (locked, guarded), is wiped when dropped, and is
 * never served once the file's body changed (struct cfs_file's gen). This
 * module never decides access and never audits: the caller decides and
 * records every request exactly as without it. */
#ifndef COACHFS_READAHEAD_H
#define COACHFS_READAHEAD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "coachfs/content.h"
#include "coachfs/util.h"

#define CFS_RA_MIN ((size_t)128 << 10)   /* the first window */
#define CFS_RA_MAX ((size_t)1 << 20)     /* windows double up to this */

#define CFS_RA_BUDGET ((size_t)64 << 20) /* all windows of a daemon together */

/* What the windows sharing it may hold together (locked memory): a window
 * that would exceed it is not made, and that handle reads request by
 * request. Zero-initialised = CFS_RA_BUDGET. */
struct cfs_ra_budget {
	atomic_size_t used;
	size_t cap;
};

struct cfs_ra;

/* A new, empty window state (no plaintext buffer until sequential reads
 * ask for one), drawing on budget b (NULL: unlimited). -ENOMEM. */
int cfs_ra_new(struct cfs_ra_budget *b, struct cfs_ra **out);
/* Wipe and free. NULL-safe. No read may be in progress. */
void cfs_ra_free(struct cfs_ra *ra);
/* Wipe and release the window (the handle's access ended); the state
 * starts over. NULL-safe; may run while no read of this handle is. */
void cfs_ra_drop(struct cfs_ra *ra);

/* cfs_content_read through the window: the same bytes, the same errors for
 * the requested range. Caller holds f->lock for reading, and passes the
 * same f on every call for this ra. A chunk that fails authentication in
 * the window ahead of the request is not reported until a request covers
 * it (the window is then read request by request). ra NULL: a plain read. */
ssize_t cfs_ra_read(struct cfs_ra *ra, struct cfs_file *f, void *buf, size_t len, off_t off,
		    struct cfs_scratch *s, struct cfs_err *err);

/* For tests and diagnostics: requests served from the window, and windows
 * filled, so far. */
void cfs_ra_stats(struct cfs_ra *ra, unsigned long *hits, unsigned long *fills);

#endif
