/* test_par_write.c — large writes sealed on two threads (fs/content_body.c):
 * a write whose wholly overwritten chunks reach the threshold hands half of
 * them to a worker, and the file reads back exactly, for aligned and odd
 * offsets, overwrites, extending writes over a hole, several batches, and
 * both ciphers; small writes stay on the caller; with the only worker busy
 * the caller seals everything itself, never waiting. */
#include "t.h"
#include "busy_pool.h"

#include "coachfs/content.h"
#include "coachfs/crypto.h"
#include "coachfs/workers.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[64];
static struct cfs_keys *g_keys[2];
static int g_nkeys;

#define MAXSIZE ((size_t)6 << 20)

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 131 + seed) ^ (i >> 12));
}

/* Write len bytes of pattern seed at off through s (mirrored in ref, whose
 * size *size follows), then check the whole file reads back as ref and
 * whether a worker took part (want_hand 1 yes, 0 no). */
static void wr(struct cfs_file *f, unsigned char *ref, size_t *size, off_t off, size_t len, unsigned seed,
	       struct cfs_scratch *s, int want_hand)
{
	unsigned char *buf = malloc(len), *back = malloc(MAXSIZE + 1);
	struct cfs_err e = { "" };
	struct cfs_scratch rs = { 0 };
	if (!buf || !back) {
		T_FAILF("out of memory");
		free(buf);
		free(back);
		return;
	}
	fill(buf, len, seed);
	unsigned long before = cfs_workers_handed(s->par);
	ssize_t n = cfs_content_write(f, buf, len, off, s, &e);
	if (n != (ssize_t)len)
		T_FAILF("write %zu at %lld gave %zd: %s", len, (long long)off, n, e.msg);
	if ((size_t)off > *size)
		memset(ref + *size, 0, (size_t)off - *size);
	memcpy(ref + off, buf, len);
	if ((size_t)off + len > *size)
		*size = (size_t)off + len;
	int handed = cfs_workers_handed(s->par) > before;
	if (handed != want_hand)
		T_FAILF("write %zu at %lld: worker took part %d, expected %d", len, (long long)off, handed,
			want_hand);
	n = cfs_content_read(f, back, MAXSIZE + 1, 0, &rs, &e);
	if (n != (ssize_t)*size || memcmp(back, ref, *size) != 0)
		T_FAILF("after write %zu at %lld: read back %zd of %zu bytes, or wrong bytes (%s)", len,
			(long long)off, n, *size, e.msg);
	cfs_scratch_free(&rs);
	free(buf);
	free(back);
}

static struct cfs_file *new_file(struct cfs_keys *k)
{
	char path[128];
	static int seq;
	snprintf(path, sizeof path, "%s/f%d", g_dir, seq++);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	struct cfs_file *f = NULL;
	struct cfs_err e = { "" };
	if (fd < 0 || cfs_content_create(fd, k, NULL, 0, &f, &e) != 0) {
		T_FAILF("create: %s", e.msg);
		return NULL;
	}
	return f;
}

static void test_split_writes(void)
{
	const size_t M = (size_t)1 << 20;
	for (int ki = 0; ki < g_nkeys; ki++) {
		struct cfs_file *f = new_file(g_keys[ki]);
		unsigned char *ref = calloc(1, MAXSIZE);
		struct cfs_scratch s = { 0 };
		struct cfs_err e = { "" };
		size_t size = 0, C = f ? f->chunk : 4096;
		T_EQ_INT(cfs_workers_new(1, &s.par, &e), 0);
		if (!f || !ref || !s.par)
			return;
		wr(f, ref, &size, 0, 3 * M + 1234, 1, &s, 1);        /* several batches, a new file */
		wr(f, ref, &size, 0, M, 2, &s, 1);                   /* aligned overwrite */
		wr(f, ref, &size, (off_t)C - 1, M + 5, 3, &s, 1);    /* odd: partial first and last chunk */
		wr(f, ref, &size, (off_t)(size + 10000), 300000, 4, &s, 1); /* over a hole, extending */
		wr(f, ref, &size, (off_t)(size - 100), 200 * C, 5, &s, 1);  /* across the end */
		wr(f, ref, &size, 12345, 2 * C, 6, &s, 0);           /* small: the caller alone */
		wr(f, ref, &size, 7, 1, 7, &s, 0);
		for (size_t n = 30; n <= 34; n++)                     /* either side of the threshold */
			wr(f, ref, &size, (off_t)C, n * C, 8 + (unsigned)n, &s, n * C >= ((size_t)128 << 10));
		cfs_workers_free(s.par);
		s.par = NULL;
		cfs_scratch_free(&s);
		close(f->fd);
		cfs_content_close(f);
		free(ref);
	}
}

static void test_busy_worker(void)
{
	struct cfs_file *f = new_file(g_keys[0]);
	unsigned char *ref = calloc(1, MAXSIZE);
	struct cfs_scratch s = { 0 };
	struct cfs_err e = { "" };
	struct holder h;
	size_t size = 0;
	T_EQ_INT(cfs_workers_new(1, &s.par, &e), 0);
	if (!f || !ref || !s.par)
		return;
	T_EQ_INT(hold_worker(&h, s.par), 0);
	unsigned long base = cfs_workers_handed(s.par);
	wr(f, ref, &size, 0, 2 * ((size_t)1 << 20) + 3, 1, &s, 0);
	wr(f, ref, &size, 4097, (size_t)1 << 20, 2, &s, 0);
	release_worker(&h);
	T_EQ_INT(cfs_workers_handed(s.par), base + 1); /* only the holder's own split */
	wr(f, ref, &size, 0, (size_t)1 << 20, 3, &s, 1);
	cfs_workers_free(s.par);
	s.par = NULL;
	cfs_scratch_free(&s);
	close(f->fd);
	cfs_content_close(f);
	free(ref);
}

int main(void)
{
	struct cfs_err e;
	char p[128];
	if (cfs_crypto_init(&e) != 0) {
		printf("FAIL test_par_write.main: %s\n", e.msg);
		return 1;
	}
	snprintf(g_dir, sizeof g_dir, "/tmp/coachfs-unit-pw.XXXXXX");
	if (!mkdtemp(g_dir)) {
		printf("FAIL test_par_write.main: mkdtemp\n");
		return 1;
	}
	const int aead[2] = { CFS_AEAD_XCHACHA, CFS_AEAD_AESGCM };
	for (int i = 0; i < 2; i++) {
		if (aead[i] == CFS_AEAD_AESGCM && !crypto_aead_aes256gcm_is_available())
			continue;
		snprintf(p, sizeof p, "%s/store%d", g_dir, i);
		if (cfs_store_create(p, "test pass", 9, aead[i], 12, CFS_KDF_INTERACTIVE, &g_keys[g_nkeys], &e) != 0) {
			printf("FAIL test_par_write.main: store_create: %s\n", e.msg);
			return 1;
		}
		g_nkeys++;
	}
	T_RUN(test_split_writes);
	T_RUN(test_busy_worker);
	for (int i = 0; i < g_nkeys; i++)
		cfs_keys_free(g_keys[i]);
	char cmd[160];
	snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
	if (system(cmd) != 0)
		printf("FAIL test_par_write.main: cleanup\n");
	T_END();
}
