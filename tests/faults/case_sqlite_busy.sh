#!/usr/bin/env bash
# Fault 7: another process holds the write lock on the collector's
# database (BEGIN IMMEDIATE, python3's sqlite3) for FL_LOCK_S seconds
# mid-burst. The writer gets SQLITE_BUSY (after its own 5 s busy timeout)
# and must hold as on a full disk: no COMMIT, no ack, ONE log line, no
# crash; when the lock goes, everything arrives exactly once.
. "$(dirname "$0")/lib.sh"

FL_LOCK_S=${FL_LOCK_S:-10}

fl_setup
clog=$T/collector.log
busy_re='store: database .* is locked by another process'
again_re='store: database .* is writable again'
fl_burst b1
fl_life_start
dl_wait_for '[ "$(fl_burst_stored)" -ge 200 ]' 60 "200 burst events stored before the lock"
dl_spawn "$T/locker.log" /usr/bin/python3 -u -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
c.execute("COMMIT")
print("released", flush=True)
' "$FL_DB" "$FL_LOCK_S"
locker=$DL_LAST_PID
dl_wait_for "grep -q locked $T/locker.log" 30 "python3 holds BEGIN IMMEDIATE on the database"
tl=$(fl_now)
held=$(fl_burst_stored)
dl_log "write lock held by pid $locker, $held burst events stored"
dl_wait_for "grep -qE '$busy_re' $clog" 30 "the collector says the database is locked"
dl_log "$(grep -E "$busy_re" "$clog" | head -n 1)"
dl_assert_eq "nothing committed while locked" "$held" "$(fl_burst_stored)"
kill -0 "$DL_COLLECTOR_PID" || dl_fail "the collector died on SQLITE_BUSY"
wait "$locker" || dl_fail "the lock holder failed (see $T/locker.log)"
fault=$(awk -v a="$tl" -v b="$(fl_now)" 'BEGIN { printf "%.1f", b - a }')
dl_log "lock released after ${fault}s"
fl_hold_verify "locked" "$busy_re" "$held" "$clog" "$again_re"
fl_report 0 "write lock held ${fault}s"
