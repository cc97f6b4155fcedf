/* caller.c — who is calling: uid and gid (from FUSE, reliable), the groups,
 * the process a thread belongs to, its parent, ancestors, program and start
 * time (from /proc: the groups as the kernel reports them, the rest
 * advisory), the login name, and the roles of [roles] resolved once into a
 * table of uids and gids.
 * It owns the role table. It must never decide access (that is policy.c),
 * never trust pid or program for more than advice, and never read
 * /etc/passwd or /etc/group while deciding a role (only at table build). */
#include "coachfs/caller.h"
#include "coachfs/caller_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* getpw*_r / getgr*_r scratch buffers start here (or at sysconf's hint) and
 * double on ERANGE up to this cap: a group with tens of thousands of members
 * fits, a hostile NSS answer cannot make us allocate without bound. */
#define LOOKUP_BUF_MIN 1024
#define LOOKUP_BUF_CAP (1u << 20)

enum member_kind { MEMBER_USER = 1, MEMBER_GROUP = 2 };

struct member {
	enum member_kind kind;
	int resolved;            /* 0: the account does not exist here; ignored */
	uint32_t id;             /* uid or gid when resolved */
	const char *text;        /* the config's member text ("alice", "@soc") */
};

struct role_ent {
	const char *name;        /* points into the config */
	int nmembers;
	struct member m[CFS_LIST_MAX];
};

struct cfs_roletab {
	const struct cfs_config *cfg;
	int nroles;
	struct role_ent roles[CFS_LIST_MAX];
};

static size_t lookup_buf_start(int which)
{
	long hint = sysconf(which);
	if (hint <= 0 || (unsigned long)hint > LOOKUP_BUF_CAP)
		return LOOKUP_BUF_MIN;
	return hint < LOOKUP_BUF_MIN ? LOOKUP_BUF_MIN : (size_t)hint;
}

/* The error codes with which getpw*_r / getgr*_r say "no such entry"
 * (getpwnam_r(3) lists them besides the plain 0-and-NULL answer). */
static int is_not_found(int rc)
{
	return rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM;
}

/* Look up a user (kind USER) or group (kind GROUP) by name.
 * 1 = found (*id set), 0 = no such account, negative errno = lookup failed. */
static int lookup_name(enum member_kind kind, const char *name, uint32_t *id)
{
	size_t len = lookup_buf_start(kind == MEMBER_USER ? _SC_GETPW_R_SIZE_MAX
							  : _SC_GETGR_R_SIZE_MAX);
	for (;;) {
		char *buf = malloc(len);
		int rc, found = 0;
		if (!buf)
			return -ENOMEM;
		if (kind == MEMBER_USER) {
			struct passwd pw, *res = NULL;
			rc = getpwnam_r(name, &pw, buf, len, &res);
			if (rc == 0 && res) {
				*id = (uint32_t)res->pw_uid;
				found = 1;
			}
		} else {
			struct group gr, *res = NULL;
			rc = getgrnam_r(name, &gr, buf, len, &res);
			if (rc == 0 && res) {
				*id = (uint32_t)res->gr_gid;
				found = 1;
			}
		}
		free(buf);
		if (found)
			return 1;
		if (rc == EINTR)
			continue;
		if (rc == ERANGE) {
			if (len >= LOOKUP_BUF_CAP)
				return -ERANGE;
			len *= 2;
			continue;
		}
		if (is_not_found(rc))
			return 0;
		return rc > 0 ? -rc : -EIO;
	}
}

int cfs_roletab_build(const struct cfs_config *cfg, struct cfs_roletab **out, struct cfs_err *err)
{
	struct cfs_roletab *t;
	if (!out)
		return cfs_errf(err, -EINVAL, "roles: no place to put the role table");
	*out = NULL;
	if (!cfg)
		return cfs_errf(err, -EINVAL, "roles: no configuration");
	if (cfg->nroles < 0 || cfg->nroles > CFS_LIST_MAX)
		return cfs_errf(err, -EINVAL, "roles: %d roles is out of range (0..%d)", cfg->nroles,
				CFS_LIST_MAX);
	t = calloc(1, sizeof *t);
	if (!t)
		return cfs_errf(err, -ENOMEM, "roles: out of memory");
	t->cfg = cfg;
	for (int r = 0; r < cfg->nroles; r++) {
		const struct cfs_role *role = &cfg->roles[r];
		struct role_ent *e = &t->roles[t->nroles];
		if (strnlen(role->name, sizeof role->name) >= sizeof role->name) {
			cfs_roletab_free(t);
			return cfs_errf(err, -EINVAL, "roles: role %d has an unterminated name", r + 1);
		}
		if (role->members.n < 0 || role->members.n > CFS_LIST_MAX) {
			cfs_roletab_free(t);
			return cfs_errf(err, -EINVAL, "roles: role %s has %d members (0..%d)",
					role->name, role->members.n, CFS_LIST_MAX);
		}
		e->name = role->name;
		for (int i = 0; i < role->members.n; i++) {
			const char *txt = role->members.v[i];
			struct member *m = &e->m[e->nmembers];
			const char *name;
			int rc;
			if (!txt)
				continue;
			m->text = txt;
			m->kind = txt[0] == '@' ? MEMBER_GROUP : MEMBER_USER;
			name = m->kind == MEMBER_GROUP ? txt + 1 : txt;
			rc = *name ? lookup_name(m->kind, name, &m->id) : 0;
			if (rc < 0) {
				cfs_errf(err, rc, "roles: cannot look up %s '%s' of role %s: %s",
					 m->kind == MEMBER_GROUP ? "group" : "user", name, role->name,
					 strerror(-rc));
				cfs_roletab_free(t);
				return rc;
			}
			m->resolved = rc == 1;
			e->nmembers++;
		}
		t->nroles++;
	}
	*out = t;
	return 0;
}

void cfs_roletab_free(struct cfs_roletab *t)
{
	free(t);
}

int cfs_roletab_unresolved(const struct cfs_roletab *t, int i, const char **role,
			   const char **member)
{
	if (!t || i < 0)
		return -ENOENT;
	for (int r = 0; r < t->nroles; r++)
		for (int k = 0; k < t->roles[r].nmembers; k++) {
			if (t->roles[r].m[k].resolved)
				continue;
			if (i-- == 0) {
				if (role)
					*role = t->roles[r].name;
				if (member)
					*member = t->roles[r].m[k].text;
				return 0;
			}
		}
	return -ENOENT;
}

static int role_applies(const struct role_ent *e, const struct cfs_caller *c)
{
	for (int k = 0; k < e->nmembers; k++) {
		const struct member *m = &e->m[k];
		if (!m->resolved)
			continue;
		if (m->kind == MEMBER_USER && (uint32_t)c->uid == m->id)
			return 1;
		if (m->kind == MEMBER_GROUP && cfs_caller_in_group(c, (gid_t)m->id))
			return 1;
	}
	return 0;
}

void cfs_caller_set_roles(const struct cfs_roletab *t, struct cfs_caller *c)
{
	if (!c)
		return;
	c->nroles = 0;
	memset(c->roles, 0, sizeof c->roles);
	if (!t)
		return;
	/* Config order; a caller holding more than CFS_ROLES_MAX roles keeps
	 * the first ones (fewer roles never grant more). */
	for (int r = 0; r < t->nroles && c->nroles < CFS_ROLES_MAX; r++)
		if (role_applies(&t->roles[r], c))
			c->roles[c->nroles++] = t->roles[r].name;
}

void cfs_user_name(uid_t uid, char *out, size_t outlen)
{
	size_t len = lookup_buf_start(_SC_GETPW_R_SIZE_MAX);
	if (!out || outlen == 0)
		return;
	for (;;) {
		struct passwd pw, *res = NULL;
		char *buf = malloc(len);
		int rc;
		if (!buf)
			break;
		rc = getpwuid_r(uid, &pw, buf, len, &res);
		if (rc == 0 && res && res->pw_name && res->pw_name[0] &&
		    strlen(res->pw_name) < outlen) {
			cfs_strlcpy(out, res->pw_name, outlen);
			free(buf);
			return;
		}
		free(buf);
		if (rc == EINTR)
			continue;
		if (rc == ERANGE && len < LOOKUP_BUF_CAP) {
			len *= 2;
			continue;
		}
		break;
	}
	/* Unknown, unreadable, or too long to carry whole: a truncated name
	 * could be someone else's, the number cannot. */
	snprintf(out, outlen, "#%u", (unsigned)uid);
}

/* Digits at *pp up to max (at least one digit); *pp moves past them. */
static int scan_dec(const char **pp, uint64_t max, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (max - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*pp = p;
	*out = v;
	return 0;
}

int cfs_parse_proc_stat_start(const char *line, uint64_t *out)
{
	const char *p;
	uint64_t v = 0;
	if (!line || !out)
		return -EINVAL;
	/* "PID (COMM) STATE ..." — COMM may hold spaces and parentheses, so
	 * fields are counted from the last ')'. Field 3 (state) is the first
	 * after it; field 22 (starttime) is the 20th. */
	p = strrchr(line, ')');
	if (!p)
		return -EINVAL;
	p++;
	for (int field = 3; field < 22; field++) {
		if (*p != ' ')
			return -EINVAL;
		p++;
		if (*p == ' ' || *p == '\n' || *p == 0)
			return -EINVAL;
		while (*p && *p != ' ' && *p != '\n')
			p++;
	}
	if (*p != ' ')
		return -EINVAL;
	p++;
	if (scan_dec(&p, UINT64_MAX, &v) < 0)
		return -EINVAL;
	if (*p != ' ' && *p != '\n' && *p != 0)
		return -EINVAL;
	*out = v;
	return 0;
}

int cfs_parse_proc_stat(const char *line, pid_t *ppid, uint64_t *start)
{
	const char *p;
	uint64_t v = 0;
	if (!line || !ppid || !start)
		return -EINVAL;
	if (cfs_parse_proc_stat_start(line, start) < 0)
		return -EINVAL;
	/* field 4 (ppid) is the second after the last ')': " S 1234 " */
	p = strrchr(line, ')');
	if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
		return -EINVAL;
	p += 4;
	if (scan_dec(&p, INT32_MAX, &v) < 0 || *p != ' ')
		return -EINVAL;
	*ppid = (pid_t)v;
	return 0;
}

/* Read a small /proc file into buf (NUL-terminated); its length or -errno.
 * One read: these files (stat, status, boot_id) are each one seq_file
 * record, which the kernel hands over whole to a read that has room for
 * it; one that fills the buffer is too long to be what we expect. */
static ssize_t proc_read(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	ssize_t n;
	do
		n = pread(fd, buf, cap - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n <= 0 || (size_t)n >= cap - 1)
		return n < 0 ? n : -EIO;
	buf[n] = 0;
	if (strlen(buf) != (size_t)n)  /* a NUL inside: not what /proc writes */
		return -EIO;
	return n;
}

/* /proc/PID/NAME into buf, as proc_read. */
static ssize_t proc_pid_read(pid_t pid, const char *name, char *buf, size_t cap)
{
	char path[64];
	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, name);
	return proc_read(path, buf, cap);
}

static int proc_stat(pid_t pid, pid_t *ppid, uint64_t *start)
{
	char buf[4096];
	ssize_t n = proc_pid_read(pid, "stat", buf, sizeof buf);
	if (n < 0)
		return (int)n;
	return cfs_parse_proc_stat(buf, ppid, start);
}

uint64_t cfs_proc_start(pid_t pid)
{
	pid_t pp;
	uint64_t v;
	return proc_stat(pid, &pp, &v) == 0 ? v : 0;
}

int cfs_proc_boot_id(char *out, size_t cap)
{
	char buf[64];
	if (cap <= CFS_BOOT_ID_LEN)
		return -ENAMETOOLONG;
	out[0] = 0;
	ssize_t n = proc_read("/proc/sys/kernel/random/boot_id", buf, sizeof buf);
	if (n < 0)
		return (int)n;
	if (n != CFS_BOOT_ID_LEN + 1 || buf[CFS_BOOT_ID_LEN] != '\n' ||
	    strspn(buf, "0123456789abcdef-") != CFS_BOOT_ID_LEN)
		return -EINVAL;
	memcpy(out, buf, CFS_BOOT_ID_LEN);
	out[CFS_BOOT_ID_LEN] = 0;
	return 0;
}

/* A decimal pid after "Name:" up to the end of its line. */
static int status_pid(const char *text, const char *key, pid_t *out)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, kl) != 0)
			continue;
		p += kl;
		while (*p == ' ' || *p == '\t')
			p++;
		uint64_t v;
		if (scan_dec(&p, INT32_MAX, &v) < 0)
			return -EINVAL;
		if (*p != '\n' && *p != 0)
			return -EINVAL;
		*out = (pid_t)v;
		return 0;
	}
	return -EINVAL;
}

int cfs_parse_proc_status(const char *text, pid_t *tgid, pid_t *ppid, gid_t *groups, int max,
			  int *ngroups)
{
	if (!text || !tgid || !ppid || !ngroups || max < 0 || (max > 0 && !groups))
		return -EINVAL;
	*ngroups = 0;
	if (status_pid(text, "Tgid:", tgid) < 0 || status_pid(text, "PPid:", ppid) < 0 ||
	    *tgid <= 0)
		return -EINVAL;
	const char *p = NULL;
	for (const char *q = text; q && *q; q = strchr(q, '\n'), q = q ? q + 1 : NULL)
		if (strncmp(q, "Groups:", 7) == 0) {
			p = q + 7;
			break;
		}
	if (!p)
		return -EINVAL;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || *p == 0)
			break;
		uint64_t v;
		if (scan_dec(&p, UINT32_MAX, &v) < 0)
			return -EINVAL;
		if (*ngroups < max)
			groups[(*ngroups)++] = (gid_t)v;
	}
	return 0;
}

int cfs_proc_status(pid_t tid, pid_t *tgid, pid_t *ppid, gid_t *groups, int max, int *ngroups)
{
	char buf[8192];
	ssize_t n = proc_pid_read(tid, "status", buf, sizeof buf);
	if (n < 0)
		return (int)n;
	return cfs_parse_proc_status(buf, tgid, ppid, groups, max, ngroups);
}

void cfs_lineage_init(struct cfs_lineage *l, const struct cfs_caller *c)
{
	memset(l, 0, sizeof *l);
	l->self.pid = c->tgid > 0 ? c->tgid : c->pid;
	l->self.start = c->start_time;
	l->ppid = c->ppid;
}

void cfs_lineage_walk(struct cfs_lineage *l)
{
	if (l->walked)
		return;
	l->walked = 1;
	l->n = 0;
	for (pid_t p = l->ppid; p > 1 && l->n < CFS_ANCESTORS_MAX;) {
		pid_t pp;
		uint64_t st;
		if (proc_stat(p, &pp, &st) < 0)
			break;
		l->anc[l->n].pid = p;
		l->anc[l->n++].start = st;
		if (pp == p)
			break;
		p = pp;
	}
}

void cfs_lineage_pin(struct cfs_lineage *l)
{
	pid_t tgid, ppid;
	int n;
	if (l->self.start != 0 || cfs_proc_status(l->self.pid, &tgid, &ppid, NULL, 0, &n) < 0)
		return;
	l->self.pid = tgid;
	l->self.start = cfs_proc_start(tgid);
	l->ppid = ppid > 0 ? ppid : 0;
}

static void proc_exe(pid_t pid, char *out, size_t outlen)
{
	static const char deleted[] = " (deleted)";
	const size_t dlen = sizeof deleted - 1;
	char path[64];
	ssize_t n;
	out[0] = 0;
	if (pid <= 0)
		return;
	snprintf(path, sizeof path, "/proc/%ld/exe", (long)pid);
	n = readlink(path, out, outlen);
	if (n <= 0 || (size_t)n >= outlen) {  /* failed, or did not fit: unknown */
		out[0] = 0;
		return;
	}
	out[n] = 0;
	if ((size_t)n > dlen && memcmp(out + n - dlen, deleted, dlen) == 0)
		out[n - dlen] = 0;
	if (out[0] != '/')  /* not a path (e.g. an anonymous mapping name) */
		out[0] = 0;
}

int cfs_caller_ids(const struct cfs_roletab *t, struct cfs_caller *c, uid_t uid, gid_t gid,
		   pid_t pid, const gid_t *groups, int ngroups)
{
	if (!c || ngroups < 0 || (ngroups > 0 && !groups))
		return -EINVAL;
	memset(c, 0, sizeof *c);
	c->uid = uid;
	c->gid = gid;
	c->pid = pid;
	c->tgid = pid;  /* until /proc says otherwise (cfs_caller_set_process) */
	c->groups[c->ngroups++] = gid;
	for (int i = 0; i < ngroups && c->ngroups < CFS_GROUPS_MAX; i++) {
		int dup = 0;
		for (int k = 0; k < c->ngroups && !dup; k++)
			dup = c->groups[k] == groups[i];
		if (!dup)
			c->groups[c->ngroups++] = groups[i];
	}
	snprintf(c->user, sizeof c->user, "#%u", (unsigned)uid);
	cfs_caller_set_roles(t, c);   /* roles follow from uid and groups alone */
	return 0;
}

int cfs_caller_fill(const struct cfs_roletab *t, struct cfs_ccache *cc, struct cfs_caller *c,
		    uid_t uid, gid_t gid, pid_t pid, pid_t tgid, pid_t ppid, const gid_t *groups,
		    int ngroups)
{
	int rc = cfs_caller_ids(t, c, uid, gid, pid, groups, ngroups);
	if (rc < 0)
		return rc;
	cfs_ccache_user(cc, uid, c->user, sizeof c->user);
	proc_exe(pid, c->exe, sizeof c->exe);   /* never cached: execve changes it */
	if (tgid > 0) {
		c->tgid = tgid;
		c->ppid = ppid > 0 ? ppid : 0;
		c->start_time = cfs_ccache_start(cc, tgid);
	} else {
		c->start_time = cfs_proc_start(pid);
	}
	return 0;
}
