#!/usr/bin/env bash
# The CLI from the admin's own machine: `dockline -H ssh://USER@HOST[:PORT]`
# (and DOCKLINE_HOST) runs ssh, which runs `dockline-collector admin-relay`
# on the collector host as USER, and the admin protocol rides the session.
# A private sshd with normal logins (no forced command) for two test users:
# dltest-radm is in the admin socket's group, dltest-rno is not. Checks:
# hosts; logs -f shows lines printed after it started, then SIGINT ends the
# CLI, its ssh, the relay, and serve cancels the stream; events -f holds a
# subscriber that goes when the CLI is interrupted; exec's output and exit
# code; a stop is audited as the SSH user; the non-member is refused by the
# socket's permissions (the one gate) with a sentence and exit 6; ssh
# failures (nothing listening, key refused, relay not on PATH) and a bad
# URL each give their sentence and exit code.
. "$(dirname "$0")/lib.sh"

dl_need_all

# Stable names, created once under the user lock (as dltest is), so
# parallel runs share them; the group is the test's stand-in for the
# packaged dockline-admin.
R_ADM=dltest-radm
R_NO=dltest-rno
R_GROUP=dltest-admin
(
	flock 8
	getent group "$R_GROUP" >/dev/null || groupadd "$R_GROUP"
	for u in "$R_ADM" "$R_NO"; do
		id "$u" >/dev/null 2>&1 || useradd -m -s /bin/sh "$u"
		[ "$(getent shadow "$u" | cut -d: -f2)" = '*' ] || usermod -p '*' "$u"
	done
	id -nG "$R_ADM" | tr ' ' '\n' | grep -qx "$R_GROUP" || gpasswd -a "$R_ADM" "$R_GROUP" >/dev/null
	if id -nG "$R_NO" | tr ' ' '\n' | grep -qx "$R_GROUP"; then gpasswd -d "$R_NO" "$R_GROUP" >/dev/null; fi
) 8>"$DL_LOCK_DIR/dockline-test-user.lock"
for u in "$R_ADM" "$R_NO"; do
	runuser -u "$u" -- test -x "$DL_BIN/dockline-collector" ||
		dl_fail "$u cannot run $DL_BIN/dockline-collector"
done

dl_start_sshd
dl_start_collector
dl_enroll r1
DL_CONTROL_ALLOW=all dl_start_agent r1
dl_wait_for 'dl_host_online r1' 30 "host r1 online"
# serve makes the socket 0660 with its primary group; the packaged unit
# runs it as group dockline-admin, here the test's group stands in.
chgrp "$R_GROUP" "$T/admin.sock"
chmod 660 "$T/admin.sock"

# ---- the admins' sshd: normal logins, the relay found on PATH. Port B
# puts a PATH without it in front of the same logins (the relay missing).
mkdir -p "$T/rauth"
ssh-keygen -q -t ed25519 -N '' -f "$T/rsshd_host_key" -C "dltest-rhost"
for u in "$R_ADM" "$R_NO" stranger; do
	ssh-keygen -q -t ed25519 -N '' -f "$T/rkey-$u" -C "$u"
done
cp "$T/rkey-$R_ADM.pub" "$T/rauth/$R_ADM"
cp "$T/rkey-$R_NO.pub" "$T/rauth/$R_NO"
chmod 755 "$T/rauth"
chmod 644 "$T/rauth"/*
for try in 1 2 3 4 5; do
	RA=$(dl_free_port)
	RB=$(dl_free_port)
	[ "$RA" != "$RB" ] || continue
	cat >"$T/rsshd_config" <<EOF
ListenAddress 127.0.0.1
Port $RA
Port $RB
HostKey $T/rsshd_host_key
PidFile $T/rsshd.pid
AuthorizedKeysFile $T/rauth/%u
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowUsers $R_ADM $R_NO
LogLevel VERBOSE
Match LocalPort $RB
	SetEnv PATH=/usr/bin:/bin
Match LocalPort $RA
	SetEnv PATH=$DL_BIN:/usr/bin:/bin
EOF
	: >"$T/rsshd.log"
	dl_spawn "$T/rsshd.log" /usr/sbin/sshd -D -e -f "$T/rsshd_config"
	RSSHD_PID=$DL_LAST_PID
	for _ in $(seq 1 50); do
		kill -0 "$RSSHD_PID" 2>/dev/null || break
		[ "$(grep -c 'Server listening' "$T/rsshd.log")" -ge 2 ] && break 2
		sleep 0.2
	done
	kill -0 "$RSSHD_PID" 2>/dev/null && dl_kill_tree "$RSSHD_PID"
	RSSHD_PID=
done
[ -n "${RSSHD_PID:-}" ] || dl_fail "the admins' sshd did not start: $(tail -n 5 "$T/rsshd.log")"
ssh-keyscan -t ed25519 -p "$RA" 127.0.0.1 >"$T/rknown_hosts" 2>/dev/null
sed "s/^\[127.0.0.1\]:$RA /[127.0.0.1]:$RB /" "$T/rknown_hosts" >>"$T/rknown_hosts"
[ -s "$T/rknown_hosts" ] || dl_fail "ssh-keyscan of the admins' sshd failed"
dl_log "admins' sshd pid $RSSHD_PID on 127.0.0.1:$RA and :$RB"

# The admin's ssh: their key, the pinned host key, nothing from ~/.ssh.
sshcmd() {
	echo "ssh -F /dev/null -i $T/rkey-$1 -o IdentitiesOnly=yes -o BatchMode=yes" \
		"-o StrictHostKeyChecking=yes -o UserKnownHostsFile=$T/rknown_hosts" \
		"-o GlobalKnownHostsFile=/dev/null"
}

# rcli WANT_RC KEY URL dockline-args...: the CLI through ssh; stdout and
# stderr in $out/$err.
rcli() {
	local want=$1 key=$2 url=$3 rc=0
	shift 3
	DOCKLINE_SSH_COMMAND=$(sshcmd "$key") "$DL_BIN/dockline" -H "$url" -s "$T/admin.sock" "$@" \
		>"$T/out" 2>"$T/err" </dev/null || rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
	[ "$rc" = "$want" ] || dl_fail "dockline -H $url $*: exit $rc, expected $want; stderr: $err; stdout: ${out:0:300}"
	dl_ok "dockline -H $url $* -> exit $rc"
}
ADM="ssh://$R_ADM@127.0.0.1:$RA"
# (the local ssh has the same words on its command line: by user)
relays() { pgrep -u "$R_ADM,$R_NO" -f "admin-relay -s $T/admin.sock" || true; }

# ---- hosts, with the URL from DOCKLINE_HOST
rc=0
DOCKLINE_HOST=$ADM DOCKLINE_SSH_COMMAND=$(sshcmd "$R_ADM") \
	"$DL_BIN/dockline" -s "$T/admin.sock" hosts >"$T/out" 2>"$T/err" </dev/null || rc=$?
dl_assert_eq "hosts through DOCKLINE_HOST exits 0 (stderr: $(cat "$T/err"))" 0 "$rc"
dl_assert_match "hosts shows r1 online" '^r1 +online ' "$(cat "$T/out")"
dl_assert_eq "no relay left after hosts" "" "$(relays)"
rcli 0 "$R_ADM" "$ADM" ps --json
pfx="dl-${T##*/}"
web=$(dl_run_container web sh -c 'i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.3; done')
dl_wait_for "[ \"\$(dl_ps_field $web state)\" = running ]" 20 "web in ps"

# ---- logs -f: lines printed after it started, then SIGINT ends it all.
# (set -m: a background job of its own, so SIGINT is not ignored in it.)
set -m
DOCKLINE_SSH_COMMAND=$(sshcmd "$R_ADM") "$DL_BIN/dockline" -H "$ADM" -s "$T/admin.sock" \
	logs -f --tail 1 "r1/$pfx-web" >"$T/follow.out" 2>"$T/follow.err" </dev/null &
fpid=$!
set +m
dl_wait_for "[ \$(grep -c tick- $T/follow.out) -ge 4 ]" 30 "logs -f through ssh delivers new lines"
first=$(head -n 1 "$T/follow.out" | sed 's/tick-//')
last=$(tail -n 1 "$T/follow.out" | sed 's/tick-//')
dl_assert_match "lines printed after logs -f started ($first .. $last)" yes "$([ "$last" -gt "$first" ] && echo yes)"
relay=$(relays)
dl_assert_match "a relay runs for the follow" '^[0-9]+' "$relay"
dl_assert_eq "one relay process, no shell around it" 1 "$(wc -l <<<"$relay")"
dl_log "relay: $(ps -o pid=,user=,rss=,args= -p "$relay")"
dl_assert_eq "the relay runs as the SSH user" "$R_ADM" "$(ps -o user= -p "$(head -n 1 <<<"$relay")" | tr -d ' ')"
sshpid=$(pgrep -P "$fpid" ssh || true)
dl_assert_match "the CLI's ssh child" '^[0-9]+$' "$sshpid"
kill -INT "$fpid"
rc=0
wait "$fpid" 2>/dev/null || rc=$?
dl_assert_eq "SIGINT ended dockline logs -f" 130 "$rc"
dl_wait_for "dl_gone $sshpid" 20 "the ssh child is gone"
dl_wait_for "[ -z \"\$(relays)\" ]" 20 "no relay process remains"
dl_wait_for "grep -q 'logs on r1: cancelled: the admin client went away' $T/collector.log" 20 \
	"serve cancelled the stream when the relay closed"
n=$(grep -c tick- "$T/follow.out")
dl_never "[ \$(grep -c tick- $T/follow.out) -gt $n ]" 1 "no output after SIGINT"

# ---- events -f: a subscriber while it runs, none after SIGINT
subs() { dl_cli metrics | awk '$1 == "dockline_subscribers" { print $2 }'; }
dl_assert_eq "no subscriber before" 0 "$(subs)"
set -m
DOCKLINE_SSH_COMMAND=$(sshcmd "$R_ADM") DOCKLINE_HOST=$ADM "$DL_BIN/dockline" -s "$T/admin.sock" \
	events -f --host r1 >"$T/ev.out" 2>"$T/ev.err" </dev/null &
epid=$!
set +m
dl_wait_for "[ \"\$(subs)\" = 1 ]" 30 "events -f through ssh subscribed"
docker pause "$web" >/dev/null
docker unpause "$web" >/dev/null
dl_wait_for "grep -q ' unpause ' $T/ev.out" 30 "events -f prints a pushed event"
kill -INT "$epid"
rc=0
wait "$epid" 2>/dev/null || rc=$?
dl_assert_eq "events -f ends cleanly on SIGINT (stderr: $(cat "$T/ev.err"))" 0 "$rc"
dl_wait_for "[ \"\$(subs)\" = 0 ]" 20 "serve dropped the subscriber"
dl_wait_for "[ -z \"\$(relays)\" ]" 20 "no relay process remains after events -f"

# ---- exec: output, streams apart, exit code; a large output intact
rcli 3 "$R_ADM" "$ADM" exec "r1/$pfx-web" -- sh -c 'echo hello; echo oops >&2; exit 3'
dl_assert_eq "exec stdout" hello "$out"
dl_assert_eq "exec stderr" oops "$err"
rcli 0 "$R_ADM" "$ADM" exec "r1/$pfx-web" -- sh -c 'i=0; while [ $i -lt 20000 ]; do echo "line $i of the big output"; i=$((i+1)); done'
dl_assert_eq "20000 lines through the relay" 20000 "$(wc -l <"$T/out")"
dl_assert_eq "last line intact" "line 19999 of the big output" "$(tail -n 1 "$T/out")"

# ---- a control action is audited as the SSH user
rcli 0 "$R_ADM" "$ADM" stop "r1/$pfx-web" -t 1
dl_assert_eq "stop echoes the container" "$pfx-web" "$out"
dl_assert_eq "docker sees it stopped" exited "$(docker inspect -f '{{.State.Status}}' "$web")"
rcli 0 "$R_ADM" "$ADM" audit --host r1 --json
row=$(jq -c "$DL_JQ_ITEMS | select(.op == \"stop\")" <<<"$out" | head -n 1)
dl_assert_eq "stop audited as the SSH user" "$R_ADM" "$(jq -r .user <<<"$row")"
dl_assert_eq "stop audited ok" ok "$(jq -r .status <<<"$row")"
row=$(jq -c "$DL_JQ_ITEMS | select(.op == \"logs\")" <<<"$out" | head -n 1)
dl_assert_eq "the interrupted follow audited as the SSH user" "$R_ADM" "$(jq -r .user <<<"$row")"

# ---- the user outside the group: the socket's permissions refuse
rcli 6 "$R_NO" "ssh://$R_NO@127.0.0.1:$RA" hosts
dl_log "the refusal reads: $err"
dl_assert_match "refusal sentence from the relay" \
	"^admin-relay: $R_NO is not in group $R_GROUP \(the admin socket $T/admin.sock is 0660 root:$R_GROUP\)" "$err"
dl_assert_match "and one from dockline" "^dockline: the collector at $R_NO@127.0.0.1:$RA refused this user" "$err"
rcli 6 "$R_NO" "ssh://$R_NO@127.0.0.1:$RA" stop "r1/$pfx-web"
dl_assert_eq "no relay left after the refusals" "" "$(relays)"

# ---- ssh and relay failures: ssh's words, one sentence, exit 6
dead=$(dl_free_port)
rcli 6 "$R_ADM" "ssh://$R_ADM@127.0.0.1:$dead" hosts
dl_log "unreachable reads: $err"
dl_assert_match "ssh's own message (unreachable)" 'Connection refused' "$err"
dl_assert_match "dockline's sentence (unreachable)" "^dockline: ssh could not connect or log in to $R_ADM@127.0.0.1:$dead" "$err"
rcli 6 stranger "$ADM" hosts
dl_assert_match "ssh's own message (key refused)" 'Permission denied \(publickey\)' "$err"
dl_assert_match "dockline's sentence (key refused)" '^dockline: ssh could not connect or log in' "$err"
rcli 6 "$R_ADM" "ssh://$R_ADM@127.0.0.1:$RB" hosts
dl_assert_match "the remote shell's message (relay missing)" 'dockline-collector.*not found' "$err"
dl_assert_match "dockline's sentence (relay missing)" '^dockline: dockline-collector is not found on' "$err"
rc=0
DOCKLINE_SSH_COMMAND=$(sshcmd "$R_ADM") "$DL_BIN/dockline" -H "$ADM" -s "$T/nosuch/admin.sock" hosts \
	>"$T/out" 2>"$T/err" </dev/null || rc=$?
dl_assert_eq "no collector behind the relay: exit 3 as locally" 3 "$rc"
dl_assert_match "the relay says so" "^admin-relay: the collector is not running \(no socket at $T/nosuch/admin.sock\)" "$(cat "$T/err")"
# exec's own failures are 125 whatever the cause: 3 and 6 could be the
# command's exit code
rcli 125 "$R_ADM" "ssh://$R_ADM@127.0.0.1:$dead" exec "r1/$pfx-web" -- true
dl_assert_match "exec, ssh unreachable: the same sentence" "^dockline: ssh could not connect or log in to $R_ADM@127.0.0.1:$dead" "$err"
rc=0
DOCKLINE_SSH_COMMAND=$(sshcmd "$R_ADM") "$DL_BIN/dockline" -H "$ADM" -s "$T/nosuch/admin.sock" exec "r1/$pfx-web" -- true \
	>"$T/out" 2>"$T/err" </dev/null || rc=$?
dl_assert_eq "exec, no collector behind the relay: 125" 125 "$rc"
rc=0
"$DL_BIN/dockline" -s "$T/nosuch/admin.sock" exec "r1/$pfx-web" -- true >"$T/out" 2>"$T/err" </dev/null || rc=$?
dl_assert_eq "exec, no collector here: 125" 125 "$rc"
for c in hosts ps events; do
	rc=0
	"$DL_BIN/dockline" -s "$T/nosuch/admin.sock" "$c" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	dl_assert_eq "$c, no collector here: exit 3 as through the relay" 3 "$rc"
done
rc=0
DOCKLINE_SSH_COMMAND="$T/no-such-ssh -v" "$DL_BIN/dockline" -H "$ADM" hosts >"$T/out" 2>"$T/err" </dev/null || rc=$?
dl_assert_eq "a missing ssh program: exit 6" 6 "$rc"
dl_assert_match "names it" "^dockline: cannot run $T/no-such-ssh: No such file" "$(cat "$T/err")"

# ---- the URL and remote paths are checked before anything runs
for bad in "ssh://$R_ADM@127.0.0.1:99999" "ssh://x@-oProxyCommand=touch%20/tmp/x" \
	"ssh://a:pw@127.0.0.1" "http://127.0.0.1" "ssh://a@h/path"; do
	rc=0
	"$DL_BIN/dockline" -H "$bad" hosts >"$T/out" 2>"$T/err" </dev/null || rc=$?
	dl_assert_eq "bad URL $bad: usage exit" 2 "$rc"
	dl_assert_match "bad URL $bad: a sentence" '^dockline: -H wants ssh://USER@HOST\[:PORT\]: ' "$(cat "$T/err")"
done
rc=0
"$DL_BIN/dockline" -H "$ADM" -s '/tmp/a;reboot' hosts >"$T/out" 2>"$T/err" </dev/null || rc=$?
dl_assert_eq "a remote path with shell characters: usage exit" 2 "$rc"
rc=0
"$DL_BIN/dockline" -H "$ADM" enroll x --key "$T/rkey-$R_ADM.pub" >"$T/out" 2>"$T/err" </dev/null || rc=$?
dl_assert_eq "enroll refuses -H" 2 "$rc"
dl_assert_match "enroll says where to run it" 'run it there' "$(cat "$T/err")"
dl_assert_eq "no relay left at the end" "" "$(relays)"
