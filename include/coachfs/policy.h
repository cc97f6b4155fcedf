/* policy.h — the one pure decision function (README, "Design").
 * policy.c reads no files, opens no databases, looks at no clock: every input
 * is an argument, so it is tested exhaustively on its own. It must never
 * perform I/O or keep state between calls. */
#ifndef COACHFS_POLICY_H
#define COACHFS_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include "coachfs/config.h"
#include "coachfs/caller.h"

enum cfs_verdict { CFS_ALLOW = 0, CFS_FLAG = 1, CFS_DENY = 2 };

enum cfs_op {
	CFS_OP_SEE = 0,  /* may this entry be shown (hide_denied)? = could open it for reading now,
			    ignoring programs, export rules and open counts */
	CFS_OP_READ,     /* open for reading */
	CFS_OP_WRITE,    /* open with O_WRONLY/O_RDWR/O_TRUNC/O_APPEND, create, truncate */
	CFS_OP_RECHECK,  /* a read or write on a handle already open: is its grant still live?
			    (no open counting, no program checks) */
	CFS_OP_ADMIN,    /* set/remove policy xattrs, manage entries: admin role only */
	CFS_OP_DELETE,   /* unlink, rmdir, rename away or replace an entry: write rights on its
			    class (like WRITE, without open counts, programs or export), or
			    the admin role, which manages entries */
	CFS_OP_RECHECK_WRITE, /* CFS_OP_RECHECK of a handle opened for writing: a role in
				 the class's writers keeps it as well */
};

/* A file's effective policy, resolved by the daemon (own xattr, else nearest
 * ancestor's, else [policy] default_class). */
struct cfs_file_policy {
	const struct cfs_class *cls;      /* never NULL */
	enum cfs_export export;           /* effective export rule (never UNSET) */
	const struct cfs_list *readers;   /* effective readers list; NULL or n == 0 = any */
	uint32_t max_opens;               /* effective; 0 = unlimited */
};

enum cfs_subject { CFS_SUBJ_USER = 1, CFS_SUBJ_GROUP = 2, CFS_SUBJ_ROLE = 3,
		   CFS_SUBJ_ANY = 4 /* a bearer link only (link = 1): any holder */ };

struct cfs_grant {
	int64_t id;
	enum cfs_subject kind;
	uint32_t ugid;                  /* uid for USER, gid for GROUP */
	const char *role;               /* role name for ROLE, else NULL */
	const char *path;               /* mount-relative; covers file or subtree */
	int write;                      /* --write */
	int64_t start, end;             /* seconds since epoch; end exclusive */
	uint32_t max_opens;             /* 0 = unlimited */
	uint32_t opens_used;            /* opens of THIS file under this grant so far */
	const char *granted_by;         /* admin who granted */
	const char *approved_by;        /* NULL or "" when none */
	int64_t approved_at;            /* when approved_by confirmed it; 0 = not (yet) approved */
	int64_t revoked_at;             /* 0 = not revoked */
	int link;                       /* this is an expiring link (id is the link's L-number;
					   max_opens = its uses, opens_used = its uses so far) */
	/* Session-bound (coach-grant run): only the process session_pid, pinned
	 * by session_start on boot session_boot, and its descendants, while that
	 * process lives. session_pid 0: not bound. */
	pid_t session_pid;
	uint64_t session_start;         /* /proc/PID/stat field 22 */
	const char *session_boot;       /* /proc/sys/kernel/random/boot_id */
	const char *session_cmd;        /* the command's name, for reasons */
	int session_live;               /* a fact the daemon supplies: the process runs (same
					   start time, same boot); 0 = ended */
};

struct cfs_request {
	const char *path;               /* mount-relative path of the file */
	enum cfs_op op;
	int64_t now;                    /* seconds since epoch */
	int export_tool;                /* caller's program is in [export] tools, or the
					   operation is copy_file_range / reflink */
	int64_t held_grant;             /* CFS_OP_RECHECK: the grant the handle was opened under
					   (0 = admitted by role) */
	const struct cfs_lineage *lineage; /* the caller's process and its ancestors (walked),
					      for session-bound grants; NULL = unknown */
};

struct cfs_decision {
	enum cfs_verdict verdict;
	int64_t grant_id;               /* the grant that allowed it, 0 if by role */
	int is_export;                  /* this access counted as an export */
	char reason[256];               /* always set: why allowed, flagged or denied */
};

/* Decide. Grants may be any list (the daemon passes those that might apply);
 * cfs_decide itself checks subject, path coverage, time window (capped by the
 * class's max_ttl), revocation, approval and opens left. */
void cfs_decide(const struct cfs_caller *caller, const struct cfs_file_policy *fp,
		const struct cfs_grant *grants, size_t ngrants, const struct cfs_request *req,
		struct cfs_decision *out);

/* Decide an open through an expiring link (CFS_OP_READ only; link->link = 1):
 * the link stands in for a grant on exactly its target and obeys the class
 * like one: subject (its user, or any holder), revocation, time (capped by
 * the class's max_ttl), two-person approval, uses (capped by the effective
 * max_opens); then readers and export rules as for cfs_decide. */
void cfs_decide_link(const struct cfs_caller *caller, const struct cfs_file_policy *fp,
		     const struct cfs_grant *link, const struct cfs_request *req,
		     struct cfs_decision *out);

/* The moment a grant stops being usable for a class: min(end, start+max_ttl). */
int64_t cfs_grant_effective_end(const struct cfs_grant *g, const struct cfs_class *cls);

/* Does grant g name this caller (user, one of its groups, or one of its roles)? */
int cfs_grant_matches_caller(const struct cfs_grant *g, const struct cfs_caller *c);

/* Derived content: the class rank a file written (or created) by a process
 * must carry — the higher of the file's own rank and the highest rank the
 * process has read; a read rank outside the configuration's nclasses
 * classes is ignored. Never lower than own_rank. */
int cfs_decide_derived_rank(int own_rank, int read_rank, int nclasses);

/* Rename never downgrades: 1 when an entry of class rank from_rank would
 * resolve to a lower rank (to_rank) at its new place, so its class must be
 * pinned as its own attribute before the move. */
int cfs_decide_rename_pin(int from_rank, int to_rank);

/* copy_file_range between two files of the mount: the content is copied
 * out of its file, so it is an export whatever the program. Access was
 * decided at open and rechecked into *d; when that still admits, the
 * verdict becomes the file's export rule (log: flag, allow, deny) and the
 * reason names the destination. */
void cfs_decide_copy_export(const struct cfs_file_policy *fp, const char *to, struct cfs_decision *d);

/* Visibility under hide_denied that needs no class: 1 when cl sees every
 * entry at path (hiding is off, path is the root, or cl holds the admin
 * role), 0 when the entry's class must be decided (CFS_OP_SEE). */
int cfs_decide_sees_all(int hide_denied, const struct cfs_caller *cl, const char *path);

/* A directory its class hides is still visible on the way to something cl
 * was granted: 1 when one of the n grants, live at now and matching cl,
 * lies at or below dir. */
int cfs_decide_dir_on_way(const struct cfs_grant *const *grants, size_t n, const struct cfs_caller *cl,
			  const char *dir, int64_t now);

/* The policy attributes' prefix: user.coachfs.KEY. */
#define CFS_XATTR_PREFIX "user.coachfs."

/* Split a comma-separated list in place into l (blanks around items
 * trimmed, empty items dropped); -EINVAL past CFS_LIST_MAX items. */
int cfs_list_split(char *buf, struct cfs_list *l);

/* Validate a policy attribute value (KEY is the part after user.coachfs.).
 * 0, -EINVAL (bad value, err says why) or -EOPNOTSUPP (unknown key). */
int cfs_policy_value_check(const struct cfs_config *cfg, const char *key, const char *val,
			   size_t len, struct cfs_err *err);

/* ---- access requests and break-glass (issue 16) ----
 * Who may act on a request is decided here, from the row as read back
 * (authentic: the caller checks the MAC first) and the actor's kernel ids. */
enum cfs_req_kind { CFS_REQ_REQUEST = 1, CFS_REQ_BREAKGLASS = 2 };
enum cfs_req_act { CFS_REQ_APPROVE = 1, CFS_REQ_DENY, CFS_REQ_REVIEW };

struct cfs_req_view {
	int64_t id;
	enum cfs_req_kind kind;
	uint32_t uid;                   /* who asked (or broke the glass) */
	int64_t expires;                /* a request lapses undecided at this time */
	uint32_t approver_uid;          /* the first approval's admin, when approved_at */
	int64_t approved_at;            /* first approval; 0 = none yet */
	int64_t decided_at;             /* granted or denied; 0 = pending */
	int64_t reviewed_at;            /* break-glass: 0 = not yet reviewed */
	int two_person;                 /* its class (for a directory: any class) needs two admins */
};

/* May caller ask for access to a path of class cls (breakglass = 0), or
 * take it at once (breakglass = 1: the caller must hold a role in the
 * class's breakglass list)? Never root (it adds grants directly), and only
 * on a class with grant = yes. 0, -EPERM or -EINVAL; why always set. */
int cfs_decide_request_new(const struct cfs_caller *c, const struct cfs_class *cls, int breakglass,
			   char *why, size_t cap);

/* May caller approve or deny request r, or review break-glass r, now?
 * The actor must be in the admin role, not root, not the one who asked,
 * and (approve, deny) not the admin who already approved it; a request
 * must be undecided and unexpired, a break-glass unreviewed. 0, with
 * *grant_now = 1 when this approval creates the grant (one admin for an
 * ordinary class, the second distinct admin for a two-person one), or
 * -EPERM, -EALREADY, -EACCES (expired), -EINVAL (wrong kind); why always set. */
int cfs_decide_request(const struct cfs_caller *c, const struct cfs_req_view *r, enum cfs_req_act act,
		       int64_t now, int *grant_now, char *why, size_t cap);

/* The TTL of the grant a request becomes: what was asked (a break-glass:
 * the class's breakglass_ttl), capped by the class's max_ttl; at least 1. */
int64_t cfs_request_grant_ttl(int64_t asked, const struct cfs_class *cls, int breakglass);

#endif
