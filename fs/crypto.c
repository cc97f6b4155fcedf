/* crypto.c — the store header (format, Argon2id key slots, header MAC), the
 * key hierarchy and passphrase input. Owns every long-lived secret: the
 * master key and its subkeys live only in sodium_malloc memory, made
 * read-only once derived and wiped on free. Must never print, log or write a
 * key or passphrase anywhere else.
 *
 * Store header, 512 bytes, little-endian:
 *   0  "COACHFS\0"        8   magic
 *   8  version            u16 (2; 1 = the format before directory ids, bound
 *                         headers and version counters: `coach-admin upgrade`)
 *  10  aead               u8  (1 xchacha20poly1305, 2 aes256gcm)
 *  11  chunk_log2         u8  (12..20)
 *  12  kdf                u8  (1 = Argon2id v1.3)
 *  13  nslots             u8  (4)
 *  14  reserved           u16 (0)
 *  16  opslimit           u64
 *  24  memlimit           u64
 *  32  slot[4] x 96       used u8, pad[7]=0, salt[16], nonce[24], wrapped[48]
 * 416  mac[32]            BLAKE2b-256 keyed with the hdrmac subkey over 0..415
 * 448  zero padding to 512
 * A slot's wrapped key is XChaCha20-Poly1305(Argon2id(pass, salt), nonce,
 * master key) with bytes 0..31 and the slot index as associated data, so any
 * edited parameter makes unwrapping fail; the MAC then covers the rest. */
#include "coachfs/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define MAGIC "COACHFS\0"
#define OFF_SLOTS 32
#define SLOT_SIZE 96
#define OFF_MAC (OFF_SLOTS + CFS_STORE_SLOTS * SLOT_SIZE)
#define KDF_ARGON2ID 1

/* Subkey ids for crypto_kdf_derive_from_key; never reuse a number. */
enum { SK_CONTENT = 1, SK_HDRMAC = 2, SK_META = 3, SK_NAMES = 4, SK_AUDIT = 5, SK_LINK = 6,
       SK_ROWMAC = 7, SK_STATE = 8 };
static const char KDF_CTX[crypto_kdf_CONTEXTBYTES] = { 'c', 'o', 'a', 'c', 'h', 'f', 's', '1' };

static void put_u16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static uint16_t get_u16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

int cfs_crypto_init(struct cfs_err *err)
{
	if (sodium_init() < 0)
		return cfs_errf(err, -EIO, "libsodium could not be initialised");
	return 0;
}

const char *cfs_aead_name(int aead)
{
	return aead == CFS_AEAD_AESGCM ? "aes256gcm" : aead == CFS_AEAD_XCHACHA ? "xchacha20poly1305" : "?";
}

int cfs_aead_resolve(int config_cipher, int *aead, struct cfs_err *err)
{
	int hw = crypto_aead_aes256gcm_is_available();
	switch (config_cipher) {
	case 0: *aead = hw ? CFS_AEAD_AESGCM : CFS_AEAD_XCHACHA; return 0;
	case 1: *aead = CFS_AEAD_XCHACHA; return 0;
	case 2:
		if (!hw)
			return cfs_errf(err, -ENOTSUP, "cipher aes256gcm needs AES-NI and PCLMUL, which this CPU lacks");
		*aead = CFS_AEAD_AESGCM;
		return 0;
	}
	return cfs_errf(err, -EINVAL, "unknown cipher %d", config_cipher);
}

static void kdf_limits(enum cfs_kdf_level l, uint64_t *ops, uint64_t *mem)
{
	switch (l) {
	case CFS_KDF_INTERACTIVE:
		*ops = crypto_pwhash_OPSLIMIT_INTERACTIVE; *mem = crypto_pwhash_MEMLIMIT_INTERACTIVE; break;
	case CFS_KDF_SENSITIVE:
		*ops = crypto_pwhash_OPSLIMIT_SENSITIVE; *mem = crypto_pwhash_MEMLIMIT_SENSITIVE; break;
	default:
		*ops = crypto_pwhash_OPSLIMIT_MODERATE; *mem = crypto_pwhash_MEMLIMIT_MODERATE; break;
	}
}

int cfs_store_hdr_parse(const unsigned char *buf, size_t len, struct cfs_store_hdr *h, struct cfs_err *err)
{
	memset(h, 0, sizeof *h);
	if (len < 16) {
		/* as much of the magic as there is: a cut header, not a foreign file */
		if (memcmp(buf, MAGIC, len < 8 ? len : 8) == 0)
			return cfs_errf(err, -EINVAL, "store header is %zu bytes, expected %d (truncated)", len,
					CFS_STORE_HDR_SIZE);
		return cfs_errf(err, -EINVAL, "not a coachfs store header");
	}
	if (memcmp(buf, MAGIC, 8) != 0)
		return cfs_errf(err, -EINVAL, "not a coachfs store header");
	h->version = get_u16(buf + 8);
	if (h->version > CFS_STORE_VERSION)
		return cfs_errf(err, -EINVAL, "store format version %u is newer than this coachfs supports (%u)",
				h->version, CFS_STORE_VERSION);
	if (h->version == 0)
		return cfs_errf(err, -EINVAL, "store format version 0 is invalid");
	if (len != CFS_STORE_HDR_SIZE)
		return cfs_errf(err, -EINVAL, "store header is %zu bytes, expected %d (truncated or padded)",
				len, CFS_STORE_HDR_SIZE);
	h->aead = buf[10];
	h->chunk_log2 = buf[11];
	h->kdf = buf[12];
	h->nslots = buf[13];
	if (h->aead != CFS_AEAD_XCHACHA && h->aead != CFS_AEAD_AESGCM)
		return cfs_errf(err, -EINVAL, "store header names unknown cipher %u", h->aead);
	if (h->chunk_log2 < 12 || h->chunk_log2 > 20)
		return cfs_errf(err, -EINVAL, "store header chunk size 2^%u is out of range (2^12..2^20)", h->chunk_log2);
	if (h->kdf != KDF_ARGON2ID || h->nslots != CFS_STORE_SLOTS || get_u16(buf + 14) != 0)
		return cfs_errf(err, -EINVAL, "store header has an unknown key-derivation layout");
	h->opslimit = get_u64(buf + 16);
	h->memlimit = get_u64(buf + 24);
	if (h->opslimit < crypto_pwhash_OPSLIMIT_MIN || h->opslimit > 64 ||
	    h->memlimit < crypto_pwhash_MEMLIMIT_MIN || h->memlimit > ((uint64_t)4 << 30))
		return cfs_errf(err, -EINVAL, "store header Argon2id limits (ops %llu, mem %llu) are out of range",
				(unsigned long long)h->opslimit, (unsigned long long)h->memlimit);
	int used = 0;
	for (int i = 0; i < CFS_STORE_SLOTS; i++) {
		const unsigned char *s = buf + OFF_SLOTS + i * SLOT_SIZE;
		if (s[0] > 1)
			return cfs_errf(err, -EINVAL, "store header key slot %d is malformed", i);
		for (int j = 1; j < 8; j++)
			if (s[j])
				return cfs_errf(err, -EINVAL, "store header key slot %d is malformed", i);
		h->slot[i].used = s[0];
		memcpy(h->slot[i].salt, s + 8, 16);
		memcpy(h->slot[i].nonce, s + 24, 24);
		memcpy(h->slot[i].wrapped, s + 48, 48);
		used += s[0];
	}
	if (!used)
		return cfs_errf(err, -EINVAL, "store header has no key slot in use");
	memcpy(h->mac, buf + OFF_MAC, 32);
	for (size_t i = OFF_MAC + 32; i < CFS_STORE_HDR_SIZE; i++)
		if (buf[i])
			return cfs_errf(err, -EINVAL, "store header padding is not zero");
	return 0;
}

static void hdr_encode(const struct cfs_store_hdr *h, unsigned char *buf)
{
	memset(buf, 0, CFS_STORE_HDR_SIZE);
	memcpy(buf, MAGIC, 8);
	put_u16(buf + 8, h->version);
	buf[10] = h->aead;
	buf[11] = h->chunk_log2;
	buf[12] = h->kdf;
	buf[13] = h->nslots;
	put_u64(buf + 16, h->opslimit);
	put_u64(buf + 24, h->memlimit);
	for (int i = 0; i < CFS_STORE_SLOTS; i++) {
		unsigned char *s = buf + OFF_SLOTS + i * SLOT_SIZE;
		s[0] = h->slot[i].used;
		memcpy(s + 8, h->slot[i].salt, 16);
		memcpy(s + 24, h->slot[i].nonce, 24);
		memcpy(s + 48, h->slot[i].wrapped, 48);
	}
	memcpy(buf + OFF_MAC, h->mac, 32);
}

static void slot_ad(const unsigned char *buf, int slot, unsigned char ad[33])
{
	memcpy(ad, buf, 32);
	ad[32] = (unsigned char)slot;
}

/* Argon2id of the passphrase into kek (sodium memory). */
static int derive_kek(const struct cfs_store_hdr *h, int slot, const char *pass, size_t passlen,
		      unsigned char *kek, struct cfs_err *err)
{
	if (crypto_pwhash(kek, CFS_KEY_BYTES, pass, passlen, h->slot[slot].salt, h->opslimit,
			  (size_t)h->memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return cfs_errf(err, -ENOMEM, "Argon2id needs %llu MiB of memory, which could not be had",
				(unsigned long long)(h->memlimit >> 20));
	return 0;
}

static struct cfs_keys *keys_alloc(void)
{
	struct cfs_keys *k = sodium_malloc(sizeof *k);
	if (k)
		sodium_memzero(k, sizeof *k);
	return k;
}

void cfs_keys_free(struct cfs_keys *k)
{
	if (!k)
		return;
	sodium_mprotect_readwrite(k);
	sodium_memzero(k, sizeof *k);
	sodium_free(k);
}

static void keys_derive(struct cfs_keys *k)
{
	crypto_kdf_derive_from_key(k->content, CFS_KEY_BYTES, SK_CONTENT, KDF_CTX, k->master);
	crypto_kdf_derive_from_key(k->hdrmac, CFS_KEY_BYTES, SK_HDRMAC, KDF_CTX, k->master);
	crypto_kdf_derive_from_key(k->meta, CFS_KEY_BYTES, SK_META, KDF_CTX, k->master);
	crypto_kdf_derive_from_key(k->names, CFS_KEY_BYTES, SK_NAMES, KDF_CTX, k->master);
	crypto_kdf_derive_from_key(k->audit_seed, CFS_KEY_BYTES, SK_AUDIT, KDF_CTX, k->master);
	crypto_kdf_derive_from_key(k->link, CFS_KEY_BYTES, SK_LINK, KDF_CTX, k->master);
	crypto_kdf_derive_from_key(k->rowmac, CFS_KEY_BYTES, SK_ROWMAC, KDF_CTX, k->master);
	crypto_kdf_derive_from_key(k->state, CFS_KEY_BYTES, SK_STATE, KDF_CTX, k->master);
}

static void hdr_mac(const struct cfs_keys *k, const unsigned char *buf, unsigned char mac[32])
{
	crypto_generichash(mac, 32, buf, OFF_MAC, k->hdrmac, CFS_KEY_BYTES);
}

/* Wrap k->master into slot `slot` of h (buf = header image for the AD). */
static int wrap_slot(struct cfs_store_hdr *h, int slot, const struct cfs_keys *k, const char *pass,
		     size_t passlen, struct cfs_err *err)
{
	unsigned char buf[CFS_STORE_HDR_SIZE], ad[33];
	unsigned char *kek = sodium_malloc(CFS_KEY_BYTES);
	int rc;
	if (!kek)
		return cfs_errf(err, -ENOMEM, "out of secure memory");
	randombytes_buf(h->slot[slot].salt, 16);
	randombytes_buf(h->slot[slot].nonce, 24);
	h->slot[slot].used = 1;
	rc = derive_kek(h, slot, pass, passlen, kek, err);
	if (rc == 0) {
		hdr_encode(h, buf);
		slot_ad(buf, slot, ad);
		crypto_aead_xchacha20poly1305_ietf_encrypt(h->slot[slot].wrapped, NULL, k->master,
							   CFS_KEY_BYTES, ad, sizeof ad, NULL,
							   h->slot[slot].nonce, kek);
	}
	sodium_free(kek);
	return rc;
}

/* Try each used slot; on success fill k->master and return the slot index. */
static int unwrap_any(const struct cfs_store_hdr *h, const unsigned char *buf, const char *pass,
		      size_t passlen, struct cfs_keys *k, struct cfs_err *err)
{
	unsigned char ad[33];
	unsigned char *kek = sodium_malloc(CFS_KEY_BYTES);
	if (!kek)
		return cfs_errf(err, -ENOMEM, "out of secure memory");
	for (int i = 0; i < CFS_STORE_SLOTS; i++) {
		if (!h->slot[i].used)
			continue;
		int rc = derive_kek(h, i, pass, passlen, kek, err);
		if (rc < 0) {
			sodium_free(kek);
			return rc;
		}
		slot_ad(buf, i, ad);
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(k->master, NULL, NULL, h->slot[i].wrapped,
							       sizeof h->slot[i].wrapped, ad, sizeof ad,
							       h->slot[i].nonce, kek) == 0) {
			sodium_free(kek);
			return i;
		}
	}
	sodium_free(kek);
	return cfs_errf(err, -EACCES, "wrong passphrase");
}

static int read_header(const char *path, unsigned char *buf, size_t *len, struct cfs_err *err)
{
	/* O_NONBLOCK: a FIFO planted at the path must not hang the caller */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return cfs_errf(err, -errno, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return cfs_errf(err, -EINVAL, "%s: not a regular file", path);
	}
	ssize_t r = cfs_pread_full(fd, buf, CFS_STORE_HDR_SIZE + 1, 0);
	close(fd);
	if (r < 0)
		return cfs_errf(err, (int)r, "%s: %s", path, strerror((int)-r));
	*len = (size_t)r;
	return 0;
}

/* Write buf to path atomically: path.tmp, fsync, rename, fsync dir. With
 * excl the final step is link(2), which fails if path exists by then: a
 * check-then-rename would let a second `init` (or anything created in the
 * window) be replaced, and replacing a store header loses its master key. */
static int write_atomic(const char *path, const unsigned char *buf, size_t len, int excl,
			struct cfs_err *err)
{
	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		return cfs_errf(err, -ENAMETOOLONG, "%s: path too long", path);
	if (excl && faccessat(AT_FDCWD, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return cfs_errf(err, -EEXIST, "%s already exists", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return cfs_errf(err, -errno, "%s: %s", tmp, strerror(errno));
	int rc = cfs_pwrite_all(fd, buf, len, 0);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && (excl ? link(tmp, path) : rename(tmp, path)) != 0)
		rc = -errno;
	if (rc < 0 || excl)
		unlink(tmp);
	if (rc == -EEXIST)
		return cfs_errf(err, rc, "%s already exists", path);
	if (rc < 0)
		return cfs_errf(err, rc, "%s: %s", path, strerror(-rc));
	char dir[PATH_MAX];
	cfs_strlcpy(dir, path, sizeof dir);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = 0;
	else
		cfs_strlcpy(dir, ".", sizeof dir);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* Wrap k->master into h's slot under pass, MAC the header and write it to
 * path (excl: only if path does not exist yet). k's subkeys are derived. */
static int seal_slot(const char *path, struct cfs_store_hdr *h, int slot, const struct cfs_keys *k,
		     const char *pass, size_t passlen, int excl, struct cfs_err *err)
{
	unsigned char buf[CFS_STORE_HDR_SIZE];
	int rc = wrap_slot(h, slot, k, pass, passlen, err);
	if (rc < 0)
		return rc;
	hdr_encode(h, buf);
	hdr_mac(k, buf, h->mac);
	hdr_encode(h, buf);
	return write_atomic(path, buf, sizeof buf, excl, err);
}

int cfs_store_create(const char *path, const char *pass, size_t passlen, int aead, int chunk_log2,
		     enum cfs_kdf_level kdf, struct cfs_keys **out, struct cfs_err *err)
{
	struct cfs_store_hdr h;
	int rc;
	if (aead != CFS_AEAD_XCHACHA && aead != CFS_AEAD_AESGCM)
		return cfs_errf(err, -EINVAL, "unknown cipher %d", aead);
	if (chunk_log2 < 12 || chunk_log2 > 20)
		return cfs_errf(err, -EINVAL, "chunk size 2^%d out of range", chunk_log2);
	if (passlen == 0)
		return cfs_errf(err, -EINVAL, "the passphrase is empty");
	struct cfs_keys *k = keys_alloc();
	if (!k)
		return cfs_errf(err, -ENOMEM, "out of secure memory");
	memset(&h, 0, sizeof h);
	h.version = CFS_STORE_VERSION;
	h.aead = (uint8_t)aead;
	h.chunk_log2 = (uint8_t)chunk_log2;
	h.kdf = KDF_ARGON2ID;
	h.nslots = CFS_STORE_SLOTS;
	kdf_limits(kdf, &h.opslimit, &h.memlimit);
	crypto_kdf_keygen(k->master);
	k->aead = aead;
	k->chunk_log2 = chunk_log2;
	keys_derive(k);
	rc = seal_slot(path, &h, 0, k, pass, passlen, 1, err);
	if (rc < 0) {
		cfs_keys_free(k);
		return rc;
	}
	sodium_mprotect_readonly(k);
	*out = k;
	return 0;
}

/* Parse + unlock + MAC check; on success *out holds writable keys and *slot
 * the slot that opened. */
static int unlock(const char *path, const char *pass, size_t passlen, struct cfs_store_hdr *h,
		  struct cfs_keys **out, int *slot, struct cfs_err *err)
{
	unsigned char buf[CFS_STORE_HDR_SIZE + 1], mac[32];
	size_t len = 0;
	int rc = read_header(path, buf, &len, err);
	if (rc < 0)
		return rc;
	struct cfs_err perr;
	rc = cfs_store_hdr_parse(buf, len, h, &perr);
	if (rc < 0)
		return cfs_errf(err, rc, "%s: %s", path, perr.msg);
	struct cfs_keys *k = keys_alloc();
	if (!k)
		return cfs_errf(err, -ENOMEM, "out of secure memory");
	rc = unwrap_any(h, buf, pass, passlen, k, err);
	if (rc < 0) {
		cfs_keys_free(k);
		return rc;
	}
	*slot = rc;
	keys_derive(k);
	hdr_mac(k, buf, mac);
	if (sodium_memcmp(mac, h->mac, 32) != 0) {
		cfs_keys_free(k);
		return cfs_errf(err, -EBADMSG, "%s: the store header was altered (its MAC does not match)", path);
	}
	k->aead = h->aead;
	k->chunk_log2 = h->chunk_log2;
	*out = k;
	return 0;
}

int cfs_store_unlock_any(const char *path, const char *pass, size_t passlen, int *version,
			 struct cfs_keys **out, struct cfs_err *err)
{
	struct cfs_store_hdr h;
	int slot;
	int rc = unlock(path, pass, passlen, &h, out, &slot, err);
	if (rc == 0) {
		sodium_mprotect_readonly(*out);
		*version = h.version;
	}
	return rc;
}

int cfs_store_unlock(const char *path, const char *pass, size_t passlen, struct cfs_keys **out,
		     struct cfs_err *err)
{
	int version;
	int rc = cfs_store_unlock_any(path, pass, passlen, &version, out, err);
	if (rc == 0 && version != CFS_STORE_VERSION) {
		cfs_keys_free(*out);
		*out = NULL;
		return cfs_errf(err, -EPROTO, "%s: store format version %d is older than this coachfs uses (%d): "
				"run 'coach-admin upgrade' (with the store unmounted)", path, version,
				CFS_STORE_VERSION);
	}
	return rc;
}

int cfs_store_set_version(const char *path, const char *pass, size_t passlen, struct cfs_err *err)
{
	struct cfs_store_hdr h;
	struct cfs_keys *k;
	int slot;
	int rc = unlock(path, pass, passlen, &h, &k, &slot, err);
	if (rc < 0)
		return rc;
	if (h.version == CFS_STORE_VERSION) {
		cfs_keys_free(k);
		return 0;
	}
	/* the version is in every slot's AD: only the slot this passphrase opens
	 * can be re-wrapped, so a store with other slots in use is refused */
	for (int i = 0; i < CFS_STORE_SLOTS; i++)
		if (i != slot && h.slot[i].used) {
			cfs_keys_free(k);
			return cfs_errf(err, -EBUSY, "%s: key slot %d is also in use; its passphrase would stop working",
					path, i);
		}
	h.version = CFS_STORE_VERSION;
	rc = seal_slot(path, &h, slot, k, pass, passlen, 0, err);
	cfs_keys_free(k);
	return rc;
}

int cfs_store_passwd(const char *path, const char *oldpass, size_t oldlen, const char *newpass,
		     size_t newlen, struct cfs_err *err)
{
	struct cfs_store_hdr h;
	struct cfs_keys *k;
	int slot;
	if (newlen == 0)
		return cfs_errf(err, -EINVAL, "the new passphrase is empty");
	int rc = unlock(path, oldpass, oldlen, &h, &k, &slot, err);
	if (rc < 0)
		return rc;
	rc = seal_slot(path, &h, slot, k, newpass, newlen, 0, err);
	cfs_keys_free(k);
	return rc;
}

void cfs_audit_keypair(const struct cfs_keys *k, unsigned char pk[32], unsigned char sk[64])
{
	crypto_sign_seed_keypair(pk, sk, k->audit_seed);
}

#define PASS_MAX 1024

/* Every passphrase buffer is PASS_MAX + 1 bytes; wipe all of it (a file may
 * have held more than the first line). */
void cfs_pass_free(char *p, size_t len)
{
	(void)len;
	if (!p)
		return;
	sodium_memzero(p, PASS_MAX + 1);
	sodium_free(p);
}

static int read_tty_line(int fd, const char *prompt, char *buf, size_t cap, size_t *len,
			 struct cfs_err *err)
{
	struct termios old, quiet;
	size_t n = 0;
	if (tcgetattr(fd, &old) != 0)
		return cfs_errf(err, -ENOTTY, "no passphrase_file in the config and no terminal to ask on");
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (write(fd, prompt, strlen(prompt)) < 0) { /* best effort */ }
	if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0)
		return cfs_errf(err, -errno, "cannot turn off terminal echo: %s", strerror(errno));
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n')
			break;
		if (n + 1 >= cap) {
			tcsetattr(fd, TCSAFLUSH, &old);
			return cfs_errf(err, -E2BIG, "passphrase longer than %d bytes", PASS_MAX);
		}
		buf[n++] = c;
	}
	buf[n] = 0;
	tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0) { /* best effort */ }
	*len = n;
	return 0;
}

/* read(2) until a newline, EOF or cap bytes: unlike pread this works on
 * pipes too (--passphrase-file /dev/stdin, process substitution), and does
 * not wait for more once the first line is complete. */
static ssize_t read_line(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	while (got < cap) {
		ssize_t r = read(fd, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		int nl = memchr(buf + got, '\n', (size_t)r) != NULL;
		got += (size_t)r;
		if (nl)
			break;
	}
	return (ssize_t)got;
}

/* The first line of fd into p (PASS_MAX + 1 bytes), its length in *n;
 * `what` names the source in messages. */
static int first_line(int fd, const char *what, char *p, size_t *n, struct cfs_err *err)
{
	ssize_t r = read_line(fd, p, PASS_MAX + 1);
	/* the first line counts; what follows it may be longer */
	char *nl = r > 0 ? memchr(p, '\n', (size_t)r) : NULL;
	if (r < 0)
		return cfs_errf(err, (int)r, "%s: %s", what, strerror((int)-r));
	if (!nl && r > PASS_MAX)
		return cfs_errf(err, -E2BIG, "%s: passphrase longer than %d bytes", what, PASS_MAX);
	*n = nl ? (size_t)(nl - p) : (size_t)r;
	if (*n && p[*n - 1] == '\r')
		(*n)--;
	p[*n] = 0;
	if (memchr(p, 0, *n))
		return cfs_errf(err, -EINVAL, "%s: passphrase contains a NUL byte", what);
	if (*n == 0)
		return cfs_errf(err, -EINVAL, "%s: the passphrase is empty", what);
	return 0;
}

int cfs_pass_read_fd(int fd, const char *what, char **out, size_t *len, struct cfs_err *err)
{
	char *p = sodium_malloc(PASS_MAX + 1);
	size_t n = 0;
	if (!p)
		return cfs_errf(err, -ENOMEM, "out of secure memory");
	int rc = first_line(fd, what, p, &n, err);
	if (rc < 0) {
		cfs_pass_free(p, PASS_MAX);
		return rc;
	}
	*out = p;
	*len = n;
	return 0;
}

int cfs_pass_read(const char *file, int confirm, const char *prompt, char **out, size_t *len,
		  struct cfs_err *err)
{
	char *p = sodium_malloc(PASS_MAX + 1);
	int rc = 0;
	size_t n = 0;
	if (!p)
		return cfs_errf(err, -ENOMEM, "out of secure memory");
	if (file) {
		int fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = cfs_errf(err, -errno, "%s: cannot read the passphrase file: %s", file, strerror(errno));
		} else {
			rc = first_line(fd, file, p, &n, err);
			close(fd);
		}
	} else {
		int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			rc = cfs_errf(err, -ENOTTY, "no passphrase_file in the config and no terminal to ask on");
		} else {
			rc = read_tty_line(fd, prompt, p, PASS_MAX + 1, &n, err);
			if (rc == 0 && confirm) {
				char *q = sodium_malloc(PASS_MAX + 1);
				size_t m = 0;
				if (!q)
					rc = cfs_errf(err, -ENOMEM, "out of secure memory");
				else {
					rc = read_tty_line(fd, "Repeat the passphrase: ", q, PASS_MAX + 1, &m, err);
					if (rc == 0 && (m != n || sodium_memcmp(p, q, n) != 0))
						rc = cfs_errf(err, -EINVAL, "the passphrases do not match");
					cfs_pass_free(q, PASS_MAX);
				}
			}
			close(fd);
		}
	}
	if (rc == 0 && n == 0)
		rc = cfs_errf(err, -EINVAL, "%s%sthe passphrase is empty", file ? file : "", file ? ": " : "");
	if (rc < 0) {
		cfs_pass_free(p, PASS_MAX);
		return rc;
	}
	*out = p;
	*len = n;
	return 0;
}
