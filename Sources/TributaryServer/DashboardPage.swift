/// The web dashboard: one self-contained page (no CDN, no build step) that talks to `/api/v1` with
/// the bearer token the user gives it, kept in the tab's session storage. Hash routes: `#/` apps,
/// `#/apps/NAME` one app, `#/pushes/DELIVERY` one push. Embedded in the binary so the server needs
/// no files beside it.
enum DashboardPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tributary</title>
<style>
  :root { --fg:#1d2330; --muted:#5f6b7a; --line:#dde3ea; --bg:#f6f8fa; --ok:#1a7f37; --warn:#9a6700; --bad:#cf222e; --info:#0969da; --unk:#6e7781; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
  header { display:flex; align-items:center; gap:12px; padding:10px 16px; background:#1d2330; color:#fff; }
  header a { color:#fff; text-decoration:none; font-weight:600; }
  header .right { margin-left:auto; display:flex; gap:8px; align-items:center; font-size:12px; }
  main { padding:16px; max-width:1200px; margin:0 auto; }
  .card { background:#fff; border:1px solid var(--line); border-radius:6px; padding:12px 16px; margin-bottom:16px; }
  .filters { display:flex; flex-wrap:wrap; gap:8px; margin-bottom:12px; }
  .filters input, .filters select { padding:6px 8px; border:1px solid var(--line); border-radius:4px; font:inherit; }
  table { width:100%; border-collapse:collapse; }
  th, td { text-align:left; padding:7px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
  th { font-size:12px; color:var(--muted); font-weight:600; }
  tr.updated { animation: flash 1.5s ease-out; }
  @keyframes flash { from { background:#fff8c5; } to { background:transparent; } }
  .badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; color:#fff; background:var(--unk); white-space:nowrap; }
  .Synced, .Healthy, .succeeded, .healed, .synced, .delivered { background:var(--ok); }
  .OutOfSync, .Progressing, .drift-detected, .out-of-sync, .suppressed { background:var(--warn); }
  .Degraded, .Missing, .failed, .dead-lettered { background:var(--bad); }
  .Suspended, .health-changed { background:var(--info); }
  code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size:12px; }
  .muted { color:var(--muted); }
  .error { color:var(--bad); white-space:pre-wrap; }
  button { padding:6px 12px; border:1px solid var(--line); border-radius:4px; background:#fff; font:inherit; cursor:pointer; }
  button.primary { background:var(--info); color:#fff; border-color:var(--info); }
  .actions { display:flex; flex-wrap:wrap; gap:8px; margin:8px 0; }
  .notice { padding:8px 12px; border-radius:4px; background:#fff8c5; margin:8px 0; }
  .timeline { list-style:none; padding:0; margin:0; border-left:3px solid var(--line); }
  .timeline li { position:relative; padding:4px 0 10px 16px; }
  .timeline li::before { content:""; position:absolute; left:-8px; top:9px; width:13px; height:13px; border-radius:50%; background:var(--info); }
  #login { max-width:420px; margin:40px auto; }
  #login input { width:100%; padding:8px; margin:8px 0; font:inherit; }
  @media (max-width: 700px) {
    main { padding:8px; }
    thead { display:none; }
    table, tbody, tr, td { display:block; width:100%; }
    tr { border-bottom:1px solid var(--line); padding:6px 0; }
    td { border:none; padding:2px 4px; }
    td[data-label]::before { content: attr(data-label) ": "; color:var(--muted); font-size:12px; }
  }
</style>
</head>
<body>
<header><a href="#/">Tributary</a><span class="muted" id="live"></span><div class="right"><span id="who"></span><button id="logout" hidden>Sign out</button></div></header>
<main id="view"></main>
<script>
"use strict";
const view = document.getElementById("view");
const state = { apps: new Map(), filters: { q: "", project: "", sync: "", health: "" } };
const token = () => sessionStorage.getItem("tributary-token");
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const badge = (text) => text ? `<span class="badge ${esc(text)}">${esc(text)}</span>` : `<span class="badge">Unknown</span>`;
const short = (rev) => rev ? `<code>${esc(rev.slice(0, 12))}</code>` : `<span class="muted">—</span>`;
const ago = (iso) => { if (!iso) return ""; const s = Math.round((Date.now() - Date.parse(iso)) / 1000); return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : s < 86400 ? `${Math.round(s / 3600)}h ago` : `${Math.round(s / 86400)}d ago`; };

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...(options.headers || {}), Authorization: `Bearer ${token()}`, "Content-Type": "application/json" } });
  if (response.status === 401) { sessionStorage.removeItem("tributary-token"); login("That token was not accepted."); throw new Error("unauthorized"); }
  const body = await response.text();
  let json = {}; try { json = body ? JSON.parse(body) : {}; } catch (_) { json = { error: { message: body } }; }
  if (!response.ok) { const message = json.error?.message || json.message || body || response.statusText; const error = new Error(message); error.status = response.status; throw error; }
  return json;
}

function login(message) {
  document.getElementById("logout").hidden = true;
  view.innerHTML = `<form id="login" class="card"><h2>Sign in</h2><p class="muted">A bearer token from the server's <code>server.tokens</code>.</p>
    ${message ? `<p class="error">${esc(message)}</p>` : ""}<input id="token" type="password" autocomplete="off" placeholder="token"><button class="primary" type="submit">Open the dashboard</button></form>`;
  document.getElementById("login").onsubmit = (event) => { event.preventDefault(); sessionStorage.setItem("tributary-token", document.getElementById("token").value.trim()); start(); };
}

function appRow(app) {
  const last = app.lastSync;
  return `<tr id="app-${esc(app.app)}" data-app="${esc(app.app)}">
    <td data-label="App"><a href="#/apps/${encodeURIComponent(app.app)}">${esc(app.app)}</a></td>
    <td data-label="Project">${esc(app.project)}</td>
    <td data-label="Cluster">${esc(app.cluster || "")}</td>
    <td data-label="Sync" class="sync">${badge(app.syncStatus)}</td>
    <td data-label="Health" class="health">${app.health ? badge(app.health.status) : '<span class="muted">—</span>'}</td>
    <td data-label="Revision" class="revision">${short(app.revision)}</td>
    <td data-label="Last sync">${last ? `${badge(last.phase)} <span class="muted">${esc(ago(last.finishedAt))}</span>` : '<span class="muted">—</span>'}</td></tr>`;
}

function visible(app) {
  const f = state.filters;
  return (!f.q || app.app.includes(f.q)) && (!f.project || app.project === f.project) && (!f.sync || app.syncStatus === f.sync) && (!f.health || (app.health?.status || "") === f.health);
}

function renderApps() {
  const apps = [...state.apps.values()].sort((a, b) => a.app.localeCompare(b.app));
  const projects = [...new Set(apps.map((a) => a.project))].sort();
  const healths = [...new Set(apps.map((a) => a.health?.status).filter(Boolean))].sort();
  const f = state.filters;
  const option = (value, current) => `<option ${value === current ? "selected" : ""}>${esc(value)}</option>`;
  view.innerHTML = `<div class="card"><div class="filters">
      <input id="q" placeholder="filter apps" value="${esc(f.q)}">
      <select id="project"><option value="">all projects</option>${projects.map((p) => option(p, f.project)).join("")}</select>
      <select id="sync"><option value="">any sync status</option>${["Synced", "OutOfSync", "Unknown"].map((s) => option(s, f.sync)).join("")}</select>
      <select id="health"><option value="">any health</option>${healths.map((h) => option(h, f.health)).join("")}</select>
      <span class="muted" id="count"></span></div>
    <table><thead><tr><th>App</th><th>Project</th><th>Cluster</th><th>Sync</th><th>Health</th><th>Revision</th><th>Last sync</th></tr></thead>
    <tbody id="apps">${apps.filter(visible).map(appRow).join("")}</tbody></table></div>`;
  document.getElementById("count").textContent = `${apps.filter(visible).length} of ${apps.length} apps`;
  for (const id of ["q", "project", "sync", "health"]) {
    document.getElementById(id).oninput = (event) => { state.filters[id] = event.target.value; renderApps(); document.getElementById(id).focus(); };
  }
}

async function showApps() {
  const { apps } = await api("/api/v1/apps");
  state.apps = new Map(apps.map((a) => [a.app, a]));
  renderApps();
}

async function showApp(name) {
  const { app, history } = await api(`/api/v1/apps/${encodeURIComponent(name)}`);
  const error = app.lastError;
  const diff = app.difference;
  view.innerHTML = `<div class="card"><h2>${esc(app.app)} ${badge(app.syncStatus)} ${app.health ? badge(app.health.status) : ""}</h2>
      <p class="muted">project ${esc(app.project)} · ${esc(app.destination)} · ${esc(app.repository)} @ ${esc(app.targetRevision)} · revision ${short(app.revision)}</p>
      ${app.health?.message ? `<p class="muted">${esc(app.health.message)}</p>` : ""}
      <div class="actions"><button class="primary" id="sync">Sync</button><button id="dry-run">Diff (dry run)</button><button id="suspend">Suspend</button><button id="resume">Resume</button></div>
      <div id="result"></div>
      ${error ? `<h3>Last error</h3><p class="error">${esc(error.error ? `${error.error.file}${error.error.line ? ":" + error.error.line : ""}: ${error.error.message}` : error.message)}</p>` : ""}
      ${diff ? `<h3>What a sync would change</h3>${["create", "update", "delete"].map((k) => diff[k]?.length ? `<p><strong>${k}</strong>: ${diff[k].map((d) => `<code>${esc(d)}</code>`).join(", ")}</p>` : "").join("")}` : ""}</div>
    <div class="card"><h3>Recent syncs</h3><table><thead><tr><th>Phase</th><th>Revision</th><th>Trigger</th><th>Finished</th><th>Took</th><th>Push</th><th>Message</th></tr></thead><tbody>
      ${history.map((h) => `<tr><td data-label="Phase">${badge(h.phase)}</td><td data-label="Revision">${short(h.revision)}</td><td data-label="Trigger">${esc(h.trigger)}</td>
        <td data-label="Finished">${esc(ago(h.finishedAt))}</td><td data-label="Took">${Math.round(h.durationMilliseconds)} ms</td>
        <td data-label="Push">${h.deliveryID ? `<a href="#/pushes/${encodeURIComponent(h.deliveryID)}">${esc(h.deliveryID.slice(0, 12))}</a>` : ""}</td>
        <td data-label="Message" class="${h.phase === "failed" ? "error" : "muted"}">${esc(h.message || "")}</td></tr>`).join("")}</tbody></table></div>`;
  const act = (id, path, body) => document.getElementById(id).onclick = async () => {
    const result = document.getElementById("result");
    try { const answer = await api(`/api/v1/apps/${encodeURIComponent(name)}/${path}`, { method: "POST", body: JSON.stringify(body) });
      result.innerHTML = `<p class="notice">${esc(path)} asked for${answer.requestID ? ` (request <code>${esc(answer.requestID)}</code>)` : ""}; the result arrives below as a sync event.</p>`;
    } catch (error) { result.innerHTML = `<p class="notice error">${error.status === 403 ? "Not allowed: " : ""}${esc(error.message)}</p>`; }
  };
  act("sync", "sync", {}); act("dry-run", "sync", { dryRun: true }); act("suspend", "suspend", {}); act("resume", "resume", {});
}

async function showPush(delivery) {
  const push = await api(`/api/v1/pushes/${encodeURIComponent(delivery)}`);
  const items = [];
  if (push.receivedAt) items.push({ at: push.receivedAt, html: `webhook received from ${esc(push.provider || "")}: ${esc(push.repository || "")} ${esc(push.ref || "")} → ${short(push.after)}${push.pusher ? ` by ${esc(push.pusher)}` : ""}` });
  for (const s of push.syncs) items.push({ at: s.finishedAt, html: `${badge(s.phase)} <a href="#/apps/${encodeURIComponent(s.app)}">${esc(s.app)}</a> at ${short(s.revision)}${s.pushToAppliedMilliseconds != null ? ` — ${Math.round(s.pushToAppliedMilliseconds)} ms after the push` : ""}${s.message ? ` <span class="muted">${esc(s.message)}</span>` : ""}` });
  for (const n of push.notifications) items.push({ at: n.at || "", html: `notification ${esc(n.trigger)} to ${esc(n.sink)} for ${esc(n.app)}: ${n.outcome ? badge(n.outcome) : '<span class="muted">pending</span>'}` });
  items.sort((a, b) => (a.at || "~").localeCompare(b.at || "~"));
  view.innerHTML = `<div class="card"><h2>Push <code>${esc(delivery)}</code></h2><ul class="timeline">${items.map((i) => `<li><span class="muted mono">${esc(i.at)}</span><br>${i.html}</li>`).join("")}</ul></div>`;
}

async function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  try {
    if (hash.startsWith("/apps/")) await showApp(decodeURIComponent(hash.slice(6)));
    else if (hash.startsWith("/pushes/")) await showPush(decodeURIComponent(hash.slice(8)));
    else await showApps();
  } catch (error) { if (error.message !== "unauthorized") view.innerHTML = `<p class="card error">${esc(error.message)}</p>`; }
}

// Live updates: the server-sent events, read with fetch so the token goes in a header.
let stream = null;
async function follow() {
  if (stream) stream.abort();
  stream = new AbortController();
  const live = document.getElementById("live");
  try {
    const response = await fetch("/api/v1/events", { headers: { Authorization: `Bearer ${token()}` }, signal: stream.signal });
    if (!response.ok) return;
    live.textContent = "live";
    const reader = response.body.getReader(); const decoder = new TextDecoder(); let buffer = "";
    while (true) {
      const { value, done } = await reader.read(); if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end; while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (data) await onEvent(JSON.parse(data));
      }
    }
  } catch (_) { /* aborted or dropped */ }
  live.textContent = "reconnecting…";
  setTimeout(follow, 2000);
}

async function onEvent(event) {
  const hash = location.hash.replace(/^#/, "") || "/";
  if (hash === "/") {
    try { const { app } = await api(`/api/v1/apps/${encodeURIComponent(event.app)}`); state.apps.set(app.app, app);
      const row = document.getElementById(`app-${app.app}`);
      if (row && visible(app)) { row.outerHTML = appRow(app); document.getElementById(`app-${app.app}`).classList.add("updated"); } else if (!row) renderApps();
    } catch (_) {}
  } else if (hash === `/apps/${encodeURIComponent(event.app)}` || (hash.startsWith("/pushes/") && event.deliveryID && hash === `/pushes/${encodeURIComponent(event.deliveryID)}`)) {
    route();
  }
}

function start() {
  if (!token()) { login(); return; }
  document.getElementById("logout").hidden = false;
  document.getElementById("logout").onclick = () => { sessionStorage.removeItem("tributary-token"); if (stream) stream.abort(); login(); };
  route(); follow();
}
window.addEventListener("hashchange", route);
start();
</script>
</body>
</html>
"""#
}
