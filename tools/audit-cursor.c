/* audit-cursor.c — the cursor of coach-audit forward: which event a
 * receiver accepted last, in a small file replaced atomically, locked so
 * one forwarder owns it. It must never move the cursor past an event that
 * was not accepted (its caller's duty: it saves what it is given), never
 * follow a symbolic link, and never trust the file's content: anything but
 * the exact format is refused. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coachfs/util.h"
#include "audit-cmd.h"

#define CURSOR_TAG "coachfs-forward-cursor-1"
#define CURSOR_MAX 256

static int unhex(const char *s, unsigned char *out, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		unsigned v = 0;
		for (int j = 0; j < 2; j++) {
			char ch = s[2 * k + (size_t)j];
			if (ch >= '0' && ch <= '9')
				v = v << 4 | (unsigned)(ch - '0');
			else if (ch >= 'a' && ch <= 'f')
				v = v << 4 | (unsigned)(ch - 'a' + 10);
			else
				return -1;
		}
		out[k] = (unsigned char)v;
	}
	return 0;
}

/* "coachfs-forward-cursor-1 id=N hash=HEX\n", nothing else. */
static int parse(const char *text, struct cfs_at_cursor *c)
{
	char idbuf[24], hash[2 * CFS_AUDIT_HASH_BYTES + 2];
	uint64_t id;
	int end = -1;
	if (sscanf(text, CURSOR_TAG " id=%20[0-9] hash=%65[0-9a-f-]\n%n", idbuf, hash, &end) != 2 ||
	    end < 0 || text[end] != 0 || cfs_parse_uint(idbuf, INT64_MAX, &id) < 0)
		return -1;
	c->id = (int64_t)id;
	if (id == 0)
		return strcmp(hash, "-") == 0 ? 0 : -1;
	if (strlen(hash) != 2 * CFS_AUDIT_HASH_BYTES)
		return -1;
	return unhex(hash, c->hash, CFS_AUDIT_HASH_BYTES);
}

static int read_cursor(struct cfs_at_cursor *c)
{
	char buf[CURSOR_MAX + 1];
	struct stat st;
	int fd = open(c->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;   /* a new cursor: from the first event */
	if (fd < 0)
		return cfs_say(EXIT_FAIL, "cursor %s: %s", c->path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 022) ||
	    st.st_size > CURSOR_MAX) {
		close(fd);
		return cfs_say(EXIT_FAIL, "cursor %s: not a regular file of at most %d bytes that "
			   "only its owner may write", c->path, CURSOR_MAX);
	}
	ssize_t n = read(fd, buf, CURSOR_MAX);
	close(fd);
	if (n < 0)
		return cfs_say(EXIT_FAIL, "cursor %s: %s", c->path, strerror(errno));
	buf[n] = 0;
	if (parse(buf, c) < 0)
		return cfs_say(EXIT_FAIL, "cursor %s: not a coach-audit forward cursor (want one line "
			   "'" CURSOR_TAG " id=N hash=HEX'); move it away to start again", c->path);
	c->saved_id = c->id;
	return 0;
}

/* The directory (the default one is created, 0700) and the lock. */
static int lock_cursor(struct cfs_at_cursor *c)
{
	char dir[sizeof c->path], lock[sizeof c->tmp];
	cfs_strlcpy(dir, c->path, sizeof dir);
	const char *d = dirname(dir);
	if (strcmp(c->path, CFS_AT_CURSOR_DEFAULT) == 0 && mkdir(d, 0700) < 0 && errno != EEXIST)
		return cfs_say(EXIT_FAIL, "cursor directory %s: %s", d, strerror(errno));
	c->dir_fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dir_fd < 0)
		return cfs_say(EXIT_FAIL, "cursor directory %s: %s", d, strerror(errno));
	snprintf(lock, sizeof lock, "%s.lock", c->path);
	c->lock_fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (c->lock_fd < 0)
		return cfs_say(EXIT_FAIL, "cursor lock %s: %s", lock, strerror(errno));
	if (flock(c->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return cfs_say(EXIT_FAIL, "cursor %s: %s", c->path, errno == EWOULDBLOCK ?
			   "another coach-audit forward is using it" : strerror(errno));
	return 0;
}

int cfs_at_cursor_open(const char *path, struct cfs_at_cursor *c)
{
	memset(c, 0, sizeof *c);
	c->dir_fd = c->lock_fd = -1;
	if (!*path || strlen(path) + 8 >= sizeof c->path || !cfs_printable(path))
		return cfs_say(EXIT_USAGE, "--cursor: '%.80s' is empty, too long or has control "
			   "characters", path);
	cfs_strlcpy(c->path, path, sizeof c->path);
	snprintf(c->tmp, sizeof c->tmp, "%s.tmp", path);
	int rc = lock_cursor(c);
	return rc ? rc : read_cursor(c);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int cfs_at_cursor_save(struct cfs_at_cursor *c)
{
	char line[CURSOR_MAX], h[2 * CFS_AUDIT_HASH_BYTES + 1] = "-";
	if (c->id == c->saved_id)
		return 0;
	if (c->id > 0)
		cfs_at_hex(c->hash, CFS_AUDIT_HASH_BYTES, h);
	int n = snprintf(line, sizeof line, CURSOR_TAG " id=%lld hash=%s\n", (long long)c->id, h);
	int fd = open(c->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return cfs_say(EXIT_FAIL, "cursor %s: %s", c->tmp, strerror(errno));
	if (fchmod(fd, 0600) < 0 || write_all(fd, line, (size_t)n) < 0 || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlink(c->tmp);
		return cfs_say(EXIT_FAIL, "cursor %s: %s", c->tmp, strerror(e));
	}
	if (close(fd) < 0 || rename(c->tmp, c->path) < 0 || fsync(c->dir_fd) < 0) {
		int e = errno;
		unlink(c->tmp);
		return cfs_say(EXIT_FAIL, "cursor %s: %s", c->path, strerror(e));
	}
	c->saved_id = c->id;
	return 0;
}

void cfs_at_cursor_close(struct cfs_at_cursor *c)
{
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	if (c->dir_fd >= 0)
		close(c->dir_fd);
	c->lock_fd = c->dir_fd = -1;
}
