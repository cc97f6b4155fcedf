/* openclose.c — the cost of one open+close of an existing file: open
 * (O_RDONLY) and close FILE N times and print "openclose: X us". With P
 * (1..64), P processes do so at once, and X is the wall time divided by
 * all P * N pairs (what concurrent openers cost the filesystem). Owns
 * nothing; must never write to FILE. Used by tests/bench/run.sh. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Open and close path n times: 0, or 1 with the reason on stderr. */
static int loop(const char *path, long n)
{
	for (long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "openclose: %s: %s (after %ld opens)\n", path, strerror(errno), i);
			return 1;
		}
		if (close(fd) != 0) {
			fprintf(stderr, "openclose: close: %s\n", strerror(errno));
			return 1;
		}
	}
	return 0;
}

/* P processes at once; 0 when every one succeeded. */
static int fan_out(const char *path, long n, long p)
{
	int bad = 0;
	for (long k = 0; k < p; k++) {
		pid_t pid = fork();
		if (pid < 0) {
			fprintf(stderr, "openclose: fork: %s\n", strerror(errno));
			bad = 1;
			break;
		}
		if (pid == 0)
			_exit(loop(path, n));
	}
	int st;
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad = 1;
	return bad;
}

int main(int argc, char **argv)
{
	char *end;
	long n, p = 1;
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: openclose FILE N [P]\n");
		return 2;
	}
	errno = 0;
	n = strtol(argv[2], &end, 10);
	if (errno || *end || n <= 0 || n > 100000000) {
		fprintf(stderr, "openclose: N must be a number from 1 to 100000000, not '%s'\n", argv[2]);
		return 2;
	}
	if (argc == 4) {
		p = strtol(argv[3], &end, 10);
		if (errno || *end || p <= 0 || p > 64) {
			fprintf(stderr, "openclose: P must be a number from 1 to 64, not '%s'\n", argv[3]);
			return 2;
		}
	}
	double t0 = now_s();
	if (p == 1 ? loop(argv[1], n) : fan_out(argv[1], n, p))
		return 1;
	double t1 = now_s();
	printf("openclose: %.2f us\n", (t1 - t0) * 1e6 / (double)(n * p));
	return 0;
}
