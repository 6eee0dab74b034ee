#!/usr/bin/env bash
# Fault 1: the agent is killed (-9) in the middle of a burst of 1,000
# Docker events with the collector up, and started again at once. What it
# had spooled is resent under the same epoch (the store dedupes), what
# dockerd replays on resubscribe is not queued twice, and the events made
# while it was down come from dockerd's replay: each event exactly once.
. "$(dirname "$0")/lib.sh"

fl_setup
fl_burst k1
fl_life_start
dl_wait_for '[ "$(fl_burst_stored)" -ge 200 ]' 60 "200 burst events stored before the kill"
kill -KILL "$(fl_agent_pid)"
{ wait "$(fl_agent_pid)"; } 2>/dev/null || true
tk=$(fl_now)
dl_log "agent killed (-9) with $(fl_burst_stored) burst events stored"
dl_start_agent "$FL_H"
dl_wait_for "dl_host_online $FL_H" 30 "host $FL_H online again"
fault=$(awk -v a="$tk" -v b="$(fl_now)" 'BEGIN { printf "%.1f", b - a }')
fl_burst_wait
fl_life_wait
fl_settle 120
fl_report "$fault" "agent down ${fault}s"
