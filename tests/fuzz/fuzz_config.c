/* fuzz_config.c — libFuzzer target: cfs_config_parse on arbitrary bytes (a
 * NUL-terminated copy). Beyond the sanitizers it checks the contract: an
 * error leaves no config and names the file; a success satisfies every rule
 * the rest of coachfs relies on. Any violation aborts (a crash). */
#include "coachfs/config.h"

#include <stdlib.h>
#include <string.h>

#define REQUIRE(c) do { if (!(c)) abort(); } while (0)

static void check_list(const struct cfs_list *l)
{
	REQUIRE(l->n >= 0 && l->n <= CFS_LIST_MAX);
	for (int i = 0; i < l->n; i++) {
		REQUIRE(l->v[i] && l->v[i][0]);
		for (int j = 0; j < i; j++)
			REQUIRE(strcmp(l->v[i], l->v[j]) != 0);
	}
}

static void check_paths(const struct cfs_list *l)
{
	check_list(l);
	for (int i = 0; i < l->n; i++)
		REQUIRE(cfs_path_valid(l->v[i]) == 0);
}

static void check_roles(const struct cfs_config *c, const struct cfs_list *l)
{
	check_list(l);
	for (int i = 0; i < l->n; i++)
		REQUIRE(cfs_config_role(c, l->v[i]) || !strcmp(l->v[i], "*"));
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	struct cfs_config *c = (struct cfs_config *)&text;
	struct cfs_err err;
	memset(&err, 0, sizeof err);
	int rc = cfs_config_parse(text, "fuzz.ini", &c, &err);
	if (rc != 0) {
		REQUIRE(rc < 0);
		REQUIRE(c == NULL);
		REQUIRE(!strncmp(err.msg, "fuzz.ini:", 9) || !strncmp(err.msg, "fuzz.ini: ", 10));
		REQUIRE(memchr(err.msg, 0, sizeof err.msg) != NULL);
		for (const char *p = err.msg; *p; p++) /* hostile bytes are escaped */
			REQUIRE((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
	} else {
		REQUIRE(c != NULL);
		REQUIRE(!strcmp(c->file, "fuzz.ini"));
		REQUIRE(c->store_path && cfs_path_valid(c->store_path) == 0);
		REQUIRE(c->policy_db && cfs_path_valid(c->policy_db) == 0);
		REQUIRE(c->audit_db && cfs_path_valid(c->audit_db) == 0);
		REQUIRE(!c->passphrase_file || cfs_path_valid(c->passphrase_file) == 0);
		REQUIRE(c->flush_ms >= 1 && c->flush_ms <= 10000);
		REQUIRE(c->hide_denied == 0 || c->hide_denied == 1);
		REQUIRE(c->default_class && cfs_config_class(c, c->default_class));
		REQUIRE(c->nroles >= 0 && c->nroles <= CFS_LIST_MAX);
		REQUIRE(c->nclasses >= 1 && c->nclasses <= CFS_LIST_MAX);
		for (int i = 0; i < c->nroles; i++) {
			REQUIRE(cfs_config_role(c, c->roles[i].name) == &c->roles[i]);
			check_list(&c->roles[i].members);
		}
		for (int i = 0; i < c->nclasses; i++) {
			const struct cfs_class *k = &c->classes[i];
			REQUIRE(cfs_config_class(c, k->name) == k);
			REQUIRE(k->grant == 0 || k->grant == 1);
			REQUIRE(k->export >= CFS_EXPORT_ALLOW && k->export <= CFS_EXPORT_DENY);
			REQUIRE(k->max_ttl >= 0 && k->max_ttl <= (int64_t)100 * 365 * 86400);
			REQUIRE(k->max_opens <= 1000000);
			check_roles(c, &k->roles);
			check_roles(c, &k->writers);
			if (k->roles.n > 1)
				for (int j = 0; j < k->roles.n; j++)
					REQUIRE(strcmp(k->roles.v[j], "*") != 0);
			check_paths(&k->readers);
		}
		check_paths(&c->export_tools);
		for (int i = 0; i < c->export_tools.n; i++)
			REQUIRE(cfs_config_is_export_tool(c, c->export_tools.v[i]));
	}
	cfs_config_free(c);
	free(text);
	return 0;
}
