#!/usr/bin/python3
"""web_check.py - the dockline page in headless Chromium, as a person uses it.

Run by test_web.sh with the stack up. Environment: URL, RO, OPS, ADMIN
(token secrets), PFX (container name prefix), LABEL (the test's
dockline.test=DIR label, for prune), FLOOD (audit rows made for the
virtualised list), SCREENS (screenshot dir). Exits non-zero with a
sentence on the first failed check.

PHASE=labels: only the host label checks (test_web.sh has started web2
and web3 and set labels with the CLI first); XSS and LONG are two of the
label values, CLI_WEB the hosts `dockline hosts --label role=web` lists.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import urllib.error

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

URL = os.environ["URL"]
RO = os.environ["RO"]
OPS = os.environ["OPS"]
ADMIN = os.environ["ADMIN"]
LABEL = os.environ["LABEL"]
FLOOD = int(os.environ["FLOOD"])
PFX = os.environ["PFX"]
SCREENS = os.environ["SCREENS"]
HOST = "web1"


def log(msg):
    print(time.strftime("[%H:%M:%S web_check] ") + msg, file=sys.stderr, flush=True)


def ok(msg):
    log("ok: " + msg)


class Fail(Exception):
    pass


def wait(cond, timeout, what):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # the page is still changing
            last = e
        time.sleep(0.2)
    raise Fail("timed out after %ss: %s%s" % (timeout, what, " (%s)" % last if last else ""))


def docker_exists(name):
    return subprocess.run(["docker", "inspect", name], capture_output=True).returncode == 0


def api_get(path):
    req = urllib.request.Request(URL + "/api/v1" + path, headers={"Authorization": "Bearer " + RO})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def api_unhealthy():
    return api_get("/hosts/" + HOST)["unhealthy"]


def docker_running(name):
    out = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", name],
                         capture_output=True, text=True, check=True).stdout.strip()
    return out == "true"


def browser(tmp):
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
              "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--window-size=1280,1000",
              "--user-data-dir=" + tmp]:
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


class Page:
    def __init__(self, d):
        self.d = d
        self.urls = []

    def shot(self, name):
        p = os.path.join(SCREENS, name + ".png")
        self.d.save_screenshot(p)
        log("screenshot " + p)

    def q(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def text(self, css):
        e = self.q(css)
        return e[0].text if e else ""

    def go(self, hash_):
        self.d.execute_script("location.hash = arguments[0]", hash_)

    def sign_in(self, token):
        self.d.get(URL + "/")
        wait(lambda: self.q("#token"), 10, "the sign-in form")
        self.q("#token")[0].send_keys(token)
        self.q("#signin-btn")[0].click()

    def sign_out(self):
        self.q("#signout")[0].click()
        wait(lambda: self.q("#token"), 10, "the sign-in form after sign-out")

    def collect_network(self):
        for entry in self.d.get_log("performance"):
            m = json.loads(entry["message"])["message"]
            if m["method"] in ("Network.requestWillBeSent", "Network.webSocketCreated"):
                u = m["params"].get("request", {}).get("url") or m["params"].get("url")
                if u:
                    self.urls.append(u)


def fetch_from_page(d, method, path):
    """fetch() in the page: the browser adds the cookie and the Origin."""
    return d.execute_async_script("""
        const [m, p, done] = arguments;
        fetch(p, {method: m, credentials: 'same-origin', headers: {'Content-Type': 'application/json'}, body: '{}'})
          .then(async r => done({status: r.status, body: await r.text()}))
          .catch(e => done({status: 0, body: String(e)}));""", method, path)


def curl_cookie(method, path, token, origin):
    req = urllib.request.Request(URL + path, method=method, data=b"{}",
                                 headers={"Cookie": "dl_token=" + token, "Origin": origin,
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def set_input(d, id_, value):
    d.execute_script("const s = document.getElementById(arguments[0]); s.value = arguments[1];"
                     "s.dispatchEvent(new Event('input'))", id_, value)


def fleet_rows(p):
    """The hosts the fleet table lists, if it lists them all in the DOM."""
    w = p.q("#fleet .tablewrap")
    if not w:
        return None
    ids = sorted(tr.get_attribute("data-id") for tr in p.q("#fleet tbody tr[data-id]"))
    return ids if len(ids) == int(w[0].get_attribute("data-rows")) else None


def filter_shows(p, d, words, want):
    set_input(d, "fleet-label", words)
    wait(lambda: fleet_rows(p) == want, 10, "label filter %r shows exactly %s" % (words, want))
    ok("label filter %r: %s" % (words, " ".join(want) or "no hosts"))


def chip_text(label):
    """What a chip shows: the label, cut at 24 characters (app.js chips)."""
    return label if len(label) <= 24 else label[:23] + "…"


def labels_check(p, d):
    xss, long_ = os.environ["XSS"], os.environ["LONG"]
    cli_web = os.environ["CLI_WEB"].split()
    p.sign_in(RO)
    wait(lambda: "web-ro (read)" in p.text("#whoami"), 10, "signed in as web-ro")
    wait(lambda: fleet_rows(p) == ["web1", "web2", "web3"], 15, "web1, web2, web3 in the fleet")

    # chips: the labels as text, sorted by key, escaped, the long one cut
    def chips(host):
        return [(a.text, a.get_attribute("title")) for a in p.q('#fleet tr[data-id="%s"] a.chip' % host)]
    wait(lambda: len(chips("web3")) == 3, 15, "web3's three label chips")
    c1, c2, c3 = chips("web1"), chips("web2"), chips("web3")
    # four labels: three chips, "+1" with the fourth in its title
    more = p.q('#fleet tr[data-id="web1"] .more')
    if [t for t, _ in c1] != ["dc/rack=r-7", "role=web", "tier=front"] or not more or \
            more[0].text != "+1" or more[0].get_attribute("title") != "zone=a":
        raise Fail("web1's chips: %r, then %r" % (c1, [(m.text, m.get_attribute("title")) for m in more]))
    want3 = ["note=" + xss, "role=db", "zone=a"]
    if c3 != [(chip_text(t), t) for t in want3]:
        raise Fail("web3's chips (the HTML label must read as its text, whole in the title): %r" % c3)
    if p.q("#fleet tbody img") or d.execute_script("return window.__xss") is not None:
        raise Fail("the label's HTML became an element")
    html = d.execute_script("return document.querySelector('#fleet tr[data-id=\"web3\"] a.chip').innerHTML")
    if "&lt;img" not in html:
        raise Fail("the chip's HTML is %r" % html)
    ok("fleet chips: web1 %s +1; web3 %s (escaped: %s)" % ([t for t, _ in c1], [t for t, _ in c3], html))
    cut = [x for x in c2 if x[1] == "desc=" + long_]
    if not cut or not cut[0][0].endswith("…") or len(cut[0][0]) != 24 or not long_.startswith(cut[0][0][5:-1]):
        raise Fail("the long label's chip: %r" % c2)
    ok("long label cut to %r, the whole label in its title" % cut[0][0])
    p.shot("fleet-labels")

    # the filter, as --label: the CLI's own answer for one label; all must match
    filter_shows(p, d, "role=web", cli_web)
    filter_shows(p, d, "role=web zone=a", ["web1"])  # zone: not a chip on web1's row
    filter_shows(p, d, "dc/rack=r-7", ["web1"])
    filter_shows(p, d, "zone=a,role=db", ["web3"])
    filter_shows(p, d, "desc", ["web2"])
    filter_shows(p, d, "zone", ["web1", "web2", "web3"])
    filter_shows(p, d, "role=we", [])
    filter_shows(p, d, "-bad", [])
    if "label key" not in p.text("#fleet-label-error"):
        raise Fail("a bad label key is not explained: %r" % p.text("#fleet-label-error"))
    ok("a bad key is explained: " + p.text("#fleet-label-error"))
    # with the text filter and the state, and kept in the URL across a reload
    filter_shows(p, d, "role=web", cli_web)
    set_input(d, "fleet-filter", "web2")
    wait(lambda: fleet_rows(p) == ["web2"], 10, "label filter and text filter together: web2")
    h = d.execute_script("return location.hash")
    if "label=role%3Dweb" not in h or "q=web2" not in h:
        raise Fail("the filters are not in the URL: %r" % h)
    d.refresh()
    wait(lambda: fleet_rows(p) == ["web2"], 15, "the same hosts after a reload (%s)" % h)
    if p.q("#fleet-label")[0].get_attribute("value") != "role=web":
        raise Fail("the label filter after a reload: %r" % p.q("#fleet-label")[0].get_attribute("value"))
    ok("filters kept in the URL across a reload: " + h)

    # a chip adds itself (once); a value with spaces and quotes is quoted
    set_input(d, "fleet-filter", "")
    filter_shows(p, d, "", ["web1", "web2", "web3"])
    wait(lambda: chips("web3"), 10, "web3's chips")
    p.q('#fleet tr[data-id="web3"] a.chip[data-label="role=db"]')[0].click()
    wait(lambda: fleet_rows(p) == ["web3"], 10, "clicking role=db shows web3 only")
    p.q('#fleet tr[data-id="web3"] a.chip[data-label="role=db"]')[0].click()
    p.q('#fleet tr[data-id="web3"] a.chip[title^="note="]')[0].click()
    v = wait(lambda: "note=" in p.q("#fleet-label")[0].get_attribute("value") and
             p.q("#fleet-label")[0].get_attribute("value"), 10, "the note chip in the filter")
    if v.count("role=db") != 1 or not v.startswith("role=db note=\""):
        raise Fail("the filter after two chips: %r" % v)
    if fleet_rows(p) != ["web3"] or p.text("#fleet-label-error"):
        raise Fail("the quoted label does not match web3: %s %r" % (fleet_rows(p), p.text("#fleet-label-error")))
    ok("chips clicked into the filter: %r -> web3" % v)
    p.shot("fleet-labels-filtered")

    # the host page: its labels in its facts, whole, each a link to the filtered fleet
    p.go("#/host/web3")
    wait(lambda: len(p.q("#host-labels a.chip")) == 3, 15, "web3's labels on its page")
    got = [(a.text, a.get_attribute("title")) for a in p.q("#host-labels a.chip")]
    if got != [(t, t) for t in want3] or p.q("#host-labels img"):
        raise Fail("web3's labels on its page: %r" % got)
    ok("host page labels: %s" % got)
    p.shot("host-labels")
    p.q('#host-labels a.chip[data-label="zone=a"]')[0].click()
    wait(lambda: fleet_rows(p) == ["web1", "web3"], 15, "the host page's zone=a chip opens the fleet with web1 and web3")
    ok("host page chip -> fleet filtered by zone=a: web1 web3")
    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"
              and "Failed to load resource" not in e["message"]]
    if errors:
        raise Fail("console errors: %s" % errors[:3])
    ok("no console errors")


def main():
    os.makedirs(SCREENS, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="dl-chromium-")
    d = browser(tmp)
    d.set_script_timeout(30)
    p = Page(d)
    app, victim, outside, chatty = (PFX + "-" + n for n in ("app", "victim", "outside", "chatty"))
    try:
        if os.environ.get("PHASE") == "labels":
            labels_check(p, d)
            return 0
        # ---- a wrong token: a clear message, no way in
        p.sign_in("dlt_this-is-not-a-token")
        msg = wait(lambda: p.q("#signin-error")[0].is_displayed() and p.text("#signin-error"), 10,
                   "the wrong-token message")
        if "not accepted" not in msg or "invalid or revoked token" not in msg:
            raise Fail("wrong token message unclear: %r" % msg)
        ok("wrong token: " + msg)
        p.shot("signin-wrong-token")

        # ---- read token: fleet shows the host online
        p.sign_in(RO)
        wait(lambda: "web-ro (read)" in p.text("#whoami"), 10, "signed in as web-ro")
        row = wait(lambda: [r.text for r in p.q("#fleet tbody tr") if HOST in r.text], 15, "web1 in the fleet")[0]
        if "online" not in row:
            raise Fail("web1 not shown online: %r" % row)
        ok("fleet: " + row.replace("\n", " "))
        # the sick container (failing health check) counts from the hosts
        # answer, without the page fetching the containers. dockerd is
        # shared: other tests' containers count too, so the page must
        # agree with serve's answer, and that must count at least ours.
        tries = [0]
        def unhealthy():
            r = [x.text for x in p.q("#fleet tbody tr") if HOST in x.text]
            m = re.search(r"(\d+) unhealthy", r[0]) if r else None
            if m and int(m.group(1)) == api_unhealthy() and api_get("/hosts/%s/containers/%s-sick" % (HOST, PFX))["health"] == "unhealthy":
                return r[0]
            tries[0] += 1
            if tries[0] % 10 == 0:  # every 2 s, away and back: the hosts again
                p.go("#/events")
                p.go("#/")
            return None
        row = wait(unhealthy, 60, "web1 shown with its unhealthy containers, as serve counts them")
        if not p.q('#fleet tr[data-id="%s"] td[data-k="rank"] span' % HOST):
            raise Fail("web1 not marked as a problem: %r" % row)
        if "1 with problems" not in p.text("#fleet-summary"):
            raise Fail("summary: %r" % p.text("#fleet-summary"))
        fetched = d.execute_script("return performance.getEntriesByType('resource').map((r) => r.name)"
                                   ".filter((u) => u.includes('/api/v1/containers'))")
        if fetched:
            raise Fail("the fleet page fetched %s" % fetched)
        ok("fleet: %s; no /api/v1/containers request" % row.replace("\n", " "))
        time.sleep(1.5)  # sparklines
        p.shot("fleet")

        # ---- host page: its containers, its charts
        # (dockerd is shared: the list may be long, so filter it to ours)
        p.go("#/host/" + HOST)
        wait(lambda: p.q("#host-filter"), 10, "the host page's container filter")
        p.q("#host-filter")[0].send_keys(PFX)
        wait(lambda: app in p.text("#host-containers"), 15, "app listed on the host page")
        wait(lambda: p.q("#host-charts .chart[data-points]"), 15, "a host chart with points")
        ok("host page lists %s and has charts" % app)
        time.sleep(1)
        p.shot("host")

        # ---- container page: chart points, no Stop for read
        p.go("#/host/%s/c/%s" % (HOST, app))
        pts = wait(lambda: p.q("#ctr-charts .chart[data-points]") and
                   int(p.q("#ctr-charts .chart[data-points]")[0].get_attribute("data-points")), 15,
                   "a container chart with points")
        if pts < 2:
            raise Fail("container CPU chart has %d points" % pts)
        ok("container chart has %d points" % pts)
        wait(lambda: "running" in p.text("#ctr-state"), 10, "container state")
        if p.q("[data-action=stop]"):
            raise Fail("a Stop button is offered to a read token")
        ok("no Stop button for a read token: " + p.text("#ctr-actions"))
        wait(lambda: "err" in (p.q("#logs .l.err")[0].get_attribute("class")), 10, "stderr lines told apart")
        wait(lambda: p.q("#logs .l.out"), 10, "stdout lines")
        ok("logs: stdout and stderr lines, told apart")
        p.shot("container")

        # ---- forged POSTs are refused
        r = fetch_from_page(d, "POST", "/api/v1/hosts/%s/containers/%s/stop" % (HOST, victim))
        if r["status"] != 403:
            raise Fail("read token's POST stop from the page: %r" % r)
        ok("read token's POST from the page refused: %s %s" % (r["status"], r["body"].strip()))
        st, body = curl_cookie("POST", "/api/v1/hosts/%s/containers/%s/stop" % (HOST, victim), OPS,
                               "http://evil.example")
        if st != 403 or "cross-origin" not in body:
            raise Fail("cookie + wrong Origin: %s %s" % (st, body))
        if not docker_running(victim):
            raise Fail("victim stopped by a forged request")
        ok("operate cookie with a foreign Origin refused: %s %s" % (st, body.strip()))

        # ---- logs follow: a line printed after the page opened
        p.go("#/host/%s/c/%s" % (HOST, chatty))
        wait(lambda: p.q("#logs-follow"), 10, "the logs follow button")
        p.q("#logs-follow")[0].click()
        wait(lambda: "following" in p.text("#logs-status"), 10, "logs following")
        marker = "marker-%d" % int(time.time())
        subprocess.run(["docker", "exec", chatty, "sh", "-c", "echo %s > /tmp/say" % marker], check=True)
        wait(lambda: marker in p.text("#logs"), 15, "the new log line in the followed logs")
        ok("logs follow shows %s" % marker)
        p.q("#logs-search")[0].send_keys(marker)
        wait(lambda: p.q("#logs mark"), 5, "search highlights the line")
        ok("logs search finds it: " + p.text("#logs-status"))
        d.execute_script("const s = document.getElementById('logs-search'); s.value = '';"
                         "s.dispatchEvent(new Event('input'))")
        d.execute_script("document.getElementById('logs-follow').scrollIntoView({block: 'start'})")
        time.sleep(0.5)
        p.shot("logs")

        # ---- events feed: a docker stop done outside, without a reload
        p.go("#/events")
        wait(lambda: "live" in p.text("#ev-live"), 10, "the events WebSocket")
        d.execute_script("window.__noReload = 1")
        subprocess.run(["docker", "stop", "-t", "1", outside], check=True, capture_output=True)
        t0 = time.time()
        wait(lambda: p.q('#events tr[data-action="stop"][data-name="%s"]' % outside) or
             p.q('#events tr[data-action="die"][data-name="%s"]' % outside), 10,
             "the outside docker stop in the live events feed")
        if d.execute_script("return window.__noReload") != 1:
            raise Fail("the page reloaded")
        ok("docker stop seen in the events feed after %.1fs, no reload" % (time.time() - t0))
        p.shot("events")

        # ---- operate token: Stop stops a real container, audit row
        p.sign_out()
        p.sign_in(OPS)
        wait(lambda: "web-ops (operate)" in p.text("#whoami"), 10, "signed in as web-ops")
        p.go("#/host/%s/c/%s" % (HOST, victim))
        wait(lambda: p.q("[data-action=stop]"), 10, "the Stop button for operate")
        if p.q("[data-action=rm]"):
            raise Fail("remove offered to an operate token")
        p.q("[data-action=stop]")[0].click()
        wait(lambda: not docker_running(victim), 30, "docker inspect says the victim stopped")
        ok("Stop button stopped %s (docker inspect agrees)" % victim)
        wait(lambda: "exited" in p.text("#ctr-state"), 15, "the page shows it exited")
        p.shot("container-stopped")
        p.go("#/audit")
        wait(lambda: p.q('#audit tr[data-op="stop"][data-target="%s"][data-status="ok"]' % victim), 15,
             "an audit row for the stop")
        ok("audit row for the stop")
        p.shot("audit")

        # ---- a long list is virtualised: FLOOD refused requests made by
        # test_web.sh are all in the list, few of them in the DOM; the
        # oldest is found by scrolling, another by the filter
        n = wait(lambda: int(p.q("#audit .tablewrap")[0].get_attribute("data-rows") or 0) >= FLOOD and
                 int(p.q("#audit .tablewrap")[0].get_attribute("data-rows")), 15, "%d audit rows listed" % FLOOD)
        dom = len(p.q("#audit tbody tr:not(.sp)"))
        if dom >= n or dom > 120:
            raise Fail("audit list not virtualised: %d rows in the DOM of %d" % (dom, n))
        oldest = '#audit tr[data-target="flood-1"]'
        if p.q(oldest):
            raise Fail("the oldest flood row is in the DOM before scrolling")
        steps = 0
        while not p.q(oldest) and steps < 200:
            d.execute_script("const w = document.querySelector('#audit .tablewrap'); w.scrollTop += w.clientHeight")
            time.sleep(0.05)
            steps += 1
        wait(lambda: p.q(oldest), 5, "flood-1 after scrolling to the end")
        dom2 = len(p.q("#audit tbody tr:not(.sp)"))
        ok("audit: %d rows, %d in the DOM; flood-1 reached after %d scrolls (%d in the DOM there)" % (n, dom, steps, dom2))
        p.shot("audit-scrolled")
        # (filtered while scrolled to the end: the short list still shows)
        d.execute_script("const s = document.getElementById('audit-filter'); s.value = 'flood-%d';"
                         "s.dispatchEvent(new Event('input'))" % (FLOOD // 2))
        wait(lambda: p.q('#audit tr[data-target="flood-%d"]' % (FLOOD // 2)), 5, "the filter finds flood-%d" % (FLOOD // 2))
        ok("audit filter finds flood-%d" % (FLOOD // 2))

        # ---- rename in the page renames the real container
        renamed = PFX + "-renamed"
        p.go("#/host/%s/c/%s" % (HOST, victim))
        wait(lambda: p.q("[data-action=rename]"), 10, "the rename button for operate")
        p.q("[data-action=rename]")[0].click()
        box = wait(lambda: p.q("#rename-to"), 5, "the new-name field")[0]
        box.clear()
        box.send_keys("bad name!")
        p.q("#rename-ok")[0].click()
        wait(lambda: "container name" in p.text("#ctr-error"), 5, "a bad name refused in the page")
        if not docker_exists(victim):
            raise Fail("a refused name renamed the container")
        ok("bad name refused in the page: " + p.text("#ctr-error"))
        box = wait(lambda: p.q("#rename-to"), 5, "the new-name field, still open to fix the name")[0]
        box.clear()
        box.send_keys(renamed)
        p.shot("rename")
        p.q("#rename-ok")[0].click()
        wait(lambda: docker_exists(renamed) and not docker_exists(victim), 30, "docker inspect knows " + renamed)
        name = subprocess.run(["docker", "inspect", "-f", "{{.Name}}", renamed], capture_output=True,
                              text=True, check=True).stdout.strip()
        if name != "/" + renamed:
            raise Fail("docker inspect says the name is %r" % name)
        wait(lambda: d.execute_script("return location.hash").endswith("/c/" + renamed), 15, "the page follows the new name")
        wait(lambda: "exited" in p.text("#ctr-state"), 15, "the renamed container's facts")
        if p.text("h1") != renamed:
            raise Fail("the page's title is %r" % p.text("h1"))
        ok("rename: %s -> %s (docker inspect agrees: %s), the page follows it" % (victim, renamed, name))
        p.shot("renamed")
        p.go("#/audit")
        wait(lambda: p.q('#audit tr[data-op="rename"][data-status="ok"]'), 15, "an audit row for the rename")
        ok("audit row for the rename")

        # ---- prune: admin only, confirmed, limited to this test's label
        p.go("#/host/" + HOST)
        wait(lambda: p.q("#host-containers tbody tr"), 10, "the host page")
        if p.q("[data-action=prune]"):
            raise Fail("prune offered to an operate token")
        ok("no prune for operate")
        p.sign_out()
        p.sign_in(ADMIN)
        wait(lambda: "web-admin (admin)" in p.text("#whoami"), 10, "signed in as web-admin")
        p.go("#/host/" + HOST)
        wait(lambda: p.q("[data-action=prune]"), 10, "the prune button for admin")
        stopped = [n for n in (renamed, outside) if not docker_running(n)]
        if len(stopped) != 2:
            raise Fail("expected two stopped containers to prune, have %s" % stopped)
        p.q("#prune-label")[0].send_keys(LABEL)
        p.q("[data-action=prune]")[0].click()
        wait(lambda: p.q("#prune-confirm"), 5, "the prune confirmation")
        if not docker_exists(outside):
            raise Fail("pruned before the confirmation")
        p.shot("prune-confirm")
        p.q("[data-confirm=prune]")[0].click()
        res = wait(lambda: "removed" in p.text("#prune-result") and p.text("#prune-result"), 30, "the prune result")
        if docker_exists(outside) or docker_exists(renamed):
            raise Fail("the stopped containers are still there after prune")
        if not docker_running(app):
            raise Fail("prune touched a running container")
        if not res.startswith("removed 2 containers"):
            raise Fail("prune result: %r" % res)
        ok("prune: %s; docker inspect finds neither stopped container; %s still runs" % (res, app))
        p.shot("pruned")

        # ---- phone width, dark theme
        d.set_window_size(390, 844)
        d.execute_cdp_cmd("Emulation.setEmulatedMedia",
                          {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        p.go("#/")
        wait(lambda: p.q("#fleet tbody tr"), 10, "fleet at phone width")
        time.sleep(1)
        p.shot("fleet-phone-dark")
        width = d.execute_script("return document.documentElement.scrollWidth")
        if width > 400:
            raise Fail("the page is %dpx wide at a 390px window" % width)
        ok("phone width: no horizontal scroll of the page (%dpx)" % width)

        # ---- nothing left the gateway's origin
        p.collect_network()
        origin = URL.split("://", 1)[1]
        # (chrome:// is the browser's own blank tab, before the first load)
        net = [u for u in p.urls if u.split(":", 1)[0] in ("http", "https", "ws", "wss")]
        foreign = [u for u in net if not (u.startswith(URL + "/") or u.startswith("ws://" + origin + "/"))]
        if foreign:
            raise Fail("requests left the gateway's origin: %s" % foreign[:5])
        ok("%d requests, all to %s" % (len(net), URL))
        errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"
                  and "Failed to load resource" not in e["message"]]
        if errors:
            raise Fail("console errors: %s" % errors[:3])
        ok("no console errors")
    except Fail as e:
        p.shot("failure")
        log("FAIL: %s" % e)
        return 1
    finally:
        d.quit()
        subprocess.run(["rm", "-rf", tmp])
    return 0


if __name__ == "__main__":
    sys.exit(main())
