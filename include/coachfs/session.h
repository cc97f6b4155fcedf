/* session.h — grants bound to one process tree (`coach-grant run`): whether
 * a session's process still runs, and the facts a decision about a
 * session-bound grant needs. session.c reads /proc only through caller.c;
 * it must never decide access (policy.c does, from these facts) and never
 * trust a pid without its start time and boot. */
#ifndef COACHFS_SESSION_H
#define COACHFS_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "coachfs/caller.h"
#include "coachfs/policy.h"

/* Does process pid still run with this start time on boot `boot` (the
 * boot id the grant recorded; this_boot: the current one, or NULL to read
 * it)? 1 yes, 0 no (gone, reused, another boot, or unreadable: fail
 * closed). */
int cfs_session_live(pid_t pid, uint64_t start, const char *boot, const char *this_boot);

/* Fill the daemon's facts into candidate grants g[0..n): session_live for
 * each session-bound one; and l, the lineage of caller cl (always set, so
 * it can be the request's): when lineage is needed (not a recheck of a
 * handle) and some bound grant is live, its process pinned and its
 * ancestors walked, once. Unbound grants are left alone and cost nothing. */
void cfs_session_facts(struct cfs_grant *g, size_t n, const struct cfs_caller *cl,
		       struct cfs_lineage *l, int need_lineage);

/* "running" or "ended" for a session-bound grant (tools' list and show). */
const char *cfs_session_state(const struct cfs_grant *g);

#endif
