/* policy_session.c — the pure decision, continued: session-bound grants
 * (`coach-grant run`). A grant bound to a process admits only that process
 * and its descendants, and only while it runs. The facts (is the process
 * alive, the caller's pinned ancestry) are inputs, gathered by session.c.
 * Like policy.c it must never perform I/O, read a clock or keep state. */
#include "policy_int.h"

#include <stdio.h>
#include <string.h>

static int same_proc(const struct cfs_proc *p, const struct cfs_grant *g)
{
	return p->pid == g->session_pid && p->start == g->session_start && p->start != 0;
}

/* Is the caller's process the session's process or one of its descendants?
 * Only a walked lineage counts beyond the process itself; an ancestor past
 * CFS_ANCESTORS_MAX, or a process reparented away from the session (its
 * parent exited), is not in it. */
static int in_session(const struct cfs_grant *g, const struct cfs_lineage *l)
{
	if (!l)
		return 0;
	if (same_proc(&l->self, g))
		return 1;
	for (int i = 0; l->walked && i < l->n && i < CFS_ANCESTORS_MAX; i++)
		if (same_proc(&l->anc[i], g))
			return 1;
	return 0;
}

int cfs_policy_session_refuses(const struct cfs_grant *g, int recheck,
			       const struct cfs_lineage *l)
{
	if (g->session_pid == 0)
		return 0;
	return !g->session_live || (!recheck && !in_session(g, l));
}

static const char *cmd_of(const struct cfs_grant *g)
{
	return g->session_cmd && g->session_cmd[0] ? g->session_cmd : "?";
}

void cfs_policy_session_why(const struct cfs_grant *g, const char *id,
			    const struct cfs_lineage *l, char *out, size_t n)
{
	if (!g->session_live)
		snprintf(out, n, "%s is bound to session %ld (%s), which has ended", id,
			 (long)g->session_pid, cmd_of(g));
	else
		snprintf(out, n, "%s is bound to session %ld (%s) and process %ld is not in it", id,
			 (long)g->session_pid, cmd_of(g), l ? (long)l->self.pid : 0L);
}

void cfs_policy_session_admits(const struct cfs_grant *g, char *out, size_t n)
{
	size_t l = strnlen(out, n);
	if (g->session_pid && l + 1 < n)
		snprintf(out + l, n - l, " in session %ld (%s)", (long)g->session_pid, cmd_of(g));
}
