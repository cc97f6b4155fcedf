/* policy_int.h — what the pure decision module's files share (policy.c and
 * policy_session.c): no I/O, no clock, no state, like all of policy. */
#ifndef COACHFS_POLICY_INT_H
#define COACHFS_POLICY_INT_H

#include <stddef.h>
#include "coachfs/policy.h"

/* Does session-bound grant g refuse this caller? Not when g is unbound.
 * Yes once its process has ended (g->session_live 0); and, except on a
 * recheck of a handle already open (decided when it was opened), when the
 * caller's process is neither the session's process nor a descendant of it
 * (l: its pinned lineage, walked; NULL = unknown). */
int cfs_policy_session_refuses(const struct cfs_grant *g, int recheck,
			       const struct cfs_lineage *l);
/* Why it refuses, for grant words id ("grant 7"), into out[n]. */
void cfs_policy_session_why(const struct cfs_grant *g, const char *id,
			    const struct cfs_lineage *l, char *out, size_t n);
/* Append " in session PID (COMMAND)" to an allowing reason out[n] (nothing
 * for an unbound grant). */
void cfs_policy_session_admits(const struct cfs_grant *g, char *out, size_t n);

#endif
