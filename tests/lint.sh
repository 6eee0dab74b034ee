#!/usr/bin/env bash
# tests/lint.sh - source checks that need no build: functions STYLE.md bans
# (unbounded or unchecked: sprintf strcpy strcat strncpy strtok atoi gets),
# C files that are not clang-format clean, and shell scripts that do not
# parse. Exits 1 with file:line on a hit.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
# grep, not git grep: the tree may be an export without .git.
hits=$(grep -rnE --include='*.c' --include='*.h' \
	'\b(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|atoi|atol|gets)[[:space:]]*\(' \
	common proto agent collector tests | grep -vE '\b(snprintf|vsnprintf)\b' || true)
if [ -n "$hits" ]; then
	echo "banned functions (see STYLE.md: use snprintf, explicit lengths, strtol with checks):"
	echo "$hits"
	status=1
fi
# Formatting: .clang-format at the root (clang-format 14, Debian 12).
if command -v clang-format >/dev/null; then
	for f in $(find common proto agent collector tests -name '*.[ch]' -not -path '*/fixtures/*'); do
		if ! clang-format --style=file "$f" | cmp -s - "$f"; then
			echo "$f: not clang-format clean (run: clang-format -i $f)"
			status=1
		fi
	done
else
	echo "clang-format is not installed: formatting not checked"
	status=1
fi
for f in .ci/run $(find scripts tests packaging -name '*.sh'); do
	bash -n "$f" || { echo "$f: does not parse"; status=1; }
done
[ "$status" = 0 ] && echo "lint: ok"
exit "$status"
