#!/usr/bin/env bash
# [docker] label: an agent told to watch only containers labelled
# dockline.watch=<this test> lists the one container carrying it and
# stores its events; its twin without the label, run at the same time on
# the same dockerd, appears neither in `ps --all` nor in `events`. A
# second agent without the option sees both (the twin is really there).
. "$(dirname "$0")/lib.sh"

dl_need_all

dl_start_sshd
dl_start_collector
dl_enroll scoped
dl_enroll everything
DL_DOCKER_LABEL="dockline.watch=${T##*/}" dl_start_agent scoped
grep -q "^label = dockline.watch=${T##*/}$" "$T/agent-scoped.conf" ||
	dl_fail "agent-scoped.conf has no [docker] label line"
dl_start_agent everything
dl_wait_for 'dl_host_online scoped && dl_host_online everything' 30 "both agents online"

watched=$(docker run -d --label "dockline.test=$T" --label "dockline.watch=${T##*/}" \
	--name "dl-${T##*/}-watched" "$DL_IMAGE" sleep 3600)
twin=$(dl_run_container twin sleep 3600)
dl_log "watched ${watched:0:12}, twin ${twin:0:12}"

dl_wait_for "[ -n \"\$(dl_ps_field $watched id --all --host scoped)\" ]" 30 "scoped agent lists the labelled container"
dl_wait_for "[ -n \"\$(dl_ps_field $twin id --all --host everything)\" ]" 30 "unscoped agent lists the twin"
dl_wait_for "[ \$(dl_event_count $watched start --host scoped) -ge 1 ]" 30 "scoped agent's start event of the labelled container"
dl_wait_for "[ \$(dl_event_count $twin start --host everything) -ge 1 ]" 30 "unscoped agent's start event of the twin"

docker stop -t 1 "$twin" >/dev/null
dl_wait_for "[ \$(dl_event_count $twin die --host everything) -ge 1 ]" 30 "unscoped agent's die event of the twin"
dl_assert_eq "twin in the scoped host's ps --all" "" "$(dl_ps_field "$twin" id --all --host scoped)"
dl_assert_eq "twin's events on the scoped host" 0 "$(dl_event_count "$twin" start --host scoped)"
dl_assert_eq "twin's die on the scoped host" 0 "$(dl_event_count "$twin" die --host scoped)"
n=$(dl_items ps --all --host scoped | wc -l)
dl_assert_eq "containers the scoped host lists" 1 "$n"

# A label with a character that could end the URL's filter is refused.
sed -i "s/^label = .*/label = a\&filters=x/" "$T/agent-scoped.conf"
out=$(timeout 10 "$DL_BIN/dockline-agent" -c "$T/agent-scoped.conf" 2>&1) || true
dl_assert_match "agent refuses a bad [docker] label" 'label must be KEY or KEY=VALUE' "$out"
dl_ok "label filter"
