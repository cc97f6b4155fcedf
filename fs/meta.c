/* meta.c — the attribute block: validate, find, get, set, remove, list.
 * Owns: the block's encoding ([u8 name_len][u16 value_len][name][value]
 * repeated). Must never read or write outside the caller's buffer, never
 * accept a block that does not tile exactly or names a name twice, and
 * never do I/O. */
#include "coachfs/meta.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Well-formed: entries tile the block exactly, names are 1..255 bytes
 * without NUL, and no name occurs twice (a duplicate would make get and set
 * disagree: set replaces the first, get after it finds the stale second). */
int cfs_meta_valid(const unsigned char *meta, size_t len)
{
	size_t p = 0;
	while (p < len) {
		if (len - p < 3)
			return -EIO;
		size_t nl = meta[p], vl = (size_t)meta[p + 1] | ((size_t)meta[p + 2] << 8);
		if (nl == 0 || len - p - 3 < nl + vl)
			return -EIO;
		if (memchr(meta + p + 3, 0, nl))
			return -EIO;
		for (size_t q = 0; q < p;) { /* earlier entries, already checked */
			size_t ql = meta[q], qv = (size_t)meta[q + 1] | ((size_t)meta[q + 2] << 8);
			if (ql == nl && memcmp(meta + q + 3, meta + p + 3, nl) == 0)
				return -EIO;
			q += 3 + ql + qv;
		}
		p += 3 + nl + vl;
	}
	return 0;
}

/* Find entry `name`; returns its offset or -ENODATA/-EIO. */
static long meta_find(const unsigned char *meta, size_t len, const char *name)
{
	size_t want = strlen(name), p = 0;
	if (cfs_meta_valid(meta, len) < 0)
		return -EIO;
	while (p < len) {
		size_t nl = meta[p], vl = (size_t)meta[p + 1] | ((size_t)meta[p + 2] << 8);
		if (nl == want && memcmp(meta + p + 3, name, nl) == 0)
			return (long)p;
		p += 3 + nl + vl;
	}
	return -ENODATA;
}

int cfs_meta_get(const unsigned char *meta, size_t len, const char *name, const unsigned char **val,
		 size_t *vlen)
{
	long p = meta_find(meta, len, name);
	if (p < 0)
		return (int)p;
	size_t nl = meta[p];
	*vlen = (size_t)meta[p + 1] | ((size_t)meta[p + 2] << 8);
	*val = meta + p + 3 + nl;
	return 0;
}

int cfs_meta_remove(unsigned char *meta, size_t *len, const char *name)
{
	long p = meta_find(meta, *len, name);
	if (p < 0)
		return (int)p;
	size_t nl = meta[p], vl = (size_t)meta[p + 1] | ((size_t)meta[p + 2] << 8);
	size_t e = (size_t)p + 3 + nl + vl;
	memmove(meta + p, meta + e, *len - e);
	*len -= e - (size_t)p;
	return 0;
}

int cfs_meta_set(unsigned char *meta, size_t *len, size_t cap, const char *name, const void *val,
		 size_t vlen)
{
	size_t nl = strlen(name);
	if (nl == 0 || nl > 255 || vlen > 65535)
		return -EINVAL;
	if (cfs_meta_valid(meta, *len) < 0)
		return -EIO;
	/* Check room before removing the old value, so a failure changes nothing. */
	size_t cur = *len;
	long p = meta_find(meta, *len, name);
	if (p >= 0)
		cur -= 3 + (size_t)meta[p] + ((size_t)meta[p + 1] | ((size_t)meta[p + 2] << 8));
	if (cur + 3 + nl + vlen > cap)
		return -ENOSPC;
	/* val may point into the block itself (a value from cfs_meta_get), which
	 * the removal below shifts and the append may overwrite: copy it first. */
	unsigned char *tmp = NULL;
	uintptr_t v = (uintptr_t)val, m = (uintptr_t)meta;
	if (vlen && v < m + cap && m < v + vlen) {
		tmp = malloc(vlen);
		if (!tmp)
			return -ENOMEM;
		memcpy(tmp, val, vlen);
		val = tmp;
	}
	if (p >= 0)
		cfs_meta_remove(meta, len, name);
	unsigned char *q = meta + *len;
	q[0] = (unsigned char)nl;
	q[1] = (unsigned char)(vlen & 0xff);
	q[2] = (unsigned char)(vlen >> 8);
	memcpy(q + 3, name, nl);
	if (vlen)
		memcpy(q + 3 + nl, val, vlen);
	*len += 3 + nl + vlen;
	if (tmp) {
		sodium_memzero(tmp, vlen);
		free(tmp);
	}
	return 0;
}

ssize_t cfs_meta_list(const unsigned char *meta, size_t len, char *out, size_t cap)
{
	size_t p = 0, need = 0;
	if (cfs_meta_valid(meta, len) < 0)
		return -EIO;
	while (p < len) {
		size_t nl = meta[p], vl = (size_t)meta[p + 1] | ((size_t)meta[p + 2] << 8);
		if (out && need + nl + 1 <= cap) {
			memcpy(out + need, meta + p + 3, nl);
			out[need + nl] = 0;
		}
		need += nl + 1;
		p += 3 + nl + vl;
	}
	return (ssize_t)need;
}
