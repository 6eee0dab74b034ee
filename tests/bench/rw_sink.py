#!/usr/bin/python3
"""rw_sink.py PORTFILE - a remote-write receiver that stores nothing: it
reads each POST body whole (checking it is snappy-sized bytes, not
decoding it) and answers 204, so bench_remote_write can measure what
dockline itself spends on remote write, without a real receiver's CPU.
Keep-alive, one thread per connection; listens on 127.0.0.1, an
ephemeral port written to PORTFILE."""
import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        left = n
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                return
            left -= len(chunk)
        ok = self.headers.get("Content-Encoding") == "snappy" and n > 0
        self.send_response(204 if ok else 400)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
