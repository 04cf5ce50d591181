// The agent desk: sign in, a live view of the queue over a WebSocket, the
// brief of the selected call, accept/decline, KB feedback and the outcome.
"use strict";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("desk-token") || "";
let current = null; // call id shown
let view = null;
let media = {}; // call id -> audio status of my calls on the line
// The agent's audio leg: one at a time, for the call it was joined to.
const audio = { pc: null, call: null, stream: null };
// How the agent's audio of a call last ended ("call ended", "caller hung
// up"): shown while the case stays open, rather than a status the server
// may still report for a moment after the leg has gone.
let ended = { call: null, why: "", final: false };
// The keys each call's caller pressed while talking, kept once the call's
// audio is gone: the agent may need them for the outcome.
const keysOf = {};
window.deskAudio = audio; // for the desk's own tests

async function api(method, path, body) {
  const r = await fetch("/desk/api" + path, {
    method, headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    if (r.status === 401) signOut(data.error || "signed out");
    throw new Error(data.error || r.statusText);
  }
  return data;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function signOut(msg) {
  token = ""; sessionStorage.removeItem("desk-token");
  $("desk").hidden = true; $("login").hidden = false; $("login-error").textContent = msg || "";
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const r = await fetch("/desk/api/login", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ agent: $("agent").value, token: $("token").value }) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) { $("login-error").textContent = data.error || r.statusText; return; }
  token = data.access_token; sessionStorage.setItem("desk-token", token);
  start(data.agent);
});

function start(agent) {
  $("login").hidden = true; $("desk").hidden = false;
  if (agent) $("who").textContent = agent.name + " (level " + agent.level + ")";
  connect();
}

// The access token goes in headers only: the WebSocket, which a browser
// opens without headers, takes a one-time ticket fetched just before.
async function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  let ticket;
  try { ticket = (await api("POST", "/live-ticket")).ticket; }
  catch (e) { $("conn").textContent = "reconnecting…"; if (token) setTimeout(connect, 1000); return; }
  const ws = new WebSocket(proto + "//" + location.host + "/desk/api/live?ticket=" + encodeURIComponent(ticket));
  ws.onopen = () => { $("conn").textContent = "live"; };
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type === "view") { media = msg.media || {}; render(msg.view); }
  };
  ws.onclose = () => { $("conn").textContent = "reconnecting…"; if (token) setTimeout(connect, 1000); };
}

function item(c) {
  const li = el("li", "", c.urgency === "emergency" ? "emergency" : "");
  li.dataset.call = c.call_id;
  li.append(el("strong", c.intent || "unclassified"), " ", el("span", c.state, "pill state"), el("br"),
    el("span", [c.group, c.language, c.line, c.urgency, c.verification].filter(Boolean).join(" · "), "muted"), el("br"),
    el("span", c.headline || ""));
  li.addEventListener("click", () => openBrief(c.call_id));
  return li;
}

function render(v) {
  view = v;
  $("who").textContent = v.agent.name + " (level " + v.agent.level + ")";
  $("mine").replaceChildren(...v.mine.map(item));
  $("waiting").replaceChildren(...v.waiting.map(item));
  if (!current && v.mine.length) openBrief(v.mine[0].call_id);
  if (current) showState();
}

function stateOf(id) {
  if (!view) return "";
  const c = view.mine.find((x) => x.call_id === id) || view.waiting.find((x) => x.call_id === id);
  return c ? c.state : "closed";
}

function showState() {
  const st = stateOf(current);
  $("call-state").textContent = st;
  $("accept-btn").hidden = st === "accepted" || st === "closed";
  $("decline-btn").hidden = st !== "offered";
  $("outcome-form").hidden = st !== "accepted";
  showAudio();
}

// showAudio shows the audio controls of the current call: join while
// the caller is on the line, hang up while joined; and notices the caller
// leaving.
function showAudio() {
  const m = current ? media[current] : null;
  if (audio.pc && !media[audio.call]) leaveAudio("caller hung up", audio.call, true);
  const mine = !!(audio.pc && audio.call === current);
  const over = !mine && ended.call === current;
  $("audio").hidden = !(m || mine || over) || stateOf(current) !== "accepted";
  $("join-btn").hidden = mine || !m;
  $("hangup-btn").hidden = !m;
  // Keys the caller pressed while talking (an order number asked for).
  if (m && m.keys) keysOf[current] = m.keys;
  $("keys").textContent = keysOf[current] || "";
  $("audio-keys").hidden = !keysOf[current];
  if (mine) return; // the peer connection's own state is shown
  if (m && m.state !== "bridged") $("audio-state").textContent = "caller " + m.state;
  else if (over && (ended.final || !m)) $("audio-state").textContent = ended.why;
  else if (m) $("audio-state").textContent = "bridged elsewhere"; // another desk of the agent's took the leg
}

// leaveAudio records how the audio of call (default: the joined one)
// ended; final when the call itself is over. It closes the agent's
// connection only if that is the call it carries.
function leaveAudio(why, call, final) {
  call = call || audio.call;
  if (call === audio.call) {
    if (audio.pc) audio.pc.close();
    if (audio.stream) audio.stream.getTracks().forEach((t) => t.stop());
    audio.pc = null; audio.call = null; audio.stream = null;
    $("remote").srcObject = null;
  }
  if (why && call) ended = { call, why, final: !!final };
  if (call === current || !call) $("audio-state").textContent = why;
}

// joinAudio sends the microphone to the call and plays the caller: a
// WebRTC offer posted to the desk (WHIP style), the answer applied.
async function joinAudio(id) {
  $("audio-error").textContent = "";
  if (audio.pc) leaveAudio("");
  try {
    audio.stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
    const iceServers = await fetch("/v1/ice-servers").then((r) => (r.ok ? r.json() : [])).catch(() => []);
    const pc = new RTCPeerConnection({ iceServers });
    audio.pc = pc; audio.call = id;
    audio.stream.getTracks().forEach((t) => pc.addTrack(t, audio.stream));
    pc.ontrack = (e) => { $("remote").srcObject = e.streams[0] || new MediaStream([e.track]); };
    pc.onconnectionstatechange = () => {
      if (audio.pc !== pc) return;
      const st = pc.connectionState;
      $("audio-state").textContent = st === "connected" ? "talking" : st;
      if (st === "failed") leaveAudio("audio lost: join again");
    };
    $("audio-state").textContent = "connecting…";
    await pc.setLocalDescription(await pc.createOffer());
    // The offer carries every candidate: wait for gathering (bounded).
    await new Promise((done) => {
      if (pc.iceGatheringState === "complete") return done();
      pc.addEventListener("icegatheringstatechange", () => { if (pc.iceGatheringState === "complete") done(); });
      setTimeout(done, 3000);
    });
    const r = await fetch("/desk/api/calls/" + encodeURIComponent(id) + "/media", {
      method: "POST", headers: { "Authorization": "Bearer " + token, "Content-Type": "application/sdp" },
      body: pc.localDescription.sdp,
    });
    const body = await r.text();
    if (r.status !== 201) {
      let msg = body; try { msg = JSON.parse(body).error || body; } catch (e) { /* plain text */ }
      throw new Error(msg || r.statusText);
    }
    await pc.setRemoteDescription({ type: "answer", sdp: body });
  } catch (e) {
    leaveAudio("not joined");
    $("audio-error").textContent = "audio: " + e.message;
  }
  showAudio();
}

$("join-btn").addEventListener("click", () => joinAudio(current));
$("hangup-btn").addEventListener("click", async () => {
  const id = current;
  try { await api("DELETE", "/calls/" + encodeURIComponent(id) + "/media"); leaveAudio("call ended", id, true); showAudio(); }
  catch (e) { $("audio-error").textContent = e.message; }
});

async function openBrief(id) {
  current = id; $("brief-error").textContent = "";
  let b;
  try { b = await api("GET", "/calls/" + encodeURIComponent(id) + "/brief"); }
  catch (e) { $("brief-error").textContent = e.message; return; }
  $("brief").hidden = false;
  const label = b.intent_name_zh ? b.intent_name_zh + " · " + (b.intent_name || "") : (b.intent_name || "");
  $("brief-title").textContent = (b.intent.intent || "unclassified") + " — " + id;
  $("brief-title").title = label;
  if (label) $("brief-title").textContent += "  (" + label + ")";
  // A caller who hung up before the handoff: the brief is what we had.
  if ((b.reason || "").startsWith("abandoned")) $("brief-title").textContent += "  [abandoned: caller hung up]";
  $("summary").textContent = b.summary.text;
  const facts = [
    ["Intent", b.intent.intent + " (" + Math.round(b.intent.confidence * 100) + "%)" +
      (b.intent.alternatives || []).slice(1, 3).map((a) => ", " + a.intent + " " + Math.round(a.confidence * 100) + "%").join("")],
    ["Urgency", b.urgency.level_name || ["normal", "elevated", "high", "emergency"][b.urgency.level] + " / " + b.urgency.emotion],
    ["Language", b.language.language + (b.language.confidence ? " (" + Math.round(b.language.confidence * 100) + "%)" : "")],
    ["Handed over", b.reason || "—"],
    ["Verification", b.verification.status + (b.verification.reason ? ": " + b.verification.reason : "")],
    ["Route", b.route.group + ", level ≥ " + b.route.min_level + (b.route.line ? ", " + b.route.line + " line" : "") + ", priority " + b.route.priority],
    ["Slots", (b.slots || []).map((s) => s.kind + " " + s.value + (s.valid ? "" : " (to confirm)")).join(", ") || "—"],
  ];
  $("facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
  const p = b.caller;
  const prof = el("div");
  prof.append(el("div", [p.identity.name, p.identity.account_id, p.identity.caller_masked].filter(Boolean).join(" · ") || "unknown caller"));
  // What the caller proved decides what is shown; say what is withheld and why.
  prof.append(el("div", "Assurance: " + (["none (number alone proves nothing)", "one factor", "two factors"][p.level || 0] || p.level) +
    (p.account_found && !p.identity.account_id ? " · an account exists" : ""), "muted"));
  if (p.withheld) prof.append(el("div", p.withheld, "muted"));
  if (p.access && p.access.withheld && p.access.withheld.account_changes && (p.level || 0) > 0)
    prof.append(el("div", "Account changes withheld: " + p.access.withheld.account_changes, "muted"));
  (p.flags || []).forEach((f) => prof.append(el("span", f, "pill")));
  (p.devices || []).forEach((d) => prof.append(el("div", "Device: " + d.model + (d.purchased ? ", bought " + d.purchased : ""))));
  (p.orders || []).forEach((o) => prof.append(el("div", "Order " + o.number + ": " + o.item + ", " + o.status)));
  (p.service || []).forEach((s) => prof.append(el("div", "Service " + s.date + ": " + s.summary)));
  $("profile").replaceChildren(prof);
  $("kb").replaceChildren(...(b.kb || []).map((k) => {
    const li = el("li");
    li.append(el("strong", k.title), " ", el("span", k.score.toFixed(2), "pill"), el("div", k.why, "muted"));
    for (const [label, helpful] of [["Helpful", true], ["Not helpful", false]]) {
      const btn = el("button", label);
      btn.addEventListener("click", async () => {
        try { await api("POST", "/calls/" + encodeURIComponent(id) + "/kb-feedback", { article_id: k.article_id, helpful }); btn.textContent = label + " ✓"; }
        catch (e) { $("brief-error").textContent = e.message; }
      });
      li.append(" ", btn);
    }
    return li;
  }));
  if (b.kb_error) $("kb").append(el("li", b.kb_error, "error"));
  const t = b.ticket;
  $("ticket").textContent = t ? t.type + " · " + t.product + " · " + Object.entries(t.fields).map(([k, v]) => k + ": " + v).join("; ") +
    (t.missing && t.missing.length ? " · to ask: " + t.missing.join(", ") : "") : "—";
  $("transcript").replaceChildren(...(b.transcript.segments || []).map((s) =>
    el("li", "[" + (s.start / 1e9).toFixed(1) + "–" + (s.end / 1e9).toFixed(1) + " s] " + s.text)));
  showState();
}

$("accept-btn").addEventListener("click", async () => {
  const id = current;
  try { await api("POST", "/calls/" + encodeURIComponent(id) + "/accept"); }
  catch (e) { $("brief-error").textContent = e.message; return; }
  // The caller is on the line: talk to them at once.
  try { const m = await api("GET", "/calls/" + encodeURIComponent(id) + "/media"); if (m.state !== "none") joinAudio(id); }
  catch (e) { $("audio-error").textContent = e.message; }
});
$("decline-btn").addEventListener("click", async () => {
  try { await api("POST", "/calls/" + encodeURIComponent(current) + "/decline"); current = null; $("brief").hidden = true; }
  catch (e) { $("brief-error").textContent = e.message; }
});
$("outcome-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    // Closing the case ends the call if the caller is still on the line.
    if (media[current]) { await api("DELETE", "/calls/" + encodeURIComponent(current) + "/media"); leaveAudio("call ended", current, true); }
    await api("POST", "/calls/" + encodeURIComponent(current) + "/outcome",
      { resolved: $("resolved").checked, resolution: $("resolution").value, draft_article: $("draft").checked });
    current = null; $("brief").hidden = true; $("outcome-form").reset();
  } catch (e) { $("brief-error").textContent = e.message; }
});

if (token) start(null);
