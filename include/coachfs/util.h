/* util.h — small shared helpers: the error carrier, time, durations, bounded
 * string copies. Owns no state; must never allocate behind the caller's back
 * or print anything. */
#ifndef COACHFS_UTIL_H
#define COACHFS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* The build passes the release and commit (Makefile VERSION). */
#ifndef CFS_VERSION
#define CFS_VERSION "0.1.0"
#endif

/* Errors travel up as a negative errno plus one message, printed in one
 * place (the program's main). */
struct cfs_err {
	char msg[512];
};

/* Fill err (if not NULL) with a formatted message; returns rc unchanged so
 * callers can write `return cfs_errf(err, -EINVAL, "...")`. */
int cfs_errf(struct cfs_err *err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* clock_gettime(id) in microseconds. */
int64_t cfs_clock_us(clockid_t id);

/* Microseconds / seconds since the Unix epoch (CLOCK_REALTIME). */
int64_t cfs_now_us(void);
int64_t cfs_now_s(void);

/* Parse a duration "90s", "15m", "4h", "2d" (a positive decimal integer and
 * exactly one unit) into seconds. Rejects empty, signs, spaces, unknown units,
 * zero and overflow (limit: 100 years). 0 or -EINVAL. */
int cfs_parse_duration(const char *s, int64_t *secs);

/* Parse a time: "now", ISO 8601 "2026-11-27T10:00:00Z" / "2026-11-27 10:00"
 * (local time when no zone is given), "@EPOCHSECONDS", or a relative
 * duration in the past ("2h" = two hours before now) or future ("+2h").
 * now is passed in to keep this pure. 0 or -EINVAL. */
int cfs_parse_time(const char *s, int64_t now, int64_t *out_secs);

/* Strict decimal parse of a non-negative integer <= max. 0 or -EINVAL. */
int cfs_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* strlcpy semantics: returns strlen(src); truncation if >= size. */
size_t cfs_strlcpy(char *dst, const char *src, size_t size);

/* Write all of buf with pwrite/read all with pread, retrying on EINTR and
 * short transfers. Return 0 / bytes read, or -errno. */
int cfs_pwrite_all(int fd, const void *buf, size_t len, off_t off);
ssize_t cfs_pread_full(int fd, void *buf, size_t len, off_t off);

/* Canonical mount-relative path check: starts with '/', no "//", no "." or
 * ".." component, no trailing '/' (except "/" itself), no NUL, length < 4096.
 * 0 or -EINVAL. */
int cfs_path_valid(const char *path);

/* The errno for an SQLite result code (extended codes too): -EBUSY (locked
 * past the busy timeout), -ENOSPC, -ENOMEM, -EACCES (read-only or not
 * permitted), -E2BIG, else -EIO. One mapping for every database. */
int cfs_sqlite_errno(int rc);

/* Does grant/prefix path `prefix` cover `path` at a component boundary?
 * "/inc" covers "/inc" and "/inc/a" but not "/incident"; "/" covers all. */
int cfs_path_covers(const char *prefix, const char *path);

/* Mount options as mount(8) and mount.fuse3 hand them over (an fstab line's
 * fourth field, "rw,config=/etc/coachfs/a.ini,_netdev,allow_root"): take
 * config=FILE out into config (ccap bytes), drop the words meant for mount(8)
 * alone (rw, defaults, auto, noauto, nofail, _netdev, user, users, nouser,
 * owner, group, comment=..., x-...), and append the rest, comma separated,
 * to fuse (fcap bytes; it may already hold options from an earlier -o).
 * 0; -EINVAL for an empty word or config=, or a second config= naming
 * another file (err says which); -E2BIG when a result does not fit. */
int cfs_mount_opts(const char *in, char *fuse, size_t fcap, char *config, size_t ccap,
		   struct cfs_err *err);

#endif
