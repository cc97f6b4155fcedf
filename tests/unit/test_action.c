/* test_action.c — the action table (fs/action.c): the exact stored name of
 * every enum value, its properties, name <-> enum round trips, unknown
 * names refused; that every place listing the actions for people (the
 * README's "Audit log" table, coach-audit(8), the bash completion and
 * coach-audit --help) lists exactly the table's names in its order; and
 * that a row read back from audit.db with a name this version does not
 * know keeps its text. Files are read from the source tree (CFS_TOP, else
 * the current directory, as make test runs it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

#include "coachfs/action.h"
#include "coachfs/audit.h"
#include "t.h"

/* The stored names: a contract (README, "Audit log"). */
static const char *const WANT[CFS_ACT_COUNT] = {
	[CFS_ACT_MOUNT] = "mount", [CFS_ACT_UNMOUNT] = "unmount", [CFS_ACT_OPEN] = "open",
	[CFS_ACT_REPLAY] = "replay", [CFS_ACT_READ] = "read", [CFS_ACT_WRITE] = "write",
	[CFS_ACT_RELEASE] = "release", [CFS_ACT_CREATE] = "create", [CFS_ACT_UNLINK] = "unlink",
	[CFS_ACT_RENAME] = "rename", [CFS_ACT_EXPORT] = "export", [CFS_ACT_SETXATTR] = "setxattr",
	[CFS_ACT_TAMPER] = "tamper", [CFS_ACT_GRANT_ADD] = "grant_add",
	[CFS_ACT_GRANT_REVOKE] = "grant_revoke", [CFS_ACT_GRANT_APPROVE] = "grant_approve",
	[CFS_ACT_GRANT_REQUEST] = "grant_request", [CFS_ACT_GRANT_DENY] = "grant_deny",
	[CFS_ACT_BREAKGLASS] = "breakglass", [CFS_ACT_BREAKGLASS_REVIEW] = "breakglass_review",
	[CFS_ACT_LINK_ISSUE] = "link_issue", [CFS_ACT_LINK_USE] = "link_use",
	[CFS_ACT_AUDIT_QUERY] = "audit_query",
};

static void names(void)
{
	T_EQ_INT(CFS_ACT_COUNT, 23);
	for (int k = 0; k < CFS_ACT_COUNT; k++)
		T_EQ_STR(cfs_action_name((enum cfs_action)k), WANT[k]);
	T_CHECK(cfs_action_name(CFS_ACT_COUNT) == NULL);
	T_CHECK(cfs_action_name((enum cfs_action)-1) == NULL);
	T_CHECK(cfs_action_name((enum cfs_action)1000) == NULL);
}

static void flags(void)
{
	for (int k = 0; k < CFS_ACT_COUNT; k++) {
		unsigned want = k == CFS_ACT_OPEN || k == CFS_ACT_REPLAY ? CFS_ACTF_OPENS
				: k == CFS_ACT_READ ? CFS_ACTF_READS
				: k == CFS_ACT_EXPORT ? CFS_ACTF_EXPORTS : 0;
		T_EQ_INT(cfs_action_flags((enum cfs_action)k), want);
	}
	T_EQ_INT(cfs_action_flags(CFS_ACT_COUNT), 0);
	T_EQ_INT(cfs_action_flags((enum cfs_action)-1), 0);
}

static void round_trip(void)
{
	for (int k = 0; k < CFS_ACT_COUNT; k++) {
		enum cfs_action a = CFS_ACT_COUNT;
		T_EQ_INT(cfs_action_parse(WANT[k], &a), 0);
		T_EQ_INT(a, k);
		T_EQ_INT(cfs_action_parse(cfs_action_name(a), &a), 0);
		T_EQ_INT(a, k);
	}
}

static void unknown_refused(void)
{
	static const char *const bad[] = { "", "deny", "allow", "Open", "OPEN", "open ", " open",
					   "opens", "ope", "grant", "grant_", "read\n", "audit-query",
					   "release\t", "mount;", "\xff" };
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		enum cfs_action a = CFS_ACT_TAMPER;
		T_EQ_INT(cfs_action_parse(bad[k], &a), -EINVAL);
		T_EQ_INT(a, CFS_ACT_TAMPER);   /* untouched */
	}
	enum cfs_action a = CFS_ACT_TAMPER;
	T_EQ_INT(cfs_action_parse(NULL, &a), -EINVAL);
	T_EQ_INT(a, CFS_ACT_TAMPER);
}

static void list(void)
{
	char buf[CFS_ACTION_LIST_MAX], small[12];
	cfs_action_list(buf, sizeof buf);
	T_EQ_STR(buf, "mount, unmount, open, replay, read, write, release, create, unlink, rename, "
		 "export, setxattr, tamper, grant_add, grant_revoke, grant_approve, grant_request, "
		 "grant_deny, breakglass, breakglass_review, link_issue, link_use, audit_query");
	memset(small, 'x', sizeof small);
	cfs_action_list(small, sizeof small);
	T_EQ_STR(small, "mount, unmo");   /* cut, and terminated */
}

/* ---- the places that list the actions for people ---- */

static char *slurp(const char *rel)
{
	const char *top = getenv("CFS_TOP");
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", top && *top ? top : ".", rel);
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 20);
	size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (buf)
		buf[n] = 0;
	return buf;
}

/* The words, joined by one space. */
struct words {
	char s[2048];
};

static void add_word(struct words *w, const char *p, size_t n)
{
	size_t l = strlen(w->s);
	if (!n || l + n + 2 >= sizeof w->s)
		return;
	if (l)
		w->s[l++] = ' ';
	memcpy(w->s + l, p, n);
	w->s[l + n] = 0;
}

/* Every run of [a-z_] in p..end. */
static void add_runs(struct words *w, const char *p, const char *end)
{
	while (p < end) {
		size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
		if (p + n > end)
			n = (size_t)(end - p);
		add_word(w, p, n);
		p += n ? n : 1;
	}
}

static void table_words(struct words *w)
{
	w->s[0] = 0;
	for (int k = 0; k < CFS_ACT_COUNT; k++)
		add_word(w, cfs_action_name((enum cfs_action)k), strlen(cfs_action_name((enum cfs_action)k)));
}

/* README, "Audit log": the row "| `action` | ... |": each `word` outside
 * parentheses (those say more about the word before them). */
static int readme_words(const char *text, struct words *w)
{
	const char *p = strstr(text, "\n| `action` |");
	w->s[0] = 0;
	if (!p)
		return -1;
	p += strlen("\n| `action` |");
	int depth = 0;
	for (; *p && *p != '\n'; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
		else if (*p == '`') {
			const char *q = strchr(p + 1, '`');
			if (!q)
				return -1;
			if (depth == 0)
				add_word(w, p + 1, (size_t)(q - p - 1));
			p = q;
		}
	}
	return 0;
}

/* coach-audit(8): the .Cm lines after ".It Fl -action", up to "any other word". */
static int man_words(const char *text, struct words *w)
{
	const char *p = strstr(text, "\n.It Fl -action"), *end = p ? strstr(p, "any other word") : NULL;
	w->s[0] = 0;
	if (!p || !end)
		return -1;
	while ((p = strstr(p, "\n.Cm ")) && p < end) {
		const char *eol = strchr(p + 1, '\n');
		add_runs(w, p + 5, eol ? eol : end);
		p = eol ? eol : end;
	}
	return 0;
}

/* The bash completion: the words given after "--action)". */
static int completion_words(const char *text, struct words *w)
{
	const char *p = strstr(text, "\t--action)"), *q, *e;
	w->s[0] = 0;
	if (!p || !(q = strstr(p, "_cfs_words \"")) || !(e = strchr(q + 12, '"')))
		return -1;
	add_runs(w, q + 12, e);
	return 0;
}

/* coach-audit --help (tools/coach-audit.c): the text of the string
 * literals from "one of:" to "--result", \n escapes dropped. */
static int help_words(const char *text, struct words *w)
{
	const char *p = strstr(text, "--action A     one of:"), *end = p ? strstr(p, "--result") : NULL;
	char part[2048];
	size_t n = 0;
	int in = 1;
	w->s[0] = 0;
	if (!p || !end)
		return -1;
	for (p += strlen("--action A     one of:"); p < end && n < sizeof part - 1; p++) {
		if (*p == '"')
			in = !in;
		else if (in && *p == '\\')
			p++;
		else if (in)
			part[n++] = *p;
	}
	part[n] = 0;
	add_runs(w, part, part + n);
	return 0;
}

static void lists_agree(void)
{
	struct words want, got;
	table_words(&want);
	static const struct {
		const char *file;
		int (*words)(const char *, struct words *);
	} places[] = {
		{ "README.md", readme_words },
		{ "man/coach-audit.8", man_words },
		{ "etc/bash_completion.d/coachfs", completion_words },
		{ "tools/coach-audit.c", help_words },
	};
	for (size_t k = 0; k < sizeof places / sizeof places[0]; k++) {
		char *text = slurp(places[k].file);
		T_CHECK(text != NULL);
		if (!text)
			continue;
		T_EQ_INT(places[k].words(text, &got), 0);
		if (strcmp(got.s, want.s) != 0)
			T_FAILF("%s lists the actions \"%s\", the table \"%s\"", places[k].file, got.s,
				want.s);
		free(text);
	}
}

/* The extractors are not vacuous: a README that gains an action, or
 * loses one, no longer agrees. */
static void lists_check_can_fail(void)
{
	struct words want, got;
	table_words(&want);
	T_EQ_INT(readme_words("x\n| `action` | `mount`, `frob` (a `note`), `open` |\n", &got), 0);
	T_EQ_STR(got.s, "mount frob open");
	char *text = slurp("README.md");
	T_CHECK(text != NULL);
	if (!text)
		return;
	char *row = strstr(text, "\n| `action` | `mount`, ");
	T_CHECK(row != NULL);
	if (row) {
		/* drop `mount`: the first word of the row */
		char *m = row + strlen("\n| `action` | ");
		size_t cut = strlen("`mount`, ");
		memmove(m, m + cut, strlen(m + cut) + 1);
		T_EQ_INT(readme_words(text, &got), 0);
		T_CHECK(strcmp(got.s, want.s) != 0);
		T_CHECK(strncmp(got.s, "unmount open", 12) == 0);
	}
	free(text);
	T_EQ_INT(readme_words("no table here\n", &got), -1);
}

/* ---- rows ---- */

static int row_cb(const struct cfs_audit_row *r, void *arg)
{
	char *out = arg;
	size_t l = strlen(out);
	snprintf(out + l, 512 - l, "%lld %s %d;", (long long)r->id, r->action ? r->action : "NULL",
		 (int)r->ev.action);
	return 0;
}

static void rows_keep_unknown_names(void)
{
	char dir[] = "/tmp/cfs-action.XXXXXX", db[64], out[512] = "";
	struct cfs_err err = { "" };
	struct cfs_audit *a = NULL;
	struct cfs_event ev;
	T_CHECK(mkdtemp(dir) != NULL);
	snprintf(db, sizeof db, "%s/audit.db", dir);
	T_EQ_INT(cfs_audit_open(db, 1, &a, &err), 0);
	if (!a)
		return;
	/* an event with no action set is refused, not stored as action 0 */
	cfs_event_init(&ev);
	ev.result = "allow";
	T_EQ_INT(ev.action, CFS_ACT_COUNT);
	T_EQ_INT(cfs_audit_append(a, &ev, &err), -EINVAL);
	T_EQ_INT(cfs_audit_queue(a, &ev), -EINVAL);
	ev.action = (enum cfs_action)-1;
	T_EQ_INT(cfs_audit_append(a, &ev, &err), -EINVAL);
	for (int k = 0; k < 3; k++) {
		ev.action = k == 1 ? CFS_ACT_READ : CFS_ACT_OPEN;
		T_EQ_INT(cfs_audit_append(a, &ev, &err), 0);
	}
	T_EQ_INT(cfs_audit_close(a, &err), 0);
	/* the file is hostile: a name no version wrote */
	sqlite3 *s = NULL;
	T_EQ_INT(sqlite3_open(db, &s), SQLITE_OK);
	T_EQ_INT(sqlite3_exec(s, "DROP TRIGGER events_no_update;"
			      "UPDATE events SET action = 'frobnicate' WHERE id = 2", NULL, NULL,
			      NULL), SQLITE_OK);
	sqlite3_close(s);
	T_EQ_INT(cfs_audit_open_ro(db, &a, &err), 0);
	if (!a)
		return;
	T_EQ_INT(cfs_audit_query(a, NULL, row_cb, out, &err), 0);
	char want[128];
	snprintf(want, sizeof want, "1 open %d;2 frobnicate %d;3 open %d;", CFS_ACT_OPEN, CFS_ACT_COUNT,
		 CFS_ACT_OPEN);
	T_EQ_STR(out, want);
	/* filtering by an action still finds only its rows */
	struct cfs_audit_filter f;
	cfs_audit_filter_init(&f);
	f.has_action = 1;
	f.action = CFS_ACT_OPEN;
	out[0] = 0;
	T_EQ_INT(cfs_audit_query(a, &f, row_cb, out, &err), 0);
	snprintf(want, sizeof want, "1 open %d;3 open %d;", CFS_ACT_OPEN, CFS_ACT_OPEN);
	T_EQ_STR(out, want);
	/* a filter on no action is refused, not run as "any action" */
	f.action = CFS_ACT_COUNT;
	T_CHECK(cfs_audit_query(a, &f, row_cb, out, &err) < 0);
	cfs_audit_close(a, &err);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	T_EQ_INT(system(cmd), 0);
}

int main(void)
{
	T_RUN(names);
	T_RUN(flags);
	T_RUN(round_trip);
	T_RUN(unknown_refused);
	T_RUN(list);
	T_RUN(lists_agree);
	T_RUN(lists_check_can_fail);
	T_RUN(rows_keep_unknown_names);
	T_END();
}
