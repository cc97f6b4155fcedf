/* smallfiles.c — many small files: "create DIR N SIZE" makes DIR/f00000..
 * each SIZE bytes written with one write(2) and closed; "read DIR N SIZE"
 * opens each, reads it whole and checks its length and contents. Prints
 * "smallfiles: PHASE X s". Owns nothing outside DIR; must never touch a
 * file it did not name itself. Used by tests/bench/run.sh. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SIZE_MAX_BYTES (1 << 20)

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long number(const char *s, long max, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v <= 0 || v > max) {
		fprintf(stderr, "smallfiles: %s must be a number from 1 to %ld, not '%s'\n", what, max, s);
		exit(2);
	}
	return v;
}

/* The contents of file i: a pattern that differs per file and per byte. */
static void fill(unsigned char *b, size_t size, long i)
{
	for (size_t k = 0; k < size; k++)
		b[k] = (unsigned char)((size_t)i * 131 + k * 7);
}

int main(int argc, char **argv)
{
	if (argc != 5 || (strcmp(argv[1], "create") && strcmp(argv[1], "read"))) {
		fprintf(stderr, "usage: smallfiles create|read DIR N SIZE\n");
		return 2;
	}
	int create = !strcmp(argv[1], "create");
	const char *dir = argv[2];
	long n = number(argv[3], 1000000, "N");
	size_t size = (size_t)number(argv[4], SIZE_MAX_BYTES, "SIZE");
	unsigned char *want = malloc(size), *got = malloc(size + 1);
	char path[4096];
	if (!want || !got) {
		fprintf(stderr, "smallfiles: out of memory\n");
		return 1;
	}
	if (create && mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "smallfiles: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	int rc = 0;
	double t0 = now_s();
	for (long i = 0; i < n && rc == 0; i++) {
		if ((size_t)snprintf(path, sizeof path, "%s/f%05ld", dir, i) >= sizeof path) {
			fprintf(stderr, "smallfiles: %s: path too long\n", dir);
			rc = 1;
			break;
		}
		fill(want, size, i);
		int fd = create ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)
				: open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "smallfiles: %s: %s\n", path, strerror(errno));
			rc = 1;
			break;
		}
		ssize_t r = create ? write(fd, want, size) : read(fd, got, size + 1);
		if (r < 0) {
			fprintf(stderr, "smallfiles: %s: %s\n", path, strerror(errno));
			rc = 1;
		} else if ((size_t)r != size) {
			fprintf(stderr, "smallfiles: %s: %zd of %zu bytes\n", path, r, size);
			rc = 1;
		} else if (!create && memcmp(got, want, size) != 0) {
			fprintf(stderr, "smallfiles: %s: contents differ from what was written\n", path);
			rc = 1;
		}
		if (close(fd) != 0 && rc == 0) {
			fprintf(stderr, "smallfiles: close %s: %s\n", path, strerror(errno));
			rc = 1;
		}
	}
	double t1 = now_s();
	free(want);
	free(got);
	if (rc == 0)
		printf("smallfiles: %s %.4f s\n", argv[1], t1 - t0);
	return rc;
}
