#!/usr/bin/env bash
# Fault 5: a network partition. The agent runs in a network namespace of
# its own and reaches the test's sshd through a veth pair (a /30 the test
# picks; sshd also listens on the host side's address). Mid-burst, an nft
# table of the test's own drops everything on the veth for 60 s (the TCP
# connection hangs, nothing is refused), then it is deleted. The agent has
# to find the dead peer by its application PING (3 x 2 s without data),
# reconnect once the path is back and resend what was not acked: every
# event exactly once. The netns, the veth pair and the nft table are
# removed at exit, failed or not (DL_UNDO).
. "$(dirname "$0")/lib.sh"

FL_PART_S=${FL_PART_S:-60}

dl_need_packages
command -v nft >/dev/null || { dl_log "SKIPPED: nft is not installed"; exit 77; }
# Unique names from $T (/tmp/dl.XXXXXXXX): at most 15 characters a link.
sfx=${T##*.}
ns=dlf-$sfx
vh=dlfh$sfx
vp=dlfp$sfx
table=dlf_$sfx
# A private /30 no interface uses: 10.(200..249).x.(4k).
for _ in $(seq 1 50); do
	net=10.$((200 + RANDOM % 50)).$((RANDOM % 256))
	base=$((RANDOM % 64 * 4))
	ip -4 -o addr show | grep -q " inet $net\." || break
done
host_ip=$net.$((base + 1))
peer_ip=$net.$((base + 2))

ip netns add "$ns"
DL_UNDO+=("ip netns del $ns")
ip link add "$vh" type veth peer name "$vp"
DL_UNDO+=("ip link del $vh")
ip link set "$vp" netns "$ns"
ip addr add "$host_ip/30" dev "$vh"
ip link set "$vh" up
ip netns exec "$ns" ip addr add "$peer_ip/30" dev "$vp"
ip netns exec "$ns" ip link set "$vp" up
ip netns exec "$ns" ip link set lo up
dl_log "netns $ns: $vp $peer_ip/30 <-> $vh $host_ip/30"

export DL_SSHD_LISTEN=$host_ip
export DL_AGENT_ADDR=$host_ip
export DL_AGENT_WRAP="ip netns exec $ns"
FL_NO_AGENT=1 fl_setup
dl_wait_for "ip netns exec $ns timeout 5 bash -c 'exec 3<>/dev/tcp/$host_ip/$DL_SSH_PORT'" 20 \
	"sshd on $host_ip:$DL_SSH_PORT reachable from netns $ns"
# The host key, pinned under the address the agent dials.
sed "s/^\[127\.0\.0\.1\]/[$host_ip]/" "$T/known_hosts" >"$T/known_hosts.part"
chmod 644 "$T/known_hosts.part"
dl_start_agent "$FL_H" "$T/known_hosts.part"
dl_wait_for "dl_host_online $FL_H" 30 "host $FL_H online (from netns $ns)"
dl_wait_for '[ "$(fl_samples_since 0)" -ge 2 ]' 40 "ticker samples stored"
FL_T0=$(fl_now)

fl_burst p1
fl_life_start
dl_wait_for '[ "$(fl_burst_stored)" -ge 200 ]' 60 "200 burst events stored before the partition"
alog=$T/agent-$FL_H.log
conn0=$(fl_log_count "$alog" 'connected to collector')
nft -f - <<EOF
table inet $table {
	chain in { type filter hook input priority -10; iifname "$vh" drop; }
	chain out { type filter hook output priority -10; oifname "$vh" drop; }
}
EOF
DL_UNDO+=("! nft list table inet $table || nft delete table inet $table")
tp=$(fl_now)
dl_log "partition: nft table $table drops $vh, $(fl_burst_stored) burst events stored"
dl_wait_for "grep -q 'agent: collector link down: no data from the collector for' $alog" 30 \
	"the agent found the dead peer by its PING"
fl_burst_wait
fl_life_wait
dl_log "burst done during the partition: $(fl_burst_stored) of $FL_BURST_N stored"
left=$(awk -v a="$tp" -v b="$(fl_now)" -v p="$FL_PART_S" 'BEGIN { d = p - (b - a); printf "%.1f", d < 0 ? 0 : d }')
sleep "$left"
nft delete table inet "$table"
fault=$(awk -v a="$tp" -v b="$(fl_now)" 'BEGIN { printf "%.1f", b - a }')
dl_log "partition over after ${fault}s: nft table $table deleted"
dl_wait_for "[ \"\$(fl_log_count $alog 'connected to collector')\" -gt $conn0 ]" 120 \
	"the agent reconnected"
fl_settle 120
dead=$(fl_log_count "$alog" 'agent: collector link down: no data from the collector for')
fl_row "dead-peer detections" "" "$dead" ""
[ "$dead" -ge 1 ] || dl_fail "the agent never reported the dead peer"
fl_report 0 "partition ${fault}s"
