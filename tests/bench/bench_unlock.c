/* bench_unlock.c — the time to unlock a store header: read the passphrase
 * from PASSFILE and run cfs_store_unlock (Argon2id at the header's limits,
 * then unwrapping and deriving the keys) on HEADER. Prints
 * "unlock: X ms". Never prints a key or the passphrase; wipes both. */
#include <stdio.h>
#include <time.h>

#include "coachfs/crypto.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct cfs_err e = { "" };
	struct cfs_keys *k = NULL;
	char *pass;
	size_t passlen;
	if (argc != 3) {
		fprintf(stderr, "usage: bench_unlock HEADER PASSFILE\n");
		return 2;
	}
	if (cfs_crypto_init(&e) < 0 || cfs_pass_read(argv[2], 0, "", &pass, &passlen, &e) < 0) {
		fprintf(stderr, "bench_unlock: %s\n", e.msg);
		return 1;
	}
	double t0 = now_s();
	int rc = cfs_store_unlock(argv[1], pass, passlen, &k, &e);
	double t1 = now_s();
	cfs_pass_free(pass, passlen);
	if (rc < 0) {
		fprintf(stderr, "bench_unlock: %s\n", e.msg);
		return 1;
	}
	cfs_keys_free(k);
	printf("unlock: %.1f ms\n", (t1 - t0) * 1e3);
	return 0;
}
