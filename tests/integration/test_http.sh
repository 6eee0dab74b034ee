#!/usr/bin/env bash
# The HTTP/WebSocket gateway end to end: curl -> dockline-collector http
# (unprivileged user dlhttp) -> admin socket -> serve -> agent -> dockerd.
# Start: refused as root without its user and as any other non-root user.
# Queries (one container with its stats, ps filters, host history, events
# filters), control with roles (read 403 forbidden + audited as refused,
# operate allowed), NDJSON logs/exec, the error mapping with codes,
# limits (header, body), tokens (host scope, wrong, cookie, revoked),
# kill -9 of the gateway leaving serve answering the CLI, the WebSocket
# event stream, TLS (https with the CA, plain http refused, non-loopback
# plain HTTP only with tls = off), a slowloris closed by header_timeout,
# 1,000 idle connections (served below max_connections, 503 busy above,
# RSS bounded).
. "$(dirname "$0")/lib.sh"

dl_need_packages
dl_need_dockerd
dl_need_image
dl_need_user
dl_need_http_user
dl_check_bins
dl_docker_lock_shared

export DL_STATS_INTERVAL=1
HTTP_PORT=$(dl_free_port)
URL=http://127.0.0.1:$HTTP_PORT
dl_write_collector_conf
cp "$T/collector.conf" "$T/collector.conf.base"
dl_http_section "127.0.0.1:$HTTP_PORT" "body_max = 65536" "header_max = 4096" \
	"client_buffer = 1048576" "header_timeout = 3" >>"$T/collector.conf"
dl_start_sshd
dl_start_collector
dl_http_socket_access
dl_enroll web1
dl_start_agent web1
dl_wait_for 'dl_host_online web1' 30 "host web1 online"
pfx="dl-${T##*/}"
app=$(dl_run_container app sh -c 'echo out-1; echo err-1 >&2; i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.3; done')
done_id=$(dl_run_container done true)
dl_wait_for "[ \"\$(dl_ps_field $app state)\" = running ]" 20 "app in ps"
dl_wait_for "[ \"\$(dl_ps_field $done_id state --all)\" = exited ]" 20 "done exited in ps"

# ---- start: only ever as [http] user
sed "s/^user = $DL_HTTP_USER\$/user = dl-no-such-user/" "$T/collector.conf" >"$T/nouser.conf"
rc=0
out=$("$DL_BIN/dockline-collector" http -c "$T/nouser.conf" 2>&1) || rc=$?
dl_assert_eq "as root without its user: refused" 1 "$rc"
dl_assert_match "with a sentence" 'refusing to run as root: the \[http\] user dl-no-such-user does not exist' "$out"
# Another unprivileged user (here the agents' ssh user) would pass its
# own rights on to every HTTP client: serve asks only [http] user for
# tokens.
rc=0
out=$(runuser -u "$DL_USER" -- "$DL_BIN/dockline-collector" http -c "$T/collector.conf" 2>&1) || rc=$?
dl_assert_eq "as $DL_USER (not [http] user): refused" 1 "$rc"
dl_assert_match "with a sentence" "refusing to run as uid $(id -u "$DL_USER"): the gateway runs as the \[http\] user $DL_HTTP_USER" "$out"
dl_assert_no_match "refused before binding" "listening on" "$out"

start_gateway() {
	dl_start_gateway "$T/collector.conf" "$T/http.log" "$URL"
	HTTP_PID=$DL_HTTP_PID
}
start_gateway
dl_assert_eq "gateway started as root runs as $DL_HTTP_USER" "$DL_HTTP_USER" "$(ps -o user= -p "$HTTP_PID")"

# Tokens, one per role, and one limited to hosts that are not web1.
secret() { # NAME ARGS...: prints the new token's secret
	local name=$1 o
	shift
	o=$(dl_cli token create "$name" "$@") || dl_fail "token create $name: $o"
	grep -oE '^dlt_[A-Za-z0-9_-]{43}$' <<<"$o" || dl_fail "no secret in: $o"
}
TOKEN=$(secret http-admin --role admin)
RO=$(secret http-ro --role read)
OPS=$(secret http-ops --role operate)
ELSEWHERE=$(secret http-elsewhere --role admin --hosts 'zz-*')
# api METHOD PATH [curl args]: body in $body, status in $code; the token
# is $TOKEN unless tok=SECRET is set for the call.
api() {
	local m=$1 p=$2
	shift 2
	code=$(curl -s -o "$T/body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer ${tok:-$TOKEN}" "$@" "$URL$p") || true
	body=$(cat "$T/body")
}

# ---- queries
api GET /api/v1/hosts
dl_assert_eq "GET hosts" 200 "$code"
dl_assert_eq "hosts lists web1" web1 "$(jq -r '.[] | select(.name == "web1") | .name' <<<"$body")"
api GET /api/v1/hosts/web1
dl_assert_eq "GET hosts/web1" 200 "$code"
dl_assert_eq "one host object" web1 "$(jq -r .name <<<"$body")"
api GET /api/v1/hosts/web1/containers
dl_assert_eq "GET hosts/web1/containers" 200 "$code"
dl_assert_match "app listed" "$pfx-app" "$body"
api GET "/api/v1/containers?host=web1&all=1"
dl_assert_eq "GET containers?host&all" 200 "$code"
dl_assert_match "app listed" "$pfx-app" "$body"
api GET "/api/v1/hosts/web1/containers/$pfx-app"
dl_assert_eq "GET one container" 200 "$code"
dl_assert_eq "its ps row" "$app running" "$(jq -r '"\(.id) \(.state)"' <<<"$body")"
dl_wait_for "api GET /api/v1/hosts/web1/containers/$pfx-app; jq -e '.stats.mem_bytes > 0' <<<\"\$body\"" 20 \
	"GET one container carries its last stats sample"
api GET /api/v1/hosts/nope
dl_assert_eq "GET unknown host" 404 "$code"
dl_assert_eq "unknown host code" not_found "$(jq -r .code <<<"$body")"
api GET /api/v1/hosts/web1/containers/nope
dl_assert_eq "GET unknown container" 404 "$code"
dl_assert_eq "unknown container code" not_found "$(jq -r .code <<<"$body")"
# ps filters: state and a name glob
api GET "/api/v1/containers?state=exited&name=$pfx-*"
dl_assert_eq "GET containers?state=exited&name=glob" 200 "$code"
dl_assert_eq "only the exited test container" "$pfx-done" "$(jq -r '.[].name' <<<"$body")"
api GET "/api/v1/containers?state=running&name=$pfx-d*"
dl_assert_eq "running and matching $pfx-d*: none" "[]" "$(jq -c . <<<"$body")"
api GET "/api/v1/containers?state=running&name=$pfx-a?p"
dl_assert_eq "? matches one character" "$pfx-app" "$(jq -r '.[].name' <<<"$body")"
api GET "/api/v1/events?since=1h&host=web1"
dl_assert_eq "GET events" 200 "$code"
dl_assert_match "events hold the app's start" "\"action\":\"start\"" "$body"
api GET "/api/v1/stats?host=web1"
dl_assert_eq "GET stats" 200 "$code"
api GET "/api/v1/hosts/web1/containers/$pfx-app/history?since=10m&points=10"
dl_assert_eq "GET history" 200 "$code"
# (a host's first sample has no CPU delta yet: cpu_percent null)
dl_wait_for "api GET '/api/v1/hosts/web1/history?since=1h&points=60'; jq -e 'any(.[]; (.cpu_percent | type) == \"number\")' <<<\"\$body\"" 30 \
	"GET host history has a row with cpu_percent"
# (dl_wait_for runs its condition in a subshell: ask again for $body)
api GET "/api/v1/hosts/web1/history?since=1h&points=60"
dl_assert_eq "host history: 200" 200 "$code"
dl_assert_eq "host rows with cpu_percent carry mem_used_bytes, mem_total_bytes, load1" true \
	"$(jq '[.[] | select((.cpu_percent | type) == "number")] | all(.[]; (.mem_used_bytes | type) == "number" and (.mem_total_bytes | type) == "number" and (.load1 | type) == "number")' <<<"$body")"
dl_assert_eq "host rows are not container rows" 0 "$(jq '[.[] | select(has("mem_bytes") or has("name"))] | length' <<<"$body")"
dl_assert_eq "at most points=60 rows" true "$(jq 'length <= 60' <<<"$body")"
api GET "/api/v1/audit?since=1h"
dl_assert_eq "GET audit" 200 "$code"

# ---- control
api POST "/api/v1/hosts/web1/containers/$pfx-app/inspect" -d '{}'
dl_assert_eq "POST inspect" 200 "$code"
dl_assert_eq "inspect Id" "$app" "$(jq -r .Id <<<"$body")"
api GET /api/v1/hosts/web1/version
dl_assert_eq "GET host version" 200 "$code"
dl_assert_match "docker version" '"ApiVersion"' "$body"
api GET "/api/v1/hosts/web1/containers/$pfx-app/logs?tail=100"
dl_assert_eq "GET logs" 200 "$code"
dl_assert_match "logs: stdout line" '^\{"stream":"stdout","data":"out-1\\n' "$body"
dl_assert_match "logs: stderr line" '^\{"stream":"stderr","data":"err-1\\n' "$body"
dl_assert_match "logs: final line" '^\{"status":"ok","exit_code":0\}$' "$(tail -n 1 <<<"$body")"
# follow: the client goes away after 2 s, the gateway closes the call
rc=0
timeout 2 curl -sN -H "Authorization: Bearer $TOKEN" "$URL/api/v1/hosts/web1/containers/$pfx-app/logs?follow=1&tail=1" >"$T/follow" || rc=$?
dl_assert_match "logs -f streams ticks" 'tick-[0-9]+' "$(cat "$T/follow")"
dl_wait_for "grep -q 'logs?\\?.* 200\\|/logs 200' $T/http.log" 10 "follow logged at close"
api POST "/api/v1/hosts/web1/containers/$pfx-app/exec" -d '{"cmd":["sh","-c","echo hi; exit 3"]}'
dl_assert_eq "POST exec answers (refused by the default policy)" 403 "$code"
dl_assert_match "refused has a sentence" '"code":"refused"' "$body"
# roles: read may not stop (403 forbidden, audited as refused), operate may
tok=$RO api POST "/api/v1/hosts/web1/containers/$pfx-app/stop" -d '{"t":1}'
dl_assert_eq "POST stop with a read token" 403 "$code"
dl_assert_eq "read token: code forbidden" forbidden "$(jq -r .code <<<"$body")"
dl_assert_eq "docker sees it still running" running "$(docker inspect -f '{{.State.Status}}' "$app")"
api GET "/api/v1/audit?since=1h"
row=$(jq -c '[.[] | select(.op == "stop" and .status == "refused")] | last' <<<"$body")
dl_assert_eq "refusal audited with user token:http-ro" token:http-ro "$(jq -r .user <<<"$row")"
dl_assert_eq "refusal audited against the container" "$pfx-app" "$(jq -r .target <<<"$row")"
tok=$OPS api POST "/api/v1/hosts/web1/containers/$pfx-app/stop" -d '{"t":1}'
dl_assert_eq "POST stop with an operate token" 200 "$code"
dl_assert_eq "docker sees it stopped" exited "$(docker inspect -f '{{.State.Status}}' "$app")"
api GET "/api/v1/audit?since=1h"
dl_assert_eq "stop audited ok with user token:http-ops" token:http-ops \
	"$(jq -r '[.[] | select(.op == "stop" and .status == "ok")] | last | .user' <<<"$body")"
dl_wait_for "api GET '/api/v1/events?since=1h&type=container&action=stop'; jq -e --arg id $app 'any(.[]; .id == \$id)' <<<\"\$body\"" 20 \
	"GET events?type=container&action=stop lists the stop"
api GET "/api/v1/events?since=1h&type=container&action=stop"
dl_assert_eq "events filtered: only container stops" '["container stop"]' \
	"$(jq -c '[.[] | "\(.type) \(.action)"] | unique' <<<"$body")"
api POST "/api/v1/hosts/web1/containers/$pfx-app/start"
dl_assert_eq "POST start (no body)" 200 "$code"

# ---- host labels: admin only, checked, shown in GET hosts
tok=$OPS api POST /api/v1/hosts/web1/labels -d '{"set":{"role":"web"}}'
dl_assert_eq "labels with an operate token: 403" 403 "$code"
api POST /api/v1/hosts/web1/labels -d '{"set":{"role":"web","zone":"a"}}'
dl_assert_eq "POST labels" 200 "$code"
dl_assert_eq "answer: the labels" '{"role":"web","zone":"a"}' "$(jq -c .labels <<<"$body")"
api POST /api/v1/hosts/web1/labels -d '{"remove":["zone"]}'
dl_assert_eq "remove: the rest" '{"role":"web"}' "$(jq -c .labels <<<"$body")"
api POST /api/v1/hosts/web1/labels -d '{"set":{"bad key":"x"}}'
dl_assert_eq "a bad key: 400" 400 "$code"
dl_assert_match "names the key" 'label key .{1,2}bad key' "$body"
api POST /api/v1/hosts/nosuch/labels -d '{"set":{"a":"b"}}'
dl_assert_eq "an unknown host: 404" 404 "$code"
api GET /api/v1/hosts/web1
dl_assert_eq "GET hosts/web1 has the labels" web "$(jq -r .labels.role <<<"$body")"

# ---- deploy routes: admin only, then the host's policy (web1: default)
tok=$OPS api POST /api/v1/hosts/web1/run -d "{\"image\":\"$DL_IMAGE\",\"name\":\"$pfx-dep\"}"
dl_assert_eq "run with an operate token: 403" 403 "$code"
dl_assert_eq "forbidden" forbidden "$(jq -r .code <<<"$body")"
api POST /api/v1/hosts/web1/run -d "{\"image\":\"$DL_IMAGE\",\"name\":\"$pfx-dep\"}"
dl_assert_eq "run with admin on a host without deploy: 403" 403 "$code"
dl_assert_eq "refused by the host" refused "$(jq -r .code <<<"$body")"
docker inspect "$pfx-dep" >/dev/null 2>&1 && dl_fail "a refused run created a container"
api POST /api/v1/hosts/web1/pull -d '{"image":"a//b"}'
dl_assert_eq "pull of a bad image: 400" 400 "$code"
api POST "/api/v1/hosts/web1/containers/$pfx-app/update" -d '{}'
dl_assert_eq "update without a change: 400" 400 "$code"

# ---- errors
api GET /api/v1/nothing
dl_assert_eq "unknown route" 404 "$code"
dl_assert_eq "404 is JSON" not_found "$(jq -r .code <<<"$body")"
api GET "/api/v1/hosts/../../../etc/passwd" --path-as-is
dl_assert_eq ".. is resolved before routing, never reaches a file" "404 not_found" "$code $(jq -r .code <<<"$body")"
api GET "/api/v1/events?nope=1"
dl_assert_eq "unknown query parameter" 400 "$code"
api PUT /api/v1/hosts
dl_assert_eq "wrong method" 405 "$code"
api POST "/api/v1/hosts/web1/containers/$pfx-app/stop" -d '{not json'
dl_assert_eq "invalid JSON body" 400 "$code"
head -c 100000 /dev/zero | tr '\0' x >"$T/big"
api POST "/api/v1/hosts/web1/containers/$pfx-app/stop" --data-binary @"$T/big"
dl_assert_eq "oversized body" 413 "$code"
api GET /api/v1/hosts -H "X-Big: $(head -c 8000 /dev/zero | tr '\0' x)"
dl_assert_eq "oversized header: lws closes the connection (curl: 000)" 000 "$code"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/api/v1/hosts")
dl_assert_eq "missing token" 401 "$code"
dl_assert_eq "missing token code" unauthorized "$(jq -r .code "$T/body")"
api GET "/api/v1/hosts/web1/containers/$pfx-app/logs?tail=1" -H "X-Other: 1"
dl_assert_no_match "the access log never holds a token" "$TOKEN" "$(cat "$T/http.log")"
dl_assert_file_match "one access line per request" 'GET /api/v1/hosts 200 [0-9]+ms' "$T/http.log"

# ---- the gateway dying does not hurt serve
kill -9 "$HTTP_PID"
dl_assert_match "serve still answers the CLI after kill -9 of the gateway" web1 "$(dl_cli hosts)"
start_gateway

# ---- PUSH: a docker stop arrives over the WebSocket
cat >"$T/ws.py" <<'EOF2'
import asyncio, json, sys
import websockets
async def main(url, token, name):
    async with websockets.connect(url, extra_headers={"Authorization": "Bearer " + token}) as ws:
        print("connected", flush=True)
        async for msg in ws:
            m = json.loads(msg)
            ev = m.get("event") or {}
            if ev.get("action") == "stop" and name in (ev.get("name") or ""):
                print("GOT stop", flush=True)
                return
asyncio.run(asyncio.wait_for(main(*sys.argv[1:4]), 30))
EOF2
: >"$T/ws.out"
dl_spawn "$T/ws.out" /usr/bin/python3 "$T/ws.py" "ws://127.0.0.1:$HTTP_PORT/api/v1/events/stream?host=web1" "$TOKEN" "$pfx-app"
dl_wait_for "grep -q connected $T/ws.out" 10 "WebSocket connected"
sleep 1
docker stop -t 1 "$app" >/dev/null
dl_wait_for "grep -q 'GOT stop' $T/ws.out" 20 "PUSH: the docker stop event arrived over the WebSocket"

# ---- tokens: host scope, wrong, cookie, revoked
tok=$ELSEWHERE api GET /api/v1/hosts/web1
dl_assert_eq "token for zz-* cannot see web1" 404 "$code"
dl_assert_eq "hidden host: code not_found" not_found "$(jq -r .code <<<"$body")"
tok=$ELSEWHERE api GET /api/v1/hosts
dl_assert_eq "token for zz-*: no hosts" "[]" "$(jq -c . <<<"$body")"
tok=$ELSEWHERE api GET "/api/v1/hosts/web1/containers/$pfx-app"
dl_assert_eq "token for zz-*: web1's container hidden" 404 "$code"
tok=dlt_wrongwrongwrongwrongwrongwrongwrongwrongwro api GET /api/v1/hosts
dl_assert_eq "wrong token" 401 "$code"
dl_assert_eq "wrong token code" unauthorized "$(jq -r .code <<<"$body")"
code=$(curl -s -o "$T/body" -w '%{http_code}' --cookie "dl_token=$TOKEN" "$URL/api/v1/hosts")
dl_assert_eq "token in the dl_token cookie" 200 "$code"
tok=$RO api GET /api/v1/hosts
dl_assert_eq "read token before revoke" 200 "$code"
dl_assert_eq "revoke" "token http-ro revoked" "$(dl_cli token revoke http-ro)"
tok=$RO api GET /api/v1/hosts
dl_assert_eq "revoked token" 401 "$code"
dl_assert_eq "revoked token code" unauthorized "$(jq -r .code <<<"$body")"

# ---- TLS: a second gateway with a self-signed certificate for 127.0.0.1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$T/tls.key" -out "$T/tls.crt" 2>/dev/null
chmod 600 "$T/tls.key" # root's: read before the gateway drops to dlhttp
TLS_PORT=$(dl_free_port)
{
	cat "$T/collector.conf.base"
	dl_http_section "127.0.0.1:$TLS_PORT" "tls_cert = $T/tls.crt" "tls_key = $T/tls.key"
} >"$T/tls.conf"
dl_start_gateway "$T/tls.conf" "$T/http-tls.log" "https://127.0.0.1:$TLS_PORT"
dl_assert_eq "TLS gateway runs as $DL_HTTP_USER" "$DL_HTTP_USER" "$(ps -o user= -p "$DL_HTTP_PID")"
code=$(curl -s --cacert "$T/tls.crt" -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
	"https://127.0.0.1:$TLS_PORT/api/v1/hosts") || true
dl_assert_eq "https with --cacert" 200 "$code"
dl_assert_eq "https: hosts lists web1" web1 "$(jq -r '.[].name' "$T/body")"
rc=0
curl -s -o /dev/null "https://127.0.0.1:$TLS_PORT/api/v1/hosts" || rc=$?
dl_assert_eq "https without the CA: curl cannot verify (exit 60)" 60 "$rc"
rc=0
code=$(curl -s -m 20 -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
	"http://127.0.0.1:$TLS_PORT/api/v1/hosts") || rc=$?
dl_log "plain http to the TLS port: curl exit $rc, status $code"
dl_assert_no_match "plain http to the TLS port gets no answer" '^[1-5][0-9][0-9]$' "$code"
dl_assert_eq "the TLS gateway logged no plain request" "" "$(grep -F 'GET /api/v1/hosts' "$T/http-tls.log" | grep -v ' 200 ' || true)"
dl_kill_tree "$DL_HTTP_PID"

# Off loopback: plain HTTP only when `tls = off` is written.
WIDE_PORT=$(dl_free_port)
{ cat "$T/collector.conf.base"; dl_http_section "0.0.0.0:$WIDE_PORT"; } >"$T/wide.conf"
rc=0
out=$("$DL_BIN/dockline-collector" http -c "$T/wide.conf" 2>&1) || rc=$?
dl_assert_eq "listen 0.0.0.0 without TLS: refused" 1 "$rc"
dl_assert_match "with a sentence" 'listen = 0.0.0.0 is not loopback and there is no tls_cert: set tls_cert/tls_key, or write tls = off' "$out"
echo "tls = off" >>"$T/wide.conf"
# started as dlhttp itself this time (the unit file's User=)
dl_start_gateway "$T/wide.conf" "$T/http-wide.log" "http://127.0.0.1:$WIDE_PORT" runuser -u "$DL_HTTP_USER" --
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$WIDE_PORT/api/v1/hosts") || true
dl_assert_eq "listen 0.0.0.0 with tls = off written, started as $DL_HTTP_USER: serves" 200 "$code"
dl_kill_tree "$DL_HTTP_PID"

# ---- bad input at scale
# A slowloris: one header byte a second. header_timeout (3 s here) ends
# it; meanwhile everyone else is served.
cat >"$T/slow.py" <<'EOF2'
# slow.py PORT: sends a request head one byte a second; prints how it
# ended: closed by the server, answered, or never closed.
import select, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
head = b"GET /api/v1/hosts HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 120
t0 = time.monotonic()
for i, b in enumerate(head):
    try:
        s.send(bytes([b]))
    except OSError as e:
        print("closed after %d bytes, %.0f s (%s)" % (i, time.monotonic() - t0, e.strerror), flush=True)
        sys.exit(0)
    print("sent %d" % (i + 1), flush=True)
    r, _, _ = select.select([s], [], [], 1.0)
    if r:
        try:
            d = s.recv(4096)
        except OSError:
            d = b""
        if not d:
            print("closed after %d bytes, %.0f s" % (i + 1, time.monotonic() - t0), flush=True)
            sys.exit(0)
        print("answered: %r" % d[:80], flush=True)
        sys.exit(1)
print("not closed after %d bytes" % len(head), flush=True)
sys.exit(1)
EOF2
: >"$T/slow.out"
dl_spawn "$T/slow.out" /usr/bin/python3 "$T/slow.py" "$HTTP_PORT"
dl_wait_for "grep -q '^sent 2$' $T/slow.out" 20 "slowloris sending"
api GET /api/v1/hosts
dl_assert_eq "served while a slowloris holds a connection" 200 "$code"
dl_wait_for "grep -Eq '^(closed|answered|not closed)' $T/slow.out" 200 "slowloris ended"
dl_assert_match "slowloris closed by the gateway before its head was complete" '^closed after' "$(tail -n 1 "$T/slow.out")"
dl_log "slowloris: $(tail -n 1 "$T/slow.out")"

# 1,000 idle TCP connections (never a byte). With max_connections above
# that they wait (header_timeout 60 s here) and a request still gets
# through; with max_connections = 200 the rest are answered 503 busy at
# once, the request included, and served again once they are gone.
cat >"$T/idle.py" <<'EOF2'
# idle.py PORT N: opens N TCP connections that never send a byte, says
# so, and holds them until killed.
import resource, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 64, max(hard, n + 64)))
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
print("open %d" % len(socks), flush=True)
time.sleep(3600)
EOF2
idle_case() { # MAX_CONNECTIONS: the gateway's pid in $DL_HTTP_PID
	local port
	port=$(dl_free_port)
	IDLE_URL=http://127.0.0.1:$port
	{
		cat "$T/collector.conf.base"
		dl_http_section "127.0.0.1:$port" "header_timeout = 60" "max_connections = $1"
	} >"$T/idle-$1.conf"
	dl_start_gateway "$T/idle-$1.conf" "$T/http-idle-$1.log" "$IDLE_URL"
	dl_log "gateway RSS before: $(dl_rss_kib "$DL_HTTP_PID") KiB"
	: >"$T/idle-$1.out"
	dl_spawn "$T/idle-$1.out" /usr/bin/python3 "$T/idle.py" "$port" 1000
	IDLE_PID=$DL_LAST_PID
	dl_wait_for "grep -q '^open 1000$' $T/idle-$1.out" 60 "1000 idle connections open (max_connections $1)"
	code=$(curl -s -m 60 -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$IDLE_URL/api/v1/hosts") || true
	body=$(cat "$T/body")
	rss=$(dl_rss_kib "$DL_HTTP_PID")
	dl_log "gateway RSS with 1000 idle connections (max_connections $1): $rss KiB"
	dl_assert_eq "gateway RSS under 64 MiB" true "$([ "$rss" -lt 65536 ] && echo true || echo "$rss KiB")"
}
idle_case 1024
dl_assert_eq "1000 idle connections, max_connections 1024: a request is served" 200 "$code"
dl_assert_eq "served: web1" web1 "$(jq -r '.[].name' <<<"$body")"
dl_kill_tree "$IDLE_PID"
dl_kill_tree "$DL_HTTP_PID"
idle_case 200
dl_assert_eq "1000 idle connections, max_connections 200: refused" 503 "$code"
dl_assert_eq "refused with code busy" busy "$(jq -r .code <<<"$body")"
dl_assert_file_match "the refusal is logged" 'max_connections 200: refusing' "$T/http-idle-200.log"
dl_kill_tree "$IDLE_PID"
dl_wait_for "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $TOKEN' $IDLE_URL/api/v1/hosts)\" = 200 ]" 30 \
	"served again once the idle connections are gone (none left counted)"
dl_kill_tree "$DL_HTTP_PID"
