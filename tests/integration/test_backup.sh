#!/usr/bin/env bash
# `dockline-collector backup FILE` while an agent keeps the collector
# busy: the copy passes SQLite's integrity check, holds every event that
# was committed before it started, never overwrites, and restoring it
# (docs/INSTALL.md) gives a collector that answers with that history.
# A clean stop leaves an empty -wal (everything is in the main file).
. "$(dirname "$0")/lib.sh"

dl_need_all

dl_start_sshd
dl_start_collector
dl_enroll bk1
dl_start_agent bk1
dl_wait_for 'dl_host_online bk1' 30 "host bk1 online"
id=$(dl_run_container web sleep 3600)
for i in 1 2 3; do docker restart -t 0 "$id" >/dev/null; done
dl_wait_for "[ \$(dl_items events --host bk1 --since 1h --limit 100000 | jq -s '[.[] | select(.id == \"$id\" and .action == \"start\")] | length') -ge 4 ]" 30 "4 starts stored"
before=$(sqlite3 "$T/dockline.db" "SELECT count(*) FROM events")

# ingest goes on during the copy
(for i in $(seq 1 5); do docker restart -t 0 "$id" >/dev/null; done) &
busy=$!
out=$("$DL_BIN/dockline-collector" backup "$T/copy.db" -c "$T/collector.conf" 2>&1) || dl_fail "backup failed: $out"
wait "$busy"
dl_assert_match "backup reports what it wrote" "^backup of $T/dockline.db \\([0-9]+ pages, [0-9.]+ MiB\\) written to $T/copy.db in [0-9]+ ms$" "$out"
dl_assert_eq "the copy passes integrity_check" ok "$(sqlite3 "$T/copy.db" 'PRAGMA integrity_check')"
dl_assert_eq "the copy is private" 600 "$(stat -c %a "$T/copy.db")"
got=$(sqlite3 "$T/copy.db" "SELECT count(*) FROM events")
[ "$got" -ge "$before" ] || dl_fail "the copy holds $got events, $before were committed before it"
dl_ok "the copy holds every event committed before it ($got >= $before)"
dl_assert_eq "no partial file left" 0 "$(find "$T" -name '*.partial' | wc -l)"
out=$("$DL_BIN/dockline-collector" backup "$T/copy.db" -c "$T/collector.conf" 2>&1) && dl_fail "backup overwrote: $out"
dl_assert_match "never overwrites" "copy.db exists: a backup never overwrites" "$out"

# a clean stop: everything in the main file, the -wal empty
kill -TERM "$DL_COLLECTOR_PID"
dl_wait_for "! kill -0 $DL_COLLECTOR_PID" 20 "collector stopped"
dl_assert_file_match "checkpoint at close" "-wal checkpointed \\([0-9]+ pages\\) and emptied" "$T/collector.log"
dl_assert_eq "the -wal is empty after a clean stop" 0 "$(stat -c %s "$T/dockline.db-wal" 2>/dev/null || echo 0)"

# restore as docs/INSTALL.md says: the copy replaces the database
rm -f "$T/dockline.db" "$T/dockline.db-wal" "$T/dockline.db-shm"
cp "$T/copy.db" "$T/dockline.db"
dl_start_collector
n=$(dl_items events --host bk1 --since 1h --limit 100000 | jq -s 'length')
[ "$n" -ge "$before" ] || dl_fail "restored collector shows $n events, want >= $before"
dl_ok "the restored collector answers with the history ($n events)"
dl_ok "backup"
