#!/usr/bin/env bash
# bench_alert_latency.sh - Docker event -> alert notification at a webhook,
# on real parts: dockerd -> agent -> private sshd on loopback -> attach ->
# serve -> writer COMMIT -> pubsub listener -> container_exit rule ->
# notify worker -> HTTP POST to a receiver on loopback. N events (default
# 100): one labelled busybox container per event whose command is
# `sh -c 'exit 3'`, run one after the other, so each die is a container of
# its own and fires exactly once (nothing to resolve first, no doubles).
#
#   bash tests/bench/bench_alert_latency.sh [N]
#
# Latency = arrival (time.time_ns() in the receiver) - the die event's own
# time_ns (Docker's timeNano, as stored). Baseline in the same run: the
# same events' arrival on a `dockline events -f --json` subscriber. Prints
# p50/p90/p99/max of both and their ratio. No assertion on time: the
# machine is shared.
DL_TEST_NAME=bench_alert_latency
. "$(dirname "$0")/../integration/lib.sh"

N=${1:-100}
RECV=$DL_SRC/tests/bench/alert_recv.py

dl_need_packages
dl_need_dockerd
dl_need_image
dl_need_user
dl_docker_lock_shared
dl_check_bins
dl_spawn "$T/recv.log" /usr/bin/python3 "$RECV" recv "$T/recv.port" "$T/hook.out"
dl_wait_for "[ -s $T/recv.port ]" 10 "webhook receiver listening"
dl_start_sshd
dl_write_collector_conf
# Scoped to this run's containers: dockerd is shared with other tests.
cat >>"$T/collector.conf" <<CONF

[notify bench]
kind = webhook
url = http://127.0.0.1:$(cat "$T/recv.port")/alert

[alert exit]
condition = container_exit
containers = dl-${T##*/}-*
severity = critical
notify = bench
resolve = no
CONF
dl_start_collector
dl_enroll alat1
dl_start_agent alat1
dl_wait_for 'dl_host_online alat1' 30 "host alat1 online"
dl_spawn "$T/sub.log" bash -c "'$DL_BIN/dockline' -s '$T/admin.sock' events -f --json |
	/usr/bin/python3 '$RECV' stamp '$T/sub.out'"
sleep 1
uptime
# waits up to S seconds for a line matching ERE in FILE (no failure: a
# missing alert shows in the report's counts)
wait_line() { # ERE FILE S
	local end=$(($(date +%s) + $3))
	until grep -Eq "$1" "$2" 2>/dev/null; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.05
	done
}
for i in $(seq "$N"); do
	docker run --label "dockline.test=$T" --name "dl-${T##*/}-x$i" \
		"$DL_IMAGE" sh -c 'exit 3' >/dev/null 2>&1 || true
	# each die its own episode: its webhook first (or give up)
	wait_line "\"container\": ?\"dl-${T##*/}-x$i\"" "$T/hook.out" 20 ||
		dl_log "no webhook for x$i within 20 s"
done
wait_line "\"name\": ?\"dl-${T##*/}-x$N\"" "$T/sub.out" 20 || true
uptime
dl_cli events --since 1h --limit 100000 --json | jq -c "$DL_JQ_ITEMS" | jq -s . >"$T/events.json"
/usr/bin/python3 "$RECV" report "$T/events.json" "$T/hook.out" "$T/sub.out" "$N" ||
	dl_fail "fewer than $N events reached both the webhook and the subscriber"
