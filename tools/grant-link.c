/* grant-link.c — coach-grant's expiring links: link (issue one, its
 * link_issue row committed with it), the LINKS section of list, revoking
 * L7, and finding the mount. A token is printed once and never stored
 * (only its keyed hash); a link is refused at issue when its class would
 * cut it. Root only, with the store's key; it must never print a key. */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <sodium.h>

#include "coachfs/links.h"
#include "coachfs/util.h"
#include "grant.h"


struct link_list {
	int active_only;
	int64_t now;
	int n;
};

static int link_row(const struct cfs_link *r, void *arg)
{
	struct link_list *ll = arg;
	char why[300], s[32], e[32], who[300];
	int live = cfs_link_check(r, r->uid < 0 ? 0 : r->uid, ll->now, why, sizeof why) == 0 &&
		   r->row_state == CFS_ROW_OK;
	if (ll->active_only && !live)
		return 0;
	if (ll->n++ == 0)
		printf("\nLINKS\n%-6s %-10s %-30s %-9s %-19s %-8s %s\n", "ID", "FOR", "PATH", "USES LEFT",
		       "EXPIRES", "STATE", "BY");
	cfs_fmt_local(r->end, e, sizeof e);
	(void)s;
	cfs_term_buf(r->user[0] ? r->user : "(bearer)", who, sizeof who);
	const char *state = r->row_state != CFS_ROW_OK ? cfs_row_state_name(r->row_state)
			  : r->revoked_at ? "revoked" : ll->now >= r->end ? "expired"
			  : r->used >= r->uses ? "used" : ll->now < r->start ? "pending"
			  : r->approved_at ? "approved" : "active";
	char path[300], by[300];
	cfs_term_buf(r->path, path, sizeof path);
	cfs_term_buf(r->issued_by, by, sizeof by);
	printf("L%-5lld %-10s %-30s %-9u %-19s %-8s %s\n", (long long)r->id, who, path,
	       r->uses - r->used, e, state, by);
	return 0;
}

/* Links follow the grants table in `list`; a policy.db without links is fine. */
void print_links(const struct cfs_config *cfg, const struct cfs_keys *keys, int active_only,
			int64_t now)
{
	struct cfs_links *l;
	struct cfs_err err = { "" };
	struct link_list ll = { active_only, now, 0 };
	if (open_links(cfg, keys, &l, &err) < 0) {
		fprintf(stderr, "coach-grant: links: %s\n", err.msg);
		return;
	}
	if (cfs_links_list(l, link_row, &ll, &err) < 0)
		fprintf(stderr, "coach-grant: links: %s\n", err.msg);
	cfs_links_close(l);
}

/* The mount to go through: --mount, else the one the daemon recorded in
 * policy.db. */
int mount_dir(const struct cfs_config *cfg, const char *mnt, char *buf, size_t cap)
{
	struct cfs_grants *g = NULL;
	struct cfs_err err = { "" };
	if (mnt) {
		if (strlen(mnt) >= cap || !cfs_printable(mnt))
			return cfs_say(EXIT_USAGE, "--mount: too long or not printable");
		cfs_strlcpy(buf, mnt, cap);
		return 0;
	}
	if (!cfg)
		return cfs_say(EXIT_FAIL, "no mount known: give --mount DIR");
	if (cfs_grants_open(cfg->policy_db, 0, &g, &err) < 0 ||
	    cfs_grants_meta_get(g, "mountpoint", buf, cap, &err) < 0 || !buf[0]) {
		cfs_grants_close(g);
		return cfs_say(EXIT_FAIL, "no mount recorded in %s (mount coachfs first, or give --mount DIR)",
			   cfg->policy_db);
	}
	cfs_grants_close(g);
	return 0;
}

/* The effective class, max_opens and (for messages) name of PATH, asked of
 * the running mount: the daemon resolves inheritance and the file's own
 * attributes, which only it can read. */
static int link_limits(const struct cfs_config *cfg, const char *mnt, const char *path,
		       const struct cfs_class **cls, uint64_t *max_opens)
{
	char full[8400], val[256];
	snprintf(full, sizeof full, "%s%s", mnt, path);
	ssize_t n = getxattr(full, "user.coachfs.class", val, sizeof val - 1);
	if (n < 0)
		return cfs_say(EXIT_FAIL, "cannot learn the class of %s through the mount (%s): %s", path,
			   mnt, strerror(errno));
	val[n] = 0;
	*cls = NULL;
	for (int i = 0; i < cfg->nclasses; i++)
		if (strcmp(cfg->classes[i].name, val) == 0)
			*cls = &cfg->classes[i];
	if (!*cls)
		return cfs_say(EXIT_FAIL, "%s: the mount reports class '%.80s', which %s does not define",
			   path, val, cfg->file);
	*max_opens = 0;
	n = getxattr(full, "user.coachfs.max_opens", val, sizeof val - 1);
	if (n >= 0) {
		val[n] = 0;
		if (cfs_parse_uint(val, UINT32_MAX, max_opens) < 0)
			return cfs_say(EXIT_FAIL, "%s: the mount reports max_opens '%.80s'", path, val);
	} else if (errno != ENODATA) {
		return cfs_say(EXIT_FAIL, "cannot learn max_opens of %s through the mount: %s", path,
			   strerror(errno));
	}
	return 0;
}

struct link_audit {
	struct cfs_audit *a;
	const struct cfs_who *adm;
	const char *ttl_s, *user;
	int failed;
};

/* Inside the link's write transaction: its link_issue row, so no link is
 * ever usable without it. */
static int link_audit_hook(const struct cfs_link *rec, void *arg, struct cfs_err *err)
{
	struct link_audit *la = arg;
	char why[700];
	struct cfs_event ev;
	snprintf(why, sizeof why, "link L%lld to %.300s for %s, ttl %s, %u use%s", (long long)rec->id,
		 rec->path, la->user ? la->user : "any holder (bearer)", la->ttl_s, rec->uses,
		 rec->uses == 1 ? "" : "s");
	event_base(&ev, la->adm, CFS_ACT_LINK_ISSUE);
	ev.path = rec->path;
	ev.result = "allow";
	ev.reason = why;
	int rc = cfs_audit_append(la->a, &ev, err);
	if (rc < 0)
		la->failed = 1;
	return rc;
}

struct link_args {
	const char *ttl_s, *user, *mnt, *path;
	uint64_t uses;
	int64_t ttl, uid;
};

static int link_options(int argc, char **argv, const char **cfile, struct link_args *a)
{
	const char *uses = NULL;
	const struct grant_opt opts[] = {
		{ "ttl", &a->ttl_s, NULL }, { "uses", &uses, NULL }, { "user", &a->user, NULL },
		{ "mount", &a->mnt, NULL }, { NULL, NULL, NULL } };
	int rc = grant_getopt(argc, argv, "link", opts, 0, cfile);
	if (rc != 0)
		return rc;
	if (uses && (cfs_parse_uint(uses, 1000000, &a->uses) < 0 || a->uses == 0))
		return cfs_say(EXIT_USAGE, "--uses: '%.80s' is not a number from 1 to 1000000", uses);
	if (argc - optind != 1 || !a->ttl_s)
		return cfs_say(EXIT_USAGE, "usage: coach-grant link PATH --ttl DURATION [--uses N] [--user U] "
			   "[--mount DIR]");
	a->path = argv[optind];
	return 0;
}

static int link_values(struct link_args *a)
{
	int rc;
	if (cfs_path_valid(a->path) < 0)
		return cfs_say(EXIT_USAGE, "'%.200s' is not a mount-relative path (it must start with /)", a->path);
	if (cfs_parse_duration(a->ttl_s, &a->ttl) < 0)
		return cfs_say(EXIT_USAGE, "--ttl: '%.80s' is not a duration (like 90s, 15m, 4h, 2d)", a->ttl_s);
	a->uid = -1;
	if (a->user) {
		if ((rc = text_arg("--user", a->user)) != 0)
			return rc;
		struct passwd *pw = getpwnam(a->user);
		if (!pw)
			return cfs_say(EXIT_USAGE, "unknown user '%.80s'", a->user);
		a->uid = pw->pw_uid;
	}
	return 0;
}

/* A link obeys its class like a grant: refuse what the daemon would cut. */
static int link_fits(const struct link_args *a, const struct cfs_class *cls, uint64_t max_opens)
{
	if (cls->max_ttl > 0 && a->ttl > cls->max_ttl) {
		char x[32], y[32];
		fmt_duration(a->ttl, x, sizeof x);
		fmt_duration(cls->max_ttl, y, sizeof y);
		return cfs_say(EXIT_USAGE, "--ttl %s is longer than max_ttl %s of class %s (%s)", x, y,
			       cls->name, a->path);
	}
	if (max_opens > 0 && a->uses > max_opens)
		return cfs_say(EXIT_USAGE, "--uses %llu is more than max_opens %llu of %s (class %s)",
			       (unsigned long long)a->uses, (unsigned long long)max_opens, a->path, cls->name);
	return 0;
}

/* Store the link with its link_issue row; the token is printed, never kept. */
static int link_issue(const struct cfs_config *cfg, const struct link_args *a, const struct cfs_who *adm,
		      const char *mbuf, struct cfs_link *rec, int *issued)
{
	struct cfs_links *l = NULL;
	struct cfs_keys *keys = NULL;
	struct link_audit la = { NULL, adm, a->ttl_s, a->user, 0 };
	struct cfs_err err = { "" };
	char token[CFS_TOKEN_CHARS + 1] = "";
	int rc = unlock_keys(cfg, &keys);
	if (rc != 0)
		return rc;
	cfs_link_token_new(token);
	cfs_link_token_hash(keys->link, token, rec->hash);
	cfs_strlcpy(rec->path, a->path, sizeof rec->path);
	cfs_strlcpy(rec->user, a->user ? a->user : "", sizeof rec->user);
	rec->uid = a->uid;
	rec->created = rec->start = cfs_now_s();
	rec->end = rec->start + a->ttl;
	rec->uses = (uint32_t)a->uses;
	cfs_strlcpy(rec->issued_by, adm->name, sizeof rec->issued_by);
	if (open_audit(cfg->audit_db, &la.a, &err) < 0)
		rc = cfs_say(EXIT_FAIL, "audit: %s", err.msg);
	else if (open_links(cfg, keys, &l, &err) < 0 || cfs_links_add(l, rec, link_audit_hook, &la, &err) < 0)
		rc = la.failed ? cfs_say(EXIT_FAIL, "the link was not issued: its audit row could not be written: %s",
					 err.msg) : cfs_say(EXIT_FAIL, "%s", err.msg);
	else
		printf("%s/.links/%s\n", mbuf, token);
	*issued = rc == 0;
	sodium_memzero(token, sizeof token);
	cfs_keys_free(keys);
	cfs_links_close(l);
	close_audit(la.a);
	return rc;
}

int cmd_link(int argc, char **argv, const char **cfile)
{
	struct link_args a = { .uses = 1 };
	struct cfs_who adm;
	uint64_t max_opens = 0;
	int issued = 0;
	int rc = link_options(argc, argv, cfile, &a);
	if (rc != 0 || (rc = link_values(&a)) != 0 || (rc = need_root()) != 0)
		return rc;
	cfs_who_am_i(&adm);
	struct cfs_config *cfg = NULL;
	struct cfs_link *rec = calloc(1, sizeof *rec);
	const struct cfs_class *cls = NULL;
	char mbuf[4096];
	if (!rec)
		return cfs_say(EXIT_FAIL, "out of memory");
	if ((rc = load_config(*cfile, &cfg)) == 0 && (rc = mount_dir(cfg, a.mnt, mbuf, sizeof mbuf)) == 0 &&
	    (rc = link_limits(cfg, mbuf, a.path, &cls, &max_opens)) == 0 && (rc = link_fits(&a, cls, max_opens)) == 0)
		rc = link_issue(cfg, &a, &adm, mbuf, rec, &issued);
	if (issued && cls->approval == CFS_APPROVAL_TWO_PERSON)
		fprintf(stderr, "coach-grant: link L%lld (class %s) opens nothing until a second admin runs: "
			"coach-grant approve L%lld\n", (long long)rec->id, cls->name, (long long)rec->id);
	if (rc == 0)
		rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
	cfs_config_free(cfg);
	free(rec);
	return rc;
}

int revoke_link(const char *ids, const char *reason, const char **cfile)
{
	uint64_t v;
	int rc;
	if (cfs_parse_uint(ids + 1, (uint64_t)INT64_MAX, &v) < 0 || v == 0)
		return cfs_say(EXIT_USAGE, "'%s' is not a link id (like L7)", ids);
	struct admin_run r;
	struct cfs_links *l = NULL;
	struct cfs_err err = { "" };
	struct cfs_link *rec = calloc(1, sizeof *rec);
	if (!rec)
		return cfs_say(EXIT_FAIL, "out of memory");
	if ((rc = admin_begin(*cfile, &r)) != 0)
		goto out;
	if (open_links(r.cfg, r.keys, &l, &err) < 0 || cfs_links_get(l, (int64_t)v, rec, &err) < 0 ||
	    cfs_links_revoke(l, (int64_t)v, r.adm.name, reason, cfs_now_s(), &err) < 0) {
		rc = cfs_say(EXIT_FAIL, "%s", err.msg);
		goto out;
	}
	char why[600];
	snprintf(why, sizeof why, "revoked link L%llu to %.300s%s%.200s", (unsigned long long)v, rec->path,
		 reason ? "; reason: " : "", reason ? reason : "");
	char what[40];
	snprintf(what, sizeof what, "link L%llu", (unsigned long long)v);
	rc = revoked_row(r.a, &r.adm, rec->path, why, 0, what);
out:
	cfs_links_close(l);
	admin_end(&r);
	free(rec);
	return rc;
}
