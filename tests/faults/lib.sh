# tests/faults/lib.sh - shared parts of the fault-injection cases.
#
# Sourced by tests/faults/case_*.sh after tests/integration/lib.sh (same
# world: own $T, own sshd, collector and agent, labelled containers,
# processes killed by pid at exit). A case makes a known set of Docker
# events, injects its fault in the middle, waits for the store to settle
# and checks, in SQLite directly:
#   * every event made is stored exactly once (by container id + action;
#     the burst's actions are unique: "exec_create: true <tag>-<i>");
#   * the ticker container's samples have no gap longer than the fault
#     itself plus FL_GAP_SLACK_S.
# It prints one table (fl_report) and appends it to $FL_TABLES if set
# (tests/faults/run.sh prints them all at the end).

. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

FL_CASE=${FL_CASE:-$DL_TEST_NAME}
FL_H=${FL_H:-f1}
FL_N=${FL_N:-1000}             # burst events
FL_PAR=${FL_PAR:-4}            # burst requests in flight
FL_LIFE=${FL_LIFE:-5}          # short-lived containers run during the fault
FL_GAP_SLACK_S=${FL_GAP_SLACK_S:-8}
export DL_STATS_INTERVAL=${DL_STATS_INTERVAL:-1}
export DL_PING_INTERVAL=${DL_PING_INTERVAL:-2}

FL_DB=${DL_DATABASE:-$T/dockline.db}
fl_db() { sqlite3 -cmd '.timeout 20000' "$FL_DB" "$@"; }
fl_now() { date +%s.%N; }
fl_agent_pid() { eval "echo \$DL_AGENT_PID_$FL_H"; }

# The usual world plus a long-running ticker container whose samples are
# counted; returns once the ticker's samples reach the store.
fl_setup() {
	dl_need_packages
	dl_need_dockerd
	dl_need_image
	dl_need_user
	dl_check_bins
	dl_docker_lock_shared
	command -v sqlite3 >/dev/null || { dl_log "SKIPPED: sqlite3 is not installed"; exit 77; }
	[ -n "${FL_NO_SSHD:-}" ] || dl_start_sshd
	dl_start_collector
	dl_enroll "$FL_H"
	FL_TICKER=$(dl_run_container ticker sleep 3600)
	[ -n "${FL_NO_AGENT:-}" ] && return 0
	dl_start_agent "$FL_H"
	dl_wait_for "dl_host_online $FL_H" 30 "host $FL_H online"
	dl_wait_for '[ "$(fl_samples_since 0)" -ge 2 ]' 40 "ticker samples stored"
	FL_T0=$(fl_now)
}

# Samples of the ticker with ts >= $1 (unix seconds).
fl_cid() { fl_db "SELECT cid FROM container_keys WHERE host = '$FL_H' AND id = '$FL_TICKER'"; }
fl_samples_since() {
	local cid
	cid=$(fl_cid)
	[ -n "$cid" ] || { echo 0; return; }
	fl_db "SELECT count(*) FROM container_samples WHERE cid = $cid
	       AND ts >= CAST($1 * 1000000000 AS INTEGER)"
}
# Longest gap between consecutive ticker samples in [$1, $2], seconds
# (the window edges count as samples).
fl_max_gap() {
	local cid
	cid=$(fl_cid)
	fl_db "WITH s(ts) AS (
	         SELECT CAST($1 * 1e9 AS INTEGER) UNION
	         SELECT ts FROM container_samples WHERE cid = $cid
	           AND ts BETWEEN CAST($1 * 1e9 AS INTEGER) AND CAST($2 * 1e9 AS INTEGER)
	         UNION SELECT CAST($2 * 1e9 AS INTEGER)),
	       g(d) AS (SELECT ts - lag(ts) OVER (ORDER BY ts) FROM s)
	       SELECT printf('%.1f', coalesce(max(d), 0) / 1e9) FROM g"
}

# fl_burst TAG [N [FIRST]]: N exec_create events on the ticker, through
# the Engine API (no process runs, so ~1 ms each on dockerd's side),
# FL_PAR at a time, numbered from FIRST (1). In the background: the pid
# goes to FL_BURST_PID. FL_BURST_N counts all the bursts of one TAG.
fl_burst() {
	local tag=$1 n=${2:-$FL_N} first=${3:-1}
	(seq "$first" $((first + n - 1)) | xargs -P "$FL_PAR" -I{} curl -sf -o /dev/null \
		--unix-socket /var/run/docker.sock -H 'Content-Type: application/json' \
		-d "{\"Cmd\":[\"true\",\"$tag-{}\"]}" \
		"http://x/containers/$FL_TICKER/exec") >>"$T/burst.log" 2>&1 &
	FL_BURST_PID=$!
	dl_track "$FL_BURST_PID"
	[ "$first" = 1 ] && FL_BURST_N=0
	FL_BURST_TAG=$tag
	FL_BURST_N=$((FL_BURST_N + n))
}
fl_burst_wait() {
	wait "$FL_BURST_PID" || dl_fail "the burst's requests to dockerd failed (see $T/burst.log)"
	dl_log "burst $FL_BURST_TAG: $FL_BURST_N exec_create events made in all"
}
fl_burst_stored() {
	fl_db "SELECT count(*) FROM events WHERE host = '$FL_H' AND actor_id = '$FL_TICKER'
	       AND action LIKE 'exec_create: true $FL_BURST_TAG-%'"
}
fl_burst_distinct() {
	fl_db "SELECT count(DISTINCT action) FROM events WHERE host = '$FL_H'
	       AND actor_id = '$FL_TICKER' AND action LIKE 'exec_create: true $FL_BURST_TAG-%'"
}

# fl_life_start: FL_LIFE labelled containers that run `true` (create,
# attach..., start, die each), in the background, one after the other.
fl_life_start() {
	(for i in $(seq 1 "$FL_LIFE"); do
		dl_run_container "life$i" true >>"$T/life.ids" || exit 1
	done) 2>>"$T/burst.log" &
	FL_LIFE_PID=$!
	dl_track "$FL_LIFE_PID"
}
fl_life_wait() {
	wait "$FL_LIFE_PID" || dl_fail "docker run of the short-lived containers failed"
}
# Counts over the short-lived containers: "made stored distinct" for
# start and die (one each per container).
fl_life_counts() {
	local ids
	ids=$(sed "s/.*/'&'/" "$T/life.ids" | paste -sd,)
	fl_db "SELECT $((2 * FL_LIFE)), count(*), count(DISTINCT actor_id || action)
	       FROM events WHERE host = '$FL_H' AND actor_id IN ($ids)
	       AND action IN ('start', 'die')"
}

# fl_settle SECS: waits until the burst and the short-lived containers
# are all in the store (or SECS pass), then 3 s more for stragglers and
# duplicates to land.
fl_settle() {
	local secs=${1:-120}
	dl_wait_for '[ "$(fl_burst_stored)" -ge "$FL_BURST_N" ] &&
		[ "$(fl_life_counts | cut -d"|" -f2)" -ge $((2 * FL_LIFE)) ]' \
		"$secs" "all $FL_BURST_N burst events and $((2 * FL_LIFE)) lifecycle events stored" || true
	sleep 3
	FL_T1=$(fl_now)
}

# fl_report FAULT_SECS [NOTE]: prints the table and asserts. FAULT_SECS
# is how long the fault kept samples from being taken or delivered.
fl_report() {
	local fault=$1 note=${2:-} stored distinct life lmade lstored ldist
	local samples expect gap allowed table rc=0
	stored=$(fl_burst_stored)
	distinct=$(fl_burst_distinct)
	life=$(fl_life_counts)
	IFS='|' read -r lmade lstored ldist <<<"$life"
	samples=$(fl_db "SELECT count(*) FROM container_samples WHERE cid = $(fl_cid)
	                 AND ts BETWEEN CAST($FL_T0 * 1e9 AS INTEGER) AND CAST($FL_T1 * 1e9 AS INTEGER)")
	expect=$(awk -v a="$FL_T0" -v b="$FL_T1" -v f="$fault" -v i="$DL_STATS_INTERVAL" \
		'BEGIN { n = int((b - a - f) / i); print (n < 0 ? 0 : n) }')
	gap=$(fl_max_gap "$FL_T0" "$FL_T1")
	allowed=$(awk -v f="$fault" -v s="$FL_GAP_SLACK_S" 'BEGIN { printf "%.1f", f + s }')
	table=$(
		printf '\n== %s%s\n' "$FL_CASE" "${note:+ ($note)}"
		printf '%-22s %8s %8s %10s\n' "" made stored duplicated
		printf '%-22s %8s %8s %10s\n' "burst events" "$FL_BURST_N" "$distinct" $((stored - distinct))
		printf '%-22s %8s %8s %10s\n' "start/die events" "$lmade" "$ldist" $((lstored - ldist))
		[ -f "$T/extra.rows" ] && cat "$T/extra.rows"
		printf '%-22s %8s %8s %10s\n' "" expected stored "max gap s"
		printf '%-22s %8s %8s %10s\n' "ticker samples" "$expect" "$samples" "$gap (<= $allowed)"
	)
	printf '%s\n' "$table" >&2
	[ -n "${FL_TABLES:-}" ] && printf '%s\n' "$table" >>"$FL_TABLES"
	[ "$distinct" = "$FL_BURST_N" ] || { echo "FAIL: burst events lost: $((FL_BURST_N - distinct))" >&2; rc=1; }
	[ "$stored" = "$distinct" ] || { echo "FAIL: burst events stored twice: $((stored - distinct))" >&2; rc=1; }
	[ "$ldist" = "$lmade" ] || { echo "FAIL: start/die events lost: $((lmade - ldist))" >&2; rc=1; }
	[ "$lstored" = "$ldist" ] || { echo "FAIL: start/die events stored twice: $((lstored - ldist))" >&2; rc=1; }
	awk -v g="$gap" -v a="$allowed" 'BEGIN { exit !(g <= a) }' ||
		{ echo "FAIL: samples gap ${gap}s longer than the fault (${fault}s) + ${FL_GAP_SLACK_S}s" >&2; rc=1; }
	[ "$rc" = 0 ] || dl_fail "$FL_CASE: see the table above"
	dl_ok "$FL_CASE: every event exactly once, samples gap ${gap}s"
}

# Restarts the test's sshd (same config, same port); tries a few times
# while the old listener's port is released.
fl_restart_sshd() {
	local i
	for i in $(seq 1 25); do
		: >"$T/sshd.log.new"
		dl_spawn "$T/sshd.log.new" /usr/sbin/sshd -D -e -f "$T/sshd_config"
		DL_SSHD_PID=$DL_LAST_PID
		dl_wait_for "grep -q 'Server listening' $T/sshd.log.new || ! kill -0 $DL_SSHD_PID" 10 \
			"sshd restart try $i"
		if kill -0 "$DL_SSHD_PID" 2>/dev/null; then
			cat "$T/sshd.log.new" >>"$T/sshd.log"
			dl_log "sshd restarted, pid $DL_SSHD_PID on port $DL_SSH_PORT"
			return 0
		fi
		sleep 0.4
	done
	dl_fail "sshd did not come back on port $DL_SSH_PORT"
}

# fl_row LABEL A B C: one more table row (before the samples rows).
fl_row() { printf '%-22s %8s %8s %10s\n' "$@" >>"$T/extra.rows"; }

# fl_skip_table WHY: the case's table says SKIPPED (run.sh lists it).
fl_skip_table() {
	local table
	table=$(printf '\n== %s\n%-22s SKIPPED: %s\n' "$FL_CASE" "" "$1")
	printf '%s\n' "$table" >&2
	[ -n "${FL_TABLES:-}" ] && printf '%s\n' "$table" >>"$FL_TABLES"
	dl_log "SKIPPED: $1"
	exit 77
}

# The database after the fault: SQLite finds nothing wrong with it.
fl_integrity() {
	dl_assert_eq "PRAGMA integrity_check" ok "$(fl_db 'PRAGMA integrity_check')"
}

# fl_log_count FILE ERE: lines matching in FILE (0 when none).
fl_log_count() { grep -cE -- "$2" "$1" 2>/dev/null || true; }

# fl_events_total: every event row of the host (any actor), for watching
# commits land.
fl_events_total() { fl_db "SELECT count(*) FROM events WHERE host = '$FL_H'"; }

# fl_hold_verify WORD RE HELD CLOG AGAIN_RE: the end of a case whose fault
# made the writer hold (disk full, write lock): waits for the recovery
# line and for every event, then rows and asserts exactly one fault line
# (RE, called WORD), one recovery line (AGAIN_RE), no other store error,
# and an intact database.
fl_hold_verify() {
	local word=$1 re=$2 held=$3 clog=$4 again_re=$5
	dl_wait_for "grep -qE '$again_re' $clog" 60 "the collector says it writes again"
	fl_burst_wait
	fl_life_wait
	fl_settle 120
	fl_row "'$word' lines" 1 "$(fl_log_count "$clog" "$re")" ""
	fl_row "'writable again' lines" 1 "$(fl_log_count "$clog" "$again_re")" ""
	fl_row "held at the fault" "" "$held" ""
	dl_assert_eq "'$word' logged once" 1 "$(fl_log_count "$clog" "$re")"
	dl_assert_eq "'writable again' logged once" 1 "$(fl_log_count "$clog" "$again_re")"
	dl_assert_eq "store errors logged besides" 0 \
		"$(grep -E 'store: ' "$clog" | grep -vE "$re|$again_re" | grep -ciE 'error|fail' || true)"
	fl_integrity
}
