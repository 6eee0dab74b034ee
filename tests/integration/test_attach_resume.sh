#!/usr/bin/env bash
# serve dies (kill -9) under live sessions. Within attach_wait, attach
# keeps each agent's SSH channel, reconnects to the new serve and sends
# RESTART: the agent starts the session again (HELLO, outbox resend) with
# no new SSH handshake, the same attach process, and every event of the
# outage stored exactly once. Past a short attach_wait, attach sends
# BYE{retry_after} and exits; the agent waits that long, then redials.
. "$(dirname "$0")/lib.sh"

dl_need_all

export DL_PING_INTERVAL=${DL_PING_INTERVAL:-2}
dl_start_sshd
dl_write_collector_conf
echo "attach_wait = 20" >>"$T/collector.conf"
dl_start_collector
dl_enroll ar1
dl_start_agent ar1
dl_wait_for 'dl_host_online ar1' 30 "host ar1 online"

accepted() { grep -c 'Accepted publickey' "$T/sshd.log" || true; }
connected() { grep -c "$1 connected (" "$T/collector.log" || true; }
# dockline-collector attach execs dockline-attach: same arguments.
attach_pid() { pgrep -f "attach --host=$1( |$)" | head -n 1 || true; }

pre=$(dl_run_container pre true)
dl_wait_for "[ \$(dl_event_count $pre die --host ar1) -ge 1 ]" 20 "die event of the container run before the crash"

# ---- case 1: serve back within attach_wait ------------------------------
ssh0=$(accepted)
conn0=$(connected ar1)
apid=$(attach_pid ar1)
[ -n "$apid" ] || dl_fail "no attach process for ar1"
dl_log "attach pid $apid, $ssh0 SSH logins so far"

dl_stop_collector KILL
ids=()
for i in 1 2 3; do
	id=$(dl_run_container "down$i" sleep 3600)
	docker stop -t 1 "$id" >/dev/null
	ids+=("$id")
	dl_log "container down$i ${id:0:12} started and stopped while serve was down"
done
sleep 1
dl_start_collector
t0=$(date +%s)
dl_wait_for "[ \$(connected ar1) -gt $conn0 ]" 10 "ar1 session restarted in the new serve"
dl_log "ar1 back $(($(date +%s) - t0)) s after serve started"
dl_wait_for 'dl_host_online ar1' 10 "host ar1 online again"

check_all() {
	local id a
	for id in "${ids[@]}"; do
		for a in start die; do
			[ "$(dl_event_count "$id" "$a" --host ar1)" -ge 1 ] || return 1
		done
	done
}
dl_wait_for check_all 30 "start and die events of the 3 containers after the restart"
sleep 3 # let any duplicate replay land before counting
for id in "${ids[@]}"; do
	for a in start die; do
		dl_assert_eq "count of $a events of ${id:0:12}" 1 "$(dl_event_count "$id" "$a" --host ar1)"
	done
done
dl_assert_eq "die events of the pre-crash container" 1 "$(dl_event_count "$pre" die --host ar1)"
dl_assert_eq "new SSH logins across the serve restart" "$ssh0" "$(accepted)"
dl_assert_eq "attach pid across the serve restart" "$apid" "$(attach_pid ar1)"
dl_assert_file_match "agent ar1 restarted the session in band" \
	'collector restarted .*starting the session again on the same SSH connection' "$T/agent-ar1.log"
dl_assert_no_match "agent ar1 never saw its link go down" 'collector link down' "$(cat "$T/agent-ar1.log")"

# ---- case 2: serve gone past a short attach_wait --------------------------
# attach reads collector.conf when sshd starts it: ar2's attach waits 3 s,
# ar1's (started above) still 20 s.
sed -i 's/^attach_wait = .*/attach_wait = 3/' "$T/collector.conf"
dl_enroll ar2
dl_start_agent ar2
dl_wait_for 'dl_host_online ar2' 30 "host ar2 online"
apid2=$(attach_pid ar2)
[ -n "$apid2" ] || dl_fail "no attach process for ar2"
conn1=$(connected ar1)
conn2=$(connected ar2)
ssh1=$(accepted)

dl_stop_collector KILL
dl_wait_for "dl_gone $apid2" 15 "ar2's attach gave up after attach_wait and exited"
dl_wait_for "grep -q 'collector said goodbye' '$T/agent-ar2.log'" 10 "agent ar2 got BYE"
dl_assert_file_match "agent ar2 waits the retry-after" \
	'collector said goodbye \(the collector did not come back within 3 s\): retry after 5 s, redialling in 5\.[0-9] s' \
	"$T/agent-ar2.log"
dl_start_collector
dl_wait_for "[ \$(connected ar2) -gt $conn2 ]" 30 "ar2 reconnected after the retry-after"
dl_wait_for "[ \$(connected ar1) -gt $conn1 ]" 10 "ar1 resumed (its attach waits 20 s)"
dl_assert_eq "ar1's attach pid after the second outage" "$apid" "$(attach_pid ar1)"
dl_assert_eq "new SSH logins in the second outage (ar2 only)" "$((ssh1 + 1))" "$(accepted)"
