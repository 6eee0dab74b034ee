#!/usr/bin/env bash
# Fault 3: the test's sshd (listener and the agent's session, hence the
# relay) is killed mid-burst and started again on the same port. The
# agent reconnects with backoff and resends what was not acked.
. "$(dirname "$0")/lib.sh"

fl_setup
fl_burst s1
fl_life_start
dl_wait_for '[ "$(fl_burst_stored)" -ge 200 ]' 60 "200 burst events stored before the restart"
dl_kill_tree "$DL_SSHD_PID" KILL
{ wait "$DL_SSHD_PID"; } 2>/dev/null || true
ts=$(fl_now)
dl_log "sshd killed with its sessions, $(fl_burst_stored) burst events stored"
sleep 2
fl_restart_sshd
dl_wait_for "dl_host_online $FL_H" 60 "host $FL_H online again"
fault=$(awk -v a="$ts" -v b="$(fl_now)" 'BEGIN { printf "%.1f", b - a }')
fl_burst_wait
fl_life_wait
fl_settle 120
fl_report 0 "sshd down ${fault}s"
