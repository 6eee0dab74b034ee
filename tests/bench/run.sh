#!/usr/bin/env bash
# tests/bench/run.sh - every benchmark, one command, on a Release build of
# its own (build-bench/). Each prints a table with its baseline measured in
# the same run; nothing here asserts on time (the machine is shared).
#
#   tests/bench/run.sh            all of them (~20 minutes)
#   tests/bench/run.sh NAME...    only those (proto store ingest history
#                                 latency sampling wire agent_cost control
#                                 spool http http_latency query
#                                 alert_latency rules backfill
#                                 spool_cost web remote_write recreate
#                                 fleet_restart simfleet fleet)
set -uo pipefail
cd "$(dirname "$0")/../.."
SRC=$(pwd)
B=$SRC/build-bench
cmake -S "$SRC" -B "$B" -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
cmake --build "$B" -j"${DL_JOBS:-2}" >/dev/null || exit 1
export DL_BIN=$B/bin DL_SRC=$SRC DL_BENCH_DIR=$B/bench

run() {
	local name=$1
	shift
	printf '\n==== %s\n' "$name"
	"$@" || echo "(bench $name failed)"
}

want=${*:-proto store ingest history latency sampling wire agent_cost control spool http http_latency query alert_latency rules backfill web remote_write recreate fleet_restart simfleet fleet}
for w in $want; do
	case $w in
	proto) run proto "$B/bench/bench_proto" ;;
	spool) run spool "$B/bench/bench_spool" ;;
	store) run store "$B/bench/bench_store" ;;
	ingest) [ -x "$B/bench/bench_ingest" ] && run ingest "$B/bench/bench_ingest" ;;
	history) [ -x "$B/bench/bench_history" ] && run history "$B/bench/bench_history" ;;
	latency) run latency bash tests/bench/bench_event_latency.sh 200 ;;
	sampling) DL_BENCH=$B/bench/bench_cgroup run sampling bash tests/bench/bench_sampling.sh 10 2 ;;
	wire) [ -f tests/bench/bench_wire.sh ] && run wire bash tests/bench/bench_wire.sh ;;
	agent_cost) [ -f tests/bench/bench_agent_cost.sh ] && run agent_cost bash tests/bench/bench_agent_cost.sh ;;
	# only the 100-container row and the spool_sync off/1s/always table
	spool_cost) run spool_cost bash tests/bench/bench_agent_cost.sh 100 10 20 ;;
	# 24 h x 100 containers spooled offline, then delivered
	backfill) run backfill bash tests/bench/bench_backfill.sh 24 100 3000 ;;
	control) [ -f tests/bench/bench_control.sh ] && run control bash tests/bench/bench_control.sh ;;
	http) run http bash tests/bench/bench_http.sh 10 ;;
	query)
		# json_t path vs text path, same run, on the fleets bench_http uses
		qd=$(mktemp -d)
		"$B/bench/bench_fleetdb" "$qd/f1000.db" 1000 20 2 &&
			"$B/bench/bench_fleetdb" "$qd/f100.db" 100 20 3 &&
			run "query (1,000 hosts x 20)" "$B/bench/bench_query" "$qd/f1000.db" 3 &&
			run "query (100 hosts x 20)" "$B/bench/bench_query" "$qd/f100.db" 3 &&
			"$B/bench/bench_fleetdb" "$qd/f10000.db" 10000 20 2 &&
			run "query (10,000 hosts x 20, hosts only)" "$B/bench/bench_query" "$qd/f10000.db" 3 hosts
		rm -rf "$qd"
		;;
	http_latency) run http_latency bash tests/bench/bench_ws_latency.sh 200 100 ;;
	alert_latency) run alert_latency bash tests/bench/bench_alert_latency.sh 200 ;;
	# 100 rules over 1,000 hosts x 20 containers vs 0 rules, same run
	rules) run rules "$B/bench/bench_rules" 1000 20 12 100 ;;
	# pages on 200 hosts x 20 (one container with 30 days), live update
	web) run web bash tests/bench/bench_web.sh 200 20 5 30 30 ;;
	# store alone vs store + remote write to a sink and to a local
	# Prometheus, same run; each twice: co-located on the shared cores,
	# and the receivers isolated on a core (+ cgroup) of their own
	# (~2.5 minutes each)
	remote_write)
		run "remote_write (4 connections)" bash tests/bench/bench_remote_write.sh 200 20 60 5000 4
		run "remote_write (1 connection)" bash tests/bench/bench_remote_write.sh 200 20 60 5000 1
		;;
	# dockline recreate vs its steps through the docker CLI, same run
	recreate) run recreate bash tests/bench/bench_recreate.sh 7 ;;
	# restart across 20 agents, --parallel 1/4/16 vs docker restart
	fleet_restart) run fleet_restart bash tests/bench/bench_fleet_restart.sh 20 3 ;;
	# serve's limits: 1,000 / 5,000 / 10,000 simulated agents, this build
	# against the baseline build of BASE_BIN when set (simfleet.sh)
	simfleet) run simfleet bash tests/bench/simfleet.sh ${DL_SIMFLEET_N:-1000 5000 10000} ;;
	# real agents through one sshd; 100 by default (300 and 1,000 load
	# the machine for minutes: DL_FLEET_N=1000 when nobody else works)
	fleet) for n in ${DL_FLEET_N:-100}; do run "fleet $n" bash tests/bench/fleet.sh "$n"; done ;;
	*) echo "unknown bench $w" >&2 ;;
	esac
done
