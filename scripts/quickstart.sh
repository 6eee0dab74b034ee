#!/usr/bin/env bash
# scripts/quickstart.sh - dockline on one machine in one command.
#
# Run as root on Debian 12 from a checkout:
#   scripts/quickstart.sh          install deps, build, start everything
#   scripts/quickstart.sh stop     stop what a previous run started
#   scripts/quickstart.sh status   show what is running
#
# It starts, all on this machine: a private sshd on 127.0.0.1:2222 (its own
# config and host keys; the system sshd is not touched), the collector
# (admin socket /run/dockline/admin.sock, the CLI's default) and an agent
# named after this host that reports the local dockerd through that sshd,
# and the HTTP API gateway on 127.0.0.1:9810 with an admin token in
# /var/lib/dockline-quickstart/api-token.
# State (keys, configs, database, logs, pid files) lives in
# /var/lib/dockline-quickstart. Running it again restarts everything.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
STATE=${DL_QUICKSTART_DIR:-/var/lib/dockline-quickstart}
RUN=/run/dockline
PORT=${DL_QUICKSTART_PORT:-2222}
USER_NAME=dockline
BUILD=${DL_BUILD_DIR:-$SRC/build}
PACKAGES="docker.io openssh-server openssh-client jq sqlite3 curl procps
libssh2-1-dev libcurl4-openssl-dev libmsgpack-dev libsqlite3-dev libuv1-dev
libinih-dev libjansson-dev libssl-dev libwebsockets-dev libwebsockets-evlib-uv
libsnappy-dev pkg-config cmake make gcc"
HTTP_USER=dockline-http
HTTP_PORT=${DL_QUICKSTART_HTTP_PORT:-9810}

say() { printf '==> %s\n' "$*"; }
die() { printf 'quickstart: %s\n' "$*" >&2; exit 1; }

# pid_alive NAME: the pid in $STATE/NAME.pid runs the binary we started
# (checked, so a recycled pid is never killed).
pid_alive() {
	local f=$STATE/$1.pid pid exe
	[ -f "$f" ] || return 1
	pid=$(cat "$f")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
	case "$1:$exe" in
	sshd:*/sshd | collector:*/dockline-collector | gateway:*/dockline-collector | agent:*/dockline-agent) return 0 ;;
	esac
	return 1
}

stop_one() {
	local name=$1 pid i
	if pid_alive "$name"; then
		pid=$(cat "$STATE/$name.pid")
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
		say "stopped $name (pid $pid)"
	fi
	rm -f "$STATE/$name.pid"
}

stop_all() {
	# Agent first, so the collector records it going away cleanly.
	stop_one gateway
	stop_one agent
	stop_one collector
	stop_one sshd
}

status() {
	local n
	for n in sshd collector gateway agent; do
		if pid_alive "$n"; then
			printf '  %-9s running, pid %s, log %s\n' "$n" "$(cat "$STATE/$n.pid")" "$STATE/logs/$n.log"
		else
			printf '  %-9s not running\n' "$n"
		fi
	done
}

# start NAME LOG CMD...: detached from this script (own session) so it
# outlives it; pid in $STATE/NAME.pid.
start() {
	local name=$1 log=$2
	shift 2
	echo "=== $(date '+%F %T') start" >>"$log"
	setsid "$@" >>"$log" 2>&1 </dev/null &
	echo $! >"$STATE/$name.pid"
}

# (dpkg -s also succeeds for a removed package whose config files remain.)
pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

need_packages() {
	local p missing=()
	for p in $PACKAGES; do
		pkg_installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

docker_ok() {
	[ "$(curl -s --max-time 5 --unix-socket /var/run/docker.sock http://x/_ping 2>/dev/null)" = OK ]
}

need_dockerd() {
	docker_ok && return 0
	if command -v systemctl >/dev/null && systemctl start docker 2>/dev/null; then
		:
	else
		say "starting dockerd (log /var/log/dockline-quickstart-dockerd.log)"
		setsid dockerd >>/var/log/dockline-quickstart-dockerd.log 2>&1 </dev/null &
	fi
	for _ in $(seq 1 300); do
		docker_ok && return 0
		sleep 0.2
	done
	die "dockerd does not answer on /var/run/docker.sock"
}

host_name() {
	local n
	n=$(hostname -s 2>/dev/null || hostname)
	n=$(printf '%s' "$n" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9.-' '-' | sed 's/^[^a-z0-9]*//' | cut -c1-63)
	[ -n "$n" ] || n=localhost
	printf '%s\n' "$n"
}

[ "$(id -u)" = 0 ] || die "run as root"
mkdir -p "$STATE"

case "${1:-start}" in
stop)
	stop_all
	rm -f "$RUN/admin.sock" "$RUN/agent.sock"
	say "stopped; state kept in $STATE (rm -rf it to start afresh)"
	exit 0
	;;
status)
	status
	exit 0
	;;
start) ;;
*)
	die "usage: $0 [start|stop|status]"
	;;
esac

need_packages
need_dockerd

mkdir -p "$STATE/logs"
say "building (Release) in $BUILD (log $STATE/logs/build.log)"
if ! { cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release &&
	cmake --build "$BUILD" -j"$(nproc)"; } >"$STATE/logs/build.log" 2>&1; then
	tail -n 40 "$STATE/logs/build.log" >&2
	die "the build failed; see $STATE/logs/build.log"
fi

stop_all

if ! id "$USER_NAME" >/dev/null 2>&1; then
	say "creating system user $USER_NAME (ssh key login only)"
	useradd -m -s /bin/sh "$USER_NAME"
fi
# '*' rather than the default '!': no password, but not locked for sshd.
usermod -p '*' "$USER_NAME"
# The HTTP gateway parses network input: it runs as a user of its own.
if ! id "$HTTP_USER" >/dev/null 2>&1; then
	say "creating system user $HTTP_USER (the HTTP gateway)"
	useradd --system --no-create-home -s /usr/sbin/nologin "$HTTP_USER"
fi

# sshd runs the attach relay as $USER_NAME: the binaries, the config and
# the sockets must be reachable for it, which a checkout under /root is
# not. So the binaries run from a copy in the state dir.
chmod 755 "$STATE"
mkdir -p "$STATE/bin" "$STATE/logs" "$STATE/agent-state" "$RUN"
chmod 755 "$STATE/bin" "$RUN"
for b in dockline dockline-collector dockline-agent; do
	install -m 755 "$BUILD/bin/$b" "$STATE/bin/$b.new"
	mv -f "$STATE/bin/$b.new" "$STATE/bin/$b"
done
BIN=$STATE/bin

# Keys survive restarts, so the pinned host key and the enrolment stay.
[ -f "$STATE/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$STATE/ssh_host_ed25519_key" -C dockline-quickstart
[ -f "$STATE/agent_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$STATE/agent_key" -C dockline-quickstart-agent
touch "$STATE/authorized_keys"
chmod 644 "$STATE/authorized_keys"

cat >"$STATE/sshd_config" <<EOF
# Private sshd for the dockline quick start (not the system sshd).
ListenAddress 127.0.0.1
Port $PORT
HostKey $STATE/ssh_host_ed25519_key
PidFile $STATE/sshd.pidfile
AuthorizedKeysFile $STATE/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowUsers $USER_NAME
MaxStartups 100:30:200
LogLevel VERBOSE
EOF

cat >"$STATE/collector.conf" <<EOF
[collector]
database = $STATE/dockline.db
agent_socket = $RUN/agent.sock
admin_socket = $RUN/admin.sock
attach_users = $USER_NAME
log_level = info

[http]
listen = 127.0.0.1:$HTTP_PORT
user = $HTTP_USER
EOF
chmod 644 "$STATE/collector.conf"

mkdir -p /run/sshd
chmod 755 /run/sshd
/usr/sbin/sshd -t -f "$STATE/sshd_config" || die "sshd rejects $STATE/sshd_config"
start sshd "$STATE/logs/sshd.log" /usr/sbin/sshd -D -e -f "$STATE/sshd_config"
for _ in $(seq 1 50); do
	pid_alive sshd || { tail -n 5 "$STATE/logs/sshd.log" >&2; die "sshd exited (port $PORT in use?)"; }
	ssh-keyscan -t ed25519 -p "$PORT" 127.0.0.1 >"$STATE/known_hosts.new" 2>/dev/null || true
	[ -s "$STATE/known_hosts.new" ] && break
	sleep 0.2
done
[ -s "$STATE/known_hosts.new" ] || die "sshd on 127.0.0.1:$PORT does not answer; see $STATE/logs/sshd.log"
mv -f "$STATE/known_hosts.new" "$STATE/known_hosts"
chmod 644 "$STATE/known_hosts"

start collector "$STATE/logs/collector.log" "$BIN/dockline-collector" serve -c "$STATE/collector.conf"
for _ in $(seq 1 100); do
	pid_alive collector || { tail -n 10 "$STATE/logs/collector.log" >&2; die "the collector exited"; }
	"$BIN/dockline" -s "$RUN/admin.sock" hosts >/dev/null 2>&1 && break
	sleep 0.2
done
"$BIN/dockline" -s "$RUN/admin.sock" hosts >/dev/null 2>&1 ||
	die "the collector does not answer on $RUN/admin.sock; see $STATE/logs/collector.log"

# The gateway's user may open the admin socket (its group); serve still
# wants a token on every request from that user.
chgrp "$HTTP_USER" "$RUN/admin.sock"
start gateway "$STATE/logs/gateway.log" "$BIN/dockline-collector" http -c "$STATE/collector.conf"
# A token kept from an earlier run still works unless the database went.
if ! [ -s "$STATE/api-token" ] || ! DOCKLINE_TOKEN=$(cat "$STATE/api-token") \
	"$BIN/dockline" -s "$RUN/admin.sock" hosts >/dev/null 2>&1; then
	"$BIN/dockline" -s "$RUN/admin.sock" token revoke quickstart >/dev/null 2>&1 || true
	( umask 077; "$BIN/dockline" -s "$RUN/admin.sock" token create quickstart --role admin |
		sed -n 2p >"$STATE/api-token" )
	grep -q '^dlt_' "$STATE/api-token" || die "could not create the API token"
fi
for _ in $(seq 1 50); do
	pid_alive gateway || { tail -n 10 "$STATE/logs/gateway.log" >&2; die "the HTTP gateway exited"; }
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$STATE/api-token")" \
		"http://127.0.0.1:$HTTP_PORT/api/v1/hosts")" = 200 ] && break
	sleep 0.2
done

NAME=$(host_name)
say "enrolling this host as $NAME"
"$BIN/dockline" -s "$RUN/admin.sock" enroll "$NAME" --key "$STATE/agent_key.pub" \
	-c "$STATE/collector.conf" >"$STATE/authorized_keys.new"
[ "$(wc -l <"$STATE/authorized_keys.new")" = 1 ] || die "dockline enroll did not print one line"
mv -f "$STATE/authorized_keys.new" "$STATE/authorized_keys"
chmod 644 "$STATE/authorized_keys"

cat >"$STATE/agent.conf" <<EOF
[collector]
address = 127.0.0.1:$PORT
user = $USER_NAME
identity = $STATE/agent_key
known_hosts = $STATE/known_hosts

[docker]
socket = /var/run/docker.sock

[agent]
state_dir = $STATE/agent-state
stats_interval = 10
log_level = info
EOF

start agent "$STATE/logs/agent.log" "$BIN/dockline-agent" -c "$STATE/agent.conf"

online=
for _ in $(seq 1 300); do
	pid_alive agent || { tail -n 10 "$STATE/logs/agent.log" >&2; die "the agent exited"; }
	# (jq 1.6 -e exits 0 on empty input: look at the output instead.)
	if [ -n "$("$BIN/dockline" -s "$RUN/admin.sock" hosts --json 2>/dev/null |
		jq -c --arg n "$NAME" '(if type == "array" then .[] else (.hosts // [])[] end)
			| select(.name == $n and .online == true)' 2>/dev/null)" ]; then
		online=1
		break
	fi
	sleep 0.2
done
if [ -z "$online" ]; then
	echo "--- agent log" >&2
	tail -n 20 "$STATE/logs/agent.log" >&2
	echo "--- collector log" >&2
	tail -n 20 "$STATE/logs/collector.log" >&2
	die "host $NAME did not come online within 60 s"
fi

cat <<EOF

dockline is running on this machine:
$(status)
  host      $NAME (agent -> sshd 127.0.0.1:$PORT -> collector)
  state     $STATE (configs, keys, dockline.db, logs/)

$("$BUILD/bin/dockline" hosts)

Try:
  $BUILD/bin/dockline hosts
  $BUILD/bin/dockline ps -a
  $BUILD/bin/dockline events --since 10m
  $BUILD/bin/dockline events -f          (follow; Ctrl-C to stop)
  $BUILD/bin/dockline info $NAME         (through the agent: Docker's own info)
  $BUILD/bin/dockline logs $NAME/CONTAINER --tail 20
  $BUILD/bin/dockline audit              (every control request and how it ended)
  curl -H "Authorization: Bearer \$(cat $STATE/api-token)" http://127.0.0.1:$HTTP_PORT/api/v1/hosts
                                        (the HTTP API: docs/API.md)

Stop it all:  $SRC/scripts/quickstart.sh stop
EOF
