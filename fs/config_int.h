/* config_int.h — what config.c (keys, handlers, whole-file checks) and
 * config_syntax.c (messages, value syntax, lists, the line reader) share.
 * Never included outside fs/config*.c. */
#ifndef COACHFS_CONFIG_INT_H
#define COACHFS_CONFIG_INT_H

#include "coachfs/config.h"

#define CFG_FILE_MAX (1024 * 1024)   /* refuse bigger config files */
#define CFG_LOGIN_MAX 31             /* login and group names */
#define CFG_QUOTE_MAX 96             /* bytes of a hostile value echoed in a message */

enum sect { S_NONE = 0, S_STORE, S_MOUNT, S_POLICY, S_AUDIT, S_ROLES, S_CLASS, S_EXPORT };

/* Keys of the fixed sections, one line-number slot each (0 = not seen). */
enum key {
	K_STORE_PATH, K_STORE_PASSFILE, K_STORE_PASSCMD, K_STORE_CIPHER, K_STORE_STATE,
	K_MOUNT_HIDE,
	K_POLICY_DB, K_POLICY_DEFCLASS,
	K_AUDIT_DB, K_AUDIT_READS, K_AUDIT_FLUSH,
	K_EXPORT_TOOLS,
	K_NKEYS
};

enum ckey { C_GRANT, C_ROLES, C_WRITERS, C_MAX_TTL, C_EXPORT, C_APPROVAL, C_READERS,
	    C_MAX_OPENS, C_AUDIT_READS, C_NKEYS };

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
	int sect_line[S_EXPORT + 1];
	int key_line[K_NKEYS];
	int class_key_line[CFS_LIST_MAX][C_NKEYS];
};

enum list_kind { L_MEMBERS, L_ROLES, L_PATHS };

struct cfs_cfg_fixed_key { enum sect s; const char *name; };
extern const char *const cfs_cfg_sect_names[S_EXPORT + 1];
extern const struct cfs_cfg_fixed_key cfs_cfg_fixed_keys[K_NKEYS];
extern const char *const cfs_cfg_class_keys[C_NKEYS];

const char *cfs_cfg_quote(char *buf, size_t size, const char *s);
int cfs_cfg_fail(struct parse *p, int rc, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int cfs_cfg_oom(struct parse *p);
int cfs_cfg_name_ok(const char *s);
const char *cfs_cfg_abs_path_problem(const char *s);
int cfs_cfg_parse_bool(const char *s, int *out);
void cfs_cfg_list_free(struct cfs_list *l);
int cfs_cfg_parse_list(struct parse *p, const char *what, const char *value, enum list_kind kind,
		      struct cfs_list *l);
char *cfs_cfg_reader(char *str, int num, void *stream);

#endif
