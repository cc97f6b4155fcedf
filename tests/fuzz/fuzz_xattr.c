/* fuzz_xattr.c — libFuzzer target for the policy attribute values a caller
 * hands to setxattr (access.c: cfs_policy_value_check) and for the attribute
 * block they are stored in (content.c: cfs_meta_*). The first input byte
 * picks the key and the mode; the rest is the value, NULs and all.
 * Results are checked against an independent reading of the README's "Policy attributes": a value
 * the checker accepts is one the daemon can store and read back unchanged;
 * a hostile attribute block is rejected or parsed within its bounds. */
#include "coachfs/access.h"
#include "coachfs/config.h"
#include "coachfs/content.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const char CONFIG[] =
	"[store]\npath = /srv/coachfs\n"
	"[policy]\ndb = /var/lib/coachfs/policy.db\ndefault_class = internal\n"
	"[audit]\ndb = /var/lib/coachfs/audit.db\n"
	"[roles]\nresponder = alice, @soc\nadmin = root\n"
	"[class.public]\nroles = *\n"
	"[class.internal]\nroles = responder, admin\n"
	"[class.sensitive]\ngrant = yes\nmax_ttl = 8h\nexport = deny\n"
	"[class.a-b_9]\ngrant = yes\nreaders = /usr/bin/less\nmax_opens = 3\n";

static const char *const KEYS[] = { "class", "export", "max_opens", "readers",
				    "", "classes", "Class", "class\n" };

static const struct cfs_config *config(void)
{
	static struct cfs_config *cfg;
	if (!cfg) {
		struct cfs_err e = { "" };
		REQUIRE(cfs_config_parse(CONFIG, "fuzz.ini", &cfg, &e) == 0);
	}
	return cfg;
}

/* max_opens: decimal digits only, 1..1000000 */
static int want_count(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 7)
		return n > 7 && strspn(s, "0") >= n - 7 && strspn(s, "0123456789") == n
			       ? want_count(s + n - 7) : 0;
	if (strspn(s, "0123456789") != n)
		return 0;
	unsigned long v = strtoul(s, NULL, 10);
	return v >= 1 && v <= 1000000;
}

/* readers: a comma list of absolute paths, blanks around entries ignored,
 * empty entries skipped, at most CFS_LIST_MAX of them */
static int want_readers(const char *s)
{
	int n = 0;
	for (const char *p = s;;) {
		const char *e = strchr(p, ',');
		const char *end = e ? e : p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p < end) {
			if (*p != '/' || ++n > CFS_LIST_MAX)
				return 0;
		}
		if (!e)
			return 1;
		p = e + 1;
	}
}

static void check_value(const char *key, const unsigned char *val, size_t len)
{
	const struct cfs_config *cfg = config();
	struct cfs_err e = { "" };
	int rc = cfs_policy_value_check(cfg, key, (const char *)val, len, &e);
	int known = !strcmp(key, "class") || !strcmp(key, "export") || !strcmp(key, "max_opens") ||
		    !strcmp(key, "readers");
	REQUIRE(rc == 0 || rc == -EINVAL || rc == -EOPNOTSUPP);
	/* an unknown key is never accepted (a bad value may be named first) */
	REQUIRE(known ? rc != -EOPNOTSUPP : rc != 0);
	if (rc < 0) {
		REQUIRE(e.msg[0] != 0 && memchr(e.msg, 0, sizeof e.msg) != NULL);
		return;
	}
	/* accepted: bounded, no NUL, and right by an independent reading */
	REQUIRE(len <= CFS_META_MAX && memchr(val, 0, len) == NULL);
	char *s = malloc(len + 1);
	REQUIRE(s != NULL);
	memcpy(s, val, len);
	s[len] = 0;
	if (!strcmp(key, "class"))
		REQUIRE(cfs_config_class(cfg, s) != NULL);
	else if (!strcmp(key, "export"))
		REQUIRE(!strcmp(s, "allow") || !strcmp(s, "log") || !strcmp(s, "deny"));
	else if (!strcmp(key, "max_opens"))
		REQUIRE(want_count(s));
	else
		REQUIRE(want_readers(s));

	/* what was accepted is stored and read back unchanged */
	unsigned char meta[CFS_META_MAX];
	size_t mlen = 0;
	char name[64];
	snprintf(name, sizeof name, "%s%s", CFS_XATTR_PREFIX, key);
	REQUIRE(cfs_meta_set(meta, &mlen, sizeof meta, "user.other", "x", 1) == 0);
	int set = cfs_meta_set(meta, &mlen, sizeof meta, name, s, len);
	REQUIRE(set == 0 || set == -ENOSPC);
	if (set == 0) {
		const unsigned char *v;
		size_t vl;
		REQUIRE(cfs_meta_valid(meta, mlen) == 0);
		REQUIRE(cfs_meta_get(meta, mlen, name, &v, &vl) == 0);
		REQUIRE(vl == len && memcmp(v, s, len) == 0);
		REQUIRE(cfs_meta_get(meta, mlen, "user.other", &v, &vl) == 0 && vl == 1 && *v == 'x');
		REQUIRE(cfs_meta_remove(meta, &mlen, name) == 0);
		REQUIRE(cfs_meta_get(meta, mlen, name, &v, &vl) == -ENODATA);
	}
	free(s);
}

/* A hostile attribute block (what a decrypted header could hold). */
static void check_block(const unsigned char *blk, size_t len)
{
	if (len > CFS_META_MAX)
		len = CFS_META_MAX;
	int valid = cfs_meta_valid(blk, len);
	REQUIRE(valid == 0 || valid == -EIO);
	char names[CFS_META_MAX * 2];
	ssize_t n = cfs_meta_list(blk, len, names, sizeof names);
	REQUIRE(n >= -EIO && (n < 0 || (size_t)n <= sizeof names));
	if (valid == 0)
		REQUIRE(n >= 0);
	for (size_t k = 0; k < 4; k++) {
		char name[64];
		const unsigned char *v = NULL;
		size_t vl = 0;
		snprintf(name, sizeof name, "%s%s", CFS_XATTR_PREFIX, KEYS[k]);
		int rc = cfs_meta_get(blk, len, name, &v, &vl);
		REQUIRE(rc == 0 || rc == -ENODATA || rc == -EIO);
		if (rc == 0)
			REQUIRE(v >= blk && v + vl <= blk + len);
	}
	if (valid == 0 && n > 0) {
		/* every listed name is found, inside the block */
		for (size_t p = 0; p < (size_t)n; p += strlen(names + p) + 1) {
			const unsigned char *v;
			size_t vl;
			REQUIRE(memchr(names + p, 0, (size_t)n - p) != NULL);
			REQUIRE(cfs_meta_get(blk, len, names + p, &v, &vl) == 0);
			REQUIRE(v >= blk && v + vl <= blk + len);
		}
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned sel = data[0];
	if (sel & 0x80)
		check_block(data + 1, size - 1);
	else
		check_value(KEYS[sel % (sizeof KEYS / sizeof KEYS[0])], data + 1, size - 1);
	return 0;
}
