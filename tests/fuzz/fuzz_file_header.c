/* fuzz_file_header.c — libFuzzer target: an arbitrary backing file through
 * cfs_content_open, cfs_content_size, cfs_content_read and
 * cfs_content_verify, with fixed hand-built keys (fuzz_keys.h, chunk 2^12).
 *
 * Input: one mode byte, then the file image (header format 2).
 *   mode % 4 == 3  as 1, but the header is sealed to a place (a parent id
 *                  and a name taken from the input): open must succeed in
 *                  that place exactly when the fields are well-formed, and
 *                  fail detached, in any other place (a moved header) and
 *                  as the other kind (a sidecar where a file belongs);
 *   mode % 4 == 0  the image as is (the fuzzer cannot forge a tag, so this
 *                  mostly exercises the header checks and size arithmetic);
 *   mode % 4 == 1  the header's attribute block is re-sealed with the fixed
 *                  meta key first, so open gets past authentication and the
 *                  fuzzer reaches every header field; open must then succeed
 *                  exactly when the plain fields are well-formed;
 *   mode % 4 == 2  as 1, and every body chunk is re-sealed too (its nonce and
 *                  plaintext taken from the image): a differential test —
 *                  the reader must return exactly those plaintexts (or -EIO
 *                  precisely when the body size is impossible), verify must
 *                  agree, and a write and a truncate derived from the input
 *                  must leave a file that reads back as the reference.
 * Any violation aborts. */
#include "fuzz_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)
#define LOG2 12
#define CHUNK ((size_t)1 << LOG2)

static struct cfs_keys *g_keys;
static int g_fd = -1;
static struct cfs_scratch g_s;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	g_keys = fuzz_keys(CFS_AEAD_XCHACHA, LOG2);
	g_fd = memfd_create("fuzz_file_header", MFD_CLOEXEC);
	REQUIRE(g_fd >= 0);
	return 0;
}

/* The header checks as the format describes them, given a genuine tag. */
static int header_well_formed(const unsigned char *h)
{
	size_t ml = (size_t)h[24] | ((size_t)h[25] << 8);
	/* one cipher per store: a file sealed under the other one is refused */
	if (memcmp(h, "CFSF", 4) != 0 || h[4] != 2 || h[5] != g_keys->aead || h[6] != LOG2 || h[7] != 0)
		return 0;
	for (int i = 26; i < 32; i++)
		if (h[i])
			return 0;
	if (ml > CFS_META_MAX)
		return 0;
	for (size_t i = 64 + ml + 16; i < CFS_FHDR_SIZE; i++)
		if (h[i])
			return 0;
	return 1;
}

static uint64_t mix(const unsigned char *d, size_t n)
{
	uint64_t x = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		x = (x ^ d[i]) * 1099511628211ULL;
	return x;
}

static void check_reads(struct cfs_file *f, const unsigned char *ref, size_t size)
{
	struct cfs_err e;
	unsigned char *b = malloc(size + 64);
	REQUIRE(b);
	ssize_t r = cfs_content_read(f, b, size + 64, 0, &g_s, &e);
	REQUIRE(r == (ssize_t)size);
	REQUIRE(size == 0 || memcmp(b, ref, size) == 0);
	REQUIRE(cfs_content_verify(f, &g_s, &e) == 0);
	free(b);
}

/* Mode 3: a header sealed to a place from the input. */
static void place_case(const unsigned char *data, size_t len)
{
	if (len < CFS_FHDR_SIZE + 17)
		return;
	unsigned char *img = malloc(len);
	REQUIRE(img);
	memcpy(img, data, len);
	struct cfs_bind b, other;
	unsigned char parent[16];
	char name[64];
	memcpy(parent, data + CFS_FHDR_SIZE, 16);
	size_t nl = data[CFS_FHDR_SIZE + 16] % sizeof name;
	for (size_t i = 0; i < nl; i++) {
		unsigned char ch = i + CFS_FHDR_SIZE + 17 < len ? data[i + CFS_FHDR_SIZE + 17] : 'x';
		name[i] = (char)(ch == 0 || ch == '/' ? 'n' : ch);
	}
	name[nl] = 0;
	REQUIRE(cfs_bind_set(&b, parent, name, CFS_KIND_FILE) == 0);
	if (fuzz_reseal_header_at(img, g_keys, parent, name) < 0) {
		free(img);
		return;
	}
	int good = header_well_formed(img);
	if (good) {
		unsigned char m[CFS_META_MAX];
		size_t ml = (size_t)img[24] | ((size_t)img[25] << 8);
		memcpy(m, data + 64, ml);
		good = cfs_meta_valid(m, ml) == 0;
	}
	REQUIRE(ftruncate(g_fd, 0) == 0);
	REQUIRE(cfs_pwrite_all(g_fd, img, len, 0) == 0);
	struct cfs_err e;
	struct cfs_file *f = NULL;
	int rc = cfs_content_open_b(g_fd, g_keys, &b, NULL, NULL, &f, &e);
	REQUIRE(good ? rc == 0 : rc == -EIO);
	if (f) {
		uint64_t v = f->version;
		REQUIRE(v == ((uint64_t)img[32] | (uint64_t)img[33] << 8 | (uint64_t)img[34] << 16 |
			      (uint64_t)img[35] << 24 | (uint64_t)img[36] << 32 | (uint64_t)img[37] << 40 |
			      (uint64_t)img[38] << 48 | (uint64_t)img[39] << 56));
		cfs_content_close(f);
		f = NULL;
	}
	/* detached, another parent, another name, another kind: all refused */
	if (nl || memcmp(parent, (unsigned char[16]){ 0 }, 16))
		REQUIRE(cfs_content_open(g_fd, g_keys, &f, &e) == -EIO && !f);
	other = b;
	other.parent[data[0] % 16] ^= 1;
	REQUIRE(cfs_content_open_b(g_fd, g_keys, &other, NULL, NULL, &f, &e) == -EIO && !f);
	other = b;
	other.name[nl] = 'z';
	other.name[nl + 1] = 0;
	REQUIRE(cfs_content_open_b(g_fd, g_keys, &other, NULL, NULL, &f, &e) == -EIO && !f);
	/* a file header is no sidecar (one sealed as a sidecar, kind byte 1, may
	 * well open as one: that is its place) */
	other = b;
	other.kind = CFS_KIND_DIR;
	if (img[7] != CFS_KIND_DIR)
		REQUIRE(cfs_content_open_b(g_fd, g_keys, &other, NULL, NULL, &f, &e) == -EIO && !f);
	cfs_content_close(f);
	free(img);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size < 1)
		return 0;
	int mode = data[0] % 4;
	if (mode == 3) {
		place_case(data + 1, size - 1);
		return 0;
	}
	size_t len = size - 1;
	unsigned char *img = malloc(len + 1);
	REQUIRE(img);
	if (len)
		memcpy(img, data + 1, len);

	int expect_open = -1;   /* unknown */
	unsigned char *ref = NULL;
	off_t ref_size = -1;    /* -1: the body size is impossible */
	if (mode >= 1 && len >= CFS_FHDR_SIZE) {
		if (fuzz_reseal_header(img, g_keys) == 0) {
			expect_open = header_well_formed(img);
			if (expect_open) {
				unsigned char m[CFS_META_MAX];
				size_t ml = (size_t)img[24] | ((size_t)img[25] << 8);
				memcpy(m, data + 1 + 64, ml); /* the plaintext that was sealed */
				expect_open = cfs_meta_valid(m, ml) == 0;
			}
		} else {
			expect_open = 0;
		}
	}
	if (mode == 2 && expect_open == 1) {
		int aead = img[5];
		size_t nl = fuzz_nonce_len(aead), ovh = nl + 16, cs = CHUNK + ovh;
		size_t body = len - CFS_FHDR_SIZE;
		size_t n = body / cs + (body % cs != 0);
		size_t last = n ? body - (n - 1) * cs : 0;
		unsigned char fk[32];
		fuzz_file_key(g_keys, img + 8, fk);
		ref = malloc(body + 1);
		REQUIRE(ref);
		ref_size = 0;
		for (size_t i = 0; i < n; i++) {
			size_t pl = i + 1 < n ? cs : last;
			unsigned char *c = img + CFS_FHDR_SIZE + i * cs;
			if (pl < ovh)
				break;
			memcpy(ref + ref_size, c + nl, pl - ovh);
			ref_size += (off_t)(pl - ovh);
			fuzz_seal_chunk(c, pl, aead, img + 8, fk, i, i + 1 == n);
		}
		/* possible sizes: at least one chunk; the last one holds 1..C bytes,
		 * or it is the only chunk and empty */
		if (n == 0 || last < ovh || (last == ovh && n > 1))
			ref_size = -1;
		sodium_memzero(fk, sizeof fk);
	}

	REQUIRE(ftruncate(g_fd, 0) == 0);
	if (len)
		REQUIRE(cfs_pwrite_all(g_fd, img, len, 0) == 0);

	struct cfs_err e;
	struct cfs_file *f = NULL;
	memset(&e, 0, sizeof e);
	int rc = cfs_content_open(g_fd, g_keys, &f, &e);
	if (expect_open == 1)
		REQUIRE(rc == 0);
	else if (expect_open == 0)
		REQUIRE(rc == -EIO);
	if (rc != 0) {
		REQUIRE(rc < 0 && f == NULL && e.msg[0]);
		goto out;
	}
	REQUIRE(f->aead == img[5]);
	REQUIRE(f->meta_len == ((size_t)img[24] | ((size_t)img[25] << 8)));
	REQUIRE(cfs_meta_valid(f->meta, f->meta_len) == 0);

	off_t sz = -2;
	int src = cfs_content_size(f, &sz);
	REQUIRE(src == 0 || src == -EIO);
	REQUIRE(src != 0 || sz == cfs_content_plain_size((off_t)len, LOG2, f->aead));
	if (src == 0) {
		/* a read of everything, and one at an input-derived offset */
		uint64_t x = mix(data, size);
		size_t cap = (size_t)sz + 9000; /* room for both reads below */
		unsigned char *b = malloc(cap);
		REQUIRE(b);
		ssize_t r = cfs_content_read(f, b, cap, 0, &g_s, &e);
		REQUIRE(r == (ssize_t)sz || r == -EIO);
		int vr = cfs_content_verify(f, &g_s, &e);
		REQUIRE(vr == 0 || vr == -EIO);
		REQUIRE((r == -EIO) == (vr == -EIO)); /* read-all and verify agree */
		if (ref) {
			REQUIRE(ref_size == sz);
			REQUIRE(r == (ssize_t)sz && memcmp(b, ref, (size_t)sz) == 0);
		}
		off_t off = sz ? (off_t)(x % (uint64_t)sz) : 0;
		size_t l2 = (size_t)(x >> 40) % 9000;
		ssize_t r2 = cfs_content_read(f, b, l2, off, &g_s, &e);
		REQUIRE(r2 >= -EIO);
		if (ref && l2) { /* and an authentic body reads right anywhere */
			size_t want = (size_t)sz - (size_t)off < l2 ? (size_t)sz - (size_t)off : l2;
			REQUIRE(r2 == (ssize_t)(sz ? want : 0));
			REQUIRE(r2 <= 0 || memcmp(b, ref + off, (size_t)r2) == 0);
		}
		free(b);
	} else if (ref) {
		REQUIRE(ref_size == -1);
	}
	REQUIRE(!ref || (ref_size >= 0) == (src == 0));

	/* differential: write and truncate on an authentic body */
	if (ref && ref_size >= 0) {
		uint64_t x = mix(data, size) * 0x9E3779B97F4A7C15ULL;
		size_t cur = (size_t)ref_size;
		size_t woff = (size_t)(x % (cur + 3 * CHUNK + 1));
		size_t wlen = 1 + (size_t)((x >> 20) % 5000);
		size_t tsz = (size_t)((x >> 40) % (cur + woff + wlen + 2 * CHUNK + 1));
		size_t max = woff + wlen > tsz ? woff + wlen : tsz;
		if (max < cur)
			max = cur;
		unsigned char *nref = calloc(1, max + 1);
		REQUIRE(nref);
		memcpy(nref, ref, cur);
		unsigned char *w = malloc(wlen);
		REQUIRE(w);
		for (size_t i = 0; i < wlen; i++)
			w[i] = (unsigned char)(x >> (i % 56)) ^ (unsigned char)i;
		REQUIRE(cfs_content_write(f, w, wlen, (off_t)woff, &g_s, &e) == (ssize_t)wlen);
		memcpy(nref + woff, w, wlen);
		if (woff + wlen > cur)
			cur = woff + wlen;
		check_reads(f, nref, cur);
		REQUIRE(cfs_content_truncate(f, (off_t)tsz, &g_s, &e) == 0);
		if (tsz > cur)
			memset(nref + cur, 0, tsz - cur);
		cur = tsz;
		check_reads(f, nref, cur);
		free(w);
		free(nref);
	}
	cfs_content_close(f);
out:
	free(ref);
	free(img);
	return 0;
}
