#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] - builds the libFuzzer targets with clang in
# build-fuzz/ and runs each for SECONDS (default 20, DL_FUZZ_JOBS at a
# time, default 2), starting from a copy of tests/fuzz/corpus/<target>
# (seeds from tests/fixtures plus every input that ever crashed: those
# run first, so a regression fails at once). Prints per target the
# executions, exec/s and coverage; exits 1 on any crash, leak or UB
# report (the crashing input is left in build-fuzz/findings/).
# tests/bench/fuzz.sh runs the same for longer. Exit 77 without clang.
set -uo pipefail
cd "$(dirname "$0")/../.."
SRC=$(pwd)
SECS=${1:-${DL_FUZZ_SECONDS:-20}}
JOBS=${DL_FUZZ_JOBS:-2}
B=$SRC/build-fuzz
command -v clang >/dev/null || { echo "fuzz: SKIPPED: clang is not installed"; exit 77; }
CC=clang cmake -S "$SRC" -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDL_FUZZ=ON >/dev/null ||
	{ echo "fuzz: cmake configure failed"; exit 1; }
targets=$(cd "$SRC/tests/fuzz" && ls fuzz_*.c | sed 's/\.c$//')
# shellcheck disable=SC2086
cmake --build "$B" -j"$JOBS" --target $targets >"$B/build.log" 2>&1 ||
	{ tail -n 30 "$B/build.log"; echo "fuzz: build failed"; exit 1; }
mkdir -p "$B/findings" "$B/logs"
run_one() {
	local t=$1 name=${1#fuzz_} work
	work=$B/corpus/$name
	rm -rf "$work"
	mkdir -p "$work"
	[ -d "$SRC/tests/fuzz/corpus/$name" ] && cp "$SRC/tests/fuzz/corpus/$name"/* "$work"/ 2>/dev/null
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$B/fuzz/$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=1024 \
		-print_final_stats=1 -artifact_prefix="$B/findings/$name-" \
		"$work" >"$B/logs/$name.log" 2>&1
	echo $? >"$B/logs/$name.rc"
}
export -f run_one
export B SRC SECS
# shellcheck disable=SC2086
printf '%s\n' $targets | xargs -P "$JOBS" -I{} bash -c 'run_one {}'
status=0
printf '%-16s %12s %9s %7s %7s  %s\n' target executions exec/s cov ft result
for t in $targets; do
	name=${t#fuzz_}
	log=$B/logs/$name.log
	rc=$(cat "$B/logs/$name.rc")
	execs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
	rate=$(awk '/stat::average_exec_per_sec/ { print $2 }' "$log")
	cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
	ft=$(grep -Eo 'ft: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
	res=ok
	if [ "$rc" != 0 ]; then
		res="FAILED (exit $rc, log $log)"
		status=1
	fi
	printf '%-16s %12s %9s %7s %7s  %s\n' "$name" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$res"
done
if [ "$status" != 0 ]; then
	for t in $targets; do
		name=${t#fuzz_}
		[ "$(cat "$B/logs/$name.rc")" = 0 ] && continue
		echo "----- $name"
		grep -E 'ERROR|SUMMARY|runtime error|#[0-9]+ 0x' "$B/logs/$name.log" | head -n 20
	done
fi
exit "$status"
