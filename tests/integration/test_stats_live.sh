#!/usr/bin/env bash
# Container stats end to end (agent cgroup/API sampling -> STATS -> store
# -> stats/history): a container running `yes` shows > 50% CPU and an idle
# one < 5%, memory matches `docker stats --no-stream` within 5%, history
# holds about one sample per interval (stats_interval = 1), and a removed
# container stops being sampled. Also the hosts JSON carries host metrics.
. "$(dirname "$0")/lib.sh"

dl_need_all

export DL_STATS_INTERVAL=1
dl_start_sshd
dl_start_collector
dl_enroll st1
dl_start_agent st1
dl_wait_for 'dl_host_online st1' 30 "host st1 online"

started=$(date +%s)
busy=$(dl_run_container busy sh -c 'yes > /dev/null')
idle=$(dl_run_container idle sleep 3600)
bname="dl-${T##*/}-busy"
iname="dl-${T##*/}-idle"
dl_log "busy $busy, idle $idle"

# stats_field NAME FIELD: the latest value from `dockline stats st1`.
stats_field() {
	dl_items stats st1 | jq -r --arg n "$1" "select((.name | ltrimstr(\"/\")) == \$n) | .$2" | head -n 1
}

dl_wait_for "[ \"\$(stats_field $bname cpu_percent)\" != '' ] && [ \"\$(stats_field $bname cpu_percent)\" != null ] && [ \"\$(stats_field $iname cpu_percent)\" != null ] && [ \"\$(stats_field $iname cpu_percent)\" != '' ]" 30 \
	"both containers have a cpu_percent"
dl_wait_for "awk -v v=\"\$(stats_field $bname cpu_percent)\" 'BEGIN { exit !(v > 50) }'" 20 "busy container above 50% CPU"
cpu_idle=$(stats_field "$iname" cpu_percent)
dl_log "cpu: busy $(stats_field "$bname" cpu_percent)%, idle $cpu_idle%"
awk -v v="$cpu_idle" 'BEGIN { exit !(v < 5) }' || dl_fail "idle container at $cpu_idle% CPU"
dl_ok "idle container below 5% CPU"

# Memory against docker stats (units as docker prints them).
to_bytes() {
	awk '{ v = $1; u = $1; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+/, "", v)
	       m = 1
	       if (u == "KiB" || u == "kB") m = 1024
	       if (u == "MiB" || u == "MB") m = 1048576
	       if (u == "GiB" || u == "GB") m = 1073741824
	       printf "%.0f\n", v * m }'
}
ok=0
for try in 1 2 3 4 5; do
	d=$(docker stats --no-stream --format '{{.MemUsage}}' "$idle" | awk -F' / ' '{ print $1 }' | to_bytes)
	ours=$(stats_field "$iname" mem_bytes)
	dl_log "memory of idle: docker $d, dockline $ours"
	if awk -v a="$d" -v b="$ours" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= a * 0.05) }'; then
		ok=1
		break
	fi
	sleep 1
done
[ $ok = 1 ] || dl_fail "memory differs from docker stats by more than 5%"
dl_ok "memory within 5% of docker stats"

# About one sample per second over the last 20 s (of a container that
# has run for at least 25 s).
while [ $(($(date +%s) - started)) -lt 25 ]; do sleep 1; done
n=$(dl_cli history "st1/$bname" --since 20s --json | jq 'length')
dl_log "history samples in 20 s: $n"
[ "$n" -ge 15 ] && [ "$n" -le 22 ] || dl_fail "expected ~20 samples in 20 s, got $n"
dl_ok "history holds about one sample per interval"
dl_assert_match "history chart" '#' "$(dl_cli history "st1/$bname" --since 1m)"
dl_assert_match "stats table" "$bname" "$(dl_cli stats st1)"
dl_assert_match "top prints once when not a tty" "$bname" "$(dl_cli top --host st1 --sort cpu)"

# hosts JSON carries the latest host sample
h=$(dl_host_json st1)
dl_assert_match "host cpu_percent" '^[0-9.]+$' "$(jq -r '.cpu_percent' <<<"$h")"
dl_assert_match "host mem_total_bytes" '^[0-9]+$' "$(jq -r '.mem_total_bytes' <<<"$h")"

# A removed container stops being sampled (its history stays).
docker rm -f "$idle" >/dev/null
sleep 3
last1=$(dl_cli history "st1/$iname" --since 10m --json | jq '.[-1].time_ns')
sleep 4
last2=$(dl_cli history "st1/$iname" --since 10m --json | jq '.[-1].time_ns')
dl_assert_eq "no samples after removal" "$last1" "$last2"
dl_assert_eq "removed container gone from stats" "" "$(stats_field "$iname" name)"

# Unknown names are sentences (ambiguity is covered by test_stats_store).
out=$(dl_cli stats nosuchhost 2>&1) && dl_fail "unknown host accepted"
dl_assert_match "unknown host" 'no host named nosuchhost' "$out"
out=$(dl_cli history "st1/nosuchcontainer" --since 1m 2>&1) && dl_fail "unknown container accepted"
dl_assert_match "unknown container" 'no container nosuchcontainer on st1' "$out"
dl_ok "stats end to end"
