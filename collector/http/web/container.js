/* container.js - one container: facts (ports and labels from inspect),
 * actions the role allows (rename in place, destructive ones
 * confirmed), charts, logs
 * (tail, follow, stdout/stderr, timestamps, search) and one-shot exec. */
"use strict";

DL.views.container = (el, [hostName, name, params], alive) => {
  const { h, esc, bytes, when } = DL;
  const H = "/hosts/" + encodeURIComponent(hostName);
  const C = H + "/containers/" + encodeURIComponent(name);
  let range = DL.rangeOf(params), host = null;

  const err = h("div", { class: "error", role: "alert", id: "ctr-error" });
  err.hidden = true;
  const facts = h("dl", { class: "facts", id: "ctr-facts" });
  const actions = h("div", { class: "row", id: "ctr-actions" });
  const rangeBox = h("div", {});
  const charts = h("div", { class: "charts", id: "ctr-charts" });
  const logsBox = h("div", {});
  const execBox = h("div", {});
  el.append(
    h("div", { class: "muted" }, h("a", { href: "#/" }, "Fleet"), " / ",
      h("a", { href: "#/host/" + encodeURIComponent(hostName) }, hostName), " / container"),
    h("h1", {}, name), actions, err, facts,
    h("h2", {}, "Metrics"), rangeBox, charts,
    h("h2", {}, "Logs"), logsBox, execBox);

  function showErr(msg) {
    if (!alive()) return;
    err.textContent = msg;
    err.hidden = !msg;
  }

  async function loadFacts() {
    try {
      const c = await DL.get(C);
      if (!alive()) return;
      const s = c.stats || {};
      facts.innerHTML = [
        ["State", '<span id="ctr-state" class="s-' + (c.state === "running" ? "ok" : c.state === "exited" ? "off" : "warn") + '">' + esc(c.state) + "</span> " + esc(c.status)],
        ["Health", esc(c.health || "no health check") + (c.health_streak ? " (failing " + c.health_streak + ")" : "") + (c.health_output ? ' <span class="muted mono">' + esc(c.health_output) + "</span>" : "")],
        ["Image", esc(c.image)],
        ["Id", '<span class="mono">' + esc(String(c.id).slice(0, 12)) + "</span>"],
        ["Created", esc(when(c.created))],
        ["Started", esc(c.started_at ? when(c.started_at) : "–")],
        ["Restarts", esc(c.restart_count) + (c.exit_code ? " · exit code " + esc(c.exit_code) : "") + (c.oom_killed ? ' · <span class="s-bad">OOM killed</span>' : "")],
        ["Now", esc(DL.pct(s.cpu_percent)) + " CPU · " + esc(bytes(s.mem_bytes)) + " memory · " + esc(s.pids ?? "–") + " pids"],
        ["Ports", '<span id="ctr-ports" class="muted">…</span>'],
        ["Labels", '<span id="ctr-labels" class="muted">…</span>'],
      ].map(([k, v]) => "<dt>" + k + "</dt><dd>" + v + "</dd>").join("");
      if (inspected) fillInspect(inspected); else loadInspect();
    } catch (e) { showErr("Cannot load the container: " + e.message); }
  }
  /* ports and labels come from Docker's inspect, through the agent (a
   * control call: asked once per visit, not on every refresh) */
  let inspected = null;
  const set = (id, html) => { const e = document.getElementById(id); if (e) { e.innerHTML = html; e.classList.remove("muted"); } };
  async function loadInspect() {
    try {
      inspected = await DL.get(C + "/inspect");
      if (alive()) fillInspect(inspected);
    } catch (e) {
      set("ctr-ports", "not available: " + esc(e.message));
      set("ctr-labels", "not available");
    }
  }
  function fillInspect(i) {
    {
      const ports = Object.entries((i.NetworkSettings && i.NetworkSettings.Ports) || {})
        .map(([p, b]) => esc(p) + (b ? " → " + b.map((x) => esc((x.HostIp || "") + ":" + x.HostPort)).join(", ") : ""));
      set("ctr-ports", ports.length ? ports.join("<br>") : "none");
      const labels = Object.entries((i.Config && i.Config.Labels) || {}).map(([k, v]) => '<span class="mono">' + esc(k) + "=" + esc(v) + "</span>");
      set("ctr-labels", labels.length ? labels.join("<br>") : "none");
    }
  }

  /* ---- actions ---- */
  const CONFIRM = { kill: "Kill", rm: "Remove" };
  function renderActions() {
    actions.replaceChildren();
    for (const a of ["start", "stop", "restart", "pause", "unpause", "kill", "rename", "rm"]) {
      if (!DL.roleMay(a)) continue; /* not offered to this role */
      const b = h("button", { "data-action": a, class: CONFIRM[a] ? "danger" : "",
        onclick: () => (CONFIRM[a] ? confirmIt(a, b) : a === "rename" ? renameIt(b) : act(a)) },
        { rm: "remove" }[a] || a);
      actions.append(b);
    }
    if (!actions.childElementCount) actions.append(h("span", { class: "muted", id: "ctr-readonly" }, "Your token (role " + DL.me().role + ") may look, not act."));
  }
  function confirmIt(a, b) {
    const box = h("span", { class: "confirm" }, `${CONFIRM[a]} ${name}?`,
      h("button", { class: "danger", "data-confirm": a, onclick: () => { box.replaceWith(b); act(a); } }, "Yes, " + CONFIRM[a].toLowerCase()),
      h("button", { onclick: () => box.replaceWith(b) }, "Cancel"));
    b.replaceWith(box);
  }
  /* rename: the new name in place of the button; the page follows it */
  function renameIt(b) {
    const input = h("input", { id: "rename-to", value: name, size: 24, "aria-label": "new name", maxlength: 128 });
    const form = h("form", { class: "confirm", id: "rename-form" }, "Rename to", input,
      h("button", { type: "submit", id: "rename-ok" }, "Rename"),
      h("button", { type: "button", onclick: () => form.replaceWith(b) }, "Cancel"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const to = input.value.trim();
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(to)) {
        showErr("A container name is letters, digits and _ . - (starting with a letter or digit): " + JSON.stringify(to));
        return;
      }
      if (to === name) { form.replaceWith(b); return; }
      form.replaceWith(b);
      act("rename", { name: to });
    });
    b.replaceWith(form);
    input.select();
  }
  /* Docker has renamed it; the page follows once the inventory (the
   * agent's rename event) knows the new name, or after 10 s anyway */
  async function followRename(to) {
    actions.append(h("span", { class: "muted", id: "rename-wait" }, "Renamed to " + to + "; waiting for the inventory…"));
    for (let i = 0; i < 40 && alive(); i++) {
      try { await DL.get(H + "/containers/" + encodeURIComponent(to)); break; } catch (e) { /* not yet */ }
      await new Promise((r) => setTimeout(r, 250));
    }
    if (alive()) location.hash = "#/host/" + encodeURIComponent(hostName) + "/c/" + encodeURIComponent(to);
  }
  async function act(a, args) {
    showErr("");
    for (const b of actions.querySelectorAll("button")) b.disabled = true;
    try {
      await DL.api("POST", C + "/" + a, args || (a === "rm" ? { force: true } : {}));
      if (!alive()) return;
      if (a === "rm") { location.hash = "#/host/" + encodeURIComponent(hostName); return; }
      if (a === "rename") { await followRename(args.name); return; }
      await loadFacts();
    } catch (e) {
      /* the role may, the host's policy may not: its own sentence */
      showErr(e.message);
    } finally {
      for (const b of actions.querySelectorAll("button")) b.disabled = false;
    }
  }

  /* ---- charts ---- */
  async function loadCharts() {
    rangeBox.replaceChildren(DL.rangeButtons(range, (r) => { range = r; loadCharts(); }));
    let rows;
    try { rows = await DL.get(C + "/history?since=" + range + "&points=300"); } catch (e) { showErr("Cannot load the metrics: " + e.message); return; }
    if (!alive()) return;
    charts.replaceChildren();
    const xs = rows.map((r) => r.time_ns / 1e9);
    const col = (k) => rows.map((r) => (r[k] === undefined ? null : r[k]));
    DL.chart(charts, "CPU", range, "%", [{ label: "CPU %" }], [xs, col("cpu_percent")], DL.pctAxis);
    DL.chart(charts, "Memory", range, "bytes", [{ label: "used" }], [xs, col("mem_bytes")], bytes);
    DL.chart(charts, "Network", range, "bytes/s", [{ label: "rx" }, { label: "tx" }],
      [xs, DL.rate(xs, col("net_rx_bytes")), DL.rate(xs, col("net_tx_bytes"))], (v) => bytes(v) + "/s");
    DL.chart(charts, "Block I/O", range, "bytes/s", [{ label: "read" }, { label: "write" }],
      [xs, DL.rate(xs, col("blk_read_bytes")), DL.rate(xs, col("blk_write_bytes"))], (v) => bytes(v) + "/s");
  }

  /* ---- logs: at most MAX lines kept; the search filters those ---- */
  const MAX = 5000;
  let lines = [], ctl = null;
  const tail = h("select", { id: "logs-tail" }, ...[100, 1000, 5000].map((n) => h("option", { value: n }, "last " + n)));
  const ts = h("input", { type: "checkbox", id: "logs-ts", checked: true });
  const follow = h("button", { id: "logs-follow" }, "Follow");
  const search = h("input", { type: "search", id: "logs-search", class: "grow", placeholder: "Search the loaded lines…" });
  const status = h("span", { class: "muted", id: "logs-status" });
  const view = h("div", { class: "logs mono", id: "logs", tabindex: "0" });
  logsBox.append(h("div", { class: "row" }, tail, h("label", {}, ts, " timestamps"), follow,
    h("button", { id: "logs-reload", onclick: () => startLogs(false) }, "Reload"), search, status), view);

  function lineHtml(l, q) {
    let t = esc(l.text);
    if (q) t = t.split(esc(q)).join("<mark>" + esc(q) + "</mark>");
    return '<div class="l ' + (l.err ? "err" : "out") + '">' + (l.ts ? '<span class="ts">' + esc(l.ts) + "</span>" : "") + t + "</div>";
  }
  function renderLogs() {
    const q = search.value;
    const shown = q ? lines.filter((l) => l.text.includes(q)) : lines;
    const stick = view.scrollTop + view.clientHeight >= view.scrollHeight - 20;
    view.innerHTML = shown.slice(-2000).map((l) => lineHtml(l, q)).join("");
    status.textContent = (q ? shown.length + " of " : "") + lines.length + " lines" + (ctl && ctl.follow ? " · following" : "");
    if (stick || !q) view.scrollTop = view.scrollHeight;
  }
  let pending = false;
  function later() { if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; if (alive()) renderLogs(); }); } }
  function addChunk(o) {
    for (const raw of o.data.split("\n")) {
      if (!raw) continue;
      let text = raw, stamp = "";
      const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) (.*)$/.exec(raw);
      if (m) { text = m[2]; stamp = new Date(m[1]).toLocaleTimeString(); }
      lines.push({ err: o.stream === "stderr", text, ts: ts.checked ? stamp : "" });
    }
    if (lines.length > MAX) lines = lines.slice(-MAX);
    later();
  }
  async function startLogs(doFollow) {
    if (ctl) ctl.abort();
    const my = new AbortController();
    my.follow = doFollow;
    ctl = my;
    follow.classList.toggle("on", doFollow);
    follow.textContent = doFollow ? "Stop following" : "Follow";
    lines = [];
    renderLogs();
    const q = "?tail=" + tail.value + "&timestamps=1" + (doFollow ? "&follow=1" : "");
    try {
      const end = await DL.ndjson("GET", C + "/logs" + q, undefined, addChunk, my.signal);
      if (ctl === my && end && end.status !== "ok") status.textContent = "ended: " + (end.error || end.status);
    } catch (e) {
      if (e.name !== "AbortError" && alive()) status.textContent = "logs: " + e.message;
    }
    if (ctl === my) { my.follow = false; follow.classList.remove("on"); follow.textContent = "Follow"; }
  }
  follow.addEventListener("click", () => startLogs(!(ctl && ctl.follow)));
  search.addEventListener("input", renderLogs);
  tail.addEventListener("change", () => startLogs(ctl && ctl.follow));
  DL.onLeave(() => { if (ctl) ctl.abort(); });

  /* ---- one-shot exec: role and the host's policy must both allow ---- */
  function renderExec() {
    execBox.replaceChildren();
    if (!DL.roleMay("exec") || !DL.policyMay(host, "exec")) return;
    const cmd = h("input", { id: "exec-cmd", class: "grow", placeholder: "command, e.g. ls -l /" });
    const out = h("pre", { class: "out", id: "exec-out" });
    out.hidden = true;
    const run = h("button", { id: "exec-run", type: "submit" }, "Run");
    const form = h("form", { class: "row" }, cmd, run);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const argv = (cmd.value.match(/"[^"]*"|'[^']*'|\S+/g) || []).map((a) => a.replace(/^(["'])(.*)\1$/, "$2"));
      if (!argv.length) return;
      out.hidden = false;
      out.textContent = "";
      run.disabled = true;
      try {
        const end = await DL.ndjson("POST", C + "/exec", { cmd: argv }, (o) => { out.textContent += o.data; });
        out.append(h("div", { class: "muted" }, end && end.status === "ok" ? "exit code " + end.exit_code : "ended: " + ((end && end.error) || "unknown")));
      } catch (x) { out.append(h("div", { class: "s-bad" }, x.message)); }
      run.disabled = false;
    });
    execBox.append(h("h2", {}, "Run a command"), form, out);
  }

  renderActions();
  loadFacts();
  loadCharts();
  startLogs(false);
  DL.get(H).then((x) => { host = x; if (alive()) renderExec(); }).catch(() => {});
  const slow = setInterval(loadFacts, 15000);
  DL.onLeave(() => clearInterval(slow));
};
