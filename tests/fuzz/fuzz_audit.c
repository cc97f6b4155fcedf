/* fuzz_audit.c — libFuzzer target for fs/audit.c. It owns nothing but a
 * private temporary directory; it must never touch any other database.
 *
 *   mode 0: arbitrary event fields -> cfs_audit_encode; the encoding must be
 *           self-consistent for every buffer size and decode back to exactly
 *           the fields given (so NULL, "", 0 and column boundaries can never
 *           collide).
 *   mode 1: the input is an audit.db file -> cfs_audit_verify must return a
 *           verdict without crashing or leaking.
 *   mode 2: a valid, sealed audit.db with fuzz-chosen bytes flipped ->
 *           cfs_audit_verify, same property (SQLite's own corruption
 *           checks and ours must both hold up).
 *   mode 3: the input is a pinned head line -> cfs_audit_head_parse; what
 *           parses formats back to a line that parses to the same head,
 *           and a head not signed by the key never checks.
 *
 * Build and run (from the top of the tree):
 *   clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
 *     -Iinclude tests/fuzz/fuzz_audit.c fs/audit.c fs/util.c \
 *     $(pkg-config --cflags --libs libsodium sqlite3) -pthread -o build/fuzz/fuzz_audit
 *   build/fuzz/fuzz_audit -max_total_time=60
 */
#include "coachfs/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[64];
static char g_db[128];
static unsigned char g_pk[32];
static unsigned char *g_template;
static size_t g_template_len;

__attribute__((noreturn)) static void die(const char *what)
{
	fprintf(stderr, "fuzz_audit: %s\n", what);
	abort();
}

static void write_file(const char *path, const unsigned char *p, size_t n)
{
	char side[160];
	int fd;
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (n && write(fd, p, n) != (ssize_t)n) || close(fd) < 0)
		die("write_file");
}

static unsigned char *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p;
	long len;
	if (!f || fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) < 0)
		die("read_file");
	p = malloc((size_t)len);
	if (!p || fread(p, 1, (size_t)len, f) != (size_t)len)
		die("read_file");
	fclose(f);
	*n = (size_t)len;
	return p;
}

static void cleanup(void)
{
	char p[160];
	const char *sfx[] = { "", "-wal", "-shm", ".tpl", ".tpl-wal", ".tpl-shm" };
	for (size_t k = 0; k < sizeof sfx / sizeof sfx[0]; k++) {
		snprintf(p, sizeof p, "%s%s", g_db, sfx[k]);
		unlink(p);
	}
	rmdir(g_dir);
	free(g_template);
}

/* A sealed 6-row log with a fixed key: the same bytes every run. */
static void make_template(void)
{
	unsigned char seed[32], sk[64];
	char tpl[160];
	struct cfs_audit *a = NULL;
	struct cfs_err err;
	struct cfs_event ev;
	memset(seed, 7, sizeof seed);
	crypto_sign_seed_keypair(g_pk, sk, seed);
	snprintf(tpl, sizeof tpl, "%s.tpl", g_db);
	if (cfs_audit_open(tpl, 1, &a, &err) < 0 || cfs_audit_start(a, 10, sk, &err) < 0)
		die(err.msg);
	for (int k = 1; k <= 6; k++) {
		cfs_event_init(&ev);
		ev.ts = 1790000000000000LL + k;
		ev.host = "fuzz";
		ev.uid = 1000;
		ev.user = k % 2 ? "alice" : "";
		ev.action = k == 1 ? CFS_ACT_OPEN : CFS_ACT_READ;
		ev.path = "/inc/a";
		ev.result = "allow";
		ev.offset = k * 10;
		ev.length = 10;
		if (cfs_audit_append(a, &ev, &err) < 0)
			die(err.msg);
		if (k == 3 && cfs_audit_checkpoint(a, &err) < 0)
			die(err.msg);
	}
	if (cfs_audit_close(a, &err) < 0)
		die(err.msg);
	sodium_memzero(sk, sizeof sk);
	g_template = read_file(tpl, &g_template_len);
	struct cfs_verify_report r;
	if (cfs_audit_verify(tpl, g_pk, &r, &err) != 0 || r.rows != 6 || r.unsealed != 0)
		die("template does not verify");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		die("sodium_init");
	snprintf(g_dir, sizeof g_dir, "/tmp/fuzz_audit.XXXXXX");
	if (!mkdtemp(g_dir))
		die("mkdtemp");
	snprintf(g_db, sizeof g_db, "%s/audit.db", g_dir);
	atexit(cleanup);
	make_template();
	return 0;
}

/* ---- mode 0: the encoding */

static uint64_t rd64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int k = 0; k < 8; k++)
		v = v << 8 | p[k];
	return v;
}

static void check_encoding(const uint8_t *data, size_t size)
{
	/* Fields come from the input: 1 flag byte (which are NULL / which ints
	 * are set), 8 bytes per integer, then NUL-separated strings. */
	struct cfs_event ev;
	char *strs[7] = { 0 };
	int64_t ints[7];
	char *copy;
	uint16_t flags = 0;
	size_t off = 0;
	cfs_event_init(&ev);
	if (size >= 2) {
		flags = (uint16_t)(data[0] | data[1] << 8);
		off = 2;
	}
	for (int k = 0; k < 7; k++) {
		if (off + 8 <= size) {
			ints[k] = (int64_t)rd64(data + off);
			off += 8;
		} else {
			ints[k] = 0;
		}
	}
	copy = malloc(size - off + 1);
	if (!copy)
		die("oom");
	memcpy(copy, data + off, size - off);
	copy[size - off] = 0;
	{
		char *p = copy, *end = copy + (size - off);
		for (int k = 0; k < 7; k++) {
			strs[k] = p;
			size_t l = strlen(p);
			p = p + l < end ? p + l + 1 : end;
		}
	}
	/* flags bit k (0..6): string k is NULL; bit 7+k: int k is NULL */
	/* string 3 is the action: its first byte picks one of the table's,
	 * or none (CFS_ACT_COUNT, encoded as NULL) */
	const char *act_text = NULL;
	const char **sp[7] = { &ev.host, &ev.user, &ev.exe, &act_text, &ev.path, &ev.result,
			       &ev.reason };
	int64_t *ip[6] = { &ev.ts, &ev.uid, &ev.pid, &ev.grant_id, &ev.offset, &ev.length };
	for (int k = 0; k < 7; k++)
		*sp[k] = flags & (1u << k) ? NULL : strs[k];
	ev.action = act_text ? (enum cfs_action)((unsigned char)act_text[0] % (CFS_ACT_COUNT + 1))
			     : CFS_ACT_COUNT;
	for (int k = 0; k < 6; k++)
		*ip[k] = flags & (1u << (7 + k)) ? CFS_AUDIT_NONE : ints[k];
	int64_t id = ints[6];

	size_t need = cfs_audit_encode(&ev, id, NULL, 0);
	if (need < 14 * 5)
		die("encoding too short");
	unsigned char *full = malloc(need + 1), *part = malloc(need + 1);
	if (!full || !part)
		die("oom");
	full[need] = 0xa5;
	if (cfs_audit_encode(&ev, id, full, need) != need || full[need] != 0xa5)
		die("encode with exact cap");
	size_t cut = size ? data[size - 1] % (need + 1) : need / 2;
	memset(part, 0x5a, need + 1);
	if (cfs_audit_encode(&ev, id, part, cut) != need)
		die("encode with short cap: wrong length");
	for (size_t k = cut; k <= need; k++)
		if (part[k] != 0x5a)
			die("encode wrote past cap");
	/* Whatever fitted is a prefix of the full encoding, up to whole pieces. */
	for (size_t k = 0; k < cut; k++)
		if (part[k] != full[k] && part[k] != 0x5a)
			die("encode with short cap: different bytes");

	/* Decode and compare: the encoding is injective. */
	static const int is_text[14] = { 0, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0 };
	const char *texts[14] = { 0 };
	int64_t nums[14] = { 0 };
	texts[2] = ev.host; texts[4] = ev.user; texts[6] = ev.exe; texts[7] = cfs_action_name(ev.action);
	texts[8] = ev.path; texts[9] = ev.result; texts[10] = ev.reason;
	nums[0] = id; nums[1] = ev.ts; nums[3] = ev.uid; nums[5] = ev.pid;
	nums[11] = ev.grant_id; nums[12] = ev.offset; nums[13] = ev.length;
	size_t p = 0;
	for (int c = 0; c < 14; c++) {
		if (p + 5 > need)
			die("decode: truncated");
		unsigned tag = full[p];
		uint32_t len = (uint32_t)full[p + 1] << 24 | (uint32_t)full[p + 2] << 16 |
			       (uint32_t)full[p + 3] << 8 | full[p + 4];
		p += 5;
		if (p + len > need)
			die("decode: length past end");
		if (is_text[c]) {
			if (!texts[c]) {
				if (tag != 0 || len != 0)
					die("decode: NULL text");
			} else if (tag != 2 || len != strlen(texts[c]) ||
				   memcmp(full + p, texts[c], len) != 0) {
				die("decode: text");
			}
		} else {
			if (nums[c] == CFS_AUDIT_NONE) {
				if (tag != 0 || len != 0)
					die("decode: NULL integer");
			} else if (tag != 1 || len != 8 || (int64_t)rd64(full + p) != nums[c]) {
				die("decode: integer");
			}
		}
		p += len;
	}
	if (p != need)
		die("decode: trailing bytes");
	free(full);
	free(part);
	free(copy);
}

/* ---- modes 1 and 2: verify a hostile file */

static void verify_file(void)
{
	struct cfs_verify_report r;
	struct cfs_err err;
	int rc = cfs_audit_verify(g_db, g_pk, &r, &err);
	if (rc == 0 && r.first_bad != 0)
		die("verified with a bad event");
	if (rc == -EBADMSG && r.first_bad <= 0)
		die("rejected without naming an event");
	if (r.rows < 0 || r.checkpoints < 0 || r.unsealed < 0 || r.last_sealed_id < 0 ||
	    r.checkpoints_v1 < 0 || r.checkpoints_v1 > r.checkpoints || r.pins != 0)
		die("negative counts");
	if (r.has_head && (r.head.seq < 1 || cfs_audit_head_check(&r.head, g_pk) != 0))
		die("reported a head that does not check");
}

/* ---- mode 3: head lines */

static void check_head_line(const uint8_t *data, size_t size)
{
	struct cfs_audit_head h, g;
	struct cfs_err err;
	char line[CFS_AUDIT_HEAD_LINE_MAX];
	char *s = malloc(size + 1);
	if (!s)
		die("oom");
	memcpy(s, data, size);
	s[size] = 0;
	if (cfs_audit_head_parse(s, &h, &err) == 0) {
		if (h.seq < 1 || h.last_id < 0 || h.ts < 0)
			die("head: out-of-range field accepted");
		cfs_audit_head_format(&h, line, sizeof line);
		if (strlen(line) >= sizeof line - 1)
			die("head: formatted line fills the buffer");
		if (cfs_audit_head_parse(line, &g, &err) != 0 || memcmp(&g, &h, sizeof h) != 0)
			die("head: format/parse round trip");
		/* the fuzzer cannot forge an Ed25519 signature over the template's key */
		if (cfs_audit_head_check(&h, g_pk) == 0)
			die("head: an unsigned head checks");
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 0:
		check_encoding(data + 1, size - 1);
		break;
	case 1:
		write_file(g_db, data + 1, size - 1);
		verify_file();
		break;
	case 3:
		check_head_line(data + 1, size - 1);
		break;
	default: {
		unsigned char *img = malloc(g_template_len);
		if (!img)
			die("oom");
		memcpy(img, g_template, g_template_len);
		/* (be16 offset-in-pages-of-256, 1 byte xor) triples */
		for (size_t k = 1; k + 3 <= size; k += 3) {
			size_t o = ((size_t)data[k] << 8 | data[k + 1]) % g_template_len;
			img[o] ^= data[k + 2] ? data[k + 2] : 1;
		}
		write_file(g_db, img, g_template_len);
		free(img);
		verify_file();
	}
	}
	return 0;
}
