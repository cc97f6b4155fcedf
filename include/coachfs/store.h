/* store.h — the backing tree. store.c owns the layout on disk (STORE/coachfs.hdr,
 * STORE/tree/...) and every path resolution into it: all access goes through
 * openat2() from the tree's root descriptor with RESOLVE_BENEATH and
 * RESOLVE_NO_SYMLINKS, so a privileged daemon never follows a link a user
 * could have planted nor leaves the store. It must never touch plaintext. */
#ifndef COACHFS_STORE_H
#define COACHFS_STORE_H

#include <sys/stat.h>
#include <sys/types.h>
#include "coachfs/crypto.h"
#include "coachfs/util.h"

#define CFS_STORE_HEADER "coachfs.hdr"
#define CFS_STORE_TREE "tree"
#define CFS_DIR_SIDECAR ".coachfs-dir"   /* a directory's attributes, inside it */
#define CFS_LINKS_DIR ".links"           /* reserved at the mount's root */

struct cfs_store {
	int root;                /* O_PATH descriptor of STORE/tree */
	char *path;              /* STORE */
	const struct cfs_keys *keys;
};

/* "STORE/coachfs.hdr" into buf. */
int cfs_store_header_path(const char *store, char *buf, size_t len);

/* Create STORE (if absent, mode 0700), STORE/tree. Refuses a store that
 * already has a header. */
int cfs_store_init(const char *store, struct cfs_err *err);

int cfs_store_open(const char *store, const struct cfs_keys *keys, struct cfs_store **out,
		   struct cfs_err *err);
void cfs_store_close(struct cfs_store *s);

/* Is this leaf name reserved (never shown, never created through the mount)?
 * at_root: the directory is the mount root. */
int cfs_store_reserved(const char *name, int at_root);

/* Open mount path `path` ("/a/b") inside the tree: flags as for open(2)
 * (O_NOFOLLOW and O_CLOEXEC are always added). Returns an fd or -errno
 * (-ELOOP for a symlink anywhere on the way, -EXDEV for an escape). */
int cfs_store_openat(struct cfs_store *s, const char *path, int flags, mode_t mode);

/* Open the parent directory of `path` (O_PATH) and point *leaf at the last
 * component inside path. For "/" returns -EINVAL. */
int cfs_store_parent(struct cfs_store *s, const char *path, const char **leaf);

/* Create a fresh temporary file ".coachfs-tmp.<16 hex>" (mode 0600, O_EXCL,
 * no symlink) in directory dirfd, for building a file before renaming it into
 * place. Returns the fd and fills name (>= 32 bytes), or -errno. */
int cfs_store_tmpfile(int dirfd, char *name, size_t namelen);

/* A fresh temporary name of that form (not created: for renameat2 with
 * RENAME_NOREPLACE). */
int cfs_store_tmpname(char *name, size_t namelen);

/* The same for a directory (mode as given, O_EXCL semantics): its name into
 * name. 0 or -errno. */
int cfs_store_tmpdir(int dirfd, char *name, size_t namelen, mode_t mode);

/* lstat of a mount path. */
int cfs_store_lstat(struct cfs_store *s, const char *path, struct stat *st);

/* May a symlink at mount path `link` ("/a/l") point at `target`? Only a
 * relative target that stays inside the mount: leading ".." components no
 * more than the link's directory depth, and no ".." after a name (through a
 * symlinked name, "name/.." could climb higher than it reads). 0, or -EPERM
 * for an absolute, empty or escaping target. Checked when a link is made
 * and again when it is read, so a link planted in the backing tree never
 * sends a client outside the mount. */
int cfs_store_link_ok(const char *link, const char *target);

#endif
