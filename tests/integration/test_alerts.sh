#!/usr/bin/env bash
# Alert rules against real parts: a container whose HEALTHCHECK fails
# fires container_unhealthy and resolves once it passes; a --restart
# always container that exits at once fires restart_loop; a silenced
# container's alert is recorded but sends nothing; killing the agent
# fires host_offline after `for` and reconnecting resolves it. Until
# notify.c is wired, serve logs every message ("alert firing: {...}").
. "$(dirname "$0")/lib.sh"

dl_need_packages
dl_need_dockerd
dl_need_image
dl_need_user
dl_check_bins
dl_docker_lock_shared

dl_start_sshd
dl_write_collector_conf
cat >>"$T/collector.conf" <<EOF

[alert sick]
condition = container_unhealthy
containers = dl-*
for = 3s
severity = critical

[alert loop]
condition = restart_loop
count = 3
window = 2m

[alert off]
condition = host_offline
hosts = al*
for = 5s
