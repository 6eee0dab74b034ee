#!/usr/bin/env bash
# Alert conditions on real parts that test_alert_rules.sh does not reach,
# each delivered to a real webhook receiver (webhook_recv.py) with the
# body docs/ALERTS.md documents:
#   docker_down    the agent reaches dockerd through a socat proxy this
#                  test owns: killing the proxy is "Docker down" for the
#                  agent, starting it again is "up" (the shared dockerd is
#                  never stopped);
#   container_oom  a container with --memory 8m whose shell doubles a
#                  string until the kernel kills it (Docker's inspect says
#                  OOMKilled); resolved `window` later;
#   container_cpu  a busy loop above the threshold, resolved when the
#                  container stops.
# The rules live in a file collector.conf includes ($T/alerts.d/*.conf),
# scoped by label to this test's containers (dockerd is shared); a bad
# rule in that file refuses the start naming the file and line.
. "$(dirname "$0")/lib.sh"

dl_need_all

dl_spawn "$T/recv.log" /usr/bin/python3 "$DL_SRC/tests/integration/webhook_recv.py" "$T/recv.port" "$T/recv"
dl_wait_for "[ -s $T/recv.port ]" 10 "webhook receiver listening"

# The agent's view of dockerd: a proxy that is ours to kill.
start_proxy() {
	rm -f "$T/docker.sock"
	dl_spawn "$T/socat.log" socat "UNIX-LISTEN:$T/docker.sock,fork" UNIX-CONNECT:/var/run/docker.sock
	PROXY_PID=$DL_LAST_PID
	dl_wait_for "[ -S $T/docker.sock ]" 10 "docker socket proxy listening"
}
start_proxy

dl_start_sshd
dl_write_collector_conf
echo "include = $T/alerts.d/*.conf" >>"$T/collector.conf"
cat >>"$T/collector.conf" <<EOF

[notify hook]
kind = webhook
url = http://127.0.0.1:$(cat "$T/recv.port")/alerts
EOF
mkdir "$T/alerts.d"
# cpu: % of one CPU; low, because a busy loop on a loaded 2-core machine
# may get a small share of one
rules() {
	cat <<EOF
# live alert rules, scoped to this test's containers
[alert dockerdown]
condition = docker_down
hosts = lv1
severity = critical
notify = hook

[alert oom]
condition = container_oom
label = dockline.test=$T
window = 10s
notify = hook

[alert busy]
condition = container_cpu
label = dockline.test=$T
threshold = 5
for = 4s
notify = hook
EOF
}

# --- a bad rule in the included file refuses the start with file:line
serve_refused() { # ERE the log must match
	local rc=0
	timeout 20 "$DL_BIN/dockline-collector" serve -c "$T/collector.conf" >"$T/refused.log" 2>&1 || rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] || dl_fail "serve started (rc $rc) with a bad included rule"
	dl_assert_file_match "refused: $1" "$1" "$T/refused.log"
}
rules | sed 's/^threshold = 5$/treshold = 5/' >"$T/alerts.d/live.conf"
serve_refused "$T/alerts.d/live.conf:17: unknown setting alert busy.treshold"
{
	rules
	echo "window = 1m"
} >"$T/alerts.d/live.conf"
serve_refused "$T/alerts.d/live.conf:20: \[alert busy\] window does not apply to this condition"
rules >"$T/alerts.d/live.conf"
echo "[alert dockerdown]
condition = host_offline" >"$T/alerts.d/zz.conf"
serve_refused "$T/alerts.d/zz.conf:2: \[alert dockerdown\] is already defined at $T/alerts.d/live.conf:3"
rm "$T/alerts.d/zz.conf"
[ ! -S "$T/admin.sock" ] || dl_fail "a refused serve left its admin socket"

dl_start_collector
dl_assert_file_match "the included rules are loaded" 'alerts: 3 rule\(s\)' "$T/collector.log"
dl_enroll lv1
DL_STATS_INTERVAL=2 DL_DOCKER_SOCKET=$T/docker.sock dl_start_agent lv1
dl_wait_for 'dl_host_online lv1' 30 "host lv1 online"

# bodies RULE STATUS: the receiver's bodies of that rule and status
bodies() {
	{ cat "$T"/recv/req-*.body 2>/dev/null || true; } |
		jq -c --arg r "$1" --arg s "$2" 'select(.rule == $r and .status == $s)'
}
nbodies() { bodies "$1" "$2" | wc -l; }
field() { bodies "$1" "$2" | head -n 1 | jq -r "$3"; }
docker_up() { [ "$(dl_host_json lv1 | jq -r '.docker_up')" != false ]; }
run_ctr() { # NAME DOCKER-OPTS... -- CMD...
	local name=$1 opts=()
	shift
	while [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	docker run -d --label "dockline.test=$T" --name "dl-${T##*/}-$name" \
		"${opts[@]}" "$DL_IMAGE" "$@"
}

# --- docker_down: the proxy goes (with its forked connections), then back
dl_wait_for docker_up 30 "lv1 reports Docker up through the proxy"
# Under heavy load the agent's Docker requests can time out even through
# a live proxy (a real "down" to it): count from here, and at the end
# every firing must have its resolution.
before=$(nbodies dockerdown firing)
dl_kill_tree "$PROXY_PID"
dl_wait_for '[ "$(nbodies dockerdown firing)" -gt "$before" ]' 90 "docker_down firing delivered"
dl_assert_eq "docker_down body" '{"kind":"alert","host":"lv1","severity":"critical","container":null}' \
	"$(bodies dockerdown firing | head -n 1 | jq -c '{kind, host, severity, container}')"
dl_assert_match "docker_down summary" '^Docker on lv1 is down' "$(field dockerdown firing .summary)"
dl_assert_match "docker_down started_at" '^20[0-9-]+T[0-9:]+Z$' "$(field dockerdown firing .started_at)"
start_proxy
resolved_all() { # RULE: as many resolutions as firings, at least one
	local f
	f=$(nbodies "$1" firing)
	[ "$f" -ge 1 ] && [ "$(nbodies "$1" resolved)" = "$f" ]
}
dl_wait_for 'resolved_all dockerdown' 90 "docker_down resolution delivered"
dl_assert_match "docker_down resolved_at" '^20[0-9-]+T[0-9:]+Z$' "$(field dockerdown resolved .resolved_at)"
dl_wait_for docker_up 30 "lv1 reports Docker up again"

# --- container_cpu: a busy loop, then the container stops
name="dl-${T##*/}-busy"
run_ctr busy -- sh -c 'while :; do :; done' >/dev/null
dl_wait_for '[ "$(nbodies busy firing)" -ge 1 ]' 90 "busy firing delivered"
dl_assert_eq "busy body" "{\"kind\":\"alert\",\"host\":\"lv1\",\"container\":\"$name\",\"severity\":\"warning\",\"test_label\":\"$T\"}" \
	"$(bodies busy firing | head -n 1 | jq -c '{kind, host, container, severity, test_label: .labels["dockline.test"]}')"
dl_assert_eq "busy value above the threshold" true "$(field busy firing '.value > 5')"
dl_assert_match "busy summary" "^lv1/$name CPU [0-9.]+% \\(above 5% for 4s\\)" "$(field busy firing .summary)"
docker stop -t 1 "$name" >/dev/null
dl_wait_for 'resolved_all busy' 60 "busy resolution delivered once it stopped"

# --- container_oom: 8 MiB and a string that doubles
name="dl-${T##*/}-oom"
# The sleep first: containerd (likely) watches a cgroup v1 OOM through an
# eventfd it registers after the start; a kill before that reads as a
# plain SIGKILL (exit 137, OOMKilled false: seen in 2 of 7 runs here).
run_ctr oom --memory 8m --memory-swap 8m -- sh -c 'sleep 3; x=0123456789; while :; do x=$x$x; done' >/dev/null
dl_wait_for "[ \"\$(docker inspect -f '{{.State.Status}}' $name)\" = exited ]" 60 "the oom container is killed"
dl_assert_eq "exit code of a SIGKILL" 137 "$(docker inspect -f '{{.State.ExitCode}}' "$name")"
# dockerd handles the task's OOM event apart from its exit, so under load
# OOMKilled may turn true a moment later
dl_wait_for "[ \"\$(docker inspect -f '{{.State.OOMKilled}}' $name)\" = true ]" 30 "Docker says OOMKilled"
dl_wait_for '[ "$(nbodies oom firing)" -ge 1 ]' 60 "oom firing delivered"
dl_assert_eq "oom body" "{\"kind\":\"alert\",\"host\":\"lv1\",\"container\":\"$name\",\"test_label\":\"$T\"}" \
	"$(bodies oom firing | head -n 1 | jq -c '{kind, host, container, test_label: .labels["dockline.test"]}')"
dl_assert_eq "oom summary" "lv1/$name ran out of memory (OOM kill)" "$(field oom firing .summary)"
dl_wait_for '[ "$(nbodies oom resolved)" -ge 1 ]' 60 "oom resolution delivered (window 10s)"
dl_assert_match "webhook POSTs JSON" '^Content-Type: application/json' "$(cat "$T"/recv/req-1.headers)"

# other tests' containers never reached these rules
dl_assert_eq "only this test's containers alerted" 0 \
	"$(cat "$T"/recv/req-*.body | jq -s --arg p "dl-${T##*/}-" '[.[] | select(.container != null and (.container | startswith($p) | not))] | length')"
dl_ok "docker_down, container_oom and container_cpu delivered live"
