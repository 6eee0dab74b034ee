#!/usr/bin/env bash
# Remote control end to end: dockline -> admin socket -> collector router
# -> the agent's SSH session -> agent policy -> real dockerd, and back.
# Every lifecycle op changes the real container; logs keeps stdout and
# stderr apart and -f follows until the CLI goes away (the agent then
# closes its Docker request); exec streams output and returns the
# command's exit code; the default policy refuses rm/exec/prune with the
# container intact; every request lands in the audit log; an offline host
# and a lost session give their own sentences and exit codes.
. "$(dirname "$0")/lib.sh"

dl_need_all

dl_start_sshd
dl_start_collector
dl_enroll ctl1
dl_enroll ctl2
dl_start_agent ctl1 # default policy: read, lifecycle
DL_CONTROL_ALLOW=all dl_start_agent ctl2
dl_wait_for 'dl_host_online ctl1 && dl_host_online ctl2' 30 "hosts ctl1 and ctl2 online"

dl_assert_eq "hosts shows ctl1's policy" "read, lifecycle" "$(dl_host_json ctl1 | jq -r .control)"
dl_assert_eq "hosts shows ctl2's policy" "read, lifecycle, exec, destructive, deploy" "$(dl_host_json ctl2 | jq -r .control)"
dl_assert_match "hosts table has the CONTROL column" 'ctl1 .* read, lifecycle$' "$(dl_cli hosts)"
pfx="dl-${T##*/}"
web=$(dl_run_container web sh -c 'echo out-1; echo err-1 >&2; i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.3; done')
dl_wait_for "[ \"\$(dl_ps_field $web state)\" = running ]" 20 "web in ps"

state() { docker inspect -f '{{.State.Status}}' "$1"; }

# dl_ctl EXPECTED_RC dockline-args...: runs the CLI, keeps stdout/stderr in
# $out/$err, checks the exit code.
dl_ctl() {
	local want=$1 rc=0
	shift
	dl_cli "$@" >"$T/out" 2>"$T/err" || rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
	[ "$rc" = "$want" ] || dl_fail "dockline $*: exit $rc, expected $want; stderr: $err; stdout: ${out:0:300}"
	dl_ok "dockline $* -> exit $rc"
}

# ---- read
dl_ctl 0 inspect "ctl1/$pfx-web"
dl_assert_eq "inspect Id" "$web" "$(jq -r .Id <<<"$out")"
dl_ctl 0 inspect "ctl1/${web:0:12}" --json
dl_assert_eq "inspect by id prefix" "$web" "$(jq -r .Id <<<"$out")"
dl_ctl 0 top "ctl1/$pfx-web"
dl_assert_match "top lists the container's processes" 'sleep|sh -c' "$out"

# ---- lifecycle changes the real container
dl_ctl 0 stop "ctl1/$pfx-web" -t 1
dl_assert_eq "stop echoes the container" "$pfx-web" "$out"
dl_assert_eq "docker sees it stopped" exited "$(state "$web")"
dl_ctl 0 start "ctl1/$pfx-web"
dl_assert_eq "docker sees it running" running "$(state "$web")"
before=$(docker inspect -f '{{.State.StartedAt}}' "$web")
dl_ctl 0 restart "ctl1/$pfx-web" -t 1
dl_assert_match "restart changed StartedAt" . "$([ "$before" != "$(docker inspect -f '{{.State.StartedAt}}' "$web")" ] && echo changed)"
dl_ctl 0 pause "ctl1/$pfx-web"
dl_assert_eq "paused" paused "$(state "$web")"
dl_ctl 0 unpause "ctl1/$pfx-web"
dl_assert_eq "unpaused" running "$(state "$web")"
dl_ctl 0 rename "ctl1/$pfx-web" "$pfx-web2"
dl_assert_eq "renamed" "/$pfx-web2" "$(docker inspect -f '{{.Name}}' "$web")"
dl_ctl 0 rename "ctl1/${web:0:12}" "$pfx-web"
dl_ctl 0 kill "ctl1/$pfx-web" -s KILL
dl_assert_eq "killed" exited "$(state "$web")"
dl_ctl 0 start "ctl1/$pfx-web"

# ---- errors are sentences with their exit codes
dl_ctl 1 inspect "ctl1/$pfx-nosuch"
dl_assert_match "Docker's message passed through" "^dockline: ctl1: No such container: $pfx-nosuch" "$err"
dl_ctl 1 inspect "nohost/$pfx-web"
dl_assert_match "unknown host" '^dockline: no host named nohost$' "$err"
dl_ctl 2 stop "ctl1/$pfx-web" -t notanumber
dl_ctl 2 rm "ctl1"
dl_ctl 5 rm -f "ctl1/$pfx-web"
dl_assert_match "policy refusal" '^dockline: ctl1 policy does not allow rm \(allowed: read, lifecycle\)$' "$err"
dl_assert_eq "refused rm left the container" running "$(state "$web")"
dl_ctl 125 exec "ctl1/$pfx-web" -- true
dl_assert_match "exec refused by default" 'ctl1 policy does not allow exec' "$err"
dl_ctl 5 prune ctl1 containers

# ---- logs: stdout and stderr apart
dl_ctl 0 logs "ctl1/$pfx-web"
dl_assert_match "logs stdout" '^out-1$' "$out"
dl_assert_no_match "no stderr on stdout" 'err-1' "$out"
dl_assert_match "logs stderr" '^err-1$' "$err"
dl_ctl 0 logs --tail 1 "ctl1/$pfx-web"
dl_assert_eq "--tail 1 gives one line" 1 "$(wc -l <<<"$out")"
dl_ctl 0 logs -t --tail 2 "ctl1/$pfx-web"
dl_assert_match "--timestamps" '^20[0-9-]+T[0-9:.]+Z tick-' "$out"
dl_ctl 0 logs --since 10m "ctl1/$pfx-web"
dl_assert_match "--since 10m includes the first line" '^out-1$' "$out"
dl_ctl 0 logs --since "$(($(date +%s) + 3600))" "ctl1/$pfx-web"
dl_assert_eq "--since in the future gives nothing" "" "$out$err"

# A TTY container's log is one raw stream (no multiplexing to undo).
tty=$(docker run -d -t --label "dockline.test=$T" --name "$pfx-tty" "$DL_IMAGE" sh -c 'echo tty-line; exec sleep 3600')
dl_wait_for "docker logs $tty 2>&1 | grep -q tty-line" 10 "the TTY container wrote its line"
dl_ctl 0 logs "ctl1/$pfx-tty"
dl_assert_match "logs of a TTY container" '^tty-line' "$out"

# logs -f follows new lines; killing the CLI cancels on the agent, which
# closes its connection to dockerd.
agent1=$DL_AGENT_PID_ctl1
# The agent's Docker sockets by inode: the follow's stream has a
# connection of its own (never a pooled one), so it shows up as a new
# inode and must be gone after the cancel. (Counting sockets is not
# enough: inspects of other tests' containers on this shared dockerd
# open and pool connections meanwhile.)
socks() { find /proc/"$agent1"/fd -lname 'socket:*' -printf '%l\n' 2>/dev/null | sort; }
socks >"$T/socks.base"
# (exec: $! is dockline itself. Background jobs ignore SIGINT, so TERM
# stands in for Ctrl-C: either way the process and its socket go.)
(exec "$DL_BIN/dockline" -s "$T/admin.sock" logs -f --tail 1 "ctl1/$pfx-web" >"$T/follow.out" 2>"$T/follow.err") &
fpid=$!
dl_wait_for "[ \$(grep -c tick- $T/follow.out) -ge 4 ]" 20 "logs -f delivers new lines as they come"
socks | comm -13 "$T/socks.base" - >"$T/socks.new"
dl_assert_match "the agent holds a Docker connection for the follow" 'socket:' "$(cat "$T/socks.new")"
kill -TERM "$fpid"
wait "$fpid" 2>/dev/null || true
dl_wait_for "[ -n \"\$(socks | comm -12 $T/socks.new - | comm -3 $T/socks.new - )\" ]" 10 \
	"agent closed its Docker logs request after the cancel"
n=$(grep -c tick- "$T/follow.out")
dl_never "[ \$(grep -c tick- $T/follow.out) -gt $n ]" 1 "no output after the cancel"

# ---- exec on the host that allows it
dl_ctl 3 exec "ctl2/$pfx-web" -- sh -c 'echo hello; echo oops >&2; exit 3'
dl_assert_eq "exec stdout" hello "$out"
dl_assert_eq "exec stderr" oops "$err"
dl_ctl 0 exec -e SECRET_TOKEN=hunter2 -w /tmp "ctl2/$pfx-web" sh -c 'echo $SECRET_TOKEN $(pwd)'
dl_assert_eq "exec env and workdir" "hunter2 /tmp" "$out"
# a large output streams through the windows intact
dl_ctl 0 exec "ctl2/$pfx-web" -- sh -c 'i=0; while [ $i -lt 20000 ]; do echo "line $i of the big output"; i=$((i+1)); done'
dl_assert_eq "20000 lines through exec" 20000 "$(wc -l <"$T/out")"
dl_assert_eq "last line intact" "line 19999 of the big output" "$(tail -n 1 "$T/out")"

other=$(dl_run_container other sleep 3600)
dl_ctl 0 rm -f "ctl2/$pfx-other"
dl_wait_for "! docker inspect $other" 10 "rm -f removed the container"
# prune, limited to this test's label: the shared dockerd (and a quick
# start beside us) keeps its own stopped containers.
done1=$(dl_run_container done1 true)
dl_wait_for "[ \"\$(state $done1)\" = exited ]" 10 "a stopped container to prune"
dl_ctl 0 prune ctl2 containers --label "dockline.test=$T"
dl_assert_match "prune reports what it deleted" '^deleted [1-9][0-9]* containers' "$out"
dl_wait_for "! docker inspect $done1" 10 "prune removed the labelled stopped container"
dl_assert_eq "prune left running containers alone" running "$(state "$web")"

# ---- host-level reads
dl_ctl 0 images ctl1 --json
dl_assert_match "images lists the test image" "\"$DL_IMAGE\"" "$out"
dl_ctl 0 images ctl1
dl_assert_match "images table" "$DL_IMAGE" "$out"
dl_ctl 0 networks ctl1
dl_assert_match "networks has bridge" ' bridge ' "$out"
dl_ctl 0 volumes ctl1 --json
dl_ctl 0 info ctl1 --json
dl_assert_eq "info ServerVersion" "$(docker version --format '{{.Server.Version}}')" "$(jq -r .ServerVersion <<<"$out")"
dl_ctl 0 version ctl1
dl_assert_eq "version" "$(docker version --format '{{.Server.Version}}')" "$(awk '$1 == "Version" { print $2 }' <<<"$out")"
dl_ctl 0 df ctl1
dl_assert_match "df table" '^Images ' "$out"

# ---- 20 requests at once, while events keep flowing
ev=$(dl_run_container ev sleep 3600)
for i in $(seq 1 20); do
	case $((i % 4)) in
	0) dl_cli top "ctl1/$pfx-web" --json >"$T/c$i" 2>&1 & ;;
	1) dl_cli logs --tail 3 "ctl1/$pfx-web" >"$T/c$i" 2>&1 & ;;
	*) dl_cli inspect "ctl1/$pfx-web" >"$T/c$i" 2>&1 & ;;
	esac
	eval "cp$i=$!"
	if [ "$i" = 10 ]; then
		docker stop -t 1 "$ev" >/dev/null &
		stop_pid=$!
	fi
done
for i in $(seq 1 20); do
	p=$(eval echo "\$cp$i")
	wait "$p" || dl_fail "concurrent request $i failed: $(cat "$T/c$i")"
done
dl_ok "20 concurrent requests completed"
for i in 2 3 6 7 10 11 14 15 18 19; do
	[ "$(jq -r .Id <"$T/c$i")" = "$web" ] || dl_fail "concurrent inspect $i: $(head -c 300 "$T/c$i")"
done
for i in 1 5 9 13 17; do
	[ "$(grep -c tick- "$T/c$i")" = 3 ] || dl_fail "concurrent logs $i: $(cat "$T/c$i")"
done
dl_ok "concurrent answers are each the right one"
wait "$stop_pid"
dl_wait_for "[ \$(dl_event_count $ev die --host ctl1) -ge 1 ]" 20 "event made during the burst arrived"

# ---- audit
dl_items audit --host ctl1 --limit 1000 >"$T/audit"
dl_log "audit rows for ctl1: $(wc -l <"$T/audit")"
for op in inspect top stop start restart pause unpause rename kill rm exec prune logs; do
	grep -q "\"op\":\"$op\"" "$T/audit" || dl_fail "no audit row for $op: $(cat "$T/audit")"
done
dl_ok "every op of ctl1 is in the audit log"
row=$(jq -c 'select(.op == "rm")' "$T/audit" | head -n 1)
dl_assert_eq "rm audited as refused" refused "$(jq -r .status <<<"$row")"
dl_assert_eq "audit user" root "$(jq -r .user <<<"$row")"
dl_assert_eq "audit target" "$pfx-web" "$(jq -r .target <<<"$row")"
dl_assert_match "audit duration_ms" '^[0-9]+$' "$(jq -r .duration_ms <<<"$row")"
dl_assert_match "audit time" '^20' "$(jq -r .time <<<"$row")"
dl_assert_eq "cancelled logs -f audited" cancelled \
	"$(jq -r 'select(.op == "logs" and (.args | test("follow"))) | .status' "$T/audit" | head -n 1)"
dl_items audit --host ctl2 --limit 1000 >"$T/audit2"
dl_assert_match "exec exit code audited" '"exit_code":3' "$(cat "$T/audit2")"
dl_assert_no_match "exec env value redacted" 'hunter2' "$(cat "$T/audit2")"
dl_assert_match "exec env name kept" 'SECRET_TOKEN=\*\*\*' "$(cat "$T/audit2")"
dl_assert_match "audit table" 'refused' "$(dl_cli audit --host ctl1)"

# ---- a session lost mid-request, then the host offline
(exec "$DL_BIN/dockline" -s "$T/admin.sock" logs -f "ctl2/$pfx-web" >"$T/lost.out" 2>"$T/lost.err") &
lpid=$!
dl_wait_for "grep -q tick- $T/lost.out" 10 "logs -f on ctl2 running"
kill -9 "$DL_AGENT_PID_ctl2"
rc=0
wait "$lpid" || rc=$?
dl_assert_eq "lost session exit code" 4 "$rc"
dl_assert_match "lost session sentence" 'connection to ctl2 was lost during logs .*the outcome is unknown' "$(cat "$T/lost.err")"
dl_wait_for '! dl_host_online ctl2' 20 "ctl2 offline"
dl_ctl 3 stop "ctl2/$pfx-web"
dl_assert_match "offline sentence" '^dockline: ctl2 is offline \(last seen [0-9]+s ago\)$' "$err"
dl_assert_eq "web untouched" running "$(state "$web")"

# ---- a deadline shorter than the work: the outcome is unknown (exit 4);
# sh as PID 1 ignores SIGTERM, so Docker waits the full -t before killing.
dl_ctl 4 stop "ctl1/$pfx-web" -t 10 --timeout 1s
dl_assert_match "deadline sentence" '^dockline: ctl1: Docker did not finish stop within 1.0 s; it may still complete$' "$err"
dl_assert_eq "deadline audited as timeout" timeout \
	"$(dl_items audit --host ctl1 --limit 1 | jq -r .status)"

# ---- an agent that stops answering: the collector's own deadline
# (timeout + 5 s grace) ends the call.
kill -STOP "$DL_AGENT_PID_ctl1"
dl_ctl 4 inspect "ctl1/$pfx-web" --timeout 1s
kill -CONT "$DL_AGENT_PID_ctl1"
dl_assert_match "collector deadline sentence" '^dockline: ctl1 did not answer inspect within 1.0 s; the outcome is unknown$' "$err"
