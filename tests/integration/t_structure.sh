#!/bin/bash
# The code's shape (issue 14), checked on the sources by
# tests/lint/structure.py: no source file over 700 lines, no function over
# 80, no upward include between the layers of the README's module map, no
# include cycle, no daemon header in a tool. One FAIL line per breach; and
# the checker is shown to catch each kind of breach on a copy that has it.
. "$(dirname "$0")/lib.sh"
LINT=$TOP/tests/lint/structure.py

out=$(python3 "$LINT" "$TOP" 2>&1)
if [ -z "$out" ]; then pass sources_hold; else
	while IFS= read -r l; do fail sources_hold "$l"; done <<<"$out"
fi

# proofs on a scratch copy of the sources
W=$T/tree
mkdir -p "$W"
cp -r "$TOP/fs" "$TOP/tools" "$TOP/include" "$W/"
{ echo 'int long_one(void)'; echo '{'; for i in $(seq 1 90); do echo "	int v$i = $i;"; done
  echo '	return 0;'; echo '}'; } >>"$W/fs/util.c"
has proof_long_function "$(python3 "$LINT" "$W")" "long_one() is 9"
cp -r "$TOP/fs" "$TOP/tools" "$TOP/include" "$W/"
for i in $(seq 1 710); do echo "/* $i */"; done >>"$W/fs/store.c"
has proof_long_file "$(python3 "$LINT" "$W")" "fs/store.c: "
cp -r "$TOP/fs" "$TOP/tools" "$TOP/include" "$W/"
echo '#include "coachfs/grants.h"' >>"$W/fs/crypto.c"
has proof_upward_include "$(python3 "$LINT" "$W")" "crypto (layer 1) includes grants.h"
cp -r "$TOP/fs" "$TOP/tools" "$TOP/include" "$W/"
echo '#include "coachfs/access.h"' >>"$W/tools/coach-admin.c"
has proof_tool_daemon_header "$(python3 "$LINT" "$W")" "a tool includes the daemon header access.h"
