#!/usr/bin/env bash
# Container labels end to end: a container run with --label app=web
# --label tier=front shows them in `dockline ps --json` and the LABELS
# column of `ps --labels`; `ps --label app=web` lists it, `--label app=db`
# does not; GET /api/v1/containers?label=app=web through the gateway does
# the same; an alert rule scoped `label = app=web` fires for it when it
# turns unhealthy and not for its unlabelled twin, with the labels in the
# webhook body; a channel that cannot be reached leaves its failure on
# the alert (`alerts` marks it, --json says why).
. "$(dirname "$0")/lib.sh"

dl_need_packages
dl_need_dockerd
dl_need_image
dl_need_user
dl_need_http_user
dl_check_bins
dl_docker_lock_shared

dl_spawn "$T/recv.log" /usr/bin/python3 "$DL_SRC/tests/integration/webhook_recv.py" "$T/recv.port" "$T/recv"
dl_wait_for "[ -s $T/recv.port ]" 10 "webhook receiver listening"
HTTP_PORT=$(dl_free_port)
DEAD_PORT=$(dl_free_port)
URL=http://127.0.0.1:$HTTP_PORT
dl_start_sshd
dl_write_collector_conf
# Scoped to this test's containers: dockerd is shared with other tests.
cat >>"$T/collector.conf" <<EOF

[notify hook]
kind = webhook
url = http://127.0.0.1:$(cat "$T/recv.port")/alerts

[notify dead]
kind = webhook
url = http://127.0.0.1:$DEAD_PORT/nobody
retries = 1

[alert web-sick]
condition = container_unhealthy
containers = dl-${T##*/}-*
label = app=web
for = 2s
notify = hook, dead
EOF
dl_http_section "127.0.0.1:$HTTP_PORT" >>"$T/collector.conf"
dl_start_collector
dl_http_socket_access
dl_enroll lb1
dl_start_agent lb1
dl_wait_for 'dl_host_online lb1' 30 "host lb1 online"
dl_start_gateway "$T/collector.conf" "$T/http.log" "$URL"
TOKEN=$(dl_cli token create labels-ro --role read | grep -oE '^dlt_[A-Za-z0-9_-]{43}$') ||
	dl_fail "no token"

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

web=$(run_ctr web --label app=web --label tier=front --health-cmd 'exit 1' \
	--health-interval 1s --health-retries 1 -- sleep 3600)
twin=$(run_ctr twin --health-cmd 'exit 1' --health-interval 1s \
	--health-retries 1 -- sleep 3600)
dl_log "web $web, twin $twin"

labels_of() { dl_items ps | jq -c --arg id "$1" "select($DL_JQ_ID) | .labels"; }

# 1. ps --json carries the labels (they come with the agent's inspect)
dl_wait_for "[ \"\$(labels_of $web | jq -r .app)\" = web ]" 30 "labels in ps --json"
row=$(dl_items ps | jq -c --arg id "$web" "select($DL_JQ_ID)")
dl_log "ps row: $row"
# (the test image has a label of its own: containers inherit it)
dl_assert_eq "labels of web" "{\"app\":\"web\",\"dockline.test\":\"$T\",\"tier\":\"front\"}" \
	"$(jq -c '.labels | {app, "dockline.test", tier}' <<<"$row")"
dl_wait_for "[ \"\$(labels_of $twin | jq -r '.\"dockline.test\"')\" = $T ]" 30 "twin's labels in ps"
dl_assert_eq "twin has no app label" null "$(labels_of "$twin" | jq -r .app)"

# 2. the filter, in the CLI
# (dockerd is shared: only this test's containers count)
mine() { sed 's,^/,,' | grep -F -- "dl-${T##*/}-" | sort | tr '\n' ' '; }
names() { dl_items ps --host lb1 "$@" | jq -r '.name' | mine; }
dl_assert_eq "ps --label app=web" "dl-${T##*/}-web " "$(names --label app=web)"
dl_assert_eq "ps --label app" "dl-${T##*/}-web " "$(names --label app)"
dl_assert_eq "ps --label app=db" "" "$(names --label app=db)"
dl_assert_eq "ps --label dockline.test=T" "dl-${T##*/}-twin dl-${T##*/}-web " "$(names --label "dockline.test=$T")"
rc=0
out=$(dl_cli ps --label '=web' 2>&1) || rc=$?
dl_assert_eq "a malformed --label is a usage error" 2 "$rc"
dl_assert_match "with a sentence" 'K or K=V' "$out"
dl_assert_no_match "no LABELS column by default" 'LABELS' "$(dl_cli ps --host lb1)"
dl_assert_match "LABELS column with --labels" 'LABELS' "$(dl_cli ps --host lb1 --labels)"
dl_assert_match "labels in the column" 'app=web,.*tier=front' "$(dl_cli ps --host lb1 --labels --label app=web)"

# 3. the filter, through the gateway
api_names() {
	curl -s -G -H "Authorization: Bearer $TOKEN" --data-urlencode "label=$1" \
		"$URL/api/v1/containers" | jq -r "$DL_JQ_ITEMS | select(.host == \"lb1\") | .name" | mine
}
dl_assert_eq "API ?label=app=web" "dl-${T##*/}-web " "$(api_names app=web)"
dl_assert_eq "API ?label=app=db" "" "$(api_names app=db)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/api/v1/containers?label=%3Dx")
dl_assert_eq "API malformed label: 400" 400 "$code"

# 4. the rule scoped `label = app=web`: fires for web, never for the twin
alerts_of() { dl_cli alerts --all --json | jq -c '.[] | select(.rule == "web-sick")'; }
dl_wait_for "[ \"\$(alerts_of | jq -r 'select(.container | test(\"-web\$\")) | .state' | head -n 1)\" = firing ]" 40 \
	"web-sick fires for web"
dl_wait_for "[ \$(cat $T/recv/req-*.body 2>/dev/null | jq -s 'length') -ge 1 ]" 20 "webhook got the message"
body=$(cat "$T"/recv/req-1.body)
dl_log "webhook body: $body"
dl_assert_eq "message labels" "{\"app\":\"web\",\"dockline.test\":\"$T\",\"tier\":\"front\"}" \
	"$(jq -c '.labels | {app, "dockline.test", tier}' <<<"$body")"
dl_never "alerts_of | jq -r .container | grep -q -- '-twin\$'" 5 "web-sick fires for the unlabelled twin"
dl_assert_eq "twin is unhealthy all the same" unhealthy "$(dl_ps_field "$twin" health)"

# 5. the unreachable channel: the failure stays on the alert
dl_wait_for "alerts_of | jq -e 'select(.notify_error != null)' >/dev/null" 60 "notify_error on the alert"
err=$(alerts_of | jq -r '.notify_error' | head -n 1)
dl_log "notify_error: $err"
dl_assert_match "names the channel" '^dead: ' "$err"
dl_assert_match "notify_failed_at" '^[0-9]{10}$' "$(alerts_of | jq -r '.notify_failed_at' | head -n 1)"
dl_assert_match "alerts marks it" 'web-sick .*firing! ' "$(dl_cli alerts)"
dl_assert_match "and says what the mark means" '^! = ' "$(dl_cli alerts)"
code=$(curl -s -o "$T/alerts.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/api/v1/alerts")
dl_assert_eq "API alerts" 200 "$code"
dl_assert_match "API shows notify_error" '"notify_error": *"dead: ' "$(cat "$T/alerts.json")"

dl_ok "labels end to end"
