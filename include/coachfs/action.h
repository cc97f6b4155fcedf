/* action.h — the audit actions (README, "Audit log"): one enum, and one
 * table in fs/action.c giving each its stored name and the properties code
 * decides by. A leaf: no state, no I/O, no other coachfs header; the daemon
 * and the tools both use it. The stored names are a contract (README,
 * "Audit log"): never rename one, only add. */
#ifndef COACHFS_ACTION_H
#define COACHFS_ACTION_H

#include <stddef.h>

/* In the order the README and coach-audit --help list them. */
enum cfs_action {
	CFS_ACT_MOUNT,
	CFS_ACT_UNMOUNT,
	CFS_ACT_OPEN,
	CFS_ACT_REPLAY,
	CFS_ACT_READ,
	CFS_ACT_WRITE,
	CFS_ACT_RELEASE,
	CFS_ACT_CREATE,
	CFS_ACT_UNLINK,
	CFS_ACT_RENAME,
	CFS_ACT_EXPORT,
	CFS_ACT_SETXATTR,
	CFS_ACT_TAMPER,
	CFS_ACT_GRANT_ADD,
	CFS_ACT_GRANT_REVOKE,
	CFS_ACT_GRANT_APPROVE,
	CFS_ACT_GRANT_REQUEST,
	CFS_ACT_GRANT_DENY,
	CFS_ACT_BREAKGLASS,
	CFS_ACT_BREAKGLASS_REVIEW,
	CFS_ACT_LINK_ISSUE,
	CFS_ACT_LINK_USE,
	CFS_ACT_AUDIT_QUERY,
	/* How many there are. As a value: none of them (a row read back whose
	 * stored action this version does not know); never written. */
	CFS_ACT_COUNT
};

/* Properties (cfs_action_flags): what coach-audit report draws a row that
 * was not denied as. */
#define CFS_ACTF_OPENS   0x1u   /* an open of a file's content: open, replay */
#define CFS_ACTF_READS   0x2u   /* a read of content */
#define CFS_ACTF_EXPORTS 0x4u   /* content copied out (any result) */

/* The stored name ("open"), or NULL for a value that is not an action. */
const char *cfs_action_name(enum cfs_action a);
/* The properties above; 0 for a value that is not an action. */
unsigned cfs_action_flags(enum cfs_action a);
/* The action whose stored name is exactly s: 0 with *out set, or -EINVAL
 * (s NULL or no action's name; *out untouched). */
int cfs_action_parse(const char *s, enum cfs_action *out);

/* Every name, in enum order, joined by ", " ("mount, unmount, ...,
 * audit_query"), for messages; cap of CFS_ACTION_LIST_MAX is enough. */
#define CFS_ACTION_LIST_MAX 512
void cfs_action_list(char *out, size_t cap);

#endif
