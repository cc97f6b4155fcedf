/* test_caller_cache.c — the caller cache (fs/caller_cache.c): names are
 * served from it while fresh, start times while the process lives, and a
 * process that reuses a cached pid is never given the old one's start time
 * (the pid is made to be reused through /proc/sys/kernel/ns_last_pid, which
 * needs root, as make test runs). */
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coachfs/caller.h"
#include "coachfs/caller_cache.h"

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A child that waits to be killed; its pid. */
static pid_t sleeper(void)
{
	pid_t p = fork();
	if (p == 0) {
		for (;;)
			pause();
	}
	return p;
}

static void end_child(pid_t p)
{
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
}

/* A sleeper with exactly pid want (the next pid set to want - 1 before each
 * fork, a few tries: other processes fork too); -1 if it could not be had. */
static pid_t sleeper_at(pid_t want)
{
	for (int tries = 0; tries < 200; tries++) {
		int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		char buf[32];
		int n = snprintf(buf, sizeof buf, "%ld", (long)want - 1);
		ssize_t w = write(fd, buf, (size_t)n);
		close(fd);
		if (w != n)
			return -1;
		pid_t p = sleeper();
		if (p == want)
			return p;
		if (p > 0)
			end_child(p);
	}
	return -1;
}

static void names_cached(void)
{
	struct cfs_ccache *cc;
	struct cfs_ccache_stats st;
	char a[CFS_USER_MAX], b[CFS_USER_MAX];
	T_EQ_INT(cfs_ccache_new(&cc), 0);
	cfs_ccache_user(cc, 0, a, sizeof a);
	cfs_ccache_user(cc, 0, b, sizeof b);
	T_EQ_STR(a, "root");
	T_EQ_STR(b, "root");
	cfs_ccache_user(cc, 3999999999u, a, sizeof a);
	T_EQ_STR(a, "#3999999999");
	cfs_ccache_stats(cc, &st);
	T_EQ_INT(st.name_misses, 2);
	T_EQ_INT(st.name_hits, 1);
	/* a name that does not fit the caller's buffer is never cut */
	char tiny[4];
	cfs_ccache_user(cc, 0, tiny, sizeof tiny);
	T_EQ_STR(tiny, "#0");
	cfs_ccache_free(cc);
}

static void start_cached_while_alive(void)
{
	struct cfs_ccache *cc;
	struct cfs_ccache_stats st;
	T_EQ_INT(cfs_ccache_new(&cc), 0);
	pid_t p = sleeper();
	T_CHECK(p > 0);
	uint64_t want = cfs_proc_start(p);
	T_CHECK(want != 0);
	T_EQ_INT(cfs_ccache_start(cc, p), want);
	T_EQ_INT(cfs_ccache_start(cc, p), want);
	cfs_ccache_stats(cc, &st);
	T_EQ_INT(st.proc_misses, 1);
	T_EQ_INT(st.proc_hits, 1);
	end_child(p);
	/* gone: dropped, not served */
	T_EQ_INT(cfs_ccache_start(cc, p), 0);
	cfs_ccache_stats(cc, &st);
	T_EQ_INT(st.proc_hits, 1);
	T_EQ_INT(st.proc_gone, 1);
	T_EQ_INT(cfs_ccache_start(cc, 0), 0);
	T_EQ_INT(cfs_ccache_start(cc, -5), 0);
	cfs_ccache_free(cc);
}

static void reused_pid_never_inherits(void)
{
	struct cfs_ccache *cc;
	struct cfs_ccache_stats st;
	T_EQ_INT(cfs_ccache_new(&cc), 0);
	pid_t p = sleeper();
	T_CHECK(p > 0);
	uint64_t first = cfs_ccache_start(cc, p);
	T_CHECK(first != 0);
	end_child(p);
	nap_ms(30);   /* start times count clock ticks: let at least one pass */
	pid_t q = sleeper_at(p);
	T_EQ_INT(q, p);
	if (q != p) {
		cfs_ccache_free(cc);
		return;
	}
	uint64_t second = cfs_proc_start(q);
	T_CHECK(second != 0 && second != first);
	T_EQ_INT(cfs_ccache_start(cc, q), second);
	cfs_ccache_stats(cc, &st);
	T_EQ_INT(st.proc_gone, 1);
	T_EQ_INT(st.proc_hits, 0);
	T_EQ_INT(cfs_ccache_start(cc, q), second);   /* and now cached for q */
	end_child(q);
	cfs_ccache_free(cc);
}

static void many_processes_evict(void)
{
	struct cfs_ccache *cc;
	struct cfs_ccache_stats st;
	pid_t kids[CFS_CCACHE_PROCS + 8];
	int n = (int)(sizeof kids / sizeof kids[0]);
	T_EQ_INT(cfs_ccache_new(&cc), 0);
	for (int i = 0; i < n; i++) {
		kids[i] = sleeper();
		T_CHECK(kids[i] > 0);
		T_EQ_INT(cfs_ccache_start(cc, kids[i]), cfs_proc_start(kids[i]));
	}
	/* the newest are still held; every answer is right either way */
	T_EQ_INT(cfs_ccache_start(cc, kids[n - 1]), cfs_proc_start(kids[n - 1]));
	T_EQ_INT(cfs_ccache_start(cc, kids[0]), cfs_proc_start(kids[0]));
	cfs_ccache_stats(cc, &st);
	T_EQ_INT(st.proc_hits, 1);
	T_EQ_INT(st.proc_misses, n + 1);
	for (int i = 0; i < n; i++)
		end_child(kids[i]);
	cfs_ccache_free(cc);
}

static void no_cache_reads_afresh(void)
{
	char a[CFS_USER_MAX];
	cfs_ccache_user(NULL, 0, a, sizeof a);
	T_EQ_STR(a, "root");
	T_EQ_INT(cfs_ccache_start(NULL, getpid()), cfs_proc_start(getpid()));
	struct cfs_ccache_stats st;
	cfs_ccache_stats(NULL, &st);
	T_EQ_INT(st.proc_hits + st.name_hits, 0);
	cfs_ccache_free(NULL);
}

int main(void)
{
	T_RUN(names_cached);
	T_RUN(start_cached_while_alive);
	T_RUN(reused_pid_never_inherits);
	T_RUN(many_processes_evict);
	T_RUN(no_cache_reads_afresh);
	T_END();
}
