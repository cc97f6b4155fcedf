/* requests.h — access requests and break-glass records, kept in policy.db
 * (table `requests`) beside the grants they become. requests.c owns that
 * table: storing, sealing (a MAC under the rowmac key over every column, as
 * for grants), reading back hostile rows, and applying a decision together
 * with the grant it creates and the caller's audit row, in one transaction.
 * It must never decide who may act (policy.c: cfs_decide_request does,
 * through the caller's hook) and never trust a row it did not seal. */
#ifndef COACHFS_REQUESTS_H
#define COACHFS_REQUESTS_H

#include <stdint.h>
#include "coachfs/grants.h"
#include "coachfs/policy.h"

#define CFS_REQ_PENDING_MAX 20       /* undecided, unexpired requests one user may hold */
#define CFS_REQ_BREAKGLASS_BY "(break-glass)" /* the approved_by of a break-glass grant */

struct cfs_req_rec {
	int64_t id;
	int kind;                      /* enum cfs_req_kind */
	uint32_t uid;                  /* who asked (kernel uid, through the mount) */
	char user[CFS_TEXT_MAX];       /* their name then */
	char path[4096];
	int write;
	int64_t ttl;                   /* asked for (a break-glass: given), seconds */
	char reason[CFS_TEXT_MAX];
	int64_t created, expires;      /* a request lapses undecided at expires */
	char approved_by[CFS_TEXT_MAX];/* first approval of a two-person request */
	uint32_t approver_uid;
	int64_t approved_at;           /* 0 = none */
	char decided_by[CFS_TEXT_MAX]; /* who granted (the last approver) or denied */
	uint32_t decided_uid;
	int64_t decided_at;            /* 0 = pending */
	int denied;                    /* when decided: 1 denied, 0 granted */
	char note[CFS_TEXT_MAX];       /* why it was denied */
	int64_t grant_id;              /* the grant it became, 0 = none */
	char reviewed_by[CFS_TEXT_MAX];/* a break-glass's reviewing admin */
	int64_t reviewed_at;           /* 0 = not reviewed */
	char review_note[CFS_TEXT_MAX];
	int row_state;                 /* enum cfs_row_state: set when read back */
};

/* "R12" for a request, "B12" for a break-glass. */
void cfs_req_name(const struct cfs_req_rec *r, char *out, size_t cap);
/* "pending", "approved 1/2", "granted", "denied", "expired", "unreviewed",
 * "reviewed", or the row state when not authentic. */
const char *cfs_req_state(const struct cfs_req_rec *r, int64_t now);
/* The grant r's user gets: on r's path, for ttl seconds from start, r's
 * access; the caller fills granted_by, approval and reason. */
void cfs_req_grant_base(const struct cfs_req_rec *r, int64_t start, int64_t ttl, struct cfs_grant_rec *g);
/* The view cfs_decide_request takes. */
void cfs_req_view_of(const struct cfs_req_rec *r, int two_person, struct cfs_req_view *v);

/* Store a new request (rec->id set). For a break-glass, bg is the grant it
 * gives at once (stored and sealed in the same transaction, its id in
 * rec->grant_id; its reason names the record). record(rec, arg, err), when
 * given, runs before the commit (the audit row): non-zero rolls back.
 * -EDQUOT when the user already holds CFS_REQ_PENDING_MAX pending requests. */
int cfs_requests_create(struct cfs_grants *g, struct cfs_req_rec *rec, struct cfs_grant_rec *bg,
			int (*record)(const struct cfs_req_rec *rec, void *arg, struct cfs_err *err),
			void *arg, struct cfs_err *err);

/* What the caller's decide hook says of an act (cfs_decide_request). */
struct cfs_req_outcome {
	int grant_now;                 /* this approval creates the grant */
	int64_t ttl;                   /* its TTL, already capped by the class */
};
struct cfs_req_actor {
	uint32_t uid;
	const char *name;
	const char *note;              /* deny reason / review note, or NULL */
};
struct cfs_req_hooks {
	/* on the authentic row as stored: 0 to go on, else a negative errno */
	int (*decide)(const struct cfs_req_rec *rec, void *arg, struct cfs_req_outcome *o,
		      struct cfs_err *err);
	/* on the row as it will be stored (and grant_id set): the audit row */
	int (*record)(const struct cfs_req_rec *rec, void *arg, struct cfs_err *err);
	void *arg;
};
/* Approve, deny or review request id, in one transaction: -ENOENT unknown,
 * -EBADMSG not authentic (err says so), else what the hooks return. An
 * approval that completes the request stores its grant (granted_by the
 * first approver, approved_by the second for a two-person request). */
int cfs_requests_act(struct cfs_grants *g, int64_t id, enum cfs_req_act act,
		     const struct cfs_req_actor *who, int64_t now, const struct cfs_req_hooks *h,
		     struct cfs_err *err);

int cfs_requests_get(struct cfs_grants *g, int64_t id, struct cfs_req_rec *rec, struct cfs_err *err);
/* The newest record this uid made of this kind: -ENOENT when none. */
int cfs_requests_latest(struct cfs_grants *g, uint32_t uid, int kind, int64_t *id, struct cfs_err *err);
/* Every record, newest first (rows not authentic too: row_state says so);
 * cb returns non-zero to stop. A policy.db without the table lists none. */
int cfs_requests_list(struct cfs_grants *g, int (*cb)(const struct cfs_req_rec *rec, void *arg),
		      void *arg, struct cfs_err *err);

#endif
