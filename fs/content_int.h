/* content_int.h — inside the content module only: one body chunk of the
 * file format (content.h), its AEAD seal and open under the file key, its
 * associated data (file id, index, last flag), and the body geometry (how
 * many chunks, how long, where); content_chunk.c implements it for the
 * header code (content.c) and the body I/O (content_body.c). No I/O here,
 * and no access decisions. Never included outside fs/content*.c. */
#ifndef COACHFS_CONTENT_INT_H
#define COACHFS_CONTENT_INT_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "coachfs/content.h"

#define CFS_CHUNK_AD_LEN (CFS_FILE_ID_BYTES + 9)
/* f->key is one sodium_malloc block: the 32-byte file key, then (16-byte
 * aligned) the expanded AES-GCM key schedule, computed once per file
 * instead of once per chunk (~40 ns of a 4 KiB chunk's ~1.7 us). */
#define CFS_KEYBLOCK (CFS_KEY_BYTES + 15 + sizeof(crypto_aead_aes256gcm_state))

size_t cfs_aead_nonce_len(int aead);
size_t cfs_aead_ovh(int aead);   /* nonce + tag bytes per chunk */
/* Derive f's file key (and its AES-GCM schedule) from f->id into f->key. */
void cfs_chunk_key(struct cfs_file *f);
/* out = nonce || ct || tag (len + ovh bytes); nonce supplied by the caller. */
void cfs_chunk_seal(const struct cfs_file *f, uint64_t idx, int last, const unsigned char *pt, size_t len,
		    const unsigned char *nonce, unsigned char *out);
/* in = nonce || ct || tag of inlen bytes; pt gets inlen - ovh bytes. 0 or -EIO. */
int cfs_chunk_open(const struct cfs_file *f, uint64_t idx, int last, const unsigned char *in, size_t inlen,
		   unsigned char *pt);
/* Chunks in a body of plaintext size `size` (at least one). */
uint64_t cfs_chunk_count(const struct cfs_file *f, off_t size);
/* Plaintext length of chunk i in a body of plaintext size `size`. */
size_t cfs_chunk_len(const struct cfs_file *f, off_t size, uint64_t i);
/* Where chunk i starts in the backing file. */
off_t cfs_chunk_off(const struct cfs_file *f, uint64_t i);

#endif
