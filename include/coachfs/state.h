/* state.h — the local integrity record: a small SQLite database kept beside
 * the policy database, outside the share ([store] state_db). It holds, for
 * each file and directory id, the highest header version this host has seen
 * (a lower one is a rollback), and, while a rename is in flight, the binding
 * the moved entry had before it (so a crash between the rename and the
 * header rewrite is recoverable). Every row carries a keyed BLAKE2b MAC under
 * the state subkey; a row whose MAC fails is an error, never trusted.
 * state.c must never lower a recorded version and never store a key. */
#ifndef COACHFS_STATE_H
#define COACHFS_STATE_H

#include <stddef.h>
#include <stdint.h>
#include "coachfs/crypto.h"
#include "coachfs/util.h"

#define CFS_STATE_ID_BYTES 16

struct cfs_state;

/* Open (create = 1: create it if absent) the record at path. Versions seen
 * are cached in memory: the open path asks the database once per id. */
int cfs_state_open(const char *path, const struct cfs_keys *keys, int create, struct cfs_state **out,
		   struct cfs_err *err);
void cfs_state_close(struct cfs_state *s);

/* Highest version recorded for id (0: none). -EIO when the row's MAC fails. */
int cfs_state_get(struct cfs_state *s, const unsigned char id[CFS_STATE_ID_BYTES], uint64_t *v,
		  struct cfs_err *err);
/* Raise the record for id to v (a lower or equal v changes nothing). */
int cfs_state_note(struct cfs_state *s, const unsigned char id[CFS_STATE_ID_BYTES], uint64_t v,
		   struct cfs_err *err);

/* A rename in flight: before it, the entry with this id was bound to
 * (parent, name). -ENOENT from get when none is recorded. name: up to 255
 * bytes; get fills name (cap >= 256). */
int cfs_state_intent_set(struct cfs_state *s, const unsigned char id[CFS_STATE_ID_BYTES],
			 const unsigned char parent[CFS_STATE_ID_BYTES], const char *name, struct cfs_err *err);
int cfs_state_intent_get(struct cfs_state *s, const unsigned char id[CFS_STATE_ID_BYTES],
			 unsigned char parent[CFS_STATE_ID_BYTES], char *name, size_t cap, struct cfs_err *err);
int cfs_state_intent_clear(struct cfs_state *s, const unsigned char id[CFS_STATE_ID_BYTES],
			   struct cfs_err *err);

#endif
