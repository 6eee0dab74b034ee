#!/usr/bin/env bash
# bench_wire.sh - bytes on the agent's TCP connection per container-sample,
# with SSH compression (what the agent asks for) and without (a second
# sshd with "Compression no"), measured at the same time on the same
# containers.
#
#   DL_BIN=build-rel/bin bash tests/bench/bench_wire.sh [N] [INTERVAL] [SECONDS]
#   (defaults: 100 containers, 10 s, 60 s)
#
# A fifth of the containers are busy (ping the bridge and copy some bytes
# in a loop), the rest sleep. Each agent's bytes_sent (ss -ti) is read
# after a warm-up (inventory, first samples) and SECONDS later; divided by
# the container-samples its log reports sent in between. What is counted:
# everything the agent sends (STATS, HOSTSTATS, pings, SSH framing, MACs,
# window adjusts) but not TCP/IP headers. bench_wire (the C program) gives
# the encoding alone.
DL_TEST_NAME=bench_wire
. "$(dirname "$0")/../integration/lib.sh"

N=${1:-100}
IV=${2:-10}
SECS=${3:-60}

dl_need_dockerd
dl_need_image
dl_docker_lock_shared
dl_check_bins

dl_start_sshd
PORT1=$DL_SSH_PORT
# The same sshd configuration on another port, compression refused.
PORT2=$(dl_free_port)
sed -e "s/^Port .*/Port $PORT2/" -e "s|^PidFile .*|PidFile $T/sshd2.pid|" \
	"$T/sshd_config" >"$T/sshd2_config"
echo "Compression no" >>"$T/sshd2_config"
dl_spawn "$T/sshd2.log" /usr/sbin/sshd -D -e -f "$T/sshd2_config"
dl_wait_for "grep -q \"Server listening\" $T/sshd2.log" 10 "sshd 2 listening"
ssh-keyscan -t ed25519 -p "$PORT2" 127.0.0.1 >"$T/known_hosts2" 2>/dev/null
chmod 644 "$T/known_hosts2"
dl_start_collector
dl_enroll zlib
dl_enroll plain

busy=$((N / 5))
for i in $(seq 1 "$N"); do
	if [ "$i" -le "$busy" ]; then
		dl_run_container "w$i" sh -c 'while :; do ping -c 2 -q 172.17.0.1 >/dev/null 2>&1; dd if=/dev/urandom of=/tmp/x bs=4k count=8 2>/dev/null; sleep 1; done' >/dev/null
	else
		dl_run_container "w$i" sleep 3600 >/dev/null
	fi
done
dl_log "$N containers ($busy busy); $(docker ps -q | wc -l) running on the host"

DL_STATS_INTERVAL=$IV DL_AGENT_LOG_LEVEL=debug dl_start_agent zlib
PID1=$DL_LAST_PID
DL_SSH_PORT=$PORT2 DL_STATS_INTERVAL=$IV DL_AGENT_LOG_LEVEL=debug \
	dl_start_agent plain "$T/known_hosts2"
PID2=$DL_LAST_PID
sleep $((2 * IV + 5))

# bytes_sent of the agent's connection to port $1
sent() {
	ss -tinH state established "( dport = :$1 )" |
		grep -o 'bytes_sent:[0-9]*' | head -1 | cut -d: -f2
}
# container-samples in STATS frames logged so far
samples() { awk '/DEBUG agent: STATS:/ { s += $5 } END { print s + 0 }' "$1"; }

b1=$(sent "$PORT1"); b2=$(sent "$PORT2")
s1=$(samples "$T/agent-zlib.log"); s2=$(samples "$T/agent-plain.log")
sleep "$SECS"
e1=$(sent "$PORT1"); e2=$(sent "$PORT2")
f1=$(samples "$T/agent-zlib.log"); f2=$(samples "$T/agent-plain.log")

# what the zlib streams cost in memory: the agents' anonymous memory
anon() { awk '$1 == "Anonymous:" { print $2 }' "/proc/$1/smaps_rollup"; }
m1=$(anon "$PID1"); m2=$(anon "$PID2")
printf '\nagent -> collector TCP payload bytes, %s containers, interval %s s, %s s\n\n' "$N" "$IV" "$SECS"
printf '%-22s %10s %10s %12s %12s\n' ssh bytes samples B/sample agent_anon_KiB
printf '%-22s %10s %10s %12s %12s\n' "zlib@openssh.com" $((e1 - b1)) $((f1 - s1)) \
	"$(awk -v b=$((e1 - b1)) -v s=$((f1 - s1)) 'BEGIN { printf "%.1f", s ? b / s : 0 }')" "$m1"
printf '%-22s %10s %10s %12s %12s\n' "none" $((e2 - b2)) $((f2 - s2)) \
	"$(awk -v b=$((e2 - b2)) -v s=$((f2 - s2)) 'BEGIN { printf "%.1f", s ? b / s : 0 }')" "$m2"
