#!/usr/bin/env bash
# The authorized_keys line printed by `dockline enroll` lets the agent's key
# do nothing but run the attach relay: no shell command, no pty, no port or
# stdio forwarding, no agent forwarding.
. "$(dirname "$0")/lib.sh"

dl_need_packages
dl_need_dockerd
dl_need_user
dl_check_bins
dl_docker_lock_shared

# DEBUG1 so sshd says why it refused what it refused.
DL_SSHD_LOGLEVEL=DEBUG1 dl_start_sshd
dl_start_collector
dl_enroll rst1

line=$(cat "$T/authorized_keys")
dl_assert_match "enroll line is restricted" '^restrict,command="' "$line"
dl_assert_match "enroll line runs attach with an absolute path and the host name" \
	"command=\"exec /[^\"]*/dockline-collector attach --host=rst1 -c $T/collector.conf\"" "$line"
dl_assert_match "enroll line carries the key and the comment" ' ssh-ed25519 AAAA[^ ]+ dockline:rst1$' "$line"

# 1. A command is replaced by the forced one.
out=$(timeout 30 "$T/ssh" rst1 dltest@127.0.0.1 'id; echo DL_SHELL_RAN' </dev/null 2>&1 | tr -d '\0' | head -c 4000) || true
dl_log "ssh 'id' printed: $(printf '%q' "$out" | head -c 300)"
dl_assert_no_match "ssh 'id' does not run a shell command" 'uid=|DL_SHELL_RAN' "$out"
dl_wait_for "grep -Eq 'Accepted publickey for $DL_USER' '$T/sshd.log'" 10 "sshd accepted the key"
dl_wait_for "grep -Eq 'rst1' '$T/collector.log'" 10 "the collector saw an attach for rst1 (forced command ran)"

# 2. No pty.
out=$(timeout 30 "$T/ssh" rst1 -tt dltest@127.0.0.1 tty </dev/null 2>&1 | tr -d '\0' | head -c 4000) || true
dl_log "ssh -tt printed: $(printf '%q' "$out" | head -c 300)"
dl_assert_no_match "ssh -tt got no tty device" '/dev/pts/' "$out"
if grep -q 'PTY allocation request failed' <<<"$out" ||
	grep -Eq 'PTY allocation disabled|Allocating a pty not permitted' "$T/sshd.log"; then
	dl_ok "pty allocation refused"
else
	dl_fail "no sign that the pty request was refused: client said [$out]"
fi

# 3. Local port forwarding (-L) is refused when a connection is made.
lport=$(dl_free_port)
: >"$T/ssh-L.log"
dl_spawn "$T/ssh-L.log" "$T/ssh" rst1 -v -N -L "$lport:127.0.0.1:$DL_SSH_PORT" dltest@127.0.0.1
lpid=$DL_LAST_PID
dl_wait_for "grep -q 'Local forwarding listening on 127.0.0.1 port $lport' '$T/ssh-L.log'" 15 "ssh -L listening on $lport"
banner=$(timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$lport; head -c 100 <&3" 2>/dev/null || true)
dl_assert_no_match "nothing came through the -L tunnel" 'SSH-2.0' "$banner"
dl_wait_for "grep -q 'administratively prohibited' '$T/ssh-L.log'" 10 "client told: channel open administratively prohibited"
dl_assert_file_match "sshd refused the local forward" 'refused local port forward' "$T/sshd.log"
dl_kill_tree "$lpid"

# 4. Remote forwarding (-R) with ExitOnForwardFailure makes ssh exit.
rport=$(dl_free_port)
set +e
out=$(timeout 30 "$T/ssh" rst1 -N -o ExitOnForwardFailure=yes -R "$rport:127.0.0.1:22" dltest@127.0.0.1 </dev/null 2>&1)
rc=$?
set -e
dl_log "ssh -R: rc=$rc: $out"
[ "$rc" != 0 ] && [ "$rc" != 124 ] || dl_fail "ssh -R did not fail (rc=$rc)"
dl_assert_match "remote forwarding refused" 'remote port forwarding failed' "$out"

# 5. ssh -W (stdio forwarding) is refused.
set +e
out=$(timeout 30 "$T/ssh" rst1 -W "127.0.0.1:$DL_SSH_PORT" dltest@127.0.0.1 </dev/null 2>&1)
rc=$?
set -e
dl_log "ssh -W: rc=$rc: $out"
dl_assert_no_match "no ssh banner through -W" 'SSH-2.0' "$out"
dl_assert_match "stdio forwarding refused" 'administratively prohibited|stdio forwarding failed' "$out"

# 6. Agent forwarding is refused: run a local ssh-agent, ask for -A.
eval "$(ssh-agent -s -a "$T/ssh-agent.sock" 9>&-)" >/dev/null
dl_track "$SSH_AGENT_PID"
ssh-add -q "$T/key-rst1" 2>/dev/null
out=$(timeout 30 "$T/ssh" rst1 -v -A dltest@127.0.0.1 'echo SSH_AUTH_SOCK=$SSH_AUTH_SOCK' </dev/null 2>&1 | tr -d '\0' | head -c 20000) || true
dl_assert_match "the client asked for agent forwarding" 'Requesting authentication agent forwarding' "$out"
dl_assert_no_match "no forwarded agent socket reached a shell" 'SSH_AUTH_SOCK=/' "$out"
dl_assert_file_match "sshd refused agent forwarding" 'agent forwarding disabled' "$T/sshd.log"
