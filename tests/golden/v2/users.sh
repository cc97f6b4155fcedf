# users.sh — the two users the golden v2 store's grants and approval name,
# with the uids its policy.db holds (a user grant is kept by uid). Sourced
# by make.sh and by the tests; fails when a uid belongs to someone else.
golden_v2_users() {
	local u uid
	for u in cfs_gold:64201 cfs_goldadm:64202; do
		uid=${u#*:}; u=${u%:*}
		if id "$u" >/dev/null 2>&1; then
			[ "$(id -u "$u")" = "$uid" ] || { echo "golden_v2_users: $u has uid $(id -u "$u"), the golden store needs $uid" >&2; return 1; }
		else
			useradd -M -N -g users -u "$uid" -s /usr/sbin/nologin "$u" || return 1
		fi
	done
}
