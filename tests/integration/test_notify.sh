#!/usr/bin/env bash
# Notifications and hooks end to end (issue 11), against real parts: a
# webhook receiver (python http.server on a free loopback port) gets
# `dockline notify test` with the documented JSON and the custom header;
# a receiver that answers 503 twice gets the message after retries (the
# CLI reports success, the log shows the retries); an unreachable one
# fails with the error sentence and exit 1; email goes through a real
# SMTP server (aiosmtpd); an exec hook on container:die gets the event
# as JSON on stdin and in DL_EVENT_* variables; a host:offline hook runs
# when the agent is killed; a bad [notify] section stops serve with
# file:line.
. "$(dirname "$0")/lib.sh"

dl_need_all

PY=/usr/bin/python3

# ---- receivers
cat >"$T/smtpd.py" <<'EOF'
import os, sys, time
from aiosmtpd.controller import Controller
port, out = int(sys.argv[1]), sys.argv[2]
os.makedirs(out, exist_ok=True)
class Handler:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Handler.n += 1
        p = os.path.join(out, "msg-%d" % Handler.n)
        with open(p + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(p + ".env", "w") as f:
            f.write("from %s\nto %s\n" % (envelope.mail_from, ",".join(envelope.rcpt_tos)))
        os.rename(p + ".eml.tmp", p + ".eml")
        return "250 Message accepted for delivery"
c = Controller(Handler(), hostname="127.0.0.1", port=port)
c.start()
with open(os.path.join(out, "ready"), "w") as f:
    f.write("1")
while True:
    time.sleep(3600)
EOF
dl_spawn "$T/recv.log" "$PY" "$DL_SRC/tests/integration/webhook_recv.py" "$T/recv.port" "$T/recv"
dl_wait_for "[ -s $T/recv.port ]" 10 "webhook receiver listening"
RP=$(cat "$T/recv.port")
for try in 1 2 3; do
	SP=$(dl_free_port)
	dl_spawn "$T/smtpd.log" "$PY" "$T/smtpd.py" "$SP" "$T/mail"
	smtpd=$DL_LAST_PID
	for _ in $(seq 1 50); do
		[ -f "$T/mail/ready" ] || ! kill -0 "$smtpd" 2>/dev/null && break
		sleep 0.2
	done
	[ -f "$T/mail/ready" ] && break
done
[ -f "$T/mail/ready" ] || dl_fail "aiosmtpd did not start (see $T/smtpd.log)"
dl_log "webhook receiver on $RP, SMTP server on $SP"
DEAD=$(dl_free_port) # nobody listens there

# ---- a bad section refuses to start, with file:line
dl_write_collector_conf
cp "$T/collector.conf" "$T/bad.conf"
printf '\n[notify broken]\nkind = webhook\nurl = http://127.0.0.1:1/\ncolour = blue\n' >>"$T/bad.conf"
out=$("$DL_BIN/dockline-collector" serve -c "$T/bad.conf" 2>&1) && dl_fail "serve started with a bad [notify] section"
dl_assert_match "unknown key named with file:line" "bad.conf:[0-9]+: \[notify broken\]|bad.conf:[0-9]+: unknown setting \[notify broken\] colour" "$out"
printf '\n[notify nokind]\nurl = http://127.0.0.1:1/\n' >"$T/bad2.conf"
out=$("$DL_BIN/dockline-collector" serve -c "$T/bad2.conf" 2>&1) && dl_fail "serve started without kind"
dl_assert_match "missing kind named with file:line" "bad2.conf:3: \[notify nokind\] needs kind" "$out"

# ---- the real configuration
CTR="dl-${T##*/}-die"
cat >"$T/die-hook.sh" <<EOF
cat >$T/die.json.tmp
echo "\$DL_HOOK \$DL_EVENT_NAME \$DL_EVENT_ATTR_EXITCODE" >$T/die.env
mv $T/die.json.tmp $T/die.json
EOF
cat >>"$T/collector.conf" <<EOF

[notify hook1]
kind = webhook
url = http://127.0.0.1:$RP/hook1?token=s3cr3t-query
header1 = X-Dockline-Test: custom-value-42
timeout = 5s

[notify flaky]
kind = webhook
url = http://127.0.0.1:$RP/flaky
retries = 5

[notify dead]
kind = webhook
url = http://127.0.0.1:$DEAD/nobody
retries = 0
timeout = 3s

[notify mail]
kind = email
smtp_url = smtp://127.0.0.1:$SP
starttls = no
from = Dockline <dockline@example.test>
to = ops@example.test, oncall@example.test

[hook die]
on = container:die
hosts = notif*
containers = $CTR*
command = /bin/sh $T/die-hook.sh
timeout = 10s

[hook offline]
on = host:offline
command = /bin/sh -c 'cat >$T/offline.json.tmp && mv $T/offline.json.tmp $T/offline.json'

[hook started]
on = container:start
containers = $CTR*
notify = hook1
EOF
dl_start_sshd
dl_start_collector

# ---- 1. webhook: documented JSON, custom header, the receiver's answer
out=$(dl_cli notify test hook1) || dl_fail "notify test hook1 failed: $out"
dl_assert_match "CLI prints the receiver's answer" "^hook1: delivered: HTTP 200: ok-received" "$out"
f=$(grep -l "^POST /hook1" "$T"/recv/req-*.headers | head -n 1)
[ -n "$f" ] || dl_fail "the receiver got no request for hook1"
b=${f%.headers}.body
dl_assert_eq "body kind" test "$(jq -r .kind "$b")"
dl_assert_eq "body summary" "dockline test message from $(hostname)" "$(jq -r .summary "$b")"
dl_assert_eq "body has exactly kind and summary" '["kind","summary"]' "$(jq -c 'keys' "$b")"
dl_assert_file_match "custom header sent" "^X-Dockline-Test: custom-value-42$" "$f"
dl_assert_file_match "JSON content type" "^Content-Type: application/json" "$f"

# ---- 2. 503 twice, then 200: delivered after retries
t0=$(date +%s)
out=$(dl_cli notify test flaky) || dl_fail "notify test flaky failed: $out"
dl_assert_match "flaky delivered" "^flaky: delivered: HTTP 200" "$out"
dl_assert_eq "flaky receiver saw 3 attempts" 3 "$(grep -l "^POST /flaky" "$T"/recv/req-*.headers | wc -l)"
dl_assert_file_match "first retry logged" "flaky: HTTP 503: try later; retry 1 of 5 in 1 s" "$T/collector.log"
dl_assert_file_match "second retry logged" "flaky: HTTP 503: try later; retry 2 of 5 in 2 s" "$T/collector.log"
[ $(($(date +%s) - t0)) -ge 2 ] || dl_fail "retries came faster than the 1 s + 2 s backoff"

# ---- 3. unreachable: the error sentence, exit 1
if out=$(dl_cli notify test dead 2>&1); then dl_fail "notify test dead succeeded: $out"; fi
dl_assert_match "unreachable receiver: curl's sentence" "dead: .*(Couldn't connect|Failed to connect|Connection refused)" "$out"

# ---- 4. secrets stay out of list and log
list=$(dl_cli notify list --json)
dl_assert_eq "list names 4 channels" 4 "$(jq '.channels | length' <<<"$list")"
dl_assert_no_match "list shows no query, path or header" "s3cr3t|custom-value-42|/hook1" "$list"
dl_assert_no_match "log shows no query or header value" "s3cr3t|custom-value-42" "$(cat "$T/collector.log")"

# ---- 5. email through a real SMTP server
out=$(dl_cli notify test mail) || dl_fail "notify test mail failed: $out"
dl_assert_match "mail delivered" "^mail: delivered: SMTP 250" "$out"
dl_wait_for "[ -f $T/mail/msg-1.eml ]" 10 "SMTP server stored the message"
cat >"$T/parse.py" <<'EOF'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
for h in ("Subject", "From", "To", "Content-Type", "MIME-Version"):
    print("%s=%s" % (h, m[h]))
print("has-date=%s has-msgid=%s" % (m["Date"] is not None, (m["Message-ID"] or "").startswith("<")))
print("body=" + m.get_content().splitlines()[0])
EOF
mail=$("$PY" "$T/parse.py" "$T/mail/msg-1.eml")
dl_log "$mail"
dl_assert_match "Subject" "^Subject=dockline test message$" "$mail"
dl_assert_match "From" "^From=Dockline <dockline@example.test>$" "$mail"
dl_assert_match "To" "^To=ops@example.test, oncall@example.test$" "$mail"
dl_assert_match "MIME text/plain UTF-8" "^Content-Type=text/plain; charset=\"?utf-8\"?$" "$(tr 'A-Z' 'a-z' <<<"$mail" | sed 's/^content-type/Content-Type/')"
dl_assert_match "Date and Message-ID" "^has-date=True has-msgid=True$" "$mail"
dl_assert_match "body starts with the summary" "^body=dockline test message from $(hostname)$" "$mail"
dl_assert_file_match "envelope recipients" "^to ops@example.test,oncall@example.test$" "$T/mail/msg-1.env"

# ---- 6. hooks: container:start -> channel, container:die -> command
dl_enroll notif1
dl_start_agent notif1
dl_wait_for 'dl_host_online notif1' 30 "host notif1 online"
id=$(docker run -d --label "dockline.test=$T" --name "$CTR" "$DL_IMAGE" sleep 3600)
dl_wait_for "grep -l '\"action\":\"start\"' $T/recv/req-*.body 2>/dev/null | xargs -r grep -l '$CTR' | grep -q ." 30 \
	"container:start hook sent the event to hook1"
sb=$(grep -l '"action":"start"' "$T"/recv/req-*.body | xargs grep -l "$CTR" | head -n 1)
dl_assert_eq "event message kind" event "$(jq -r .kind "$sb")"
dl_assert_eq "event message hook" started "$(jq -r .hook "$sb")"
dl_assert_eq "event message row: host" notif1 "$(jq -r .host "$sb")"
dl_assert_eq "event message row: id" "$id" "$(jq -r .id "$sb")"
docker stop -t 1 "$id" >/dev/null
dl_wait_for "[ -f $T/die.json ]" 30 "container:die hook ran"
dl_assert_eq "die hook got the container name" "$CTR" "$(jq -r .name "$T/die.json")"
dl_assert_eq "die hook got the action" die "$(jq -r .action "$T/die.json")"
dl_assert_eq "die hook got exitCode" 137 "$(jq -r .attributes.exitCode "$T/die.json")"
dl_assert_eq "die hook environment" "die $CTR 137" "$(cat "$T/die.env")"
dl_wait_for "grep -q 'hook die: exit 0' $T/collector.log" 10 "hook outcome logged"

# ---- 7. host:offline when the agent is killed
kill -KILL "$DL_AGENT_PID_notif1"
dl_wait_for "[ -f $T/offline.json ]" 60 "host:offline hook ran"
dl_assert_eq "offline event type" host "$(jq -r .type "$T/offline.json")"
dl_assert_eq "offline event action" offline "$(jq -r .action "$T/offline.json")"
dl_assert_eq "offline event host" notif1 "$(jq -r .host "$T/offline.json")"

# ---- 8. metrics and a clean stop
m=$(dl_cli metrics)
dl_assert_match "notifications counted" 'dockline_notifications_total\{channel="flaky",result="ok"\} 1' "$m"
dl_assert_match "failed counted" 'dockline_notifications_total\{channel="dead",result="failed"\} 1' "$m"
dl_assert_match "hook runs counted" 'dockline_hook_runs_total\{hook="die",result="ok"\} 1' "$m"
dl_stop_collector
