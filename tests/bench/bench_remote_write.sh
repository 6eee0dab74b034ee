#!/usr/bin/env bash
# bench_remote_write.sh - starts a local Prometheus as the remote-write
# receiver (Debian's prometheus, --web.enable-remote-write-receiver, a
# loopback port and a storage dir of its own) and a sink that answers 204
# to anything (tests/bench/rw_sink.py), then runs
# bench_remote_write against it (see tests/bench/bench_remote_write.c for
# what is measured). Afterwards asks Prometheus how many series it holds,
# as a check that the samples really landed.
#
# Two arrangements of the CPUs, each with receivers of its own and its
# own baseline (remote write off) measured in it:
#
#   shared    receivers and bench on the same two cores, unpinned: the
#             receiver's CPU (Prometheus spends ~7-9 us per sample) is
#             taken from the bench's ingest
#   isolated  the receivers pinned (taskset) to the last core, the bench
#             to core 0: as in production, where Prometheus runs on
#             another machine, remote write's cost to ingest is then
#             dockline's own (the baseline runs on the one core too).
#             And each side in a CPU cgroup of its own (cgroup v1's cpu
#             controller, as fleet.sh): the bench then gets the same
#             share of its core against the machine's other work with
#             remote write on (three busy threads) as off (two), instead
#             of one more thread's worth
#
# A CPU cgroup alone only shares time, it does not give the receiver a
# core of its own: that is the affinity (sched_setaffinity; Go's
# GOMAXPROCS follows it, so Prometheus runs on one core). Without the
# cpu controller the isolated arrangement is affinity only (it says so).
#
#   bash tests/bench/bench_remote_write.sh [hosts] [containers] [rounds] [batch] [connections]
#   DL_RW_ARRANGE="shared isolated" (the default), or one of them
DL_TEST_NAME=bench_remote_write
. "$(dirname "$0")/../integration/lib.sh"

BENCH=${DL_BENCH_DIR:-$DL_SRC/build/bench}/bench_remote_write
[ -x "$BENCH" ] || dl_fail "$BENCH is not built"
command -v prometheus >/dev/null || DL_PACKAGES=prometheus dl_need_packages
command -v taskset >/dev/null || DL_PACKAGES=util-linux dl_need_packages
NCPU=$(nproc)
LAST=$((NCPU - 1))
# CPU cgroups for the isolated arrangement: the bench's weight is that of
# the two busy threads of its baseline (writer, loop)
CG=/sys/fs/cgroup/cpu/dl-rw-${T##*/}
if [ -w /sys/fs/cgroup/cpu/cgroup.procs ] && mkdir "$CG" 2>/dev/null &&
	mkdir "$CG/bench" "$CG/recv" && echo 2048 >"$CG/bench/cpu.shares"; then
	DL_UNDO+=("rmdir $CG/bench $CG/recv $CG")
else
	rmdir "$CG/bench" "$CG/recv" "$CG" 2>/dev/null
	CG=
fi
# in GROUP CMD...: CMD (exec'd, same pid) in CPU cgroup GROUP of the
# isolated arrangement; just CMD without one
in_cg() {
	local g=$1
	shift
	[ "$ARR" = isolated ] && [ -n "$CG" ] &&
		set -- bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG/$g" "$@"
	"$@"
}

# receivers ARR: a fresh Prometheus and sink for arrangement ARR
receivers() {
	local pin=()
	[ "$1" = isolated ] && pin=(taskset -c "$LAST")
	[ "$1" = isolated ] && [ -n "$CG" ] &&
		pin=(bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG/recv" "${pin[@]}")
	PORT=$(dl_free_port)
	PROM=http://127.0.0.1:$PORT
	mkdir -p "$T/$1"
	printf 'global:\n  evaluation_interval: 1m\n' >"$T/$1/prometheus.yml"
	dl_spawn "$T/$1/prometheus.log" "${pin[@]}" /usr/bin/prometheus \
		--config.file="$T/$1/prometheus.yml" --storage.tsdb.path="$T/$1/tsdb" \
		--web.listen-address="127.0.0.1:$PORT" --web.enable-remote-write-receiver
	PROM_PID=$DL_LAST_PID
	dl_spawn "$T/$1/sink.log" "${pin[@]}" /usr/bin/python3 \
		"$DL_SRC/tests/bench/rw_sink.py" "$T/$1/sink.port"
	SINK_PID=$DL_LAST_PID
	dl_wait_for "[ -s $T/$1/sink.port ]" 10 "sink listening"
	SINK=http://127.0.0.1:$(cat "$T/$1/sink.port")/api/v1/write
	dl_wait_for "curl -sf $PROM/-/ready" 60 "Prometheus ready on $PROM"
}

# Prometheus's own CPU (utime + stime, clock ticks)
prom_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$PROM_PID/stat"; }

for arr in ${DL_RW_ARRANGE:-shared isolated}; do
	pin=()
	ARR=$arr
	case $arr in
	shared) what="co-located, shared CPU: receivers and bench on all $NCPU cores, unpinned" ;;
	isolated)
		if [ "$NCPU" -lt 2 ]; then
			echo "== isolated: skipped, $NCPU CPU"
			continue
		fi
		pin=(taskset -c 0)
		what="receiver isolated on its own core: receivers pinned to CPU $LAST, bench to CPU 0 (taskset)"
		if [ -n "$CG" ]; then
			what+=", each in a cgroup v1 cpu group of its own (bench cpu.shares 2048, receivers 1024)"
		else
			what+=", no CPU cgroups (no writable cgroup v1 cpu controller)"
		fi
		;;
	*) dl_fail "DL_RW_ARRANGE: shared or isolated, not $arr" ;;
	esac
	echo "== $arr ($what)"
	receivers "$arr"
	c0=$(prom_cpu)
	in_cg bench "${pin[@]}" "$BENCH" "$PROM/api/v1/write" "$SINK" "$@" | tee "$T/$arr/out" ||
		dl_fail "bench_remote_write failed"
	c1=$(prom_cpu)
	# The same question on CPU rather than wall time, which the other
	# users of a shared machine move: this process's CPU per stored
	# sample (its last column, least of the runs) off vs on
	awk '/^(off|on,) / { v = $1 == "off" ? "off" : $3 == "a" ? "sink" : "Prometheus"
		if (!(v in m) || $NF < m[v]) m[v] = $NF }
		END { printf "CPU per stored sample (least of the runs): off %.2f us, on to a sink %.2f us (ratio %.3f), on to Prometheus %.2f us (ratio %.3f)\n",
			m["off"], m["sink"], m["off"] / m["sink"], m["Prometheus"], m["off"] / m["Prometheus"] }' \
		"$T/$arr/out" | tee "$T/$arr/cpu"
	sent=$(awk '/^on, to Prometheus/ { n++ } END { print n }' "$T/$arr/out")
	total=$(sed -n 's/.* = \([0-9]*\) series samples;.*/\1/p' "$T/$arr/out")
	awk -v c0="$c0" -v c1="$c1" -v runs="$sent" -v n="$total" 'BEGIN {
		printf "Prometheus CPU while receiving %d runs x %d samples: %.1f s = %.2f us per sample (one core: %.0f samples/s at most)\n",
			runs, n, c1 - c0, (c1 - c0) * 1e6 / (runs * n), (runs * n) / (c1 - c0) }'
	series=$(curl -s "$PROM/api/v1/status/tsdb" | jq -r '.data.headStats.numSeries')
	echo "Prometheus holds $series series in its head (every run's hosts are new series)"
	grep -E 'level=(warn|error)' "$T/$arr/prometheus.log" | head -n 5 || true
	dl_kill_tree "$PROM_PID"
	dl_kill_tree "$SINK_PID"
done
# one line per arrangement, for tests/bench/run.sh's readers
for arr in ${DL_RW_ARRANGE:-shared isolated}; do
	[ -s "$T/$arr/out" ] || continue
	sed -n "s/^best of [0-9]*: \(.*\)/$arr: \1/p" "$T/$arr/out"
	sed "s/^/$arr: /" "$T/$arr/cpu"
done
