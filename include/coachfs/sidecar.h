/* sidecar.h — directory sidecars (.coachfs-dir: a directory's id and its
 * encrypted attribute block, bound to its place) and files' bound headers:
 * the form tools write (no daemon needed), and the daemon's own functions,
 * which take its context (ctx.h; the tools never call them). */
#ifndef COACHFS_SIDECAR_H
#define COACHFS_SIDECAR_H

#include <stddef.h>
#include <stdint.h>
#include "coachfs/content.h"
#include "coachfs/crypto.h"
#include "coachfs/state.h"

struct cfs_ctx;

/* Write a sidecar into directory dirfd (temporary, fsync, rename), bound
 * to b, with id (NULL: fresh) and version; no daemon needed (tools). */
int cfs_sidecar_write_at(int dirfd, const struct cfs_keys *keys, struct cfs_state *st, const struct cfs_bind *b,
			 const unsigned char *id, uint64_t version, const unsigned char *meta, size_t len,
			 struct cfs_err *err);

/* Load dir's sidecar bound to b (its attribute block, id and version; id
 * and version may be NULL). A sidecar that fails only because a rename of
 * its directory was interrupted is accepted once and rebound. Missing: -EIO. */
int cfs_sidecar_load(struct cfs_ctx *c, const char *dir, const struct cfs_bind *b, unsigned char *meta,
		     size_t *len, unsigned char *id, uint64_t *version, struct cfs_err *err);
/* A directory's attribute block (as cfs_dir_meta_load, access.h), its
 * sidecar bound under parent, an id the chain of sidecars proved; NULL:
 * under the id its parent's sidecar claims. */
int cfs_dir_meta_load_under(struct cfs_ctx *c, const char *dir,
			    const unsigned char parent[CFS_FILE_ID_BYTES], unsigned char *meta,
			    size_t *len);
/* The id a directory's sidecar claims (unauthenticated; -EIO if missing). */
int cfs_dir_id_claimed(struct cfs_ctx *c, const char *dir, unsigned char id[CFS_FILE_ID_BYTES]);
/* The place of mount path `path` as its header binds it: the id its
 * parent's sidecar claims and its leaf (root: the root marker). */
int cfs_entry_bind(struct cfs_ctx *c, const char *path, int kind, struct cfs_bind *b);
/* Make directory `leaf` in pdfd (whose id is parent) with a fresh id and
 * its sidecar, built under a temporary name and renamed into place, so a
 * directory never exists without its sidecar. */
int cfs_dir_create(struct cfs_ctx *c, int pdfd, const char *leaf, const unsigned char parent[CFS_FILE_ID_BYTES],
		   const unsigned char *meta, size_t len, mode_t mode, struct cfs_err *err);
/* Rename, crash-safely: cfs_rename_intent records (in the local record)
 * the place `path` is bound to now, before the rename; after it, the moved
 * entry's header (a file's, through its open file) or sidecar
 * (cfs_dir_rebind) is rebound to its new place and the intent cleared. A
 * crash in between leaves an entry whose old binding is accepted once and
 * rebound on its next use. */
int cfs_rename_intent(struct cfs_ctx *c, const char *path, int kind, struct cfs_bind *old, struct cfs_err *err);
int cfs_dir_rebind(struct cfs_ctx *c, const char *dir, const struct cfs_bind *old, struct cfs_err *err);
/* Open / read the attributes of the file at mount path `path` (fd open on
 * it), its header bound to its place and checked against the record (with
 * the interrupted-rename fallback above). */
int cfs_entry_open(struct cfs_ctx *c, const char *path, int fd, struct cfs_scratch *s, struct cfs_file **out,
		   struct cfs_err *err);
/* cfs_entry_open bound under parent, an id the chain of sidecars proved
 * (NULL: the id the parent's sidecar claims). */
int cfs_entry_open_under(struct cfs_ctx *c, const char *path,
			 const unsigned char parent[CFS_FILE_ID_BYTES], int fd, struct cfs_scratch *s,
			 struct cfs_file **out, struct cfs_err *err);
int cfs_entry_meta(struct cfs_ctx *c, const char *path, int fd, unsigned char *meta, size_t *len,
		   struct cfs_err *err);
/* The same, bound under parent (the id the chain of sidecars proved, so the
 * parent's sidecar need not be read again for its claim); NULL: the claim. */
int cfs_entry_meta_under(struct cfs_ctx *c, const char *path,
			 const unsigned char parent[CFS_FILE_ID_BYTES], int fd, unsigned char *meta,
			 size_t *len, struct cfs_err *err);

#endif
