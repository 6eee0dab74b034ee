#!/usr/bin/env bash
# `dockline enroll` and `dockline forget` are safe to run in parallel
# (issue 14). 10 hosts enrolled, 6 of them attached; then 50 new enrolls
# and 5 `forget --purge` of attached hosts, all queued on the real
# authorized_keys.lock before it is let go. The file must end with exactly
# the 55 expected lines, byte for byte; the database must agree; new keys
# attach and forgotten ones are refused by the test's sshd. Then the lock
# holder is frozen mid-write (strace stops it at its fsync, temp file
# written, not renamed), 5 enrolls queue behind it and say whom they wait
# for, and it is killed with SIGKILL: they all land, its half-done temp
# file is removed and never becomes the file.
. "$(dirname "$0")/lib.sh"

dl_need_packages
dl_need_dockerd
dl_docker_lock_shared
dl_need_user
dl_check_bins
dl_start_sshd

DL_COLLECTOR_KEYS=1 dl_write_collector_conf
dl_start_collector
AK=$T/authorized_keys
BINDIR=$(readlink -f "$DL_BIN")

# The one line `dockline enroll NAME` must leave for the key key-NAME.
expected_line() {
	printf 'restrict,command="exec %s/dockline-collector attach --host=%s -c %s" %s dockline:%s\n' \
		"$BINDIR" "$1" "$T/collector.conf" "$(cut -d' ' -f1,2 "$T/key-$1.pub")" "$1"
}
newkey() { ssh-keygen -q -t ed25519 -N '' -C "agent-$1" -f "$T/key-$1" </dev/null || dl_fail "ssh-keygen $1"; }
# pids gone (zombies count: they are our children, reaped by wait later)
all_gone() {
	local p
	for p in "$@"; do dl_gone "$p" || return 1; done
}
# The file holds exactly the lines of these hosts, each as enroll writes it.
check_file() { # DESC NAME...
	local desc=$1 n
	shift
	for n in "$@"; do expected_line "$n"; done | sort >"$T/expected"
	sort "$AK" >"$T/actual"
	if ! diff -u "$T/expected" "$T/actual" >"$T/diff"; then
		head -n 40 "$T/diff" >&2
		dl_fail "$desc: authorized_keys differs from the expected $# lines"
	fi
	dl_assert_eq "$desc: line count" "$#" "$(wc -l <"$AK")"
	dl_assert_eq "$desc: no temp files left" 0 \
		"$(find "$T" -maxdepth 1 -name 'authorized_keys.dockline-*' | wc -l)"
}

pre=() par=()
for i in $(seq 1 10); do pre+=("pre$i"); done
for i in $(seq 1 50); do par+=("par$i"); done
for n in "${pre[@]}" "${par[@]}" late1 late2 late3 late4 late5 killed; do newkey "$n"; done
for n in "${pre[@]}"; do
	out=$(dl_cli -c "$T/collector.conf" enroll "$n" --key "$T/key-$n.pub") || dl_fail "enroll $n: $out"
done
check_file "10 enrolled one by one" "${pre[@]}"

# pre1..pre5 (to be forgotten) and pre6 (kept) attach: they have rows.
for n in pre1 pre2 pre3 pre4 pre5 pre6; do dl_start_agent "$n"; done
dl_wait_for 'for n in pre1 pre2 pre3 pre4 pre5 pre6; do dl_host_online $n || exit 1; done' 60 \
	"pre1..pre6 online"

# --------------------------------------------- 50 enrolls + 5 forgets
# The test holds the real lock while it starts all 55, so they are all
# queued on it at once before any of them runs: each says "waiting for
# ...lock" after 2 s of waiting. (Not /proc/locks: on overlayfs, as in a
# container, the inode it shows is not the one stat gives.)
exec 8>"$AK.lock"
flock 8
pids=()
for n in "${par[@]}"; do
	dl_cli -c "$T/collector.conf" enroll "$n" --key "$T/key-$n.pub" >"$T/$n.out" 2>&1 8>&- &
	pids+=($!)
done
for n in pre1 pre2 pre3 pre4 pre5; do
	dl_cli -c "$T/collector.conf" forget "$n" --purge >"$T/forget-$n.out" 2>&1 8>&- &
	pids+=($!)
done
waiters() { grep -l "waiting for .*authorized_keys.lock" "$T"/par*.out "$T"/forget-*.out 2>/dev/null | wc -l; }
dl_wait_for '[ "$(waiters)" -ge 55 ]' 60 "55 enroll/forget queued on the lock"
t0=$(date +%s%N)
flock -u 8
exec 8>&-
dl_wait_for 'all_gone "${pids[@]}"' 90 "all 55 finished"
dl_log "55 ran through the lock in $((($(date +%s%N) - t0) / 1000000)) ms (0.2 s polling; a figure, not a check)"
rcs=0
for p in "${pids[@]}"; do wait "$p" || rcs=$((rcs + 1)); done
[ "$rcs" = 0 ] || { tail -n 3 "$T"/par*.out "$T"/forget-*.out >&2; dl_fail "$rcs of 55 exited non-zero"; }
dl_ok "all 55 exited 0"
for n in "${par[@]}"; do
	grep -q "^enrolled $n:" "$T/$n.out" || dl_fail "enroll $n said: $(cat "$T/$n.out")"
done
for n in pre1 pre2 pre3 pre4 pre5; do
	out=$(cat "$T/forget-$n.out")
	dl_assert_match "forget $n removed one line" "^removed 1 key line of $n from " "$out"
	dl_assert_match "forget $n purged" "^purged the history of $n \(its live session was closed\)" "$out"
done
kept=(pre6 pre7 pre8 pre9 pre10 "${par[@]}")
check_file "50 enrolls + 5 forgets at once" "${kept[@]}"

# The database agrees: forgotten hosts have no row and stay away (their
# agents keep redialling and sshd refuses the key); every row it has is
# a host with a line.
dl_wait_for 'for n in pre1 pre2 pre3 pre4 pre5; do [ -z "$(dl_host_json $n)" ] || exit 1; done' 20 \
	"forgotten hosts gone from the database"
dl_never 'for n in pre1 pre2 pre3 pre4 pre5; do [ -n "$(dl_host_json $n)" ] && exit 0; done; exit 1' 5 \
	"a forgotten host back in the database"
dl_host_online pre6 || dl_fail "pre6 went offline while others were forgotten"
out=$("$DL_BIN/dockline-agent" check -c "$T/agent-pre1.conf" 2>&1) && dl_fail "forgotten pre1 still logs in: $out"
dl_assert_match "forgotten key refused by sshd" "collector +FAIL +collector rejected key" "$out"

# A sample of the new keys really attaches through sshd.
for n in par1 par25 par50; do dl_start_agent "$n"; done
dl_wait_for 'dl_host_online par1 && dl_host_online par25 && dl_host_online par50' 60 \
	"par1, par25, par50 online with keys enrolled in parallel"
rows=$(dl_items hosts | jq -r .name | sort | tr '\n' ' ')
dl_assert_eq "the database has rows for the attached hosts only" "par1 par25 par50 pre6 " "$rows"
for n in $rows; do
	grep -q " dockline:$n\$" "$AK" || dl_fail "host $n has a row but no line in authorized_keys"
done
dl_ok "each host row has its key line"

# ------------------------------------- the lock holder killed mid-write
# strace makes its fsync of the temp file fail and stops it there: the
# temp file is written, the lock held, the rename not done.
strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:error=EIO:signal=SIGSTOP:when=1 \
	"$DL_BIN/dockline" -s "$T/admin.sock" -c "$T/collector.conf" enroll killed \
	--key "$T/key-killed.pub" >"$T/killed.out" 2>&1 &
spid=$! # bash reports "Killed" for it below: strace dies as its tracee did
stopped() {
	local c
	c=$(ps -o pid= --ppid "$spid" | tr -d ' ')
	[ -n "$c" ] && grep -Eq '^[^)]*\) [tT] ' "/proc/$c/stat" && echo "$c"
}
dl_wait_for 'stopped' 30 "the enroll of 'killed' stopped inside its write"
kpid=$(stopped)
tmp=$(find "$T" -maxdepth 1 -name 'authorized_keys.dockline-*')
dl_assert_eq "one temp file, the stopped writer's" 1 "$(printf '%s\n' "$tmp" | grep -c .)"
grep -q ' dockline:killed$' "$tmp" || dl_fail "the temp file lacks the new line: $(tail -n 2 "$tmp")"
dl_assert_eq "its temp file holds the whole new content" $((${#kept[@]} + 1)) "$(wc -l <"$tmp")"
dl_assert_eq "the lock file names the holder" "$kpid" "$(cat "$AK.lock")"
lpids=()
for n in late1 late2 late3 late4 late5; do
	dl_cli -c "$T/collector.conf" enroll "$n" --key "$T/key-$n.pub" >"$T/$n.out" 2>&1 &
	lpids+=($!)
done
dl_wait_for 'for n in late1 late2 late3 late4 late5; do grep -q "waiting for .*authorized_keys.lock.*(pid $kpid)" "$T/$n.out" || exit 1; done' 30 \
	"5 enrolls wait for the stopped holder and name its pid"
grep -q ' dockline:late' "$AK" && dl_fail "an enroll wrote while the lock was held"
kill -KILL "$kpid"
dl_wait_for 'all_gone "${lpids[@]}"' 60 "the 5 waiting enrolls finished after the holder's SIGKILL"
for p in "${lpids[@]}"; do wait "$p" || dl_fail "a waiting enroll failed: $(cat "$T"/late*.out)"; done
wait "$spid" 2>/dev/null || true
for n in late1 late2 late3 late4 late5; do
	grep -q "^enrolled $n:" "$T/$n.out" || dl_fail "enroll $n said: $(cat "$T/$n.out")"
done
[ -e "$tmp" ] && dl_fail "the dead writer's temp file $tmp is still there"
dl_assert_eq "the stale temp file was removed, once, with a note" 1 \
	"$(cat "$T"/late*.out | grep -c "removed $tmp, left by an enroll or forget killed while writing")"
check_file "after the holder's SIGKILL" "${kept[@]}" late1 late2 late3 late4 late5
# The one that was killed never got in; enrolling it again works.
out=$(dl_cli -c "$T/collector.conf" enroll killed --key "$T/key-killed.pub") || dl_fail "re-enroll killed: $out"
check_file "the killed enroll run again" "${kept[@]}" late1 late2 late3 late4 late5 killed
dl_ok "50 parallel enrolls, forgets beside them and a SIGKILLed lock holder lose nothing"
