/* content_chunk.c — seal and open one body chunk, and the body's geometry.
 * Owns: the chunk AEAD (XChaCha20-Poly1305 or AES-256-GCM under the file
 * key), its associated data (file id || index u64 LE || last u8), the file
 * key's derivation. Must never hand back plaintext whose tag did not verify
 * (-EIO, and the caller discards pt), never pick a nonce (the caller draws
 * it), and never do I/O. */
#include "content_int.h"

#include <errno.h>
#include <string.h>

size_t cfs_aead_nonce_len(int aead)
{
	return aead == CFS_AEAD_AESGCM ? crypto_aead_aes256gcm_NPUBBYTES
				       : crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
}

size_t cfs_aead_ovh(int aead)
{
	return cfs_aead_nonce_len(aead) + 16;
}

static crypto_aead_aes256gcm_state *gcm_state(const struct cfs_file *f)
{
	uintptr_t p = ((uintptr_t)f->key + CFS_KEY_BYTES + 15) & ~(uintptr_t)15;
	return (crypto_aead_aes256gcm_state *)p;
}

static void chunk_ad(const struct cfs_file *f, uint64_t idx, int last, unsigned char ad[CFS_CHUNK_AD_LEN])
{
	memcpy(ad, f->id, CFS_FILE_ID_BYTES);
	for (int i = 0; i < 8; i++)
		ad[CFS_FILE_ID_BYTES + i] = (unsigned char)(idx >> (8 * i));
	ad[CFS_FILE_ID_BYTES + 8] = (unsigned char)(last ? 1 : 0);
}

/* out = nonce || ct || tag (len + ovh bytes); nonce supplied by the caller. */
void cfs_chunk_seal(const struct cfs_file *f, uint64_t idx, int last, const unsigned char *pt,
		       size_t len, const unsigned char *nonce, unsigned char *out)
{
	unsigned char ad[CFS_CHUNK_AD_LEN];
	size_t nl = cfs_aead_nonce_len(f->aead);
	chunk_ad(f, idx, last, ad);
	memmove(out, nonce, nl);
	if (f->aead == CFS_AEAD_AESGCM)
		crypto_aead_aes256gcm_encrypt_detached_afternm(out + nl, out + nl + len, NULL, pt, len, ad,
							       CFS_CHUNK_AD_LEN, NULL, out, gcm_state(f));
	else
		crypto_aead_xchacha20poly1305_ietf_encrypt_detached(out + nl, out + nl + len, NULL, pt,
								    len, ad, CFS_CHUNK_AD_LEN, NULL, out, f->key);
}

/* in = nonce || ct || tag of inlen bytes; pt gets inlen - ovh bytes. */
int cfs_chunk_open(const struct cfs_file *f, uint64_t idx, int last, const unsigned char *in,
		      size_t inlen, unsigned char *pt)
{
	unsigned char ad[CFS_CHUNK_AD_LEN];
	size_t nl = cfs_aead_nonce_len(f->aead);
	if (inlen < f->ovh || inlen - f->ovh > f->chunk)
		return -EIO;
	size_t len = inlen - f->ovh;
	chunk_ad(f, idx, last, ad);
	int r;
	if (f->aead == CFS_AEAD_AESGCM)
		r = crypto_aead_aes256gcm_decrypt_detached_afternm(pt, NULL, in + nl, len, in + nl + len, ad,
								   CFS_CHUNK_AD_LEN, in, gcm_state(f));
	else
		r = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(pt, NULL, in + nl, len,
									in + nl + len, ad, CFS_CHUNK_AD_LEN, in,
									f->key);
	return r == 0 ? 0 : -EIO;
}

void cfs_chunk_key(struct cfs_file *f)
{
	crypto_generichash(f->key, CFS_KEY_BYTES, f->id, CFS_FILE_ID_BYTES, f->keys->content,
			   CFS_KEY_BYTES);
	if (f->aead == CFS_AEAD_AESGCM) /* only once aead_usable() said yes */
		crypto_aead_aes256gcm_beforenm(gcm_state(f), f->key);
}

/* Number of chunks in a file of plaintext size `size` (at least one). */
uint64_t cfs_chunk_count(const struct cfs_file *f, off_t size)
{
	return size == 0 ? 1 : ((uint64_t)size + f->chunk - 1) / f->chunk;
}

/* Plaintext length of chunk i in a file of size `size`. */
size_t cfs_chunk_len(const struct cfs_file *f, off_t size, uint64_t i)
{
	uint64_t start = i * f->chunk;
	if ((uint64_t)size <= start)
		return 0;
	uint64_t rest = (uint64_t)size - start;
	return rest < f->chunk ? (size_t)rest : f->chunk;
}

off_t cfs_chunk_off(const struct cfs_file *f, uint64_t i)
{
	return CFS_FHDR_SIZE + (off_t)(i * (f->chunk + f->ovh));
}
