# config.sh — sourced by run.sh and perop.sh: the coachfs configuration
# every benchmark mounts, so that all of them measure the same daemon.
# coachfs_config DIR READS [HIDE] — a config whose only caller role is
# responder (root included), so decisions take the ordinary, non-admin path.
coachfs_config() {
	cat >"$1/coachfs.ini" <<INI
[store]
path = $1/store
passphrase_file = $1/passphrase
cipher = auto

[mount]
hide_denied = ${3:-yes}

[policy]
db = $1/var/policy.db
default_class = internal

[audit]
db = $1/var/audit.db
reads = $2
flush_ms = 50

[roles]
responder = root, @cfs_bench_nosuchgroup

[class.public]
grant = no
roles = *
export = allow

[class.internal]
grant = no
roles = responder
writers = responder
export = log

[class.secret]
grant = yes
max_ttl = 1h
export = deny

[export]
tools = /usr/bin/cp, /usr/bin/rsync, /usr/bin/scp, /usr/bin/tar, /usr/bin/curl
INI
	echo "bench passphrase $RANDOM$RANDOM" >"$1/passphrase"
	chmod 600 "$1/passphrase"
}
