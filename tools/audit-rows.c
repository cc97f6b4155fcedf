/* audit-rows.c — coach-audit's row formats: aligned text in local time,
 * JSON objects (hashes in hex) and RFC 4180 CSV, to any stream. It owns
 * only formatting; every string from the database is escaped for where it
 * goes (terminal, JSON, CSV), never printed raw. */
#include <stdio.h>
#include <string.h>

#include "coachfs/util.h"
#include "audit-cmd.h"

const char CFS_AT_CSV_HEADER[] =
	"id,ts,host,uid,user,pid,exe,action,path,result,reason,grant_id,offset,length,"
	"prev_hash,hash\r\n";

void cfs_at_json_int(FILE *f, int64_t v)
{
	if (v == CFS_AUDIT_NONE)
		fputs("null", f);
	else
		fprintf(f, "%lld", (long long)v);
}

void cfs_at_csv_int(FILE *f, int64_t v)
{
	if (v != CFS_AUDIT_NONE)
		fprintf(f, "%lld", (long long)v);
}

void cfs_at_hex(const unsigned char *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t k = 0; k < n; k++) {
		out[2 * k] = d[b[k] >> 4];
		out[2 * k + 1] = d[b[k] & 15];
	}
	out[2 * n] = 0;
}

void cfs_at_fmt_local(int64_t us, char *out, size_t cap)
{
	if (us == CFS_AUDIT_NONE)
		cfs_strlcpy(out, "-", cap);
	else
		cfs_fmt_local(us / 1000000 - (us % 1000000 < 0), out, cap);
}

void cfs_at_row_text(FILE *f, const struct cfs_audit_row *r)
{
	const struct cfs_event *e = &r->ev;
	char when[40], user[1024], action[256], result[256];
	const char *sep = "  ";
	cfs_at_fmt_local(e->ts, when, sizeof when);
	cfs_term_buf(e->user ? e->user : "-", user, sizeof user);
	cfs_term_buf(r->action ? r->action : "-", action, sizeof action);
	cfs_term_buf(e->result ? e->result : "-", result, sizeof result);
	fprintf(f, "%7lld  %-19s  %-12s  %-12s  %-6s  ", (long long)r->id, when, user, action, result);
	cfs_put_term(f, e->path ? e->path : "-");
	if (e->pid != CFS_AUDIT_NONE || e->exe) {
		fputs(sep, f);
		sep = "; ";
		if (e->pid != CFS_AUDIT_NONE)
			fprintf(f, "pid %lld%s", (long long)e->pid, e->exe ? " " : "");
		if (e->exe)
			cfs_put_term(f, e->exe);
	}
	if (e->grant_id != CFS_AUDIT_NONE) {
		fprintf(f, "%sgrant %lld", sep, (long long)e->grant_id);
		sep = "; ";
	}
	if (e->offset != CFS_AUDIT_NONE || e->length != CFS_AUDIT_NONE) {
		fprintf(f, "%sbytes ", sep);
		sep = "; ";
		if (e->offset != CFS_AUDIT_NONE)
			fprintf(f, "@%lld", (long long)e->offset);
		if (e->length != CFS_AUDIT_NONE)
			fprintf(f, "+%lld", (long long)e->length);
	}
	if (e->reason) {
		fprintf(f, "%s", sep);
		cfs_put_term(f, e->reason);
	}
	fputc('\n', f);
}

/* The columns after id, in table order: name, and where the value is
 * (an integer, or a string). */
#define NCOLS 13
static const char *const COL[NCOLS] = { "ts", "host", "uid", "user", "pid", "exe", "action",
					 "path", "result", "reason", "grant_id", "offset",
					 "length" };

/* The action as stored, not as parsed: a name this version does not know
 * is shown as it is. */
static void col(const struct cfs_audit_row *r, int k, int64_t *i, const char **s, int *is_text)
{
	const struct cfs_event *e = &r->ev;
	const int64_t ints[NCOLS] = { e->ts, 0, e->uid, 0, e->pid, 0, 0, 0, 0, 0,
				      e->grant_id, e->offset, e->length };
	const char *const strs[NCOLS] = { NULL, e->host, NULL, e->user, NULL, e->exe, r->action,
					  e->path, e->result, e->reason, NULL, NULL, NULL };
	static const int text[NCOLS] = { 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0 };
	*i = ints[k];
	*s = strs[k];
	*is_text = text[k];
}

void cfs_at_row_json(FILE *f, const struct cfs_audit_row *r)
{
	char ph[65], h[65];
	cfs_at_hex(r->prev_hash, r->prev_hash_len, ph);
	cfs_at_hex(r->hash, r->hash_len, h);
	fprintf(f, "{\"id\":%lld", (long long)r->id);
	for (int k = 0; k < NCOLS; k++) {
		int64_t i;
		const char *s;
		int is_text;
		col(r, k, &i, &s, &is_text);
		fprintf(f, ",\"%s\":", COL[k]);
		if (is_text)
			cfs_put_json_str(f, s);
		else
			cfs_at_json_int(f, i);
	}
	fprintf(f, ",\"prev_hash\":\"%s\",\"hash\":\"%s\"}", ph, h);
}

void cfs_at_row_csv(FILE *f, const struct cfs_audit_row *r)
{
	char ph[65], h[65];
	cfs_at_hex(r->prev_hash, r->prev_hash_len, ph);
	cfs_at_hex(r->hash, r->hash_len, h);
	fprintf(f, "%lld", (long long)r->id);
	for (int k = 0; k < NCOLS; k++) {
		int64_t i;
		const char *s;
		int is_text;
		col(r, k, &i, &s, &is_text);
		fputc(',', f);
		if (is_text)
			cfs_put_csv_str(f, s);
		else
			cfs_at_csv_int(f, i);
	}
	fprintf(f, ",%s,%s\r\n", ph, h);
}
