#!/usr/bin/env bash
# dockerd restarts under a connected agent: the host shows Docker down, then
# up again, and the inventory is re-listed (a container killed by the
# restart shows exited, one started afterwards shows running).
#
# dockerd is shared with every other test and with whatever else runs on
# the machine, so this test only runs with DL_TEST_DOCKER_RESTART=1 (CI sets
# it: it owns its machine). It takes the docker lock exclusively, so no
# other integration test runs while dockerd is down.
. "$(dirname "$0")/lib.sh"

if [ "${DL_TEST_DOCKER_RESTART:-}" != 1 ]; then
	dl_log "SKIPPED: restarts the shared dockerd; set DL_TEST_DOCKER_RESTART=1 to run it"
	exit 77
fi

dl_need_packages
dl_need_dockerd
dl_need_image
dl_need_user
dl_check_bins

exec 9>"$DL_LOCK_DIR/dockline-test-dockerd-use.lock"
dl_log "waiting for the other integration tests to release dockerd"
flock -x 9
dl_log "got the dockerd lock"

export DL_PING_INTERVAL=${DL_PING_INTERVAL:-2}
dl_start_sshd
dl_start_collector
dl_enroll dr1
dl_start_agent dr1
dl_wait_for 'dl_host_online dr1' 30 "host dr1 online"
version=$(docker version --format '{{.Server.Version}}')
docker_up() {
	local out
	out=$(dl_host_json dr1 | jq -c --arg v "$version" \
		'select(.docker_up != false and .docker_version == $v)')
	[ -n "$out" ]
}
dl_wait_for docker_up 20 "host dr1 shows Docker $version up"

old=$(dl_run_container old sleep 3600)
dl_wait_for "[ \"\$(dl_ps_field $old state)\" = running ]" 20 "container old running"

docker_down() {
	local out
	out=$(dl_host_json dr1 | jq -c 'select(.docker_up == false
		or .docker_version == null or .docker_version == "")')
	[ -n "$out" ]
}

# Stop dockerd.
restarted_by=
if command -v systemctl >/dev/null && systemctl is-active -q docker 2>/dev/null; then
	restarted_by=systemd
	systemctl stop docker.socket docker 2>/dev/null || systemctl stop docker
else
	pid=$(cat /var/run/docker.pid 2>/dev/null || true)
	[ -n "$pid" ] || dl_fail "dockerd runs without systemd and without /var/run/docker.pid"
	kill -TERM "$pid"
	# Gone, or a zombie (a container's PID 1 may never reap it).
	gone() { ! kill -0 "$pid" 2>/dev/null || [ "$(cut -d' ' -f3 /proc/$pid/stat 2>/dev/null)" = Z ]; }
	for _ in $(seq 1 300); do gone && break; sleep 0.2; done
	gone || dl_fail "dockerd $pid did not stop within 60 s"
fi
dl_log "dockerd stopped (${restarted_by:-signal})"
# Whatever happens below, bring dockerd back before leaving.
trap 'rc=$?; dl_need_dockerd || true; (exit $rc); dl_cleanup' EXIT

dl_wait_for docker_down 30 "host dr1 shows Docker down"
dl_log "host while Docker is down: $(dl_host_json dr1)"
dl_assert_eq "host still online (only Docker is down)" true "$(dl_host_json dr1 | jq -r .online)"

if [ "$restarted_by" = systemd ]; then
	systemctl start docker
fi
dl_need_dockerd
dl_wait_for docker_up 60 "host dr1 shows Docker up again"

dl_wait_for "[ \"\$(dl_ps_field $old state -a)\" = exited ]" 30 "inventory re-listed: container old shows exited"
new=$(dl_run_container new sleep 3600)
dl_wait_for "[ \"\$(dl_ps_field $new state)\" = running ]" 30 "container new (started after the restart) running"
