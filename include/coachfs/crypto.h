/* crypto.h — the store header and the keys: Argon2id, key wrapping, subkey
 * derivation, secure memory, passphrase input. crypto.c must never write a
 * key or passphrase anywhere but sodium_malloc memory, and never print one. */
#ifndef COACHFS_CRYPTO_H
#define COACHFS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include "coachfs/util.h"

#define CFS_KEY_BYTES 32
#define CFS_STORE_HDR_SIZE 512
#define CFS_STORE_VERSION 2
#define CFS_STORE_SLOTS 4

enum cfs_aead { CFS_AEAD_XCHACHA = 1, CFS_AEAD_AESGCM = 2 };

/* Argon2id cost presets for `coach-admin init --kdf`. */
enum cfs_kdf_level { CFS_KDF_INTERACTIVE, CFS_KDF_MODERATE, CFS_KDF_SENSITIVE };

/* Everything derived from the master key; lives in sodium_malloc memory,
 * read-only once built, wiped by cfs_keys_free. */
struct cfs_keys {
	unsigned char master[CFS_KEY_BYTES];
	unsigned char content[CFS_KEY_BYTES];   /* -> per-file keys (keyed BLAKE2b of file id) */
	unsigned char meta[CFS_KEY_BYTES];      /* file headers' policy/xattr block, dir sidecars */
	unsigned char hdrmac[CFS_KEY_BYTES];    /* store header MAC */
	unsigned char names[CFS_KEY_BYTES];     /* reserved: encrypted names (format v2) */
	unsigned char link[CFS_KEY_BYTES];      /* keyed hash of link tokens */
	unsigned char audit_seed[CFS_KEY_BYTES];/* Ed25519 seed of the audit signing key */
	unsigned char rowmac[CFS_KEY_BYTES];    /* MACs over policy.db rows (grants, links, approvals) */
	unsigned char state[CFS_KEY_BYTES];     /* MACs over the local integrity record (rollback) */
	int aead;                               /* enum cfs_aead */
	int chunk_log2;                         /* plaintext chunk size = 1 << chunk_log2 */
};

/* The parsed, not yet authenticated, header (exposed for tests and fuzzing). */
struct cfs_store_hdr {
	uint16_t version;
	uint8_t aead, chunk_log2, kdf, nslots;
	uint64_t opslimit, memlimit;
	struct {
		uint8_t used;
		unsigned char salt[16];
		unsigned char nonce[24];
		unsigned char wrapped[CFS_KEY_BYTES + 16];
	} slot[CFS_STORE_SLOTS];
	unsigned char mac[32];
};

/* Call once per program before anything else here. */
int cfs_crypto_init(struct cfs_err *err);

/* Parse and sanity-check a header image (no key needed). -EINVAL with a
 * message for a truncated, foreign, newer-version or out-of-range header. */
int cfs_store_hdr_parse(const unsigned char *buf, size_t len, struct cfs_store_hdr *h,
			struct cfs_err *err);

/* Create a header file at `path` (must not exist) with a fresh random master
 * key wrapped under the passphrase in slot 0. aead: CFS_AEAD_* (the caller
 * resolves "auto"). Returns the unlocked keys. */
int cfs_store_create(const char *path, const char *pass, size_t passlen, int aead, int chunk_log2,
		     enum cfs_kdf_level kdf, struct cfs_keys **out, struct cfs_err *err);

/* Unlock: -EACCES "wrong passphrase" when no slot opens, -EBADMSG when the
 * header MAC fails (edited header), -EINVAL for a malformed header. */
int cfs_store_unlock(const char *path, const char *pass, size_t passlen, struct cfs_keys **out,
		     struct cfs_err *err);

/* As cfs_store_unlock, for any supported format version (*version gets it):
 * only `coach-admin upgrade` opens an older store. cfs_store_unlock refuses
 * one with -EPROTO and a message saying to run the upgrade. */
int cfs_store_unlock_any(const char *path, const char *pass, size_t passlen, int *version,
			 struct cfs_keys **out, struct cfs_err *err);
/* Raise the store header to CFS_STORE_VERSION (re-wrapping the slot this
 * passphrase opens, atomically). The upgrade's last step. */
int cfs_store_set_version(const char *path, const char *pass, size_t passlen, struct cfs_err *err);

/* Re-wrap the master key under a new passphrase (slot of the old one),
 * atomically (temporary file, fsync, rename). */
int cfs_store_passwd(const char *path, const char *oldpass, size_t oldlen, const char *newpass,
		     size_t newlen, struct cfs_err *err);

void cfs_keys_free(struct cfs_keys *k);

/* The audit signing key pair from the keys (sk: 64 bytes, caller provides
 * sodium_malloc memory for it). */
void cfs_audit_keypair(const struct cfs_keys *k, unsigned char pk[32], unsigned char sk[64]);

/* Read a passphrase: from `file` when not NULL (first line, trailing newline
 * stripped; refuses an empty one and a file readable by group/others with a
 * warning in err? no: refuses only unreadable/empty), else from the terminal
 * without echo (asked twice when confirm). *out is sodium_malloc memory;
 * free with cfs_pass_free. */
int cfs_pass_read(const char *file, int confirm, const char *prompt, char **out, size_t *len,
		  struct cfs_err *err);
void cfs_pass_free(char *p, size_t len);
/* The first line of fd as a passphrase (what names the source in messages):
 * sodium_malloc memory in *out, refused when empty, over 1024 bytes or
 * holding a NUL. Reads no further than the first newline. */
int cfs_pass_read_fd(int fd, const char *what, char **out, size_t *len, struct cfs_err *err);

/* "xchacha20poly1305" / "aes256gcm" */
const char *cfs_aead_name(int aead);
/* Resolve the config's cipher (0 auto, 1 xchacha, 2 aesgcm) for this CPU. */
int cfs_aead_resolve(int config_cipher, int *aead, struct cfs_err *err);

#endif
