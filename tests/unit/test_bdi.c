/* test_bdi.c — cfs_bdi_readahead (fs/bdi.c) refuses, with its message and
 * without writing anything, every path that is not the root of a FUSE
 * mount: the root file system's device and a tmpfs (an anonymous device,
 * like FUSE's) keep their readahead. That it raises a real mount's is
 * shown through the mount (t_cache). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "coachfs/bdi.h"
#include "t.h"

/* The readahead sysfs shows for path's device, or -1. */
static long ra_of(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -1;
	char f[96];
	snprintf(f, sizeof f, "/sys/class/bdi/%u:%u/read_ahead_kb", major(st.st_dev), minor(st.st_dev));
	FILE *fp = fopen(f, "r");
	long v = -1;
	if (fp) {
		if (fscanf(fp, "%ld", &v) != 1)
			v = -1;
		fclose(fp);
	}
	return v;
}

static void refuses(const char *path, int want_rc, const char *want_msg)
{
	struct cfs_err e = { "" };
	long before = ra_of(path);
	T_EQ_INT(cfs_bdi_readahead(path, 4096, &e), want_rc);
	T_EQ_STR(e.msg, want_msg);
	T_EQ_INT(ra_of(path), before);
}

static void not_fuse_root_fs(void)
{
	refuses("/", -ENODEV, "/: not the root of a FUSE mount");
}

static void not_fuse_tmpfs(void)
{
	/* a tmpfs has an anonymous device (major 0) too: f_type tells them apart */
	char dir[] = "/dev/shm/cfs-bdi.XXXXXX";
	T_CHECK(mkdtemp(dir) != NULL);
	char want[128];
	snprintf(want, sizeof want, "%s: not the root of a FUSE mount", dir);
	refuses(dir, -ENODEV, want);
	rmdir(dir);
}

static void missing(void)
{
	refuses("/nonexistent/cfs-bdi", -ENOENT, "/nonexistent/cfs-bdi: No such file or directory");
}

int main(void)
{
	T_RUN(not_fuse_root_fs);
	T_RUN(not_fuse_tmpfs);
	T_RUN(missing);
	T_END();
}
