/* readahead.c — the per-handle read-ahead window of every-read classes.
 * Owns: one handle's window of decrypted bytes (sodium_malloc'd), where it
 * starts, the file generation it was filled at, and the sequential-access
 * detector that sizes it (128 KiB, doubling per fill up to 1 MiB, like the
 * kernel's readahead), within a budget all handles share. Must never serve
 * a byte after the file's body changed (f->gen moved), never report a
 * failure for bytes the request did not ask for, never decide access or
 * write an audit row, and never leave plaintext behind in memory it frees. */
#include "coachfs/readahead.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct cfs_ra {
	pthread_mutex_t mu;    /* one reader of the handle at a time in here */
	struct cfs_ra_budget *budget; /* shared with other handles; NULL = none */
	unsigned char *buf;    /* sodium_malloc'd, cap bytes; NULL until needed */
	size_t cap;
	uint64_t woff;         /* plaintext offset of buf[0] */
	size_t wlen;           /* bytes of the window; 0 = none */
	int eof;               /* the window ends at the end of the file */
	uint64_t gen;          /* the file's gen when it was filled */
	uint64_t next;         /* where a sequential reader reads next */
	unsigned seq;          /* full sequential requests in a row */
	size_t win;            /* the last window's size; 0 = none yet */
	unsigned long hits, fills;
};

int cfs_ra_new(struct cfs_ra_budget *b, struct cfs_ra **out)
{
	struct cfs_ra *ra = calloc(1, sizeof *ra);
	if (!ra)
		return -ENOMEM;
	ra->budget = b;
	if (pthread_mutex_init(&ra->mu, NULL) != 0) {
		free(ra);
		return -ENOMEM;
	}
	*out = ra;
	return 0;
}

/* Take n bytes of the budget (0), or -ENOMEM when they are not there. */
static int budget_take(struct cfs_ra_budget *b, size_t n)
{
	if (!b)
		return 0;
	size_t cap = b->cap ? b->cap : CFS_RA_BUDGET;
	size_t was = atomic_fetch_add(&b->used, n);
	if (was + n <= cap)
		return 0;
	atomic_fetch_sub(&b->used, n);
	return -ENOMEM;
}

static void budget_give(struct cfs_ra_budget *b, size_t n)
{
	if (b && n)
		atomic_fetch_sub(&b->used, n);
}

/* Wipe and free the window; the detector starts over. Caller holds mu. */
static void release(struct cfs_ra *ra)
{
	if (ra->buf)
		sodium_free(ra->buf); /* wipes */
	budget_give(ra->budget, ra->cap);
	ra->buf = NULL;
	ra->cap = ra->wlen = ra->win = 0;
	ra->eof = 0;
	ra->seq = 0;
	ra->next = 0;
}

void cfs_ra_drop(struct cfs_ra *ra)
{
	if (!ra)
		return;
	pthread_mutex_lock(&ra->mu);
	release(ra);
	pthread_mutex_unlock(&ra->mu);
}

void cfs_ra_free(struct cfs_ra *ra)
{
	if (!ra)
		return;
	release(ra);
	pthread_mutex_destroy(&ra->mu);
	free(ra);
}

void cfs_ra_stats(struct cfs_ra *ra, unsigned long *hits, unsigned long *fills)
{
	pthread_mutex_lock(&ra->mu);
	*hits = ra->hits;
	*fills = ra->fills;
	pthread_mutex_unlock(&ra->mu);
}

/* Update the detector after a request [off, off + len) that gave n. */
static void note(struct cfs_ra *ra, uint64_t off, size_t len, ssize_t n)
{
	if (n > 0 && off == ra->next && (size_t)n == len) {
		ra->seq++;
	} else {
		ra->seq = 0;
		ra->win = 0;
	}
	ra->next = off + (n > 0 ? (uint64_t)n : 0);
}

/* Copy the request out of the window: its length, or -1 when the window
 * (still current) does not hold all of it (short only at the file's end). */
static ssize_t serve(struct cfs_ra *ra, const struct cfs_file *f, void *buf, size_t len, uint64_t off)
{
	if (!ra->wlen || ra->gen != f->gen || off < ra->woff || off >= ra->woff + ra->wlen)
		return -1;
	size_t have = (size_t)(ra->woff + ra->wlen - off);
	if (have < len && !ra->eof)
		return -1;
	size_t n = have < len ? have : len;
	memcpy(buf, ra->buf + (off - ra->woff), n);
	return (ssize_t)n;
}

/* Room for a window of want bytes. */
static int ensure(struct cfs_ra *ra, size_t want)
{
	if (ra->cap >= want)
		return 0;
	if (budget_take(ra->budget, want - ra->cap) < 0)
		return -ENOMEM;
	unsigned char *b = sodium_malloc(want);
	if (!b) {
		budget_give(ra->budget, want - ra->cap);
		return -ENOMEM;
	}
	if (ra->buf)
		sodium_free(ra->buf);
	ra->buf = b;
	ra->cap = want;
	return 0;
}

/* Decrypt a new window from the chunk holding off; 0 when it holds off. */
static int fill(struct cfs_ra *ra, struct cfs_file *f, size_t len, uint64_t off, struct cfs_scratch *s)
{
	size_t win = ra->win ? ra->win * 2 : CFS_RA_MIN;
	while (win < 4 * len)
		win *= 2;
	if (win > CFS_RA_MAX)
		win = CFS_RA_MAX;
	uint64_t start = off - off % f->chunk;
	ra->wlen = 0;
	if (ensure(ra, win) < 0)
		return -ENOMEM;
	struct cfs_err e = { "" };
	ssize_t got = cfs_content_read(f, ra->buf, win, (off_t)start, s, &e);
	if (got < 0 || (uint64_t)got <= off - start) {
		sodium_memzero(ra->buf, ra->cap); /* a failed read may have left bytes */
		return -1;
	}
	ra->woff = start;
	ra->wlen = (size_t)got;
	ra->eof = (size_t)got < win;
	ra->gen = f->gen;
	ra->win = win;
	ra->fills++;
	return 0;
}

ssize_t cfs_ra_read(struct cfs_ra *ra, struct cfs_file *f, void *buf, size_t len, off_t off,
		    struct cfs_scratch *s, struct cfs_err *err)
{
	if (!ra || off < 0 || len == 0)
		return cfs_content_read(f, buf, len, off, s, err);
	uint64_t o = (uint64_t)off;
	pthread_mutex_lock(&ra->mu);
	ssize_t n = serve(ra, f, buf, len, o);
	if (n >= 0) {
		ra->hits++;
	} else if (o == ra->next && ra->seq > 0 && len <= CFS_RA_MAX / 4 && fill(ra, f, len, o, s) == 0) {
		n = serve(ra, f, buf, len, o);
	}
	/* not sequential, too large to gain, at the end, or a bad chunk ahead:
	 * this request alone, with its own outcome */
	if (n < 0)
		n = cfs_content_read(f, buf, len, off, s, err);
	note(ra, o, len, n);
	pthread_mutex_unlock(&ra->mu);
	return n;
}
