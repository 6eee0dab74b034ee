#!/usr/bin/env bash
# The collector dies (kill -9) while containers come and go; after it is
# back, every start and die event of those containers is stored exactly
# once (the agent's outbox resends from the last committed sequence and
# the store dedupes).
. "$(dirname "$0")/lib.sh"

dl_need_all

export DL_PING_INTERVAL=${DL_PING_INTERVAL:-2}
dl_start_sshd
dl_start_collector
dl_enroll cr1
dl_start_agent cr1
dl_wait_for 'dl_host_online cr1' 30 "host cr1 online"

# One event before the crash, to see that the replay does not duplicate
# what was already committed.
pre=$(dl_run_container pre true)
dl_wait_for "[ \$(dl_event_count $pre die --host cr1) -ge 1 ]" 20 "die event of the container run before the crash"

dl_stop_collector KILL
ids=()
for i in 1 2 3; do
	id=$(dl_run_container "down$i" sleep 3600)
	docker stop -t 1 "$id" >/dev/null
	ids+=("$id")
	dl_log "container down$i $id started and stopped while the collector was down"
done
sleep 1
dl_start_collector

check_all() {
	local id a
	for id in "${ids[@]}"; do
		for a in start die; do
			[ "$(dl_event_count "$id" "$a" --host cr1)" -ge 1 ] || return 1
		done
	done
}
dl_wait_for check_all 30 "start and die events of the 3 containers after the restart"
dl_wait_for 'dl_host_online cr1' 30 "host cr1 online again"

# Let any duplicate replay land before counting.
sleep 3
for id in "${ids[@]}"; do
	for a in start die; do
		dl_assert_eq "count of $a events of ${id:0:12}" 1 "$(dl_event_count "$id" "$a" --host cr1)"
	done
done
dl_assert_eq "count of die events of the pre-crash container ${pre:0:12}" 1 "$(dl_event_count "$pre" die --host cr1)"
dl_assert_eq "count of start events of the pre-crash container ${pre:0:12}" 1 "$(dl_event_count "$pre" start --host cr1)"

