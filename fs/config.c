/* config.c — the INI configuration (DESIGN §3): reads the file with inih,
 * validates every section, key and value, and builds an immutable
 * struct cfs_config with "FILE:LINE: what" errors. It must never start
 * anything, open a database, resolve users or groups, print, or touch inih's
 * global settings (we read lines ourselves through ini_parse_stream).
 *
 * Syntax accepted (a strict subset of what inih takes):
 *  - "[section]" headers, optionally followed by a ';' or '#' comment;
 *  - "key = value" lines; an inline comment starts at a ';' preceded by
 *    white space; whole-line comments start with ';' or '#';
 *  - no continuation lines (an indented line after a key is refused), no
 *    "key: value" form, no NUL bytes, at most (inih line buffer - 3) = 197
 *    characters a line with Debian's libinih (INI_MAX_LINE 200);
 *  - section and key names are case-sensitive;
 *  - booleans are yes|no|true|false (lower case);
 *  - a comma list may be empty ("key =" means no entries: for readers that
 *    means any program, for roles/writers nobody, for tools none), but an
 *    empty entry inside a list ("a,,b", "a,") and a duplicate entry are refused.
 */
#include "coachfs/config.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFG_FILE_MAX (1024 * 1024)   /* refuse bigger config files */
#define CFG_LOGIN_MAX 31             /* login and group names */
#define CFG_QUOTE_MAX 96             /* bytes of a hostile value echoed in a message */

enum sect { S_NONE = 0, S_STORE, S_MOUNT, S_POLICY, S_AUDIT, S_ROLES, S_CLASS, S_EXPORT, S_GRANTS };

static const char *const sect_names[] = {
	[S_STORE] = "store", [S_MOUNT] = "mount", [S_POLICY] = "policy",
	[S_AUDIT] = "audit", [S_ROLES] = "roles", [S_EXPORT] = "export", [S_GRANTS] = "grants",
};

/* Keys of the fixed sections, one line-number slot each (0 = not seen). */
enum key {
	K_STORE_PATH, K_STORE_PASSFILE, K_STORE_PASSCMD, K_STORE_CIPHER, K_STORE_STATE,
	K_MOUNT_HIDE,
	K_POLICY_DB, K_POLICY_DEFCLASS,
	K_AUDIT_DB, K_AUDIT_READS, K_AUDIT_FLUSH,
	K_EXPORT_TOOLS,
	K_GRANTS_REQTTL,
	K_NKEYS
};

static const struct { enum sect s; const char *name; } fixed_keys[K_NKEYS] = {
	[K_STORE_PATH] = { S_STORE, "path" },
	[K_STORE_PASSFILE] = { S_STORE, "passphrase_file" },
	[K_STORE_PASSCMD] = { S_STORE, "passphrase_command" },
	[K_STORE_CIPHER] = { S_STORE, "cipher" },
	[K_STORE_STATE] = { S_STORE, "state_db" },
	[K_MOUNT_HIDE] = { S_MOUNT, "hide_denied" },
	[K_POLICY_DB] = { S_POLICY, "db" },
	[K_POLICY_DEFCLASS] = { S_POLICY, "default_class" },
	[K_AUDIT_DB] = { S_AUDIT, "db" },
	[K_AUDIT_READS] = { S_AUDIT, "reads" },
	[K_AUDIT_FLUSH] = { S_AUDIT, "flush_ms" },
	[K_EXPORT_TOOLS] = { S_EXPORT, "tools" },
	[K_GRANTS_REQTTL] = { S_GRANTS, "request_ttl" },
};

enum ckey { C_GRANT, C_ROLES, C_WRITERS, C_MAX_TTL, C_EXPORT, C_APPROVAL, C_READERS,
	    C_MAX_OPENS, C_AUDIT_READS, C_BREAKGLASS, C_BREAKGLASS_TTL, C_NKEYS };

static const char *const class_keys[C_NKEYS] = {
	[C_GRANT] = "grant", [C_ROLES] = "roles", [C_WRITERS] = "writers",
	[C_MAX_TTL] = "max_ttl", [C_EXPORT] = "export", [C_APPROVAL] = "approval",
	[C_READERS] = "readers", [C_MAX_OPENS] = "max_opens", [C_AUDIT_READS] = "audit_reads",
	[C_BREAKGLASS] = "breakglass", [C_BREAKGLASS_TTL] = "breakglass_ttl",
};

struct parse {
	struct cfs_config *cfg;
	struct cfs_err *err;
	const char *name;        /* file name for messages */
	int rc;                  /* first error, 0 while all is well */
	/* the reader's cursor */
	const char *pos, *end;
	int lineno;
	/* what the reader saw on the current line */
	enum sect sect;
	int cls;                 /* index into cfg->classes when sect == S_CLASS */
	int key_in_sect;         /* a key line was seen since the last header */
	char key[256];           /* the current line's key (lines are shorter) */
	/* where things were first seen */
	int sect_line[S_GRANTS + 1];
	int key_line[K_NKEYS];
	int class_key_line[CFS_LIST_MAX][C_NKEYS];
};

/* ---- messages ---- */

/* Render a hostile value for a message: printable ASCII as is, the rest as
 * \xNN, quotes and backslashes escaped, at most CFG_QUOTE_MAX bytes of input. */
static const char *quote(char *buf, size_t size, const char *s)
{
	size_t o = 0;
	size_t i;
	for (i = 0; s[i] && i < CFG_QUOTE_MAX && o + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\' || c == '\'') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			snprintf(buf + o, size - o, "\\x%02x", c);
			o += 4;
		} else {
			buf[o++] = (char)c;
		}
	}
	if (s[i] && o + 4 <= size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = 0;
	return buf;
}

static int fail(struct parse *p, int rc, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Record the first error: "NAME:LINE: msg", or "NAME: msg" when line is 0. */
static int fail(struct parse *p, int rc, int line, const char *fmt, ...)
{
	char body[400];
	va_list ap;
	if (p->rc)
		return p->rc;
	va_start(ap, fmt);
	vsnprintf(body, sizeof body, fmt, ap);
	va_end(ap);
	if (line > 0)
		cfs_errf(p->err, rc, "%s:%d: %s", p->name, line, body);
	else
		cfs_errf(p->err, rc, "%s: %s", p->name, body);
	p->rc = rc;
	return rc;
}

static int oom(struct parse *p)
{
	return fail(p, -ENOMEM, 0, "out of memory");
}

/* ---- value syntax ---- */

static int name_ok(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return n >= 1 && n < CFS_NAME_MAX;
}

/* A login or group name: [a-z_][a-z0-9_.-]*, at most 31 characters. */
static int login_ok(const char *s)
{
	size_t n = 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return 0;
	}
	return n <= CFG_LOGIN_MAX;
}

static int member_ok(const char *s)
{
	return login_ok(s[0] == '@' ? s + 1 : s);
}

/* NULL when s is a clean absolute path, else what is wrong with it. */
static const char *abs_path_problem(const char *s)
{
	if (s[0] != '/')
		return "is not an absolute path";
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return "contains a control character";
	if (cfs_path_valid(s) < 0)
		return "is not a clean absolute path (no '//', '.', '..' or trailing '/')";
	return NULL;
}

static int parse_bool(const char *s, int *out)
{
	if (!strcmp(s, "yes") || !strcmp(s, "true")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(s, "no") || !strcmp(s, "false")) {
		*out = 0;
		return 0;
	}
	return -EINVAL;
}

const char *cfs_export_name(enum cfs_export e)
{
	switch (e) {
	case CFS_EXPORT_ALLOW: return "allow";
	case CFS_EXPORT_LOG: return "log";
	case CFS_EXPORT_DENY: return "deny";
	default: return "";
	}
}

int cfs_export_parse(const char *s, enum cfs_export *out)
{
	if (!s || !out)
		return -EINVAL;
	if (!strcmp(s, "allow"))
		*out = CFS_EXPORT_ALLOW;
	else if (!strcmp(s, "log"))
		*out = CFS_EXPORT_LOG;
	else if (!strcmp(s, "deny"))
		*out = CFS_EXPORT_DENY;
	else
		return -EINVAL;
	return 0;
}

/* ---- lists ---- */

enum list_kind { L_MEMBERS, L_ROLES, L_PATHS };

static void list_free(struct cfs_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

/* Split "a, b, c" into l (which must be empty). `what` is "[sect] key" for
 * messages. Role names are checked against [roles] after the whole file. */
static int parse_list(struct parse *p, const char *what, const char *value, enum list_kind kind,
		      struct cfs_list *l)
{
	char q[CFG_QUOTE_MAX * 4 + 8];
	const char *s = value;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return 0; /* empty list: no entries */
	for (;;) {
		const char *comma = strchr(s, ',');
		const char *e = comma ? comma : s + strlen(s);
		while (*s == ' ' || *s == '\t')
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e == s)
			return fail(p, -EINVAL, p->lineno, "%s: empty entry in list", what);
		size_t n = (size_t)(e - s);
		char *v = strndup(s, n);
		if (!v)
			return oom(p);
		const char *bad = NULL;
		if (kind == L_MEMBERS && !member_ok(v))
			bad = "is not a login name or @group";
		else if (kind == L_ROLES && strcmp(v, "*") != 0 && !name_ok(v))
			bad = "is not a role name";
		else if (kind == L_PATHS)
			bad = abs_path_problem(v);
		if (bad) {
			fail(p, -EINVAL, p->lineno, "%s: '%s' %s", what, quote(q, sizeof q, v), bad);
			free(v);
			return p->rc;
		}
		for (int i = 0; i < l->n; i++) {
			if (!strcmp(l->v[i], v)) {
				fail(p, -EINVAL, p->lineno, "%s: duplicate entry '%s'", what,
				     quote(q, sizeof q, v));
				free(v);
				return p->rc;
			}
		}
		if (l->n >= CFS_LIST_MAX) {
			free(v);
			return fail(p, -EINVAL, p->lineno, "%s: more than %d entries", what,
				    CFS_LIST_MAX);
		}
		l->v[l->n++] = v;
		if (!comma)
			break;
		s = comma + 1;
	}
	if (kind == L_ROLES && l->n > 1) {
		for (int i = 0; i < l->n; i++)
			if (!strcmp(l->v[i], "*"))
				return fail(p, -EINVAL, p->lineno,
					    "%s: '*' (every caller) must be the only entry", what);
	}
	return 0;
}

/* ---- key handlers ---- */

static int set_path(struct parse *p, const char *what, const char *value, char **slot)
{
	char q[CFG_QUOTE_MAX * 4 + 8];
	const char *bad = abs_path_problem(value);
	if (bad)
		return fail(p, -EINVAL, p->lineno, "%s: '%s' %s", what, quote(q, sizeof q, value),
			    bad);
	*slot = strdup(value);
	return *slot ? 0 : oom(p);
}

/* "PROGRAM ARG..." split on blanks when run (no shell): PROGRAM must be an
 * absolute path like every other path here, and the line must not be blank. */
static int set_command(struct parse *p, const char *what, const char *value, char **slot)
{
	char q[CFG_QUOTE_MAX * 4 + 8], prog[4096];
	size_t n = strcspn(value, " \t");
	if (n >= sizeof prog)
		return fail(p, -EINVAL, p->lineno, "%s: program path too long", what);
	memcpy(prog, value, n);
	prog[n] = 0;
	for (const char *c = value; *c; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			return fail(p, -EINVAL, p->lineno, "%s: contains a control character", what);
	const char *bad = abs_path_problem(prog);
	if (bad)
		return fail(p, -EINVAL, p->lineno, "%s: program '%s' %s", what, quote(q, sizeof q, prog),
			    bad);
	*slot = strdup(value);
	return *slot ? 0 : oom(p);
}

static int parse_reads(const char *s, enum cfs_reads *out)
{
	if (!strcmp(s, "every"))
		*out = CFS_READS_EVERY;
	else if (!strcmp(s, "open"))
		*out = CFS_READS_OPEN;
	else
		return -EINVAL;
	return 0;
}

/* A duration from lo to hi seconds (request_ttl, breakglass_ttl). */
static int parse_ttl(struct parse *p, const char *what, const char *value, int64_t lo, int64_t hi,
		     int64_t *out)
{
	char q[CFG_QUOTE_MAX * 4 + 8];
	if (cfs_parse_duration(value, out) < 0 || *out < lo || *out > hi)
		return fail(p, -EINVAL, p->lineno, "%s: '%s' is not a duration from %llds to %llds "
			    "(like 15m, 4h)", what, quote(q, sizeof q, value), (long long)lo, (long long)hi);
	return 0;
}

static int fixed_key(struct parse *p, const char *value)
{
	struct cfs_config *cfg = p->cfg;
	const char *sname = sect_names[p->sect];
	char what[336], q[CFG_QUOTE_MAX * 4 + 8];
	int k;
	for (k = 0; k < K_NKEYS; k++)
		if (fixed_keys[k].s == p->sect && !strcmp(fixed_keys[k].name, p->key))
			break;
	if (k == K_NKEYS)
		return fail(p, -EINVAL, p->lineno, "unknown key '%s' in [%s]",
			    quote(q, sizeof q, p->key), sname);
	if (p->key_line[k])
		return fail(p, -EINVAL, p->lineno, "duplicate key '%s' in [%s] (first at line %d)",
			    p->key, sname, p->key_line[k]);
	p->key_line[k] = p->lineno;
	snprintf(what, sizeof what, "[%s] %s", sname, p->key);
	quote(q, sizeof q, value);

	switch ((enum key)k) {
	case K_STORE_PATH:
		return set_path(p, what, value, &cfg->store_path);
	case K_STORE_PASSFILE:
		return set_path(p, what, value, &cfg->passphrase_file);
	case K_STORE_STATE:
		return set_path(p, what, value, &cfg->state_db);
	case K_STORE_PASSCMD:
		return set_command(p, what, value, &cfg->passphrase_command);
	case K_STORE_CIPHER:
		if (!strcmp(value, "auto"))
			cfg->cipher = CFS_CIPHER_AUTO;
		else if (!strcmp(value, "xchacha20poly1305"))
			cfg->cipher = CFS_CIPHER_XCHACHA;
		else if (!strcmp(value, "aes256gcm"))
			cfg->cipher = CFS_CIPHER_AESGCM;
		else
			return fail(p, -EINVAL, p->lineno,
				    "%s: '%s' is not auto, xchacha20poly1305 or aes256gcm", what, q);
		return 0;
	case K_MOUNT_HIDE:
		if (parse_bool(value, &cfg->hide_denied) < 0)
			return fail(p, -EINVAL, p->lineno, "%s: '%s' is not yes, no, true or false",
				    what, q);
		return 0;
	case K_POLICY_DB:
		return set_path(p, what, value, &cfg->policy_db);
	case K_POLICY_DEFCLASS:
		/* must name a class; checked once every class is known */
		if (!name_ok(value))
			return fail(p, -EINVAL, p->lineno, "%s: '%s' is not a class name", what, q);
		cfg->default_class = strdup(value);
		return cfg->default_class ? 0 : oom(p);
	case K_AUDIT_DB:
		return set_path(p, what, value, &cfg->audit_db);
	case K_AUDIT_READS:
		if (parse_reads(value, &cfg->reads) < 0)
			return fail(p, -EINVAL, p->lineno, "%s: '%s' is not every or open", what, q);
		return 0;
	case K_AUDIT_FLUSH: {
		uint64_t v;
		if (cfs_parse_uint(value, 10000, &v) < 0 || v < 1)
			return fail(p, -EINVAL, p->lineno,
				    "%s: '%s' is not a number from 1 to 10000", what, q);
		cfg->flush_ms = (uint32_t)v;
		return 0;
	}
	case K_EXPORT_TOOLS:
		return parse_list(p, what, value, L_PATHS, &cfg->export_tools);
	case K_GRANTS_REQTTL:
		return parse_ttl(p, what, value, 1, CFS_REQUEST_TTL_MAX, &cfg->request_ttl);
	case K_NKEYS:
		break;
	}
	return fail(p, -EINVAL, p->lineno, "internal error: key %d", k);
}

static int role_key(struct parse *p, const char *value)
{
	struct cfs_config *cfg = p->cfg;
	char what[336], q[CFG_QUOTE_MAX * 4 + 8];
	if (!name_ok(p->key))
		return fail(p, -EINVAL, p->lineno,
			    "[roles] bad role name '%s' (1 to 63 of A-Z a-z 0-9 _ -)",
			    quote(q, sizeof q, p->key));
	for (int i = 0; i < cfg->nroles; i++)
		if (!strcmp(cfg->roles[i].name, p->key))
			return fail(p, -EINVAL, p->lineno,
				    "duplicate key '%s' in [roles] (first at line %d)", p->key,
				    cfg->roles[i].line);
	if (cfg->nroles >= CFS_LIST_MAX)
		return fail(p, -EINVAL, p->lineno, "[roles] more than %d roles", CFS_LIST_MAX);
	struct cfs_role *r = &cfg->roles[cfg->nroles++];
	cfs_strlcpy(r->name, p->key, sizeof r->name);
	r->line = p->lineno;
	snprintf(what, sizeof what, "[roles] %s", p->key);
	return parse_list(p, what, value, L_MEMBERS, &r->members);
}

static int class_key(struct parse *p, const char *value)
{
	struct cfs_class *c = &p->cfg->classes[p->cls];
	char what[336], q[CFG_QUOTE_MAX * 4 + 8];
	int k;
	for (k = 0; k < C_NKEYS; k++)
		if (!strcmp(class_keys[k], p->key))
			break;
	if (k == C_NKEYS)
		return fail(p, -EINVAL, p->lineno, "unknown key '%s' in [class.%s]",
			    quote(q, sizeof q, p->key), c->name);
	if (p->class_key_line[p->cls][k])
		return fail(p, -EINVAL, p->lineno,
			    "duplicate key '%s' in [class.%s] (first at line %d)", p->key, c->name,
			    p->class_key_line[p->cls][k]);
	p->class_key_line[p->cls][k] = p->lineno;
	snprintf(what, sizeof what, "[class.%s] %s", c->name, p->key);
	quote(q, sizeof q, value);

	switch ((enum ckey)k) {
	case C_GRANT:
		if (parse_bool(value, &c->grant) < 0)
			return fail(p, -EINVAL, p->lineno, "%s: '%s' is not yes, no, true or false",
				    what, q);
		return 0;
	case C_ROLES:
		return parse_list(p, what, value, L_ROLES, &c->roles);
	case C_WRITERS:
		return parse_list(p, what, value, L_ROLES, &c->writers);
	case C_MAX_TTL:
		if (cfs_parse_duration(value, &c->max_ttl) < 0)
			return fail(p, -EINVAL, p->lineno,
				    "%s: '%s' is not a duration (like 90s, 15m, 4h, 2d)", what, q);
		return 0;
	case C_EXPORT:
		if (cfs_export_parse(value, &c->export) < 0)
			return fail(p, -EINVAL, p->lineno, "%s: '%s' is not allow, log or deny",
				    what, q);
		return 0;
	case C_AUDIT_READS:
		if (parse_reads(value, &c->reads) < 0)
			return fail(p, -EINVAL, p->lineno, "%s: '%s' is not every or open", what, q);
		return 0;
	case C_APPROVAL:
		if (!strcmp(value, "none"))
			c->approval = CFS_APPROVAL_NONE;
		else if (!strcmp(value, "two-person"))
			c->approval = CFS_APPROVAL_TWO_PERSON;
		else
			return fail(p, -EINVAL, p->lineno, "%s: '%s' is not none or two-person",
				    what, q);
		return 0;
	case C_READERS:
		return parse_list(p, what, value, L_PATHS, &c->readers);
	case C_BREAKGLASS:
		return parse_list(p, what, value, L_ROLES, &c->breakglass);
	case C_BREAKGLASS_TTL:
		return parse_ttl(p, what, value, 60, CFS_BREAKGLASS_TTL_MAX, &c->breakglass_ttl);
	case C_MAX_OPENS: {
		uint64_t v;
		if (cfs_parse_uint(value, 1000000, &v) < 0 || v < 1)
			return fail(p, -EINVAL, p->lineno,
				    "%s: '%s' is not a number from 1 to 1000000", what, q);
		c->max_opens = (uint32_t)v;
		return 0;
	}
	case C_NKEYS:
		break;
	}
	return fail(p, -EINVAL, p->lineno, "internal error: class key %d", k);
}

/* inih calls this for every "name = value" line, right after our reader
 * handed it that line, so p->lineno, p->sect and p->key describe it. We use
 * our own section and key (inih truncates section names at 49 bytes). */
static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	(void)section;
	if (p->rc)
		return 0;
	if (!name)
		return 1; /* a library built to report section starts */
	if (!value) {
		fail(p, -EINVAL, p->lineno, "expected 'key = value'");
		return 0;
	}
	switch (p->sect) {
	case S_NONE: {
		char q[CFG_QUOTE_MAX * 4 + 8];
		fail(p, -EINVAL, p->lineno, "key '%s' outside any section",
		     quote(q, sizeof q, p->key));
		break;
	}
	case S_ROLES:
		role_key(p, value);
		break;
	case S_CLASS:
		class_key(p, value);
		break;
	default:
		fixed_key(p, value);
		break;
	}
	return p->rc ? 0 : 1;
}

/* ---- the line reader ---- */

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* A "[...]" header (s is trimmed, starts with '['). */
static int section_line(struct parse *p, const char *s, size_t n)
{
	struct cfs_config *cfg = p->cfg;
	char sect[256], q[CFG_QUOTE_MAX * 4 + 8];
	const char *close = NULL;
	/* like inih: ']' unless an inline comment (';' after a blank) comes first */
	for (size_t i = 1; i < n; i++) {
		if (s[i] == ']') {
			close = s + i;
			break;
		}
		if (s[i] == ';' && is_blank(s[i - 1]))
			break;
	}
	if (!close)
		return fail(p, -EINVAL, p->lineno, "section header without ']'");
	const char *after = close + 1;
	while (after < s + n && is_blank(*after))
		after++;
	if (after < s + n && *after != ';' && *after != '#')
		return fail(p, -EINVAL, p->lineno, "unexpected text after section header");
	size_t len = (size_t)(close - s - 1);
	memcpy(sect, s + 1, len);
	sect[len] = 0;

	p->key_in_sect = 0;
	if (!strncmp(sect, "class.", 6)) {
		const char *cname = sect + 6;
		if (!name_ok(cname))
			return fail(p, -EINVAL, p->lineno,
				    "bad class name '%s' in section header (1 to 63 of A-Z a-z 0-9 _ -)",
				    quote(q, sizeof q, cname));
		for (int i = 0; i < cfg->nclasses; i++)
			if (!strcmp(cfg->classes[i].name, cname))
				return fail(p, -EINVAL, p->lineno,
					    "duplicate section [class.%s] (first at line %d)", cname,
					    cfg->classes[i].line);
		if (cfg->nclasses >= CFS_LIST_MAX)
			return fail(p, -EINVAL, p->lineno, "more than %d classes", CFS_LIST_MAX);
		p->cls = cfg->nclasses++;
		struct cfs_class *c = &cfg->classes[p->cls];
		cfs_strlcpy(c->name, cname, sizeof c->name);
		c->line = p->lineno;
		c->export = CFS_EXPORT_ALLOW;
		p->sect = S_CLASS;
		return 0;
	}
	for (int s_ = S_STORE; s_ <= S_GRANTS; s_++) {
		if (s_ == S_CLASS || strcmp(sect, sect_names[s_]) != 0)
			continue;
		if (p->sect_line[s_])
			return fail(p, -EINVAL, p->lineno,
				    "duplicate section [%s] (first at line %d)", sect,
				    p->sect_line[s_]);
		p->sect_line[s_] = p->lineno;
		p->sect = (enum sect)s_;
		return 0;
	}
	return fail(p, -EINVAL, p->lineno, "unknown section [%s]", quote(q, sizeof q, sect));
}

/* A key line (s is trimmed, not a comment or header): remember the key. */
static int key_line(struct parse *p, const char *s, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++) {
		if (s[i] == '=' || s[i] == ':')
			break;
		if (s[i] == ';' && i > 0 && is_blank(s[i - 1])) {
			i = n;
			break;
		}
	}
	if (i == n || s[i] == ':')
		return fail(p, -EINVAL, p->lineno, "expected 'key = value' or '[section]'");
	size_t k = i;
	while (k > 0 && is_blank(s[k - 1]))
		k--;
	if (k == 0)
		return fail(p, -EINVAL, p->lineno, "missing key name before '='");
	memcpy(p->key, s, k);
	p->key[k] = 0;
	p->key_in_sect = 1;
	return 0;
}

/* fgets-like reader for ini_parse_stream: hands inih one whole line at a
 * time (so its line count is ours), after checking what inih would not:
 * length, NUL bytes, continuation lines, section headers (also empty,
 * duplicate and unknown ones) and key syntax. Returns NULL to stop. */
static char *reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	if (p->rc || p->pos >= p->end || num < 4)
		return NULL;
	const char *nl = memchr(p->pos, '\n', (size_t)(p->end - p->pos));
	const char *eol = nl ? nl : p->end;
	size_t raw = (size_t)(eol - p->pos);            /* without '\n' */
	size_t len = raw;
	const char *line = p->pos;
	p->lineno++;
	p->pos = nl ? nl + 1 : p->end;

	if (len && line[len - 1] == '\r')
		len--;
	if (len > (size_t)num - 3) {
		fail(p, -EINVAL, p->lineno, "line too long (more than %d characters)", num - 3);
		return NULL;
	}
	if (memchr(line, 0, raw)) {
		fail(p, -EINVAL, p->lineno, "NUL byte in line");
		return NULL;
	}
	memcpy(str, line, raw);
	str[raw] = '\n';
	str[raw + 1] = 0;

	/* classify what inih is about to see */
	const char *s = line;
	size_t n = len;
	if (p->lineno == 1 && n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) {
		s += 3;
		n -= 3;
	}
	size_t lead = 0;
	while (lead < n && is_blank(s[lead]))
		lead++;
	while (n > lead && is_blank(s[n - 1]))
		n--;
	const char *t = s + lead;
	n -= lead;
	if (n == 0 || t[0] == ';' || t[0] == '#')
		return str; /* blank or comment */
	if (lead > 0 && p->key_in_sect) {
		fail(p, -EINVAL, p->lineno,
		     "indented line: continuation lines are not supported, put the value on one line");
		return NULL;
	}
	if (t[0] == '[') {
		if (section_line(p, t, n) < 0)
			return NULL;
	} else if (key_line(p, t, n) < 0) {
		return NULL;
	}
	return str;
}

/* ---- checks that need the whole file ---- */

/* Keep the error with the lowest line (a missing key, line 0, wins). */
struct post {
	struct parse *p;
	int line;               /* -1: none yet */
	char msg[400];
};

static void post_err(struct post *e, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void post_err(struct post *e, int line, const char *fmt, ...)
{
	va_list ap;
	if (e->line >= 0 && e->line <= line)
		return;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->line = line;
}

static void check_refs(struct post *e, const struct cfs_class *c, const struct cfs_list *l,
		       const char *key, int line)
{
	for (int i = 0; i < l->n; i++) {
		if (!strcmp(l->v[i], "*") || cfs_config_role(e->p->cfg, l->v[i]))
			continue;
		post_err(e, line, "[class.%s] %s: unknown role '%s'", c->name, key, l->v[i]);
		return;
	}
}

static int post_checks(struct parse *p)
{
	struct cfs_config *cfg = p->cfg;
	struct post e = { .p = p, .line = -1 };
	static const enum key required[] = { K_STORE_PATH, K_POLICY_DB, K_POLICY_DEFCLASS,
					     K_AUDIT_DB };
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		enum key k = required[i];
		if (!p->key_line[k])
			post_err(&e, 0, "missing required key '%s' in [%s]", fixed_keys[k].name,
				 sect_names[fixed_keys[k].s]);
	}
	for (int i = 0; i < cfg->nclasses; i++) {
		const struct cfs_class *c = &cfg->classes[i];
		check_refs(&e, c, &c->roles, "roles", p->class_key_line[i][C_ROLES]);
		check_refs(&e, c, &c->writers, "writers", p->class_key_line[i][C_WRITERS]);
		check_refs(&e, c, &c->breakglass, "breakglass", p->class_key_line[i][C_BREAKGLASS]);
		if (!p->class_key_line[i][C_BREAKGLASS_TTL])
			cfg->classes[i].breakglass_ttl = CFS_BREAKGLASS_TTL_DEFAULT;
		/* a class without its own audit level takes [audit] reads */
		if (!p->class_key_line[i][C_AUDIT_READS])
			cfg->classes[i].reads = cfg->reads;
	}
	if (p->key_line[K_STORE_PASSFILE] && p->key_line[K_STORE_PASSCMD])
		post_err(&e, p->key_line[K_STORE_PASSFILE] > p->key_line[K_STORE_PASSCMD]
			     ? p->key_line[K_STORE_PASSFILE] : p->key_line[K_STORE_PASSCMD],
			 "[store] passphrase_file and passphrase_command exclude each other");
	if (cfg->default_class && !cfs_config_class(cfg, cfg->default_class))
		post_err(&e, p->key_line[K_POLICY_DEFCLASS], "[policy] default_class: unknown class '%s'",
			 cfg->default_class);
	if (e.line >= 0)
		return fail(p, -EINVAL, e.line, "%s", e.msg);
	if (!cfg->state_db && cfg->policy_db) {
		/* default: state.db beside the policy database */
		const char *slash = strrchr(cfg->policy_db, '/');
		size_t n = slash ? (size_t)(slash - cfg->policy_db) + 1 : 0;
		cfg->state_db = malloc(n + sizeof "state.db");
		if (!cfg->state_db)
			return oom(p);
		memcpy(cfg->state_db, cfg->policy_db, n);
		memcpy(cfg->state_db + n, "state.db", sizeof "state.db");
	}
	return 0;
}

/* ---- public ---- */

const char *cfs_config_path(const char *explicit_path)
{
	if (explicit_path)
		return explicit_path;
	/* secure_getenv: a set-id program must not take its config from the caller */
	const char *env = secure_getenv("COACHFS_CONFIG");
	if (env && *env)
		return env;
	return CFS_DEFAULT_CONFIG;
}

void cfs_config_free(struct cfs_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->file);
	free(cfg->store_path);
	free(cfg->passphrase_file);
	free(cfg->state_db);
	free(cfg->passphrase_command);
	free(cfg->policy_db);
	free(cfg->default_class);
	free(cfg->audit_db);
	for (int i = 0; i < cfg->nroles && i < CFS_LIST_MAX; i++)
		list_free(&cfg->roles[i].members);
	for (int i = 0; i < cfg->nclasses && i < CFS_LIST_MAX; i++) {
		list_free(&cfg->classes[i].roles);
		list_free(&cfg->classes[i].writers);
		list_free(&cfg->classes[i].breakglass);
		list_free(&cfg->classes[i].readers);
	}
	list_free(&cfg->export_tools);
	free(cfg);
}

/* Parse text[0..len) (no NUL inside is checked by the reader). */
static int parse_buf(const char *text, size_t len, const char *name, struct cfs_config **out,
		     struct cfs_err *err)
{
	struct parse *p;
	struct cfs_config *cfg;
	int rc;
	if (!name)
		name = "(config)";
	*out = NULL;
	p = calloc(1, sizeof *p);
	cfg = calloc(1, sizeof *cfg);
	if (!p || !cfg) {
		free(p);
		free(cfg);
		return cfs_errf(err, -ENOMEM, "%s: out of memory", name);
	}
	cfg->cipher = CFS_CIPHER_AUTO;
	cfg->hide_denied = 1;
	cfg->reads = CFS_READS_EVERY;
	cfg->flush_ms = 50;
	cfg->request_ttl = CFS_REQUEST_TTL_DEFAULT;
	p->cfg = cfg;
	p->err = err;
	p->name = name;
	p->pos = text;
	p->end = text + len;

	int r = ini_parse_stream(reader, p, handler, p);
	if (!p->rc) {
		if (r == -2)
			oom(p);
		else if (r != 0)  /* every syntax error is caught above; just in case */
			fail(p, -EINVAL, r > 0 ? r : 0, "syntax error");
	}
	if (!p->rc)
		post_checks(p);
	if (!p->rc) {
		cfg->file = strdup(name);
		if (!cfg->file)
			oom(p);
	}
	rc = p->rc;
	free(p);
	if (rc) {
		cfs_config_free(cfg);
		return rc;
	}
	*out = cfg;
	return 0;
}

int cfs_config_parse(const char *text, const char *name, struct cfs_config **out,
		     struct cfs_err *err)
{
	if (!out)
		return cfs_errf(err, -EINVAL, "%s: no output", name ? name : "(config)");
	*out = NULL;
	if (!text)
		return cfs_errf(err, -EINVAL, "%s: no text", name ? name : "(config)");
	return parse_buf(text, strlen(text), name, out, err);
}

int cfs_config_load(const char *file, struct cfs_config **out, struct cfs_err *err)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd, rc;
	if (!out)
		return cfs_errf(err, -EINVAL, "%s: no output", file ? file : "(config)");
	*out = NULL;
	if (!file)
		return cfs_errf(err, -EINVAL, "(config): no file name");
	/* O_NONBLOCK: a FIFO planted as the config must not hang us */
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		return cfs_errf(err, rc, "%s: cannot open: %s", file, strerror(-rc));
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return cfs_errf(err, rc, "%s: cannot stat: %s", file, strerror(-rc));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return cfs_errf(err, -EISDIR, "%s: cannot read: %s", file, strerror(EISDIR));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return cfs_errf(err, -EINVAL, "%s: not a regular file", file);
	}
	if (st.st_size > CFG_FILE_MAX) {
		close(fd);
		return cfs_errf(err, -EFBIG, "%s: file too large (more than %d bytes)", file,
				CFG_FILE_MAX);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return cfs_errf(err, -ENOMEM, "%s: out of memory", file);
	}
	/* never more than the size we allocated for, even if the file grows */
	ssize_t r = cfs_pread_full(fd, buf, (size_t)st.st_size, 0);
	close(fd);
	if (r < 0) {
		free(buf);
		return cfs_errf(err, (int)r, "%s: cannot read: %s", file, strerror((int)-r));
	}
	got = (size_t)r;
	buf[got] = 0;
	rc = parse_buf(buf, got, file, out, err);
	free(buf);
	return rc;
}

const struct cfs_class *cfs_config_class(const struct cfs_config *cfg, const char *name)
{
	if (!cfg || !name)
		return NULL;
	for (int i = 0; i < cfg->nclasses && i < CFS_LIST_MAX; i++)
		if (!strcmp(cfg->classes[i].name, name))
			return &cfg->classes[i];
	return NULL;
}

const struct cfs_role *cfs_config_role(const struct cfs_config *cfg, const char *name)
{
	if (!cfg || !name)
		return NULL;
	for (int i = 0; i < cfg->nroles && i < CFS_LIST_MAX; i++)
		if (!strcmp(cfg->roles[i].name, name))
			return &cfg->roles[i];
	return NULL;
}

int cfs_config_is_export_tool(const struct cfs_config *cfg, const char *exe)
{
	if (!cfg || !exe)
		return 0;
	for (int i = 0; i < cfg->export_tools.n; i++)
		if (!strcmp(cfg->export_tools.v[i], exe))
			return 1;
	return 0;
}
