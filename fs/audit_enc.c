/* audit_enc.c — the canonical encoding of a row as hashed, the chain hash,
 * the signed checkpoint messages, head lines and public-key files. Pure
 * bytes in, bytes out (apart from the public-key files): no database. */
#include "coachfs/audit.h"
#include "audit_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


static void put_be32(unsigned char *p, uint32_t v)
{
	for (int k = 3; k >= 0; k--) {
		p[k] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int k = 7; k >= 0; k--) {
		p[k] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

const char CFS_AUD_CP_CONTEXT[sizeof CP_CONTEXT_TEXT] = CP_CONTEXT_TEXT;
const char CFS_AUD_CP2_CONTEXT[sizeof CP2_CONTEXT_TEXT] = CP2_CONTEXT_TEXT;
const char CFS_AUD_HEAD_TAG[sizeof HEAD_TAG_TEXT] = HEAD_TAG_TEXT;

/* ---------------------------------------------------- canonical encoding */

/* Each column: tag (1 byte) || be32 length || payload. NULL: tag 0, length 0;
 * INTEGER: tag 1, length 8, be64 two's complement; TEXT: tag 2, its bytes.
 * Columns in fixed order: id ts host uid user pid exe action path result
 * reason grant_id offset length. Returns the bytes needed (0: a text longer
 * than 2^32-1), writing only what fits in cap. */
static size_t encode_vals(const struct val v[NCOLS], unsigned char *buf, size_t cap)
{
	size_t off = 0;
	for (int c = 0; c < NCOLS; c++) {
		unsigned char hdr[5 + 8];
		size_t plen = 0;
		const unsigned char *payload = NULL;
		hdr[0] = (unsigned char)v[c].tag;
		if (v[c].tag == TAG_INT) {
			put_be64(hdr + 5, (uint64_t)v[c].i);
			payload = hdr + 5;
			plen = 8;
		} else if (v[c].tag == TAG_TEXT) {
			if (v[c].n > UINT32_MAX)
				return 0;
			payload = v[c].p;
			plen = v[c].n;
		}
		put_be32(hdr + 1, (uint32_t)plen);
		if (off + 5 <= cap)
			memcpy(buf + off, hdr, 5);
		off += 5;
		if (plen && off + plen <= cap)
			memcpy(buf + off, payload, plen);
		off += plen;
	}
	return off;
}

static struct val vint(int64_t i)
{
	struct val v = { TAG_NULL, 0, NULL, 0 };
	if (i != CFS_AUDIT_NONE) {
		v.tag = TAG_INT;
		v.i = i;
	}
	return v;
}

static struct val vtext(const char *s)
{
	struct val v = { TAG_NULL, 0, NULL, 0 };
	if (s) {
		v.tag = TAG_TEXT;
		v.p = (const unsigned char *)s;
		v.n = strlen(s);
	}
	return v;
}

void cfs_aud_event_vals(const struct cfs_event *ev, int64_t id, struct val v[NCOLS])
{
	v[0] = vint(id);
	v[1] = vint(ev->ts);
	v[2] = vtext(ev->host);
	v[3] = vint(ev->uid);
	v[4] = vtext(ev->user);
	v[5] = vint(ev->pid);
	v[6] = vtext(ev->exe);
	v[7] = vtext(cfs_action_name(ev->action));
	v[8] = vtext(ev->path);
	v[9] = vtext(ev->result);
	v[10] = vtext(ev->reason);
	v[11] = vint(ev->grant_id);
	v[12] = vint(ev->offset);
	v[13] = vint(ev->length);
}

size_t cfs_audit_encode(const struct cfs_event *ev, int64_t id, unsigned char *buf, size_t cap)
{
	struct val v[NCOLS];
	cfs_aud_event_vals(ev, id, v);
	return encode_vals(v, buf, cap);
}

void cfs_aud_chain_hash(const unsigned char prev[HASH_BYTES], const unsigned char *enc, size_t n,
		       unsigned char out[HASH_BYTES])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, HASH_BYTES);
	crypto_generichash_update(&st, prev, HASH_BYTES);
	crypto_generichash_update(&st, enc, n);
	crypto_generichash_final(&st, out, HASH_BYTES);
}

/* Encode into a growable buffer; 0 or -ENOMEM/-EINVAL. */
int cfs_aud_encode_grow(const struct val v[NCOLS], unsigned char **buf, size_t *cap, size_t *len)
{
	size_t n = encode_vals(v, *buf, *cap);
	if (n == 0)
		return -EINVAL;
	if (n > *cap) {
		size_t nc = n + 1024;
		unsigned char *nb = realloc(*buf, nc);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = nc;
		n = encode_vals(v, *buf, *cap);
	}
	*len = n;
	return 0;
}


void cfs_aud_cp_message(int64_t last_id, const unsigned char last_hash[HASH_BYTES], int64_t ts,
		       unsigned char msg[CP_MSG_BYTES])
{
	memcpy(msg, CFS_AUD_CP_CONTEXT, sizeof CFS_AUD_CP_CONTEXT);
	put_be64(msg + sizeof CFS_AUD_CP_CONTEXT, (uint64_t)last_id);
	memcpy(msg + sizeof CFS_AUD_CP_CONTEXT + 8, last_hash, HASH_BYTES);
	put_be64(msg + sizeof CFS_AUD_CP_CONTEXT + 8 + HASH_BYTES, (uint64_t)ts);
}

void cfs_aud_cp2_message(const struct cfs_audit_head *h, unsigned char msg[CP2_MSG_BYTES])
{
	unsigned char *p = msg;
	memcpy(p, CFS_AUD_CP2_CONTEXT, sizeof CFS_AUD_CP2_CONTEXT);
	p += sizeof CFS_AUD_CP2_CONTEXT;
	put_be64(p, (uint64_t)h->seq);
	put_be64(p + 8, (uint64_t)h->last_id);
	memcpy(p + 16, h->last_hash, HASH_BYTES);
	put_be64(p + 16 + HASH_BYTES, (uint64_t)h->ts);
	memcpy(p + 24 + HASH_BYTES, h->prev, HASH_BYTES);
}

/* What the next checkpoint's prev holds: the hash of these signed bytes. */
void cfs_aud_msg_hash(const unsigned char *msg, size_t n, unsigned char out[HASH_BYTES])
{
	crypto_generichash(out, HASH_BYTES, msg, n, NULL, 0);
}

/* ---------------------------------------------------------------- heads */

int cfs_audit_head_check(const struct cfs_audit_head *h, const unsigned char pk[CFS_AUDIT_PK_BYTES])
{
	unsigned char msg[CP2_MSG_BYTES];
	if (!h || !pk || h->seq < 1 || h->last_id < 0)
		return -EBADMSG;
	cfs_aud_cp2_message(h, msg);
	return crypto_sign_verify_detached(h->sig, msg, sizeof msg, pk) == 0 ? 0 : -EBADMSG;
}

void cfs_audit_head_format(const struct cfs_audit_head *h, char *out, size_t cap)
{
	char lh[2 * HASH_BYTES + 1], pv[2 * HASH_BYTES + 1], sg[2 * SIG_BYTES + 1];
	if (!out || cap == 0)
		return;
	sodium_bin2hex(lh, sizeof lh, h->last_hash, HASH_BYTES);
	sodium_bin2hex(pv, sizeof pv, h->prev, HASH_BYTES);
	sodium_bin2hex(sg, sizeof sg, h->sig, SIG_BYTES);
	snprintf(out, cap, "%s seq=%lld last_id=%lld ts=%lld last_hash=%s prev=%s sig=%s",
		 CFS_AUD_HEAD_TAG, (long long)h->seq, (long long)h->last_id, (long long)h->ts, lh, pv, sg);
}

static int hex_field(const char *v, size_t n, unsigned char *out, size_t outlen)
{
	size_t got = 0;
	if (n != 2 * outlen)
		return -1;
	for (size_t k = 0; k < n; k++)
		if (!((v[k] >= '0' && v[k] <= '9') || (v[k] >= 'a' && v[k] <= 'f') ||
		      (v[k] >= 'A' && v[k] <= 'F')))
			return -1;
	if (sodium_hex2bin(out, outlen, v, n, NULL, &got, NULL) != 0 || got != outlen)
		return -1;
	return 0;
}

int cfs_audit_head_parse(const char *line, struct cfs_audit_head *h, struct cfs_err *err)
{
	static const char *const keys[] = { "seq", "last_id", "ts", "last_hash", "prev", "sig" };
	enum { NKEYS = sizeof keys / sizeof keys[0] };
	char buf[CFS_AUDIT_HEAD_LINE_MAX];
	unsigned seen = 0;
	size_t n;
	char *save = NULL, *tok;
	if (!line || !h)
		return cfs_errf(err, -EINVAL, "head: nothing to parse");
	memset(h, 0, sizeof *h);
	n = strnlen(line, sizeof buf);
	if (n == sizeof buf)
		return cfs_errf(err, -EINVAL, "head: line too long (a head line is at most %d bytes)",
				CFS_AUDIT_HEAD_LINE_MAX - 1);
	memcpy(buf, line, n + 1);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
			 buf[n - 1] == '\t'))
		buf[--n] = 0;
	tok = strtok_r(buf, " \t", &save);
	if (!tok || strcmp(tok, CFS_AUD_HEAD_TAG) != 0)
		return cfs_errf(err, -EINVAL, "head: does not start with '%s' (the line printed by "
				"coach-audit head)", CFS_AUD_HEAD_TAG);
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
		char *eq = strchr(tok, '=');
		const char *v;
		uint64_t u = 0;
		size_t k;
		int bad;
		if (!eq)
			return cfs_errf(err, -EINVAL, "head: '%.40s' is not KEY=VALUE", tok);
		*eq = 0;
		v = eq + 1;
		for (k = 0; k < NKEYS; k++)
			if (strcmp(tok, keys[k]) == 0)
				break;
		if (k == NKEYS)
			return cfs_errf(err, -EINVAL, "head: unknown field '%.40s'", tok);
		if (seen & (1u << k))
			return cfs_errf(err, -EINVAL, "head: field '%s' given twice", keys[k]);
		seen |= 1u << k;
		switch (k) {
		case 0:
			bad = cfs_parse_uint(v, INT64_MAX - 1, &u) < 0 || u < 1;
			h->seq = (int64_t)u;
			break;
		case 1:
			bad = cfs_parse_uint(v, INT64_MAX - 1, &u) < 0;
			h->last_id = (int64_t)u;
			break;
		case 2:
			bad = cfs_parse_uint(v, INT64_MAX, &u) < 0;
			h->ts = (int64_t)u;
			break;
		case 3:
			bad = hex_field(v, strlen(v), h->last_hash, HASH_BYTES) < 0;
			break;
		case 4:
			bad = hex_field(v, strlen(v), h->prev, HASH_BYTES) < 0;
			break;
		default:
			bad = hex_field(v, strlen(v), h->sig, SIG_BYTES) < 0;
			break;
		}
		if (bad)
			return cfs_errf(err, -EINVAL, "head: field %s has a bad value", keys[k]);
	}
	for (size_t k = 0; k < NKEYS; k++)
		if (!(seen & (1u << k)))
			return cfs_errf(err, -EINVAL, "head: field %s is missing", keys[k]);
	return 0;
}

/* ------------------------------------------------------------- pubkeys */

int cfs_audit_write_pubkey(const char *dbpath, const unsigned char pk[CFS_AUDIT_PK_BYTES],
			   struct cfs_err *err)
{
	char file[PATH_MAX], tmp[PATH_MAX], line[2 * CFS_AUDIT_PK_BYTES + 2];
	int fd, rc;
	if (!dbpath || !pk)
		return cfs_errf(err, -EINVAL, "audit: no database path or key");
	if ((size_t)snprintf(file, sizeof file, "%s.pub", dbpath) >= sizeof file ||
	    (size_t)snprintf(tmp, sizeof tmp, "%s.pub.tmp", dbpath) >= sizeof tmp)
		return cfs_errf(err, -ENAMETOOLONG, "%s: path too long", dbpath);
	sodium_bin2hex(line, sizeof line, pk, CFS_AUDIT_PK_BYTES);
	line[2 * CFS_AUDIT_PK_BYTES] = '\n';
	line[2 * CFS_AUDIT_PK_BYTES + 1] = 0;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return cfs_errf(err, -errno, "%s: %s", tmp, strerror(errno));
	rc = cfs_pwrite_all(fd, line, 2 * CFS_AUDIT_PK_BYTES + 1, 0);
	if (rc == 0 && fchmod(fd, 0644) < 0)
		rc = -errno;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, file) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return cfs_errf(err, rc, "%s: %s", file, strerror(-rc));
	}
	return 0;
}

static int parse_hex_key(const char *s, size_t n, unsigned char pk[CFS_AUDIT_PK_BYTES])
{
	size_t got = 0;
	if (n != 2 * CFS_AUDIT_PK_BYTES)
		return -EINVAL;
	for (size_t k = 0; k < n; k++)
		if (!((s[k] >= '0' && s[k] <= '9') || (s[k] >= 'a' && s[k] <= 'f') ||
		      (s[k] >= 'A' && s[k] <= 'F')))
			return -EINVAL;
	if (sodium_hex2bin(pk, CFS_AUDIT_PK_BYTES, s, n, NULL, &got, NULL) != 0 ||
	    got != CFS_AUDIT_PK_BYTES)
		return -EINVAL;
	return 0;
}

int cfs_audit_read_pubkey(const char *file_or_hex, unsigned char pk[CFS_AUDIT_PK_BYTES],
			  struct cfs_err *err)
{
	char buf[256];
	ssize_t n;
	int fd;
	if (!file_or_hex || !*file_or_hex)
		return cfs_errf(err, -EINVAL, "audit public key: empty");
	if (sodium_init() < 0)
		return cfs_errf(err, -EIO, "libsodium failed to initialise");
	if (parse_hex_key(file_or_hex, strlen(file_or_hex), pk) == 0)
		return 0;
	fd = open(file_or_hex, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cfs_errf(err, -errno, "audit public key %s: %s (want 64 hex characters or "
				"a file holding them)", file_or_hex, strerror(errno));
	n = cfs_pread_full(fd, buf, sizeof buf, 0);
	close(fd);
	if (n < 0)
		return cfs_errf(err, (int)n, "audit public key %s: %s", file_or_hex,
				strerror((int)-n));
	size_t len = (size_t)n;
	if (len == sizeof buf)
		return cfs_errf(err, -EINVAL, "audit public key %s: too long (want 64 hex "
				"characters)", file_or_hex);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
			   buf[len - 1] == '\t'))
		len--;
	if (parse_hex_key(buf, len, pk) < 0)
		return cfs_errf(err, -EINVAL, "audit public key %s: not 64 hex characters",
				file_or_hex);
	return 0;
}

