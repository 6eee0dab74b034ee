#!/usr/bin/env bash
# Issue 13: nothing an agent accepted is lost across agent restarts.
#
# 1. The collector is down; 5 labelled containers stop (5 die events); the
#    agent is killed (-9) with the events only in its spool; the agent
#    and then the collector come back: all 5 die events are stored exactly
#    once and the host's epoch is unchanged (same stream, so the store's
#    (epoch, seq) dedupe holds).
# 2. With the collector up, the agent is stopped (SIGTERM) right after a
#    container stops and restarted: that die event arrives, nothing
#    stored before is duplicated, the epoch stays and seqs go on.
. "$(dirname "$0")/lib.sh"

dl_need_all
command -v sqlite3 >/dev/null || { dl_log "SKIPPED: sqlite3 is not installed"; exit 77; }

export DL_PING_INTERVAL=${DL_PING_INTERVAL:-2}
H=sp1
dl_start_sshd
dl_start_collector
dl_enroll $H
dl_start_agent $H
dl_wait_for "dl_host_online $H" 30 "host $H online"

db() { sqlite3 -cmd '.timeout 5000' "$T/dockline.db" "$@"; }
epoch() { db "SELECT epoch FROM delivery WHERE host = '$H'"; }
committed_seq() { db "SELECT seq FROM delivery WHERE host = '$H'"; }
agent_pid() { eval "echo \$DL_AGENT_PID_$H"; }
# How often container $1's id occurs in the agent's spool records.
in_spool() {
	local n
	n=$(cat "$T/state-$H"/spool/*.seg 2>/dev/null | grep -oa "$1" | wc -l) || true
	echo "${n:-0}"
}
# The same event stored twice (under two seqs or epochs).
dup_events() {
	db "SELECT count(*) FROM (SELECT actor_id, action, time_ns FROM events
	    WHERE host = '$H' GROUP BY 1, 2, 3 HAVING count(*) > 1)"
}
count_all() { # ACTION IDS...: each must be stored exactly once
	local a=$1 id
	shift
	for id in "$@"; do
		dl_assert_eq "count of $a events of ${id:0:12}" 1 "$(dl_event_count "$id" "$a" --host $H)"
	done
}

ids=()
for i in 1 2 3 4 5; do
	ids+=("$(dl_run_container "s$i" sleep 3600)")
done
all_started() {
	local id
	for id in "${ids[@]}"; do
		[ "$(dl_event_count "$id" start --host $H)" -ge 1 ] || return 1
	done
}
dl_wait_for all_started 30 "start events of the 5 containers"
e0=$(epoch)
dl_log "epoch of $H before: $e0, committed seq $(committed_seq)"
[ -n "$e0" ] || dl_fail "no delivery row for $H"

# ---- 1: collector down, events only in the spool, agent kill -9 ----------
dl_stop_collector KILL
declare -A n0
for id in "${ids[@]}"; do
	n0[$id]=$(in_spool "$id")
	docker stop -t 1 "$id" >/dev/null
done
# docker stop of `sleep` (deaf to SIGTERM): kill, kill, die, stop events.
all_spooled() {
	local id
	for id in "${ids[@]}"; do
		[ "$(in_spool "$id")" -ge $((n0[$id] + 4)) ] || return 1
	done
}
dl_wait_for all_spooled 20 "kill/die/stop events of the 5 containers in the agent's spool"
kill -KILL "$(agent_pid)"
{ wait "$(agent_pid)"; } 2>/dev/null || true
dl_log "agent killed (-9) with the collector down"

dl_start_agent $H
sleep 1
dl_start_collector
all_died() {
	local id
	for id in "${ids[@]}"; do
		[ "$(dl_event_count "$id" die --host $H)" -ge 1 ] || return 1
	done
}
dl_wait_for all_died 40 "die events of the 5 containers after agent and collector restarts"
dl_wait_for "dl_host_online $H" 30 "host $H online again"
sleep 3 # let any duplicate replay land before counting
count_all die "${ids[@]}"
count_all start "${ids[@]}"
dl_assert_eq "epoch of $H after kill -9 and restart" "$e0" "$(epoch)"
dl_assert_file_match "agent continued its stream" 'stream continued: epoch' "$T/agent-$H.log"
dl_assert_eq "events stored twice" 0 "$(dup_events)"

# ---- 2: SIGTERM + restart with the collector up ---------------------------
s1=$(committed_seq)
late=$(dl_run_container late sleep 3600)
dl_wait_for "[ \$(dl_event_count $late start --host $H) -ge 1 ]" 20 "start event of the late container"
# docker stop returns once the container died; the agent sees the event
# within milliseconds, and may or may not have its ack when TERM lands.
docker stop -t 1 "$late" >/dev/null
sleep 0.3
kill -TERM "$(agent_pid)"
{ wait "$(agent_pid)"; } 2>/dev/null || true
dl_log "agent stopped (SIGTERM) right after the late container died"
dl_start_agent $H
dl_wait_for "[ \$(dl_event_count $late die --host $H) -ge 1 ]" 30 "die event of the late container after the restart"
after=$(dl_run_container after true)
dl_wait_for "[ \$(dl_event_count $after die --host $H) -ge 1 ]" 30 "events of a container run after the restart"
sleep 3
count_all die "${ids[@]}" "$late" "$after"
count_all start "${ids[@]}" "$late" "$after"
dl_assert_eq "epoch of $H after SIGTERM and restart" "$e0" "$(epoch)"
s2=$(committed_seq)
[ "$s2" -gt "$s1" ] || dl_fail "committed seq did not go on: $s1 then $s2"
dl_ok "committed seq went on: $s1 -> $s2, same epoch"
dl_assert_eq "events stored twice" 0 "$(dup_events)"
# Every event of this host is in the one epoch: no new stream was started.
dl_assert_eq "epochs among the host's events" 1 "$(db "SELECT count(DISTINCT epoch) FROM events WHERE host = '$H'")"

# check reports the spool (the collector part runs too).
out=$("$DL_BIN/dockline-agent" check -c "$T/agent-$H.conf" 2>&1 || true)
dl_assert_match "check shows the spool" 'spool +ok +[0-9]+ bytes in [0-9]+ segments.*oldest unsent frame' "$out"
