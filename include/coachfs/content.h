/* content.h — the encrypted file format: header (file id, encrypted policy
 * and attribute block) and chunked AEAD body, with random-access read, write
 * and truncate. content.c must never return unauthenticated bytes: any
 * failed tag is -EIO. It never decides access and never logs contents. */
#ifndef COACHFS_CONTENT_H
#define COACHFS_CONTENT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "coachfs/crypto.h"
#include "coachfs/meta.h"
#include "coachfs/scratch.h"
#include "coachfs/util.h"

#define CFS_FHDR_SIZE 1024                     /* fixed file header size */
#define CFS_FILE_ID_BYTES 16
#define CFS_META_MAX (CFS_FHDR_SIZE - 64 - 16) /* attribute block, plaintext */
#define CFS_FILE_VERSION 2                     /* file header format */

struct cfs_state;

/* Where an entry lives, bound into its header's associated data: the id of
 * its parent directory (zeros for the root's sidecar) and its leaf name (""
 * for the root's sidecar), and whether it is a file or a directory sidecar.
 * A header moved, copied or swapped to any other place fails authentication. */
enum cfs_kind { CFS_KIND_FILE = 0, CFS_KIND_DIR = 1 };
struct cfs_bind {
	unsigned char parent[CFS_FILE_ID_BYTES];
	char name[256];
	int kind;
};
/* Fill b; -ENAMETOOLONG for a name over 255 bytes, -EINVAL for one with '/'. */
int cfs_bind_set(struct cfs_bind *b, const unsigned char parent[CFS_FILE_ID_BYTES], const char *name,
		 int kind);

/* A thread's scratch (scratch.h); cfs_content_release parks a spare file
 * shell in it (see below). */
struct cfs_file;
/* Wipe and free the buffer and the spare shell. */
void cfs_scratch_free(struct cfs_scratch *s);

/* A pool of wiped file shells shared by threads (the daemon's FUSE threads:
 * a file opened on one is often released on another, so a per-thread spare
 * alone misses). cfs_content_release parks a shell in its scratch's spare,
 * else here (up to cap); an open takes the spare, else one from here. Each
 * shell's key page stays sodium_malloc'd (locked, guarded) and zeroed while
 * parked. cfs_shells_free wipes and frees them; no thread may use the pool
 * then. */
int cfs_shells_new(unsigned cap, struct cfs_shells **out, struct cfs_err *err);
void cfs_shells_free(struct cfs_shells *p);

/* One open backing file. Shared by all handles of the same inode; the lock
 * serialises writers against readers. */
struct cfs_file {
	int fd;                                  /* backing fd, owned by the caller */
	unsigned char id[CFS_FILE_ID_BYTES];
	unsigned char *key;                      /* per-file key, sodium_malloc */
	const struct cfs_keys *keys;
	int aead;
	size_t chunk;                            /* plaintext bytes per chunk */
	size_t ovh;                              /* nonce + tag bytes per chunk */
	unsigned char meta[CFS_META_MAX];        /* decrypted attribute block */
	size_t meta_len;
	uint64_t version;                        /* header version (rollback counter) */
	struct cfs_bind bind;                    /* the place its header binds to */
	struct cfs_state *state;                 /* record of versions seen; NULL = none */
	uint64_t gen;                            /* raised by every write and truncate of the
						    body, under lock held for writing: what a
						    reader cached before is stale once it moved */
	pthread_rwlock_t lock;
};

/* Write a fresh header and an empty body (one empty last chunk) to fd.
 * These three take the detached binding (zero parent, empty name, a file)
 * and keep no record: for tests and tools that handle loose files. */
int cfs_content_create(int fd, const struct cfs_keys *keys, const unsigned char *meta,
		       size_t meta_len, struct cfs_file **out, struct cfs_err *err);
/* Read and authenticate the header of fd. -EIO for any bad header. */
int cfs_content_open(int fd, const struct cfs_keys *keys, struct cfs_file **out, struct cfs_err *err);
/* Read and authenticate only the header's attribute block (meta has room
 * for CFS_META_MAX bytes): no file key is derived and nothing is allocated,
 * for policy lookups that never touch the body. -EIO for any bad header. */
int cfs_content_meta(int fd, const struct cfs_keys *keys, unsigned char *meta, size_t *len,
		     struct cfs_err *err);
/* The same bound to place b, checked against (and raising) record st when
 * not NULL: a header older than the version recorded for its id is -EIO
 * (rolled back). id/version (may be NULL) get the header's id and version. */
int cfs_content_meta_b(int fd, const struct cfs_keys *keys, const struct cfs_bind *b, struct cfs_state *st,
		       unsigned char *meta, size_t *len, unsigned char *id, uint64_t *version,
		       struct cfs_err *err);
/* The id a header claims (not authenticated: for finding its record or a
 * parent's id that a later authentication will prove). 0 or -EIO. */
int cfs_content_peek_id(int fd, unsigned char id[CFS_FILE_ID_BYTES]);
/* The header format version byte of fd (1 or 2), -EIO when it is not a
 * coachfs file header at all. */
int cfs_content_peek_version(int fd);
/* Wipe and free (does not close fd). NULL-safe. */
void cfs_content_close(struct cfs_file *f);

/* As cfs_content_open / cfs_content_create, but taking the file shell, with
 * its sodium_malloc'd key page, from s->spare when there is one (s may be
 * NULL): an open then costs no mmap, mlock and mprotect of a fresh page. */
int cfs_content_open_s(int fd, const struct cfs_keys *keys, struct cfs_scratch *s,
		       struct cfs_file **out, struct cfs_err *err);
int cfs_content_create_s(int fd, const struct cfs_keys *keys, const unsigned char *meta,
			 size_t meta_len, struct cfs_scratch *s, struct cfs_file **out,
			 struct cfs_err *err);
/* Bound to place b (NULL: detached), with record st (NULL: none): open
 * refuses a header older than st's version for its id (-EIO, rolled back).
 * create_b: id NULL draws a fresh random id, else reuses it (a directory's
 * sidecar keeps its id across rewrites); version is the header's (>= 1). */
int cfs_content_open_b(int fd, const struct cfs_keys *keys, const struct cfs_bind *b, struct cfs_state *st,
		       struct cfs_scratch *s, struct cfs_file **out, struct cfs_err *err);
int cfs_content_create_b(int fd, const struct cfs_keys *keys, const struct cfs_bind *b,
			 struct cfs_state *st, const unsigned char *id, uint64_t version,
			 const unsigned char *meta, size_t meta_len, struct cfs_scratch *s,
			 struct cfs_file **out, struct cfs_err *err);
/* Raise the header version by one (rewriting the header) and the record:
 * the first write through a write handle, so that an older copy of the
 * whole file is a rollback. Caller holds f->lock for writing. */
int cfs_content_bump(struct cfs_file *f, struct cfs_err *err);
/* Rebind the header to place b (after a rename), version raised. */
int cfs_content_rebind(struct cfs_file *f, const struct cfs_bind *b, struct cfs_err *err);
/* Store format v1 -> v2: authenticate the v1 header of oldfd and write to
 * newfd (empty) a v2 header with the same id, attributes and version 1,
 * bound to b, and the body copied unchanged (chunks bind only the id).
 * id gets the file's id. -EIO for a bad v1 header, -ENOSPC when its
 * attributes do not fit the v2 header. */
int cfs_content_upgrade_v1(int oldfd, int newfd, const struct cfs_keys *keys, const struct cfs_bind *b,
			   unsigned char id[CFS_FILE_ID_BYTES], struct cfs_err *err);
/* Wipe f's key, id and attributes and park the shell (its key page stays
 * locked and guarded) in s->spare; cfs_content_close when s is NULL or
 * already holds one. Does not close fd. NULL-safe. */
void cfs_content_release(struct cfs_file *f, struct cfs_scratch *s);

/* Plaintext size for a ciphertext file of cipher_size bytes; -1 if that size
 * is impossible (truncated inside a chunk or the header). */
off_t cfs_content_plain_size(off_t cipher_size, int chunk_log2, int aead);

int cfs_content_size(struct cfs_file *f, off_t *size);

/* pread/pwrite semantics on plaintext. Callers hold f->lock (read or write). */
ssize_t cfs_content_read(struct cfs_file *f, void *buf, size_t len, off_t off,
			 struct cfs_scratch *s, struct cfs_err *err);
ssize_t cfs_content_write(struct cfs_file *f, const void *buf, size_t len, off_t off,
			  struct cfs_scratch *s, struct cfs_err *err);
int cfs_content_truncate(struct cfs_file *f, off_t size, struct cfs_scratch *s, struct cfs_err *err);
/* Truncate crash-safely: a shrink builds the kept chunks and the re-sealed
 * last one in a temporary file in directory dirfd, which is renamed over
 * `leaf` (checked to still be f's file) and takes over f->fd (dup3), so the
 * name always holds either the old or the new content. A grow is as
 * cfs_content_truncate. *replaced = 1 when f->fd now refers to a new inode. */
int cfs_content_truncate_at(struct cfs_file *f, off_t size, int dirfd, const char *leaf, int *replaced,
			    struct cfs_scratch *s, struct cfs_err *err);

/* Replace the attribute block (re-encrypts the header in place). */
int cfs_content_set_meta(struct cfs_file *f, const unsigned char *meta, size_t meta_len,
			 struct cfs_err *err);

/* Verify every chunk of the file (coach-admin check). 0 or -EIO with err
 * naming the first bad chunk. */
int cfs_content_verify(struct cfs_file *f, struct cfs_scratch *s, struct cfs_err *err);

#endif
