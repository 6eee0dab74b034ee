/* audit.js - who did what, where, and how it ended (serve's audit log). */
"use strict";

DL.views.audit = (el, [params], alive) => {
  const { h, esc, when } = DL;
  const since = h("select", { id: "audit-since" }, ...["24h", "7d", "30d"].map((s) => h("option", { value: s }, "last " + s)));
  const text = h("input", { type: "search", class: "grow", id: "audit-filter", placeholder: "Filter by user, host, op, target, status…" });
  const err = h("div", { class: "error", role: "alert" });
  err.hidden = true;
  const box = h("div", { id: "audit" });
  el.append(h("h1", {}, "Audit"), h("div", { class: "row" }, since, text), err, box);
  let rows = [];
  const cls = (s) => (s === "ok" ? "s-ok" : s === "refused" || s === "error" ? "s-bad" : "s-warn");
  const t = DL.table(box, [
    { key: "time_ns", label: "Time", html: (r) => esc(when(r.time_ns || r.time)) },
    { key: "user", label: "Who" },
    { key: "host", label: "Host" },
    { key: "op", label: "Op" },
    { key: "target", label: "Target" },
    { key: "status", label: "Outcome", html: (r) => '<span class="' + cls(r.status) + '">' + esc(r.status) + "</span>" +
      (r.exit_code !== null && r.exit_code !== undefined ? " (exit " + esc(r.exit_code) + ")" : "") },
    { key: "message", label: "Message", hide: true },
    { key: "duration_ms", label: "ms", num: true, hide: true },
  ], { sortKey: "time_ns", desc: true, empty: "nothing done in this range",
    rowAttrs: (r) => ' data-op="' + esc(r.op) + '" data-target="' + esc(r.target) + '" data-status="' + esc(r.status) + '"' });
  function render() {
    const q = text.value.toLowerCase();
    t.set(q ? rows.filter((r) => [r.user, r.host, r.op, r.target, r.status, r.message].some((s) => s && String(s).toLowerCase().includes(q))) : rows);
  }
  async function load() {
    try {
      rows = await DL.get("/audit?limit=5000&since=" + since.value);
      if (alive()) { err.hidden = true; render(); }
    } catch (e) {
      if (alive()) { err.textContent = "Cannot load the audit log: " + e.message; err.hidden = false; }
    }
  }
  since.addEventListener("change", load);
  text.addEventListener("input", render);
  load();
  const timer = setInterval(load, 10000);
  DL.onLeave(() => clearInterval(timer));
};
