/* session.c — session-bound grants (`coach-grant run`): whether the process
 * a grant is bound to still runs (same pid, same start time, same boot),
 * and the caller's ancestry, gathered as facts for policy.c.
 * It owns no state. It must never decide access (policy.c does), read
 * /proc except through caller.c, or call a process alive that it could not
 * check (an unreadable /proc entry means ended: fail closed). */
#include "coachfs/session.h"

#include <string.h>

int cfs_session_live(pid_t pid, uint64_t start, const char *boot, const char *this_boot)
{
	char now[CFS_BOOT_ID_LEN + 1];
	if (pid <= 1 || start == 0 || !boot)
		return 0;
	if (!this_boot) {
		if (cfs_proc_boot_id(now, sizeof now) < 0)
			return 0;
		this_boot = now;
	}
	if (strcmp(boot, this_boot) != 0)
		return 0;
	return cfs_proc_start(pid) == start;
}

void cfs_session_facts(struct cfs_grant *g, size_t n, const struct cfs_caller *cl,
		       struct cfs_lineage *l, int need_lineage)
{
	char boot[CFS_BOOT_ID_LEN + 1];
	int have_boot = -1, any_live = 0;
	cfs_lineage_init(l, cl);
	for (size_t i = 0; i < n; i++) {
		if (!g[i].session_pid)
			continue;
		if (have_boot < 0)
			have_boot = cfs_proc_boot_id(boot, sizeof boot) == 0;
		g[i].session_live = have_boot &&
			cfs_session_live(g[i].session_pid, g[i].session_start, g[i].session_boot, boot);
		any_live |= g[i].session_live;
	}
	if (any_live && need_lineage) {
		cfs_lineage_pin(l);   /* a visibility check's caller has ids only */
		cfs_lineage_walk(l);
	}
}

const char *cfs_session_state(const struct cfs_grant *g)
{
	return cfs_session_live(g->session_pid, g->session_start, g->session_boot, NULL)
		       ? "running" : "ended";
}
