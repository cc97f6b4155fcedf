/* config.h — the INI configuration (README, "Configuration") as a validated, immutable
 * struct. config.c owns parsing and validation; it must never start anything,
 * open a database or resolve users (names are checked by their users). */
#ifndef COACHFS_CONFIG_H
#define COACHFS_CONFIG_H

#include <stdint.h>
#include "coachfs/util.h"

#define CFS_DEFAULT_CONFIG "/etc/coachfs/coachfs.ini"
#define CFS_NAME_MAX 64      /* role and class names: [A-Za-z0-9_-]{1,63} */
#define CFS_LIST_MAX 64      /* entries in any comma list */

enum cfs_cipher { CFS_CIPHER_AUTO = 0, CFS_CIPHER_XCHACHA = 1, CFS_CIPHER_AESGCM = 2 };
enum cfs_export { CFS_EXPORT_UNSET = 0, CFS_EXPORT_ALLOW, CFS_EXPORT_LOG, CFS_EXPORT_DENY };
enum cfs_reads { CFS_READS_EVERY = 0, CFS_READS_OPEN };
enum cfs_approval { CFS_APPROVAL_NONE = 0, CFS_APPROVAL_TWO_PERSON };

struct cfs_list {
	int n;
	char *v[CFS_LIST_MAX];  /* heap strings, owned by the config */
};

/* [roles] NAME = member, member ... ; member is a login name or @group */
struct cfs_role {
	char name[CFS_NAME_MAX];
	struct cfs_list members;
	int line;
};

/* [class.NAME] */
struct cfs_class {
	char name[CFS_NAME_MAX];
	int grant;                  /* grant = yes|no (default no) */
	struct cfs_list roles;      /* roles = a, b | *  (read without grant when grant = no) */
	struct cfs_list writers;    /* writers = roles that may write without a grant (default none) */
	int64_t max_ttl;            /* seconds; 0 = no cap */
	enum cfs_export export;     /* default allow */
	enum cfs_approval approval; /* approval = none | two-person */
	struct cfs_list readers;    /* absolute program paths; empty = any */
	uint32_t max_opens;         /* 0 = unlimited */
	enum cfs_reads reads;       /* audit_reads = every | open (default: [audit] reads) */
	int line;
};

struct cfs_config {
	char *file;                 /* the path it was read from */
	/* [store] */
	char *store_path;           /* required, absolute */
	char *passphrase_file;      /* optional, absolute; NULL = terminal */
	char *passphrase_command;   /* optional: "/ABS/PROGRAM ARG...", its first output line */
	enum cfs_cipher cipher;
	char *state_db;             /* optional, absolute; default state.db beside [policy] db */
	/* [mount] */
	int hide_denied;            /* default yes */
	/* [policy] */
	char *policy_db;            /* required, absolute */
	char *default_class;        /* required, must name a class */
	/* [audit] */
	char *audit_db;             /* required, absolute */
	enum cfs_reads reads;       /* default every */
	uint32_t flush_ms;          /* 1..10000, default 50 */
	/* [roles] */
	int nroles;
	struct cfs_role roles[CFS_LIST_MAX];
	/* [class.*] */
	int nclasses;
	struct cfs_class classes[CFS_LIST_MAX];
	/* [export] */
	struct cfs_list export_tools;  /* absolute program paths */
};

/* The config path to use: explicit (from -c) if not NULL, else
 * $COACHFS_CONFIG if set and non-empty, else CFS_DEFAULT_CONFIG. */
const char *cfs_config_path(const char *explicit_path);

/* Load and validate. On error returns -errno (-ENOENT, -EACCES, -EINVAL, ...)
 * and err->msg is "FILE:LINE: what is wrong" (or "FILE: ..." when no line
 * applies). Every rule of the README's "Configuration" is checked: unknown section or key,
 * duplicate key or section, bad value, a class naming an unknown role,
 * default_class naming an unknown class, a missing required key. */
int cfs_config_load(const char *file, struct cfs_config **out, struct cfs_err *err);

/* Same, from memory; `name` stands for the file name in messages. */
int cfs_config_parse(const char *text, const char *name, struct cfs_config **out,
		     struct cfs_err *err);

void cfs_config_free(struct cfs_config *cfg);

/* Lookup helpers; NULL when absent. */
const struct cfs_class *cfs_config_class(const struct cfs_config *cfg, const char *name);
const struct cfs_role *cfs_config_role(const struct cfs_config *cfg, const char *name);

/* Is `exe` listed in [export] tools? */
int cfs_config_is_export_tool(const struct cfs_config *cfg, const char *exe);

/* Words for enums (for messages and xattr values). */
const char *cfs_export_name(enum cfs_export e);  /* "allow" "log" "deny" "" */
int cfs_export_parse(const char *s, enum cfs_export *out); /* 0 or -EINVAL */

#endif
