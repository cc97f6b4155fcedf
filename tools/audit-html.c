/* audit-html.c — the page of coach-audit report: one self-contained HTML
 * file (inline CSS and SVG, no script, nothing fetched: its Content
 * Security Policy forbids both) showing the verify status, counts, a
 * timeline per user and file, and grants as bars over time. It owns the
 * markup only; every string from the log (user and file names, reasons are
 * hostile) goes through html() — escaped, control characters and invalid
 * UTF-8 replaced — and never into markup unescaped. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "coachfs/util.h"
#include "audit-cmd.h"

#define LABEL_W 300
#define CELL_W 13
#define LANE_H 22
#define AXIS_H 24
#define LABEL_MAX 48      /* bytes of a name drawn in the chart (the tables hold it whole) */

static const char *const KIND_NAME[CFS_AT_KINDS] = { "opens", "reads", "denials", "exports" };
static const char *const KIND_COLOR[CFS_AT_KINDS] = { "#2b6cb0", "#718096", "#e53e3e", "#dd6b20" };

/* Text for HTML (element content and quoted attributes alike): & < > " '
 * as entities, C0/DEL/C1 and invalid UTF-8 as U+FFFD; at most max bytes of
 * s (0: all), cut on a character boundary. NULL as "-". */
static void html_cut(FILE *f, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "-");
	const unsigned char *end = max ? p + strnlen((const char *)p, max) : NULL;
	while (*p && (!end || p < end)) {
		uint32_t cp;
		int n = cfs_utf8_len(p, &cp);
		if (n == 0 || (end && p + n > end) || cp < 0x20 || cp == 0x7f ||
		    (cp >= 0x80 && cp < 0xa0)) {
			fputs("\xef\xbf\xbd", f);
			p += n ? n : 1;
			continue;
		}
		switch (cp) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fwrite(p, 1, (size_t)n, f);
		}
		p += n;
	}
	if (end && *end)
		fputs("\xe2\x80\xa6", f);   /* … */
}

static void html(FILE *f, const char *s)
{
	html_cut(f, s, 0);
}

static void utc(FILE *f, int64_t secs)
{
	char t[40];
	cfs_fmt_utc(secs, t, sizeof t);
	fputs(t, f);
}

static const char STYLE[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1a202c;background:#fff}"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}"
	".meta{color:#4a5568}code{background:#edf2f7;padding:0 3px}"
	".verify{padding:12px 16px;border-radius:6px;margin:14px 0;font-size:16px}"
	".verify.ok{background:#c6f6d5;border:2px solid #2f855a}"
	".verify.bad{background:#fed7d7;border:2px solid #c53030}"
	".verify strong{font-size:20px;margin-right:10px}"
	".cards{display:flex;gap:12px}.card{border:1px solid #cbd5e0;border-radius:6px;"
	"padding:8px 14px}.card b{display:block;font-size:22px}"
	"table{border-collapse:collapse;margin-top:6px}th,td{border:1px solid #e2e8f0;"
	"padding:3px 8px;text-align:left}td.n{text-align:right}"
	".legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}"
	"svg text{font:11px system-ui,sans-serif;fill:#2d3748}.note{color:#4a5568}";

static void page_head(FILE *f, const struct cfs_at_report *r)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'\">\n<title>coachfs audit report</title>\n<style>", f);
	fputs(STYLE, f);
	fputs("</style></head>\n<body>\n<h1>coachfs audit report</h1>\n<p class=\"meta\">Log <code>",
	      f);
	html(f, r->db);
	fputs("</code>, events from <time>", f);
	utc(f, r->t0 / 1000000);
	fputs("</time> to <time>", f);
	utc(f, (r->t0 + CFS_AT_COLS * r->width) / 1000000);
	fputs("</time>", f);
	if (r->path) {
		fputs(", on <code>", f);
		html(f, r->path);
		fputs("</code> and below", f);
	}
	fputs("; made ", f);
	utc(f, cfs_now_s());
	fputs(".</p>\n", f);
}

static void verify_banner(FILE *f, const struct cfs_at_report *r)
{
	if (r->verified) {
		fprintf(f, "<div id=\"verify\" class=\"verify ok\"><strong>Audit log VERIFIED</strong>"
			"%lld events, %lld checkpoints; ", (long long)r->vr.rows,
			(long long)r->vr.checkpoints);
		if (r->vr.unsealed)
			fprintf(f, "%lld event%s after the newest checkpoint %s not yet sealed.",
				(long long)r->vr.unsealed, r->vr.unsealed == 1 ? "" : "s",
				r->vr.unsealed == 1 ? "is" : "are");
		else
			fputs("all sealed.", f);
	} else {
		fputs("<div id=\"verify\" class=\"verify bad\"><strong>Audit log NOT VERIFIED</strong>",
		      f);
		html(f, r->verify_msg);
		fputs(" Do not rely on what this page shows.", f);
	}
	if (r->key_beside)
		fputs("<br>Warning: the public key was read from beside the database, which proves "
		      "nothing against someone who could rewrite both; pass --pubkey.", f);
	fputs("</div>\n<div class=\"cards\">", f);
	fprintf(f, "<div class=\"card\" id=\"events\"><b>%lld</b>events</div>", (long long)r->events);
	for (int k = 0; k < CFS_AT_KINDS; k++)
		fprintf(f, "<div class=\"card\" id=\"%s\"><b>%lld</b>%s</div>", KIND_NAME[k],
			(long long)r->kinds[k], KIND_NAME[k]);
	fputs("</div>\n", f);
	if (r->unknown_actions)
		fprintf(f, "<p class=\"note\" id=\"unknown\">%lld event%s an action this version "
			"does not know (coach-audit log shows it as stored).</p>\n",
			(long long)r->unknown_actions, r->unknown_actions == 1 ? " has" : "s have");
}

/* The time axis: a label every 12 columns. */
static void axis(FILE *f, int y)
{
	for (int c = 0; c <= CFS_AT_COLS; c += 12)
		fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#cbd5e0\"/>",
			LABEL_W + c * CELL_W, AXIS_H - 4, LABEL_W + c * CELL_W, y);
	(void)f;
}

static void axis_labels(FILE *f, const struct cfs_at_report *r)
{
	for (int c = 0; c < CFS_AT_COLS; c += 12) {
		fprintf(f, "<text x=\"%d\" y=\"14\">", LABEL_W + c * CELL_W + 2);
		utc(f, (r->t0 + c * r->width) / 1000000);
		fputs("</text>", f);
	}
}

/* Bits in v: a cheap logarithm for the shading. */
static int bits(int64_t v)
{
	int b = 0;
	for (; v > 0; v >>= 1)
		b++;
	return b;
}

static void cell(FILE *f, const struct cfs_at_report *r, const struct cfs_at_lane *l, int c,
		 int y, int64_t max)
{
	const int64_t *n = l->cell[c];
	if (!n[0] && !n[1] && !n[2] && !n[3])
		return;
	fputs("<g><title>", f);
	utc(f, (r->t0 + c * r->width) / 1000000);
	fprintf(f, ": %lld opens, %lld reads, %lld denials, %lld exports</title>", (long long)n[0],
		(long long)n[1], (long long)n[2], (long long)n[3]);
	for (int k = 0; k < CFS_AT_KINDS; k++)
		if (n[k])
			fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"4\" fill=\"%s\" "
				"fill-opacity=\"%.2f\"/>", LABEL_W + c * CELL_W + 1, y + 3 + k * 4,
				CELL_W - 2, KIND_COLOR[k],
				0.35 + 0.65 * bits(n[k]) / bits(max));
	fputs("</g>", f);
}

static void timeline(FILE *f, const struct cfs_at_report *r)
{
	int64_t max = 1;
	int h = AXIS_H + (int)r->nlanes * LANE_H;
	for (size_t i = 0; i < r->nlanes; i++)
		for (int c = 0; c < CFS_AT_COLS; c++)
			for (int k = 0; k < CFS_AT_KINDS; k++)
				if (r->lanes[i].cell[c][k] > max)
					max = r->lanes[i].cell[c][k];
	fputs("<h2>Timeline: opens, reads, denials and exports per user and file</h2>\n", f);
	fprintf(f, "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\">", LABEL_W + CFS_AT_COLS * CELL_W + 10, h);
	axis(f, h);
	axis_labels(f, r);
	for (size_t i = 0; i < r->nlanes; i++) {
		const struct cfs_at_lane *l = &r->lanes[i];
		int y = AXIS_H + (int)i * LANE_H;
		fprintf(f, "<text x=\"2\" y=\"%d\">", y + 15);
		html_cut(f, l->user, 16);
		fputs("  ", f);
		html_cut(f, l->path, LABEL_MAX - 16);
		fputs("</text>", f);
		for (int c = 0; c < CFS_AT_COLS; c++)
			cell(f, r, l, c, y, max);
	}
	fputs("</svg>\n<p class=\"legend\">", f);
	for (int k = 0; k < CFS_AT_KINDS; k++)
		fprintf(f, "<span style=\"background:%s\"></span>%s", KIND_COLOR[k], KIND_NAME[k]);
	fputs("</p>\n", f);
}

static void activity_table(FILE *f, const struct cfs_at_report *r)
{
	fputs("<h2>By user and file</h2>\n<table id=\"activity\"><thead><tr><th>User</th>"
	      "<th>File</th><th>Opens</th><th>Reads</th><th>Denials</th><th>Exports</th>"
	      "<th>Events</th></tr></thead><tbody>\n", f);
	for (size_t i = 0; i < r->nlanes; i++) {
		const struct cfs_at_lane *l = &r->lanes[i];
		fputs("<tr><td>", f);
		html(f, l->user);
		fputs("</td><td>", f);
		html(f, l->path);
		fputs("</td>", f);
		for (int k = 0; k < CFS_AT_KINDS; k++)
			fprintf(f, "<td class=\"n\">%lld</td>", (long long)l->n[k]);
		fprintf(f, "<td class=\"n\">%lld</td></tr>\n", (long long)l->total);
	}
	fputs("</tbody></table>\n", f);
	if (r->other_pairs)
		fprintf(f, "<p class=\"note\">%lld more user and file pairs, with %lld events, are "
			"not shown (the %d busiest are).</p>\n", (long long)r->other_pairs,
			(long long)r->other_events, CFS_AT_LANES);
}

/* x of a time (seconds) on the axis, clamped to it. */
static int x_of(const struct cfs_at_report *r, int64_t secs)
{
	double span = (double)CFS_AT_COLS * (double)r->width;
	double v = ((double)secs * 1e6 - (double)r->t0) / span;
	v = v < 0 ? 0 : v > 1 ? 1 : v;
	return LABEL_W + (int)(v * CFS_AT_COLS * CELL_W);
}

static void grant_bar(FILE *f, const struct cfs_at_report *r, const struct cfs_at_grant *g, int y)
{
	int64_t stop = g->revoked && (!g->end || g->revoked < g->end) ? g->revoked : g->end;
	fprintf(f, "<text x=\"2\" y=\"%d\">G%lld  ", y + 15, (long long)g->id);
	html_cut(f, g->subject, 16);
	fputs("  ", f);
	html_cut(f, g->path, LABEL_MAX - 24);
	fputs("</text>", f);
	if (!g->start || !stop)
		return;
	int x0 = x_of(r, g->start), x1 = x_of(r, stop);
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"12\" rx=\"3\" fill=\"%s\"/>", x0,
		y + 5, x1 > x0 ? x1 - x0 : 1, g->revoked ? "#a0aec0" : "#38a169");
	if (g->revoked)
		fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#c53030\" "
			"stroke-width=\"2\"/>", x_of(r, g->revoked), y + 2, x_of(r, g->revoked), y + 20);
}

static void grant_row(FILE *f, const struct cfs_at_grant *g)
{
	fprintf(f, "<tr><td>%lld</td><td>", (long long)g->id);
	html(f, g->subject);
	fputs("</td><td>", f);
	html(f, g->path);
	fputs("</td><td>", f);
	if (g->start)
		utc(f, g->start);
	fputs("</td><td>", f);
	if (g->end)
		utc(f, g->end);
	fputs("</td><td>", f);
	if (g->revoked)
		utc(f, g->revoked);
	fputs("</td><td>", f);
	html(f, g->by);
	fputs("</td></tr>\n", f);
}

static void grants(FILE *f, const struct cfs_at_report *r)
{
	int h = AXIS_H + (int)r->ngrants * LANE_H;
	fputs("<h2>Grants</h2>\n<p class=\"note\">As the log records them (grant_add and "
	      "grant_revoke rows, which the verification above covers); green while granted, "
	      "grey once revoked, the red line at revocation.</p>\n", f);
	fprintf(f, "<svg id=\"grant-bars\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\">", LABEL_W + CFS_AT_COLS * CELL_W + 10, h);
	axis(f, h);
	axis_labels(f, r);
	for (size_t i = 0; i < r->ngrants; i++)
		grant_bar(f, r, &r->grants[i], AXIS_H + (int)i * LANE_H);
	fputs("</svg>\n<table id=\"grants\"><thead><tr><th>Grant</th><th>Subject</th><th>Path</th>"
	      "<th>From</th><th>Until</th><th>Revoked</th><th>Granted by</th></tr></thead><tbody>\n",
	      f);
	for (size_t i = 0; i < r->ngrants; i++)
		grant_row(f, &r->grants[i]);
	fputs("</tbody></table>\n", f);
	if (r->grants_left_out)
		fprintf(f, "<p class=\"note\">%lld older grants are not shown.</p>\n",
			(long long)r->grants_left_out);
}

int cfs_at_html(FILE *f, const struct cfs_at_report *r)
{
	page_head(f, r);
	verify_banner(f, r);
	timeline(f, r);
	activity_table(f, r);
	grants(f, r);
	fputs("</body></html>\n", f);
	return ferror(f) ? -EIO : 0;
}
