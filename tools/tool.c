/* The tools' shared module (see tool.h): messages, escaping, time formats,
 * and who runs the program. It owns no state and must never print untrusted
 * text unescaped or decide anything about access. */
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coachfs/util.h"
#include "tool.h"

int cfs_say(int code, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", cfs_tool_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int cfs_printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

int cfs_utf8_len(const unsigned char *p, uint32_t *cp)
{
	int n;
	uint32_t c;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		c = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		c = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		c = p[0] & 0x07;
	} else {
		return 0;
	}
	for (int k = 1; k < n; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[k] & 0x3f);
	}
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

void cfs_put_term(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		uint32_t cp;
		int n = cfs_utf8_len(p, &cp);
		if (n == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
			int len = n ? n : 1;
			for (int k = 0; k < len; k++)
				fprintf(f, "\\x%02x", p[k]);
			p += len;
		} else if (cp == '\\') {
			fputs("\\\\", f);
			p++;
		} else {
			fwrite(p, 1, (size_t)n, f);
			p += n;
		}
	}
}

void cfs_term_buf(const char *s, char *out, size_t cap)
{
	FILE *m = fmemopen(out, cap, "w");
	if (!m) {
		cfs_strlcpy(out, "?", cap);
		return;
	}
	setvbuf(m, NULL, _IONBF, 0);
	cfs_put_term(m, s);
	fclose(m);
	out[cap - 1] = 0;
}

void cfs_put_json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	while (*p) {
		uint32_t cp;
		int n = cfs_utf8_len(p, &cp);
		if (n == 0) {
			fputs("\\ufffd", f);
			p++;
			continue;
		}
		if (cp == '"')
			fputs("\\\"", f);
		else if (cp == '\\')
			fputs("\\\\", f);
		else if (cp == '\n')
			fputs("\\n", f);
		else if (cp == '\t')
			fputs("\\t", f);
		else if (cp == '\r')
			fputs("\\r", f);
		else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0x2028 ||
			 cp == 0x2029)
			fprintf(f, "\\u%04x", (unsigned)cp);
		else
			fwrite(p, 1, (size_t)n, f);
		p += n;
	}
	fputc('"', f);
}

void cfs_put_csv_str(FILE *f, const char *s)
{
	if (!s)
		return;
	if (!*s || strpbrk(s, ",\"\r\n")) {
		fputc('"', f);
		for (const char *p = s; *p; p++) {
			if (*p == '"')
				fputc('"', f);
			fputc(*p, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
}

static void fmt_time(int64_t secs, int utc, char *out, size_t cap)
{
	struct tm tm;
	time_t t = (time_t)secs;
	struct tm *ok = utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm);
	if (!ok || strftime(out, cap, utc ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, cap, "@%lld", (long long)secs);
}

void cfs_fmt_utc(int64_t secs, char *out, size_t cap)
{
	fmt_time(secs, 1, out, cap);
}

void cfs_fmt_local(int64_t secs, char *out, size_t cap)
{
	fmt_time(secs, 0, out, cap);
}

/* Root's login uid, or -1 when unset (no login session: a service, a
 * container, a test). */
static int64_t login_uid(void)
{
	FILE *f = fopen("/proc/self/loginuid", "r");
	unsigned long long lu = 0;
	int have = f && fscanf(f, "%llu", &lu) == 1 && lu < 0xffffffffULL;
	if (f)
		fclose(f);
	return have ? (int64_t)lu : -1;
}

/* $SUDO_USER's name and uid; 0 when set and sane. */
static int sudo_user(struct cfs_who *w)
{
	const char *su = getenv("SUDO_USER");
	const char *sid = getenv("SUDO_UID");
	uint64_t v;
	struct passwd *pw;
	if (!su || !*su || strlen(su) >= sizeof w->name || !cfs_printable(su))
		return -1;
	cfs_strlcpy(w->name, su, sizeof w->name);
	if (sid && cfs_parse_uint(sid, 0xfffffffeu, &v) == 0)
		w->uid = (int64_t)v;
	else if ((pw = getpwnam(su)) != NULL)
		w->uid = pw->pw_uid;
	return 0;
}

void cfs_who_am_i(struct cfs_who *w)
{
	uid_t ruid = getuid();
	int64_t uid = ruid;
	memset(w, 0, sizeof *w);
	w->uid = ruid;
	if (geteuid() == 0 && ruid == 0) {
		int64_t lu = login_uid();
		if (lu >= 0)
			uid = lu;
		else if (sudo_user(w) == 0)
			goto exe;
	}
	w->uid = uid;
	struct passwd *pw = getpwuid((uid_t)uid);
	if (pw && pw->pw_name && strlen(pw->pw_name) < sizeof w->name && cfs_printable(pw->pw_name))
		cfs_strlcpy(w->name, pw->pw_name, sizeof w->name);
	else
		snprintf(w->name, sizeof w->name, "#%u", (unsigned)uid);
exe:;
	ssize_t n = readlink("/proc/self/exe", w->exe, sizeof w->exe - 1);
	w->exe[n > 0 ? n : 0] = 0;
}

int cfs_progress_due(int64_t *last_us, int final)
{
	int64_t now = cfs_clock_us(CLOCK_MONOTONIC);
	if (!final && now - *last_us < 100000)
		return 0;
	*last_us = now;
	return 1;
}
