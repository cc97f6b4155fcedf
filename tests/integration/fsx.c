/* fsx.c — a file-system exerciser for the integration tests: random writes
 * (including past EOF, leaving holes), truncates up and down, and reads at
 * random offsets on a file in the mount, checked byte for byte against an
 * in-memory reference. Fixed seed, so a failure reproduces.
 *   fsx FILE SEED NOPS MAXSIZE       prints "fsx: N ops ok" or the first mismatch */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned long long rng;
static unsigned rnd(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)(rng >> 33);
}

static int compare(int fd, const unsigned char *ref, size_t size, unsigned char *buf, long op)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || (size_t)st.st_size != size) {
		fprintf(stderr, "op %ld: size %lld, expected %zu\n", op, (long long)st.st_size, size);
		return -1;
	}
	ssize_t n = pread(fd, buf, size + 100, 0);
	if (n != (ssize_t)size) {
		fprintf(stderr, "op %ld: full read returned %zd (%s), expected %zu\n", op, n,
			n < 0 ? strerror(errno) : "short", size);
		return -1;
	}
	for (size_t i = 0; i < size; i++)
		if (buf[i] != ref[i]) {
			fprintf(stderr, "op %ld: byte %zu is %02x, expected %02x\n", op, i, buf[i], ref[i]);
			return -1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: fsx FILE SEED NOPS MAXSIZE\n");
		return 2;
	}
	rng = strtoull(argv[2], NULL, 10);
	long nops = strtol(argv[3], NULL, 10);
	size_t max = strtoul(argv[4], NULL, 10), size = 0;
	unsigned char *ref = calloc(1, max + 1), *buf = malloc(max + 200), *data = malloc(max + 1);
	int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || !ref || !buf || !data) {
		perror(argv[1]);
		return 1;
	}
	for (long op = 0; op < nops; op++) {
		unsigned kind = rnd() % 10;
		if (kind < 5) { /* write */
			size_t off = rnd() % max, len = 1 + rnd() % (max / 8 + 1);
			if (off + len > max)
				len = max - off;
			if (!len)
				continue;
			for (size_t i = 0; i < len; i++)
				data[i] = (unsigned char)rnd();
			if (pwrite(fd, data, len, (off_t)off) != (ssize_t)len) {
				fprintf(stderr, "op %ld: write %zu@%zu: %s\n", op, len, off, strerror(errno));
				return 1;
			}
			memcpy(ref + off, data, len);
			if (off + len > size)
				size = off + len;
		} else if (kind < 7) { /* truncate */
			size_t ns = rnd() % 4 == 0 ? (rnd() % 8) * 4096 : rnd() % max;
			if (ns > max)
				ns = max;
			if (ftruncate(fd, (off_t)ns) != 0) {
				fprintf(stderr, "op %ld: truncate %zu: %s\n", op, ns, strerror(errno));
				return 1;
			}
			if (ns > size)
				memset(ref + size, 0, ns - size);
			else
				memset(ref + ns, 0, size - ns);
			size = ns;
		} else { /* read */
			size_t off = size ? rnd() % (size + 10) : 0, len = 1 + rnd() % 70000;
			ssize_t n = pread(fd, buf, len, (off_t)off);
			size_t expect = off >= size ? 0 : (len < size - off ? len : size - off);
			if (n != (ssize_t)expect || (expect && memcmp(buf, ref + off, expect) != 0)) {
				fprintf(stderr, "op %ld: read %zu@%zu returned %zd, expected %zu (or bytes differ)\n",
					op, len, off, n, expect);
				return 1;
			}
		}
		if (op % 97 == 0 && compare(fd, ref, size, buf, op) != 0)
			return 1;
	}
	if (compare(fd, ref, size, buf, nops) != 0)
		return 1;
	close(fd);
	free(ref);
	free(buf);
	free(data);
	printf("fsx: %ld ops ok, final size %zu\n", nops, size);
	return 0;
}
