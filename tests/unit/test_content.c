/* test_content.c — the encrypted file format (fs/content.c): round trips at
 * chunk-edge sizes, an fsx-style random-operation loop against an in-memory
 * reference, tamper cases that must all end in -EIO, the plaintext never
 * reaching the backing file, and the attribute block. Runs every case for
 * both ciphers at 4 KiB chunks and again at 64 KiB chunks. Keys come from
 * cfs_store_create with the INTERACTIVE Argon2id preset (fast). */
#include "t.h"
#include "busy_pool.h"
#include "coachfs/state.h"

#include "coachfs/content.h"
#include "coachfs/crypto.h"
#include "coachfs/workers.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define FHDR CFS_FHDR_SIZE

struct cfg {
	int aead;
	int log2;
	struct cfs_keys *k;
	char name[48];
};

/* Test-program state (this file is a program; t.h keeps its own counters). */
static char g_dir[64];
static int g_seq;
static struct cfg g_cfg[4];
static int g_ncfg;

#define CHECKF(cond, ...) do { if (!(cond)) { \
	char m_[256]; snprintf(m_, sizeof m_, __VA_ARGS__); \
	T_FAILF("%s:%d: %s: %s", __FILE__, __LINE__, #cond, m_); } } while (0)

/* ---- helpers ---- */

/* The message of an error, cut for failure reports (gcc's format-truncation
 * check would otherwise refuse a 512-byte message inside a 512-byte line). */
static __attribute__((noinline)) const char *em(const struct cfs_err *e)
{
	return e->msg;
}

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64*: fixed seeds make every run identical */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static void fill_pattern(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t s = seed | 1;
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(rnd(&s) >> 56);
}

static size_t ovh_of(int aead)
{
	return aead == CFS_AEAD_AESGCM ? 12 + 16 : 24 + 16;
}

/* Exact ciphertext size of a file holding `size` plaintext bytes. */
static off_t cipher_size(off_t size, size_t chunk, size_t ovh)
{
	off_t n = size == 0 ? 1 : (off_t)((size + (off_t)chunk - 1) / (off_t)chunk);
	return FHDR + n * (off_t)ovh + size;
}

static void path_for(char *out, size_t cap, const char *what)
{
	snprintf(out, cap, "%s/%s-%d", g_dir, what, g_seq++);
}

static int new_fd(void)
{
	char p[128];
	path_for(p, sizeof p, "f");
	return open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
}

static off_t fd_size(int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	return st.st_size;
}

/* The whole backing file into a malloc'd buffer. */
static unsigned char *slurp(int fd, size_t *len)
{
	off_t n = fd_size(fd);
	if (n < 0)
		return NULL;
	unsigned char *b = malloc((size_t)n + 1);
	if (!b)
		return NULL;
	if (cfs_pread_full(fd, b, (size_t)n, 0) != (ssize_t)n) {
		free(b);
		return NULL;
	}
	*len = (size_t)n;
	return b;
}

/* A new backing file holding exactly these bytes. */
static int fd_with(const unsigned char *b, size_t len)
{
	int fd = new_fd();
	if (fd < 0)
		return -1;
	if (len && cfs_pwrite_all(fd, b, len, 0) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static struct cfs_file *create_file(const struct cfg *c, int *fdp)
{
	struct cfs_err e;
	struct cfs_file *f = NULL;
	int fd = new_fd();
	if (fd < 0)
		return NULL;
	if (cfs_content_create(fd, c->k, NULL, 0, &f, &e) != 0) {
		close(fd);
		return NULL;
	}
	*fdp = fd;
	return f;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

/* ---- plain size arithmetic ---- */

static void test_plain_size(void)
{
	for (int a = 1; a <= 2; a++) {
		off_t o = (off_t)ovh_of(a);
		for (int l = 12; l <= 16; l += 4) {
			off_t C = (off_t)1 << l;
			T_EQ_INT(cfs_content_plain_size(0, l, a), -1);
			T_EQ_INT(cfs_content_plain_size(FHDR, l, a), -1);
			T_EQ_INT(cfs_content_plain_size(FHDR + o - 1, l, a), -1);
			T_EQ_INT(cfs_content_plain_size(FHDR + o, l, a), 0);
			T_EQ_INT(cfs_content_plain_size(FHDR + o + 1, l, a), 1);
			T_EQ_INT(cfs_content_plain_size(FHDR + o + C, l, a), C);
			/* a full chunk then fewer than ovh bytes: cut inside a chunk */
			T_EQ_INT(cfs_content_plain_size(FHDR + o + C + 1, l, a), -1);
			T_EQ_INT(cfs_content_plain_size(FHDR + o + C + o - 1, l, a), -1);
			/* a full chunk then an empty chunk: never written (an empty
			 * chunk only exists as the single chunk of an empty file) */
			T_EQ_INT(cfs_content_plain_size(FHDR + o + C + o, l, a), -1);
			T_EQ_INT(cfs_content_plain_size(FHDR + o + C + o + 1, l, a), C + 1);
			T_EQ_INT(cfs_content_plain_size(FHDR + 3 * (o + C), l, a), 3 * C);
			for (off_t s = 0; s < 5 * C; s += 997)
				T_EQ_INT(cfs_content_plain_size(cipher_size(s, (size_t)C, (size_t)o), l, a), s);
			/* sizes near the top of off_t must not overflow */
			off_t big = cfs_content_plain_size(INT64_MAX, l, a);
			T_CHECK(big == -1 || (big > 0 && big < INT64_MAX));
			big = cfs_content_plain_size(INT64_MAX - 5, l, a);
			T_CHECK(big == -1 || (big > 0 && big < INT64_MAX));
		}
	}
	/* nonsense chunk sizes are refused, not shifted out of range */
	T_EQ_INT(cfs_content_plain_size(FHDR + 40, 64, CFS_AEAD_XCHACHA), -1);
	T_EQ_INT(cfs_content_plain_size(FHDR + 40, -1, CFS_AEAD_XCHACHA), -1);
}

/* ---- round trips ---- */

static void check_read_whole(const struct cfg *c, struct cfs_file *f, const unsigned char *ref,
			     size_t size, struct cfs_scratch *s, const char *what)
{
	struct cfs_err e;
	unsigned char *got = malloc(size + 200);
	if (!got) {
		T_FAILF("out of memory");
		return;
	}
	memset(got, 0xA5, size + 200);
	ssize_t r = cfs_content_read(f, got, size + 100, 0, s, &e);
	CHECKF(r == (ssize_t)size, "%s %s size %zu: read returned %zd (%s)", c->name, what, size, r,
	       r < 0 ? em(&e) : "");
	CHECKF(r != (ssize_t)size || memcmp(got, ref, size) == 0, "%s %s size %zu: bytes differ", c->name,
	       what, size);
	CHECKF(got[size] == 0xA5, "%s %s: read wrote past the returned length", c->name, what);
	free(got);
}

static void check_read_at(const struct cfg *c, struct cfs_file *f, const unsigned char *ref,
			  size_t size, off_t off, size_t len, struct cfs_scratch *s)
{
	struct cfs_err e;
	unsigned char *got = malloc(len + 1);
	if (!got) {
		T_FAILF("out of memory");
		return;
	}
	ssize_t r = cfs_content_read(f, got, len, off, s, &e);
	size_t want = (size_t)off >= size ? 0 : (size - (size_t)off < len ? size - (size_t)off : len);
	CHECKF(r == (ssize_t)want, "%s size %zu read(%lld, %zu) = %zd, want %zu", c->name, size,
	       (long long)off, len, r, want);
	CHECKF(r != (ssize_t)want || want == 0 || memcmp(got, ref + off, want) == 0,
	       "%s size %zu read(%lld, %zu): bytes differ", c->name, size, (long long)off, len);
	free(got);
}

static void round_trip_one(const struct cfg *c, size_t size, int pieces)
{
	struct cfs_err e;
	struct cfs_scratch s = { 0 };
	size_t C = (size_t)1 << c->log2, o = ovh_of(c->aead);
	unsigned char *ref = malloc(size + 1);
	int fd = -1;
	struct cfs_file *f = create_file(c, &fd);
	CHECKF(f != NULL, "%s: create", c->name);
	if (!f || !ref) {
		free(ref);
		return;
	}
	fill_pattern(ref, size, size * 31 + (size_t)c->aead);
	if (!pieces) {
		ssize_t w = cfs_content_write(f, ref, size, 0, &s, &e);
		CHECKF(w == (ssize_t)size, "%s size %zu: write = %zd (%s)", c->name, size, w, w < 0 ? em(&e) : "");
	} else {
		/* odd-sized pieces, in order for pieces == 1, from the end backwards
		 * (every write but the first lands below EOF after a hole) for 2 */
		static const size_t step[] = { 1, 7, 4093, 13, 65537, 999, 4096, 3 };
		size_t cuts[4096], ncut = 0, p = 0;
		for (unsigned i = 0; p < size && ncut < 4095; i++) {
			cuts[ncut++] = p;
			p += step[i % 8];
		}
		cuts[ncut] = size;
		for (size_t j = 0; j < ncut; j++) {
			size_t i = pieces == 1 ? j : ncut - 1 - j;
			size_t a = cuts[i], b = i + 1 < ncut ? cuts[i + 1] : size;
			if (b > size)
				b = size;
			ssize_t w = cfs_content_write(f, ref + a, b - a, (off_t)a, &s, &e);
			if (w != (ssize_t)(b - a)) {
				T_FAILF("%s size %zu piece %zu at %zu: write = %zd (%s)", c->name, size, b - a, a,
					w, w < 0 ? em(&e) : "");
				break;
			}
		}
	}
	off_t ps = -1;
	T_EQ_INT(cfs_content_size(f, &ps), 0);
	CHECKF(ps == (off_t)size, "%s: size %lld, want %zu", c->name, (long long)ps, size);
	CHECKF(fd_size(fd) == cipher_size((off_t)size, C, o), "%s size %zu: ciphertext %lld bytes, want %lld",
	       c->name, size, (long long)fd_size(fd), (long long)cipher_size((off_t)size, C, o));
	check_read_whole(c, f, ref, size, &s, pieces ? "pieces" : "one call");
	/* odd offsets and lengths, including across chunk edges and past EOF */
	off_t offs[] = { 0, 1, 7, (off_t)C - 1, (off_t)C, (off_t)C + 1, (off_t)size / 3,
			 size ? (off_t)size - 1 : 0, (off_t)size, (off_t)size + 5 };
	size_t lens[] = { 1, 13, C - 1, C + 5, 3 * C + 17, size + 1 };
	for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++)
		for (size_t j = 0; j < sizeof lens / sizeof lens[0]; j++)
			check_read_at(c, f, ref, size, offs[i], lens[j], &s);
	/* reopen from the backing file alone and read again */
	cfs_content_close(f);
	f = NULL;
	int rc = cfs_content_open(fd, c->k, &f, &e);
	CHECKF(rc == 0, "%s: reopen: %s", c->name, em(&e));
	if (rc == 0) {
		check_read_whole(c, f, ref, size, &s, "reopened");
		rc = cfs_content_verify(f, &s, &e);
		CHECKF(rc == 0, "%s size %zu: verify: %s", c->name, size, em(&e));
		cfs_content_close(f);
	}
	close(fd);
	cfs_scratch_free(&s);
	free(ref);
}

static void test_round_trip(void)
{
	for (int ci = 0; ci < g_ncfg; ci++) {
		const struct cfg *c = &g_cfg[ci];
		size_t C = (size_t)1 << c->log2;
		size_t sizes[] = { 0, 1, 4095, 4096, 4097, 65536, (1u << 20) + 13, C - 1, C, C + 1, 2 * C,
				   3 * C - 1 };
		for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
			for (int pieces = 0; pieces <= 2; pieces++)
				round_trip_one(c, sizes[i], pieces);
	}
}

/* ---- edge arguments ---- */

static void test_edges(void)
{
	for (int ci = 0; ci < g_ncfg; ci++) {
		const struct cfg *c = &g_cfg[ci];
		struct cfs_err e;
		struct cfs_scratch s = { 0 };
		unsigned char b[64] = { 0 };
		int fd;
		struct cfs_file *f = create_file(c, &fd);
		if (!f) {
			T_FAILF("%s: create", c->name);
			continue;
		}
		off_t sz = -1;
		T_EQ_INT(cfs_content_size(f, &sz), 0);
		T_EQ_INT(sz, 0);
		T_EQ_INT(fd_size(fd), FHDR + (off_t)ovh_of(c->aead));
		T_EQ_INT(cfs_content_read(f, b, sizeof b, 0, &s, &e), 0);
		T_EQ_INT(cfs_content_read(f, b, sizeof b, 100, &s, &e), 0);
		T_EQ_INT(cfs_content_read(f, b, sizeof b, -1, &s, &e), -EINVAL);
		T_EQ_INT(cfs_content_write(f, b, 0, 50, &s, &e), 0);
		T_EQ_INT(cfs_content_size(f, &sz), 0);
		T_EQ_INT(sz, 0);
		T_EQ_INT(cfs_content_write(f, b, 10, -1, &s, &e), -EFBIG);
		T_EQ_INT(cfs_content_write(f, b, 10, INT64_MAX / 2, &s, &e), -EFBIG);
		T_EQ_INT(cfs_content_truncate(f, -1, &s, &e), -EINVAL);
		T_EQ_INT(cfs_content_truncate(f, INT64_MAX / 2 + 1, &s, &e), -EINVAL);
		T_EQ_INT(cfs_content_truncate(f, 0, &s, &e), 0);
		T_EQ_INT(fd_size(fd), FHDR + (off_t)ovh_of(c->aead));
		/* a write far past EOF leaves a hole that reads as zeros */
		memset(b, 'x', sizeof b);
		off_t far = 5 * ((off_t)1 << c->log2) + 123;
		T_EQ_INT(cfs_content_write(f, b, 3, far, &s, &e), 3);
		T_EQ_INT(cfs_content_size(f, &sz), 0);
		T_EQ_INT(sz, far + 3);
		unsigned char z[64];
		int allzero = 1;
		for (off_t o = 0; o < far; o += (off_t)sizeof z) {
			size_t n = far - o < (off_t)sizeof z ? (size_t)(far - o) : sizeof z;
			memset(z, 1, sizeof z);
			if (cfs_content_read(f, z, n, o, &s, &e) != (ssize_t)n) {
				allzero = 0;
				break;
			}
			for (size_t i = 0; i < n; i++)
				allzero &= z[i] == 0;
		}
		CHECKF(allzero, "%s: hole did not read as zeros", c->name);
		T_EQ_INT(cfs_content_read(f, z, 10, far, &s, &e), 3);
		T_CHECK(memcmp(z, "xxx", 3) == 0);
		T_EQ_INT(cfs_content_verify(f, &s, &e), 0);
		/* the same holds from a fresh scratch buffer (grown on demand) */
		struct cfs_scratch s2 = { 0 };
		memset(z, 0, sizeof z);
		T_EQ_INT(cfs_content_read(f, z, 10, far - 2, &s2, &e), 5);
		T_CHECK(memcmp(z, "\0\0xxx", 5) == 0);
		cfs_scratch_free(&s2);
		T_CHECK(s2.buf == NULL && s2.cap == 0);
		cfs_scratch_free(&s2); /* twice is harmless */
		cfs_content_close(f);
		cfs_content_close(NULL);
		close(fd);
		cfs_scratch_free(&s);
	}
}

/* ---- fsx ---- */

static void fsx_run(const struct cfg *c, uint64_t seed, int nops)
{
	struct cfs_err e;
	struct cfs_scratch s = { 0 };
	size_t C = (size_t)1 << c->log2, o = ovh_of(c->aead);
	size_t maxsz = 40 * C + 3 * C / 2;
	unsigned char *ref = calloc(1, maxsz + 1), *buf = malloc(maxsz + 1), *got = malloc(maxsz + 1);
	size_t size = 0;
	int fd = -1, counts[5] = { 0 };
	struct cfs_file *f = create_file(c, &fd);
	if (!f || !ref || !buf || !got) {
		T_FAILF("%s: fsx set-up failed", c->name);
		goto out;
	}
	uint64_t r = seed;
	for (int op = 0; op < nops; op++) {
		uint64_t kind = rnd(&r) % 100;
		char what[160];
		if (kind < 45) { /* write */
			off_t off;
			size_t len;
			switch (rnd(&r) % 5) {
			case 0: off = (off_t)(rnd(&r) % (size + 1)); break;                    /* inside */
			case 1: off = (off_t)(size + rnd(&r) % (3 * C)); break;                /* beyond: hole */
			case 2: off = (off_t)((rnd(&r) % (maxsz / C)) * C); break;              /* chunk start */
			case 3: off = (off_t)(size ? size - 1 - rnd(&r) % (size < 50 ? size : 50) : 0); break; /* near EOF */
			default: off = (off_t)(rnd(&r) % maxsz); break;
			}
			switch (rnd(&r) % 4) {
			case 0: len = 1 + rnd(&r) % 64; break;
			case 1: len = C; break;
			case 2: len = 1 + rnd(&r) % (3 * C); break;
			default: len = 1 + rnd(&r) % (12 * C); break;
			}
			if ((size_t)off >= maxsz)
				off = (off_t)(maxsz - 1);
			if ((size_t)off + len > maxsz)
				len = maxsz - (size_t)off;
			fill_pattern(buf, len, rnd(&r));
			snprintf(what, sizeof what, "op %d write(%lld, %zu) at size %zu", op, (long long)off, len, size);
			ssize_t w = cfs_content_write(f, buf, len, off, &s, &e);
			if (w != (ssize_t)len) {
				T_FAILF("%s fsx %s = %zd (%s)", c->name, what, w, w < 0 ? em(&e) : "");
				break;
			}
			if ((size_t)off > size)
				memset(ref + size, 0, (size_t)off - size);
			memcpy(ref + off, buf, len);
			if ((size_t)off + len > size)
				size = (size_t)off + len;
			counts[0]++;
		} else if (kind < 70) { /* truncate */
			size_t ns;
			switch (rnd(&r) % 6) {
			case 0: ns = 0; break;
			case 1: ns = (rnd(&r) % (maxsz / C)) * C; break;                    /* chunk boundary */
			case 2: ns = (rnd(&r) % (maxsz / C)) * C + 1; break;
			case 3: ns = (rnd(&r) % (maxsz / C) + 1) * C - 1; break;
			case 4: ns = size ? rnd(&r) % size : 0; break;                      /* down */
			default: ns = size + rnd(&r) % (4 * C); break;                      /* up */
			}
			if (ns > maxsz)
				ns = maxsz;
			snprintf(what, sizeof what, "op %d truncate(%zu) at size %zu", op, ns, size);
			int rc = cfs_content_truncate(f, (off_t)ns, &s, &e);
			if (rc != 0) {
				T_FAILF("%s fsx %s = %d (%s)", c->name, what, rc, em(&e));
				break;
			}
			if (ns > size)
				memset(ref + size, 0, ns - size);
			size = ns;
			counts[1]++;
		} else if (kind < 97) { /* read */
			off_t off = (off_t)(rnd(&r) % (size + 2 * C + 1));
			size_t len = rnd(&r) % 2 ? 1 + rnd(&r) % 100 : 1 + rnd(&r) % (5 * C);
			snprintf(what, sizeof what, "op %d read(%lld, %zu) at size %zu", op, (long long)off, len, size);
			ssize_t n = cfs_content_read(f, got, len, off, &s, &e);
			size_t want = (size_t)off >= size ? 0 : (size - (size_t)off < len ? size - (size_t)off : len);
			if (n != (ssize_t)want || (want && memcmp(got, ref + off, want) != 0)) {
				T_FAILF("%s fsx %s = %zd, want %zu%s", c->name, what, n, want,
					n == (ssize_t)want ? " (bytes differ)" : "");
				break;
			}
			counts[2]++;
		} else { /* reopen, sometimes with a fresh scratch buffer */
			snprintf(what, sizeof what, "op %d reopen at size %zu", op, size);
			cfs_content_close(f);
			f = NULL;
			if (cfs_content_open(fd, c->k, &f, &e) != 0) {
				T_FAILF("%s fsx %s: %s", c->name, what, em(&e));
				break;
			}
			if (rnd(&r) % 2)
				cfs_scratch_free(&s);
			if (cfs_content_verify(f, &s, &e) != 0) {
				T_FAILF("%s fsx %s: verify: %s", c->name, what, em(&e));
				break;
			}
			counts[3]++;
		}
		/* after every op: sizes agree, exact ciphertext size, whole content */
		off_t ps = -1;
		if (cfs_content_size(f, &ps) != 0 || ps != (off_t)size ||
		    cfs_content_plain_size(fd_size(fd), c->log2, c->aead) != (off_t)size ||
		    fd_size(fd) != cipher_size((off_t)size, C, o)) {
			T_FAILF("%s fsx after %s: size %lld / plain_size %lld / ciphertext %lld, want %zu / %lld",
				c->name, what, (long long)ps,
				(long long)cfs_content_plain_size(fd_size(fd), c->log2, c->aead),
				(long long)fd_size(fd), size, (long long)cipher_size((off_t)size, C, o));
			break;
		}
		ssize_t n = cfs_content_read(f, got, maxsz + 1, 0, &s, &e);
		if (n != (ssize_t)size || memcmp(got, ref, size) != 0) {
			size_t d = 0;
			while (n == (ssize_t)size && d < size && got[d] == ref[d])
				d++;
			T_FAILF("%s fsx after %s: whole read = %zd, want %zu; first difference at %zu (%s)",
				c->name, what, n, size, d, n < 0 ? em(&e) : "");
			break;
		}
		counts[4]++;
	}
	CHECKF(counts[4] == nops, "%s: only %d of %d ops checked", c->name, counts[4], nops);
	/* the loop must actually have exercised every kind of operation */
	CHECKF(counts[0] > nops / 3 && counts[1] > nops / 6 && counts[2] > nops / 6 && counts[3] > 10,
	       "%s: op mix %d/%d/%d/%d", c->name, counts[0], counts[1], counts[2], counts[3]);
out:
	cfs_content_close(f);
	if (fd >= 0)
		close(fd);
	cfs_scratch_free(&s);
	free(ref);
	free(buf);
	free(got);
}

static void test_fsx(void)
{
	for (int ci = 0; ci < g_ncfg; ci++)
		fsx_run(&g_cfg[ci], 0x9E3779B97F4A7C15ULL + (uint64_t)ci, g_cfg[ci].log2 == 12 ? 3000 : 1000);
}

/* ---- tamper ---- */

/* A pristine file of `size` bytes: returns its raw ciphertext and plaintext. */
static unsigned char *pristine(const struct cfg *c, size_t size, unsigned char **plain, size_t *rawlen)
{
	struct cfs_err e;
	struct cfs_scratch s = { 0 };
	int fd;
	unsigned char *raw = NULL;
	struct cfs_file *f = create_file(c, &fd);
	*plain = malloc(size + 1);
	if (f && *plain) {
		fill_pattern(*plain, size, 77 + size);
		if (cfs_content_write(f, *plain, size, 0, &s, &e) == (ssize_t)size)
			raw = slurp(fd, rawlen);
	}
	cfs_content_close(f);
	if (f)
		close(fd);
	cfs_scratch_free(&s);
	return raw;
}

/* Opening works but reading everything and verifying both give -EIO. */
static void expect_body_eio(const struct cfg *c, const unsigned char *raw, size_t len, const char *what)
{
	struct cfs_err e;
	struct cfs_scratch s = { 0 };
	struct cfs_file *f = NULL;
	int fd = fd_with(raw, len);
	if (fd < 0) {
		T_FAILF("fd_with");
		return;
	}
	int rc = cfs_content_open(fd, c->k, &f, &e);
	CHECKF(rc == 0, "%s %s: open = %d (%s)", c->name, what, rc, em(&e));
	if (rc == 0) {
		size_t cap = len + 4096;
		unsigned char *b = malloc(cap);
		if (b) {
			memset(b, 0, cap);
			e.msg[0] = 0;
			ssize_t r = cfs_content_read(f, b, cap, 0, &s, &e);
			CHECKF(r == -EIO, "%s %s: read = %zd, want -EIO", c->name, what, r);
			CHECKF(e.msg[0] != 0, "%s %s: read gave no message", c->name, what);
			free(b);
		}
		rc = cfs_content_verify(f, &s, &e);
		CHECKF(rc == -EIO, "%s %s: verify = %d, want -EIO", c->name, what, rc);
		cfs_content_close(f);
	}
	close(fd);
	cfs_scratch_free(&s);
}

static void expect_open_fails(const struct cfg *c, const unsigned char *raw, size_t len, const char *what)
{
	struct cfs_err e;
	struct cfs_file *f = (struct cfs_file *)&e; /* sentinel: must be left alone */
	int fd = fd_with(raw, len);
	if (fd < 0) {
		T_FAILF("fd_with");
		return;
	}
	e.msg[0] = 0;
	int rc = cfs_content_open(fd, c->k, &f, &e);
	CHECKF(rc == -EIO, "%s %s: open = %d, want -EIO", c->name, what, rc);
	CHECKF(f == (struct cfs_file *)&e, "%s %s: open set *out on failure", c->name, what);
	CHECKF(rc == 0 || e.msg[0] != 0, "%s %s: no message", c->name, what);
	if (rc == 0)
		cfs_content_close(f);
	close(fd);
}

static void test_tamper(void)
{
	for (int ci = 0; ci < g_ncfg; ci++) {
		const struct cfg *c = &g_cfg[ci];
		size_t C = (size_t)1 << c->log2, o = ovh_of(c->aead), cs = C + o;
		size_t size = 3 * C + 1000, len = 0, blen = 0;
		unsigned char *plain = NULL, *plain2 = NULL;
		unsigned char *raw = pristine(c, size, &plain, &len);
		unsigned char *w = malloc(len + 2 * cs);
		if (!raw || !w) {
			T_FAILF("%s: pristine file", c->name);
			free(raw); free(w); free(plain);
			continue;
		}
		T_EQ_INT(len, FHDR + 3 * cs + 1000 + o);
		/* control: the untouched copy reads fine */
		{
			struct cfs_err e;
			struct cfs_scratch s = { 0 };
			struct cfs_file *f = NULL;
			int fd = fd_with(raw, len);
			unsigned char *b = malloc(size);
			T_EQ_INT(cfs_content_open(fd, c->k, &f, &e), 0);
			if (f && b) {
				T_EQ_INT(cfs_content_read(f, b, size, 0, &s, &e), size);
				T_CHECK(memcmp(b, plain, size) == 0);
				T_EQ_INT(cfs_content_verify(f, &s, &e), 0);
			}
			free(b);
			cfs_content_close(f);
			close(fd);
			cfs_scratch_free(&s);
		}
		size_t c0 = FHDR, c1 = FHDR + cs, c3 = FHDR + 3 * cs;
		/* a flipped bit in the nonce, the ciphertext and the tag of chunk 1 */
		size_t flips[] = { c1, c1 + o - 17, c1 + 100, c1 + cs - 1, c3 + 5, len - 1, c0 };
		for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
			char what[64];
			memcpy(w, raw, len);
			w[flips[i]] ^= 0x01;
			snprintf(what, sizeof what, "bit flip at %zu", flips[i]);
			expect_body_eio(c, w, len, what);
		}
		/* a targeted read of only the flipped chunk fails, others still work */
		{
			struct cfs_err e;
			struct cfs_scratch s = { 0 };
			struct cfs_file *f = NULL;
			unsigned char b[64];
			memcpy(w, raw, len);
			w[c1 + 200] ^= 0x80;
			int fd = fd_with(w, len);
			T_EQ_INT(cfs_content_open(fd, c->k, &f, &e), 0);
			if (f) {
				T_EQ_INT(cfs_content_read(f, b, 10, (off_t)C + 5, &s, &e), -EIO);
				T_CONTAINS(em(&e), "chunk 1");
				T_EQ_INT(cfs_content_read(f, b, 10, (off_t)C - 5, &s, &e), -EIO);
				T_EQ_INT(cfs_content_read(f, b, 10, 5, &s, &e), 10);
				T_CHECK(memcmp(b, plain + 5, 10) == 0);
				/* a write that must merge with the bad chunk fails too */
				T_EQ_INT(cfs_content_write(f, "ab", 2, (off_t)C + 7, &s, &e), -EIO);
				T_EQ_INT(cfs_content_verify(f, &s, &e), -EIO);
				T_CONTAINS(em(&e), "chunk 1 of 4");
			}
			cfs_content_close(f);
			close(fd);
			cfs_scratch_free(&s);
		}
		/* two chunks swapped */
		memcpy(w, raw, len);
		memcpy(w + c0, raw + c1, cs);
		memcpy(w + c1, raw + c0, cs);
		expect_body_eio(c, w, len, "chunks 0 and 1 swapped");
		/* the last chunk dropped: the file now ends at a chunk boundary */
		expect_body_eio(c, raw, c3, "last chunk dropped");
		/* cut inside a chunk: in the last chunk, in a middle one, and before
		 * an ovh's worth of the last chunk remains */
		expect_body_eio(c, raw, len - 1, "last byte cut");
		expect_body_eio(c, raw, len - 10, "cut inside the last chunk");
		expect_body_eio(c, raw, c1 + 100, "cut inside chunk 1");
		expect_body_eio(c, raw, c3 + o - 1, "cut inside the last chunk's overhead");
		/* all chunks dropped (header only) and the body cut to nothing */
		expect_body_eio(c, raw, FHDR + 5, "body of 5 bytes");
		{
			struct cfs_err e;
			struct cfs_file *f = NULL;
			struct cfs_scratch s = { 0 };
			unsigned char b[16];
			off_t sz;
			int fd = fd_with(raw, FHDR);
			T_EQ_INT(cfs_content_open(fd, c->k, &f, &e), 0);
			if (f) {
				T_EQ_INT(cfs_content_size(f, &sz), -EIO);
				T_EQ_INT(cfs_content_read(f, b, sizeof b, 0, &s, &e), -EIO);
				T_EQ_INT(cfs_content_verify(f, &s, &e), -EIO);
				T_EQ_INT(cfs_content_write(f, b, sizeof b, 0, &s, &e), -EIO);
				T_EQ_INT(cfs_content_truncate(f, 0, &s, &e), -EIO);
			}
			cfs_content_close(f);
			close(fd);
			cfs_scratch_free(&s);
		}
		/* a read at the new end of a file cut at a chunk boundary fails:
		 * EOF is only reported on the word of a chunk sealed as last */
		{
			struct cfs_err e;
			struct cfs_file *f = NULL;
			struct cfs_scratch s = { 0 };
			unsigned char b[16];
			int fd = fd_with(raw, c3);
			T_EQ_INT(cfs_content_open(fd, c->k, &f, &e), 0);
			if (f) {
				T_EQ_INT(cfs_content_read(f, b, sizeof b, 0, &s, &e), sizeof b); /* authentic */
				T_EQ_INT(cfs_content_read(f, b, sizeof b, (off_t)(3 * C), &s, &e), -EIO);
				T_CONTAINS(em(&e), "chunk 2");
				T_EQ_INT(cfs_content_read(f, b, sizeof b, (off_t)(9 * C), &s, &e), -EIO);
				T_EQ_INT(cfs_content_read(f, b, 0, (off_t)(3 * C), &s, &e), 0);
			}
			cfs_content_close(f);
			close(fd);
			cfs_scratch_free(&s);
		}
		/* an emptied file: the body replaced by an empty chunk's worth of
		 * bytes (zeros, or the tail of the real last chunk) does not read
		 * as a genuine empty file */
		{
			unsigned char *e0 = malloc(FHDR + o);
			if (e0) {
				memcpy(e0, raw, FHDR);
				memset(e0 + FHDR, 0, o);
				expect_body_eio(c, e0, FHDR + o, "body replaced by ovh zero bytes");
				memcpy(e0 + FHDR, raw + len - o, o);
				expect_body_eio(c, e0, FHDR + o, "body replaced by ovh bytes of the tail");
				free(e0);
			}
		}
		/* and a genuine empty file whose empty chunk is edited */
		{
			unsigned char *p0 = NULL;
			size_t l0 = 0;
			unsigned char *r0 = pristine(c, 0, &p0, &l0);
			T_EQ_INT(l0, FHDR + o);
			if (r0) {
				r0[FHDR + o - 1] ^= 1;
				expect_body_eio(c, r0, l0, "empty file, tag of its empty chunk flipped");
				r0[FHDR + o - 1] ^= 1;
				r0[FHDR] ^= 1;
				expect_body_eio(c, r0, l0, "empty file, nonce of its empty chunk flipped");
			}
			free(r0);
			free(p0);
		}
		/* a zeroed chunk is not a hole: in the middle and at the end */
		memcpy(w, raw, len);
		memset(w + c1, 0, cs);
		expect_body_eio(c, w, len, "chunk 1 zeroed");
		memcpy(w, raw, len);
		memset(w + c3, 0, len - c3);
		expect_body_eio(c, w, len, "last chunk zeroed");
		/* zeros appended as a whole (sparse) chunk */
		memcpy(w, raw, len);
		memset(w + len, 0, cs);
		expect_body_eio(c, w, len + cs, "zero chunk appended");
		/* an appended copy of the last chunk */
		memcpy(w, raw, len);
		memcpy(w + len, raw + c3, len - c3);
		expect_body_eio(c, w, len + (len - c3), "last chunk appended twice");
		/* an appended copy of a full chunk */
		memcpy(w, raw, len);
		memcpy(w + len, raw + c1, cs);
		expect_body_eio(c, w, len + cs, "full chunk appended");
		/* a file ending on a full chunk with an ovh's worth of bytes added
		 * (the size of an empty chunk): zeros, and the old tail again */
		{
			unsigned char *p3 = NULL;
			size_t l3 = 0;
			unsigned char *r3 = pristine(c, 2 * C, &p3, &l3);
			unsigned char *w3 = r3 ? malloc(l3 + o) : NULL;
			T_EQ_INT(l3, FHDR + 2 * cs);
			if (w3) {
				memcpy(w3, r3, l3);
				memset(w3 + l3, 0, o);
				expect_body_eio(c, w3, l3 + o, "empty chunk of zeros appended");
				memcpy(w3 + l3, r3 + l3 - o, o);
				expect_body_eio(c, w3, l3 + o, "ovh bytes of the tail appended");
				expect_body_eio(c, r3, l3 - cs, "one of two full chunks dropped");
			}
			free(w3);
			free(r3);
			free(p3);
		}
		/* the same chunk index from another file (same keys): other file key */
		{
			unsigned char *r2 = pristine(c, size, &plain2, &blen);
			if (r2 && blen == len) {
				memcpy(w, raw, len);
				memcpy(w + c1, r2 + c1, cs);
				expect_body_eio(c, w, len, "chunk 1 from another file");
				/* the other file's header on this body: reads fail */
				memcpy(w, raw, len);
				memcpy(w, r2, FHDR);
				expect_body_eio(c, w, len, "header from another file");
			} else {
				T_FAILF("%s: second pristine file", c->name);
			}
			free(r2);
		}
		/* the file header: every field, each -> cfs_content_open fails */
		struct { size_t off; const char *what; } hf[] = {
			{ 0, "magic" }, { 3, "magic" }, { 4, "version" }, { 5, "cipher" }, { 6, "chunk size" },
			{ 7, "flags" }, { 8, "file id" }, { 23, "file id" }, { 24, "meta_len" }, { 25, "meta_len" },
			{ 26, "reserved" }, { 31, "reserved" }, { 32, "header version" }, { 39, "header version" },
			{ 40, "nonce" }, { 63, "nonce" },
			{ 64, "meta ciphertext/tag" }, { 79, "meta tag" }, { 80, "padding" }, { 500, "padding" },
			{ FHDR - 1, "padding" },
		};
		for (size_t i = 0; i < sizeof hf / sizeof hf[0]; i++) {
			char what[64];
			for (int bit = 0; bit < 8; bit += 7) {
				memcpy(w, raw, len);
				w[hf[i].off] ^= (unsigned char)(1u << bit);
				snprintf(what, sizeof what, "header %s byte %zu bit %d", hf[i].what, hf[i].off, bit);
				expect_open_fails(c, w, len, what);
			}
		}
		/* cipher switched to the other valid value: authenticated, so it fails */
		memcpy(w, raw, len);
		w[5] = (unsigned char)(c->aead == CFS_AEAD_XCHACHA ? CFS_AEAD_AESGCM : CFS_AEAD_XCHACHA);
		expect_open_fails(c, w, len, "header cipher swapped");
		/* a truncated header, an empty file, a header of zeros */
		expect_open_fails(c, raw, FHDR - 1, "header cut by one byte");
		expect_open_fails(c, raw, 0, "empty file");
		memset(w, 0, len);
		expect_open_fails(c, w, len, "all zeros");
		/* keys of another store cannot open it */
		{
			const struct cfg *other = &g_cfg[(ci + 1) % g_ncfg];
			if (other->log2 == c->log2) {
				struct cfs_err e;
				struct cfs_file *f = NULL;
				int fd = fd_with(raw, len);
				T_EQ_INT(cfs_content_open(fd, other->k, &f, &e), -EIO);
				T_CONTAINS(em(&e), other->aead == c->aead ? "authentication" : "cipher");
				T_CHECK(f == NULL);
				close(fd);
			}
		}
		free(raw);
		free(w);
		free(plain);
		free(plain2);
	}
}

/* A write that fails half-way (here: the file size limit, as a full disk
 * would) leaves a file that grows exactly as it was: same bytes, readable,
 * verifiable. RLIMIT_FSIZE makes pwrite past the limit fail with EFBIG
 * (SIGXFSZ ignored); the soft limit is put back afterwards. */
static void test_write_failure(void)
{
	struct rlimit old;
	if (getrlimit(RLIMIT_FSIZE, &old) != 0 || signal(SIGXFSZ, SIG_IGN) == SIG_ERR) {
		T_FAILF("rlimit set-up");
		return;
	}
	for (int ci = 0; ci < g_ncfg; ci++) {
		const struct cfg *c = &g_cfg[ci];
		size_t C = (size_t)1 << c->log2;
		struct {
			size_t size;      /* the file before */
			size_t off, len;  /* the write; len 0 = truncate up to off */
			size_t room;      /* ciphertext bytes allowed past the current size */
			int mid;          /* the write starts inside the old data */
		} cases[] = {
			{ 10000, 10000, 100000, 5000, 0 },               /* append, fails in batch 1 */
			{ 10000, 10000, 3u << 20, 2u << 20, 0 },         /* append, batch 1 lands, batch 2 fails */
			{ 10000, 5000, 3u << 20, (3u << 20) / 2, 1 },    /* from inside the file */
			{ 4 * C, 4 * C, 70000, 100, 0 },                 /* old last chunk full */
			{ 0, 0, 5 * C, 1000, 0 },                        /* empty file */
			{ 10000, 9u << 20, 10, 1u << 20, 0 },            /* hole far past EOF */
			{ 10000, 5u << 20, 0, 1u << 20, 0 },             /* truncate up */
		};
		for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
			struct cfs_err e;
			struct cfs_scratch s = { 0 };
			size_t size = cases[k].size, len0 = 0;
			unsigned char *plain = NULL;
			unsigned char *raw = pristine(c, size, &plain, &len0);
			unsigned char *data = malloc(cases[k].len + 1);
			int fd = raw ? fd_with(raw, len0) : -1;
			struct cfs_file *f = NULL;
			if (fd < 0 || !data || cfs_content_open(fd, c->k, &f, &e) != 0) {
				T_FAILF("%s case %zu: set-up", c->name, k);
				goto next;
			}
			memset(data, 'n', cases[k].len);
			struct rlimit lim = old;
			lim.rlim_cur = (rlim_t)(len0 + cases[k].room);
			if (setrlimit(RLIMIT_FSIZE, &lim) != 0) {
				T_FAILF("setrlimit");
				goto next;
			}
			e.msg[0] = 0;
			ssize_t r = cases[k].len
					    ? cfs_content_write(f, data, cases[k].len, (off_t)cases[k].off, &s, &e)
					    : cfs_content_truncate(f, (off_t)cases[k].off, &s, &e);
			setrlimit(RLIMIT_FSIZE, &old);
			CHECKF(r == -EFBIG, "%s case %zu: write = %zd (%s)", c->name, k, r, em(&e));
			CHECKF(strstr(e.msg, "put back") == NULL, "%s case %zu: %s", c->name, k, em(&e));
			off_t sz = -1;
			T_EQ_INT(cfs_content_size(f, &sz), 0);
			CHECKF(sz == (off_t)size, "%s case %zu: size %lld, want %zu", c->name, k, (long long)sz, size);
			T_EQ_INT(fd_size(fd), len0);
			T_EQ_INT(cfs_content_verify(f, &s, &e), 0);
			if (!cases[k].mid) { /* nothing of the write landed: bit for bit */
				size_t l1 = 0;
				unsigned char *now = slurp(fd, &l1);
				CHECKF(now && l1 == len0 && memcmp(now, raw, len0) == 0, "%s case %zu: bytes differ",
				       c->name, k);
				free(now);
			} else { /* chunks before the write are the old ones */
				unsigned char b[4096];
				T_EQ_INT(cfs_content_read(f, b, 4096, 0, &s, &e), 4096);
				T_CHECK(memcmp(b, plain, 4096) == 0);
			}
			/* and the file still takes the write once there is room */
			if (cases[k].len) {
				T_EQ_INT(cfs_content_write(f, data, cases[k].len, (off_t)cases[k].off, &s, &e),
					 cases[k].len);
			} else {
				T_EQ_INT(cfs_content_truncate(f, (off_t)cases[k].off, &s, &e), 0);
			}
			T_EQ_INT(cfs_content_verify(f, &s, &e), 0);
		next:
			cfs_content_close(f);
			if (fd >= 0)
				close(fd);
			cfs_scratch_free(&s);
			free(raw);
			free(plain);
			free(data);
		}
	}
	signal(SIGXFSZ, SIG_DFL);
}

/* The header's chunk size must match the store's. */
static void test_chunk_size_mismatch(void)
{
	const struct cfg *a = NULL, *b = NULL;
	for (int i = 0; i < g_ncfg; i++) {
		if (g_cfg[i].log2 == 12 && !a)
			a = &g_cfg[i];
		if (g_cfg[i].log2 == 16 && !b)
			b = &g_cfg[i];
	}
	if (!a || !b) {
		T_FAILF("configurations missing");
		return;
	}
	struct cfs_err e;
	struct cfs_file *f = NULL;
	int fd;
	struct cfs_file *g = create_file(a, &fd);
	T_CHECK(g != NULL);
	cfs_content_close(g);
	T_EQ_INT(cfs_content_open(fd, b->k, &f, &e), -EIO);
	T_CONTAINS(em(&e), "chunk size");
	T_CHECK(f == NULL);
	close(fd);
}

/* One cipher per store: sizes are derived from the store's cipher without
 * reading headers, so a file sealed under the other cipher is refused. */
static void test_per_file_cipher(void)
{
	for (int ci = 0; ci < g_ncfg; ci++) {
		const struct cfg *c = &g_cfg[ci];
		struct cfs_err e;
		struct cfs_scratch s = { 0 };
		struct cfs_keys *alt = sodium_malloc(sizeof *alt);
		if (!alt) {
			T_FAILF("sodium_malloc");
			return;
		}
		memcpy(alt, c->k, sizeof *alt);
		alt->aead = c->aead == CFS_AEAD_XCHACHA ? CFS_AEAD_AESGCM : CFS_AEAD_XCHACHA;
		int fd = new_fd();
		struct cfs_file *f = NULL;
		T_EQ_INT(cfs_content_create(fd, alt, NULL, 0, &f, &e), 0);
		if (f) {
			T_EQ_INT(cfs_content_write(f, "other cipher", 12, 4090, &s, &e), 12);
			cfs_content_close(f);
			f = NULL;
		}
		T_EQ_INT(cfs_content_open(fd, c->k, &f, &e), -EIO);
		T_CONTAINS(em(&e), "cipher");
		T_CHECK(f == NULL);
		close(fd);
		cfs_scratch_free(&s);
		sodium_free(alt);
	}
}

/* ---- no plaintext in the backing file ---- */

static int contains(const unsigned char *hay, size_t n, const void *needle, size_t m)
{
	return memmem(hay, n, needle, m) != NULL;
}

static void test_no_plaintext(void)
{
	static const char marker[33] = "COACHFS-MARKER:playbook-7f3a9c1!"; /* 32 bytes */
	for (int ci = 0; ci < g_ncfg; ci++) {
		const struct cfg *c = &g_cfg[ci];
		struct cfs_err e;
		struct cfs_scratch s = { 0 };
		int fd;
		struct cfs_file *f = create_file(c, &fd);
		if (!f) {
			T_FAILF("%s: create", c->name);
			continue;
		}
		size_t n = 4000;
		unsigned char *p = malloc(n * 32);
		for (size_t i = 0; p && i < n; i++)
			memcpy(p + i * 32, marker, 32);
		/* at every alignment, in one call and in pieces, plus a meta value */
		T_EQ_INT(cfs_content_write(f, p, n * 32, 0, &s, &e), n * 32);
		for (size_t i = 0; i < 64; i++)
			T_EQ_INT(cfs_content_write(f, marker, 32, (off_t)(n * 32 + i * 33 + i % 7), &s, &e), 32);
		T_EQ_INT(cfs_content_write(f, p, 5 * 4096, (off_t)((1u << c->log2) - 3), &s, &e), 5 * 4096);
		T_EQ_INT(cfs_content_truncate(f, (off_t)(n * 32 + 5000), &s, &e), 0);
		unsigned char meta[CFS_META_MAX];
		size_t ml = 0;
		T_EQ_INT(cfs_meta_set(meta, &ml, sizeof meta, "user.note", marker, 32), 0);
		T_EQ_INT(cfs_content_set_meta(f, meta, ml, &e), 0);
		size_t len = 0;
		unsigned char *raw = slurp(fd, &len);
		T_CHECK(raw != NULL && len > n * 32);
		if (raw) {
			CHECKF(!contains(raw, len, marker, 32), "%s: marker in the ciphertext", c->name);
			CHECKF(!contains(raw, len, marker, 8), "%s: 8 bytes of the marker in the ciphertext", c->name);
			CHECKF(!contains(raw, len, marker + 16, 8), "%s: marker tail in the ciphertext", c->name);
			CHECKF(!contains(raw, len, "user.note", 9), "%s: attribute name in the header", c->name);
		}
		/* and the marker does read back */
		unsigned char b[32];
		T_EQ_INT(cfs_content_read(f, b, 32, 32 * 17, &s, &e), 32);
		T_CHECK(memcmp(b, marker, 32) == 0);
		free(raw);
		free(p);
		cfs_content_close(f);
		close(fd);
		cfs_scratch_free(&s);
	}
}

/* ---- the attribute block ---- */

static void test_meta_basic(void)
{
	unsigned char m[CFS_META_MAX] = { 0 };
	size_t len = 0;
	const unsigned char *v = NULL;
	size_t vl = 0;
	char names[128];

	T_EQ_INT(cfs_meta_valid(m, 0), 0);
	T_EQ_INT(cfs_meta_list(m, 0, names, sizeof names), 0);
	T_EQ_INT(cfs_meta_get(m, 0, "user.a", &v, &vl), -ENODATA);
	T_EQ_INT(cfs_meta_remove(m, &len, "user.a"), -ENODATA);

	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "user.a", "1", 1), 0);
	T_EQ_INT(len, 3 + 6 + 1);
	T_CHECK(memcmp(m, "\x06\x01\x00user.a1", 10) == 0); /* the documented encoding */
	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "coach.class", "restricted", 10), 0);
	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "user.empty", "", 0), 0);
	T_EQ_INT(len, 10 + 3 + 11 + 10 + 3 + 10);
	T_EQ_INT(cfs_meta_valid(m, len), 0);

	T_EQ_INT(cfs_meta_get(m, len, "coach.class", &v, &vl), 0);
	T_EQ_INT(vl, 10);
	T_CHECK(memcmp(v, "restricted", 10) == 0);
	T_EQ_INT(cfs_meta_get(m, len, "user.empty", &v, &vl), 0);
	T_EQ_INT(vl, 0);
	T_EQ_INT(cfs_meta_get(m, len, "user", &v, &vl), -ENODATA);     /* no prefix match */
	T_EQ_INT(cfs_meta_get(m, len, "user.aa", &v, &vl), -ENODATA);
	T_EQ_INT(cfs_meta_get(m, len, "", &v, &vl), -ENODATA);

	/* list: bytes needed, names NUL-separated in insertion order */
	T_EQ_INT(cfs_meta_list(m, len, NULL, 0), 7 + 12 + 11);
	memset(names, 'Z', sizeof names);
	T_EQ_INT(cfs_meta_list(m, len, names, sizeof names), 30);
	T_CHECK(memcmp(names, "user.a\0coach.class\0user.empty\0", 30) == 0);
	T_EQ_INT(names[30], 'Z');
	memset(names, 'Z', sizeof names);
	T_EQ_INT(cfs_meta_list(m, len, names, 10), 30);               /* too small: reports need */
	T_CHECK(memcmp(names, "user.a\0", 7) == 0);
	T_EQ_INT(names[7], 'Z');                                       /* never past cap */

	/* replacing a value moves the entry to the end with the new value */
	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "user.a", "second", 6), 0);
	T_EQ_INT(cfs_meta_get(m, len, "user.a", &v, &vl), 0);
	T_EQ_INT(vl, 6);
	T_CHECK(memcmp(v, "second", 6) == 0);
	T_EQ_INT(len, 3 + 11 + 10 + 3 + 10 + 3 + 6 + 6);
	T_EQ_INT(cfs_meta_list(m, len, names, sizeof names), 30);
	T_CHECK(memcmp(names, "coach.class\0user.empty\0user.a\0", 30) == 0);

	T_EQ_INT(cfs_meta_remove(m, &len, "coach.class"), 0);
	T_EQ_INT(cfs_meta_get(m, len, "coach.class", &v, &vl), -ENODATA);
	T_EQ_INT(cfs_meta_remove(m, &len, "coach.class"), -ENODATA);
	T_EQ_INT(len, 3 + 10 + 3 + 6 + 6);
	T_EQ_INT(cfs_meta_remove(m, &len, "user.empty"), 0);
	T_EQ_INT(cfs_meta_remove(m, &len, "user.a"), 0);
	T_EQ_INT(len, 0);

	/* names: 1..255 bytes; values up to 65535 */
	char n255[256], n256[257];
	memset(n255, 'n', 255); n255[255] = 0;
	memset(n256, 'n', 256); n256[256] = 0;
	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "", "x", 1), -EINVAL);
	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, n256, "x", 1), -EINVAL);
	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, n255, "x", 1), 0);
	T_EQ_INT(cfs_meta_get(m, len, n255, &v, &vl), 0);
	T_EQ_INT(vl, 1);
	static unsigned char big[70000], bval[65536];
	size_t blen = 0;
	T_EQ_INT(cfs_meta_set(big, &blen, sizeof big, "v", bval, 65536), -EINVAL);
	T_EQ_INT(cfs_meta_set(big, &blen, sizeof big, "v", bval, 65535), 0);
	T_EQ_INT(blen, 3 + 1 + 65535);
	T_EQ_INT(cfs_meta_get(big, blen, "v", &v, &vl), 0);
	T_EQ_INT(vl, 65535);
}

/* A value taken from the block itself (cfs_meta_get's pointer) can be set
 * under another name even when the set has to move entries around. */
static void test_meta_self_alias(void)
{
	unsigned char m[256];
	size_t len = 0;
	const unsigned char *v;
	size_t vl;
	/* b's entry is shorter than a's, so the new b overlaps where a's value was */
	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "b", "1", 1), 0);
	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "a", "value-of-a", 10), 0);
	T_EQ_INT(cfs_meta_get(m, len, "a", &v, &vl), 0);
	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "b", v, vl), 0);    /* b is before a */
	T_EQ_INT(cfs_meta_get(m, len, "b", &v, &vl), 0);
	T_EQ_INT(vl, 10);
	T_CHECK(memcmp(v, "value-of-a", 10) == 0);
	T_EQ_INT(cfs_meta_get(m, len, "a", &v, &vl), 0);
	T_CHECK(vl == 10 && memcmp(v, "value-of-a", 10) == 0);
	/* and onto itself */
	T_EQ_INT(cfs_meta_get(m, len, "b", &v, &vl), 0);
	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "b", v, vl), 0);
	T_EQ_INT(cfs_meta_get(m, len, "b", &v, &vl), 0);
	T_CHECK(vl == 10 && memcmp(v, "value-of-a", 10) == 0);
	T_EQ_INT(len, 2 * (3 + 1 + 10));
}

static void test_meta_full(void)
{
	unsigned char m[64], before[64];
	size_t len = 0, blen;
	/* 3 + 6 + 20 = 29; two of them 58; a third does not fit in 64 */
	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "user.a", "aaaaaaaaaaaaaaaaaaaa", 20), 0);
	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "user.b", "bbbbbbbbbbbbbbbbbbbb", 20), 0);
	T_EQ_INT(len, 58);
	memcpy(before, m, sizeof m);
	blen = len;
	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "user.c", "c", 1), -ENOSPC);
	T_EQ_INT(len, blen);
	T_CHECK(memcmp(m, before, sizeof m) == 0);
	/* replacing with a value that would not fit: unchanged, old value kept */
	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "user.a", "aaaaaaaaaaaaaaaaaaaaaaaaaaaa", 27), -ENOSPC);
	T_EQ_INT(len, blen);
	T_CHECK(memcmp(m, before, sizeof m) == 0);
	/* exactly full is fine: 58 - 20 + 26 = 64 */
	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "user.a", "aaaaaaaaaaaaaaaaaaaaaaaaaa", 26), 0);
	T_EQ_INT(len, 64);
	/* a 3-byte entry header alone does not fit any more */
	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "x", "", 0), -ENOSPC);
	T_EQ_INT(len, 64);
	const unsigned char *v;
	size_t vl;
	T_EQ_INT(cfs_meta_get(m, len, "user.b", &v, &vl), 0);
	T_CHECK(vl == 20 && memcmp(v, "bbbbbbbbbbbbbbbbbbbb", 20) == 0);
}

static void test_meta_malformed(void)
{
	struct { const char *b; size_t n; const char *what; } bad[] = {
		{ "\x01", 1, "one byte" },
		{ "\x01\x00", 2, "two bytes" },
		{ "\x00\x00\x00", 3, "empty name" },
		{ "\x02\x00\x00" "a", 4, "name runs past the end" },
		{ "\x01\x05\x00" "a" "abcd", 8, "value runs past the end" },
		{ "\x01\xff\xff" "a", 4, "huge value length" },
		{ "\x02\x00\x00" "a\0", 5, "NUL in a name" },
		{ "\x01\x01\x00" "ax" "\x01", 6, "trailing garbage" },
		{ "\x01\x01\x00" "ax" "\x01\x01\x00" "ay", 10, "duplicate name" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsigned char m[64], before[64];
		size_t len = bad[i].n;
		const unsigned char *v = NULL;
		size_t vl = 0;
		char out[64];
		memset(m, 0, sizeof m);
		memcpy(m, bad[i].b, bad[i].n);
		memcpy(before, m, sizeof m);
		CHECKF(cfs_meta_valid(m, len) == -EIO, "valid: %s", bad[i].what);
		CHECKF(cfs_meta_get(m, len, "a", &v, &vl) == -EIO, "get: %s", bad[i].what);
		CHECKF(cfs_meta_list(m, len, out, sizeof out) == -EIO, "list: %s", bad[i].what);
		CHECKF(cfs_meta_remove(m, &len, "a") == -EIO, "remove: %s", bad[i].what);
		CHECKF(cfs_meta_set(m, &len, sizeof m, "b", "v", 1) == -EIO, "set: %s", bad[i].what);
		CHECKF(len == bad[i].n && memcmp(m, before, sizeof m) == 0, "changed: %s", bad[i].what);
		/* and a file cannot be created with it */
		struct cfs_err e;
		struct cfs_file *f = NULL;
		int fd = new_fd();
		CHECKF(cfs_content_create(fd, g_cfg[0].k, m, len, &f, &e) == -EINVAL, "create: %s", bad[i].what);
		T_CHECK(f == NULL);
		close(fd);
	}
	/* well-formed edge: a single entry with a 0-length value and 1-byte name */
	T_EQ_INT(cfs_meta_valid((const unsigned char *)"\x01\x00\x00" "a", 4), 0);
}

static void test_meta_in_file(void)
{
	for (int ci = 0; ci < g_ncfg; ci++) {
		const struct cfg *c = &g_cfg[ci];
		struct cfs_err e;
		struct cfs_scratch s = { 0 };
		unsigned char m[CFS_META_MAX];
		size_t len = 0;
		T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "coach.class", "secret", 6), 0);
		int fd = new_fd();
		struct cfs_file *f = NULL;
		T_EQ_INT(cfs_content_create(fd, c->k, m, len, &f, &e), 0);
		if (!f) {
			close(fd);
			continue;
		}
		T_EQ_INT(cfs_content_write(f, "body", 4, 0, &s, &e), 4);
		T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "user.x", "42", 2), 0);
		T_EQ_INT(cfs_content_set_meta(f, m, len, &e), 0);
		T_EQ_INT(f->meta_len, len);
		cfs_content_close(f);
		f = NULL;
		T_EQ_INT(cfs_content_open(fd, c->k, &f, &e), 0);
		if (f) {
			const unsigned char *v;
			size_t vl;
			T_EQ_INT(f->meta_len, len);
			T_CHECK(memcmp(f->meta, m, len) == 0);
			T_EQ_INT(cfs_meta_get(f->meta, f->meta_len, "user.x", &v, &vl), 0);
			T_CHECK(vl == 2 && memcmp(v, "42", 2) == 0);
			char b[8] = { 0 };
			T_EQ_INT(cfs_content_read(f, b, sizeof b, 0, &s, &e), 4);
			T_EQ_STR(b, "body");
			/* edited in place in f->meta, then stored */
			size_t ml = f->meta_len;
			T_EQ_INT(cfs_meta_remove(f->meta, &ml, "coach.class"), 0);
			T_EQ_INT(cfs_content_set_meta(f, f->meta, ml, &e), 0);
			/* the largest block that fits */
			unsigned char full[CFS_META_MAX];
			size_t fl = 0;
			T_EQ_INT(cfs_meta_set(full, &fl, sizeof full, "user.big", "", 0), 0);
			static unsigned char val[CFS_META_MAX];
			memset(val, 'v', sizeof val);
			T_EQ_INT(cfs_meta_set(full, &fl, sizeof full, "user.big", val, CFS_META_MAX - 3 - 8), 0);
			T_EQ_INT(fl, CFS_META_MAX);
			T_EQ_INT(cfs_content_set_meta(f, full, fl, &e), 0);
			cfs_content_close(f);
			f = NULL;
			T_EQ_INT(cfs_content_open(fd, c->k, &f, &e), 0);
		}
		if (f) {
			T_EQ_INT(f->meta_len, CFS_META_MAX);
			const unsigned char *v;
			size_t vl;
			T_EQ_INT(cfs_meta_get(f->meta, f->meta_len, "user.big", &v, &vl), 0);
			T_EQ_INT(vl, CFS_META_MAX - 11);
			T_EQ_INT(cfs_meta_get(f->meta, f->meta_len, "coach.class", &v, &vl), -ENODATA);
			/* too large or malformed: refused, nothing changes */
			unsigned char over[CFS_META_MAX + 8];
			memset(over, 0, sizeof over);
			T_EQ_INT(cfs_content_set_meta(f, over, CFS_META_MAX + 1, &e), -ENOSPC);
			T_EQ_INT(cfs_content_set_meta(f, (const unsigned char *)"\x05\x00\x00", 3, &e), -EINVAL);
			T_EQ_INT(f->meta_len, CFS_META_MAX);
			/* an empty block */
			T_EQ_INT(cfs_content_set_meta(f, NULL, 0, &e), 0);
			cfs_content_close(f);
			f = NULL;
			T_EQ_INT(cfs_content_open(fd, c->k, &f, &e), 0);
			if (f) {
				T_EQ_INT(f->meta_len, 0);
				char b[8] = { 0 };
				T_EQ_INT(cfs_content_read(f, b, sizeof b, 0, &s, &e), 4);
				T_EQ_STR(b, "body");
			}
		}
		/* create refuses a block over the limit */
		struct cfs_file *g = NULL;
		static unsigned char huge[CFS_META_MAX + 1];
		int fd2 = new_fd();
		T_EQ_INT(cfs_content_create(fd2, c->k, huge, sizeof huge, &g, &e), -EINVAL);
		T_CHECK(g == NULL);
		close(fd2);
		cfs_content_close(f);
		close(fd);
		cfs_scratch_free(&s);
	}
}

/* cfs_content_meta: the attribute block alone, authenticated like an open. */
static void test_meta_only(void)
{
	for (int ci = 0; ci < g_ncfg; ci++) {
		const struct cfg *c = &g_cfg[ci];
		struct cfs_err e;
		unsigned char m[CFS_META_MAX], got[CFS_META_MAX];
		size_t len = 0, glen = 12345;
		T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "user.coachfs.class", "secret", 6), 0);
		int fd = new_fd();
		struct cfs_file *f = NULL;
		T_EQ_INT(cfs_content_create(fd, c->k, m, len, &f, &e), 0);
		cfs_content_close(f);
		T_EQ_INT(cfs_content_meta(fd, c->k, got, &glen, &e), 0);
		T_EQ_INT(glen, len);
		T_CHECK(memcmp(got, m, len) == 0);
		/* an empty block */
		int fd2 = new_fd();
		f = NULL;
		T_EQ_INT(cfs_content_create(fd2, c->k, NULL, 0, &f, &e), 0);
		cfs_content_close(f);
		glen = 99;
		T_EQ_INT(cfs_content_meta(fd2, c->k, got, &glen, &e), 0);
		T_EQ_INT(glen, 0);
		/* one flipped bit in the encrypted block: -EIO, length untouched */
		unsigned char b;
		T_EQ_INT(pread(fd, &b, 1, 60), 1);
		b ^= 0x01;
		T_EQ_INT(pwrite(fd, &b, 1, 60), 1);
		glen = 777;
		T_EQ_INT(cfs_content_meta(fd, c->k, got, &glen, &e), -EIO);
		T_EQ_INT(glen, 777);
		T_CONTAINS(e.msg, "failed authentication");
		/* a wrong magic */
		T_EQ_INT(pwrite(fd2, "XXXX", 4, 0), 4);
		T_EQ_INT(cfs_content_meta(fd2, c->k, got, &glen, &e), -EIO);
		T_CONTAINS(e.msg, "bad magic");
		close(fd);
		close(fd2);
	}
}

/* A released shell is wiped, parked, reused by the next open on the same
 * scratch, and freed with the scratch. */
/* Shells released on one thread are reused by opens on another, through
 * the shared pool, and are wiped while parked. */
static void test_shared_shells(void)
{
	const struct cfg *c = &g_cfg[0];
	struct cfs_err e;
	struct cfs_shells *p = NULL;
	unsigned char zero[CFS_KEY_BYTES];
	memset(zero, 0, sizeof zero);
	T_EQ_INT(cfs_shells_new(0, &p, &e), -EINVAL);
	T_CONTAINS(e.msg, "shell pool size 0");
	T_EQ_INT(cfs_shells_new(1, &p, &e), 0);
	if (!p)
		return;
	struct cfs_scratch sa = { .shells = p }, sb = { .shells = p };
	int fd[3];
	struct cfs_file *f[3] = { NULL, NULL, NULL }, *z = NULL;
	for (int i = 0; i < 3; i++) {
		fd[i] = new_fd();
		T_EQ_INT(cfs_content_create_s(fd[i], c->k, NULL, 0, &sa, &f[i], &e), 0);
		T_EQ_INT(cfs_content_write(f[i], "abc", 3, 0, &sa, &e), 3);
	}
	if (!f[0] || !f[1] || !f[2]) {
		for (int i = 0; i < 3; i++)
			cfs_content_close(f[i]);
		cfs_shells_free(p);
		return;
	}
	/* released on thread b: its spare first, then the pool, then freed */
	cfs_content_release(f[0], &sb);
	T_CHECK(sb.spare == f[0]);
	cfs_content_release(f[1], &sb);
	T_CHECK(sb.spare == f[0]);
	T_CHECK(memcmp(f[1]->key, zero, sizeof zero) == 0);
	T_EQ_INT(f[1]->fd, -1);
	cfs_content_release(f[2], &sb);   /* pool full (cap 1): closed; ASan sees a leak if not */
	/* an open on thread a, whose spare is empty, takes the pooled shell */
	T_CHECK(sa.spare == NULL);
	T_EQ_INT(cfs_content_open_s(fd[2], c->k, &sa, &z, &e), 0);
	T_CHECK(z == f[1]);
	if (z) {
		char buf[8] = { 0 };
		T_EQ_INT(cfs_content_read(z, buf, sizeof buf, 0, &sa, &e), 3);
		T_EQ_STR(buf, "abc");
		cfs_content_release(z, &sa);    /* now thread a's spare */
		T_CHECK(sa.spare == z);
	}
	/* the pool is empty again: a's next open takes a's own spare, b's
	 * next open b's, and a third open makes a fresh shell */
	struct cfs_file *u = NULL, *v = NULL, *w = NULL;
	T_EQ_INT(cfs_content_open_s(fd[0], c->k, &sa, &u, &e), 0);
	T_EQ_INT(cfs_content_open_s(fd[1], c->k, &sb, &v, &e), 0);
	T_EQ_INT(cfs_content_open_s(fd[2], c->k, &sb, &w, &e), 0);
	T_CHECK(u == f[1] && v == f[0] && w != NULL && w != f[0] && w != f[1]);
	cfs_content_release(u, &sa);
	cfs_content_release(v, &sa);      /* into the pool */
	cfs_content_release(w, &sb);
	cfs_scratch_free(&sa);
	cfs_scratch_free(&sb);
	cfs_shells_free(p);                /* frees the pooled one */
	for (int i = 0; i < 3; i++)
		close(fd[i]);
}

static void test_spare_shell(void)
{
	const struct cfg *c = &g_cfg[0];
	struct cfs_err e;
	struct cfs_scratch s = { 0 };
	unsigned char m[CFS_META_MAX], zero[CFS_KEY_BYTES];
	size_t len = 0;
	memset(zero, 0, sizeof zero);
	T_EQ_INT(cfs_meta_set(m, &len, sizeof m, "user.coachfs.class", "secret", 6), 0);
	int fa = new_fd(), fb = new_fd();
	struct cfs_file *a = NULL, *b = NULL, *x = NULL;
	T_EQ_INT(cfs_content_create_s(fa, c->k, m, len, &s, &a, &e), 0);
	T_EQ_INT(cfs_content_create_s(fb, c->k, NULL, 0, &s, &b, &e), 0);
	if (!a || !b) {
		cfs_content_close(a);
		cfs_content_close(b);
		return;
	}
	T_EQ_INT(cfs_content_write(a, "alpha", 5, 0, &s, &e), 5);
	T_EQ_INT(cfs_content_write(b, "bravo!", 6, 0, &s, &e), 6);
	cfs_content_release(a, &s);
	T_CHECK(s.spare == a);
	T_CHECK(memcmp(a->key, zero, sizeof zero) == 0);
	T_EQ_INT(a->meta_len, 0);
	T_EQ_INT(a->fd, -1);
	/* the spare is full: a second release frees (ASan would see a leak) */
	cfs_content_release(b, &s);
	T_CHECK(s.spare == a);
	/* the next open takes the spare and gets that file's own key and block */
	T_EQ_INT(cfs_content_open_s(fb, c->k, &s, &x, &e), 0);
	T_CHECK(x == a);
	T_CHECK(s.spare == NULL);
	if (x) {
		char buf[16] = { 0 };
		T_EQ_INT(x->meta_len, 0);
		T_EQ_INT(cfs_content_read(x, buf, sizeof buf, 0, &s, &e), 6);
		T_EQ_STR(buf, "bravo!");
		cfs_content_release(x, &s);
	}
	x = NULL;
	T_EQ_INT(cfs_content_open_s(fa, c->k, &s, &x, &e), 0);
	if (x) {
		char buf[16] = { 0 };
		T_EQ_INT(x->meta_len, len);
		T_CHECK(memcmp(x->meta, m, len) == 0);
		T_EQ_INT(cfs_content_read(x, buf, sizeof buf, 0, &s, &e), 5);
		T_EQ_STR(buf, "alpha");
		cfs_content_release(x, &s);
	}
	/* a failed open does not lose the spare's page */
	T_EQ_INT(pwrite(fa, "XXXX", 4, 0), 4);
	x = NULL;
	T_EQ_INT(cfs_content_open_s(fa, c->k, &s, &x, &e), -EIO);
	T_CHECK(x == NULL);
	T_CHECK(s.spare != NULL);
	cfs_scratch_free(&s);
	T_CHECK(s.spare == NULL && s.buf == NULL);
	close(fa);
	close(fb);
}

/* ---- reads split across a worker pool ---- */

/* The chunk index the split hands to the worker first, as content.c
 * computes it: the upper half of the chunks wholly inside the request. */
static uint64_t split_point(size_t C, size_t size, off_t off, size_t len)
{
	uint64_t end = (uint64_t)off + len > size ? size : (uint64_t)off + len;
	uint64_t ff = ((uint64_t)off + C - 1) / C;
	uint64_t fe = end == size ? (size + C - 1) / C : end / C;
	return ff + (fe - ff) / 2;
}

/* A read with s->par set: exact bytes and length; `handed` is whether a
 * worker must have taken part (-1: either). */
static void par_read(const struct cfg *c, struct cfs_file *f, const unsigned char *ref, size_t size,
		     off_t off, size_t len, struct cfs_scratch *s, int handed)
{
	struct cfs_err e = { "" };
	unsigned char *got = malloc(len + 1);
	if (!got) {
		T_FAILF("out of memory");
		return;
	}
	unsigned long before = cfs_workers_handed(s->par);
	ssize_t r = cfs_content_read(f, got, len, off, s, &e);
	unsigned long after = cfs_workers_handed(s->par);
	size_t want = (size_t)off >= size ? 0 : (size - (size_t)off < len ? size - (size_t)off : len);
	CHECKF(r == (ssize_t)want, "%s read(%lld, %zu) = %zd (%s), want %zu", c->name, (long long)off, len, r,
	       r < 0 ? em(&e) : "", want);
	CHECKF(r != (ssize_t)want || want == 0 || memcmp(got, ref + off, want) == 0,
	       "%s read(%lld, %zu): bytes differ", c->name, (long long)off, len);
	if (handed >= 0)
		CHECKF(after - before == (unsigned long)handed, "%s read(%lld, %zu): %lu splits, want %d",
		       c->name, (long long)off, len, after - before, handed);
	free(got);
}

/* A file of `size` pattern bytes, written without a pool. */
static struct cfs_file *par_file(const struct cfg *c, size_t size, unsigned char **ref, int *fd)
{
	struct cfs_err e;
	struct cfs_scratch s = { 0 };
	struct cfs_file *f = create_file(c, fd);
	*ref = malloc(size);
	if (f && *ref) {
		fill_pattern(*ref, size, 4242 + size);
		if (cfs_content_write(f, *ref, size, 0, &s, &e) != (ssize_t)size) {
			T_FAILF("%s: write: %s", c->name, em(&e));
			cfs_content_close(f);
			close(*fd);
			f = NULL;
		}
	}
	cfs_scratch_free(&s);
	if (!f) {
		free(*ref);
		*ref = NULL;
	}
	return f;
}

static void test_par_read(void)
{
	static const unsigned pools[] = { 1, 3 };
	for (int ci = 0; ci < g_ncfg; ci++) {
		const struct cfg *c = &g_cfg[ci];
		size_t C = (size_t)1 << c->log2, size = 3 * ((size_t)1 << 20) + 1234;
		unsigned char *ref = NULL;
		int fd = -1;
		struct cfs_file *f = par_file(c, size, &ref, &fd);
		if (!f)
			continue;
		for (size_t pi = 0; pi < 2; pi++) {
			struct cfs_err e = { "" };
			struct cfs_scratch s = { 0 };
			T_EQ_INT(cfs_workers_new(pools[pi], &s.par, &e), 0);
			if (!s.par)
				continue;
			const size_t M = (size_t)1 << 20;
			/* whole file (several batches on each side), 1 MiB aligned and
			 * not, starting and ending mid-chunk, ending at EOF */
			par_read(c, f, ref, size, 0, size + 100, &s, 1);
			par_read(c, f, ref, size, 0, M, &s, 1);
			par_read(c, f, ref, size, 100, M, &s, 1);
			par_read(c, f, ref, size, (off_t)C - 1, 40 * C + 5, &s, 1);
			par_read(c, f, ref, size, 10 * (off_t)C + 7, size, &s, 1);
			par_read(c, f, ref, size, (off_t)(size - M - 3), M + 3, &s, 1);
			par_read(c, f, ref, size, (off_t)(size - M - 3), M, &s, 1);
			par_read(c, f, ref, size, (off_t)M + 1, M - 2, &s, 1);
			/* small reads stay on the calling thread */
			par_read(c, f, ref, size, 5, 2 * C, &s, 0);
			par_read(c, f, ref, size, 12345, 1, &s, 0);
			par_read(c, f, ref, size, (off_t)size - 1, 10, &s, 0);
			par_read(c, f, ref, size, (off_t)size, 10, &s, 0);
			/* either way, every size across the threshold reads right */
			for (size_t n = 14; n <= 34; n++) {
				par_read(c, f, ref, size, (off_t)C, n * C, &s, -1);
				par_read(c, f, ref, size, (off_t)C + 1, n * C, &s, -1);
			}
			cfs_workers_free(s.par);
			s.par = NULL;
			cfs_scratch_free(&s);
		}
		cfs_content_close(f);
		close(fd);
		free(ref);
	}
}

/* Corrupt chunks `bad` (a list ending in UINT64_MAX) of a fresh copy of the
 * file and read [off, off + len) through a pool of 1: -EIO naming `want`. */
static void par_corrupt(const struct cfg *c, const unsigned char *raw, size_t rawlen, off_t off,
			size_t len, const uint64_t *bad, uint64_t want)
{
	size_t C = (size_t)1 << c->log2, cs = C + ovh_of(c->aead);
	unsigned char *w = malloc(rawlen);
	struct cfs_err e = { "" };
	struct cfs_scratch s = { 0 };
	struct cfs_file *f = NULL;
	if (!w) {
		T_FAILF("out of memory");
		return;
	}
	memcpy(w, raw, rawlen);
	for (size_t i = 0; bad[i] != UINT64_MAX; i++)
		w[FHDR + bad[i] * cs + 40 + (size_t)bad[i] % 100] ^= 0x10;
	int fd = fd_with(w, rawlen);
	unsigned char *b = malloc(len);
	T_EQ_INT(cfs_workers_new(1, &s.par, &e), 0);
	T_EQ_INT(cfs_content_open(fd, c->k, &f, &e), 0);
	if (f && b && s.par) {
		char msg[64];
		snprintf(msg, sizeof msg, "chunk %llu failed authentication", (unsigned long long)want);
		e.msg[0] = 0;
		ssize_t r = cfs_content_read(f, b, len, off, &s, &e);
		CHECKF(r == -EIO, "%s: read(%lld, %zu) = %zd, want -EIO", c->name, (long long)off, len, r);
		CHECKF(strcmp(e.msg, msg) == 0, "%s: read(%lld, %zu) says \"%s\", want \"%s\"", c->name,
		       (long long)off, len, em(&e), msg);
		T_EQ_INT(cfs_workers_handed(s.par), 1);
	}
	cfs_content_close(f);
	if (fd >= 0)
		close(fd);
	cfs_workers_free(s.par);
	s.par = NULL;
	cfs_scratch_free(&s);
	free(b);
	free(w);
}

static void test_par_tamper(void)
{
	for (int ci = 0; ci < g_ncfg; ci++) {
		const struct cfg *c = &g_cfg[ci];
		size_t C = (size_t)1 << c->log2, size = 3 * ((size_t)1 << 20) + 1234, rawlen = 0;
		unsigned char *plain = NULL, *raw = pristine(c, size, &plain, &rawlen);
		free(plain);
		if (!raw) {
			T_FAILF("%s: pristine file", c->name);
			continue;
		}
		/* a request starting and ending mid-chunk: the caller has chunks
		 * first..m-1 and the partial last one (tail), the worker m..tail-1 */
		off_t off = 100;
		size_t len = (size_t)1 << 20;
		uint64_t m = split_point(C, size, off, len), tail = ((uint64_t)off + len) / C;
		T_CHECK(m > 3 && tail > m + 3);
		const uint64_t head_only[] = { m - 3, UINT64_MAX };
		const uint64_t first_only[] = { 0, UINT64_MAX };
		const uint64_t worker_only[] = { m + 2, UINT64_MAX };
		const uint64_t worker_first[] = { m, UINT64_MAX };
		const uint64_t tail_only[] = { tail, UINT64_MAX };
		const uint64_t head_and_worker[] = { m + 1, m - 1, UINT64_MAX };
		const uint64_t worker_and_tail[] = { tail, m + 2, UINT64_MAX };
		const uint64_t worker_two[] = { tail - 1, m + 1, UINT64_MAX };
		par_corrupt(c, raw, rawlen, off, len, head_only, m - 3);
		par_corrupt(c, raw, rawlen, off, len, first_only, 0);
		par_corrupt(c, raw, rawlen, off, len, worker_only, m + 2);
		par_corrupt(c, raw, rawlen, off, len, worker_first, m);
		par_corrupt(c, raw, rawlen, off, len, tail_only, tail);
		par_corrupt(c, raw, rawlen, off, len, head_and_worker, m - 1);
		par_corrupt(c, raw, rawlen, off, len, worker_and_tail, m + 2);
		par_corrupt(c, raw, rawlen, off, len, worker_two, m + 1);
		/* the whole file: the worker's half spans several preads */
		uint64_t mw = split_point(C, size, 0, size), last = (size + C - 1) / C - 1;
		const uint64_t whole_worker[] = { last - 1, UINT64_MAX };
		const uint64_t whole_last[] = { last, UINT64_MAX };
		const uint64_t whole_both[] = { last, mw - 1, UINT64_MAX };
		par_corrupt(c, raw, rawlen, 0, size, whole_worker, last - 1);
		par_corrupt(c, raw, rawlen, 0, size, whole_last, last);
		par_corrupt(c, raw, rawlen, 0, size, whole_both, mw - 1);
		free(raw);
	}
}

/* Every worker busy with another request: the read is done by the caller,
 * right away and right. */
static void test_par_busy(void)
{
	const struct cfg *c = &g_cfg[0];
	size_t size = 2 * ((size_t)1 << 20) + 99;
	unsigned char *ref = NULL;
	int fd = -1;
	struct cfs_err e = { "" };
	struct cfs_scratch s = { 0 };
	struct cfs_file *f = par_file(c, size, &ref, &fd);
	T_EQ_INT(cfs_workers_new(1, &s.par, &e), 0);
	if (!f || !s.par) {
		cfs_content_close(f);
		cfs_workers_free(s.par);
		free(ref);
		return;
	}
	struct holder h;
	T_EQ_INT(hold_worker(&h, s.par), 0);
	T_EQ_INT(cfs_workers_handed(s.par), 0); /* the holder's split is still running */
	par_read(c, f, ref, size, 0, size, &s, 0);
	par_read(c, f, ref, size, 7, (size_t)1 << 20, &s, 0);
	release_worker(&h);
	T_EQ_INT(cfs_workers_handed(s.par), 1);
	par_read(c, f, ref, size, 7, (size_t)1 << 20, &s, 1);
	cfs_workers_free(s.par);
	s.par = NULL;
	cfs_scratch_free(&s);
	cfs_content_close(f);
	close(fd);
	free(ref);
}

/* Several readers of one file share a pool of 1 (as FUSE threads do). */
struct reader {
	const struct cfg *c;
	struct cfs_file *f;
	const unsigned char *ref;
	size_t size;
	struct cfs_workers *w;
	uint64_t seed;
	int bad;
};

static void *reader_main(void *p)
{
	struct reader *r = p;
	struct cfs_scratch s = { 0 };
	struct cfs_err e;
	unsigned char *b = malloc(r->size);
	s.par = r->w;
	for (int i = 0; b && i < 40; i++) {
		off_t off = (off_t)(rnd(&r->seed) % r->size);
		size_t len = (size_t)(rnd(&r->seed) % ((size_t)1 << 20)) + 1;
		size_t want = r->size - (size_t)off < len ? r->size - (size_t)off : len;
		ssize_t n = cfs_content_read(r->f, b, len, off, &s, &e);
		if (n != (ssize_t)want || memcmp(b, r->ref + off, want) != 0)
			r->bad++;
	}
	if (!b)
		r->bad++;
	free(b);
	s.par = NULL;
	cfs_scratch_free(&s);
	return NULL;
}

static void test_par_readers(void)
{
	const struct cfg *c = &g_cfg[g_ncfg - 1];
	size_t size = 3 * ((size_t)1 << 20) + 5;
	unsigned char *ref = NULL;
	int fd = -1;
	struct cfs_err e = { "" };
	struct cfs_workers *w = NULL;
	struct cfs_file *f = par_file(c, size, &ref, &fd);
	T_EQ_INT(cfs_workers_new(1, &w, &e), 0);
	if (f && w) {
		struct reader r[3];
		pthread_t t[3];
		for (int i = 0; i < 3; i++) {
			r[i] = (struct reader){ c, f, ref, size, w, 1000 + (uint64_t)i, 0 };
			T_EQ_INT(pthread_create(&t[i], NULL, reader_main, &r[i]), 0);
		}
		for (int i = 0; i < 3; i++) {
			pthread_join(t[i], NULL);
			T_EQ_INT(r[i].bad, 0);
		}
		T_CHECK(cfs_workers_handed(w) > 0);
	}
	cfs_workers_free(w);
	cfs_content_close(f);
	if (f)
		close(fd);
	free(ref);
}

/* Format 2: a header authenticates only in the place it was sealed for
 * (parent id, name, kind), rebinding moves it, every header change raises
 * its version, and a record of versions seen refuses an older header. */
static void test_bound_place(void)
{
	const struct cfg *c = &g_cfg[0];
	struct cfs_scratch g_s;
	memset(&g_s, 0, sizeof g_s);
	struct cfs_err e;
	struct cfs_bind a, b, dir, far;
	unsigned char pa[CFS_FILE_ID_BYTES], pb[CFS_FILE_ID_BYTES], meta[CFS_META_MAX];
	size_t ml;
	memset(pa, 0xa1, sizeof pa);
	memset(pb, 0xb2, sizeof pb);
	T_EQ_INT(cfs_bind_set(&a, pa, "plan.md", CFS_KIND_FILE), 0);
	T_EQ_INT(cfs_bind_set(&b, pb, "plan.md", CFS_KIND_FILE), 0);
	T_EQ_INT(cfs_bind_set(&far, pa, "plan.mdx", CFS_KIND_FILE), 0);
	T_EQ_INT(cfs_bind_set(&dir, pa, "plan.md", CFS_KIND_DIR), 0);
	T_EQ_INT(cfs_bind_set(&b, pb, "a/b", CFS_KIND_FILE), -EINVAL);
	char longname[300];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	T_EQ_INT(cfs_bind_set(&b, pb, longname, CFS_KIND_FILE), -ENAMETOOLONG);
	T_EQ_INT(cfs_bind_set(&b, pb, "plan.md", CFS_KIND_FILE), 0);

	int fd = new_fd();
	struct cfs_file *f = NULL, *g = NULL;
	T_EQ_INT(cfs_content_create_b(fd, c->k, &a, NULL, NULL, 1, NULL, 0, NULL, &f, &e), 0);
	if (!f) {
		close(fd);
		return;
	}
	T_EQ_INT(f->version, 1);
	T_EQ_INT(cfs_content_write(f, "secret words", 12, 0, &g_s, &e), 12);
	unsigned char h[CFS_FHDR_SIZE];
	T_EQ_INT(pread(fd, h, sizeof h, 0), CFS_FHDR_SIZE);
	T_EQ_INT(h[4], 2);
	T_EQ_INT(h[7], CFS_KIND_FILE);
	T_EQ_INT(h[32], 1);
	/* only its own place opens it */
	T_EQ_INT(cfs_content_open_b(fd, c->k, &a, NULL, NULL, &g, &e), 0);
	cfs_content_close(g);
	g = NULL;
	T_EQ_INT(cfs_content_open_b(fd, c->k, &b, NULL, NULL, &g, &e), -EIO);
	T_CONTAINS(em(&e), "moved, copied or swapped");
	T_EQ_INT(cfs_content_open_b(fd, c->k, &far, NULL, NULL, &g, &e), -EIO);
	T_EQ_INT(cfs_content_open_b(fd, c->k, &dir, NULL, NULL, &g, &e), -EIO);
	T_CONTAINS(em(&e), "a file header where a directory sidecar belongs");
	T_EQ_INT(cfs_content_open(fd, c->k, &g, &e), -EIO);
	T_EQ_INT(cfs_content_meta_b(fd, c->k, &b, NULL, meta, &ml, NULL, NULL, &e), -EIO);
	T_CHECK(g == NULL);
	/* each header change raises the version; rebinding moves the place */
	T_EQ_INT(cfs_content_bump(f, &e), 0);
	T_EQ_INT(f->version, 2);
	T_EQ_INT(cfs_content_set_meta(f, (const unsigned char *)"\x01\x01\x00zq", 5, &e), 0);
	T_EQ_INT(f->version, 3);
	T_EQ_INT(cfs_content_rebind(f, &b, &e), 0);
	T_EQ_INT(f->version, 4);
	T_EQ_INT(cfs_content_open_b(fd, c->k, &a, NULL, NULL, &g, &e), -EIO);
	unsigned char id[CFS_FILE_ID_BYTES];
	uint64_t v = 0;
	T_EQ_INT(cfs_content_meta_b(fd, c->k, &b, NULL, meta, &ml, id, &v, &e), 0);
	T_EQ_INT(v, 4);
	T_EQ_INT(ml, 5);
	T_CHECK(memcmp(id, f->id, sizeof id) == 0);
	unsigned char peek[CFS_FILE_ID_BYTES];
	T_EQ_INT(cfs_content_peek_id(fd, peek), 0);
	T_CHECK(memcmp(peek, f->id, sizeof peek) == 0);
	T_EQ_INT(cfs_content_peek_version(fd), 2);
	T_EQ_INT(cfs_content_open_b(fd, c->k, &b, NULL, NULL, &g, &e), 0);
	if (g) {
		char buf[32];
		T_EQ_INT(cfs_content_read(g, buf, sizeof buf, 0, &g_s, &e), 12);
		T_CHECK(memcmp(buf, "secret words", 12) == 0);
		T_EQ_INT(g->version, 4);
		cfs_content_close(g);
	}
	cfs_content_close(f);
	close(fd);
	cfs_scratch_free(&g_s);
}

/* The record of versions seen: an older header is refused as rolled back,
 * a newer one raises the record, creates stay off it (version 1). */
static void test_rollback_record(void)
{
	const struct cfg *c = &g_cfg[0];
	struct cfs_err e;
	struct cfs_state *st = NULL;
	char db[128];
	path_for(db, sizeof db, "state.db");
	T_EQ_INT(cfs_state_open(db, c->k, 0, &st, &e), -EIO); /* not made yet, create = 0 */
	T_EQ_INT(cfs_state_open(db, c->k, 1, &st, &e), 0);
	if (!st)
		return;
	struct cfs_bind a;
	unsigned char pa[CFS_FILE_ID_BYTES] = { 7 };
	cfs_bind_set(&a, pa, "r.md", CFS_KIND_FILE);
	int fd = new_fd();
	struct cfs_file *f = NULL, *g = NULL;
	uint64_t v = 99;
	T_EQ_INT(cfs_content_create_b(fd, c->k, &a, st, NULL, 1, NULL, 0, NULL, &f, &e), 0);
	if (!f) {
		close(fd);
		cfs_state_close(st);
		return;
	}
	T_EQ_INT(cfs_state_get(st, f->id, &v, &e), 0);
	T_EQ_INT(v, 0);
	size_t len = 0;
	unsigned char *old = slurp(fd, &len);
	T_EQ_INT(cfs_content_bump(f, &e), 0);
	T_EQ_INT(cfs_content_bump(f, &e), 0);
	T_EQ_INT(cfs_state_get(st, f->id, &v, &e), 0);
	T_EQ_INT(v, 3);
	T_EQ_INT(cfs_content_open_b(fd, c->k, &a, st, NULL, &g, &e), 0);
	cfs_content_close(g);
	g = NULL;
	/* the old copy put back */
	int fd2 = fd_with(old, len);
	T_EQ_INT(cfs_content_open_b(fd2, c->k, &a, st, NULL, &g, &e), -EIO);
	T_CONTAINS(em(&e), "rolled back: header version 1 is older than version 3 seen before");
	unsigned char meta[CFS_META_MAX];
	size_t ml;
	T_EQ_INT(cfs_content_meta_b(fd2, c->k, &a, st, meta, &ml, NULL, NULL, &e), -EIO);
	T_CONTAINS(em(&e), "rolled back");
	T_EQ_INT(cfs_content_open_b(fd2, c->k, &a, NULL, NULL, &g, &e), 0); /* without a record it opens */
	cfs_content_close(g);
	close(fd2);
	free(old);
	/* notes never lower; the record survives a reopen */
	T_EQ_INT(cfs_state_note(st, f->id, 2, &e), 0);
	T_EQ_INT(cfs_state_get(st, f->id, &v, &e), 0);
	T_EQ_INT(v, 3);
	unsigned char id[CFS_FILE_ID_BYTES];
	memcpy(id, f->id, sizeof id);
	cfs_content_close(f);
	close(fd);
	cfs_state_close(st);
	st = NULL;
	T_EQ_INT(cfs_state_open(db, c->k, 0, &st, &e), 0);
	if (!st)
		return;
	T_EQ_INT(cfs_state_get(st, id, &v, &e), 0);
	T_EQ_INT(v, 3);
	/* rename intents: set, read back, clear */
	unsigned char par[CFS_FILE_ID_BYTES], got[CFS_FILE_ID_BYTES];
	char name[256];
	memset(par, 0x5c, sizeof par);
	T_EQ_INT(cfs_state_intent_get(st, id, got, name, sizeof name, &e), -ENOENT);
	T_EQ_INT(cfs_state_intent_set(st, id, par, "old name", &e), 0);
	T_EQ_INT(cfs_state_intent_get(st, id, got, name, sizeof name, &e), 0);
	T_EQ_STR(name, "old name");
	T_CHECK(memcmp(got, par, sizeof par) == 0);
	T_EQ_INT(cfs_state_intent_clear(st, id, &e), 0);
	T_EQ_INT(cfs_state_intent_get(st, id, got, name, sizeof name, &e), -ENOENT);
	T_EQ_INT(cfs_state_intent_set(st, id, par, "again", &e), 0);
	cfs_state_close(st);
	st = NULL;
	/* an edited row fails its MAC: versions and intents */
	char cmd[512];
	snprintf(cmd, sizeof cmd, "sqlite3 %s \"UPDATE versions SET version = 9; UPDATE intents SET name = CAST('other' AS BLOB)\"", db);
	T_EQ_INT(system(cmd), 0);
	T_EQ_INT(cfs_state_open(db, c->k, 0, &st, &e), 0);
	if (!st)
		return;
	T_EQ_INT(cfs_state_get(st, id, &v, &e), -EIO);
	T_CONTAINS(em(&e), "failed its MAC");
	T_EQ_INT(cfs_state_intent_get(st, id, got, name, sizeof name, &e), -EIO);
	T_CONTAINS(em(&e), "failed its MAC");
	cfs_state_close(st);
}

int main(void)
{
	struct cfs_err e;
	if (cfs_crypto_init(&e) != 0) {
		printf("FAIL test_content.main: %s\n", em(&e));
		return 1;
	}
	snprintf(g_dir, sizeof g_dir, "/tmp/coachfs-unit-content.XXXXXX");
	if (!mkdtemp(g_dir)) {
		printf("FAIL test_content.main: mkdtemp\n");
		return 1;
	}
	const int spec[4][2] = { { CFS_AEAD_XCHACHA, 12 }, { CFS_AEAD_AESGCM, 12 }, { CFS_AEAD_XCHACHA, 16 },
				 { CFS_AEAD_AESGCM, 16 } };
	for (int i = 0; i < 4; i++) {
		char p[128];
		struct cfg *c = &g_cfg[g_ncfg];
		if (spec[i][0] == CFS_AEAD_AESGCM && !crypto_aead_aes256gcm_is_available())
			continue; /* reported below: the AES-GCM cases need AES-NI */
		path_for(p, sizeof p, "store");
		c->aead = spec[i][0];
		c->log2 = spec[i][1];
		snprintf(c->name, sizeof c->name, "%s/2^%d", cfs_aead_name(c->aead), c->log2);
		if (cfs_store_create(p, "test pass", 9, c->aead, c->log2, CFS_KDF_INTERACTIVE, &c->k, &e) != 0) {
			printf("FAIL test_content.main: store_create %s: %s\n", c->name, em(&e));
			return 1;
		}
		g_ncfg++;
	}
	if (g_ncfg != 4)
		printf("FAIL test_content.main: this CPU lacks AES-NI; the AES-GCM cases did not run\n");

	T_RUN(test_plain_size);
	T_RUN(test_round_trip);
	T_RUN(test_edges);
	T_RUN(test_fsx);
	T_RUN(test_tamper);
	T_RUN(test_write_failure);
	T_RUN(test_chunk_size_mismatch);
	T_RUN(test_per_file_cipher);
	T_RUN(test_no_plaintext);
	T_RUN(test_meta_basic);
	T_RUN(test_meta_self_alias);
	T_RUN(test_meta_full);
	T_RUN(test_meta_malformed);
	T_RUN(test_meta_in_file);
	T_RUN(test_meta_only);
	T_RUN(test_spare_shell);
	T_RUN(test_shared_shells);
	T_RUN(test_par_read);
	T_RUN(test_par_tamper);
	T_RUN(test_par_busy);
	T_RUN(test_par_readers);
	T_RUN(test_bound_place);
	T_RUN(test_rollback_record);

	for (int i = 0; i < g_ncfg; i++)
		cfs_keys_free(g_cfg[i].k);
	nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	if (g_ncfg != 4)
		return 1;
	T_END();
}
