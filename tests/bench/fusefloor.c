/* fusefloor.c — the floor under every direct_io FUSE filesystem, for
 * `make bench`: a passthrough of one backing directory through libfuse's
 * high-level API with direct_io on every open, like coachfs, and nothing
 * else: no crypto, no decision, no audit row. Its ratios against gocryptfs
 * say how much of coachfs's cost is the FUSE round trip every request
 * makes. A bench helper only: no access checks of its own (it runs
 * single-user, default_permissions), never installed.
 *
 *   fusefloor BACKING MOUNTPOINT [FUSE options]
 */
#define FUSE_USE_VERSION 35
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int back = -1;   /* the backing directory; set once in main */

/* "/a/b" -> "a/b", "/" -> "." : relative to the backing directory */
static const char *rel(const char *path)
{
	return path[1] ? path + 1 : ".";
}

static int ff_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	int rc = fi ? fstat((int)fi->fh, st) : fstatat(back, rel(path), st, AT_SYMLINK_NOFOLLOW);
	return rc < 0 ? -errno : 0;
}

static int ff_open(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(back, rel(path), (fi->flags & ~O_NOFOLLOW) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	return 0;
}

static int ff_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int fd = openat(back, rel(path), fi->flags | O_CREAT | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	return 0;
}

static int ff_read(const char *path, char *buf, size_t n, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	ssize_t r = pread((int)fi->fh, buf, n, off);
	return r < 0 ? -errno : (int)r;
}

static int ff_write(const char *path, const char *buf, size_t n, off_t off,
		    struct fuse_file_info *fi)
{
	(void)path;
	ssize_t r = pwrite((int)fi->fh, buf, n, off);
	return r < 0 ? -errno : (int)r;
}

static int ff_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

static int ff_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	int rc = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);
	return rc < 0 ? -errno : 0;
}

static int ff_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	int rc;
	if (fi)
		rc = ftruncate((int)fi->fh, size);
	else {
		int fd = openat(back, rel(path), O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		rc = ftruncate(fd, size);
		close(fd);
	}
	return rc < 0 ? -errno : 0;
}

static int ff_unlink(const char *path)
{
	return unlinkat(back, rel(path), 0) < 0 ? -errno : 0;
}

static int ff_mkdir(const char *path, mode_t mode)
{
	return mkdirat(back, rel(path), mode) < 0 ? -errno : 0;
}

static int ff_rmdir(const char *path)
{
	return unlinkat(back, rel(path), AT_REMOVEDIR) < 0 ? -errno : 0;
}

static int ff_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	int rc = fi ? futimens((int)fi->fh, tv) : utimensat(back, rel(path), tv, AT_SYMLINK_NOFOLLOW);
	return rc < 0 ? -errno : 0;
}

static int ff_opendir(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(back, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

/* nullpath_ok: libfuse gives readdir no path, the handle from opendir */
static int ff_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)path;
	(void)off;
	(void)flags;
	int fd = dup((int)fi->fh);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	for (struct dirent *e; (e = readdir(d));)
		if (fill(buf, e->d_name, NULL, 0, 0))
			break;
	closedir(d);
	return 0;
}

static void *ff_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->entry_timeout = 0;   /* as coachfs with hide_denied = yes */
	cfg->attr_timeout = 1.0;
	cfg->nullpath_ok = 1;
	return NULL;
}

static const struct fuse_operations ops = {
	.init = ff_init,         .getattr = ff_getattr, .open = ff_open,
	.create = ff_create,     .read = ff_read,       .write = ff_write,
	.release = ff_release,   .fsync = ff_fsync,     .truncate = ff_truncate,
	.unlink = ff_unlink,     .mkdir = ff_mkdir,     .rmdir = ff_rmdir,
	.utimens = ff_utimens,   .opendir = ff_opendir,   .readdir = ff_readdir, .releasedir = ff_release,
};

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: fusefloor BACKING MOUNTPOINT [FUSE options]\n");
		return 2;
	}
	back = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (back < 0) {
		fprintf(stderr, "fusefloor: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	argv[1] = argv[0];
	return fuse_main(argc - 1, argv + 1, &ops, NULL);
}
