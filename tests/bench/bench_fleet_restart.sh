#!/usr/bin/env bash
# bench_fleet_restart.sh - a fleet-wide `dockline restart` across N real
# agents (default 20): one private sshd, one collector, N agents each
# with its own key and state dir, all on the local dockerd, each
# restarting its own labelled container (`restart --hosts 'fr*'
# 'NAME-{host}'`), with --parallel 1, 4 and 16.
#
#   DL_BIN=build-rel/bin bash tests/bench/bench_fleet_restart.sh [N] [REPS]
#   (defaults: 20 agents, 3 repetitions of each; about 3 minutes)
#
# Wall time: the whole `dockline restart` command (host list, N child
# requests, the table). Per host: the audit row's duration_ms (collector
# time from routing the request to the agent's answer, which includes
# Docker's restart). Baseline, same run: `docker restart` of the same N
# containers one after the other (one docker CLI each), and the same
# with N docker CLIs at once (what --parallel cannot beat on one dockerd).
# Every container exits on SIGTERM (`sh -c 'trap "exit 0" TERM; sleep
# 100000 & wait'`), so a restart is Docker's stop + start, not the stop
# timeout. Nothing here asserts on time (the machine is shared); it fails
# only when a restart fails or a container was not restarted.
DL_TEST_NAME=bench_fleet_restart
. "$(dirname "$0")/../integration/lib.sh"

N=${1:-20}
REPS=${2:-3}

dl_need_packages
dl_need_dockerd
dl_need_image
dl_need_user
dl_docker_lock_shared
dl_check_bins
[ -n "${EPOCHREALTIME:-}" ] || dl_fail "bash without EPOCHREALTIME (needs bash 5)"
now_us() { NOW=${EPOCHREALTIME//[!0-9]/}; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
pctl() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { i = int(p * NR / 100); if (i < p * NR / 100) i++; if (i < 1) i = 1; print v[i] }'; }
ms() { awk -v u="$1" 'BEGIN { printf "%.0f", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

DL_STATS_INTERVAL=30 # 20 agents on 2 shared cores: sample less
dl_start_sshd
dl_start_collector
HOSTS=()
for i in $(seq -w 1 "$N"); do
	HOSTS+=("fr$i")
	dl_enroll "fr$i" >/dev/null 2>&1
done
for h in "${HOSTS[@]}"; do
	DL_CONTROL_ALLOW="read, lifecycle" dl_start_agent "$h" 2>/dev/null
done
online() { [ "$(dl_items hosts | jq -r 'select(.online == true) | .name' | grep -c '^fr')" = "$N" ]; }
dl_wait_for online 120 "$N agents online"

pfx="dl-${T##*/}"
for h in "${HOSTS[@]}"; do
	docker run -d --label "dockline.test=$T" --label "dl.bench.host=$h" \
		--name "$pfx-$h" "$DL_IMAGE" sh -c 'trap "exit 0" TERM; sleep 100000 & wait' >/dev/null
done
dl_wait_for "[ \"\$(dl_items ps --host ${HOSTS[0]} | grep -c '\"$pfx-fr')\" = $N ]" 60 "$N containers in ps"
DLC=("$DL_BIN/dockline" -s "$T/admin.sock")
started() { for h in "${HOSTS[@]}"; do docker inspect -f '{{.State.StartedAt}}' "$pfx-$h"; done; }

fleet() { # PARALLEL
	local before
	before=$(started)
	now_us; t0=$NOW
	# --timeout: under a loaded dockerd 16 restarts at once may take
	# longer than the default 30 s + t; this measures, it does not judge
	"${DLC[@]}" restart --hosts 'fr*' "$pfx-{host}" -t 10 --timeout 300s \
		--parallel "$1" --json >"$T/out" 2>&1 ||
		dl_fail "fleet restart --parallel $1: $(head -c 2000 "$T/out")"
	now_us
	[ "$(jq -r 'map(select(.result == "ok")) | length' "$T/out")" = "$N" ] ||
		dl_fail "not every host ok: $(cat "$T/out")"
	[ -z "$(comm -12 <(sort <<<"$before") <(started | sort))" ] ||
		dl_fail "a container was not restarted"
	echo $((NOW - t0)) >>"$T/wall.p$1"
	echo "$t0 $NOW" >>"$T/win.p$1"
}
docker_seq() {
	now_us; t0=$NOW
	for h in "${HOSTS[@]}"; do docker restart -t 10 "$pfx-$h" >/dev/null || dl_fail "docker restart"; done
	now_us
	echo $((NOW - t0)) >>"$T/wall.dseq"
}
docker_par() {
	local pids=()
	now_us; t0=$NOW
	for h in "${HOSTS[@]}"; do docker restart -t 10 "$pfx-$h" >/dev/null & pids+=($!); done
	for p in "${pids[@]}"; do wait "$p" || dl_fail "docker restart"; done
	now_us
	echo $((NOW - t0)) >>"$T/wall.dpar"
}

fleet 4 # warm-up
rm -f "$T"/wall.* "$T"/win.*
for _ in $(seq "$REPS"); do
	docker_seq
	fleet 1
	fleet 4
	fleet 16
	docker_par
done

# Per-host durations from the audit log, by each run's time window.
"${DLC[@]}" audit --since 1h --limit 100000 --json >"$T/audit.json"
per_host() { # PARALLEL -> durations (ms), one per line
	while read -r a b; do
		jq -r --argjson a "$((a * 1000))" --argjson b "$((b * 1000))" \
			'(if type == "array" then .[] else . end) | select(.op == "restart" and .time_ns >= $a and .time_ns <= $b) | .duration_ms' \
			"$T/audit.json"
	done <"$T/win.p$1"
}

W1=$(median <"$T/wall.p1")
DS=$(median <"$T/wall.dseq")
printf '\nfleet restart of %s hosts (%s agents, one sshd, one collector, one\n' "$N" "$N"
printf 'dockerd; each host its own container, exits on SIGTERM); median of %s runs\n' "$REPS"
printf 'each, interleaved; wall time in ms; per host: audit duration_ms of\n'
printf 'every host of every run (median / p90 / max)\n\n'
printf '%-34s %9s %8s %8s %8s %9s %9s\n' "" "wall" "host" "p90" "max" "vs p1" "vs docker"
for p in 1 4 16; do
	w=$(median <"$T/wall.p$p")
	per_host "$p" >"$T/ph.p$p"
	[ "$(wc -l <"$T/ph.p$p")" = $((N * REPS)) ] ||
		dl_fail "audit rows for --parallel $p: $(wc -l <"$T/ph.p$p"), expected $((N * REPS))"
	printf '%-34s %9s %8s %8s %8s %9s %9s\n' "dockline restart --parallel $p" "$(ms "$w")" \
		"$(median <"$T/ph.p$p")" "$(pctl 90 <"$T/ph.p$p")" "$(sort -n "$T/ph.p$p" | tail -1)" \
		"$(ratio "$w" "$W1")" "$(ratio "$w" "$DS")"
done
printf '%-34s %9s %8s %8s %8s %9s %9s\n' "docker restart, one by one" "$(ms "$DS")" \
	"$(ms $((DS / N)))" "-" "-" "$(ratio "$DS" "$W1")" "1.00"
DP=$(median <"$T/wall.dpar")
printf '%-34s %9s %8s %8s %8s %9s %9s\n' "docker restart, $N at once" "$(ms "$DP")" \
	"-" "-" "-" "$(ratio "$DP" "$W1")" "$(ratio "$DP" "$DS")"
printf '\n(host for docker one by one: wall / %s)\n' "$N"
printf 'load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
