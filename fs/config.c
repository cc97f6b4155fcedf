/* config.c — the INI configuration (README, "Configuration"): reads the file with inih,
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
#include "config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const cfs_cfg_sect_names[S_LAST + 1] = {
	[S_STORE] = "store", [S_MOUNT] = "mount", [S_POLICY] = "policy",
	[S_AUDIT] = "audit", [S_ROLES] = "roles", [S_EXPORT] = "export", [S_GRANTS] = "grants",
};

const struct cfs_cfg_fixed_key cfs_cfg_fixed_keys[K_NKEYS] = {
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

const char *const cfs_cfg_class_keys[C_NKEYS] = {
	[C_GRANT] = "grant", [C_ROLES] = "roles", [C_WRITERS] = "writers",
	[C_MAX_TTL] = "max_ttl", [C_EXPORT] = "export", [C_APPROVAL] = "approval",
	[C_READERS] = "readers", [C_MAX_OPENS] = "max_opens", [C_AUDIT_READS] = "audit_reads",
	[C_BREAKGLASS] = "breakglass", [C_BREAKGLASS_TTL] = "breakglass_ttl",
};

/* ---- key handlers ---- */

static int set_path(struct parse *p, const char *what, const char *value, char **slot)
{
	char q[CFG_QUOTE_MAX * 4 + 8];
	const char *bad = cfs_cfg_abs_path_problem(value);
	if (bad)
		return cfs_cfg_fail(p, -EINVAL, p->lineno, "%s: '%s' %s", what, cfs_cfg_quote(q, sizeof q, value),
			    bad);
	*slot = strdup(value);
	return *slot ? 0 : cfs_cfg_oom(p);
}

/* "PROGRAM ARG..." split on blanks when run (no shell): PROGRAM must be an
 * absolute path like every other path here, and the line must not be blank. */
static int set_command(struct parse *p, const char *what, const char *value, char **slot)
{
	char q[CFG_QUOTE_MAX * 4 + 8], prog[4096];
	size_t n = strcspn(value, " \t");
	if (n >= sizeof prog)
		return cfs_cfg_fail(p, -EINVAL, p->lineno, "%s: program path too long", what);
	memcpy(prog, value, n);
	prog[n] = 0;
	for (const char *c = value; *c; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			return cfs_cfg_fail(p, -EINVAL, p->lineno, "%s: contains a control character", what);
	const char *bad = cfs_cfg_abs_path_problem(prog);
	if (bad)
		return cfs_cfg_fail(p, -EINVAL, p->lineno, "%s: program '%s' %s", what, cfs_cfg_quote(q, sizeof q, prog),
			    bad);
	*slot = strdup(value);
	return *slot ? 0 : cfs_cfg_oom(p);
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
		return cfs_cfg_fail(p, -EINVAL, p->lineno, "%s: '%s' is not a duration from %llds to %llds "
				    "(like 15m, 4h)", what, cfs_cfg_quote(q, sizeof q, value), (long long)lo,
				    (long long)hi);
	return 0;
}

static int fixed_key(struct parse *p, const char *value)
{
	struct cfs_config *cfg = p->cfg;
	const char *sname = cfs_cfg_sect_names[p->sect];
	char what[336], q[CFG_QUOTE_MAX * 4 + 8];
	int k;
	for (k = 0; k < K_NKEYS; k++)
		if (cfs_cfg_fixed_keys[k].s == p->sect && !strcmp(cfs_cfg_fixed_keys[k].name, p->key))
			break;
	if (k == K_NKEYS)
		return cfs_cfg_fail(p, -EINVAL, p->lineno, "unknown key '%s' in [%s]",
			    cfs_cfg_quote(q, sizeof q, p->key), sname);
	if (p->key_line[k])
		return cfs_cfg_fail(p, -EINVAL, p->lineno, "duplicate key '%s' in [%s] (first at line %d)",
			    p->key, sname, p->key_line[k]);
	p->key_line[k] = p->lineno;
	snprintf(what, sizeof what, "[%s] %s", sname, p->key);
	cfs_cfg_quote(q, sizeof q, value);

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
			return cfs_cfg_fail(p, -EINVAL, p->lineno,
				    "%s: '%s' is not auto, xchacha20poly1305 or aes256gcm", what, q);
		return 0;
	case K_MOUNT_HIDE:
		if (cfs_cfg_parse_bool(value, &cfg->hide_denied) < 0)
			return cfs_cfg_fail(p, -EINVAL, p->lineno, "%s: '%s' is not yes, no, true or false",
				    what, q);
		return 0;
	case K_POLICY_DB:
		return set_path(p, what, value, &cfg->policy_db);
	case K_POLICY_DEFCLASS:
		/* must name a class; checked once every class is known */
		if (!cfs_cfg_name_ok(value))
			return cfs_cfg_fail(p, -EINVAL, p->lineno, "%s: '%s' is not a class name", what, q);
		cfg->default_class = strdup(value);
		return cfg->default_class ? 0 : cfs_cfg_oom(p);
	case K_AUDIT_DB:
		return set_path(p, what, value, &cfg->audit_db);
	case K_AUDIT_READS:
		if (parse_reads(value, &cfg->reads) < 0)
			return cfs_cfg_fail(p, -EINVAL, p->lineno, "%s: '%s' is not every or open", what, q);
		return 0;
	case K_AUDIT_FLUSH: {
		uint64_t v;
		if (cfs_parse_uint(value, 10000, &v) < 0 || v < 1)
			return cfs_cfg_fail(p, -EINVAL, p->lineno,
				    "%s: '%s' is not a number from 1 to 10000", what, q);
		cfg->flush_ms = (uint32_t)v;
		return 0;
	}
	case K_EXPORT_TOOLS:
		return cfs_cfg_parse_list(p, what, value, L_PATHS, &cfg->export_tools);
	case K_GRANTS_REQTTL:
		return parse_ttl(p, what, value, 1, CFS_REQUEST_TTL_MAX, &cfg->request_ttl);
	case K_NKEYS:
		break;
	}
	return cfs_cfg_fail(p, -EINVAL, p->lineno, "internal error: key %d", k);
}

static int role_key(struct parse *p, const char *value)
{
	struct cfs_config *cfg = p->cfg;
	char what[336], q[CFG_QUOTE_MAX * 4 + 8];
	if (!cfs_cfg_name_ok(p->key))
		return cfs_cfg_fail(p, -EINVAL, p->lineno,
			    "[roles] bad role name '%s' (1 to 63 of A-Z a-z 0-9 _ -)",
			    cfs_cfg_quote(q, sizeof q, p->key));
	for (int i = 0; i < cfg->nroles; i++)
		if (!strcmp(cfg->roles[i].name, p->key))
			return cfs_cfg_fail(p, -EINVAL, p->lineno,
				    "duplicate key '%s' in [roles] (first at line %d)", p->key,
				    cfg->roles[i].line);
	if (cfg->nroles >= CFS_LIST_MAX)
		return cfs_cfg_fail(p, -EINVAL, p->lineno, "[roles] more than %d roles", CFS_LIST_MAX);
	struct cfs_role *r = &cfg->roles[cfg->nroles++];
	cfs_strlcpy(r->name, p->key, sizeof r->name);
	r->line = p->lineno;
	snprintf(what, sizeof what, "[roles] %s", p->key);
	return cfs_cfg_parse_list(p, what, value, L_MEMBERS, &r->members);
}

static int class_key(struct parse *p, const char *value)
{
	struct cfs_class *c = &p->cfg->classes[p->cls];
	char what[336], q[CFG_QUOTE_MAX * 4 + 8];
	int k;
	for (k = 0; k < C_NKEYS; k++)
		if (!strcmp(cfs_cfg_class_keys[k], p->key))
			break;
	if (k == C_NKEYS)
		return cfs_cfg_fail(p, -EINVAL, p->lineno, "unknown key '%s' in [class.%s]",
			    cfs_cfg_quote(q, sizeof q, p->key), c->name);
	if (p->class_key_line[p->cls][k])
		return cfs_cfg_fail(p, -EINVAL, p->lineno,
			    "duplicate key '%s' in [class.%s] (first at line %d)", p->key, c->name,
			    p->class_key_line[p->cls][k]);
	p->class_key_line[p->cls][k] = p->lineno;
	snprintf(what, sizeof what, "[class.%s] %s", c->name, p->key);
	cfs_cfg_quote(q, sizeof q, value);

	switch ((enum ckey)k) {
	case C_GRANT:
		if (cfs_cfg_parse_bool(value, &c->grant) < 0)
			return cfs_cfg_fail(p, -EINVAL, p->lineno, "%s: '%s' is not yes, no, true or false",
				    what, q);
		return 0;
	case C_ROLES:
		return cfs_cfg_parse_list(p, what, value, L_ROLES, &c->roles);
	case C_WRITERS:
		return cfs_cfg_parse_list(p, what, value, L_ROLES, &c->writers);
	case C_MAX_TTL:
		if (cfs_parse_duration(value, &c->max_ttl) < 0)
			return cfs_cfg_fail(p, -EINVAL, p->lineno,
				    "%s: '%s' is not a duration (like 90s, 15m, 4h, 2d)", what, q);
		return 0;
	case C_EXPORT:
		if (cfs_export_parse(value, &c->export) < 0)
			return cfs_cfg_fail(p, -EINVAL, p->lineno, "%s: '%s' is not allow, log or deny",
				    what, q);
		return 0;
	case C_AUDIT_READS:
		if (parse_reads(value, &c->reads) < 0)
			return cfs_cfg_fail(p, -EINVAL, p->lineno, "%s: '%s' is not every or open", what, q);
		return 0;
	case C_APPROVAL:
		if (!strcmp(value, "none"))
			c->approval = CFS_APPROVAL_NONE;
		else if (!strcmp(value, "two-person"))
			c->approval = CFS_APPROVAL_TWO_PERSON;
		else
			return cfs_cfg_fail(p, -EINVAL, p->lineno, "%s: '%s' is not none or two-person",
				    what, q);
		return 0;
	case C_READERS:
		return cfs_cfg_parse_list(p, what, value, L_PATHS, &c->readers);
	case C_BREAKGLASS:
		return cfs_cfg_parse_list(p, what, value, L_ROLES, &c->breakglass);
	case C_BREAKGLASS_TTL:
		return parse_ttl(p, what, value, 60, CFS_BREAKGLASS_TTL_MAX, &c->breakglass_ttl);
	case C_MAX_OPENS: {
		uint64_t v;
		if (cfs_parse_uint(value, 1000000, &v) < 0 || v < 1)
			return cfs_cfg_fail(p, -EINVAL, p->lineno,
				    "%s: '%s' is not a number from 1 to 1000000", what, q);
		c->max_opens = (uint32_t)v;
		return 0;
	}
	case C_NKEYS:
		break;
	}
	return cfs_cfg_fail(p, -EINVAL, p->lineno, "internal error: class key %d", k);
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
		cfs_cfg_fail(p, -EINVAL, p->lineno, "expected 'key = value'");
		return 0;
	}
	switch (p->sect) {
	case S_NONE: {
		char q[CFG_QUOTE_MAX * 4 + 8];
		cfs_cfg_fail(p, -EINVAL, p->lineno, "key '%s' outside any section",
		     cfs_cfg_quote(q, sizeof q, p->key));
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
			post_err(&e, 0, "missing required key '%s' in [%s]", cfs_cfg_fixed_keys[k].name,
				 cfs_cfg_sect_names[cfs_cfg_fixed_keys[k].s]);
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
		return cfs_cfg_fail(p, -EINVAL, e.line, "%s", e.msg);
	if (!cfg->state_db && cfg->policy_db) {
		/* default: state.db beside the policy database */
		const char *slash = strrchr(cfg->policy_db, '/');
		size_t n = slash ? (size_t)(slash - cfg->policy_db) + 1 : 0;
		cfg->state_db = malloc(n + sizeof "state.db");
		if (!cfg->state_db)
			return cfs_cfg_oom(p);
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
		cfs_cfg_list_free(&cfg->roles[i].members);
	for (int i = 0; i < cfg->nclasses && i < CFS_LIST_MAX; i++) {
		cfs_cfg_list_free(&cfg->classes[i].roles);
		cfs_cfg_list_free(&cfg->classes[i].writers);
		cfs_cfg_list_free(&cfg->classes[i].breakglass);
		cfs_cfg_list_free(&cfg->classes[i].readers);
	}
	cfs_cfg_list_free(&cfg->export_tools);
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
	*p = (struct parse){ .cfg = cfg, .err = err, .name = name, .pos = text, .end = text + len };

	int r = ini_parse_stream(cfs_cfg_reader, p, handler, p);
	if (!p->rc) {
		if (r == -2)
			cfs_cfg_oom(p);
		else if (r != 0)  /* every syntax error is caught above; just in case */
			cfs_cfg_fail(p, -EINVAL, r > 0 ? r : 0, "syntax error");
	}
	if (!p->rc)
		post_checks(p);
	if (!p->rc) {
		cfg->file = strdup(name);
		if (!cfg->file)
			cfs_cfg_oom(p);
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
