#!/usr/bin/env bash
# simfleet.sh - serve's limits with N simulated agents (tests/bench/
# simfleet.c: one process, libuv, connecting to serve's agent socket the
# way dockline-attach does; no sshd, no agent processes).
#
#   DL_BIN=build/bin DL_BENCH_DIR=build/bench bash tests/bench/simfleet.sh [N...]
#   (default: 1000 5000 10000; STEADY_S=40 s measured after all are
#   online; CONTAINERS=20 per agent; INTERVAL_S=10 between STATS frames;
#   RATE=2000 first connects per second; BASE_BIN=dir: also run the same
#   fleet against that build's serve, printed as the baseline)
#
# Per N, a fresh serve and database: time to all online, serve's RSS and
# PSS (smaps_rollup) before and after, memory per session, serve's CPU,
# ingest expected vs stored (acked = committed; the database is counted
# at the end), ack latency and admin `hosts` latency (p50/p99). Goals
# (issue 14): RSS <= 500 MiB at 10,000, ingest keeps up with
# 10,000 x 20 every 10 s, hosts p99 < 200 ms. Nothing asserts on time.
DL_TEST_NAME=simfleet
. "$(dirname "$0")/../integration/lib.sh"

STEADY_S=${STEADY_S:-40}
CONTAINERS=${CONTAINERS:-20}
INTERVAL_S=${INTERVAL_S:-10}
RATE=${RATE:-2000}
SIM=${DL_BENCH_DIR:-$DL_SRC/build/bench}/simfleet
[ -x "$SIM" ] || dl_fail "$SIM is missing: build first"
[ -x "$DL_BIN/dockline-collector" ] || dl_fail "$DL_BIN/dockline-collector is missing"
# serve and simfleet each hold one descriptor per agent (plus a few).
ulimit -n "$(ulimit -Hn)" || dl_fail "cannot raise the open-file limit"

mem_kib() { # PID -> "RSS PSS" in KiB
	awk '$1 == "Rss:" { r = $2 } $1 == "Pss:" { p = $2 } END { print r, p }' \
		"/proc/$1/smaps_rollup"
}
calc() { awk "BEGIN { printf \"%.1f\", $1 }"; }
cpu_s() { # PID -> user+system CPU seconds
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat"
}

# run LABEL BIN N
run() {
	local label=$1 bin=$2 n=$3 d rss0 pss0 rss1 pss1 c0 c1 out rows spid
	d=$T/$label-$n
	mkdir -p "$d"
	cat >"$d/collector.conf" <<EOF
[collector]
database = $d/dockline.db
agent_socket = $d/agent.sock
admin_socket = $d/admin.sock
log_level = warn
EOF
	dl_spawn "$d/collector.log" "$bin/dockline-collector" serve -c "$d/collector.conf"
	spid=$DL_LAST_PID
	dl_wait_for "[ -S $d/admin.sock ] && $bin/dockline -s $d/admin.sock hosts >/dev/null 2>&1" 30 "serve answering"
	read -r rss0 pss0 < <(mem_kib "$spid")
	c0=$(cpu_s "$spid")
	out=$("$SIM" "$d/agent.sock" "$d/admin.sock" "$n" "$STEADY_S" "$CONTAINERS" "$INTERVAL_S" "$RATE" 2>"$d/sim.err") ||
		dl_fail "simfleet failed: $(tail -3 "$d/sim.err")"
	read -r rss1 pss1 < <(mem_kib "$spid")
	c1=$(cpu_s "$spid")
	kill -TERM "$spid"
	dl_wait_for "dl_gone $spid" 120 "serve stopping"
	wait "$spid" || dl_fail "serve exited $? after SIGTERM: $(tail -20 "$d/collector.log")"
	rows=$(sqlite3 "$d/dockline.db" 'SELECT count(*) FROM container_samples')
	printf '\n---- %s serve, %d simulated agents\n' "$label" "$n"
	printf '%s\n' "$out"
	printf '%-32s %d (counted after a clean stop of serve, which commits its queue)\n' "rows in the database" "$rows"
	printf '%-32s RSS %s MiB, PSS %s MiB (idle: RSS %s, PSS %s)\n' "serve memory, live fleet" \
		"$(calc "$rss1/1024")" "$(calc "$pss1/1024")" "$(calc "$rss0/1024")" "$(calc "$pss0/1024")"
	printf '%-32s %s KiB RSS\n' "serve memory per session" "$(calc "($rss1-$rss0)/$n")"
	printf '%-32s %s s over the run\n' "serve CPU" "$(calc "$c1-$c0")"
	grep -c . "$d/sim.err" >/dev/null && sed 's/^/  sim: /' "$d/sim.err" | head -5
	rm -rf "$d"
}

for n in ${*:-1000 5000 10000}; do
	[ "$((n + 200))" -le "$(ulimit -n)" ] ||
		dl_fail "$n agents need $((n + 200)) open files; the hard limit is $(ulimit -Hn)"
	[ -n "${BASE_BIN:-}" ] && run baseline "$BASE_BIN" "$n"
	run this "$DL_BIN" "$n"
done
