#!/usr/bin/env bash
# INVENTORY parts reserve memory every host shares (collector/invparts.h:
# 256 MiB, each part 0 its inventory's worst case). A peer that sends
# part 0 of a 3-part inventory and then only PINGs would hold that room
# for good; the collector closes its session after 3 ping intervals
# without a next part (the agent then redials and sends the inventory
# again), logs why, and keeps serving other hosts.
. "$(dirname "$0")/lib.sh"

dl_need_all

export DL_COLLECTOR_PING=2 # the limit is 3 x 2 s
dl_start_sshd
dl_start_collector
dl_enroll hosta
dl_enroll stall
dl_start_agent hosta
dl_wait_for 'dl_host_online hosta' 30 "host hosta online"

# HELLO [1, 1, "x", 1, ["control"], 0, 0, ""]; INVENTORY part 0 of 3
# [16, epoch 1, seq 1, time 1, [], inventory 1, part 0, parts 3]; then a
# PING [3, n] every second for 20 s, so the session is never idle.
start=$(date +%s)
{
	printf '\x00\x00\x00\x12\x98\x01\x01\xa1x\x01\x91\xa7control\x00\x00\xa0'
	printf '\x00\x00\x00\x09\x98\x10\x01\x01\x01\x90\x01\x00\x03'
	for i in $(seq 1 20); do
		printf '\x00\x00\x00\x03\x92\x03'
		printf "\\x$(printf '%02x' "$i")"
		sleep 1
	done
} | { timeout 40 "$T/ssh" stall -T dltest@127.0.0.1 >"$T/stall.out" 2>&1 || true; date +%s >"$T/stall.end"; } || true # the PINGs after the close: SIGPIPE
end=$(cat "$T/stall.end")
dl_log "the stalled peer's session lasted $((end - start)) s"
[ $((end - start)) -lt 19 ] ||
	dl_fail "the collector kept the stalled inventory's session until the peer hung up ($((end - start)) s)"
dl_ok "the collector closed the session itself"
dl_assert_file_match "the log names the inventory and the wait" \
	'stall.*INVENTORY 1: no next part for 6 s' "$T/collector.log"
dl_assert_file_match "the stalled peer had a live session" "stall connected" "$T/collector.log"
kill -0 "$DL_COLLECTOR_PID" 2>/dev/null || dl_fail "the collector died"
dl_wait_for 'dl_host_online hosta' 10 "hosta still online"
id=$(dl_run_container after true)
dl_wait_for "[ \$(dl_event_count $id die --host hosta) -ge 1 ]" 20 "hosta's events still arrive"
