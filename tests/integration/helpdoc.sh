# helpdoc.sh: what a program's --help promises, as records that t_man.sh and
# t_completion.sh check the manual pages and the bash completion against
# (so an option or command added to a program without documentation or
# completion fails the suite). Sourced; needs nothing from lib.sh.
#
# help_facts < HELP-TEXT prints one record a line:
#   cmd CMD          a command: a line "  CMD ..." (two spaces, lower case)
#   word CMD WORD    a lower-case word in CMD's usage (policy's get, set,
#                    unset; init's interactive, moderate, sensitive)
#   opt SCOPE OPT    an option token (--long or -x) anywhere in the text;
#                    SCOPE is the command whose block it is in, else "-"
# A command's block is its line and the lines indented deeper that follow;
# its usage is its line up to the first run of two spaces, and continuation
# lines that start with '['. Text in single quotes is an example, not an
# option ('fusermount3 -u MOUNTPOINT').
help_facts() {
	LC_ALL=C awk '
	function usage_words(s, cmd,   n, f, i) {
		i = index(s, "  ")
		if (i > 0)
			s = substr(s, 1, i - 1)
		gsub(/\[/, " ", s); gsub(/\]/, " ", s); gsub(/\|/, " ", s)
		n = split(s, f, /[ \t]+/)
		for (i = 1; i <= n; i++)
			if (f[i] ~ /^[a-z][a-z0-9_-]*$/ && f[i] != cmd)
				print "word", cmd, f[i]
	}
	function options(s, scope,   n, f, i) {
		gsub(/\047[^\047]*\047/, " ", s)
		gsub(/\[/, " ", s); gsub(/\]/, " ", s); gsub(/[(|,]/, " ", s)
		n = split(s, f, /[ \t]+/)
		for (i = 1; i <= n; i++)
			if (match(f[i], /^--?[A-Za-z][A-Za-z0-9-]*/))
				print "opt", scope, substr(f[i], 1, RLENGTH)
	}
	{
		line = $0
		if (line ~ /^  [a-z][a-z0-9_-]*( |$)/) {
			split(line, w, /[ \t]+/)
			scope = w[2]
			print "cmd", scope
			usage_words(substr(line, 3), scope)
		} else if (scope != "-" && line ~ /^   /) {
			t = line
			sub(/^[ \t]+/, "", t)
			if (t ~ /^\[/)
				usage_words(t, scope)
		} else {
			scope = "-"
		}
		options(line, scope)
	}
	BEGIN { scope = "-" }' | awk '!seen[$0]++'
}

# The words a page's mdoc source marks up as commands (Cm and Ic arguments,
# up to the next macro): "policy", and "get" in ".Cm get Ar path".
mdoc_cm_words() { # FILE
	LC_ALL=C awk '
	/^\./ {
		n = split($0, f, /[ \t]+/)
		on = 0
		for (i = 1; i <= n; i++) {
			t = f[i]
			sub(/^\./, "", t)
			if (t ~ /^[A-Z][a-z][a-z]?$/) {
				on = (t == "Cm" || t == "Ic")
				continue
			}
			if (on) {
				gsub(/[,;:.()]+$/, "", t)
				if (t != "" && t != "|")
					print t
			}
		}
	}' "$1" | sort -u
}

# Is TOKEN in TEXT as a whole token (not part of a longer option or word)?
has_token() { # TEXT TOKEN
	grep -qE -- "(^|[^A-Za-z0-9_-])$2([^A-Za-z0-9_-]|\$)" <<<"$1"
}

# The options a page's mdoc source marks up as flags (Fl arguments, up to
# the next macro, each with its leading '-' as rendered): "-c", "--config".
mdoc_fl_words() { # FILE
	LC_ALL=C awk '
	/^\./ {
		n = split($0, f, /[ \t]+/)
		on = 0
		for (i = 1; i <= n; i++) {
			t = f[i]
			sub(/^\./, "", t)
			if (t ~ /^[A-Z][a-z][a-z]?$/) {
				on = (t == "Fl")
				continue
			}
			if (on) {
				gsub(/[,;:.()]+$/, "", t)
				if (t != "" && t != "|")
					print "-" t
			}
		}
	}' "$1" | sort -u
}

# Does the program whose source is SRC accept OPTION? Its getopt string
# for a short one, its option table or a string compare for a long one.
source_accepts() { # SRC OPTION
	local o=$2
	case $o in
	--*) grep -qE "\{ *\"${o#--}\"|\"$o\"" "$1" ;;
	-?) grep -oE 'getopt(_long)? *\([^;]*' "$1" | grep -oE '"[^"]*"' | grep -q "${o#-}" ||
		grep -qF "\"$o\"" "$1" ;;
	*) return 1 ;;
	esac
}
