#!/usr/bin/env bash
# Fault 9: dockerd restarts under a connected agent. Half the burst is
# made, dockerd is stopped (the ticker dies with it) and started again,
# the ticker is started again and the other half is made. The agent's
# event stream resumes from the newest event it accepted: every event
# exactly once, across the restart. Restarting the shared dockerd kills
# every container on the machine, so this case runs only with
# DL_TEST_DOCKER_RESTART=1, holding the docker lock exclusively (as
# tests/integration/test_docker_restart.sh); otherwise its row says
# SKIPPED.
. "$(dirname "$0")/lib.sh"

[ "${DL_TEST_DOCKER_RESTART:-}" = 1 ] ||
	fl_skip_table "restarts the shared dockerd; set DL_TEST_DOCKER_RESTART=1 to run it"

dl_need_packages
dl_need_dockerd
exec 9>"$DL_LOCK_DIR/dockline-test-dockerd-use.lock"
dl_log "waiting for the other integration tests to release dockerd"
flock -x 9
export DL_DOCKER_LOCK=exclusive
dl_log "got the dockerd lock"

fl_setup
half=$((FL_N / 2))
fl_burst x1 "$half"
fl_burst_wait
dl_wait_for "[ \"\$(fl_burst_stored)\" -ge $half ]" 60 "first half of the burst stored"

restarted_by=
if command -v systemctl >/dev/null && systemctl is-active -q docker 2>/dev/null; then
	restarted_by=systemd
	systemctl stop docker.socket docker 2>/dev/null || systemctl stop docker
else
	pid=$(cat /var/run/docker.pid 2>/dev/null || true)
	[ -n "$pid" ] || dl_fail "dockerd runs without systemd and without /var/run/docker.pid"
	kill -TERM "$pid"
	gone() { ! kill -0 "$pid" 2>/dev/null || [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" = Z ]; }
	for _ in $(seq 1 300); do gone && break; sleep 0.2; done
	gone || dl_fail "dockerd $pid did not stop within 60 s"
fi
td=$(fl_now)
dl_log "dockerd stopped (${restarted_by:-signal})"
resumed0=$(grep -c 'events: resuming from' "$T/agent-$FL_H.log" || true)
# Whatever happens below, bring dockerd back before leaving.
trap 'rc=$?; dl_need_dockerd || true; (exit $rc); dl_cleanup' EXIT
sleep 2
[ "$restarted_by" = systemd ] && systemctl start docker
dl_need_dockerd
docker start "$FL_TICKER" >/dev/null || dl_fail "the ticker did not start again"
fault=$(awk -v a="$td" -v b="$(fl_now)" 'BEGIN { printf "%.1f", b - a }')
dl_log "dockerd back and the ticker running after ${fault}s"
# Events made before the agent subscribes again come back only from the
# new dockerd's own replay buffer (256 events, its eventsLimit): make
# 100 in that window, which must all come back through `since`; the
# rest once the agent has resubscribed (it may still be in its 1-30 s
# backoff; more than 256 there would be lost by dockerd, not by us).
early=100
fl_burst x1 "$early" $((half + 1))
fl_burst_wait
dl_wait_for "[ \"\$(grep -c 'events: resuming from' '$T/agent-$FL_H.log')\" -gt $resumed0 ]" 60 \
	"the agent subscribed to the new dockerd's events"
fl_burst x1 $((FL_N - half - early)) $((half + early + 1))
fl_life_start
fl_burst_wait
fl_life_wait
fl_settle 120
# No samples while the ticker was not running: the fault's length.
fl_report "$fault" "dockerd down ${fault}s"
