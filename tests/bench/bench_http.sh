#!/usr/bin/env bash
# bench_http.sh - the HTTP gateway under load (issue 10), against serve's
# admin socket as the baseline measured in the same run:
#   * wrk (64 connections, 2 threads) on GET /api/v1/hosts (100 hosts) and
#     /api/v1/containers[?all=1] (1,000 hosts x 20 containers), vs
#     bench_admin sending the same op straight to the admin socket from 64
#     threads (a connection per request, as the gateway does; and one
#     kept per thread, serve's ceiling)
#   * /metrics for 20,000 containers: curl through the gateway vs
#     `dockline metrics`, then peak RSS of the gateway and of serve
#   * the gateway's RSS right after start, with 1,000 idle connections,
#     and after they are closed
# The databases are generated through the real store (bench_fleetdb);
# serve runs without agents. The gateway runs as the unprivileged user
# dlhttp with a read token, like tests/integration/test_http.sh.
#
#   bash tests/bench/bench_http.sh [SECONDS]   (wrk/bench_admin duration, 10)
#
# Goals are printed next to the figures, never asserted (shared machine).
DL_TEST_NAME=bench_http
. "$(dirname "$0")/../integration/lib.sh"

SECS=${1:-10}
BD=${DL_BENCH_DIR:-$DL_BIN/../bench}
for b in bench_fleetdb bench_admin; do
	[ -x "$BD/$b" ] || dl_fail "$BD/$b is missing: build the $b target"
done
command -v wrk >/dev/null || dl_fail "wrk is missing (apt-get install wrk)"
dl_check_bins
HTTP_USER=dlhttp
(
	flock 8
	id "$HTTP_USER" >/dev/null 2>&1 || useradd --system --no-create-home -s /usr/sbin/nologin "$HTTP_USER"
) 8>"$DL_LOCK_DIR/dockline-test-user.lock"
dl_need_user
# 1,000 idle connections and 64 upstreams need more than 1024 fds.
ulimit -n "$(ulimit -Hn)" || true

load() { cut -d' ' -f1-3 /proc/loadavg; }
kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# wrk's latency "1.23ms" / "850.00us" / "1.02s" -> ms
to_ms() {
	awk -v v="$1" 'BEGIN { u = v; sub(/^[0-9.]+/, "", u); n = v + 0;
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
		printf "%.2f", n }'
}

# world NAME DB: serve on DB with its own sockets, the gateway as dlhttp on
# a free port, a read token. Sets W_DIR, W_URL, W_TOKEN, W_SERVE, W_HTTP.
world() {
	W_DIR=$T/$1
	mkdir -p "$W_DIR"
	chmod 755 "$W_DIR"
	local port
	port=$(dl_free_port)
	cat >"$W_DIR/collector.conf" <<EOF
[collector]
database = $2
agent_socket = $W_DIR/agent.sock
admin_socket = $W_DIR/admin.sock
attach_users = $DL_USER
log_level = warn

[http]
listen = 127.0.0.1:$port
user = $HTTP_USER
EOF
	chmod 644 "$W_DIR/collector.conf"
	dl_spawn "$W_DIR/serve.log" "$DL_BIN/dockline-collector" serve -c "$W_DIR/collector.conf"
	W_SERVE=$DL_LAST_PID
	dl_wait_for "\"$DL_BIN/dockline\" -s $W_DIR/admin.sock hosts" 30 "serve on $1 answers"
	chgrp "$HTTP_USER" "$W_DIR/admin.sock"
	chmod 660 "$W_DIR/admin.sock"
	W_TOKEN=$("$DL_BIN/dockline" -s "$W_DIR/admin.sock" token create "bench-$1" --role read |
		grep -o 'dlt_[A-Za-z0-9_-]*' | head -n 1)
	[ -n "$W_TOKEN" ] || dl_fail "dockline token create failed"
	dl_spawn "$W_DIR/http.log" "$DL_BIN/dockline-collector" http -c "$W_DIR/collector.conf"
	W_HTTP=$DL_LAST_PID
	W_URL=http://127.0.0.1:$port
	dl_wait_for "curl -s -o /dev/null $W_URL/" 10 "gateway on $1 listening"
}

unworld() {
	dl_kill_tree "$W_HTTP"
	dl_kill_tree "$W_SERVE"
}

ROWS=()
# row LABEL GATEWAY_RPS P50 P99 ADMIN_RPS P50 P99 BYTES ERRORS
row() { ROWS+=("$(printf '%-32s %9s %8s %8s | %9s %8s %8s | %6s %9s %6s' "$@")"); }

# wrk_run CONNECTIONS PATH -> G_RPS G_P50 G_P99 G_ERR
wrk_run() {
	local out th=$(($1 < 2 ? 1 : 2))
	out=$(wrk -t$th -c"$1" -d"${SECS}s" --timeout 60s --latency \
		-H "Authorization: Bearer $W_TOKEN" "$W_URL$2" 2>&1)
	echo "$out" >>"$T/wrk.out"
	G_RPS=$(awk '/^Requests\/sec:/ { printf "%.1f", $2 }' <<<"$out")
	G_P50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
	G_P99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
	G_ERR=$(awk '/Non-2xx|Socket errors/ { s = s $0 "; " } END { print s }' <<<"$out")
}

# compare CONNECTIONS LABEL PATH OP [all]: wrk through the gateway, then
# bench_admin (connect per request, then keep-alive) on the same op with
# as many threads.
compare() {
	local c=$1 label=$2 path=$3 op=$4 all=${5:-} a k ratio
	wrk_run "$c" "$path"
	a=($("$BD/bench_admin" "$W_DIR/admin.sock" "$W_TOKEN" "$op" "$c" "$SECS" connect $all || echo - - - - - -))
	k=($("$BD/bench_admin" "$W_DIR/admin.sock" "$W_TOKEN" "$op" "$c" "$SECS" keep $all || echo - - - - - -))
	ratio=$(awk -v g="$G_RPS" -v a="${a[0]}" 'BEGIN { if (a > 0) printf "%.2f", g / a; else print "-" }')
	row "$label" "$G_RPS" "$G_P50" "$G_P99" "${a[0]}" "${a[1]}" "${a[2]}" "$ratio" "${a[4]}" "${a[5]}"
	row "  admin keep-alive ceiling" "" "" "" "${k[0]}" "${k[1]}" "${k[2]}" \
		"$(awk -v g="$G_RPS" -v a="${k[0]}" 'BEGIN { if (a > 0) printf "%.2f", g / a }')" "${k[4]}" "${k[5]}"
	ROWS+=("  (load $(load))")
	[ -n "$G_ERR" ] && ROWS+=("  wrk: $G_ERR")
	return 0
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

dl_log "generating databases (load $(load))"
"$BD/bench_fleetdb" "$T/fleet100.db" 100 20 3 || dl_fail "bench_fleetdb 100"
"$BD/bench_fleetdb" "$T/fleet1000.db" 1000 20 2 || dl_fail "bench_fleetdb 1000"

# ---- 100 hosts: idle RSS, 1,000 idle connections, GET /api/v1/hosts
world h100 "$T/fleet100.db"
sleep 0.5
RSS_START=$(kib "$W_HTTP" VmRSS)
cat >"$T/idle.py" <<'EOF'
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = []
for _ in range(n):
    s = socket.create_connection((host, port))
    socks.append(s)
print("open", len(socks), flush=True)
sys.stdin.readline()
for s in socks:
    s.close()
EOF
mkfifo "$T/idle.in"
/usr/bin/python3 "$T/idle.py" 127.0.0.1 "${W_URL##*:}" 1000 <"$T/idle.in" >"$T/idle.out" 2>&1 &
IDLE_PID=$!
dl_track "$IDLE_PID"
exec 7>"$T/idle.in"
dl_wait_for "grep -q 'open 1000' $T/idle.out" 30 "1,000 idle connections open"
sleep 1
RSS_IDLE=$(kib "$W_HTTP" VmRSS)
echo >&7
exec 7>&-
wait "$IDLE_PID" 2>/dev/null
sleep 1
RSS_AFTER=$(kib "$W_HTTP" VmRSS)
HWM_IDLE=$(kib "$W_HTTP" VmHWM)
curl -sf -o /dev/null -H "Authorization: Bearer $W_TOKEN" "$W_URL/api/v1/hosts" ||
	dl_fail "GET /api/v1/hosts does not answer 200"
dl_log "hosts (load $(load))"
compare 64 "GET /hosts (100), c64" /api/v1/hosts hosts
unworld

# ---- 1,000 hosts x 20 containers: /containers, /metrics
world h1000 "$T/fleet1000.db"
dl_log "containers (load $(load))"
# 64 connections of 20,000-row answers take longer than a run each (none
# completes in 10 s): 8, then 1.
compare 8 "GET /containers (15,000), c8" /api/v1/containers ps
compare 8 "GET /containers?all=1 (20k), c8" "/api/v1/containers?all=1" ps all
compare 1 "  the same, 1 connection" "/api/v1/containers?all=1" ps all
dl_log "metrics (load $(load))"
: >"$T/m.gw"
: >"$T/m.cli"
for _ in 1 2 3 4 5; do
	curl -s -o "$T/metrics.txt" -w '%{time_total}\n' -H "Authorization: Bearer $W_TOKEN" \
		"$W_URL/metrics" | awk '{ printf "%.1f\n", $1 * 1000 }' >>"$T/m.gw"
	t0=$(date +%s%N)
	"$DL_BIN/dockline" -s "$W_DIR/admin.sock" metrics >"$T/metrics.cli"
	echo $((($(date +%s%N) - t0) / 1000000)) >>"$T/m.cli"
done
M_GW=$(median <"$T/m.gw")
M_CLI=$(median <"$T/m.cli")
M_BYTES=$(wc -c <"$T/metrics.txt")
M_CTRS=$(grep -c '^container_cpu_usage_seconds_total{' "$T/metrics.txt" || true)
HWM_GW=$(kib "$W_HTTP" VmHWM)
HWM_SERVE=$(kib "$W_SERVE" VmHWM)
M_LOAD=$(load)
unworld

echo
echo "gateway (wrk -t2 -c64 -d${SECS}s unless said) vs admin socket (bench_admin, a thread per connection, a connection per request); ms"
printf '%-32s %9s %8s %8s | %9s %8s %8s | %6s %9s %6s\n' "query (connections)" "gw req/s" "p50" "p99" \
	"admin r/s" "p50" "p99" "gw/adm" "answer B" "errors"
printf '%s\n' "${ROWS[@]}"
echo "goals: /hosts >= 5000 req/s through the gateway, p99 < 50 ms"
echo
printf '%-44s %10s %10s %s\n' "/metrics, 1,000 hosts x 20 containers" "median ms" "goal" "load $M_LOAD"
printf '%-44s %10s %10s\n' "curl through the gateway (5 scrapes)" "$M_GW" "< 500"
printf '%-44s %10s %10s\n' "dockline metrics, admin socket (baseline)" "$M_CLI" "< 500"
printf '%-44s %10s\n' "ratio gateway / admin" \
	"$(awk -v g="$M_GW" -v a="$M_CLI" 'BEGIN { if (a > 0) printf "%.2f", g / a }')"
printf '%-44s %10s   (%s containers with cpu series)\n' "text bytes" "$M_BYTES" "$M_CTRS"
echo
printf '%-44s %10s %10s\n' "memory" "MiB" "goal"
printf '%-44s %10s %10s\n' "gateway VmRSS right after start" "$(mib "$RSS_START")" "<= 10"
printf '%-44s %10s\n' "gateway VmRSS with 1,000 idle connections" "$(mib "$RSS_IDLE")"
printf '%-44s %10s\n' "gateway VmRSS after they closed" "$(mib "$RSS_AFTER")"
printf '%-44s %10s\n' "gateway VmHWM after the idle connections" "$(mib "$HWM_IDLE")"
printf '%-44s %10s\n' "gateway VmHWM after wrk + 5 /metrics (20k)" "$(mib "$HWM_GW")"
printf '%-44s %10s\n' "serve VmHWM after wrk + 5 /metrics (20k)" "$(mib "$HWM_SERVE")"
