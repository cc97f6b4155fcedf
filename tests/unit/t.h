/* t.h — the unit-test harness: each T_RUN(fn) prints "PASS file.fn" or
 * "FAIL file.fn: where: what"; tests/run.sh counts those lines. A test fails
 * if any check inside it fails. Header-only so each test file is one binary. */
#ifndef CFS_T_H
#define CFS_T_H

/* The failure message is cut to fit; that is fine for a test report. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>

static int t_fails_in_test;
static int t_total_fail;
static char t_first_failure[512];

#define T_FAILF(...) do { \
	if (t_fails_in_test++ == 0) \
		snprintf(t_first_failure, sizeof t_first_failure, __VA_ARGS__); \
} while (0)

#define T_CHECK(cond) do { if (!(cond)) \
	T_FAILF("%s:%d: %s", __FILE__, __LINE__, #cond); } while (0)

#define T_EQ_INT(a, b) do { long long t_a_ = (long long)(a), t_b_ = (long long)(b); \
	if (t_a_ != t_b_) T_FAILF("%s:%d: %s == %lld, expected %s == %lld", __FILE__, __LINE__, \
				  #a, t_a_, #b, t_b_); } while (0)

#define T_EQ_STR(a, b) do { const char *t_a_ = (a), *t_b_ = (b); \
	if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0) \
		T_FAILF("%s:%d: %s == \"%s\", expected \"%s\"", __FILE__, __LINE__, #a, \
			t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)"); } while (0)

#define T_CONTAINS(hay, needle) do { const char *t_h_ = (hay), *t_n_ = (needle); \
	if (!t_h_ || !strstr(t_h_, t_n_)) \
		T_FAILF("%s:%d: \"%s\" does not contain \"%s\"", __FILE__, __LINE__, \
			t_h_ ? t_h_ : "(null)", t_n_); } while (0)

/* Remove an SQLite database and whatever it keeps beside it (-wal, -shm,
 * -journal); absent files are fine. */
static inline void t_rm_db(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[4200];
	for (size_t i = 0; i < sizeof sfx / sizeof *sfx; i++) {
		snprintf(p, sizeof p, "%s%s", path, sfx[i]);
		unlink(p);
	}
}

static inline const char *t_base(const char *f)
{
	const char *s = strrchr(f, '/');
	const char *b = s ? s + 1 : f;
	return b;
}

#define T_RUN(fn) do { \
	t_fails_in_test = 0; t_first_failure[0] = 0; \
	fn(); \
	char t_name_[128]; snprintf(t_name_, sizeof t_name_, "%s", t_base(__FILE__)); \
	char *t_dot_ = strrchr(t_name_, '.'); if (t_dot_) *t_dot_ = 0; \
	if (t_fails_in_test) { t_total_fail++; \
		printf("FAIL %s.%s: %s\n", t_name_, #fn, t_first_failure); } \
	else printf("PASS %s.%s\n", t_name_, #fn); \
	fflush(stdout); \
} while (0)

#define T_END() return t_total_fail ? 1 : 0

#endif
