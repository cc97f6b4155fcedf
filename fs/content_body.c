/* content_body.c — the body of the file format (content.h, content_int.h):
 * random-access read, write and truncate over AEAD chunks, large requests
 * split across the worker threads. Owns: the chunk I/O of one request and
 * the crash-safety of a shrinking truncate. Must never hand back a byte whose
 * tag did not verify (any failure is -EIO), never write plaintext to the
 * backing fd, and never decide access. Callers hold f->lock. */
#include "content_int.h"
#include "coachfs/content.h"
#include "coachfs/store.h"
#include "coachfs/workers.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cfs_scratch_free(struct cfs_scratch *s)
{
	if (!s)
		return;
	cfs_scratch_wipe(s);
	cfs_content_close(s->spare);
	s->spare = NULL;
}

/* The writer only ever produces bodies of n >= 1 chunks whose last chunk is
 * 1..C plaintext bytes, or the single empty chunk of an empty file; every
 * other body size is impossible. In particular a body of full chunks plus an
 * ovh-sized remainder (an "empty last chunk" after data) is refused: read
 * would otherwise treat the preceding full chunk as last and ignore the
 * appended bytes, so anything of that size appended would go unnoticed. */
off_t cfs_content_plain_size(off_t cipher_size, int chunk_log2, int aead)
{
	if (chunk_log2 < 12 || chunk_log2 > 20)
		return -1;
	off_t chunk = (off_t)1 << chunk_log2, ovh = (off_t)cfs_aead_ovh(aead), cs = chunk + ovh;
	if (cipher_size < CFS_FHDR_SIZE + ovh)
		return -1;
	off_t body = cipher_size - CFS_FHDR_SIZE;
	off_t n = body / cs + (body % cs != 0); /* no body + cs overflow near INT64_MAX */
	off_t last = body - (n - 1) * cs;
	if (last < ovh || (last == ovh && n > 1))
		return -1;
	return (n - 1) * chunk + (last - ovh);
}

int cfs_content_size(struct cfs_file *f, off_t *size)
{
	struct stat st;
	if (fstat(f->fd, &st) != 0)
		return -errno;
	off_t s = cfs_content_plain_size(st.st_size, f->keys->chunk_log2, f->aead);
	if (s < 0)
		return -EIO;
	*size = s;
	return 0;
}

/* ---- body ---- */

static size_t batch_chunks(const struct cfs_file *f)
{
	size_t b = ((size_t)1 << 20) / f->chunk;
	return b ? b : 1;
}


/* cfs_content_size with the reason in err. */
static int body_size(struct cfs_file *f, off_t *size, struct cfs_err *err)
{
	int rc = cfs_content_size(f, size);
	if (rc == -EIO)
		return cfs_errf(err, rc, "ciphertext size is not a whole number of chunks");
	if (rc < 0)
		return cfs_errf(err, rc, "stat of the ciphertext: %s", strerror(-rc));
	return 0;
}

/* A read at or past EOF reports EOF only once the last chunk, sealed with
 * the last flag, authenticates: otherwise a body replaced by any ovh bytes
 * (or an emptied file) would read as a genuine empty file, and a file cut at
 * a chunk boundary would end silently for a reader that seeks to its end. */
static int eof_check(struct cfs_file *f, off_t size, struct cfs_scratch *s, struct cfs_err *err)
{
	uint64_t L = cfs_chunk_count(f, size) - 1;
	size_t cl = cfs_chunk_len(f, size, L) + f->ovh, cs = f->chunk + f->ovh;
	if (cfs_scratch_need(s, cs + f->chunk) < 0)
		return cfs_errf(err, -ENOMEM, "out of memory for the chunk buffer");
	ssize_t got = cfs_pread_full(f->fd, s->buf, cl, cfs_chunk_off(f, L));
	if (got < 0)
		return cfs_errf(err, (int)got, "reading ciphertext: %s", strerror((int)-got));
	int rc = (size_t)got == cl ? cfs_chunk_open(f, L, 1, s->buf, cl, s->buf + cs) : -EIO;
	sodium_memzero(s->buf + cs, cl - f->ovh);
	if (rc < 0)
		return cfs_errf(err, -EIO, "chunk %llu failed authentication", (unsigned long long)L);
	return 0;
}

/* One read request [off, off + len) of a file of plaintext size `size`
 * (len already cut at EOF), and its output buffer. */
struct read_req {
	struct cfs_file *f;
	off_t size;
	unsigned char *out;
	uint64_t off;
	size_t len;
};

/* Read and open chunks lo..hi of the request into its buffer, in preads of
 * up to batch_chunks chunks through s. Chunks wholly inside the request are
 * opened straight into the buffer, the others through s. */
static int read_chunks(const struct read_req *q, uint64_t lo, uint64_t hi, struct cfs_scratch *s,
		       struct cfs_err *err)
{
	struct cfs_file *f = q->f;
	uint64_t total = cfs_chunk_count(f, q->size), off = q->off, end = q->off + q->len, B = batch_chunks(f);
	size_t cs = f->chunk + f->ovh;
	if (cfs_scratch_need(s, B * cs + f->chunk) < 0)
		return cfs_errf(err, -ENOMEM, "out of memory for the chunk buffer");
	unsigned char *ct = s->buf, *pt = s->buf + B * cs;
	for (; lo <= hi; lo += B) {
		uint64_t top = lo + B - 1 < hi ? lo + B - 1 : hi;
		size_t want = (size_t)(top - lo) * cs + cfs_chunk_len(f, q->size, top) + f->ovh;
		ssize_t got = cfs_pread_full(f->fd, ct, want, cfs_chunk_off(f, lo));
		if (got < 0)
			return cfs_errf(err, (int)got, "reading ciphertext: %s", strerror((int)-got));
		if ((size_t)got != want)
			return cfs_errf(err, -EIO, "ciphertext changed size while reading");
		for (uint64_t i = lo; i <= top; i++) {
			size_t cl = cfs_chunk_len(f, q->size, i);
			uint64_t cstart = i * f->chunk;
			const unsigned char *in = ct + (i - lo) * cs;
			int islast = (i == total - 1);
			if (cstart >= off && cstart + cl <= end) {
				if (cfs_chunk_open(f, i, islast, in, cl + f->ovh, q->out + (cstart - off)) < 0)
					return cfs_errf(err, -EIO, "chunk %llu failed authentication",
							(unsigned long long)i);
			} else {
				if (cfs_chunk_open(f, i, islast, in, cl + f->ovh, pt) < 0)
					return cfs_errf(err, -EIO, "chunk %llu failed authentication",
							(unsigned long long)i);
				uint64_t a = cstart > off ? cstart : off;
				uint64_t b = cstart + cl < end ? cstart + cl : end;
				memcpy(q->out + (a - off), pt + (a - cstart), (size_t)(b - a));
			}
		}
	}
	return 0;
}

/* Requests with at least this many plaintext bytes in whole chunks are
 * split in two and opened on two threads. Measured on 2 cores, cold dd
 * through a mount: 64 KiB requests gain nothing (the hand-off costs what
 * the second core saves), 128 KiB +20%, 1 MiB +40%. */
#define PAR_MIN_BYTES ((uint64_t)128 << 10)

/* One thread's share of a split read: up to two chunk ranges, in index
 * order, each with its own outcome so that the lowest failing chunk of the
 * whole request is the one reported. */
struct read_part {
	const struct read_req *q;
	uint64_t lo[2], hi[2];    /* range k is empty when lo[k] > hi[k] */
	int rc[2];
	struct cfs_err err[2];
};

static void read_job(void *arg, struct cfs_scratch *s)
{
	struct read_part *p = arg;
	for (int k = 0; k < 2; k++) {
		p->rc[k] = 0;
		if (p->lo[k] <= p->hi[k] && (k == 0 || p->rc[0] == 0))
			p->rc[k] = read_chunks(p->q, p->lo[k], p->hi[k], s, &p->err[k]);
	}
}

ssize_t cfs_content_read(struct cfs_file *f, void *buf, size_t len, off_t off, struct cfs_scratch *s,
			 struct cfs_err *err)
{
	off_t size;
	int rc = body_size(f, &size, err);
	if (rc < 0)
		return rc;
	if (off < 0)
		return cfs_errf(err, -EINVAL, "negative read offset");
	if (len == 0)
		return 0;
	if (off >= size)
		return eof_check(f, size, s, err);
	if ((uint64_t)len > (uint64_t)(size - off))
		len = (size_t)(size - off);
	struct read_req q = { f, size, buf, (uint64_t)off, len };
	uint64_t first = q.off / f->chunk, last = (q.off + len - 1) / f->chunk, end = q.off + len;
	/* the chunks wholly inside the request: ff up to (not including) fe */
	uint64_t ff = (q.off + f->chunk - 1) / f->chunk;
	uint64_t fe = end == (uint64_t)size ? last + 1 : end / f->chunk;
	uint64_t nfull = fe > ff ? fe - ff : 0;
	if (!s->par || nfull < 2 || nfull * f->chunk < PAR_MIN_BYTES) {
		rc = read_chunks(&q, first, last, s, err);
		return rc < 0 ? rc : (ssize_t)len;
	}
	uint64_t fl = fe - 1;
	/* The caller keeps the head (with a partial first chunk) and any
	 * partial last chunk; a worker takes the upper half of the whole ones.
	 * In index order: mine[0] < theirs < mine[1]. */
	uint64_t m = ff + nfull / 2;
	struct read_part mine = { &q, { first, fl + 1 }, { m - 1, last }, { 0, 0 }, { { "" }, { "" } } };
	struct read_part theirs = { &q, { m, 1 }, { fl, 0 }, { 0, 0 }, { { "" }, { "" } } };
	cfs_workers_split(s->par, read_job, &mine, &theirs, s);
	const struct read_part *order[3] = { &mine, &theirs, &mine };
	const int k[3] = { 0, 0, 1 };
	for (int j = 0; j < 3; j++)
		if (order[j]->rc[k[j]] < 0) {
			if (err)
				*err = order[j]->err[k[j]];
			return order[j]->rc[k[j]];
		}
	return (ssize_t)len;
}

/* One rewrite: the body's old and new sizes, the bytes to overlay, and
 * the current batch's buffers (ciphertext slots from chunk lo, one
 * plaintext chunk for merges, the batch's nonces). */
struct wr_req {
	struct cfs_file *f;
	off_t size, new_size;
	uint64_t off, old_last, new_last, lo;
	const unsigned char *data;
	size_t dlen;
	unsigned char *ct, *pt, *nonces;
};

/* Is chunk i wholly overwritten by the data? (Those chunks form one run.) */
static int wr_whole(const struct wr_req *w, uint64_t i)
{
	uint64_t cstart = i * w->f->chunk;
	size_t nlen = cfs_chunk_len(w->f, w->new_size, i);
	return w->data && cstart >= w->off && cstart + nlen <= w->off + w->dlen;
}

/* Seal a wholly overwritten chunk straight from the caller's bytes: the
 * old chunk is neither read nor needed. */
static void wr_seal_whole(const struct wr_req *w, uint64_t i)
{
	struct cfs_file *f = w->f;
	size_t cs = f->chunk + f->ovh, nl = cfs_aead_nonce_len(f->aead);
	cfs_chunk_seal(f, i, i == w->new_last, w->data + (i * f->chunk - w->off),
		       cfs_chunk_len(f, w->new_size, i), w->nonces + (i - w->lo) * nl,
		       w->ct + (i - w->lo) * cs);
}

/* Merge chunk i: the old plaintext (if the chunk exists), zeros up to the
 * new length (holes, extension), then the new bytes; sealed into its slot. */
static int wr_merge(const struct wr_req *w, uint64_t i, struct cfs_err *err)
{
	struct cfs_file *f = w->f;
	size_t cs = f->chunk + f->ovh, nl = cfs_aead_nonce_len(f->aead), olen = 0;
	size_t nlen = cfs_chunk_len(f, w->new_size, i);
	unsigned char *slot = w->ct + (i - w->lo) * cs;
	uint64_t cstart = i * f->chunk;
	if (i <= w->old_last) {
		olen = cfs_chunk_len(f, w->size, i);
		ssize_t got = cfs_pread_full(f->fd, slot, olen + f->ovh, cfs_chunk_off(f, i));
		if (got < 0)
			return cfs_errf(err, (int)got, "reading ciphertext: %s", strerror((int)-got));
		if ((size_t)got != olen + f->ovh)
			return cfs_errf(err, -EIO, "ciphertext changed size while writing");
		if (cfs_chunk_open(f, i, i == w->old_last, slot, olen + f->ovh, w->pt) < 0)
			return cfs_errf(err, -EIO, "chunk %llu failed authentication", (unsigned long long)i);
	}
	if (nlen > olen)
		memset(w->pt + olen, 0, nlen - olen);
	if (w->data && w->dlen) {
		uint64_t x = cstart > w->off ? cstart : w->off;
		uint64_t y = cstart + nlen < w->off + w->dlen ? cstart + nlen : w->off + w->dlen;
		if (x < y)
			memcpy(w->pt + (x - cstart), w->data + (x - w->off), (size_t)(y - x));
	}
	cfs_chunk_seal(f, i, i == w->new_last, w->pt, nlen, w->nonces + (i - w->lo) * nl, slot);
	return 0;
}

/* One thread's share of the wholly overwritten chunks of a batch. */
struct seal_part {
	const struct wr_req *w;
	uint64_t a, b;            /* empty when a > b */
};

static void seal_job(void *arg, struct cfs_scratch *s)
{
	const struct seal_part *p = arg;
	(void)s;
	for (uint64_t i = p->a; i <= p->b && p->a <= p->b; i++)
		wr_seal_whole(p->w, i);
}

/* Seal chunks lo..hi of the batch into w->ct: the partly written ones
 * merged on this thread, the run of wholly overwritten ones split with a
 * worker when large enough to gain (as reads are: PAR_MIN_BYTES). */
static int wr_seal_batch(struct wr_req *w, uint64_t hi, struct cfs_scratch *s, struct cfs_err *err)
{
	uint64_t wa = 1, wb = 0;
	for (uint64_t i = w->lo; i <= hi; i++) {
		if (!wr_whole(w, i)) {
			int rc = wr_merge(w, i, err);
			if (rc < 0)
				return rc;
		} else if (wa > wb) {
			wa = wb = i;
		} else {
			wb = i;
		}
	}
	uint64_t n = wa <= wb ? wb - wa + 1 : 0;
	struct seal_part all = { w, wa, wb };
	if (!s->par || n < 2 || n * w->f->chunk < PAR_MIN_BYTES) {
		seal_job(&all, s);
		return 0;
	}
	struct seal_part mine = { w, wa, wa + n / 2 - 1 }, theirs = { w, wa + n / 2, wb };
	cfs_workers_split(s->par, seal_job, &mine, &theirs, s);
	return 0;
}

/* After a failed grow: cut the file to its old ciphertext size and write
 * the saved old last chunk back; says so in err when that fails too. */
static void wr_put_back(struct cfs_file *f, uint64_t old_last, const unsigned char *saved, size_t saved_len,
			struct cfs_err *err)
{
	if (ftruncate(f->fd, cfs_chunk_off(f, old_last) + (off_t)saved_len) == 0 &&
	    cfs_pwrite_all(f->fd, saved, saved_len, cfs_chunk_off(f, old_last)) == 0)
		return;
	size_t n = strlen(err ? err->msg : "");
	if (err && n < sizeof err->msg)
		snprintf(err->msg + n, sizeof err->msg - n, "; the file could not be put back as it was");
}

/* Rewrite chunks so that the file has plaintext size new_size and the bytes
 * [off, off+dlen) equal data (NULL = nothing to overlay). Covers writes,
 * extending writes, holes (written as encrypted zeros) and truncate-up.
 *
 * A file that grows has its old last chunk resealed as an inner one before
 * the new tail is complete. Should a write fail half-way (disk full, file
 * size limit), the file is put back as it was: cut to its old ciphertext
 * size with the saved old last chunk written back. Otherwise it would keep a
 * torn tail and a last chunk no longer sealed as last, i.e. fail to read. */
static int rewrite(struct cfs_file *f, off_t size, off_t new_size, off_t off, const unsigned char *data,
		   size_t dlen, struct cfs_scratch *s, struct cfs_err *err)
{
	struct wr_req w = { f, size, new_size, (uint64_t)off, cfs_chunk_count(f, size) - 1,
			    cfs_chunk_count(f, new_size) - 1, 0, data, dlen, NULL, NULL, NULL };
	uint64_t a, b, B = batch_chunks(f);
	size_t cs = f->chunk + f->ovh, nl = cfs_aead_nonce_len(f->aead);
	int grow = new_size > size, wrote = 0, rc = 0;
	if (grow) {
		uint64_t x = dlen ? (uint64_t)off / f->chunk : w.new_last;
		a = x < w.old_last ? x : w.old_last;
		b = w.new_last;
	} else {
		if (!dlen)
			return 0;
		a = (uint64_t)off / f->chunk;
		b = ((uint64_t)off + dlen - 1) / f->chunk;
	}
	if (cfs_scratch_need(s, B * cs + f->chunk + B * nl + cs) < 0)
		return cfs_errf(err, -ENOMEM, "out of memory for the chunk buffer");
	w.ct = s->buf;
	w.pt = s->buf + B * cs;
	w.nonces = w.pt + f->chunk;
	unsigned char *saved = w.nonces + B * nl;
	size_t saved_len = cfs_chunk_len(f, size, w.old_last) + f->ovh;
	if (grow) {
		ssize_t got = cfs_pread_full(f->fd, saved, saved_len, cfs_chunk_off(f, w.old_last));
		if (got < 0)
			return cfs_errf(err, (int)got, "reading ciphertext: %s", strerror((int)-got));
		if ((size_t)got != saved_len)
			return cfs_errf(err, -EIO, "ciphertext changed size while writing");
	}
	for (w.lo = a; w.lo <= b; w.lo += B) {
		uint64_t hi = w.lo + B - 1 < b ? w.lo + B - 1 : b;
		randombytes_buf(w.nonces, (size_t)(hi - w.lo + 1) * nl);
		rc = wr_seal_batch(&w, hi, s, err);
		if (rc < 0)
			break;
		wrote = 1;
		size_t outlen = (size_t)(hi - w.lo) * cs + cfs_chunk_len(f, new_size, hi) + f->ovh;
		rc = cfs_pwrite_all(f->fd, w.ct, outlen, cfs_chunk_off(f, w.lo));
		if (rc < 0) {
			cfs_errf(err, rc, "writing ciphertext: %s", strerror(-rc));
			break;
		}
	}
	sodium_memzero(w.pt, f->chunk);
	if (rc < 0 && grow && wrote)
		wr_put_back(f, w.old_last, saved, saved_len, err);
	return rc;
}

ssize_t cfs_content_write(struct cfs_file *f, const void *buf, size_t len, off_t off,
			  struct cfs_scratch *s, struct cfs_err *err)
{
	off_t size;
	if (off < 0 || (uint64_t)off + len > (uint64_t)INT64_MAX / 2)
		return cfs_errf(err, -EFBIG, "write beyond the largest file size");
	if (len == 0)
		return 0;
	f->gen++; /* even a failed write may have changed chunks */
	int rc = body_size(f, &size, err);
	if (rc < 0)
		return rc;
	off_t end = off + (off_t)len;
	rc = rewrite(f, size, end > size ? end : size, off, buf, len, s, err);
	return rc < 0 ? rc : (ssize_t)len;
}

/* The new last chunk of a body shrunk from size to new_size: chunk L's kept
 * bytes re-sealed as the last, into s->buf (*len bytes). The old chunk is
 * read and authenticated when it keeps bytes, or always when check. */
static int seal_new_last(struct cfs_file *f, off_t size, off_t new_size, int check, struct cfs_scratch *s,
			 size_t *len, struct cfs_err *err)
{
	uint64_t old_last = cfs_chunk_count(f, size) - 1, L = cfs_chunk_count(f, new_size) - 1;
	size_t cs = f->chunk + f->ovh, nlen = cfs_chunk_len(f, new_size, L), olen = cfs_chunk_len(f, size, L);
	if (cfs_scratch_need(s, cs + f->chunk) < 0)
		return cfs_errf(err, -ENOMEM, "out of memory for the chunk buffer");
	unsigned char *ct = s->buf, *pt = s->buf + cs, nonce[24];
	if (nlen || check) {
		ssize_t got = cfs_pread_full(f->fd, ct, olen + f->ovh, cfs_chunk_off(f, L));
		if (got < 0)
			return cfs_errf(err, (int)got, "reading ciphertext: %s", strerror((int)-got));
		if ((size_t)got != olen + f->ovh || cfs_chunk_open(f, L, L == old_last, ct, olen + f->ovh, pt) < 0)
			return cfs_errf(err, -EIO, "chunk %llu failed authentication", (unsigned long long)L);
	}
	randombytes_buf(nonce, sizeof nonce);
	cfs_chunk_seal(f, L, 1, pt, nlen, nonce, ct);
	sodium_memzero(pt, f->chunk);
	*len = nlen + f->ovh;
	return 0;
}

/* A truncate's start: new_size checked, readers' caches stale from now
 * on, *size the body's current plaintext size. */
static int truncate_begin(struct cfs_file *f, off_t new_size, off_t *size, struct cfs_err *err)
{
	if (new_size < 0 || new_size > INT64_MAX / 2)
		return cfs_errf(err, -EINVAL, "truncate to a negative or too large size");
	f->gen++;
	return body_size(f, size, err);
}

int cfs_content_truncate(struct cfs_file *f, off_t new_size, struct cfs_scratch *s, struct cfs_err *err)
{
	off_t size;
	int rc = truncate_begin(f, new_size, &size, err);
	if (rc < 0)
		return rc;
	if (new_size == size)
		return 0;
	if (new_size > size)
		return rewrite(f, size, new_size, new_size, NULL, 0, s, err);
	uint64_t L = cfs_chunk_count(f, new_size) - 1;
	size_t len;
	rc = seal_new_last(f, size, new_size, 1, s, &len, err);
	if (rc < 0)
		return rc;
	if (ftruncate(f->fd, cfs_chunk_off(f, L) + (off_t)len) != 0)
		return cfs_errf(err, -errno, "truncating ciphertext: %s", strerror(errno));
	rc = cfs_pwrite_all(f->fd, s->buf, len, cfs_chunk_off(f, L));
	if (rc < 0)
		return cfs_errf(err, rc, "writing ciphertext: %s", strerror(-rc));
	return 0;
}

/* Copy [0, len) of fd `in` to the empty file `out`. */
static int copy_prefix(int in, int out, off_t len, struct cfs_err *err)
{
	loff_t io = 0, oo = 0;
	while (io < len) {
		ssize_t n = copy_file_range(in, &io, out, &oo, (size_t)(len - io), 0);
		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) {
			unsigned char buf[65536];
			size_t want = len - io < (off_t)sizeof buf ? (size_t)(len - io) : sizeof buf;
			ssize_t r = cfs_pread_full(in, buf, want, io);
			if (r == (ssize_t)want && cfs_pwrite_all(out, buf, want, oo) == 0) {
				io += r;
				oo += r;
				continue;
			}
			n = r < 0 ? r : -EIO;
			errno = (int)-n;
			n = -1;
		}
		if (n <= 0)
			return cfs_errf(err, n < 0 ? -errno : -EIO, "copying the kept chunks: %s",
					n < 0 ? strerror(errno) : "the file shrank meanwhile");
	}
	return 0;
}

int cfs_content_truncate_at(struct cfs_file *f, off_t new_size, int dirfd, const char *leaf, int *replaced,
			    struct cfs_scratch *s, struct cfs_err *err)
{
	off_t size;
	struct stat st, cur;
	*replaced = 0;
	int rc = truncate_begin(f, new_size, &size, err);
	if (rc < 0)
		return rc;
	if (new_size >= size) /* a grow puts the file back as it was if it fails half-way */
		return cfs_content_truncate(f, new_size, s, err);
	/* A shrink re-seals the new last chunk: built, with the kept chunks
	 * before it, in a temporary file renamed over the name, so the name
	 * always holds the old content or the new, whatever crashes when. */
	uint64_t L = cfs_chunk_count(f, new_size) - 1;
	size_t len;
	rc = seal_new_last(f, size, new_size, 0, s, &len, err);
	if (rc < 0)
		return rc;
	if (fstat(f->fd, &st) != 0)
		return cfs_errf(err, -errno, "stat: %s", strerror(errno));
	char tmp[64];
	int t = cfs_store_tmpfile(dirfd, tmp, sizeof tmp);
	if (t < 0)
		return cfs_errf(err, t, "cannot make a temporary file: %s", strerror(-t));
	rc = copy_prefix(f->fd, t, cfs_chunk_off(f, L), err);
	if (rc == 0 && (rc = cfs_pwrite_all(t, s->buf, len, cfs_chunk_off(f, L))) < 0)
		cfs_errf(err, rc, "writing ciphertext: %s", strerror(-rc));
	if (rc == 0 && (fchown(t, st.st_uid, st.st_gid) != 0 || fchmod(t, st.st_mode & 07777) != 0 || fsync(t) != 0))
		rc = cfs_errf(err, -errno, "%s", strerror(errno));
	/* the name must still be this file (a rename through the mount holds no
	 * lock of the file's; it is rebound under it, which this lock orders) */
	if (rc == 0 && (fstatat(dirfd, leaf, &cur, AT_SYMLINK_NOFOLLOW) != 0 || cur.st_dev != st.st_dev ||
			cur.st_ino != st.st_ino))
		rc = cfs_errf(err, -ESTALE, "the file moved while it was being truncated");
	if (rc == 0 && renameat(dirfd, tmp, dirfd, leaf) != 0)
		rc = cfs_errf(err, -errno, "rename: %s", strerror(errno));
	if (rc < 0) {
		unlinkat(dirfd, tmp, 0);
		close(t);
		return rc;
	}
	/* every handle shares f->fd: point it at the new file */
	if (dup3(t, f->fd, O_CLOEXEC) < 0) {
		rc = cfs_errf(err, -errno, "dup3: %s", strerror(errno));
		close(t);
		return rc;
	}
	close(t);
	*replaced = 1;
	return 0;
}

int cfs_content_verify(struct cfs_file *f, struct cfs_scratch *s, struct cfs_err *err)
{
	struct stat st;
	if (fstat(f->fd, &st) != 0)
		return cfs_errf(err, -errno, "%s", strerror(errno));
	off_t size = cfs_content_plain_size(st.st_size, f->keys->chunk_log2, f->aead);
	if (size < 0)
		return cfs_errf(err, -EIO, "ciphertext is cut inside a chunk (%lld bytes)",
				(long long)st.st_size);
	uint64_t n = cfs_chunk_count(f, size);
	size_t cs = f->chunk + f->ovh;
	if (cfs_scratch_need(s, cs + f->chunk) < 0)
		return cfs_errf(err, -ENOMEM, "out of memory for the chunk buffer");
	for (uint64_t i = 0; i < n; i++) {
		size_t cl = cfs_chunk_len(f, size, i) + f->ovh;
		ssize_t got = cfs_pread_full(f->fd, s->buf, cl, cfs_chunk_off(f, i));
		if (got != (ssize_t)cl || cfs_chunk_open(f, i, i == n - 1, s->buf, cl, s->buf + cs) < 0)
			return cfs_errf(err, -EIO, "chunk %llu of %llu failed authentication",
					(unsigned long long)i, (unsigned long long)n);
	}
	sodium_memzero(s->buf + cs, f->chunk);
	return 0;
}
