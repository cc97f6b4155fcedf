/* openclose.c — the cost of one open+close of an existing file: open
 * (O_RDONLY) and close FILE N times and print "openclose: X us". Owns
 * nothing; must never write to FILE. Used by tests/bench/run.sh. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char *end;
	if (argc != 3) {
		fprintf(stderr, "usage: openclose FILE N\n");
		return 2;
	}
	errno = 0;
	long n = strtol(argv[2], &end, 10);
	if (errno || *end || n <= 0 || n > 100000000) {
		fprintf(stderr, "openclose: N must be a number from 1 to 100000000, not '%s'\n", argv[2]);
		return 2;
	}
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "openclose: %s: %s (after %ld opens)\n", argv[1], strerror(errno), i);
			return 1;
		}
		if (close(fd) != 0) {
			fprintf(stderr, "openclose: close: %s\n", strerror(errno));
			return 1;
		}
	}
	double t1 = now_s();
	printf("openclose: %.2f us\n", (t1 - t0) * 1e6 / (double)n);
	return 0;
}
