/* derive.c — a test helper for t_users: a program that reads a file in one
 * thread or process and writes what it read in another, the ways real
 * programs do (thread pools, fork).
 *   derive threads SRC DST    thread A opens and reads SRC; thread B then
 *                             creates DST and writes it
 *   derive forkwrite SRC DST  the parent creates DST, forks; the child opens
 *                             and reads SRC and writes through the inherited
 *                             DST descriptor
 *   derive forkread SRC DST   the parent opens and reads SRC, forks; the
 *                             child creates DST and writes what the parent read
 *   derive inherit SRC        the parent opens SRC, forks; the child reads it
 *                             through the inherited descriptor and prints its pid
 * Exit 0 when every step worked; a failing step is named on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char buf[4096];
static ssize_t got = -1;
static const char *src, *dst;
static int failed;

static void die(const char *what)
{
	fprintf(stderr, "derive: %s: %s\n", what, strerror(errno));
	failed = 1;
}

static void read_src(int fd)
{
	got = pread(fd, buf, sizeof buf, 0);
	if (got < 0)
		die("read SRC");
}

static void write_dst(int fd)
{
	if (got < 0 || write(fd, buf, (size_t)got) != got)
		die("write DST");
}

static void *reader(void *arg)
{
	(void)arg;
	int fd = open(src, O_RDONLY);
	if (fd < 0) {
		die("open SRC");
		return NULL;
	}
	read_src(fd);
	close(fd);
	return NULL;
}

static void *writer(void *arg)
{
	(void)arg;
	int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		die("create DST");
		return NULL;
	}
	write_dst(fd);
	if (close(fd) != 0)
		die("close DST");
	return NULL;
}

static int child_status(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: derive threads|forkwrite|forkread SRC DST | inherit SRC\n");
		return 2;
	}
	src = argv[2];
	dst = argc > 3 ? argv[3] : NULL;
	const char *mode = argv[1];
	if (!strcmp(mode, "threads") && dst) {
		pthread_t a, b;
		if (pthread_create(&a, NULL, reader, NULL) != 0 || pthread_join(a, NULL) != 0)
			return 1;
		if (pthread_create(&b, NULL, writer, NULL) != 0 || pthread_join(b, NULL) != 0)
			return 1;
		return failed;
	}
	if (!strcmp(mode, "forkwrite") && dst) {
		int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (out < 0) {
			die("create DST");
			return 1;
		}
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			int in = open(src, O_RDONLY);
			if (in < 0) {
				die("open SRC");
				_exit(1);
			}
			read_src(in);
			write_dst(out);
			_exit(failed);
		}
		int rc = child_status(pid);
		return close(out) != 0 || rc;
	}
	if (!strcmp(mode, "forkread") && dst) {
		int in = open(src, O_RDONLY);
		if (in < 0) {
			die("open SRC");
			return 1;
		}
		read_src(in);
		close(in);
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			writer(NULL);
			_exit(failed);
		}
		return child_status(pid) || failed;
	}
	if (!strcmp(mode, "inherit")) {
		int in = open(src, O_RDONLY);
		if (in < 0) {
			die("open SRC");
			return 1;
		}
		printf("parent %ld\n", (long)getpid());
		fflush(stdout);
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			read_src(in);
			printf("child %ld\n", (long)getpid());
			fflush(stdout);
			_exit(failed || got <= 0);
		}
		return child_status(pid);
	}
	fprintf(stderr, "derive: unknown mode %s\n", mode);
	return 2;
}
