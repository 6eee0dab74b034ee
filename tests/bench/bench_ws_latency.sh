#!/usr/bin/env bash
# bench_ws_latency.sh - Docker event -> WebSocket client, on real parts:
# dockerd -> agent -> private sshd -> attach -> serve -> COMMIT -> push ->
# dockline-collector http (as dlhttp) -> 100 WebSocket clients on
# /api/v1/events/stream (one python3 asyncio process, python3-websockets).
# Latency = the client's receive time - the event's own time_ns (dockerd's
# timeNano), both on this machine's clock. N events (default 200: pause
# and unpause of one labelled busybox container).
# Baseline in the same run, on the same events: bench_event_latency
# polling the admin socket every 2 ms (what bench_event_latency.sh and
# `dockline events` see).
#
#   bash tests/bench/bench_ws_latency.sh [N] [CLIENTS]
#
# Goal (reported, never asserted): p99 < 100 ms.
DL_TEST_NAME=bench_ws_latency
. "$(dirname "$0")/../integration/lib.sh"

N=${1:-200}
CLIENTS=${2:-100}
BENCH=${DL_BENCH_DIR:-$DL_BIN/../bench}/bench_event_latency
[ -x "$BENCH" ] || dl_fail "$BENCH is missing: build the bench_event_latency target"

dl_need_dockerd
dl_need_image
dl_need_user
dl_docker_lock_shared
dl_check_bins
HTTP_USER=dlhttp
(
	flock 8
	id "$HTTP_USER" >/dev/null 2>&1 || useradd --system --no-create-home -s /usr/sbin/nologin "$HTTP_USER"
) 8>"$DL_LOCK_DIR/dockline-test-user.lock"
ulimit -n "$(ulimit -Hn)" || true

dl_start_sshd
dl_start_collector
chgrp "$HTTP_USER" "$T/admin.sock"
chmod 660 "$T/admin.sock"
dl_enroll lat1
dl_start_agent lat1
dl_wait_for 'dl_host_online lat1' 30 "host lat1 online"
HTTP_PORT=$(dl_free_port)
cat >>"$T/collector.conf" <<EOF

[http]
listen = 127.0.0.1:$HTTP_PORT
user = $HTTP_USER
EOF
dl_spawn "$T/http.log" "$DL_BIN/dockline-collector" http -c "$T/collector.conf"
dl_wait_for "curl -s -o /dev/null http://127.0.0.1:$HTTP_PORT/" 10 "gateway listening"
TOKEN=$(dl_cli token create bench-ws --role read | grep -o 'dlt_[A-Za-z0-9_-]*' | head -n 1)
[ -n "$TOKEN" ] || dl_fail "dockline token create failed"
cid=$(dl_run_container latbench sleep 3600)
name=$(docker inspect --format '{{.Name}}' "$cid" | tr -d /)

cat >"$T/ws.py" <<'EOF'
import asyncio, json, sys, time
import websockets

url, token, prefix = sys.argv[1:4]
n, nclients, timeout = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
lat, counts, ready = [], [], []
per_event = {}  # seq -> [latencies]: first client = the path, spread = fan-out


async def client():
    got = 0
    try:
        async with websockets.connect(
            url, extra_headers={"Authorization": "Bearer " + token},
            max_queue=None, ping_interval=None, close_timeout=1) as ws:
            ready.append(1)
            if len(ready) == nclients:
                print("connected", nclients, flush=True)
            while got < n:
                msg = await ws.recv()
                now = time.time_ns()
                ev = json.loads(msg).get("event")
                if not ev or not (ev.get("name") or "").startswith(prefix):
                    continue
                lat.append(now - ev["time_ns"])
                per_event.setdefault(ev.get("seq"), []).append(now - ev["time_ns"])
                got += 1
    finally:
        counts.append(got)


async def main():
    tasks = [asyncio.ensure_future(client()) for _ in range(nclients)]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for t in pending:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


asyncio.run(main())
lat.sort()
k = len(lat)
full = sum(1 for c in counts if c >= n)
if k == 0:
    print("no events received", flush=True)
    sys.exit(1)
q = lambda p: lat[min(k - 1, k * p // 100)] / 1e6
print("%-34s %8d %8.1f %8.1f %8.1f %8.1f" % (
    "docker event -> %d WS clients" % nclients, k, q(50), q(90), q(99),
    lat[-1] / 1e6))
first = sorted(min(v) for v in per_event.values())
spread = sorted(max(v) - min(v) for v in per_event.values())
for label, v in (("  first client of each event", first),
                 ("  last - first client (fan-out)", spread)):
    m = len(v)
    print("%-34s %8d %8.1f %8.1f %8.1f %8.1f" % (
        label, m, v[m // 2] / 1e6, v[m * 9 // 10] / 1e6,
        v[min(m - 1, m * 99 // 100)] / 1e6, v[-1] / 1e6))
print("clients that got all %d events: %d of %d" % (n, full, nclients))
sys.exit(0 if full == nclients else 1)
EOF
: >"$T/ws.out"
dl_spawn "$T/ws.out" /usr/bin/python3 "$T/ws.py" \
	"ws://127.0.0.1:$HTTP_PORT/api/v1/events/stream?host=lat1" "$TOKEN" "$name" \
	"$N" "$CLIENTS" 180
WS_PID=$DL_LAST_PID
dl_wait_for "grep -q 'connected $CLIENTS' $T/ws.out" 60 "$CLIENTS WebSocket clients connected"
"$BENCH" "$T/admin.sock" lat1 "$name" "$N" 180 >"$T/lat.out" 2>&1 &
bpid=$!
sleep 1
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq $(((N + 1) / 2))); do
	docker pause "$cid" >/dev/null
	docker unpause "$cid" >/dev/null
done
wait "$bpid" || dl_log "bench_event_latency did not see $N events"
wait "$WS_PID" || dl_log "not every WebSocket client saw $N events"
echo
echo "load while generating: $LOAD"
head -n 1 "$T/lat.out"
sed -n 2p "$T/lat.out" | sed 's/^docker event -> admin query  /docker event -> admin (baseline)/'
grep -v '^connected\|^ok' "$T/ws.out"
echo "goal: p99 < 100 ms through the gateway"
