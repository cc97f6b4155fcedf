/* audit-cmd.h — what the pieces of coach-audit share: tools/coach-audit.c
 * (arguments, the query commands, --follow) and tools/audit-*.c (rows,
 * verify and head, summary, forward, report). Tools only: no daemon header
 * here, and nothing in it decides access or writes the audit log other than
 * by the one audit_query row cfs_at_open() appends. */
#ifndef COACHFS_AUDIT_CMD_H
#define COACHFS_AUDIT_CMD_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "coachfs/audit.h"
#include "tool.h"

#define PROG "coach-audit"
enum { EXIT_OK = 0, EXIT_FAIL = CFS_EXIT_FAIL, EXIT_USAGE = CFS_EXIT_USAGE };
enum cfs_at_fmt { FMT_TEXT, FMT_JSON, FMT_CSV };

/* The command line, as parsed (strings point into argv). */
struct cfs_at_opts {
	const char *cfile, *db, *pubkey, *head;
	const char *since, *until, *user, *action, *result, *after;
	const char *by;                  /* summary --by */
	const char *cursor, *socket;     /* forward */
	const char *html;                /* report --html FILE */
	enum cfs_at_fmt fmt;
	int json, csv, follow, syslog, once;
	const char *cmd, *path_arg;
};

/* Set by SIGINT/SIGTERM once cfs_at_catch_stop() ran (coach-audit.c owns it). */
extern volatile sig_atomic_t cfs_at_stop;
void cfs_at_catch_stop(void);

/* Open the database named db for a command. live: append the audit_query
 * row first ("CMD WORDS", path), refusing the command when it cannot be
 * written; a user who may not write it reads it unrecorded. keep: return
 * the handle in *out (else *out is NULL). Exit code 0, or a cfs_say() code. */
int cfs_at_open(const char *db, int live, int keep, const char *cmd, const char *path,
		 const char *words, struct cfs_audit **out);

/* The filters and their words for the audit_query row (" since=... user=...").
 * path is the buffer history's PATH goes into. Exit code 0, or cfs_say()'s. */
int cfs_at_filter(const struct cfs_at_opts *o, struct cfs_audit_filter *f, char *path,
		   size_t path_cap, char *words, size_t words_cap);

/* The exit code of a command that printed to stdout: rc is 0 or -errno
 * with err saying why (-EIO with no message: writing failed). */
int cfs_at_done(int rc, const struct cfs_err *err);

/* ---- rows (audit-rows.c) ---- */
extern const char CFS_AT_CSV_HEADER[];
void cfs_at_hex(const unsigned char *b, size_t n, char *out);
void cfs_at_json_int(FILE *f, int64_t v);
void cfs_at_csv_int(FILE *f, int64_t v);
/* Local time of a microsecond timestamp, "YYYY-MM-DD HH:MM:SS"; "-" for none. */
void cfs_at_fmt_local(int64_t us, char *out, size_t cap);
void cfs_at_row_text(FILE *f, const struct cfs_audit_row *r);
void cfs_at_row_json(FILE *f, const struct cfs_audit_row *r);
void cfs_at_row_csv(FILE *f, const struct cfs_audit_row *r);

/* ---- verify and head (audit-verify.c) ---- */
int cfs_at_load_pubkey(const struct cfs_at_opts *o, const char *db,
			unsigned char pk[CFS_AUDIT_PK_BYTES]);
int cfs_at_cmd_verify(const struct cfs_at_opts *o, const char *db, int live);
int cfs_at_cmd_head(const struct cfs_at_opts *o, const char *db, int live);

/* ---- forward's cursor (audit-cursor.c) ---- */
/* The last event a receiver accepted, kept in a file: one line
 * "coachfs-forward-cursor-1 id=N hash=HEX" (hash "-" while id is 0),
 * mode 0600, replaced atomically (temporary file, fsync, rename, fsync of
 * the directory). FILE.lock, held with flock() while the cursor is open,
 * keeps a second forwarder off the same cursor. */
#define CFS_AT_CURSOR_DEFAULT "/var/lib/coachfs/forward.cursor"
struct cfs_at_cursor {
	char path[4096], tmp[4200];
	int dir_fd, lock_fd;
	int64_t id;                                  /* 0: nothing sent yet */
	unsigned char hash[CFS_AUDIT_HASH_BYTES];    /* event id's hash */
	int64_t saved_id;                            /* the id the file holds */
};
/* Lock and read (or start) the cursor. Exit code 0, or cfs_say()'s. */
int cfs_at_cursor_open(const char *path, struct cfs_at_cursor *c);
/* Write c->id and c->hash to the file, if they changed. 0 or cfs_say()'s code. */
int cfs_at_cursor_save(struct cfs_at_cursor *c);
void cfs_at_cursor_close(struct cfs_at_cursor *c);

/* ---- the HTML report: its data (audit-report.c), its page (audit-html.c) ---- */
#define CFS_AT_COLS 48        /* time columns of the timeline */
#define CFS_AT_LANES 30       /* user and file pairs drawn, the busiest */
#define CFS_AT_GRANTS 200     /* grants drawn, the newest */
enum { CFS_AT_OPEN, CFS_AT_READ, CFS_AT_DENY, CFS_AT_EXPORT, CFS_AT_KINDS };
struct cfs_at_lane {
	char *user, *path;                        /* NULL: none in the row */
	int64_t n[CFS_AT_KINDS], total;
	int64_t cell[CFS_AT_COLS][CFS_AT_KINDS];
};
struct cfs_at_grant {
	int64_t id, added, start, end, revoked;   /* seconds; 0 unknown, revoked 0 never */
	char *subject, *path, *by;
};
struct cfs_at_report {
	const char *db, *path;                    /* path: PATH or NULL */
	int64_t t0, width;                        /* microseconds: column k starts t0 + k * width */
	int64_t events, kinds[CFS_AT_KINDS];
	int64_t unknown_actions;                  /* events whose action is not the table's */
	struct cfs_at_lane lanes[CFS_AT_LANES];
	size_t nlanes;
	int64_t other_pairs, other_events;        /* pairs not drawn, and their events */
	struct cfs_at_grant *grants;
	size_t ngrants;
	int64_t grants_left_out;
	int verified, key_beside;                 /* the log verifies; key from DB.pub */
	struct cfs_verify_report vr;
	char verify_msg[1024];
};
/* Write the page to f. 0, or -EIO when writing failed. */
int cfs_at_html(FILE *f, const struct cfs_at_report *r);

/* ---- the other commands (audit-summary.c, audit-forward.c, audit-report.c) ---- */
int cfs_at_cmd_summary(const struct cfs_at_opts *o, const char *db, int live);
int cfs_at_cmd_forward(const struct cfs_at_opts *o, const char *db, int live);
int cfs_at_cmd_report(const struct cfs_at_opts *o, const char *db, int live);

#endif
