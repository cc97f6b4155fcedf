/* coach-audit — the auditor's tool (README, "coach-audit" and "Audit log"):
 * history of a path, the log (and --follow), and the command line of every
 * command; summary, verify and head, forward and report live in
 * tools/audit-*.c (audit-cmd.h).
 * Owns argument parsing and which options go with which command; the
 * database work is the audit module's (fs/audit*.c). It must never modify an
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

#include "coachfs/action.h"
#include "coachfs/audit.h"
#include "coachfs/config.h"
#include "coachfs/util.h"
#include "audit-cmd.h"

const char cfs_tool_prog[] = PROG;
#define ARG_MAX_LEN 256

static const char usage_text[] =
	"usage: coach-audit [-c FILE] [--db PATH] COMMAND [OPTIONS]\n"
	"\n"
	"Review and verify the coachfs audit log.\n"
	"\n"
	"  history PATH   events on PATH (a file, or everything under a directory)\n"
	"  log            all events\n"
	"  summary [--by KEYS]\n"
	"                 counts per action and result, per user, and the busiest\n"
	"                 paths; with --by, counts grouped by KEYS, a comma-separated\n"
	"                 list of user, file, action, result (busiest first)\n"
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
	"  forward --syslog [--socket PATH] [--cursor FILE] [--once]\n"
	"                 send every event, in id order and as it is committed, to\n"
	"                 syslog (PATH, default /dev/log; facility authpriv; one\n"
	"                 message per event: \"@cee: \" and the event as JSON, id and\n"
	"                 hash included), until SIGTERM or SIGINT; --once: what is\n"
	"                 there, then exit. FILE (default\n"
	"                 /var/lib/coachfs/forward.cursor) keeps the last event the\n"
	"                 receiver accepted, so a restart goes on from there; a\n"
	"                 receiver that is down is retried with backoff\n"
	"  report --html FILE [--since T] [--until T] [--pubkey KEY] [PATH]\n"
	"                 write one self-contained HTML page: the verify status, a\n"
	"                 timeline of opens, reads, denials and exports per user and\n"
	"                 file, and grants as bars over time\n"
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
	"  --pubkey KEY   (verify, head, report) the audit public key: 64 hex\n"
	"                 characters or a file holding\n"
	"                 them (default: the file DB.pub beside the database, with a\n"
	"                 warning: a key kept beside the database proves nothing\n"
	"                 against someone who could rewrite both). Pin it.\n"
	"  --head HEAD    (verify) a pinned head line, or a file of them (blank\n"
	"                 lines and # comments ignored)\n"
	"  --by KEYS      (summary) group by these of user, file, action, result\n"
	"  --syslog       (forward) send to syslog, the one destination there is\n"
	"  --socket PATH  (forward) the syslog socket (default /dev/log)\n"
	"  --cursor FILE  (forward) where the last accepted event is kept\n"
	"  --once         (forward) send what is there, then exit\n"
	"  --html FILE    (report) the page to write\n"
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

/* ---- rows ------------------------------------------------------------------- */

struct out {
	enum cfs_at_fmt fmt;
	int64_t n;
	int lines;            /* JSON Lines: one object per line, no array */
	int64_t last_id;      /* the newest id printed */
};

static int row_cb(const struct cfs_audit_row *r, void *arg)
{
	struct out *o = arg;
	if (o->fmt == FMT_TEXT) {
		if (o->n == 0)
			printf("%7s  %-19s  %-12s  %-12s  %-6s  %s\n", "ID", "TIME", "USER", "ACTION",
			       "RESULT", "PATH  DETAILS");
		cfs_at_row_text(stdout, r);
	} else if (o->fmt == FMT_JSON && o->lines) {
		cfs_at_row_json(stdout, r);
		putchar('\n');
	} else if (o->fmt == FMT_JSON) {
		fputs(o->n == 0 ? "[\n" : ",\n", stdout);
		cfs_at_row_json(stdout, r);
	} else {
		cfs_at_row_csv(stdout, r);
	}
	o->n++;
	o->last_id = r->id;
	return ferror(stdout) ? -EIO : 0;
}

/* ---- arguments ---------------------------------------------------------------- */

/* The action words (README, "Audit log"; the table in fs/action.c): the
 * only values the log holds. */
static int action_arg(const char *v, enum cfs_action *out)
{
	char list[CFS_ACTION_LIST_MAX];
	if (cfs_action_parse(v, out) == 0)
		return 0;
	cfs_action_list(list, sizeof list);
	return cfs_say(EXIT_USAGE, "--action: '%.80s' is not an action; the actions are %s", v, list);
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
int cfs_at_open(const char *db, int live, int keep, const char *cmd,
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
			ev.action = CFS_ACT_AUDIT_QUERY;
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

volatile sig_atomic_t cfs_at_stop;
static void on_stop(int sig)
{
	(void)sig;
	cfs_at_stop = 1;
}

/* SIGINT and SIGTERM set cfs_at_stop and interrupt a blocking call (no
 * SA_RESTART); a closed pipe is an error on write, not a signal. */
void cfs_at_catch_stop(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* --follow: print what was committed since the last row printed, every
 * FOLLOW_MS, until SIGINT, SIGTERM or a closed pipe. Rows are committed in
 * id order, so "id > the last one printed" neither skips nor repeats. */
#define FOLLOW_MS 200
static int follow(struct cfs_audit *a, struct cfs_audit_filter *f, struct out *out,
		  struct cfs_err *err)
{
	cfs_at_catch_stop();
	while (!cfs_at_stop) {
		if (fflush(stdout) != 0)
			return -EIO;
		struct timespec nap = { 0, FOLLOW_MS * 1000000L };
		nanosleep(&nap, NULL);
		if (cfs_at_stop)
			break;
		f->after_id = out->last_id;
		int rc = cfs_audit_query(a, f, row_cb, out, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void addw(char *words, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void addw(char *words, size_t cap, const char *fmt, ...)
{
	size_t n = strlen(words);
	va_list ap;
	if (n + 1 >= cap)
		return;
	va_start(ap, fmt);
	vsnprintf(words + n, cap - n, fmt, ap);
	va_end(ap);
}

static int time_filters(const struct cfs_at_opts *o, struct cfs_audit_filter *f, char *words,
			size_t cap)
{
	int64_t now = cfs_now_s();
	char t[40];
	int rc;
	if (o->since) {
		if ((rc = time_arg("--since", o->since, now, &f->since_us)) != 0)
			return rc;
		cfs_fmt_utc(f->since_us / 1000000, t, sizeof t);
		addw(words, cap, " since=%s", t);
	}
	if (o->until) {
		if ((rc = time_arg("--until", o->until, now, &f->until_us)) != 0)
			return rc;
		cfs_fmt_utc(f->until_us / 1000000, t, sizeof t);
		addw(words, cap, " until=%s", t);
	}
	if (o->since && o->until && f->since_us >= f->until_us)
		return cfs_say(EXIT_USAGE, "--since must be before --until");
	return 0;
}

int cfs_at_filter(const struct cfs_at_opts *o, struct cfs_audit_filter *f, char *path,
		   size_t path_cap, char *words, size_t cap)
{
	int rc;
	cfs_audit_filter_init(f);
	words[0] = 0;
	if (o->path_arg) {
		if ((rc = path_arg(o->path_arg, path, path_cap)) != 0)
			return rc;
		f->path = path;
		addw(words, cap, " %s", path);
	}
	if ((rc = time_filters(o, f, words, cap)) != 0)
		return rc;
	if (o->user) {
		if ((rc = text_arg("--user", o->user)) != 0)
			return rc;
		f->user = o->user;
		addw(words, cap, " user=%s", o->user);
	}
	if (o->action) {
		if ((rc = text_arg("--action", o->action)) != 0 ||
		    (rc = action_arg(o->action, &f->action)) != 0)
			return rc;
		f->has_action = 1;
		addw(words, cap, " action=%s", o->action);
	}
	if (o->result) {
		if ((rc = text_arg("--result", o->result)) != 0)
			return rc;
		f->result = o->result;
		addw(words, cap, " result=%s", o->result);
	}
	if (o->after) {
		uint64_t id;
		if (cfs_parse_uint(o->after, INT64_MAX, &id) < 0)
			return cfs_say(EXIT_USAGE, "--after '%.80s': not an event id", o->after);
		f->after_id = (int64_t)id;
		addw(words, cap, " after=%lld", (long long)id);
	}
	if (o->follow)
		addw(words, cap, " follow");
	return 0;
}

int cfs_at_done(int rc, const struct cfs_err *err)
{
	if (rc == -EIO && !err->msg[0])
		return cfs_say(EXIT_FAIL, "writing output: %s", strerror(errno));
	if (rc != 0)
		return cfs_say(EXIT_FAIL, "%s", err->msg);
	if (fflush(stdout) != 0 || ferror(stdout))
		return cfs_say(EXIT_FAIL, "writing output: %s", strerror(errno));
	return EXIT_OK;
}

static int cmd_query(const struct cfs_at_opts *o, const char *db, int live)
{
	struct cfs_audit_filter f;
	struct cfs_audit *a = NULL;
	struct cfs_err err = { "" };
	char path[4096], words[1800];
	int rc;
	if ((rc = cfs_at_filter(o, &f, path, sizeof path, words, sizeof words)) != 0 ||
	    (rc = cfs_at_open(db, live, 1, o->cmd, f.path, words, &a)) != 0)
		return rc;
	struct out out = { o->fmt, 0, o->follow, f.after_id };
	if (o->fmt == FMT_CSV)
		fputs(CFS_AT_CSV_HEADER, stdout);
	rc = cfs_audit_query(a, &f, row_cb, &out, &err);
	if (rc == 0 && o->follow)
		rc = follow(a, &f, &out, &err);
	else if (rc == 0 && o->fmt == FMT_JSON)
		fputs(out.n ? "\n]\n" : "[]\n", stdout);
	else if (rc == 0 && o->fmt == FMT_TEXT && out.n == 0)
		fputs("no matching events\n", stdout);
	cfs_audit_close(a, NULL);
	return cfs_at_done(rc, &err);
}

/* ---- the command line --------------------------------------------------------- */

enum { O_DB = 256, O_PUBKEY, O_HEAD, O_SINCE, O_UNTIL, O_USER, O_ACTION, O_RESULT, O_JSON, O_CSV,
       O_AFTER, O_FOLLOW, O_BY, O_SYSLOG, O_CURSOR, O_SOCKET, O_ONCE, O_HTML };

static const struct option LONG_OPTS[] = {
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
	{ "by", required_argument, NULL, O_BY },
	{ "syslog", no_argument, NULL, O_SYSLOG },
	{ "cursor", required_argument, NULL, O_CURSOR },
	{ "socket", required_argument, NULL, O_SOCKET },
	{ "once", no_argument, NULL, O_ONCE },
	{ "html", required_argument, NULL, O_HTML },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 } };

/* One option into o. -1 to go on, else the exit code. */
static int take_opt(int c, char **argv, struct cfs_at_opts *o)
{
	switch (c) {
	case 'c': o->cfile = optarg; break;
	case O_DB: o->db = optarg; break;
	case O_PUBKEY: o->pubkey = optarg; break;
	case O_HEAD: o->head = optarg; break;
	case O_SINCE: o->since = optarg; break;
	case O_UNTIL: o->until = optarg; break;
	case O_USER: o->user = optarg; break;
	case O_ACTION: o->action = optarg; break;
	case O_RESULT: o->result = optarg; break;
	case O_JSON: o->json = 1; break;
	case O_CSV: o->csv = 1; break;
	case O_AFTER: o->after = optarg; break;
	case O_FOLLOW: o->follow = 1; break;
	case O_BY: o->by = optarg; break;
	case O_SYSLOG: o->syslog = 1; break;
	case O_CURSOR: o->cursor = optarg; break;
	case O_SOCKET: o->socket = optarg; break;
	case O_ONCE: o->once = 1; break;
	case O_HTML: o->html = optarg; break;
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
			return cfs_say(EXIT_USAGE, "unknown option '-%c' (see coach-audit --help)", optopt);
		return cfs_say(EXIT_USAGE, "unknown option '%s' (see coach-audit --help)",
			   argv[optind - 1]);
	}
	return -1;
}

static const char *const COMMANDS[] = { "history", "log", "summary", "verify", "head", "forward",
					"report" };
#define COMMANDS_TEXT "history, log, summary, verify, head, forward, report"

/* Options and positionals into o. -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct cfs_at_opts *o)
{
	const char *pos[3] = { NULL, NULL, NULL };
	int npos = 0, c, rc;
	size_t k;
	memset(o, 0, sizeof *o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:hV", LONG_OPTS, NULL)) != -1)
		if ((rc = take_opt(c, argv, o)) >= 0)
			return rc;
	for (int i = optind; i < argc; i++) {
		if (npos == 3)
			return cfs_say(EXIT_USAGE, "too many arguments (see coach-audit --help)");
		pos[npos++] = argv[i];
	}
	if (npos == 0)
		return cfs_say(EXIT_USAGE, "no command given (" COMMANDS_TEXT "; see --help)");
	o->cmd = pos[0];
	for (k = 0; k < sizeof COMMANDS / sizeof COMMANDS[0]; k++)
		if (strcmp(o->cmd, COMMANDS[k]) == 0)
			break;
	if (k == sizeof COMMANDS / sizeof COMMANDS[0])
		return cfs_say(EXIT_USAGE, "unknown command '%.80s' (" COMMANDS_TEXT "; see --help)",
			   o->cmd);
	if (strcmp(o->cmd, "history") == 0 && npos != 2)
		return cfs_say(EXIT_USAGE, "usage: coach-audit history PATH [filters] [--json|--csv]");
	if (strcmp(o->cmd, "report") == 0 && npos > 2)
		return cfs_say(EXIT_USAGE, "usage: coach-audit report --html FILE [--since T] "
			   "[--until T] [PATH]");
	if (npos == 2 && strcmp(o->cmd, "history") != 0 && strcmp(o->cmd, "report") != 0)
		return cfs_say(EXIT_USAGE, "%s takes no arguments besides options (got '%.80s')",
			   o->cmd, pos[1]);
	o->path_arg = pos[1];
	return -1;
}

static int is(const struct cfs_at_opts *o, const char *cmd)
{
	return strcmp(o->cmd, cmd) == 0;
}

/* Which options go with which command. -1 when they fit, else 2. */
static int check_args(struct cfs_at_opts *o)
{
	int rows = is(o, "history") || is(o, "log");
	int filters = o->since || o->until || o->user || o->action || o->result;
	if (o->json && o->csv)
		return cfs_say(EXIT_USAGE, "--json and --csv exclude each other");
	o->fmt = o->json ? FMT_JSON : o->csv ? FMT_CSV : FMT_TEXT;
	if ((is(o, "verify") || is(o, "head")) && filters)
		return cfs_say(EXIT_USAGE, "%s checks the whole log; it takes no filters", o->cmd);
	if (is(o, "forward") && filters)
		return cfs_say(EXIT_USAGE, "forward ships every event; it takes no filters");
	if (is(o, "report") && (o->user || o->action || o->result))
		return cfs_say(EXIT_USAGE, "report takes --since, --until and a PATH, no other filter");
	if (!is(o, "verify") && !is(o, "head") && !is(o, "report") && o->pubkey)
		return cfs_say(EXIT_USAGE, "--pubkey is for verify, head and report");
	if (!is(o, "verify") && o->head)
		return cfs_say(EXIT_USAGE, "--head is for verify");
	if ((o->after || o->follow) && !rows)
		return cfs_say(EXIT_USAGE, "--after and --follow are for history and log");
	if (o->by && !is(o, "summary"))
		return cfs_say(EXIT_USAGE, "--by is for summary");
	if ((o->syslog || o->cursor || o->socket || o->once) && !is(o, "forward"))
		return cfs_say(EXIT_USAGE, "--syslog, --cursor, --socket and --once are for forward");
	if (is(o, "forward") && !o->syslog)
		return cfs_say(EXIT_USAGE, "forward needs a destination: --syslog");
	if ((is(o, "forward") || is(o, "report")) && (o->json || o->csv))
		return cfs_say(EXIT_USAGE, "%s takes no --json or --csv", o->cmd);
	if (o->html && !is(o, "report"))
		return cfs_say(EXIT_USAGE, "--html is for report");
	if (is(o, "report") && !o->html)
		return cfs_say(EXIT_USAGE, "report needs --html FILE");
	if (is(o, "head") && o->csv)
		return cfs_say(EXIT_USAGE, "head prints a line or --json, not --csv");
	if (o->db && !*o->db)
		return cfs_say(EXIT_USAGE, "--db: empty path");
	return -1;
}

static int run(const struct cfs_at_opts *o, const char *db, int live)
{
	if (is(o, "verify"))
		return cfs_at_cmd_verify(o, db, live);
	if (is(o, "head"))
		return cfs_at_cmd_head(o, db, live);
	if (is(o, "summary"))
		return cfs_at_cmd_summary(o, db, live);
	if (is(o, "forward"))
		return cfs_at_cmd_forward(o, db, live);
	if (is(o, "report"))
		return cfs_at_cmd_report(o, db, live);
	return cmd_query(o, db, live);
}

int main(int argc, char **argv)
{
	struct cfs_at_opts o;
	int rc;
	if ((rc = parse_args(argc, argv, &o)) >= 0 || (rc = check_args(&o)) >= 0)
		return rc;
	/* Which database, and is it the live one? With --db the config is read
	 * only if one is named or present, to tell the live file from a copy. */
	struct cfs_config *cfg = NULL;
	struct cfs_err err = { "" };
	const char *cpath = cfs_config_path(o.cfile);
	int live = 0;
	if (!o.db || o.cfile || access(cpath, F_OK) == 0) {
		if (cfs_config_load(cpath, &cfg, &err) < 0)
			return cfs_say(EXIT_FAIL, "%s", err.msg);
	}
	const char *db = o.db ? o.db : cfg->audit_db;
	if (!o.db)
		live = 1;
	else if (cfg && same_file(o.db, cfg->audit_db))
		live = 1;
	rc = run(&o, db, live);
	cfs_config_free(cfg);
	return rc;
}
