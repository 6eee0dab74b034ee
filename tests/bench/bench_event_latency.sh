#!/usr/bin/env bash
# bench_event_latency.sh - Docker event -> visible through the collector's
# admin socket (what `dockline events` reads), on real parts: dockerd ->
# agent -> private sshd on loopback -> attach -> serve -> writer COMMIT ->
# read-only query. N events (default 200: pause/unpause of one container).
#
#   bash tests/bench/bench_event_latency.sh [N]
#
# Prints p50/p90/p99/max in ms (bench_event_latency polls every 2 ms, which
# adds about 1 ms on average). No assertion on time: the machine is shared.
DL_TEST_NAME=bench_event_latency
. "$(dirname "$0")/../integration/lib.sh"

N=${1:-200}
BENCH=${DL_BENCH_DIR:-$DL_BIN/../bench}/bench_event_latency
[ -x "$BENCH" ] || dl_fail "$BENCH is missing: build the bench_event_latency target"

dl_need_packages
dl_need_dockerd
dl_need_image
dl_need_user
dl_docker_lock_shared
dl_check_bins
dl_start_sshd
dl_start_collector
dl_enroll lat1
dl_start_agent lat1
dl_wait_for 'dl_host_online lat1' 30 "host lat1 online"
cid=$(dl_run_container latbench sleep 3600)
name=$(docker inspect --format '{{.Name}}' "$cid" | tr -d /)
sleep 1
"$BENCH" "$T/admin.sock" lat1 "$name" "$N" 120 >"$T/lat.out" 2>&1 &
bpid=$!
sleep 0.3
for _ in $(seq $(((N + 1) / 2))); do
	docker pause "$cid" >/dev/null
	docker unpause "$cid" >/dev/null
done
wait "$bpid" || { cat "$T/lat.out"; dl_fail "bench_event_latency did not see $N events"; }
cat "$T/lat.out"
