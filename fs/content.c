/* content.c — the encrypted file format and random-access chunk I/O.
 * Owns: file header encode/authenticate, the attribute block, chunk seal and
 * open, read/write/truncate over chunks. Must never hand back a byte whose tag
 * did not verify (any failure is -EIO), never write plaintext to the backing
 * fd, and never decide access.
 *
 * File header (format 2), CFS_FHDR_SIZE (1024) bytes:
 *   0 "CFSF" | 4 version u8 (2) | 5 aead u8 | 6 chunk_log2 u8 | 7 kind u8
 *     (0 file, 1 directory sidecar)
 *   8 file id [16] | 24 meta_len u16 | 26 zero [6]
 *  32 header version u64 LE (raised on every header change and on the first
 *     write through each write handle; the local record keeps the highest)
 *  40 nonce [24] | 64 XChaCha20-Poly1305(meta key, AD)(meta) + tag
 *  then zeros to 1024 (checked).
 *  AD = bytes 0..39 || parent directory id [16] || name length u8 || name:
 *  the place the entry lives (struct cfs_bind), which is not stored but
 *  supplied by whoever opens it, so a header moved, copied or swapped to
 *  another place fails authentication.
 * Body: chunk i at 1024 + i * (C + ovh): nonce || AEAD(file key, chunk) || tag,
 * AD = file id || i (u64 LE) || last (u8). C = 1 << chunk_log2 plaintext bytes,
 * the last chunk shorter. A file always has at least one chunk (an empty file
 * is one empty last chunk), so cutting the body at any chunk boundary, or
 * dropping it, fails authentication. File key = BLAKE2b-256(key = content
 * subkey, file id). Format 1 differed only in the header: no version field,
 * nonce at 32, ciphertext at 56, AD = bytes 0..31 (cfs_content_upgrade_v1). */
#include "coachfs/content.h"
#include "coachfs/state.h"
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

#define FMAGIC "CFSF"
#define FVERSION CFS_FILE_VERSION
#define HVER_OFF 32
#define META_NONCE_OFF 40
#define META_CT_OFF 64
#define HAD_LEN 40                        /* header bytes in the AD */
#define V1_NONCE_OFF 32
#define V1_CT_OFF 56
#define V1_META_MAX (CFS_FHDR_SIZE - 56 - 16)
#define AD_LEN (CFS_FILE_ID_BYTES + 9)

static size_t aead_nonce_len(int aead)
{
	return aead == CFS_AEAD_AESGCM ? crypto_aead_aes256gcm_NPUBBYTES
				       : crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
}

static size_t aead_ovh(int aead)
{
	return aead_nonce_len(aead) + 16;
}

void cfs_scratch_free(struct cfs_scratch *s)
{
	if (!s)
		return;
	if (s->buf) {
		sodium_memzero(s->buf, s->cap); /* it held plaintext */
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
	}
	cfs_content_close(s->spare);
	s->spare = NULL;
}

static int scratch_need(struct cfs_scratch *s, size_t need)
{
	if (s->cap >= need)
		return 0;
	size_t cap = (need + 4095) & ~(size_t)4095;
	void *p = NULL;
	if (posix_memalign(&p, 4096, cap) != 0)
		return -ENOMEM;
	if (s->buf) {
		sodium_memzero(s->buf, s->cap);
		free(s->buf);
	}
	s->buf = p;
	s->cap = cap;
	return 0;
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
	off_t chunk = (off_t)1 << chunk_log2, ovh = (off_t)aead_ovh(aead), cs = chunk + ovh;
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

/* ---- chunk seal/open ---- */

/* f->key is one sodium_malloc block: the 32-byte file key, then (16-byte
 * aligned) the expanded AES-GCM key schedule, computed once per file
 * instead of once per chunk (~40 ns of a 4 KiB chunk's ~1.7 us). */
#define KEYBLOCK (CFS_KEY_BYTES + 15 + sizeof(crypto_aead_aes256gcm_state))

static crypto_aead_aes256gcm_state *gcm_state(const struct cfs_file *f)
{
	uintptr_t p = ((uintptr_t)f->key + CFS_KEY_BYTES + 15) & ~(uintptr_t)15;
	return (crypto_aead_aes256gcm_state *)p;
}

static void chunk_ad(const struct cfs_file *f, uint64_t idx, int last, unsigned char ad[AD_LEN])
{
	memcpy(ad, f->id, CFS_FILE_ID_BYTES);
	for (int i = 0; i < 8; i++)
		ad[CFS_FILE_ID_BYTES + i] = (unsigned char)(idx >> (8 * i));
	ad[CFS_FILE_ID_BYTES + 8] = (unsigned char)(last ? 1 : 0);
}

/* out = nonce || ct || tag (len + ovh bytes); nonce supplied by the caller. */
static void chunk_seal(const struct cfs_file *f, uint64_t idx, int last, const unsigned char *pt,
		       size_t len, const unsigned char *nonce, unsigned char *out)
{
	unsigned char ad[AD_LEN];
	size_t nl = aead_nonce_len(f->aead);
	chunk_ad(f, idx, last, ad);
	memmove(out, nonce, nl);
	if (f->aead == CFS_AEAD_AESGCM)
		crypto_aead_aes256gcm_encrypt_detached_afternm(out + nl, out + nl + len, NULL, pt, len, ad,
							       AD_LEN, NULL, out, gcm_state(f));
	else
		crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out + nl, out + nl + len, NULL, pt,
								    len, ad, AD_LEN, NULL, out, f->key);
}

/* in = nonce || ct || tag of inlen bytes; pt gets inlen - ovh bytes. */
static int chunk_open(const struct cfs_file *f, uint64_t idx, int last, const unsigned char *in,
		      size_t inlen, unsigned char *pt)
{
	unsigned char ad[AD_LEN];
	size_t nl = aead_nonce_len(f->aead);
	if (inlen < f->ovh || inlen - f->ovh > f->chunk)
		return -EIO;
	size_t len = inlen - f->ovh;
	chunk_ad(f, idx, last, ad);
	int r;
	if (f->aead == CFS_AEAD_AESGCM)
		r = crypto_aead_aes256gcm_decrypt_detached_afternm(pt, NULL, in + nl, len, in + nl + len, ad,
								   AD_LEN, in, gcm_state(f));
	else
		r = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(pt, NULL, in + nl, len,
									in + nl + len, ad, AD_LEN, in,
									f->key);
	return r == 0 ? 0 : -EIO;
}

/* ---- attribute block ---- */

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

/* ---- header ---- */

static const struct cfs_bind DETACHED = { { 0 }, "", CFS_KIND_FILE };

int cfs_bind_set(struct cfs_bind *b, const unsigned char parent[CFS_FILE_ID_BYTES], const char *name, int kind)
{
	size_t n = strlen(name);
	if (n > 255)
		return -ENAMETOOLONG;
	if (memchr(name, '/', n))
		return -EINVAL;
	memset(b, 0, sizeof *b);
	memcpy(b->parent, parent, CFS_FILE_ID_BYTES);
	memcpy(b->name, name, n);
	b->kind = kind;
	return 0;
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* The header's associated data: its first 40 bytes and the place. */
static size_t header_ad(const unsigned char *h, const struct cfs_bind *b, unsigned char ad[HAD_LEN + 16 + 1 + 255])
{
	size_t n = strnlen(b->name, 255);
	memcpy(ad, h, HAD_LEN);
	memcpy(ad + HAD_LEN, b->parent, CFS_FILE_ID_BYTES);
	ad[HAD_LEN + 16] = (unsigned char)n;
	memcpy(ad + HAD_LEN + 17, b->name, n);
	return HAD_LEN + 17 + n;
}

/* Encode and seal f's header into h (CFS_FHDR_SIZE bytes). */
static void header_seal(const struct cfs_file *f, unsigned char h[CFS_FHDR_SIZE])
{
	unsigned char ad[HAD_LEN + 16 + 1 + 255];
	memset(h, 0, CFS_FHDR_SIZE);
	memcpy(h, FMAGIC, 4);
	h[4] = FVERSION;
	h[5] = (unsigned char)f->aead;
	h[6] = (unsigned char)f->keys->chunk_log2;
	h[7] = (unsigned char)f->bind.kind;
	memcpy(h + 8, f->id, CFS_FILE_ID_BYTES);
	h[24] = (unsigned char)(f->meta_len & 0xff);
	h[25] = (unsigned char)(f->meta_len >> 8);
	put64(h + HVER_OFF, f->version);
	randombytes_buf(h + META_NONCE_OFF, 24);
	size_t adl = header_ad(h, &f->bind, ad);
	crypto_aead_xchacha20poly1305_ietf_encrypt(h + META_CT_OFF, NULL, f->meta, f->meta_len, ad, adl,
						   NULL, h + META_NONCE_OFF, f->keys->meta);
}

/* Raise the record to f's version (the floor is 1: a header never written
 * since its creation needs no row, which keeps creates off the database). */
static int record_note(struct cfs_file *f, struct cfs_err *err)
{
	if (!f->state || f->version <= 1)
		return 0;
	return cfs_state_note(f->state, f->id, f->version, err);
}

static int header_write(struct cfs_file *f, struct cfs_err *err)
{
	unsigned char h[CFS_FHDR_SIZE];
	header_seal(f, h);
	int rc = cfs_pwrite_all(f->fd, h, sizeof h, 0);
	sodium_memzero(h, sizeof h);
	if (rc < 0)
		return cfs_errf(err, rc, "writing the file header: %s", strerror(-rc));
	return record_note(f, err);
}

/* libsodium's AES-GCM needs AES-NI and PCLMUL (it would fault without
 * them): a store or file made on one machine may be opened on another. */
static int aead_usable(int aead, struct cfs_err *err)
{
	if (aead != CFS_AEAD_XCHACHA && aead != CFS_AEAD_AESGCM)
		return cfs_errf(err, -EINVAL, "unknown cipher %d", aead);
	if (aead == CFS_AEAD_AESGCM && !crypto_aead_aes256gcm_is_available())
		return cfs_errf(err, -ENOTSUP, "the file is encrypted with aes256gcm, which needs AES-NI and PCLMUL; this CPU lacks them");
	return 0;
}

struct cfs_shells {
	pthread_mutex_t mu;
	unsigned n, cap;
	struct cfs_file *f[];
};

int cfs_shells_new(unsigned cap, struct cfs_shells **out, struct cfs_err *err)
{
	*out = NULL;
	if (cap < 1 || cap > 1024)
		return cfs_errf(err, -EINVAL, "shell pool size %u is not 1..1024", cap);
	struct cfs_shells *p = calloc(1, sizeof *p + cap * sizeof p->f[0]);
	if (!p)
		return cfs_errf(err, -ENOMEM, "out of memory for the shell pool");
	int rc = pthread_mutex_init(&p->mu, NULL);
	if (rc != 0) {
		free(p);
		return cfs_errf(err, -rc, "cannot make the shell pool's lock: %s", strerror(rc));
	}
	p->cap = cap;
	*out = p;
	return 0;
}

void cfs_shells_free(struct cfs_shells *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->n; i++)
		cfs_content_close(p->f[i]);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static struct cfs_file *shells_take(struct cfs_shells *p)
{
	struct cfs_file *f = NULL;
	if (!p)
		return NULL;
	pthread_mutex_lock(&p->mu);
	if (p->n > 0)
		f = p->f[--p->n];
	pthread_mutex_unlock(&p->mu);
	return f;
}

static int shells_put(struct cfs_shells *p, struct cfs_file *f)
{
	int kept = 0;
	if (!p)
		return 0;
	pthread_mutex_lock(&p->mu);
	if (p->n < p->cap) {
		p->f[p->n++] = f;
		kept = 1;
	}
	pthread_mutex_unlock(&p->mu);
	return kept;
}

/* A file shell: the thread's parked spare or one from the shared pool (both
 * already wiped), or a fresh one. */
static struct cfs_file *file_new(int fd, const struct cfs_keys *keys, int aead, struct cfs_scratch *s)
{
	struct cfs_file *f = s ? s->spare : NULL;
	if (f)
		s->spare = NULL;
	else if (s)
		f = shells_take(s->shells);
	if (!f) {
		f = calloc(1, sizeof *f);
		if (!f)
			return NULL;
		f->key = sodium_malloc(KEYBLOCK);
		if (!f->key) {
			free(f);
			return NULL;
		}
		pthread_rwlock_init(&f->lock, NULL);
	}
	f->fd = fd;
	f->keys = keys;
	f->aead = aead;
	f->chunk = (size_t)1 << keys->chunk_log2;
	f->ovh = aead_ovh(aead);
	return f;
}

static void file_key(struct cfs_file *f)
{
	crypto_generichash(f->key, CFS_KEY_BYTES, f->id, CFS_FILE_ID_BYTES, f->keys->content,
			   CFS_KEY_BYTES);
	if (f->aead == CFS_AEAD_AESGCM) /* only once aead_usable() said yes */
		crypto_aead_aes256gcm_beforenm(gcm_state(f), f->key);
}

void cfs_content_close(struct cfs_file *f)
{
	if (!f)
		return;
	sodium_free(f->key); /* sodium_free wipes */
	sodium_memzero(f->meta, sizeof f->meta);
	pthread_rwlock_destroy(&f->lock);
	free(f);
}

void cfs_content_release(struct cfs_file *f, struct cfs_scratch *s)
{
	if (!f)
		return;
	if (!s) {
		cfs_content_close(f);
		return;
	}
	/* nobody holds f->lock any more: it stays initialised for the next use */
	sodium_memzero(f->key, KEYBLOCK); /* key and AES-GCM state */
	sodium_memzero(f->id, sizeof f->id);
	sodium_memzero(f->meta, sizeof f->meta);
	f->meta_len = 0;
	f->fd = -1;
	f->keys = NULL;
	f->state = NULL;
	f->version = 0;
	memset(&f->bind, 0, sizeof f->bind);
	if (!s->spare)
		s->spare = f;
	else if (!shells_put(s->shells, f))
		cfs_content_close(f);
}

int cfs_content_create(int fd, const struct cfs_keys *keys, const unsigned char *meta,
		       size_t meta_len, struct cfs_file **out, struct cfs_err *err)
{
	return cfs_content_create_b(fd, keys, NULL, NULL, NULL, 1, meta, meta_len, NULL, out, err);
}

int cfs_content_create_s(int fd, const struct cfs_keys *keys, const unsigned char *meta,
			 size_t meta_len, struct cfs_scratch *s, struct cfs_file **out,
			 struct cfs_err *err)
{
	return cfs_content_create_b(fd, keys, NULL, NULL, NULL, 1, meta, meta_len, s, out, err);
}

int cfs_content_create_b(int fd, const struct cfs_keys *keys, const struct cfs_bind *b,
			 struct cfs_state *st, const unsigned char *id, uint64_t version,
			 const unsigned char *meta, size_t meta_len, struct cfs_scratch *s,
			 struct cfs_file **out, struct cfs_err *err)
{
	if (meta_len > CFS_META_MAX || cfs_meta_valid(meta, meta_len) < 0)
		return cfs_errf(err, -EINVAL, "attribute block too large or malformed");
	if (version < 1 || version > INT64_MAX)
		return cfs_errf(err, -EINVAL, "header version out of range");
	int rc = aead_usable(keys->aead, err);
	if (rc < 0)
		return rc;
	struct cfs_file *f = file_new(fd, keys, keys->aead, s);
	if (!f)
		return cfs_errf(err, -ENOMEM, "out of memory");
	if (id)
		memcpy(f->id, id, sizeof f->id);
	else
		randombytes_buf(f->id, sizeof f->id);
	f->bind = b ? *b : DETACHED;
	f->state = st;
	f->version = version;
	file_key(f);
	if (meta_len)
		memcpy(f->meta, meta, meta_len);
	f->meta_len = meta_len;
	rc = header_write(f, err);
	if (rc == 0) {
		unsigned char c[64], nonce[24];
		randombytes_buf(nonce, sizeof nonce);
		chunk_seal(f, 0, 1, (const unsigned char *)"", 0, nonce, c);
		rc = cfs_pwrite_all(fd, c, f->ovh, CFS_FHDR_SIZE);
		if (rc == 0 && ftruncate(fd, CFS_FHDR_SIZE + (off_t)f->ovh) != 0)
			rc = -errno;
		if (rc < 0)
			cfs_errf(err, rc, "writing the first chunk: %s", strerror(-rc));
	}
	if (rc < 0) {
		cfs_content_close(f);
		return rc;
	}
	*out = f;
	return 0;
}

static int header_load(int fd, unsigned char h[CFS_FHDR_SIZE], struct cfs_err *err)
{
	ssize_t r = cfs_pread_full(fd, h, CFS_FHDR_SIZE, 0);
	if (r < 0)
		return cfs_errf(err, (int)r, "reading the file header: %s", strerror((int)-r));
	if (r != CFS_FHDR_SIZE)
		return cfs_errf(err, -EIO, "file header truncated (%zd of %d bytes)", r, CFS_FHDR_SIZE);
	if (memcmp(h, FMAGIC, 4) != 0)
		return cfs_errf(err, -EIO, "not a coachfs file (bad magic)");
	return 0;
}

/* Read and check the header of fd; on success h holds it and *ml is the
 * attribute block's length (not yet authenticated: that is the caller's
 * decryption, whose AD is h[0..39] and the place). kind: what the caller
 * expects (a file where a sidecar belongs is refused, and back). */
static int header_read(int fd, const struct cfs_keys *keys, int kind, unsigned char h[CFS_FHDR_SIZE],
		       size_t *ml, struct cfs_err *err)
{
	int rc = header_load(fd, h, err);
	if (rc < 0)
		return rc;
	if (h[4] == 1)
		return cfs_errf(err, -EIO, "file format version 1 (a store not yet upgraded: run 'coach-admin upgrade')");
	if (h[4] != FVERSION)
		return cfs_errf(err, -EIO, "file format version %u is not supported", h[4]);
	/* one cipher per store: sizes are derived from it without reading headers */
	if (h[5] != keys->aead || h[6] != keys->chunk_log2)
		return cfs_errf(err, -EIO, "file header names a cipher or chunk size this store does not use");
	if (h[7] != (unsigned char)kind)
		return cfs_errf(err, -EIO, h[7] == CFS_KIND_DIR ? "a directory sidecar where a file belongs"
				: h[7] == CFS_KIND_FILE ? "a file header where a directory sidecar belongs"
				: "file header names an unknown kind");
	*ml = (size_t)h[24] | ((size_t)h[25] << 8);
	if (*ml > CFS_META_MAX)
		return cfs_errf(err, -EIO, "file header attribute block too long");
	for (int i = 26; i < 32; i++)
		if (h[i])
			return cfs_errf(err, -EIO, "file header reserved bytes are not zero");
	for (size_t i = META_CT_OFF + *ml + 16; i < CFS_FHDR_SIZE; i++)
		if (h[i])
			return cfs_errf(err, -EIO, "file header padding is not zero");
	return 0;
}

/* Authenticate and decrypt the attribute block of header h into meta. */
static int header_meta(const unsigned char h[CFS_FHDR_SIZE], size_t ml, const struct cfs_bind *b,
		       const struct cfs_keys *keys, unsigned char *meta, struct cfs_err *err)
{
	unsigned char ad[HAD_LEN + 16 + 1 + 255];
	size_t adl = header_ad(h, b, ad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(meta, NULL, NULL, h + META_CT_OFF, ml + 16, ad, adl,
						       h + META_NONCE_OFF, keys->meta) != 0 ||
	    cfs_meta_valid(meta, ml) < 0) {
		sodium_memzero(meta, ml);
		return cfs_errf(err, -EIO, "file header failed authentication (edited, or moved, copied or "
				"swapped here from another place)");
	}
	return 0;
}

/* A header of version v for id against the record: older is a rollback;
 * newer (a crash between a header write and its record) raises the record. */
static int record_check(struct cfs_state *st, const unsigned char *id, uint64_t v, struct cfs_err *err)
{
	uint64_t seen;
	if (!st)
		return 0;
	int rc = cfs_state_get(st, id, &seen, err);
	if (rc < 0)
		return rc;
	if (v < seen) /* -ESTALE: the callers below look once more before calling it a rollback */
		return cfs_errf(err, -ESTALE, "rolled back: header version %llu is older than version %llu seen before",
				(unsigned long long)v, (unsigned long long)seen);
	if (v > seen && v > 1)
		return cfs_state_note(st, id, v, err);
	return 0;
}

int cfs_content_open(int fd, const struct cfs_keys *keys, struct cfs_file **out, struct cfs_err *err)
{
	return cfs_content_open_b(fd, keys, NULL, NULL, NULL, out, err);
}

int cfs_content_open_s(int fd, const struct cfs_keys *keys, struct cfs_scratch *s,
		       struct cfs_file **out, struct cfs_err *err)
{
	return cfs_content_open_b(fd, keys, NULL, NULL, s, out, err);
}

int cfs_content_open_b(int fd, const struct cfs_keys *keys, const struct cfs_bind *b, struct cfs_state *st,
		       struct cfs_scratch *s, struct cfs_file **out, struct cfs_err *err)
{
	unsigned char h[CFS_FHDR_SIZE];
	size_t ml;
	if (!b)
		b = &DETACHED;
	int rc = header_read(fd, keys, b->kind, h, &ml, err);
	if (rc < 0)
		return rc;
	/* A header is written before its version is recorded: a reader that
	 * read the old header just before a writer recorded the new version
	 * sees "older than recorded". It reads once more; a rollback on disk
	 * stays one. */
	uint64_t seen;
	if (st && cfs_state_get(st, h + 8, &seen, err) == 0 && get64(h + HVER_OFF) < seen) {
		rc = header_read(fd, keys, b->kind, h, &ml, err);
		if (rc < 0)
			return rc;
	}
	struct cfs_file *f = file_new(fd, keys, h[5], s);
	if (!f)
		return cfs_errf(err, -ENOMEM, "out of memory");
	memcpy(f->id, h + 8, CFS_FILE_ID_BYTES);
	f->bind = *b;
	f->state = st;
	f->version = get64(h + HVER_OFF);
	if (header_meta(h, ml, b, keys, f->meta, err) < 0) {
		cfs_content_close(f);
		return -EIO;
	}
	f->meta_len = ml;
	rc = aead_usable(f->aead, err);
	if (rc == 0)
		rc = record_check(st, f->id, f->version, err);
	if (rc < 0) {
		cfs_content_close(f);
		return rc == -ESTALE ? -EIO : rc;
	}
	file_key(f);
	*out = f;
	return 0;
}

int cfs_content_meta(int fd, const struct cfs_keys *keys, unsigned char *meta, size_t *len,
		     struct cfs_err *err)
{
	return cfs_content_meta_b(fd, keys, NULL, NULL, meta, len, NULL, NULL, err);
}

int cfs_content_meta_b(int fd, const struct cfs_keys *keys, const struct cfs_bind *b, struct cfs_state *st,
		       unsigned char *meta, size_t *len, unsigned char *id, uint64_t *version,
		       struct cfs_err *err)
{
	unsigned char h[CFS_FHDR_SIZE];
	size_t ml = 0;
	if (!b)
		b = &DETACHED;
	int rc = 0;
	for (int tries = 0; tries < 2; tries++) { /* once more on -ESTALE: see cfs_content_open_b */
		rc = header_read(fd, keys, b->kind, h, &ml, err);
		if (rc == 0)
			rc = header_meta(h, ml, b, keys, meta, err);
		if (rc == 0)
			rc = record_check(st, h + 8, get64(h + HVER_OFF), err);
		if (rc != -ESTALE)
			break;
	}
	if (rc < 0) {
		sodium_memzero(meta, ml <= CFS_META_MAX ? ml : 0);
		return rc == -ESTALE ? -EIO : rc;
	}
	*len = ml;
	if (id)
		memcpy(id, h + 8, CFS_FILE_ID_BYTES);
	if (version)
		*version = get64(h + HVER_OFF);
	return 0;
}

int cfs_content_peek_id(int fd, unsigned char id[CFS_FILE_ID_BYTES])
{
	unsigned char h[32];
	if (cfs_pread_full(fd, h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h, FMAGIC, 4) != 0)
		return -EIO;
	memcpy(id, h + 8, CFS_FILE_ID_BYTES);
	return 0;
}

int cfs_content_peek_version(int fd)
{
	unsigned char h[8];
	if (cfs_pread_full(fd, h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h, FMAGIC, 4) != 0)
		return -EIO;
	return h[4];
}

int cfs_content_bump(struct cfs_file *f, struct cfs_err *err)
{
	if (f->version >= INT64_MAX)
		return cfs_errf(err, -EOVERFLOW, "header version exhausted");
	f->version++;
	return header_write(f, err);
}

int cfs_content_rebind(struct cfs_file *f, const struct cfs_bind *b, struct cfs_err *err)
{
	struct cfs_bind old = f->bind;
	f->bind = *b;
	int rc = cfs_content_bump(f, err);
	if (rc < 0)
		f->bind = old;
	return rc;
}

int cfs_content_upgrade_v1(int oldfd, int newfd, const struct cfs_keys *keys, const struct cfs_bind *b,
			   unsigned char id[CFS_FILE_ID_BYTES], struct cfs_err *err)
{
	unsigned char h[CFS_FHDR_SIZE], meta[V1_META_MAX];
	int rc = header_load(oldfd, h, err);
	if (rc < 0)
		return rc;
	if (h[4] != 1)
		return cfs_errf(err, -EIO, "not a format-1 file header (version %u)", h[4]);
	if (h[5] != keys->aead || h[6] != keys->chunk_log2 || h[7])
		return cfs_errf(err, -EIO, "file header names a cipher or chunk size this store does not use");
	size_t ml = (size_t)h[24] | ((size_t)h[25] << 8);
	if (ml > V1_META_MAX)
		return cfs_errf(err, -EIO, "file header attribute block too long");
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(meta, NULL, NULL, h + V1_CT_OFF, ml + 16, h, 32,
						       h + V1_NONCE_OFF, keys->meta) != 0 ||
	    cfs_meta_valid(meta, ml) < 0) {
		sodium_memzero(meta, sizeof meta);
		return cfs_errf(err, -EIO, "format-1 file header failed authentication");
	}
	if (ml > CFS_META_MAX) {
		sodium_memzero(meta, sizeof meta);
		return cfs_errf(err, -ENOSPC, "its attributes (%zu bytes) do not fit a format-2 header (%d)", ml,
				CFS_META_MAX);
	}
	struct cfs_file *f = NULL;
	rc = aead_usable(h[5], err);
	if (rc == 0)
		rc = cfs_content_create_b(newfd, keys, b, NULL, h + 8, 1, meta, ml, NULL, &f, err);
	sodium_memzero(meta, sizeof meta);
	if (rc < 0)
		return rc;
	memcpy(id, f->id, CFS_FILE_ID_BYTES);
	cfs_content_close(f);
	/* the body as it is: its chunks bind the file id, which is kept */
	struct stat st;
	if (fstat(oldfd, &st) != 0)
		return cfs_errf(err, -errno, "stat: %s", strerror(errno));
	if (ftruncate(newfd, CFS_FHDR_SIZE) != 0)
		return cfs_errf(err, -errno, "truncate: %s", strerror(errno));
	loff_t in = CFS_FHDR_SIZE, outo = CFS_FHDR_SIZE;
	while (in < st.st_size) {
		ssize_t n = copy_file_range(oldfd, &in, newfd, &outo, (size_t)(st.st_size - in), 0);
		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) {
			unsigned char buf[65536];
			ssize_t r = pread(oldfd, buf, sizeof buf, in);
			if (r > 0 && cfs_pwrite_all(newfd, buf, (size_t)r, outo) == 0) {
				in += r;
				outo += r;
				continue;
			}
			n = r == 0 ? 0 : -1;
		}
		if (n <= 0)
			return cfs_errf(err, n < 0 ? -errno : -EIO, "copying the body: %s",
					n < 0 ? strerror(errno) : "file shrank");
	}
	return 0;
}

int cfs_content_set_meta(struct cfs_file *f, const unsigned char *meta, size_t meta_len,
			 struct cfs_err *err)
{
	if (meta_len > CFS_META_MAX)
		return cfs_errf(err, -ENOSPC, "attributes do not fit in the file header");
	if (cfs_meta_valid(meta, meta_len) < 0)
		return cfs_errf(err, -EINVAL, "attribute block is malformed");
	unsigned char old[CFS_META_MAX];
	size_t oldlen = f->meta_len;
	memcpy(old, f->meta, oldlen);
	if (meta_len)
		memmove(f->meta, meta, meta_len);
	f->meta_len = meta_len;
	int rc = cfs_content_bump(f, err);
	if (rc < 0) {
		memcpy(f->meta, old, oldlen);
		f->meta_len = oldlen;
	}
	sodium_memzero(old, sizeof old);
	return rc;
}

/* ---- body ---- */

static size_t batch_chunks(const struct cfs_file *f)
{
	size_t b = ((size_t)1 << 20) / f->chunk;
	return b ? b : 1;
}

/* Number of chunks in a file of plaintext size `size` (at least one). */
static uint64_t nchunks(const struct cfs_file *f, off_t size)
{
	return size == 0 ? 1 : ((uint64_t)size + f->chunk - 1) / f->chunk;
}

/* Plaintext length of chunk i in a file of size `size`. */
static size_t chunk_len(const struct cfs_file *f, off_t size, uint64_t i)
{
	uint64_t start = i * f->chunk;
	if ((uint64_t)size <= start)
		return 0;
	uint64_t rest = (uint64_t)size - start;
	return rest < f->chunk ? (size_t)rest : f->chunk;
}

static off_t chunk_off(const struct cfs_file *f, uint64_t i)
{
	return CFS_FHDR_SIZE + (off_t)(i * (f->chunk + f->ovh));
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
	uint64_t L = nchunks(f, size) - 1;
	size_t cl = chunk_len(f, size, L) + f->ovh, cs = f->chunk + f->ovh;
	if (scratch_need(s, cs + f->chunk) < 0)
		return cfs_errf(err, -ENOMEM, "out of memory for the chunk buffer");
	ssize_t got = cfs_pread_full(f->fd, s->buf, cl, chunk_off(f, L));
	if (got < 0)
		return cfs_errf(err, (int)got, "reading ciphertext: %s", strerror((int)-got));
	int rc = (size_t)got == cl ? chunk_open(f, L, 1, s->buf, cl, s->buf + cs) : -EIO;
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
	uint64_t total = nchunks(f, q->size), off = q->off, end = q->off + q->len, B = batch_chunks(f);
	size_t cs = f->chunk + f->ovh;
	if (scratch_need(s, B * cs + f->chunk) < 0)
		return cfs_errf(err, -ENOMEM, "out of memory for the chunk buffer");
	unsigned char *ct = s->buf, *pt = s->buf + B * cs;
	for (; lo <= hi; lo += B) {
		uint64_t top = lo + B - 1 < hi ? lo + B - 1 : hi;
		size_t want = (size_t)(top - lo) * cs + chunk_len(f, q->size, top) + f->ovh;
		ssize_t got = cfs_pread_full(f->fd, ct, want, chunk_off(f, lo));
		if (got < 0)
			return cfs_errf(err, (int)got, "reading ciphertext: %s", strerror((int)-got));
		if ((size_t)got != want)
			return cfs_errf(err, -EIO, "ciphertext changed size while reading");
		for (uint64_t i = lo; i <= top; i++) {
			size_t cl = chunk_len(f, q->size, i);
			uint64_t cstart = i * f->chunk;
			const unsigned char *in = ct + (i - lo) * cs;
			int islast = (i == total - 1);
			if (cstart >= off && cstart + cl <= end) {
				if (chunk_open(f, i, islast, in, cl + f->ovh, q->out + (cstart - off)) < 0)
					return cfs_errf(err, -EIO, "chunk %llu failed authentication",
							(unsigned long long)i);
			} else {
				if (chunk_open(f, i, islast, in, cl + f->ovh, pt) < 0)
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
	uint64_t old_n = nchunks(f, size), new_n = nchunks(f, new_size);
	uint64_t old_last = old_n - 1, new_last = new_n - 1;
	uint64_t a, b, B = batch_chunks(f);
	size_t cs = f->chunk + f->ovh, nl = aead_nonce_len(f->aead);
	int grow = new_size > size, wrote = 0, rc = 0;
	if (grow) {
		uint64_t w = dlen ? (uint64_t)off / f->chunk : new_last;
		a = w < old_last ? w : old_last;
		b = new_last;
	} else {
		if (!dlen)
			return 0;
		a = (uint64_t)off / f->chunk;
		b = ((uint64_t)off + dlen - 1) / f->chunk;
	}
	if (scratch_need(s, B * cs + f->chunk + B * nl + cs) < 0)
		return cfs_errf(err, -ENOMEM, "out of memory for the chunk buffer");
	unsigned char *ct = s->buf, *pt = s->buf + B * cs, *nonces = pt + f->chunk, *saved = nonces + B * nl;
	size_t saved_len = chunk_len(f, size, old_last) + f->ovh;
	if (grow) {
		ssize_t got = cfs_pread_full(f->fd, saved, saved_len, chunk_off(f, old_last));
		if (got < 0)
			return cfs_errf(err, (int)got, "reading ciphertext: %s", strerror((int)-got));
		if ((size_t)got != saved_len)
			return cfs_errf(err, -EIO, "ciphertext changed size while writing");
	}
	for (uint64_t lo = a; lo <= b; lo += B) {
		uint64_t hi = lo + B - 1 < b ? lo + B - 1 : b;
		randombytes_buf(nonces, (size_t)(hi - lo + 1) * nl);
		size_t outlen = 0;
		for (uint64_t i = lo; i <= hi; i++) {
			unsigned char *slot = ct + (i - lo) * cs;
			const unsigned char *nonce = nonces + (i - lo) * nl;
			size_t nlen = chunk_len(f, new_size, i);
			uint64_t cstart = i * f->chunk;
			outlen = (size_t)(i - lo) * cs + nlen + f->ovh;
			if (data && cstart >= (uint64_t)off && cstart + nlen <= (uint64_t)off + dlen) {
				/* wholly overwritten: seal straight from the caller's
				 * bytes; the old chunk is neither read nor needed */
				chunk_seal(f, i, i == new_last, data + (cstart - (uint64_t)off), nlen, nonce, slot);
				continue;
			}
			/* merge: the old plaintext (if the chunk exists), zeros up to
			 * the new length (holes, extension), then the new bytes */
			size_t olen = 0;
			if (i <= old_last) {
				olen = chunk_len(f, size, i);
				ssize_t got = cfs_pread_full(f->fd, slot, olen + f->ovh, chunk_off(f, i));
				if (got < 0) {
					rc = cfs_errf(err, (int)got, "reading ciphertext: %s", strerror((int)-got));
					goto fail;
				}
				if ((size_t)got != olen + f->ovh) {
					rc = cfs_errf(err, -EIO, "ciphertext changed size while writing");
					goto fail;
				}
				if (chunk_open(f, i, i == old_last, slot, olen + f->ovh, pt) < 0) {
					rc = cfs_errf(err, -EIO, "chunk %llu failed authentication", (unsigned long long)i);
					goto fail;
				}
			}
			if (nlen > olen)
				memset(pt + olen, 0, nlen - olen);
			if (data && dlen) {
				uint64_t x = cstart > (uint64_t)off ? cstart : (uint64_t)off;
				uint64_t y = cstart + nlen < (uint64_t)off + dlen ? cstart + nlen : (uint64_t)off + dlen;
				if (x < y)
					memcpy(pt + (x - cstart), data + (x - (uint64_t)off), (size_t)(y - x));
			}
			chunk_seal(f, i, i == new_last, pt, nlen, nonce, slot);
		}
		wrote = 1;
		rc = cfs_pwrite_all(f->fd, ct, outlen, chunk_off(f, lo));
		if (rc < 0) {
			cfs_errf(err, rc, "writing ciphertext: %s", strerror(-rc));
			goto fail;
		}
	}
	sodium_memzero(pt, f->chunk);
	return 0;
fail:
	sodium_memzero(pt, f->chunk);
	if (grow && wrote &&
	    (ftruncate(f->fd, chunk_off(f, old_last) + (off_t)saved_len) != 0 ||
	     cfs_pwrite_all(f->fd, saved, saved_len, chunk_off(f, old_last)) != 0)) {
		size_t n = strlen(err ? err->msg : "");
		if (err && n < sizeof err->msg)
			snprintf(err->msg + n, sizeof err->msg - n, "; the file could not be put back as it was");
	}
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

int cfs_content_truncate(struct cfs_file *f, off_t new_size, struct cfs_scratch *s, struct cfs_err *err)
{
	off_t size;
	if (new_size < 0 || new_size > INT64_MAX / 2)
		return cfs_errf(err, -EINVAL, "truncate to a negative or too large size");
	f->gen++;
	int rc = body_size(f, &size, err);
	if (rc < 0)
		return rc;
	if (new_size == size)
		return 0;
	if (new_size > size)
		return rewrite(f, size, new_size, new_size, NULL, 0, s, err);
	uint64_t old_last = nchunks(f, size) - 1, L = nchunks(f, new_size) - 1;
	size_t cs = f->chunk + f->ovh, nlen = chunk_len(f, new_size, L), olen = chunk_len(f, size, L);
	if (scratch_need(s, cs + f->chunk) < 0)
		return cfs_errf(err, -ENOMEM, "out of memory for the chunk buffer");
	unsigned char *ct = s->buf, *pt = s->buf + cs, nonce[24];
	ssize_t got = cfs_pread_full(f->fd, ct, olen + f->ovh, chunk_off(f, L));
	if (got < 0)
		return cfs_errf(err, (int)got, "reading ciphertext: %s", strerror((int)-got));
	if ((size_t)got != olen + f->ovh || chunk_open(f, L, L == old_last, ct, olen + f->ovh, pt) < 0)
		return cfs_errf(err, -EIO, "chunk %llu failed authentication", (unsigned long long)L);
	if (ftruncate(f->fd, chunk_off(f, L) + (off_t)(nlen + f->ovh)) != 0)
		return cfs_errf(err, -errno, "truncating ciphertext: %s", strerror(errno));
	randombytes_buf(nonce, sizeof nonce);
	chunk_seal(f, L, 1, pt, nlen, nonce, ct);
	sodium_memzero(pt, f->chunk);
	rc = cfs_pwrite_all(f->fd, ct, nlen + f->ovh, chunk_off(f, L));
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
	if (new_size < 0 || new_size > INT64_MAX / 2)
		return cfs_errf(err, -EINVAL, "truncate to a negative or too large size");
	f->gen++;
	int rc = body_size(f, &size, err);
	if (rc < 0)
		return rc;
	if (new_size >= size) /* a grow puts the file back as it was if it fails half-way */
		return cfs_content_truncate(f, new_size, s, err);
	/* A shrink re-seals the new last chunk: built, with the kept chunks
	 * before it, in a temporary file renamed over the name, so the name
	 * always holds the old content or the new, whatever crashes when. */
	uint64_t old_last = nchunks(f, size) - 1, L = nchunks(f, new_size) - 1;
	size_t cs = f->chunk + f->ovh, nlen = chunk_len(f, new_size, L), olen = chunk_len(f, size, L);
	if (scratch_need(s, cs + f->chunk) < 0)
		return cfs_errf(err, -ENOMEM, "out of memory for the chunk buffer");
	unsigned char *ct = s->buf, *pt = s->buf + cs, nonce[24];
	if (nlen) {
		ssize_t got = cfs_pread_full(f->fd, ct, olen + f->ovh, chunk_off(f, L));
		if (got < 0)
			return cfs_errf(err, (int)got, "reading ciphertext: %s", strerror((int)-got));
		if ((size_t)got != olen + f->ovh || chunk_open(f, L, L == old_last, ct, olen + f->ovh, pt) < 0)
			return cfs_errf(err, -EIO, "chunk %llu failed authentication", (unsigned long long)L);
	}
	randombytes_buf(nonce, sizeof nonce);
	chunk_seal(f, L, 1, pt, nlen, nonce, ct);
	sodium_memzero(pt, f->chunk);
	if (fstat(f->fd, &st) != 0)
		return cfs_errf(err, -errno, "stat: %s", strerror(errno));
	char tmp[64];
	int t = cfs_store_tmpfile(dirfd, tmp, sizeof tmp);
	if (t < 0)
		return cfs_errf(err, t, "cannot make a temporary file: %s", strerror(-t));
	rc = copy_prefix(f->fd, t, chunk_off(f, L), err);
	if (rc == 0 && (rc = cfs_pwrite_all(t, ct, nlen + f->ovh, chunk_off(f, L))) < 0)
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
	uint64_t n = nchunks(f, size);
	size_t cs = f->chunk + f->ovh;
	if (scratch_need(s, cs + f->chunk) < 0)
		return cfs_errf(err, -ENOMEM, "out of memory for the chunk buffer");
	for (uint64_t i = 0; i < n; i++) {
		size_t cl = chunk_len(f, size, i) + f->ovh;
		ssize_t got = cfs_pread_full(f->fd, s->buf, cl, chunk_off(f, i));
		if (got != (ssize_t)cl || chunk_open(f, i, i == n - 1, s->buf, cl, s->buf + cs) < 0)
			return cfs_errf(err, -EIO, "chunk %llu of %llu failed authentication",
					(unsigned long long)i, (unsigned long long)n);
	}
	sodium_memzero(s->buf + cs, f->chunk);
	return 0;
}
