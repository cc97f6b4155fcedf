/* audit-summary.c — coach-audit summary, like aureport: counts of the
 * events that match the filters, either the overview (by action and result,
 * by user, the busiest paths) or grouped --by any of user, file, action and
 * result, as aligned text, JSON or CSV. The counting is audit.c's
 * (cfs_audit_count, cfs_audit_group); this file owns the keys and the output,
 * and must never print database text unescaped. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "coachfs/util.h"
#include "audit-cmd.h"

#define TOP_PATHS 10

struct sum {
	enum cfs_at_fmt fmt;
	int group;            /* 0 action/result, 1 user, 2 path */
	int64_t n, total;
};

static void put_pad_term(const char *s, int width)
{
	char b[1024];
	cfs_term_buf(s, b, sizeof b);
	printf("%-*s", width, b);
}

static int sum_cb(const char *key, const char *key2, int64_t n, void *arg)
{
	struct sum *s = arg;
	static const char *const group_name[] = { "action", "user", "path" };
	static const char *const json_key[] = { "action", "user", "path" };
	if (s->fmt == FMT_TEXT) {
		printf("  %10lld  ", (long long)n);
		if (s->group == 0) {
			put_pad_term(key ? key : "-", 16);
			fputs("  ", stdout);
			cfs_put_term(stdout, key2 ? key2 : "-");
		} else {
			cfs_put_term(stdout, key ? key : "-");
		}
		putchar('\n');
	} else if (s->fmt == FMT_JSON) {
		fputs(s->n ? ",\n  {" : "\n  {", stdout);
		printf("\"%s\":", json_key[s->group]);
		cfs_put_json_str(stdout, key);
		if (s->group == 0) {
			fputs(",\"result\":", stdout);
			cfs_put_json_str(stdout, key2);
		}
		printf(",\"count\":%lld}", (long long)n);
	} else {
		printf("%s,", group_name[s->group]);
		cfs_put_csv_str(stdout, key);
		putchar(',');
		if (s->group == 0)
			cfs_put_csv_str(stdout, key2);
		printf(",%lld\r\n", (long long)n);
	}
	s->n++;
	s->total += n;
	return ferror(stdout) ? -EIO : 0;
}

static int summary_default(struct cfs_audit *a, const struct cfs_audit_filter *f, enum cfs_at_fmt fmt,
		   const char *filter_words, struct cfs_err *err)
{
	static const enum cfs_audit_group groups[] = { CFS_AUDIT_BY_ACTION_RESULT,
						       CFS_AUDIT_BY_USER, CFS_AUDIT_BY_PATH };
	static const char *const titles[] = { "by action and result:", "by user:",
					      "top paths:" };
	static const char *const json_names[] = { "by_action_result", "by_user", "top_paths" };
	int64_t total = 0;
	int rc = 0;
	if (fmt == FMT_CSV)
		fputs("group,key,result,count\r\n", stdout);
	if (fmt == FMT_JSON)
		fputs("{", stdout);
	if (fmt == FMT_TEXT && filter_words[0]) {
		fputs("filter:", stdout);
		cfs_put_term(stdout, filter_words);
		putchar('\n');
	}
	for (int g = 0; g < 3 && rc == 0; g++) {
		struct sum s = { fmt, g, 0, 0 };
		if (fmt == FMT_TEXT)
			printf("%s\n", titles[g]);
		else if (fmt == FMT_JSON)
			printf("%s\"%s\":[", g ? ",\n" : "\n", json_names[g]);
		rc = cfs_audit_count(a, f, groups[g], g == 2 ? TOP_PATHS : 0, sum_cb, &s, err);
		if (g == 0)
			total = s.total;
		if (fmt == FMT_TEXT && s.n == 0)
			fputs("  (none)\n", stdout);
		else if (fmt == FMT_JSON)
			fputs(s.n ? "\n]" : "]", stdout);
	}
	if (rc != 0)
		return rc;
	if (fmt == FMT_TEXT)
		printf("events: %lld\n", (long long)total);
	else if (fmt == FMT_JSON)
		printf(",\n\"events\":%lld\n}\n", (long long)total);
	return 0;
}
/* ---- --by ---------------------------------------------------------------------- */

static const char *const BY_NAME[CFS_AUDIT_KEY_COUNT] = { "user", "file", "action", "result" };
#define KEY_WIDTH 16

struct by {
	enum cfs_at_fmt fmt;
	enum cfs_audit_key keys[CFS_AUDIT_KEY_COUNT];
	size_t nkeys;
	int64_t groups, total;
};

/* "user,file": each of user, file, action, result at most once. */
static int parse_by(const char *arg, struct by *b)
{
	char buf[64], *save = NULL;
	if (strlen(arg) >= sizeof buf)
		return cfs_say(EXIT_USAGE, "--by '%.80s': too long", arg);
	cfs_strlcpy(buf, arg, sizeof buf);
	b->nkeys = 0;
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		size_t k;
		for (k = 0; k < CFS_AUDIT_KEY_COUNT && strcmp(w, BY_NAME[k]) != 0; k++)
			;
		if (k == CFS_AUDIT_KEY_COUNT)
			return cfs_say(EXIT_USAGE, "--by: '%.40s' is not one of user, file, action, "
				   "result", w);
		for (size_t j = 0; j < b->nkeys; j++)
			if (b->keys[j] == (enum cfs_audit_key)k)
				return cfs_say(EXIT_USAGE, "--by: '%s' twice", w);
		b->keys[b->nkeys++] = (enum cfs_audit_key)k;
	}
	if (b->nkeys == 0)
		return cfs_say(EXIT_USAGE, "--by: name one or more of user, file, action, result");
	return 0;
}

static void by_head(const struct by *b, const char *words)
{
	if (b->fmt == FMT_CSV) {
		for (size_t k = 0; k < b->nkeys; k++)
			printf("%s,", BY_NAME[b->keys[k]]);
		fputs("count\r\n", stdout);
		return;
	}
	if (b->fmt == FMT_JSON) {
		fputs("{\"by\":[", stdout);
		for (size_t k = 0; k < b->nkeys; k++)
			printf("%s\"%s\"", k ? "," : "", BY_NAME[b->keys[k]]);
		fputs("],\n\"groups\":[", stdout);
		return;
	}
	if (words[0]) {
		fputs("filter:", stdout);
		cfs_put_term(stdout, words);
		putchar('\n');
	}
	printf("%10s", "COUNT");
	for (size_t k = 0; k < b->nkeys; k++)
		printf("  %-*s", k + 1 < b->nkeys ? KEY_WIDTH : 0, BY_NAME[b->keys[k]]);
	putchar('\n');
}

static int by_row(const char *const *vals, int64_t bucket, int64_t n, void *arg)
{
	struct by *b = arg;
	(void)bucket;
	if (b->fmt == FMT_TEXT) {
		printf("%10lld", (long long)n);
		for (size_t k = 0; k < b->nkeys; k++) {
			fputs("  ", stdout);
			if (k + 1 < b->nkeys)
				put_pad_term(vals[k] ? vals[k] : "-", KEY_WIDTH);
			else
				cfs_put_term(stdout, vals[k] ? vals[k] : "-");
		}
		putchar('\n');
	} else if (b->fmt == FMT_JSON) {
		fputs(b->groups ? ",\n  {" : "\n  {", stdout);
		for (size_t k = 0; k < b->nkeys; k++) {
			printf("\"%s\":", BY_NAME[b->keys[k]]);
			cfs_put_json_str(stdout, vals[k]);
			putchar(',');
		}
		printf("\"count\":%lld}", (long long)n);
	} else {
		for (size_t k = 0; k < b->nkeys; k++) {
			cfs_put_csv_str(stdout, vals[k]);
			putchar(',');
		}
		printf("%lld\r\n", (long long)n);
	}
	b->groups++;
	b->total += n;
	return ferror(stdout) ? -EIO : 0;
}

static int summary_by(struct cfs_audit *a, const struct cfs_audit_filter *f, struct by *b,
		      const char *words, struct cfs_err *err)
{
	by_head(b, words);
	int rc = cfs_audit_group(a, f, b->keys, b->nkeys, 0, by_row, b, err);
	if (rc != 0)
		return rc;
	if (b->fmt == FMT_TEXT)
		printf("%sevents: %lld in %lld group%s\n", b->groups ? "" : "  (none)\n",
		       (long long)b->total, (long long)b->groups, b->groups == 1 ? "" : "s");
	else if (b->fmt == FMT_JSON)
		printf("%s],\n\"events\":%lld\n}\n", b->groups ? "\n" : "", (long long)b->total);
	return 0;
}

int cfs_at_cmd_summary(const struct cfs_at_opts *o, const char *db, int live)
{
	struct cfs_audit_filter f;
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	struct by b = { o->fmt, { 0 }, 0, 0, 0 };
	char path[8], words[1800], record[1900];
	int rc;
	if ((rc = cfs_at_filter(o, &f, path, sizeof path, words, sizeof words)) != 0 ||
	    (o->by && (rc = parse_by(o->by, &b)) != 0))
		return rc;
	snprintf(record, sizeof record, "%s%s%s", words, o->by ? " by=" : "", o->by ? o->by : "");
	if ((rc = cfs_at_open(db, live, 1, o->cmd, NULL, record, &a)) != 0)
		return rc;
	if (o->by)
		rc = summary_by(a, &f, &b, words, &err);
	else
		rc = summary_default(a, &f, o->fmt, words, &err);
	cfs_audit_close(a, NULL);
	return cfs_at_done(rc, &err);
}
