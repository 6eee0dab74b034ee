#!/usr/bin/env bash
# tests/faults/run.sh - the fault-injection suite: runs every
# tests/faults/case_*.sh one after the other (each owns its world, see
# lib.sh), prints every case's table at the end, exits 1 if any failed.
# A case that skips (77) is listed as such; all skipping -> 77.
# One case: bash tests/faults/run.sh agent_kill
set -uo pipefail
cd "$(dirname "$0")"
FL_TABLES=$(mktemp /tmp/dl-faults.XXXXXX)
export FL_TABLES
trap 'rm -f "$FL_TABLES" "$FL_TABLES".*' EXIT
failed=() skipped=() passed=()
cases=(agent_kill collector_kill sshd_restart agent_reboot partition disk_full sqlite_busy
	collector_kill_commit docker_restart)
[ $# -gt 0 ] && cases=("$@")
for c in "${cases[@]}"; do
	start=$(date +%s)
	bash "./case_$c.sh" 2>&1 | tee "$FL_TABLES.$c"
	rc=${PIPESTATUS[0]}
	echo "[faults] case_$c: exit $rc in $(($(date +%s) - start)) s" >&2
	case $rc in
	0) passed+=("$c") ;;
	77) skipped+=("$c") ;;
	*) failed+=("$c") ;;
	esac
done
echo
echo "==== fault-injection tables"
cat "$FL_TABLES"
echo
# A failed case's own last lines, where a truncated log still shows them
for c in "${failed[@]}"; do
	printf '\n---- case_%s failed: why, then its last 25 lines\n' "$c"
	grep -E '^FAIL' "$FL_TABLES.$c"
	tail -n 25 "$FL_TABLES.$c"
done
echo "passed: ${passed[*]:-none}; skipped: ${skipped[*]:-none}; failed: ${failed[*]:-none}"
[ ${#failed[@]} -eq 0 ] || exit 1
[ ${#passed[@]} -gt 0 ] || exit 77
exit 0
