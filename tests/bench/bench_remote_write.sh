#!/usr/bin/env bash
# bench_remote_write.sh - starts a local Prometheus as the remote-write
# receiver (Debian's prometheus, --web.enable-remote-write-receiver, a
# loopback port and a storage dir of its own) and a sink that answers 204
# to anything (tests/bench/rw_sink.py), then runs
# bench_remote_write against it (see tests/bench/bench_remote_write.c for
# what is measured). Afterwards asks Prometheus how many series it holds,
# as a check that the samples really landed.
#
#   bash tests/bench/bench_remote_write.sh [hosts] [containers] [rounds] [batch] [connections]
DL_TEST_NAME=bench_remote_write
. "$(dirname "$0")/../integration/lib.sh"

BENCH=${DL_BENCH_DIR:-$DL_SRC/build/bench}/bench_remote_write
[ -x "$BENCH" ] || dl_fail "$BENCH is not built"
command -v prometheus >/dev/null || DL_PACKAGES=prometheus dl_need_packages
PORT=$(dl_free_port)
PROM=http://127.0.0.1:$PORT
printf 'global:\n  evaluation_interval: 1m\n' >"$T/prometheus.yml"
dl_spawn "$T/prometheus.log" /usr/bin/prometheus --config.file="$T/prometheus.yml" \
	--storage.tsdb.path="$T/tsdb" --web.listen-address="127.0.0.1:$PORT" \
	--web.enable-remote-write-receiver
PROM_PID=$DL_LAST_PID
dl_spawn "$T/sink.log" /usr/bin/python3 "$DL_SRC/tests/bench/rw_sink.py" "$T/sink.port"
dl_wait_for "[ -s $T/sink.port ]" 10 "sink listening"
SINK=http://127.0.0.1:$(cat "$T/sink.port")/api/v1/write
dl_wait_for "curl -sf $PROM/-/ready" 60 "Prometheus ready on $PROM"
# Prometheus's own CPU (utime + stime, clock ticks), before and after
prom_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$PROM_PID/stat"; }
c0=$(prom_cpu)
"$BENCH" "$PROM/api/v1/write" "$SINK" "$@" | tee "$T/out" || dl_fail "bench_remote_write failed"
c1=$(prom_cpu)
sent=$(awk '/^on, to Prometheus/ { n++ } END { print n }' "$T/out")
total=$(sed -n 's/.* = \([0-9]*\) series samples;.*/\1/p' "$T/out")
awk -v c0="$c0" -v c1="$c1" -v runs="$sent" -v n="$total" 'BEGIN {
	printf "Prometheus CPU while receiving %d runs x %d samples: %.1f s = %.2f us per sample (one core: %.0f samples/s at most)\n",
		runs, n, c1 - c0, (c1 - c0) * 1e6 / (runs * n), (runs * n) / (c1 - c0) }'
series=$(curl -s "$PROM/api/v1/status/tsdb" | jq -r '.data.headStats.numSeries')
echo "Prometheus holds $series series in its head (every run's hosts are new series)"
grep -E 'level=(warn|error)' "$T/prometheus.log" | head -n 5 || true
