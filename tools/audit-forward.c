/* audit-forward.c — coach-audit forward --syslog: ships every event, in id
 * order and as it is committed, to a syslog socket (/dev/log, or --socket),
 * one datagram per event in the local syslog format that rsyslog's imuxsock
 * and journald accept: "<PRI>Mmm dd hh:mm:ss coach-audit[PID]: @cee: JSON",
 * facility authpriv, the JSON object being the event with every column (id
 * and hash included). After events are accepted it moves the cursor
 * (audit-cursor.c); a receiver that is down is retried with backoff and the
 * cursor never passes an event it did not accept. It must never ship an
 * event twice within one run, skip one, or ship one that does not chain to
 * the event before it (a rewritten log stops it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "coachfs/util.h"
#include "audit-cmd.h"

#define SOCKET_DEFAULT "/dev/log"
#define FACILITY_AUTHPRIV 10
#define BATCH 256                  /* events per pass; the cursor is saved after each */
#define POLL_MS 200                /* looking for new events */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define MSG_MAX (60 * 1024)        /* beyond this, long text fields are cut */
#define FIELD_CUT 1024

enum { STOP_BATCH = 1, STOP_SEND, STOP_CHAIN, STOP_NOMEM };

struct sink {
	struct sockaddr_un addr;
	int fd;
};

struct fwd {
	struct sink sink;
	struct cfs_at_cursor cur;
	int64_t pass, total;   /* events accepted in this pass, in this run */
	int send_errno;
	int64_t bad_id;        /* the event that does not chain */
};

/* ---- the message ---------------------------------------------------------- */

/* syslog severity: tamper crit, error err, deny warning, flag notice, else info */
static int severity(const struct cfs_event *e)
{
	if (e->action == CFS_ACT_TAMPER)
		return 2;
	if (!e->result)
		return 6;
	if (strcmp(e->result, "error") == 0)
		return 3;
	if (strcmp(e->result, "deny") == 0)
		return 4;
	if (strcmp(e->result, "flag") == 0)
		return 5;
	return 6;
}

static char *cut(const char *s, char *buf)
{
	if (!s || strlen(s) <= FIELD_CUT)
		return (char *)s;
	memcpy(buf, s, FIELD_CUT);
	buf[FIELD_CUT] = 0;
	return buf;
}

/* The row as one JSON object; when longer than MSG_MAX, again with each
 * text field cut to FIELD_CUT bytes and "truncated":true (a forged row may
 * hold anything; the id and hash still name the full event). */
static int message(const struct cfs_audit_row *r, char **out, size_t *len)
{
	static const char *const trunc = ",\"truncated\":true}";
	char stamp[32], *json = NULL;
	size_t n = 0;
	int was_cut = 0;
	struct tm tm;
	time_t t = (time_t)(r->ev.ts / 1000000);
	if (r->ev.ts == CFS_AUDIT_NONE || !localtime_r(&t, &tm) ||
	    strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm) == 0)
		cfs_strlcpy(stamp, "Jan  1 00:00:00", sizeof stamp);
	for (int pass = 0; pass < 2; pass++) {
		struct cfs_audit_row c = *r;
		char b[5][FIELD_CUT + 1];
		if (pass) {
			c.ev.host = cut(r->ev.host, b[0]);
			c.ev.user = cut(r->ev.user, b[1]);
			c.ev.exe = cut(r->ev.exe, b[2]);
			c.ev.path = cut(r->ev.path, b[3]);
			c.ev.reason = cut(r->ev.reason, b[4]);
		}
		FILE *m = open_memstream(&json, &n);
		if (!m)
			return -ENOMEM;
		fprintf(m, "<%d>%s " PROG "[%d]: @cee: ", FACILITY_AUTHPRIV * 8 + severity(&r->ev),
			stamp, (int)getpid());
		cfs_at_row_json(m, &c);
		if (fclose(m) != 0 || !json)
			return -ENOMEM;
		was_cut = pass;
		if (n <= MSG_MAX || pass)
			break;
		free(json);
		json = NULL;
	}
	if (was_cut) {  /* replace the closing brace with the mark */
		char *j = realloc(json, n + strlen(trunc) + 1);
		if (!j) {
			free(json);
			return -ENOMEM;
		}
		json = j;
		strcpy(json + n - 1, trunc);
		n += strlen(trunc) - 1;
	}
	*out = json;
	*len = n;
	return 0;
}

/* ---- the socket ----------------------------------------------------------- */

static int sink_send(struct sink *s, const char *msg, size_t n)
{
	if (s->fd < 0) {
		s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (s->fd < 0)
			return -errno;
		if (connect(s->fd, (struct sockaddr *)&s->addr, sizeof s->addr) < 0) {
			int e = errno;
			close(s->fd);
			s->fd = -1;
			return -e;
		}
	}
	ssize_t w = send(s->fd, msg, n, MSG_NOSIGNAL);
	if (w == (ssize_t)n)
		return 0;
	int e = w < 0 ? errno : EMSGSIZE;
	close(s->fd);   /* a restarted receiver is a new socket: connect again */
	s->fd = -1;
	return -e;
}

/* ---- the loop ------------------------------------------------------------- */

static int ship_row(const struct cfs_audit_row *r, void *arg)
{
	struct fwd *f = arg;
	char *msg;
	size_t n;
	if (f->cur.id > 0 && (r->prev_hash_len != CFS_AUDIT_HASH_BYTES ||
			      memcmp(r->prev_hash, f->cur.hash, CFS_AUDIT_HASH_BYTES) != 0)) {
		f->bad_id = r->id;
		return STOP_CHAIN;
	}
	if (message(r, &msg, &n) < 0)
		return STOP_NOMEM;
	int rc = sink_send(&f->sink, msg, n);
	free(msg);
	if (rc < 0) {
		f->send_errno = -rc;
		return STOP_SEND;
	}
	f->cur.id = r->id;
	memset(f->cur.hash, 0, sizeof f->cur.hash);
	memcpy(f->cur.hash, r->hash, r->hash_len);
	f->pass++;
	f->total++;
	return f->pass >= BATCH || cfs_at_stop ? STOP_BATCH : 0;
}

static void nap_ms(int64_t ms)
{
	struct timespec t = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	if (!cfs_at_stop)
		nanosleep(&t, NULL);   /* a signal ends it early */
}

/* The receiver did not take an event: say so once per outage, wait. */
static void receiver_down(struct fwd *f, int64_t *backoff, int *down)
{
	if (!*down)
		cfs_say(0, "forward: %s: %s; retrying with backoff (the cursor stays at event %lld)",
			f->sink.addr.sun_path, strerror(f->send_errno), (long long)f->cur.id);
	*down = 1;
	nap_ms(*backoff);
	*backoff = *backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff * 2;
}

static int first_row(const struct cfs_audit_row *r, void *arg)
{
	struct cfs_audit_row *out = arg;
	*out = *r;
	out->ev = (struct cfs_event){ 0 };   /* its strings die with the callback */
	return STOP_BATCH;
}

/* The log must still hold the cursor's event, as it was sent: a log rolled
 * back below it, or another log, would otherwise go unnoticed until its ids
 * passed the cursor's. Exit code. */
static int cursor_holds(struct cfs_audit *a, const struct cfs_at_cursor *c)
{
	struct cfs_audit_filter flt;
	struct cfs_audit_row r;
	struct cfs_err err = { "" };
	if (c->id == 0)
		return 0;
	cfs_audit_filter_init(&flt);
	flt.after_id = c->id - 1;
	memset(&r, 0, sizeof r);
	int rc = cfs_audit_query(a, &flt, first_row, &r, &err);
	if (rc < 0)
		return cfs_say(EXIT_FAIL, "%s", err.msg);
	if (r.id != c->id || r.hash_len != CFS_AUDIT_HASH_BYTES ||
	    memcmp(r.hash, c->hash, CFS_AUDIT_HASH_BYTES) != 0)
		return cfs_say(EXIT_FAIL, "forward: the log does not hold event %lld as it was sent "
			   "(rolled back or rewritten, or the cursor %s is another log's); run "
			   "coach-audit verify", (long long)c->id, c->path);
	return 0;
}

/* Pass after pass until caught up (--once) or stopped. Exit code. */
static int forward_loop(struct cfs_audit *a, struct fwd *f, int once)
{
	struct cfs_audit_filter flt;
	struct cfs_err err = { "" };
	int64_t backoff = BACKOFF_MIN_MS;
	int down = 0, rc, code;
	cfs_audit_filter_init(&flt);
	for (;;) {
		f->pass = 0;
		flt.after_id = f->cur.id;
		rc = cfs_audit_query(a, &flt, ship_row, f, &err);
		if ((code = cfs_at_cursor_save(&f->cur)) != 0)
			return code;
		if (rc == STOP_CHAIN)
			return cfs_say(EXIT_FAIL, "forward: event %lld does not chain to event %lld sent "
				   "before (the log was rewritten, or the cursor is another log's); "
				   "run coach-audit verify", (long long)f->bad_id, (long long)f->cur.id);
		if (rc == STOP_NOMEM)
			return cfs_say(EXIT_FAIL, "out of memory");
		if (rc < 0)
			return cfs_say(EXIT_FAIL, "%s", err.msg);
		if (cfs_at_stop)
			return EXIT_OK;
		if (rc == STOP_SEND) {
			receiver_down(f, &backoff, &down);
			continue;
		}
		if (down)
			cfs_say(0, "forward: %s accepts events again", f->sink.addr.sun_path);
		down = 0;
		backoff = BACKOFF_MIN_MS;
		if (rc == STOP_BATCH)
			continue;
		if (once)
			return EXIT_OK;
		nap_ms(POLL_MS);
	}
}

int cfs_at_cmd_forward(const struct cfs_at_opts *o, const char *db, int live)
{
	struct fwd f;
	struct cfs_audit *a = NULL;
	const char *sock = o->socket ? o->socket : SOCKET_DEFAULT;
	char words[200];
	int rc;
	memset(&f, 0, sizeof f);
	f.sink.fd = -1;
	f.sink.addr.sun_family = AF_UNIX;
	if (!*sock || strlen(sock) >= sizeof f.sink.addr.sun_path)
		return cfs_say(EXIT_USAGE, "--socket: '%.80s' is empty or longer than %zu bytes", sock,
			   sizeof f.sink.addr.sun_path - 1);
	cfs_strlcpy(f.sink.addr.sun_path, sock, sizeof f.sink.addr.sun_path);
	if ((rc = cfs_at_cursor_open(o->cursor ? o->cursor : CFS_AT_CURSOR_DEFAULT, &f.cur)) != 0) {
		cfs_at_cursor_close(&f.cur);
		return rc;
	}
	snprintf(words, sizeof words, " syslog after=%lld%s", (long long)f.cur.id,
		 o->once ? " once" : "");
	if ((rc = cfs_at_open(db, live, 1, "forward", NULL, words, &a)) == 0) {
		cfs_at_catch_stop();
		if ((rc = cursor_holds(a, &f.cur)) == 0)
			rc = forward_loop(a, &f, o->once);
		cfs_audit_close(a, NULL);
	}
	if (f.sink.fd >= 0)
		close(f.sink.fd);
	if (rc == EXIT_OK)
		printf("forwarded %lld event%s; the cursor is at event %lld\n", (long long)f.total,
		       f.total == 1 ? "" : "s", (long long)f.cur.id);
	cfs_at_cursor_close(&f.cur);
	return rc == EXIT_OK && fflush(stdout) != 0 ? EXIT_FAIL : rc;
}
