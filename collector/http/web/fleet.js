/* fleet.js - every host on one page: problems (offline, Docker down,
 * unhealthy or restarting containers as counted by serve) first, then
 * by name;
 * filter by state, text and host labels (as the CLI's --label; a
 * label chip adds itself), the three kept in the URL (#/?state=&q=&label=);
 * live CPU/memory over the stats WebSocket, a last-hour CPU sparkline for
 * the rows on screen. */
"use strict";

/* The label filter: words K or K=V separated by spaces or commas (V
 * may be quoted, see DL.labelWord), every word must match, as `--label`
 * in the CLI (collector/hostlabel.c): the first "=" splits, K is set to
 * anything or to exactly V; a key or value the CLI refuses is an error
 * here too. -> {sel: [{key, value (null: any)}]} or {error}. */
const LABEL_KEY = /^[A-Za-z0-9](?:[A-Za-z0-9._\/-]{0,61}[A-Za-z0-9])?$/, LABEL_VALUE = /^[\x20-\x7e]{0,128}$/;
function parseLabelFilter(s) {
  const sel = [], sep = /[\s,]/;
  let i = 0;
  while (i < s.length) {
    if (sep.test(s[i])) { i++; continue; }
    let j = i, value = null;
    while (j < s.length && s[j] !== "=" && !sep.test(s[j])) j++;
    const key = s.slice(i, j);
    if (s[j] === "=" && s[j + 1] === '"') {
      for (value = "", j += 2; j < s.length && s[j] !== '"'; j++) value += s[j] === "\\" && j + 1 < s.length ? s[++j] : s[j];
      if (j++ >= s.length) return { error: `${key}=: the quote is not closed` };
    } else if (s[j] === "=") {
      const a = ++j;
      while (j < s.length && !sep.test(s[j])) j++;
      value = s.slice(a, j);
    }
    if (!key) return { error: "a label key is empty" };
    if (!LABEL_KEY.test(key)) return { error: `label key "${key}": letters, digits and . _ / - (a letter or digit first and last, at most 63)` };
    if (value !== null && !LABEL_VALUE.test(value)) return { error: `label ${key}: the value must be printable ASCII, at most 128 bytes` };
    sel.push({ key, value });
    i = j;
  }
  return sel.length > 32 ? { error: "at most 32 labels" } : { sel };
}
const labelsMatch = (labels, sel) => sel.every(({ key, value }) =>
  !!labels && Object.hasOwn(labels, key) && typeof labels[key] === "string" && (value === null || labels[key] === value));

DL.views.fleet = (el, [params], alive) => {
  const { h, esc, bytes, pct, ago } = DL;
  const STATES = ["all", "online", "offline", "problems"];
  let hosts = [], filter = {
    state: STATES.includes(params.get("state")) ? params.get("state") : "all",
    text: params.get("q") || "", label: params.get("label") || "",
  }, sel = [];
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
    { key: "labels", label: "Labels", hide: true, sort: (x) => labelText(x).join(" "), html: (x) => DL.chips(x.labels, 3) },
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

  const text = h("input", { type: "search", class: "grow", id: "fleet-filter", placeholder: "Filter by name, health, policy, label…", value: filter.text });
  const labelBox = h("input", { type: "search", class: "grow", id: "fleet-label", placeholder: "Labels: role=web zone (all must match)",
    title: "K=V or K (set to anything), several separated by spaces or commas; all must match, as dockline --label", value: filter.label });
  const labelErr = h("span", { class: "s-bad", id: "fleet-label-error", role: "status" });
  const state = h("select", { id: "fleet-state" }, ...STATES.map((s) => h("option", { value: s, selected: s === filter.state }, s)));
  const summary = h("span", { class: "muted", id: "fleet-summary" });
  const live = h("span", { class: "muted live", id: "fleet-live" }, "connecting");
  const err = h("div", { class: "error", role: "alert" });
  err.hidden = true;
  const box = h("div", { id: "fleet" });
  el.append(h("h1", {}, "Fleet"), h("div", { class: "row" }, text, labelBox, state, summary, live), labelErr, err, box);
  const t = DL.table(box, cols, { sortKey: "rank", empty: "no hosts match", onRender: () => sparks(),
    rowAttrs: (x) => ' data-id="' + esc(x.name) + '"' });
  const LIVE = ["online", "cpu_percent", "mem_used_bytes", "disk_used_bytes", "load1"];

  function labelText(x) {
    const l = x.labels || {};
    return Object.keys(l).sort().map((k) => k + "=" + l[k]);
  }
  function shown() {
    const q = filter.text.toLowerCase();
    return hosts.filter((x) => {
      if (filter.state === "online" && !x.online) return false;
      if (filter.state === "offline" && x.online) return false;
      if (filter.state === "problems" && !rank(x)) return false;
      if (sel === null || !labelsMatch(x.labels, sel)) return false;
      if (!q) return true;
      return [x.name, x.health, x.control, x.software, ...labelText(x)].some((s) => s && String(s).toLowerCase().includes(q));
    });
  }
  /* the label filter parsed (an error: no host shown, the sentence
   * shown), the filters written to the URL without a new history entry */
  function setFilter() {
    const p = parseLabelFilter(filter.label);
    sel = p.error ? null : p.sel;
    labelErr.textContent = p.error ? "Label filter: " + p.error : "";
    labelBox.setAttribute("aria-invalid", p.error ? "true" : "false");
    const q = new URLSearchParams();
    if (filter.state !== "all") q.set("state", filter.state);
    if (filter.text) q.set("q", filter.text);
    if (filter.label) q.set("label", filter.label);
    const s = q.toString();
    history.replaceState(null, "", "#/" + (s ? "?" + s : ""));
    render();
  }
  function render() {
    /* problems first, then by name: the default order */
    hosts.sort((a, b) => rank(b) - rank(a) || (a.name < b.name ? -1 : 1));
    const list = shown();
    t.set(list);
    const off = hosts.filter((x) => !x.online).length;
    summary.textContent = `${hosts.length} hosts, ${off} offline, ${hosts.filter((x) => rank(x)).length} with problems`;
  }
  text.addEventListener("input", () => { filter.text = text.value; setFilter(); });
  labelBox.addEventListener("input", () => { filter.label = labelBox.value; setFilter(); });
  state.addEventListener("change", () => { filter.state = state.value; setFilter(); });
  /* a chip adds its label to the filter (once) */
  box.addEventListener("click", (e) => {
    const a = e.target.closest("a.chip");
    if (!a) return;
    e.preventDefault();
    const w = a.dataset.label, p = parseLabelFilter(filter.label);
    const cur = p.sel ? p.sel.map((s) => (s.value === null ? s.key : DL.labelWord(s.key, s.value))) : [];
    if (!cur.includes(w)) filter.label = (filter.label.trim() ? filter.label.trim() + " " : "") + w;
    labelBox.value = filter.label;
    setFilter();
  });

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

  setFilter();
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
