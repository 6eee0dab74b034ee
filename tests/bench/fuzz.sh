#!/usr/bin/env bash
# tests/bench/fuzz.sh [SECONDS] - every libFuzzer target for longer than
# the test command does (default 300 s each, DL_FUZZ_JOBS=2 at a time);
# prints executions, exec/s and coverage per target (tests/fuzz/run.sh).
exec bash "$(dirname "$0")/../fuzz/run.sh" "${1:-300}"
