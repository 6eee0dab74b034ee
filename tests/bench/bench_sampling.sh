#!/usr/bin/env bash
# bench_sampling.sh - what one container stats sample costs: reading the
# cgroup files directly (agent/cgroup.c through bench_cgroup) versus asking
# dockerd (GET /containers/ID/stats?stream=false, with and without
# one-shot=true), for N containers (default 10).
#
#   DL_BENCH=path/to/bench_cgroup bash tests/bench/bench_sampling.sh [N] [API_ROUNDS]
#
# Prints a table: wall time per sample, the reader's own CPU per sample,
# dockerd's CPU per sample (utime+stime of /proc/<dockerd>/stat before and
# after) and the ratios against the cgroup path. dockerd serves everyone on
# this machine: other work during the run lands in its figures, so run it
# on a quiet host and look at the "idle" row (dockerd's CPU over the same
# time doing nothing asked by us). Build bench_cgroup without sanitizers
# (CMAKE_BUILD_TYPE=Release) for meaningful cgroup figures.
DL_TEST_NAME=bench_sampling
. "$(dirname "$0")/../integration/lib.sh"

N=${1:-10}
API_ROUNDS=${2:-2}
CG_READS=${CG_READS:-2000}
BENCH=${DL_BENCH:-$DL_BIN/../bench/bench_cgroup}
SOCK=/var/run/docker.sock
TCK=$(getconf CLK_TCK)

dl_need_dockerd
dl_need_image
dl_docker_lock_shared
[ -x "$BENCH" ] || dl_fail "$BENCH is missing: build the bench_cgroup target"

dockerd_pid() {
	local p
	p=$(cat /var/run/docker.pid 2>/dev/null || true)
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null && { echo "$p"; return; }
	pgrep -x -o dockerd
}
DPID=$(dockerd_pid) || dl_fail "no dockerd process"

# dockerd's utime+stime in clock ticks (fields 14 and 15; the command name
# in field 2 has no blanks for dockerd).
dticks() { awk '{ print $14 + $15 }' "/proc/$DPID/stat"; }
now_ns() { date +%s%N; }

dl_log "dockerd pid $DPID, $(docker version --format '{{.Server.Version}}'), cgroup v$(docker info --format '{{.CgroupVersion}}'), $N containers"
ids=() args=()
for i in $(seq 1 "$N"); do
	id=$(dl_run_container "s$i" sleep 3600)
	ids+=("$id")
	args+=("$id:$(docker inspect -f '{{.State.Pid}}' "$id")")
done
sleep 2

# Row: NAME SAMPLES WALL_NS READER_CPU_NS DOCKERD_TICKS
rows=()

# idle: dockerd's own background over a fixed 10 s
t0=$(now_ns); d0=$(dticks); sleep 10; d1=$(dticks); t1=$(now_ns)
idle_ticks_per_s=$(awk -v d=$((d1 - d0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.3f", d / (t / 1e9) }')

# cgroup files
d0=$(dticks)
out=$("$BENCH" -n "$CG_READS" "${args[@]}") || dl_fail "bench_cgroup: $out"
d1=$(dticks)
tot=$(grep '^total ' <<<"$out")
us=$(tr ' ' '\n' <<<"$tot" | sed -n 's/^us_per_sample=//p')
cpu_us=$(tr ' ' '\n' <<<"$tot" | sed -n 's/^cpu_us_per_sample=//p')
samples=$((CG_READS * N))
rows+=("cgroup-files $samples $(awk -v u="$us" -v s=$samples 'BEGIN { printf "%.0f", u * 1000 * s }') \
$(awk -v u="$cpu_us" -v s=$samples 'BEGIN { printf "%.0f", u * 1000 * s }') $((d1 - d0))")

# Docker API, one container after another as a polling agent would.
api_row() { # NAME QUERY
	local name=$1 q=$2 r id t0 t1 d0 d1 c0 c1 n=0
	c0=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
	d0=$(dticks)
	t0=$(now_ns)
	for r in $(seq 1 "$API_ROUNDS"); do
		for id in "${ids[@]}"; do
			curl -sf --max-time 30 --unix-socket "$SOCK" \
				"http://localhost/containers/$id/stats?$q" >/dev/null ||
				dl_fail "stats API call failed for $id ($q)"
			n=$((n + 1))
		done
	done
	t1=$(now_ns)
	d1=$(dticks)
	c1=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
	rows+=("$name $n $((t1 - t0)) $(((c1 - c0) * 1000000000 / TCK)) $((d1 - d0))")
}
api_row "api-stream=false" "stream=false"
api_row "api-one-shot" "stream=false&one-shot=true"

# Per-sample figures (ns): wall, reader CPU, dockerd CPU, and the cost
# that matters for an agent: what producing the sample burns on the host.
# For the cgroup path that is the reader's CPU (+ dockerd's, ~0); for the
# API rows dockerd's CPU only, since curl's is mostly process start-up that
# an agent using libcurl does not pay.
# dockerd's idle background (measured above) over the row's wall time is
# taken out of its figure: other work on the shared daemon is not ours.
per_sample() { # ROW
	awk -v tck="$TCK" -v bg="$idle_ticks_per_s" '{ n = $2
		d = ($5 - bg * $3 / 1e9) * 1e9 / tck; if (d < 0) d = 0
		c = ($1 == "cgroup-files") ? ($4 + d) / n : d / n
		printf "%.1f %.1f %.1f %.1f\n", $3 / n, $4 / n, d / n, c }' <<<"$1"
}
read -r cg_wall _ _ cg_cost <<<"$(per_sample "${rows[0]}")"

printf '\n%-18s %8s %13s %13s %13s %13s %9s %9s\n' method samples "wall/smpl" "reader CPU" "dockerd CPU" "host cost" "wall x" "cost x"
for row in "${rows[@]}"; do
	read -r name n _ <<<"$row"
	read -r w r d c <<<"$(per_sample "$row")"
	awk -v name="$name" -v n="$n" -v w="$w" -v r="$r" -v d="$d" -v c="$c" \
		-v cw="$cg_wall" -v cc="$cg_cost" 'BEGIN {
		printf "%-18s %8d %10.1f us %10.1f us %10.1f us %10.1f us %8.0fx %8.0fx\n",
			name, n, w / 1e3, r / 1e3, d / 1e3, c / 1e3, w / cw, c / cc }'
done
echo
echo "host cost = reader CPU + dockerd CPU for cgroup-files, dockerd CPU for the API rows"
echo "reader CPU of the API rows is curl's (a process per call, start-up included)"
echo "dockerd background while idle: $(awk -v x="$idle_ticks_per_s" -v t="$TCK" 'BEGIN { printf "%.1f", x * 1000 / t }') ms CPU per second, subtracted from its figures"
echo "dockerd CPU is counted in clock ticks ($((1000 / TCK)) ms) over each whole run"
