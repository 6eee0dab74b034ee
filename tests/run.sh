#!/usr/bin/env bash
# tests/run.sh - the one test command (CI runs it through .ci/run).
#
# Installs what is missing, makes sure dockerd answers, builds build/
# (Release) and build-asan/ (ASan+UBSan), runs the unit tests under the
# sanitizers and then every test (unit + integration) on the Release build.
# Exits non-zero if any step or test fails. Runs as root (the integration
# tests start private sshd instances, create a system user and use dockerd).
set -uo pipefail

cd "$(dirname "$0")/.."
SRC=$(pwd)
JOBS=${DL_JOBS:-2}

step() { printf '\n==== %s\n' "$*"; }
die() { echo "tests/run.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (the integration tests need dockerd, sshd and a system user)"

# Plain assignments: bash drops "VAR=x . file" prefixes after sourcing.
DL_LIB_NO_INIT=1
DL_TEST_NAME=run.sh
DL_SRC=$SRC
. "$SRC/tests/integration/lib.sh"
set +e

step "dependencies"
dl_need_packages || die "installing packages failed"

step "lint (banned functions, clang-format, shell syntax)"
bash "$SRC/tests/lint.sh" || die "lint failed"
step "dockerd"
dl_need_dockerd || die "dockerd is not available"
dl_need_image || die "building the test image failed"
dl_need_user || die "creating the test user failed"

step "build (Release) in build/"
cmake -S "$SRC" -B "$SRC/build" -DCMAKE_BUILD_TYPE=Release || die "cmake configure (Release) failed"
cmake --build "$SRC/build" -j"$JOBS" || die "build (Release) failed"

step "build (ASan+UBSan) in build-asan/"
cmake -S "$SRC" -B "$SRC/build-asan" -DCMAKE_BUILD_TYPE=Debug -DDL_SANITIZE=ON || die "cmake configure (asan) failed"
cmake --build "$SRC/build-asan" -j"$JOBS" || die "build (asan) failed"

status=0 tails=()
step "unit tests under ASan+UBSan"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	ctest --test-dir "$SRC/build-asan" -L unit --output-on-failure -j"$JOBS" || status=1 tails+=("$SRC/build-asan")

step "all tests (unit + integration) on the Release build"
ctest --test-dir "$SRC/build" --output-on-failure -j"$JOBS" || status=1 tails+=("$SRC/build")

step "fuzz: each libFuzzer target ${DL_FUZZ_SECONDS:-20} s, 2 at a time (clang)"
bash "$SRC/tests/fuzz/run.sh"
rc=$?
[ "$rc" = 0 ] || [ "$rc" = 77 ] || status=1

step "packages: deb + rpm contents, lintian, rpmlint, systemd-analyze verify"
bash "$SRC/tests/packaging/check.sh" || status=1

step "packages: install, enroll, upgrade, purge in a clean Debian 12 container"
bash "$SRC/tests/packaging/install_test.sh" || status=1

# The end of a long log is what survives truncation: repeat each failed
# ctest test's last lines here.
failed_tail() {
	local d=$1 t
	[ -s "$d/Testing/Temporary/LastTestsFailed.log" ] || return 0
	for t in $(cut -d: -f2 "$d/Testing/Temporary/LastTestsFailed.log"); do
		printf '\n---- %s (%s): why, then its last 40 lines\n' "$t" "${d##*/}"
		awk -v t="$t" '$0 ~ "^[0-9]+/[0-9]+ Testing: " t "$" { on = 1; next }
			on && /^<end of output>/ { exit } on' "$d/Testing/Temporary/LastTest.log" >"$d/failed.out"
		grep -E '^FAIL' "$d/failed.out"
		tail -n 40 "$d/failed.out"
	done
}

if [ "$status" = 0 ]; then
	step "all test steps passed"
else
	step "SOME TESTS FAILED"
	for d in "${tails[@]}"; do failed_tail "$d"; done
fi
exit "$status"
