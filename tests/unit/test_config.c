/* test_config.c — config.c: the example file parses to the expected values,
 * valid variants parse, and a table of malformed configs is refused with the
 * exact message and return code; plus file errors and the lookup helpers. */
#include "coachfs/config.h"
/* t.h cuts failure messages to 512 bytes on purpose; long compared strings
 * would make GCC warn (an error here) about that truncation. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* A minimal valid config, in pieces, with their line numbers. */
#define STORE  "[store]\npath = /srv/c\n"                                  /* 1-2 */
#define POLICY "[policy]\ndb = /var/p.db\ndefault_class = internal\n"      /* 3-5 */
#define AUDIT  "[audit]\ndb = /var/a.db\n"                                 /* 6-7 */
#define ROLES  "[roles]\nstaff = alice, @soc\n"                            /* 8-9 */
#define CLASS  "[class.internal]\nroles = staff\n"                         /* 10-11 */
#define VALID  STORE POLICY AUDIT ROLES CLASS                              /* next: 12 */

static const char *example_path(void)
{
	static char buf[4096];
	const char *f = __FILE__; /* .../tests/unit/test_config.c */
	const char *s = strstr(f, "tests/unit/test_config.c");
	snprintf(buf, sizeof buf, "%.*setc/coachfs.ini", s ? (int)(s - f) : 0, f);
	return buf;
}

static void test_example_file(void)
{
	struct cfs_config *c = NULL;
	struct cfs_err err = { "" };
	const char *path = example_path();
	int rc = cfs_config_load(path, &c, &err);
	T_EQ_INT(rc, 0);
	T_EQ_STR(err.msg, "");
	if (!c)
		return;
	T_EQ_STR(c->file, path);
	T_EQ_STR(c->store_path, "/srv/coachfs");
	T_EQ_STR(c->passphrase_file, "/etc/coachfs/passphrase");
	T_EQ_INT(c->cipher, CFS_CIPHER_AUTO);
	T_EQ_STR(c->state_db, "/var/lib/coachfs/state.db"); /* beside [policy] db */
	T_EQ_INT(c->hide_denied, 1);
	T_EQ_STR(c->policy_db, "/var/lib/coachfs/policy.db");
	T_EQ_STR(c->default_class, "internal");
	T_EQ_STR(c->audit_db, "/var/lib/coachfs/audit.db");
	T_EQ_INT(c->reads, CFS_READS_EVERY);
	T_EQ_INT(c->flush_ms, 50);

	T_EQ_INT(c->nroles, 2);
	T_EQ_STR(c->roles[0].name, "responder");
	T_EQ_INT(c->roles[0].line, 27);
	T_EQ_INT(c->roles[0].members.n, 2);
	T_EQ_STR(c->roles[0].members.v[0], "alice");
	T_EQ_STR(c->roles[0].members.v[1], "@soc");
	T_EQ_STR(c->roles[1].name, "admin");
	T_EQ_INT(c->roles[1].line, 28);
	T_EQ_INT(c->roles[1].members.n, 2);
	T_EQ_STR(c->roles[1].members.v[0], "root");
	T_EQ_STR(c->roles[1].members.v[1], "@coach-admins");

	T_EQ_INT(c->nclasses, 4);
	const struct cfs_class *k = &c->classes[0];
	T_EQ_STR(k->name, "public");
	T_EQ_INT(k->line, 30);
	T_EQ_INT(k->grant, 0);
	T_EQ_INT(k->roles.n, 1);
	T_EQ_STR(k->roles.v[0], "*");
	T_EQ_INT(k->writers.n, 1);
	T_EQ_STR(k->writers.v[0], "admin");
	T_EQ_INT(k->export, CFS_EXPORT_ALLOW);
	T_EQ_INT(k->max_ttl, 0);
	T_EQ_INT(k->readers.n, 0);
	T_EQ_INT(k->max_opens, 0);

	k = &c->classes[1];
	T_EQ_STR(k->name, "internal");
	T_EQ_INT(k->line, 36);
	T_EQ_INT(k->grant, 0);
	T_EQ_INT(k->roles.n, 2);
	T_EQ_STR(k->roles.v[0], "responder");
	T_EQ_STR(k->roles.v[1], "admin");
	T_EQ_INT(k->writers.n, 2);
	T_EQ_STR(k->writers.v[0], "responder");
	T_EQ_STR(k->writers.v[1], "admin");
	T_EQ_INT(k->max_ttl, 0);
	T_EQ_INT(k->export, CFS_EXPORT_LOG);
	T_EQ_INT(k->approval, CFS_APPROVAL_NONE);
	T_EQ_INT(k->readers.n, 0);
	T_EQ_INT(k->max_opens, 0);

	k = &c->classes[2];
	T_EQ_STR(k->name, "sensitive");
	T_EQ_INT(k->line, 42);
	T_EQ_INT(k->grant, 1);
	T_EQ_INT(k->roles.n, 0);
	T_EQ_INT(k->writers.n, 0);
	T_EQ_INT(k->max_ttl, 8 * 3600);
	T_EQ_INT(k->export, CFS_EXPORT_DENY);
	T_EQ_INT(k->approval, CFS_APPROVAL_NONE);
	T_EQ_INT(k->readers.n, 0);
	T_EQ_INT(k->max_opens, 0);

	k = &c->classes[3];
	T_EQ_STR(k->name, "secret");
	T_EQ_INT(k->line, 47);
	T_EQ_INT(k->grant, 1);
	T_EQ_INT(k->max_ttl, 3600);
	T_EQ_INT(k->approval, CFS_APPROVAL_TWO_PERSON);
	T_EQ_INT(k->export, CFS_EXPORT_DENY);
	T_EQ_INT(k->readers.n, 2);
	T_EQ_STR(k->readers.v[0], "/usr/bin/less");
	T_EQ_STR(k->readers.v[1], "/usr/bin/mpv");
	T_EQ_INT(k->max_opens, 3);
	T_EQ_INT(k->breakglass.n, 1);
	T_EQ_STR(k->breakglass.v[0], "responder");
	T_EQ_INT(k->breakglass_ttl, 3600);
	T_EQ_INT(c->request_ttl, 24 * 3600);

	T_EQ_INT(c->export_tools.n, 6);
	T_EQ_STR(c->export_tools.v[0], "/usr/bin/cp");
	T_EQ_STR(c->export_tools.v[1], "/usr/bin/rsync");
	T_EQ_STR(c->export_tools.v[2], "/usr/bin/scp");
	T_EQ_STR(c->export_tools.v[3], "/usr/bin/tar");
	T_EQ_STR(c->export_tools.v[4], "/usr/bin/dd");
	T_EQ_STR(c->export_tools.v[5], "/usr/bin/curl");

	/* helpers over the same config */
	T_CHECK(cfs_config_class(c, "secret") == &c->classes[3]);
	T_CHECK(cfs_config_class(c, "internal") == &c->classes[1]);
	T_CHECK(cfs_config_class(c, "Secret") == NULL);
	T_CHECK(cfs_config_class(c, "") == NULL);
	T_CHECK(cfs_config_class(c, NULL) == NULL);
	T_CHECK(cfs_config_class(NULL, "secret") == NULL);
	T_CHECK(cfs_config_role(c, "admin") == &c->roles[1]);
	T_CHECK(cfs_config_role(c, "responder") == &c->roles[0]);
	T_CHECK(cfs_config_role(c, "ghost") == NULL);
	T_CHECK(cfs_config_role(NULL, "admin") == NULL);
	T_EQ_INT(cfs_config_is_export_tool(c, "/usr/bin/rsync"), 1);
	T_EQ_INT(cfs_config_is_export_tool(c, "/usr/bin/curl"), 1);
	T_EQ_INT(cfs_config_is_export_tool(c, "/usr/bin/less"), 0);
	T_EQ_INT(cfs_config_is_export_tool(c, "/usr/bin/cp2"), 0);
	T_EQ_INT(cfs_config_is_export_tool(c, "/usr/bin/c"), 0);
	T_EQ_INT(cfs_config_is_export_tool(c, NULL), 0);
	T_EQ_INT(cfs_config_is_export_tool(NULL, "/usr/bin/cp"), 0);
	cfs_config_free(c);
}

static struct cfs_config *parse_ok(const char *text, struct cfs_err *err)
{
	struct cfs_config *c = NULL;
	int rc = cfs_config_parse(text, "t.ini", &c, err);
	if (rc != 0)
		T_FAILF("parse failed %d: %s", rc, err->msg);
	return c;
}

static void test_defaults(void)
{
	struct cfs_err err = { "" };
	struct cfs_config *c = parse_ok(VALID, &err);
	if (!c)
		return;
	T_EQ_STR(c->file, "t.ini");
	T_EQ_STR(c->store_path, "/srv/c");
	T_CHECK(c->passphrase_file == NULL);
	T_EQ_INT(c->cipher, CFS_CIPHER_AUTO);
	T_EQ_STR(c->state_db, "/var/state.db"); /* beside [policy] db */
	T_EQ_INT(c->hide_denied, 1);
	T_EQ_INT(c->reads, CFS_READS_EVERY);
	T_EQ_INT(c->flush_ms, 50);
	T_EQ_INT(c->request_ttl, 24 * 3600);
	T_EQ_INT(c->export_tools.n, 0);
	T_EQ_INT(c->nroles, 1);
	T_EQ_INT(c->roles[0].line, 9);
	T_EQ_INT(c->nclasses, 1);
	const struct cfs_class *k = cfs_config_class(c, "internal");
	T_CHECK(k != NULL);
	if (k) {
		T_EQ_INT(k->line, 10);
		T_EQ_INT(k->grant, 0);
		T_EQ_INT(k->roles.n, 1);
		T_EQ_INT(k->writers.n, 0);
		T_EQ_INT(k->max_ttl, 0);
		T_EQ_INT(k->export, CFS_EXPORT_ALLOW);
		T_EQ_INT(k->approval, CFS_APPROVAL_NONE);
		T_EQ_INT(k->readers.n, 0);
		T_EQ_INT(k->max_opens, 0);
		T_EQ_INT(k->breakglass.n, 0);
		T_EQ_INT(k->breakglass_ttl, 3600);
	}
	cfs_config_free(c);
}

/* [grants] request_ttl and a class's breakglass, breakglass_ttl. */
static void test_access_workflow_keys(void)
{
	struct cfs_err err = { "" };
	struct cfs_config *c = parse_ok(VALID "breakglass = staff\nbreakglass_ttl = 15m\n"
					"[grants]\nrequest_ttl = 2d\n", &err);
	if (!c)
		return;
	T_EQ_INT(c->request_ttl, 2 * 86400);
	T_EQ_INT(c->classes[0].breakglass.n, 1);
	T_EQ_STR(c->classes[0].breakglass.v[0], "staff");
	T_EQ_INT(c->classes[0].breakglass_ttl, 900);
	cfs_config_free(c);
}

/* [store] state_db: as given, absolute only. */
static void test_state_db(void)
{
	struct cfs_err err = { "" };
	struct cfs_config *c = parse_ok("[store]\npath = /srv/c\nstate_db = /l/s.db\n" POLICY AUDIT ROLES CLASS, &err);
	if (c)
		T_EQ_STR(c->state_db, "/l/s.db");
	cfs_config_free(c);
	FILE *f = fopen("/tmp/cfs-test-config-state.ini", "w");
	if (!f) {
		T_FAILF("cannot write a config");
		return;
	}
	fputs("[store]\npath = /srv/c\nstate_db = rel.db\n" POLICY AUDIT ROLES CLASS, f);
	fclose(f);
	c = NULL;
	T_CHECK(cfs_config_load("/tmp/cfs-test-config-state.ini", &c, &err) < 0);
	T_CONTAINS(err.msg, "cfs-test-config-state.ini:3:");
	T_CONTAINS(err.msg, "state_db");
	cfs_config_free(c);
	unlink("/tmp/cfs-test-config-state.ini");
}

/* Syntax variants that must be accepted, and the values they give. */
static void test_variants(void)
{
	struct cfs_err err = { "" };
	struct cfs_config *c = parse_ok(
		"\xEF\xBB\xBF# a hash comment, then a BOM-led first line\r\n"
		"[store] ; comment after a header\r\n"
		"  path = /srv/c\r\n"                    /* indented first key: not a continuation */
		"cipher = aes256gcm\r\n"
		"passphrase_file=/etc/p\r\n"
		"\r\n"
		"[mount]\n"
		"hide_denied = false\n"
		"[policy]\n"
		"db = /var/p.db\n"
		"default_class = late\n"                 /* class defined further down */
		"[audit]\n"
		"db = /var/a.db\n"
		"reads = open\n"
		"flush_ms = 10000\n"
		"[class.late]\n"
		"grant = true\n"
		"roles = staff\n"                        /* role defined further down */
		"writers = *\n"
		"readers =\n"                            /* empty: any program */
		"max_opens = 1000000\n"
		"max_ttl = 2d\n"
		"approval = none\n"
		"export = log ; inline comment\n"
		"[class.empty]\n"                        /* empty class: grant no, nobody */
		"[class.A-Z_09]\n"
		"    ; indented comment after a header\n"
		"roles =\n"
		"   ; indented comment after a key is not a continuation\n"
		"[roles]\n"
		"staff = _svc.x-1, @g\n"
		"nobody =\n"
		"[export]\n"
		"tools = /usr/bin/cp;x , /usr/bin/tar\n", /* ';' without a blank before: data */
		&err);
	if (!c)
		return;
	T_EQ_STR(c->store_path, "/srv/c");
	T_EQ_INT(c->cipher, CFS_CIPHER_AESGCM);
	T_EQ_STR(c->passphrase_file, "/etc/p");
	T_EQ_INT(c->hide_denied, 0);
	T_EQ_STR(c->default_class, "late");
	T_EQ_INT(c->reads, CFS_READS_OPEN);
	T_EQ_INT(c->flush_ms, 10000);
	T_EQ_INT(c->nclasses, 3);
	const struct cfs_class *k = cfs_config_class(c, "late");
	T_CHECK(k != NULL);
	if (k) {
		T_EQ_INT(k->line, 16);
		T_EQ_INT(k->grant, 1);
		T_EQ_INT(k->roles.n, 1);
		T_EQ_STR(k->roles.v[0], "staff");
		T_EQ_INT(k->writers.n, 1);
		T_EQ_STR(k->writers.v[0], "*");
		T_EQ_INT(k->readers.n, 0);
		T_EQ_INT(k->max_opens, 1000000);
		T_EQ_INT(k->max_ttl, 2 * 86400);
		T_EQ_INT(k->approval, CFS_APPROVAL_NONE);
		T_EQ_INT(k->export, CFS_EXPORT_LOG);
	}
	k = cfs_config_class(c, "empty");
	T_CHECK(k != NULL);
	if (k) {
		T_EQ_INT(k->line, 25);
		T_EQ_INT(k->grant, 0);
		T_EQ_INT(k->roles.n, 0);
		T_EQ_INT(k->export, CFS_EXPORT_ALLOW);
	}
	T_CHECK(cfs_config_class(c, "A-Z_09") != NULL);
	T_EQ_INT(c->nroles, 2);
	T_EQ_STR(c->roles[0].members.v[0], "_svc.x-1");
	T_EQ_STR(c->roles[0].members.v[1], "@g");
	T_EQ_INT(c->roles[0].line, 31);
	T_EQ_INT(c->roles[1].members.n, 0);
	T_EQ_INT(c->export_tools.n, 2);
	T_EQ_STR(c->export_tools.v[0], "/usr/bin/cp;x");
	T_EQ_STR(c->export_tools.v[1], "/usr/bin/tar");
	cfs_config_free(c);

	/* bounds that are just inside */
	c = parse_ok(STORE POLICY AUDIT "flush_ms = 1\n" ROLES CLASS "[class.x]\nmax_opens = 1\nmax_ttl = 1s\n", &err);
	if (c) {
		T_EQ_INT(c->flush_ms, 1);
		T_EQ_INT(cfs_config_class(c, "x")->max_opens, 1);
		T_EQ_INT(cfs_config_class(c, "x")->max_ttl, 1);
		cfs_config_free(c);
	}
	/* audit_reads: a class's own level, else [audit] reads, wherever that comes */
	c = parse_ok(STORE POLICY ROLES CLASS "[class.brief]\naudit_reads = every\n"
		     "[class.aware]\naudit_reads = open\n" AUDIT "reads = open\n", &err);
	if (c) {
		T_EQ_INT(c->reads, CFS_READS_OPEN);
		T_EQ_INT(cfs_config_class(c, "internal")->reads, CFS_READS_OPEN);
		T_EQ_INT(cfs_config_class(c, "brief")->reads, CFS_READS_EVERY);
		T_EQ_INT(cfs_config_class(c, "aware")->reads, CFS_READS_OPEN);
		cfs_config_free(c);
	}
	c = parse_ok(VALID "[class.aware]\naudit_reads = open\n", &err);
	if (c) {
		T_EQ_INT(cfs_config_class(c, "internal")->reads, CFS_READS_EVERY);
		T_EQ_INT(cfs_config_class(c, "aware")->reads, CFS_READS_OPEN);
		cfs_config_free(c);
	}
	c = parse_ok(STORE "cipher = xchacha20poly1305\n" POLICY AUDIT ROLES CLASS
		     "[mount]\nhide_denied = yes\n", &err);
	if (c) {
		T_EQ_INT(c->cipher, CFS_CIPHER_XCHACHA);
		T_EQ_INT(c->hide_denied, 1);
		cfs_config_free(c);
	}
	/* a role name and a class name of 63 characters, a login of 31 */
	c = parse_ok(STORE "[policy]\ndb = /var/p.db\ndefault_class = "
		     "C12345678901234567890123456789012345678901234567890123456789012\n"
		     AUDIT "[roles]\n"
		     "R12345678901234567890123456789012345678901234567890123456789012 = "
		     "u123456789012345678901234567890\n"
		     "[class.C12345678901234567890123456789012345678901234567890123456789012]\n"
		     "roles = R12345678901234567890123456789012345678901234567890123456789012\n",
		     &err);
	if (c) {
		T_EQ_INT(c->nclasses, 1);
		T_EQ_INT((int)strlen(c->classes[0].name), 63);
		T_EQ_INT((int)strlen(c->roles[0].name), 63);
		T_EQ_STR(c->roles[0].members.v[0], "u123456789012345678901234567890");
		cfs_config_free(c);
	}
}

struct bad {
	const char *what;
	const char *text;
	int rc;
	const char *msg;
};

#define NOTBOOL "is not yes, no, true or false"
#define NOTCLEAN "is not a clean absolute path (no '//', '.', '..' or trailing '/')"
#define NOTOPENS "is not a number from 1 to 1000000"
#define NOTFLUSH "is not a number from 1 to 10000"
#define NOTDUR "is not a duration (like 90s, 15m, 4h, 2d)"
#define BADNAME "(1 to 63 of A-Z a-z 0-9 _ -)"

static const struct bad bad_rows[] = {
	/* sections */
	{ "unknown section", VALID "[colour]\n", -EINVAL, "t.ini:12: unknown section [colour]" },
	{ "unknown empty section at end", VALID "[Store]", -EINVAL, "t.ini:12: unknown section [Store]" },
	{ "section name with blanks", VALID "[ mount ]\n", -EINVAL, "t.ini:12: unknown section [ mount ]" },
	{ "bare class section", VALID "[class]\n", -EINVAL, "t.ini:12: unknown section [class]" },
	{ "duplicate section", VALID "[store]\n", -EINVAL,
	  "t.ini:12: duplicate section [store] (first at line 1)" },
	{ "duplicate empty section", "[mount]\n" VALID "[mount]\n", -EINVAL,
	  "t.ini:13: duplicate section [mount] (first at line 1)" },
	{ "duplicate class section", VALID "[class.internal]\n", -EINVAL,
	  "t.ini:12: duplicate section [class.internal] (first at line 10)" },
	{ "bad class name", VALID "[class.a b]\n", -EINVAL,
	  "t.ini:12: bad class name 'a b' in section header " BADNAME },
	{ "empty class name", VALID "[class.]\n", -EINVAL,
	  "t.ini:12: bad class name '' in section header " BADNAME },
	{ "class name of 64", VALID "[class.C123456789012345678901234567890123456789012345678901234567890123]\n",
	  -EINVAL, "t.ini:12: bad class name 'C123456789012345678901234567890123456789012345678901234567890123' "
	  "in section header " BADNAME },
	{ "header without ]", VALID "[mount\n", -EINVAL, "t.ini:12: section header without ']'" },
	{ "header ] after comment", VALID "[mount ;]\n", -EINVAL, "t.ini:12: section header without ']'" },
	{ "text after header", VALID "[mount] x\n", -EINVAL, "t.ini:12: unexpected text after section header" },
	/* line syntax */
	{ "key outside any section", "path = /srv/c\n" VALID, -EINVAL, "t.ini:1: key 'path' outside any section" },
	{ "no equals", VALID "[mount]\nhide_denied\n", -EINVAL, "t.ini:13: expected 'key = value' or '[section]'" },
	{ "colon form", VALID "[mount]\nhide_denied: yes\n", -EINVAL, "t.ini:13: expected 'key = value' or '[section]'" },
	{ "equals inside comment", VALID "[mount]\nhide_denied ; = yes\n", -EINVAL,
	  "t.ini:13: expected 'key = value' or '[section]'" },
	{ "missing key name", VALID "[mount]\n = yes\n", -EINVAL, "t.ini:13: missing key name before '='" },
	{ "continuation line", VALID "[export]\ntools = /usr/bin/cp\n    /usr/bin/rsync\n", -EINVAL,
	  "t.ini:14: indented line: continuation lines are not supported, put the value on one line" },
	{ "tab continuation", VALID "[mount]\nhide_denied = yes\n\tno\n", -EINVAL,
	  "t.ini:14: indented line: continuation lines are not supported, put the value on one line" },
	{ "indented header after key", VALID "  [mount]\n", -EINVAL,
	  "t.ini:12: indented line: continuation lines are not supported, put the value on one line" },
	/* [store] */
	{ "unknown key", "[store]\npath = /srv/c\ncolour = red\n" POLICY AUDIT ROLES CLASS, -EINVAL,
	  "t.ini:3: unknown key 'colour' in [store]" },
	{ "key case matters", "[store]\nPath = /srv/c\n" POLICY AUDIT ROLES CLASS, -EINVAL,
	  "t.ini:2: unknown key 'Path' in [store]" },
	{ "class key in store", STORE "grant = yes\n" POLICY AUDIT ROLES CLASS, -EINVAL,
	  "t.ini:3: unknown key 'grant' in [store]" },
	{ "duplicate key", "[store]\npath = /srv/c\npath = /srv/d\n" POLICY AUDIT ROLES CLASS, -EINVAL,
	  "t.ini:3: duplicate key 'path' in [store] (first at line 2)" },
	{ "bad cipher", STORE "cipher = rot13\n" POLICY AUDIT ROLES CLASS, -EINVAL,
	  "t.ini:3: [store] cipher: 'rot13' is not auto, xchacha20poly1305 or aes256gcm" },
	{ "empty cipher", STORE "cipher =\n" POLICY AUDIT ROLES CLASS, -EINVAL,
	  "t.ini:3: [store] cipher: '' is not auto, xchacha20poly1305 or aes256gcm" },
	{ "hostile bytes are escaped", STORE "cipher = \x1b[31m'\\\xff\n" POLICY AUDIT ROLES CLASS, -EINVAL,
	  "t.ini:3: [store] cipher: '\\x1b[31m\\'\\\\\\xff' is not auto, xchacha20poly1305 or aes256gcm" },
	{ "relative store path", "[store]\npath = srv/c\n" POLICY AUDIT ROLES CLASS, -EINVAL,
	  "t.ini:2: [store] path: 'srv/c' is not an absolute path" },
	{ "empty store path", "[store]\npath =\n" POLICY AUDIT ROLES CLASS, -EINVAL,
	  "t.ini:2: [store] path: '' is not an absolute path" },
	{ "dotdot store path", "[store]\npath = /srv/../c\n" POLICY AUDIT ROLES CLASS, -EINVAL,
	  "t.ini:2: [store] path: '/srv/../c' " NOTCLEAN },
	{ "trailing slash store path", "[store]\npath = /srv/c/\n" POLICY AUDIT ROLES CLASS, -EINVAL,
	  "t.ini:2: [store] path: '/srv/c/' " NOTCLEAN },
	{ "bad class audit_reads", VALID "[class.x]\naudit_reads = some\n", -EINVAL,
	  "t.ini:13: [class.x] audit_reads: 'some' is not every or open" },
	{ "relative passphrase_file", STORE "passphrase_file = pass\n" POLICY AUDIT ROLES CLASS, -EINVAL,
	  "t.ini:3: [store] passphrase_file: 'pass' is not an absolute path" },
	{ "control char in path", STORE "passphrase_file = /etc/p\x01x\n" POLICY AUDIT ROLES CLASS, -EINVAL,
	  "t.ini:3: [store] passphrase_file: '/etc/p\\x01x' contains a control character" },
	{ "relative passphrase_command", STORE "passphrase_command = pass-helper --id 3\n" POLICY AUDIT ROLES CLASS, -EINVAL,
	  "t.ini:3: [store] passphrase_command: program 'pass-helper' is not an absolute path" },
	{ "blank passphrase_command", STORE "passphrase_command = \n" POLICY AUDIT ROLES CLASS, -EINVAL,
	  "t.ini:3: [store] passphrase_command: program '' is not an absolute path" },
	{ "control char in passphrase_command", STORE "passphrase_command = /bin/x a\x02" "b\n" POLICY AUDIT ROLES CLASS, -EINVAL,
	  "t.ini:3: [store] passphrase_command: contains a control character" },
	{ "passphrase file and command", STORE "passphrase_command = /bin/x\npassphrase_file = /etc/p\n" POLICY AUDIT ROLES CLASS, -EINVAL,
	  "t.ini:4: [store] passphrase_file and passphrase_command exclude each other" },
	/* [mount] */
	{ "bad bool", VALID "[mount]\nhide_denied = maybe\n", -EINVAL,
	  "t.ini:13: [mount] hide_denied: 'maybe' " NOTBOOL },
	{ "bool is lower case", VALID "[mount]\nhide_denied = Yes\n", -EINVAL,
	  "t.ini:13: [mount] hide_denied: 'Yes' " NOTBOOL },
	{ "bool 1", VALID "[mount]\nhide_denied = 1\n", -EINVAL, "t.ini:13: [mount] hide_denied: '1' " NOTBOOL },
	/* [policy] */
	{ "relative policy db", STORE "[policy]\ndb = p.db\ndefault_class = internal\n" AUDIT ROLES CLASS,
	  -EINVAL, "t.ini:4: [policy] db: 'p.db' is not an absolute path" },
	{ "default_class unknown", STORE "[policy]\ndb = /var/p.db\ndefault_class = secret\n" AUDIT ROLES CLASS,
	  -EINVAL, "t.ini:5: [policy] default_class: unknown class 'secret'" },
	{ "default_class not a name", STORE "[policy]\ndb = /var/p.db\ndefault_class = a b\n" AUDIT ROLES CLASS,
	  -EINVAL, "t.ini:5: [policy] default_class: 'a b' is not a class name" },
	{ "default_class empty", STORE "[policy]\ndb = /var/p.db\ndefault_class =\n" AUDIT ROLES CLASS,
	  -EINVAL, "t.ini:5: [policy] default_class: '' is not a class name" },
	/* [audit] */
	{ "flush_ms 0", STORE POLICY AUDIT "flush_ms = 0\n" ROLES CLASS, -EINVAL,
	  "t.ini:8: [audit] flush_ms: '0' " NOTFLUSH },
	{ "flush_ms 10001", STORE POLICY AUDIT "flush_ms = 10001\n" ROLES CLASS, -EINVAL,
	  "t.ini:8: [audit] flush_ms: '10001' " NOTFLUSH },
	{ "flush_ms abc", STORE POLICY AUDIT "flush_ms = abc\n" ROLES CLASS, -EINVAL,
	  "t.ini:8: [audit] flush_ms: 'abc' " NOTFLUSH },
	{ "flush_ms -5", STORE POLICY AUDIT "flush_ms = -5\n" ROLES CLASS, -EINVAL,
	  "t.ini:8: [audit] flush_ms: '-5' " NOTFLUSH },
	{ "flush_ms 50ms", STORE POLICY AUDIT "flush_ms = 50ms\n" ROLES CLASS, -EINVAL,
	  "t.ini:8: [audit] flush_ms: '50ms' " NOTFLUSH },
	{ "flush_ms huge", STORE POLICY AUDIT "flush_ms = 18446744073709551617\n" ROLES CLASS, -EINVAL,
	  "t.ini:8: [audit] flush_ms: '18446744073709551617' " NOTFLUSH },
	{ "bad reads", STORE POLICY AUDIT "reads = sometimes\n" ROLES CLASS, -EINVAL,
	  "t.ini:8: [audit] reads: 'sometimes' is not every or open" },
	/* [grants] and the break-glass keys */
	{ "request_ttl zero", VALID "[grants]\nrequest_ttl = 0s\n", -EINVAL,
	  "t.ini:13: [grants] request_ttl: '0s' is not a duration from 1s to 2592000s (like 15m, 4h)" },
	{ "request_ttl too long", VALID "[grants]\nrequest_ttl = 31d\n", -EINVAL,
	  "t.ini:13: [grants] request_ttl: '31d' is not a duration from 1s to 2592000s (like 15m, 4h)" },
	{ "unknown grants key", VALID "[grants]\nttl = 1h\n", -EINVAL,
	  "t.ini:13: unknown key 'ttl' in [grants]" },
	{ "breakglass_ttl over 4h", VALID "breakglass_ttl = 5h\n", -EINVAL,
	  "t.ini:12: [class.internal] breakglass_ttl: '5h' is not a duration from 60s to 14400s (like 15m, 4h)" },
	{ "breakglass unknown role", VALID "breakglass = ghosts\n", -EINVAL,
	  "t.ini:12: [class.internal] breakglass: unknown role 'ghosts'" },
	/* [roles] */
	{ "member upper case", STORE POLICY AUDIT "[roles]\nstaff = Alice\n" CLASS, -EINVAL,
	  "t.ini:9: [roles] staff: 'Alice' is not a login name or @group" },
	{ "member starts with digit", STORE POLICY AUDIT "[roles]\nstaff = 1abc\n" CLASS, -EINVAL,
	  "t.ini:9: [roles] staff: '1abc' is not a login name or @group" },
	{ "empty group", STORE POLICY AUDIT "[roles]\nstaff = alice, @\n" CLASS, -EINVAL,
	  "t.ini:9: [roles] staff: '@' is not a login name or @group" },
	{ "space inside member", STORE POLICY AUDIT "[roles]\nstaff = @soc team\n" CLASS, -EINVAL,
	  "t.ini:9: [roles] staff: '@soc team' is not a login name or @group" },
	{ "member of 32", STORE POLICY AUDIT "[roles]\nstaff = u1234567890123456789012345678901\n" CLASS,
	  -EINVAL, "t.ini:9: [roles] staff: 'u1234567890123456789012345678901' is not a login name or @group" },
	{ "role: prefix is not a member", STORE POLICY AUDIT "[roles]\nstaff = role:admin\n" CLASS, -EINVAL,
	  "t.ini:9: [roles] staff: 'role:admin' is not a login name or @group" },
	{ "bad role name", STORE POLICY AUDIT "[roles]\nst.aff = alice\n" CLASS, -EINVAL,
	  "t.ini:9: [roles] bad role name 'st.aff' " BADNAME },
	{ "duplicate role", STORE POLICY AUDIT "[roles]\nstaff = alice\nstaff = bob\n" CLASS, -EINVAL,
	  "t.ini:10: duplicate key 'staff' in [roles] (first at line 9)" },
	{ "duplicate member", STORE POLICY AUDIT "[roles]\nstaff = alice, bob, alice\n" CLASS, -EINVAL,
	  "t.ini:9: [roles] staff: duplicate entry 'alice'" },
	{ "empty entry", STORE POLICY AUDIT "[roles]\nstaff = alice,,bob\n" CLASS, -EINVAL,
	  "t.ini:9: [roles] staff: empty entry in list" },
	{ "trailing comma", STORE POLICY AUDIT "[roles]\nstaff = alice,\n" CLASS, -EINVAL,
	  "t.ini:9: [roles] staff: empty entry in list" },
	{ "only a comma", STORE POLICY AUDIT "[roles]\nstaff = ,\n" CLASS, -EINVAL,
	  "t.ini:9: [roles] staff: empty entry in list" },
	/* [class.*] */
	{ "unknown class key", VALID "[class.x]\ncolour = red\n", -EINVAL, "t.ini:13: unknown key 'colour' in [class.x]" },
	{ "duplicate class key", VALID "[class.secret]\ngrant = yes\nmax_ttl = 1h\ngrant = no\n", -EINVAL,
	  "t.ini:15: duplicate key 'grant' in [class.secret] (first at line 13)" },
	{ "bad grant", VALID "[class.x]\ngrant = maybe\n", -EINVAL, "t.ini:13: [class.x] grant: 'maybe' " NOTBOOL },
	{ "bad duration unit", VALID "[class.x]\ngrant = yes\nmax_ttl = 5x\n", -EINVAL,
	  "t.ini:14: [class.x] max_ttl: '5x' " NOTDUR },
	{ "zero duration", VALID "[class.x]\nmax_ttl = 0s\n", -EINVAL, "t.ini:13: [class.x] max_ttl: '0s' " NOTDUR },
	{ "negative duration", VALID "[class.x]\nmax_ttl = -1h\n", -EINVAL, "t.ini:13: [class.x] max_ttl: '-1h' " NOTDUR },
	{ "duration without unit", VALID "[class.x]\nmax_ttl = 3600\n", -EINVAL,
	  "t.ini:13: [class.x] max_ttl: '3600' " NOTDUR },
	{ "duration over 100 years", VALID "[class.x]\nmax_ttl = 36501d\n", -EINVAL,
	  "t.ini:13: [class.x] max_ttl: '36501d' " NOTDUR },
	{ "bad export word", VALID "[class.x]\nexport = block\n", -EINVAL,
	  "t.ini:13: [class.x] export: 'block' is not allow, log or deny" },
	{ "bad approval", VALID "[class.x]\napproval = one-person\n", -EINVAL,
	  "t.ini:13: [class.x] approval: 'one-person' is not none or two-person" },
	{ "reader not absolute", VALID "[class.x]\nreaders = less, /usr/bin/mpv\n", -EINVAL,
	  "t.ini:13: [class.x] readers: 'less' is not an absolute path" },
	{ "reader not clean", VALID "[class.x]\nreaders = /usr/bin/mpv, /usr/./bin/less\n", -EINVAL,
	  "t.ini:13: [class.x] readers: '/usr/./bin/less' " NOTCLEAN },
	{ "duplicate reader", VALID "[class.x]\nreaders = /usr/bin/mpv, /usr/bin/mpv\n", -EINVAL,
	  "t.ini:13: [class.x] readers: duplicate entry '/usr/bin/mpv'" },
	{ "max_opens 0", VALID "[class.x]\nmax_opens = 0\n", -EINVAL, "t.ini:13: [class.x] max_opens: '0' " NOTOPENS },
	{ "max_opens -1", VALID "[class.x]\nmax_opens = -1\n", -EINVAL, "t.ini:13: [class.x] max_opens: '-1' " NOTOPENS },
	{ "max_opens 1000001", VALID "[class.x]\nmax_opens = 1000001\n", -EINVAL,
	  "t.ini:13: [class.x] max_opens: '1000001' " NOTOPENS },
	{ "max_opens +3", VALID "[class.x]\nmax_opens = +3\n", -EINVAL, "t.ini:13: [class.x] max_opens: '+3' " NOTOPENS },
	{ "roles names unknown role", VALID "[class.secret]\ngrant = yes\nroles = staff, ghost\n", -EINVAL,
	  "t.ini:14: [class.secret] roles: unknown role 'ghost'" },
	{ "writers names unknown role", VALID "[class.x]\nwriters = staff, ghost\n", -EINVAL,
	  "t.ini:13: [class.x] writers: unknown role 'ghost'" },
	{ "role list not a name", VALID "[class.x]\nroles = @soc\n", -EINVAL,
	  "t.ini:13: [class.x] roles: '@soc' is not a role name" },
	{ "star among roles", VALID "[class.x]\nroles = *, staff\n", -EINVAL,
	  "t.ini:13: [class.x] roles: '*' (every caller) must be the only entry" },
	{ "duplicate role in class", VALID "[class.x]\nroles = staff, staff\n", -EINVAL,
	  "t.ini:13: [class.x] roles: duplicate entry 'staff'" },
	/* [export] */
	{ "relative export tool", VALID "[export]\ntools = cp\n", -EINVAL,
	  "t.ini:13: [export] tools: 'cp' is not an absolute path" },
	{ "unknown export key", VALID "[export]\ntool = /usr/bin/cp\n", -EINVAL,
	  "t.ini:13: unknown key 'tool' in [export]" },
	/* required keys */
	{ "no store section", POLICY AUDIT ROLES CLASS, -EINVAL, "t.ini: missing required key 'path' in [store]" },
	{ "no policy db", STORE "[policy]\ndefault_class = internal\n" AUDIT ROLES CLASS, -EINVAL,
	  "t.ini: missing required key 'db' in [policy]" },
	{ "no default_class", STORE "[policy]\ndb = /var/p.db\n" AUDIT ROLES CLASS, -EINVAL,
	  "t.ini: missing required key 'default_class' in [policy]" },
	{ "no audit db", STORE POLICY "[audit]\nreads = open\n" ROLES CLASS, -EINVAL,
	  "t.ini: missing required key 'db' in [audit]" },
	{ "empty file", "", -EINVAL, "t.ini: missing required key 'path' in [store]" },
	/* the first of several whole-file problems wins: missing key, then lowest line */
	{ "missing key before unknown role", POLICY AUDIT ROLES CLASS "[class.x]\nroles = ghost\n", -EINVAL,
	  "t.ini: missing required key 'path' in [store]" },
	{ "lowest line first", STORE "[policy]\ndb = /var/p.db\ndefault_class = nope\n" AUDIT ROLES CLASS
	  "[class.x]\nroles = ghost\n", -EINVAL, "t.ini:5: [policy] default_class: unknown class 'nope'" },
	{ "writers line before roles line", VALID "[class.x]\nwriters = ghost2\nroles = ghost1\n", -EINVAL,
	  "t.ini:13: [class.x] writers: unknown role 'ghost2'" },
	/* a line-level error stops before later ones */
	{ "first error wins", VALID "[mount]\nhide_denied = maybe\n[colour]\n", -EINVAL,
	  "t.ini:13: [mount] hide_denied: 'maybe' " NOTBOOL },
};

static void test_bad_table(void)
{
	for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++) {
		const struct bad *b = &bad_rows[i];
		struct cfs_config *c = (struct cfs_config *)&c; /* must be reset to NULL */
		struct cfs_err err = { "" };
		int rc = cfs_config_parse(b->text, "t.ini", &c, &err);
		if (rc != b->rc)
			T_FAILF("row '%s': rc %d, expected %d (%s)", b->what, rc, b->rc, err.msg);
		else if (strcmp(err.msg, b->msg) != 0)
			T_FAILF("row '%s': msg \"%s\", expected \"%s\"", b->what, err.msg, b->msg);
		else if (c != NULL)
			T_FAILF("row '%s': config not NULL on error", b->what);
		if (rc == 0)
			cfs_config_free(c);
	}
	T_CHECK(sizeof bad_rows / sizeof bad_rows[0] >= 30);
}

/* Lines of exactly the limit pass; one more is refused, also for comments. */
static void test_line_limit(void)
{
	char text[1024], line[256];
	struct cfs_err err = { "" };
	struct cfs_config *c = NULL;
	/* "tools = /" + 188 x = 197 characters */
	int n = snprintf(line, sizeof line, "tools = /%0188d", 0);
	T_EQ_INT(n, 197);
	snprintf(text, sizeof text, VALID "[export]\n%s\n", line);
	T_EQ_INT(cfs_config_parse(text, "t.ini", &c, &err), 0);
	if (c) {
		T_EQ_INT((int)strlen(c->export_tools.v[0]), 189);
		cfs_config_free(c);
		c = NULL;
	}
	/* CRLF does not count */
	snprintf(text, sizeof text, VALID "[export]\r\n%s\r\n", line);
	T_EQ_INT(cfs_config_parse(text, "t.ini", &c, &err), 0);
	cfs_config_free(c);
	c = NULL;
	snprintf(line, sizeof line, "tools = /%0189d", 0);
	snprintf(text, sizeof text, VALID "[export]\n%s\n", line);
	T_EQ_INT(cfs_config_parse(text, "t.ini", &c, &err), -EINVAL);
	T_EQ_STR(err.msg, "t.ini:13: line too long (more than 197 characters)");
	T_CHECK(c == NULL);
	/* a long comment too, even on the last line without a newline */
	snprintf(line, sizeof line, ";%0197d", 0);
	snprintf(text, sizeof text, VALID "%s", line);
	T_EQ_INT(cfs_config_parse(text, "t.ini", &c, &err), -EINVAL);
	T_EQ_STR(err.msg, "t.ini:12: line too long (more than 197 characters)");
}

/* Counts: 64 is the most of anything, 65 is refused. */
static void test_limits(void)
{
	static char text[16384];
	struct cfs_err err = { "" };
	struct cfs_config *c = NULL;
	size_t o;

	/* 64 and 65 classes */
	for (int extra = 63; extra <= 64; extra++) {
		o = (size_t)snprintf(text, sizeof text, "%s", VALID);
		for (int i = 0; i < extra; i++)
			o += (size_t)snprintf(text + o, sizeof text - o, "[class.c%d]\n", i);
		int rc = cfs_config_parse(text, "t.ini", &c, &err);
		if (extra == 63) {
			T_EQ_INT(rc, 0);
			if (c)
				T_EQ_INT(c->nclasses, 64);
			cfs_config_free(c);
			c = NULL;
		} else {
			T_EQ_INT(rc, -EINVAL);
			T_EQ_STR(err.msg, "t.ini:75: more than 64 classes");
		}
	}
	/* 64 and 65 roles */
	for (int extra = 63; extra <= 64; extra++) {
		o = (size_t)snprintf(text, sizeof text, "%s", STORE POLICY AUDIT CLASS "[roles]\nstaff = alice\n");
		for (int i = 0; i < extra; i++)
			o += (size_t)snprintf(text + o, sizeof text - o, "r%d = u%d\n", i, i);
		int rc = cfs_config_parse(text, "t.ini", &c, &err);
		if (extra == 63) {
			T_EQ_INT(rc, 0);
			if (c)
				T_EQ_INT(c->nroles, 64);
			cfs_config_free(c);
			c = NULL;
		} else {
			T_EQ_INT(rc, -EINVAL);
			T_EQ_STR(err.msg, "t.ini:75: [roles] more than 64 roles");
		}
	}
	/* 64 and 65 list entries: two-letter logins "aa,ab,..." */
	for (int count = 64; count <= 65; count++) {
		char line[256];
		size_t l = (size_t)snprintf(line, sizeof line, "r=");
		for (int i = 0; i < count; i++)
			l += (size_t)snprintf(line + l, sizeof line - l, "%s%c%c", i ? "," : "",
					      'a' + i / 26, 'a' + i % 26);
		snprintf(text, sizeof text, STORE POLICY AUDIT CLASS "[roles]\nstaff = alice\n%s\n", line);
		int rc = cfs_config_parse(text, "t.ini", &c, &err);
		if (count == 64) {
			T_EQ_INT(rc, 0);
			if (c) {
				const struct cfs_role *r = cfs_config_role(c, "r");
				T_CHECK(r != NULL);
				if (r) {
					T_EQ_INT(r->members.n, 64);
					T_EQ_STR(r->members.v[63], "cl");
				}
			}
			cfs_config_free(c);
			c = NULL;
		} else {
			T_EQ_INT(rc, -EINVAL);
			T_EQ_STR(err.msg, "t.ini:12: [roles] r: more than 64 entries");
		}
	}
}

static void test_long_value_is_cut(void)
{
	char text[1024], v[160];
	struct cfs_err err = { "" };
	struct cfs_config *c = NULL;
	memset(v, 'z', 150);
	v[150] = 0;
	snprintf(text, sizeof text, STORE "cipher = %s\n" POLICY AUDIT ROLES CLASS, v);
	T_EQ_INT(cfs_config_parse(text, "t.ini", &c, &err), -EINVAL);
	char want[512];
	snprintf(want, sizeof want, "t.ini:3: [store] cipher: '%.96s...' is not auto, "
		 "xchacha20poly1305 or aes256gcm", v);
	T_EQ_STR(err.msg, want);
}

static void test_api_edges(void)
{
	struct cfs_err err = { "" };
	struct cfs_config *c = (struct cfs_config *)&c;
	T_EQ_INT(cfs_config_parse(NULL, "t.ini", &c, &err), -EINVAL);
	T_EQ_STR(err.msg, "t.ini: no text");
	T_CHECK(c == NULL);
	T_EQ_INT(cfs_config_parse("", NULL, &c, &err), -EINVAL);
	T_EQ_STR(err.msg, "(config): missing required key 'path' in [store]");
	/* a NULL err is allowed */
	T_EQ_INT(cfs_config_parse("[x]\n", "t.ini", &c, NULL), -EINVAL);
	cfs_config_free(NULL);

	enum cfs_export e = CFS_EXPORT_UNSET;
	T_EQ_STR(cfs_export_name(CFS_EXPORT_ALLOW), "allow");
	T_EQ_STR(cfs_export_name(CFS_EXPORT_LOG), "log");
	T_EQ_STR(cfs_export_name(CFS_EXPORT_DENY), "deny");
	T_EQ_STR(cfs_export_name(CFS_EXPORT_UNSET), "");
	T_EQ_STR(cfs_export_name((enum cfs_export)42), "");
	T_EQ_INT(cfs_export_parse("allow", &e), 0);
	T_EQ_INT(e, CFS_EXPORT_ALLOW);
	T_EQ_INT(cfs_export_parse("log", &e), 0);
	T_EQ_INT(e, CFS_EXPORT_LOG);
	T_EQ_INT(cfs_export_parse("deny", &e), 0);
	T_EQ_INT(e, CFS_EXPORT_DENY);
	T_EQ_INT(cfs_export_parse("Deny", &e), -EINVAL);
	T_EQ_INT(cfs_export_parse("deny ", &e), -EINVAL);
	T_EQ_INT(cfs_export_parse("", &e), -EINVAL);
	T_EQ_INT(cfs_export_parse(NULL, &e), -EINVAL);
	T_EQ_INT(e, CFS_EXPORT_DENY); /* untouched on error */
}

static void test_config_path(void)
{
	T_EQ_STR(cfs_config_path("/x/y.ini"), "/x/y.ini");
	setenv("COACHFS_CONFIG", "/env/c.ini", 1);
	T_EQ_STR(cfs_config_path("/x/y.ini"), "/x/y.ini");
	T_EQ_STR(cfs_config_path(NULL), "/env/c.ini");
	setenv("COACHFS_CONFIG", "", 1);
	T_EQ_STR(cfs_config_path(NULL), CFS_DEFAULT_CONFIG);
	unsetenv("COACHFS_CONFIG");
	T_EQ_STR(cfs_config_path(NULL), "/etc/coachfs/coachfs.ini");
}

/* A temp file with the given bytes; returns its path in buf. */
static int write_temp(char *buf, size_t size, const void *data, size_t len)
{
	snprintf(buf, size, "/tmp/cfs-test-config-XXXXXX");
	int fd = mkstemp(buf);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, data, len);
	close(fd);
	return w == (ssize_t)len ? 0 : -1;
}

static void test_load_errors(void)
{
	struct cfs_err err = { "" };
	struct cfs_config *c = (struct cfs_config *)&c;
	char path[64], dir[64];

	T_EQ_INT(cfs_config_load("/nonexistent/coachfs.ini", &c, &err), -ENOENT);
	T_EQ_STR(err.msg, "/nonexistent/coachfs.ini: cannot open: No such file or directory");
	T_CHECK(c == NULL);

	/* a directory fails for root too */
	snprintf(dir, sizeof dir, "/tmp/cfs-test-dir-XXXXXX");
	T_CHECK(mkdtemp(dir) != NULL);
	T_EQ_INT(cfs_config_load(dir, &c, &err), -EISDIR);
	char want[256];
	snprintf(want, sizeof want, "%s: cannot read: Is a directory", dir);
	T_EQ_STR(err.msg, want);
	T_CHECK(c == NULL);

	/* a FIFO is not a config file (and must not block) */
	char fifo[96];
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	T_EQ_INT(mkfifo(fifo, 0600), 0);
	T_EQ_INT(cfs_config_load(fifo, &c, &err), -EINVAL);
	snprintf(want, sizeof want, "%s: not a regular file", fifo);
	T_EQ_STR(err.msg, want);
	unlink(fifo);
	rmdir(dir);

	/* a NUL byte in the file */
	static const char nul[] = "[store]\npath = /srv/c\ncipher = a\0uto\n";
	T_EQ_INT(write_temp(path, sizeof path, nul, sizeof nul - 1), 0);
	T_EQ_INT(cfs_config_load(path, &c, &err), -EINVAL);
	snprintf(want, sizeof want, "%s:3: NUL byte in line", path);
	T_EQ_STR(err.msg, want);
	unlink(path);

	/* too large: a sparse file just over 1 MiB */
	T_EQ_INT(write_temp(path, sizeof path, "", 0), 0);
	T_EQ_INT(truncate(path, 1024 * 1024 + 1), 0);
	T_EQ_INT(cfs_config_load(path, &c, &err), -EFBIG);
	snprintf(want, sizeof want, "%s: file too large (more than 1048576 bytes)", path);
	T_EQ_STR(err.msg, want);
	unlink(path);

	/* a good file: cfg->file is the path; errors name it with the line */
	T_EQ_INT(write_temp(path, sizeof path, VALID, strlen(VALID)), 0);
	T_EQ_INT(cfs_config_load(path, &c, &err), 0);
	if (c) {
		T_EQ_STR(c->file, path);
		cfs_config_free(c);
	}
	unlink(path);
	T_EQ_INT(write_temp(path, sizeof path, VALID "[x]\n", strlen(VALID "[x]\n")), 0);
	T_EQ_INT(cfs_config_load(path, &c, &err), -EINVAL);
	snprintf(want, sizeof want, "%s:12: unknown section [x]", path);
	T_EQ_STR(err.msg, want);
	unlink(path);
}

/* Unreadable: chmod 000 stops a normal user; root is not stopped by modes,
 * so as root the load runs in a child that drops to uid/gid 65534. */
static void test_load_unreadable(void)
{
	char path[64], want[256];
	int pipefd[2];
	T_EQ_INT(write_temp(path, sizeof path, VALID, strlen(VALID)), 0);
	T_EQ_INT(chmod(path, 0), 0);
	T_EQ_INT(pipe(pipefd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct cfs_err err = { "" };
		struct cfs_config *c = NULL;
		close(pipefd[0]);
		if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
				       setresuid(65534, 65534, 65534) < 0))
			_exit(100);
		int rc = cfs_config_load(path, &c, &err);
		cfs_config_free(c);
		if (write(pipefd[1], err.msg, strlen(err.msg)) < 0)
			_exit(101);
		_exit(-rc);
	}
	close(pipefd[1]);
	char msg[512] = "";
	ssize_t n = read(pipefd[0], msg, sizeof msg - 1);
	if (n > 0)
		msg[n] = 0;
	close(pipefd[0]);
	int status = 0;
	T_EQ_INT(waitpid(pid, &status, 0), pid);
	T_CHECK(WIFEXITED(status));
	T_EQ_INT(WEXITSTATUS(status), EACCES);
	snprintf(want, sizeof want, "%s: cannot open: Permission denied", path);
	T_EQ_STR(msg, want);
	unlink(path);
}

int main(void)
{
	T_RUN(test_example_file);
	T_RUN(test_defaults);
	T_RUN(test_state_db);
	T_RUN(test_access_workflow_keys);
	T_RUN(test_variants);
	T_RUN(test_bad_table);
	T_RUN(test_line_limit);
	T_RUN(test_limits);
	T_RUN(test_long_value_is_cut);
	T_RUN(test_api_edges);
	T_RUN(test_config_path);
	T_RUN(test_load_errors);
	T_RUN(test_load_unreadable);
	T_END();
}
