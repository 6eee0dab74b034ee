#!/usr/bin/env bash
# Health: `dockline ps` words a container's status now, from the times the
# agent's inspect sent (not the text frozen at the last event) and agrees
# with `docker ps` within one unit; an unhealthy container shows its
# health, failing streak and check output; an exit code shows as
# "Exited (3) N seconds ago"; `dockline hosts` prints CPU, MEM, DISK and
# HEALTH with values.
. "$(dirname "$0")/lib.sh"

dl_need_all

DL_STATS_INTERVAL=1
dl_start_sshd
dl_start_collector
dl_enroll hl1
dl_start_agent hl1
dl_wait_for 'dl_host_online hl1' 30 "host hl1 online"

docker_status() { docker ps -a --filter "id=$1" --format '{{.Status}}'; }

# "Up 7 seconds" -> 7, "Up About a minute" -> 60, "Up Less than a second" -> 0
seconds_of() {
	case "$1" in
	*"Less than a second"*) echo 0 ;;
	*"About a minute"*) echo 60 ;;
	*" 1 second"*) echo 1 ;;
	*) sed -E 's/^[^0-9]*(\([0-9-]+\) )?([0-9]+) seconds?.*/\2/' <<<"$1" ;;
	esac
}

# 1. Up N seconds, worded at query time.
id=$(dl_run_container up sleep 3600)
dl_log "container up: $id"
dl_wait_for "[ \"\$(dl_ps_field $id state)\" = running ]" 20 "container running in ps"
dl_wait_for "[ \"\$(dl_ps_field $id started_at)\" -gt 0 ]" 20 "started_at from the inspect"
sleep 5
ours=$(dl_ps_field "$id" status)
theirs=$(docker_status "$id")
dl_log "ps: \"$ours\", docker ps: \"$theirs\""
dl_assert_match "status worded now, not at the start event" '^Up ([4-9]|[1-5][0-9]) seconds$' "$ours"
a=$(seconds_of "$ours")
b=$(seconds_of "$theirs")
dl_assert_match "docker ps agrees within a second ($a vs $b)" '^(-1|0|1)$' "$((a - b))"
started=$(dl_ps_field "$id" started_at)
dl_assert_eq "started_at is Docker's StartedAt (s)" \
	"$(date -d "$(docker inspect -f '{{.State.StartedAt}}' "$id")" +%s)" "$((started / 1000000000))"
dl_assert_eq "finished_at never" 0 "$(dl_ps_field "$id" finished_at)"
dl_assert_eq "restart_count" 0 "$(dl_ps_field "$id" restart_count)"

# 2. Unhealthy: health, streak, output.
sick=$(docker run -d --label "dockline.test=$T" --name "dl-${T##*/}-sick" \
	--health-cmd 'echo boom; exit 1' --health-interval 1s --health-retries 1 \
	"$DL_IMAGE" sleep 3600)
dl_log "container sick: $sick"
dl_wait_for "dl_ps_field $sick status | grep -q '(unhealthy)\$'" 30 "ps says (unhealthy)"
row=$(dl_items ps | jq -c --arg id "$sick" "select($DL_JQ_ID)")
dl_log "ps row: $row"
dl_assert_match "status" '^Up [0-9]+ seconds \(unhealthy\)$|^Up (Less than a second|1 second) \(unhealthy\)$' \
	"$(jq -r .status <<<"$row")"
dl_assert_eq "health" unhealthy "$(jq -r .health <<<"$row")"
dl_assert_match "health_streak >= 1" '^[1-9][0-9]*$' "$(jq -r .health_streak <<<"$row")"
dl_assert_eq "health_output (trimmed)" boom "$(jq -r .health_output <<<"$row")"
dl_assert_match "docker ps agrees on the health" '\(unhealthy\)$' "$(docker_status "$sick")"
# stats rows and the one-container op carry it too
dl_wait_for "[ \"\$(dl_items stats hl1 | jq -r --arg id $sick 'select($DL_JQ_ID) | .health')\" = unhealthy ]" 30 \
	"stats shows the health"

# 3. Exited (3) N seconds ago.
ex=$(dl_run_container ex sh -c 'exit 3')
dl_log "container ex: $ex"
dl_wait_for "[ \"\$(dl_ps_field $ex exit_code -a)\" = 3 ]" 20 "exit code 3 in ps -a"
sleep 2
ours=$(dl_ps_field "$ex" status -a)
theirs=$(docker_status "$ex")
dl_log "ps: \"$ours\", docker ps: \"$theirs\""
dl_assert_match "exited status" '^Exited \(3\) ([2-9]|[1-5][0-9]) seconds ago$' "$ours"
a=$(seconds_of "$ours")
b=$(seconds_of "$theirs")
dl_assert_match "docker ps agrees within a second ($a vs $b)" '^(-1|0|1)$' "$((a - b))"
dl_assert_match "finished_at set" '^[1-9][0-9]{18}$' "$(dl_ps_field "$ex" finished_at -a)"

# 4. hosts: CPU %, MEM, DISK %, HEALTH with values.
dl_wait_for "[ \"\$(dl_host_json hl1 | jq -r '.cpu_percent | type')\" = number ]" 30 "host CPU sampled"
h=$(dl_host_json hl1)
dl_log "hosts: $h"
dl_assert_eq "health" ok "$(jq -r .health <<<"$h")"
dl_assert_eq "dropped_frames" 0 "$(jq -r .dropped_frames <<<"$h")"
dl_assert_match "clock_skew_ms measured, small" '^-?[0-9]{1,3}$' "$(jq -r .clock_skew_ms <<<"$h")"
dl_assert_match "last_data_ago recent" '^[0-9]$' "$(jq -r .last_data_ago <<<"$h")"
out=$(dl_cli hosts)
dl_log "dockline hosts:"$'\n'"$out"
dl_assert_match "header" 'CPU %.*MEM.*DISK %.*HEALTH' "$(head -n 1 <<<"$out")"
dl_assert_match "row values" 'hl1 .* [0-9]+\.[0-9] +[0-9.]+[KMGT]?i?B / [0-9.]+[KMGT]?i?B +[0-9]+ +ok ' \
	"$(grep '^hl1 ' <<<"$out")"

# 5. A stopped agent reads "offline" in HEALTH.
dl_kill_tree "$DL_AGENT_PID_hl1"
dl_wait_for "dl_host_json hl1 | jq -r .health | grep -q '^offline '" 60 "health says offline"
dl_ok "health"
