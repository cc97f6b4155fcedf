/* grant-requests.c — coach-grant's views of access requests and
 * break-glass records: `requests [--json] [--all]`, the REQUESTS section of
 * `list`, and `show R12` / `show B12`. Every row is read with the store's
 * row MAC key and shown INVALID when it is not authentic. It only reads:
 * decisions go through the mount (grant-request.c). It must never print a
 * key, and prints every stored text escaped (it is hostile). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coachfs/requests.h"
#include "coachfs/util.h"
#include "grant.h"

static const char *kind_word(const struct cfs_req_rec *r)
{
	return r->kind == CFS_REQ_BREAKGLASS ? "breakglass" : "request";
}

/* Still wanting attention: a pending request, or an unreviewed break-glass. */
static int open_item(const struct cfs_req_rec *r, int64_t now)
{
	const char *st = cfs_req_state(r, now);
	return r->row_state != CFS_ROW_OK || !strcmp(st, "pending") || !strcmp(st, "approved 1/2") ||
	       !strcmp(st, "unreviewed");
}

static void json_approvals(FILE *f, const struct cfs_req_rec *r)
{
	int n = 0;
	fputs(",\"approvals\":[", f);
	if (r->approved_at) {
		fputs("{\"by\":", f);
		json_str(f, r->approved_by);
		fprintf(f, ",\"at\":%lld}", (long long)r->approved_at);
		n++;
	}
	if (r->kind == CFS_REQ_REQUEST && r->decided_at && !r->denied) {
		fputs(n ? ",{\"by\":" : "{\"by\":", f);
		json_str(f, r->decided_by);
		fprintf(f, ",\"at\":%lld}", (long long)r->decided_at);
	}
	fputc(']', f);
}

static void print_json(FILE *f, const struct cfs_req_rec *r, int64_t now)
{
	char name[32];
	cfs_req_name(r, name, sizeof name);
	fprintf(f, "{\"id\":\"%s\",\"kind\":\"%s\",\"uid\":%u", name, kind_word(r), (unsigned)r->uid);
	json_text(f, "user", r->user);
	json_text(f, "path", r->path);
	fprintf(f, ",\"write\":%s,\"ttl\":%lld", r->write ? "true" : "false", (long long)r->ttl);
	json_text(f, "reason", r->reason);
	fprintf(f, ",\"created\":%lld,\"age\":%lld,\"expires\":%lld", (long long)r->created,
		(long long)(now - r->created), (long long)r->expires);
	json_approvals(f, r);
	json_text(f, "decided_by", r->decided_by);
	json_time(f, "decided_at", r->decided_at);
	fprintf(f, ",\"decision\":%s", !r->decided_at ? "null" : r->denied ? "\"denied\"" : "\"granted\"");
	json_text(f, "deny_reason", r->note);
	if (r->grant_id)
		fprintf(f, ",\"grant_id\":%lld", (long long)r->grant_id);
	else
		fputs(",\"grant_id\":null", f);
	json_text(f, "reviewed_by", r->reviewed_by);
	json_time(f, "reviewed_at", r->reviewed_at);
	json_text(f, "review_note", r->review_note);
	fprintf(f, ",\"state\":\"%s\",\"valid\":%s,\"invalid\":", cfs_req_state(r, now),
		r->row_state == CFS_ROW_OK ? "true" : "false");
	if (r->row_state == CFS_ROW_OK)
		fputs("null}", f);
	else
		fprintf(f, "\"%s\"}", r->row_state == CFS_ROW_UNSEALED ? "unsealed"
				      : r->row_state == CFS_ROW_NOKEY ? "unverified" : "mac");
}

/* "dave" / "dave, erin" / "-": who approved so far. */
static void approvals_text(const struct cfs_req_rec *r, char *out, size_t cap)
{
	char a[CFS_TEXT_MAX * 4], b[CFS_TEXT_MAX * 4];
	cfs_term_buf(r->approved_by, a, sizeof a);
	cfs_term_buf(r->decided_by, b, sizeof b);
	int granted = r->kind == CFS_REQ_REQUEST && r->decided_at && !r->denied;
	if (r->approved_at && granted)
		snprintf(out, cap, "%.100s, %.100s", a, b);
	else if (r->approved_at || granted)
		snprintf(out, cap, "%.100s", r->approved_at ? a : b);
	else
		snprintf(out, cap, "-");
}

static void table_head(void)
{
	printf("%-6s %-12s %-30s %-3s %-6s %-7s %-15s %-13s %s\n", "ID", "USER", "PATH", "RW", "TTL", "AGE",
	       "APPROVED BY", "STATE", "REASON");
}

static void table_row(const struct cfs_req_rec *r, int64_t now)
{
	char name[32], user[CFS_TEXT_MAX * 4], path[400], ttl[32], age[32], appr[240], why[CFS_TEXT_MAX * 4];
	cfs_req_name(r, name, sizeof name);
	cfs_term_buf(r->user, user, sizeof user);
	cfs_term_buf(r->path, path, sizeof path);
	fmt_duration(r->ttl, ttl, sizeof ttl);
	fmt_duration(now > r->created ? now - r->created : 0, age, sizeof age);
	approvals_text(r, appr, sizeof appr);
	cfs_term_buf(r->reason, why, sizeof why);
	printf("%-6s %-12.40s %-30.300s %-3s %-6s %-7s %-15s %-13s %s\n", name, user, path, r->write ? "rw" : "ro",
	       ttl, age, appr, cfs_req_state(r, now), why);
}

struct rlist {
	int all, json, n;
	int64_t now;
	int section;                   /* list's REQUESTS section: a heading first */
};

static int rlist_cb(const struct cfs_req_rec *r, void *arg)
{
	struct rlist *l = arg;
	if (!l->all && !open_item(r, l->now))
		return 0;
	if (l->json) {
		fputs(l->n ? ",\n  " : "\n  ", stdout);
		print_json(stdout, r, l->now);
	} else {
		if (l->n == 0 && l->section)
			fputs("\nREQUESTS\n", stdout);
		if (l->n == 0)
			table_head();
		table_row(r, l->now);
	}
	l->n++;
	return 0;
}

void print_requests(struct cfs_grants *g, int all, int64_t now)
{
	struct rlist l = { all, 0, 0, now, 0 };
	struct cfs_err err = { "" };
	/* the section (its heading printed before its first row) only when
	 * something waits */
	l.section = 1;
	if (cfs_requests_list(g, rlist_cb, &l, &err) < 0)
		fprintf(stderr, "coach-grant: requests: %s\n", err.msg);
}

/* Open policy.db with the key, for reading requests: 0 or an exit status. */
static int open_keyed(const char **cfile, struct cfs_config **cfg, struct cfs_keys **keys, struct cfs_grants **g)
{
	int rc = open_admin(*cfile, NULL, cfg, keys);
	if (rc == 0)
		rc = open_grants(*cfg, *keys, g);
	return rc;
}

static void close_keyed(struct cfs_config *cfg, struct cfs_keys *keys, struct cfs_grants *g)
{
	cfs_grants_close(g);
	cfs_keys_free(keys);
	cfs_config_free(cfg);
}

int cmd_requests(int argc, char **argv, const char **cfile)
{
	struct rlist l = { 0, 0, 0, cfs_now_s(), 0 };
	const struct grant_opt opts[] = { { "json", NULL, &l.json }, { "all", NULL, &l.all }, { NULL, NULL, NULL } };
	int rc;
	if ((rc = grant_getopt(argc, argv, "requests", opts, 0, cfile)) != 0)
		return rc;
	if (optind != argc)
		return cfs_say(EXIT_USAGE, "usage: coach-grant requests [--all] [--json]");
	struct cfs_config *cfg = NULL;
	struct cfs_keys *keys = NULL;
	struct cfs_grants *g = NULL;
	struct cfs_err err = { "" };
	if ((rc = open_keyed(cfile, &cfg, &keys, &g)) == 0) {
		if (l.json)
			fputs("[", stdout);
		rc = cfs_requests_list(g, rlist_cb, &l, &err) < 0 ? cfs_say(EXIT_FAIL, "%s", err.msg) : EXIT_OK;
		if (l.json)
			fputs(l.n ? "\n]\n" : "]\n", stdout);
		else if (rc == EXIT_OK && l.n == 0)
			puts(l.all ? "no requests" : "no requests waiting");
		if (fflush(stdout) != 0)
			rc = cfs_say(EXIT_FAIL, "writing: %s", strerror(errno));
	}
	close_keyed(cfg, keys, g);
	return rc;
}

static void show_who_at(const char *k, const char *who, int64_t at)
{
	char w[CFS_TEXT_MAX * 4], t[32], b[CFS_TEXT_MAX * 4 + 64];
	if (!at) {
		show_line(k, "-");
		return;
	}
	cfs_term_buf(who, w, sizeof w);
	cfs_fmt_utc(at, t, sizeof t);
	snprintf(b, sizeof b, "%.900s at %s", w, t);
	show_line(k, b);
}

static void show_text(const char *k, const char *s)
{
	char b[4096 * 4 + 8];
	cfs_term_buf(s[0] ? s : "-", b, sizeof b);
	show_line(k, b);
}

static void print_show(const struct cfs_req_rec *r, int64_t now)
{
	char b[400], t[32];
	cfs_req_name(r, b, sizeof b);
	show_line("id:", b);
	show_line("kind:", r->kind == CFS_REQ_BREAKGLASS ? "break-glass" : "request");
	snprintf(b, sizeof b, "%.255s (uid %u)", r->user, (unsigned)r->uid);
	show_text("user:", b);
	show_text("path:", r->path);
	show_line("access:", r->write ? "read-write" : "read-only");
	fmt_duration(r->ttl, b, sizeof b);
	show_line("ttl:", b);
	show_text("reason:", r->reason);
	cfs_fmt_utc(r->created, t, sizeof t);
	show_line("created:", t);
	cfs_fmt_utc(r->expires, t, sizeof t);
	show_line(r->kind == CFS_REQ_BREAKGLASS ? "ends:" : "expires:", t);
	if (r->kind == CFS_REQ_REQUEST) {
		show_who_at("approved by:", r->approved_by, r->approved_at);
		show_who_at(r->denied ? "denied by:" : "granted by:", r->decided_by, r->decided_at);
		if (r->denied)
			show_text("deny reason:", r->note);
	} else {
		show_who_at("reviewed by:", r->reviewed_by, r->reviewed_at);
		if (r->reviewed_at)
			show_text("review note:", r->review_note);
	}
	snprintf(b, sizeof b, "%lld", (long long)r->grant_id);
	show_line("grant:", r->grant_id ? b : "-");
	show_line("state:", cfs_req_state(r, now));
}

int show_request(const char *ids, int json, const char **cfile)
{
	uint64_t v;
	if ((ids[0] != 'R' && ids[0] != 'B') || cfs_parse_uint(ids + 1, (uint64_t)INT64_MAX, &v) < 0 || v == 0)
		return cfs_say(EXIT_USAGE, "'%.40s' is not a request id (like R12 or B12)", ids);
	struct cfs_config *cfg = NULL;
	struct cfs_keys *keys = NULL;
	struct cfs_grants *g = NULL;
	struct cfs_req_rec *r = malloc(sizeof *r);
	struct cfs_err err = { "" };
	int rc = r ? open_keyed(cfile, &cfg, &keys, &g) : cfs_say(EXIT_FAIL, "out of memory");
	if (rc == 0 && cfs_requests_get(g, (int64_t)v, r, &err) < 0)
		rc = cfs_say(EXIT_FAIL, "%s", err.msg);
	else if (rc == 0 && (r->kind == CFS_REQ_BREAKGLASS) != (ids[0] == 'B'))
		rc = cfs_say(EXIT_FAIL, "%s: no such %s (it is %c%llu)", ids, ids[0] == 'B' ? "break-glass" : "request",
			     r->kind == CFS_REQ_BREAKGLASS ? 'B' : 'R', (unsigned long long)v);
	if (rc == 0) {
		if (json) {
			print_json(stdout, r, cfs_now_s());
			fputc('\n', stdout);
		} else {
			print_show(r, cfs_now_s());
		}
		rc = fflush(stdout) == 0 ? EXIT_OK : cfs_say(EXIT_FAIL, "writing: %s", strerror(errno));
	}
	close_keyed(cfg, keys, g);
	free(r);
	return rc;
}
