/* config_syntax.c — the configuration's syntax (see config.c): messages
 * naming FILE:LINE with hostile values quoted safely, value syntax (names,
 * logins, paths, booleans, exports), comma lists, and the line reader that
 * feeds inih. It must never accept a line inih would read differently. */
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

/* ---- messages ---- */

/* Render a hostile value for a message: printable ASCII as is, the rest as
 * \xNN, quotes and backslashes escaped, at most CFG_QUOTE_MAX bytes of input. */
const char *cfs_cfg_quote(char *buf, size_t size, const char *s)
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


/* Record the first error: "NAME:LINE: msg", or "NAME: msg" when line is 0. */
int cfs_cfg_fail(struct parse *p, int rc, int line, const char *fmt, ...)
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

int cfs_cfg_oom(struct parse *p)
{
	return cfs_cfg_fail(p, -ENOMEM, 0, "out of memory");
}

/* ---- value syntax ---- */

int cfs_cfg_name_ok(const char *s)
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
const char *cfs_cfg_abs_path_problem(const char *s)
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

int cfs_cfg_parse_bool(const char *s, int *out)
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

void cfs_cfg_list_free(struct cfs_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

/* Split "a, b, c" into l (which must be empty). `what` is "[sect] key" for
 * messages. Role names are checked against [roles] after the whole file. */
int cfs_cfg_parse_list(struct parse *p, const char *what, const char *value, enum list_kind kind,
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
			return cfs_cfg_fail(p, -EINVAL, p->lineno, "%s: empty entry in list", what);
		size_t n = (size_t)(e - s);
		char *v = strndup(s, n);
		if (!v)
			return cfs_cfg_oom(p);
		const char *bad = NULL;
		if (kind == L_MEMBERS && !member_ok(v))
			bad = "is not a login name or @group";
		else if (kind == L_ROLES && strcmp(v, "*") != 0 && !cfs_cfg_name_ok(v))
			bad = "is not a role name";
		else if (kind == L_PATHS)
			bad = cfs_cfg_abs_path_problem(v);
		if (bad) {
			cfs_cfg_fail(p, -EINVAL, p->lineno, "%s: '%s' %s", what, cfs_cfg_quote(q, sizeof q, v), bad);
			free(v);
			return p->rc;
		}
		for (int i = 0; i < l->n; i++) {
			if (!strcmp(l->v[i], v)) {
				cfs_cfg_fail(p, -EINVAL, p->lineno, "%s: duplicate entry '%s'", what,
				     cfs_cfg_quote(q, sizeof q, v));
				free(v);
				return p->rc;
			}
		}
		if (l->n >= CFS_LIST_MAX) {
			free(v);
			return cfs_cfg_fail(p, -EINVAL, p->lineno, "%s: more than %d entries", what,
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
				return cfs_cfg_fail(p, -EINVAL, p->lineno,
					    "%s: '*' (every caller) must be the only entry", what);
	}
	return 0;
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
		return cfs_cfg_fail(p, -EINVAL, p->lineno, "section header without ']'");
	const char *after = close + 1;
	while (after < s + n && is_blank(*after))
		after++;
	if (after < s + n && *after != ';' && *after != '#')
		return cfs_cfg_fail(p, -EINVAL, p->lineno, "unexpected text after section header");
	size_t len = (size_t)(close - s - 1);
	memcpy(sect, s + 1, len);
	sect[len] = 0;

	p->key_in_sect = 0;
	if (!strncmp(sect, "class.", 6)) {
		const char *cname = sect + 6;
		if (!cfs_cfg_name_ok(cname))
			return cfs_cfg_fail(p, -EINVAL, p->lineno,
				    "bad class name '%s' in section header (1 to 63 of A-Z a-z 0-9 _ -)",
				    cfs_cfg_quote(q, sizeof q, cname));
		for (int i = 0; i < cfg->nclasses; i++)
			if (!strcmp(cfg->classes[i].name, cname))
				return cfs_cfg_fail(p, -EINVAL, p->lineno,
					    "duplicate section [class.%s] (first at line %d)", cname,
					    cfg->classes[i].line);
		if (cfg->nclasses >= CFS_LIST_MAX)
			return cfs_cfg_fail(p, -EINVAL, p->lineno, "more than %d classes", CFS_LIST_MAX);
		p->cls = cfg->nclasses++;
		struct cfs_class *c = &cfg->classes[p->cls];
		cfs_strlcpy(c->name, cname, sizeof c->name);
		c->line = p->lineno;
		c->export = CFS_EXPORT_ALLOW;
		p->sect = S_CLASS;
		return 0;
	}
	for (int s_ = S_STORE; s_ <= S_EXPORT; s_++) {
		if (s_ == S_CLASS || strcmp(sect, cfs_cfg_sect_names[s_]) != 0)
			continue;
		if (p->sect_line[s_])
			return cfs_cfg_fail(p, -EINVAL, p->lineno,
				    "duplicate section [%s] (first at line %d)", sect,
				    p->sect_line[s_]);
		p->sect_line[s_] = p->lineno;
		p->sect = (enum sect)s_;
		return 0;
	}
	return cfs_cfg_fail(p, -EINVAL, p->lineno, "unknown section [%s]", cfs_cfg_quote(q, sizeof q, sect));
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
		return cfs_cfg_fail(p, -EINVAL, p->lineno, "expected 'key = value' or '[section]'");
	size_t k = i;
	while (k > 0 && is_blank(s[k - 1]))
		k--;
	if (k == 0)
		return cfs_cfg_fail(p, -EINVAL, p->lineno, "missing key name before '='");
	memcpy(p->key, s, k);
	p->key[k] = 0;
	p->key_in_sect = 1;
	return 0;
}

/* fgets-like reader for ini_parse_stream: hands inih one whole line at a
 * time (so its line count is ours), after checking what inih would not:
 * length, NUL bytes, continuation lines, section headers (also empty,
 * duplicate and unknown ones) and key syntax. Returns NULL to stop. */
char *cfs_cfg_reader(char *str, int num, void *stream)
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
		cfs_cfg_fail(p, -EINVAL, p->lineno, "line too long (more than %d characters)", num - 3);
		return NULL;
	}
	if (memchr(line, 0, raw)) {
		cfs_cfg_fail(p, -EINVAL, p->lineno, "NUL byte in line");
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
		cfs_cfg_fail(p, -EINVAL, p->lineno,
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
