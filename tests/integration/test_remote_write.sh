#!/usr/bin/env bash
# [remote_write] to a real Prometheus: Debian's prometheus started here
# with --web.enable-remote-write-receiver on its own loopback port and
# storage dir, the usual stack (sshd, serve, agent, a labelled busy test
# container, stats every second). Proves:
#   - a container CPU and memory series and a host series of this test's
#     host arrive with plausible values, labelled as /metrics labels them
#     (host, name, image, id; host), and node_memory_MemTotal_bytes
#     equals what /metrics shows
#   - Prometheus stopped for a while: the counters show failed requests
#     and retried samples, nothing dropped; started again (same storage,
#     same port): the samples of the outage arrive (count_over_time over
#     the outage) and the log says delivery resumed
#   - the bearer token (read from a file) is never in the collector log
#   - a 404 path: batches are dropped as rejected, with a logged reason
#   - a bad [remote_write] section refuses to start with file:line
. "$(dirname "$0")/lib.sh"

dl_need_all
command -v prometheus >/dev/null || dl_fail "prometheus is not installed (Debian package prometheus)"

export DL_STATS_INTERVAL=1
HOST=rw1
PROM_PORT=$(dl_free_port)
PROM=http://127.0.0.1:$PROM_PORT
TOKEN="rwtoken-$RANDOM$RANDOM-secret"
printf '%s\n' "$TOKEN" >"$T/rw.token"
chmod 600 "$T/rw.token"

# ---- a bad section refuses to start, naming file:line
dl_write_collector_conf
cp "$T/collector.conf" "$T/bad.conf"
printf '\n[remote_write]\nurl = http://u:pw@127.0.0.1:1/api/v1/write\n' >>"$T/bad.conf"
rc=0
out=$(timeout 10 "$DL_BIN/dockline-collector" serve -c "$T/bad.conf" 2>&1) || rc=$?
dl_assert_eq "serve refuses a bad [remote_write]" 1 "$rc"
line=$(grep -n '^url = http://u:pw' "$T/bad.conf" | cut -d: -f1)
dl_assert_match "the error names file:line" "bad.conf:$line: \[remote_write\] url must not hold credentials" "$out"

rw_section() { # URL
	cat <<EOF2

[remote_write]
url = $1
bearer_token_file = $T/rw.token
header1 = X-Scope-OrgID: dockline-test
timeout = 5s
batch = 500
queue = 100000
EOF2
}
rw_section "$PROM/api/v1/write" >>"$T/collector.conf"

# ---- Prometheus: a receiver only (no scrape jobs)
printf 'global:\n  evaluation_interval: 15s\n' >"$T/prometheus.yml"
start_prom() {
	dl_spawn "$T/prometheus.log" /usr/bin/prometheus --config.file="$T/prometheus.yml" \
		--storage.tsdb.path="$T/tsdb" --web.listen-address="127.0.0.1:$PROM_PORT" \
		--web.enable-remote-write-receiver
	PROM_PID=$DL_LAST_PID
	dl_wait_for "curl -sf $PROM/-/ready" 60 "Prometheus ready on $PROM (pid $PROM_PID)"
}
start_prom
# promql EXPR [TIME]: the first result as JSON, "" if none
promql() {
	curl -s --max-time 10 --data-urlencode "query=$1" ${2:+--data-urlencode "time=$2"} \
		"$PROM/api/v1/query" | jq -c '.data.result[0] // empty'
}
value() { promql "$@" | jq -r '.value[1] // empty'; }

dl_start_sshd
dl_start_collector
dl_assert_file_match "serve says where samples go" "remote_write.*samples go to $PROM/api/v1/write" "$T/collector.log"
dl_enroll $HOST
dl_start_agent $HOST
dl_wait_for "dl_host_online $HOST" 30 "host $HOST online"
# busy, but held to a tenth of a CPU (the machine is shared)
name="dl-${T##*/}-busy"
id=$(docker run -d --label "dockline.test=$T" --label "app=rwtest" --cpus 0.1 \
	--name "$name" "$DL_IMAGE" sh -c 'while :; do :; done')
dl_wait_for "[ \"\$(dl_ps_field $id state)\" = running ]" 20 "busy test container running"

# ---- the series arrive
sel="{host=\"$HOST\",name=\"$name\"}"
dl_wait_for "[ -n \"\$(value 'container_memory_usage_bytes$sel')\" ]" 90 \
	"Prometheus has container_memory_usage_bytes$sel"
dl_wait_for "awk -v v=\"\$(value 'container_cpu_usage_seconds_total$sel')\" 'BEGIN { exit !(v > 0.2) }'" 90 \
	"container_cpu_usage_seconds_total$sel grows past 0.2 s (the loop burns CPU)"
dl_wait_for "[ -n \"\$(value 'node_memory_MemTotal_bytes{host=\"$HOST\"}')\" ]" 60 \
	"Prometheus has node_memory_MemTotal_bytes{host=\"$HOST\"}"

mem=$(value "container_memory_usage_bytes$sel")
awk -v v="$mem" 'BEGIN { exit !(v > 0 && v < 268435456) }' ||
	dl_fail "container memory $mem is not between 0 and 256 MiB"
dl_ok "container memory $mem bytes: plausible for a busybox loop"
rate=$(value "rate(container_cpu_usage_seconds_total$sel[20s])")
dl_wait_for "awk -v v=\"\$(value 'rate(container_cpu_usage_seconds_total$sel[20s])')\" 'BEGIN { exit !(v > 0.02 && v < 0.3) }'" 60 \
	"CPU rate of the busy container is near its 0.1 CPU cap"
load=$(value "node_load1{host=\"$HOST\"}")
awk -v v="$load" 'BEGIN { exit !(v >= 0 && v < 1000) }' || dl_fail "node_load1 $load"
dl_ok "node_load1 $load"

# Labels: exactly the /metrics label set of the same series.
dl_cli metrics >"$T/metrics.txt" || dl_fail "dockline metrics"
mline=$(grep "^container_memory_usage_bytes{host=\"$HOST\",name=\"$name\"," "$T/metrics.txt" | head -n 1)
[ -n "$mline" ] || dl_fail "no container_memory_usage_bytes of $name in /metrics"
want=$(sed -E 's/^[^{]*\{(.*)\} .*$/\1/; s/",/"\n/g' <<<"$mline" |
	sed -E 's/^([a-z_]+)="(.*)"$/\1=\2/' | sort | paste -sd, -)
got=$(promql "container_memory_usage_bytes$sel" |
	jq -r '.metric | del(.__name__) | to_entries | map("\(.key)=\(.value)") | sort | join(",")')
dl_assert_eq "the remote-written series has /metrics' labels" "$want" "$got"
dl_assert_match "the id label is the full container id" "id=$id" "$got"
mt_metrics=$(grep "^node_memory_MemTotal_bytes{host=\"$HOST\"} " "$T/metrics.txt" | awk '{print $2}')
mt_prom=$(value "node_memory_MemTotal_bytes{host=\"$HOST\"}")
dl_assert_eq "node_memory_MemTotal_bytes: Prometheus equals /metrics" "$mt_metrics" "$mt_prom"
mt_proc=$(awk '/^MemTotal:/ {printf "%.0f\n", $2 * 1024}' /proc/meminfo)
dl_assert_eq "node_memory_MemTotal_bytes is this host's MemTotal" "$mt_proc" "$mt_prom"

# counters: CTR NAME[{labels}] from `dockline metrics`
ctr() { dl_cli metrics | awk -v n="$1" '$1 == n { print $2 }'; }
sent0=$(ctr dockline_remote_write_samples_sent_total)
awk -v v="$sent0" 'BEGIN { exit !(v > 0) }' || dl_fail "samples sent: [$sent0]"
dl_ok "dockline_remote_write_samples_sent_total $sent0"
dl_assert_eq "nothing retried yet" 0 "$(ctr dockline_remote_write_samples_retried_total)"

# ---- Prometheus stopped for a while: retries, then delivery
kill "$PROM_PID"
dl_wait_for "dl_gone $PROM_PID" 30 "Prometheus stopped"
t_stop=$(date +%s)
dl_wait_for "awk -v v=\"\$(ctr dockline_remote_write_samples_retried_total)\" 'BEGIN { exit !(v > 0) }'" 60 \
	"samples are retried while Prometheus is down"
dl_wait_for "awk -v v=\"\$(ctr 'dockline_remote_write_requests_total{outcome=\"failed\"}')\" 'BEGIN { exit !(v >= 3) }'" 60 \
	"at least 3 failed attempts (backoff)"
queued=$(ctr dockline_remote_write_queue_samples)
awk -v v="$queued" 'BEGIN { exit !(v > 0) }' || dl_fail "queue while down: [$queued]"
dl_ok "$queued samples wait in the queue"
sleep 5
start_prom
t_start=$(date +%s)
dl_wait_for "[ \"\$(ctr dockline_remote_write_queue_samples)\" -lt 200 ]" 90 "the queue drains"
dl_wait_for "grep -q 'accepts samples again after' '$T/collector.log'" 30 "the log says delivery resumed"
dl_assert_file_match "the log says why it retried" "remote_write.*$PROM/api/v1/write: .*retried in [0-9]+ ms" "$T/collector.log"
outage=$((t_start - t_stop))
# The four connections leave their backoff at different times, and the
# one carrying this container's series may be the last: wait for it.
outage_n() { value "count_over_time(container_memory_usage_bytes$sel[${outage}s])" "$t_start"; }
dl_wait_for "awk -v n=\"\$(outage_n)\" -v d=$outage 'BEGIN { exit !(n >= d / 2) }'" 60 \
	"at least half the outage's seconds of $name in Prometheus"
n=$(outage_n)
dl_log "samples of $name inside the ${outage} s outage: $n"
dl_ok "the outage's samples arrived after the restart ($n in ${outage} s)"
sent1=$(ctr dockline_remote_write_samples_sent_total)
retried=$(ctr dockline_remote_write_samples_retried_total)
awk -v a="$sent1" -v b="$sent0" 'BEGIN { exit !(a > b) }' || dl_fail "sent did not grow: $sent0 -> $sent1"
dl_ok "counters: sent $sent0 -> $sent1, retried $retried"
dl_assert_eq "nothing dropped for a full queue" 0 "$(ctr 'dockline_remote_write_samples_dropped_total{reason="queue_full"}')"
dl_assert_eq "nothing rejected" 0 "$(ctr 'dockline_remote_write_samples_dropped_total{reason="rejected"}')"

# ---- a path the receiver does not have: dropped as rejected, logged
dl_stop_collector
dl_assert_file_match "stopping logs the totals" "remote_write.*stopped: sent [0-9]+, retried [0-9]+, dropped" "$T/collector.log"
dl_write_collector_conf
rw_section "$PROM/api/v1/nowhere" >>"$T/collector.conf"
dl_start_collector
dl_wait_for "awk -v v=\"\$(ctr 'dockline_remote_write_samples_dropped_total{reason=\"rejected\"}')\" 'BEGIN { exit !(v > 0) }'" 60 \
	"a 404 drops the batch (reason rejected)"
dl_assert_eq "a 404 is not retried" 0 "$(ctr dockline_remote_write_samples_retried_total)"
dl_assert_file_match "the reason is logged" "remote_write.*nowhere refused [0-9]+ samples, dropped: HTTP 404" "$T/collector.log"

dl_assert_no_match "the collector never logs the bearer token" "$TOKEN" "$(cat "$T/collector.log")"
dl_ok "remote write to a real Prometheus"
