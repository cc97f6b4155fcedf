#!/bin/bash
# Large reads, which the daemon splits between the FUSE thread and a helper
# thread: exact bytes for 1 MiB requests at aligned and odd offsets, several
# large readers at once (the helpers are shared; a busy pool means the FUSE
# thread reads alone), and a damaged chunk in either half of a request is
# EIO with the tamper row naming that chunk.
. "$(dirname "$0")/lib.sh"
cfs_users
cfs_init || exit 1
cfs_mount || exit 1

N=$((5 * 1048576 + 1234))
head -c "$N" /dev/urandom >"$T/ref"
cat "$T/ref" >"$MNT/big"
ok read_1m cmp "$T/ref" <(dd if="$MNT/big" bs=1M status=none)
ok read_256k cmp "$T/ref" <(dd if="$MNT/big" bs=256k status=none)
ok read_3m cmp "$T/ref" <(dd if="$MNT/big" bs=3M status=none)
# requests that start and end inside a chunk
for skip in 1 4095 4097 1048575 3000001; do
	ok "read_1m_from_$skip" cmp <(tail -c +$((skip + 1)) "$T/ref") \
		<(dd if="$MNT/big" bs=1M iflag=skip_bytes skip="$skip" status=none)
done
ok read_odd_count cmp <(tail -c +101 "$T/ref" | head -c 777777) \
	<(dd if="$MNT/big" bs=777777 iflag=skip_bytes skip=100 count=1 status=none)

# Several large readers at once, small ones among them
pids=()
for i in 1 2 3 4 5 6; do
	bs=1M; [ "$i" = 3 ] && bs=4k; [ "$i" = 5 ] && bs=64k
	( for _ in 1 2 3; do
		cmp -s "$T/ref" <(dd if="$MNT/big" bs=$bs status=none) || { echo "reader $i bs=$bs differs"; exit 1; }
	done ) >"$T/reader.$i" 2>&1 &
	pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
eq concurrent_readers_exact "$bad" 0

# A damaged chunk in the caller's half (chunk 100) and in the helper's
# half (chunk 200) of the first 1 MiB request: EIO, and the tamper row
# names the chunk.
CS=$((4096 + $(if grep -q aes256gcm "$T/init.out"; then echo 28; else echo 40; fi)))
cp "$T/ref" "$MNT/h1"
cp "$T/ref" "$MNT/h2"
flip() {
	python3 - "$(backing "/$1")" $((1024 + $2 * CS + 60)) <<'PY'
import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, 'rb').read()); b[o] ^= 0xff; open(p, 'wb').write(b)
PY
}
flip h1 100
flip h2 200
has tamper_caller_half "$(err_of dd if="$MNT/h1" of=/dev/null bs=1M)" "Input/output error"
has tamper_helper_half "$(err_of dd if="$MNT/h2" of=/dev/null bs=1M)" "Input/output error"
# the second MiB of h2 is intact and still reads
ok tamper_rest_reads cmp <(tail -c +$((1048576 + 1)) "$T/ref" | head -c 1048576) \
	<(dd if="$MNT/h2" bs=1M skip=1 count=1 status=none)
ok daemon_alive kill -0 "$DAEMON_PID"
cfs_umount
has tamper_row_caller "$(audit_q "select reason from events where action='tamper' and path='/h1'")" \
	"chunk 100 failed authentication"
has tamper_row_helper "$(audit_q "select reason from events where action='tamper' and path='/h2'")" \
	"chunk 200 failed authentication"
