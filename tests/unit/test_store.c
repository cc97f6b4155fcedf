/* test_store.c — store.c's pure rules: which symlink targets a link in the
 * mount may carry (cfs_store_link_ok) and which names are reserved, with
 * exact results for every case. */
#include "coachfs/store.h"
#include "t.h"

#include <errno.h>

static void test_link_targets(void)
{
	static const struct { const char *link, *target; int rc; } c[] = {
		/* relative, staying inside */
		{ "/l", "r2", 0 },
		{ "/l", "./r2", 0 },
		{ "/l", "a/b/c", 0 },
		{ "/l", "a//b/", 0 },
		{ "/l", ".", 0 },
		{ "/d/l", "..", 0 },
		{ "/d/l", "../x", 0 },
		{ "/d/e/l", "../../x", 0 },
		{ "/d/e/l", "./../../x/y", 0 },
		{ "/d/e/l", "../..", 0 },
		/* absolute: anywhere outside the mount */
		{ "/l", "/etc", -EPERM },
		{ "/l", "/", -EPERM },
		{ "/d/l", "//etc/passwd", -EPERM },
		/* climbing out of the mount */
		{ "/l", "..", -EPERM },
		{ "/l", "../etc", -EPERM },
		{ "/d/l", "../..", -EPERM },
		{ "/d/e/l", "../../../../../etc/passwd", -EPERM },
		{ "/d/l", "./../../x", -EPERM },
		/* ".." after a name: through a symlinked name it could climb higher */
		{ "/d/l", "x/..", -EPERM },
		{ "/d/e/l", "../x/../y", -EPERM },
		{ "/l", "a/../b", -EPERM },
		/* nothing at all */
		{ "/l", "", -EPERM },
		/* a link path that is not a mount path */
		{ "l", "x", -EPERM },
		{ "", "x", -EPERM },
		/* names that only look like dots */
		{ "/l", "...", 0 },
		{ "/l", "..a", 0 },
		{ "/l", "a..", 0 },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		int rc = cfs_store_link_ok(c[i].link, c[i].target);
		if (rc != c[i].rc)
			T_FAILF("link %s -> '%s': %d, expected %d", c[i].link, c[i].target, rc, c[i].rc);
	}
	T_EQ_INT(cfs_store_link_ok(NULL, "x"), -EPERM);
	T_EQ_INT(cfs_store_link_ok("/l", NULL), -EPERM);
}

static void test_reserved_names(void)
{
	T_EQ_INT(cfs_store_reserved(".coachfs-dir", 0), 1);
	T_EQ_INT(cfs_store_reserved(".coachfs-dir", 1), 1);
	T_EQ_INT(cfs_store_reserved(".coachfs-tmp.0011223344556677", 0), 1);
	T_EQ_INT(cfs_store_reserved(".links", 1), 1);
	T_EQ_INT(cfs_store_reserved(".links", 0), 0);
	T_EQ_INT(cfs_store_reserved("links", 1), 0);
	T_EQ_INT(cfs_store_reserved(".coachfs", 1), 0);
	T_EQ_INT(cfs_store_reserved("notes.md", 1), 0);
}

int main(void)
{
	T_RUN(test_link_targets);
	T_RUN(test_reserved_names);
	T_END();
}
