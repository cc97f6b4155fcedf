/* fuzz_meta.c — libFuzzer target: the attribute block functions
 * (cfs_meta_valid/get/list/set/remove) on arbitrary blocks and arguments,
 * checked against their contract: a malformed block gives -EIO from every
 * function and is never changed; on a well-formed block list names every
 * entry, get finds each, set and remove change exactly one entry and keep
 * the block well-formed, -ENOSPC/-EINVAL/-ENODATA change nothing. Any
 * violation aborts.
 *
 * Input: op byte, name length byte, name bytes, value length byte (x4),
 * value bytes, then the block (at most CFS_META_MAX bytes are used). */
#include "coachfs/content.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static size_t take(const unsigned char **p, size_t *n, size_t want)
{
	size_t k = want < *n ? want : *n;
	*p += k;
	*n -= k;
	return k;
}

/* Every entry's value, looked up by name, equals what a plain walk sees. */
static void check_all(const unsigned char *m, size_t len)
{
	size_t p = 0, count = 0;
	char names[CFS_META_MAX + 1];
	ssize_t need = cfs_meta_list(m, len, NULL, 0);
	REQUIRE(need >= 0);
	REQUIRE(cfs_meta_list(m, len, names, sizeof names) == need);
	size_t q = 0;
	while (p < len) {
		size_t nl = m[p], vl = (size_t)m[p + 1] | ((size_t)m[p + 2] << 8);
		char name[256];
		memcpy(name, m + p + 3, nl);
		name[nl] = 0;
		REQUIRE(strlen(name) == nl);
		REQUIRE((size_t)need >= q + nl + 1 && memcmp(names + q, name, nl + 1) == 0);
		q += nl + 1;
		const unsigned char *v;
		size_t got;
		REQUIRE(cfs_meta_get(m, len, name, &v, &got) == 0);
		REQUIRE(got == vl && v == m + p + 3 + nl);
		p += 3 + nl + vl;
		count++;
	}
	REQUIRE(q == (size_t)need);
	(void)count;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const unsigned char *p = data;
	size_t n = size;
	if (n < 2)
		return 0;
	unsigned op = p[0], nlen = p[1];
	take(&p, &n, 2);
	char name[300];
	size_t k = take(&p, &n, nlen);
	memcpy(name, p - k, k);
	name[k] = 0;                 /* a NUL inside shortens it, as in C */
	size_t vlen = n ? (size_t)p[0] * 4 : 0;
	take(&p, &n, 1);
	unsigned char val[1024];
	size_t vk = take(&p, &n, vlen);
	memcpy(val, p - vk, vk);
	vlen = vk;
	unsigned char m[CFS_META_MAX], before[CFS_META_MAX];
	size_t len = n < sizeof m ? n : sizeof m;
	memcpy(m, p, len);
	memcpy(before, m, len);
	size_t cap = op & 0x80 ? CFS_META_MAX : len + (op & 0x3f); /* full or nearly full */
	if (cap > CFS_META_MAX)
		cap = CFS_META_MAX;
	if (cap < len)
		cap = len;

	int valid = cfs_meta_valid(m, len);
	REQUIRE(valid == 0 || valid == -EIO);
	const unsigned char *v;
	size_t vl;
	char out[64];
	if (valid < 0) {
		size_t l2 = len;
		REQUIRE(cfs_meta_get(m, len, name, &v, &vl) == -EIO);
		REQUIRE(cfs_meta_list(m, len, out, sizeof out) == -EIO);
		REQUIRE(cfs_meta_remove(m, &l2, name) == -EIO);
		int rc = cfs_meta_set(m, &l2, cap, name, val, vlen);
		REQUIRE(rc == -EIO || rc == -EINVAL);
		REQUIRE(l2 == len && memcmp(m, before, len) == 0);
		return 0;
	}
	check_all(m, len);
	/* a small list buffer never overflows and reports the need */
	memset(out, 0x5a, sizeof out);
	ssize_t need = cfs_meta_list(m, len, out, op & 31);
	REQUIRE(need >= 0);
	for (size_t i = op & 31; i < sizeof out; i++)
		REQUIRE(out[i] == 0x5a);

	size_t nl = strlen(name);
	int had = cfs_meta_get(m, len, name, &v, &vl);
	REQUIRE(had == 0 || had == -ENODATA);
	size_t oldentry = had == 0 ? 3 + nl + vl : 0;

	switch ((op >> 6) & 1) {
	case 0: { /* set (sometimes with a value taken from the block itself) */
		const void *src = val;
		if ((op & 0x40) == 0 && (op & 0x20) && len > 3) {
			size_t vl0 = (size_t)m[1] | ((size_t)m[2] << 8);
			src = m + 3 + m[0];
			vlen = vl0;
			memcpy(val, src, vlen); /* vlen < len <= CFS_META_MAX < sizeof val */
		}
		size_t l2 = len;
		int rc = cfs_meta_set(m, &l2, cap, name, src, vlen);
		if (nl == 0 || nl > 255) {
			REQUIRE(rc == -EINVAL);
		} else if (len - oldentry + 3 + nl + vlen > cap) {
			REQUIRE(rc == -ENOSPC);
		} else {
			REQUIRE(rc == 0);
		}
		if (rc != 0) {
			REQUIRE(l2 == len && memcmp(m, before, len) == 0);
			break;
		}
		REQUIRE(l2 == len - oldentry + 3 + nl + vlen);
		REQUIRE(cfs_meta_valid(m, l2) == 0);
		REQUIRE(cfs_meta_get(m, l2, name, &v, &vl) == 0);
		REQUIRE(vl == vlen && (vlen == 0 || memcmp(v, val, vlen) == 0));
		check_all(m, l2);
		/* removing it again leaves the others as they were */
		REQUIRE(cfs_meta_remove(m, &l2, name) == 0);
		REQUIRE(cfs_meta_get(m, l2, name, &v, &vl) == -ENODATA);
		REQUIRE(l2 == len - oldentry);
		check_all(m, l2);
		break;
	}
	default: { /* remove */
		size_t l2 = len;
		int rc = cfs_meta_remove(m, &l2, name);
		REQUIRE(rc == had);
		if (rc != 0) {
			REQUIRE(l2 == len && memcmp(m, before, len) == 0);
			break;
		}
		REQUIRE(l2 == len - oldentry);
		REQUIRE(cfs_meta_valid(m, l2) == 0);
		REQUIRE(cfs_meta_get(m, l2, name, &v, &vl) == -ENODATA);
		check_all(m, l2);
		break;
	}
	}
	return 0;
}
