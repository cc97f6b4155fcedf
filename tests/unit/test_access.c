/* test_access.c — derived-content tracking in access.c (by process, its
 * ancestors, a bounded table that drops only processes that are gone and
 * fails closed when live ones fill it) and the /proc parsers in caller.c it
 * relies on, with exact results. Real processes (this one, forked children)
 * stand in for callers. */
#include "coachfs/access.h"
#include "t.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void parse_status(void)
{
	static const char txt[] = "Name:\tcat\nUmask:\t0022\nState:\tR (running)\nTgid:\t4242\n"
				  "Ngid:\t0\nPid:\t4250\nPPid:\t17\nTracerPid:\t0\n"
				  "Uid:\t1000\t1000\t1000\t1000\nGid:\t100\t100\t100\t100\n"
				  "FDSize:\t64\nGroups:\t100 2000 3000 \nNStgid:\t4242\n";
	pid_t tgid = 0, ppid = 0;
	gid_t g[8];
	int n = -1;
	T_EQ_INT(cfs_parse_proc_status(txt, &tgid, &ppid, g, 8, &n), 0);
	T_EQ_INT(tgid, 4242);
	T_EQ_INT(ppid, 17);
	T_EQ_INT(n, 3);
	T_EQ_INT(g[0], 100);
	T_EQ_INT(g[1], 2000);
	T_EQ_INT(g[2], 3000);
	/* more groups than room: the first ones kept */
	T_EQ_INT(cfs_parse_proc_status(txt, &tgid, &ppid, g, 2, &n), 0);
	T_EQ_INT(n, 2);
	/* no supplementary groups */
	T_EQ_INT(cfs_parse_proc_status("Tgid:\t5\nPPid:\t1\nGroups:\t\n", &tgid, &ppid, g, 8, &n), 0);
	T_EQ_INT(n, 0);
	T_EQ_INT(tgid, 5);
	/* hostile or damaged text */
	T_EQ_INT(cfs_parse_proc_status("PPid:\t1\nGroups:\t\n", &tgid, &ppid, g, 8, &n), -EINVAL);
	T_EQ_INT(cfs_parse_proc_status("Tgid:\t0\nPPid:\t1\nGroups:\t\n", &tgid, &ppid, g, 8, &n), -EINVAL);
	T_EQ_INT(cfs_parse_proc_status("Tgid:\t9x\nPPid:\t1\nGroups:\t\n", &tgid, &ppid, g, 8, &n), -EINVAL);
	T_EQ_INT(cfs_parse_proc_status("Tgid:\t99999999999\nPPid:\t1\nGroups:\t\n", &tgid, &ppid, g, 8, &n),
		 -EINVAL);
	T_EQ_INT(cfs_parse_proc_status("Tgid:\t5\nPPid:\t1\n", &tgid, &ppid, g, 8, &n), -EINVAL);
	T_EQ_INT(cfs_parse_proc_status("Tgid:\t5\nPPid:\t1\nGroups:\t1 x\n", &tgid, &ppid, g, 8, &n), -EINVAL);
	T_EQ_INT(cfs_parse_proc_status(NULL, &tgid, &ppid, g, 8, &n), -EINVAL);
	/* the real thing */
	T_EQ_INT(cfs_proc_status(getpid(), &tgid, &ppid, g, 8, &n), 0);
	T_EQ_INT(tgid, getpid());
	T_EQ_INT(ppid, getppid());
}

static void parse_stat(void)
{
	pid_t pp = 0;
	uint64_t st = 0;
	static const char line[] = "4242 (a) b) c) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 "
				   "20 0 1 0 987654 1000 10 18446744073709551615\n";
	T_EQ_INT(cfs_parse_proc_stat(line, &pp, &st), 0);
	T_EQ_INT(pp, 17);
	T_EQ_INT(st, 987654);
	T_EQ_INT(cfs_parse_proc_stat("1 (x) S x 1 1 0 -1 0 0 0 0 0 0 0 0 0 0 0 1 0 5 1", &pp, &st), -EINVAL);
	T_EQ_INT(cfs_parse_proc_stat("1 (x) S", &pp, &st), -EINVAL);
	T_CHECK(cfs_proc_start(getpid()) != 0);
	T_EQ_INT(cfs_proc_start(-1), 0);
}

static struct cfs_ctx *ctx_new(void)
{
	struct cfs_ctx *c = calloc(1, sizeof *c);
	if (c)
		cfs_ctx_locks_init(c);
	return c;
}

static void ctx_free(struct cfs_ctx *c)
{
	cfs_access_free(c);
	cfs_ctx_locks_destroy(c);
	free(c);
}

static void self_lineage(struct cfs_lineage *l)
{
	struct cfs_caller me;
	memset(&me, 0, sizeof me);
	me.pid = me.tgid = getpid();
	me.ppid = getppid();
	me.start_time = cfs_proc_start(getpid());
	cfs_lineage_init(l, &me);
}

/* A child that waits to be killed: a live process to track (it exits by
 * itself after a minute should this test die first). */
static pid_t live_child(int *unused)
{
	*unused = -1;
	pid_t pid = fork();
	if (pid == 0) {
		alarm(60);
		for (;;)
			pause();
	}
	return pid;
}

static void reap(pid_t pid, int unused)
{
	(void)unused;
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/* Threads of one process share its record; a process's own record and its
 * ancestors' count; ranks at or below 0 are not kept. */
static void by_process_and_ancestors(void)
{
	struct cfs_ctx *c = ctx_new();
	struct cfs_lineage me;
	T_CHECK(c != NULL);
	if (!c)
		return;
	self_lineage(&me);
	T_EQ_INT(cfs_access_max_read(c, &me, -1), -1);
	cfs_access_note_read(c, me.self.pid, me.self.start, 0);
	T_EQ_INT(cfs_access_track_procs(c), 0);
	cfs_access_note_read(c, me.self.pid, me.self.start, 2);
	cfs_access_note_read(c, me.self.pid, me.self.start, 1);   /* never lowers */
	T_EQ_INT(cfs_access_max_read(c, &me, -1), 2);
	T_EQ_INT(cfs_access_track_procs(c), 1);
	/* a forked child has no record of its own: it inherits ours */
	int wfd;
	pid_t kid = live_child(&wfd);
	T_CHECK(kid > 0);
	struct cfs_caller kc;
	memset(&kc, 0, sizeof kc);
	kc.pid = kc.tgid = kid;
	kc.ppid = getpid();
	kc.start_time = cfs_proc_start(kid);
	struct cfs_lineage kl;
	cfs_lineage_init(&kl, &kc);
	T_EQ_INT(cfs_access_max_read(c, &kl, -1), 2);
	T_EQ_INT(kl.walked, 1);
	T_CHECK(kl.n >= 1 && kl.anc[0].pid == getpid());
	/* nothing above the floor on record: no walk at all */
	cfs_lineage_init(&kl, &kc);
	T_EQ_INT(cfs_access_max_read(c, &kl, 2), -1);
	T_EQ_INT(kl.walked, 0);
	/* the same pid with another start time is another process */
	struct cfs_lineage other = me;
	other.self.start++;
	other.walked = 1;
	other.n = 0;
	T_EQ_INT(cfs_access_max_read(c, &other, -1), -1);
	reap(kid, wfd);
	ctx_free(c);
}

/* The table is bounded: entries of processes that are gone are dropped to
 * make room, a live one never is, and a note that finds no room makes every
 * process count as having read it (fail closed). */
static void bounded(void)
{
	struct cfs_ctx *c = ctx_new();
	struct cfs_lineage me;
	T_CHECK(c != NULL);
	if (!c)
		return;
	self_lineage(&me);
	cfs_access_track_limit(c, 4);
	cfs_access_note_read(c, me.self.pid, me.self.start, 3);
	/* three "processes" that are gone: this pid with start times it never had */
	for (uint64_t s = 1; s <= 3; s++)
		cfs_access_note_read(c, me.self.pid, s, 2);
	T_EQ_INT(cfs_access_track_procs(c), 4);
	/* full: the next note sweeps the dead ones out and takes their place */
	cfs_access_note_read(c, me.self.pid, 4, 1);
	T_EQ_INT(cfs_access_track_procs(c), 2);
	T_EQ_INT(cfs_access_max_read(c, &me, -1), 3);
	/* fill it with live processes (a second sweep is not due yet) */
	int w[3];
	pid_t k[3];
	for (int i = 0; i < 3; i++) {
		k[i] = live_child(&w[i]);
		T_CHECK(k[i] > 0);
		cfs_access_note_read(c, k[i], cfs_proc_start(k[i]), 1);
	}
	T_EQ_INT(cfs_access_track_procs(c), 4);
	/* the third child found no room: its rank 1 now counts for everyone,
	 * never less than what is on record */
	struct cfs_lineage stranger = { .self = { 1, 12345 }, .walked = 1 };
	T_EQ_INT(cfs_access_max_read(c, &stranger, -1), 1);
	T_EQ_INT(cfs_access_max_read(c, &me, -1), 3);
	for (int i = 0; i < 3; i++)
		reap(k[i], w[i]);
	/* a second later the gone children make room again */
	usleep(1100 * 1000);
	cfs_access_note_read(c, me.self.pid, 5, 2);
	T_CHECK(cfs_access_track_procs(c) <= 3);
	T_EQ_INT(cfs_access_max_read(c, &me, -1), 3);
	T_EQ_INT(cfs_access_max_read(c, &stranger, -1), 1);  /* overflow is kept: fail closed */
	ctx_free(c);
}

int main(void)
{
	T_RUN(parse_status);
	T_RUN(parse_stat);
	T_RUN(by_process_and_ancestors);
	T_RUN(bounded);
	T_END();
}
