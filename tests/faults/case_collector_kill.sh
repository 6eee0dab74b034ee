#!/usr/bin/env bash
# Fault 2: the collector is killed (-9) during a large commit. It is
# stopped (SIGSTOP) while a burst of 1,000 events queues up in the relay
# and the agent, continued, and killed 50 ms later while it is writing
# them; started again, the agent resends from the last COMMITted seq.
. "$(dirname "$0")/lib.sh"

fl_setup
kill -STOP "$DL_COLLECTOR_PID"
ts=$(fl_now)
fl_burst c1
fl_life_start
fl_burst_wait
fl_life_wait
sleep 1
kill -CONT "$DL_COLLECTOR_PID"
sleep 0.05
dl_log "collector continued with $(fl_burst_stored) burst events stored: killing it (-9)"
dl_stop_collector KILL
dl_log "$(fl_burst_stored) burst events stored when it died"
dl_start_collector
dl_wait_for "dl_host_online $FL_H" 30 "host $FL_H online again"
fault=$(awk -v a="$ts" -v b="$(fl_now)" 'BEGIN { printf "%.1f", b - a }')
fl_settle 120
# The agent kept sampling while the collector was down: no gap at all.
fl_report 0 "collector stopped then killed, ${fault}s"
