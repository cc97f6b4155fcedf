/* gen_corpus.c — writes the seed corpora of the crypto/content fuzz targets
 * into DIR/<target>/ (DIR is normally tests/fuzz/corpus). Not a fuzz target
 * (run.sh builds only fuzz_*.c). Files are real: made by cfs_store_create
 * and cfs_content_create/write with the fixed keys of fuzz_keys.h, plus one
 * store header with the cheapest Argon2id, built by hand from the format
 * described in fs/crypto.c, that unlocks with the passphrase "fuzz" (so
 * fuzz_store_header can afford to unlock its mutants).
 *   cc -std=c11 -D_GNU_SOURCE -Iinclude tests/fuzz/gen_corpus.c fs/util.c \
 *      fs/crypto.c fs/content.c $(pkg-config --cflags --libs libsodium) -o /tmp/gen_corpus
 *   /tmp/gen_corpus tests/fuzz/corpus */
#include "fuzz_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *g_out;

static void die(const char *what)
{
	fprintf(stderr, "gen_corpus: %s\n", what);
	exit(1);
}

static void put(const char *target, const char *name, const void *a, size_t an, const void *b, size_t bn)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", g_out, target);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/%s/%s", g_out, target, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || (an && cfs_pwrite_all(fd, a, an, 0) != 0) || (bn && cfs_pwrite_all(fd, b, bn, (off_t)an) != 0))
		die(p);
	close(fd);
}

static unsigned char *slurp_fd(int fd, size_t *n)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		die("fstat");
	unsigned char *b = malloc((size_t)st.st_size + 1);
	if (!b || cfs_pread_full(fd, b, (size_t)st.st_size, 0) != st.st_size)
		die("read");
	*n = (size_t)st.st_size;
	return b;
}

/* A file made through the library with the fixed keys. */
static unsigned char *make_file(struct cfs_keys *k, int aead, const unsigned char *meta, size_t ml, size_t size,
				size_t *n)
{
	struct cfs_err e;
	struct cfs_scratch s = { 0 };
	struct cfs_file *f = NULL;
	int fd = memfd_create("gen", MFD_CLOEXEC);
	k->aead = aead;
	if (fd < 0 || cfs_content_create(fd, k, meta, ml, &f, &e) != 0)
		die("create");
	unsigned char *pt = malloc(size + 1);
	for (size_t i = 0; i < size; i++)
		pt[i] = (unsigned char)("coaching material "[i % 18]);
	if (size && cfs_content_write(f, pt, size, 0, &s, &e) != (ssize_t)size)
		die("write");
	unsigned char *b = slurp_fd(fd, n);
	cfs_content_close(f);
	cfs_scratch_free(&s);
	close(fd);
	free(pt);
	return b;
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void store_headers(void)
{
	char dir[] = "/tmp/gen_corpus.XXXXXX", p[128];
	unsigned char h[CFS_STORE_HDR_SIZE + 1];
	struct cfs_keys *k = NULL;
	struct cfs_err e;
	if (!mkdtemp(dir))
		die("mkdtemp");
	int specs[2][2] = { { CFS_AEAD_XCHACHA, 12 }, { CFS_AEAD_AESGCM, 16 } };
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof p, "%s/store%d", dir, i);
		if (cfs_store_create(p, "fuzz", 4, specs[i][0], specs[i][1], CFS_KDF_INTERACTIVE, &k, &e) != 0)
			die(e.msg);
		cfs_keys_free(k);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || cfs_pread_full(fd, h, sizeof h, 0) != CFS_STORE_HDR_SIZE)
			die("read header");
		close(fd);
		unlink(p);
		put("fuzz_store_header", i ? "real_aes256gcm_2p16" : "real_xchacha_2p12", h, CFS_STORE_HDR_SIZE, NULL, 0);
		if (i == 0)
			put("fuzz_store_header", "truncated_100", h, 100, NULL, 0);
	}

	/* the cheap one, by hand */
	unsigned char master[32], kek[32], ad[33], hk[32];
	memset(h, 0, sizeof h);
	memcpy(h, "COACHFS\0", 8);
	h[8] = CFS_STORE_VERSION;
	h[10] = CFS_AEAD_XCHACHA;
	h[11] = 12;
	h[12] = 1;
	h[13] = CFS_STORE_SLOTS;
	put_le64(h + 16, 1);
	put_le64(h + 24, crypto_pwhash_MEMLIMIT_MIN);
	unsigned char *slot = h + 32;
	slot[0] = 1;
	randombytes_buf(slot + 8, 16);
	randombytes_buf(slot + 24, 24);
	crypto_kdf_keygen(master);
	if (crypto_pwhash(kek, 32, "fuzz", 4, slot + 8, 1, crypto_pwhash_MEMLIMIT_MIN, crypto_pwhash_ALG_ARGON2ID13) != 0)
		die("argon2id");
	memcpy(ad, h, 32);
	ad[32] = 0;
	crypto_aead_xchacha20poly1305_ietf_encrypt(slot + 48, NULL, master, 32, ad, sizeof ad, NULL, slot + 24, kek);
	crypto_kdf_derive_from_key(hk, 32, 2, "coachfs1", master);
	crypto_generichash(h + 416, 32, h, 416, hk, 32);
	snprintf(p, sizeof p, "%s/cheap", dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || cfs_pwrite_all(fd, h, CFS_STORE_HDR_SIZE, 0) != 0)
		die("write cheap");
	close(fd);
	if (cfs_store_unlock(p, "fuzz", 4, &k, &e) != 0)
		die(e.msg); /* the hand-made header must be a real one */
	if (sodium_memcmp(k->master, master, 32) != 0)
		die("cheap header: master key differs");
	cfs_keys_free(k);
	unlink(p);
	rmdir(dir);
	put("fuzz_store_header", "cheap_unlockable", h, CFS_STORE_HDR_SIZE, NULL, 0);
	sodium_memzero(master, sizeof master);
	sodium_memzero(kek, sizeof kek);
	sodium_memzero(hk, sizeof hk);
}

static void file_headers(void)
{
	struct cfs_keys *k = fuzz_keys(CFS_AEAD_XCHACHA, 12);
	unsigned char meta[CFS_META_MAX];
	size_t ml = 0;
	if (cfs_meta_set(meta, &ml, sizeof meta, "user.coachfs.class", "restricted", 10) ||
	    cfs_meta_set(meta, &ml, sizeof meta, "user.note", "shift hand-off", 14))
		die("meta");
	struct { const char *name; int aead; int withmeta; size_t size; unsigned char mode; } c[] = {
		{ "raw_empty", CFS_AEAD_XCHACHA, 0, 0, 0 },
		{ "raw_small_meta", CFS_AEAD_XCHACHA, 1, 100, 0 },
		{ "reseal_3chunks", CFS_AEAD_XCHACHA, 1, 3 * 4096 + 17, 1 },
		{ "diff_empty", CFS_AEAD_XCHACHA, 0, 0, 2 },
		{ "diff_one_chunk", CFS_AEAD_XCHACHA, 1, 4096, 2 },
		{ "diff_5000", CFS_AEAD_XCHACHA, 0, 5000, 2 },
		{ "diff_aes_9000", CFS_AEAD_AESGCM, 1, 9000, 2 },
		{ "raw_aes_3", CFS_AEAD_AESGCM, 0, 3, 0 },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		size_t n;
		unsigned char *b = make_file(k, c[i].aead, c[i].withmeta ? meta : NULL, c[i].withmeta ? ml : 0,
					     c[i].size, &n);
		put("fuzz_file_header", c[i].name, &c[i].mode, 1, b, n);
		free(b);
	}
	fuzz_keys_free(k);
}

static void meta_blocks(void)
{
	unsigned char m[CFS_META_MAX];
	size_t ml = 0;
	if (cfs_meta_set(m, &ml, sizeof m, "user.coachfs.class", "restricted", 10) ||
	    cfs_meta_set(m, &ml, sizeof m, "user.coachfs.export", "deny", 4) ||
	    cfs_meta_set(m, &ml, sizeof m, "user.x", "", 0))
		die("meta");
	/* op | name_len | name | value_len/4 | value | block */
	unsigned char pre[64];
	size_t pn = 0;
	pre[pn++] = 0x80;                       /* set, full capacity */
	pre[pn++] = 6;
	memcpy(pre + pn, "user.y", 6); pn += 6;
	pre[pn++] = 2;
	memcpy(pre + pn, "12345678", 8); pn += 8;
	put("fuzz_meta", "set_new", pre, pn, m, ml);
	pre[0] = 0x40;                          /* remove */
	pre[1] = 18;
	memcpy(pre + 2, "user.coachfs.class", 18);
	pre[20] = 0;
	put("fuzz_meta", "remove_class", pre, 21, m, ml);
	pre[0] = 0x20 | 0x05;                   /* set from the block itself, tight capacity */
	pre[1] = 6;
	memcpy(pre + 2, "user.x", 6);
	pre[8] = 0;
	put("fuzz_meta", "set_alias_tight", pre, 9, m, ml);
	pre[0] = 0x80;
	pre[1] = 1;
	pre[2] = 'a';
	pre[3] = 0;
	put("fuzz_meta", "empty_block", pre, 4, NULL, 0);
	put("fuzz_meta", "malformed", pre, 4, "\x05\x00\x00" "ab", 5);
	put("fuzz_meta", "duplicate", pre, 4, "\x01\x00\x00" "a" "\x01\x00\x00" "a", 8);
}

static void op_scripts(void)
{
	/* cipher byte, then kind | a u24 | b u16 */
	static const unsigned char s1[] = {
		0,
		0, 0x00, 0x00, 0x00, 0x10, 0x27,   /* write 10000 at 0 */
		3, 0x00, 0x10, 0x00, 0, 0,         /* truncate to 4096 */
		0x80, 5, 0, 0, 0x20, 0,            /* write 33 at chunk edge 5 */
		5, 0x00, 0x0f, 0x00, 0x00, 0x30,   /* read */
		7, 0, 0, 0, 1, 0,                  /* reopen, drop scratch */
		4, 0x99, 0x00, 0x00, 0, 0,         /* truncate down */
	};
	static const unsigned char s2[] = {
		1,
		1, 0x00, 0x40, 0x01, 0xff, 0x4f,   /* write far: hole */
		0x90, 3, 0, 0, 7, 0,               /* write at edge 3 */
		3, 0, 0, 0, 0, 0,                  /* truncate to 0 */
		2, 1, 0, 0, 1, 0,                  /* write 2 bytes at 1 */
	};
	put("fuzz_content_ops", "script_xchacha", s1, sizeof s1, NULL, 0);
	put("fuzz_content_ops", "script_aesgcm", s2, sizeof s2, NULL, 0);
}

int main(int argc, char **argv)
{
	struct cfs_err e;
	if (argc != 2)
		die("usage: gen_corpus DIR");
	g_out = argv[1];
	if (cfs_crypto_init(&e) != 0)
		die(e.msg);
	store_headers();
	file_headers();
	meta_blocks();
	op_scripts();
	return 0;
}
