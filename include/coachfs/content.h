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
#include "coachfs/util.h"

#define CFS_FHDR_SIZE 1024                     /* fixed file header size */
#define CFS_FILE_ID_BYTES 16
#define CFS_META_MAX (CFS_FHDR_SIZE - 56 - 16) /* attribute block, plaintext */

/* A scratch buffer owned by the calling thread (page-aligned, grown on need),
 * and one spare file shell (see cfs_content_release). Zero-initialise it.
 * par, set by the owner (not owned, not freed here): a worker pool that
 * cfs_content_read may hand half of a large read to; NULL = one thread. */
struct cfs_file;
struct cfs_workers;
struct cfs_shells;
struct cfs_scratch {
	unsigned char *buf;
	size_t cap;
	struct cfs_file *spare;
	struct cfs_workers *par;
	struct cfs_shells *shells;   /* set by the owner, not owned: see below */
};
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
	pthread_rwlock_t lock;
};

/* Write a fresh header and an empty body (one empty last chunk) to fd. */
int cfs_content_create(int fd, const struct cfs_keys *keys, const unsigned char *meta,
		       size_t meta_len, struct cfs_file **out, struct cfs_err *err);
/* Read and authenticate the header of fd. -EIO for any bad header. */
int cfs_content_open(int fd, const struct cfs_keys *keys, struct cfs_file **out, struct cfs_err *err);
/* Read and authenticate only the header's attribute block (meta has room
 * for CFS_META_MAX bytes): no file key is derived and nothing is allocated,
 * for policy lookups that never touch the body. -EIO for any bad header. */
int cfs_content_meta(int fd, const struct cfs_keys *keys, unsigned char *meta, size_t *len,
		     struct cfs_err *err);
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

/* Replace the attribute block (re-encrypts the header in place). */
int cfs_content_set_meta(struct cfs_file *f, const unsigned char *meta, size_t meta_len,
			 struct cfs_err *err);

/* Verify every chunk of the file (coach-admin check). 0 or -EIO with err
 * naming the first bad chunk. */
int cfs_content_verify(struct cfs_file *f, struct cfs_scratch *s, struct cfs_err *err);

/* Attribute block: a list of (name, value) pairs.
 * Encoding: repeated [u8 name_len][u16 value_len][name][value]. */
int cfs_meta_get(const unsigned char *meta, size_t len, const char *name, const unsigned char **val,
		 size_t *vlen);                               /* 0, -ENODATA, -EIO (malformed) */
int cfs_meta_set(unsigned char *meta, size_t *len, size_t cap, const char *name,
		 const void *val, size_t vlen);               /* 0, -ENOSPC, -EINVAL, -EIO */
int cfs_meta_remove(unsigned char *meta, size_t *len, const char *name); /* 0, -ENODATA, -EIO */
/* Names, NUL-separated, like listxattr; returns bytes needed. */
ssize_t cfs_meta_list(const unsigned char *meta, size_t len, char *out, size_t cap);
int cfs_meta_valid(const unsigned char *meta, size_t len);  /* 0 or -EIO */

#endif
