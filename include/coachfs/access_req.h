/* access_req.h — the daemon's side of access requests and break-glass: the
 * extended attributes an ordinary user or an admin sets, as themselves, on
 * the control file MOUNT/.links/approve. The daemon learns who acts from the
 * kernel (the FUSE request's uid and groups), never from a name the caller
 * types. access_req.c parses the hostile values, asks policy.c who may act,
 * stores through requests.c and commits the audit row in the same
 * transaction. It must never act for root as a second person, never act on
 * a row that is not authentic, and never log a key or file contents. */
#ifndef COACHFS_ACCESS_REQ_H
#define COACHFS_ACCESS_REQ_H

#include <stddef.h>
#include "coachfs/access.h"
#include "coachfs/ctx.h"

/* The effective class of a path (file or directory), as ops.c resolves it. */
typedef int (*cfs_path_class_fn)(struct cfs_ctx *c, const char *path, struct cfs_eff *e, int *is_dir);

/* Is this setxattr on the control file one of ours? (user.coachfs.request,
 * .breakglass, .deny, .review; and .approve of a request id "R12".) */
int cfs_access_req_handles(const char *name, const char *value, size_t size);

/* Carry it out for caller cl: 0 or a negative errno (EPERM not allowed,
 * EALREADY, EACCES expired, EINVAL bad value or wrong kind, ENOENT no such
 * request or path, EDQUOT too many pending, EBADMSG forged row). Every
 * outcome is an audit row. Values:
 *   request     "PATH\nTTL_SECONDS\nr|w\nREASON"
 *   breakglass  "PATH\nREASON"
 *   approve     "R12"
 *   deny        "R12\nREASON"
 *   review      "B12\nNOTE" (NOTE may be empty) */
int cfs_access_req_set(struct cfs_ctx *c, const struct cfs_caller *cl, const char *name, const char *value,
		   size_t size, cfs_path_class_fn path_class);

/* getxattr of user.coachfs.request / user.coachfs.breakglass on the control
 * file: the caller's own newest record, as "R12" or "B12 grant 17 until
 * EPOCH". Returns the length (0 < n < cap) or a negative errno (-ENODATA
 * none, -EOPNOTSUPP another name). */
int cfs_access_req_get(struct cfs_ctx *c, uid_t uid, const char *name, char *buf, size_t cap);

#endif
