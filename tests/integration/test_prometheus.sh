#!/usr/bin/env bash
# A real Prometheus scrapes the gateway: serve + agent + dockerd behind
# `dockline-collector http` (as dlhttp), a read token made with the CLI
# in Prometheus's credentials_file, Prometheus on its own loopback port
# and temp storage. Proves up{job="dockline"} == 1 (the token is sent
# and accepted, the exposition parses), that a PromQL query through
# Prometheus returns what `dockline stats --json` shows for a test
# container, and that the exposition passes `promtool check metrics`
# apart from node_exporter's own camelCase names. Then with [http]
# metrics_auth = none: /metrics needs no token, everything else still
# does.
. "$(dirname "$0")/lib.sh"

dl_need_packages
dl_need_dockerd
dl_need_image
dl_need_user
dl_need_http_user
dl_check_bins
dl_docker_lock_shared
for b in prometheus promtool; do
	command -v "$b" >/dev/null || dl_fail "$b is not installed (Debian package prometheus)"
done

export DL_STATS_INTERVAL=1
HTTP_PORT=$(dl_free_port)
URL=http://127.0.0.1:$HTTP_PORT
dl_write_collector_conf
dl_http_section "127.0.0.1:$HTTP_PORT" >>"$T/collector.conf"
dl_start_sshd
dl_start_collector
dl_http_socket_access
dl_enroll prom1
dl_start_agent prom1
dl_wait_for 'dl_host_online prom1' 30 "host prom1 online"
name="dl-${T##*/}-mem"
id=$(dl_run_container mem sleep 3600)
dl_wait_for "[ \"\$(dl_ps_field $id state)\" = running ]" 20 "test container running"
dl_start_gateway "$T/collector.conf" "$T/http.log" "$URL"

# ---- a read token, in a file only Prometheus reads
out=$(dl_cli token create prometheus --role read) || dl_fail "token create: $out"
grep -oE '^dlt_[A-Za-z0-9_-]{43}$' <<<"$out" | tr -d '\n' >"$T/prometheus.token"
chmod 600 "$T/prometheus.token"
[ -s "$T/prometheus.token" ] || dl_fail "no secret in: $out"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics") || true
dl_assert_eq "/metrics without a token" 401 "$code"

# ---- Prometheus
PROM_PORT=$(dl_free_port)
PROM=http://127.0.0.1:$PROM_PORT
cat >"$T/prometheus.yml" <<EOF2
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: dockline
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: $T/prometheus.token
    static_configs:
      - targets: ['127.0.0.1:$HTTP_PORT']
EOF2
promtool check config "$T/prometheus.yml" >"$T/promtool-config.out" 2>&1 ||
	dl_fail "promtool check config: $(cat "$T/promtool-config.out")"
dl_spawn "$T/prometheus.log" /usr/bin/prometheus --config.file="$T/prometheus.yml" \
	--storage.tsdb.path="$T/tsdb" --web.listen-address="127.0.0.1:$PROM_PORT"
PROM_PID=$DL_LAST_PID
dl_log "prometheus pid $PROM_PID on $PROM"
# promql EXPR: the first result's value, "" if none
promql() {
	curl -s --max-time 10 --data-urlencode "query=$1" "$PROM/api/v1/query" |
		jq -r '.data.result[0].value[1] // ""'
}
dl_wait_for "kill -0 $PROM_PID && [ \"\$(promql 'up{job=\"dockline\"}')\" = 1 ]" 120 \
	"Prometheus scrapes the gateway: up{job=\"dockline\"} == 1"
dl_assert_file_match "the scrapes went through the gateway with a token" 'GET /metrics 200 ' "$T/http.log"
dl_assert_no_match "the gateway never logs the token" "$(cat "$T/prometheus.token")" "$(cat "$T/http.log")"

# ---- the same memory value through Prometheus as in dockline stats
# The agent is stopped so the value stops changing: then Prometheus's
# latest scrape and the store agree exactly, whatever the timing.
dl_wait_for "[ -n \"\$(promql 'container_memory_usage_bytes{name=\"$name\"}')\" ]" 60 \
	"Prometheus has container_memory_usage_bytes of $name"
kill "$(eval echo "\$DL_AGENT_PID_prom1")"
mem_stats() {
	dl_items stats prom1 | jq -r --arg n "$name" 'select((.name | ltrimstr("/")) == $n) | .mem_bytes'
}
dl_wait_for "[ \"\$(mem_stats)\" = \"\$(promql 'container_memory_usage_bytes{name=\"$name\"}')\" ]" 60 \
	"PromQL container_memory_usage_bytes{name=\"$name\"} equals dockline stats --json"
ms=$(mem_stats)
mp=$(promql "container_memory_usage_bytes{name=\"$name\"}")
dl_log "memory of $name: dockline stats $ms, Prometheus $mp"
dl_assert_match "a memory value" '^[0-9]+$' "$ms"
dl_assert_eq "Prometheus equals dockline stats" "$ms" "$mp"
dl_assert_eq "the series carries the host label" prom1 \
	"$(curl -s --data-urlencode "query=container_memory_usage_bytes{name=\"$name\"}" "$PROM/api/v1/query" | jq -r '.data.result[0].metric.host')"

# ---- promtool on the exposition the gateway serves
curl -s -H "Authorization: Bearer $(cat "$T/prometheus.token")" "$URL/metrics" >"$T/metrics.txt"
grep -q '^container_memory_usage_bytes{' "$T/metrics.txt" || dl_fail "no container_memory_usage_bytes in /metrics"
# As in test_push.sh: node_exporter's camelCase memory names are kept
# on purpose (existing dashboards); any other complaint fails.
promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1 || true
bad=$(grep -v "^node_memory_[A-Za-z]*_bytes metric names should be written in 'snake_case' not 'camelCase'$" "$T/promtool.out" || true)
[ -z "$bad" ] || dl_fail "promtool check metrics: $bad"
dl_ok "promtool check metrics: only the camelCase node_memory_* names ($(wc -l <"$T/promtool.out") lines)"
# serve timed the admin queries behind this test (the scrapes, stats):
# every one is in the histogram's +Inf bucket and its count.
qn=$(sed -n 's/^dockline_admin_query_seconds_count //p' "$T/metrics.txt")
dl_assert_match "admin queries counted" '^[1-9][0-9]*$' "$qn"
dl_assert_eq "admin query histogram: +Inf bucket = count" "$qn" \
	"$(sed -n 's/^dockline_admin_query_seconds_bucket{le="+Inf"} //p' "$T/metrics.txt")"

kill "$PROM_PID"

# ---- [http] metrics_auth = none: /metrics open, nothing else
# serve reads it too (a token-less metrics request from the [http] user
# is allowed), so both restart with it.
echo "metrics_auth = none" >>"$T/collector.conf" # [http] is the last section
kill "$DL_HTTP_PID"
dl_stop_collector
dl_start_collector
dl_http_socket_access
dl_start_gateway "$T/collector.conf" "$T/http.log" "$URL"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/metrics") || true
dl_assert_eq "metrics_auth = none: /metrics without a token" 200 "$code"
dl_assert_file_match "metrics_auth = none: the exposition" '^dockline_agents_connected [0-9]+$' "$T/body"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/api/v1/hosts") || true
dl_assert_eq "metrics_auth = none: /api/v1/hosts without a token still" 401 "$code"
dl_assert_eq "metrics_auth = none: code" unauthorized "$(jq -r .code "$T/body")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Upgrade: websocket" -H "Connection: Upgrade" \
	-H "Sec-WebSocket-Version: 13" -H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" \
	"$URL/api/v1/events/stream") || true
dl_assert_no_match "metrics_auth = none: no WebSocket without a token" '^101$' "$code"
rc=0
runuser -u "$DL_HTTP_USER" -- "$DL_BIN/dockline" -s "$T/admin.sock" hosts >/dev/null 2>"$T/err" || rc=$?
dl_assert_eq "serve: the [http] user without a token may not list hosts" 1 "$rc"
runuser -u "$DL_HTTP_USER" -- "$DL_BIN/dockline" -s "$T/admin.sock" metrics >"$T/m2.txt" ||
	dl_fail "serve: metrics as the [http] user without a token: $(cat "$T/m2.txt")"
dl_ok "serve: the [http] user may read metrics without a token"
dl_ok "a real Prometheus scraped dockline"
