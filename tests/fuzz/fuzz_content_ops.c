/* fuzz_content_ops.c — libFuzzer target: a script of writes, truncates,
 * reads and reopens on a fresh encrypted file (fixed keys, 2^12 chunks, the
 * cipher picked by the first byte), mirrored on an in-memory reference. After
 * every operation the file's size (and the exact ciphertext size) and its
 * whole content must equal the reference; at the end cfs_content_verify
 * must pass. The unit test's fsx loop with the fuzzer choosing the steps.
 *
 * Input: one byte (cipher), then 6-byte operations:
 *   kind u8 | a u24 (offset or size, scaled) | b u16 (length) */
#include "fuzz_keys.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)
#define LOG2 12
#define CHUNK ((size_t)1 << LOG2)
#define MAXSZ (80 * CHUNK + 77)

static struct cfs_keys *g_keys;
static int g_fd = -1;
static unsigned char *g_ref, *g_buf, *g_got;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	g_keys = fuzz_keys(CFS_AEAD_XCHACHA, LOG2);
	g_fd = memfd_create("fuzz_content_ops", MFD_CLOEXEC);
	g_ref = malloc(MAXSZ + 1);
	g_buf = malloc(MAXSZ + 1);
	g_got = malloc(MAXSZ + 1);
	REQUIRE(g_fd >= 0 && g_ref && g_buf && g_got);
	return 0;
}

static off_t fd_size(int fd)
{
	struct stat st;
	REQUIRE(fstat(fd, &st) == 0);
	return st.st_size;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size < 1)
		return 0;
	int aead = data[0] & 1 ? CFS_AEAD_AESGCM : CFS_AEAD_XCHACHA;
	size_t ovh = fuzz_nonce_len(aead) + 16;
	struct cfs_keys *k = g_keys;
	k->aead = aead;
	struct cfs_err e;
	struct cfs_scratch s = { 0 };
	struct cfs_file *f = NULL;
	REQUIRE(ftruncate(g_fd, 0) == 0);
	REQUIRE(cfs_content_create(g_fd, k, NULL, 0, &f, &e) == 0);
	size_t cur = 0;
	for (size_t p = 1; p + 6 <= size; p += 6) {
		const unsigned char *o = data + p;
		unsigned kind = o[0] % 8;
		size_t a = (size_t)o[1] | ((size_t)o[2] << 8) | ((size_t)o[3] << 16);
		size_t b = (size_t)o[4] | ((size_t)o[5] << 8);
		if (o[0] & 0x80) { /* snap to a chunk edge, or one byte either side */
			size_t edge = (a % 82) * CHUNK;
			unsigned d = (o[0] >> 4) & 3;
			a = d == 0 && edge ? edge - 1 : d == 2 ? edge + 1 : edge;
		}
		a %= MAXSZ;
		switch (kind) {
		case 0: case 1: case 2: { /* write */
			size_t len = b % (5 * CHUNK) + 1;
			if (a + len > MAXSZ)
				len = MAXSZ - a;
			if (!len)
				break;
			for (size_t i = 0; i < len; i++)
				g_buf[i] = (unsigned char)(p + i * 7 + (i >> 8));
			REQUIRE(cfs_content_write(f, g_buf, len, (off_t)a, &s, &e) == (ssize_t)len);
			if (a > cur)
				memset(g_ref + cur, 0, a - cur);
			memcpy(g_ref + a, g_buf, len);
			if (a + len > cur)
				cur = a + len;
			break;
		}
		case 3: case 4: /* truncate */
			if (kind == 4 && cur)
				a %= cur + 1; /* mostly down */
			REQUIRE(cfs_content_truncate(f, (off_t)a, &s, &e) == 0);
			if (a > cur)
				memset(g_ref + cur, 0, a - cur);
			cur = a;
			break;
		case 5: case 6: { /* read */
			size_t len = b % (6 * CHUNK);
			ssize_t r = cfs_content_read(f, g_got, len, (off_t)a, &s, &e);
			size_t want = a >= cur ? 0 : (cur - a < len ? cur - a : len);
			REQUIRE(r == (ssize_t)want);
			REQUIRE(want == 0 || memcmp(g_got, g_ref + a, want) == 0);
			break;
		}
		default: /* reopen; sometimes drop the scratch buffer */
			cfs_content_close(f);
			f = NULL;
			REQUIRE(cfs_content_open(g_fd, k, &f, &e) == 0);
			if (b & 1)
				cfs_scratch_free(&s);
			break;
		}
		off_t sz = -1;
		REQUIRE(cfs_content_size(f, &sz) == 0 && sz == (off_t)cur);
		size_t nch = cur ? (cur + CHUNK - 1) / CHUNK : 1;
		REQUIRE(fd_size(g_fd) == (off_t)(CFS_FHDR_SIZE + nch * ovh + cur));
		REQUIRE(cfs_content_read(f, g_got, MAXSZ + 1, 0, &s, &e) == (ssize_t)cur);
		REQUIRE(cur == 0 || memcmp(g_got, g_ref, cur) == 0);
	}
	REQUIRE(cfs_content_verify(f, &s, &e) == 0);
	cfs_content_close(f);
	cfs_scratch_free(&s);
	return 0;
}
