/* bdi.c — sets a FUSE mount's kernel readahead through sysfs
 * (/sys/class/bdi/MAJOR:MINOR/read_ahead_kb) once the FUSE handshake is
 * over. Owns no state; must never write to any device but the FUSE mount
 * it was given. */
#include "coachfs/bdi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define FUSE_MAGIC 0x65735546   /* statfs f_type of every FUSE mount */
#define FUSE_ROOT_INO 1         /* the root of every FUSE mount */

int cfs_bdi_readahead(const char *mountpoint, unsigned kb, struct cfs_err *err)
{
	struct stat st;
	struct statfs sf;
	/* stat waits for the handshake: the kernel holds every request until
	 * the daemon has answered INIT, which is where the cap is applied */
	if (stat(mountpoint, &st) != 0 || statfs(mountpoint, &sf) != 0)
		return cfs_errf(err, -errno, "%s: %s", mountpoint, strerror(errno));
	if ((unsigned long)sf.f_type != FUSE_MAGIC || st.st_ino != FUSE_ROOT_INO || major(st.st_dev) != 0)
		return cfs_errf(err, -ENODEV, "%s: not the root of a FUSE mount", mountpoint);
	char path[96], val[16];
	snprintf(path, sizeof path, "/sys/class/bdi/%u:%u/read_ahead_kb", major(st.st_dev),
		 minor(st.st_dev));
	int n = snprintf(val, sizeof val, "%u\n", kb);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return cfs_errf(err, -errno, "%s: %s", path, strerror(errno));
	ssize_t w = write(fd, val, (size_t)n);
	int rc = w == n ? 0 : w < 0 ? -errno : -EIO;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		return cfs_errf(err, rc, "%s: %s", path, strerror(-rc));
	return 0;
}
