#!/usr/bin/env bash
# API tokens end to end: `dockline token` creates, lists and revokes
# them; requests from the gateway's uid ([http] user) need one; a token's
# role decides which ops it may run (a refused control request is
# audited as "refused" with user token:NAME); its host glob hides every
# other host; revoked and expired tokens are refused. The gateway is
# played by the CLI run as the [http] user with --token / DOCKLINE_TOKEN,
# which puts the secret in every request exactly as the gateway will.
. "$(dirname "$0")/lib.sh"

dl_need_all

HTTP_USER=dltesthttp
dl_need_user "$HTTP_USER"

dl_start_sshd
dl_write_collector_conf
printf '[http]\nuser = %s\n' "$HTTP_USER" >>"$T/collector.conf"
dl_start_collector
# The test's socket is 0660 root: let the gateway user in, as the
# packaging does with the socket's group.
chmod 666 "$T/admin.sock"
dl_enroll tk1
dl_enroll tk2
dl_start_agent tk1
dl_start_agent tk2
dl_wait_for 'dl_host_online tk1 && dl_host_online tk2' 30 "hosts tk1 and tk2 online"
pfx="dl-${T##*/}"
web=$(dl_run_container web sh -c 'while :; do sleep 1; done')
dl_wait_for "[ \"\$(dl_ps_field $web state --host tk1)\" = running ]" 20 "web in ps"

# gw EXPECTED_RC SECRET dockline-args...: the CLI as the gateway user;
# $out and $err keep its stdout and stderr.
gw() {
	local want=$1 tok=$2 rc=0
	shift 2
	runuser -u "$HTTP_USER" -- env DOCKLINE_TOKEN="$tok" \
		"$DL_BIN/dockline" -s "$T/admin.sock" "$@" >"$T/out" 2>"$T/err" || rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
	[ "$rc" = "$want" ] || dl_fail "dockline $* as $HTTP_USER: exit $rc, expected $want; stderr: $err; stdout: ${out:0:300}"
	dl_ok "dockline $* as $HTTP_USER -> exit $rc"
}

# secret NAME ARGS...: creates a token as root, prints its secret.
secret() {
	local name=$1 o
	shift
	o=$(dl_cli token create "$name" "$@") || dl_fail "token create $name: $o"
	grep -q '^Keep this secret now: it is not shown again\.$' <<<"$o" ||
		dl_fail "token create did not say the secret is shown once: $o"
	grep -E '^dlt_[A-Za-z0-9_-]{43}$' <<<"$o" || dl_fail "no secret in: $o"
}

ro=$(secret ro --role read)
op=$(secret ops --role operate)
one=$(secret only-tk1 --role read --hosts 'tk1')
short=$(secret short --role read --expires 3s)
dl_ok "four tokens created"

# ---- the table, never a secret or a hash
list=$(dl_cli token list)
dl_assert_match "list header" '^NAME +ROLE +HOSTS +CREATED +EXPIRES +LAST USED$' "$(head -n1 <<<"$list")"
dl_assert_match "list shows only-tk1" '^only-tk1 +read +tk1 ' "$list"
dl_assert_no_match "list shows no secret" 'dlt_' "$list"
dl_assert_eq "list --json" "only-tk1:read,ops:operate,ro:read,short:read" \
	"$(dl_cli token list --json | jq -r 'map(.name + ":" + .role) | join(",")')"
dl_assert_eq "the database holds hashes only" 0 \
	"$(sqlite3 "$T/dockline.db" "SELECT count(*) FROM tokens WHERE hash LIKE 'dlt_%'")"
rc=0; dl_cli token create ro --role read >/dev/null 2>"$T/err" || rc=$?
dl_assert_eq "duplicate name exit" 1 "$rc"
dl_assert_eq "duplicate name" "dockline: a token named ro already exists" "$(cat "$T/err")"

# ---- the gateway's uid needs a token; a bad one is refused
gw 1 "" ps
dl_assert_eq "no token" "dockline: a token is required" "$err"
gw 1 "dlt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" ps
dl_assert_eq "wrong token" "dockline: invalid or revoked token" "$err"
dl_assert_file_match "refusals are logged with the uid" "uid [0-9]+: invalid or revoked token refused" "$T/collector.log"
if grep -q 'dlt_' "$T/collector.log"; then dl_fail "a secret reached the log"; fi

# ---- read: queries yes, lifecycle no (audited as refused)
gw 0 "$ro" ps --host tk1
dl_assert_match "read token sees ps" "$pfx-web" "$out"
gw 0 "$ro" inspect "tk1/$pfx-web" --json
dl_assert_eq "read token may inspect" "$web" "$(jq -r .Id <<<"$out")"
gw 1 "$ro" stop "tk1/$pfx-web" -t 1
dl_assert_eq "read token may not stop" "dockline: token ro (role read) may not stop" "$err"
dl_assert_eq "still running" running "$(docker inspect -f '{{.State.Status}}' "$web")"
row=$(dl_cli audit --json | jq -c '.[] | select(.op == "stop" and .status == "refused")')
dl_assert_eq "refusal audited as token:ro" "token:ro" "$(jq -r .user <<<"$row")"
dl_assert_eq "refusal audited message" "token ro (role read) may not stop" "$(jq -r .message <<<"$row")"
# valid arguments refused for the role are audited as they were (redacted),
# not as the key names of an invalid request
dl_assert_eq "refusal keeps its arguments" 1 "$(jq -r '.args | fromjson | .t' <<<"$row")"
gw 1 "$ro" token list
dl_assert_eq "read token may not list tokens" "dockline: token ro (role read) may not token_list" "$err"
# the code travels in the answer
code=$(runuser -u "$HTTP_USER" -- python3 - "$T/admin.sock" "$ro" <<'PY'
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
b = json.dumps({"op": "control", "host": "tk1", "action": "kill",
                "args": {"container": "x"}, "token": sys.argv[2]}).encode()
s.sendall(struct.pack(">I", len(b)) + b)
n = struct.unpack(">I", s.recv(4, socket.MSG_WAITALL))[0]
r = json.loads(s.recv(n, socket.MSG_WAITALL))
print(r["code"], r["status"])
PY
)
dl_assert_eq "forbidden code and refused status" "forbidden refused" "$code"

# ---- operate: lifecycle yes
gw 0 "$op" stop "tk1/$pfx-web" -t 1
dl_assert_eq "operate token stopped it" exited "$(docker inspect -f '{{.State.Status}}' "$web")"
gw 0 "$op" start "tk1/$pfx-web"
row=$(dl_cli audit --json | jq -c '[.[] | select(.op == "stop" and .status == "ok")] | last')
dl_assert_eq "stop audited as token:ops" "token:ops" "$(jq -r .user <<<"$row")"

# ---- a host glob hides the other host
gw 0 "$one" hosts --json
dl_assert_eq "only tk1 listed" "tk1" "$(jq -r 'map(.name) | join(",")' <<<"$out")"
gw 0 "$one" ps --json
dl_assert_eq "ps rows of tk1 only" "tk1" "$(jq -r 'map(.host) | unique | join(",")' <<<"$out")"
gw 1 "$one" ps --host tk2
dl_assert_eq "tk2 does not exist for it" "dockline: no host named tk2" "$err"
gw 1 "$one" inspect "tk2/$pfx-web"
dl_assert_eq "control on tk2: no such host" "dockline: no host named tk2" "$err"
gw 0 "$one" audit --json
dl_assert_no_match "audit rows of tk2 hidden" '"host": "tk2"' "$out"
gw 0 "$ro" hosts --json
dl_assert_eq "the unlimited read token sees both" "tk1,tk2" "$(jq -r 'map(.name) | sort | join(",")' <<<"$out")"

# ---- a local admin keeps full rights without a token
dl_assert_match "root sees tk2" 'tk2' "$(dl_cli hosts)"

# ---- revoked, expired
out=$(dl_cli token revoke ro)
dl_assert_eq "revoke" "token ro revoked" "$out"
gw 1 "$ro" ps
dl_assert_eq "revoked token" "dockline: invalid or revoked token" "$err"
rc=0; dl_cli token revoke ro >/dev/null 2>"$T/err" || rc=$?
dl_assert_eq "revoke twice" "dockline: no token named ro" "$(cat "$T/err")"
dl_wait_for "! runuser -u $HTTP_USER -- env DOCKLINE_TOKEN=$short $DL_BIN/dockline -s $T/admin.sock hosts >/dev/null 2>&1" 10 "short token expires"
gw 1 "$short" hosts
dl_assert_eq "expired token" "dockline: the token has expired" "$err"

# ---- survives a restart: tokens come back from SQLite, revoked stays so
dl_stop_collector
dl_start_collector
chmod 666 "$T/admin.sock"
gw 0 "$op" ps --host tk1
gw 1 "$ro" ps
dl_assert_eq "revoked after restart" "dockline: invalid or revoked token" "$err"
dl_assert_match "last use recorded" '^ops +operate +\* .* [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{5}$' "$(dl_cli token list | grep '^ops ')"
dl_ok "tokens"
