/* grant.h — what coach-grant's pieces (tools/coach-grant.c and its
 * tools/grant-*.c files) share: opening the configuration, the store's keys,
 * policy.db and the audit log; the audit rows of adding and revoking a
 * grant; argument checks. Tools only: it includes no daemon header. */
#ifndef COACHFS_GRANT_TOOL_H
#define COACHFS_GRANT_TOOL_H

#include <stdint.h>
#include <stdio.h>

#include "coachfs/audit.h"
#include "coachfs/config.h"
#include "coachfs/crypto.h"
#include "coachfs/grants.h"
#include "tool.h"

enum { EXIT_OK = 0, EXIT_FAIL = CFS_EXIT_FAIL, EXIT_USAGE = CFS_EXIT_USAGE };

/* After getopt_long returned ':' or '?': the message, exit status 2. */
int bad_option(const char *cmd, int c, int opt, char **argv, int ind);

/* One option of a command: its long name and where it goes: a value stored
 * in *str, or (str NULL) a flag set to 1 in *flag. A table ends at a NULL
 * name. */
struct grant_opt {
	const char *name;
	const char **str;
	int *flag;
};
/* Parse cmd's options and -c FILE from argv (stop: at the first operand, so
 * a COMMAND's own options are its own). The operands are then argv[optind..].
 * 0, or an exit status with the message printed. */
int grant_getopt(int argc, char **argv, const char *cmd, const struct grant_opt *opts, int stop,
		 const char **cfile);
/* Free text from argv: bounded, no control characters; 0 or exit status 2. */
int text_arg(const char *opt, const char *s);
/* A refusal's errno and what it means to the user; a table ends at NULL. */
struct errno_msg {
	int e;
	const char *msg;
};
/* "WHAT: MSG" for e from t (else strerror), exit status 1. */
int errno_say(const char *what, int e, const struct errno_msg *t);
/* "4h", "90m", "1d2h". */
void fmt_duration(int64_t s, char *out, size_t cap);

/* Each returns 0 or an exit status, the message already printed. */
int need_root(void);
int load_config(const char *cfile, struct cfs_config **cfg);
int unlock_keys(const struct cfs_config *cfg, struct cfs_keys **k);
/* need_root, the admin's name (adm may be NULL), load_config, unlock_keys. */
int open_admin(const char *cfile, struct cfs_who *adm, struct cfs_config **cfg, struct cfs_keys **keys);
/* A changing command's run: open_admin, then the audit log (before anything
 * changes: without it nothing does). admin_end closes what was opened. */
struct admin_run {
	struct cfs_who adm;
	struct cfs_config *cfg;
	struct cfs_keys *keys;
	struct cfs_audit *a;
};
int admin_begin(const char *cfile, struct admin_run *r);
void admin_end(struct admin_run *r);
int open_grants(const struct cfs_config *cfg, const struct cfs_keys *keys,
		struct cfs_grants **g);
/* The audit log for a tool's rows (waits for the daemon's write lock). */
int open_audit(const char *db, struct cfs_audit **a, struct cfs_err *err);
void close_audit(struct cfs_audit *a);
/* A row by the admin running the tool. */
void event_base(struct cfs_event *ev, const struct cfs_who *adm, enum cfs_action action);

/* One line describing a grant, for its audit rows. */
void describe_grant(const struct cfs_grant_rec *r, char *out, size_t cap);

/* cfs_grants_add_ex's hook: the grant_add row, committed before the grant. */
struct add_audit {
	struct cfs_audit *a;
	const struct cfs_who *adm;
	char reason[2800];     /* filled once the id is known */
	int appended;          /* the grant_add row is committed */
	int failed;            /* the audit append failed */
};
int add_audit_hook(const struct cfs_grant_rec *rec, void *arg, struct cfs_err *err);

/* Revoke grant id and then record its grant_revoke row (a broken audit log
 * never keeps access alive). 0 or an exit status, the message printed. */
int revoke_audited(struct cfs_grants *g, struct cfs_audit *a, const struct cfs_who *adm,
		   int64_t id, const char *reason);

/* coach-grant run (grant-run.c), and how list and show print a binding. */
int cmd_run(int argc, char **argv, const char **cfile);
void run_json(FILE *f, const struct cfs_grant_rec *r);
void run_show(const struct cfs_grant_rec *r);   /* the "session:" line, if bound */
/* Append " (session PID: COMMAND)" to a SUBJECT cell out[cap]. */
void run_subject(const struct cfs_grant_rec *r, char *out, size_t cap);

/* The mount to go through: --mount, else the one the daemon recorded in
 * policy.db. 0 or an exit status, the message printed. */
int mount_dir(const struct cfs_config *cfg, const char *mnt, char *buf, size_t cap);
/* coach-grant "--json" text: absent text ("" too) as null. */
void json_str(FILE *f, const char *s);
/* ,"key":N (null for 0) and ,"key":"text" (null for absent or ""). */
void json_time(FILE *f, const char *key, int64_t t);
void json_text(FILE *f, const char *key, const char *s);

/* Links (grant-link.c): issue, the LINKS section of list, revoke L7. */
struct cfs_links;
int open_links(const struct cfs_config *cfg, const struct cfs_keys *keys, struct cfs_links **l,
	       struct cfs_err *err);
int cmd_link(int argc, char **argv, const char **cfile);
void print_links(const struct cfs_config *cfg, const struct cfs_keys *keys, int active_only, int64_t now);
int revoke_link(const char *ids, const char *reason, const char **cfile);
/* The grant_revoke row of a revocation already made (what: "grant 7",
 * "link L7"): 0, or exit status 1 saying the row is missing. */
int revoked_row(struct cfs_audit *a, const struct cfs_who *adm, const char *path, const char *why,
		int64_t grant_id, const char *what);

/* list and show (grant-list.c); a grant's state and subject kind in words;
 * "KEY:  value" lines of show; a grant id from argv (0 or exit status 2). */
int cmd_list(int argc, char **argv, const char **cfile);
int cmd_show(int argc, char **argv, const char **cfile);
const char *state_of(const struct cfs_grant_rec *r, int64_t now);
const char *kind_name(enum cfs_subject k);
void show_line(const char *k, const char *v);
int parse_id(const char *s, int64_t *id);

/* coach-grant add (grant-add.c). */
int cmd_add(int argc, char **argv, const char **cfile);

/* Access requests and break-glass (grant-request.c, grant-requests.c). */
int cmd_request(int argc, char **argv, const char **cfile);
int cmd_breakglass(int argc, char **argv, const char **cfile);
int cmd_requests(int argc, char **argv, const char **cfile);
int cmd_deny(int argc, char **argv, const char **cfile);
int cmd_review(int argc, char **argv, const char **cfile);
/* approve R12: through the mount as the caller; 0 or an exit status. */
int approve_request(const char *ids, const char *mnt, const char **cfile);
/* The REQUESTS section of `list` (pending requests, unreviewed break-glass). */
void print_requests(struct cfs_grants *g, int all, int64_t now);
/* show R12 / show B12 [--json]. */
int show_request(const char *ids, int json, const char **cfile);

#endif
