#!/usr/bin/env bash
# Fault 8: the collector is killed (-9) while it works through a large
# backlog. It is stopped (TERM) while a burst of FL_N events is made; the
# agent spools all of it. It starts again, the agent resends the backlog,
# and a watcher (python3, polling the database every 2 ms) kills it as
# soon as the first COMMIT of the backlog is visible, i.e. while the
# following batches are being applied. Started once more: each event
# exactly once, and the kill must have landed mid-backlog (some but not
# all of it stored) or the case proves nothing and fails. The writer's
# group commit would take the whole resent backlog in one COMMIT when it
# arrives faster than one COMMIT runs (it did in a fresh container), so
# serve commits at most FL_KILL_BATCH items at a time here.
. "$(dirname "$0")/lib.sh"

FL_N=${FL_KILL_N:-2000}
export DL_TEST_STORE_BATCH_MAX=${FL_KILL_BATCH:-50}

fl_setup
dl_stop_collector TERM
ts=$(fl_now)
fl_burst c2
fl_life_start
fl_burst_wait
fl_life_wait
before=$(fl_events_total)
dl_log "backlog made while the collector was down; $before events of $FL_H stored"
sleep 1
# The watcher is up before serve starts (serve commits the resent backlog
# within ~100 ms of its start, less than python takes to start) and kills
# the pid in $T/serve.pid. serve is spawned by hand: dl_start_collector
# waits for the admin socket, and could see serve die under it.
dl_spawn "$T/watcher.log" /usr/bin/python3 -u -c '
import os, signal, sqlite3, sys, time
db, host, before, pidfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=20)
print("ready", flush=True)
end = time.monotonic() + 120
while not os.path.exists(pidfile) and time.monotonic() < end:
    time.sleep(0.001)
time.sleep(0.01)  # written whole
pid = int(open(pidfile).read())
while time.monotonic() < end:
    n = c.execute("SELECT count(*) FROM events WHERE host = ?", (host,)).fetchone()[0]
    if n > before:
        os.kill(pid, signal.SIGKILL)
        print("killed %d at %d events (+%d)" % (pid, n, n - before), flush=True)
        sys.exit(0)
    time.sleep(0.001)
print("no commit seen", flush=True)
sys.exit(1)
' "$FL_DB" "$FL_H" "$before" "$T/serve.pid"
watcher=$DL_LAST_PID
dl_wait_for "grep -q ready $T/watcher.log" 30 "the watcher ready"
echo "=== $(date '+%F %T') starting collector (watched)" >>"$T/collector.log"
dl_spawn "$T/collector.log" "$DL_BIN/dockline-collector" serve -c "$T/collector.conf"
DL_COLLECTOR_PID=$DL_LAST_PID
echo "$DL_COLLECTOR_PID" >"$T/serve.pid"
wait "$watcher" || dl_fail "no commit of the backlog seen within 120 s (see $T/watcher.log)"
dl_log "watcher: $(tail -n 1 "$T/watcher.log")"
dl_stop_collector KILL
at_kill=$(fl_burst_stored)
dl_log "$at_kill of $FL_BURST_N burst events stored when it died"
dl_start_collector
dl_wait_for "dl_host_online $FL_H" 60 "host $FL_H online again"
fault=$(awk -v a="$ts" -v b="$(fl_now)" 'BEGIN { printf "%.1f", b - a }')
fl_settle 120
fl_row "stored at the kill" "$FL_BURST_N" "$at_kill" ""
[ "$at_kill" -lt "$FL_BURST_N" ] ||
	dl_fail "the kill landed after the whole backlog was stored: nothing proven"
fl_integrity
# The agent kept sampling while the collector was down: no gap at all.
fl_report 0 "collector down, killed mid-backlog, ${fault}s"
