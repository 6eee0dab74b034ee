/* app.js - the page's core: API calls, sign-in, hash routing, formatting,
 * tables, charts (uPlot) and WebSockets. Each view is its own file and
 * registers itself in DL.views; nothing here knows a view's insides.
 * No inline scripts or styles (the CSP forbids them): elements are built
 * with DL.h() or with innerHTML of escaped text. */
"use strict";

const DL = (() => {
  const views = {};
  let me = null;          /* {name, role, hosts} of the signed-in token */
  let leave = [];         /* cleanups of the current view */
  let gen = 0;            /* bumps on every navigation */

  /* ---- DOM ---- */
  const $ = (sel, root) => (root || document).querySelector(sel);
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids.flat()) {
      if (k === null || k === undefined || k === false) continue;
      e.append(k instanceof Node ? k : String(k));
    }
    return e;
  }
  const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const esc = (s) => String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, (c) => ESC[c]);

  /* ---- formatting (the browser's time zone) ---- */
  function bytes(n) {
    if (n === null || n === undefined || isNaN(n)) return "–";
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    n = Number(n);
    while (Math.abs(n) >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return n.toFixed(Math.abs(n) < 10 && n !== Math.round(n) ? 1 : 0) + " " + u[i];
  }
  const pct = (n) => (n === null || n === undefined ? "–" : Number(n).toFixed(1) + " %");
  /* a chart axis: enough digits that ticks differ */
  const pctAxis = (v) => (Math.abs(v) < 1 && v !== 0 ? v.toFixed(2) : Math.abs(v) < 10 ? v.toFixed(1) : v.toFixed(0)) + "%";
  function ago(s) {
    if (s === null || s === undefined) return "never";
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + "s ago";
    if (s < 3600) return Math.floor(s / 60) + "m ago";
    if (s < 86400) return Math.floor(s / 3600) + "h ago";
    return Math.floor(s / 86400) + "d ago";
  }
  /* unix seconds, unix ns, or an RFC 3339 string -> Date */
  function date(t) {
    if (typeof t === "string") return new Date(t);
    if (t > 1e14) return new Date(t / 1e6);
    return new Date(t * 1000);
  }
  const when = (t) => (t ? date(t).toLocaleString() : "–");

  /* ---- host labels ----
   * A label as the filter takes it: K=V, V quoted ("...", with \" and
   * \\) when it holds a space, a comma or a quote. */
  const labelWord = (k, v) => k + "=" + (/[\s,"]/.test(v) ? '"' + v.replace(/[\\"]/g, "\\$&") + '"' : v);
  /* labels {K: V} -> chips (links to the fleet filtered by the label),
   * sorted by key, at most max of them then "+N" (the rest in its
   * title); a chip's text is cut at cut characters (24 unless given; 0:
   * whole), the whole label in its title. */
  function chips(labels, max, cut) {
    const n = cut === undefined ? 24 : cut;
    const ks = Object.keys(labels || {}).filter((k) => typeof labels[k] === "string").sort();
    let s = "";
    for (const k of ks.slice(0, max || ks.length)) {
      const t = k + "=" + labels[k], w = labelWord(k, labels[k]);
      s += '<a class="chip" href="#/?label=' + esc(encodeURIComponent(w)) + '" data-label="' + esc(w) +
        '" title="' + esc(t) + '">' + esc(n && t.length > n ? t.slice(0, n - 1) + "…" : t) + "</a> ";
    }
    if (max && ks.length > max)
      s += '<span class="muted more" title="' + esc(ks.slice(max).map((k) => k + "=" + labels[k]).join("\n")) + '">+' + (ks.length - max) + "</span>";
    return s;
  }

  /* ---- API ---- */
  class ApiError extends Error {
    constructor(msg, status, code) { super(msg); this.status = status; this.code = code; }
  }
  async function api(method, path, body, signal) {
    const opt = { method, headers: {}, credentials: "same-origin", signal };
    if (body !== undefined) {
      opt.headers["Content-Type"] = "application/json";
      opt.body = JSON.stringify(body);
    }
    const r = await fetch("/api/v1" + path, opt);
    let j = null;
    try { j = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) {
      if (r.status === 401 && path !== "/session") signedOut("Your session has ended: sign in again.");
      throw new ApiError((j && j.error) || "HTTP " + r.status, r.status, j && j.code);
    }
    return j;
  }
  const get = (path, signal) => api("GET", path, undefined, signal);

  /* NDJSON stream (logs, exec): onLine(obj) per line; resolves with the
   * final line. abort() through the signal ends it. */
  async function ndjson(method, path, body, onLine, signal) {
    const opt = { method, credentials: "same-origin", signal, headers: {} };
    if (body !== undefined) {
      opt.headers["Content-Type"] = "application/json";
      opt.body = JSON.stringify(body);
    }
    const r = await fetch("/api/v1" + path, opt);
    if (!r.ok) {
      let j = null;
      try { j = await r.json(); } catch (e) { /* not JSON */ }
      throw new ApiError((j && j.error) || "HTTP " + r.status, r.status, j && j.code);
    }
    const rd = r.body.getReader(), dec = new TextDecoder();
    let buf = "", last = null;
    for (;;) {
      const { value, done } = await rd.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line) continue;
        const o = JSON.parse(line);
        if (o.stream) onLine(o); else last = o;
      }
    }
    return last;
  }

  /* A WebSocket that comes back after a drop (not after a refusal).
   * onMsg(obj); onState("live" | "reconnecting" | sentence). */
  function socket(path, onMsg, onState) {
    let ws = null, closed = false, delay = 1000, timer = null;
    function open() {
      const proto = location.protocol === "https:" ? "wss://" : "ws://";
      ws = new WebSocket(proto + location.host + "/api/v1" + path);
      ws.onopen = () => { delay = 1000; onState && onState("live"); };
      ws.onmessage = (m) => { try { onMsg(JSON.parse(m.data)); } catch (e) { /* ignore */ } };
      ws.onclose = (e) => {
        if (closed) return;
        if (e.code === 4401) { signedOut("Your session has ended: sign in again."); return; }
        if (e.code >= 4400 && e.code < 4500) { onState && onState("refused: " + (e.reason || e.code)); return; }
        onState && onState("reconnecting");
        timer = setTimeout(open, delay);
        delay = Math.min(delay * 2, 30000);
      };
    }
    open();
    const stop = () => { closed = true; clearTimeout(timer); if (ws) ws.close(); };
    onLeave(stop);
    return stop;
  }

  /* ---- roles and policies ----
   * A button is offered when the token's role allows the action; the
   * host's own policy may still refuse it, and then its sentence shows. */
  const CLASS = {
    start: "lifecycle", stop: "lifecycle", restart: "lifecycle", kill: "lifecycle",
    pause: "lifecycle", unpause: "lifecycle", rename: "lifecycle",
    rm: "destructive", prune: "destructive", exec: "exec",
  };
  const ROLE_CLASSES = {
    read: ["read"], operate: ["read", "lifecycle"],
    admin: ["read", "lifecycle", "exec", "destructive"],
  };
  const roleMay = (action) => !!me && (ROLE_CLASSES[me.role] || []).includes(CLASS[action] || "read");
  const policyMay = (host, action) =>
    !!host && String(host.control || "").split(/,\s*/).includes(CLASS[action] || "read");

  /* ---- tables: sorted, virtualised ----
   * Only the rows in view (and a margin) are in the DOM; the box scrolls
   * and two spacer rows stand for the rest, so 5,000 rows cost what 60
   * do. Cells do not wrap, so every row of a table is as high as the
   * first one measured. Spacer heights go through the CSSOM: the CSP
   * refuses style attributes in markup. */
  /* cols: [{key, label, num, sort: row => value, html: row => string}];
   * opts.onRender() after the rows on screen change */
  function table(el, cols, opts) {
    const o = Object.assign({ sortKey: null, desc: false, rowAttrs: null, onRender: null }, opts);
    const MARGIN = 15;
    let rows = [], list = [], rowH = 0, from = -1, to = -1, queued = false;
    const wrap = h("div", { class: "tablewrap vt" });
    const foot = h("div", { class: "pager" });
    el.replaceChildren(wrap, foot);
    wrap.innerHTML = "<table><thead><tr></tr></thead><tbody></tbody></table>";
    const headRow = wrap.querySelector("thead tr"), body = wrap.querySelector("tbody");
    function sorted() {
      if (!o.sortKey) return rows;
      const c = cols.find((x) => x.key === o.sortKey);
      const f = c.sort || ((r) => r[c.key]);
      const d = o.desc ? -1 : 1;
      return rows.slice().sort((a, b) => {
        const x = f(a), y = f(b);
        return (x < y ? -1 : x > y ? 1 : 0) * d;
      });
    }
    function head() {
      let s = "";
      for (const c of cols) {
        const cls = [c.num ? "num" : "", c.nosort ? "" : "sort",
          o.sortKey === c.key ? (o.desc ? "desc" : "asc") : "", c.hide ? "hide-sm" : ""].join(" ");
        s += '<th class="' + cls + '" data-k="' + c.key + '">' + esc(c.label) + "</th>";
      }
      headRow.innerHTML = s;
    }
    function rowHtml(r) {
      let s = "<tr" + (o.rowAttrs ? o.rowAttrs(r) : "") + ">";
      for (const c of cols)
        s += '<td data-k="' + c.key + '" class="' + (c.num ? "num " : "") + (c.hide ? "hide-sm" : "") + '">' +
          (c.html ? c.html(r) : esc(r[c.key])) + "</td>";
      return s + "</tr>";
    }
    /* the rows [from, to) that cover the box's view, with a margin */
    function span() {
      const n = list.length, h0 = rowH || 30;
      const top = Math.max(0, wrap.scrollTop - headRow.offsetHeight);
      const view = wrap.clientHeight || 40 * h0;
      /* the list may have shrunk under a box scrolled far down: show
       * its end (the browser then clamps scrollTop and we come back) */
      const a = Math.min(Math.max(0, n - Math.ceil(view / h0) - MARGIN), Math.max(0, Math.floor(top / h0) - MARGIN));
      return [a, Math.min(n, Math.ceil((top + view) / h0) + MARGIN)];
    }
    function fill(force) {
      const [a, b] = span();
      if (!force && a === from && b === to) return;
      from = a;
      to = b;
      const sp = '<tr class="sp"><td colspan="' + cols.length + '"></td></tr>';
      let s = sp;
      for (let i = a; i < b; i++) s += rowHtml(list[i]);
      if (!list.length) s += '<tr><td class="muted" colspan="' + cols.length + '">' + esc(o.empty || "nothing") + "</td></tr>";
      body.innerHTML = s + sp;
      if (!rowH && b > a) {
        /* measurable once the box is laid out (not while hidden) */
        const first = body.rows[1], last = body.rows[b - a];
        const m = (last.getBoundingClientRect().bottom - first.getBoundingClientRect().top) / (b - a);
        if (m > 0) { rowH = m; return fill(true); }
      }
      body.rows[0].firstChild.style.height = a * (rowH || 30) + "px";
      body.rows[body.rows.length - 1].firstChild.style.height = (list.length - b) * (rowH || 30) + "px";
      wrap.dataset.from = String(a);
      wrap.dataset.to = String(b);
      if (o.onRender && list.length) o.onRender();
    }
    function render() {
      list = sorted();
      wrap.dataset.rows = String(list.length);
      foot.textContent = list.length ? `${list.length} row${list.length === 1 ? "" : "s"}` : "";
      fill(true);
    }
    wrap.addEventListener("scroll", () => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => { queued = false; fill(false); });
    });
    headRow.addEventListener("click", (e) => {
      const th = e.target.closest("th.sort");
      if (!th) return;
      if (o.sortKey === th.dataset.k) o.desc = !o.desc; else { o.sortKey = th.dataset.k; o.desc = false; }
      head();
      render();
    });
    /* brings row i of the sorted list into view (a test, a link) */
    function reveal(pred) {
      const i = list.findIndex(pred);
      if (i < 0) return false;
      wrap.scrollTop = i * (rowH || 30);
      fill(false);
      return true;
    }
    /* live values: rewrite some cells of the rows on screen in place
     * (a full render would replace what the user is pointing at) */
    function patch(keyAttr, keys) {
      const by = {};
      for (const r of rows) by[r[keyAttr]] = r;
      for (const tr of body.querySelectorAll("tr[data-id]")) {
        const r = by[tr.dataset.id];
        if (!r) continue;
        for (const k of keys) {
          const td = tr.querySelector('td[data-k="' + k + '"]'), c = cols.find((x) => x.key === k);
          if (td && c) td.innerHTML = c.html ? c.html(r) : esc(r[k]);
        }
      }
    }
    head();
    render();
    return { set(r) { rows = r; render(); }, render, patch, reveal, el: wrap };
  }

  /* ---- charts ---- */
  const RANGES = { "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
  const css = (v) => getComputedStyle(document.documentElement).getPropertyValue(v).trim();
  /* A chart box: title (with range and unit), uPlot inside.
   * series: [{label, color}]; data: [xs (unix s), ys...]; fmt: y -> text */
  function chart(el, title, range, unit, series, data, fmt) {
    const box = h("div", { class: "chart" },
      h("div", { class: "title" }, title + " ", h("span", {}, `(${unit}, last ${range})`)));
    el.append(box);
    if (!data[0].length) {
      box.append(h("div", { class: "empty" }, "no data in this range"));
      return null;
    }
    const axis = { stroke: css("--muted"), grid: { stroke: css("--line"), width: 1 }, ticks: { stroke: css("--line") } };
    const opts = {
      width: Math.max(280, box.clientWidth - 12), height: 180,
      series: [{}].concat(series.map((s, i) => ({
        label: s.label, stroke: css(s.color || "--c" + (i + 1)), width: 1.5,
        value: (u, v) => (v === null ? "–" : fmt(v)),
      }))),
      axes: [axis, Object.assign({ values: (u, vs) => vs.map(fmt), size: 70 }, axis)],
      /* the x axis is the range asked for, even with one point in it */
      scales: {
        x: { time: true, range: () => [Date.now() / 1000 - RANGES[range], Date.now() / 1000] },
        y: { range: (u, lo, hi) => [Math.min(0, lo || 0), hi > 0 ? hi * 1.1 : 1] },
      },
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
    const u = new uPlot(opts, data, box);
    if (!performance.getEntriesByName("chart").length) performance.mark("chart");
    box.dataset.points = String(data[0].length);
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(280, box.clientWidth - 12), height: 180 }));
    ro.observe(box);
    onLeave(() => { ro.disconnect(); u.destroy(); });
    return u;
  }
  /* Counter series (bytes so far) -> rate per second between samples. */
  function rate(xs, ys) {
    const out = [null];
    for (let i = 1; i < xs.length; i++) {
      const dt = xs[i] - xs[i - 1], dv = ys[i] - ys[i - 1];
      out.push(dt > 0 && dv >= 0 ? dv / dt : null);
    }
    return out;
  }
  function rangeButtons(cur, onPick) {
    const row = h("div", { class: "row" }, h("span", { class: "muted" }, "Range:"));
    for (const r of Object.keys(RANGES))
      row.append(h("button", { class: r === cur ? "on" : "", "data-range": r, onclick: () => onPick(r) }, r));
    return row;
  }

  /* ---- sign-in ---- */
  function signedOut(msg) {
    me = null;
    renderHeader();
    showSignIn(msg);
  }
  function showSignIn(msg) {
    runLeave();
    const err = h("div", { class: "error", id: "signin-error", role: "alert" });
    err.hidden = !msg;
    err.textContent = msg || "";
    const input = h("input", { type: "password", id: "token", name: "token", autocomplete: "off", placeholder: "dlt_…", required: true });
    const form = h("form", { class: "signin", id: "signin" },
      h("h1", {}, "Sign in to dockline"),
      h("p", { class: "muted" }, "Paste an API token (", h("code", {}, "dockline token create NAME --role read"), ")."),
      input, err,
      h("button", { class: "primary", type: "submit", id: "signin-btn" }, "Sign in"));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      err.hidden = true;
      try {
        me = await api("POST", "/session", { token: input.value.trim() });
        renderHeader();
        route();
      } catch (x) {
        err.textContent = x.status === 401
          ? "This token was not accepted (" + x.message + "). Check it, or ask an admin for a new one."
          : "Cannot sign in: " + x.message;
        err.hidden = false;
      }
    });
    $("#view").replaceChildren(form);
    input.focus();
  }
  async function signOut() {
    try { await api("DELETE", "/session"); } catch (e) { /* cookie gone anyway */ }
    signedOut("Signed out.");
  }

  function renderHeader() {
    const top = $("#top");
    top.replaceChildren();
    top.append(h("a", { class: "brand", href: "#/" }, "dockline"));
    if (!me) return;
    const nav = h("nav", {});
    for (const [href, label] of [["#/", "Fleet"], ["#/events", "Events"], ["#/audit", "Audit"]])
      nav.append(h("a", { href, "data-nav": href }, label));
    top.append(nav, h("span", { class: "me" },
      h("span", { id: "whoami" }, `${me.name} (${me.role})`),
      h("button", { id: "signout", onclick: signOut }, "Sign out")));
  }

  /* ---- routing: #/, #/host/H, #/host/H/c/C, #/events, #/audit ---- */
  const rangeOf = (params) => (params && RANGES[params.get("range")] ? params.get("range") : "1h");
  function onLeave(f) { leave.push(f); }
  function runLeave() {
    gen++;
    const l = leave;
    leave = [];
    for (const f of l) try { f(); } catch (e) { /* keep going */ }
  }
  function route() {
    if (!me) return;
    runLeave();
    const [path, qs] = location.hash.replace(/^#/, "").split("?");
    const p = path.split("/").filter(Boolean).map(decodeURIComponent);
    const params = new URLSearchParams(qs || "");
    let v = "fleet", args = [params];
    /* ?range=30d on a host or container picks the charts' range */
    if (p[0] === "host" && p[1] && p[2] === "c" && p[3]) { v = "container"; args = [p[1], p[3], params]; }
    else if (p[0] === "host" && p[1]) { v = "host"; args = [p[1], params]; }
    else if (p[0] === "events" || p[0] === "audit") v = p[0];
    for (const a of document.querySelectorAll("[data-nav]"))
      a.classList.toggle("cur", a.getAttribute("data-nav") === "#/" + (v === "fleet" ? "" : v));
    const el = $("#view");
    el.replaceChildren();
    const my = gen;
    /* a view's async work checks alive() before touching the page */
    views[v](el, args, () => my === gen);
  }

  async function start() {
    renderHeader();
    window.addEventListener("hashchange", route);
    try {
      me = await api("GET", "/session");
    } catch (e) {
      showSignIn(e.status === 401 ? "" : "Cannot reach the collector: " + e.message);
      return;
    }
    renderHeader();
    route();
  }
  document.addEventListener("DOMContentLoaded", start);

  return {
    views, h, $, esc, labelWord, chips, bytes, pct, ago, date, when, api, get, ndjson, socket,
    roleMay, policyMay, table, chart, rate, rangeButtons, RANGES, rangeOf, onLeave, pctAxis,
    me: () => me, ApiError,
  };
})();
