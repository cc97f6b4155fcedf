/* test_crypto.c — the store header and keys (fs/crypto.c): create and
 * unlock, every header field edited, truncation, passphrase change, the key
 * hierarchy pinned against independent libsodium calls, the audit key pair,
 * and passphrase files. Argon2id at the INTERACTIVE preset (fast). */
#include "t.h"

#include "coachfs/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PASS "correct horse battery staple"
#define PASSLEN (sizeof PASS - 1)
#define OFF_SLOT(i) (32 + 96 * (i))
#define OFF_MAC 416

static char g_dir[64];
static int g_seq;

#define CHECKF(cond, ...) do { if (!(cond)) { \
	char m_[256]; snprintf(m_, sizeof m_, __VA_ARGS__); \
	T_FAILF("%s:%d: %s: %s", __FILE__, __LINE__, #cond, m_); } } while (0)

/* Hide the message buffer's size from gcc's format-truncation analysis. */
static __attribute__((noinline)) const char *em(const struct cfs_err *e)
{
	return e->msg;
}

static void path_for(char *out, size_t cap, const char *what)
{
	snprintf(out, cap, "%s/%s-%d", g_dir, what, g_seq++);
}

static int write_file(const char *p, const void *b, size_t n)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int rc = n ? cfs_pwrite_all(fd, b, n, 0) : 0;
	close(fd);
	return rc;
}

static ssize_t read_file(const char *p, void *b, size_t cap)
{
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = cfs_pread_full(fd, b, cap, 0);
	close(fd);
	return r;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

/* A store made once; its header image is the base of the edit cases. */
static char g_store[128];
static unsigned char g_hdr[CFS_STORE_HDR_SIZE];
static struct cfs_keys *g_keys;

static void test_create_unlock(void)
{
	struct cfs_err e;
	struct cfs_keys *k = NULL;
	struct stat st;
	T_EQ_INT(read_file(g_store, g_hdr, sizeof g_hdr + 1), CFS_STORE_HDR_SIZE);
	T_EQ_INT(stat(g_store, &st), 0);
	T_EQ_INT(st.st_mode & 07777, 0600);
	T_EQ_INT(g_keys->aead, CFS_AEAD_XCHACHA);
	T_EQ_INT(g_keys->chunk_log2, 12);
	int rc = cfs_store_unlock(g_store, PASS, PASSLEN, &k, &e);
	CHECKF(rc == 0, "unlock: %s", em(&e));
	if (rc)
		return;
	T_CHECK(sodium_memcmp(k->master, g_keys->master, CFS_KEY_BYTES) == 0);
	T_CHECK(sodium_memcmp(k->content, g_keys->content, CFS_KEY_BYTES) == 0);
	T_CHECK(sodium_memcmp(k->meta, g_keys->meta, CFS_KEY_BYTES) == 0);
	T_CHECK(sodium_memcmp(k->hdrmac, g_keys->hdrmac, CFS_KEY_BYTES) == 0);
	T_CHECK(sodium_memcmp(k->names, g_keys->names, CFS_KEY_BYTES) == 0);
	T_CHECK(sodium_memcmp(k->link, g_keys->link, CFS_KEY_BYTES) == 0);
	T_CHECK(sodium_memcmp(k->audit_seed, g_keys->audit_seed, CFS_KEY_BYTES) == 0);
	T_EQ_INT(k->aead, CFS_AEAD_XCHACHA);
	T_EQ_INT(k->chunk_log2, 12);
	cfs_keys_free(k);
	cfs_keys_free(NULL);
	/* no temporary file left beside it */
	char tmp[160];
	snprintf(tmp, sizeof tmp, "%s.tmp", g_store);
	T_CHECK(access(tmp, F_OK) != 0);

	/* the other cipher and chunk sizes round-trip too */
	int cases[][2] = { { CFS_AEAD_AESGCM, 16 }, { CFS_AEAD_XCHACHA, 20 } };
	for (size_t i = 0; i < 2; i++) {
		char p[128];
		struct cfs_keys *a = NULL, *b = NULL;
		path_for(p, sizeof p, "store");
		if (cases[i][0] == CFS_AEAD_AESGCM && !crypto_aead_aes256gcm_is_available())
			continue;
		T_EQ_INT(cfs_store_create(p, "x", 1, cases[i][0], cases[i][1], CFS_KDF_INTERACTIVE, &a, &e), 0);
		T_EQ_INT(cfs_store_unlock(p, "x", 1, &b, &e), 0);
		if (a && b) {
			T_EQ_INT(b->aead, cases[i][0]);
			T_EQ_INT(b->chunk_log2, cases[i][1]);
			T_CHECK(sodium_memcmp(a->master, b->master, CFS_KEY_BYTES) == 0);
			/* a different store has a different master key */
			T_CHECK(sodium_memcmp(a->master, g_keys->master, CFS_KEY_BYTES) != 0);
		}
		cfs_keys_free(a);
		cfs_keys_free(b);
	}
}

static void test_header_layout(void)
{
	struct cfs_store_hdr h;
	struct cfs_err e;
	T_EQ_INT(cfs_store_hdr_parse(g_hdr, sizeof g_hdr, &h, &e), 0);
	T_CHECK(memcmp(g_hdr, "COACHFS\0", 8) == 0);
	T_EQ_INT(h.version, CFS_STORE_VERSION);
	T_EQ_INT(g_hdr[8], 2);
	T_EQ_INT(g_hdr[9], 0);
	T_EQ_INT(h.aead, CFS_AEAD_XCHACHA);
	T_EQ_INT(h.chunk_log2, 12);
	T_EQ_INT(h.kdf, 1);
	T_EQ_INT(h.nslots, CFS_STORE_SLOTS);
	T_EQ_INT(h.opslimit, crypto_pwhash_OPSLIMIT_INTERACTIVE);
	T_EQ_INT(h.memlimit, crypto_pwhash_MEMLIMIT_INTERACTIVE);
	T_EQ_INT(h.slot[0].used, 1);
	for (int i = 1; i < CFS_STORE_SLOTS; i++) {
		T_EQ_INT(h.slot[i].used, 0);
		for (int j = 0; j < 96; j++)
			T_EQ_INT(g_hdr[OFF_SLOT(i) + j], 0);
	}
	for (int i = 448; i < CFS_STORE_HDR_SIZE; i++)
		T_EQ_INT(g_hdr[i], 0);
	T_CHECK(memcmp(h.mac, g_hdr + OFF_MAC, 32) == 0);

	/* the MAC is keyed BLAKE2b-256 of bytes 0..415 under the hdrmac subkey */
	unsigned char mac[32];
	crypto_generichash(mac, 32, g_hdr, OFF_MAC, g_keys->hdrmac, CFS_KEY_BYTES);
	T_CHECK(memcmp(mac, h.mac, 32) == 0);

	/* slot 0 opens with Argon2id(pass, salt) as XChaCha20-Poly1305 key, AD =
	 * bytes 0..31 and the slot index: computed here independently */
	unsigned char kek[32], master[32], ad[33];
	T_EQ_INT(crypto_pwhash(kek, 32, PASS, PASSLEN, h.slot[0].salt, h.opslimit, (size_t)h.memlimit,
			       crypto_pwhash_ALG_ARGON2ID13), 0);
	memcpy(ad, g_hdr, 32);
	ad[32] = 0;
	T_EQ_INT(crypto_aead_xchacha20poly1305_ietf_decrypt(master, NULL, NULL, h.slot[0].wrapped, 48, ad, 33,
							    h.slot[0].nonce, kek), 0);
	T_CHECK(memcmp(master, g_keys->master, 32) == 0);
	ad[32] = 1; /* the slot index is bound */
	T_EQ_INT(crypto_aead_xchacha20poly1305_ietf_decrypt(master, NULL, NULL, h.slot[0].wrapped, 48, ad, 33,
							    h.slot[0].nonce, kek), -1);
	sodium_memzero(kek, sizeof kek);
	sodium_memzero(master, sizeof master);
}

/* Subkeys: crypto_kdf_derive_from_key with context "coachfs1" and fixed ids;
 * pinned, since changing them would make every existing store unreadable. */
static void test_subkeys(void)
{
	const struct cfs_keys *k = g_keys;
	const unsigned char *all[] = { k->master, k->content, k->meta, k->hdrmac, k->names, k->link, k->audit_seed };
	for (size_t i = 0; i < 7; i++)
		for (size_t j = i + 1; j < 7; j++)
			CHECKF(sodium_memcmp(all[i], all[j], CFS_KEY_BYTES) != 0, "keys %zu and %zu are equal", i, j);
	for (size_t i = 0; i < 7; i++)
		CHECKF(!sodium_is_zero(all[i], CFS_KEY_BYTES), "key %zu is zero", i);
	struct { const unsigned char *key; uint64_t id; } pin[] = {
		{ k->content, 1 }, { k->hdrmac, 2 }, { k->meta, 3 }, { k->names, 4 }, { k->audit_seed, 5 }, { k->link, 6 },
	};
	for (size_t i = 0; i < sizeof pin / sizeof pin[0]; i++) {
		unsigned char x[32];
		crypto_kdf_derive_from_key(x, 32, pin[i].id, "coachfs1", k->master);
		CHECKF(memcmp(x, pin[i].key, 32) == 0, "subkey id %llu", (unsigned long long)pin[i].id);
		sodium_memzero(x, sizeof x);
	}
}

static void test_audit_keypair(void)
{
	unsigned char pk1[32], pk2[32], pk3[32], pkx[32];
	unsigned char *sk1 = sodium_malloc(64), *sk2 = sodium_malloc(64), *sk3 = sodium_malloc(64), *skx = sodium_malloc(64);
	struct cfs_err e;
	struct cfs_keys *k = NULL;
	if (!sk1 || !sk2 || !sk3 || !skx) {
		T_FAILF("sodium_malloc");
		return;
	}
	cfs_audit_keypair(g_keys, pk1, sk1);
	cfs_audit_keypair(g_keys, pk2, sk2);
	T_CHECK(memcmp(pk1, pk2, 32) == 0 && memcmp(sk1, sk2, 64) == 0);
	/* the same after a fresh unlock: it depends on the keys only */
	T_EQ_INT(cfs_store_unlock(g_store, PASS, PASSLEN, &k, &e), 0);
	if (k) {
		cfs_audit_keypair(k, pk3, sk3);
		T_CHECK(memcmp(pk1, pk3, 32) == 0 && memcmp(sk1, sk3, 64) == 0);
		cfs_keys_free(k);
	}
	/* it is the Ed25519 key pair of the audit seed, and it signs */
	crypto_sign_seed_keypair(pkx, skx, g_keys->audit_seed);
	T_CHECK(memcmp(pk1, pkx, 32) == 0);
	unsigned char sig[64];
	T_EQ_INT(crypto_sign_detached(sig, NULL, (const unsigned char *)"row", 3, sk1), 0);
	T_EQ_INT(crypto_sign_verify_detached(sig, (const unsigned char *)"row", 3, pk1), 0);
	T_EQ_INT(crypto_sign_verify_detached(sig, (const unsigned char *)"rox", 3, pk1), -1);
	/* not the master key's own key pair */
	crypto_sign_seed_keypair(pkx, skx, g_keys->master);
	T_CHECK(memcmp(pk1, pkx, 32) != 0);
	sodium_free(sk1);
	sodium_free(sk2);
	sodium_free(sk3);
	sodium_free(skx);
}

static void test_wrong_passphrase(void)
{
	struct cfs_err e;
	struct cfs_keys *k = NULL;
	e.msg[0] = 0;
	T_EQ_INT(cfs_store_unlock(g_store, "wrong", 5, &k, &e), -EACCES);
	T_CONTAINS(em(&e), "wrong passphrase");
	T_CHECK(k == NULL);
	/* a prefix, the passphrase plus one byte, and the empty one */
	T_EQ_INT(cfs_store_unlock(g_store, PASS, PASSLEN - 1, &k, &e), -EACCES);
	T_EQ_INT(cfs_store_unlock(g_store, PASS "x", PASSLEN + 1, &k, &e), -EACCES);
	T_EQ_INT(cfs_store_unlock(g_store, "", 0, &k, &e), -EACCES);
	T_CHECK(k == NULL);
	/* a missing store names the path */
	char p[160];
	snprintf(p, sizeof p, "%s/no-such-store", g_dir);
	T_EQ_INT(cfs_store_unlock(p, PASS, PASSLEN, &k, &e), -ENOENT);
	T_CONTAINS(em(&e), p);
	/* a symlink is not followed */
	char l[128];
	path_for(l, sizeof l, "link");
	T_EQ_INT(symlink(g_store, l), 0);
	T_EQ_INT(cfs_store_unlock(l, PASS, PASSLEN, &k, &e), -ELOOP);
	T_CHECK(k == NULL);
}

/* Unlock a copy of the header with bytes [off, off+n) replaced by val. */
static int unlock_edited(const unsigned char *img, size_t len, struct cfs_keys **k, struct cfs_err *e)
{
	char p[128];
	path_for(p, sizeof p, "edited");
	if (write_file(p, img, len) != 0)
		return -12345;
	return cfs_store_unlock(p, PASS, PASSLEN, k, e);
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void test_header_edits(void)
{
	struct {
		size_t off;
		int val;          /* -1: flip the low bit */
		int rc;
		const char *msg;  /* substring of the message */
	} cases[] = {
		{ 0, 'X', -EINVAL, "not a coachfs store header" },
		{ 7, 1, -EINVAL, "not a coachfs store header" },
		{ 8, 3, -EINVAL, "newer than this coachfs supports" },
		{ 8, 1, -EACCES, "wrong passphrase" },                  /* the version is in the slot's AD */
		{ 9, 1, -EINVAL, "newer than this coachfs supports" },
		{ 8, 0, -EINVAL, "version 0" },
		{ 10, 0, -EINVAL, "unknown cipher" },
		{ 10, 3, -EINVAL, "unknown cipher" },
		{ 10, CFS_AEAD_AESGCM, -EACCES, "wrong passphrase" },   /* valid but authenticated */
		{ 11, 11, -EINVAL, "chunk size" },
		{ 11, 21, -EINVAL, "chunk size" },
		{ 11, 13, -EACCES, "wrong passphrase" },
		{ 12, 2, -EINVAL, "key-derivation" },
		{ 13, 3, -EINVAL, "key-derivation" },
		{ 14, 1, -EINVAL, "key-derivation" },
		{ 15, 1, -EINVAL, "key-derivation" },
		{ 16, 0, -EINVAL, "Argon2id limits" },                 /* opslimit 0 */
		{ 16, 65, -EINVAL, "Argon2id limits" },
		{ 23, 1, -EINVAL, "Argon2id limits" },
		{ 16, 3, -EACCES, "wrong passphrase" },                 /* opslimit 2 -> 3 */
		{ 27, 0, -EINVAL, "Argon2id limits" },                 /* memlimit 64 MiB -> 0 */
		{ 29, 1, -EINVAL, "Argon2id limits" },                 /* memlimit > 4 GiB */
		{ 27, 2, -EACCES, "wrong passphrase" },                 /* memlimit 64 MiB -> 32 MiB */
		{ OFF_SLOT(0), 0, -EINVAL, "no key slot in use" },
		{ OFF_SLOT(0), 2, -EINVAL, "key slot 0 is malformed" },
		{ OFF_SLOT(0) + 1, 1, -EINVAL, "key slot 0 is malformed" },
		{ OFF_SLOT(0) + 7, 1, -EINVAL, "key slot 0 is malformed" },
		{ OFF_SLOT(0) + 8, -1, -EACCES, "wrong passphrase" },   /* salt */
		{ OFF_SLOT(0) + 24, -1, -EACCES, "wrong passphrase" },  /* nonce */
		{ OFF_SLOT(0) + 48, -1, -EACCES, "wrong passphrase" },  /* wrapped key */
		{ OFF_SLOT(0) + 95, -1, -EACCES, "wrong passphrase" },  /* its tag */
		{ OFF_SLOT(1), 1, -EBADMSG, "altered" },                /* slot 1 claimed in use */
		{ OFF_SLOT(1) + 8, 1, -EBADMSG, "altered" },            /* unused slot's salt */
		{ OFF_SLOT(3) + 95, 1, -EBADMSG, "altered" },
		{ OFF_SLOT(2) + 3, 1, -EINVAL, "key slot 2 is malformed" },
		{ OFF_MAC, -1, -EBADMSG, "altered" },
		{ OFF_MAC + 31, -1, -EBADMSG, "altered" },
		{ OFF_MAC + 32, 1, -EINVAL, "padding" },
		{ CFS_STORE_HDR_SIZE - 1, 1, -EINVAL, "padding" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unsigned char img[CFS_STORE_HDR_SIZE];
		struct cfs_err e;
		struct cfs_keys *k = NULL;
		memcpy(img, g_hdr, sizeof img);
		if (cases[i].val < 0)
			img[cases[i].off] ^= 1;
		else
			img[cases[i].off] = (unsigned char)cases[i].val;
		CHECKF(memcmp(img, g_hdr, sizeof img) != 0, "case %zu edits nothing", i);
		e.msg[0] = 0;
		int rc = unlock_edited(img, sizeof img, &k, &e);
		CHECKF(rc == cases[i].rc, "edit at %zu: rc %d, want %d (%s)", cases[i].off, rc, cases[i].rc, em(&e));
		CHECKF(strstr(e.msg, cases[i].msg) != NULL, "edit at %zu: message \"%s\" lacks \"%s\"", cases[i].off,
		       em(&e), cases[i].msg);
		CHECKF(k == NULL, "edit at %zu: keys handed out", cases[i].off);
		if (k)
			cfs_keys_free(k);
	}
	/* a whole field replaced: opslimit and memlimit at their extremes */
	unsigned char img[CFS_STORE_HDR_SIZE];
	struct cfs_err e;
	struct cfs_keys *k = NULL;
	memcpy(img, g_hdr, sizeof img);
	put64(img + 24, ((uint64_t)4 << 30) + 1);
	T_EQ_INT(unlock_edited(img, sizeof img, &k, &e), -EINVAL);
	memcpy(img, g_hdr, sizeof img);
	put64(img + 24, crypto_pwhash_MEMLIMIT_MIN - 1);
	T_EQ_INT(unlock_edited(img, sizeof img, &k, &e), -EINVAL);
	T_CHECK(k == NULL);
	/* the parser reports the newer version before anything else */
	struct cfs_store_hdr h;
	memcpy(img, g_hdr, sizeof img);
	img[8] = 7;
	T_EQ_INT(cfs_store_hdr_parse(img, sizeof img, &h, &e), -EINVAL);
	T_CONTAINS(em(&e), "store format version 7 is newer than this coachfs supports (2)");
}

static void test_truncated(void)
{
	size_t lens[] = { 0, 1, 7, 8, 15, 16, 100, 415, 447, CFS_STORE_HDR_SIZE - 1 };
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		struct cfs_err e;
		struct cfs_keys *k = NULL;
		struct cfs_store_hdr h;
		e.msg[0] = 0;
		int rc = unlock_edited(g_hdr, lens[i], &k, &e);
		CHECKF(rc == -EINVAL, "%zu bytes: rc %d (%s)", lens[i], rc, em(&e));
		CHECKF(strstr(e.msg, "truncated") != NULL, "%zu bytes: \"%s\"", lens[i], em(&e));
		T_CHECK(k == NULL);
		T_EQ_INT(cfs_store_hdr_parse(g_hdr, lens[i], &h, &e), -EINVAL);
		CHECKF(strstr(e.msg, "truncated") != NULL, "parse %zu bytes: \"%s\"", lens[i], em(&e));
	}
	/* one byte too many is refused too */
	unsigned char big[CFS_STORE_HDR_SIZE + 1];
	struct cfs_err e;
	struct cfs_keys *k = NULL;
	memcpy(big, g_hdr, CFS_STORE_HDR_SIZE);
	big[CFS_STORE_HDR_SIZE] = 0;
	T_EQ_INT(unlock_edited(big, sizeof big, &k, &e), -EINVAL);
	T_CONTAINS(em(&e), "expected 512");
	T_CHECK(k == NULL);
	/* a foreign short file is foreign, not truncated */
	struct cfs_store_hdr h;
	T_EQ_INT(cfs_store_hdr_parse((const unsigned char *)"PK\x03\x04", 4, &h, &e), -EINVAL);
	T_CONTAINS(em(&e), "not a coachfs store header");
}

static void test_passwd(void)
{
	struct cfs_err e;
	struct cfs_keys *a = NULL, *b = NULL;
	char p[128];
	unsigned char before[CFS_STORE_HDR_SIZE], after[CFS_STORE_HDR_SIZE];
	path_for(p, sizeof p, "store");
	T_EQ_INT(cfs_store_create(p, "old pass", 8, CFS_AEAD_XCHACHA, 12, CFS_KDF_INTERACTIVE, &a, &e), 0);
	if (!a)
		return;
	T_EQ_INT(read_file(p, before, sizeof before), CFS_STORE_HDR_SIZE);
	/* wrong old passphrase: refused, file untouched */
	T_EQ_INT(cfs_store_passwd(p, "not it", 6, "new pass", 8, &e), -EACCES);
	T_CONTAINS(em(&e), "wrong passphrase");
	T_EQ_INT(read_file(p, after, sizeof after), CFS_STORE_HDR_SIZE);
	T_CHECK(memcmp(before, after, sizeof before) == 0);
	/* empty new passphrase refused */
	T_EQ_INT(cfs_store_passwd(p, "old pass", 8, "", 0, &e), -EINVAL);
	T_EQ_INT(read_file(p, after, sizeof after), CFS_STORE_HDR_SIZE);
	T_CHECK(memcmp(before, after, sizeof before) == 0);

	T_EQ_INT(cfs_store_passwd(p, "old pass", 8, "new pass", 8, &e), 0);
	T_EQ_INT(read_file(p, after, sizeof after + 1), CFS_STORE_HDR_SIZE);
	/* slot 0 re-wrapped with a fresh salt and nonce; parameters kept */
	T_CHECK(memcmp(before, after, 32) == 0);
	T_CHECK(memcmp(before + OFF_SLOT(0) + 8, after + OFF_SLOT(0) + 8, 16) != 0);
	T_CHECK(memcmp(before + OFF_SLOT(1), after + OFF_SLOT(1), 96 * 3) == 0);
	T_EQ_INT(cfs_store_unlock(p, "old pass", 8, &b, &e), -EACCES);
	T_CHECK(b == NULL);
	T_EQ_INT(cfs_store_unlock(p, "new pass", 8, &b, &e), 0);
	if (b) {
		T_CHECK(sodium_memcmp(a->master, b->master, CFS_KEY_BYTES) == 0);
		T_CHECK(sodium_memcmp(a->content, b->content, CFS_KEY_BYTES) == 0);
		T_CHECK(sodium_memcmp(a->meta, b->meta, CFS_KEY_BYTES) == 0);
		T_CHECK(sodium_memcmp(a->audit_seed, b->audit_seed, CFS_KEY_BYTES) == 0);
		T_EQ_INT(b->aead, a->aead);
		T_EQ_INT(b->chunk_log2, a->chunk_log2);
		cfs_keys_free(b);
		b = NULL;
	}
	char tmp[160];
	snprintf(tmp, sizeof tmp, "%s.tmp", p);
	T_CHECK(access(tmp, F_OK) != 0);
	/* and back again, twice in a row */
	T_EQ_INT(cfs_store_passwd(p, "new pass", 8, "third", 5, &e), 0);
	T_EQ_INT(cfs_store_passwd(p, "third", 5, "old pass", 8, &e), 0);
	T_EQ_INT(cfs_store_unlock(p, "old pass", 8, &b, &e), 0);
	if (b) {
		T_CHECK(sodium_memcmp(a->master, b->master, CFS_KEY_BYTES) == 0);
		cfs_keys_free(b);
	}
	/* an edited header cannot be re-keyed */
	unsigned char img[CFS_STORE_HDR_SIZE];
	char q[128];
	path_for(q, sizeof q, "edited");
	T_EQ_INT(read_file(p, img, sizeof img), CFS_STORE_HDR_SIZE);
	img[OFF_MAC] ^= 1;
	T_EQ_INT(write_file(q, img, sizeof img), 0);
	T_EQ_INT(cfs_store_passwd(q, "old pass", 8, "new", 3, &e), -EBADMSG);
	cfs_keys_free(a);
}

static void test_create_refusals(void)
{
	struct cfs_err e;
	struct cfs_keys *k = NULL;
	unsigned char before[CFS_STORE_HDR_SIZE], after[CFS_STORE_HDR_SIZE];
	T_EQ_INT(read_file(g_store, before, sizeof before), CFS_STORE_HDR_SIZE);
	T_EQ_INT(cfs_store_create(g_store, "other", 5, CFS_AEAD_XCHACHA, 12, CFS_KDF_INTERACTIVE, &k, &e), -EEXIST);
	T_CONTAINS(em(&e), "already exists");
	T_CHECK(k == NULL);
	T_EQ_INT(read_file(g_store, after, sizeof after), CFS_STORE_HDR_SIZE);
	T_CHECK(memcmp(before, after, sizeof before) == 0);
	/* any existing file, even an empty one or a dangling symlink */
	char p[128], l[128];
	path_for(p, sizeof p, "empty");
	T_EQ_INT(write_file(p, "", 0), 0);
	T_EQ_INT(cfs_store_create(p, "x", 1, CFS_AEAD_XCHACHA, 12, CFS_KDF_INTERACTIVE, &k, &e), -EEXIST);
	path_for(l, sizeof l, "dangling");
	T_EQ_INT(symlink("/nonexistent/target", l), 0);
	T_EQ_INT(cfs_store_create(l, "x", 1, CFS_AEAD_XCHACHA, 12, CFS_KDF_INTERACTIVE, &k, &e), -EEXIST);
	T_CHECK(k == NULL);
	/* bad parameters */
	path_for(p, sizeof p, "store");
	T_EQ_INT(cfs_store_create(p, "x", 1, 0, 12, CFS_KDF_INTERACTIVE, &k, &e), -EINVAL);
	T_EQ_INT(cfs_store_create(p, "x", 1, 3, 12, CFS_KDF_INTERACTIVE, &k, &e), -EINVAL);
	T_EQ_INT(cfs_store_create(p, "x", 1, CFS_AEAD_XCHACHA, 11, CFS_KDF_INTERACTIVE, &k, &e), -EINVAL);
	T_EQ_INT(cfs_store_create(p, "x", 1, CFS_AEAD_XCHACHA, 21, CFS_KDF_INTERACTIVE, &k, &e), -EINVAL);
	T_EQ_INT(cfs_store_create(p, "", 0, CFS_AEAD_XCHACHA, 12, CFS_KDF_INTERACTIVE, &k, &e), -EINVAL);
	T_CONTAINS(em(&e), "empty");
	T_CHECK(access(p, F_OK) != 0);
	/* a directory that does not exist: error names the path */
	char d[160];
	snprintf(d, sizeof d, "%s/missing/store", g_dir);
	T_EQ_INT(cfs_store_create(d, "x", 1, CFS_AEAD_XCHACHA, 12, CFS_KDF_INTERACTIVE, &k, &e), -ENOENT);
	T_CONTAINS(em(&e), "/missing/store");
	T_CHECK(k == NULL);
}

static void test_pass_file(void)
{
	struct {
		const char *content;
		size_t n;
		int rc;
		const char *want;   /* passphrase on success, message substring on failure */
	} cases[] = {
		{ "secret\n", 7, 0, "secret" },
		{ "secret", 6, 0, "secret" },
		{ "secret\r\n", 8, 0, "secret" },
		{ "two words \n", 11, 0, "two words " },
		{ "first\nsecond\n", 13, 0, "first" },
		{ "", 0, -EINVAL, "the passphrase is empty" },
		{ "\n", 1, -EINVAL, "the passphrase is empty" },
		{ "\nsecret\n", 8, -EINVAL, "the passphrase is empty" },
		{ "sec\0ret\n", 8, -EINVAL, "NUL" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char p[128];
		char *out = NULL;
		size_t len = 0;
		struct cfs_err e;
		path_for(p, sizeof p, "pass");
		T_EQ_INT(write_file(p, cases[i].content, cases[i].n), 0);
		e.msg[0] = 0;
		int rc = cfs_pass_read(p, 0, "unused", &out, &len, &e);
		CHECKF(rc == cases[i].rc, "case %zu: rc %d (%s)", i, rc, em(&e));
		if (rc == 0 && out) {
			CHECKF(len == strlen(cases[i].want) && strcmp(out, cases[i].want) == 0, "case %zu: got \"%s\"",
			       i, out);
			cfs_pass_free(out, len);
		} else {
			T_CHECK(out == NULL);
			CHECKF(strstr(e.msg, cases[i].want) && strstr(e.msg, p), "case %zu: \"%s\"", i, em(&e));
		}
	}
	/* limits: 1024 bytes fine, 1025 too long, a short first line before a
	 * long tail fine */
	char *big = malloc(3000);
	if (!big)
		return;
	char p[128];
	char *out = NULL;
	size_t len = 0;
	struct cfs_err e;
	memset(big, 'a', 3000);
	path_for(p, sizeof p, "pass");
	T_EQ_INT(write_file(p, big, 1024), 0);
	T_EQ_INT(cfs_pass_read(p, 0, "", &out, &len, &e), 0);
	T_EQ_INT(len, 1024);
	cfs_pass_free(out, len);
	out = NULL;
	big[1024] = '\n';
	T_EQ_INT(write_file(p, big, 1025), 0);
	T_EQ_INT(cfs_pass_read(p, 0, "", &out, &len, &e), 0);
	T_EQ_INT(len, 1024);
	cfs_pass_free(out, len);
	out = NULL;
	big[1024] = 'a';
	T_EQ_INT(write_file(p, big, 1025), 0);
	T_EQ_INT(cfs_pass_read(p, 0, "", &out, &len, &e), -E2BIG);
	T_CONTAINS(em(&e), "longer than 1024 bytes");
	T_CHECK(out == NULL);
	memcpy(big, "short\n", 6);
	T_EQ_INT(write_file(p, big, 3000), 0);
	T_EQ_INT(cfs_pass_read(p, 0, "", &out, &len, &e), 0);
	T_EQ_INT(len, 5);
	if (out)
		T_EQ_STR(out, "short");
	cfs_pass_free(out, len);
	cfs_pass_free(NULL, 0);
	free(big);
	/* unreadable: missing, and a directory; the message names the path */
	out = NULL;
	char m[160];
	snprintf(m, sizeof m, "%s/no-such-pass-file", g_dir);
	T_EQ_INT(cfs_pass_read(m, 0, "", &out, &len, &e), -ENOENT);
	T_CONTAINS(em(&e), m);
	T_CHECK(out == NULL);
	T_EQ_INT(cfs_pass_read(g_dir, 0, "", &out, &len, &e), -EISDIR);
	T_CONTAINS(em(&e), g_dir);
	T_CHECK(out == NULL);
	/* a passphrase read from a file unlocks the store */
	path_for(p, sizeof p, "pass");
	T_EQ_INT(write_file(p, PASS "\n", PASSLEN + 1), 0);
	T_EQ_INT(cfs_pass_read(p, 0, "", &out, &len, &e), 0);
	if (out) {
		struct cfs_keys *k = NULL;
		T_EQ_INT(cfs_store_unlock(g_store, out, len, &k, &e), 0);
		cfs_keys_free(k);
		cfs_pass_free(out, len);
	}
}

/* A passphrase from a pipe (/dev/stdin, process substitution): read up to
 * the first newline, without waiting for the writer to close. */
static void test_pass_pipe(void)
{
	int p[2];
	char path[64], *out = NULL;
	size_t len = 0;
	struct cfs_err e;
	if (pipe(p) != 0) {
		T_FAILF("pipe");
		return;
	}
	T_EQ_INT(write(p[1], "piped secret\nrest", 17), 17); /* writer stays open */
	snprintf(path, sizeof path, "/dev/fd/%d", p[0]);
	T_EQ_INT(cfs_pass_read(path, 0, "", &out, &len, &e), 0);
	T_EQ_INT(len, 12);
	if (out)
		T_EQ_STR(out, "piped secret");
	cfs_pass_free(out, len);
	close(p[0]);
	close(p[1]);
	/* no newline: up to EOF */
	out = NULL;
	T_EQ_INT(pipe(p), 0);
	T_EQ_INT(write(p[1], "eof-ended", 9), 9);
	close(p[1]);
	snprintf(path, sizeof path, "/dev/fd/%d", p[0]);
	T_EQ_INT(cfs_pass_read(path, 0, "", &out, &len, &e), 0);
	if (out)
		T_EQ_STR(out, "eof-ended");
	cfs_pass_free(out, len);
	close(p[0]);
}

/* The store header must be a regular file: a FIFO planted at its path is
 * refused at once (not waited on), a directory too. */
static void test_header_not_regular(void)
{
	struct cfs_err e;
	struct cfs_keys *k = NULL;
	char f[128];
	path_for(f, sizeof f, "fifo");
	T_EQ_INT(mkfifo(f, 0600), 0);
	T_EQ_INT(cfs_store_unlock(f, PASS, PASSLEN, &k, &e), -EINVAL);
	T_CONTAINS(em(&e), "not a regular file");
	T_EQ_INT(cfs_store_unlock(g_dir, PASS, PASSLEN, &k, &e), -EINVAL);
	T_CONTAINS(em(&e), "not a regular file");
	T_EQ_INT(cfs_store_passwd(f, PASS, PASSLEN, "x", 1, &e), -EINVAL);
	T_CHECK(k == NULL);
}

static void test_aead_names(void)
{
	struct cfs_err e;
	int a = -1;
	T_EQ_STR(cfs_aead_name(CFS_AEAD_XCHACHA), "xchacha20poly1305");
	T_EQ_STR(cfs_aead_name(CFS_AEAD_AESGCM), "aes256gcm");
	T_EQ_STR(cfs_aead_name(0), "?");
	T_EQ_INT(cfs_aead_resolve(1, &a, &e), 0);
	T_EQ_INT(a, CFS_AEAD_XCHACHA);
	T_EQ_INT(cfs_aead_resolve(0, &a, &e), 0);
	T_EQ_INT(a, crypto_aead_aes256gcm_is_available() ? CFS_AEAD_AESGCM : CFS_AEAD_XCHACHA);
	if (crypto_aead_aes256gcm_is_available()) {
		T_EQ_INT(cfs_aead_resolve(2, &a, &e), 0);
		T_EQ_INT(a, CFS_AEAD_AESGCM);
	} else {
		T_EQ_INT(cfs_aead_resolve(2, &a, &e), -ENOTSUP);
	}
	T_EQ_INT(cfs_aead_resolve(3, &a, &e), -EINVAL);
	T_CONTAINS(em(&e), "unknown cipher 3");
}

int main(void)
{
	struct cfs_err e;
	if (cfs_crypto_init(&e) != 0) {
		printf("FAIL test_crypto.main: %s\n", e.msg);
		return 1;
	}
	snprintf(g_dir, sizeof g_dir, "/tmp/coachfs-unit-crypto.XXXXXX");
	if (!mkdtemp(g_dir)) {
		printf("FAIL test_crypto.main: mkdtemp\n");
		return 1;
	}
	path_for(g_store, sizeof g_store, "store");
	if (cfs_store_create(g_store, PASS, PASSLEN, CFS_AEAD_XCHACHA, 12, CFS_KDF_INTERACTIVE, &g_keys, &e) != 0) {
		printf("FAIL test_crypto.main: store_create: %s\n", em(&e));
		return 1;
	}
	T_RUN(test_create_unlock);
	T_RUN(test_header_layout);
	T_RUN(test_subkeys);
	T_RUN(test_audit_keypair);
	T_RUN(test_wrong_passphrase);
	T_RUN(test_header_edits);
	T_RUN(test_truncated);
	T_RUN(test_passwd);
	T_RUN(test_create_refusals);
	T_RUN(test_pass_file);
	T_RUN(test_pass_pipe);
	T_RUN(test_header_not_regular);
	T_RUN(test_aead_names);
	cfs_keys_free(g_keys);
	nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	T_END();
}
