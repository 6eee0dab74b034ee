#!/usr/bin/env bash
# bench_web.sh - the web page in headless Chromium, on real parts.
#
# Pages: a generated fleet (bench_fleetdb: 200 hosts, 4,000 containers,
# an hour of samples; host-0000's app-0 and host-0000 itself with DAYS
# (30) days of 10-s samples before that, raw beyond 48 h deleted by
# retention as in production, minute and hour rollups kept). For the
# fleet, host, container (1 h) and container (30 d) pages: time to the
# filled table / first chart (Navigation Timing start -> the page's
# performance mark), cold (cache off) and warm (median of RUNS), bytes
# transferred (Resource Timing: all, and /api/ only), table rows in the
# DOM against rows listed; the fleet again filtered by a host label
# (every host has three, half of them role=web). Baselines in the same run: the 30-day chart
# against the 1-hour one, and the fleet page's API bytes against those
# plus /api/v1/containers?all=1, which the page fetched before serve's
# hosts answer carried the counts (fetched here by the page, measured).
#
# Live update: a real agent (private sshd) on this dockerd, the events
# page open; EVENTS (30) times `docker stop -t 0` and `docker start` of a
# labelled container. Per stop event: dockerd's own time (time_ns) ->
# the WebSocket message in the page (a wrapper installed before the
# page's scripts) -> the row in the DOM (a MutationObserver's timestamp),
# and `docker stop` started -> row. The WebSocket figure is the baseline:
# what is left is the page's own cost.
#
#   tests/bench/bench_web.sh [hosts] [containers per host] [runs] [events] [days]
DL_TEST_NAME=bench_web
. "$(dirname "$0")/../integration/lib.sh"

HOSTS=${1:-200}
PER=${2:-20}
RUNS=${3:-5}
EVENTS=${4:-30}
DAYS=${5:-30}
BENCH=${DL_BENCH_DIR:-$(dirname "$DL_BIN")/bench}/bench_fleetdb
[ -x "$BENCH" ] || dl_fail "$BENCH is missing: build first"
dl_need_packages
dl_need_dockerd
dl_need_image
dl_need_user
dl_need_http_user
dl_check_bins
dl_docker_lock_shared

PORT=$(dl_free_port)
URL=http://127.0.0.1:$PORT
dl_write_collector_conf
dl_http_section "127.0.0.1:$PORT" >>"$T/collector.conf"
t0=$(date +%s%N)
"$BENCH" "$T/dockline.db" "$HOSTS" "$PER" 360 "$DAYS" >&2 # + an hour of samples, 10 s apart
dl_log "database generated in $((($(date +%s%N) - t0) / 1000000)) ms ($(du -m "$T/dockline.db" | cut -f1) MB)"
# host labels as `dockline label` stores them: three per host (role web
# for every other host), so the fleet rows carry chips
sqlite3 "$T/dockline.db" "UPDATE hosts SET labels = json_object('rack', 'r-' || (rowid % 40), 'role', CASE rowid % 2 WHEN 0 THEN 'web' ELSE 'db' END, 'zone', 'zone-' || (rowid % 3))" ||
	dl_fail "labelling the generated hosts"
dl_start_sshd
dl_start_collector
dl_http_socket_access
dl_enroll live1
dl_start_agent live1
dl_wait_for 'dl_host_online live1' 30 "host live1 online"
dl_start_gateway "$T/collector.conf" "$T/http.log" "$URL"
RO=$(dl_cli token create bench-ro --role read | grep -oE '^dlt_[A-Za-z0-9_-]{43}$')
cid=$(dl_run_container live sleep 100000)
name=$(docker inspect --format '{{.Name}}' "$cid" | tr -d /)
dl_wait_for "[ \"\$(dl_ps_field $cid state)\" = running ]" 30 "$name in ps"

URL=$URL RO=$RO RUNS=$RUNS EVENTS=$EVENTS DAYS=$DAYS NAME=$name /usr/bin/python3 - <<'PY'
import json, os, statistics, subprocess, tempfile, time, urllib.request
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

URL, RO, RUNS = os.environ["URL"], os.environ["RO"], int(os.environ["RUNS"])
EVENTS, DAYS, NAME = int(os.environ["EVENTS"]), os.environ["DAYS"], os.environ["NAME"]
o = webdriver.ChromeOptions()
o.binary_location = "/usr/bin/chromium"
tmp = tempfile.mkdtemp(prefix="dl-chromium-")
for a in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-dev-shm-usage", "--window-size=1280,1000", "--user-data-dir=" + tmp]:
    o.add_argument(a)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
d.set_script_timeout(60)
# before any page script: event messages' arrival, rows' first appearance
d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": """
  window.__ws = {}; window.__row = {};
  const W = window.WebSocket;
  window.WebSocket = function (u, p) {
    const s = p === undefined ? new W(u) : new W(u, p);
    s.addEventListener('message', (m) => {
      const t = performance.timeOrigin + performance.now();
      try { const e = JSON.parse(m.data).event; if (e && !(e.seq in window.__ws)) window.__ws[e.seq] = t; } catch (x) {}
    });
    return s;
  };
  window.WebSocket.prototype = W.prototype;
  Object.assign(window.WebSocket, { OPEN: W.OPEN, CLOSED: W.CLOSED, CONNECTING: W.CONNECTING, CLOSING: W.CLOSING });
  new MutationObserver((ms) => {
    const t = performance.timeOrigin + performance.now();
    for (const m of ms) for (const n of m.addedNodes)
      if (n.nodeType === 1 && n.matches('#events tr[data-seq]') && !(n.dataset.seq in window.__row))
        window.__row[n.dataset.seq] = t;
  }).observe(document, { childList: true, subtree: true });
"""})

def mark(name, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        v = d.execute_script("const m = performance.getEntriesByName(arguments[0]); return m.length ? m[0].startTime : null", name)
        if v is not None:
            return v
        time.sleep(0.02)
    raise SystemExit("no mark " + name + " on " + d.current_url)

def transferred():
    return d.execute_script("""
        const n = performance.getEntriesByType('navigation')[0];
        let t = n ? n.transferSize : 0, b = n ? n.decodedBodySize : 0, api = 0;
        const rs = performance.getEntriesByType('resource');
        for (const r of rs) { t += r.transferSize; b += r.decodedBodySize; if (r.name.includes('/api/')) api += r.transferSize; }
        const w = document.querySelector('#view .tablewrap');
        const err = [...document.querySelectorAll('.error')].filter((e) => !e.hidden).map((e) => e.textContent);
        return [t, b, rs.length + 1, api, document.querySelectorAll('#view .tablewrap tbody tr:not(.sp)').length,
                w ? Number(w.dataset.rows) : 0, err];""")

n = [0]
def page(hash_, name):
    n[0] += 1  # a new document each time (a hash change alone is not a load)
    d.get(URL + "/?r=%d%s" % (n[0], hash_))
    ms = mark(name)
    time.sleep(1.5)  # let the rest (sparklines, live values) arrive
    return ms, transferred()

d.get(URL + "/")
d.find_element("css selector", "#token").send_keys(RO)
d.find_element("css selector", "#signin-btn").click()
time.sleep(1)
print("%-14s %8s %9s %15s %11s %10s %10s %5s %13s" % (
    "page", "cold ms", "warm p50", "warm min-max", "cold bytes", "warm bytes", "API bytes", "reqs", "DOM/rows"))
res = {}
for label, hash_, name in [("fleet", "#/", "fleet-filled"), ("fleet role=web", "#/?label=role%3Dweb", "fleet-filled"),
                           ("host", "#/host/host-0000", "chart"),
                           ("container 1h", "#/host/host-0000/c/app-0", "chart"),
                           ("container %sd" % DAYS, "#/host/host-0000/c/app-0?range=%sd" % DAYS, "chart")]:
    d.execute_cdp_cmd("Network.enable", {})
    d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    cold = page(hash_, name)
    d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})
    warm = [page(hash_, name) for _ in range(RUNS)]
    ms = [w[0] for w in warm]
    t = warm[-1][1]
    if t[6]:
        raise SystemExit("%s shows an error: %s" % (label, t[6]))
    pts = d.execute_script("const c = document.querySelector('.chart[data-points]'); return c ? c.dataset.points : null")
    res[label] = (cold[0], statistics.median(ms), t[3])
    print("%-14s %8.0f %9.0f %7.0f-%-7.0f %11d %10d %10d %5d %6d/%-6d%s" % (
        label, cold[0], statistics.median(ms), min(ms), max(ms), cold[1][0], t[0], t[3], t[2], t[4], t[5],
        " (%s chart points)" % pts if pts else ""))
c1, cd = res["container 1h"], res["container %sd" % DAYS]
print("container %sd vs 1h: cold x%.2f, warm x%.2f, API bytes x%.2f" % (DAYS, cd[0] / c1[0], cd[1] / c1[1], cd[2] / max(1, c1[2])))
old = d.execute_async_script("""
    const done = arguments[0];
    fetch('/api/v1/containers?all=1', {credentials: 'same-origin', cache: 'no-store'}).then((r) => r.text()).then(() => {
      const e = performance.getEntriesByType('resource').filter((r) => r.name.includes('/containers?all=1')).pop();
      done(e ? e.transferSize : -1);
    });""")
f = res["fleet"][2]
print("fleet API bytes %d; with /api/v1/containers?all=1 (%d bytes, what the page fetched before) %d: x%.3f"
      % (f, old, f + old, f / (f + old)))

# ---- live update: docker stop -> the events page's row
d.get(URL + "/?live#/events?host=live1")
end = time.time() + 20
while "live" not in "".join(e.text for e in d.find_elements("css selector", "#ev-live")):
    if time.time() > end:
        raise SystemExit("events WebSocket not live")
    time.sleep(0.1)
def rows(action):
    return d.execute_script("return [...document.querySelectorAll('#events tr[data-action=\"%s\"][data-name=\"%s\"]')].map((r) => r.dataset.seq)" % (action, NAME))
cmd = {}
for i in range(EVENTS):
    have = set(rows("stop"))
    t = time.time()
    subprocess.run(["docker", "stop", "-t", "0", NAME], check=True, capture_output=True)
    end = time.time() + 20
    while True:
        new = set(rows("stop")) - have
        if new:
            break
        if time.time() > end:
            raise SystemExit("stop %d not shown" % i)
        time.sleep(0.01)
    cmd[new.pop()] = t
    subprocess.run(["docker", "start", NAME], check=True, capture_output=True)
    time.sleep(0.3)
ws, row = d.execute_script("return [window.__ws, window.__row]")
req = urllib.request.Request(URL + "/api/v1/events?since=1h&host=live1&action=stop&limit=1000",
                             headers={"Authorization": "Bearer " + RO})
evs = {str(e["seq"]): e["time_ns"] / 1e9 for e in json.load(urllib.request.urlopen(req)) if e.get("name") == NAME}
a, b, c = [], [], []
for seq, t in cmd.items():
    if seq in evs and seq in ws and seq in row:
        a.append((ws[seq] / 1e3 - evs[seq]) * 1e3)
        b.append((row[seq] / 1e3 - evs[seq]) * 1e3)
        c.append((row[seq] / 1e3 - t) * 1e3)
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, len(v) * p // 100)]
print()
print("%-40s %5s %8s %8s %8s" % ("live update (docker stop)", "n", "p50 ms", "p99 ms", "max ms"))
for label, v in (("event time -> WebSocket message (base)", a), ("event time -> row in the DOM", b),
                 ("docker stop started -> row in the DOM", c)):
    print("%-40s %5d %8.1f %8.1f %8.1f" % (label, len(v), q(v, 50), q(v, 99), max(v)))
print("page's own cost (DOM - WebSocket): p50 %.1f ms" % (q(b, 50) - q(a, 50)))
d.quit()
PY
