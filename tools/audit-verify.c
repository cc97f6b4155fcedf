/* audit-verify.c — coach-audit verify and head: the public key and pinned
 * heads an auditor passes, the verification audit.c performs, and its
 * report in text, JSON or CSV. It must never accept a log that does not
 * verify, nor print database or file text unescaped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coachfs/util.h"
#include "audit-cmd.h"

#define PINS_MAX 4096
#define PINS_FILE_MAX (1 << 20)

/* One more pin in *pins (grown as needed). Exit code 0, or cfs_say()'s. */
static int add_pin(const char *arg, long lineno, const char *line, struct cfs_audit_head **pins,
		   size_t *n, size_t *cap)
{
	struct cfs_err err = { "" };
	if (*n == PINS_MAX)
		return cfs_say(EXIT_USAGE, "--head: %.200s: more than %d heads", arg, PINS_MAX);
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct cfs_audit_head *np = realloc(*pins, nc * sizeof *np);
		if (!np)
			return cfs_say(EXIT_FAIL, "out of memory");
		*pins = np;
		*cap = nc;
	}
	if (cfs_audit_head_parse(line, &(*pins)[*n], &err) < 0)
		return cfs_say(EXIT_USAGE, "--head: %.200s:%ld: %s", arg, lineno, err.msg);
	(*n)++;
	return 0;
}

/* The heads in file arg (blank lines and # comments skipped). */
static int read_pins(const char *arg, FILE *f, struct cfs_audit_head **pins, size_t *n)
{
	char line[CFS_AUDIT_HEAD_LINE_MAX + 2];
	size_t total = 0, cap = 0;
	long lineno = 0;
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof line, f)) {
		size_t len = strlen(line);
		char *p = line;
		lineno++;
		total += len;
		if (total > PINS_FILE_MAX)
			return cfs_say(EXIT_USAGE, "--head: %.200s: larger than %d bytes", arg,
				   PINS_FILE_MAX);
		if (len == sizeof line - 1 && line[len - 1] != '\n')
			return cfs_say(EXIT_USAGE, "--head: %.200s:%ld: line too long for a head line",
				   arg, lineno);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\n' || *p == '\r' || *p == 0 || *p == '#')
			continue;
		rc = add_pin(arg, lineno, p, pins, n, &cap);
	}
	if (rc == 0 && ferror(f))
		rc = cfs_say(EXIT_USAGE, "--head: %.200s: %s", arg, strerror(errno));
	if (rc == 0 && *n == 0)
		rc = cfs_say(EXIT_USAGE, "--head: %.200s holds no head line", arg);
	return rc;
}

/* --head: a head line itself, else a file of them (blank lines and #
 * comments skipped). *out is malloc'd; exit code 0, or a cfs_say() code. */
static int load_pins(const char *arg, struct cfs_audit_head **out, size_t *n)
{
	static const char tag[] = "coachfs-audit-head-2";
	struct cfs_err err = { "" };
	struct cfs_audit_head *pins = NULL;
	*out = NULL;
	*n = 0;
	if (!*arg)
		return cfs_say(EXIT_USAGE, "--head: empty");
	if (strncmp(arg, tag, sizeof tag - 1) == 0) {
		pins = calloc(1, sizeof *pins);
		if (!pins)
			return cfs_say(EXIT_FAIL, "out of memory");
		if (cfs_audit_head_parse(arg, pins, &err) < 0) {
			free(pins);
			return cfs_say(EXIT_USAGE, "--head: %s", err.msg);
		}
		*out = pins;
		*n = 1;
		return 0;
	}
	FILE *f = fopen(arg, "re");
	if (!f)
		return cfs_say(EXIT_USAGE, "--head: %.200s: %s (want a head line or a file of them)",
			   arg, strerror(errno));
	int rc = read_pins(arg, f, &pins, n);
	fclose(f);
	if (rc != 0) {
		free(pins);
		*n = 0;
		return rc;
	}
	*out = pins;
	return 0;
}

/* The public key: --pubkey, else DB.pub beside the database with a loud
 * warning (whoever can rewrite the database can usually replace that file
 * too). Exit code 0, or a cfs_say() code. */
int cfs_at_load_pubkey(const struct cfs_at_opts *o, const char *db, unsigned char pk[CFS_AUDIT_PK_BYTES])
{
	struct cfs_err err = { "" };
	char keyfile[4200];
	const char *key = o->pubkey;
	if (!key) {
		if ((size_t)snprintf(keyfile, sizeof keyfile, "%s.pub", db) >= sizeof keyfile)
			return cfs_say(EXIT_USAGE, "--db: path too long");
		if (access(keyfile, F_OK) < 0)
			return cfs_say(EXIT_FAIL, "no audit public key: %s: %s (pass --pubkey with the "
				   "key printed by coach-admin init)", keyfile, strerror(errno));
		key = keyfile;
	}
	if (cfs_audit_read_pubkey(key, pk, &err) < 0)
		return cfs_say(o->pubkey ? EXIT_USAGE : EXIT_FAIL, "%s", err.msg);
	if (!o->pubkey) {
		char m[sizeof keyfile];
		cfs_term_buf(keyfile, m, sizeof m);
		fprintf(stderr, PROG ": WARNING: the audit public key was read from %s, beside the "
			"database: it proves nothing against someone who can write there (they can "
			"replace the key with their own and re-sign everything). Pass --pubkey with "
			"the key printed by coach-admin init, kept elsewhere.\n", m);
	}
	return 0;
}

static void print_report_text(const struct cfs_verify_report *r)
{
	char when[40];
	printf("audit log verified: %lld event%s, %lld checkpoint%s", (long long)r->rows,
	       r->rows == 1 ? "" : "s", (long long)r->checkpoints,
	       r->checkpoints == 1 ? "" : "s");
	if (r->checkpoints_v1)
		printf(" (%lld of the old format)", (long long)r->checkpoints_v1);
	if (r->newest_ts) {
		cfs_at_fmt_local(r->newest_ts, when, sizeof when);
		if (r->has_head && r->head.last_id == r->last_sealed_id)
			printf("; newest checkpoint seq %lld at %s", (long long)r->head.seq, when);
		else
			printf("; newest checkpoint (old format) at %s", when);
	}
	if (r->pins)
		printf("; %lld pinned head%s present", (long long)r->pins, r->pins == 1 ? "" : "s");
	if (r->unsealed == 0)
		printf("; all sealed\n");
	else
		printf("; %lld event%s after the last checkpoint %s not yet sealed\n",
		       (long long)r->unsealed, r->unsealed == 1 ? "" : "s",
		       r->unsealed == 1 ? "is" : "are");
}

static void verify_json(const struct cfs_at_opts *o, int rc, const struct cfs_verify_report *r,
			const char *msg)
{
	int newest = r->has_head && r->head.last_id == r->last_sealed_id;
	printf("{\"verified\":%s,\"events\":%lld,\"checkpoints\":%lld,"
	       "\"last_sealed_id\":%lld,\"unsealed\":%lld,\"first_bad\":%lld,",
	       rc == 0 ? "true" : "false", (long long)r->rows, (long long)r->checkpoints,
	       (long long)r->last_sealed_id, (long long)r->unsealed, (long long)r->first_bad);
	fputs("\"newest_seq\":", stdout);
	cfs_at_json_int(stdout, newest ? r->head.seq : CFS_AUDIT_NONE);
	fputs(",\"newest_ts\":", stdout);
	cfs_at_json_int(stdout, r->newest_ts ? r->newest_ts : CFS_AUDIT_NONE);
	printf(",\"pinned\":%lld,\"pubkey_beside_db\":%s,\"error\":", (long long)r->pins,
	       o->pubkey ? "false" : "true");
	cfs_put_json_str(stdout, rc == 0 ? NULL : msg);
	fputs("}\n", stdout);
}

static void verify_csv(const struct cfs_at_opts *o, int rc, const struct cfs_verify_report *r,
		       const char *msg)
{
	int newest = r->has_head && r->head.last_id == r->last_sealed_id;
	printf("verified,events,checkpoints,last_sealed_id,unsealed,first_bad,newest_seq,"
	       "newest_ts,pinned,pubkey_beside_db,error\r\n"
	       "%s,%lld,%lld,%lld,%lld,%lld,", rc == 0 ? "true" : "false", (long long)r->rows,
	       (long long)r->checkpoints, (long long)r->last_sealed_id, (long long)r->unsealed,
	       (long long)r->first_bad);
	cfs_at_csv_int(stdout, newest ? r->head.seq : CFS_AUDIT_NONE);
	putchar(',');
	cfs_at_csv_int(stdout, r->newest_ts ? r->newest_ts : CFS_AUDIT_NONE);
	printf(",%lld,%s,", (long long)r->pins, o->pubkey ? "false" : "true");
	cfs_put_csv_str(stdout, rc == 0 ? NULL : msg);
	fputs("\r\n", stdout);
}

int cfs_at_cmd_verify(const struct cfs_at_opts *o, const char *db, int live)
{
	unsigned char pk[CFS_AUDIT_PK_BYTES];
	struct cfs_verify_report r;
	struct cfs_err err = { "" };
	struct cfs_audit *none = NULL;
	struct cfs_audit_head *pins = NULL;
	size_t npins = 0;
	char m[sizeof err.msg];
	int rc;
	if (o->head && (rc = load_pins(o->head, &pins, &npins)) != 0)
		return rc;
	if ((rc = cfs_at_load_pubkey(o, db, pk)) != 0 ||
	    (rc = cfs_at_open(db, live, 0, "verify", NULL, npins ? " head" : "", &none)) != 0) {
		free(pins);
		return rc;
	}
	rc = cfs_audit_verify_pinned(db, pk, pins, npins, &r, &err);
	free(pins);
	if (o->fmt == FMT_JSON)
		verify_json(o, rc, &r, err.msg);
	else if (o->fmt == FMT_CSV)
		verify_csv(o, rc, &r, err.msg);
	else if (rc == 0)
		print_report_text(&r);
	if (fflush(stdout) != 0)
		return cfs_say(EXIT_FAIL, "writing output: %s", strerror(errno));
	cfs_term_buf(err.msg, m, sizeof m);
	if (rc == -EBADMSG)
		return cfs_say(EXIT_FAIL, "audit log NOT verified: %s", m);
	if (rc == -EINVAL && npins)
		return cfs_say(EXIT_USAGE, "--head: %s", m);
	if (rc < 0)
		return cfs_say(EXIT_FAIL, "%s", m);
	return EXIT_OK;
}

/* The newest signed head of a log that verifies, for an auditor to keep. */
int cfs_at_cmd_head(const struct cfs_at_opts *o, const char *db, int live)
{
	unsigned char pk[CFS_AUDIT_PK_BYTES];
	struct cfs_verify_report r;
	struct cfs_err err = { "" };
	struct cfs_audit *none = NULL;
	char line[CFS_AUDIT_HEAD_LINE_MAX];
	int rc;
	if ((rc = cfs_at_load_pubkey(o, db, pk)) != 0 ||
	    (rc = cfs_at_open(db, live, 0, "head", NULL, "", &none)) != 0)
		return rc;
	rc = cfs_audit_verify(db, pk, &r, &err);
	if (rc < 0) {
		char m[sizeof err.msg];
		cfs_term_buf(err.msg, m, sizeof m);
		if (rc == -EBADMSG)
			return cfs_say(EXIT_FAIL, "audit log NOT verified, so no head to pin: %s", m);
		return cfs_say(EXIT_FAIL, "%s", m);
	}
	if (!r.has_head || r.head.last_id != r.last_sealed_id)
		return cfs_say(EXIT_FAIL, "%s: no checkpoint of the current format yet (the daemon "
			   "signs one when it mounts)", db);
	cfs_audit_head_format(&r.head, line, sizeof line);
	if (o->fmt == FMT_JSON) {
		char h[2 * 64 + 1];
		printf("{\"format\":\"coachfs-audit-head-2\",\"seq\":%lld,\"last_id\":%lld,\"ts\":%lld,",
		       (long long)r.head.seq, (long long)r.head.last_id, (long long)r.head.ts);
		cfs_at_hex(r.head.last_hash, sizeof r.head.last_hash, h);
		printf("\"last_hash\":\"%s\",", h);
		cfs_at_hex(r.head.prev, sizeof r.head.prev, h);
		printf("\"prev\":\"%s\",", h);
		cfs_at_hex(r.head.sig, sizeof r.head.sig, h);
		printf("\"sig\":\"%s\",\"line\":\"%s\"}\n", h, line);
	} else {
		printf("%s\n", line);
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		return cfs_say(EXIT_FAIL, "writing output: %s", strerror(errno));
	return EXIT_OK;
}
