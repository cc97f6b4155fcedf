/* scratch.c — a thread's scratch buffer for chunk I/O.
 * Owns: the buffer's allocation and its wiping. Must never free or replace
 * a buffer without wiping it first (it held plaintext), and never touch the
 * spare shell or the pools the struct carries for others. */
#include "coachfs/scratch.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>

void cfs_scratch_wipe(struct cfs_scratch *s)
{
	if (!s || !s->buf)
		return;
	sodium_memzero(s->buf, s->cap); /* it held plaintext */
	free(s->buf);
	s->buf = NULL;
	s->cap = 0;
}

int cfs_scratch_need(struct cfs_scratch *s, size_t need)
{
	if (s->cap >= need)
		return 0;
	size_t cap = (need + 4095) & ~(size_t)4095;
	void *p = NULL;
	if (posix_memalign(&p, 4096, cap) != 0)
		return -ENOMEM;
	if (s->buf) {
		sodium_memzero(s->buf, s->cap);
		free(s->buf);
	}
	s->buf = p;
	s->cap = cap;
	return 0;
}
