#!/usr/bin/env bash
# systemd's notification protocol, against a notify socket of the test's
# own (as systemd's Type=notify and WatchdogSec= would use it): serve and
# the agent say READY=1 once they run, feed the watchdog at half of
# WATCHDOG_USEC from their loops, and say STOPPING=1 on SIGTERM.
. "$(dirname "$0")/lib.sh"

dl_need_all

# A datagram listener standing in for systemd: one line per message.
cat >"$T/notify.py" <<'PY'
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "a", buffering=1) as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", " ") + "\n")
PY
dl_spawn "$T/notify-serve.err" /usr/bin/python3 "$T/notify.py" "$T/serve.notify" "$T/serve.msgs"
dl_spawn "$T/notify-agent.err" /usr/bin/python3 "$T/notify.py" "$T/agent.notify" "$T/agent.msgs"
dl_wait_for "[ -S $T/serve.notify ] && [ -S $T/agent.notify ]" 10 "notify sockets bound"

dl_start_sshd
NOTIFY_SOCKET=$T/serve.notify WATCHDOG_USEC=2000000 dl_start_collector
dl_wait_for "grep -q 'READY=1' $T/serve.msgs" 10 "serve says READY=1"
dl_assert_match "serve says what it does" 'STATUS=serving' "$(cat "$T/serve.msgs")"
dl_wait_for "[ \$(grep -c '^WATCHDOG=1' $T/serve.msgs) -ge 3 ]" 10 "serve feeds the watchdog (every 1 s of a 2 s period)"

dl_enroll sd1
NOTIFY_SOCKET=$T/agent.notify WATCHDOG_USEC=2000000 dl_start_agent sd1
dl_wait_for 'dl_host_online sd1' 30 "host sd1 online"
dl_wait_for "grep -q 'READY=1' $T/agent.msgs" 10 "the agent says READY=1"
dl_wait_for "[ \$(grep -c '^WATCHDOG=1' $T/agent.msgs) -ge 3 ]" 10 "the agent feeds the watchdog"

kill -TERM "$DL_AGENT_PID_sd1"
dl_wait_for "grep -q 'STOPPING=1' $T/agent.msgs" 10 "the agent says STOPPING=1 on SIGTERM"
kill -TERM "$DL_COLLECTOR_PID"
dl_wait_for "grep -q 'STOPPING=1' $T/serve.msgs" 10 "serve says STOPPING=1 on SIGTERM"
dl_ok "sd_notify"
