#!/usr/bin/env bash
# A container started on the agent's host shows up in `dockline ps` under
# the enrolled name; stopping it yields its die/stop event and an exited
# state; the host is online with the real Docker version.
. "$(dirname "$0")/lib.sh"

dl_need_all

dl_start_sshd
dl_start_collector
dl_enroll inv1
dl_start_agent inv1
dl_wait_for 'dl_host_online inv1' 30 "host inv1 online"

id=$(dl_run_container web sleep 3600)
dl_log "container $id"
dl_wait_for "[ \"\$(dl_ps_field $id state)\" = running ]" 20 "container running in ps"
dl_assert_eq "ps host" inv1 "$(dl_ps_field "$id" host)"
dl_assert_eq "ps name" "dl-${T##*/}-web" "$(dl_ps_field "$id" name | sed 's,^/,,')"
dl_assert_eq "ps image" "$DL_IMAGE" "$(dl_ps_field "$id" image)"

docker stop -t 1 "$id" >/dev/null
dl_wait_for "[ \$(dl_event_count $id die --host inv1) -ge 1 ] && [ \$(dl_event_count $id stop --host inv1) -ge 1 ]" 20 \
	"die and stop events of the container"
ev=$(dl_items events --host inv1 --since 1h --limit 100000 | jq -c --arg id "$id" "select($DL_JQ_ID)")
dl_log "events of the container:"$'\n'"$ev"
dl_assert_eq "event host" inv1 "$(jq -r 'select(.action == "die") | .host' <<<"$ev" | head -n 1)"
dl_assert_eq "event type" container "$(jq -r 'select(.action == "die") | .type' <<<"$ev" | head -n 1)"
dl_assert_match "event time_ns" '^[0-9]{18,}$' "$(jq -r 'select(.action == "die") | .time_ns' <<<"$ev" | head -n 1)"

dl_wait_for "[ \"\$(dl_ps_field $id state -a)\" = exited ]" 20 "ps -a shows the container exited"
dl_assert_eq "stopped container hidden from ps without -a" "" "$(dl_ps_field "$id" state)"

h=$(dl_host_json inv1)
dl_log "hosts: $h"
dl_assert_eq "host online" true "$(jq -r '.online' <<<"$h")"
dl_assert_eq "docker_version" "$(docker version --format '{{.Server.Version}}')" "$(jq -r '.docker_version' <<<"$h")"
dl_assert_match "last_seen set" '[0-9]' "$(jq -r '.last_seen' <<<"$h")"

# The text output (no --json) names the host and the container too.
dl_assert_match "ps -a text output names the container" "dl-${T##*/}-web" "$(dl_cli ps -a --host inv1)"
dl_assert_match "hosts text output names the host" 'inv1' "$(dl_cli hosts)"
