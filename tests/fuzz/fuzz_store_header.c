/* fuzz_store_header.c — libFuzzer target: cfs_store_hdr_parse on arbitrary
 * bytes, checked against the layout documented at the top of fs/crypto.c.
 * When a parsed header asks for the cheapest Argon2id (ops 1, <= 64 KiB; the
 * corpus has such a header, made by gen_corpus.c) it is also unlocked with
 * the corpus passphrase "fuzz" from a file in /dev/shm: only an unedited
 * header may open, an edited one must fail with -EACCES or -EBADMSG and no
 * keys. Any violation aborts. */
#include "coachfs/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)

static char g_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	struct cfs_err e;
	REQUIRE(cfs_crypto_init(&e) == 0);
	snprintf(g_path, sizeof g_path, "/dev/shm/fuzz_store_header.%d", (int)getpid());
	return 0;
}

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static int msg_ok(const struct cfs_err *e)
{
	return memchr(e->msg, 0, sizeof e->msg) != NULL && e->msg[0] != 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct cfs_store_hdr h;
	struct cfs_err e;
	memset(&e, 0, sizeof e);
	int rc = cfs_store_hdr_parse(data, size, &h, &e);
	if (rc != 0) {
		REQUIRE(rc == -EINVAL);
		REQUIRE(msg_ok(&e));
		return 0;
	}
	/* accepted: exactly the documented shape */
	REQUIRE(size == CFS_STORE_HDR_SIZE);
	REQUIRE(memcmp(data, "COACHFS\0", 8) == 0);
	REQUIRE(h.version == (data[8] | data[9] << 8) && h.version >= 1 && h.version <= CFS_STORE_VERSION);
	REQUIRE(h.aead == data[10] && (h.aead == CFS_AEAD_XCHACHA || h.aead == CFS_AEAD_AESGCM));
	REQUIRE(h.chunk_log2 == data[11] && h.chunk_log2 >= 12 && h.chunk_log2 <= 20);
	REQUIRE(h.kdf == 1 && h.nslots == CFS_STORE_SLOTS && data[14] == 0 && data[15] == 0);
	REQUIRE(h.opslimit == le64(data + 16) && h.memlimit == le64(data + 24));
	REQUIRE(h.opslimit >= crypto_pwhash_OPSLIMIT_MIN && h.memlimit >= crypto_pwhash_MEMLIMIT_MIN);
	int used = 0;
	for (int i = 0; i < CFS_STORE_SLOTS; i++) {
		const unsigned char *s = data + 32 + 96 * i;
		REQUIRE(h.slot[i].used == s[0] && s[0] <= 1);
		for (int j = 1; j < 8; j++)
			REQUIRE(s[j] == 0);
		REQUIRE(memcmp(h.slot[i].salt, s + 8, 16) == 0);
		REQUIRE(memcmp(h.slot[i].nonce, s + 24, 24) == 0);
		REQUIRE(memcmp(h.slot[i].wrapped, s + 48, 48) == 0);
		used += s[0];
	}
	REQUIRE(used > 0);
	REQUIRE(memcmp(h.mac, data + 416, 32) == 0);
	for (size_t i = 448; i < CFS_STORE_HDR_SIZE; i++)
		REQUIRE(data[i] == 0);

	/* cheap enough to unlock: do it */
	if (h.opslimit == 1 && h.memlimit <= 65536) {
		int fd = open(g_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		REQUIRE(fd >= 0);
		REQUIRE(cfs_pwrite_all(fd, data, size, 0) == 0);
		close(fd);
		struct cfs_keys *k = NULL;
		rc = cfs_store_unlock(g_path, "fuzz", 4, &k, &e);
		if (rc == 0) {
			REQUIRE(k != NULL);
			REQUIRE(k->aead == h.aead && k->chunk_log2 == h.chunk_log2);
			/* the MAC verified, so it is the MAC of these bytes */
			unsigned char mac[32];
			crypto_generichash(mac, 32, data, 416, k->hdrmac, CFS_KEY_BYTES);
			REQUIRE(memcmp(mac, data + 416, 32) == 0);
			cfs_keys_free(k);
		} else {
			/* an authentic header of an older format: unlocked, then refused
			 * with the upgrade message */
			REQUIRE(rc == -EACCES || rc == -EBADMSG ||
				(rc == -EPROTO && h.version < CFS_STORE_VERSION));
			REQUIRE(k == NULL);
			REQUIRE(msg_ok(&e));
		}
		unlink(g_path);
	}
	return 0;
}
