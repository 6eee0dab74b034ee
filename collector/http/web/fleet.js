/* fleet.js - every host on one page: problems (offline, Docker down,
 * unhealthy or restarting containers as counted by serve) first, then
 * by name;
 * filter by state and text; live CPU/memory over the stats WebSocket,
 * a last-hour CPU sparkline for the rows on screen. */
"use strict";

DL.views.fleet = (el, args, alive) => {
  const { h, esc, bytes, pct, ago } = DL;
  let hosts = [], filter = { state: "all", text: "" };
  /* unhealthy or restarting containers: serve counts them per host */
  const bad = (x) => (x.unhealthy || 0) + (x.restarting || 0);

  /* 3 offline, 2 Docker down, 1 unhealthy/restarting containers or a
   * health remark, 0 fine */
  function rank(x) {
    if (!x.online) return 3;
    if (!x.docker_up) return 2;
    if (bad(x) > 0 || (x.health && x.health !== "ok")) return 1;
    return 0;
  }
  function stateHtml(x) {
    if (!x.online) return '<span class="pill s-bad">offline</span> <span class="muted">' + esc(ago(x.last_seen_ago)) + "</span>";
    return '<span class="pill s-ok">online</span> <span class="muted">' + esc(ago(x.last_seen_ago)) + "</span>";
  }
  const cols = [
    { key: "rank", label: "!", num: true, sort: (x) => -rank(x) * 1e6 + 0, html: (x) => {
      const r = rank(x);
      return r ? '<span class="s-' + (r > 1 ? "bad" : "warn") + '" title="' + esc(x.health || "") + '">●</span>' : "";
    } },
    { key: "name", label: "Host", html: (x) => '<a href="#/host/' + encodeURIComponent(x.name) + '">' + esc(x.name) + "</a>" },
    { key: "online", label: "State", sort: (x) => (x.online ? 0 : 1) * 1e12 + (x.last_seen_ago || 0), html: stateHtml },
    { key: "docker_up", label: "Docker", sort: (x) => (x.docker_up ? 0 : 1), html: (x) =>
      x.docker_up ? '<span class="s-ok">up</span>' : '<span class="s-bad">down</span>' },
    { key: "running", label: "Containers", num: true, html: (x) =>
      esc((x.running ?? "–") + " / " + (x.containers ?? "–")) +
      (x.unhealthy ? ' <span class="s-warn">' + esc(x.unhealthy) + " unhealthy</span>" : "") +
      (x.restarting ? ' <span class="s-warn">' + esc(x.restarting) + " restarting</span>" : "") },
    { key: "cpu_percent", label: "CPU", num: true, html: (x) => esc(pct(x.cpu_percent)) },
    { key: "spark", label: "CPU 1h", nosort: true, hide: true, html: (x) =>
      '<svg class="spark" data-host="' + esc(x.name) + '" viewBox="0 0 90 22" preserveAspectRatio="none"></svg>' },
    { key: "mem_used_bytes", label: "Memory", num: true, html: (x) =>
      esc(bytes(x.mem_used_bytes)) + '<span class="muted"> / ' + esc(bytes(x.mem_total_bytes)) + "</span>" },
    { key: "disk_used_bytes", label: "Disk", num: true, hide: true, html: (x) =>
      x.disk_total_bytes ? esc(pct((100 * x.disk_used_bytes) / x.disk_total_bytes)) : "–" },
    { key: "load1", label: "Load", num: true, hide: true, html: (x) => esc(x.load1 === null || x.load1 === undefined ? "–" : x.load1.toFixed(2)) },
    { key: "control", label: "Control policy", hide: true },
  ];

  const text = h("input", { type: "search", class: "grow", id: "fleet-filter", placeholder: "Filter by name, health, policy…" });
  const state = h("select", { id: "fleet-state" },
    ...["all", "online", "offline", "problems"].map((s) => h("option", { value: s }, s)));
  const summary = h("span", { class: "muted", id: "fleet-summary" });
  const live = h("span", { class: "muted live", id: "fleet-live" }, "connecting");
  const err = h("div", { class: "error", role: "alert" });
  err.hidden = true;
  const box = h("div", { id: "fleet" });
  el.append(h("h1", {}, "Fleet"), h("div", { class: "row" }, text, state, summary, live), err, box);
  const t = DL.table(box, cols, { sortKey: "rank", empty: "no hosts match", onRender: () => sparks(),
    rowAttrs: (x) => ' data-id="' + esc(x.name) + '"' });
  const LIVE = ["online", "cpu_percent", "mem_used_bytes", "disk_used_bytes", "load1"];

  function shown() {
    const q = filter.text.toLowerCase();
    return hosts.filter((x) => {
      if (filter.state === "online" && !x.online) return false;
      if (filter.state === "offline" && x.online) return false;
      if (filter.state === "problems" && !rank(x)) return false;
      if (!q) return true;
      return [x.name, x.health, x.control, x.software].some((s) => s && String(s).toLowerCase().includes(q));
    });
  }
  function render() {
    /* problems first, then by name: the default order */
    hosts.sort((a, b) => rank(b) - rank(a) || (a.name < b.name ? -1 : 1));
    const list = shown();
    t.set(list);
    const off = hosts.filter((x) => !x.online).length;
    summary.textContent = `${hosts.length} hosts, ${off} offline, ${hosts.filter((x) => rank(x)).length} with problems`;
  }
  text.addEventListener("input", () => { filter.text = text.value; render(); });
  state.addEventListener("change", () => { filter.state = state.value; render(); });

  /* sparklines: only for rows on screen, a few requests at a time (by
   * host name: the rows are redrawn every second, the svg may be new) */
  const sparkCache = {}, asked = {};
  const queue = [];
  let running = 0;
  const io = new IntersectionObserver((ents) => {
    for (const e of ents)
      if (e.isIntersecting) {
        io.unobserve(e.target);
        const n = e.target.dataset.host;
        if (!asked[n]) { asked[n] = true; queue.push(n); }
      }
    pump();
  });
  DL.onLeave(() => io.disconnect());
  function draw(svg, ys) {
    if (!ys || ys.length < 2) return;
    const max = Math.max(1, ...ys);
    const pts = ys.map((y, i) => ((i * 90) / (ys.length - 1)).toFixed(1) + "," + (21 - (y / max) * 20).toFixed(1)).join(" ");
    svg.innerHTML = '<polyline points="' + pts + '"/>';
    svg.setAttribute("aria-label", "CPU last hour, max " + max.toFixed(0) + " %");
  }
  function pump() {
    while (running < 4 && queue.length) {
      const name = queue.shift();
      running++;
      DL.get("/hosts/" + encodeURIComponent(name) + "/history?since=1h&points=30")
        .then((rows) => {
          sparkCache[name] = rows.map((r) => r.cpu_percent || 0);
          if (!alive()) return;
          for (const svg of box.querySelectorAll("svg.spark"))
            if (svg.dataset.host === name) draw(svg, sparkCache[name]);
        })
        .catch(() => { /* a sparkline is not worth an error */ })
        .finally(() => { running--; if (alive()) pump(); });
    }
  }
  function sparks() {
    for (const svg of box.querySelectorAll("svg.spark")) {
      const n = svg.dataset.host;
      if (sparkCache[n]) draw(svg, sparkCache[n]); else if (!asked[n]) io.observe(svg);
    }
  }

  async function load() {
    try {
      hosts = await DL.get("/hosts");
      if (!alive()) return;
      err.hidden = true;
      render();
      performance.mark("fleet-filled");
    } catch (e) {
      if (!alive()) return;
      err.textContent = "Cannot load the hosts: " + e.message;
      err.hidden = false;
    }
  }
  load();
  const timer = setInterval(load, 15000);
  DL.onLeave(() => clearInterval(timer));

  /* live: host_stats rows update CPU and memory; one render a second */
  let dirty = false, firstLive = true;
  DL.socket("/stats/stream", (m) => {
    if (!m.host_stats) return;
    for (const s of m.host_stats) {
      const x = hosts.find((y) => y.name === s.host);
      if (!x) continue;
      for (const k of ["cpu_percent", "mem_used_bytes", "mem_total_bytes", "load1", "disk_used_bytes", "disk_total_bytes"])
        if (s[k] !== undefined) x[k] = s[k];
      x.last_seen_ago = 0;
      dirty = true;
    }
  }, (s) => { live.textContent = s; });
  const tick = setInterval(() => {
    if (!dirty) return;
    dirty = false;
    t.patch("name", LIVE);
    if (firstLive) { firstLive = false; performance.mark("fleet-live"); }
  }, 1000);
  DL.onLeave(() => clearInterval(tick));
};
