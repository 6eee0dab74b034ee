#!/usr/bin/env bash
# bench_web.sh - the web page on a generated fleet (bench_fleetdb: 200
# hosts, 4,000 containers, every tenth host offline) in headless
# Chromium: time to the filled fleet table (Navigation Timing start ->
# performance mark "fleet-filled"), to the first chart of a host and a
# container page, and the bytes each page transferred (Resource Timing).
# No agents run, so there is no live update to time here.
#
#   tests/bench/bench_web.sh [hosts] [containers per host] [runs]
DL_TEST_NAME=bench_web
. "$(dirname "$0")/../integration/lib.sh"

HOSTS=${1:-200}
PER=${2:-20}
RUNS=${3:-5}
BENCH=$(dirname "$DL_BIN")/bench/bench_fleetdb
[ -x "$BENCH" ] || dl_fail "$BENCH is missing: build first"
dl_need_packages
dl_need_http_user
dl_check_bins

PORT=$(dl_free_port)
URL=http://127.0.0.1:$PORT
dl_write_collector_conf
dl_http_section "127.0.0.1:$PORT" >>"$T/collector.conf"
t0=$(date +%s%N)
"$BENCH" "$T/dockline.db" "$HOSTS" "$PER" 360 >&2 # an hour of samples, 10 s apart
dl_log "database generated in $((($(date +%s%N) - t0) / 1000000)) ms"
dl_start_collector
dl_http_socket_access
dl_start_gateway "$T/collector.conf" "$T/http.log" "$URL"
RO=$(dl_cli token create bench-ro --role read | grep -oE '^dlt_[A-Za-z0-9_-]{43}$')

URL=$URL RO=$RO RUNS=$RUNS /usr/bin/python3 - <<'PY'
import os, statistics, tempfile, time
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

URL, RO, RUNS = os.environ["URL"], os.environ["RO"], int(os.environ["RUNS"])
o = webdriver.ChromeOptions()
o.binary_location = "/usr/bin/chromium"
tmp = tempfile.mkdtemp(prefix="dl-chromium-")
for a in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-dev-shm-usage", "--window-size=1280,1000", "--user-data-dir=" + tmp]:
    o.add_argument(a)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)

def mark(name, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        v = d.execute_script("const m = performance.getEntriesByName(arguments[0]); return m.length ? m[0].startTime : null", name)
        if v is not None:
            return v
        time.sleep(0.02)
    raise SystemExit("no mark " + name)

def transferred():
    return d.execute_script("""
        const n = performance.getEntriesByType('navigation')[0];
        let t = n ? n.transferSize : 0, b = n ? n.decodedBodySize : 0;
        for (const r of performance.getEntriesByType('resource')) { t += r.transferSize; b += r.decodedBodySize; }
        return [t, b, performance.getEntriesByType('resource').length];""")

n = [0]
def page(hash_, name, cold):
    n[0] += 1  # a new document each time (a hash change alone is not a load)
    d.get(URL + "/?r=%d%s" % (n[0], hash_))
    ms = mark(name)
    time.sleep(1.5)  # let the rest (sparklines, problem count) arrive
    return ms, transferred()

d.get(URL + "/")
d.find_element("css selector", "#token").send_keys(RO)
d.find_element("css selector", "#signin-btn").click()
time.sleep(1)
res = {}
for label, hash_, name in [("fleet", "#/", "fleet-filled"), ("host", "#/host/host-000", "chart"),
                           ("container", "#/host/host-000/c/app-00", "chart")]:
    d.execute_cdp_cmd("Network.enable", {})
    d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    cold = page(hash_, name, True)
    d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})
    warm = [page(hash_, name, False) for _ in range(RUNS)]
    ms = [w[0] for w in warm]
    rows = d.execute_script("return document.querySelectorAll('tbody tr').length")
    print("%-9s first render: cold %.0f ms; warm median %.0f ms (min %.0f, max %.0f, %d runs); "
          "cold transfer %d bytes (%d decoded, %d requests); warm transfer %d bytes; %d table rows"
          % (label, cold[0], statistics.median(ms), min(ms), max(ms), len(ms),
             cold[1][0], cold[1][1], cold[1][2] + 1, warm[-1][1][0], rows))
d.quit()
PY
