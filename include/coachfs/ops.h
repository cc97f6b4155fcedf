/* ops.h — the daemon's context and its FUSE operation table. ops.c is thin
 * glue: it turns FUSE requests into calls on store, content, policy, grants
 * and audit. Nothing outside the daemon includes FUSE. */
#ifndef COACHFS_OPS_H
#define COACHFS_OPS_H

#include "coachfs/ctx.h"

/* Operation table for fuse_new(); private_data must be a struct cfs_ctx. */
const void *cfs_fuse_ops(void);
size_t cfs_fuse_ops_size(void);

#endif
