/* grant-list.c — coach-grant list and show: the grants table (and after it
 * the LINKS and REQUESTS sections), one grant in full, and the JSON of
 * both. Every row is read with the store's row MAC key and shown INVALID
 * when it is not authentic; every stored text is escaped for the terminal
 * (it is hostile). It only reads, and must never print a key. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coachfs/util.h"
#include "grant.h"

enum { L_ID, L_SUBJECT, L_PATH, L_ACCESS, L_START, L_END, L_OPENS, L_STATE, L_BY,
       L_APPROVED, L_NCOL };
static const char *const list_heads[L_NCOL] = {
	"ID", "SUBJECT", "PATH", "ACCESS", "START", "END", "OPENS", "STATE", "BY", "APPROVED" };

struct row {
	char *col[L_NCOL];
};

struct list_ctx {
	int json;
	int64_t now;
	size_t njson;          /* objects printed (--json) */
	size_t n, cap;         /* rows collected (table) */
	struct row *rows;
	int oom;
};

static void print_json_rec(FILE *f, const struct cfs_grant_rec *r, int64_t now)
{
	fprintf(f, "{\"id\":%lld,\"subject\":", (long long)r->g.id);
	json_str(f, r->subject);
	fprintf(f, ",\"kind\":\"%s\"", kind_name(r->g.kind));
	if (r->g.kind == CFS_SUBJ_USER)
		fprintf(f, ",\"uid\":%u,\"gid\":null,\"role\":null", (unsigned)r->g.ugid);
	else if (r->g.kind == CFS_SUBJ_GROUP)
		fprintf(f, ",\"uid\":null,\"gid\":%u,\"role\":null", (unsigned)r->g.ugid);
	else {
		fputs(",\"uid\":null,\"gid\":null,\"role\":", f);
		json_str(f, r->role);
	}
	json_text(f, "path", r->path);
	fprintf(f, ",\"write\":%s,\"start\":%lld,\"end\":%lld", r->g.write ? "true" : "false",
		(long long)r->g.start, (long long)r->g.end);
	json_time(f, "max_opens", r->g.max_opens);
	json_text(f, "reason", r->reason);
	json_text(f, "granted_by", r->granted_by);
	json_text(f, "approved_by", r->approved_by);
	fprintf(f, ",\"created\":%lld", (long long)r->created);
	json_time(f, "revoked_at", r->g.revoked_at);
	json_text(f, "revoked_by", r->revoked_by);
	json_text(f, "revoke_reason", r->revoke_reason);
	json_time(f, "approved_at", r->approved_at);
	run_json(f, r);
	fprintf(f, ",\"valid\":%s,\"invalid\":", r->row_state == CFS_ROW_OK ? "true" : "false");
	if (r->row_state == CFS_ROW_OK)
		fputs("null", f);
	else
		fprintf(f, "\"%s\"", r->row_state == CFS_ROW_UNSEALED ? "unsealed"
				     : r->row_state == CFS_ROW_NOKEY ? "unverified" : "mac");
	fprintf(f, ",\"state\":\"%s\"}", state_of(r, now));
}

static char *dup_term(const char *s)
{
	size_t cap = strlen(s) * 4 + 6; /* term_text keeps 5 bytes spare: "/" must fit */
	char *o = malloc(cap);
	if (o)
		cfs_term_buf(s, o, cap);
	return o;
}

static char *dup_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_fmt(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

static int list_cb(const struct cfs_grant_rec *r, void *arg)
{
	struct list_ctx *lc = arg;
	if (lc->json) {
		fputs(lc->njson ? ",\n  " : "\n  ", stdout);
		print_json_rec(stdout, r, lc->now);
		lc->njson++;
		return 0;
	}
	if (lc->n == lc->cap) {
		size_t ncap = lc->cap ? lc->cap * 2 : 32;
		struct row *nr = realloc(lc->rows, ncap * sizeof *nr);
		if (!nr) {
			lc->oom = 1;
			return 1;
		}
		lc->rows = nr;
		lc->cap = ncap;
	}
	struct row *row = &lc->rows[lc->n];
	char s[32], e[32];
	memset(row, 0, sizeof *row);
	lc->n++;
	cfs_fmt_local(r->g.start, s, sizeof s);
	cfs_fmt_local(r->g.end, e, sizeof e);
	row->col[L_ID] = dup_fmt("%lld", (long long)r->g.id);
	char subj[CFS_TEXT_MAX * 4 + CFS_TEXT_MAX * 4 + 64];
	cfs_term_buf(r->subject, subj, sizeof subj);
	run_subject(r, subj, sizeof subj);
	row->col[L_SUBJECT] = dup_fmt("%s", subj);
	row->col[L_PATH] = dup_term(r->path);
	row->col[L_ACCESS] = dup_fmt("%s", r->g.write ? "rw" : "ro");
	row->col[L_START] = dup_fmt("%s", s);
	row->col[L_END] = dup_fmt("%s", e);
	row->col[L_OPENS] = r->g.max_opens ? dup_fmt("%u", r->g.max_opens) : dup_fmt("-");
	row->col[L_STATE] = dup_fmt("%s", state_of(r, lc->now));
	row->col[L_BY] = dup_term(r->granted_by);
	if (r->approved_by[0] && r->approved_at)
		row->col[L_APPROVED] = dup_term(r->approved_by);
	else if (r->approved_by[0]) {
		char *t = dup_term(r->approved_by);
		row->col[L_APPROVED] = t ? dup_fmt("(waiting: %s)", t) : NULL;
		free(t);
	} else
		row->col[L_APPROVED] = dup_fmt("-");
	for (int i = 0; i < L_NCOL; i++)
		if (!row->col[i]) {
			lc->oom = 1;
			return 1;
		}
	return 0;
}

static void print_table(const struct list_ctx *lc)
{
	size_t w[L_NCOL];
	for (int i = 0; i < L_NCOL; i++)
		w[i] = strlen(list_heads[i]);
	for (size_t r = 0; r < lc->n; r++)
		for (int i = 0; i < L_NCOL; i++) {
			size_t l = strlen(lc->rows[r].col[i]);
			if (l > w[i])
				w[i] = l;
		}
	for (size_t r = 0; r <= lc->n; r++) {
		for (int i = 0; i < L_NCOL; i++) {
			const char *s = r == 0 ? list_heads[i] : lc->rows[r - 1].col[i];
			if (i == L_NCOL - 1)
				printf("%s\n", s);
			else if (i == L_ID)
				printf("%*s  ", (int)w[i], s);
			else
				printf("%-*s  ", (int)w[i], s);
		}
	}
}

int cmd_list(int argc, char **argv, const char **cfile)
{
	struct cfs_grants_filter f;
	struct list_ctx lc;
	int rc;
	memset(&f, 0, sizeof f);
	memset(&lc, 0, sizeof lc);
	const struct grant_opt opts[] = {
		{ "active", NULL, &f.active_only }, { "user", &f.subject, NULL }, { "path", &f.path, NULL },
		{ "json", NULL, &lc.json }, { NULL, NULL, NULL } };
	if ((rc = grant_getopt(argc, argv, "list", opts, 0, cfile)) != 0)
		return rc;
	if (optind != argc)
		return cfs_say(EXIT_USAGE, "usage: coach-grant list [--active] [--user U] [--path P] "
			   "[--json]");
	if (f.path && cfs_path_valid(f.path) < 0)
		return cfs_say(EXIT_USAGE, "--path: '%.200s' is not a mount-relative path", f.path);
	if (f.subject && (rc = text_arg("--user", f.subject)) != 0)
		return rc;
	lc.now = f.now = cfs_now_s();

	struct cfs_config *cfg = NULL;
	struct cfs_grants *g = NULL;
	struct cfs_keys *keys = NULL;
	struct cfs_err err = { "" };
	if ((rc = load_config(*cfile, &cfg)) != 0)
		return rc;
	if ((rc = unlock_keys(cfg, &keys)) != 0 || (rc = open_grants(cfg, keys, &g)) != 0)
		goto out;
	if (lc.json)
		fputs("[", stdout);
	if (cfs_grants_list(g, &f, list_cb, &lc, &err) < 0) {
		if (lc.json)
			fputs("\n]\n", stdout); /* keep stdout valid JSON; the error goes to stderr */
		rc = cfs_say(EXIT_FAIL, "%s", err.msg);
		goto out;
	}
	if (lc.oom) {
		rc = cfs_say(EXIT_FAIL, "out of memory");
		goto out;
	}
	if (lc.json)
		fputs(lc.njson ? "\n]\n" : "]\n", stdout);
	else {
		print_table(&lc);
		print_links(cfg, keys, f.active_only, lc.now);
		print_requests(g, 0, lc.now);
	}
	rc = fflush(stdout) == 0 ? EXIT_OK : cfs_say(EXIT_FAIL, "writing: %s", strerror(errno));
out:
	for (size_t r = 0; r < lc.n; r++)
		for (int i = 0; i < L_NCOL; i++)
			free(lc.rows[r].col[i]);
	free(lc.rows);
	cfs_keys_free(keys);
	cfs_grants_close(g);
	cfs_config_free(cfg);
	return rc;
}

void show_line(const char *k, const char *v)
{
	printf("%-13s %s\n", k, v);
}

static void print_show(const struct cfs_grant_rec *r, int64_t now)
{
	char b[CFS_TEXT_MAX * 4 + 128], t[32], t2[32], big[4096 * 4 + 1];
	snprintf(b, sizeof b, "%lld", (long long)r->g.id);
	show_line("id:", b);
	cfs_term_buf(r->subject, big, sizeof big);
	if (r->g.kind == CFS_SUBJ_ROLE)
		snprintf(b, sizeof b, "%.1000s (role)", big);
	else
		snprintf(b, sizeof b, "%.1000s (%s, %s %u)", big, kind_name(r->g.kind),
			 r->g.kind == CFS_SUBJ_USER ? "uid" : "gid", (unsigned)r->g.ugid);
	show_line("subject:", b);
	cfs_term_buf(r->path, big, sizeof big);
	show_line("path:", big);
	show_line("access:", r->g.write ? "read-write" : "read-only");
	cfs_fmt_local(r->g.start, t, sizeof t);
	show_line("start:", t);
	cfs_fmt_local(r->g.end, t, sizeof t);
	fmt_duration(r->g.end - r->g.start, t2, sizeof t2);
	snprintf(b, sizeof b, "%s (ttl %s)", t, t2);
	show_line("end:", b);
	if (r->g.max_opens)
		snprintf(b, sizeof b, "%u per file", r->g.max_opens);
	else
		snprintf(b, sizeof b, "unlimited");
	show_line("max opens:", b);
	cfs_term_buf(r->granted_by, big, sizeof big);
	show_line("granted by:", big);
	if (r->approved_by[0] && r->approved_at) {
		char at[32], who_t[CFS_TEXT_MAX * 4];
		cfs_fmt_local(r->approved_at, at, sizeof at);
		cfs_term_buf(r->approved_by, who_t, sizeof who_t);
		snprintf(big, sizeof big, "%s at %s", who_t, at);
	} else if (r->approved_by[0]) {
		char who_t[CFS_TEXT_MAX * 4];
		cfs_term_buf(r->approved_by, who_t, sizeof who_t);
		snprintf(big, sizeof big, "%s (not yet: coach-grant approve %lld)", who_t,
			 (long long)r->g.id);
	} else {
		snprintf(big, sizeof big, "-");
	}
	show_line("approved by:", big);
	if (r->reason[0])
		cfs_term_buf(r->reason, big, sizeof big);
	else
		snprintf(big, sizeof big, "-");
	show_line("reason:", big);
	cfs_fmt_local(r->created, t, sizeof t);
	show_line("created:", t);
	show_line("state:", state_of(r, now));
	run_show(r);
	if (r->g.revoked_at) {
		cfs_fmt_local(r->g.revoked_at, t, sizeof t);
		cfs_term_buf(r->revoked_by[0] ? r->revoked_by : "?", big, sizeof big);
		snprintf(b, sizeof b, "%s by %.400s", t, big);
		show_line("revoked:", b);
		if (r->revoke_reason[0]) {
			cfs_term_buf(r->revoke_reason, big, sizeof big);
			show_line("revoke reason:", big);
		}
	}
}

int cmd_show(int argc, char **argv, const char **cfile)
{
	int rc, json = 0;
	int64_t id;
	const struct grant_opt opts[] = { { "json", NULL, &json }, { NULL, NULL, NULL } };
	if ((rc = grant_getopt(argc, argv, "show", opts, 0, cfile)) != 0)
		return rc;
	if (argc - optind != 1)
		return cfs_say(EXIT_USAGE, "usage: coach-grant show ID [--json]");
	if (argv[optind][0] == 'R' || argv[optind][0] == 'B')
		return show_request(argv[optind], json, cfile);
	if ((rc = parse_id(argv[optind], &id)) != 0)
		return rc;

	struct cfs_config *cfg = NULL;
	struct cfs_grants *g = NULL;
	struct cfs_keys *keys = NULL;
	struct cfs_grant_rec *rec = calloc(1, sizeof *rec);
	struct cfs_err err = { "" };
	if (!rec)
		return cfs_say(EXIT_FAIL, "out of memory");
	if ((rc = load_config(*cfile, &cfg)) != 0)
		goto out;
	if ((rc = unlock_keys(cfg, &keys)) != 0 || (rc = open_grants(cfg, keys, &g)) != 0)
		goto out;
	if (cfs_grants_get(g, id, rec, &err) < 0) {
		rc = cfs_say(EXIT_FAIL, "%s", err.msg);
		goto out;
	}
	if (json) {
		print_json_rec(stdout, rec, cfs_now_s());
		fputc('\n', stdout);
	} else {
		print_show(rec, cfs_now_s());
	}
	rc = fflush(stdout) == 0 ? EXIT_OK : cfs_say(EXIT_FAIL, "writing: %s", strerror(errno));
out:
	cfs_keys_free(keys);
	cfs_grants_close(g);
	cfs_config_free(cfg);
	free(rec);
	return rc;
}
