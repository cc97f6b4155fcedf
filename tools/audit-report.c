/* audit-report.c — coach-audit report --html FILE: gathers what the page
 * shows (audit-html.c draws it): the verify status of the log, computed as
 * 'coach-audit verify' does; opens, reads, denials and exports per user and
 * file over time; and grants as bars, taken from the log's grant_add and
 * grant_revoke rows (policy.db's rows can only be checked with the store
 * key, which an auditor does not hold; the log's rows are hash-chained and
 * signed). It owns the aggregation and writing FILE atomically; it must
 * never write the log other than by its one audit_query row, and never
 * trust a string from the log (the page escapes every one). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coachfs/action.h"
#include "coachfs/util.h"
#include "audit-cmd.h"

#define MINUTE_US (60 * INT64_C(1000000))
/* The axis ends by here (some 73,000 years after 1970): a forged time
 * beyond it is clamped, so no axis arithmetic can overflow. */
#define AXIS_MAX_US (INT64_MAX / 4)

/* ---- the time axis ----------------------------------------------------------- */

struct span {
	int64_t lo, hi;   /* minutes with events; lo > hi: none */
};

static int span_cb(const char *const *vals, int64_t bucket, int64_t n, void *arg)
{
	struct span *s = arg;
	(void)vals;
	(void)n;
	if (bucket < s->lo)
		s->lo = bucket;
	if (bucket > s->hi)
		s->hi = bucket;
	return 0;
}

/* From --since/--until, else the first and last minute with events. */
static int time_axis(struct cfs_audit *a, const struct cfs_audit_filter *f,
		     struct cfs_at_report *r, struct cfs_err *err)
{
	struct span s = { INT64_MAX, INT64_MIN };
	int64_t t0, t1;
	int rc = cfs_audit_group(a, f, NULL, 0, MINUTE_US, span_cb, &s, err);
	if (rc != 0)
		return rc;
	if (s.lo > s.hi)
		s.lo = s.hi = cfs_now_s() / 60;
	if (s.lo < 0)          /* a forged negative time: start at the epoch */
		s.lo = 0;
	if (s.hi < 0)
		s.hi = 0;
	if (s.hi > AXIS_MAX_US / MINUTE_US - 1)
		s.hi = AXIS_MAX_US / MINUTE_US - 1;
	if (s.lo > s.hi)
		s.lo = s.hi;
	t0 = f->since_us != CFS_AUDIT_NONE ? f->since_us : s.lo * MINUTE_US;
	t1 = f->until_us != CFS_AUDIT_NONE ? f->until_us : (s.hi + 1) * MINUTE_US;
	if (t0 > AXIS_MAX_US - MINUTE_US)
		t0 = AXIS_MAX_US - MINUTE_US;
	if (t1 > AXIS_MAX_US)
		t1 = AXIS_MAX_US;
	if (t1 <= t0)
		t1 = t0 + MINUTE_US;
	/* COLS - 1 columns cover [t0, t1): the start floored to a column
	 * boundary moves back less than one column */
	r->width = (t1 - t0 + CFS_AT_COLS - 2) / (CFS_AT_COLS - 1);
	if (r->width < 1000000)
		r->width = 1000000;
	r->t0 = t0 / r->width * r->width;
	return 0;
}

/* ---- lanes: user and file pairs ---------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int pairs_cb(const char *const *vals, int64_t bucket, int64_t n, void *arg)
{
	struct cfs_at_report *r = arg;
	(void)bucket;
	if (r->nlanes == CFS_AT_LANES) {
		r->other_pairs++;
		r->other_events += n;
		return 0;
	}
	struct cfs_at_lane *l = &r->lanes[r->nlanes];
	memset(l, 0, sizeof *l);
	l->user = dup_or_null(vals[0]);
	l->path = dup_or_null(vals[1]);
	if ((vals[0] && !l->user) || (vals[1] && !l->path))
		return -ENOMEM;
	r->nlanes++;
	return 0;
}

/* Which of the four kinds a row is: a denial of anything; an export (of
 * any result); an open or replay, or a read, that was not denied (the
 * action table's properties). An action this version does not know is of
 * no kind but a denial; its rows still count among the events, and the
 * page says how many there are. */
static unsigned kinds(const char *action, const char *result, int *known)
{
	unsigned k = 0, fl = 0;
	enum cfs_action act;
	int deny = result && strcmp(result, "deny") == 0;
	if (deny)
		k |= 1u << CFS_AT_DENY;
	*known = cfs_action_parse(action, &act) == 0;
	if (*known)
		fl = cfs_action_flags(act);
	if (fl & CFS_ACTF_EXPORTS)
		k |= 1u << CFS_AT_EXPORT;
	else if (!deny && (fl & CFS_ACTF_OPENS))
		k |= 1u << CFS_AT_OPEN;
	else if (!deny && (fl & CFS_ACTF_READS))
		k |= 1u << CFS_AT_READ;
	return k;
}

static int cells_cb(const char *const *vals, int64_t bucket, int64_t n, void *arg)
{
	struct cfs_at_report *r = arg;
	int known;
	unsigned k = kinds(vals[2], vals[3], &known);
	struct cfs_at_lane *l = NULL;
	int64_t col = bucket - r->t0 / r->width;
	r->events += n;
	if (!known)
		r->unknown_actions += n;
	for (size_t i = 0; i < r->nlanes && !l; i++)
		if (same(r->lanes[i].user, vals[0]) && same(r->lanes[i].path, vals[1]))
			l = &r->lanes[i];
	if (l)
		l->total += n;
	for (int j = 0; j < CFS_AT_KINDS; j++) {
		if (!(k & 1u << j))
			continue;
		r->kinds[j] += n;
		if (!l)
			continue;
		l->n[j] += n;
		if (col >= 0 && col < CFS_AT_COLS)
			l->cell[col][j] += n;
	}
	return 0;
}

static int activity(struct cfs_audit *a, const struct cfs_audit_filter *f,
		    struct cfs_at_report *r, struct cfs_err *err)
{
	static const enum cfs_audit_key pair[] = { CFS_AUDIT_KEY_USER, CFS_AUDIT_KEY_PATH };
	static const enum cfs_audit_key all[] = { CFS_AUDIT_KEY_USER, CFS_AUDIT_KEY_PATH,
						  CFS_AUDIT_KEY_ACTION, CFS_AUDIT_KEY_RESULT };
	int rc = cfs_audit_group(a, f, pair, 2, 0, pairs_cb, r, err);
	if (rc == 0)
		rc = cfs_audit_group(a, f, all, 4, r->width, cells_cb, r, err);
	return rc;
}

/* ---- grants, from the log ---------------------------------------------------- */

/* The UTC time after "key" in text ("... from 2026-12-03T10:00:00Z ..."). */
static int64_t time_after(const char *text, const char *key)
{
	const char *p = text ? strstr(text, key) : NULL;
	char t[32];
	int64_t s;
	if (!p || strlen(p + strlen(key)) < 20)
		return 0;
	memcpy(t, p + strlen(key), 20);
	t[20] = 0;
	return cfs_parse_time(t, 0, &s) == 0 && t[19] == 'Z' ? s : 0;
}

/* "grant N to SUBJECT from ..." (coach-grant's words): SUBJECT, or NULL. */
static char *subject_of(const char *reason)
{
	const char *p = reason ? strstr(reason, " to ") : NULL;
	const char *e = p ? strstr(p + 4, " from ") : NULL;
	if (!e || strncmp(reason, "grant ", 6) != 0)
		return NULL;
	return strndup(p + 4, (size_t)(e - p - 4));
}

static int grant_cb(const struct cfs_audit_row *row, void *arg)
{
	struct cfs_at_report *r = arg;
	if (row->ev.grant_id == CFS_AUDIT_NONE || !row->ev.result ||
	    strcmp(row->ev.result, "allow") != 0)
		return 0;
	if (r->ngrants == CFS_AT_GRANTS) {   /* keep the newest: drop the oldest */
		free(r->grants[0].subject);
		free(r->grants[0].path);
		free(r->grants[0].by);
		memmove(r->grants, r->grants + 1, (CFS_AT_GRANTS - 1) * sizeof *r->grants);
		r->ngrants--;
		r->grants_left_out++;
	}
	struct cfs_at_grant *g = &r->grants[r->ngrants];
	memset(g, 0, sizeof *g);
	g->id = row->ev.grant_id;
	g->added = row->ev.ts == CFS_AUDIT_NONE ? 0 : row->ev.ts / 1000000;
	g->start = time_after(row->ev.reason, " from ");
	g->end = time_after(row->ev.reason, " until ");
	g->subject = subject_of(row->ev.reason);
	g->path = dup_or_null(row->ev.path);
	g->by = dup_or_null(row->ev.user);
	r->ngrants++;
	return 0;
}

static int revoke_cb(const struct cfs_audit_row *row, void *arg)
{
	struct cfs_at_report *r = arg;
	if (row->ev.ts == CFS_AUDIT_NONE || row->ev.grant_id == CFS_AUDIT_NONE)
		return 0;
	for (size_t i = 0; i < r->ngrants; i++)
		if (r->grants[i].id == row->ev.grant_id && !r->grants[i].revoked)
			r->grants[i].revoked = row->ev.ts / 1000000;
	return 0;
}

/* Every grant added before the end of the range, on PATH or under it. */
static int grants(struct cfs_audit *a, const struct cfs_audit_filter *f,
		  struct cfs_at_report *r, struct cfs_err *err)
{
	struct cfs_audit_filter g = *f;
	int rc;
	r->grants = calloc(CFS_AT_GRANTS, sizeof *r->grants);
	if (!r->grants)
		return cfs_errf(err, -ENOMEM, "out of memory");
	g.since_us = CFS_AUDIT_NONE;
	g.has_action = 1;
	g.action = CFS_ACT_GRANT_ADD;
	rc = cfs_audit_query(a, &g, grant_cb, r, err);
	g.action = CFS_ACT_GRANT_REVOKE;
	if (rc == 0)
		rc = cfs_audit_query(a, &g, revoke_cb, r, err);
	return rc;
}

/* ---- verify, the page, the command ------------------------------------------- */

static void verify_status(const struct cfs_at_opts *o, const char *db, struct cfs_at_report *r)
{
	unsigned char pk[CFS_AUDIT_PK_BYTES];
	struct cfs_err err = { "" };
	memset(&r->vr, 0, sizeof r->vr);
	r->key_beside = !o->pubkey;
	if (cfs_at_load_pubkey(o, db, pk) != 0) {
		cfs_strlcpy(r->verify_msg, "no usable audit public key (see the message on standard "
			    "error)", sizeof r->verify_msg);
		return;
	}
	r->verified = cfs_audit_verify(db, pk, &r->vr, &err) == 0;
	if (!r->verified)
		cfs_strlcpy(r->verify_msg, err.msg, sizeof r->verify_msg);
}

static void report_free(struct cfs_at_report *r)
{
	for (size_t i = 0; i < r->nlanes; i++) {
		free(r->lanes[i].user);
		free(r->lanes[i].path);
	}
	for (size_t i = 0; r->grants && i < r->ngrants; i++) {
		free(r->grants[i].subject);
		free(r->grants[i].path);
		free(r->grants[i].by);
	}
	free(r->grants);
}

/* FILE, written whole or not at all: FILE.tmp (0640), fsync, rename. */
static int write_page(const char *file, const struct cfs_at_report *r)
{
	char tmp[4200];
	if (!*file || strlen(file) + 5 >= sizeof tmp)
		return cfs_say(EXIT_USAGE, "--html: '%.80s' is empty or too long", file);
	snprintf(tmp, sizeof tmp, "%s.tmp", file);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return cfs_say(EXIT_FAIL, "--html: %s: %s", tmp, strerror(e));
	}
	int rc = cfs_at_html(f, r);
	if (rc == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, file) < 0)
		rc = -errno;
	if (rc != 0) {
		unlink(tmp);
		return cfs_say(EXIT_FAIL, "--html: %s: %s", file, strerror(-rc));
	}
	return 0;
}

int cfs_at_cmd_report(const struct cfs_at_opts *o, const char *db, int live)
{
	struct cfs_audit_filter f;
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct cfs_at_report *r = calloc(1, sizeof *r);
	char path[4096], words[1800];
	int rc;
	if (!r)
		return cfs_say(EXIT_FAIL, "out of memory");
	if ((rc = cfs_at_filter(o, &f, path, sizeof path, words, sizeof words)) == 0 &&
	    (rc = cfs_at_open(db, live, 1, "report", f.path, words, &a)) == 0) {
		r->db = db;
		r->path = f.path;
		verify_status(o, db, r);
		if ((rc = time_axis(a, &f, r, &err)) == 0 && (rc = activity(a, &f, r, &err)) == 0)
			rc = grants(a, &f, r, &err);
		cfs_audit_close(a, NULL);
		rc = rc ? cfs_say(EXIT_FAIL, "%s", err.msg) : write_page(o->html, r);
	}
	if (rc == 0)
		printf("wrote %s: %lld event%s, the log %s\n", o->html, (long long)r->events,
		       r->events == 1 ? "" : "s", r->verified ? "verified" : "NOT verified");
	report_free(r);
	free(r);
	return rc == 0 && fflush(stdout) != 0 ? EXIT_FAIL : rc;
}
