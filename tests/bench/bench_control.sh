#!/usr/bin/env bash
# bench_control.sh - what `dockline` control costs over asking dockerd
# directly, on real parts: dockline -> collector admin socket -> router
# -> private sshd on loopback -> agent -> dockerd, and back.
#
#   DL_BIN=build-rel/bin bash tests/bench/bench_control.sh [N] [LOG_MIB] [EXEC_MIB] [RUNS]
#   (defaults: 200 calls, 100 MiB of log, 50 MiB of exec output, 1 run
#   of each logs reader; EXEC_RUNS=3 exec runs; about 2-3 minutes)
#
# 1. Round trip: N inspects of one running container through the Docker
#    API (curl) and through `dockline inspect --json`, interleaved, after
#    5 warm-ups of each. Both spawn a process per call, so process start
#    is in both figures; it is measured alone too (curl --version,
#    dockline --help), since curl's is the larger. When perl (with
#    Time::HiRes) is there, the same in one process (no spawn; a new
#    connection per call on both sides, as the CLI makes): the cost of
#    the path itself.
# 2. logs: a container writes LOG_MIB of stdout (lines of 128 bytes) and
#    exits; then RUNS times each, interleaved: the raw Docker logs API
#    (curl), `docker logs` and `dockline logs`, all into cksum. What
#    dockline delivers must equal, in length and CRC, what `docker logs`
#    gives. CPU seconds of dockerd, the agent, the sshd session, the
#    attach relay, the collector and the client (CLI + cksum) during the
#    first run of each. VmRSS before and VmHWM (the peak; reset through
#    clear_refs before the run) of the agent, the collector (serve) and
#    the attach relay sshd runs for the agent's session.
# 3. The same logs read by a slow client: nothing read for STALL s
#    (default 5), then SLOW_MIB (default 16) at 256 KiB per 50 ms, then
#    the rest at full speed. The peaks should stay near the fast run's:
#    the credit window (DL_CONTROL_WINDOW, 512 KiB per stream) and the
#    agent's half-full tunnel queue bound them.
# 4. exec output: `sh -c 'yes LINE | head -c EXEC_MIB'` through
#    `dockline exec` and `docker exec`, EXEC_RUNS times each.
# No assertion on time (the machine is shared); it fails only when
# something does not work (an error, a wrong byte count or CRC).
DL_TEST_NAME=bench_control
. "$(dirname "$0")/../integration/lib.sh"

N=${1:-200}
LOG_MIB=${2:-100}
EXEC_MIB=${3:-50}
RUNS=${4:-1}
EXEC_RUNS=${EXEC_RUNS:-3}
STALL=${STALL:-5}
SLOW_MIB=${SLOW_MIB:-16}
WARM=5
SOCK=/var/run/docker.sock
API=http://x/v1.41
HOST=bench
LOG_BYTES=$((LOG_MIB * 1048576))
EXEC_BYTES=$((EXEC_MIB * 1048576))
# 127 characters + newline: LOG_BYTES is a whole number of lines.
LINE=$(printf 'dockline bench log line %0103d' 0)

dl_need_packages
dl_need_dockerd
dl_need_image
dl_need_user
dl_docker_lock_shared
dl_check_bins

TCK=$(getconf CLK_TCK)
DPID=$(cat /var/run/docker.pid 2>/dev/null || pgrep -x -o dockerd) || dl_fail "no dockerd process"

# Microseconds, without spawning anything (bash 5).
[ -n "${EPOCHREALTIME:-}" ] || dl_fail "bash without EPOCHREALTIME (needs bash 5)"
now_us() { NOW=${EPOCHREALTIME//[!0-9]/}; }

# pct FILE P: the P-th percentile (nearest rank) of microseconds, in ms.
pct() {
	sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 }
		END { i = int(p * NR / 100); if (i < p * NR / 100) i++; if (i < 1) i = 1
		      printf "%.2f", v[i] / 1000 }'
}
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.2f", a - b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# utime+stime (clock ticks) of pids (all their threads); with -c the
# reaped children's instead (cutime+cstime).
ticks() {
	local f=12 p s t=0
	[ "$1" = -c ] && { f=14; shift; }
	for p in "$@"; do
		s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		t=$((t + $(awk -v f=$f '{ print $f + $(f + 1) }' <<<"${s##*) }")))
	done
	echo "$t"
}

dl_start_sshd
dl_start_collector
dl_enroll "$HOST"
DL_CONTROL_ALLOW=all dl_start_agent "$HOST"
APID=$DL_LAST_PID
dl_wait_for "dl_host_online $HOST" 30 "host $HOST online"

# The agent's session on the server side: sshd's processes for it and the
# attach relay they run (comm is cut at 15 characters).
ATT=
SSHDS=()
for p in $(dl_descendants "$DL_SSHD_PID"); do
	case $(cat "/proc/$p/comm" 2>/dev/null) in
	dockline-collec) ATT=$p ;;
	sshd) SSHDS+=("$p") ;;
	esac
done
[ -n "$ATT" ] || dl_fail "no dockline-collector attach process under sshd $DL_SSHD_PID"
PROCS=("agent:$APID" "collector:$DL_COLLECTOR_PID" "attach:$ATT")

pfx="dl-${T##*/}"
DLC=("$DL_BIN/dockline" -s "$T/admin.sock")

# ---------------------------------------------------------------- 1. inspect
svc=$(dl_run_container svc sleep 3600)
SVC=$pfx-svc
dl_wait_for "[ \"\$(dl_ps_field $svc state)\" = running ]" 20 "svc in ps"

# The name on both sides, so dockerd does the same lookup for both.
api_inspect() { curl -sf --unix-socket "$SOCK" "$API/containers/$SVC/json" >/dev/null; }
dl_inspect() { "${DLC[@]}" inspect "$HOST/$SVC" --json >/dev/null; }

for _ in $(seq "$WARM"); do
	api_inspect || dl_fail "curl inspect of $SVC failed"
	dl_inspect || dl_fail "dockline inspect $HOST/$SVC failed"
done
: >"$T/rt.api"
: >"$T/rt.dl"
for _ in $(seq "$N"); do
	now_us; t0=$NOW
	api_inspect || dl_fail "curl inspect of $SVC failed"
	now_us; t1=$NOW
	dl_inspect || dl_fail "dockline inspect $HOST/$SVC failed"
	now_us
	echo $((t1 - t0)) >>"$T/rt.api"
	echo $((NOW - t1)) >>"$T/rt.dl"
done
# Process start alone, the same way.
: >"$T/st.api"
: >"$T/st.dl"
for _ in $(seq $((N < 50 ? N : 50))); do
	now_us; t0=$NOW
	curl --version >/dev/null
	now_us; t1=$NOW
	"$DL_BIN/dockline" --help >/dev/null
	now_us
	echo $((t1 - t0)) >>"$T/st.api"
	echo $((NOW - t1)) >>"$T/st.dl"
done

# The same without process start: one perl process, a new connection per
# call on both sides (HTTP/1.0 to dockerd; one admin frame to the
# collector, frames read until the final JSON one).
cat >"$T/rt.pl" <<'EOF'
use strict;
use warnings;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(time);

my ($dsock, $asock, $host, $name, $n, $warm, $out_api, $out_dl) = @ARGV;

sub conn {
	my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $_[0])
		or die "connect $_[0]: $!\n";
	$s->autoflush(1);
	return $s;
}

sub read_n {
	my ($s, $n) = @_;
	my $buf = '';
	while (length($buf) < $n) {
		my $r = sysread($s, $buf, $n - length($buf), length($buf));
		die "admin socket closed\n" unless $r;
	}
	return $buf;
}

sub api {
	my $s = conn($dsock);
	print $s "GET /v1.41/containers/$name/json HTTP/1.0\r\nHost: x\r\n\r\n";
	local $/;
	my $r = <$s> // '';
	close $s;
	die "docker inspect: " . substr($r, 0, 200) . "\n"
		unless $r =~ m{^HTTP/1\.\d 200 };
}

sub dl {
	my $s = conn($asock);
	my $req = qq({"op":"control","host":"$host","action":"inspect",)
		. qq("args":{"container":"$name"},"timeout_ms":30000});
	print $s pack('N', length $req) . $req;
	for (;;) {
		my $len = unpack('N', read_n($s, 4));
		my $p = read_n($s, $len);
		next if $p =~ /^[\x01\x02]/;
		die "dockline inspect: " . substr($p, 0, 200) . "\n"
			unless $p =~ /"ok":\s*true/;
		last;
	}
	close $s;
}

for (1 .. $warm) { api(); dl(); }
open my $fa, '>', $out_api or die;
open my $fd, '>', $out_dl or die;
for (1 .. $n) {
	my $t0 = time; api();
	my $t1 = time; dl();
	my $t2 = time;
	printf $fa "%d\n", ($t1 - $t0) * 1e6;
	printf $fd "%d\n", ($t2 - $t1) * 1e6;
}
close $fa;
close $fd;
EOF
NOSPAWN=
if perl -MTime::HiRes -MIO::Socket::UNIX -e 1 2>/dev/null; then
	perl "$T/rt.pl" "$SOCK" "$T/admin.sock" "$HOST" "$SVC" "$N" "$WARM" \
		"$T/rt0.api" "$T/rt0.dl" || dl_fail "in-process round trips failed"
	NOSPAWN=1
fi

# ---------------------------------------------------------------- 2. logs
big=$(dl_run_container biglog sh -c "yes '$LINE' | busybox head -c $LOG_BYTES")
BIG=$pfx-biglog
now_us; t0=$NOW
dl_wait_for "[ \"\$(docker inspect -f '{{.State.Status}}' $big)\" = exited ]" 120 "biglog wrote $LOG_MIB MiB and exited"
now_us
WRITE_S=$(awk -v d=$((NOW - t0)) 'BEGIN { printf "%.1f", d / 1e6 }')
[ "$(docker inspect -f '{{.State.ExitCode}}' "$big")" = 0 ] || dl_fail "biglog exited non-zero"
"${DLC[@]}" logs --tail 1 "$HOST/$BIG" >/dev/null || dl_fail "dockline logs --tail 1 failed"
# What the container wrote: CRC and length.
SUM_WANT=$({ yes "$LINE" || true; } | head -c "$LOG_BYTES" | cksum)

HWM_RESET=yes
# mem_mark TAG: VmRSS now into $T/mem.TAG, the peak reset.
mem_mark() {
	local e p
	: >"$T/mem.$1"
	for e in "${PROCS[@]}"; do
		p=${e#*:}
		echo 5 >"/proc/$p/clear_refs" 2>/dev/null || HWM_RESET=no
		echo "${e%%:*} $(kib "$p" VmRSS)" >>"$T/mem.$1"
	done
}
# mem_read TAG: appends VmHWM and VmRSS now to each line.
mem_read() {
	local e p
	: >"$T/mem.$1.new"
	for e in "${PROCS[@]}"; do
		p=${e#*:}
		kill -0 "$p" 2>/dev/null || dl_fail "${e%%:*} (pid $p) is gone"
		echo "$(grep "^${e%%:*} " "$T/mem.$1") $(kib "$p" VmHWM) $(kib "$p" VmRSS)" >>"$T/mem.$1.new"
	done
	mv "$T/mem.$1.new" "$T/mem.$1"
}

# CPU ticks of everything on the path, in a fixed order (the client is
# this shell's reaped children: CLI and consumer).
CPU_WHO="dockerd agent sshd attach collector client"
cpu_now() {
	echo "$(ticks "$DPID") $(ticks "$APID") $(ticks "${SSHDS[@]}") $(ticks "$ATT")" \
		"$(ticks "$DL_COLLECTOR_PID") $(ticks -c $$)"
}

# timed NAME CMD...: runs CMD (stdout: "CRC BYTES", cksum's) and appends
# "CRC BYTES microseconds" to $T/tp.NAME; the first run's CPU ticks per
# process go to $T/cpu.NAME.
timed() {
	local name=$1 out t0 c0
	shift
	c0=$(cpu_now)
	now_us; t0=$NOW
	out=$("$@") || dl_fail "$name: $* failed"
	now_us
	[ -f "$T/cpu.$name" ] || echo "$c0 $(cpu_now) $((NOW - t0))" >"$T/cpu.$name"
	echo "$out $((NOW - t0))" >>"$T/tp.$name"
}
curl_logs() { curl -sf --unix-socket "$SOCK" "$API/containers/$big/logs?stdout=1&stderr=1" | cksum; }
docker_logs() { docker logs "$big" 2>/dev/null | cksum; }
dl_logs() { timeout 300 "${DLC[@]}" logs "$HOST/$BIG" 2>"$T/dl_logs.err" | cksum; }

for r in $(seq "$RUNS"); do
	timed curl curl_logs
	timed docker docker_logs
	[ "$r" = 1 ] && mem_mark fast
	timed dockline dl_logs
	[ "$r" = 1 ] && mem_read fast
	if [ -s "$T/dl_logs.err" ]; then
		dl_fail "dockline logs wrote to stderr: $(head -c 300 "$T/dl_logs.err")"
	fi
done
for e in "${PROCS[@]}"; do
	echo "${e%%:*} $(kib "${e#*:}" VmRSS)"
done >"$T/mem.fast.end"

SUM_DOCKER=$(head -n 1 "$T/tp.docker" | cut -d' ' -f1,2)
[ "$SUM_DOCKER" = "$SUM_WANT" ] ||
	dl_log "note: docker logs gave (CRC length) $SUM_DOCKER, the container wrote $SUM_WANT"
while read -r crc len _; do
	[ "$crc $len" = "$SUM_DOCKER" ] || dl_fail "docker logs gave $crc $len once, $SUM_DOCKER another time"
done <"$T/tp.docker"
while read -r crc len _; do
	[ "$crc $len" = "$SUM_DOCKER" ] ||
		dl_fail "dockline logs delivered (CRC length) $crc $len, docker logs $SUM_DOCKER"
done <"$T/tp.dockline"
dl_ok "dockline logs delivered what docker logs gives ($SUM_DOCKER), $RUNS times"

# ---------------------------------------------------------------- 3. slow reader
# Reads nothing for STALL s, then SLOW_MIB at 256 KiB per 50 ms, then the
# rest at once; prints "- BYTES" (no CRC).
slow_reader() {
	local total=0 n rest
	sleep "$STALL"
	while [ "$total" -lt $((SLOW_MIB * 1048576)) ]; do
		n=$(dd bs=256k count=1 iflag=fullblock status=none | wc -c)
		[ "$n" -eq 0 ] && break
		total=$((total + n))
		sleep 0.05
	done
	rest=$(wc -c)
	echo "- $((total + rest))"
}
dl_slow() { timeout 300 "${DLC[@]}" logs --timeout 5m "$HOST/$BIG" 2>"$T/dl_slow.err" | slow_reader; }
mem_mark slow
timed slow dl_slow
mem_read slow
read -r _ got _ <"$T/tp.slow"
[ "$got" = "${SUM_DOCKER#* }" ] ||
	dl_fail "slow reader got $got bytes, docker logs ${SUM_DOCKER#* }; stderr: $(head -c 300 "$T/dl_slow.err")"
dl_ok "slow reader got all $got bytes"

# ---------------------------------------------------------------- 4. exec
EXEC_CMD="yes '$LINE' | busybox head -c $EXEC_BYTES"
SUM_EXEC=$({ yes "$LINE" || true; } | head -c "$EXEC_BYTES" | cksum)
docker_exec() { docker exec "$svc" sh -c "$EXEC_CMD" | cksum; }
dl_exec() { timeout 300 "${DLC[@]}" exec "$HOST/$SVC" -- sh -c "$EXEC_CMD" | cksum; }
for _ in $(seq "$EXEC_RUNS"); do
	timed exec_docker docker_exec
	timed exec_dockline dl_exec
done
for f in exec_docker exec_dockline; do
	while read -r crc len _; do
		[ "$crc $len" = "$SUM_EXEC" ] || dl_fail "$f gave (CRC length) $crc $len, expected $SUM_EXEC"
	done <"$T/tp.$f"
done
dl_ok "exec output intact through both ($SUM_EXEC)"

# ---------------------------------------------------------------- report
# Throughput of the median run (by time) of NAME, in MiB/s.
tp_med_us() { awk '{ print $3 }' "$T/tp.$1" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
tp_bytes() { head -n 1 "$T/tp.$1" | cut -d' ' -f2; }
tp_mibs() { awk -v b="$(tp_bytes "$1")" -v u="$(tp_med_us "$1")" 'BEGIN { printf "%.1f", b / 1048576 / (u / 1e6) }'; }
tp_row() { # LABEL NAME RATIO
	printf '%-38s %7s %7s %7s %6s\n' "$1" \
		"$(awk -v b="$(tp_bytes "$2")" 'BEGIN { printf "%.1f", b / 1048576 }')" \
		"$(awk -v u="$(tp_med_us "$2")" 'BEGIN { printf "%.2f", u / 1e6 }')" \
		"$(tp_mibs "$2")" "$3"
}
ratio() { awk -v a="$(tp_mibs "$1")" -v b="$(tp_mibs "$2")" 'BEGIN { printf "%.2f", a / b }'; }
rt_row() {
	printf '%-38s %7s %7s %7s %7s\n' "$1" "$(pct "$2" 50)" "$(pct "$2" 90)" "$(pct "$2" 99)" "$(pct "$2" 100)"
}
added_row() { # LABEL FILE_B FILE_A
	printf '%-38s %7s %7s %7s\n' "$1" "$(sub "$(pct "$2" 50)" "$(pct "$3" 50)")" \
		"$(sub "$(pct "$2" 90)" "$(pct "$3" 90)")" "$(sub "$(pct "$2" 99)" "$(pct "$3" 99)")"
}
# CPU seconds per process over the first run of NAME, and cores busy.
cpu_row() { # LABEL NAME
	awk -v l="$1" -v k="$TCK" '{
		n = (NF - 1) / 2; tot = 0; s = ""
		for (i = 1; i <= n; i++) { d = ($(n + i) - $i) / k; tot += d; s = s sprintf(" %9.2f", d) }
		printf "%-22s%s %9.2f %9.2f\n", l, s, tot, tot / ($NF / 1e6) }' "$T/cpu.$2"
}
mem_rows() {
	local who before hwm after end
	while read -r who before hwm after; do
		end=$(awk -v w="$who" '$1 == w { print $2 }' "$T/mem.fast.end")
		printf '%-6s %-10s %8s %8s %8s %8s %9s\n' "$1" "$who" "$(mib "$before")" \
			"$(mib "$hwm")" "$(mib $((hwm - before)))" "$(mib "$after")" \
			"$([ "$1" = fast ] && mib "$end" || echo -)"
	done <"$T/mem.$1"
}

printf '\ndockline control on loopback (Docker %s, %s CPUs; dockerd, agent, sshd and collector on this machine)\n' \
	"$(docker version --format '{{.Server.Version}}')" "$(nproc)"

printf '\n1. inspect round trip, one running container, %s calls each, interleaved, after %s warm-ups\n' "$N" "$WARM"
printf '   (each call spawns a process, curl or dockline: process start is in both)\n\n'
printf '%-38s %7s %7s %7s %7s\n' "" p50_ms p90_ms p99_ms max_ms
rt_row "docker API (curl)" "$T/rt.api"
rt_row "dockline inspect --json" "$T/rt.dl"
added_row "added by dockline (target < 50 ms)" "$T/rt.dl" "$T/rt.api"
rt_row "  process start: curl --version" "$T/st.api"
rt_row "  process start: dockline --help" "$T/st.dl"
if [ -n "$NOSPAWN" ]; then
	printf '\n   the same in one process (perl; no spawn, a new connection per call)\n\n'
	rt_row "docker API (HTTP/1.0)" "$T/rt0.api"
	rt_row "collector admin socket" "$T/rt0.dl"
	added_row "added by dockline" "$T/rt0.dl" "$T/rt0.api"
else
	printf '\n   (no in-process figures: perl with Time::HiRes is missing)\n'
fi

printf '\n2. logs of an exited container, %s MiB of stdout in lines of 128 bytes (written in %s s),\n' "$LOG_MIB" "$WRITE_S"
printf '   into cksum; median of %s run(s) each, interleaved\n\n' "$RUNS"
printf '%-38s %7s %7s %7s %6s\n' "" MiB s MiB/s ratio
tp_row "docker API (curl; raw, frame headers)" curl "$(ratio curl docker)"
tp_row "docker logs" docker 1.00
tp_row "dockline logs" dockline "$(ratio dockline docker)"
tp_row "dockline logs, slow reader" slow "$(ratio slow docker)"
printf '   (ratio: MiB/s over docker logs. slow reader: nothing read for %s s, then %s MiB\n' "$STALL" "$SLOW_MIB"
printf '   at 256 KiB per 50 ms, then the rest at once)\n'
printf '\n   CPU seconds during the first run of each (client: the CLI and cksum; cores: total / wall)\n\n'
printf '%-22s' ""
for w in $CPU_WHO total cores; do printf ' %9s' "$w"; done
printf '\n'
cpu_row "docker API (curl)" curl
cpu_row "docker logs" docker
cpu_row "dockline logs" dockline
cpu_row "dockline, slow reader" slow

printf '\n3. memory (MiB) during dockline logs: VmRSS before, VmHWM peak during (reset before: %s),\n' "$HWM_RESET"
printf '   VmRSS after; fast = the first run, after_all = after all %s fast run(s)\n\n' "$RUNS"
printf '%-6s %-10s %8s %8s %8s %8s %9s\n' run process before peak +peak after after_all
mem_rows fast
mem_rows slow

printf '\n4. exec output, %s MiB (yes | head -c) into cksum; median of %s runs each, interleaved\n\n' "$EXEC_MIB" "$EXEC_RUNS"
printf '%-38s %7s %7s %7s %6s\n' "" MiB s MiB/s ratio
tp_row "docker exec" exec_docker 1.00
tp_row "dockline exec" exec_dockline "$(ratio exec_dockline exec_docker)"
printf '\n%-22s' ""
for w in $CPU_WHO total cores; do printf ' %9s' "$w"; done
printf '\n'
cpu_row "docker exec" exec_docker
cpu_row "dockline exec" exec_dockline
