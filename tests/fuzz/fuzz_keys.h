/* fuzz_keys.h — fixed, hand-built keys for the content fuzz targets and the
 * corpus generator (no Argon2id per run). Every key is a distinct constant
 * byte pattern in sodium_malloc memory; content.c only reads keys->content,
 * keys->meta, aead and chunk_log2. Not for anything but tests. Also the
 * on-disk header re-seal used by fuzz_file_header and gen_corpus, written
 * from the format description at the top of fs/content.c (not from its
 * code), so the fuzzer can reach past header authentication. */
#ifndef CFS_FUZZ_KEYS_H
#define CFS_FUZZ_KEYS_H

#include "coachfs/content.h"
#include "coachfs/crypto.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static inline struct cfs_keys *fuzz_keys(int aead, int chunk_log2)
{
	if (sodium_init() < 0)
		abort();
	struct cfs_keys *k = sodium_malloc(sizeof *k);
	if (!k)
		abort();
	memset(k, 0, sizeof *k);
	memset(k->master, 0x10, sizeof k->master);
	memset(k->content, 0x21, sizeof k->content);
	memset(k->meta, 0x32, sizeof k->meta);
	memset(k->hdrmac, 0x43, sizeof k->hdrmac);
	memset(k->names, 0x54, sizeof k->names);
	memset(k->link, 0x65, sizeof k->link);
	memset(k->audit_seed, 0x76, sizeof k->audit_seed);
	k->aead = aead;
	k->chunk_log2 = chunk_log2;
	return k;
}

static inline void fuzz_keys_free(struct cfs_keys *k)
{
	sodium_memzero(k, sizeof *k);
	sodium_free(k);
}

/* Re-seal a file header image's attribute block (format 2) in place:
 * plaintext = the meta_len bytes at 64 (as the image has them), AD = bytes
 * 0..39 || parent[16] || name length u8 || name (the place it is bound to;
 * parent NULL and name "" is the detached binding of cfs_content_open),
 * nonce = bytes 40..63, key = keys->meta. Returns 0, or -1 when meta_len is
 * out of range (nothing to seal). */
static inline int fuzz_reseal_header_at(unsigned char *h, const struct cfs_keys *k, const unsigned char *parent,
					const char *name)
{
	size_t ml = (size_t)h[24] | ((size_t)h[25] << 8), nl = strlen(name);
	if (ml > CFS_META_MAX || nl > 255)
		return -1;
	unsigned char pt[CFS_META_MAX], ad[40 + 16 + 1 + 255];
	memcpy(pt, h + 64, ml);
	memcpy(ad, h, 40);
	memset(ad + 40, 0, 16);
	if (parent)
		memcpy(ad + 40, parent, 16);
	ad[56] = (unsigned char)nl;
	memcpy(ad + 57, name, nl);
	crypto_aead_xchacha20poly1305_ietf_encrypt(h + 64, NULL, pt, ml, ad, 57 + nl, NULL, h + 40, k->meta);
	return 0;
}

static inline int fuzz_reseal_header(unsigned char *h, const struct cfs_keys *k)
{
	return fuzz_reseal_header_at(h, k, NULL, "");
}
/* Nonce bytes and tag+nonce overhead of a chunk for this cipher byte. */
static inline size_t fuzz_nonce_len(int aead)
{
	return aead == CFS_AEAD_AESGCM ? 12 : 24;
}

/* Seal one chunk in place: buf = nonce || plaintext || 16 spare bytes
 * (len bytes in all), AD = file id || index u64 LE || last u8, key =
 * BLAKE2b-256(keyed with keys->content) of the file id. */
static inline void fuzz_seal_chunk(unsigned char *buf, size_t len, int aead, const unsigned char *id,
				   const unsigned char *filekey, unsigned long long idx, int last)
{
	size_t nl = fuzz_nonce_len(aead), pl = len - nl - 16;
	unsigned char ad[CFS_FILE_ID_BYTES + 9];
	memcpy(ad, id, CFS_FILE_ID_BYTES);
	for (int i = 0; i < 8; i++)
		ad[CFS_FILE_ID_BYTES + i] = (unsigned char)(idx >> (8 * i));
	ad[CFS_FILE_ID_BYTES + 8] = (unsigned char)(last ? 1 : 0);
	unsigned char *pt = malloc(pl + 1);
	if (!pt)
		abort();
	memcpy(pt, buf + nl, pl);
	if (aead == CFS_AEAD_AESGCM)
		crypto_aead_aes256gcm_encrypt_detached(buf + nl, buf + nl + pl, NULL, pt, pl, ad, sizeof ad, NULL,
						       buf, filekey);
	else
		crypto_aead_xchacha20poly1305_ietf_encrypt_detached(buf + nl, buf + nl + pl, NULL, pt, pl, ad,
								    sizeof ad, NULL, buf, filekey);
	free(pt);
}

static inline void fuzz_file_key(const struct cfs_keys *k, const unsigned char *id, unsigned char key[32])
{
	crypto_generichash(key, 32, id, CFS_FILE_ID_BYTES, k->content, CFS_KEY_BYTES);
}

#endif
