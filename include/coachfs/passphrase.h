/* passphrase.h — where the store passphrase comes from, in this order:
 * [store] passphrase_command (the first line a program prints, like
 * gocryptfs -extpass), else [store] passphrase_file, else a systemd
 * credential ($CREDENTIALS_DIRECTORY/coachfs-passphrase, from the unit's
 * LoadCredential= or LoadCredentialEncrypted=), else the terminal.
 * passphrase.c owns nothing long-lived; it must never print, log or pass
 * the passphrase to a shell, and never run the command through one. */
#ifndef COACHFS_PASSPHRASE_H
#define COACHFS_PASSPHRASE_H
#include <stddef.h>
#include "coachfs/config.h"
#include "coachfs/util.h"

#define CFS_CREDENTIAL_NAME "coachfs-passphrase"

/* The passphrase for cfg's store into sodium_malloc memory (free with
 * cfs_pass_free). confirm: ask twice when it comes from the terminal.
 * A command that exits non-zero, is killed, prints nothing or runs longer
 * than CFS_PASS_CMD_TIMEOUT_S fails with a message naming it. */
#define CFS_PASS_CMD_TIMEOUT_S 120
int cfs_pass_obtain(const struct cfs_config *cfg, int confirm, const char *prompt, char **out,
		    size_t *len, struct cfs_err *err);

/* Run "PROGRAM ARG..." (split on blanks, no shell; stdin and stderr are
 * the caller's, so the program may ask on the terminal) and take its first
 * output line. Exposed for tests. */
int cfs_pass_from_command(const char *command, char **out, size_t *len, struct cfs_err *err);

#endif
