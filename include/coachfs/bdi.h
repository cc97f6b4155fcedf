/* bdi.h — the kernel's readahead for a coachfs mount. The FUSE handshake
 * caps a mount's readahead at the kernel's 128 KiB default, whatever the
 * daemon asks for; once the handshake is over, the mount's backing device
 * (sysfs's bdi) can be given more. Only for pages the page cache serves:
 * direct_io files (every read decided) never see kernel readahead. */
#ifndef COACHFS_BDI_H
#define COACHFS_BDI_H

#include "coachfs/util.h"

#define CFS_READAHEAD_KB 1024   /* one READ of max_read (1 MiB) */

/* Set the readahead of the FUSE mount at mountpoint to kb KiB. stat()s the
 * mount point first, which waits for the FUSE handshake to finish (run it
 * off the thread serving requests). Refuses, touching nothing, unless the
 * mount point is the root of a FUSE mount. 0, or -errno with err set. */
int cfs_bdi_readahead(const char *mountpoint, unsigned kb, struct cfs_err *err);

#endif
