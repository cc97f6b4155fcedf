/* scratch.h — a thread's own scratch buffer for chunk I/O: page-aligned,
 * grown on need, wiped whenever it is freed or replaced (it holds
 * plaintext). The struct also carries what its owner lends the content
 * module (a spare file shell, a worker pool, a shell pool); this module
 * never looks at those. Nothing here knows about files or keys. */
#ifndef COACHFS_SCRATCH_H
#define COACHFS_SCRATCH_H

#include <stddef.h>

struct cfs_file;
struct cfs_workers;
struct cfs_shells;

/* Zero-initialise it. par, set by the owner (not owned, not freed here): a
 * worker pool that cfs_content_read and cfs_content_write may hand half of
 * a large request to; NULL = one thread. spare and shells: see content.h. */
struct cfs_scratch {
	unsigned char *buf;
	size_t cap;
	struct cfs_file *spare;
	struct cfs_workers *par;
	struct cfs_shells *shells;   /* set by the owner, not owned: see content.h */
};

/* At least need bytes in s->buf (old contents wiped, not kept). 0 or -ENOMEM. */
int cfs_scratch_need(struct cfs_scratch *s, size_t need);
/* Wipe and free the buffer only (cfs_scratch_free in content.h also frees
 * the spare shell). */
void cfs_scratch_wipe(struct cfs_scratch *s);

#endif
