/* content.c — the encrypted file format: its header, and the file shells.
 * Owns: file header encode/authenticate, its binding to a place and its
 * version record, the shells (with their locked key pages), the format-1
 * upgrade. The body's chunk I/O is content_body.c, one chunk content_chunk.c,
 * the attribute block meta.c. Must never accept a header that did not
 * authenticate (any failure is -EIO), never write plaintext to the backing
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
#include "content_int.h"
#include "coachfs/content.h"
#include "coachfs/state.h"

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
		f->key = sodium_malloc(CFS_KEYBLOCK);
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
	f->ovh = cfs_aead_ovh(aead);
	return f;
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
	sodium_memzero(f->key, CFS_KEYBLOCK); /* key and AES-GCM state */
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
	cfs_chunk_key(f);
	if (meta_len)
		memcpy(f->meta, meta, meta_len);
	f->meta_len = meta_len;
	rc = header_write(f, err);
	if (rc == 0) {
		unsigned char c[64], nonce[24];
		randombytes_buf(nonce, sizeof nonce);
		cfs_chunk_seal(f, 0, 1, (const unsigned char *)"", 0, nonce, c);
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
	cfs_chunk_key(f);
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
