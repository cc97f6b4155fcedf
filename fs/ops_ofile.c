/* ops_ofile.c — the open-file table (one cfs_file per backing inode,
 * shared by its handles, with the uids holding it) and the handles' own
 * memory. It must never hand an open file to a handle without a reference,
 * nor free one a handle still uses. */
#include "ops_int.h"

struct rstr *cfs_op_rstr_new(const char *s)
{
	size_t n = strlen(s);
	struct rstr *r = malloc(sizeof *r + n + 1);
	if (r) {
		r->refs = 1;
		memcpy(r->s, s, n + 1);
	}
	return r;
}

void cfs_op_rstr_put(struct rstr *r)
{
	if (r && --r->refs == 0)
		free(r);
}

/* Track which uids hold handles on an open file, so that a creator still
 * sees (getattr) a file it is writing even when derivation lifted its class
 * beyond what it may open. */
void cfs_op_holder_add(struct cfs_ctx *c, struct cfs_ofile *o, uid_t uid, int delta)
{
	pthread_mutex_lock(&c->lock);
	int i;
	for (i = 0; i < o->nholders; i++)
		if (o->holders[i] == uid)
			break;
	if (i == o->nholders && delta > 0 && o->nholders < 8) {
		o->holders[o->nholders] = uid;
		o->holder_refs[o->nholders++] = 0;
	}
	if (i < o->nholders) {
		o->holder_refs[i] += delta;
		if (o->holder_refs[i] <= 0) {
			o->holders[i] = o->holders[o->nholders - 1];
			o->holder_refs[i] = o->holder_refs[o->nholders - 1];
			o->nholders--;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

int cfs_op_holds_handle(struct cfs_ctx *c, const struct stat *st, uid_t uid)
{
	int yes = 0;
	pthread_mutex_lock(&c->lock);
	for (struct cfs_ofile *o = c->ofiles; o && !yes; o = o->next)
		if (o->dev == st->st_dev && o->ino == st->st_ino)
			for (int i = 0; i < o->nholders; i++)
				if (o->holders[i] == uid)
					yes = 1;
	pthread_mutex_unlock(&c->lock);
	return yes;
}

/* ---- open-file table ---- */

/* The open file of that inode with a reference taken, or NULL; under the
 * table's lock. */
static struct cfs_ofile *find_locked(struct cfs_ctx *c, const struct stat *st)
{
	for (struct cfs_ofile *o = c->ofiles; o; o = o->next) {
		if (o->dev == st->st_dev && o->ino == st->st_ino) {
			o->refs++;
			return o;
		}
	}
	return NULL;
}

static struct cfs_ofile *find_ref(struct cfs_ctx *c, const struct stat *st)
{
	pthread_mutex_lock(&c->lock);
	struct cfs_ofile *o = find_locked(c, st);
	pthread_mutex_unlock(&c->lock);
	return o;
}

/* Take a reference on the open file behind backing fd `fd` (consumed).
 * f: that fd's file as just created (consumed too), or NULL to open it,
 * its header bound under parent (NULL: the id the parent's sidecar claims). */
static int ofile_adopt_e(struct cfs_ctx *c, int fd, struct cfs_file *f, const char *path,
			 const unsigned char *parent, struct cfs_ofile **out, struct cfs_err *why)
{
	struct stat st;
	struct cfs_err e = { "" };
	if (fstat(fd, &st) != 0) {
		int r = -errno;
		cfs_content_close(f);
		close(fd);
		return r;
	}
	/* The table's lock is held only to look up and insert: the header is
	 * read and decrypted outside it, and a file another thread inserted
	 * meanwhile wins (ours is dropped). */
	struct cfs_ofile *o = find_ref(c, &st);
	if (o) {
		cfs_content_close(f);
		close(fd);
		*out = o;
		return 0;
	}
	o = calloc(1, sizeof *o);
	int rc = !o ? -ENOMEM : f ? 0 : cfs_entry_open_under(c, path, parent, fd, cfs_op_scratch(c),
							    &o->f, &e);
	if (rc < 0) {
		if (rc == -EIO)
			cfs_op_log_err("tamper", path, &e);
		if (why)
			*why = e;
		cfs_content_close(f);
		free(o);
		close(fd);
		return rc;
	}
	if (f)
		o->f = f;
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	o->fd = fd;
	o->refs = 1;
	pthread_mutex_lock(&c->lock);
	struct cfs_ofile *won = find_locked(c, &st);
	if (!won) {
		o->next = c->ofiles;
		c->ofiles = o;
	}
	pthread_mutex_unlock(&c->lock);
	if (won) {
		cfs_content_release(o->f, cfs_op_scratch(c));
		close(o->fd);
		free(o);
		o = won;
	}
	*out = o;
	return 0;
}

int cfs_op_ofile_adopt(struct cfs_ctx *c, int fd, struct cfs_file *f, const char *path,
		       struct cfs_ofile **out)
{
	return ofile_adopt_e(c, fd, f, path, NULL, out, NULL);
}

/* why: the reason an open of the header failed (tamper rows say it). */
int cfs_op_ofile_get_under(struct cfs_ctx *c, const char *path, const unsigned char *parent,
			   struct cfs_ofile **out, struct cfs_err *why)
{
	int fd = cfs_store_openat(c->store, path, O_RDWR, 0);
	if (fd < 0)
		return fd == -ELOOP ? -EPERM : fd;
	return ofile_adopt_e(c, fd, NULL, path, parent, out, why);
}

int cfs_op_ofile_get(struct cfs_ctx *c, const char *path, struct cfs_ofile **out)
{
	return cfs_op_ofile_get_under(c, path, NULL, out, NULL);
}

/* Truncate of's file crash-safely through its current name (path), and
 * follow it to its new inode; nameless (unlinked while open): in place. */
int cfs_op_ofile_truncate(struct cfs_ctx *c, struct cfs_ofile *o, const char *path, off_t size,
			  struct cfs_scratch *s, struct cfs_err *e)
{
	const char *leaf;
	int replaced = 0, rc;
	int d = path ? cfs_store_parent(c->store, path, &leaf) : -ENOENT;
	pthread_rwlock_wrlock(&o->f->lock);
	rc = d >= 0 ? cfs_content_truncate_at(o->f, size, d, leaf, &replaced, s, e) : -ESTALE;
	if (rc == -ESTALE) {
		/* unlinked, or renamed since it was opened: no name to build the
		 * new file beside, so in place (not crash-safe; see the README) */
		rc = cfs_content_truncate(o->f, size, s, e);
	}
	struct stat st;
	if (replaced && fstat(o->fd, &st) == 0) {
		pthread_mutex_lock(&c->lock);
		o->dev = st.st_dev;
		o->ino = st.st_ino;
		pthread_mutex_unlock(&c->lock);
	}
	pthread_rwlock_unlock(&o->f->lock);
	if (d >= 0)
		close(d);
	return rc;
}

void cfs_op_ofile_put(struct cfs_ctx *c, struct cfs_ofile *o)
{
	pthread_mutex_lock(&c->lock);
	if (--o->refs > 0) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	for (struct cfs_ofile **pp = &c->ofiles; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	cfs_content_release(o->f, cfs_op_scratch(c)); /* key wiped, shell kept for the next open */
	close(o->fd);
	free(o);
}

/* Free a handle's own memory (not its open file or caller). A page-cached
 * handle must be off the watcher's list (cwatch_remove) before its open
 * file goes. */
void cfs_op_handle_drop(struct handle *h)
{
	cfs_ra_free(h->ra); /* wipes the window */
	free(h->cpath);
	for (int i = 0; i < READERS; i++)
		cfs_op_rstr_put(h->rd[i].exe);
	pthread_mutex_destroy(&h->rlock);
	free(h->path);
	free(h);
}

int cfs_op_handle_new(struct cfs_ofile *of, const char *path, int flags, struct cfs_caller *cl,
		      int64_t grant, int rank, struct fuse_file_info *fi)
{
	struct handle *h = calloc(1, sizeof *h);
	if (!h || !(h->path = strdup(path ? path : ""))) {
		free(h);
		return -ENOMEM;
	}
	struct rstr *x = cfs_op_rstr_new(cl->exe);
	if (!x || pthread_mutex_init(&h->rlock, NULL) != 0) {
		free(x);
		free(h->path);
		free(h);
		return -ENOMEM;
	}
	cfs_op_reader_fill(&h->rd[0], cl, x);  /* the opener: its reads cost no /proc access */
	h->rnext = 1;
	h->of = of;
	h->flags = flags;
	h->cl = cl;
	h->grant = grant;
	h->rank = rank;
	h->next_check_ms = cfs_op_now_ms() + 250;
	struct cfs_ctx *c = cfs_op_ctx_get();
	/* a row per read, or one per open and the page cache (see cfs_cwatch) */
	h->every = rank < 0 || rank >= c->cfg->nclasses ||
		   c->cfg->classes[rank].reads == CFS_READS_EVERY || !c->cwatch || !c->cwatch->started;
	if ((!h->every && !(h->cpath = strdup(h->path))) ||
	    (h->every && cfs_ra_new(&c->ra_budget, &h->ra) < 0)) {
		cfs_op_handle_drop(h);
		return -ENOMEM;
	}
	cfs_op_holder_add(c, of, cl->uid, 1);
	if (!h->every)
		cfs_op_cwatch_add(c, h);
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = h->every;
	fi->keep_cache = 0;
	return 0;
}
