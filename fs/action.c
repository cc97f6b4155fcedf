/* action.c — the table of audit actions: each enum value's stored name and
 * properties, and the name <-> enum mapping. Owns no state; must never
 * print, allocate or accept a name that is not in the table. */
#include "coachfs/action.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	unsigned flags;
} TABLE[CFS_ACT_COUNT] = {
	[CFS_ACT_MOUNT] = { "mount", 0 },
	[CFS_ACT_UNMOUNT] = { "unmount", 0 },
	[CFS_ACT_OPEN] = { "open", CFS_ACTF_OPENS },
	[CFS_ACT_REPLAY] = { "replay", CFS_ACTF_OPENS },
	[CFS_ACT_READ] = { "read", CFS_ACTF_READS },
	[CFS_ACT_WRITE] = { "write", 0 },
	/* a name of the contract, accepted by coach-audit --action; this
	 * version writes no release row */
	[CFS_ACT_RELEASE] = { "release", 0 },
	[CFS_ACT_CREATE] = { "create", 0 },
	[CFS_ACT_UNLINK] = { "unlink", 0 },
	[CFS_ACT_RENAME] = { "rename", 0 },
	[CFS_ACT_EXPORT] = { "export", CFS_ACTF_EXPORTS },
	[CFS_ACT_SETXATTR] = { "setxattr", 0 },
	[CFS_ACT_TAMPER] = { "tamper", 0 },
	[CFS_ACT_GRANT_ADD] = { "grant_add", 0 },
	[CFS_ACT_GRANT_REVOKE] = { "grant_revoke", 0 },
	[CFS_ACT_GRANT_APPROVE] = { "grant_approve", 0 },
	[CFS_ACT_GRANT_REQUEST] = { "grant_request", 0 },
	[CFS_ACT_GRANT_DENY] = { "grant_deny", 0 },
	[CFS_ACT_BREAKGLASS] = { "breakglass", 0 },
	[CFS_ACT_BREAKGLASS_REVIEW] = { "breakglass_review", 0 },
	[CFS_ACT_LINK_ISSUE] = { "link_issue", 0 },
	[CFS_ACT_LINK_USE] = { "link_use", 0 },
	[CFS_ACT_AUDIT_QUERY] = { "audit_query", 0 },
};

const char *cfs_action_name(enum cfs_action a)
{
	return (unsigned)a < CFS_ACT_COUNT ? TABLE[a].name : NULL;
}

unsigned cfs_action_flags(enum cfs_action a)
{
	return (unsigned)a < CFS_ACT_COUNT ? TABLE[a].flags : 0;
}

int cfs_action_parse(const char *s, enum cfs_action *out)
{
	if (!s)
		return -EINVAL;
	for (unsigned k = 0; k < CFS_ACT_COUNT; k++)
		if (strcmp(s, TABLE[k].name) == 0) {
			*out = (enum cfs_action)k;
			return 0;
		}
	return -EINVAL;
}

void cfs_action_list(char *out, size_t cap)
{
	size_t n = 0;
	if (!cap)
		return;
	out[0] = 0;
	for (unsigned k = 0; k < CFS_ACT_COUNT && n < cap; k++) {
		int w = snprintf(out + n, cap - n, "%s%s", k ? ", " : "", TABLE[k].name);
		if (w < 0)
			return;
		n += (size_t)w;
	}
}
