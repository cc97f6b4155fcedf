/* ops_data.c — file data: open, create, truncate, read, write,
 * copy_file_range, release and fsync. Every open is decided and recorded
 * before it returns; reads of every-read classes write a row each. It must
 * never return plaintext to a handle whose access has ended. */
#include "ops_int.h"

int cfs_op_open(const char *path, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	const char *token;
	int lk = cfs_op_link_path(path, &token);
	if (lk)
		return lk == 2 ? cfs_op_link_open(c, token, fi) : -EISDIR;
	struct cfs_ofile *of = NULL;
	struct cfs_decision d;
	struct cfs_caller *cl = cfs_op_who(c);
	struct cfs_eff *e = malloc(sizeof *e);
	int rc = cl && e ? cfs_op_path_ok(path) : -ENOMEM;
	if (rc == 0)
		rc = cfs_op_open_decide(c, cl, path, fi->flags, &of, e, &d);
	if (rc == 0 && (fi->flags & O_ACCMODE) != O_WRONLY)
		cfs_access_note_read(c, cl->tgid, cl->start_time, e->class_rank);
	if (rc == 0 && (fi->flags & O_TRUNC)) {
		struct cfs_err err = { "" };
		struct cfs_scratch *s = cfs_op_scratch(c);
		rc = s ? cfs_op_ofile_truncate(c, of, path, 0, s, &err) : -ENOMEM;
		if (rc < 0)
			cfs_op_log_err("truncate", path, &err);
	}
	if (rc == 0 && cfs_op_is_write_open(fi->flags)) {
		/* a new header version per write handle: an older copy of the whole
		 * file is then a rollback the record catches */
		struct cfs_err err = { "" };
		pthread_rwlock_wrlock(&of->f->lock);
		rc = cfs_content_bump(of->f, &err);
		pthread_rwlock_unlock(&of->f->lock);
		if (rc < 0)
			cfs_op_log_err("open", path, &err);
	}
	if (rc == 0)
		rc = cfs_op_handle_new(of, path, fi->flags, cl, d.grant_id, e->class_rank, fi);
	if (rc == 0) {
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;
		if (cfs_op_is_write_open(fi->flags)) {
			struct rref r;
			rc = cfs_op_reader_of(c, h, &r);
			if (rc == 0) {
				struct cfs_rowproc rp = cfs_op_rref_row(&r);
				rc = cfs_op_lift_class(c, h, cfs_op_rref_max_read(c, h, &r, h->rank), &rp);
				cfs_op_rref_done(&r);
			}
		}
		if (rc < 0) {
			if (!h->every)
				cfs_op_cwatch_remove(c, h);
			cfs_op_holder_add(c, of, cl->uid, -1);
			cfs_op_handle_drop(h);
		}
	}
	free(e);
	if (rc < 0) {
		if (of)
			cfs_op_ofile_put(c, of);
		free(cl);
		return rc;
	}
	return 0;
}

/* Derived content: a new file takes the highest class its creating process
 * has read, as its own class attribute in meta. *rank: the class it gets.
 * 0, or -EIO when the class cannot be recorded (refuse the file). */
static int derived_class(struct cfs_ctx *c, const struct cfs_caller *cl, int *rank, unsigned char *meta,
			 size_t *mlen)
{
	struct cfs_lineage lin;
	cfs_lineage_init(&lin, cl);
	int r = cfs_decide_derived_rank(*rank, cfs_access_max_read(c, &lin, *rank), c->cfg->nclasses);
	if (r == *rank)
		return 0;
	const char *name = c->cfg->classes[r].name;
	if (cfs_meta_set(meta, mlen, CFS_META_MAX, CFS_XATTR_PREFIX "class", name, strlen(name)) < 0)
		return -EIO;
	*rank = r;
	return 0;
}

/* What a create is about to make. */
struct newfile {
	struct cfs_bind bind;
	unsigned char meta[CFS_META_MAX];
	size_t mlen;
	int rank;
	mode_t mode;
};

/* Build the file under a temporary name in d_fd, record it, then link it
 * in atomically — never over an existing name (it may be one the caller
 * cannot see): a crash never leaves a half-written header under the real
 * name, and a file not recorded is not created. 0 with *fd and *f. */
static int make_file(struct cfs_ctx *c, struct cfs_caller *cl, const char *path, const struct cfs_decision *d,
		     const struct newfile *nf, int d_fd, const char *leaf, int *fd, struct cfs_file **f)
{
	struct cfs_err err = { "" };
	char tmpname[64], why[300];
	int rc = 0;
	*f = NULL;
	*fd = cfs_store_tmpfile(d_fd, tmpname, sizeof tmpname);
	if (*fd < 0)
		return *fd;
	if (fchown(*fd, cl->uid, cl->gid) != 0 || fchmod(*fd, nf->mode & 07777) != 0)
		rc = -errno;
	if (rc == 0)
		rc = cfs_content_create_b(*fd, c->keys, &nf->bind, c->state, NULL, 1, nf->meta, nf->mlen,
					  cfs_op_scratch(c), f, &err);
	if (rc == 0) {
		snprintf(why, sizeof why, "%.200s; class %s%s", d->reason, c->cfg->classes[nf->rank].name,
			 nf->mlen ? " (derived from what this process read)" : "");
		if (cfs_access_audit(c, cl, CFS_ACT_CREATE, path, cfs_op_verdict_word(d->verdict), why, d->grant_id,
				     CFS_AUDIT_NONE, CFS_AUDIT_NONE, 1) < 0) {
			rc = -EACCES;
		} else if (renameat2(d_fd, tmpname, d_fd, leaf, RENAME_NOREPLACE) != 0) {
			rc = -errno;
			cfs_op_record_failed(c, cl, CFS_ACT_CREATE, path, rc);
			if (rc == -EEXIST)
				rc = cfs_op_name_free(c, cl, path, CFS_ACT_CREATE) == -EEXIST ? -EEXIST : -EACCES;
		}
	}
	if (rc < 0) {
		cfs_content_close(*f);
		*f = NULL;
		unlinkat(d_fd, tmpname, 0);
		close(*fd);
	}
	return rc;
}

int cfs_op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	struct cfs_decision d;
	const char *leaf;
	struct newfile nf = { .mode = mode };
	if (!S_ISREG(mode) && (mode & S_IFMT))
		return -EPERM;
	struct cfs_caller *cl = cfs_op_who(c);
	struct cfs_eff *e = malloc(sizeof *e);
	int rc = cl && e ? cfs_op_path_ok(path) : -ENOMEM;
	if (rc == 0)
		rc = cfs_op_may_create(c, cl, path, CFS_ACT_CREATE, e, &d);
	if (rc == 0)
		rc = cfs_op_name_free(c, cl, path, CFS_ACT_CREATE);
	if (rc == -EEXIST && !(fi->flags & O_EXCL)) {
		/* made since the kernel's lookup, and the caller may see it: an
		 * open(O_CREAT) of an existing file opens it, decided as an open */
		free(cl);
		free(e);
		return cfs_op_open(path, fi);
	}
	if (rc == 0) {
		nf.rank = e->class_rank;
		rc = derived_class(c, cl, &nf.rank, nf.meta, &nf.mlen);
	}
	if (rc == 0)
		rc = cfs_bind_set(&nf.bind, e->dir_id, strrchr(path, '/') + 1, CFS_KIND_FILE);
	free(e);
	int d_fd = rc < 0 ? rc : cfs_op_parent_of(c, path, &leaf), fd = -1;
	struct cfs_file *f = NULL;
	rc = d_fd < 0 ? d_fd : make_file(c, cl, path, &d, &nf, d_fd, leaf, &fd, &f);
	if (d_fd >= 0)
		close(d_fd);
	/* the file as created, key and all: no second header read and key derivation */
	struct cfs_ofile *of = NULL;
	if (rc == 0)
		rc = cfs_op_ofile_adopt(c, fd, f, path, &of);
	if (rc == 0 && (rc = cfs_op_handle_new(of, path, fi->flags, cl, d.grant_id, nf.rank, fi)) < 0)
		cfs_op_ofile_put(c, of);
	if (rc < 0) {
		free(cl);
		return rc;
	}
	((struct handle *)(uintptr_t)fi->fh)->derived = nf.mlen != 0;
	return 0;
}

int cfs_op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	struct cfs_ofile *of = NULL;
	struct cfs_err e = { "" };
	int rc, own = 0;
	if (fi && fi->fh) {
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;
		if (!cfs_op_is_write_open(h->flags))
			return -EACCES;
		rc = cfs_op_handle_live(c, h, CFS_ACT_WRITE);
		if (rc < 0)
			return rc;
		of = h->of;
		if (!path)
			path = h->path; /* nullpath_ok: the name it was opened by (checked to still be it) */
	} else {
		/* truncate(2) by path: decided like an open for writing */
		struct cfs_caller *cl = cfs_op_who(c);
		struct cfs_eff *ef = malloc(sizeof *ef);
		struct cfs_decision d;
		rc = cl && ef ? cfs_op_path_ok(path) : -ENOMEM;
		if (rc == 0)
			rc = cfs_op_ofile_get(c, path, &of);
		if (rc == 0) {
			own = 1;
			rc = cfs_op_decide_open(c, cl, of, path, O_WRONLY | O_TRUNC, ef, &d);
		}
		free(cl);
		free(ef);
		if (rc < 0) {
			if (own)
				cfs_op_ofile_put(c, of);
			return rc;
		}
	}
	struct cfs_scratch *s = cfs_op_scratch(c);
	if (!s)
		rc = -ENOMEM;
	else {
		rc = cfs_op_ofile_truncate(c, of, path, size, s, &e);
		if (rc == -EIO)
			cfs_op_log_err("tamper", path, &e);
		else if (rc < 0)
			cfs_op_log_err("truncate", path, &e);
	}
	if (own)
		cfs_op_ofile_put(c, of);
	return rc;
}

void cfs_op_tamper(struct cfs_ctx *c, struct handle *h, const struct cfs_err *e)
{
	cfs_op_log_err("tamper", h->path, e);
	cfs_access_audit(c, h->cl, CFS_ACT_TAMPER, h->path, "error", e->msg, h->grant, CFS_AUDIT_NONE,
			 CFS_AUDIT_NONE, 1);
}

/* One read or write request in flight. */
struct io {
	struct cfs_ctx *c;
	struct handle *h;
	struct cfs_scratch *s;
	struct rref r;
	struct cfs_err e;
};

/* The start of a read or write: a scratch buffer, the handle still
 * admitted (else its read-ahead window's plaintext goes), and the process
 * behind the request. 0 or -errno. */
static int io_begin(struct fuse_file_info *fi, enum cfs_action what, struct io *io)
{
	io->c = cfs_op_ctx_get();
	io->h = (struct handle *)(uintptr_t)fi->fh;
	io->e.msg[0] = 0;
	io->s = cfs_op_scratch(io->c);
	if (!io->s)
		return -ENOMEM;
	int rc = cfs_op_handle_live(io->c, io->h, what);
	if (rc < 0) {
		cfs_ra_drop(io->h->ra); /* access ended: the window's plaintext goes */
		return rc;
	}
	return cfs_op_reader_of(io->c, io->h, &io->r);
}

/* The end of one: a tamper row for a chunk that failed authentication, the
 * read or write row of an every-read class (queued: a failed queue is EIO),
 * the reader slot given back. Returns what the request returns. */
static int io_end(struct io *io, enum cfs_action action, off_t off, ssize_t n)
{
	struct cfs_rowproc rp = cfs_op_rref_row(&io->r);
	struct handle *h = io->h;
	if (n == -EIO)
		cfs_op_tamper(io->c, h, &io->e);
	else if (n >= 0 && h->every &&
		 cfs_access_audit_proc(io->c, &rp, action, h->path, "allow", NULL, h->grant, off, n, 0) < 0)
		n = -EIO;
	cfs_op_rref_done(&io->r);
	return (int)n;
}

int cfs_op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct io io;
	(void)path;
	int rc = io_begin(fi, CFS_ACT_READ, &io);
	if (rc < 0)
		return rc;
	struct handle *h = io.h;
	/* the reading process holds this class from now on (before it gets a byte) */
	cfs_op_rref_note(io.c, h, &io.r, h->rank);
	pthread_rwlock_rdlock(&h->of->f->lock);
	ssize_t n = cfs_ra_read(h->ra, h->of->f, buf, size, off, io.s, &io.e);
	pthread_rwlock_unlock(&h->of->f->lock);
	return io_end(&io, CFS_ACT_READ, off, n);
}

int cfs_op_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct io io;
	(void)path;
	int rc = io_begin(fi, CFS_ACT_WRITE, &io);
	if (rc < 0)
		return rc;
	struct handle *h = io.h;
	/* the writing process (thread group, or an ancestor it was forked from) */
	struct cfs_rowproc rp = cfs_op_rref_row(&io.r);
	rc = cfs_op_lift_class(io.c, h, cfs_op_rref_max_read(io.c, h, &io.r, h->rank), &rp);
	ssize_t n = 0;
	if (rc == 0) {
		pthread_rwlock_wrlock(&h->of->f->lock);
		off_t sz = off;
		if (h->flags & O_APPEND)
			rc = cfs_content_size(h->of->f, &sz);
		off = sz;
		if (rc == 0)
			n = cfs_content_write(h->of->f, buf, size, off, io.s, &io.e);
		pthread_rwlock_unlock(&h->of->f->lock);
	}
	if (rc < 0) {   /* not a tamper: the class could not be lifted, or no size */
		cfs_op_rref_done(&io.r);
		return rc;
	}
	return io_end(&io, CFS_ACT_WRITE, off, n);
}

/* copy_file_range's decision: the source rechecked for this caller, then
 * its export rule (policy.c), recorded; the caller holds the source's class
 * from now on, and the destination is lifted to it. 0 or -errno. */
static int copy_decide(struct cfs_ctx *c, struct handle *in, struct handle *out, off_t off_in, size_t len)
{
	struct cfs_decision d;
	struct cfs_caller *cl = cfs_op_who(c);
	struct cfs_eff *ef = malloc(sizeof *ef);
	unsigned char meta[CFS_META_MAX];
	int rc = cl && ef ? 0 : -ENOMEM;
	if (rc == 0) {
		pthread_rwlock_rdlock(&in->of->f->lock);
		size_t mlen = in->of->f->meta_len;
		memcpy(meta, in->of->f->meta, mlen);
		pthread_rwlock_unlock(&in->of->f->lock);
		rc = cfs_eff_resolve(c, in->path, meta, mlen, ef);
	}
	if (rc == 0) {
		cfs_access_decide(c, cl, ef, in->path, CFS_OP_RECHECK, 0, in->grant, &d);
		cfs_decide_copy_export(&ef->fp, out->path, &d);
		if (cfs_access_audit(c, cl, CFS_ACT_EXPORT, in->path, cfs_op_verdict_word(d.verdict), d.reason,
				     in->grant, off_in, (int64_t)len, 1) < 0 || d.verdict == CFS_DENY)
			rc = -EACCES;
	} else if (rc != -ENOMEM) {
		rc = -EACCES;
	}
	if (rc == 0) {
		/* Inside the mount the copy carries the source's class. */
		int rank = ef->class_rank;
		cfs_access_note_read(c, cl->tgid, cl->start_time, rank);
		struct cfs_rowproc rp = { cl->uid, cl->user, cl->pid, cl->exe };
		if (rank > out->rank)
			rc = cfs_op_lift_class(c, out, rank, &rp);
	}
	free(ef);
	free(cl);
	return rc;
}

/* Copy len bytes in 1 MiB steps through a wiped buffer: bytes copied, or
 * -errno when nothing was. */
static ssize_t copy_bytes(struct cfs_ctx *c, struct handle *in, off_t off_in, struct handle *out, off_t off_out,
			  size_t len)
{
	struct cfs_err e = { "" };
	struct cfs_scratch *s = cfs_op_scratch(c);
	size_t chunk = len < (1u << 20) ? len : (1u << 20);
	char *buf = malloc(chunk ? chunk : 1);
	if (!s || !buf) {
		free(buf);
		return -ENOMEM;
	}
	ssize_t done = 0;
	while ((size_t)done < len) {
		size_t want = len - (size_t)done < chunk ? len - (size_t)done : chunk;
		pthread_rwlock_rdlock(&in->of->f->lock);
		ssize_t n = cfs_content_read(in->of->f, buf, want, off_in + done, s, &e);
		pthread_rwlock_unlock(&in->of->f->lock);
		if (n <= 0) {
			if (n == -EIO)
				cfs_op_tamper(c, in, &e);
			if (n < 0 && !done)
				done = n;
			break;
		}
		pthread_rwlock_wrlock(&out->of->f->lock);
		ssize_t w = cfs_content_write(out->of->f, buf, (size_t)n, off_out + done, s, &e);
		pthread_rwlock_unlock(&out->of->f->lock);
		if (w < 0) {
			if (!done)
				done = w;
			break;
		}
		done += w;
	}
	sodium_memzero(buf, chunk ? chunk : 1);
	free(buf);
	return done;
}

ssize_t cfs_op_copy_file_range(const char *path_in, struct fuse_file_info *fi_in, off_t off_in,
				  const char *path_out, struct fuse_file_info *fi_out, off_t off_out,
				  size_t len, int flags)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	struct handle *in = (struct handle *)(uintptr_t)fi_in->fh;
	struct handle *out = (struct handle *)(uintptr_t)fi_out->fh;
	(void)path_in;
	(void)path_out;
	if (flags)
		return -EINVAL;
	int rc = cfs_op_handle_live(c, in, CFS_ACT_READ);
	if (rc == 0)
		rc = cfs_op_handle_live(c, out, CFS_ACT_WRITE);
	if (rc == 0)
		rc = copy_decide(c, in, out, off_in, len);
	return rc < 0 ? rc : copy_bytes(c, in, off_in, out, off_out, len);
}

int cfs_op_release(const char *path, struct fuse_file_info *fi)
{
	struct cfs_ctx *c = cfs_op_ctx_get();
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	(void)path;
	if (!h->every)
		cfs_op_cwatch_remove(c, h);
	cfs_op_holder_add(c, h->of, h->cl->uid, -1);
	cfs_op_ofile_put(c, h->of);
	free(h->cl);
	cfs_op_handle_drop(h);
	return 0;
}

int cfs_op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	(void)path;
	int r = datasync ? fdatasync(h->of->fd) : fsync(h->of->fd);
	return r == 0 ? 0 : -errno;
}
