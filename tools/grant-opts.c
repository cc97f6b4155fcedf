/* grant-opts.c — the option parsing every coach-grant command shares: a
 * table of long options, each storing its value or setting a flag, plus
 * -c FILE, and one message for an unknown option or a missing value. It
 * only parses: each command checks the values itself. */
#include <getopt.h>
#include <stdio.h>

#include "grant.h"

#define OPTS_MAX 8
#define OPT_BASE 0x100   /* getopt_long values of the table's options */

/* After getopt_long returned ':' (missing value) or '?' (unknown). cmd is
 * the command ("add: ") or "" before one. */
int bad_option(const char *cmd, int c, int opt, char **argv, int ind)
{
	if (c == ':')
		return cfs_say(EXIT_USAGE, "%soption '%s' needs a value", cmd, argv[ind - 1]);
	if (opt && opt != '?' && opt < OPT_BASE)
		return cfs_say(EXIT_USAGE, "%sunknown option '-%c' (see coach-grant --help)", cmd, opt);
	return cfs_say(EXIT_USAGE, "%sunknown option '%s' (see coach-grant --help)", cmd,
		   argv[ind - 1]);
}

int grant_getopt(int argc, char **argv, const char *cmd, const struct grant_opt *opts, int stop,
		 const char **cfile)
{
	struct option lo[OPTS_MAX + 1];
	char pre[40];
	int n, c;
	for (n = 0; opts[n].name; n++) {
		if (n == OPTS_MAX)
			return cfs_say(EXIT_FAIL, "%s: more options than the parser holds", cmd);
		lo[n] = (struct option){ opts[n].name, opts[n].str ? required_argument : no_argument, NULL,
					 OPT_BASE + n };
	}
	lo[n] = (struct option){ NULL, 0, NULL, 0 };
	snprintf(pre, sizeof pre, "%s: ", cmd);
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, stop ? "+:c:" : ":c:", lo, NULL)) != -1) {
		if (c == 'c') {
			*cfile = optarg;
		} else if (c >= OPT_BASE && c < OPT_BASE + n) {
			const struct grant_opt *o = &opts[c - OPT_BASE];
			if (o->str)
				*o->str = optarg;
			else
				*o->flag = 1;
		} else {
			return bad_option(pre, c, optopt, argv, optind);
		}
	}
	return 0;
}
