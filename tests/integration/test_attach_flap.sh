#!/usr/bin/env bash
# serve goes away again between attach's RESTART and serve's HELLO (seen
# in tests/bench/fleet.sh 1000: attach reconnected to a serve that was
# being killed). attach waits again and PINGs the agent every second; the
# agent, which has sent its HELLO and waits for serve's, must answer those
# PINGs rather than drop the link (which cost a new SSH handshake after
# the fleet's redial spread). Here a stand-in on the agent socket accepts
# one connection, reads the ATTACH and the agent's HELLO and goes away;
# attach waits (PINGs), then the real serve comes back and the session
# resumes on the same SSH connection.
. "$(dirname "$0")/lib.sh"

dl_need_all

dl_start_sshd
dl_write_collector_conf
echo "attach_wait = 30" >>"$T/collector.conf"
dl_start_collector
dl_enroll fl1
dl_start_agent fl1
dl_wait_for 'dl_host_online fl1' 30 "host fl1 online"
accepted() { grep -c 'Accepted publickey' "$T/sshd.log" || true; }
restarts() { grep -c 'session restarted on the same SSH channel' "$T/agent-fl1.log" || true; }
ssh0=$(accepted)
r0=$(restarts)

dl_stop_collector KILL
rm -f "$T/agent.sock"
dl_spawn "$T/flap.log" /usr/bin/python3 -c '
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)  # attach runs as the ssh user
s.listen(16)
c, _ = s.accept()
c.settimeout(5)
try:
    c.recv(65536)    # ATTACH
    time.sleep(0.5)  # the agent HELLO comes after attach sent RESTART
    c.recv(65536)
except OSError:
    pass
s.close()            # gone again, before any HELLO of ours
c.close()
print("closed", flush=True)
' "$T/agent.sock"
flap=$DL_LAST_PID
dl_wait_for "grep -q closed $T/flap.log" 30 "attach restarted the session on a serve that went away again"
dl_wait_for "dl_gone $flap" 10 "stand-in gone"
# attach now waits, PINGing the agent every second
sleep 4
conn0=$(grep -c 'fl1 connected (' "$T/collector.log" || true)
dl_start_collector
dl_wait_for "[ \$(grep -c 'fl1 connected (' $T/collector.log) -gt $conn0 ]" 30 "fl1 back in the real serve"
dl_wait_for 'dl_host_online fl1' 10 "host fl1 online again"

dl_assert_eq "new SSH handshakes" 0 $(($(accepted) - ssh0))
[ $(($(restarts) - r0)) -ge 2 ] || dl_fail "the agent saw only $(($(restarts) - r0)) restarts"
if grep -q 'expected HELLO from collector, got PING' "$T/agent-fl1.log"; then
	dl_fail "the agent dropped the link on a PING before HELLO"
fi
id=$(dl_run_container after true)
dl_wait_for "[ \$(dl_event_count $id die --host fl1) -ge 1 ]" 30 "events flow after the flaps"
dl_ok "session kept through serve flapping after RESTART"
