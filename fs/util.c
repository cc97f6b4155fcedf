/* util.c — the error carrier, clocks, strict number/duration/time parsing,
 * path checks and full-transfer I/O. Owns no state; must never print. */
#include "coachfs/util.h"

#include <errno.h>
#include <sqlite3.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cfs_errf(struct cfs_err *err, int rc, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int64_t cfs_clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t cfs_now_us(void)
{
	return cfs_clock_us(CLOCK_REALTIME);
}

int64_t cfs_now_s(void)
{
	return cfs_clock_us(CLOCK_REALTIME) / 1000000;
}

int cfs_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (!s || !*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		unsigned d = (unsigned)(*p - '0');
		/* d > max first: max - d would wrap and let "9" through for max 5 */
		if (d > max || v > (max - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

#define CFS_DURATION_MAX ((int64_t)100 * 365 * 86400)

int cfs_parse_duration(const char *s, int64_t *secs)
{
	char num[24];
	size_t n;
	uint64_t v, mult;
	if (!s)
		return -EINVAL;
	n = strlen(s);
	if (n < 2 || n > sizeof num)
		return -EINVAL;
	switch (s[n - 1]) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: return -EINVAL;
	}
	memcpy(num, s, n - 1);
	num[n - 1] = 0;
	if (cfs_parse_uint(num, (uint64_t)CFS_DURATION_MAX, &v) < 0 || v == 0)
		return -EINVAL;
	if (v > (uint64_t)CFS_DURATION_MAX / mult)
		return -EINVAL;
	*secs = (int64_t)(v * mult);
	return 0;
}

static int parse_fixed(const char **p, int digits, int *out)
{
	int v = 0;
	for (int i = 0; i < digits; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -EINVAL;
		v = v * 10 + (c - '0');
	}
	*p += digits;
	*out = v;
	return 0;
}

int cfs_parse_time(const char *s, int64_t now, int64_t *out)
{
	int64_t d;
	uint64_t v;
	if (!s || !*s)
		return -EINVAL;
	if (strcmp(s, "now") == 0) {
		*out = now;
		return 0;
	}
	if (s[0] == '@') {
		if (cfs_parse_uint(s + 1, (uint64_t)INT64_MAX / 2, &v) < 0)
			return -EINVAL;
		*out = (int64_t)v;
		return 0;
	}
	/* now comes from the caller: refuse what would overflow int64 */
	if (s[0] == '+') {
		if (cfs_parse_duration(s + 1, &d) < 0 || now > INT64_MAX - d)
			return -EINVAL;
		*out = now + d;
		return 0;
	}
	if (cfs_parse_duration(s, &d) == 0) {
		if (now < INT64_MIN + d)
			return -EINVAL;
		*out = now - d;
		return 0;
	}
	/* YYYY-MM-DD[(T| )HH:MM[:SS]][Z] */
	struct tm tm;
	const char *p = s;
	int y, mo, da, h = 0, mi = 0, se = 0, utc = 0;
	memset(&tm, 0, sizeof tm);
	if (parse_fixed(&p, 4, &y) || *p++ != '-' || parse_fixed(&p, 2, &mo) || *p++ != '-' ||
	    parse_fixed(&p, 2, &da))
		return -EINVAL;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (parse_fixed(&p, 2, &h) || *p++ != ':' || parse_fixed(&p, 2, &mi))
			return -EINVAL;
		if (*p == ':') {
			p++;
			if (parse_fixed(&p, 2, &se))
				return -EINVAL;
		}
	}
	if (*p == 'Z') {
		utc = 1;
		p++;
	}
	if (*p)
		return -EINVAL;
	if (mo < 1 || mo > 12 || da < 1 || da > 31 || h > 23 || mi > 59 || se > 59 || y < 1970)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = da;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	tm.tm_isdst = -1;
	time_t t = utc ? timegm(&tm) : mktime(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	/* Reject normalised dates such as 2026-02-31. */
	if (tm.tm_mday != da || tm.tm_mon != mo - 1)
		return -EINVAL;
	*out = (int64_t)t;
	return 0;
}

size_t cfs_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);
	if (size) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = 0;
	}
	return n;
}

int cfs_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;
	while (len) {
		ssize_t w = pwrite(fd, p, len, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		p += w;
		len -= (size_t)w;
		off += w;
	}
	return 0;
}

ssize_t cfs_pread_full(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;
	size_t got = 0;
	while (got < len) {
		ssize_t r = pread(fd, p + got, len - got, off + (off_t)got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int cfs_path_valid(const char *path)
{
	size_t n;
	if (!path || path[0] != '/')
		return -EINVAL;
	n = strlen(path);
	if (n >= 4096)
		return -EINVAL;
	if (n == 1)
		return 0;
	if (path[n - 1] == '/')
		return -EINVAL;
	const char *c = path + 1;
	for (;;) {
		const char *e = strchr(c, '/');
		size_t l = e ? (size_t)(e - c) : strlen(c);
		if (l == 0 || (l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
			return -EINVAL;
		if (!e)
			break;
		c = e + 1;
	}
	return 0;
}

int cfs_path_covers(const char *prefix, const char *path)
{
	size_t n;
	/* a prefix that is not absolute ("" included) covers nothing */
	if (!prefix || !path || prefix[0] != '/')
		return 0;
	n = strlen(prefix);
	if (n == 1)
		return path[0] == '/';
	if (strncmp(prefix, path, n) != 0)
		return 0;
	return path[n] == 0 || path[n] == '/';
}

static int opt_is(const char *w, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(w, name, n) == 0;
}

int cfs_mount_opts(const char *in, char *fuse, size_t fcap, char *config, size_t ccap,
		   struct cfs_err *err)
{
	static const char *const mount_only[] = { "rw", "defaults", "auto", "noauto", "nofail",
						  "_netdev", "user", "users", "nouser", "owner",
						  "group", NULL };
	const char *w = in;
	for (;;) {
		const char *end = strchr(w, ',');
		size_t n = end ? (size_t)(end - w) : strlen(w);
		int keep = 1;
		if (n == 0)
			return cfs_errf(err, -EINVAL, "-o %s: empty option", in);
		for (size_t i = 0; mount_only[i]; i++)
			if (opt_is(w, n, mount_only[i]))
				keep = 0;
		if ((n >= 2 && memcmp(w, "x-", 2) == 0) || (n >= 8 && memcmp(w, "comment=", 8) == 0))
			keep = 0;
		if (n >= 7 && memcmp(w, "config=", 7) == 0) {
			size_t vn = n - 7;
			if (vn == 0)
				return cfs_errf(err, -EINVAL, "-o %s: config= names no file", in);
			if (vn >= ccap)
				return cfs_errf(err, -E2BIG, "-o %s: config= path too long", in);
			if (config[0] && (strlen(config) != vn || memcmp(config, w + 7, vn) != 0))
				return cfs_errf(err, -EINVAL, "-o config=%.*s: the configuration is already %s",
						(int)vn, w + 7, config);
			memcpy(config, w + 7, vn);
			config[vn] = 0;
			keep = 0;
		}
		if (keep) {
			size_t have = strlen(fuse);
			if (have + (have ? 1 : 0) + n + 1 > fcap)
				return cfs_errf(err, -E2BIG, "-o %s: too many options", in);
			if (have)
				fuse[have++] = ',';
			memcpy(fuse + have, w, n);
			fuse[have + n] = 0;
		}
		if (!end)
			return 0;
		w = end + 1;
	}
}

int cfs_sqlite_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_NOMEM: return -ENOMEM;
	case SQLITE_PERM:
	case SQLITE_AUTH:
	case SQLITE_READONLY: return -EACCES;
	case SQLITE_TOOBIG: return -E2BIG;
	default: return -EIO;
	}
}
