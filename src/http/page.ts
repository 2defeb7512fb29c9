/**
 * The status page: one self-contained HTML document (inline CSS, inline JS,
 * plots drawn as inline SVG) so it works on a gateway with no internet.
 * The page itself is static; it reads /status and /history, then follows
 * /events/stream (Server-Sent Events) to update live. All data is inserted
 * with textContent / SVG attributes, never as HTML, so an operator name or a
 * peer's message cannot inject markup.
 *
 * Stable hooks for tests and scripts: #state, #cause, #ipv4, #timeline, #usage,
 * #radio, #apn, #simslot, #ntime, #noffset, #clockset, #smscmds, #smslast,
 * #muxcard (hidden while the port is plain) and #mux,
 * svg.plot[data-points] (#plot-rsrp, #plot-sinr, #plot-rtt), #live.
 */

/** Content-Security-Policy for the page: nothing external can load. */
export const PAGE_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const CSS = `
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d232b;--mute:#66707c;--line:#dde1e6;--ok:#1d8a4b;--warn:#b86e00;--bad:#c0392b;--acc:#2463c6}
@media (prefers-color-scheme:dark){:root{--bg:#14181d;--card:#1d232b;--ink:#e6e9ed;--mute:#98a2ad;--line:#323a44;--acc:#6ea1f0}}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--ink)}
header{display:flex;flex-wrap:wrap;align-items:center;gap:12px;padding:14px 20px;border-bottom:1px solid var(--line);background:var(--card)}
h1{font-size:18px;margin:0 8px 0 0}h2{font-size:13px;text-transform:uppercase;letter-spacing:.05em;color:var(--mute);margin:0 0 8px}
#state{font-weight:700;padding:3px 10px;border-radius:12px;background:var(--line)}
#state.connected{background:var(--ok);color:#fff}#state.down{background:var(--bad);color:#fff}#state.busy{background:var(--warn);color:#fff}
#live{font-size:12px;color:var(--mute)}#live.on::before{content:"● ";color:var(--ok)}#live.off::before{content:"● ";color:var(--bad)}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:14px;padding:14px 20px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;min-width:0}
section.wide{grid-column:1/-1}section[hidden]{display:none}
#causebox{padding:10px 20px;background:#fdecea;color:#7a1d14;border-bottom:1px solid var(--line)}#causebox[hidden]{display:none}
@media (prefers-color-scheme:dark){#causebox{background:#3a1e1b;color:#f3c1bb}}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0}dt{color:var(--mute)}dd{margin:0;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
ol#timeline{margin:0;padding:0;list-style:none;font-variant-numeric:tabular-nums}ol#timeline li{padding:2px 0;border-bottom:1px dotted var(--line)}
ol#timeline .off{display:inline-block;width:70px;color:var(--mute);text-align:right;margin-right:10px}
svg.plot{width:100%;height:170px;display:block}svg.plot text{fill:var(--mute);font-size:11px}
svg.plot .grid{stroke:var(--line);stroke-width:1}svg.plot .line{fill:none;stroke-width:1.6}svg.plot circle{stroke:none}
.legend{font-size:12px;color:var(--mute)}footer{padding:6px 20px 16px;color:var(--mute);font-size:12px}
`;

const JS = `
"use strict";
var DAY = 86400000, MAXPTS = 3000;
var series = { rsrp: [], sinr: [], rtt: [] };
var statusTimer = null;
function $(id){ return document.getElementById(id); }
function txt(id, v){ var el = $(id); if (el) el.textContent = (v === null || v === undefined || v === "") ? "—" : String(v); }
function fmtTime(iso){ if (!iso) return null; var d = new Date(iso); return d.toLocaleString(); }
function fmtAgo(iso){ if (!iso) return null; var s = Math.round((Date.now() - new Date(iso).getTime())/1000); if (s < 0) return "in " + dur(-s); return dur(s) + " ago"; }
function dur(s){ if (s < 90) return s + " s"; if (s < 5400) return Math.round(s/60) + " min"; if (s < 172800) return (s/3600).toFixed(1) + " h"; return (s/86400).toFixed(1) + " d"; }
function bytes(n){ if (n === null || n === undefined) return null; var u = ["B","KiB","MiB","GiB","TiB"], i = 0; while (n >= 1024 && i < 4){ n /= 1024; i++; } return (i ? n.toFixed(1) : n) + " " + u[i]; }
var BUSY = { syncing:1, sim:1, registering:1, attaching:1, dialing:1, negotiating:1, starting:1, waiting:1, recovering:1 };
function setState(state, since){
  var el = $("state"); el.textContent = state;
  el.className = state === "connected" ? "connected" : (state === "stopped" ? "down" : (BUSY[state] ? "busy" : "down"));
  el.setAttribute("data-state", state);
  if (since !== undefined) txt("since", since ? "since " + fmtTime(since) : "");
  document.title = "cellkeep: " + state;
}
function render(s){
  setState(s.state, s.since);
  var box = $("causebox");
  if (s.cause){ box.hidden = false; txt("cause", s.cause.code); txt("hint", s.cause.hint + (s.cause.detail ? " (" + s.cause.detail + ")" : "")); }
  else { box.hidden = true; txt("cause", ""); txt("hint", ""); }
  var p = s.ppp || {};
  txt("ipv4", p.ipv4 ? p.ipv4.local : null); txt("peer4", p.ipv4 ? p.ipv4.remote : null);
  txt("dns", p.ipv4 && p.ipv4.dns.length ? p.ipv4.dns.join(", ") : null);
  txt("ipv6", p.ipv6 ? p.ipv6.local : null); txt("phase", p.phase); txt("mru", p.mru);
  txt("traffic", p.bytesIn === null ? null : "in " + bytes(p.bytesIn) + " / " + p.packetsIn + " pkts, out " + bytes(p.bytesOut) + " / " + p.packetsOut + " pkts");
  var errs = p.errors ? Object.keys(p.errors).filter(function(k){ return p.errors[k] > 0; }).map(function(k){ return k + " " + p.errors[k]; }) : [];
  txt("errors", p.errors ? (errs.length ? errs.join(", ") : "none") : null);
  var l = s.link || {}; txt("iface", l.interface ? l.interface + (l.up ? " up" : " down") + (l.defaultRoute ? ", default route" : "") : null);
  var m = s.modem || {};
  txt("model", [m.manufacturer, m.model].filter(Boolean).join(" ")); txt("firmware", m.firmware); txt("imei", m.imei);
  txt("imsi", m.imsi); txt("iccid", m.iccid); txt("port", m.port); txt("profile", m.profile);
  var r = s.registration || {};
  txt("reg", r.status === null ? null : r.status + (r.stat !== null ? " (stat " + r.stat + ")" : ""));
  txt("operator", r.operator); txt("act", r.act); txt("band", r.band); txt("cell", [r.tac ? "TAC " + r.tac : null, r.cell ? "cell " + r.cell : null].filter(Boolean).join(", "));
  var g = s.signal || {};
  txt("signal", g.at ? [["RSSI", g.rssi, "dBm"], ["RSRP", g.rsrp, "dBm"], ["RSRQ", g.rsrq, "dB"], ["SINR", g.sinr, "dB"]].filter(function(x){ return x[1] !== null; }).map(function(x){ return x.join(" "); }).join(", ") : null);
  var h = s.health || {};
  txt("probe", h.at ? (h.ok ? "ok" : "FAILED") + (h.rttMs !== null ? ", " + h.rttMs + " ms" : "") + " (" + h.probe + (h.target ? " " + h.target : "") + ", " + fmtAgo(h.at) + ")" : null);
  txt("probefails", h.consecutiveFailures);
  var rc = s.recovery || {};
  txt("rung", rc.rung); txt("rfails", rc.consecutiveFailures);
  txt("next", rc.nextActionAt ? fmtTime(rc.nextActionAt) + " (" + fmtAgo(rc.nextActionAt) + ")" : null); txt("waiting", rc.waitingReason);
  txt("uptime", dur(s.uptime)); txt("version", s.version);
  renderUsage(s.usage);
  renderMux(s.mux); renderRadio(s.radio, s.failover); renderTime(s.time); renderSms(s.sms);
  renderTimeline(s.timeline || {});
}
// As maskId (src/core/mask.ts): first 5 and last 2 kept. /status already masks; this keeps the page safe against an agent that did not.
function mask(v){ if (v === null || v === undefined) return null; v = String(v); if (v.length <= 8) return new Array(v.length + 1).join("*"); return v.slice(0, 5) + new Array(v.length - 6).join("*") + v.slice(-2); }
function msText(n){ var a = Math.abs(n); return a < 1000 ? a + " ms" : (a < 90000 ? (a/1000).toFixed(1) + " s" : dur(Math.round(a/1000))); }
function renderMux(x){
  // The card shows only while the port is multiplexed (modem.mux); "off" is a plain port.
  var on = !!x && x.state !== "off";
  $("muxcard").hidden = !on;
  if (!on){ ["mux","muxdlcis","muxframes","muxfault","muxrec"].forEach(function(id){ txt(id, null); }); return; }
  txt("mux", "CMUX " + x.state + (x.frameSize !== null ? ", N1 " + x.frameSize : "") + (x.since ? " since " + fmtTime(x.since) : ""));
  txt("muxdlcis", x.dlcis.map(function(d){ return "DLCI " + d.dlci + " " + d.use + " " + d.state + (d.dcd === null ? "" : (d.dcd ? " DCD on" : " DCD off")); }).join(", "));
  var c = x.counts;
  var bad = c ? [["bad FCS", c.badFcs], ["malformed", c.malformed], ["oversize", c.oversize], ["garbage B", c.garbageBytes], ["retransmissions", c.retransmissions]].filter(function(b){ return b[1] > 0; }).map(function(b){ return b[0] + " " + b[1]; }) : [];
  txt("muxframes", c ? "in " + c.framesIn + ", out " + c.framesOut + "; " + (bad.length ? bad.join(", ") : "no errors") : null);
  txt("muxfault", x.lastFault ? x.lastFault.code + ": " + x.lastFault.hint + (x.lastFault.detail ? " (" + x.lastFault.detail + ")" : "") : "none");
  txt("muxrec", x.recovered);
}
function renderRadio(r, f){
  if (!r){ ["radio","rsettings","rnotes","roaming","rwrites"].forEach(function(id){ txt(id, null); }); }
  else {
    txt("radio", r.policy === null ? null : (r.policy === "applied" ? "applied" : "REFUSED") + (r.at ? " (" + fmtAgo(r.at) + ")" : ""));
    txt("rsettings", r.settings.map(function(x){ return x.name + " " + x.result + (x.result === "written" && x.found !== null ? " (was " + x.found + ")" : "") + (x.detail ? ": " + x.detail : ""); }).join(", "));
    txt("rnotes", r.notes.join("; "));
    txt("roaming", r.roamingDenied ? "DENIED: waiting for the home network, no dialling" : "no");
    txt("rwrites", r.writes);
  }
  if (!f){ ["apn","simslot"].forEach(function(id){ txt(id, null); }); return; }
  txt("apn", f.apn === null ? null : f.apn + (f.apnCount !== null && f.apnCount > 1 && f.apnIndex !== null ? " (" + (f.apnIndex + 1) + " of " + f.apnCount + ")" : "") + (f.apnFailovers ? ", failovers " + f.apnFailovers : ""));
  txt("simslot", f.simSlot !== null ? "slot " + f.simSlot + ", switches " + f.simSwitches + (f.lastSimSwitchAt ? ", last " + fmtAgo(f.lastSimSwitchAt) : "")
    : (f.dualSim === false ? "one slot (no SIM failover)" : (f.dualSim ? "two slots, no switch yet" : null)));
}
function renderTime(t){
  if (!t){ ["ntime","noffset","clockstep","clockset"].forEach(function(id){ txt(id, null); }); return; }
  txt("ntime", t.network ? fmtTime(t.network) + " (" + [t.source, t.readAt ? "read " + fmtAgo(t.readAt) : null].filter(Boolean).join(", ") + ")" : null);
  txt("noffset", t.offsetMs === null ? null : (t.offsetMs === 0 ? "in step with the network" : "system clock " + msText(t.offsetMs) + (t.offsetMs > 0 ? " ahead" : " behind")));
  txt("clockstep", t.clockStepMs ? (t.clockStepMs > 0 ? "+" : "-") + msText(t.clockStepMs) + " since start (waits ignore it)" : "none");
  txt("clockset", t.systemClockResult === "set" ? "set by cellkeep " + fmtAgo(t.systemClockSetAt)
    : (t.systemClockResult === "failed" ? "FAILED" + (t.systemClockCause ? ": " + t.systemClockCause.code + " (" + t.systemClockCause.hint + ")" : "") : "not set by cellkeep"));
}
function renderSms(m){
  if (!m){ ["smscmds","smsrej","smsreplies","smslast"].forEach(function(id){ txt(id, null); }); return; }
  txt("smscmds", m.commands);
  var by = Object.keys(m.rejectedBy).sort().map(function(k){ return k + " " + m.rejectedBy[k]; });
  txt("smsrej", m.rejected + (by.length ? " (" + by.join(", ") + ")" : ""));
  txt("smsreplies", m.replies + " sent" + (m.replyFailures ? ", " + m.replyFailures + " failed" : ""));
  var l = m.last;
  txt("smslast", l ? l.command + (l.force ? " (forced)" : "") + " from " + mask(l.from) + ": " + l.outcome + (l.message ? " — " + l.message : "") + (l.at ? " (" + fmtAgo(l.at) + ")" : "") : null);
}
// Number(...) drops trailing zeros as formatByteSize does (a regex here would need its backslash doubled in this template).
function dec(n){ if (n === null || n === undefined) return null; var u = [[1e12,"TB"],[1e9,"GB"],[1e6,"MB"],[1e3,"kB"]]; for (var i = 0; i < u.length; i++) if (n >= u[i][0]) return Number((n/u[i][0]).toFixed(2)) + " " + u[i][1]; return n + " B"; }
function renderUsage(u){
  if (!u){ ["usage","usim","ucycle","ucaps","uheld","uprev","uprobes"].forEach(function(id){ txt(id, null); }); return; }
  var c = u.cycle, caps = u.caps;
  var capped = caps.stop !== null ? " of " + dec(caps.stop) + " (" + Math.min(100, Math.round(u.bytesTotal * 100 / caps.stop)) + " %)" : "";
  txt("usage", dec(u.bytesTotal) + capped + " — in " + dec(c.bytesIn) + ", out " + dec(c.bytesOut));
  $("usage").setAttribute("data-bytes", String(u.bytesTotal));
  txt("usim", u.sim);
  txt("ucycle", fmtTime(c.start) + " – " + fmtTime(c.end) + " (day " + c.day + ", " + c.timezone + ")");
  txt("ucaps", ["warn", "quiet", "stop"].filter(function(a){ return caps[a] !== null; }).map(function(a){ return a + " " + dec(caps[a]) + (u.reached.indexOf(a) >= 0 ? (u.lifted.indexOf(a) >= 0 ? " (reached, resumed)" : " (REACHED)") : ""); }).join(", ") || "none");
  txt("uheld", u.heldUntil ? "link held down until " + fmtTime(u.heldUntil) : (u.enforcing.quiet ? "active probes off (quiet cap)" : "no"));
  txt("uprev", u.previousCycle ? dec(u.previousCycle.bytesIn + u.previousCycle.bytesOut) + " (" + fmtTime(u.previousCycle.start) + " – " + fmtTime(u.previousCycle.end) + ")" : null);
  var p = u.probes;
  txt("uprobes", dec(p.bytesLast24h) + " in 24 h" + (p.bytesPerDayEstimate !== null ? ", " + dec(p.bytesPerDayEstimate) + "/day if every round probes" : "") + "; rounds " + p.roundsActive + " probed, " + p.roundsSkipped + " skipped" + (p.quiet ? " (quiet: " + p.quiet + ")" : "") + (p.bytesComplete ? "" : "; HTTP probe bytes not counted"));
}
function renderTimeline(t){
  var a = t.lastConnection || t.current, ol = $("timeline");
  while (ol.firstChild) ol.removeChild(ol.firstChild);
  if (!a){ txt("tlhead", "no bring-up seen yet"); return; }
  var label = a === t.lastConnection ? "last connection, started " : "current attempt (" + a.outcome + "), started ";
  txt("tlhead", label + fmtTime(new Date(a.startedAt).toISOString()) + (a.connectedAt ? ", connected after " + ((a.connectedAt - a.startedAt)/1000).toFixed(1) + " s" : ""));
  a.steps.forEach(function(st){
    var li = document.createElement("li"), off = document.createElement("span");
    off.className = "off"; off.textContent = "+" + (st.offsetMs/1000).toFixed(2) + " s";
    li.appendChild(off); li.appendChild(document.createTextNode(st.text)); ol.appendChild(li);
  });
  if (t.current && t.lastConnection && t.current !== t.lastConnection && t.current.startedAt > t.lastConnection.startedAt){
    var li2 = document.createElement("li"); li2.textContent = "later attempt: " + t.current.outcome + (t.current.cause ? " (" + t.current.cause.code + ")" : ""); ol.appendChild(li2);
  }
}
var SVGNS = "http://www.w3.org/2000/svg";
function el(name, attrs, parent){ var e = document.createElementNS(SVGNS, name); for (var k in attrs) e.setAttribute(k, attrs[k]); if (parent) parent.appendChild(e); return e; }
function plot(id, pts, color, unit, floor){
  var svg = $(id), W = Math.max(300, Math.round(svg.clientWidth || 600)), H = 170, L = 46, R = 10, T = 20, B = 22;
  // viewBox in CSS pixels so text keeps its shape at any width
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  var now = Date.now();
  pts = pts.filter(function(p){ return p.v !== null && p.t >= now - DAY; });
  svg.setAttribute("data-points", String(pts.length));
  if (!pts.length){ el("text", { x: W/2, y: H/2, "text-anchor": "middle" }, svg).textContent = "no data yet"; return; }
  var t0 = Math.max(now - DAY, Math.min(pts[0].t, now - 300000)), t1 = now;
  var lo = Infinity, hi = -Infinity; pts.forEach(function(p){ if (p.v < lo) lo = p.v; if (p.v > hi) hi = p.v; });
  if (hi - lo < 1){ hi += 1; lo -= 1; } var pad = (hi - lo) * 0.1; lo -= pad; hi += pad;
  if (floor !== undefined && lo < floor) lo = floor; // an RTT axis never goes below 0 ms
  function X(t){ return L + (t - t0) / (t1 - t0) * (W - L - R); }
  function Y(v){ return T + (hi - v) / (hi - lo) * (H - T - B); }
  for (var i = 0; i <= 4; i++){
    var v = lo + (hi - lo) * i / 4, y = Y(v);
    el("line", { x1: L, x2: W - R, y1: y, y2: y, "class": "grid" }, svg);
    el("text", { x: L - 4, y: y + 4, "text-anchor": "end" }, svg).textContent = (Math.abs(hi - lo) < 20 ? v.toFixed(1) : Math.round(v)) + "";
  }
  [0, 0.5, 1].forEach(function(f){
    var t = t0 + (t1 - t0) * f; el("text", { x: X(t), y: H - 6, "text-anchor": f === 0 ? "start" : (f === 1 ? "end" : "middle") }, svg).textContent = f === 1 ? "now" : "-" + dur(Math.round((now - t)/1000));
  });
  el("text", { x: L, y: 12, "text-anchor": "start" }, svg).textContent = unit;
  el("polyline", { "class": "line", stroke: color, points: pts.map(function(p){ return X(p.t).toFixed(1) + "," + Y(p.v).toFixed(1); }).join(" ") }, svg);
  var step = Math.max(1, Math.ceil(pts.length / 200));
  for (var j = pts.length - 1; j >= 0; j -= step) el("circle", { cx: X(pts[j].t).toFixed(1), cy: Y(pts[j].v).toFixed(1), r: 2.2, fill: color }, svg);
}
function redraw(){ plot("plot-rsrp", series.rsrp, "#2463c6", "RSRP dBm"); plot("plot-sinr", series.sinr, "#8e44ad", "SINR dB"); plot("plot-rtt", series.rtt, "#1d8a4b", "probe RTT ms", 0); }
function push(name, t, v){ if (v === null || v === undefined) return; var a = series[name]; a.push({ t: t, v: v }); if (a.length > MAXPTS) a.splice(0, a.length - MAXPTS); }
function loadStatus(){ return fetch("status", { cache: "no-store" }).then(function(r){ return r.json(); }).then(render).catch(function(){}); }
function loadHistory(){
  return fetch("history", { cache: "no-store" }).then(function(r){ return r.json(); }).then(function(h){
    series.rsrp = h.signal.map(function(b){ return { t: b.at, v: b.avg.rsrp }; });
    series.sinr = h.signal.map(function(b){ return { t: b.at, v: b.avg.sinr }; });
    series.rtt = h.probe.map(function(b){ return { t: b.at, v: b.avg.rttMs }; });
    redraw();
  }).catch(function(){});
}
function soon(){ if (statusTimer) return; statusTimer = setTimeout(function(){ statusTimer = null; loadStatus(); }, 250); }
function live(){
  if (!window.EventSource) return;
  var es = new EventSource("events/stream"), lv = $("live");
  es.onopen = function(){ lv.className = "on"; lv.textContent = "live"; };
  es.onerror = function(){ lv.className = "off"; lv.textContent = "reconnecting"; };
  es.onmessage = function(m){
    var e; try { e = JSON.parse(m.data); } catch (x) { return; }
    if (e.type === "modem.signal"){ push("rsrp", e.at, e.rsrp); push("sinr", e.at, e.sinr); redraw(); soon(); }
    else if (e.type === "health.probe"){ if (e.ok) push("rtt", e.at, e.rttMs); redraw(); soon(); }
    else { if (e.type === "modem.state") setState(e.state, new Date(e.at).toISOString()); soon(); }
  };
}
loadStatus(); loadHistory(); live();
setInterval(loadStatus, 15000); setInterval(redraw, 60000);
var resizeTimer = null; window.addEventListener("resize", function(){ clearTimeout(resizeTimer); resizeTimer = setTimeout(redraw, 150); });
`;

const BODY = `
<header><h1>cellkeep</h1><span id="state">…</span><span id="since"></span><span style="flex:1"></span><span id="live" class="off">connecting</span></header>
<div id="causebox" hidden><b id="cause"></b>: <span id="hint"></span></div>
<main>
<section><h2>Link</h2><dl>
<dt>IPv4</dt><dd id="ipv4">—</dd><dt>Peer</dt><dd id="peer4">—</dd><dt>DNS</dt><dd id="dns">—</dd><dt>IPv6</dt><dd id="ipv6">—</dd>
<dt>PPP phase</dt><dd id="phase">—</dd><dt>MRU</dt><dd id="mru">—</dd><dt>Interface</dt><dd id="iface">—</dd>
<dt>Traffic</dt><dd id="traffic">—</dd><dt>Errors</dt><dd id="errors">—</dd></dl></section>
<section><h2>Modem and SIM</h2><dl>
<dt>Model</dt><dd id="model">—</dd><dt>Firmware</dt><dd id="firmware">—</dd><dt>IMEI</dt><dd id="imei">—</dd>
<dt>IMSI</dt><dd id="imsi">—</dd><dt>ICCID</dt><dd id="iccid">—</dd><dt>Port</dt><dd id="port">—</dd><dt>Profile</dt><dd id="profile">—</dd></dl></section>
<section><h2>Network</h2><dl>
<dt>Registration</dt><dd id="reg">—</dd><dt>Operator</dt><dd id="operator">—</dd><dt>Technology</dt><dd id="act">—</dd>
<dt>Band</dt><dd id="band">—</dd><dt>Cell</dt><dd id="cell">—</dd><dt>Signal</dt><dd id="signal">—</dd></dl></section>
<section><h2>Health and recovery</h2><dl>
<dt>Last probe</dt><dd id="probe">—</dd><dt>Probe failures</dt><dd id="probefails">—</dd><dt>Ladder rung</dt><dd id="rung">—</dd>
<dt>Failures</dt><dd id="rfails">—</dd><dt>Next action</dt><dd id="next">—</dd><dt>Waiting</dt><dd id="waiting">—</dd></dl></section>
<section><h2>Data usage (this SIM, this cycle)</h2><dl>
<dt>Used</dt><dd id="usage">—</dd><dt>SIM</dt><dd id="usim">—</dd><dt>Cycle</dt><dd id="ucycle">—</dd><dt>Caps</dt><dd id="ucaps">—</dd>
<dt>Held</dt><dd id="uheld">—</dd><dt>Last cycle</dt><dd id="uprev">—</dd><dt>Probe traffic</dt><dd id="uprobes">—</dd></dl></section>
<section><h2>Radio policy and failover</h2><dl>
<dt>Policy</dt><dd id="radio">—</dd><dt>Settings</dt><dd id="rsettings">—</dd><dt>Notes</dt><dd id="rnotes">—</dd>
<dt>Roaming hold</dt><dd id="roaming">—</dd><dt>NVRAM writes</dt><dd id="rwrites">—</dd><dt>APN</dt><dd id="apn">—</dd><dt>SIM slot</dt><dd id="simslot">—</dd></dl></section>
<section><h2>Network time</h2><dl>
<dt>Network</dt><dd id="ntime">—</dd><dt>Offset</dt><dd id="noffset">—</dd><dt>Clock steps</dt><dd id="clockstep">—</dd><dt>System clock</dt><dd id="clockset">—</dd></dl></section>
<section><h2>SMS control</h2><dl>
<dt>Commands</dt><dd id="smscmds">—</dd><dt>Rejected</dt><dd id="smsrej">—</dd><dt>Replies</dt><dd id="smsreplies">—</dd><dt>Last</dt><dd id="smslast">—</dd></dl></section>
<section id="muxcard" hidden><h2>Multiplexer (CMUX)</h2><dl>
<dt>Session</dt><dd id="mux">—</dd><dt>DLCIs</dt><dd id="muxdlcis">—</dd><dt>Frames</dt><dd id="muxframes">—</dd>
<dt>Last fault</dt><dd id="muxfault">—</dd><dt>Recovered</dt><dd id="muxrec">—</dd></dl></section>
<section class="wide"><h2>Signal, last 24 h</h2>
<svg id="plot-rsrp" class="plot" viewBox="0 0 600 170" role="img" aria-label="RSRP"></svg>
<svg id="plot-sinr" class="plot" viewBox="0 0 600 170" role="img" aria-label="SINR"></svg></section>
<section class="wide"><h2>Probe round-trip time, last 24 h</h2>
<svg id="plot-rtt" class="plot" viewBox="0 0 600 170" role="img" aria-label="probe RTT"></svg></section>
<section class="wide"><h2>Bring-up timeline</h2><div id="tlhead" class="legend"></div><ol id="timeline"></ol></section>
</main>
<footer>cellkeep <span id="version"></span> · up <span id="uptime"></span> · <a href="status">status JSON</a> · <a href="metrics">metrics</a> · <a href="events">events</a></footer>
`;

let cached: string | null = null;

/** The page (static: it loads its data from the JSON endpoints). */
export function statusPageHtml(): string {
  cached ??= `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>cellkeep</title><style>${CSS}</style></head>
<body>${BODY}<script>${JS}</script></body></html>
`;
  return cached;
}
