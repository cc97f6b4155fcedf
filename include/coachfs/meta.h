/* meta.h — the attribute block a file header carries encrypted: a list of
 * (name, value) pairs, parsed and edited in place. Pure functions over a
 * caller's buffer; every input is treated as hostile (malformed is -EIO).
 * Nothing here knows about files, keys or I/O. */
#ifndef COACHFS_META_H
#define COACHFS_META_H

#include <stddef.h>
#include <sys/types.h>

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
