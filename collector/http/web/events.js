/* events.js - the fleet's event feed: the last hour, then live over the
 * WebSocket; filter by host, type and action (and free text). */
"use strict";

DL.views.events = (el, [params], alive) => {
  const { h, esc, when } = DL;
  const MAX = 5000;
  let evs = [];
  const f = { host: params.get("host") || "", type: params.get("type") || "", action: params.get("action") || "" };

  const inputs = {};
  const row = h("div", { class: "row" });
  for (const k of ["host", "type", "action"]) {
    inputs[k] = h("input", { type: "search", id: "ev-" + k, placeholder: k, value: f[k], size: 12 });
    inputs[k].addEventListener("input", () => { f[k] = inputs[k].value.trim(); render(); });
    row.append(inputs[k]);
  }
  const live = h("span", { class: "muted live", id: "ev-live" }, "connecting");
  row.append(live);
  const err = h("div", { class: "error", role: "alert" });
  err.hidden = true;
  const box = h("div", { id: "events" });
  el.append(h("h1", {}, "Events"), row, err, box);

  const t = DL.table(box, [
    { key: "time_ns", label: "Time", html: (e) => esc(when(e.time_ns || e.time)) },
    { key: "host", label: "Host", html: (e) => '<a href="#/host/' + encodeURIComponent(e.host) + '">' + esc(e.host) + "</a>" },
    { key: "type", label: "Type" },
    { key: "action", label: "Action" },
    { key: "name", label: "Name", html: (e) => e.type === "container" && e.name
      ? '<a href="#/host/' + encodeURIComponent(e.host) + "/c/" + encodeURIComponent(e.name) + '">' + esc(e.name) + "</a>" : esc(e.name) },
  ], { sortKey: "time_ns", desc: true, empty: "no events match",
    rowAttrs: (e) => ' data-seq="' + esc(e.seq) + '" data-action="' + esc(e.action) + '" data-name="' + esc(e.name) + '"' });

  const match = (e) => (!f.host || e.host === f.host) && (!f.type || e.type === f.type) &&
    (!f.action || String(e.action).startsWith(f.action));
  function render() { t.set(evs.filter(match)); }

  /* one render per animation frame, at most 20 a second: a lone event
   * shows in the next frame, docker stop's kill, die and stop (ms apart)
   * in one or two renders, a burst (a deploy, a restart loop) costs 20
   * renders a second at most; a hidden tab renders when it is shown
   * (bench_web.sh: event -> row) */
  let pending = false, last = -1e9;
  function add(e) {
    if (evs.some((x) => x.seq === e.seq)) return;
    evs.push(e);
    if (evs.length > MAX) evs = evs.slice(-MAX);
    if (pending) return;
    pending = true;
    const go = () => requestAnimationFrame(() => {
      pending = false;
      if (!alive()) return;
      last = performance.now();
      render();
    });
    const wait = last + 50 - performance.now();
    if (wait > 0) setTimeout(go, wait); else go();
  }

  DL.get("/events?since=1h&limit=1000").then((list) => {
    if (!alive()) return;
    for (const e of list) add(e);
    render();
  }).catch((e) => { if (alive()) { err.textContent = "Cannot load events: " + e.message; err.hidden = false; } });
  DL.socket("/events/stream", (m) => { if (m.event) add(m.event); }, (s) => { live.textContent = s; });
};
