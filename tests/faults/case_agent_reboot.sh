#!/usr/bin/env bash
# Fault 4: a host reboot stand-in. The agent is stopped with SIGTERM in
# the middle of a burst (frames spooled, some unacked), its state_dir
# kept; while it is down the burst is held (SIGSTOP) and 100 other events
# are made; 3 s later it starts again and the burst goes on. Same epoch,
# seqs go on, and every event exactly once, including the ones made while
# the agent was down (dockerd keeps its last 256 events; the agent opens
# its stream from the newest event it had accepted).
. "$(dirname "$0")/lib.sh"

fl_setup
e0=$(fl_db "SELECT epoch FROM delivery WHERE host = '$FL_H'")
fl_burst r1
fl_life_start
dl_wait_for '[ "$(fl_burst_stored)" -ge 200 ]' 60 "200 burst events stored before the stop"
kill -TERM "$(fl_agent_pid)"
hold="$(dl_descendants "$FL_BURST_PID") $FL_BURST_PID"
kill -STOP $hold 2>/dev/null || true
{ wait "$(fl_agent_pid)"; } 2>/dev/null || true
ts=$(fl_now)
dl_log "agent stopped (TERM), $(fl_burst_stored) burst events stored; burst held"
# 100 events made while the agent is down, each exactly once afterwards.
seq 1 100 | xargs -P 4 -I{} curl -sf -o /dev/null --unix-socket /var/run/docker.sock \
	-H 'Content-Type: application/json' -d '{"Cmd":["true","down-{}"]}' \
	"http://x/containers/$FL_TICKER/exec" || dl_fail "making the events while the agent is down failed"
sleep 2
dl_start_agent "$FL_H"
kill -CONT $hold 2>/dev/null || true
dl_wait_for "dl_host_online $FL_H" 30 "host $FL_H online again"
fault=$(awk -v a="$ts" -v b="$(fl_now)" 'BEGIN { printf "%.1f", b - a }')
fl_burst_wait
fl_life_wait
fl_settle 120
down=$(fl_db "SELECT count(*) || '|' || count(DISTINCT action) FROM events WHERE host = '$FL_H'
              AND actor_id = '$FL_TICKER' AND action LIKE 'exec_create: true down-%'")
dl_log "events made while the agent was down: 100 made, stored|distinct = $down"
printf '%-22s %8s %8s %10s\n' "made while down" 100 "${down#*|}" $((${down%|*} - ${down#*|})) >>"$T/extra.rows"
dl_assert_eq "epoch after the restart" "$e0" "$(fl_db "SELECT epoch FROM delivery WHERE host = '$FL_H'")"
dl_assert_eq "events made while the agent was down, stored|distinct" "100|100" "$down"
fl_report "$fault" "agent down ${fault}s"
