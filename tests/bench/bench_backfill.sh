#!/usr/bin/env bash
# bench_backfill.sh - an agent comes back after its collector was away for
# HOURS: how long until everything it spooled is delivered, the
# collector's ingest rate meanwhile, and what happens to live events.
#
#   DL_BIN=build-bench/bin bash tests/bench/bench_backfill.sh [HOURS] [CONTAINERS] [BASE_ROUNDS]
#   (defaults 24, 100, 3000)
#
# The backlog is written by bench_backfill_gen through the agent's own
# spool writer (dl_spool_open/take_seq/append, frames from dl_msg_encode):
# one INVENTORY of CONTAINERS made-up containers, then a STATS batch of all
# of them and a HOSTSTATS every 10 s (the default interval) for HOURS,
# ending a minute ago. Then a real agent starts on that state dir (same
# epoch), connects through a private sshd to a real collector and
# backfills. Measured:
#   * delivery: agent start -> the collector's delivery row reaches the
#     backlog's last seq (every frame committed), and first commit -> that
#     (the ingest window); samples stored / window = ingest rate;
#   * baseline, same run: bench_ingest's STATS path (submit -> decode ->
#     commit -> ack, no network) and raw SQLite INSERTs, 1 host x
#     CONTAINERS x BASE_ROUNDS;
#   * live events: an exec_create event made through the Engine API every
#     0.5 s from the agent's start until 10 s after the backfill, each
#     timed from its request to its row being seen in SQLite (polled every
#     0.1 s): during the backfill vs idle (after it), median and max.
# Nothing is asserted on time (shared machine); the counts are checked.
DL_TEST_NAME=bench_backfill
. "$(dirname "$0")/../integration/lib.sh"

HOURS=${1:-24}
NC=${2:-100}
BASE_ROUNDS=${3:-3000}
BENCH=${DL_BENCH_DIR:-$(dirname "$DL_BIN")/bench}
GEN=$BENCH/bench_backfill_gen
SOCK=/var/run/docker.sock

dl_need_dockerd
dl_need_image
dl_docker_lock_shared
dl_check_bins
[ -x "$GEN" ] || dl_fail "no $GEN (build the bench targets)"

now_ns() { date +%s%N; }
db() { sqlite3 -readonly "$T/dockline.db" "$1" 2>/dev/null; }
delivered() { local s; s=$(db "SELECT seq FROM delivery WHERE host = 'bf'"); echo "${s:-0}"; }

# Baseline: the store's own ingest path and raw inserts, same shape.
dl_log "baseline: bench_ingest 1 $NC $BASE_ROUNDS"
base=$("$BENCH/bench_ingest" 1 "$NC" "$BASE_ROUNDS") || dl_fail "bench_ingest failed"
echo "$base" >&2
base_store=$(awk '/^STATS submit/ { print $(NF - 1) }' <<<"$base")
base_raw=$(awk '/^raw sqlite/ { print $(NF - 1) }' <<<"$base")

dl_start_sshd
dl_start_collector
dl_enroll bf
ticker=$(dl_run_container ticker sleep 3600)

mkdir -p "$T/state-bf"
read -r frames bytes samples first last < <("$GEN" "$T/state-bf" "$HOURS" "$NC" 10) ||
	dl_fail "bench_backfill_gen failed"
dl_log "spooled: $frames frames, $bytes bytes, $samples samples (${HOURS} h x $NC containers at 10 s)"

# Live events: made every 0.5 s (made.txt: i ns), seen by a poller
# (seen.txt: i ns).
: >"$T/made.txt"
: >"$T/seen.txt"
: >"$T/failed.txt"
prober() {
	local i=0 tm
	while :; do
		i=$((i + 1))
		tm=$(now_ns)
		# Only what dockerd accepted counts as made.
		curl -sf -o /dev/null --unix-socket "$SOCK" -H 'Content-Type: application/json' \
			-d "{\"Cmd\":[\"true\",\"bfl-$i\"]}" "http://x/containers/$ticker/exec" &&
			echo "$i $tm" >>"$T/made.txt" || echo "$i" >>"$T/failed.txt"
		sleep 0.5
	done
}
watcher() {
	local seen=" " i ts
	while :; do
		ts=$(now_ns)
		for i in $(db "SELECT substr(action, 23) FROM events WHERE host = 'bf'
			AND action LIKE 'exec_create: true bfl-%'"); do
			case $seen in *" $i "*) continue ;; esac
			seen="$seen$i "
			echo "$i $ts" >>"$T/seen.txt"
		done
		sleep 0.1
	done
}

t0=$(now_ns)
dl_start_agent bf
apid=$DL_LAST_PID
watcher &
dl_track $!
wpid=$!
# Probes start once the agent's /events stream is open (it opens before
# the list that precedes "up"): an event made before the agent subscribed
# is not a live event it could have lost.
dl_wait_for "grep -q 'watch: Docker .* up at' '$T/agent-bf.log'" 60 "agent watching Docker"
prober &
dl_track $!
ppid=$!

tfirst=0
end=$((t0 + 1800 * 1000000000))
while :; do
	d=$(delivered)
	now=$(now_ns)
	[ "$tfirst" = 0 ] && [ "$d" -gt 0 ] && tfirst=$now
	[ "$d" -ge "$frames" ] && break
	[ "$now" -ge "$end" ] && dl_fail "backfill not done after 1800 s (delivered seq $d of $frames)"
	kill -0 "$apid" 2>/dev/null || dl_fail "agent exited"
	sleep 0.1
done
tdone=$(now_ns)
dl_log "backfill committed: seq $frames after $(((tdone - t0) / 1000000)) ms"
sleep 10
dl_kill_tree "$ppid"
sleep 3
dl_kill_tree "$wpid"

stored=$(db "SELECT count(*) FROM container_samples WHERE cid IN
	(SELECT cid FROM container_keys WHERE host = 'bf' AND name LIKE 'bf-%')")
[ "$stored" = "$samples" ] || dl_fail "samples stored: $stored of $samples"
hs=$(db "SELECT count(*) FROM host_samples WHERE host = 'bf' AND ts <= $last")
dl_ok "all $stored container samples and $hs host samples of the backlog stored"

# Latencies: made before tdone = during the backfill.
lat=$(join <(sort -k1,1 "$T/made.txt") <(sort -k1,1 "$T/seen.txt") |
	awk -v d="$tdone" '{ printf "%s %.0f\n", ($2 < d ? "during" : "idle"), ($3 - $2) / 1e6 }')
made_n=$(wc -l <"$T/made.txt")
seen_n=$(wc -l <"$T/seen.txt")
lat_stat() { # during|idle -> "n median max"
	awk -v w="$1" '$1 == w { print $2 }' <<<"$lat" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) printf "%d %d %d\n", NR, v[int((NR + 1) / 2)], v[NR]; else print "0 0 0" }'
}
read -r dn dmed dmax < <(lat_stat during)
read -r idn imed imax < <(lat_stat idle)

ms=$(((tdone - t0) / 1000000))
win=$(((tdone - tfirst) / 1000000))
rate=$(awk -v s="$samples" -v w="$win" 'BEGIN { printf "%.0f", w ? s / (w / 1000) : 0 }')
printf '\nbackfill: %s h of %s containers at 10 s = %s frames, %s bytes, %s samples\n\n' \
	"$HOURS" "$NC" "$frames" "$bytes" "$samples"
printf '%-52s %14s %10s\n' what value ratio
printf '%-52s %14s %10s\n' "agent start -> backlog committed (ms)" "$ms" -
printf '%-52s %14s %10s\n' "first commit -> backlog committed (ms)" "$win" -
printf '%-52s %14s %10s\n' "backfill ingest, samples/s" "$rate" 1.00
printf '%-52s %14s %10s\n' "baseline: bench_ingest STATS path, samples/s" "$base_store" \
	"$(awk -v a="$base_store" -v b="$rate" 'BEGIN { printf "%.2f", b ? a / b : 0 }')"
printf '%-52s %14s %10s\n' "baseline: raw SQLite INSERT, samples/s" "$base_raw" \
	"$(awk -v a="$base_raw" -v b="$rate" 'BEGIN { printf "%.2f", b ? a / b : 0 }')"
printf '\nlive events (exec_create every 0.5 s): made %s, seen stored %s\n\n' "$made_n" "$seen_n"
printf '%-22s %6s %12s %10s %14s\n' when events median_ms max_ms median/idle
printf '%-22s %6s %12s %10s %14s\n' "during backfill" "$dn" "$dmed" "$dmax" \
	"$(awk -v a="$dmed" -v b="$imed" 'BEGIN { printf "%.1f", b ? a / b : 0 }')"
printf '%-22s %6s %12s %10s %14s\n' "idle (after it)" "$idn" "$imed" "$imax" 1.0
# dockerd's own account of the probes, to tell a lost event from one
# dockerd never emitted.
emitted=$(timeout 20 docker events --since "$((t0 / 1000000000 - 5))" --until "$(date +%s)" \
	--filter "container=$ticker" --filter event=exec_create --format '{{.Action}}' |
	grep -c 'bfl-' || true)
printf 'dockerd emitted %s of them; requests refused: %s\n' "$emitted" "$(wc -l <"$T/failed.txt" 2>/dev/null || echo 0)"
[ "$seen_n" -ge "$made_n" ] || {
	join -v1 <(sort -k1,1 "$T/made.txt") <(sort -k1,1 "$T/seen.txt") |
		awk -v d="$tdone" '{ print "not stored: bfl-" $1 ($2 < d ? " (made during the backfill)" : " (made after it)") }' >&2
	dl_fail "live events lost: made $made_n, stored $seen_n"
}
