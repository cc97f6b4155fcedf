/* links.h — expiring delivery links (MOUNT/.links/TOKEN), kept in policy.db.
 * links.c owns the `links` table: issuing, atomic use, revocation, listing.
 * A token is never stored: only its keyed BLAKE2b hash (the store's link
 * subkey), so a copy of policy.db cannot be turned into working links.
 * It must never decide anything beyond a link's own limits (time, uses,
 * user, revocation): class, readers and export rules stay with policy.c. */
#ifndef COACHFS_LINKS_H
#define COACHFS_LINKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "coachfs/policy.h"
#include "coachfs/util.h"

#define CFS_TOKEN_BYTES 16       /* 128 random bits */
#define CFS_TOKEN_CHARS 22       /* base64url without padding */
#define CFS_LINK_HASH_BYTES 32

struct cfs_link {
	int64_t id;
	unsigned char hash[CFS_LINK_HASH_BYTES];
	char path[4096];          /* the target, mount-relative */
	char user[256];           /* "" = bearer link */
	int64_t uid;              /* -1 = bearer */
	int64_t start, end;       /* seconds */
	uint32_t uses, used;
	char issued_by[256];
	int64_t created;
	int64_t revoked_at;       /* 0 = live */
	char revoked_by[256];
	char revoke_reason[256];
	char approved_by[256];    /* two-person classes: who confirmed it ("" = nobody yet) */
	int64_t approved_at;      /* when (0 = not approved) */
	int row_state;            /* enum cfs_row_state (grants.h): authentic or not */
};

struct cfs_links;

/* Open (and create the table in) policy.db. */
int cfs_links_open(const char *path, struct cfs_links **out, struct cfs_err *err);
void cfs_links_close(struct cfs_links *l);
/* The row MAC key (keys->rowmac, copied into secure memory). Without it no
 * row is authentic (all refused) and nothing can be written (-EPERM). */
int cfs_links_set_key(struct cfs_links *l, const unsigned char key[32], struct cfs_err *err);
/* Seal an older policy.db's link rows that have no MAC, as they stand (see
 * cfs_grants_seal_legacy: an administrator's explicit upgrade, run once).
 * Rows with a MAC are left alone. *sealed = rows sealed. */
int cfs_links_seal_legacy(struct cfs_links *l, int64_t *sealed, struct cfs_err *err);

/* Text a link row may hold (user, issued_by, revoked_by, reason, approver):
 * shorter than 256 bytes, no control characters. 0 or -EINVAL. */
int cfs_link_text_ok(const char *s);

/* A fresh token (NUL-terminated, CFS_TOKEN_CHARS) and its keyed hash. */
void cfs_link_token_new(char token[CFS_TOKEN_CHARS + 1]);
/* Hash a presented token; -EINVAL unless it has the token's exact form. */
int cfs_link_token_hash(const unsigned char key[32], const char *token,
			unsigned char hash[CFS_LINK_HASH_BYTES]);

/* Store a new link (rec->id set), sealed with its MAC. before_commit (may be
 * NULL) runs inside the write transaction once rec->id is known; a non-zero
 * return rolls the link back: no link is usable without its audit row. */
int cfs_links_add(struct cfs_links *l, struct cfs_link *rec,
		  int (*before_commit)(const struct cfs_link *rec, void *arg, struct cfs_err *err),
		  void *arg, struct cfs_err *err);
/* Record approver's confirmation of link id (see cfs_grants_approve): -EBADMSG
 * not authentic, -EALREADY approved, -EACCES revoked; check() inside the
 * transaction. */
int cfs_links_approve(struct cfs_links *l, int64_t id, const char *approver, int64_t now,
		      int (*check)(const struct cfs_link *rec, void *arg, struct cfs_err *err),
		      void *arg, struct cfs_err *err);
/* The link as policy.c sees it (g->link = 1; strings point into rec). */
void cfs_link_as_grant(const struct cfs_link *rec, struct cfs_grant *g);

/* Look a link up by hash without using it: 0 and *rec, or -ENOENT. */
int cfs_links_find(struct cfs_links *l, const unsigned char hash[CFS_LINK_HASH_BYTES],
		   struct cfs_link *rec, struct cfs_err *err);
int cfs_links_get(struct cfs_links *l, int64_t id, struct cfs_link *rec, struct cfs_err *err);

/* Is the link usable by uid now? 0, or -EACCES with why ("expired",
 * "used up", "revoked", "not yet valid", "for another user"), or -EBADMSG
 * when the row is not authentic. Class rules are policy.c's
 * (cfs_decide_link). */
int cfs_link_check(const struct cfs_link *rec, int64_t uid, int64_t now, char *why, size_t whylen);

/* Use a link once, atomically (check + count in one transaction), allowing
 * at most max_uses uses (the class's cap; 0 = the link's own). 0 with *rec
 * (used already incremented), -ENOENT unknown, -EACCES refused (why says so,
 * *rec filled), -EBADMSG not authentic. */
int cfs_links_use(struct cfs_links *l, const unsigned char hash[CFS_LINK_HASH_BYTES], int64_t uid,
		  int64_t now, uint32_t max_uses, struct cfs_link *rec, char *why, size_t whylen,
		  struct cfs_err *err);

/* -ENOENT, -EALREADY, -EINVAL (by or reason not cfs_link_text_ok). An
 * authentic row stays authentic; any other keeps its MAC (never blessed). */
int cfs_links_revoke(struct cfs_links *l, int64_t id, const char *by, const char *reason, int64_t now,
		     struct cfs_err *err);

/* All links, newest first; cb returns non-zero to stop. */
int cfs_links_list(struct cfs_links *l, int (*cb)(const struct cfs_link *rec, void *arg), void *arg,
		   struct cfs_err *err);

#endif
