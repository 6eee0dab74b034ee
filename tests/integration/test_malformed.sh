#!/usr/bin/env bash
# A peer that sends garbage through the attach relay (an absurd frame length;
# a sane length with a non-msgpack payload; valid msgpack that is not a
# HELLO; an agent that floods stream output past its flow-control window)
# is cut off by the collector with a logged reason, without waiting for it
# to hang up, and without disturbing other hosts.
. "$(dirname "$0")/lib.sh"

dl_need_all

dl_start_sshd
dl_start_collector
dl_enroll hosta
dl_enroll hostb
dl_start_agent hosta
dl_wait_for 'dl_host_online hosta' 30 "host hosta online"

# send_garbage LABEL REASON_ERE: stdin of the ssh session is the payload
# file $T/LABEL.bin followed by 12 s of silence; the collector must close
# the session before that.
send_garbage() {
	local label=$1 reason=$2 mark start end lines
	mark=$(wc -l <"$T/collector.log")
	start=$(date +%s)
	{ cat "$T/$label.bin"; sleep 12; } |
		{ timeout 30 "$T/ssh" hostb -T dltest@127.0.0.1 >"$T/$label.out" 2>&1 || true; date +%s >"$T/$label.end"; }
	end=$(cat "$T/$label.end")
	dl_log "$label: the ssh session lasted $((end - start)) s; client output: $(head -c 300 "$T/$label.out" | tr -d '\0' | cat -v)"
	[ $((end - start)) -lt 11 ] ||
		dl_fail "$label: the collector did not close hostb's session (it lasted until stdin closed)"
	dl_ok "$label: the collector closed the session itself"
	dl_wait_for "tail -n +$((mark + 1)) '$T/collector.log' | grep -E 'hostb' | grep -Eiq '$reason'" 5 \
		"$label: the collector log says why it closed hostb's session"
	lines=$(tail -n +$((mark + 1)) "$T/collector.log" | grep -E 'hostb' || true)
	dl_log "$label: collector said:"$'\n'"$lines"
	kill -0 "$DL_COLLECTOR_PID" 2>/dev/null || dl_fail "$label: the collector died"
	dl_ok "$label: the collector is still running"
}

# 1. A 4 GiB frame length, then junk.
{ printf '\xff\xff\xff\xff'; head -c 200 /dev/urandom; } >"$T/huge.bin"
send_garbage huge 'too (large|big|long)|exceed|max|limit|length|size|oversize'

# 2. A sane length (16) with a payload that is not msgpack (0xc1 is never
# used in msgpack).
{ printf '\x00\x00\x00\x10'; printf '\xc1%.0s' $(seq 16); } >"$T/notmsgpack.bin"
send_garbage notmsgpack 'msgpack|decode|malformed|invalid|parse|protocol|bad|unexpected|corrupt'

# 3. Valid msgpack (the string "hello"), but not a HELLO message.
printf '\x00\x00\x00\x06\xa5hello' >"$T/nothello.bin"
send_garbage nothello 'hello|expect|unexpected|protocol|invalid|type|malformed|bad'

kill -0 "$DL_COLLECTOR_PID" 2>/dev/null || dl_fail "the collector died"
dl_assert_eq "hostb is not online" "" "$(dl_items hosts | jq -r 'select(.name == "hostb" and .online == true) | .name')"
dl_wait_for 'dl_host_online hosta' 5 "hosta still online"

id=$(dl_run_container after true)
dl_wait_for "[ \$(dl_event_count $id die --host hosta) -ge 1 ]" 20 "a new event from hosta arrives after the garbage"
dl_assert_eq "hosta's event count for the new container (die)" 1 "$(dl_event_count "$id" die --host hosta)"

# 4. An agent that ignores flow control: HELLO, then (once a `logs`
# request is on its way, id 1 as the first call of this collector) 100
# STREAM chunks of 16 KiB without waiting for a CREDIT, while the admin
# client reads nothing. The collector must cut the session instead of
# buffering it all.
dl_enroll hostc
{
	# [1, 1, "x", 0, ["control"], 0, 0, ""]
	printf '\x00\x00\x00\x12\x98\x01\x01\xa1x\x00\x91\xa7control\x00\x00\xa0'
	sleep 4
	for _ in $(seq 100); do
		# [50, 1, 1, bin16(16384)]
		printf '\x00\x00\x40\x07\x94\x32\x01\x01\xc5\x40\x00'
		head -c 16384 /dev/zero | tr '\0' 'z'
	done
	sleep 12
} | { timeout 40 "$T/ssh" hostc -T dltest@127.0.0.1 >/dev/null 2>&1 || true; } &
flood=$!
dl_wait_for 'dl_host_online hostc' 10 "the flooding peer is online as hostc"
# The reader is stuck: dockline's stdout is a pipe nobody drains.
("$DL_BIN/dockline" -s "$T/admin.sock" logs hostc/x --timeout 60s | sleep 30) >/dev/null 2>&1 &
dl_wait_for "grep -q 'hostc sent logs output beyond its flow-control window' '$T/collector.log'" 20 \
	"the collector refuses stream data past the window"
dl_wait_for '! dl_host_online hostc' 10 "and closes that session"
kill -0 "$DL_COLLECTOR_PID" 2>/dev/null || dl_fail "the collector died"
dl_wait_for 'dl_host_online hosta' 5 "hosta still online"
wait "$flood" 2>/dev/null || true
