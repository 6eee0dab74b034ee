#!/usr/bin/env bash
# bench_agent_cost.sh - what dockline-agent's stats sampling costs the host,
# beside polling the Docker stats API for the same containers.
#
#   DL_BIN=build-rel/bin bash tests/bench/bench_agent_cost.sh [COUNTS] [INTERVALS] [SECONDS] [SPOOL_MODES] [EVENTS]
#   (defaults: "10 50 100", "10 1", 30, "off 1s always", 2000)
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
#
# Then the spool's cost, at the largest count and a 10 s interval: for
# each spool_sync mode (off = never fdatasync, the baseline; 1s, the
# default; always = fdatasync per frame) a fresh agent run takes a burst
# of EVENTS exec_create events made through the Engine API (4 requests in
# flight, no process runs). Printed per mode: how fast dockerd made them,
# how fast they were stored in the collector's SQLite (first request to
# the last row), the agent's CPU over that time (% of a core, and us per
# event), its anonymous memory at the end, and the ratios to `off`.
# DL_AGENT_BASE_BIN=DIR adds a "base" row after each agent row: the same
# measurement with DIR/dockline-agent (another build, e.g. main's), same
# containers, same run.
# dockerd serves the whole machine: other work shows up in its figures
# (negative values are such noise), so run this on a quiet host. Build
# the agent Release (no sanitizers).
DL_TEST_NAME=bench_agent_cost
. "$(dirname "$0")/../integration/lib.sh"

COUNTS=${1:-10 50 100}
INTERVALS=${2:-10 1}
SECS=${3:-30}
SPOOL_MODES=${4-off 1s always}
EVENTS=${5:-2000}
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

# agent_row LABEL BIN: one agent (BIN/dockline-agent) at n containers and
# interval iv, measured as described above; appends to rows.
agent_row() {
	local label=$1 DL_BIN=$2 apid t0 d0 a0 t1 d1 a1 rss pss anon acpu dcpu
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
	rows+=("$(printf '%-6s %5s %4s %8s %8s %8s %9s %9s %s' "$label" "$n" "$iv" \
		"$((rss / 1024)).$(((rss % 1024) * 10 / 1024))" \
		"$((pss / 1024)).$(((pss % 1024) * 10 / 1024))" \
		"$((anon / 1024)).$(((anon % 1024) * 10 / 1024))" "$acpu" "$dcpu" "$(awk -v n="$running" -v i="$iv" 'BEGIN { printf "%.1f", n / i }')")")
}

rows=()
for n in $COUNTS; do
	ensure_containers "$n"
	# The agent samples every running container: these are all of them
	# only on a host running nothing else; say how many there are.
	running=$(docker ps -q | wc -l)
	for iv in $INTERVALS; do
		agent_row agent "$DL_BIN"
		[ -n "${DL_AGENT_BASE_BIN:-}" ] && agent_row base "$DL_AGENT_BASE_BIN"

		# API baseline, same containers, same interval.
		poller "$iv" &
		ppid=$!
		dl_track "$ppid"
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

# ---- the spool's cost: spool_sync off / 1s / always, same run
[ -n "$SPOOL_MODES" ] || exit 0
n=${COUNTS##* }
ensure_containers "$n"
stored() {
	sqlite3 -readonly "$T/dockline.db" "SELECT count(*) FROM events WHERE host = 'bench'
		AND action LIKE 'exec_create: true $1-%'" 2>/dev/null || echo 0
}
srows=()
base_rate='' base_us=''
for mode in $SPOOL_MODES; do
	DL_SPOOL_SYNC=$mode DL_STATS_INTERVAL=10 dl_start_agent bench
	apid=$DL_LAST_PID
	sleep 15
	tag="sp-$mode-$$"
	t0=$(now_ns); a0=$(sched_ns "$apid")
	seq 1 "$EVENTS" | xargs -P 4 -I{} curl -sf -o /dev/null --unix-socket "$SOCK" \
		-H 'Content-Type: application/json' -d "{\"Cmd\":[\"true\",\"$tag-{}\"]}" \
		"http://x/containers/${ids[0]}/exec" || dl_fail "exec_create burst failed"
	tm=$(now_ns)
	end=$((tm + 120000000000))
	while [ "$(stored "$tag")" -lt "$EVENTS" ] && [ "$(now_ns)" -lt "$end" ]; do sleep 0.05; done
	t1=$(now_ns); a1=$(sched_ns "$apid")
	got=$(stored "$tag")
	anon=$(kb "$apid" Anonymous)
	dl_kill_tree "$apid"
	made=$(awk -v e="$EVENTS" -v t=$((tm - t0)) 'BEGIN { printf "%.0f", e / (t / 1e9) }')
	rate=$(awk -v e="$got" -v t=$((t1 - t0)) 'BEGIN { printf "%.0f", e / (t / 1e9) }')
	cpu=$(awk -v a=$((a1 - a0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.2f", 100 * a / t }')
	us=$(awk -v a=$((a1 - a0)) -v e="$got" 'BEGIN { printf "%.1f", e ? a / 1000 / e : 0 }')
	[ -n "$base_rate" ] || { base_rate=$rate; base_us=$us; }
	srows+=("$(printf '%-8s %6s %6s %8s %9s %7s %9s %8s %10s %8s' "$mode" "$EVENTS" "$got" "$made" "$rate" \
		"$cpu" "$us" "$((anon / 1024)).$(((anon % 1024) * 10 / 1024))" \
		"$(awk -v a="$rate" -v b="$base_rate" 'BEGIN { printf "%.2f", b ? a / b : 0 }')" \
		"$(awk -v a="$us" -v b="$base_us" 'BEGIN { printf "%.2f", b ? a / b : 0 }')")")
done
printf '\nspool cost: %s containers, burst of %s exec_create events per spool_sync mode (baseline: off)\n\n' "$n" "$EVENTS"
printf '%-8s %6s %6s %8s %9s %7s %9s %8s %10s %8s\n' spool_sync events stored made/s stored/s cpu_% us/event anon_MiB rate/off us/off
for r in "${srows[@]}"; do echo "$r"; done
