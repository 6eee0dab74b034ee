# alert_recv.py - the clock side of bench_alert_latency.sh.
#
#   alert_recv.py recv PORT_FILE OUT   webhook receiver on a free loopback
#       port (written to PORT_FILE): one line per request to OUT,
#       "<arrival time.time_ns()> <body on one line>", answers 200
#   alert_recv.py stamp OUT            each stdin line (`dockline events -f
#       --json`) to OUT as "<arrival time.time_ns()> <line>"
#   alert_recv.py report EVENTS HOOK SUB N   latencies against each die
#       event's own time_ns (EVENTS: `dockline events --json` rows)
import http.server, json, os, sys, threading, time


def recv(port_file, out):
    lock = threading.Lock()
    f = open(out, "a", buffering=1)

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            t = time.time_ns()
            line = body.decode("utf-8", "replace").replace("\n", " ")
            with lock:
                f.write("%d %s\n" % (t, line))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    with open(port_file + ".tmp", "w") as p:
        p.write(str(s.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    s.serve_forever()


def stamp(out):
    with open(out, "a", buffering=1) as f:
        for line in sys.stdin:
            f.write("%d %s" % (time.time_ns(), line))


def stamped(path):
    for line in open(path):
        t, _, rest = line.partition(" ")
        try:
            yield int(t), json.loads(rest)
        except ValueError:
            pass


def pct(v, p):
    return v[min(len(v) - 1, len(v) * p // 100)]


def report(events, hook, sub, n):
    die = {}  # container name -> the die event's time_ns
    for e in json.load(open(events)):
        if e.get("action") == "die" and e.get("name"):
            die.setdefault(e["name"], e["time_ns"])
    a, b, twice = {}, {}, 0
    for t, m in stamped(hook):
        if m.get("status") == "firing" and m.get("container") in die:
            if m["container"] in a:
                twice += 1
            a.setdefault(m["container"], t)
    for t, e in stamped(sub):
        if e.get("action") == "die" and e.get("name") in die:
            b.setdefault(e["name"], t)
    both = sorted(set(a) & set(b))
    la = sorted((a[k] - die[k]) / 1e6 for k in both)
    lb = sorted((b[k] - die[k]) / 1e6 for k in both)
    if not both:
        print("no event reached both the webhook and the subscriber")
        return 1
    print("%-38s %6s %8s %8s %8s %8s" % ("docker die -> arrival (ms)", "n", "p50", "p90", "p99", "max"))
    for name, v in (("webhook (container_exit rule)", la), ("events -f --json (baseline)", lb)):
        print("%-38s %6d %8.1f %8.1f %8.1f %8.1f" % (name, len(v), pct(v, 50), pct(v, 90), pct(v, 99), v[-1]))
    print("%-38s %6s %8.2f %8.2f %8.2f %8.2f" % ("ratio webhook / baseline", "",
          pct(la, 50) / max(pct(lb, 50), 1e-3), pct(la, 90) / max(pct(lb, 90), 1e-3),
          pct(la, 99) / max(pct(lb, 99), 1e-3), la[-1] / max(lb[-1], 1e-3)))
    d = sorted(a[k] - b[k] for k in both)
    print("webhook - subscriber, same event (ms): p50 %.1f p99 %.1f max %.1f"
          % (pct(d, 50) / 1e6, pct(d, 99) / 1e6, d[-1] / 1e6))
    print("die events stored %d (every container on dockerd), firing webhooks %d (repeated %d), goal p99 < 1000 ms: %s"
          % (len(die), len(a), twice, "met" if pct(la, 99) < 1000 else "NOT met"))
    return 0 if len(both) >= int(n) else 1


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "recv":
        recv(sys.argv[2], sys.argv[3])
    elif cmd == "stamp":
        stamp(sys.argv[2])
    else:
        sys.exit(report(*sys.argv[2:6]))
