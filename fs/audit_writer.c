/* audit_writer.c — appending: the synchronous append (committed before it
 * returns), the bounded queue, and the writer thread that commits queued
 * rows in batches and signs checkpoints. It must never drop a queued row
 * silently: a row that cannot be written makes the handle fail closed. */
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


/* ------------------------------------------------------------ appending */

static int check_event(const struct cfs_event *ev)
{
	const char *s[] = { ev->host, ev->user, ev->exe, ev->path, ev->result, ev->reason };
	if (!cfs_action_name(ev->action) || !ev->result || !ev->result[0])
		return -EINVAL;
	for (size_t k = 0; k < sizeof s / sizeof s[0]; k++)
		if (s[k] && strnlen(s[k], FIELD_MAX + 1) > FIELD_MAX)
			return -EINVAL;
	return 0;
}

int cfs_audit_append(struct cfs_audit *a, const struct cfs_event *ev, struct cfs_err *err)
{
	struct cfs_event e;
	if (!a || !ev)
		return cfs_errf(err, -EINVAL, "audit: no handle or event");
	if (a->readonly)
		return cfs_errf(err, -EACCES, "audit database %s is open read-only", a->path);
	if (check_event(ev) < 0)
		return cfs_errf(err, -EINVAL, "audit: event needs an action and a result, and "
				"fields of at most %d bytes", FIELD_MAX);
	e = *ev;
	if (e.ts == 0 || e.ts == CFS_AUDIT_NONE)
		e.ts = cfs_now_us();
	return cfs_aud_group_commit(a, &e, err);
}

/* Commit everything queued, batch by batch. */
static int drain_all(struct cfs_audit *a, struct cfs_err *err)
{
	int rc, more;
	do
		rc = cfs_aud_drain(a, NULL, 0, err, &more);
	while (rc == 0 && more);
	return rc;
}

int cfs_audit_flush(struct cfs_audit *a, struct cfs_err *err)
{
	if (!a)
		return cfs_errf(err, -EINVAL, "audit: no handle");
	if (a->readonly)
		return cfs_errf(err, -EACCES, "audit database %s is open read-only", a->path);
	return drain_all(a, err);
}

static struct qev *copy_event(const struct cfs_event *ev)
{
	const char *src[6] = { ev->host, ev->user, ev->exe, ev->path, ev->result, ev->reason };
	size_t len[6], total = 0;
	struct qev *q;
	char *p;
	for (int k = 0; k < 6; k++) {
		len[k] = src[k] ? strlen(src[k]) + 1 : 0;
		total += len[k];
	}
	q = malloc(sizeof *q + total);
	if (!q)
		return NULL;
	q->ev = *ev;
	p = q->data;
	const char *dst[6];
	for (int k = 0; k < 6; k++) {
		if (src[k]) {
			memcpy(p, src[k], len[k]);
			dst[k] = p;
			p += len[k];
		} else {
			dst[k] = NULL;
		}
	}
	q->ev.host = dst[0];
	q->ev.user = dst[1];
	q->ev.exe = dst[2];
	q->ev.path = dst[3];
	q->ev.result = dst[4];
	q->ev.reason = dst[5];
	if (q->ev.ts == 0 || q->ev.ts == CFS_AUDIT_NONE)
		q->ev.ts = cfs_now_us();
	return q;
}

int cfs_audit_queue(struct cfs_audit *a, const struct cfs_event *ev)
{
	struct qev *q;
	if (!a || !ev || check_event(ev) < 0)
		return -EINVAL;
	if (a->readonly)
		return -EACCES;
	q = copy_event(ev);
	if (!q)
		return -ENOMEM;
	pthread_mutex_lock(&a->q_mu);
	for (;;) {
		if (a->failed) {
			pthread_mutex_unlock(&a->q_mu);
			free(q);
			return -EIO;
		}
		if (a->count < QUEUE_CAP)
			break;
		if (!a->running) {
			/* No writer: commit inline to make room. */
			pthread_mutex_unlock(&a->q_mu);
			if (cfs_aud_drain(a, NULL, 0, NULL, NULL) < 0) {
				free(q);
				return -EIO;
			}
			pthread_mutex_lock(&a->q_mu);
			continue;
		}
		pthread_cond_wait(&a->q_space, &a->q_mu);
	}
	q->qtime_ms = cfs_aud_mono_ms();
	a->ring[(a->head + a->count) % QUEUE_CAP] = q;
	a->count++;
	if (a->count == 1 || a->count == QUEUE_HIGH)
		pthread_cond_signal(&a->q_wake);
	pthread_mutex_unlock(&a->q_mu);
	return 0;
}

int cfs_audit_checkpoint(struct cfs_audit *a, struct cfs_err *err)
{
	int rc;
	if (!a)
		return cfs_errf(err, -EINVAL, "audit: no handle");
	if (a->readonly)
		return cfs_errf(err, -EACCES, "audit database %s is open read-only", a->path);
	if (!a->sk)
		return cfs_errf(err, -EINVAL, "audit: no signing key (cfs_audit_start was not "
				"given one)");
	struct cfs_audit_head h;
	int did;
	pthread_mutex_lock(&a->db_mu);
	rc = cfs_aud_checkpoint_locked(a, 0, &h, &did, err);
	pthread_mutex_unlock(&a->db_mu);
	if (rc == 0 && did)
		cfs_aud_announce(a, &h);
	return rc;
}

int cfs_audit_set_head_hook(struct cfs_audit *a, void (*fn)(const char *line, void *arg),
			    void *arg)
{
	if (!a || a->readonly || a->running)
		return -EINVAL;
	a->head_hook = fn;
	a->head_arg = arg;
	return 0;
}

int cfs_audit_set_busy_timeout(struct cfs_audit *a, uint32_t ms)
{
	if (!a || a->readonly || ms == 0 || ms > BUSY_MAX_MS)
		return -EINVAL;
	pthread_mutex_lock(&a->db_mu);
	a->busy_ms = ms;
	pthread_mutex_unlock(&a->db_mu);
	return 0;
}

int cfs_audit_set_checkpoint_interval(struct cfs_audit *a, uint32_t ms)
{
	if (!a || ms == 0 || ms > 3600 * 1000)
		return -EINVAL;
	pthread_mutex_lock(&a->q_mu);
	a->cp_ms = ms;
	pthread_mutex_unlock(&a->q_mu);
	return 0;
}

/* ---------------------------------------------------------- the writer */

static void wait_until(struct cfs_audit *a, int64_t due_ms)
{
	struct timespec ts;
	if (due_ms == INT64_MAX) {
		pthread_cond_wait(&a->q_wake, &a->q_mu);
		return;
	}
	ts.tv_sec = (time_t)(due_ms / 1000);
	ts.tv_nsec = (long)(due_ms % 1000) * 1000000L;
	pthread_cond_timedwait(&a->q_wake, &a->q_mu, &ts);
}

static void *writer_main(void *arg)
{
	struct cfs_audit *a = arg;
	pthread_mutex_lock(&a->q_mu);
	while (!a->stop) {
		int64_t now = cfs_aud_mono_ms(), due = INT64_MAX, cp_due = INT64_MAX;
		int want_cp;
		if (a->count > 0)
			due = a->count >= QUEUE_HIGH ? now
			      : a->ring[a->head]->qtime_ms + (int64_t)a->flush_ms;
		if (a->sk && a->unsealed_since_ms)
			cp_due = a->unsealed_since_ms + (int64_t)a->cp_ms;
		if (cp_due < due)
			due = cp_due;
		if (a->failed)   /* retry (or probe, when nothing is queued) */
			due = a->retry_at_ms;
		if (due > now) {
			wait_until(a, due);
			continue;
		}
		want_cp = cp_due <= now;
		pthread_mutex_unlock(&a->q_mu);
		struct cfs_err e;
		int rc = cfs_aud_drain(a, NULL, 0, &e, NULL);
		if (rc == 0 && want_cp) {
			struct cfs_audit_head h;
			int did;
			pthread_mutex_lock(&a->db_mu);
			rc = cfs_aud_checkpoint_locked(a, 0, &h, &did, &e);
			pthread_mutex_unlock(&a->db_mu);
			if (rc == 0 && did)
				cfs_aud_announce(a, &h);
		}
		pthread_mutex_lock(&a->q_mu);
		if (rc < 0) {
			a->failed = 1;
			a->retry_at_ms = cfs_aud_mono_ms() + RETRY_MS;
			pthread_cond_broadcast(&a->q_space);
		}
	}
	pthread_mutex_unlock(&a->q_mu);
	return NULL;
}

int cfs_audit_set_key(struct cfs_audit *a, const unsigned char *sign_sk, struct cfs_err *err)
{
	unsigned char pk[CFS_AUDIT_PK_BYTES];
	unsigned char *sk, *sk2;
	if (!a || !sign_sk)
		return cfs_errf(err, -EINVAL, "audit: no handle or key");
	if (a->readonly)
		return cfs_errf(err, -EACCES, "audit database %s is open read-only", a->path);
	if (a->sk || a->running)
		return cfs_errf(err, -EALREADY, "audit: the signing key is already set");
	sk = sodium_malloc(CFS_AUDIT_SK_BYTES);
	sk2 = sodium_malloc(CFS_AUDIT_SK_BYTES);
	if (!sk || !sk2) {
		sodium_free(sk2);
		sodium_free(sk);
		return cfs_errf(err, -ENOMEM, "out of secure memory");
	}
	memcpy(sk, sign_sk, CFS_AUDIT_SK_BYTES);
	/* An Ed25519 secret key is seed || public key: rebuild it. */
	int rc = crypto_sign_seed_keypair(pk, sk2, sk);
	if (rc != 0 || sodium_memcmp(sk2, sk, CFS_AUDIT_SK_BYTES) != 0) {
		sodium_free(sk2);
		sodium_free(sk);
		return cfs_errf(err, -EINVAL, "audit: the signing key is malformed");
	}
	sodium_free(sk2);
	sodium_mprotect_noaccess(sk);
	a->sk = sk;
	memcpy(a->pk, pk, sizeof pk);
	/* Whoever holds the key seals an empty log at once (so a log with
	 * events and no checkpoint is always a tampered one), and refuses a log
	 * whose newest checkpoint does not hold. */
	struct cfs_audit_head h;
	int did;
	pthread_mutex_lock(&a->db_mu);
	rc = cfs_aud_checkpoint_locked(a, 1, &h, &did, err);
	pthread_mutex_unlock(&a->db_mu);
	if (rc < 0) {
		sodium_free(a->sk);
		a->sk = NULL;
		return rc;
	}
	if (did)
		cfs_aud_announce(a, &h);
	return 0;
}

int cfs_audit_start(struct cfs_audit *a, uint32_t flush_ms, const unsigned char *sign_sk,
		    struct cfs_err *err)
{
	int rc;
	if (!a)
		return cfs_errf(err, -EINVAL, "audit: no handle");
	if (a->readonly)
		return cfs_errf(err, -EACCES, "audit database %s is open read-only", a->path);
	if (a->running)
		return cfs_errf(err, -EALREADY, "audit writer already running");
	if (flush_ms == 0 || flush_ms > 10000)
		return cfs_errf(err, -EINVAL, "audit: flush_ms %u out of range 1..10000", flush_ms);
	if (sign_sk && (rc = cfs_audit_set_key(a, sign_sk, err)) < 0)
		return rc;
	pthread_mutex_lock(&a->q_mu);
	a->flush_ms = flush_ms;
	a->stop = 0;
	rc = pthread_create(&a->thread, NULL, writer_main, a);
	if (rc == 0)
		a->running = 1;
	pthread_mutex_unlock(&a->q_mu);
	if (rc != 0) {
		sodium_free(a->sk);
		a->sk = NULL;
		return cfs_errf(err, -rc, "audit: cannot start the writer thread: %s",
				strerror(rc));
	}
	return 0;
}

int cfs_audit_close(struct cfs_audit *a, struct cfs_err *err)
{
	int rc = 0, r;
	struct cfs_err e;
	if (!a)
		return 0;
	if (a->running) {
		pthread_mutex_lock(&a->q_mu);
		a->stop = 1;
		pthread_cond_signal(&a->q_wake);
		pthread_mutex_unlock(&a->q_mu);
		pthread_join(a->thread, NULL);
		a->running = 0;
	}
	if (!a->readonly) {
		r = a->count > 0 ? drain_all(a, &e) : 0;   /* writer stopped: no race */
		if (r < 0 && rc == 0) {
			rc = r;
			cfs_errf(err, r, "%s", e.msg);
		}
		if (a->sk) {
			struct cfs_audit_head h;
			int did;
			pthread_mutex_lock(&a->db_mu);
			r = cfs_aud_checkpoint_locked(a, 0, &h, &did, &e);
			pthread_mutex_unlock(&a->db_mu);
			if (r == 0 && did)
				cfs_aud_announce(a, &h);
			if (r < 0 && rc == 0) {
				rc = r;
				cfs_errf(err, r, "%s", e.msg);
			}
		}
		if (a->count > 0 && rc == 0)
			rc = cfs_errf(err, -EIO, "audit database %s: %zu queued events were not "
				      "recorded", a->path, a->count);
	}
	cfs_aud_finalize_all(a);
	if (a->db && sqlite3_close(a->db) != SQLITE_OK) {
		if (rc == 0)
			rc = cfs_aud_dberr(a, err, "cannot close");
		sqlite3_close_v2(a->db);
	}
	a->db = NULL;
	cfs_aud_free_handle(a);
	return rc;
}

