#!/usr/bin/env bash
# bench_agent_cost.sh - what dockline-agent's stats sampling costs the host,
# beside polling the Docker stats API for the same containers.
#
#   DL_BIN=build-rel/bin bash tests/bench/bench_agent_cost.sh [COUNTS] [INTERVALS] [SECONDS]
#   (defaults: "10 50 100", "10 1", 30)
#
# For each container count (labelled dockline-test/busybox:1 running
# sleep 3600) and interval: a real agent (private sshd + collector) runs
# for a warm-up of one interval + 5 s, then SECONDS are measured; then the
# agent stops, dockerd's idle rate is measured for SECONDS, and an API
# poller (curl, one-shot stats of every container every interval, 8 in
# parallel; a round that takes longer than the interval is followed by
# the next at once) runs for SECONDS. Printed per row:
#   agent RSS, PSS and anonymous memory (/proc/PID/smaps_rollup, at the
#   end), the measured process's CPU % of one core (agent: schedstat of
#   all its threads; poller: utime+stime of its curl children), dockerd's
#   CPU % above the idle rate measured next to it, and container-samples
#   per second obtained (the agent: containers / interval; the poller:
#   what it managed).
# dockerd serves the whole machine: other work shows up in its figures
# (negative values are such noise), so run this on a quiet host. Build
# the agent Release (no sanitizers).
DL_TEST_NAME=bench_agent_cost
. "$(dirname "$0")/../integration/lib.sh"

COUNTS=${1:-10 50 100}
INTERVALS=${2:-10 1}
SECS=${3:-30}
TCK=$(getconf CLK_TCK)
SOCK=/var/run/docker.sock

dl_need_dockerd
dl_need_image
dl_docker_lock_shared
dl_check_bins

DPID=$(cat /var/run/docker.pid 2>/dev/null || pgrep -x -o dockerd)
dticks() { awk '{ print $14 + $15 }' "/proc/$DPID/stat"; }
now_ns() { date +%s%N; }
# ns of CPU over all threads of pid $1
sched_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/smaps_rollup"; }

# dockerd's CPU (fraction of a core) over SECS with nothing of ours asking
idle_rate() {
	local t0 d0 t1 d1
	t0=$(now_ns); d0=$(dticks); sleep "$SECS"; d1=$(dticks); t1=$(now_ns)
	awk -v d=$((d1 - d0)) -v t=$((t1 - t0)) -v k="$TCK" 'BEGIN { print d / k / (t / 1e9) }'
}

dl_start_sshd
dl_start_collector
dl_enroll bench

ids=()
ensure_containers() {
	local want=$1 id
	while [ ${#ids[@]} -lt "$want" ]; do
		id=$(dl_run_container "c${#ids[@]}" sleep 3600)
		ids+=("$id")
	done
}

# The API poller: every interval, one-shot stats of every container.
poller() {
	local iv=$1 urls=() id
	for id in "${ids[@]}"; do
		urls+=("http://d/v1.41/containers/$id/stats?stream=false&one-shot=true")
	done
	while :; do
		local start end
		start=$(now_ns)
		curl -s --parallel --parallel-max 8 --unix-socket "$SOCK" \
			"${urls[@]}" -o /dev/null >/dev/null 2>&1 || true
		end=$(now_ns)
		local left=$((iv * 1000000000 - (end - start)))
		echo "${#urls[@]}" >>"$T/poller.rounds"
		[ $left -gt 0 ] && sleep "$(awk -v n=$left 'BEGIN { print n / 1e9 }')"
	done
}

rows=()
for n in $COUNTS; do
	ensure_containers "$n"
	# The agent samples every running container: these are all of them
	# only on a host running nothing else; say how many there are.
	running=$(docker ps -q | wc -l)
	for iv in $INTERVALS; do
		DL_STATS_INTERVAL=$iv dl_start_agent bench
		apid=$DL_LAST_PID
		sleep $((iv + 5))
		t0=$(now_ns); d0=$(dticks); a0=$(sched_ns "$apid")
		sleep "$SECS"
		t1=$(now_ns); d1=$(dticks); a1=$(sched_ns "$apid")
		rss=$(kb "$apid" Rss); pss=$(kb "$apid" Pss); anon=$(kb "$apid" Anonymous)
		dl_kill_tree "$apid"
		IDLE=$(idle_rate)
		acpu=$(awk -v a=$((a1 - a0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.3f", 100 * a / t }')
		dcpu=$(awk -v d=$((d1 - d0)) -v t=$((t1 - t0)) -v k="$TCK" -v i="$IDLE" \
			'BEGIN { printf "%.2f", 100 * (d / k / (t / 1e9) - i) }')
		rows+=("$(printf '%-6s %5s %4s %8s %8s %8s %9s %9s %s' agent "$n" "$iv" \
			"$((rss / 1024)).$(((rss % 1024) * 10 / 1024))" \
			"$((pss / 1024)).$(((pss % 1024) * 10 / 1024))" \
			"$((anon / 1024)).$(((anon % 1024) * 10 / 1024))" "$acpu" "$dcpu" "$(awk -v n="$running" -v i="$iv" 'BEGIN { printf "%.1f", n / i }')")")

		# API baseline, same containers, same interval.
		poller "$iv" &
		ppid=$!
		DL_PIDS+=("$ppid")
		sleep 2
		: >"$T/poller.rounds"
		c0=$(awk '{ print $16 + $17 }' "/proc/$ppid/stat")
		t0=$(now_ns); d0=$(dticks)
		sleep "$SECS"
		t1=$(now_ns); d1=$(dticks)
		# children's time (cutime+cstime) of the poller shell: the curls
		c1=$(awk '{ print $16 + $17 }' "/proc/$ppid/stat")
		got=$(awk '{ s += $1 } END { print s + 0 }' "$T/poller.rounds")
		dl_kill_tree "$ppid"
		pcpu=$(awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) -v k="$TCK" 'BEGIN { printf "%.3f", 100 * c / k / (t / 1e9) }')
		dcpu=$(awk -v d=$((d1 - d0)) -v t=$((t1 - t0)) -v k="$TCK" -v i="$IDLE" \
			'BEGIN { printf "%.2f", 100 * (d / k / (t / 1e9) - i) }')
		rows+=("$(printf '%-6s %5s %4s %8s %8s %8s %9s %9s %s' api "$n" "$iv" - - - "$pcpu" "$dcpu" \
			"$(awk -v g="$got" -v t=$((t1 - t0)) 'BEGIN { printf "%.1f", g / (t / 1e9) }')")")
	done
done

printf '\ndockline-agent cost (%s s per row; dockerd idle measured between agent and api rows, subtracted)\n\n' "$SECS"
printf '%-6s %5s %4s %8s %8s %8s %9s %9s %s\n' who conts int_s RSS_MiB PSS_MiB anon_MiB cpu_% dockerd_% samples/s
for r in "${rows[@]}"; do echo "$r"; done
