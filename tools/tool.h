/* The tools' shared module: what coach-admin, coach-grant and coach-audit
 * all need and must print the same way — messages, escaping of untrusted
 * text for a terminal, JSON and CSV, time formats, and who is running the
 * program. Tools only: the daemon never links it, and it includes no daemon
 * header. */
#ifndef COACHFS_TOOL_H
#define COACHFS_TOOL_H

#include <stdint.h>
#include <stdio.h>

/* Each tool's main file defines its name: const char cfs_tool_prog[] = "..." */
extern const char cfs_tool_prog[];

#define CFS_EXIT_FAIL 1
#define CFS_EXIT_USAGE 2

/* "PROG: message\n" on stderr; returns code, so `return cfs_say(2, ...)`. */
int cfs_say(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* No control characters (C0 or DEL) in s. */
int cfs_printable(const char *s);

/* Length of the valid UTF-8 sequence at p (NUL-terminated) and its code
 * point, 0 if invalid (overlong, surrogate, past U+10FFFF, truncated). */
int cfs_utf8_len(const unsigned char *p, uint32_t *cp);

/* For a terminal: C0, DEL, C1, invalid UTF-8 as \xNN and the backslash as
 * \\; the rest unchanged. The _buf form truncates to cap (NUL-terminated). */
void cfs_put_term(FILE *f, const char *s);
void cfs_term_buf(const char *s, char *out, size_t cap);

/* A JSON string; NULL as null. Invalid UTF-8 bytes become U+FFFD, so the
 * output is always valid JSON. */
void cfs_put_json_str(FILE *f, const char *s);

/* An RFC 4180 field: quoted when it holds a comma, quote, CR or LF (quotes
 * doubled); NULL is an empty field and "" a quoted empty string. */
void cfs_put_csv_str(FILE *f, const char *s);

/* Seconds since the epoch as "YYYY-MM-DDTHH:MM:SSZ" (UTC) or
 * "YYYY-MM-DD HH:MM:SS" (local); "@N" when the time cannot be shown. */
/* 1 when a progress line is due: final, or 100 ms since *last_us (which it
 * then moves to now). Start *last_us at cfs_clock_us(CLOCK_MONOTONIC). */
int cfs_progress_due(int64_t *last_us, int final);

void cfs_fmt_utc(int64_t secs, char *out, size_t cap);
void cfs_fmt_local(int64_t secs, char *out, size_t cap);

/* Who runs the program, honestly: the real uid; for root, the login uid
 * (/proc/self/loginuid, kept through su and sudo) when set, else $SUDO_USER
 * (root can set it to anything: root is trusted, see the README's threat
 * model), else root. name is the user name or "#UID"; exe this program. */
struct cfs_who {
	int64_t uid;
	char name[64];
	char exe[4096];
};
void cfs_who_am_i(struct cfs_who *w);

#endif
