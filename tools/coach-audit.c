/* coach-audit — the auditor's tool (README, "coach-audit" and "Audit log"): history of a path, the
 * log, a summary, verification of the hash chain and signed checkpoints
 * (against pinned heads too), and the newest head for an auditor to pin.
 * Owns argument parsing and output formats (aligned text in local time,
 * JSON, CSV); the database work is audit.c's. It must never modify an
 * audit database other than by appending its own audit_query row, never
 * write to a database named with --db that is not the live one (a copy is
 * evidence), and never print database text without escaping it.
 *
 * Auditors are audited: a query on the live database (the config's
 * [audit] db) is first recorded as an audit_query row, and the query is
 * refused when that row cannot be written. When the invoking user may not
 * write to the live database at all, the query runs read-only and is not
 * recorded (such a user could read a copy of the file anyway). */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "coachfs/audit.h"
#include "coachfs/config.h"
#include "coachfs/util.h"
#include "tool.h"

#define PROG "coach-audit"
const char cfs_tool_prog[] = PROG;
#define ARG_MAX_LEN 256
#define TOP_PATHS 10

enum { EXIT_OK = 0, EXIT_FAIL = CFS_EXIT_FAIL, EXIT_USAGE = CFS_EXIT_USAGE };
enum fmt { FMT_TEXT, FMT_JSON, FMT_CSV };

static const char usage_text[] =
	"usage: coach-audit [-c FILE] [--db PATH] COMMAND [OPTIONS]\n"
	"\n"
	"Review and verify the coachfs audit log.\n"
	"\n"
	"  history PATH   events on PATH (a file, or everything under a directory)\n"
	"  log            all events\n"
	"  summary        counts per action and result, per user, and the busiest paths\n"
	"  verify [--pubkey KEY] [--head HEAD]\n"
	"                 check the hash chain, every signed checkpoint and the chain\n"
	"                 of checkpoints; exit 0 only if they hold, else name the\n"
	"                 first event (or checkpoint) that does not. With --head, the\n"
	"                 log must also still hold each pinned head: HEAD is a line\n"
	"                 printed by 'coach-audit head', or a file of such lines\n"
	"  head [--pubkey KEY] [--json]\n"
	"                 verify, then print the newest signed checkpoint as one line\n"
	"                 to keep somewhere this machine cannot rewrite (the daemon\n"
	"                 also sends each one to syslog, authpriv.info)\n"
	"\n"
	"Filters (history, log, summary):\n"
	"  --since T      events at or after T\n"
	"  --until T      events before T\n"
	"  --user U       events by login name U\n"
	"  --action A     one of: mount, unmount, open, replay, read, write, release,\n"
	"                 create, unlink, rename, export, setxattr, tamper, grant_add,\n"
	"                 grant_revoke, grant_approve, grant_request, grant_deny,\n"
	"                 breakglass, breakglass_review, link_issue, link_use, audit_query\n"
	"  --result R     allow, flag, deny or error\n"
	"  --after ID     (history, log) only events with an id above ID\n"
	"  --follow       (history, log) after the matching events, keep printing\n"
	"                 new ones as they are committed, until interrupted; with\n"
	"                 --json one object per line (JSON Lines), resumable with\n"
	"                 --after the last id seen\n"
	"T is now, 2h (ago), +2h, 2026-11-27T10:00:00Z, 2026-11-27 10:00 (local time)\n"
	"or @EPOCHSECONDS.\n"
	"\n"
	"Output (history, log, summary, verify): aligned text in local time, or\n"
	"  --json         an array of objects keyed by column name (hashes in hex)\n"
	"  --csv          RFC 4180, with a header row (NULL is an empty field, an\n"
	"                 empty string is \"\")\n"
	"\n"
	"Options:\n"
	"  -c FILE        configuration (default: $COACHFS_CONFIG, else\n"
	"                 /etc/coachfs/coachfs.ini)\n"
	"  --db PATH      read this audit database (for example a copy) instead of\n"
	"                 the config's [audit] db; a copy is only read, never written\n"
	"  --pubkey KEY   the audit public key: 64 hex characters or a file holding\n"
	"                 them (default: the file DB.pub beside the database, with a\n"
	"                 warning: a key kept beside the database proves nothing\n"
	"                 against someone who could rewrite both). Pin it.\n"
	"  --head HEAD    (verify) a pinned head line, or a file of them (blank\n"
	"                 lines and # comments ignored)\n"
	"  -h, --help     show this help\n"
	"  -V, --version  show the version\n"
	"\n"
	"Queries on the live database are themselves recorded (action audit_query)\n"
	"when you may write to it, and refused if that record cannot be written.\n"
	"Rows appended after the newest checkpoint are not yet sealed: until the\n"
	"daemon signs the next checkpoint (at mount, every few seconds of activity,\n"
	"and at unmount) their removal cannot be detected. Nor, without a pinned\n"
	"head, can a rollback of the whole log to an older checkpoint.\n"
	"Exit status: 0 done (verify: the log holds), 1 failed (verify: it does\n"
	"not), 2 bad usage or argument.\n";

/* ---- messages --------------------------------------------------------------- */

static void put_json_int(FILE *f, int64_t v)
{
	if (v == CFS_AUDIT_NONE)
		fputs("null", f);
	else
		fprintf(f, "%lld", (long long)v);
}

static void put_csv_int(FILE *f, int64_t v)
{
	if (v != CFS_AUDIT_NONE)
		fprintf(f, "%lld", (long long)v);
}

static void hex(const unsigned char *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t k = 0; k < n; k++) {
		out[2 * k] = d[b[k] >> 4];
		out[2 * k + 1] = d[b[k] & 15];
	}
	out[2 * n] = 0;
}

/* Local time of a microsecond timestamp, "YYYY-MM-DD HH:MM:SS". */
static void fmt_local(int64_t us, char *out, size_t cap)
{
	if (us == CFS_AUDIT_NONE)
		cfs_strlcpy(out, "-", cap);
	else
		cfs_fmt_local(us / 1000000 - (us % 1000000 < 0), out, cap);
}

/* ---- rows ------------------------------------------------------------------- */

static const char CSV_HEADER[] =
	"id,ts,host,uid,user,pid,exe,action,path,result,reason,grant_id,offset,length,"
	"prev_hash,hash\r\n";

struct out {
	enum fmt fmt;
	int64_t n;
	int lines;            /* JSON Lines: one object per line, no array */
	int64_t last_id;      /* the newest id printed */
};

static void row_text(const struct cfs_audit_row *r)
{
	const struct cfs_event *e = &r->ev;
	char when[40], user[1024], action[256], result[256];
	const char *sep = "  ";
	fmt_local(e->ts, when, sizeof when);
	cfs_term_buf(e->user ? e->user : "-", user, sizeof user);
	cfs_term_buf(e->action ? e->action : "-", action, sizeof action);
	cfs_term_buf(e->result ? e->result : "-", result, sizeof result);
	printf("%7lld  %-19s  %-12s  %-12s  %-6s  ", (long long)r->id, when, user, action, result);
	cfs_put_term(stdout, e->path ? e->path : "-");
	if (e->pid != CFS_AUDIT_NONE || e->exe) {
		fputs(sep, stdout);
		sep = "; ";
		if (e->pid != CFS_AUDIT_NONE)
			printf("pid %lld%s", (long long)e->pid, e->exe ? " " : "");
		if (e->exe)
			cfs_put_term(stdout, e->exe);
	}
	if (e->grant_id != CFS_AUDIT_NONE) {
		printf("%sgrant %lld", sep, (long long)e->grant_id);
		sep = "; ";
	}
	if (e->offset != CFS_AUDIT_NONE || e->length != CFS_AUDIT_NONE) {
		printf("%sbytes ", sep);
		sep = "; ";
		if (e->offset != CFS_AUDIT_NONE)
			printf("@%lld", (long long)e->offset);
		if (e->length != CFS_AUDIT_NONE)
			printf("+%lld", (long long)e->length);
	}
	if (e->reason) {
		printf("%s", sep);
		cfs_put_term(stdout, e->reason);
	}
	putchar('\n');
}

static void row_json_obj(const struct cfs_audit_row *r)
{
	const struct cfs_event *e = &r->ev;
	char ph[65], h[65];
	hex(r->prev_hash, r->prev_hash_len, ph);
	hex(r->hash, r->hash_len, h);
	printf("{\"id\":%lld,\"ts\":", (long long)r->id);
	put_json_int(stdout, e->ts);
	fputs(",\"host\":", stdout);
	cfs_put_json_str(stdout, e->host);
	fputs(",\"uid\":", stdout);
	put_json_int(stdout, e->uid);
	fputs(",\"user\":", stdout);
	cfs_put_json_str(stdout, e->user);
	fputs(",\"pid\":", stdout);
	put_json_int(stdout, e->pid);
	fputs(",\"exe\":", stdout);
	cfs_put_json_str(stdout, e->exe);
	fputs(",\"action\":", stdout);
	cfs_put_json_str(stdout, e->action);
	fputs(",\"path\":", stdout);
	cfs_put_json_str(stdout, e->path);
	fputs(",\"result\":", stdout);
	cfs_put_json_str(stdout, e->result);
	fputs(",\"reason\":", stdout);
	cfs_put_json_str(stdout, e->reason);
	fputs(",\"grant_id\":", stdout);
	put_json_int(stdout, e->grant_id);
	fputs(",\"offset\":", stdout);
	put_json_int(stdout, e->offset);
	fputs(",\"length\":", stdout);
	put_json_int(stdout, e->length);
	printf(",\"prev_hash\":\"%s\",\"hash\":\"%s\"}", ph, h);
}

static void row_csv(const struct cfs_audit_row *r)
{
	const struct cfs_event *e = &r->ev;
	char ph[65], h[65];
	hex(r->prev_hash, r->prev_hash_len, ph);
	hex(r->hash, r->hash_len, h);
	printf("%lld,", (long long)r->id);
	put_csv_int(stdout, e->ts);
	putchar(',');
	cfs_put_csv_str(stdout, e->host);
	putchar(',');
	put_csv_int(stdout, e->uid);
	putchar(',');
	cfs_put_csv_str(stdout, e->user);
	putchar(',');
	put_csv_int(stdout, e->pid);
	putchar(',');
	cfs_put_csv_str(stdout, e->exe);
	putchar(',');
	cfs_put_csv_str(stdout, e->action);
	putchar(',');
	cfs_put_csv_str(stdout, e->path);
	putchar(',');
	cfs_put_csv_str(stdout, e->result);
	putchar(',');
	cfs_put_csv_str(stdout, e->reason);
	putchar(',');
	put_csv_int(stdout, e->grant_id);
	putchar(',');
	put_csv_int(stdout, e->offset);
	putchar(',');
	put_csv_int(stdout, e->length);
	printf(",%s,%s\r\n", ph, h);
}

static int row_cb(const struct cfs_audit_row *r, void *arg)
{
	struct out *o = arg;
	if (o->fmt == FMT_TEXT) {
		if (o->n == 0)
			printf("%7s  %-19s  %-12s  %-12s  %-6s  %s\n", "ID", "TIME", "USER", "ACTION",
			       "RESULT", "PATH  DETAILS");
		row_text(r);
	} else if (o->fmt == FMT_JSON && o->lines) {
		row_json_obj(r);
		putchar('\n');
	} else if (o->fmt == FMT_JSON) {
		fputs(o->n == 0 ? "[\n" : ",\n", stdout);
		row_json_obj(r);
	} else {
		row_csv(r);
	}
	o->n++;
	o->last_id = r->id;
	return ferror(stdout) ? -EIO : 0;
}

/* ---- summary ---------------------------------------------------------------- */

struct sum {
	enum fmt fmt;
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

static int summary(struct cfs_audit *a, const struct cfs_audit_filter *f, enum fmt fmt,
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

/* ---- who is asking ------------------------------------------------------------ */

/* ---- arguments ---------------------------------------------------------------- */

struct opts {
	const char *cfile, *db, *pubkey, *head;
	const char *since, *until, *user, *action, *result, *after;
	enum fmt fmt;
	int json, csv, follow;
	const char *cmd, *path_arg;
};

/* The action words (README, "Audit log"): the only values the log holds. */
static const char *const ACTIONS[] = {
	"mount", "unmount", "open", "replay", "read", "write", "release", "create", "unlink",
	"rename", "export", "setxattr", "tamper", "grant_add", "grant_revoke", "grant_approve",
	"grant_request", "grant_deny", "breakglass", "breakglass_review", "link_issue", "link_use", "audit_query" };
#define ACTIONS_TEXT "mount, unmount, open, replay, read, write, release, create, unlink, " \
	"rename, export, setxattr, tamper, grant_add, grant_revoke, grant_approve, grant_request, " \
	"grant_deny, breakglass, breakglass_review, link_issue, link_use, audit_query"

static int action_arg(const char *v)
{
	for (size_t k = 0; k < sizeof ACTIONS / sizeof ACTIONS[0]; k++)
		if (strcmp(v, ACTIONS[k]) == 0)
			return 0;
	return cfs_say(EXIT_USAGE, "--action: '%.80s' is not an action; the actions are "
		   ACTIONS_TEXT, v);
}

static int text_arg(const char *name, const char *v)
{
	if (!*v || strlen(v) >= ARG_MAX_LEN || !cfs_printable(v))
		return cfs_say(EXIT_USAGE, "%s: '%.80s' is empty, too long or has control characters",
			   name, v);
	return 0;
}

static int time_arg(const char *name, const char *v, int64_t now, int64_t *us)
{
	int64_t s;
	if (cfs_parse_time(v, now, &s) < 0 || s < 0 || s > INT64_MAX / 1000000 - 1)
		return cfs_say(EXIT_USAGE, "%s: '%.80s' is not a time (now, 2h, +2h, "
			   "2026-11-27T10:00:00Z, 2026-11-27 10:00, @EPOCH)", name, v);
	*us = s * 1000000;
	return 0;
}

/* A mount-relative path: leading '/' added, trailing '/' removed. */
static int path_arg(const char *v, char *out, size_t cap)
{
	size_t n;
	if (!v || !*v || strlen(v) + 2 > cap)
		return cfs_say(EXIT_USAGE, "PATH: '%.80s' is empty or too long", v ? v : "");
	snprintf(out, cap, "%s%s", v[0] == '/' ? "" : "/", v);
	n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = 0;
	if (cfs_path_valid(out) < 0)
		return cfs_say(EXIT_USAGE, "PATH: '%.80s' is not a mount-relative path like "
			   "/incidents/2026", v);
	return 0;
}

static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* Open the database to query. live: append the audit_query row first (if
 * the invoking user may write) and keep the handle for the query itself.
 * *out_a is NULL for verify (it opens the file itself). */
static int open_for_query(const char *db, int live, int keep, const char *cmd,
			  const char *path, const char *words, struct cfs_audit **out_a)
{
	struct cfs_err err = { "" };
	struct cfs_audit *a = NULL;
	int rc;
	*out_a = NULL;
	if (live) {
		rc = cfs_audit_open(db, 0, &a, &err);
		/* a busy daemon leaves the write lock free between its batches:
		 * wait (polling finely) up to 10 s for one of those gaps */
		if (rc == 0 && (rc = cfs_audit_set_busy_timeout(a, 10000)) < 0) {
			cfs_audit_close(a, NULL);
			return cfs_say(EXIT_FAIL, "%s: cannot set the lock wait", db);
		}
		if (rc == 0) {
			struct cfs_who w;
			struct cfs_event ev;
			char reason[2048];
			cfs_who_am_i(&w);
			snprintf(reason, sizeof reason, "%s%s", cmd, words);
			cfs_event_init(&ev);
			ev.uid = w.uid;
			ev.user = w.name;
			ev.pid = getpid();
			ev.exe = w.exe[0] ? w.exe : NULL;
			ev.action = "audit_query";
			ev.path = path;
			ev.result = "allow";
			ev.reason = reason;
			rc = cfs_audit_append(a, &ev, &err);
			if (rc < 0) {
				cfs_audit_close(a, NULL);
				return cfs_say(EXIT_FAIL, "cannot record this query in the audit log, so "
					   "it is refused: %s", err.msg);
			}
			if (!keep) {
				if (cfs_audit_close(a, &err) < 0)
					return cfs_say(EXIT_FAIL, "%s", err.msg);
				return 0;
			}
			*out_a = a;
			return 0;
		}
		if (rc != -EACCES)
			return cfs_say(EXIT_FAIL, "%s", err.msg);
		/* Not writable for this user: read-only, unrecorded. */
	}
	if (!keep)
		return 0;
	if (cfs_audit_open_ro(db, &a, &err) < 0)
		return cfs_say(EXIT_FAIL, "%s", err.msg);
	*out_a = a;
	return 0;
}

#define PINS_MAX 4096
#define PINS_FILE_MAX (1 << 20)

/* --head: a head line itself, else a file of them (blank lines and #
 * comments skipped). *out is malloc'd; exit code 0, or a cfs_say() code. */
static int load_pins(const char *arg, struct cfs_audit_head **out, size_t *n)
{
	static const char tag[] = "coachfs-audit-head-2";
	struct cfs_err err = { "" };
	struct cfs_audit_head *pins;
	*out = NULL;
	*n = 0;
	if (!*arg)
		return cfs_say(EXIT_USAGE, "--head: empty");
	pins = calloc(1, sizeof *pins);
	if (!pins)
		return cfs_say(EXIT_FAIL, "out of memory");
	if (strncmp(arg, tag, sizeof tag - 1) == 0) {
		if (cfs_audit_head_parse(arg, pins, &err) < 0) {
			free(pins);
			return cfs_say(EXIT_USAGE, "--head: %s", err.msg);
		}
		*out = pins;
		*n = 1;
		return 0;
	}
	free(pins);
	pins = NULL;
	FILE *f = fopen(arg, "re");
	if (!f)
		return cfs_say(EXIT_USAGE, "--head: %.200s: %s (want a head line or a file of them)",
			   arg, strerror(errno));
	char line[CFS_AUDIT_HEAD_LINE_MAX + 2];
	size_t total = 0, cap = 0;
	long lineno = 0;
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof line, f)) {
		size_t len = strlen(line);
		char *p = line;
		lineno++;
		total += len;
		if (total > PINS_FILE_MAX) {
			rc = cfs_say(EXIT_USAGE, "--head: %.200s: larger than %d bytes", arg, PINS_FILE_MAX);
			break;
		}
		if (len == sizeof line - 1 && line[len - 1] != '\n') {
			rc = cfs_say(EXIT_USAGE, "--head: %.200s:%ld: line too long for a head line", arg,
				 lineno);
			break;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || *p == '\r' || *p == 0 || *p == '#')
			continue;
		if (*n == PINS_MAX) {
			rc = cfs_say(EXIT_USAGE, "--head: %.200s: more than %d heads", arg, PINS_MAX);
			break;
		}
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct cfs_audit_head *np = realloc(pins, nc * sizeof *np);
			if (!np) {
				rc = cfs_say(EXIT_FAIL, "out of memory");
				break;
			}
			pins = np;
			cap = nc;
		}
		if (cfs_audit_head_parse(p, &pins[*n], &err) < 0) {
			rc = cfs_say(EXIT_USAGE, "--head: %.200s:%ld: %s", arg, lineno, err.msg);
			break;
		}
		(*n)++;
	}
	if (rc == 0 && ferror(f))
		rc = cfs_say(EXIT_USAGE, "--head: %.200s: %s", arg, strerror(errno));
	fclose(f);
	if (rc == 0 && *n == 0)
		rc = cfs_say(EXIT_USAGE, "--head: %.200s holds no head line", arg);
	if (rc != 0) {
		free(pins);
		*n = 0;
		return rc;
	}
	*out = pins;
	return 0;
}

/* The public key: --pubkey, else DB.pub beside the database with a loud
 * warning (whoever can rewrite the database can usually replace that file
 * too). Exit code 0, or a cfs_say() code. */
static int load_pubkey(const struct opts *o, const char *db, unsigned char pk[CFS_AUDIT_PK_BYTES])
{
	struct cfs_err err = { "" };
	char keyfile[4200];
	const char *key = o->pubkey;
	if (!key) {
		if ((size_t)snprintf(keyfile, sizeof keyfile, "%s.pub", db) >= sizeof keyfile)
			return cfs_say(EXIT_USAGE, "--db: path too long");
		if (access(keyfile, F_OK) < 0)
			return cfs_say(EXIT_FAIL, "no audit public key: %s: %s (pass --pubkey with the "
				   "key printed by coach-admin init)", keyfile, strerror(errno));
		key = keyfile;
	}
	if (cfs_audit_read_pubkey(key, pk, &err) < 0)
		return cfs_say(o->pubkey ? EXIT_USAGE : EXIT_FAIL, "%s", err.msg);
	if (!o->pubkey) {
		char m[sizeof keyfile];
		cfs_term_buf(keyfile, m, sizeof m);
		fprintf(stderr, PROG ": WARNING: the audit public key was read from %s, beside the "
			"database: it proves nothing against someone who can write there (they can "
			"replace the key with their own and re-sign everything). Pass --pubkey with "
			"the key printed by coach-admin init, kept elsewhere.\n", m);
	}
	return 0;
}

static void print_report_text(const struct cfs_verify_report *r)
{
	char when[40];
	printf("audit log verified: %lld event%s, %lld checkpoint%s", (long long)r->rows,
	       r->rows == 1 ? "" : "s", (long long)r->checkpoints,
	       r->checkpoints == 1 ? "" : "s");
	if (r->checkpoints_v1)
		printf(" (%lld of the old format)", (long long)r->checkpoints_v1);
	if (r->newest_ts) {
		fmt_local(r->newest_ts, when, sizeof when);
		if (r->has_head && r->head.last_id == r->last_sealed_id)
			printf("; newest checkpoint seq %lld at %s", (long long)r->head.seq, when);
		else
			printf("; newest checkpoint (old format) at %s", when);
	}
	if (r->pins)
		printf("; %lld pinned head%s present", (long long)r->pins, r->pins == 1 ? "" : "s");
	if (r->unsealed == 0)
		printf("; all sealed\n");
	else
		printf("; %lld event%s after the last checkpoint %s not yet sealed\n",
		       (long long)r->unsealed, r->unsealed == 1 ? "" : "s",
		       r->unsealed == 1 ? "is" : "are");
}

static int cmd_verify(const struct opts *o, const char *db, int live)
{
	unsigned char pk[CFS_AUDIT_PK_BYTES];
	struct cfs_verify_report r;
	struct cfs_err err = { "" };
	struct cfs_audit *none = NULL;
	struct cfs_audit_head *pins = NULL;
	size_t npins = 0;
	int rc;
	if (o->head && (rc = load_pins(o->head, &pins, &npins)) != 0)
		return rc;
	if ((rc = load_pubkey(o, db, pk)) != 0 ||
	    (rc = open_for_query(db, live, 0, "verify", NULL, npins ? " head" : "", &none)) != 0) {
		free(pins);
		return rc;
	}
	rc = cfs_audit_verify_pinned(db, pk, pins, npins, &r, &err);
	free(pins);
	int newest = r.has_head && r.head.last_id == r.last_sealed_id;
	if (o->fmt == FMT_JSON) {
		printf("{\"verified\":%s,\"events\":%lld,\"checkpoints\":%lld,"
		       "\"last_sealed_id\":%lld,\"unsealed\":%lld,\"first_bad\":%lld,",
		       rc == 0 ? "true" : "false", (long long)r.rows, (long long)r.checkpoints,
		       (long long)r.last_sealed_id, (long long)r.unsealed, (long long)r.first_bad);
		fputs("\"newest_seq\":", stdout);
		put_json_int(stdout, newest ? r.head.seq : CFS_AUDIT_NONE);
		fputs(",\"newest_ts\":", stdout);
		put_json_int(stdout, r.newest_ts ? r.newest_ts : CFS_AUDIT_NONE);
		printf(",\"pinned\":%lld,\"pubkey_beside_db\":%s,\"error\":", (long long)r.pins,
		       o->pubkey ? "false" : "true");
		cfs_put_json_str(stdout, rc == 0 ? NULL : err.msg);
		fputs("}\n", stdout);
	} else if (o->fmt == FMT_CSV) {
		printf("verified,events,checkpoints,last_sealed_id,unsealed,first_bad,newest_seq,"
		       "newest_ts,pinned,pubkey_beside_db,error\r\n"
		       "%s,%lld,%lld,%lld,%lld,%lld,", rc == 0 ? "true" : "false", (long long)r.rows,
		       (long long)r.checkpoints, (long long)r.last_sealed_id, (long long)r.unsealed,
		       (long long)r.first_bad);
		put_csv_int(stdout, newest ? r.head.seq : CFS_AUDIT_NONE);
		putchar(',');
		put_csv_int(stdout, r.newest_ts ? r.newest_ts : CFS_AUDIT_NONE);
		printf(",%lld,%s,", (long long)r.pins, o->pubkey ? "false" : "true");
		cfs_put_csv_str(stdout, rc == 0 ? NULL : err.msg);
		fputs("\r\n", stdout);
	} else if (rc == 0) {
		print_report_text(&r);
	}
	if (fflush(stdout) != 0)
		return cfs_say(EXIT_FAIL, "writing output: %s", strerror(errno));
	if (rc == -EBADMSG) {
		char m[sizeof err.msg];
		cfs_term_buf(err.msg, m, sizeof m);
		return cfs_say(EXIT_FAIL, "audit log NOT verified: %s", m);
	}
	if (rc == -EINVAL && npins) {
		char m[sizeof err.msg];
		cfs_term_buf(err.msg, m, sizeof m);
		return cfs_say(EXIT_USAGE, "--head: %s", m);
	}
	if (rc < 0) {
		char m[sizeof err.msg];
		cfs_term_buf(err.msg, m, sizeof m);
		return cfs_say(EXIT_FAIL, "%s", m);
	}
	return EXIT_OK;
}

/* The newest signed head of a log that verifies, for an auditor to keep. */
static int cmd_head(const struct opts *o, const char *db, int live)
{
	unsigned char pk[CFS_AUDIT_PK_BYTES];
	struct cfs_verify_report r;
	struct cfs_err err = { "" };
	struct cfs_audit *none = NULL;
	char line[CFS_AUDIT_HEAD_LINE_MAX];
	int rc;
	if ((rc = load_pubkey(o, db, pk)) != 0 ||
	    (rc = open_for_query(db, live, 0, "head", NULL, "", &none)) != 0)
		return rc;
	rc = cfs_audit_verify(db, pk, &r, &err);
	if (rc < 0) {
		char m[sizeof err.msg];
		cfs_term_buf(err.msg, m, sizeof m);
		if (rc == -EBADMSG)
			return cfs_say(EXIT_FAIL, "audit log NOT verified, so no head to pin: %s", m);
		return cfs_say(EXIT_FAIL, "%s", m);
	}
	if (!r.has_head || r.head.last_id != r.last_sealed_id)
		return cfs_say(EXIT_FAIL, "%s: no checkpoint of the current format yet (the daemon "
			   "signs one when it mounts)", db);
	cfs_audit_head_format(&r.head, line, sizeof line);
	if (o->fmt == FMT_JSON) {
		char h[2 * 64 + 1];
		printf("{\"format\":\"coachfs-audit-head-2\",\"seq\":%lld,\"last_id\":%lld,\"ts\":%lld,",
		       (long long)r.head.seq, (long long)r.head.last_id, (long long)r.head.ts);
		hex(r.head.last_hash, sizeof r.head.last_hash, h);
		printf("\"last_hash\":\"%s\",", h);
		hex(r.head.prev, sizeof r.head.prev, h);
		printf("\"prev\":\"%s\",", h);
		hex(r.head.sig, sizeof r.head.sig, h);
		printf("\"sig\":\"%s\",\"line\":\"%s\"}\n", h, line);
	} else {
		printf("%s\n", line);
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		return cfs_say(EXIT_FAIL, "writing output: %s", strerror(errno));
	return EXIT_OK;
}

static volatile sig_atomic_t stop_follow;
static void on_stop(int sig)
{
	(void)sig;
	stop_follow = 1;
}

/* --follow: print what was committed since the last row printed, every
 * FOLLOW_MS, until SIGINT, SIGTERM or a closed pipe. Rows are committed in
 * id order, so "id > the last one printed" neither skips nor repeats. */
#define FOLLOW_MS 200
static int follow(struct cfs_audit *a, struct cfs_audit_filter *f, struct out *out,
		  struct cfs_err *err)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	while (!stop_follow) {
		if (fflush(stdout) != 0)
			return -EIO;
		struct timespec nap = { 0, FOLLOW_MS * 1000000L };
		nanosleep(&nap, NULL);
		if (stop_follow)
			break;
		f->after_id = out->last_id;
		int rc = cfs_audit_query(a, f, row_cb, out, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int cmd_query(const struct opts *o, const char *db, int live)
{
	struct cfs_audit_filter f;
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	char path[4096], words[1800] = "", t[40];
	int64_t now = cfs_now_s();
	int rc;
	size_t w = 0;
	cfs_audit_filter_init(&f);
	if (strcmp(o->cmd, "history") == 0) {
		if ((rc = path_arg(o->path_arg, path, sizeof path)) != 0)
			return rc;
		f.path = path;
		w += (size_t)snprintf(words + w, sizeof words - w, " %s", path);
	}
	if (o->since) {
		if ((rc = time_arg("--since", o->since, now, &f.since_us)) != 0)
			return rc;
		cfs_fmt_utc(f.since_us / 1000000, t, sizeof t);
		w += (size_t)snprintf(words + w, sizeof words - w, " since=%s", t);
	}
	if (o->until) {
		if ((rc = time_arg("--until", o->until, now, &f.until_us)) != 0)
			return rc;
		cfs_fmt_utc(f.until_us / 1000000, t, sizeof t);
		w += (size_t)snprintf(words + w, sizeof words - w, " until=%s", t);
	}
	if (o->since && o->until && f.since_us >= f.until_us)
		return cfs_say(EXIT_USAGE, "--since must be before --until");
	if (o->user) {
		if ((rc = text_arg("--user", o->user)) != 0)
			return rc;
		f.user = o->user;
		w += (size_t)snprintf(words + w, sizeof words - w, " user=%s", o->user);
	}
	if (o->action) {
		if ((rc = text_arg("--action", o->action)) != 0 || (rc = action_arg(o->action)) != 0)
			return rc;
		f.action = o->action;
		w += (size_t)snprintf(words + w, sizeof words - w, " action=%s", o->action);
	}
	if (o->result) {
		if ((rc = text_arg("--result", o->result)) != 0)
			return rc;
		f.result = o->result;
		w += (size_t)snprintf(words + w, sizeof words - w, " result=%s", o->result);
	}
	if (o->after) {
		uint64_t id;
		if (cfs_parse_uint(o->after, INT64_MAX, &id) < 0)
			return cfs_say(EXIT_USAGE, "--after '%.80s': not an event id", o->after);
		f.after_id = (int64_t)id;
		w += (size_t)snprintf(words + w, sizeof words - w, " after=%lld", (long long)id);
	}
	if (o->follow)
		w += (size_t)snprintf(words + w, sizeof words - w, " follow");
	(void)w;
	if ((rc = open_for_query(db, live, 1, o->cmd, f.path, words, &a)) != 0)
		return rc;
	if (strcmp(o->cmd, "summary") == 0) {
		rc = summary(a, &f, o->fmt, words, &err);
	} else {
		struct out out = { o->fmt, 0, o->follow, f.after_id };
		if (o->fmt == FMT_CSV)
			fputs(CSV_HEADER, stdout);
		rc = cfs_audit_query(a, &f, row_cb, &out, &err);
		if (rc == 0 && o->follow)
			rc = follow(a, &f, &out, &err);
		else if (rc == 0) {
			if (o->fmt == FMT_JSON)
				fputs(out.n ? "\n]\n" : "[]\n", stdout);
			else if (o->fmt == FMT_TEXT && out.n == 0)
				fputs("no matching events\n", stdout);
		}
	}
	cfs_audit_close(a, NULL);
	if (rc == -EIO && !err.msg[0])
		return cfs_say(EXIT_FAIL, "writing output: %s", strerror(errno));
	if (rc != 0)
		return cfs_say(EXIT_FAIL, "%s", err.msg);
	if (fflush(stdout) != 0 || ferror(stdout))
		return cfs_say(EXIT_FAIL, "writing output: %s", strerror(errno));
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	enum { O_DB = 256, O_PUBKEY, O_HEAD, O_SINCE, O_UNTIL, O_USER, O_ACTION, O_RESULT, O_JSON, O_CSV,
	       O_AFTER, O_FOLLOW };
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, O_DB },
		{ "pubkey", required_argument, NULL, O_PUBKEY },
		{ "head", required_argument, NULL, O_HEAD },
		{ "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "user", required_argument, NULL, O_USER },
		{ "action", required_argument, NULL, O_ACTION },
		{ "result", required_argument, NULL, O_RESULT },
		{ "json", no_argument, NULL, O_JSON },
		{ "csv", no_argument, NULL, O_CSV },
		{ "after", required_argument, NULL, O_AFTER },
		{ "follow", no_argument, NULL, O_FOLLOW },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 } };
	struct opts o;
	const char *pos[3] = { NULL, NULL, NULL };
	int npos = 0, c;
	memset(&o, 0, sizeof o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:hV", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o.cfile = optarg; break;
		case O_DB: o.db = optarg; break;
		case O_PUBKEY: o.pubkey = optarg; break;
		case O_HEAD: o.head = optarg; break;
		case O_SINCE: o.since = optarg; break;
		case O_UNTIL: o.until = optarg; break;
		case O_USER: o.user = optarg; break;
		case O_ACTION: o.action = optarg; break;
		case O_RESULT: o.result = optarg; break;
		case O_JSON: o.json = 1; break;
		case O_CSV: o.csv = 1; break;
		case O_AFTER: o.after = optarg; break;
		case O_FOLLOW: o.follow = 1; break;
		case 'h':
			fputs(usage_text, stdout);
			return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
		case 'V':
			printf("coach-audit (coachfs) %s\n", CFS_VERSION);
			return EXIT_OK;
		case ':':
			return cfs_say(EXIT_USAGE, "option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt && optopt != '?')
				return cfs_say(EXIT_USAGE, "unknown option '-%c' (see coach-audit --help)",
					   optopt);
			return cfs_say(EXIT_USAGE, "unknown option '%s' (see coach-audit --help)",
				   argv[optind - 1]);
		}
	}
	for (int i = optind; i < argc; i++) {
		if (npos == 3)
			return cfs_say(EXIT_USAGE, "too many arguments (see coach-audit --help)");
		pos[npos++] = argv[i];
	}
	if (npos == 0)
		return cfs_say(EXIT_USAGE, "no command given (history, log, summary, verify, head; see "
			   "--help)");
	o.cmd = pos[0];
	int is_history = strcmp(o.cmd, "history") == 0, is_verify = strcmp(o.cmd, "verify") == 0;
	int is_head = strcmp(o.cmd, "head") == 0;
	if (!is_history && !is_verify && !is_head && strcmp(o.cmd, "log") != 0 &&
	    strcmp(o.cmd, "summary") != 0)
		return cfs_say(EXIT_USAGE, "unknown command '%.80s' (history, log, summary, verify, head; "
			   "see --help)", o.cmd);
	if (is_history) {
		if (npos != 2)
			return cfs_say(EXIT_USAGE, "usage: coach-audit history PATH [filters] [--json|--csv]");
		o.path_arg = pos[1];
	} else if (npos != 1) {
		return cfs_say(EXIT_USAGE, "%s takes no arguments besides options (got '%.80s')", o.cmd,
			   pos[1]);
	}
	if (o.json && o.csv)
		return cfs_say(EXIT_USAGE, "--json and --csv exclude each other");
	o.fmt = o.json ? FMT_JSON : o.csv ? FMT_CSV : FMT_TEXT;
	if ((is_verify || is_head) && (o.since || o.until || o.user || o.action || o.result))
		return cfs_say(EXIT_USAGE, "%s checks the whole log; it takes no filters", o.cmd);
	if (!is_verify && !is_head && o.pubkey)
		return cfs_say(EXIT_USAGE, "--pubkey is for verify and head");
	if (!is_verify && o.head)
		return cfs_say(EXIT_USAGE, "--head is for verify");
	if ((o.after || o.follow) && (is_verify || is_head || strcmp(o.cmd, "summary") == 0))
		return cfs_say(EXIT_USAGE, "--after and --follow are for history and log");
	if (is_head && o.csv)
		return cfs_say(EXIT_USAGE, "head prints a line or --json, not --csv");
	if (o.db && !*o.db)
		return cfs_say(EXIT_USAGE, "--db: empty path");

	/* Which database, and is it the live one? With --db the config is read
	 * only if one is named or present, to tell the live file from a copy. */
	struct cfs_config *cfg = NULL;
	struct cfs_err err = { "" };
	const char *cpath = cfs_config_path(o.cfile);
	int live = 0, rc;
	if (!o.db || o.cfile || access(cpath, F_OK) == 0) {
		if (cfs_config_load(cpath, &cfg, &err) < 0)
			return cfs_say(EXIT_FAIL, "%s", err.msg);
	}
	const char *db = o.db ? o.db : cfg->audit_db;
	if (!o.db)
		live = 1;
	else if (cfg && same_file(o.db, cfg->audit_db))
		live = 1;
	if (is_verify)
		rc = cmd_verify(&o, db, live);
	else if (is_head)
		rc = cmd_head(&o, db, live);
	else
		rc = cmd_query(&o, db, live);
	cfs_config_free(cfg);
	return rc;
}
