/* bench_audit.c — throughput of the audit writer: queue 500,000 read rows
 * into a fresh database in a temporary directory and time until all are
 * committed. Prints "audit writer: N rows/s". With "sync N": N rows
 * committed one at a time as the daemon commits an open's row, and the CPU
 * (user + system) and wall time each took: "audit sync append: X us CPU,
 * Y us wall per row". Owns nothing persistent; must never touch a database
 * outside its temporary directory. */
#include "coachfs/audit.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define ROWS 500000

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void rm_db(const char *dir)
{
	const char *sfx[] = { "/audit.db", "/audit.db-wal", "/audit.db-shm" };
	char p[512];
	for (size_t k = 0; k < 3; k++) {
		snprintf(p, sizeof p, "%s%s", dir, sfx[k]);
		unlink(p);
	}
	rmdir(dir);
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* n synchronous appends of an open row: 0, or -1 with the reason printed. */
static int sync_rows(struct cfs_audit *a, struct cfs_event *ev, long n)
{
	struct cfs_err err = { "" };
	ev->action = CFS_ACT_OPEN;
	ev->offset = CFS_AUDIT_NONE;
	ev->length = CFS_AUDIT_NONE;
	double c0 = cpu_s(), t0 = now_s();
	for (long k = 0; k < n; k++)
		if (cfs_audit_append(a, ev, &err) < 0) {
			fprintf(stderr, "bench_audit: append: %s\n", err.msg);
			return -1;
		}
	double c1 = cpu_s(), t1 = now_s();
	printf("audit sync append: %.1f us CPU, %.1f us wall per row\n", (c1 - c0) * 1e6 / (double)n,
	       (t1 - t0) * 1e6 / (double)n);
	return 0;
}

int main(int argc, char **argv)
{
	long nsync = 0;
	/* as the daemon's main does (fs/main.c) */
	if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK) {
		fprintf(stderr, "bench_audit: cannot configure SQLite\n");
		return 1;
	}
	if (argc == 3 && strcmp(argv[1], "sync") == 0) {
		nsync = strtol(argv[2], NULL, 10);
		if (nsync <= 0 || nsync > 10000000) {
			fprintf(stderr, "usage: bench_audit [sync N]\n");
			return 2;
		}
	} else if (argc != 1) {
		fprintf(stderr, "usage: bench_audit [sync N]\n");
		return 2;
	}
	const char *tmp = getenv("TMPDIR");
	char dir[300], db[340];
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct cfs_event ev;
	int rc;
	snprintf(dir, sizeof dir, "%s/bench_audit.XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("bench_audit: mkdtemp");
		return 1;
	}
	snprintf(db, sizeof db, "%s/audit.db", dir);
	rc = cfs_audit_open(db, 1, &a, &err);
	if (rc == 0)
		rc = cfs_audit_start(a, 50, NULL, &err);
	if (rc < 0) {
		fprintf(stderr, "bench_audit: %s\n", err.msg);
		cfs_audit_close(a, NULL);
		rm_db(dir);
		return 1;
	}
	cfs_event_init(&ev);
	ev.uid = 1001;
	ev.user = "alice";
	ev.pid = 4242;
	ev.exe = "/usr/bin/less";
	ev.action = CFS_ACT_READ;
	ev.path = "/incidents/2026/ir-0042/playbook.md";
	ev.result = "allow";
	ev.grant_id = 17;
	ev.length = 131072;
	if (nsync) {
		rc = sync_rows(a, &ev, nsync);
		int rc2 = cfs_audit_close(a, &err);
		rm_db(dir);
		return rc < 0 || rc2 < 0 ? 1 : 0;
	}
	double t0 = now_s();
	for (int64_t k = 0; k < ROWS; k++) {
		ev.offset = k * 131072;
		rc = cfs_audit_queue(a, &ev);
		if (rc < 0) {
			fprintf(stderr, "bench_audit: queue: %s\n", strerror(-rc));
			break;
		}
	}
	if (rc == 0)
		rc = cfs_audit_flush(a, &err);
	double t1 = now_s();
	int rc2 = cfs_audit_close(a, &err);
	rm_db(dir);
	if (rc < 0 || rc2 < 0) {
		fprintf(stderr, "bench_audit: %s\n", err.msg);
		return 1;
	}
	printf("audit writer: %.0f rows/s\n", ROWS / (t1 - t0));
	return 0;
}
