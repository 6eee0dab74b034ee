#!/usr/bin/env bash
# Alert rules against real parts: a container whose HEALTHCHECK fails
# fires container_unhealthy and resolves once it passes; a --restart
# always container that exits at once fires restart_loop; a silenced
# container's alert is recorded but sends nothing; killing the agent
# fires host_offline after `for` and reconnecting resolves it; a
# collector restart keeps the history and repeats no message. serve logs
# every message ("alert firing: {...}") and sends the sick rule's to a
# real webhook receiver (tests/integration/webhook_recv.py).
. "$(dirname "$0")/lib.sh"

dl_need_all

dl_spawn "$T/recv.log" /usr/bin/python3 "$DL_SRC/tests/integration/webhook_recv.py" "$T/recv.port" "$T/recv"
dl_wait_for "[ -s $T/recv.port ]" 10 "webhook receiver listening"
dl_start_sshd
dl_write_collector_conf
# Scoped to this test's containers: dockerd is shared with other tests.
cat >>"$T/collector.conf" <<EOF

[notify hook]
kind = webhook
url = http://127.0.0.1:$(cat "$T/recv.port")/alerts

[alert sick]
condition = container_unhealthy
containers = dl-${T##*/}-*
for = 3s
severity = critical
notify = hook

[alert loop]
condition = restart_loop
containers = dl-${T##*/}-*
count = 3
window = 2m

[alert off]
condition = host_offline
hosts = al*
for = 5s
EOF
dl_start_collector
dl_enroll al1
dl_start_agent al1
dl_wait_for 'dl_host_online al1' 30 "host al1 online"

# alerts of RULE as JSON lines; the state of the first whose container
# matches the ERE; how many messages of STATUS for RULE serve logged
alerts_of() { dl_cli alerts --all --json | jq -c --arg r "$1" '.[] | select(.rule == $r)'; }
state_of() { alerts_of "$1" | jq -r --arg c "$2" 'select((.container // "") | test($c)) | .state' | head -n 1; }
logged() { grep -c "alert $1: .*\"rule\":\"$2\"" "$T/collector.log" || true; }

# run_ctr NAME DOCKER-OPTS... -- CMD...: like dl_run_container, with
# options before the image (labelled, so the EXIT trap removes it)
run_ctr() {
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

# --- container_unhealthy: fails until /tmp/ok exists
sick=$(run_ctr sick --health-cmd 'test -f /tmp/ok' --health-interval 1s \
	--health-retries 1 -- sleep 3600)
name="dl-${T##*/}-sick"
t0=$(date +%s)
dl_wait_for "[ \"\$(state_of sick $name)\" = firing ]" 30 "sick fires for $name"
dl_log "fired after $(($(date +%s) - t0)) s (for = 3s)"
dl_assert_eq "one firing message for sick" 1 "$(logged firing sick)"
msg=$(grep -m1 'alert firing: .*"rule":"sick"' "$T/collector.log" |
	sed 's/^.*alert firing: //; s/ ([0-9]* channel(s))$//')
dl_assert_eq "message kind" alert "$(jq -r .kind <<<"$msg")"
dl_assert_eq "message host" al1 "$(jq -r .host <<<"$msg")"
dl_assert_eq "message container" "$name" "$(jq -r .container <<<"$msg")"
dl_assert_eq "message severity" critical "$(jq -r .severity <<<"$msg")"
dl_assert_match "message started_at" '^20[0-9-]+T[0-9:]+Z$' "$(jq -r .started_at <<<"$msg")"
dl_assert_match "text output" "sick +critical +al1/$name +firing" "$(dl_cli alerts)"
docker exec "$sick" sh -c ': >/tmp/ok'
dl_wait_for "[ \"\$(state_of sick $name)\" = resolved ]" 30 "sick resolves once healthy"
dl_assert_eq "one resolved message for sick" 1 "$(logged resolved sick)"
# the receiver got both, as docs/ALERTS.md documents the body
dl_wait_for "[ \$(cat $T/recv/req-*.body 2>/dev/null | jq -s 'length') -ge 2 ]" 20 "webhook got firing and resolved"
got=$(cat "$T"/recv/req-*.body | jq -s -c 'sort_by(.status) | map({kind, status, rule, severity, host, container})')
dl_assert_eq "webhook bodies" \
	"[{\"kind\":\"alert\",\"status\":\"firing\",\"rule\":\"sick\",\"severity\":\"critical\",\"host\":\"al1\",\"container\":\"$name\"},{\"kind\":\"alert\",\"status\":\"resolved\",\"rule\":\"sick\",\"severity\":\"critical\",\"host\":\"al1\",\"container\":\"$name\"}]" \
	"$got"
dl_assert_match "webhook POSTs JSON" '^Content-Type: application/json' "$(cat "$T"/recv/req-1.headers)"
dl_assert_eq "nothing firing" "no alerts firing" "$(dl_cli alerts)"

# --- a silence: the alert is recorded, nothing is sent
sid=$(dl_cli silence "al1/dl-${T##*/}-quiet" --for 1h --rule sick --comment "integration test" |
	sed -n 's/^silence \([0-9]*\):.*/\1/p')
dl_assert_match "silence id" '^[0-9]+$' "$sid"
dl_assert_match "silence list" "integration test" "$(dl_cli silence list)"
run_ctr quiet --health-cmd 'exit 1' --health-interval 1s --health-retries 1 -- sleep 3600 >/dev/null
dl_wait_for "[ \"\$(state_of sick dl-.*-quiet)\" = firing ]" 30 "silenced alert still fires"
dl_assert_eq "silenced in the list" true \
	"$(alerts_of sick | jq -r 'select(.container | test("quiet")) | .silenced')"
sleep 2
dl_assert_eq "still only the first firing message" 1 "$(logged firing sick)"
dl_cli silence rm "$sid" >/dev/null
dl_assert_eq "no silences left" "no active silences" "$(dl_cli silence list)"

# --- restart_loop: exits at once, Docker restarts it
run_ctr loop --restart always -- sh -c 'exit 3' >/dev/null
dl_wait_for "[ \"\$(state_of loop dl-.*-loop)\" = firing ]" 60 "restart_loop fires"
dl_assert_eq "one firing message for loop" 1 "$(logged firing loop)"
docker rm -f "dl-${T##*/}-loop" >/dev/null || true

# --- host_offline: kill the agent, then bring it back
kill -9 "$DL_AGENT_PID_al1"
dl_wait_for '[ "$(dl_host_online al1 && echo y)" != y ]' 90 "al1 offline"
t0=$(date +%s)
dl_wait_for "[ \"\$(state_of off '')\" = firing ]" 30 "host_offline fires"
dl_log "host_offline fired $(($(date +%s) - t0)) s after the session ended (for = 5s)"
dl_assert_eq "one firing message for off" 1 "$(logged firing off)"
dl_start_agent al1
dl_wait_for 'dl_host_online al1' 60 "host al1 back"
dl_wait_for "[ \"\$(state_of off '')\" = resolved ]" 20 "host_offline resolves"
dl_assert_eq "one resolved message for off" 1 "$(logged resolved off)"

# --- a collector restart keeps the history and repeats nothing
dl_stop_collector
before=$(grep -c 'alert firing:' "$T/collector.log")
dl_start_collector
dl_wait_for 'dl_host_online al1' 60 "al1 reconnects to the new collector"
sleep 3
dl_assert_eq "resolved alerts survive the restart" '["off","sick"]' \
	"$(dl_cli alerts --all --json | jq -c '[.[] | select(.state == "resolved") | .rule] | unique')"
dl_assert_eq "restart_loop still firing (its window is 2m)" firing "$(state_of loop dl-.*-loop)"
dl_assert_eq "no message repeated after the restart" "$before" "$(grep -c 'alert firing:' "$T/collector.log")"
dl_ok "alerts"
