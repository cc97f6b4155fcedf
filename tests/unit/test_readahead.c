/* test_readahead.c — the per-handle read-ahead window (fs/readahead.c):
 * sequential small reads give exactly the file's bytes and are served from
 * windows that grow 128 KiB -> 1 MiB; a write or truncate of the file (the
 * way another handle changes it) is seen by the very next read; random
 * reads fill no window; a damaged chunk ahead of the reader fails only the
 * request that covers it; drop wipes the window and starts over; windows
 * stay within the budget their handles share. */
#include "t.h"

#include "coachfs/content.h"
#include "coachfs/crypto.h"
#include "coachfs/readahead.h"
#include "coachfs/workers.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[64];
static struct cfs_keys *g_keys;

#define SIZE ((size_t)3 * 1048576 + 777)

/* A fresh file of SIZE bytes of pattern p, and its reference copy. */
static struct cfs_file *make_file(unsigned char *ref, unsigned p)
{
	char path[128];
	static int seq;
	snprintf(path, sizeof path, "%s/f%d", g_dir, seq++);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	struct cfs_file *f = NULL;
	struct cfs_err e = { "" };
	struct cfs_scratch s = { 0 };
	if (fd < 0 || cfs_content_create(fd, g_keys, NULL, 0, &f, &e) != 0)
		return NULL;
	for (size_t i = 0; i < SIZE; i++)
		ref[i] = (unsigned char)(i * 31 + p + i / 4096);
	if (cfs_content_write(f, ref, SIZE, 0, &s, &e) != (ssize_t)SIZE)
		f = NULL;
	cfs_scratch_free(&s);
	return f;
}

static void close_file(struct cfs_file *f)
{
	if (!f)
		return;
	close(f->fd);
	cfs_content_close(f);
}

/* Read [off, off + len) through ra and compare with ref (file size size). */
static int check_read(struct cfs_ra *ra, struct cfs_file *f, const unsigned char *ref, size_t size,
		      size_t len, uint64_t off, struct cfs_scratch *s)
{
	unsigned char buf[65536];
	struct cfs_err e = { "" };
	ssize_t n = cfs_ra_read(ra, f, buf, len, (off_t)off, s, &e);
	size_t want = off >= size ? 0 : (size - off < len ? size - off : len);
	if (n != (ssize_t)want) {
		T_FAILF("read %zu at %llu gave %zd, expected %zu (%s)", len, (unsigned long long)off, n, want,
			e.msg);
		return -1;
	}
	if (memcmp(buf, ref + off, want) != 0) {
		T_FAILF("read %zu at %llu: wrong bytes", len, (unsigned long long)off);
		return -1;
	}
	return 0;
}

static void test_sequential(void)
{
	unsigned char *ref = malloc(SIZE);
	struct cfs_file *f = make_file(ref, 1);
	struct cfs_ra *ra = NULL;
	struct cfs_scratch s = { 0 };
	struct cfs_err e = { "" };
	T_CHECK(f && cfs_ra_new(NULL, &ra) == 0);
	T_EQ_INT(cfs_workers_new(1, &s.par, &e), 0);
	size_t reqs = 0;
	for (uint64_t off = 0; f && ra && off < SIZE; off += 4096, reqs++)
		if (check_read(ra, f, ref, SIZE, 4096, off, &s) < 0)
			break;
	check_read(ra, f, ref, SIZE, 4096, SIZE, &s); /* EOF: 0, not from a window */
	unsigned long hits, fills;
	cfs_ra_stats(ra, &hits, &fills);
	/* windows 128K, 256K, 512K, then 1 MiB ones: 4 + 2 fills for 3 MiB */
	T_EQ_INT(fills, 6);
	/* every request but the first and each fill's own (the short last one
	 * included: the last window knows where the file ends) */
	T_EQ_INT(hits, reqs - 1 - fills);
	/* odd sizes and offsets straddling chunks and windows */
	cfs_ra_drop(ra);
	uint64_t off = 100;
	for (size_t len = 1; off < SIZE; len = len * 3 % 65521 + 1) {
		if (check_read(ra, f, ref, SIZE, len, off, &s) < 0)
			break;
		off += len;
	}
	cfs_ra_stats(ra, &hits, &fills);
	T_CHECK(hits > 100);
	cfs_ra_free(ra);
	cfs_workers_free(s.par);
	s.par = NULL;
	cfs_scratch_free(&s);
	close_file(f);
	free(ref);
}

/* Another handle's write or truncate changes f under its write lock; the
 * window filled before must not serve the old bytes. */
static void test_write_invalidates(void)
{
	unsigned char *ref = malloc(SIZE);
	struct cfs_file *f = make_file(ref, 2);
	struct cfs_ra *ra = NULL;
	struct cfs_scratch s = { 0 }, ws = { 0 };
	struct cfs_err e = { "" };
	T_CHECK(f && cfs_ra_new(NULL, &ra) == 0);
	if (!f || !ra)
		return;
	check_read(ra, f, ref, SIZE, 4096, 0, &s);
	check_read(ra, f, ref, SIZE, 4096, 4096, &s);   /* fills 128 KiB */
	unsigned long hits, fills;
	cfs_ra_stats(ra, &hits, &fills);
	T_EQ_INT(fills, 1);
	/* a write inside the window, ahead of the reader */
	memset(ref + 20000, 0xA5, 3000);
	T_EQ_INT(cfs_content_write(f, ref + 20000, 3000, 20000, &ws, &e), 3000);
	for (uint64_t off = 8192; off < 40960; off += 4096)
		check_read(ra, f, ref, SIZE, 4096, off, &s);
	/* a truncate inside the (new) window: the next read ends there */
	T_EQ_INT(cfs_content_truncate(f, 50000, &ws, &e), 0);
	check_read(ra, f, ref, 50000, 4096, 40960, &s);
	check_read(ra, f, ref, 50000, 4096, 45056, &s);
	check_read(ra, f, ref, 50000, 4096, 49152, &s);
	/* and a grow: zeros after the old end */
	T_EQ_INT(cfs_content_truncate(f, 60000, &ws, &e), 0);
	memset(ref + 50000, 0, 10000);
	check_read(ra, f, ref, 60000, 4096, 49152, &s);
	check_read(ra, f, ref, 60000, 4096, 53248, &s);
	cfs_ra_free(ra);
	cfs_scratch_free(&s);
	cfs_scratch_free(&ws);
	close_file(f);
	free(ref);
}

static void test_random_no_window(void)
{
	unsigned char *ref = malloc(SIZE);
	struct cfs_file *f = make_file(ref, 3);
	struct cfs_ra *ra = NULL;
	struct cfs_scratch s = { 0 };
	T_CHECK(f && cfs_ra_new(NULL, &ra) == 0);
	uint64_t x = 12345;
	for (int i = 0; f && ra && i < 300; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		uint64_t off = (x >> 20) % SIZE;
		if (check_read(ra, f, ref, SIZE, 4096, off, &s) < 0)
			break;
	}
	unsigned long hits, fills;
	cfs_ra_stats(ra, &hits, &fills);
	T_EQ_INT(fills, 0);
	cfs_ra_free(ra);
	cfs_scratch_free(&s);
	close_file(f);
	free(ref);
}

/* A damaged chunk at 256 KiB: the window that would cover it is not used,
 * every request before it reads, the one covering it is -EIO. */
static void test_bad_chunk_ahead(void)
{
	unsigned char *ref = malloc(SIZE);
	struct cfs_file *f = make_file(ref, 4);
	struct cfs_ra *ra = NULL;
	struct cfs_scratch s = { 0 };
	T_CHECK(f && cfs_ra_new(NULL, &ra) == 0);
	if (!f || !ra)
		return;
	uint64_t bad = 64; /* chunk index */
	off_t at = CFS_FHDR_SIZE + (off_t)(bad * (f->chunk + f->ovh)) + 40;
	unsigned char c;
	T_EQ_INT(pread(f->fd, &c, 1, at), 1);
	c ^= 1;
	T_EQ_INT(pwrite(f->fd, &c, 1, at), 1);
	uint64_t off = 0;
	for (; off < bad * f->chunk; off += 4096)
		if (check_read(ra, f, ref, SIZE, 4096, off, &s) < 0)
			break;
	unsigned char buf[4096];
	struct cfs_err e = { "" };
	T_EQ_INT(cfs_ra_read(ra, f, buf, sizeof buf, (off_t)off, &s, &e), -EIO);
	T_CONTAINS(e.msg, "chunk 64 failed authentication");
	cfs_ra_free(ra);
	cfs_scratch_free(&s);
	close_file(f);
	free(ref);
}

static void test_drop(void)
{
	unsigned char *ref = malloc(SIZE);
	struct cfs_file *f = make_file(ref, 5);
	struct cfs_ra *ra = NULL;
	struct cfs_scratch s = { 0 };
	T_CHECK(f && cfs_ra_new(NULL, &ra) == 0);
	if (!f || !ra)
		return;
	for (uint64_t off = 0; off < 8 * 4096; off += 4096)
		check_read(ra, f, ref, SIZE, 4096, off, &s);
	unsigned long h0, f0, h1, f1;
	cfs_ra_stats(ra, &h0, &f0);
	cfs_ra_drop(ra);
	/* the next read is a first one again: no window served or filled */
	check_read(ra, f, ref, SIZE, 4096, 8 * 4096, &s);
	cfs_ra_stats(ra, &h1, &f1);
	T_EQ_INT(h1, h0);
	T_EQ_INT(f1, f0);
	cfs_ra_drop(ra);
	cfs_ra_drop(ra);
	cfs_ra_drop(NULL);
	cfs_ra_free(ra);
	cfs_ra_free(NULL);
	cfs_scratch_free(&s);
	close_file(f);
	free(ref);
}

/* Two readers sharing a budget of one first window: the second reads right
 * but fills none until the first gives its window back. */
static void test_budget(void)
{
	unsigned char *ref = malloc(SIZE);
	struct cfs_file *f = make_file(ref, 6);
	struct cfs_ra_budget b = { 0 };
	struct cfs_ra *r1 = NULL, *r2 = NULL;
	struct cfs_scratch s = { 0 };
	b.cap = CFS_RA_MIN;
	T_CHECK(f && cfs_ra_new(&b, &r1) == 0 && cfs_ra_new(&b, &r2) == 0);
	if (!f || !r1 || !r2)
		return;
	for (uint64_t off = 0; off < 8 * 4096; off += 4096) {
		check_read(r1, f, ref, SIZE, 4096, off, &s);
		check_read(r2, f, ref, SIZE, 4096, off, &s);
	}
	unsigned long h1, f1, h2, f2;
	cfs_ra_stats(r1, &h1, &f1);
	cfs_ra_stats(r2, &h2, &f2);
	T_EQ_INT(f1, 1);
	T_EQ_INT(f2, 0);
	T_EQ_INT(h2, 0);
	T_EQ_INT(atomic_load(&b.used), CFS_RA_MIN);
	/* r1 cannot grow its window either: it reads on, request by request */
	for (uint64_t off = 8 * 4096; off < 300 * 4096; off += 4096)
		check_read(r1, f, ref, SIZE, 4096, off, &s);
	T_EQ_INT(atomic_load(&b.used), CFS_RA_MIN);
	cfs_ra_drop(r1);
	T_EQ_INT(atomic_load(&b.used), 0);
	for (uint64_t off = 8 * 4096; off < 16 * 4096; off += 4096)
		check_read(r2, f, ref, SIZE, 4096, off, &s);
	cfs_ra_stats(r2, &h2, &f2);
	T_EQ_INT(f2, 1);
	cfs_ra_free(r2);
	T_EQ_INT(atomic_load(&b.used), 0);
	cfs_ra_free(r1);
	cfs_scratch_free(&s);
	close_file(f);
	free(ref);
}

int main(void)
{
	struct cfs_err e;
	char p[128];
	if (cfs_crypto_init(&e) != 0) {
		printf("FAIL test_readahead.main: %s\n", e.msg);
		return 1;
	}
	snprintf(g_dir, sizeof g_dir, "/tmp/coachfs-unit-ra.XXXXXX");
	if (!mkdtemp(g_dir)) {
		printf("FAIL test_readahead.main: mkdtemp\n");
		return 1;
	}
	snprintf(p, sizeof p, "%s/store", g_dir);
	if (cfs_store_create(p, "test pass", 9, CFS_AEAD_XCHACHA, 12, CFS_KDF_INTERACTIVE, &g_keys, &e) != 0) {
		printf("FAIL test_readahead.main: store_create: %s\n", e.msg);
		return 1;
	}
	T_RUN(test_sequential);
	T_RUN(test_write_invalidates);
	T_RUN(test_random_no_window);
	T_RUN(test_bad_chunk_ahead);
	T_RUN(test_drop);
	T_RUN(test_budget);
	cfs_keys_free(g_keys);
	char cmd[160];
	snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
	if (system(cmd) != 0)
		printf("FAIL test_readahead.main: cleanup\n");
	T_END();
}
