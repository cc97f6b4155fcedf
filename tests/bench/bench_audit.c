/* bench_audit.c — throughput of the audit writer: queue 500,000 read rows
 * into a fresh database in a temporary directory and time until all are
 * committed. Prints "audit writer: N rows/s". Owns nothing persistent; must
 * never touch a database outside its temporary directory. */
#include "coachfs/audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(void)
{
	char dir[] = "/tmp/bench_audit.XXXXXX", db[256];
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct cfs_event ev;
	int rc;
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
