/* fuzz_duration.c — libFuzzer target for util.c's parsers of hostile text:
 * cfs_parse_duration, cfs_parse_time (with ordinary and extreme "now"),
 * cfs_parse_uint, cfs_path_valid and cfs_path_covers, on a NUL-terminated
 * copy of the input. Results are checked against the contracts in util.h. */
#include "coachfs/util.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)
#define YEARS100 ((int64_t)100 * 365 * 86400)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;

	int64_t d = -7;
	int rc = cfs_parse_duration(s, &d);
	REQUIRE(rc == 0 || rc == -EINVAL);
	if (rc == 0)
		REQUIRE(d >= 1 && d <= YEARS100);
	else
		REQUIRE(d == -7);

	static const int64_t nows[] = { 1795773600, 0, INT64_MAX, INT64_MIN, INT64_MAX - 1,
					INT64_MIN + 1 };
	for (size_t i = 0; i < sizeof nows / sizeof nows[0]; i++) {
		int64_t t = 0;
		int r = cfs_parse_time(s, nows[i], &t);
		REQUIRE(r == 0 || r == -EINVAL);
		/* a plain duration means "that long ago" */
		if (r == 0 && rc == 0)
			REQUIRE(t == nows[i] - d);
		if (r == 0 && s[0] == '+')
			REQUIRE(t > nows[i] && t - nows[i] <= YEARS100);
	}

	uint64_t u = 0;
	static const uint64_t maxes[] = { 0, 5, 10000, 1000000, UINT32_MAX, UINT64_MAX };
	for (size_t i = 0; i < sizeof maxes / sizeof maxes[0]; i++) {
		int r = cfs_parse_uint(s, maxes[i], &u);
		REQUIRE(r == 0 || r == -EINVAL);
		if (r == 0)
			REQUIRE(u <= maxes[i]);
	}

	if (cfs_path_valid(s) == 0) {
		REQUIRE(s[0] == '/' && strlen(s) < 4096);
		REQUIRE(strstr(s, "//") == NULL);
		REQUIRE(cfs_path_covers(s, s) == 1);
		REQUIRE(cfs_path_covers("/", s) == 1);
	}
	/* split the input at its middle: prefix, path */
	size_t half = size / 2;
	char *a = strndup(s, half);
	if (a) {
		const char *b = s + (half <= strlen(s) ? half : strlen(s));
		int cov = cfs_path_covers(a, b);
		REQUIRE(cov == 0 || cov == 1);
		if (cov && strcmp(a, "/") != 0) {
			size_t n = strlen(a);
			REQUIRE(a[0] == '/' && !strncmp(a, b, n) && (b[n] == 0 || b[n] == '/'));
		}
		free(a);
	}
	free(s);
	return 0;
}
