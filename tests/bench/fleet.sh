#!/usr/bin/env bash
# fleet.sh - N real agents through one real sshd against one collector.
#
#   DL_BIN=build/bin bash tests/bench/fleet.sh N [--stagger MS] [--steady S] [--no-rexec]
#                                                [--serve-weight W] [--agents-idle]
#
# Every agent has its own key, enrollment and state dir, and reads the
# shared local dockerd (stats every 10 s) but watches only the CONTAINERS
# (3) containers labelled for this run ([docker] label): the machine
# stays usable, and the collector sees N hosts of 3 containers each. sshd is configured as docs/INSTALL.md
# says for large fleets (MaxStartups 200:30:1000, LoginGraceTime 30,
# ClientAlive 30 x 3). The agents start all at once, or one every MS ms.
# --no-rexec starts sshd with -r, as docs/INSTALL.md describes for hosts
# short of memory (each session forks from the listener and shares its
# pages instead of exec'ing sshd afresh; it gives up per-connection
# address-space randomisation).
# --serve-weight W gives serve's cgroup systemd's CPUWeight W (default:
# the packaged unit's). --agents-idle makes the agents' cgroup SCHED_IDLE
# (cgroup v1 cpu.idle): they run only on CPU that sshd, attach and serve
# leave, closer to agents on other machines than an equal share is.
#
# Reported:
#  1. connect storm: time until all N are online, and the latency of the
#     admin `hosts` query asked every 100 ms meanwhile (p50/p99/max);
#  2. steady state: RSS and PSS (smaps_rollup) and CPU of serve, sshd
#     (listener and session processes, summed), attach (summed) and the
#     agents (summed); ingest rows/s stored vs expected;
#  3. event fan-in: one `docker create` seen by all N agents, from
#     dockerd's time to a subscriber on the admin socket (p50/p99/max);
#  4. reconnect storm: serve killed with SIGKILL, one event while it is
#     down, serve restarted: time until all N sessions are back, new SSH
#     handshakes (sshd's "Accepted publickey" lines; goal 0: attach keeps
#     the SSH connection), the outage's event lost or duplicated per host.
# Everything started here is stopped and removed at exit (lib.sh).
# Nothing asserts on time; it fails when something does not work.
DL_TEST_NAME=fleet
. "$(dirname "$0")/../integration/lib.sh"

N=${1:-100}
shift || true
STAGGER_MS=0
STEADY_S=30
# serve's CPU weight (systemd's CPUWeight, 1..10000): the packaged unit's
SERVE_WEIGHT=$(sed -n 's/^CPUWeight=\([0-9]*\)$/\1/p' "$DL_SRC/packaging/dockline-collector.service")
SERVE_WEIGHT=${SERVE_WEIGHT:-100}
CONTAINERS=3
AGENTS_IDLE=0
while [ $# -gt 0 ]; do
	case $1 in
	--stagger) STAGGER_MS=$2 && shift 2 ;;
	--steady) STEADY_S=$2 && shift 2 ;;
	--no-rexec) export DL_SSHD_FLAGS=-r && shift ;;
	--serve-weight) SERVE_WEIGHT=$2 && shift 2 ;;
	--agents-idle) AGENTS_IDLE=1 && shift ;;
	*) dl_fail "unknown argument $1" ;;
	esac
done
[[ $N =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] && [ "$N" -le 5000 ] || dl_fail "N must be 1 to 5000"
[[ $SERVE_WEIGHT =~ ^[0-9]+$ ]] && [ "$SERVE_WEIGHT" -ge 1 ] && [ "$SERVE_WEIGHT" -le 10000 ] ||
	dl_fail "--serve-weight must be 1 to 10000 (systemd's CPUWeight)"
POLL=${DL_BENCH_DIR:-$DL_SRC/build/bench}/bench_fleetpoll
[ -x "$POLL" ] || dl_fail "$POLL is missing: build the benches first"

dl_need_all
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((N * 2 + 200)) ] || dl_fail "$N agents need $((N * 2 + 200)) open files in serve"

# Only our labelled containers: every agent reads the one shared dockerd,
# and each event there would otherwise reach (and be inspected by) all N.
export DL_STATS_INTERVAL=10 DL_AGENT_LOG_LEVEL=warn DL_DOCKER_LABEL="dockline.test=$T"
export DL_SSHD_MAXSTARTUPS=200:30:1000 DL_SSHD_EXTRA="LoginGraceTime 30
ClientAliveInterval 30
ClientAliveCountMax 3"
# Where each part would run in production, as CPU cgroups: the agents are
# on other machines ("remote"), sshd and the attach relays it starts in
# ssh.service's cgroup, serve in its own service's. Under the connect
# storm the CPU is then shared per part, as systemd shares it, instead
# of per process (hundreds of sshd handshakes would otherwise starve
# serve's one thread pool); and the other users of this machine keep
# their share. Without cgroup v1's cpu controller, everything runs in
# one group (and the figures say so).
CG=/sys/fs/cgroup/cpu/dl-fleet-${T##*/}
CG_ON=0
if mkdir "$CG" 2>/dev/null && mkdir "$CG/remote" "$CG/ssh" "$CG/collector"; then
	CG_ON=1
	# cgroup v1 shares for systemd's CPUWeight (100 = 1024)
	echo $((SERVE_WEIGHT * 1024 / 100)) >"$CG/collector/cpu.shares"
	# --agents-idle: the agents get only CPU nobody else here wants
	# (SCHED_IDLE for the group), as if they ran elsewhere
	if [ "$AGENTS_IDLE" = 1 ] && ! echo 1 >"$CG/remote/cpu.idle"; then
		dl_fail "--agents-idle: this kernel's cpu controller has no cpu.idle"
	fi
fi
cg_remove() { [ "$CG_ON" = 1 ] && rmdir "$CG/remote" "$CG/ssh" "$CG/collector" "$CG" 2>/dev/null; true; }
# lib.sh's cleanup runs DL_UNDO after it has stopped every process
DL_UNDO+=("cg_remove")
# cg_run GROUP CMD...: runs CMD with this shell in GROUP, whose children
# (spawned by CMD) stay there
cg_run() {
	local g=$1
	shift
	[ "$CG_ON" = 1 ] && echo "$BASHPID" >"$CG/$g/cgroup.procs"
	"$@"
	[ "$CG_ON" = 1 ] && echo "$BASHPID" >"$(dirname "$CG")/cgroup.procs"
	true
}

cg_run ssh dl_start_sshd
dl_write_collector_conf
cg_run collector dl_start_collector

calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
accepted() { grep -c 'Accepted publickey' "$T/sshd.log" || true; }
# tree COMM: pids under our sshd (itself included) whose name is COMM, from
# one ps (sshd: the listener and the session processes; dockline-attach:
# the relays its forced command runs)
tree() {
	ps -e -o pid=,ppid=,comm= | awk -v root="$DL_SSHD_PID" -v want="$1" '
		{ par[$1] = $2; comm[$1] = $3 }
		END {
			for (p in par) {
				q = p
				while (q != root && q in par && q > 1) q = par[q]
				if (q == root && comm[p] == want) printf "%s ", p
			}
		}'
}
agent_pids() { echo "${AGENT_PIDS[*]}"; }
# mem "PIDS": summed RSS and PSS (MiB)
mem() {
	local p r=0 s=0 a b
	for p in $1; do
		read -r a b < <(awk '$1 == "Rss:" { r = $2 } $1 == "Pss:" { p = $2 } END { print r + 0, p + 0 }' \
			"/proc/$p/smaps_rollup" 2>/dev/null || echo 0 0)
		r=$((r + a))
		s=$((s + b))
	done
	echo "$(calc "$r/1024") $(calc "$s/1024")"
}
# cpu "PIDS": summed user+system CPU seconds of live processes
cpu() {
	local p t=0 v hz
	hz=$(getconf CLK_TCK)
	for p in $1; do
		v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)
		t=$((t + v))
	done
	calc "$t/$hz" 2
}
count() { wc -w <<<"$1"; }
# sched_snap: serve's loop thread and its other threads (summed): ns run
# on a CPU and ns runnable but waiting for one (/proc/*/schedstat)
sched_snap() {
	local t l=(0 0) o=(0 0) v
	for t in /proc/"$DL_COLLECTOR_PID"/task/*; do
		read -r -a v 2>/dev/null <"$t/schedstat" || continue
		if [ "${t##*/}" = "$DL_COLLECTOR_PID" ]; then
			l=("${v[0]}" "${v[1]}")
		else
			o=($((o[0] + v[0])) $((o[1] + v[1])))
		fi
	done
	echo "${l[*]} ${o[*]}"
}

# ---- containers every agent sees ------------------------------------------
for i in $(seq 1 "$CONTAINERS"); do
	dl_run_container "c$i" sleep 36000 >/dev/null
done
dl_log "$CONTAINERS containers running"

# ---- N agents, enrolled -----------------------------------------------------
dl_log "enrolling $N agents"
names=()
for i in $(seq 1 "$N"); do
	names+=("$(printf 'fa-%04d' "$i")")
done
for n in "${names[@]}"; do
	dl_enroll "$n" 2>>"$T/enroll.log"
	dl_write_agent_conf "$n"
done

# ---- 1. connect storm -------------------------------------------------------
"$POLL" hosts "$T/admin.sock" "$N" $((N / 2 + 300)) >"$T/storm.txt" &
poll_pid=$!
dl_track "$poll_pid"
AGENT_PIDS=()
t0=$(date +%s%N)
start_agents() {
	for n in "${names[@]}"; do
		dl_spawn "$T/agent-$n.log" "$DL_BIN/dockline-agent" -c "$T/agent-$n.conf"
		AGENT_PIDS+=("$DL_LAST_PID")
		[ "$STAGGER_MS" = 0 ] || sleep "$(calc "$STAGGER_MS/1000" 3)"
	done
}
sched0=$(sched_snap)
cg_run remote start_agents
dl_log "$N agents started in $(calc "($(date +%s%N) - $t0)/1e9") s"
wait "$poll_pid" || dl_fail "not all $N agents came online: $(cat "$T/storm.txt")"
storm_s=$(calc "($(date +%s%N) - $t0)/1e9")
sched1=$(sched_snap)
dl_log "all $N online ${storm_s} s after the first agent started"

# serve's own share of those latencies (dockline_admin_query_seconds):
# the bucket holding the 99th percentile, and how many took over 100 ms
"$DL_BIN/dockline" -s "$T/admin.sock" metrics 2>/dev/null | awk '
	/^dockline_admin_query_seconds_bucket/ {
		le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le); b[++n] = le; c[n] = $2 }
	/^dockline_admin_query_seconds_count/ { total = $2 }
	END {
		if (!total) { print "serve-side query time: none recorded"; exit }
		for (i = 1; i <= n; i++) if (c[i] >= 0.99 * total) { p99 = b[i]; break }
		for (i = 1; i <= n; i++) if (b[i] == "0.1") over = total - c[i]
		printf "serve-side query time: n=%d p99 <= %s s, %d over 100 ms\n", total, p99, over
	}' >"$T/serve_q.txt"
# and serve's own account of its slow ones (over 100 ms), worst three
grep -o 'slow query.*' "$T/collector.log" | sort -t: -k2 -n | tail -n 3 >>"$T/serve_q.txt" || true

# ---- 2. steady state --------------------------------------------------------
sleep 15 # the INVENTORYs and first samples of the last ones
SP=$(tree sshd)
AP=$(tree dockline-attach)
GP=$(agent_pids)
c_serve0=$(cpu "$DL_COLLECTOR_PID")
c_sshd0=$(cpu "$SP")
c_attach0=$(cpu "$AP")
c_agents0=$(cpu "$GP")
running=$(docker ps -q --filter "label=dockline.test=$T" | wc -l)
rows0=$(sqlite3 "$T/dockline.db" 'SELECT count(*) FROM container_samples')
w0=$(date +%s%N)
sleep "$STEADY_S"
rows1=$(sqlite3 "$T/dockline.db" 'SELECT count(*) FROM container_samples')
w=$(calc "($(date +%s%N) - $w0)/1e9" 3)
c_serve1=$(cpu "$DL_COLLECTOR_PID")
c_sshd1=$(cpu "$SP")
c_attach1=$(cpu "$AP")
c_agents1=$(cpu "$GP")
read -r m_serve_r m_serve_p < <(mem "$DL_COLLECTOR_PID")
read -r m_sshd_r m_sshd_p < <(mem "$SP")
read -r m_attach_r m_attach_p < <(mem "$AP")
read -r m_agents_r m_agents_p < <(mem "$GP")

# ---- 3. event fan-in --------------------------------------------------------
fan=fanin-${T##*/}
"$POLL" events "$T/admin.sock" "$fan" "$N" 120 >"$T/fanin.txt" &
fan_pid=$!
dl_track "$fan_pid"
dl_wait_for "grep -q ready $T/fanin.txt" 30 "subscriber ready"
docker create --label "dockline.test=$T" --name "$fan" "$DL_IMAGE" true >/dev/null
wait "$fan_pid" || true

# ---- 4. reconnect storm after SIGKILL of serve -----------------------------
ssh0=$(accepted)
dl_stop_collector KILL
out=outage-${T##*/}
docker create --label "dockline.test=$T" --name "$out" "$DL_IMAGE" true >/dev/null
sleep 2
conn0=$(grep -c ' connected (' "$T/collector.log" || true)
r0=$(date +%s%N)
cg_run collector dl_start_collector
dl_wait_for "[ \$((\$(grep -c ' connected (' $T/collector.log) - $conn0)) -ge $N ]" $((N / 2 + 120)) \
	"all $N sessions back in the new serve"
resume_s=$(calc "($(date +%s%N) - $r0)/1e9")
# the spooled event comes with the resend; give stragglers 60 s
for _ in $(seq 1 60); do
	[ "$(sqlite3 "$T/dockline.db" "SELECT count(DISTINCT host) FROM events WHERE name = '$out'")" -ge "$N" ] && break
	sleep 1
done
ssh_new=$(($(accepted) - ssh0))
read -r ev_hosts ev_rows < <(sqlite3 -separator ' ' "$T/dockline.db" \
	"SELECT count(DISTINCT host), count(*) FROM events WHERE name = '$out' AND action = 'create'")

# ---- report -----------------------------------------------------------------
printf '\n==== fleet: %d real agents, one sshd%s, one collector (%s; %s)\n' "$N" \
	"$([ -n "${DL_SSHD_FLAGS:-}" ] && echo " (sshd $DL_SSHD_FLAGS)")" \
	"$([ "$STAGGER_MS" = 0 ] && echo "all at once" || echo "one every $STAGGER_MS ms")" \
	"$([ "$CG_ON" = 1 ] && echo "CPU cgroups: agents$([ "$AGENTS_IDLE" = 1 ] && echo " (idle)"), sshd+attach, serve (weight $SERVE_WEIGHT)" || echo "no CPU cgroups")"
printf '%-44s %s s\n' "time to all online" "$storm_s"
sed -n 's/^hosts latency: /admin hosts during the storm: /p; s/^hosts failures: /admin hosts failures: /p' "$T/storm.txt"
sed 's/^/admin hosts during the storm, /' "$T/serve_q.txt"
read -r a0 b0 c0 d0 <<<"$sched0"
read -r a1 b1 c1 d1 <<<"$sched1"
printf '%-44s loop ran %s s, waited %s s for a CPU; other threads ran %s s, waited %s s\n' \
	"serve's threads during the storm" "$(calc "($a1 - $a0)/1e9" 2)" "$(calc "($b1 - $b0)/1e9" 2)" \
	"$(calc "($c1 - $c0)/1e9" 2)" "$(calc "($d1 - $d0)/1e9" 2)"
printf '%-44s %-10s %-10s %s\n' "steady state ($STEADY_S s)" "RSS MiB" "PSS MiB" "CPU % of one core"
row() { printf '%-44s %-10s %-10s %s\n' "$1" "$2" "$3" "$(calc "($5 - $4) * 100 / $w")"; }
row "serve" "$m_serve_r" "$m_serve_p" "$c_serve0" "$c_serve1"
row "sshd ($(count "$SP") processes)" "$m_sshd_r" "$m_sshd_p" "$c_sshd0" "$c_sshd1"
row "attach ($(count "$AP") processes)" "$m_attach_r" "$m_attach_p" "$c_attach0" "$c_attach1"
row "agents ($(count "$GP") processes)" "$m_agents_r" "$m_agents_p" "$c_agents0" "$c_agents1"
printf '%-44s %s rows/s (expected %s: %d x %d running containers every 10 s)\n' "ingest stored" \
	"$(calc "($rows1 - $rows0)/$w")" "$(calc "$N * $running / 10")" "$N" "$running"
sed -n 's/^/fan-in: /p' "$T/fanin.txt" | grep -v ready
printf '%-44s %s s\n' "reconnect storm: all sessions back after" "$resume_s"
printf '%-44s %d\n' "reconnect storm: new SSH handshakes" "$ssh_new"
printf '%-44s %d lost, %d duplicated (of %d hosts)\n' "reconnect storm: the outage's event" \
	"$((N - ev_hosts))" "$((ev_rows - ev_hosts))" "$N"
