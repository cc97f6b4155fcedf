/* test_util.c — util.c: durations, times, strict integers, paths, the error
 * carrier, bounded copies and full-transfer I/O, with exact outputs. */
#include "coachfs/util.h"
/* t.h cuts failure messages to 512 bytes on purpose; long compared strings
 * would make GCC warn (an error here) about that truncation. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void test_duration_ok(void)
{
	static const struct { const char *s; int64_t secs; } ok[] = {
		{ "90s", 90 }, { "15m", 900 }, { "4h", 14400 }, { "2d", 172800 },
		{ "1s", 1 }, { "1m", 60 }, { "1h", 3600 }, { "1d", 86400 },
		{ "007h", 25200 },
		{ "36500d", (int64_t)36500 * 86400 },          /* the 100-year limit */
		{ "3153600000s", (int64_t)3153600000 },
		{ "52560000m", (int64_t)52560000 * 60 },
		{ "876000h", (int64_t)876000 * 3600 },
		{ "00000000000000000000001h", 3600 },          /* 24 characters: the longest */
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int64_t v = -1;
		int rc = cfs_parse_duration(ok[i].s, &v);
		if (rc != 0 || v != ok[i].secs)
			T_FAILF("duration '%s': rc %d value %lld, expected %lld", ok[i].s, rc,
				(long long)v, (long long)ok[i].secs);
	}
}

static void test_duration_bad(void)
{
	static const char *const bad[] = {
		"5x", "-1h", "", "0s", "0d", "000m", "1", "h", " 1h", "1h ", "1 h", "+1h", "1H",
		"1.5h", "1hh", "h1", "1e3s", "0x10s", "99999999999999999999d", "36501d",
		"3153600001s", "52560001m", "876001h", "18446744073709551616s",
		"000000000000000000000001h", /* 25 characters */
		"１h",                       /* a full-width digit */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t v = 12345;
		int rc = cfs_parse_duration(bad[i], &v);
		if (rc != -EINVAL || v != 12345)
			T_FAILF("duration '%s': rc %d value %lld, expected -EINVAL and untouched",
				bad[i], rc, (long long)v);
	}
	int64_t v = 7;
	T_EQ_INT(cfs_parse_duration(NULL, &v), -EINVAL);
	T_EQ_INT(v, 7);
}

static void test_uint(void)
{
	uint64_t v = 99;
	T_EQ_INT(cfs_parse_uint("0", 10, &v), 0);
	T_EQ_INT(v, 0);
	T_EQ_INT(cfs_parse_uint("10", 10, &v), 0);
	T_EQ_INT(v, 10);
	T_EQ_INT(cfs_parse_uint("11", 10, &v), -EINVAL);
	T_EQ_INT(cfs_parse_uint("010", 10, &v), 0);
	T_EQ_INT(v, 10);
	/* a single digit above a small max (max - d used to wrap) */
	v = 99;
	T_EQ_INT(cfs_parse_uint("9", 5, &v), -EINVAL);
	T_EQ_INT(cfs_parse_uint("6", 5, &v), -EINVAL);
	T_EQ_INT(cfs_parse_uint("1", 0, &v), -EINVAL);
	T_EQ_INT(v, 99);
	T_EQ_INT(cfs_parse_uint("5", 5, &v), 0);
	T_EQ_INT(v, 5);
	T_EQ_INT(cfs_parse_uint("0", 0, &v), 0);
	T_EQ_INT(v, 0);
	T_EQ_INT(cfs_parse_uint("15", 14, &v), -EINVAL);
	T_EQ_INT(cfs_parse_uint("14", 14, &v), 0);
	T_EQ_INT(v, 14);
	/* the whole uint64 range */
	T_EQ_INT(cfs_parse_uint("18446744073709551615", UINT64_MAX, &v), 0);
	T_CHECK(v == UINT64_MAX);
	T_EQ_INT(cfs_parse_uint("18446744073709551616", UINT64_MAX, &v), -EINVAL);
	T_EQ_INT(cfs_parse_uint("99999999999999999999", UINT64_MAX, &v), -EINVAL);
	T_EQ_INT(cfs_parse_uint("184467440737095516150", UINT64_MAX, &v), -EINVAL);
	T_CHECK(v == UINT64_MAX);
	T_EQ_INT(cfs_parse_uint("4294967295", UINT32_MAX, &v), 0);
	T_EQ_INT(v, 4294967295LL);
	T_EQ_INT(cfs_parse_uint("4294967296", UINT32_MAX, &v), -EINVAL);
	/* not decimal */
	static const char *const bad[] = { "", "-1", "+1", " 1", "1 ", "1a", "0x1", "1.0", "１" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (cfs_parse_uint(bad[i], UINT64_MAX, &v) != -EINVAL)
			T_FAILF("uint '%s' accepted", bad[i]);
	T_EQ_INT(cfs_parse_uint(NULL, 10, &v), -EINVAL);
}

#define NOW ((int64_t)1795773600) /* 2026-11-27T10:00:00Z */

static void test_time(void)
{
	static const struct { const char *s; int64_t t; } ok[] = {
		{ "now", NOW },
		{ "@0", 0 },
		{ "@1795773600", 1795773600 },
		{ "@4611686018427387903", INT64_MAX / 2 },
		{ "2h", NOW - 7200 },
		{ "90s", NOW - 90 },
		{ "+2h", NOW + 7200 },
		{ "+2d", NOW + 172800 },
		{ "2026-11-27T10:00:00Z", 1795773600 },
		{ "2026-11-27T10:00Z", 1795773600 },
		{ "2026-11-27 10:00:00Z", 1795773600 },
		{ "2026-11-27Z", 1795737600 },
		{ "2028-02-29T00:00:00Z", 1835395200 },          /* a leap day */
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2026-12-31T23:59:59Z", 1798761599 },
		{ "9999-12-31T23:59:59Z", (int64_t)253402300799 },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int64_t v = -1;
		int rc = cfs_parse_time(ok[i].s, NOW, &v);
		if (rc != 0 || v != ok[i].t)
			T_FAILF("time '%s': rc %d value %lld, expected %lld", ok[i].s, rc,
				(long long)v, (long long)ok[i].t);
	}
	static const char *const bad[] = {
		"", "Now", "now ", "@", "@-1", "@1x", "@4611686018427387904", "+", "+0s", "+-2h",
		"-2h", "2x", "2026-02-31", "2026-02-29T00:00Z", "2026-04-31", "2026-13-01",
		"2026-00-10", "2026-01-00", "2026-01-32", "2026-11-27T24:00Z", "2026-11-27T10:60Z",
		"2026-11-27T10:00:60Z", "2026-11-27T10:00:61Z", "1969-12-31T23:59:59Z",
		"2026-11-27T10Z", "2026-11-27T10:00:00ZZ", "2026-11-27T10:00:00+01:00",
		"2026-11-27x", "2026-1-27", "26-11-27", "2026/11/27", "2026-11-27T", "2026-11-27 ",
		"2026-11-27T1:00", "2026-11-27T10:0", "2026",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t v = 42;
		int rc = cfs_parse_time(bad[i], NOW, &v);
		if (rc != -EINVAL || v != 42)
			T_FAILF("time '%s': rc %d value %lld, expected -EINVAL and untouched", bad[i],
				rc, (long long)v);
	}
	/* an extreme now from a caller must not overflow */
	int64_t v = 42;
	T_EQ_INT(cfs_parse_time("+1s", INT64_MAX, &v), -EINVAL);
	T_EQ_INT(cfs_parse_time("1s", INT64_MIN, &v), -EINVAL);
	T_EQ_INT(v, 42);
	T_EQ_INT(cfs_parse_time("+1s", INT64_MAX - 1, &v), 0);
	T_CHECK(v == INT64_MAX);
	T_EQ_INT(cfs_parse_time("1s", INT64_MIN + 1, &v), 0);
	T_CHECK(v == INT64_MIN);
	T_EQ_INT(cfs_parse_time(NULL, NOW, &v), -EINVAL);
}

/* Without a zone the time is local: pin TZ to fixed-offset zones (POSIX TZ
 * strings need no tzdata). */
static void test_time_local(void)
{
	int64_t v = 0;
	const char *old = getenv("TZ");
	char *saved = old ? strdup(old) : NULL;
	setenv("TZ", "UTC0", 1);
	tzset();
	T_EQ_INT(cfs_parse_time("2026-11-27T10:00:00", NOW, &v), 0);
	T_EQ_INT(v, 1795773600);
	T_EQ_INT(cfs_parse_time("2026-11-27 10:00", NOW, &v), 0);
	T_EQ_INT(v, 1795773600);
	T_EQ_INT(cfs_parse_time("2026-11-27", NOW, &v), 0);
	T_EQ_INT(v, 1795737600);
	setenv("TZ", "EST5", 1); /* UTC-5, no daylight saving */
	tzset();
	T_EQ_INT(cfs_parse_time("2026-01-01 00:00", NOW, &v), 0);
	T_EQ_INT(v, 1767243600); /* 2026-01-01T05:00:00Z */
	T_EQ_INT(cfs_parse_time("2026-01-01T00:00Z", NOW, &v), 0);
	T_EQ_INT(v, 1767225600); /* Z ignores TZ */
	T_EQ_INT(cfs_parse_time("2026-02-30 00:00", NOW, &v), -EINVAL);
	if (saved) {
		setenv("TZ", saved, 1);
		free(saved);
	} else {
		unsetenv("TZ");
	}
	tzset();
}

static void test_path_valid(void)
{
	static const char *const ok[] = {
		"/", "/a", "/a/b", "/inc/2026/notes.md", "/.hidden", "/a/..b", "/a/b..", "/...",
		"/a b/c", "/\x01", "/é",
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (cfs_path_valid(ok[i]) != 0)
			T_FAILF("path '%s' refused", ok[i]);
	static const char *const bad[] = {
		"", "a", "a/b", "//", "/a/", "/a//b", "//a", "/.", "/..", "/a/.", "/a/..", "/./a",
		"/../a", "/a/./b", "/a/../b", " /a",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (cfs_path_valid(bad[i]) != -EINVAL)
			T_FAILF("path '%s' accepted", bad[i]);
	T_EQ_INT(cfs_path_valid(NULL), -EINVAL);
	/* length: 4095 characters pass, 4096 do not */
	static char p[4100];
	memset(p, 'a', sizeof p);
	p[0] = '/';
	p[4095] = 0;
	T_EQ_INT(cfs_path_valid(p), 0);
	p[4095] = 'a';
	p[4096] = 0;
	T_EQ_INT(cfs_path_valid(p), -EINVAL);
}

static void test_path_covers(void)
{
	static const struct { const char *prefix, *path; int want; } rows[] = {
		{ "/inc", "/inc", 1 },
		{ "/inc", "/inc/a", 1 },
		{ "/inc", "/inc/a/b", 1 },
		{ "/inc", "/incident", 0 },
		{ "/inc", "/inc2/a", 0 },
		{ "/inc", "/in", 0 },
		{ "/inc", "/", 0 },
		{ "/inc/a", "/inc", 0 },
		{ "/inc/a", "/inc/ab", 0 },
		{ "/inc/a", "/inc/a/b", 1 },
		{ "/", "/", 1 },
		{ "/", "/a", 1 },
		{ "/", "/a/b/c", 1 },
		{ "/", "", 0 },
		{ "/a", "/A", 0 },
		{ "", "/a", 0 },           /* a non-absolute prefix covers nothing */
		{ "", "", 0 },
		{ "inc", "inc/a", 0 },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		int got = cfs_path_covers(rows[i].prefix, rows[i].path);
		if (got != rows[i].want)
			T_FAILF("covers('%s', '%s') = %d, expected %d", rows[i].prefix,
				rows[i].path, got, rows[i].want);
	}
	T_EQ_INT(cfs_path_covers(NULL, "/a"), 0);
	T_EQ_INT(cfs_path_covers("/", NULL), 0);
}

static void test_errf_and_strlcpy(void)
{
	struct cfs_err e = { "old" };
	T_EQ_INT(cfs_errf(&e, -EINVAL, "%s:%d: %s", "f.ini", 12, "bad"), -EINVAL);
	T_EQ_STR(e.msg, "f.ini:12: bad");
	T_EQ_INT(cfs_errf(NULL, -ENOENT, "x"), -ENOENT);
	/* truncated, still terminated */
	char big[600];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	cfs_errf(&e, -1, "%s", big);
	T_EQ_INT((int)strlen(e.msg), 511);

	char d[8];
	T_EQ_INT((int)cfs_strlcpy(d, "abc", sizeof d), 3);
	T_EQ_STR(d, "abc");
	T_EQ_INT((int)cfs_strlcpy(d, "abcdefgh", sizeof d), 8);
	T_EQ_STR(d, "abcdefg");
	T_EQ_INT((int)cfs_strlcpy(d, "", sizeof d), 0);
	T_EQ_STR(d, "");
	d[0] = 'z';
	T_EQ_INT((int)cfs_strlcpy(d, "abc", 0), 3);
	T_EQ_INT(d[0], 'z');
	T_EQ_INT((int)cfs_strlcpy(d, "abc", 1), 3);
	T_EQ_STR(d, "");
}

static void test_clock(void)
{
	int64_t s = cfs_now_s();
	int64_t us = cfs_now_us();
	int64_t s2 = cfs_now_s();
	T_CHECK(s > 1700000000);       /* after 2023-11 */
	T_CHECK(us / 1000000 >= s && us / 1000000 <= s2);
}

static void test_io(void)
{
	char path[] = "/tmp/cfs-test-util-XXXXXX";
	int fd = mkstemp(path);
	T_CHECK(fd >= 0);
	if (fd < 0)
		return;
	unlink(path);
	static char buf[300000], back[300000];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (char)(i * 7 + 3);
	T_EQ_INT(cfs_pwrite_all(fd, buf, sizeof buf, 100), 0);
	T_EQ_INT(cfs_pread_full(fd, back, sizeof back, 100), (long long)sizeof back);
	T_CHECK(memcmp(buf, back, sizeof buf) == 0);
	/* a hole reads as zeros; reading past the end is short */
	T_EQ_INT(cfs_pread_full(fd, back, 100, 0), 100);
	T_EQ_INT(back[0], 0);
	T_EQ_INT(back[99], 0);
	T_EQ_INT(cfs_pread_full(fd, back, 1000, 100 + (off_t)sizeof buf - 10), 10);
	T_EQ_INT(cfs_pread_full(fd, back, 1000, 10000000), 0);
	close(fd);
	T_EQ_INT(cfs_pwrite_all(fd, buf, 1, 0), -EBADF);
	T_EQ_INT(cfs_pread_full(fd, back, 1, 0), -EBADF);
	int ro = open("/dev/null", O_RDONLY);
	T_EQ_INT(cfs_pwrite_all(ro, buf, 1, 0), -EBADF);
	close(ro);
}

/* What mount(8) passes for an fstab line, taken apart: config= out, its own
 * words dropped, FUSE's kept in order; several -o accumulate. */
static void test_mount_opts(void)
{
	char fuse[64] = "", cfg[32] = "";
	struct cfs_err e = { "" };
	T_EQ_INT(cfs_mount_opts("rw,config=/etc/a.ini,_netdev,nofail,allow_root,x-systemd.automount,"
				"comment=boot,noauto,auto,defaults,user,users,nouser,owner,group,ro",
				fuse, sizeof fuse, cfg, sizeof cfg, &e), 0);
	T_EQ_STR(fuse, "allow_root,ro");
	T_EQ_STR(cfg, "/etc/a.ini");
	T_EQ_INT(cfs_mount_opts("max_read=65536", fuse, sizeof fuse, cfg, sizeof cfg, &e), 0);
	T_EQ_STR(fuse, "allow_root,ro,max_read=65536");
	/* the same config= again is fine; another is not */
	T_EQ_INT(cfs_mount_opts("config=/etc/a.ini", fuse, sizeof fuse, cfg, sizeof cfg, &e), 0);
	T_EQ_INT(cfs_mount_opts("config=/etc/b.ini", fuse, sizeof fuse, cfg, sizeof cfg, &e), -EINVAL);
	T_EQ_STR(e.msg, "-o config=/etc/b.ini: the configuration is already /etc/a.ini");
	T_EQ_INT(cfs_mount_opts("config=", fuse, sizeof fuse, cfg, sizeof cfg, &e), -EINVAL);
	T_EQ_STR(e.msg, "-o config=: config= names no file");
	T_EQ_INT(cfs_mount_opts("rw,,ro", fuse, sizeof fuse, cfg, sizeof cfg, &e), -EINVAL);
	T_EQ_STR(e.msg, "-o rw,,ro: empty option");
	T_EQ_INT(cfs_mount_opts("", fuse, sizeof fuse, cfg, sizeof cfg, &e), -EINVAL);
	char small[8] = "", c2[8] = "";
	T_EQ_INT(cfs_mount_opts("allow_root", small, sizeof small, c2, sizeof c2, &e), -E2BIG);
	T_EQ_STR(small, "");
	T_EQ_INT(cfs_mount_opts("config=/etc/coachfs.ini", small, sizeof small, c2, sizeof c2, &e), -E2BIG);
	/* only mount(8)'s words: nothing for FUSE */
	char f3[16] = "", c3[16] = "";
	T_EQ_INT(cfs_mount_opts("rw,_netdev", f3, sizeof f3, c3, sizeof c3, &e), 0);
	T_EQ_STR(f3, "");
	T_EQ_STR(c3, "");
}

int main(void)
{
	T_RUN(test_duration_ok);
	T_RUN(test_duration_bad);
	T_RUN(test_uint);
	T_RUN(test_time);
	T_RUN(test_time_local);
	T_RUN(test_path_valid);
	T_RUN(test_path_covers);
	T_RUN(test_errf_and_strlcpy);
	T_RUN(test_clock);
	T_RUN(test_io);
	T_RUN(test_mount_opts);
	T_END();
}
