#!/usr/bin/env bash
# An agent whose known_hosts pins a different ed25519 key refuses the
# collector's sshd: the host never comes online and the agent log names the
# key it was shown and the file to fix.
. "$(dirname "$0")/lib.sh"

dl_need_packages
dl_need_dockerd
dl_need_user
dl_check_bins
dl_docker_lock_shared

dl_start_sshd
dl_start_collector
dl_enroll hk1

ssh-keygen -q -t ed25519 -N '' -f "$T/other_host_key" -C other
printf '[127.0.0.1]:%s %s\n' "$DL_SSH_PORT" "$(cut -d' ' -f1,2 "$T/other_host_key.pub")" >"$T/wrong_known_hosts"
dl_log "wrong known_hosts: $(cat "$T/wrong_known_hosts")"

dl_start_agent hk1 "$T/wrong_known_hosts"
dl_never 'dl_host_online hk1' 10 "host hk1 online with a wrong pinned key"

fp=$(ssh-keygen -lf "$T/ssh_host_ed25519_key.pub" | awk '{print $2}')
fp_b64=${fp#SHA256:}
dl_log "real host key fingerprint: $fp"
log="$T/agent-hk1.log"
grep -F -q -- "$fp_b64" "$log" ||
	dl_fail "agent log does not show the presented fingerprint $fp"
dl_ok "agent log shows the presented fingerprint: $(grep -F -- "$fp_b64" "$log" | head -n 1)"
grep -F -q -- "$T/wrong_known_hosts" "$log" ||
	dl_fail "agent log does not name the known_hosts file $T/wrong_known_hosts"
dl_ok "agent log names the known_hosts file"
# The wrong key must not be mistaken for the presented one.
wrong_fp=$(ssh-keygen -lf "$T/other_host_key.pub" | awk '{print $2}')
dl_log "(pinned, wrong: $wrong_fp)"

# The session never reached the forced command: sshd saw no accepted key
# after the host key check failed (libssh2 checks before authenticating).
dl_assert_no_match "no login was made with the agent's key" 'Accepted publickey' "$(cat "$T/sshd.log")"

# Control: the same agent with the right known_hosts comes online, so the
# refusal above was the host key and nothing else.
dl_kill_tree "$DL_AGENT_PID_hk1"
dl_start_agent hk1
dl_wait_for 'dl_host_online hk1' 30 "host hk1 online once the right key is pinned"
