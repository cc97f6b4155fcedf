/* admin.h — what coach-admin's files (tools/coach-admin.c, admin-*.c)
 * share: the commands and a few helpers. Tools only. */
#ifndef COACHFS_ADMIN_H
#define COACHFS_ADMIN_H

#include "coachfs/config.h"
#include "coachfs/util.h"

#define TMP_PREFIX ".coachfs-tmp."      /* cfs_store_tmpfile's names: this and 16 hex */

int cfs_admin_die(const char *msg);
int cfs_admin_usage_error(const char *msg);
int cfs_admin_mkparents(const char *file, struct cfs_err *err);
int cfs_admin_is_tmp_name(const char *name);
int cfs_admin_is_coachfs_mount(const char *dir);

int cfs_admin_check(struct cfs_config *cfg, int argc, char **argv);
int cfs_admin_upgrade(struct cfs_config *cfg, int argc);
int cfs_admin_policy(struct cfs_config *cfg, int argc, char **argv);

#endif
