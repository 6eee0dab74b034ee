# webhook_recv.py PORT_FILE OUT_DIR - a webhook receiver for the tests:
# listens on a free loopback port (written to PORT_FILE), stores each
# request as OUT_DIR/req-N.headers and req-N.body, answers 200
# "ok-received"; paths starting with /flaky answer 503 twice first.
import http.server, os, sys, threading
port_file, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
lock = threading.Lock()
state = {"n": 0, "flaky": 0}
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            state["n"] += 1
            n = state["n"]
            code, answer = 200, b"ok-received"
            if self.path.startswith("/flaky"):
                state["flaky"] += 1
                if state["flaky"] <= 2:
                    code, answer = 503, b"try later"
        with open(os.path.join(out, "req-%d.headers" % n), "w") as f:
            f.write("%s %s\n" % (self.command, self.path))
            for k, v in self.headers.items():
                f.write("%s: %s\n" % (k, v))
        with open(os.path.join(out, "req-%d.body" % n), "wb") as f:
            f.write(body)
        self.send_response(code)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(port_file + ".tmp", port_file)
s.serve_forever()
