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

/* One daemon per integrity record (two would keep separate versions of the
 * same files and report each other's writes as tampering): an exclusive
 * flock on "<path>.lock", which the daemon holds while it runs and the
 * kernel releases however it exits. The holder's pid is written into the
 * file for the next daemon's message. 0 with *fd the lock's descriptor, or
 * -EBUSY with err naming the record and the holder, or -errno. */
int cfs_state_lock(const char *path, int *fd, struct cfs_err *err);

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
