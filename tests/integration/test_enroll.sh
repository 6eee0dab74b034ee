#!/usr/bin/env bash
# The onboarding flow of a host, as an administrator runs it:
#   on the host:      dockline-agent enroll --collector ssh://... (pins the
#                     collector's host key: fingerprint confirmed with
#                     --trust, or --host-key as `dockline enroll` prints it)
#   on the collector: dockline enroll NAME --key '...' (appends the
#                     restricted line to authorized_keys, idempotently)
#   on the host:      dockline-agent check, then the agent: host online
#   on the collector: dockline forget NAME --purge: key and history gone.
. "$(dirname "$0")/lib.sh"

dl_need_packages
dl_need_dockerd
dl_docker_lock_shared
dl_need_user
dl_check_bins
dl_start_sshd

# A collector that manages its own authorized_keys, like the package.
DL_COLLECTOR_KEYS=1 dl_write_collector_conf
dl_start_collector
agent() { "$DL_BIN/dockline-agent" "$@"; }
# Keys and fingerprints are base64: '+' must not be read as a regex.
contains() { # DESC LITERAL TEXT
	if printf '%s\n' "$3" | grep -qF -- "$2"; then
		dl_ok "$1"
	else
		dl_fail "$1: expected to contain [$2], got: [$3]"
	fi
}
url="ssh://$DL_USER@127.0.0.1:$DL_SSH_PORT"
fp=$(ssh-keygen -lf "$T/ssh_host_ed25519_key.pub" | awk '{print $2}')

# A fingerprint that does not match is refused and nothing is pinned.
out=$(agent enroll --collector "$url" --name en1 -c "$T/en1.conf" \
	--state-dir "$T/st-en1" --trust SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA 2>&1) &&
	dl_fail "enroll accepted a wrong fingerprint: $out"
dl_assert_match "wrong fingerprint refused" "refusing to pin" "$out"
[ ! -e "$T/st-en1/known_hosts" ] || dl_fail "known_hosts written after a refusal"
# Without a terminal and without --trust the key is not trusted silently.
out=$(setsid "$DL_BIN/dockline-agent" enroll --collector "$url" --name en1 -c "$T/en1.conf" \
	--state-dir "$T/st-en1" </dev/null 2>&1) && dl_fail "enroll pinned without confirmation: $out"
dl_assert_match "unconfirmed key not pinned" "no terminal to confirm" "$out"

# en1: fetched key, confirmed by fingerprint.
out=$(agent enroll --collector "$url" --name en1 -c "$T/en1.conf" \
	--state-dir "$T/st-en1" --trust "$fp") || dl_fail "agent enroll failed: $out"
contains "enroll shows the fingerprint" "$fp" "$out"
pub1=$(cut -d' ' -f1,2 "$T/st-en1/id_ed25519.pub")
contains "enroll prints the collector command" "dockline enroll en1 --key '$pub1'" "$out"
dl_assert_match "known_hosts pins the ed25519 key" \
	"^\[127.0.0.1\]:$DL_SSH_PORT ssh-ed25519 " "$(cat "$T/st-en1/known_hosts")"

dl_assert_match "enroll writes the default control policy" '^allow = read, lifecycle$' "$(cat "$T/en1.conf")"
# Enrolling again keeps what the host owner chose.
sed -i 's/^allow = .*/allow = read, exec/' "$T/en1.conf"
out=$(agent enroll --collector "$url" --name en1 -c "$T/en1.conf" \
	--state-dir "$T/st-en1" --trust "$fp") || dl_fail "agent re-enroll failed: $out"
dl_assert_match "re-enroll keeps the control policy" '^allow = read, exec$' "$(cat "$T/en1.conf")"
# A policy that does not parse is not guessed at.
sed -i 's/^allow = .*/allow = reed/' "$T/en1.conf"
out=$(agent enroll --collector "$url" --name en1 -c "$T/en1.conf" \
	--state-dir "$T/st-en1" --trust "$fp" 2>&1) && dl_fail "enroll replaced an unparseable policy: $out"
dl_assert_match "unparseable policy stops enroll" 'unknown control class "reed"' "$out"
dl_assert_match "and the file is left as it was" '^allow = reed$' "$(cat "$T/en1.conf")"
sed -i 's/^allow = .*/allow = read, lifecycle/' "$T/en1.conf"

# Not enrolled yet: check names the problem.
out=$(agent check -c "$T/en1.conf" 2>&1) && dl_fail "check passed before enrollment: $out"
dl_assert_match "check before enroll" "collector +FAIL +collector rejected key" "$out"

# Collector side: appended once, idempotent, a key cannot take two names.
out=$(dl_cli -c "$T/collector.conf" enroll en1 --key "$pub1") || dl_fail "dockline enroll: $out"
dl_assert_match "enroll appended" "enrolled en1" "$out"
hostkey=$(printf '%s\n' "$out" | sed -n "s/.*--host-key '\([^']*\)'.*/\1/p")
dl_assert_match "enroll prints the collector host key" "^ssh-ed25519 " "$hostkey"
dl_assert_eq "one line for en1" 1 "$(grep -c ' dockline:en1$' "$T/authorized_keys")"
dl_assert_match "line is restricted, attach exec'd" '^restrict,command="exec /[^"]*dockline-collector attach --host=en1 -c ' \
	"$(grep ' dockline:en1$' "$T/authorized_keys")"
out=$(dl_cli -c "$T/collector.conf" enroll en1 --key "$pub1") || dl_fail "second enroll failed: $out"
dl_assert_match "second enroll is a no-op" "already enrolled" "$out"
dl_assert_eq "still one line for en1" 1 "$(grep -c ' dockline:en1$' "$T/authorized_keys")"
out=$(dl_cli -c "$T/collector.conf" enroll en3 --key "$pub1" 2>&1) && dl_fail "key bound twice: $out"
dl_assert_match "key bound to another name refused" "already enrolled as en1" "$out"

out=$(agent check -c "$T/en1.conf" 2>&1) || dl_fail "check failed after enrollment: $out"
dl_assert_match "check after enroll" 'accepts this host as "en1"' "$out"

# en2: pinned from the --host-key that `dockline enroll` printed.
out=$(agent enroll --collector "$url" --name en2 -c "$T/en2.conf" \
	--state-dir "$T/st-en2" --host-key "$hostkey") || dl_fail "enroll with --host-key: $out"
dl_cli -c "$T/collector.conf" enroll en2 --key "$T/st-en2/id_ed25519.pub" >/dev/null ||
	dl_fail "dockline enroll en2 failed"

for n in en1 en2; do
	dl_spawn "$T/agent-$n.log" "$DL_BIN/dockline-agent" -c "$T/$n.conf"
done
dl_wait_for 'dl_host_online en1 && dl_host_online en2' 30 "en1 and en2 online"

# forget --purge: key line gone, session closed, history gone.
out=$(dl_cli -c "$T/collector.conf" forget en1 --purge) || dl_fail "forget failed: $out"
dl_assert_match "forget reports the purge" "purged the history of en1" "$out"
dl_assert_eq "no line for en1" 0 "$(grep -c ' dockline:en1$' "$T/authorized_keys" || true)"
dl_assert_eq "en2 kept" 1 "$(grep -c ' dockline:en2$' "$T/authorized_keys")"
dl_wait_for '[ -z "$(dl_host_json en1)" ]' 10 "en1 gone from hosts"
dl_never 'dl_host_online en1' 5 "en1 back online after forget"
dl_host_online en2 || dl_fail "en2 went offline when en1 was forgotten"
out=$(agent check -c "$T/en1.conf" 2>&1) && dl_fail "check passed after forget: $out"
dl_assert_match "check after forget" "rejected key" "$out"

# Enrolls at the same time must all land (they once renamed one shared
# temp file over a file another enroll held the lock of).
for i in $(seq 1 30); do
	ssh-keygen -q -t ed25519 -N '' -C '' -f "$T/par$i" </dev/null || dl_fail "ssh-keygen"
done
pids=()
for i in $(seq 1 30); do
	dl_cli -c "$T/collector.conf" enroll "par$i" --key "$T/par$i.pub" >"$T/par$i.out" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}" # not a bare wait: the agents and collector are children too
for i in $(seq 1 30); do
	dl_assert_eq "concurrent enroll par$i: one line" 1 "$(grep -c " dockline:par$i\$" "$T/authorized_keys")"
done
dl_assert_eq "en2 survived 30 concurrent enrolls" 1 "$(grep -c ' dockline:en2$' "$T/authorized_keys")"
dl_assert_eq "no temp files left" 0 "$(find "$T" -maxdepth 1 -name 'authorized_keys.dockline-*' | wc -l)"
dl_ok "enroll, check and forget work end to end"
