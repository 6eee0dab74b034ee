# lib.sh - shared helpers for dockline's real-parts integration tests.
#
# Sourced by tests/integration/test_*.sh. Each test gets its own state dir
# ($T, mktemp -d, mode 755 so the sshd forced command running as dltest can
# read the config and reach the sockets), its own sshd on a free loopback
# port and its own collector, so tests run in parallel with each other and
# with a running quick start. The EXIT trap kills every process started here
# (by pid, with its descendants) and removes the containers labelled with $T.
# Nothing here touches the system sshd or stops the shared dockerd.
#
# Set DL_LIB_NO_INIT=1 before sourcing to get only the dl_need_* helpers
# (tests/run.sh does), DL_KEEP=1 to keep $T after the test.

set -euo pipefail

DL_SRC=${DL_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
DL_BIN=${DL_BIN:-$DL_SRC/build/bin}
DL_TEST_NAME=${DL_TEST_NAME:-$(basename "${0%.sh}")}
DL_IMAGE=dockline-test/busybox:1
DL_USER=dltest
DL_LOCK_DIR=/var/lock
DL_PACKAGES="docker.io openssh-server openssh-client busybox-static jq sqlite3
curl procps libssh2-1-dev libcurl4-openssl-dev libmsgpack-dev libsqlite3-dev
libuv1-dev libinih-dev libjansson-dev pkg-config cmake make gcc clang-format
libssl-dev libwebsockets-dev libwebsockets-evlib-uv python3-websockets libsnappy-dev
prometheus wrk python3-aiosmtpd chromium chromium-driver python3-selenium
clang libclang-rt-14-dev docker-registry nftables iproute2 strace socat"

DL_PIDS=()
DL_PID_START=
# Commands (strings, eval'd) that undo what a test made outside $T and its
# processes (a network namespace, a mount, an nft table): run at exit,
# newest first, after the processes are killed.
DL_UNDO=()

dl_log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "$DL_TEST_NAME" "$*" >&2; }

# ---------------------------------------------------------------- machine

# (dpkg -s also succeeds for a removed package whose config files remain.)
dl_pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Installs whatever of $DL_PACKAGES is missing. Only asks apt when something
# is missing, under a lock so parallel tests do not race on dpkg.
dl_need_packages() {
	local p missing=()
	for p in $DL_PACKAGES; do
		dl_pkg_installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	(
		flock 8
		missing=()
		for p in $DL_PACKAGES; do
			dl_pkg_installed "$p" || missing+=("$p")
		done
		[ ${#missing[@]} -eq 0 ] && exit 0
		dl_log "installing: ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
	) 8>"$DL_LOCK_DIR/dockline-test-apt.lock"
}

dl_docker_ok() {
	[ "$(curl -s --max-time 5 --unix-socket /var/run/docker.sock http://x/_ping 2>/dev/null)" = OK ]
}

# Makes sure dockerd answers. On a machine without systemd (a fresh CI box)
# it is started directly, detached from this test so it outlives it.
dl_need_dockerd() {
	# A test that needs dockerd holds the shared lock first, so it waits
	# while test_docker_restart (exclusive) has dockerd down instead of
	# racing it with a second dockerd. tests/run.sh (DL_LIB_NO_INIT) must
	# not hold it for the whole run.
	[ -n "${DL_LIB_NO_INIT:-}" ] || dl_docker_lock_shared
	dl_docker_ok && return 0
	(
		flock 8
		dl_docker_ok && exit 0
		dl_log "dockerd is not answering: starting it (log /var/log/dockline-test-dockerd.log)"
		setsid dockerd >>/var/log/dockline-test-dockerd.log 2>&1 </dev/null 8>&- 9>&- &
		for _ in $(seq 1 300); do
			dl_docker_ok && exit 0
			sleep 0.2
		done
		echo "dockerd did not answer within 60 s; tail of its log:" >&2
		tail -n 30 /var/log/dockline-test-dockerd.log >&2
		exit 1
	) 8>"$DL_LOCK_DIR/dockline-test-dockerd.lock"
}

# A tiny image built locally from busybox-static: no registry needed. The
# label says which layout it has; an image of that name without it (built
# by hand, missing applets) is rebuilt.
DL_IMAGE_REV=2
dl_image_ok() {
	[ "$(docker image inspect --format '{{index .Config.Labels "dockline.test.image"}}' \
		"$DL_IMAGE" 2>/dev/null)" = "$DL_IMAGE_REV" ]
}

dl_need_image() {
	dl_image_ok && return 0
	(
		flock 8
		dl_image_ok && exit 0
		root=$(mktemp -d)
		trap 'rm -rf "$root"' EXIT
		mkdir -p "$root/bin" "$root/tmp" "$root/proc" "$root/sys" "$root/dev" "$root/etc"
		cp /bin/busybox "$root/bin/busybox"
		for l in sh sleep yes cat echo true ls; do
			ln -s busybox "$root/bin/$l"
		done
		dl_log "building $DL_IMAGE"
		tar -C "$root" -c . | docker import -c 'ENV PATH=/bin' \
			-c "LABEL dockline.test.image=$DL_IMAGE_REV" - "$DL_IMAGE" >/dev/null
	) 8>"$DL_LOCK_DIR/dockline-test-image.lock"
}

# The ssh user the agents log in as. Password '*' (not '!') so the account
# is not locked and key login works with UsePAM no.
dl_need_user() {
	local u=${1:-$DL_USER}
	(
		flock 8
		if ! id "$u" >/dev/null 2>&1; then
			useradd -m -s /bin/sh "$u"
		fi
		if [ "$(getent shadow "$u" | cut -d: -f2)" != '*' ]; then
			usermod -p '*' "$u"
		fi
	) 8>"$DL_LOCK_DIR/dockline-test-user.lock"
}

# Prints a loopback TCP port nobody listens on, outside the ephemeral range
# of outgoing connections (races are handled by the
# callers retrying).
dl_free_port() {
	local used p
	used=$(awk 'NR > 1 && $4 == "0A" { split($2, a, ":"); print strtonum("0x" a[2]) }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)
	while :; do
		p=$((20000 + RANDOM % 12000)) # below the ephemeral range
		grep -qx "$p" <<<"$used" || break
	done
	echo "$p"
}

# ---------------------------------------------------------------- process

# Kills pid and its descendants (children first are collected, then all
# get TERM, then KILL after a grace period).
dl_descendants() {
	local c
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		dl_descendants "$c"
		echo "$c"
	done
}

# dl_gone PID: the process has exited. A zombie counts as gone: a process
# that sshd started and that outlived its session is reparented to PID 1,
# and in a container whose PID 1 is not an init nobody reaps it.
dl_gone() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
	[ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]
}

dl_kill_tree() {
	local sig=${2:-TERM} pids p
	pids="$(dl_descendants "$1") $1"
	for p in $pids; do kill "-$sig" "$p" 2>/dev/null || true; done
	[ "$sig" = KILL ] && return 0
	for _ in $(seq 1 25); do
		local alive=0
		for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && return 0
		sleep 0.2
	done
	for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
}

# dl_pid_start PID: DL_PID_START = the process's start time (clock ticks
# since boot, /proc/PID/stat field 22), or fails when there is no such
# process. Builtins only: fleet tests call it thousands of times.
dl_pid_start() {
	local s f
	DL_PID_START=
	read -r s 2>/dev/null <"/proc/$1/stat" || return 1
	s=${s##*) } # past "pid (comm) ", whatever comm holds
	read -r -a f <<<"$s"
	DL_PID_START=${f[19]}
}

# dl_track PID: cleanup stops PID (and what it started) at exit. It is
# recorded with its start time: with pid_max at 32768 and thousands of
# processes per fleet test, a PID that exited is soon someone else's, and
# cleanup must not kill a neighbouring test's process.
dl_track() {
	dl_pid_start "$1" || DL_PID_START=gone
	DL_PIDS+=("$1:$DL_PID_START")
}

# Starts "$@" in the background with output to LOG; the pid goes to
# DL_LAST_PID and is tracked for cleanup.
dl_spawn() {
	local log=$1
	shift
	"$@" >>"$log" 2>&1 </dev/null 9>&- &
	DL_LAST_PID=$!
	dl_track "$DL_LAST_PID"
}

dl_cleanup() {
	local rc=$? p
	set +e
	trap - EXIT
	for ((i = ${#DL_PIDS[@]} - 1; i >= 0; i--)); do
		p=${DL_PIDS[$i]%%:*}
		# gone, or its PID now names another process: not ours
		dl_pid_start "$p" && [ "$DL_PID_START" = "${DL_PIDS[$i]#*:}" ] || continue
		dl_kill_tree "$p"
	done
	for ((i = ${#DL_UNDO[@]} - 1; i >= 0; i--)); do
		eval "${DL_UNDO[$i]}" >/dev/null 2>&1 ||
			dl_log "cleanup failed: ${DL_UNDO[$i]}"
	done
	if [ -n "${T:-}" ]; then
		local ids
		ids=$(docker ps -aq --filter "label=dockline.test=$T" 2>/dev/null)
		[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
		if [ -n "${DL_KEEP:-}" ]; then
			dl_log "state kept in $T"
		else
			rm -rf "$T"
		fi
	fi
	if [ "$rc" = 0 ]; then
		dl_log "PASS"
	else
		dl_log "FAIL (exit $rc)"
	fi
	exit "$rc"
}

# ---------------------------------------------------------------- reporting

dl_tail_logs() {
	local f
	[ -n "${T:-}" ] || return 0
	for f in "$T"/collector.log "$T"/agent-*.log "$T"/sshd.log; do
		[ -f "$f" ] || continue
		echo "----- tail -n 40 $f" >&2
		tail -n 40 "$f" >&2
	done
	echo "-----" >&2
}

dl_fail() {
	echo "FAIL: $*" >&2
	dl_tail_logs
	exit 1
}

dl_ok() { dl_log "ok: $*"; }

dl_assert_eq() { # DESC EXPECTED ACTUAL
	if [ "$2" != "$3" ]; then
		dl_fail "$1: expected [$2], got [$3]"
	fi
	dl_ok "$1 ($3)"
}

dl_assert_match() { # DESC ERE TEXT
	if ! grep -Eq -- "$2" <<<"$3"; then
		dl_fail "$1: expected a match for /$2/, got: [$3]"
	fi
	dl_ok "$1"
}

dl_assert_no_match() { # DESC ERE TEXT
	if grep -Eq -- "$2" <<<"$3"; then
		dl_fail "$1: expected no match for /$2/, got: [$(grep -E -- "$2" <<<"$3" | head -n 5)]"
	fi
	dl_ok "$1"
}

dl_assert_file_match() { # DESC ERE FILE
	if ! grep -Eq -- "$2" "$3"; then
		dl_fail "$1: expected a line matching /$2/ in $3"
	fi
	dl_ok "$1: $(grep -E -- "$2" "$3" | head -n 1)"
}

# dl_wait_for 'shell condition' TIMEOUT_S [description]
dl_wait_for() {
	local cond=$1 timeout=${2:-20} desc=${3:-$1} end
	end=$(($(date +%s%N) + timeout * 1000000000))
	while :; do
		if (eval "$cond") >/dev/null 2>&1; then
			dl_ok "$desc"
			return 0
		fi
		[ "$(date +%s%N)" -ge "$end" ] && break
		sleep 0.2
	done
	echo "TIMEOUT after ${timeout}s waiting for: $desc" >&2
	[ "$desc" != "$cond" ] && echo "  condition: $cond" >&2
	dl_fail "timed out: $desc"
}

# dl_never 'shell condition' SECONDS [description]: the condition must stay
# false for the whole period.
dl_never() {
	local cond=$1 secs=$2 desc=${3:-$1} end
	end=$(($(date +%s%N) + secs * 1000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		if (eval "$cond") >/dev/null 2>&1; then
			dl_fail "became true, must not: $desc"
		fi
		sleep 0.2
	done
	dl_ok "stayed false for ${secs}s: $desc"
}

# ---------------------------------------------------------------- parts

dl_check_bins() {
	local b
	for b in dockline dockline-collector dockline-agent; do
		[ -x "$DL_BIN/$b" ] || dl_fail "$DL_BIN/$b is missing: build first (cmake --build build)"
	done
	# sshd runs the attach relay as $DL_USER: a checkout it cannot reach
	# (e.g. under /root) is used through a copy in $T.
	if id "$DL_USER" >/dev/null 2>&1 &&
		! runuser -u "$DL_USER" -- test -x "$DL_BIN/dockline-collector"; then
		mkdir -p "$T/bin"
		cp "$DL_BIN/dockline" "$DL_BIN/dockline-collector" "$DL_BIN/dockline-agent" "$T/bin/"
		chmod 755 "$T/bin" "$T/bin"/*
		dl_log "$DL_USER cannot run $DL_BIN/dockline-collector: using a copy in $T/bin"
		DL_BIN=$T/bin
	fi
}

# dl_start_registry: Debian's docker-registry on a free loopback port,
# storing in $T/registry; sets DL_REGISTRY (127.0.0.1:PORT) and an image
# path suffix unique to this test, DL_REGISTRY_TID (docker's lower case).
dl_start_registry() {
	local port
	port=$(dl_free_port)
	mkdir -p "$T/registry"
	cat >"$T/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $T/registry
http:
  addr: 127.0.0.1:$port
EOF
	dl_spawn "$T/registry.log" /usr/bin/docker-registry serve "$T/registry.yml"
	dl_wait_for "curl -sf http://127.0.0.1:$port/v2/ >/dev/null" 20 "registry on 127.0.0.1:$port"
	DL_REGISTRY=127.0.0.1:$port
	DL_REGISTRY_TID=$(printf '%s' "${T##*/}" | tr 'A-Z.' 'a-z-')
}

# Private sshd: own host keys (ed25519 and ecdsa, so the agent has to pick
# the pinned one), own authorized_keys, only dltest, on a free port.
# DL_SSHD_LISTEN: one more address to listen on (it must exist already).
# DL_SSHD_FLAGS: more sshd command-line flags (fleet.sh's -r).
dl_start_sshd() {
	local try
	mkdir -p /run/sshd
	chmod 755 /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$T/ssh_host_ed25519_key" -C "dltest-host"
	ssh-keygen -q -t ecdsa -N '' -f "$T/ssh_host_ecdsa_key" -C "dltest-host"
	touch "$T/authorized_keys"
	chmod 644 "$T/authorized_keys"
	for try in 1 2 3 4 5; do
		DL_SSH_PORT=$(dl_free_port)
		cat >"$T/sshd_config" <<EOF
ListenAddress 127.0.0.1
${DL_SSHD_LISTEN:+ListenAddress $DL_SSHD_LISTEN}
Port $DL_SSH_PORT
HostKey $T/ssh_host_ed25519_key
HostKey $T/ssh_host_ecdsa_key
PidFile $T/sshd.pid
AuthorizedKeysFile $T/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowUsers $DL_USER
MaxStartups ${DL_SSHD_MAXSTARTUPS:-100:30:200}
LogLevel ${DL_SSHD_LOGLEVEL:-VERBOSE}
${DL_SSHD_EXTRA:-}
EOF
		: >"$T/sshd.log"
		# shellcheck disable=SC2086 # DL_SSHD_FLAGS: words
		dl_spawn "$T/sshd.log" /usr/sbin/sshd -D -e ${DL_SSHD_FLAGS:-} -f "$T/sshd_config"
		DL_SSHD_PID=$DL_LAST_PID
		local i
		for i in $(seq 1 50); do
			if ! kill -0 "$DL_SSHD_PID" 2>/dev/null; then
				break
			fi
			if grep -q "Server listening" "$T/sshd.log"; then
				ssh-keyscan -t ed25519 -p "$DL_SSH_PORT" 127.0.0.1 \
					>"$T/known_hosts" 2>/dev/null || true
				if [ -s "$T/known_hosts" ]; then
					chmod 644 "$T/known_hosts"
					dl_write_ssh_wrapper
					dl_log "sshd pid $DL_SSHD_PID on 127.0.0.1:$DL_SSH_PORT"
					return 0
				fi
			fi
			sleep 0.2
		done
		dl_log "sshd on port $DL_SSH_PORT did not come up (try $try):"
		tail -n 5 "$T/sshd.log" >&2
		kill -0 "$DL_SSHD_PID" 2>/dev/null && dl_kill_tree "$DL_SSHD_PID"
	done
	dl_fail "could not start a private sshd"
}

dl_write_collector_conf() {
	cat >"$T/collector.conf" <<EOF
[collector]
database = ${DL_DATABASE:-$T/dockline.db}
agent_socket = $T/agent.sock
admin_socket = $T/admin.sock
attach_users = $DL_USER
log_level = ${DL_COLLECTOR_LOG_LEVEL:-info}
EOF
	if [ -n "${DL_COLLECTOR_PING:-}" ]; then
		echo "ping_interval = $DL_COLLECTOR_PING" >>"$T/collector.conf"
	fi
	# DL_COLLECTOR_KEYS=1: the collector manages its own authorized_keys
	# (dockline enroll writes it), like the package's
	if [ "${DL_COLLECTOR_KEYS:-0}" = 1 ]; then
		cat >>"$T/collector.conf" <<EOF
authorized_keys = $T/authorized_keys
host_key = $T/ssh_host_ed25519_key.pub
public_address = 127.0.0.1:$DL_SSH_PORT
EOF
	fi
	chmod 644 "$T/collector.conf"
}

# Starts `dockline-collector serve` (writing collector.conf the first time)
# and waits for its admin socket to answer.
dl_start_collector() {
	[ -f "$T/collector.conf" ] || dl_write_collector_conf
	echo "=== $(date '+%F %T') starting collector" >>"$T/collector.log"
	dl_spawn "$T/collector.log" "$DL_BIN/dockline-collector" serve -c "$T/collector.conf"
	DL_COLLECTOR_PID=$DL_LAST_PID
	local i
	for i in $(seq 1 100); do
		kill -0 "$DL_COLLECTOR_PID" 2>/dev/null ||
			dl_fail "collector exited at start (see log)"
		if [ -S "$T/admin.sock" ] && dl_cli hosts >/dev/null 2>&1; then
			dl_log "collector pid $DL_COLLECTOR_PID"
			return 0
		fi
		sleep 0.2
	done
	dl_fail "collector admin socket $T/admin.sock did not answer within 20 s"
}

# dl_stop_collector [SIGNAL]: TERM (clean) by default, KILL for a crash.
dl_stop_collector() {
	local sig=${1:-TERM} i
	kill "-$sig" "$DL_COLLECTOR_PID" 2>/dev/null || true
	for i in $(seq 1 50); do
		kill -0 "$DL_COLLECTOR_PID" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$DL_COLLECTOR_PID" 2>/dev/null; then
		[ "$sig" = TERM ] && dl_fail "collector did not stop within 10 s of SIGTERM"
		dl_fail "collector survived SIG$sig"
	fi
	{ wait "$DL_COLLECTOR_PID"; } 2>/dev/null || true
	dl_log "collector stopped (SIG$sig)"
}

dl_cli() {
	"$DL_BIN/dockline" -s "$T/admin.sock" "$@"
}

# dl_enroll NAME: a fresh ed25519 key for the agent; its authorized_keys
# line comes from `dockline enroll`.
dl_enroll() {
	local name=$1 line
	ssh-keygen -q -t ed25519 -N '' -f "$T/key-$name" -C "agent-$name"
	line=$(dl_cli enroll "$name" --key "$T/key-$name.pub" -c "$T/collector.conf") ||
		dl_fail "dockline enroll $name failed: $line"
	[ "$(printf '%s\n' "$line" | wc -l)" = 1 ] ||
		dl_fail "dockline enroll printed more than one line: $line"
	printf '%s\n' "$line" >>"$T/authorized_keys"
	dl_log "enrolled $name: $line"
}

# dl_write_agent_conf NAME [KNOWN_HOSTS]: $T/agent-NAME.conf. DL_DOCKER_SOCKET:
# another Docker socket (e.g. a proxy the test owns).
dl_write_agent_conf() {
	local name=$1 kh=${2:-$T/known_hosts}
	mkdir -p "$T/state-$name"
	cat >"$T/agent-$name.conf" <<EOF
[collector]
address = ${DL_AGENT_ADDR:-127.0.0.1}:$DL_SSH_PORT
user = $DL_USER
identity = $T/key-$name
known_hosts = $kh

[docker]
socket = ${DL_DOCKER_SOCKET:-/var/run/docker.sock}
${DL_DOCKER_LABEL:+label = $DL_DOCKER_LABEL}

[agent]
state_dir = $T/state-$name
stats_interval = ${DL_STATS_INTERVAL:-10}
log_level = ${DL_AGENT_LOG_LEVEL:-info}
ping_interval = ${DL_PING_INTERVAL:-15}
EOF
	# Unset: the agent's default (1s).
	if [ -n "${DL_SPOOL_SYNC:-}" ]; then
		sed -i "/^\[agent\]/a spool_sync = $DL_SPOOL_SYNC" "$T/agent-$name.conf"
	fi
	# Unset: the packaged default policy (read, lifecycle).
	if [ -n "${DL_CONTROL_ALLOW:-}" ]; then
		printf '\n[control]\nallow = %s\n' "$DL_CONTROL_ALLOW" >>"$T/agent-$name.conf"
	fi
}

# dl_start_agent NAME [KNOWN_HOSTS]. DL_AGENT_ADDR: the collector's address
# (default 127.0.0.1); DL_AGENT_WRAP: a command prefix that execs the agent
# (same pid), e.g. "ip netns exec NS".
dl_start_agent() {
	local name=$1
	dl_write_agent_conf "$@"
	echo "=== $(date '+%F %T') starting agent $name" >>"$T/agent-$name.log"
	# shellcheck disable=SC2086 # DL_AGENT_WRAP is words on purpose
	dl_spawn "$T/agent-$name.log" ${DL_AGENT_WRAP:-} "$DL_BIN/dockline-agent" \
		-c "$T/agent-$name.conf"
	eval "DL_AGENT_PID_${name//[.-]/_}=$DL_LAST_PID"
	dl_log "agent $name pid $DL_LAST_PID"
}

# $T/ssh NAME [ssh args...]: ssh with the key of agent NAME and the pinned
# host key (a script, so `timeout` and dl_spawn can run it).
dl_write_ssh_wrapper() {
	cat >"$T/ssh" <<EOF
#!/bin/sh
name=\$1
shift
exec ssh -F /dev/null -p $DL_SSH_PORT -i "$T/key-\$name" -o IdentitiesOnly=yes \\
	-o BatchMode=yes -o StrictHostKeyChecking=yes \\
	-o UserKnownHostsFile=$T/known_hosts -o GlobalKnownHostsFile=/dev/null \\
	-o ConnectTimeout=10 "\$@"
EOF
	chmod 755 "$T/ssh"
}

dl_ssh() { "$T/ssh" "$@"; }

# ---------------------------------------------------------------- gateway

# The gateway's system user (no home, no shell), shared by the tests.
DL_HTTP_USER=dlhttp

dl_need_http_user() {
	(
		flock 8
		id "$DL_HTTP_USER" >/dev/null 2>&1 ||
			useradd --system --no-create-home -s /usr/sbin/nologin "$DL_HTTP_USER"
	) 8>"$DL_LOCK_DIR/dockline-test-user.lock"
}

# dl_http_section LISTEN [LINE...]: prints an [http] section for
# $DL_HTTP_USER (append it to collector.conf before serve starts: serve
# reads `user` to know whose requests need a token).
dl_http_section() {
	local listen=$1
	shift
	printf '\n[http]\nlisten = %s\nuser = %s\n' "$listen" "$DL_HTTP_USER"
	[ $# -eq 0 ] || printf '%s\n' "$@"
}

# The gateway reaches the admin socket through its group, like the
# packaged dockline-admin group. (Again after every serve start.)
dl_http_socket_access() {
	chgrp "$DL_HTTP_USER" "$T/admin.sock"
	chmod 660 "$T/admin.sock"
}

# dl_start_gateway CONF LOG URL [WRAPPER...]: `dockline-collector http`
# (as root unless a wrapper such as `runuser -u USER --` is given: it
# drops to [http] user after binding) and waits until URL answers
# (any HTTP status; -k: the tests' certificates are self-signed). The
# pid goes to DL_HTTP_PID.
dl_start_gateway() {
	local conf=$1 log=$2 url=$3
	shift 3
	dl_spawn "$log" "$@" "$DL_BIN/dockline-collector" http -c "$conf"
	DL_HTTP_PID=$DL_LAST_PID
	dl_wait_for "kill -0 $DL_HTTP_PID && curl -sk -o /dev/null $url/" 20 "gateway listening on $url"
}

# dl_rss_kib PID: VmRSS of a process, KiB.
dl_rss_kib() {
	awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
}

# ---------------------------------------------------------------- docker

# dl_run_container NAME CMD...: prints the full id.
dl_run_container() {
	local name=$1
	shift
	docker run -d --label "dockline.test=$T" --name "dl-${T##*/}-$name" \
		"$DL_IMAGE" "$@"
}

# ---------------------------------------------------------------- JSON

# Flattens the CLI's JSON (an array, an object holding one, or JSON lines)
# into one compact object per line.
DL_JQ_ITEMS='(if type == "array" then .[]
 elif type == "object" and (has("hosts") or has("containers") or has("events") or has("data"))
 then (.hosts // .containers // .events // .data) | (if type == "array" then .[] else . end)
 else . end)'

dl_items() { # dockline args... (without --json)
	dl_cli "$@" --json | jq -c "$DL_JQ_ITEMS"
}

# jq filter selecting items whose id is the full id $id or a prefix of it
# (at least 12 characters).
DL_JQ_ID='((.id // "") | tostring) as $i | ($i | length) >= 12 and ($id | startswith($i))'

dl_host_json() { dl_items hosts | jq -c --arg n "$1" 'select(.name == $n)'; }

# (jq 1.6 -e exits 0 on empty input, so tests look at jq's output instead.)
dl_host_online() {
	local out
	out=$(dl_items hosts | jq -c --arg n "$1" \
		'select(.name == $n and (.online == true or .online == 1 or .online == "true"))')
	[ -n "$out" ]
}

# dl_ps_field ID FIELD [ps args...]
dl_ps_field() {
	local id=$1 f=$2
	shift 2
	dl_items ps "$@" | jq -r --arg id "$id" "select($DL_JQ_ID) | .$f" | head -n 1
}

# dl_event_count ID ACTION [events args...]
dl_event_count() {
	local id=$1 action=$2
	shift 2
	dl_items events --since 1h --limit 100000 "$@" |
		jq -r --arg id "$id" --arg a "$action" "select(($DL_JQ_ID) and .action == \$a) | .action" |
		wc -l
}

# ---------------------------------------------------------------- init

# Every test holds a shared lock on the docker lock for its life; the one
# test that restarts dockerd takes it exclusively. (fd 9 is closed for
# every process started here, so the lock dies with the test.)
dl_docker_lock_shared() {
	# A test that took it exclusively (restarts dockerd) keeps it.
	[ "${DL_DOCKER_LOCK:-}" != exclusive ] || return 0
	exec 9>"$DL_LOCK_DIR/dockline-test-dockerd-use.lock"
	flock -s 9
}

# The usual start of a test against the real thing: packages, a dockerd
# that answers, the test image, the ssh user, the binaries, and the
# shared docker lock for the test's life.
dl_need_all() {
	dl_need_packages
	dl_need_dockerd
	dl_need_image
	dl_need_user
	dl_check_bins
	dl_docker_lock_shared
}

if [ -z "${DL_LIB_NO_INIT:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "integration tests run as root" >&2; exit 1; }
	T=$(mktemp -d /tmp/dl.XXXXXXXX)
	chmod 755 "$T"
	trap dl_cleanup EXIT
	trap 'exit 130' INT TERM
	dl_log "state in $T, binaries in $DL_BIN"
fi
