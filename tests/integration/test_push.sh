#!/usr/bin/env bash
# Live push and metrics end to end. `dockline events -f --json` (a
# subscription, no polling) receives a `docker stop` of a test container;
# a follower started with --since while events keep coming prints every
# stored event exactly once (no gap, no duplicate); a subscriber that
# never reads is closed once more than 1 MiB is unsent and serve stays
# healthy; `dockline metrics` passes `promtool check metrics` and its
# container_memory_usage_bytes equals `dockline stats --json`.
. "$(dirname "$0")/lib.sh"

dl_need_all
command -v promtool >/dev/null || { dl_log "SKIP: promtool not installed"; exit 77; }

export DL_STATS_INTERVAL=1
dl_start_sshd
dl_start_collector
dl_enroll push1
dl_start_agent push1
dl_wait_for 'dl_host_online push1' 30 "host push1 online"

subscribers() { grep -c 'subscribed to events' "$T/collector.log" || true; }

# ---- 1. a subscriber sees docker stop
id=$(dl_run_container web sleep 3600)
dl_wait_for "[ \"\$(dl_ps_field $id state)\" = running ]" 20 "container running in ps"
n0=$(subscribers)
dl_spawn "$T/follow1.err" sh -c "exec '$DL_BIN/dockline' -s '$T/admin.sock' events -f --json --host push1 >'$T/follow1.json'"
f1=$DL_LAST_PID
dl_wait_for "[ \$(subscribers) -gt $n0 ]" 10 "follower subscribed"
docker stop -t 1 "$id" >/dev/null
count_in() { # FILE ID ACTION
	jq -r --arg id "$2" --arg a "$3" "select(($DL_JQ_ID) and .action == \$a) | .seq" <"$1" | wc -l
}
dl_wait_for "[ \$(count_in $T/follow1.json $id stop) -ge 1 ] && [ \$(count_in $T/follow1.json $id die) -ge 1 ]" 20 \
	"pushed die and stop of the container"
dl_assert_eq "stop pushed once" 1 "$(count_in "$T/follow1.json" "$id" stop)"
dl_assert_eq "die pushed once" 1 "$(count_in "$T/follow1.json" "$id" die)"
dl_assert_eq "follow1 writes nothing on stderr" "" "$(cat "$T/follow1.err")"

# ---- 2. --since while events keep coming: no gap, no duplicate
busy=$(dl_run_container busy sleep 3600)
( for i in $(seq 1 60); do docker exec "$busy" true >/dev/null 2>&1 || true; done ) &
gen=$!
sleep 2
n0=$(subscribers)
dl_spawn "$T/follow2.err" sh -c "exec '$DL_BIN/dockline' -s '$T/admin.sock' events -f --json --since 1h --limit 100000 --host push1 >'$T/follow2.json'"
f2=$DL_LAST_PID
dl_wait_for "[ \$(subscribers) -gt $n0 ]" 10 "second follower subscribed"
docker restart -t 1 "$id" >/dev/null
docker stop -t 1 "$id" >/dev/null
wait "$gen"
sleep 3 # the last commits, pushed
# The shared dockerd has other tests' containers too, so events keep
# coming: read what the follower printed first, then compare with what
# is stored up to its newest seq (no gap, no duplicate, nothing extra).
followed=$(jq -r '.seq' <"$T/follow2.json" | sort -n)
last=$(tail -n 1 <<<"$followed")
stored=$(dl_items events --host push1 --since 1h --limit 100000 | jq -r --argjson last "${last:-0}" 'select(.seq <= $last) | .seq' | sort -n)
dl_log "stored $(wc -l <<<"$stored") events, follower printed $(wc -l <<<"$followed")"
dl_assert_eq "follower printed no seq twice" "" "$(uniq -d <<<"$followed")"
dl_assert_eq "follower printed exactly the stored events" "$stored" "$followed"
dl_assert_eq "stop of the test container printed exactly twice (backlog + push)" 2 \
	"$(count_in "$T/follow2.json" "$id" stop)"
dl_assert_eq "die of the test container printed exactly twice" 2 "$(count_in "$T/follow2.json" "$id" die)"
# --json rows are the events query's rows, key for key.
dl_assert_eq "pushed rows carry the query's keys" \
	"$(dl_items events --host push1 --since 1h --limit 1 | jq -c 'keys')" \
	"$(tail -n 1 "$T/follow2.json" | jq -c 'keys')"

# ---- 3. a subscriber that never reads is closed past 1 MiB
cat >"$T/stuck.py" <<'EOF'
import json, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1])
req = json.dumps({"op": "subscribe", "what": "stats"}).encode()
s.sendall(struct.pack(">I", len(req)) + req)
time.sleep(3600) # never reads
EOF
dl_spawn "$T/stuck.log" /usr/bin/python3 "$T/stuck.py" "$T/admin.sock"
stuck=$DL_LAST_PID
# Stats of ~40 containers every second: ~15 KB a push.
for i in $(seq 1 40); do dl_run_container "filler$i" sleep 3600 >/dev/null; done
dl_wait_for "grep -q 'closing subscriber uid 0' $T/collector.log" 240 "stuck subscriber closed"
dl_log "$(grep 'closing subscriber' "$T/collector.log")"
kill "$stuck" 2>/dev/null || true
dl_cli hosts >/dev/null || dl_fail "serve unhealthy after closing the stuck subscriber"
kill -0 "$f1" || dl_fail "the reading follower was closed too"

# ---- 4. metrics
dl_cli metrics >"$T/metrics.txt" || dl_fail "dockline metrics failed"
# promtool's only allowed complaint: node_exporter's own camelCase
# memory names (node_memory_MemTotal_bytes, ...), kept so that existing
# node_exporter dashboards and rules work unchanged. Any other lint or a
# parse error fails.
promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1 || true
bad=$(grep -v "^node_memory_[A-Za-z]*_bytes metric names should be written in 'snake_case' not 'camelCase'$" "$T/promtool.out" || true)
[ -z "$bad" ] || dl_fail "promtool check metrics: $bad"
grep -q '^node_memory_MemTotal_bytes{host="push1"} [0-9]' "$T/metrics.txt" || dl_fail "no node_memory_MemTotal_bytes for push1"
dl_ok "promtool check metrics passes ($(wc -l <"$T/metrics.txt") lines)"
grep -q '^dockline_agents_connected 1$' "$T/metrics.txt" || dl_fail "dockline_agents_connected is not 1"
grep -q '^dockline_host_online{host="push1"} 1$' "$T/metrics.txt" || dl_fail "push1 not online in metrics"

# The same sample in both: stop the agent so nothing new arrives.
kill "$(eval echo "\$DL_AGENT_PID_push1")"
sleep 2
bname="dl-${T##*/}-busy"
mem_stats=$(dl_items stats push1 | jq -r --arg n "$bname" 'select((.name | ltrimstr("/")) == $n) | .mem_bytes')
dl_cli metrics >"$T/metrics2.txt"
mem_metrics=$(grep '^container_memory_usage_bytes{' "$T/metrics2.txt" | grep "name=\"/\\?$bname\"" | awk '{print $2}')
dl_log "memory of $bname: stats $mem_stats, metrics $mem_metrics"
dl_assert_match "stats has a memory value" '^[0-9]+$' "$mem_stats"
dl_assert_eq "container_memory_usage_bytes equals dockline stats" "$mem_stats" "$mem_metrics"

kill "$f1" "$f2" 2>/dev/null || true
wait "$f1" "$f2" 2>/dev/null || true
dl_ok "live push and metrics"
