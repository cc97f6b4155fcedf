/* audit_group.c — group commit of synchronous audit rows (the row per open,
 * committed before the open returns). Each caller puts its row in a list
 * and takes the database lock; whoever gets it and finds its own row not yet
 * committed becomes the leader and commits every row waiting (up to
 * GROUP_MAX, its own among them) in one transaction; the threads that
 * arrived while a commit was in flight find theirs committed by the time
 * they get the lock, and return at once. Owns: that list and the hand-over
 * of each row's outcome. Must never return 0 for a row that is not
 * committed (a failed transaction fails every row in it: fail closed), and
 * never keep a pointer to a row after its thread returned. */
#include "coachfs/audit.h"
#include "audit_int.h"

#include <pthread.h>

/* Rows one transaction commits at most (the FUSE threads waiting). */
#define GROUP_MAX 64

/* Commit the oldest waiting rows. Caller holds db_mu. */
static void lead(struct cfs_audit *a)
{
	const struct cfs_event *evs[GROUP_MAX];
	struct cfs_aud_ticket *taken[GROUP_MAX];
	size_t n = 0;
	pthread_mutex_lock(&a->q_mu);
	while (a->g_head && n < GROUP_MAX) {
		taken[n] = a->g_head;
		evs[n++] = a->g_head->ev;
		a->g_head = a->g_head->next;
	}
	if (!a->g_head)
		a->g_tail = NULL;
	pthread_mutex_unlock(&a->q_mu);
	struct cfs_err e = { "" };
	int rc = cfs_aud_drain_locked(a, evs, n, &e, NULL);
	if (rc == 0) {
		a->g_rows += n;
		a->g_commits++;
	}
	for (size_t k = 0; k < n; k++) {
		taken[k]->rc = rc;
		if (rc < 0)
			taken[k]->err = e;
		taken[k]->done = 1;
	}
}

int cfs_aud_group_commit(struct cfs_audit *a, const struct cfs_event *ev, struct cfs_err *err)
{
	struct cfs_aud_ticket t = { ev, NULL, 0, 0, { "" } };
	pthread_mutex_lock(&a->q_mu);
	if (a->g_tail)
		a->g_tail->next = &t;
	else
		a->g_head = &t;
	a->g_tail = &t;
	pthread_mutex_unlock(&a->q_mu);
	pthread_mutex_lock(&a->db_mu);
	while (!t.done)
		lead(a);
	pthread_mutex_unlock(&a->db_mu);
	if (t.rc < 0 && err)
		*err = t.err;
	return t.rc;
}

void cfs_audit_group_stats(struct cfs_audit *a, unsigned long *rows, unsigned long *commits)
{
	pthread_mutex_lock(&a->db_mu);
	*rows = a->g_rows;
	*commits = a->g_commits;
	pthread_mutex_unlock(&a->db_mu);
}
