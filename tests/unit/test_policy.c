/* test_policy.c — cfs_decide, table-driven: every rule, every boundary
 * second, every reason asserted word for word. Each table row is reported as
 * its own PASS/FAIL line ("test_policy.<row name>"). Config structs are built
 * by hand (no parsing). */
#include "t.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coachfs/policy.h"

#define T0 INT64_C(1795773600)  /* 2026-11-27 10:00:00 UTC */
#define H INT64_C(3600)
#define D INT64_C(86400)

/* ---- callers ---- */
#define ALICE_IDS .uid = 1000, .gid = 1000, .ngroups = 2, .groups = { 1000, 2000 }, \
	.pid = 4242, .user = "alice", .nroles = 1, .roles = { "responder" }
static const struct cfs_caller alice = { ALICE_IDS, .exe = "/usr/bin/less" };
static const struct cfs_caller alice_mpv = { ALICE_IDS, .exe = "/usr/bin/mpv" };
static const struct cfs_caller alice_cat = { ALICE_IDS, .exe = "/usr/bin/cat" };
static const struct cfs_caller alice_cp = { ALICE_IDS, .exe = "/usr/bin/cp" };
static const struct cfs_caller alice_noexe = { ALICE_IDS, .exe = "" };
#define BOB_IDS .uid = 1001, .gid = 1001, .ngroups = 1, .groups = { 1001 }, .pid = 4343, \
	.user = "bob"
static const struct cfs_caller bob = { BOB_IDS, .exe = "/usr/bin/less" };
static const struct cfs_caller bob_cat = { BOB_IDS, .exe = "/usr/bin/cat" };
static const struct cfs_caller bob_cp = { BOB_IDS, .exe = "/usr/bin/cp" };
#define ROOT_IDS .uid = 0, .gid = 0, .ngroups = 1, .groups = { 0 }, .pid = 1, .user = "root", \
	.nroles = 1, .roles = { "admin" }
static const struct cfs_caller root = { ROOT_IDS, .exe = "/usr/bin/setfattr" };
static const struct cfs_caller root_cp = { ROOT_IDS, .exe = "/usr/bin/cp" };
/* no login name known; primary group 2000 (soc) */
static const struct cfs_caller carol = { .uid = 1002, .gid = 2000, .ngroups = 1,
	.groups = { 2000 }, .pid = 4444, .user = "", .exe = "/usr/bin/less" };

/* ---- classes ---- */
static const struct cfs_class c_internal = { .name = "internal", .grant = 0,
	.roles = { 2, { "responder", "admin" } }, .writers = { 1, { "admin" } },
	.export = CFS_EXPORT_LOG };
static const struct cfs_class c_public = { .name = "public", .grant = 0,
	.roles = { 1, { "*" } }, .writers = { 1, { "admin" } }, .export = CFS_EXPORT_ALLOW };
static const struct cfs_class c_open = { .name = "open", .grant = 0,
	.roles = { 1, { "*" } }, .writers = { 1, { "*" } }, .export = CFS_EXPORT_ALLOW };
static const struct cfs_class c_mixed = { .name = "mixed", .grant = 0,
	.roles = { 2, { "*", "responder" } }, .export = CFS_EXPORT_ALLOW };
/* a role that may write but not read without a grant */
static const struct cfs_class c_wonly = { .name = "wonly", .grant = 0,
	.roles = { 1, { "admin" } }, .writers = { 1, { "responder" } }, .export = CFS_EXPORT_ALLOW };
static const struct cfs_class c_gated = { .name = "gated", .grant = 1,
	.roles = { 1, { "admin" } }, .writers = { 1, { "admin" } }, .export = CFS_EXPORT_ALLOW };
static const struct cfs_class c_sensitive = { .name = "sensitive", .grant = 1,
	.max_ttl = 8 * H, .export = CFS_EXPORT_DENY };
static const struct cfs_class c_secret = { .name = "secret", .grant = 1, .max_ttl = H,
	.approval = CFS_APPROVAL_TWO_PERSON, .export = CFS_EXPORT_DENY,
	.readers = { 2, { "/usr/bin/less", "/usr/bin/mpv" } }, .max_opens = 3 };
static const struct cfs_class c_nocap = { .name = "nocap", .grant = 1, .max_ttl = 0,
	.export = CFS_EXPORT_ALLOW };
static const struct cfs_class c_odd = { .name = "odd", .grant = 1, .max_ttl = 90 * 60 };
static const struct cfs_class c_ttl2d = { .name = "ttl2d", .grant = 1, .max_ttl = 2 * D };
static const struct cfs_class c_ttl61 = { .name = "ttl61", .grant = 1, .max_ttl = 61 };
static const struct cfs_class c_unset = { .name = "unset", .grant = 0,
	.roles = { 1, { "*" } }, .export = CFS_EXPORT_UNSET };

static const struct cfs_list l_vim = { 1, { "/usr/bin/vim" } };
static const struct cfs_list l_empty = { 0, { NULL } };

/* effective file policies */
#define FP_INT { .cls = &c_internal, .export = CFS_EXPORT_LOG }
#define FP_PUB { .cls = &c_public, .export = CFS_EXPORT_ALLOW }
#define FP_SENS { .cls = &c_sensitive, .export = CFS_EXPORT_DENY }
#define FP_SEC { .cls = &c_secret, .export = CFS_EXPORT_DENY, .readers = &c_secret.readers, \
	.max_opens = 3 }
#define FP_NOCAP { .cls = &c_nocap, .export = CFS_EXPORT_ALLOW }
#define FP(C) { .cls = &C, .export = CFS_EXPORT_ALLOW }

/* grants: user, group, role subject; approved_by only where given */
#define UG(ID, UID, PATH, S, E, ...) { .id = ID, .kind = CFS_SUBJ_USER, .ugid = UID, \
	.path = PATH, .start = S, .end = E, .granted_by = "root", __VA_ARGS__ }
#define GG(ID, GID, PATH, S, E, ...) { .id = ID, .kind = CFS_SUBJ_GROUP, .ugid = GID, \
	.path = PATH, .start = S, .end = E, .granted_by = "root", __VA_ARGS__ }
#define RG(ID, ROLE, PATH, S, E, ...) { .id = ID, .kind = CFS_SUBJ_ROLE, .role = ROLE, \
	.path = PATH, .start = S, .end = E, .granted_by = "root", __VA_ARGS__ }
/* alice's grant 7 on /inc for an hour, and on /sec for two (approved) */
#define A7 UG(7, 1000, "/inc", T0, T0 + H)
#define S7(...) UG(7, 1000, "/sec", T0, T0 + 2 * H, .approved_by = "carol", \
	.approved_at = T0 - 60, __VA_ARGS__)

/* a link as policy.c sees it (cfs_link_as_grant): one use unless max_opens says */
#define LK(ID, UID, PATH, S, E, USES, ...) { .id = ID, .kind = CFS_SUBJ_USER, .ugid = UID, \
	.path = PATH, .start = S, .end = E, .granted_by = "root", .link = 1, .max_opens = USES, \
	__VA_ARGS__ }
#define LKB(ID, PATH, S, E, USES, ...) { .id = ID, .kind = CFS_SUBJ_ANY, .path = PATH, \
	.start = S, .end = E, .granted_by = "root", .link = 1, .max_opens = USES, __VA_ARGS__ }

/* A session-bound grant (coach-grant run) of alice's on /inc: process 4242
 * started at tick 900 and its descendants. Her processes: the session's own,
 * its child 5000 and grandchild 6000; 7000, another shell of hers; 6000
 * reparented to init after 5000 exited; 5000 under a reused pid 4242. */
#define SGX(START, LIVE) UG(7, 1000, "/inc", T0, T0 + H, .session_pid = 4242, \
	.session_start = START, .session_cmd = "assistant", .session_live = LIVE)
#define SG() SGX(900, 1)
static const struct cfs_lineage lin_root = { .self = { 4242, 900 }, .ppid = 100, .walked = 1,
	.n = 1, .anc = { { 100, 10 } } };
static const struct cfs_lineage lin_child = { .self = { 5000, 950 }, .ppid = 4242,
	.walked = 1, .n = 2, .anc = { { 4242, 900 }, { 100, 10 } } };
static const struct cfs_lineage lin_grandchild = { .self = { 6000, 990 }, .ppid = 5000,
	.walked = 1, .n = 3, .anc = { { 5000, 950 }, { 4242, 900 }, { 100, 10 } } };
static const struct cfs_lineage lin_other = { .self = { 7000, 905 }, .ppid = 100, .walked = 1,
	.n = 1, .anc = { { 100, 10 } } };
static const struct cfs_lineage lin_orphan = { .self = { 6000, 990 }, .ppid = 1, .walked = 1 };
static const struct cfs_lineage lin_reused = { .self = { 5000, 950 }, .ppid = 4242,
	.walked = 1, .n = 1, .anc = { { 4242, 1200 } } };
static const struct cfs_lineage lin_unwalked = { .self = { 5000, 950 }, .ppid = 4242,
	.n = 1, .anc = { { 4242, 900 } } };
static const struct cfs_lineage lin_nostart = { .self = { 4242, 0 }, .walked = 1 };

#define GRANTS(...) .g = (const struct cfs_grant[]){ __VA_ARGS__ }, \
	.ng = sizeof((const struct cfs_grant[]){ __VA_ARGS__ }) / sizeof(struct cfs_grant)
#define RQ(P, OP, NOW, ...) { .path = P, .op = CFS_OP_##OP, .now = NOW, __VA_ARGS__ }

struct tc {
	const char *name;
	const struct cfs_caller *c;
	struct cfs_file_policy fp;
	const struct cfs_grant *g;
	size_t ng;
	struct cfs_request req;
	enum cfs_verdict v;
	int64_t gid;
	int exp;
	const char *reason;
	int link;                       /* decided by cfs_decide_link with g[0] */
};

#define ALLOW .v = CFS_ALLOW
#define FLAG .v = CFS_FLAG
#define DENY .v = CFS_DENY

static const struct tc cases[] = {
	/* ---------- role admission ---------- */
	{ "role_read_internal", &alice, FP_INT, .req = RQ("/int/a.md", READ, T0), ALLOW,
	  .reason = "role responder admits class internal" },
	{ "role_see_internal", &alice, FP_INT, .req = RQ("/int/a.md", SEE, T0), ALLOW,
	  .reason = "role responder admits class internal" },
	{ "role_admin_reads_internal", &root, FP_INT, .req = RQ("/int/a.md", READ, T0), ALLOW,
	  .reason = "role admin admits class internal" },
	{ "role_star_public", &bob, FP_PUB, .req = RQ("/pub/a.md", READ, T0), ALLOW,
	  .reason = "class public admits every caller" },
	{ "role_named_preferred_over_star", &alice, FP(c_mixed), .req = RQ("/m/a.md", READ, T0),
	  ALLOW, .reason = "role responder admits class mixed" },
	{ "role_star_when_no_named_role", &bob, FP(c_mixed), .req = RQ("/m/a.md", READ, T0),
	  ALLOW, .reason = "class mixed admits every caller" },
	{ "role_none_internal", &bob, FP_INT, .req = RQ("/int/a.md", READ, T0), DENY,
	  .reason = "no role of bob admits class internal and no grant for bob covers /int/a.md" },
	{ "role_none_nameless_caller", &carol, FP_INT, .req = RQ("/int/a.md", READ, T0), DENY,
	  .reason = "no role of uid 1002 admits class internal and no grant for uid 1002 covers "
		    "/int/a.md" },
	{ "role_ignored_when_class_needs_grant", &root, FP(c_gated),
	  .req = RQ("/g/a.md", READ, T0), DENY,
	  .reason = "no grant for root covers /g/a.md (class gated requires a grant)" },
	{ "role_writers_ignored_when_class_needs_grant", &root, FP(c_gated),
	  .req = RQ("/g/a.md", WRITE, T0), DENY,
	  .reason = "no grant for root covers /g/a.md (class gated requires a grant)" },
	{ "role_write_by_writer", &root, FP_INT, .req = RQ("/int/a.md", WRITE, T0), ALLOW,
	  .reason = "role admin may write class internal" },
	{ "role_write_reader_not_writer", &alice, FP_INT, .req = RQ("/int/a.md", WRITE, T0), DENY,
	  .reason = "role responder may not write class internal" },
	{ "role_write_star_reader_only", &bob, FP_PUB, .req = RQ("/pub/a.md", WRITE, T0), DENY,
	  .reason = "no role of bob may write class public and no grant for bob covers /pub/a.md" },
	{ "role_write_no_role", &bob, FP_INT, .req = RQ("/int/a.md", WRITE, T0), DENY,
	  .reason = "no role of bob may write class internal and no grant for bob covers "
		    "/int/a.md" },
	{ "role_write_star_writers", &bob, FP(c_open), .req = RQ("/o/a.md", WRITE, T0), ALLOW,
	  .reason = "class open lets every caller write" },
	{ "role_write_falls_back_to_write_grant", &alice, FP_INT,
	  GRANTS(UG(7, 1000, "/int", T0, T0 + H, .write = 1)), .req = RQ("/int/a.md", WRITE, T0),
	  ALLOW, .gid = 7, .reason = "grant 7 admits alice to write until 2026-11-27 11:00:00 UTC" },
	{ "role_write_readonly_grant_reason_wins", &alice, FP_INT,
	  GRANTS(UG(7, 1000, "/int", T0, T0 + H)), .req = RQ("/int/a.md", WRITE, T0), DENY,
	  .reason = "grant 7 does not allow writing" },
	{ "role_preferred_over_valid_grant", &alice, FP_INT,
	  GRANTS(UG(7, 1000, "/int", T0, T0 + H)), .req = RQ("/int/a.md", READ, T0), ALLOW,
	  .reason = "role responder admits class internal" },
	{ "grant_admits_on_role_class", &bob, FP_INT, GRANTS(UG(7, 1001, "/int", T0, T0 + H)),
	  .req = RQ("/int/a.md", READ, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits bob until 2026-11-27 11:00:00 UTC" },

	/* ---------- grant time window (sensitive: 8h cap, not binding) ---------- */
	{ "grant_start_minus_1", &alice, FP_SENS, GRANTS(A7), .req = RQ("/inc/a.md", READ, T0 - 1),
	  DENY, .reason = "grant 7 starts at 2026-11-27 10:00:00 UTC" },
	{ "grant_at_start", &alice, FP_SENS, GRANTS(A7), .req = RQ("/inc/a.md", READ, T0), ALLOW,
	  .gid = 7, .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "grant_end_minus_1", &alice, FP_SENS, GRANTS(A7),
	  .req = RQ("/inc/a.md", READ, T0 + H - 1), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "grant_at_end", &alice, FP_SENS, GRANTS(A7), .req = RQ("/inc/a.md", READ, T0 + H), DENY,
	  .reason = "grant 7 expired at 2026-11-27 11:00:00 UTC" },
	{ "grant_end_before_start", &alice, FP_SENS,
	  GRANTS(UG(7, 1000, "/inc", T0, T0 - 10)), .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "grant 7 expired at 2026-11-27 09:59:50 UTC" },
	{ "grant_none", &alice, FP_SENS, .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "no grant for alice covers /inc/a.md (class sensitive requires a grant)" },
	{ "grant_nameless_caller", &carol, FP_SENS, .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "no grant for uid 1002 covers /inc/a.md (class sensitive requires a grant)" },

	/* ---------- max_ttl cap (secret: 1h; grant asks for 2h) ---------- */
	{ "ttl_cap_minus_1", &alice, FP_SEC, GRANTS(S7()), .req = RQ("/sec/plan.md", READ, T0 + H - 1),
	  ALLOW, .gid = 7, .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC (open 1 of 3)" },
	{ "ttl_cap_exact", &alice, FP_SEC, GRANTS(S7()), .req = RQ("/sec/plan.md", READ, T0 + H),
	  DENY, .reason = "grant 7 expired at 2026-11-27 11:00:00 UTC (class secret allows at most 1h)" },
	{ "ttl_no_cap", &alice, FP_NOCAP, GRANTS(UG(7, 1000, "/inc", T0, T0 + 30 * D)),
	  .req = RQ("/inc/a.md", READ, T0 + 30 * D - 1), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-12-27 10:00:00 UTC" },
	{ "ttl_90m", &alice, FP(c_odd), GRANTS(UG(7, 1000, "/inc", T0, T0 + 2 * H)),
	  .req = RQ("/inc/a.md", READ, T0 + 5400), DENY,
	  .reason = "grant 7 expired at 2026-11-27 11:30:00 UTC (class odd allows at most 90m)" },
	{ "ttl_90m_minus_1", &alice, FP(c_odd), GRANTS(UG(7, 1000, "/inc", T0, T0 + 2 * H)),
	  .req = RQ("/inc/a.md", READ, T0 + 5399), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:30:00 UTC" },
	{ "ttl_2d", &alice, FP(c_ttl2d), GRANTS(UG(7, 1000, "/inc", T0, T0 + 3 * D)),
	  .req = RQ("/inc/a.md", READ, T0 + 2 * D), DENY,
	  .reason = "grant 7 expired at 2026-11-29 10:00:00 UTC (class ttl2d allows at most 2d)" },
	{ "ttl_61s", &alice, FP(c_ttl61), GRANTS(UG(7, 1000, "/inc", T0, T0 + H)),
	  .req = RQ("/inc/a.md", READ, T0 + 61), DENY,
	  .reason = "grant 7 expired at 2026-11-27 10:01:01 UTC (class ttl61 allows at most 61s)" },
	{ "ttl_overflow_saturates", &alice, FP_SENS,
	  GRANTS(UG(7, 1000, "/inc", INT64_MAX - 100, INT64_MAX)),
	  .req = RQ("/inc/a.md", READ, INT64_MAX - 50), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 292277026596-12-04 15:30:07 UTC" },
	{ "time_before_epoch", &alice, FP_NOCAP, GRANTS(UG(7, 1000, "/inc", -1, 100)),
	  .req = RQ("/inc/a.md", READ, -2), DENY,
	  .reason = "grant 7 starts at 1969-12-31 23:59:59 UTC" },
	{ "time_epoch_end", &alice, FP_NOCAP, GRANTS(UG(7, 1000, "/inc", -100, 0)),
	  .req = RQ("/inc/a.md", READ, 0), DENY,
	  .reason = "grant 7 expired at 1970-01-01 00:00:00 UTC" },
	{ "time_leap_day", &alice, FP_NOCAP, GRANTS(UG(7, 1000, "/inc", 951782400, T0)),
	  .req = RQ("/inc/a.md", READ, 951782399), DENY,
	  .reason = "grant 7 starts at 2000-02-29 00:00:00 UTC" },

	/* ---------- path coverage ---------- */
	{ "path_dir_itself", &alice, FP_SENS, GRANTS(A7), .req = RQ("/inc", READ, T0), ALLOW,
	  .gid = 7, .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "path_deep_in_subtree", &alice, FP_SENS, GRANTS(A7),
	  .req = RQ("/inc/2026/q4/a.md", READ, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "path_sibling_common_prefix", &alice, FP_SENS, GRANTS(A7),
	  .req = RQ("/incident/a.md", READ, T0), DENY,
	  .reason = "no grant for alice covers /incident/a.md (class sensitive requires a grant)" },
	{ "path_root_covers_all", &alice, FP_SENS, GRANTS(UG(7, 1000, "/", T0, T0 + H)),
	  .req = RQ("/incident/a.md", READ, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "path_file_grant_exact", &alice, FP_SENS, GRANTS(UG(7, 1000, "/inc/a.md", T0, T0 + H)),
	  .req = RQ("/inc/a.md", READ, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "path_file_grant_not_longer_name", &alice, FP_SENS,
	  GRANTS(UG(7, 1000, "/inc/a.md", T0, T0 + H)), .req = RQ("/inc/a.md.bak", READ, T0), DENY,
	  .reason = "no grant for alice covers /inc/a.md.bak (class sensitive requires a grant)" },
	{ "path_child_grant_not_parent", &alice, FP_SENS,
	  GRANTS(UG(7, 1000, "/inc/a", T0, T0 + H)), .req = RQ("/inc", READ, T0), DENY,
	  .reason = "no grant for alice covers /inc (class sensitive requires a grant)" },
	{ "path_grant_trailing_slash_covers_nothing", &alice, FP_SENS,
	  GRANTS(UG(7, 1000, "/inc/", T0, T0 + H)), .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "no grant for alice covers /inc/a.md (class sensitive requires a grant)" },
	{ "path_grant_empty_covers_nothing", &alice, FP_SENS, GRANTS(UG(7, 1000, "", T0, T0 + H)),
	  .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "no grant for alice covers /inc/a.md (class sensitive requires a grant)" },
	{ "path_grant_null_covers_nothing", &alice, FP_SENS,
	  GRANTS(UG(7, 1000, NULL, T0, T0 + H)), .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "no grant for alice covers /inc/a.md (class sensitive requires a grant)" },
	{ "path_grant_relative_covers_nothing", &alice, FP_SENS,
	  GRANTS(UG(7, 1000, "inc", T0, T0 + H)), .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "no grant for alice covers /inc/a.md (class sensitive requires a grant)" },
	{ "invalid_path_dotdot", &alice, FP_SENS, GRANTS(UG(7, 1000, "/", T0, T0 + H)),
	  .req = RQ("/x/../inc", READ, T0), DENY, .reason = "not a canonical mount path: denied" },

	/* ---------- subjects ---------- */
	{ "subj_group_supplementary", &alice, FP_SENS, GRANTS(GG(7, 2000, "/inc", T0, T0 + H)),
	  .req = RQ("/inc/a.md", READ, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "subj_group_primary", &carol, FP_SENS, GRANTS(GG(7, 2000, "/inc", T0, T0 + H)),
	  .req = RQ("/inc/a.md", READ, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits uid 1002 until 2026-11-27 11:00:00 UTC" },
	{ "subj_group_nonmember", &bob, FP_SENS, GRANTS(GG(7, 2000, "/inc", T0, T0 + H)),
	  .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "no grant for bob covers /inc/a.md (class sensitive requires a grant)" },
	{ "subj_group_gid_is_not_uid", &alice, FP_SENS, GRANTS(GG(7, 1000 + 1, "/inc", T0, T0 + H)),
	  .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "no grant for alice covers /inc/a.md (class sensitive requires a grant)" },
	{ "subj_role_holder", &alice, FP_SENS, GRANTS(RG(7, "responder", "/inc", T0, T0 + H)),
	  .req = RQ("/inc/a.md", READ, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "subj_role_nonholder", &bob, FP_SENS, GRANTS(RG(7, "responder", "/inc", T0, T0 + H)),
	  .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "no grant for bob covers /inc/a.md (class sensitive requires a grant)" },
	{ "subj_role_null", &alice, FP_SENS, GRANTS(RG(7, NULL, "/inc", T0, T0 + H)),
	  .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "no grant for alice covers /inc/a.md (class sensitive requires a grant)" },
	{ "subj_user_other", &alice, FP_SENS, GRANTS(UG(7, 1001, "/inc", T0, T0 + H)),
	  .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "no grant for alice covers /inc/a.md (class sensitive requires a grant)" },
	{ "subj_unknown_kind", &alice, FP_SENS,
	  GRANTS({ .id = 7, .kind = 0, .ugid = 1000, .path = "/inc", .start = T0, .end = T0 + H }),
	  .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "no grant for alice covers /inc/a.md (class sensitive requires a grant)" },

	/* ---------- revocation ---------- */
	{ "revoked_in_past", &alice, FP_SENS, GRANTS(UG(7, 1000, "/inc", T0, T0 + H, .revoked_at = T0 + 10)),
	  .req = RQ("/inc/a.md", READ, T0 + 20), DENY, .reason = "grant 7 is revoked" },
	{ "revoked_this_second", &alice, FP_SENS,
	  GRANTS(UG(7, 1000, "/inc", T0, T0 + H, .revoked_at = T0 + 20)),
	  .req = RQ("/inc/a.md", READ, T0 + 20), DENY, .reason = "grant 7 is revoked" },
	{ "revoked_in_future", &alice, FP_SENS,
	  GRANTS(UG(7, 1000, "/inc", T0, T0 + H, .revoked_at = T0 + 21)),
	  .req = RQ("/inc/a.md", READ, T0 + 20), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "revoked_before_start", &alice, FP_SENS,
	  GRANTS(UG(7, 1000, "/inc", T0, T0 + H, .revoked_at = T0 - 100)),
	  .req = RQ("/inc/a.md", READ, T0 - 50), DENY, .reason = "grant 7 is revoked" },

	/* ---------- two-person approval (secret) ---------- */
	{ "approval_none", &alice, FP_SEC, GRANTS(UG(7, 1000, "/sec", T0, T0 + H)),
	  .req = RQ("/sec/plan.md", READ, T0), DENY,
	  .reason = "grant 7 needs two-person approval (approved by nobody)" },
	{ "approval_empty", &alice, FP_SEC, GRANTS(UG(7, 1000, "/sec", T0, T0 + H, .approved_by = "")),
	  .req = RQ("/sec/plan.md", READ, T0), DENY,
	  .reason = "grant 7 needs two-person approval (approved by nobody)" },
	{ "approval_self", &alice, FP_SEC,
	  GRANTS(UG(7, 1000, "/sec", T0, T0 + H, .approved_by = "root", .approved_at = T0)),
	  .req = RQ("/sec/plan.md", READ, T0), DENY,
	  .reason = "grant 7 needs two-person approval (approved by its own granter root)" },
	/* naming an approver is not an approval: it must be confirmed (approved_at) */
	{ "approval_named_not_confirmed", &alice, FP_SEC,
	  GRANTS(UG(7, 1000, "/sec", T0, T0 + H, .approved_by = "carol")),
	  .req = RQ("/sec/plan.md", READ, T0), DENY,
	  .reason = "grant 7 needs two-person approval (waiting for carol to approve)" },
	{ "approval_time_without_name", &alice, FP_SEC,
	  GRANTS(UG(7, 1000, "/sec", T0, T0 + H, .approved_at = T0)),
	  .req = RQ("/sec/plan.md", READ, T0), DENY,
	  .reason = "grant 7 needs two-person approval (approved by nobody)" },
	{ "approval_ok", &alice, FP_SEC, GRANTS(S7()), .req = RQ("/sec/plan.md", READ, T0), ALLOW,
	  .gid = 7, .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC (open 1 of 3)" },
	{ "approval_granter_unknown", &alice, FP_SEC,
	  GRANTS({ .id = 7, .kind = CFS_SUBJ_USER, .ugid = 1000, .path = "/sec", .start = T0,
		   .end = T0 + H, .approved_by = "carol", .approved_at = T0 - 1 }),
	  .req = RQ("/sec/plan.md", READ, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC (open 1 of 3)" },
	{ "approval_not_asked_by_class", &alice, FP_SENS, GRANTS(A7),
	  .req = RQ("/inc/a.md", READ, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "approval_checked_on_see", &alice, FP_SEC, GRANTS(UG(7, 1000, "/sec", T0, T0 + H)),
	  .req = RQ("/sec/plan.md", SEE, T0), DENY,
	  .reason = "grant 7 needs two-person approval (approved by nobody)" },

	/* ---------- opens: smallest non-zero of grant and file ---------- */
	{ "opens_file_limit_last", &alice, FP_SEC, GRANTS(S7(.opens_used = 2)),
	  .req = RQ("/sec/plan.md", READ, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC (open 3 of 3)" },
	{ "opens_file_limit_used", &alice, FP_SEC, GRANTS(S7(.opens_used = 3)),
	  .req = RQ("/sec/plan.md", READ, T0), DENY, .reason = "grant 7 has used its 3 opens" },
	{ "opens_over_used", &alice, FP_SEC, GRANTS(S7(.opens_used = 9)),
	  .req = RQ("/sec/plan.md", READ, T0), DENY, .reason = "grant 7 has used its 3 opens" },
	{ "opens_grant_smaller_left", &alice, FP_SEC, GRANTS(S7(.max_opens = 2, .opens_used = 1)),
	  .req = RQ("/sec/plan.md", READ, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC (open 2 of 2)" },
	{ "opens_grant_smaller_used", &alice, FP_SEC, GRANTS(S7(.max_opens = 2, .opens_used = 2)),
	  .req = RQ("/sec/plan.md", READ, T0), DENY, .reason = "grant 7 has used its 2 opens" },
	{ "opens_file_smaller", &alice, FP_SEC, GRANTS(S7(.max_opens = 5, .opens_used = 3)),
	  .req = RQ("/sec/plan.md", READ, T0), DENY, .reason = "grant 7 has used its 3 opens" },
	{ "opens_grant_only_left", &alice, FP_SENS,
	  GRANTS(UG(7, 1000, "/inc", T0, T0 + H, .max_opens = 4, .opens_used = 3)),
	  .req = RQ("/inc/a.md", READ, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC (open 4 of 4)" },
	{ "opens_grant_only_used", &alice, FP_SENS,
	  GRANTS(UG(7, 1000, "/inc", T0, T0 + H, .max_opens = 4, .opens_used = 4)),
	  .req = RQ("/inc/a.md", READ, T0), DENY, .reason = "grant 7 has used its 4 opens" },
	{ "opens_unlimited", &alice, FP_SENS,
	  GRANTS(UG(7, 1000, "/inc", T0, T0 + H, .opens_used = 100000)),
	  .req = RQ("/inc/a.md", READ, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "opens_file_override_on_sensitive", &alice,
	  { .cls = &c_sensitive, .export = CFS_EXPORT_DENY, .max_opens = 1 },
	  GRANTS(UG(7, 1000, "/inc", T0, T0 + H, .opens_used = 1)),
	  .req = RQ("/inc/a.md", READ, T0), DENY, .reason = "grant 7 has used its 1 opens" },
	{ "opens_see_ignores", &alice, FP_SEC, GRANTS(S7(.opens_used = 3)),
	  .req = RQ("/sec/plan.md", SEE, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "opens_write_counts", &alice, FP_SEC, GRANTS(S7(.write = 1, .opens_used = 3)),
	  .req = RQ("/sec/plan.md", WRITE, T0), DENY, .reason = "grant 7 has used its 3 opens" },
	{ "opens_recheck_ignores", &alice, FP_SEC, GRANTS(S7(.opens_used = 3)),
	  .req = RQ("/sec/plan.md", RECHECK, T0, .held_grant = 7), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },

	/* ---------- write through a grant ---------- */
	{ "write_grant_with_write", &alice, FP_SENS,
	  GRANTS(UG(7, 1000, "/inc", T0, T0 + H, .write = 1)), .req = RQ("/inc/a.md", WRITE, T0),
	  ALLOW, .gid = 7, .reason = "grant 7 admits alice to write until 2026-11-27 11:00:00 UTC" },
	{ "write_grant_without_write", &alice, FP_SENS, GRANTS(A7),
	  .req = RQ("/inc/a.md", WRITE, T0), DENY, .reason = "grant 7 does not allow writing" },
	{ "write_grant_with_opens", &alice, FP_SEC, GRANTS(S7(.write = 1, .opens_used = 1)),
	  .req = RQ("/sec/plan.md", WRITE, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice to write until 2026-11-27 11:00:00 UTC (open 2 of 3)" },
	{ "write_second_grant_writes", &alice, FP_SENS,
	  GRANTS(A7, UG(8, 1000, "/inc", T0, T0 + H, .write = 1)),
	  .req = RQ("/inc/a.md", WRITE, T0), ALLOW, .gid = 8,
	  .reason = "grant 8 admits alice to write until 2026-11-27 11:00:00 UTC" },

	/* ---------- programs (readers) ---------- */
	{ "readers_less_allowed", &alice, FP_SEC, GRANTS(S7()), .req = RQ("/sec/plan.md", READ, T0),
	  ALLOW, .gid = 7, .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC (open 1 of 3)" },
	{ "readers_mpv_allowed", &alice_mpv, FP_SEC, GRANTS(S7()),
	  .req = RQ("/sec/plan.md", READ, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC (open 1 of 3)" },
	{ "readers_cat_denied", &alice_cat, FP_SEC, GRANTS(S7()),
	  .req = RQ("/sec/plan.md", READ, T0), DENY,
	  .reason = "program /usr/bin/cat is not an allowed reader of /sec/plan.md (class secret)" },
	{ "readers_unknown_program_denied", &alice_noexe, FP_SEC, GRANTS(S7()),
	  .req = RQ("/sec/plan.md", READ, T0), DENY,
	  .reason = "program (unknown) is not an allowed reader of /sec/plan.md (class secret)" },
	{ "readers_apply_to_write", &alice_cat, FP_SEC, GRANTS(S7(.write = 1)),
	  .req = RQ("/sec/plan.md", WRITE, T0), DENY,
	  .reason = "program /usr/bin/cat is not an allowed reader of /sec/plan.md (class secret)" },
	{ "readers_file_override", &alice, { .cls = &c_internal, .export = CFS_EXPORT_LOG,
	  .readers = &l_vim }, .req = RQ("/int/a.md", READ, T0), DENY,
	  .reason = "program /usr/bin/less is not an allowed reader of /int/a.md (class internal)" },
	{ "readers_empty_list_any", &alice_cat, { .cls = &c_internal, .export = CFS_EXPORT_LOG,
	  .readers = &l_empty }, .req = RQ("/int/a.md", READ, T0), ALLOW,
	  .reason = "role responder admits class internal" },
	{ "readers_access_reason_first", &bob_cat, FP_SEC, .req = RQ("/sec/plan.md", READ, T0),
	  DENY, .reason = "no grant for bob covers /sec/plan.md (class secret requires a grant)" },
	{ "readers_ignored_by_see", &alice_cat, FP_SEC, GRANTS(S7()),
	  .req = RQ("/sec/plan.md", SEE, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },

	/* ---------- export ---------- */
	{ "export_log_flags", &alice_cp, FP_INT, .req = RQ("/int/a.md", READ, T0, .export_tool = 1),
	  FLAG, .exp = 1,
	  .reason = "export by /usr/bin/cp flagged (export rule log); role responder admits class "
		    "internal" },
	{ "export_allow", &alice_cp, FP_PUB, .req = RQ("/pub/a.md", READ, T0, .export_tool = 1),
	  ALLOW, .exp = 1,
	  .reason = "export by /usr/bin/cp allowed (export rule allow); class public admits every "
		    "caller" },
	{ "export_deny", &alice_cp, FP_SENS, GRANTS(A7),
	  .req = RQ("/inc/a.md", READ, T0, .export_tool = 1), DENY, .exp = 1,
	  .reason = "export of /inc/a.md by /usr/bin/cp denied (export rule deny)" },
	{ "export_file_override_allow", &alice_cp,
	  { .cls = &c_sensitive, .export = CFS_EXPORT_ALLOW }, GRANTS(A7),
	  .req = RQ("/inc/a.md", READ, T0, .export_tool = 1), ALLOW, .gid = 7, .exp = 1,
	  .reason = "export by /usr/bin/cp allowed (export rule allow); grant 7 admits alice until "
		    "2026-11-27 11:00:00 UTC" },
	{ "export_file_override_deny", &alice_cp, { .cls = &c_internal, .export = CFS_EXPORT_DENY },
	  .req = RQ("/int/a.md", READ, T0, .export_tool = 1), DENY, .exp = 1,
	  .reason = "export of /int/a.md by /usr/bin/cp denied (export rule deny)" },
	{ "export_unset_uses_class", &alice_cp, { .cls = &c_internal },
	  .req = RQ("/int/a.md", READ, T0, .export_tool = 1), FLAG, .exp = 1,
	  .reason = "export by /usr/bin/cp flagged (export rule log); role responder admits class "
		    "internal" },
	{ "export_unset_everywhere_denies", &alice_cp, { .cls = &c_unset },
	  .req = RQ("/u/a.md", READ, T0, .export_tool = 1), DENY, .exp = 1,
	  .reason = "export of /u/a.md by /usr/bin/cp denied (export rule unset)" },
	{ "export_invalid_rule_denies", &alice_cp, { .cls = &c_public, .export = 77 },
	  .req = RQ("/pub/a.md", READ, T0, .export_tool = 1), DENY, .exp = 1,
	  .reason = "export of /pub/a.md by /usr/bin/cp denied (export rule invalid)" },
	{ "export_access_reason_first", &bob_cp, FP_INT,
	  .req = RQ("/int/a.md", READ, T0, .export_tool = 1), DENY,
	  .reason = "no role of bob admits class internal and no grant for bob covers /int/a.md" },
	{ "export_readers_reason_first", &alice_cp, FP_SEC, GRANTS(S7()),
	  .req = RQ("/sec/plan.md", READ, T0, .export_tool = 1), DENY,
	  .reason = "program /usr/bin/cp is not an allowed reader of /sec/plan.md (class secret)" },
	{ "export_only_by_flag", &alice_cp, FP_SENS, GRANTS(A7), .req = RQ("/inc/a.md", READ, T0),
	  ALLOW, .gid = 7, .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "export_by_copy_range_from_reader", &alice, FP_SEC, GRANTS(S7()),
	  .req = RQ("/sec/plan.md", READ, T0, .export_tool = 1), DENY, .exp = 1,
	  .reason = "export of /sec/plan.md by /usr/bin/less denied (export rule deny)" },
	{ "export_on_write_flags", &root_cp, FP_INT,
	  .req = RQ("/int/a.md", WRITE, T0, .export_tool = 1), FLAG, .exp = 1,
	  .reason = "export by /usr/bin/cp flagged (export rule log); role admin may write class "
		    "internal" },
	{ "export_ignored_by_see", &alice_cp, FP_SENS, GRANTS(A7),
	  .req = RQ("/inc/a.md", SEE, T0, .export_tool = 1), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "export_ignored_by_recheck", &alice_cp, FP_SENS, GRANTS(A7),
	  .req = RQ("/inc/a.md", RECHECK, T0, .export_tool = 1, .held_grant = 7), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },

	/* ---------- several grants ---------- */
	{ "multi_first_satisfying_wins", &alice, FP_SENS,
	  GRANTS(UG(8, 1000, "/inc", T0 - 2 * H, T0 - H), UG(9, 1000, "/inc", T0, T0 + H),
		 UG(10, 1000, "/", T0, T0 + 2 * H)),
	  .req = RQ("/inc/a.md", READ, T0), ALLOW, .gid = 9,
	  .reason = "grant 9 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "multi_furthest_failure_reported", &alice, FP_SEC,
	  GRANTS(S7(.revoked_at = T0), UG(6, 1000, "/sec", T0, T0 + H, .approved_by = "carol",
					  .approved_at = T0, .opens_used = 3)),
	  .req = RQ("/sec/plan.md", READ, T0), DENY, .reason = "grant 6 has used its 3 opens" },
	{ "multi_furthest_failure_any_order", &alice, FP_SEC,
	  GRANTS(UG(6, 1000, "/sec", T0, T0 + H, .approved_by = "carol", .approved_at = T0,
		    .opens_used = 3),
		 S7(.revoked_at = T0)),
	  .req = RQ("/sec/plan.md", READ, T0), DENY, .reason = "grant 6 has used its 3 opens" },
	{ "multi_tie_first_in_order", &alice, FP_SENS,
	  GRANTS(UG(3, 1000, "/inc", T0 - 3 * H, T0 - 2 * H), UG(4, 1000, "/inc", T0 - 2 * H, T0 - H)),
	  .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "grant 3 expired at 2026-11-27 08:00:00 UTC" },
	{ "multi_expired_beats_not_started", &alice, FP_SENS,
	  GRANTS(UG(4, 1000, "/inc", T0 + H, T0 + 2 * H), UG(3, 1000, "/inc", T0 - 2 * H, T0 - H)),
	  .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "grant 3 expired at 2026-11-27 09:00:00 UTC" },
	{ "multi_irrelevant_ignored", &alice, FP_SENS,
	  GRANTS(UG(1, 1001, "/inc", T0, T0 + H), UG(2, 1000, "/other", T0, T0 + H)),
	  .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "no grant for alice covers /inc/a.md (class sensitive requires a grant)" },
	{ "multi_relevant_over_irrelevant", &alice, FP_SENS,
	  GRANTS(UG(1, 1001, "/inc", T0, T0 + H), UG(2, 1000, "/inc", T0, T0 + H, .revoked_at = T0)),
	  .req = RQ("/inc/a.md", READ, T0), DENY, .reason = "grant 2 is revoked" },
	{ "multi_group_then_user", &alice, FP_SENS,
	  GRANTS(GG(5, 2000, "/inc", T0, T0 + H), UG(6, 1000, "/inc", T0, T0 + H)),
	  .req = RQ("/inc/a.md", READ, T0), ALLOW, .gid = 5,
	  .reason = "grant 5 admits alice until 2026-11-27 11:00:00 UTC" },

	/* ---------- RECHECK ---------- */
	{ "recheck_held_live", &alice, FP_SENS, GRANTS(A7),
	  .req = RQ("/inc/a.md", RECHECK, T0 + 10, .held_grant = 7), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "recheck_held_revoked", &alice, FP_SENS,
	  GRANTS(UG(7, 1000, "/inc", T0, T0 + H, .revoked_at = T0 + 5)),
	  .req = RQ("/inc/a.md", RECHECK, T0 + 10, .held_grant = 7), DENY,
	  .reason = "grant 7 is revoked" },
	{ "recheck_held_last_second", &alice, FP_SENS, GRANTS(A7),
	  .req = RQ("/inc/a.md", RECHECK, T0 + H - 1, .held_grant = 7), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "recheck_held_expired", &alice, FP_SENS, GRANTS(A7),
	  .req = RQ("/inc/a.md", RECHECK, T0 + H, .held_grant = 7), DENY,
	  .reason = "grant 7 expired at 2026-11-27 11:00:00 UTC" },
	{ "recheck_held_capped", &alice, FP_SEC, GRANTS(S7()),
	  .req = RQ("/sec/plan.md", RECHECK, T0 + H, .held_grant = 7), DENY,
	  .reason = "grant 7 expired at 2026-11-27 11:00:00 UTC (class secret allows at most 1h)" },
	{ "recheck_held_missing", &alice, FP_SENS, GRANTS(UG(9, 1000, "/inc", T0, T0 + H)),
	  .req = RQ("/inc/a.md", RECHECK, T0, .held_grant = 7), DENY,
	  .reason = "grant 7 is no longer in force (revoked, expired or removed)" },
	{ "recheck_held_missing_no_grants", &alice, FP_SENS,
	  .req = RQ("/inc/a.md", RECHECK, T0, .held_grant = 7), DENY,
	  .reason = "grant 7 is no longer in force (revoked, expired or removed)" },
	{ "recheck_only_held_counts", &alice, FP_SENS,
	  GRANTS(UG(9, 1000, "/inc", T0, T0 + 2 * H), A7),
	  .req = RQ("/inc/a.md", RECHECK, T0 + H, .held_grant = 7), DENY,
	  .reason = "grant 7 expired at 2026-11-27 11:00:00 UTC" },
	{ "recheck_held_moved_out", &alice, FP_SENS, GRANTS(A7),
	  .req = RQ("/other.md", RECHECK, T0, .held_grant = 7), DENY,
	  .reason = "grant 7 does not cover /other.md" },
	{ "recheck_held_other_caller", &bob, FP_SENS, GRANTS(A7),
	  .req = RQ("/inc/a.md", RECHECK, T0, .held_grant = 7), DENY,
	  .reason = "grant 7 does not name bob" },
	{ "recheck_held_ignores_readers", &alice_cat, FP_SEC, GRANTS(S7()),
	  .req = RQ("/sec/plan.md", RECHECK, T0, .held_grant = 7), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "recheck_held_ignores_write_bit", &alice, FP_SENS, GRANTS(A7),
	  .req = RQ("/inc/a.md", RECHECK, T0, .held_grant = 7), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "recheck_held_on_role_class", &alice, FP_INT, GRANTS(UG(7, 1000, "/int", T0 - 2 * H, T0 - H)),
	  .req = RQ("/int/a.md", RECHECK, T0, .held_grant = 7), DENY,
	  .reason = "grant 7 expired at 2026-11-27 09:00:00 UTC" },
	{ "recheck_role_live", &alice, FP_INT, .req = RQ("/int/a.md", RECHECK, T0), ALLOW,
	  .reason = "role responder admits class internal" },
	{ "recheck_role_class_now_gated", &alice, FP_SENS, GRANTS(A7),
	  .req = RQ("/inc/a.md", RECHECK, T0), DENY,
	  .reason = "class sensitive requires a grant and this handle was opened without one" },
	{ "recheck_role_lost", &bob, FP_INT, .req = RQ("/int/a.md", RECHECK, T0), DENY,
	  .reason = "no role of bob admits class internal" },
	{ "recheck_role_not_rescued_by_grant", &bob, FP_INT, GRANTS(UG(7, 1001, "/int", T0, T0 + H)),
	  .req = RQ("/int/a.md", RECHECK, T0), DENY, .reason = "no role of bob admits class internal" },

	{ "recheck_writer_keeps_write_handle", &alice, FP(c_wonly),
	  .req = RQ("/wo/a.md", RECHECK_WRITE, T0), ALLOW,
	  .reason = "role responder may write class wonly" },
	{ "recheck_writer_not_read_handle", &alice, FP(c_wonly),
	  .req = RQ("/wo/a.md", RECHECK, T0), DENY, .reason = "no role of alice admits class wonly" },
	{ "recheck_write_handle_writer_lost", &bob, FP(c_wonly),
	  .req = RQ("/wo/a.md", RECHECK_WRITE, T0), DENY,
	  .reason = "no role of bob admits class wonly" },
	{ "recheck_write_handle_reader_role_first", &root, FP_INT,
	  .req = RQ("/int/a.md", RECHECK_WRITE, T0), ALLOW,
	  .reason = "role admin admits class internal" },
	{ "recheck_write_handle_star_writers", &bob, FP(c_open),
	  .req = RQ("/o/a.md", RECHECK_WRITE, T0), ALLOW,
	  .reason = "class open admits every caller" },
	{ "recheck_write_handle_held_grant", &alice, FP_SENS, GRANTS(A7),
	  .req = RQ("/inc/a.md", RECHECK_WRITE, T0 + 10, .held_grant = 7), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },
	{ "recheck_write_handle_gated_class", &alice, FP_SENS,
	  .req = RQ("/inc/a.md", RECHECK_WRITE, T0), DENY,
	  .reason = "class sensitive requires a grant and this handle was opened without one" },

	/* ---------- DELETE (unlink, rmdir, rename): write rights or admin ---------- */
	{ "delete_by_admin", &root, FP_SENS, .req = RQ("/inc/a.md", DELETE, T0), ALLOW,
	  .reason = "admin role manages entries" },
	{ "delete_by_writer_role", &alice, FP(c_wonly), .req = RQ("/wo/a.md", DELETE, T0), ALLOW,
	  .reason = "role responder may write class wonly" },
	{ "delete_reader_not_writer", &alice, FP_INT, .req = RQ("/int/a.md", DELETE, T0), DENY,
	  .reason = "role responder may not write class internal" },
	{ "delete_no_role", &bob, FP_INT, .req = RQ("/int/a.md", DELETE, T0), DENY,
	  .reason = "no role of bob may write class internal and no grant for bob covers /int/a.md" },
	{ "delete_star_reader_only", &bob, FP_PUB, .req = RQ("/pub/a.md", DELETE, T0), DENY,
	  .reason = "no role of bob may write class public and no grant for bob covers /pub/a.md" },
	{ "delete_readonly_grant", &alice, FP_SENS, GRANTS(A7), .req = RQ("/inc/a.md", DELETE, T0),
	  DENY, .reason = "grant 7 does not allow writing" },
	{ "delete_write_grant", &alice, FP_SENS, GRANTS(UG(7, 1000, "/inc", T0, T0 + H, .write = 1)),
	  .req = RQ("/inc/a.md", DELETE, T0), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice to write until 2026-11-27 11:00:00 UTC" },
	{ "delete_write_grant_expired", &alice, FP_SENS,
	  GRANTS(UG(7, 1000, "/inc", T0, T0 + H, .write = 1)), .req = RQ("/inc/a.md", DELETE, T0 + H),
	  DENY, .reason = "grant 7 expired at 2026-11-27 11:00:00 UTC" },
	{ "delete_ignores_opens_and_readers", &alice_cat, FP_SEC,
	  GRANTS(S7(.write = 1, .opens_used = 3)), .req = RQ("/sec/plan.md", DELETE, T0), ALLOW,
	  .gid = 7, .reason = "grant 7 admits alice to write until 2026-11-27 11:00:00 UTC" },
	{ "delete_ignores_export", &alice_cp, FP_SENS,
	  GRANTS(UG(7, 1000, "/inc", T0, T0 + H, .write = 1)),
	  .req = RQ("/inc/a.md", DELETE, T0, .export_tool = 1), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice to write until 2026-11-27 11:00:00 UTC" },
	{ "delete_gated_class_ignores_writers", &root, FP(c_gated),
	  .req = RQ("/g/a.md", DELETE, T0), ALLOW, .reason = "admin role manages entries" },
	{ "delete_invalid_path", &alice, FP_INT, .req = RQ("", DELETE, T0), DENY,
	  .reason = "not a canonical mount path: denied" },

	/* ---------- ADMIN ---------- */
	{ "admin_by_admin", &root, FP_SENS, .req = RQ("/inc/a.md", ADMIN, T0), ALLOW,
	  .reason = "admin role" },
	{ "admin_by_responder", &alice, FP_INT, .req = RQ("/int/a.md", ADMIN, T0), DENY,
	  .reason = "only the admin role may change policy or manage entries" },
	{ "admin_not_by_grant", &alice, FP_SENS,
	  GRANTS(UG(7, 1000, "/", T0, T0 + H, .write = 1)), .req = RQ("/inc/a.md", ADMIN, T0), DENY,
	  .reason = "only the admin role may change policy or manage entries" },
	{ "admin_not_by_star_writers", &bob, FP(c_open), .req = RQ("/o/a.md", ADMIN, T0), DENY,
	  .reason = "only the admin role may change policy or manage entries" },
	{ "admin_path_not_needed", &root, FP_SENS, .req = RQ(NULL, ADMIN, T0), ALLOW,
	  .reason = "admin role" },

	/* ---------- SEE ---------- */
	{ "see_no_access", &bob, FP_SEC, .req = RQ("/sec/plan.md", SEE, T0), DENY,
	  .reason = "no grant for bob covers /sec/plan.md (class secret requires a grant)" },
	{ "see_not_started", &alice, FP_SENS, GRANTS(A7), .req = RQ("/inc/a.md", SEE, T0 - 1), DENY,
	  .reason = "grant 7 starts at 2026-11-27 10:00:00 UTC" },
	{ "see_readonly_grant", &alice, FP_SENS, GRANTS(A7), .req = RQ("/inc/a.md", SEE, T0), ALLOW,
	  .gid = 7, .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC" },

	/* ---------- expiring links (cfs_decide_link): they obey the class ---------- */
	{ "link_user_ok", &alice, FP_SENS, GRANTS(LK(5, 1000, "/inc/a.md", T0, T0 + H, 1)),
	  .req = RQ("/inc/a.md", READ, T0), ALLOW, .link = 1,
	  .reason = "link L5 admits alice until 2026-11-27 11:00:00 UTC (open 1 of 1)" },
	{ "link_other_user", &bob, FP_SENS, GRANTS(LK(5, 1000, "/inc/a.md", T0, T0 + H, 1)),
	  .req = RQ("/inc/a.md", READ, T0), DENY, .link = 1,
	  .reason = "link L5 does not name bob" },
	{ "link_bearer_anyone", &bob, FP_SENS,
	  GRANTS(LKB(5, "/inc/a.md", T0, T0 + H, 2)),
	  .req = RQ("/inc/a.md", READ, T0), ALLOW, .link = 1,
	  .reason = "link L5 admits bob until 2026-11-27 11:00:00 UTC (open 1 of 2)" },
	{ "link_exact_target_only", &alice, FP_SENS, GRANTS(LK(5, 1000, "/inc", T0, T0 + H, 1)),
	  .req = RQ("/inc/a.md", READ, T0), DENY, .link = 1,
	  .reason = "link L5 does not cover /inc/a.md" },
	{ "link_read_only", &alice, FP_SENS, GRANTS(LK(5, 1000, "/inc/a.md", T0, T0 + H, 1)),
	  .req = RQ("/inc/a.md", WRITE, T0), DENY, .link = 1, .reason = "link L5 is read-only" },
	{ "link_revoked", &alice, FP_SENS,
	  GRANTS(LK(5, 1000, "/inc/a.md", T0, T0 + H, 1, .revoked_at = T0 - 1)),
	  .req = RQ("/inc/a.md", READ, T0), DENY, .link = 1, .reason = "link L5 is revoked" },
	{ "link_max_ttl_caps", &alice, FP_SEC,
	  GRANTS(LK(5, 1000, "/sec/plan.md", T0, T0 + 3 * H, 1, .approved_by = "carol",
		    .approved_at = T0)),
	  .req = RQ("/sec/plan.md", READ, T0 + H), DENY, .link = 1,
	  .reason = "link L5 expired at 2026-11-27 11:00:00 UTC (class secret allows at most 1h)" },
	{ "link_max_ttl_last_second", &alice, FP_SEC,
	  GRANTS(LK(5, 1000, "/sec/plan.md", T0, T0 + 3 * H, 1, .approved_by = "carol",
		    .approved_at = T0)),
	  .req = RQ("/sec/plan.md", READ, T0 + H - 1), ALLOW, .link = 1,
	  .reason = "link L5 admits alice until 2026-11-27 11:00:00 UTC (open 1 of 1)" },
	{ "link_two_person_unapproved", &alice, FP_SEC,
	  GRANTS(LK(5, 1000, "/sec/plan.md", T0, T0 + H, 1)),
	  .req = RQ("/sec/plan.md", READ, T0), DENY, .link = 1,
	  .reason = "link L5 needs two-person approval (approved by nobody)" },
	{ "link_two_person_self", &alice, FP_SEC,
	  GRANTS(LK(5, 1000, "/sec/plan.md", T0, T0 + H, 1, .approved_by = "root", .approved_at = T0)),
	  .req = RQ("/sec/plan.md", READ, T0), DENY, .link = 1,
	  .reason = "link L5 needs two-person approval (approved by its own granter root)" },
	{ "link_max_opens_caps_uses", &alice, FP_SEC,
	  GRANTS(LK(5, 1000, "/sec/plan.md", T0, T0 + H, 10, .approved_by = "carol", .approved_at = T0,
		    .opens_used = 3)),
	  .req = RQ("/sec/plan.md", READ, T0), DENY, .link = 1,
	  .reason = "link L5 has used its 3 opens" },
	{ "link_readers_apply", &alice_cat, FP_SEC,
	  GRANTS(LK(5, 1000, "/sec/plan.md", T0, T0 + H, 1, .approved_by = "carol", .approved_at = T0)),
	  .req = RQ("/sec/plan.md", READ, T0), DENY, .link = 1,
	  .reason = "program /usr/bin/cat is not an allowed reader of /sec/plan.md (class secret)" },
	{ "link_export_denied", &alice_cp, FP_SENS, GRANTS(LK(5, 1000, "/inc/a.md", T0, T0 + H, 1)),
	  .req = RQ("/inc/a.md", READ, T0, .export_tool = 1), DENY, .link = 1, .exp = 1,
	  .reason = "export of /inc/a.md by /usr/bin/cp denied (export rule deny)" },
	{ "link_not_a_link", &alice, FP_SENS, GRANTS(UG(5, 1000, "/inc/a.md", T0, T0 + H)),
	  .req = RQ("/inc/a.md", READ, T0), DENY, .link = 1,
	  .reason = "incomplete request: denied" },
	/* a grant row can never be a bearer grant */
	{ "grant_any_subject_matches_nobody", &alice, FP_SENS,
	  GRANTS({ .id = 5, .kind = CFS_SUBJ_ANY, .path = "/inc", .start = T0, .end = T0 + H,
		  .granted_by = "root" }),
	  .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "no grant for alice covers /inc/a.md (class sensitive requires a grant)" },

	/* ---------- session-bound grants ---------- */
	{ "session_root_admitted", &alice, FP_SENS, GRANTS(SG()),
	  .req = RQ("/inc/a.md", READ, T0, .lineage = &lin_root), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC in session 4242 (assistant)" },
	{ "session_child_admitted", &alice, FP_SENS, GRANTS(SG()),
	  .req = RQ("/inc/a.md", READ, T0, .lineage = &lin_child), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC in session 4242 (assistant)" },
	{ "session_grandchild_admitted", &alice, FP_SENS, GRANTS(SG()),
	  .req = RQ("/inc/a.md", READ, T0, .lineage = &lin_grandchild), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC in session 4242 (assistant)" },
	{ "session_other_shell_refused", &alice, FP_SENS, GRANTS(SG()),
	  .req = RQ("/inc/a.md", READ, T0, .lineage = &lin_other), DENY,
	  .reason = "grant 7 is bound to session 4242 (assistant) and process 7000 is not in it" },
	{ "session_orphan_refused", &alice, FP_SENS, GRANTS(SG()),
	  .req = RQ("/inc/a.md", READ, T0, .lineage = &lin_orphan), DENY,
	  .reason = "grant 7 is bound to session 4242 (assistant) and process 6000 is not in it" },
	{ "session_reused_pid_refused", &alice, FP_SENS, GRANTS(SG()),
	  .req = RQ("/inc/a.md", READ, T0, .lineage = &lin_reused), DENY,
	  .reason = "grant 7 is bound to session 4242 (assistant) and process 5000 is not in it" },
	{ "session_unwalked_ancestors_do_not_count", &alice, FP_SENS, GRANTS(SG()),
	  .req = RQ("/inc/a.md", READ, T0, .lineage = &lin_unwalked), DENY,
	  .reason = "grant 7 is bound to session 4242 (assistant) and process 5000 is not in it" },
	{ "session_unknown_lineage_refused", &alice, FP_SENS, GRANTS(SG()),
	  .req = RQ("/inc/a.md", READ, T0), DENY,
	  .reason = "grant 7 is bound to session 4242 (assistant) and process 0 is not in it" },
	{ "session_no_start_time_never_matches", &alice, FP_SENS, GRANTS(SGX(0, 1)),
	  .req = RQ("/inc/a.md", READ, T0, .lineage = &lin_nostart), DENY,
	  .reason = "grant 7 is bound to session 4242 (assistant) and process 4242 is not in it" },
	{ "session_ended_refuses_its_own_process", &alice, FP_SENS, GRANTS(SGX(900, 0)),
	  .req = RQ("/inc/a.md", READ, T0, .lineage = &lin_root), DENY,
	  .reason = "grant 7 is bound to session 4242 (assistant), which has ended" },
	{ "session_ended_stops_open_handles", &alice, FP_SENS, GRANTS(SGX(900, 0)),
	  .req = RQ("/inc/a.md", RECHECK, T0, .held_grant = 7), DENY,
	  .reason = "grant 7 is bound to session 4242 (assistant), which has ended" },
	{ "session_live_handle_kept_without_lineage", &alice, FP_SENS, GRANTS(SG()),
	  .req = RQ("/inc/a.md", RECHECK, T0, .held_grant = 7), ALLOW, .gid = 7,
	  .reason = "grant 7 admits alice until 2026-11-27 11:00:00 UTC in session 4242 (assistant)" },
	{ "session_hidden_from_other_shell", &alice, FP_SENS, GRANTS(SG()),
	  .req = RQ("/inc/a.md", SEE, T0, .lineage = &lin_other), DENY,
	  .reason = "grant 7 is bound to session 4242 (assistant) and process 7000 is not in it" },
	{ "session_other_user_refused", &bob, FP_SENS, GRANTS(SG()),
	  .req = RQ("/inc/a.md", READ, T0, .lineage = &lin_child), DENY,
	  .reason = "no grant for bob covers /inc/a.md (class sensitive requires a grant)" },
	{ "session_expiry_comes_first", &alice, FP_SENS, GRANTS(SGX(900, 0)),
	  .req = RQ("/inc/a.md", READ, T0 + H, .lineage = &lin_root), DENY,
	  .reason = "grant 7 expired at 2026-11-27 11:00:00 UTC" },
	{ "session_write_needs_write_bit", &alice, FP_SENS, GRANTS(SG()),
	  .req = RQ("/inc/a.md", WRITE, T0, .lineage = &lin_child), DENY,
	  .reason = "grant 7 does not allow writing" },
	{ "session_outside_falls_to_plain_grant", &alice, FP_SENS,
	  GRANTS(SG(), UG(8, 1000, "/inc", T0, T0 + H)),
	  .req = RQ("/inc/a.md", READ, T0, .lineage = &lin_other), ALLOW, .gid = 8,
	  .reason = "grant 8 admits alice until 2026-11-27 11:00:00 UTC" },

	/* ---------- malformed requests ---------- */
	{ "invalid_path_relative", &alice, FP_INT, .req = RQ("int/a.md", READ, T0), DENY,
	  .reason = "not a canonical mount path: denied" },
	{ "invalid_path_trailing_slash", &alice, FP_INT, .req = RQ("/int/", READ, T0), DENY,
	  .reason = "not a canonical mount path: denied" },
	{ "invalid_path_null", &alice, FP_INT, .req = RQ(NULL, SEE, T0), DENY,
	  .reason = "not a canonical mount path: denied" },
	{ "invalid_path_empty", &alice, FP_INT, .req = RQ("", READ, T0), DENY,
	  .reason = "not a canonical mount path: denied" },
	{ "unknown_op", &root, FP_INT, .req = { .path = "/int/a.md", .op = 99, .now = T0 }, DENY,
	  .reason = "unknown operation 99: denied" },
};

static void report(const char *name)
{
	if (t_fails_in_test) {
		t_total_fail++;
		printf("FAIL test_policy.%s: %s\n", name, t_first_failure);
	} else {
		printf("PASS test_policy.%s\n", name);
	}
	fflush(stdout);
}

static void run_case(const struct tc *k)
{
	struct cfs_decision d;
	memset(&d, 0x5a, sizeof d);  /* everything must be (re)set */
	if (k->link) {
		cfs_decide_link(k->c, &k->fp, k->g, &k->req, &d);
		T_CHECK(memchr(d.reason, 0, sizeof d.reason) != NULL);
		T_EQ_STR(d.reason, k->reason);
		T_EQ_INT(d.verdict, k->v);
		T_EQ_INT(d.grant_id, 0);
		T_EQ_INT(d.is_export, k->exp);
		return;
	}
	cfs_decide(k->c, &k->fp, k->g, k->ng, &k->req, &d);
	T_CHECK(memchr(d.reason, 0, sizeof d.reason) != NULL);
	T_EQ_STR(d.reason, k->reason);
	T_EQ_INT(d.verdict, k->v);
	T_EQ_INT(d.grant_id, k->gid);
	T_EQ_INT(d.is_export, k->exp);
	/* pure: the same inputs give the same answer */
	struct cfs_decision d2;
	memset(&d2, 0, sizeof d2);
	cfs_decide(k->c, &k->fp, k->g, k->ng, &k->req, &d2);
	T_CHECK(d2.verdict == d.verdict && d2.grant_id == d.grant_id &&
		strcmp(d2.reason, d.reason) == 0);
}

/* ---------- the helpers on their own ---------- */

static void effective_end(void)
{
	struct cfs_grant g = { .start = T0, .end = T0 + 2 * H };
	T_EQ_INT(cfs_grant_effective_end(&g, &c_nocap), T0 + 2 * H);
	T_EQ_INT(cfs_grant_effective_end(&g, &c_secret), T0 + H);
	T_EQ_INT(cfs_grant_effective_end(&g, &c_sensitive), T0 + 2 * H);
	T_EQ_INT(cfs_grant_effective_end(&g, NULL), T0 + 2 * H);
	struct cfs_class neg = { .name = "neg", .max_ttl = -5 };
	T_EQ_INT(cfs_grant_effective_end(&g, &neg), T0 + 2 * H);
	g.start = INT64_MAX - 10;
	g.end = INT64_MAX;
	T_EQ_INT(cfs_grant_effective_end(&g, &c_secret), INT64_MAX);
	g.end = INT64_MAX - 5;
	T_EQ_INT(cfs_grant_effective_end(&g, &c_secret), INT64_MAX - 5);
	struct cfs_class huge = { .name = "huge", .max_ttl = INT64_MAX };
	g.start = 1;
	g.end = INT64_MAX;
	T_EQ_INT(cfs_grant_effective_end(&g, &huge), INT64_MAX);
	g.start = INT64_MIN;
	g.end = 0;
	T_EQ_INT(cfs_grant_effective_end(&g, &huge), -1);
}

static void matches_caller(void)
{
	struct cfs_grant u = UG(1, 1000, "/", 0, 1);
	struct cfs_grant gsup = GG(2, 2000, "/", 0, 1);
	struct cfs_grant gpri = GG(3, 1000, "/", 0, 1);
	struct cfs_grant r = RG(4, "responder", "/", 0, 1);
	struct cfs_grant rnull = RG(5, NULL, "/", 0, 1);
	struct cfs_grant rempty = RG(6, "", "/", 0, 1);
	struct cfs_grant bad = { .kind = 9, .ugid = 1000 };
	T_EQ_INT(cfs_grant_matches_caller(&u, &alice), 1);
	T_EQ_INT(cfs_grant_matches_caller(&u, &bob), 0);
	T_EQ_INT(cfs_grant_matches_caller(&gsup, &alice), 1);
	T_EQ_INT(cfs_grant_matches_caller(&gsup, &carol), 1);
	T_EQ_INT(cfs_grant_matches_caller(&gsup, &bob), 0);
	T_EQ_INT(cfs_grant_matches_caller(&gpri, &alice), 1);
	T_EQ_INT(cfs_grant_matches_caller(&r, &alice), 1);
	T_EQ_INT(cfs_grant_matches_caller(&r, &root), 0);
	T_EQ_INT(cfs_grant_matches_caller(&rnull, &alice), 0);
	T_EQ_INT(cfs_grant_matches_caller(&rempty, &alice), 0);
	T_EQ_INT(cfs_grant_matches_caller(&bad, &alice), 0);
	T_EQ_INT(cfs_grant_matches_caller(NULL, &alice), 0);
	T_EQ_INT(cfs_grant_matches_caller(&u, NULL), 0);
}

/* A caller whose counts are out of range must not be read past its arrays. */
static void hostile_caller_counts(void)
{
	struct cfs_caller c = alice;
	struct cfs_file_policy fp = FP_INT;
	struct cfs_request req = RQ("/int/a.md", READ, T0);
	struct cfs_decision d;
	c.nroles = 1000;
	c.ngroups = 1000;
	for (int i = 1; i < CFS_ROLES_MAX; i++)
		c.roles[i] = "nobody-role";
	cfs_decide(&c, &fp, NULL, 0, &req, &d);
	T_EQ_INT(d.verdict, CFS_ALLOW);
	T_EQ_STR(d.reason, "role responder admits class internal");
	c.nroles = -3;
	cfs_decide(&c, &fp, NULL, 0, &req, &d);
	T_EQ_INT(d.verdict, CFS_DENY);
	/* unterminated user name: named by uid instead */
	memset(c.user, 'x', sizeof c.user);
	cfs_decide(&c, &fp, NULL, 0, &req, &d);
	T_EQ_STR(d.reason,
		 "no role of uid 1000 admits class internal and no grant for uid 1000 covers /int/a.md");
}

static void null_inputs(void)
{
	struct cfs_file_policy fp = FP_INT;
	struct cfs_file_policy nocls = { .cls = NULL };
	struct cfs_request req = RQ("/int/a.md", READ, T0);
	struct cfs_decision d;
	cfs_decide(&alice, &fp, NULL, 0, &req, NULL);  /* must not crash */
	memset(&d, 0x5a, sizeof d);
	cfs_decide(NULL, &fp, NULL, 0, &req, &d);
	T_EQ_INT(d.verdict, CFS_DENY);
	T_EQ_INT(d.grant_id, 0);
	T_EQ_INT(d.is_export, 0);
	T_EQ_STR(d.reason, "incomplete request: denied");
	cfs_decide(&alice, NULL, NULL, 0, &req, &d);
	T_EQ_STR(d.reason, "incomplete request: denied");
	cfs_decide(&alice, &nocls, NULL, 0, &req, &d);
	T_EQ_STR(d.reason, "incomplete request: denied");
	cfs_decide(&alice, &fp, NULL, 0, NULL, &d);
	T_EQ_STR(d.reason, "incomplete request: denied");
	/* grants NULL with a count: treated as no grants */
	struct cfs_file_policy sfp = FP_SENS;
	struct cfs_request sreq = RQ("/inc/a.md", READ, T0);
	cfs_decide(&alice, &sfp, NULL, 5, &sreq, &d);
	T_EQ_INT(d.verdict, CFS_DENY);
	T_EQ_STR(d.reason, "no grant for alice covers /inc/a.md (class sensitive requires a grant)");
}

/* A reason that does not fit is cut, never overflowed, and stays non-empty. */
static void long_path_truncates(void)
{
	char *path = malloc(4000);
	struct cfs_file_policy fp = FP_SENS;
	struct cfs_decision d;
	T_CHECK(path != NULL);
	if (!path)
		return;
	path[0] = '/';
	memset(path + 1, 'p', 3998);
	path[3999] = 0;
	struct cfs_request req = { .path = path, .op = CFS_OP_READ, .now = T0 };
	cfs_decide(&alice, &fp, NULL, 0, &req, &d);
	T_EQ_INT(d.verdict, CFS_DENY);
	T_EQ_INT(strlen(d.reason), sizeof d.reason - 1);
	T_CHECK(strncmp(d.reason, "no grant for alice covers /ppp", 30) == 0);
	free(path);
}

/* A grant with a very large id prints in full. */
static void large_grant_id(void)
{
	struct cfs_grant g = UG(INT64_MAX, 1000, "/inc", T0, T0 + H, .revoked_at = 1);
	struct cfs_file_policy fp = FP_SENS;
	struct cfs_request req = RQ("/inc/a.md", READ, T0);
	struct cfs_decision d;
	cfs_decide(&alice, &fp, &g, 1, &req, &d);
	T_EQ_STR(d.reason, "grant 9223372036854775807 is revoked");
	T_EQ_INT(d.grant_id, 0);
}

/* A row's grants (up to 8) followed by a crowd of extra ones (up to 8) in
 * all[16]; returns how many. */
static size_t with_crowd(const struct tc *k, const struct cfs_grant *crowd, size_t ncrowd,
			 struct cfs_grant all[16])
{
	size_t m = 0;
	for (size_t j = 0; j < k->ng && m < 8; j++)
		all[m++] = k->g[j];
	for (size_t j = 0; j < ncrowd && j < 8; j++)
		all[m++] = crowd[j];
	return m;
}

/* coachfs's access layer skips the grant snapshot when a decision without
 * grants already allows: that is sound only while role admission is settled
 * before any grant is looked at. Every allowing table row must come out
 * identical with a crowd of grants (matching, covering, expired, revoked)
 * added. */
static void roles_decide_before_grants(void)
{
	const struct cfs_grant crowd[] = {
		UG(1, 1000, "/", T0 - H, T0 + H), GG(2, 2000, "/", T0 - H, T0 + H),
		RG(3, "responder", "/", T0 - H, T0 + H, .write = 1),
		UG(4, 1001, "/", T0 - H, T0 + H, .write = 1, .approved_by = "carol"),
		UG(5, 0, "/", T0 - H, T0 + H), UG(6, 1000, "/", T0 - 2 * H, T0 - H),
		UG(7, 1000, "/", T0 - H, T0 + H, .revoked_at = T0 - 1),
		UG(8, 1002, "/", T0 - H, T0 + H, .max_opens = 1, .opens_used = 1),
	};
	size_t n = sizeof cases / sizeof cases[0], checked = 0;
	for (size_t i = 0; i < n; i++) {
		const struct tc *k = &cases[i];
		if (k->link)
			continue;
		struct cfs_decision none, with;
		cfs_decide(k->c, &k->fp, NULL, 0, &k->req, &none);
		if (none.verdict == CFS_DENY)
			continue;
		struct cfs_grant all[16];
		size_t m = with_crowd(k, crowd, sizeof crowd / sizeof crowd[0], all);
		cfs_decide(k->c, &k->fp, all, m, &k->req, &with);
		if (with.verdict != none.verdict || with.grant_id != none.grant_id ||
		    with.is_export != none.is_export || strcmp(with.reason, none.reason) != 0)
			T_FAILF("%s: without grants '%s' (%d, grant %lld), with grants '%s' (%d, grant %lld)",
				k->name, none.reason, none.verdict, (long long)none.grant_id, with.reason,
				with.verdict, (long long)with.grant_id);
		checked++;
	}
	T_CHECK(checked >= 10);
}

/* The daemon decides visibility (CFS_OP_SEE) first without the caller's
 * supplementary groups and asks again with them only on a no (ops.c,
 * visible_to). That is sound only while seeing is monotone in groups and
 * roles: a caller with more of them must see everything one with fewer sees.
 * Checked for every table row's policy and grants (plus a crowd of group and
 * role grants): the row's caller cut down to its primary gid and each subset
 * of its roles, against the caller with extra groups and roles added. */
static void see_monotone_in_groups(void)
{
	static const char *const extra_roles[] = { "responder", "contractor", "admin" };
	const struct cfs_grant crowd[] = {
		GG(21, 2000, "/", T0 - H, T0 + H), GG(22, 3000, "/", T0 - H, T0 + H),
		RG(23, "contractor", "/", T0 - H, T0 + H),
		GG(24, 2000, "/", T0 - H, T0 + H, .revoked_at = T0 - 1),
	};
	size_t n = sizeof cases / sizeof cases[0], checked = 0;
	for (size_t i = 0; i < n; i++) {
		const struct tc *k = &cases[i];
		if (k->link)
			continue;
		struct cfs_grant all[16];
		size_t m = with_crowd(k, crowd, sizeof crowd / sizeof crowd[0], all);
		for (int with_grants = 0; with_grants < 2; with_grants++) {
			struct cfs_request req = k->req;
			req.op = CFS_OP_SEE;
			struct cfs_caller big = *k->c;
			for (gid_t g = 2000; g <= 3000; g += 1000)
				if (big.ngroups < CFS_GROUPS_MAX && !cfs_caller_in_group(&big, g))
					big.groups[big.ngroups++] = g;
			for (size_t r = 0; r < 3; r++)
				if (big.nroles < CFS_ROLES_MAX && !cfs_caller_has_role(&big, extra_roles[r]))
					big.roles[big.nroles++] = extra_roles[r];
			struct cfs_decision dbig;
			cfs_decide(&big, &k->fp, with_grants ? all : NULL, with_grants ? m : 0, &req, &dbig);
			/* every subset of the row caller's roles, primary gid only */
			for (unsigned mask = 0; mask < (1u << k->c->nroles) && mask < 64; mask++) {
				struct cfs_caller small = *k->c;
				small.ngroups = 1;
				small.groups[0] = small.gid;
				small.nroles = 0;
				for (int r = 0; r < k->c->nroles; r++)
					if (mask & (1u << r))
						small.roles[small.nroles++] = k->c->roles[r];
				struct cfs_decision dsmall;
				cfs_decide(&small, &k->fp, with_grants ? all : NULL, with_grants ? m : 0, &req,
					   &dsmall);
				if (dsmall.verdict != CFS_DENY && dbig.verdict == CFS_DENY)
					T_FAILF("%s: fewer groups/roles see ('%s'), more do not ('%s')",
						k->name, dsmall.reason, dbig.reason);
				checked++;
			}
		}
	}
	T_CHECK(checked >= n * 2);
}

/* Derived content: never lower than the file's own class; ranks the
 * configuration does not have are ignored. Renames pin a class that the
 * new place would lower. */
static void derived_and_pin(void)
{
	T_EQ_INT(cfs_decide_derived_rank(1, 3, 4), 3);   /* read higher: the file takes it */
	T_EQ_INT(cfs_decide_derived_rank(3, 1, 4), 3);   /* read lower: unchanged */
	T_EQ_INT(cfs_decide_derived_rank(2, 2, 4), 2);
	T_EQ_INT(cfs_decide_derived_rank(1, -1, 4), 1);  /* read nothing */
	T_EQ_INT(cfs_decide_derived_rank(1, 4, 4), 1);   /* no such class: ignored */
	T_EQ_INT(cfs_decide_derived_rank(0, 3, 4), 3);
	T_EQ_INT(cfs_decide_rename_pin(3, 1), 1);        /* would drop: pin */
	T_EQ_INT(cfs_decide_rename_pin(1, 3), 0);        /* would rise: no pin */
	T_EQ_INT(cfs_decide_rename_pin(2, 2), 0);
}

/* copy_file_range inside the mount: the export rule, once access holds. */
static void copy_export(void)
{
	struct cfs_file_policy fp = { .cls = &c_internal, .export = CFS_EXPORT_LOG };
	struct cfs_decision d = { .verdict = CFS_ALLOW, .reason = "role responder" };
	cfs_decide_copy_export(&fp, "/out/copy.md", &d);
	T_CHECK(d.verdict == CFS_FLAG && d.is_export);
	T_EQ_STR(d.reason, "copy_file_range to /out/copy.md: export rule log");
	fp.export = CFS_EXPORT_DENY;
	d.verdict = CFS_ALLOW;
	cfs_decide_copy_export(&fp, "/x", &d);
	T_CHECK(d.verdict == CFS_DENY);
	T_EQ_STR(d.reason, "copy_file_range to /x: export rule deny");
	fp.export = CFS_EXPORT_ALLOW;
	d.verdict = CFS_FLAG;
	cfs_decide_copy_export(&fp, "/x", &d);
	T_CHECK(d.verdict == CFS_ALLOW);
	/* access refused at the recheck stays refused, with its own reason */
	struct cfs_decision no = { .verdict = CFS_DENY, .reason = "grant 7 expired" };
	cfs_decide_copy_export(&fp, "/x", &no);
	T_CHECK(no.verdict == CFS_DENY);
	T_EQ_STR(no.reason, "grant 7 expired");
}

/* hide_denied: who sees everything without a class decision. */
static void sees_all(void)
{
	T_CHECK(cfs_decide_sees_all(0, &bob, "/secret/x") == 1);     /* hiding off */
	T_CHECK(cfs_decide_sees_all(1, &bob, "/") == 1);             /* the root */
	T_CHECK(cfs_decide_sees_all(1, &root, "/secret/x") == 1);    /* an admin */
	T_CHECK(cfs_decide_sees_all(1, &bob, "/secret/x") == 0);
	T_CHECK(cfs_decide_sees_all(1, &alice, "/secret") == 0);     /* responder: decide */
	T_CHECK(cfs_decide_sees_all(1, NULL, "/secret") == 0);       /* nobody yet */
	T_CHECK(cfs_decide_sees_all(1, NULL, "/") == 1);
}

/* A hidden directory on the way to a live grant of the caller's. */
static void dir_on_way(void)
{
	static const struct cfs_grant g[] = {
		UG(1, 1000, "/secret/a/f", T0 - H, T0 + H),
		UG(2, 1001, "/secret/b", T0 - H, T0 - 1),            /* expired */
		UG(3, 1001, "/secret/c", T0 - H, T0 + H, .revoked_at = T0 - 5),
		GG(4, 2000, "/team", T0 - H, T0 + H),
		RG(5, "responder", "/ops/x", T0 + H, T0 + 2 * H),   /* starts later */
	};
	const struct cfs_grant *gs[5] = { &g[0], &g[1], &g[2], &g[3], &g[4] };
	T_CHECK(cfs_decide_dir_on_way(gs, 5, &alice, "/secret", T0) == 1);
	T_CHECK(cfs_decide_dir_on_way(gs, 5, &alice, "/secret/a", T0) == 1);
	T_CHECK(cfs_decide_dir_on_way(gs, 5, &alice, "/secret/b", T0) == 0);  /* not below b */
	T_CHECK(cfs_decide_dir_on_way(gs, 5, &alice, "/secret/a/f", T0) == 1); /* the path itself */
	T_CHECK(cfs_decide_dir_on_way(gs, 5, &alice, "/secret/ab", T0) == 0); /* a prefix is not a parent */
	T_CHECK(cfs_decide_dir_on_way(gs, 5, &bob, "/secret", T0) == 0);      /* expired, revoked */
	T_CHECK(cfs_decide_dir_on_way(gs, 5, &bob, "/secret", T0 - 10) == 1); /* before they ended */
	T_CHECK(cfs_decide_dir_on_way(gs, 5, &carol, "/team", T0) == 1);      /* by group */
	T_CHECK(cfs_decide_dir_on_way(gs, 5, &bob, "/team", T0) == 0);
	T_CHECK(cfs_decide_dir_on_way(gs, 5, &alice, "/ops", T0) == 1);      /* shown before it starts */
	T_CHECK(cfs_decide_dir_on_way(gs, 0, &alice, "/secret", T0) == 0);
}

/* ---- access requests and break-glass: who may act, and when a grant is made ---- */
#define DAVE_IDS .uid = 1003, .gid = 1003, .ngroups = 1, .groups = { 1003 }, .pid = 4545, \
	.user = "dave", .nroles = 1, .roles = { "admin" }
static const struct cfs_caller dave = { DAVE_IDS, .exe = "/usr/bin/setfattr" };
static const struct cfs_caller erin = { .uid = 1004, .gid = 1004, .ngroups = 1, .groups = { 1004 },
	.pid = 4646, .user = "erin", .nroles = 1, .roles = { "admin" }, .exe = "/usr/bin/setfattr" };
/* an admin who also asked (alice's uid) */
static const struct cfs_caller alice_admin = { .uid = 1000, .gid = 1000, .ngroups = 1,
	.groups = { 1000 }, .pid = 4747, .user = "alice", .nroles = 2, .roles = { "responder", "admin" } };

struct rq_case {
	const char *name;
	const struct cfs_caller *who;
	struct cfs_req_view r;
	enum cfs_req_act act;
	int rc, grant_now;
	const char *why;
};

/* expires 0 here means T0 + 1 day */
#define RQ_ALICE(...) { .id = 12, .kind = CFS_REQ_REQUEST, .uid = 1000, __VA_ARGS__ }
#define BG_ALICE(...) { .id = 13, .kind = CFS_REQ_BREAKGLASS, .uid = 1000, __VA_ARGS__ }

static const struct rq_case rq_cases[] = {
	{ "req_one_admin_grants", &dave, RQ_ALICE(0), CFS_REQ_APPROVE, 0, 1,
	  "R12 approved by dave: granted" },
	{ "req_two_person_first_waits", &dave, RQ_ALICE(.two_person = 1), CFS_REQ_APPROVE, 0, 0,
	  "R12 approved by dave (first of two): a second admin must approve" },
	{ "req_two_person_second_grants", &erin,
	  RQ_ALICE(.two_person = 1, .approver_uid = 1003, .approved_at = T0 - 60), CFS_REQ_APPROVE, 0, 1,
	  "R12 approved by erin (second of two): granted" },
	{ "req_two_person_same_admin_twice", &dave,
	  RQ_ALICE(.two_person = 1, .approver_uid = 1003, .approved_at = T0 - 60), CFS_REQ_APPROVE,
	  -EPERM, 0, "R12: dave already approved it: a second admin must decide" },
	{ "req_first_approver_may_not_deny", &dave,
	  RQ_ALICE(.two_person = 1, .approver_uid = 1003, .approved_at = T0 - 60), CFS_REQ_DENY,
	  -EPERM, 0, "R12: dave already approved it: a second admin must decide" },
	{ "req_requester_may_not_approve", &alice_admin, RQ_ALICE(0), CFS_REQ_APPROVE, -EPERM, 0,
	  "R12: alice asked for it and cannot also approve it" },
	{ "req_requester_may_not_deny", &alice_admin, RQ_ALICE(0), CFS_REQ_DENY, -EPERM, 0,
	  "R12: alice asked for it and cannot also deny it" },
	{ "req_root_refused", &root, RQ_ALICE(0), CFS_REQ_APPROVE, -EPERM, 0,
	  "R12: root is a shared identity, not a second person: act as yourself" },
	{ "req_non_admin_refused", &bob, RQ_ALICE(0), CFS_REQ_APPROVE, -EPERM, 0,
	  "R12: bob is not in the admin role" },
	{ "req_expired_refused", &dave, RQ_ALICE(.expires = T0), CFS_REQ_APPROVE, -EACCES, 0,
	  "R12 has expired undecided" },
	{ "req_last_second_ok", &dave, RQ_ALICE(.expires = T0 + 1), CFS_REQ_APPROVE, 0, 1,
	  "R12 approved by dave: granted" },
	{ "req_decided_refused", &dave, RQ_ALICE(.decided_at = T0 - 5), CFS_REQ_DENY, -EALREADY, 0,
	  "R12 is already decided" },
	{ "req_deny", &erin, RQ_ALICE(.two_person = 1), CFS_REQ_DENY, 0, 0, "R12 denied by erin" },
	{ "req_review_is_for_breakglass", &dave, RQ_ALICE(0), CFS_REQ_REVIEW, -EINVAL, 0,
	  "R12 is a request, not a break-glass: approve or deny it" },
	{ "bg_approve_refused", &dave, BG_ALICE(0), CFS_REQ_APPROVE, -EINVAL, 0,
	  "B13 is a break-glass: review it" },
	{ "bg_review", &dave, BG_ALICE(0), CFS_REQ_REVIEW, 0, 0, "B13 reviewed by dave" },
	{ "bg_review_after_expiry", &dave, BG_ALICE(.expires = T0 - D), CFS_REQ_REVIEW, 0, 0,
	  "B13 reviewed by dave" },
	{ "bg_review_twice", &erin, BG_ALICE(.reviewed_at = T0 - 1), CFS_REQ_REVIEW, -EALREADY, 0,
	  "B13 is already reviewed" },
	{ "bg_self_review_refused", &alice_admin, BG_ALICE(0), CFS_REQ_REVIEW, -EPERM, 0,
	  "B13: alice broke the glass and cannot also review it" },
	{ "bg_root_review_refused", &root, BG_ALICE(0), CFS_REQ_REVIEW, -EPERM, 0,
	  "B13: root is a shared identity, not a second person: act as yourself" },
};

static void request_cases(void)
{
	for (size_t i = 0; i < sizeof rq_cases / sizeof rq_cases[0]; i++) {
		const struct rq_case *k = &rq_cases[i];
		char why[300] = "";
		int now = -1;
		t_fails_in_test = 0;
		t_first_failure[0] = 0;
		struct cfs_req_view r = k->r;
		if (!r.expires)
			r.expires = T0 + D;
		int rc = cfs_decide_request(k->who, &r, k->act, T0, &now, why, sizeof why);
		T_EQ_INT(rc, k->rc);
		T_EQ_INT(now, k->grant_now);
		T_EQ_STR(why, k->why);
		report(k->name);
	}
}

static const struct cfs_class c_bg = { .name = "bg", .grant = 1, .max_ttl = 30 * 60,
	.breakglass = { 1, { "responder" } }, .breakglass_ttl = H };
static const struct cfs_class c_bgstar = { .name = "bgstar", .grant = 1,
	.breakglass = { 1, { "*" } }, .breakglass_ttl = 15 * 60 };

static void request_new_and_ttl(void)
{
	char why[300];
	T_EQ_INT(cfs_decide_request_new(&alice, &c_sensitive, 0, why, sizeof why), 0);
	T_EQ_STR(why, "alice may request access to class sensitive");
	T_EQ_INT(cfs_decide_request_new(&alice, &c_internal, 0, why, sizeof why), -EINVAL);
	T_EQ_STR(why, "a request: class internal admits by role, not by grant");
	T_EQ_INT(cfs_decide_request_new(&root, &c_sensitive, 0, why, sizeof why), -EPERM);
	T_EQ_STR(why, "a request: root adds grants directly (coach-grant add)");
	T_EQ_INT(cfs_decide_request_new(&alice, &c_bg, 1, why, sizeof why), 0);
	T_EQ_STR(why, "break-glass by alice (role responder) on class bg");
	T_EQ_INT(cfs_decide_request_new(&bob, &c_bg, 1, why, sizeof why), -EPERM);
	T_EQ_STR(why, "break-glass: bob holds no role in class bg's breakglass list");
	T_EQ_INT(cfs_decide_request_new(&alice, &c_secret, 1, why, sizeof why), -EPERM);
	T_EQ_STR(why, "break-glass: alice holds no role in class secret's breakglass list");
	/* "*" names no role: break-glass is for named roles only */
	T_EQ_INT(cfs_decide_request_new(&bob, &c_bgstar, 1, why, sizeof why), -EPERM);
	T_EQ_INT(cfs_request_grant_ttl(4 * H, &c_sensitive, 0), 4 * H);
	T_EQ_INT(cfs_request_grant_ttl(2 * D, &c_sensitive, 0), 8 * H);   /* max_ttl caps it */
	T_EQ_INT(cfs_request_grant_ttl(2 * D, &c_nocap, 0), 2 * D);
	T_EQ_INT(cfs_request_grant_ttl(5 * H, &c_bg, 1), 30 * 60);       /* breakglass_ttl, capped */
	T_EQ_INT(cfs_request_grant_ttl(5 * H, &c_bgstar, 1), 15 * 60);
	T_EQ_INT(cfs_request_grant_ttl(0, &c_nocap, 0), 1);
}

int main(void)
{
	size_t n = sizeof cases / sizeof cases[0];
	for (size_t i = 0; i < n; i++) {
		t_fails_in_test = 0;
		t_first_failure[0] = 0;
		run_case(&cases[i]);
		report(cases[i].name);
	}
	/* row names must be unique so each PASS line means one case */
	t_fails_in_test = 0;
	t_first_failure[0] = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(cases[i].name, cases[j].name) == 0)
				T_FAILF("duplicate case name %s", cases[i].name);
	report("case_names_unique");
	T_RUN(effective_end);
	T_RUN(matches_caller);
	T_RUN(hostile_caller_counts);
	T_RUN(null_inputs);
	T_RUN(long_path_truncates);
	T_RUN(large_grant_id);
	T_RUN(roles_decide_before_grants);
	T_RUN(see_monotone_in_groups);
	T_RUN(sees_all);
	T_RUN(copy_export);
	T_RUN(derived_and_pin);
	T_RUN(dir_on_way);
	request_cases();
	T_RUN(request_new_and_ttl);
	T_END();
}
