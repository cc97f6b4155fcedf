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
	cfs_term_buf(e->action ? e->action : "-", action, sizeof action);
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

void cfs_at_row_json(FILE *f, const struct cfs_audit_row *r)
{
	const struct cfs_event *e = &r->ev;
	char ph[65], h[65];
	cfs_at_hex(r->prev_hash, r->prev_hash_len, ph);
	cfs_at_hex(r->hash, r->hash_len, h);
	fprintf(f, "{\"id\":%lld,\"ts\":", (long long)r->id);
	cfs_at_json_int(f, e->ts);
	fputs(",\"host\":", f);
	cfs_put_json_str(f, e->host);
	fputs(",\"uid\":", f);
	cfs_at_json_int(f, e->uid);
	fputs(",\"user\":", f);
	cfs_put_json_str(f, e->user);
	fputs(",\"pid\":", f);
	cfs_at_json_int(f, e->pid);
	fputs(",\"exe\":", f);
	cfs_put_json_str(f, e->exe);
	fputs(",\"action\":", f);
	cfs_put_json_str(f, e->action);
	fputs(",\"path\":", f);
	cfs_put_json_str(f, e->path);
	fputs(",\"result\":", f);
	cfs_put_json_str(f, e->result);
	fputs(",\"reason\":", f);
	cfs_put_json_str(f, e->reason);
	fputs(",\"grant_id\":", f);
	cfs_at_json_int(f, e->grant_id);
	fputs(",\"offset\":", f);
	cfs_at_json_int(f, e->offset);
	fputs(",\"length\":", f);
	cfs_at_json_int(f, e->length);
	fprintf(f, ",\"prev_hash\":\"%s\",\"hash\":\"%s\"}", ph, h);
}

void cfs_at_row_csv(FILE *f, const struct cfs_audit_row *r)
{
	const struct cfs_event *e = &r->ev;
	char ph[65], h[65];
	cfs_at_hex(r->prev_hash, r->prev_hash_len, ph);
	cfs_at_hex(r->hash, r->hash_len, h);
	fprintf(f, "%lld,", (long long)r->id);
	cfs_at_csv_int(f, e->ts);
	fputc(',', f);
	cfs_put_csv_str(f, e->host);
	fputc(',', f);
	cfs_at_csv_int(f, e->uid);
	fputc(',', f);
	cfs_put_csv_str(f, e->user);
	fputc(',', f);
	cfs_at_csv_int(f, e->pid);
	fputc(',', f);
	cfs_put_csv_str(f, e->exe);
	fputc(',', f);
	cfs_put_csv_str(f, e->action);
	fputc(',', f);
	cfs_put_csv_str(f, e->path);
	fputc(',', f);
	cfs_put_csv_str(f, e->result);
	fputc(',', f);
	cfs_put_csv_str(f, e->reason);
	fputc(',', f);
	cfs_at_csv_int(f, e->grant_id);
	fputc(',', f);
	cfs_at_csv_int(f, e->offset);
	fputc(',', f);
	cfs_at_csv_int(f, e->length);
	fprintf(f, ",%s,%s\r\n", ph, h);
}
