/* host.js - one host: facts (its labels among them, each a link to the
 * fleet filtered by it), metric charts (1h/24h/7d/30d), its
 * containers with live CPU/memory, recent events, Docker's lists
 * (images, volumes, networks, df) fetched through the agent on demand,
 * and prune for an admin (confirmed). */
"use strict";

DL.views.host = (el, [name, params], alive) => {
  const { h, esc, bytes, pct, ago, when } = DL;
  const H = "/hosts/" + encodeURIComponent(name);
  let range = DL.rangeOf(params), host = null, ctrs = [];

  const err = h("div", { class: "error", role: "alert" });
  err.hidden = true;
  const facts = h("dl", { class: "facts" });
  const charts = h("div", { class: "charts", id: "host-charts" });
  const rangeBox = h("div", {});
  const ctrBox = h("div", { id: "host-containers" });
  const ctrFilter = h("input", { type: "search", class: "grow", id: "host-filter", placeholder: "Filter by name, image, state, health…" });
  const evBox = h("div", { id: "host-events" });
  const docker = h("div", {});
  el.append(
    h("div", { class: "muted" }, h("a", { href: "#/" }, "Fleet"), " / host"),
    h("h1", {}, name), err, facts,
    h("h2", {}, "Metrics"), rangeBox, charts,
    h("h2", {}, "Containers ", h("span", { class: "muted live", id: "host-live" }, "")),
    h("div", { class: "row" }, ctrFilter), ctrBox,
    h("h2", {}, "Recent events ", h("a", { href: "#/events?host=" + encodeURIComponent(name) }, "(all)")), evBox,
    h("h2", {}, "Docker"), docker);

  function showErr(what, e) {
    if (!alive()) return;
    err.textContent = what + ": " + e.message;
    err.hidden = false;
  }

  async function loadHost() {
    try {
      host = await DL.get(H);
      if (!alive()) return;
      facts.innerHTML = [
        ["State", host.online ? '<span class="pill s-ok">online</span>' : '<span class="pill s-bad">offline</span>'],
        ["Last seen", esc(ago(host.last_seen_ago)) + ' <span class="muted">(' + esc(when(host.last_seen)) + ")</span>"],
        ["Docker", host.docker_up ? '<span class="s-ok">up</span> ' + esc(host.docker_version || "") : '<span class="s-bad">down</span>'],
        ["Health", esc(host.health)],
        ["Containers", esc(host.running + " running / " + host.containers) +
          (host.unhealthy ? ' <span class="s-warn">' + esc(host.unhealthy) + " unhealthy</span>" : "") +
          (host.restarting ? ' <span class="s-warn">' + esc(host.restarting) + " restarting</span>" : "")],
        ["Control policy", esc(host.control)],
        ["Agent", esc(host.software)],
        ["Labels", '<span id="host-labels">' + (DL.chips(host.labels, 0, 0) || '<span class="muted">none (dockline label ' + esc(name) + " K=V)</span>") + "</span>"],
      ].map(([k, v]) => "<dt>" + k + "</dt><dd>" + v + "</dd>").join("");
    } catch (e) { showErr("Cannot load the host", e); }
  }

  async function loadCharts() {
    rangeBox.replaceChildren(DL.rangeButtons(range, (r) => { range = r; loadCharts(); }));
    let rows;
    try {
      rows = await DL.get(H + "/history?since=" + range + "&points=300");
    } catch (e) { showErr("Cannot load the metrics", e); return; }
    if (!alive()) return;
    charts.replaceChildren();
    const xs = rows.map((r) => r.time_ns / 1e9);
    const col = (k) => rows.map((r) => (r[k] === undefined ? null : r[k]));
    DL.chart(charts, "CPU", range, "%", [{ label: "CPU %" }], [xs, col("cpu_percent")], DL.pctAxis);
    DL.chart(charts, "Memory", range, "bytes", [{ label: "used" }, { label: "total" }],
      [xs, col("mem_used_bytes"), col("mem_total_bytes")], bytes);
    DL.chart(charts, "Network", range, "bytes/s", [{ label: "rx" }, { label: "tx" }],
      [xs, DL.rate(xs, col("net_rx_bytes")), DL.rate(xs, col("net_tx_bytes"))], (v) => bytes(v) + "/s");
    DL.chart(charts, "Disk", range, "bytes", [{ label: "used" }, { label: "total" }],
      [xs, col("disk_used_bytes"), col("disk_total_bytes")], bytes);
  }

  const t = DL.table(ctrBox, [
    { key: "name", label: "Name", html: (c) => '<a href="#/host/' + encodeURIComponent(name) + "/c/" + encodeURIComponent(c.name) + '">' + esc(c.name) + "</a>" },
    { key: "state", label: "State", html: (c) => '<span class="s-' + (c.state === "running" ? "ok" : c.state === "exited" ? "off" : "warn") + '">' + esc(c.state) + "</span>" + (c.health ? " " + esc(c.health) : "") },
    { key: "status", label: "Status", hide: true },
    { key: "image", label: "Image", hide: true },
    { key: "cpu", label: "CPU", num: true, html: (c) => esc(pct(c.cpu)) },
    { key: "mem", label: "Memory", num: true, html: (c) => esc(bytes(c.mem)) },
  ], { sortKey: "name", empty: "no containers", rowAttrs: (c) => ' data-id="' + esc(c.name) + '"' });

  function showCtrs() {
    const q = ctrFilter.value.trim().toLowerCase();
    t.set(q ? ctrs.filter((c) => [c.name, c.image, c.state, c.health, c.status].some((v) => v && String(v).toLowerCase().includes(q))) : ctrs);
  }
  ctrFilter.addEventListener("input", showCtrs);

  async function loadCtrs() {
    try {
      const [list, stats] = await Promise.all([DL.get(H + "/containers?all=1"), DL.get("/stats?host=" + encodeURIComponent(name))]);
      if (!alive()) return;
      const by = {};
      for (const s of stats) by[s.name] = s;
      ctrs = list.map((c) => Object.assign(c, { cpu: by[c.name] ? by[c.name].cpu_percent : null, mem: by[c.name] ? by[c.name].mem_bytes : null }));
      showCtrs();
    } catch (e) { showErr("Cannot load the containers", e); }
  }

  async function loadEvents() {
    try {
      const evs = await DL.get("/events?since=24h&limit=50&host=" + encodeURIComponent(name));
      if (!alive()) return;
      DL.table(evBox, [
        { key: "time_ns", label: "Time", html: (e) => esc(when(e.time_ns)) },
        { key: "type", label: "Type" }, { key: "action", label: "Action" }, { key: "name", label: "Name" },
      ], { sortKey: "time_ns", desc: true, empty: "no events in 24 h" }).set(evs);
    } catch (e) { showErr("Cannot load the events", e); }
  }

  /* Docker's own lists, through the agent: only when asked */
  const out = h("div", {});
  for (const what of ["images", "volumes", "networks", "df"])
    docker.append(h("button", { "data-docker": what, onclick: () => dockerList(what) }, what === "df" ? "disk usage" : what), " ");
  docker.append(out);

  /* prune: admin only (destructive), confirmed, the outcome in words */
  if (DL.roleMay("prune")) {
    const what = h("select", { id: "prune-what" },
      h("option", { value: "containers" }, "stopped containers"), h("option", { value: "images" }, "dangling images"));
    const label = h("input", { type: "text", id: "prune-label", placeholder: "only with label K or K=V (optional)", size: 28 });
    const res = h("span", { class: "muted", id: "prune-result", role: "status" });
    const btn = h("button", { class: "danger", "data-action": "prune", onclick: () => confirmPrune() }, "Prune…");
    const row = h("div", { class: "row" }, "Remove", what, label, btn, res);
    el.append(h("h2", {}, "Prune"), row);
    function confirmPrune() {
      const l = label.value.trim();
      if (l && !/^[\w.:\/=-]+$/.test(l)) { res.textContent = "A label filter is K or K=V (letters, digits, _ . : / - =)."; return; }
      const box = h("span", { class: "confirm", id: "prune-confirm" },
        `Remove all ${what.selectedOptions[0].text}${l ? " labelled " + l : ""} on ${name}? This cannot be undone.`,
        h("button", { class: "danger", "data-confirm": "prune", onclick: () => { box.replaceWith(btn); prune(what.value, l); } }, "Yes, prune"),
        h("button", { onclick: () => box.replaceWith(btn) }, "Cancel"));
      btn.replaceWith(box);
    }
    async function prune(w, l) {
      btn.disabled = true;
      res.textContent = "pruning…";
      try {
        const r = await DL.api("POST", H + "/prune", l ? { what: w, label: l } : { what: w });
        if (!alive()) return;
        const n = ((w === "containers" ? r && r.ContainersDeleted : r && r.ImagesDeleted) || []).length;
        res.textContent = `removed ${n} ${w === "containers" ? "container" : "image"}${n === 1 ? "" : "s"}, ` +
          `${bytes((r && r.SpaceReclaimed) || 0)} reclaimed`;
        if (w === "containers") loadCtrs();
      } catch (e) {
        if (alive()) res.textContent = "not pruned: " + e.message; /* e.g. the host's policy */
      } finally { btn.disabled = false; }
    }
  }
  async function dockerList(what) {
    out.replaceChildren(h("p", { class: "muted" }, "asking " + name + "…"));
    try {
      let d = await DL.get(H + "/" + what);
      if (!alive()) return;
      if (d && !Array.isArray(d) && Array.isArray(d.Volumes) && what === "volumes") d = d.Volumes;
      if (!Array.isArray(d)) { out.replaceChildren(h("pre", { class: "out" }, JSON.stringify(d, null, 2))); return; }
      const pick = {
        images: [["RepoTags", (v) => (v || []).join(", ")], ["Id", (v) => String(v).slice(7, 19)], ["Size", bytes], ["Created", when]],
        volumes: [["Name"], ["Driver"], ["Mountpoint"]],
        networks: [["Name"], ["Driver"], ["Scope"], ["Id", (v) => String(v).slice(0, 12)]],
      }[what];
      const box = h("div", {});
      out.replaceChildren(box);
      DL.table(box, pick.map(([k, f]) => ({ key: k, label: k, html: (r) => esc(f ? f(r[k]) : r[k]) })),
        { empty: "none" }).set(d);
    } catch (e) { out.replaceChildren(h("div", { class: "error" }, e.message)); }
  }

  loadHost();
  loadCharts();
  loadCtrs();
  loadEvents();

  /* live CPU/memory of the containers */
  let dirty = false;
  DL.socket("/stats/stream?host=" + encodeURIComponent(name), (m) => {
    if (!m.stats) return;
    for (const s of m.stats) {
      const c = ctrs.find((x) => x.name === s.name);
      if (c) { c.cpu = s.cpu_percent; c.mem = s.mem_bytes; dirty = true; }
    }
  }, (s) => { const e = document.getElementById("host-live"); if (e) e.textContent = s; });
  const tick = setInterval(() => { if (dirty) { dirty = false; t.patch("name", ["cpu", "mem"]); } }, 1000);
  const slow = setInterval(() => { loadHost(); loadCtrs(); }, 15000);
  DL.onLeave(() => { clearInterval(tick); clearInterval(slow); });
};
