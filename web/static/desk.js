// The agent desk: sign in, a live view of the queue over a WebSocket, a
// brief read in five seconds, accept/decline/hang up/outcome (with keys),
// the call-back list, and for supervisors the wallboard. Every word comes
// from the catalogue (i18n.js); the caller's words are shown as spoken.
"use strict";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("desk-token") || "";
let current = null; // call id shown
let view = null;
let wall = null;
let brief = null;
let media = {}; // call id -> audio status of my calls on the line
// The agent's audio leg: one at a time, for the call it was joined to.
const audio = { pc: null, call: null, stream: null };
// How the agent's audio of a call last ended: shown while the case stays
// open, rather than a status the server may still report for a moment.
let ended = { call: null, why: "", final: false };
// The keys each call's caller pressed while talking.
const keysOf = {};
window.deskAudio = audio; // for the desk's own tests

async function api(method, path, body) {
  const r = await fetch("/desk/api" + path, {
    method, headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    if (r.status === 401) signOut(t("err.sign_in_required"));
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
  $("desk").hidden = true; $("wallboard").hidden = true; $("not-ready").hidden = true; $("shortcuts").hidden = true;
  $("login").hidden = false; $("login-error").textContent = msg || "";
}

$("lang-btn").addEventListener("click", () => { setLang(lang === "zh" ? "en" : "zh"); rerender(); });

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const r = await fetch("/desk/api/login", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ agent: $("agent").value, token: $("token").value }) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) { $("login-error").textContent = r.status === 401 ? t("err.sign_in") : (data.error || r.statusText); return; }
  token = data.access_token; sessionStorage.setItem("desk-token", token);
  start(data.agent);
});

function whoText(a) { return a ? a.name + " · " + t("level", { n: a.level }) : ""; }

function start(agent) {
  $("login").hidden = true; $("desk").hidden = false; $("shortcuts").hidden = false;
  if (agent) $("who").textContent = whoText(agent);
  connect();
}

// The access token goes in headers only: the WebSocket, which a browser
// opens without headers, takes a one-time ticket fetched just before.
async function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  let ticket;
  try { ticket = (await api("POST", "/live-ticket")).ticket; }
  catch (e) { setConn("reconnecting"); if (token) setTimeout(connect, 1000); return; }
  const ws = new WebSocket(proto + "//" + location.host + "/desk/api/live?ticket=" + encodeURIComponent(ticket));
  ws.onopen = () => setConn("live");
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    window.deskViews = (window.deskViews || 0) + 1; // for the desk's own tests
    if (msg.media) media = msg.media;
    if (msg.wallboard) { wall = msg.wallboard; renderWall(); }
    if (msg.type === "view") render(msg.view);
    else if (msg.type === "delta" && view) { if (msg.delta) applyDelta(view, msg.delta); render(view); }
  };
  ws.onclose = () => { setConn("reconnecting"); if (token) setTimeout(connect, 1000); };
}

// applyDelta puts what changed for this desk (pushed by the server as it
// happens, on whichever node) into the view: calls added, updated or moved
// between lists, removed; the greyed count and readiness.
function applyDelta(v, d) {
  for (const op of d.ops || []) {
    for (const l of ["mine", "waiting", "others", "callbacks"]) v[l] = (v[l] || []).filter((x) => x.call_id !== op.call_id);
    if (op.op !== "removed" && op.item) v[op.list].push(op.item);
  }
  // Best first, as the queue orders them: priority, then waiting time.
  const order = (a, b) => (b.priority - a.priority) || (new Date(a.waiting_since) - new Date(b.waiting_since));
  for (const l of ["waiting", "others", "callbacks"]) v[l].sort(order);
  if (d.others_total !== undefined) v.others_total = d.others_total;
  if (d.not_ready !== undefined) v.not_ready = d.not_ready;
  window.deskDeltas = (window.deskDeltas || 0) + 1; // for the desk's own tests
}

function setConn(k) { $("conn").dataset.state = k; $("conn").textContent = t(k); }

function fmtWait(since, now) {
  const s = Math.max(0, Math.round((now - new Date(since)) / 1000));
  return s < 60 ? s + "s" : Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
}

function intentLabel(c) {
  if (lang === "zh" && c.intent_name_zh) return c.intent_name_zh;
  return c.intent_name || c.intent_name_zh || "";
}

// item is one call in a list: what it is (in the agent's language), its
// honest state, how long the caller has waited, and, for a call the agent
// cannot take, why.
function item(c) {
  const st = displayState(c);
  const li = el("li", "", [c.urgency === "emergency" ? "emergency" : "", st, (c.blocked || []).length ? "blocked" : "", c.call_id === current ? "current" : ""].filter(Boolean).join(" "));
  li.dataset.call = c.call_id; li.dataset.state = st;
  const now = Date.now();
  li.append(el("strong", intentLabel(c) || t("group." + c.group)), " ", el("span", t("state." + st), "pill state " + st));
  if (st === "offered" && view && view.ring_out_s > 0 && c.since) {
    const left = Math.max(0, Math.ceil(view.ring_out_s - (now - new Date(c.since)) / 1000));
    const r = el("span", t("rings_out", { s: left }), "why ring");
    r.dataset.since = c.since;
    li.append(" ", r);
  }
  li.append(el("br"), el("span", [t("group." + c.group), c.language ? t("lang." + c.language) : "", c.urgency && c.urgency !== "normal" ? t("urgency." + c.urgency) : "",
    t("waited", { t: fmtWait(c.waiting_since, now) })].filter(Boolean).join(" · "), "muted"));
  if (c.headline) li.append(el("br"), el("span", c.headline));
  if ((c.blocked || []).length) {
    li.append(el("br"), el("span", c.blocked.map((w) => t("why." + w)).join(" · "), "why"));
    li.title = c.blocked.map((w) => t("why." + w)).join(", ");
    return li;
  }
  li.addEventListener("click", () => openBrief(c.call_id));
  return li;
}

// displayState: accepted is "talking", or "on hold" while the caller holds
// without the agent's audio.
function displayState(c) {
  if (c.state === "accepted") return media[c.call_id] && media[c.call_id].state === "holding" ? "holding" : "accepted";
  return c.state;
}

function fillList(id, items) {
  $(id).dataset.empty = t("empty");
  $(id).replaceChildren(...items.map(item));
}

function render(v) {
  view = v;
  $("who").textContent = whoText(v.agent) + (v.role === "supervisor" ? " · " + t("wallboard") : "");
  // A supervisor who staffs no group sees the wallboard only.
  $("desk").hidden = v.role === "supervisor" && !(v.agent.groups || []).length;
  fillList("mine", v.mine);
  fillList("waiting", v.waiting);
  fillList("callbacks", v.callbacks || []);
  fillList("others", v.others || []);
  if ((v.others_total || 0) > (v.others || []).length) $("others").append(el("li", t("others_more", { n: v.others_total - v.others.length }), "muted"));
  $("not-ready").hidden = !v.not_ready;
  $("not-ready-why").textContent = v.not_ready ? t("not_ready." + v.not_ready) : "";
  const offered = v.mine.find((c) => c.state === "offered");
  if (offered && current !== offered.call_id && stateOf(current) !== "accepted") openBrief(offered.call_id);
  else if (!current && v.mine.length) openBrief(v.mine[0].call_id);
  if (current) showState();
}

function rerender() {
  if (view) render(view);
  if (wall) renderWall();
  if (brief) showBrief(brief);
  if ($("conn").dataset.state) setConn($("conn").dataset.state);
}

function find(id) {
  if (!view || !id) return null;
  return view.mine.find((x) => x.call_id === id) || view.waiting.find((x) => x.call_id === id) || (view.callbacks || []).find((x) => x.call_id === id);
}

function stateOf(id) {
  const c = find(id);
  return c ? c.state : "closed";
}

function showState() {
  const c = find(current);
  const st = c ? displayState(c) : "closed";
  $("call-state").textContent = t("state." + st);
  $("call-state").className = "pill " + st;
  $("call-state").dataset.state = st;
  $("brief").dataset.state = st;
  const raw = c ? c.state : "closed";
  $("accept-btn").hidden = !(raw === "offered" || raw === "waiting") || !c || !c.eligible && raw === "waiting";
  $("decline-btn").hidden = raw !== "offered";
  $("outcome-form").hidden = !(raw === "accepted" || raw === "abandoned");
  $("abandoned-note").hidden = raw !== "abandoned";
  $("close-btn").textContent = raw === "abandoned" ? t("called_back") : t("close_case");
  $("draft-label").hidden = raw === "abandoned";
  $("ring").textContent = raw === "offered" && view.ring_out_s > 0 && c.since ?
    t("rings_out", { s: Math.max(0, Math.ceil(view.ring_out_s - (Date.now() - new Date(c.since)) / 1000)) }) : "";
  showAudio();
}

// showAudio shows the audio controls of the current call: join while
// the caller is on the line, hang up while joined; and notices the caller
// leaving.
function showAudio() {
  const m = current ? media[current] : null;
  if (audio.pc && !media[audio.call]) leaveAudio(t("caller_hung_up"), audio.call, true);
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
  if (m && m.state !== "bridged") $("audio-state").textContent = t("caller." + m.state);
  else if (over && (ended.final || !m)) $("audio-state").textContent = ended.why;
  else if (m) $("audio-state").textContent = t("bridged_elsewhere"); // another desk of the agent's took the leg
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
      $("audio-state").textContent = st === "connected" ? t("state.talking") : st;
      if (st === "failed") leaveAudio("audio lost: join again");
    };
    $("audio-state").textContent = t("connecting");
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
    leaveAudio(t("not_joined"));
    $("audio-error").textContent = "audio: " + e.message;
  }
  showAudio();
}

$("join-btn").addEventListener("click", () => joinAudio(current));
$("hangup-btn").addEventListener("click", async () => {
  const id = current;
  try { await api("DELETE", "/calls/" + encodeURIComponent(id) + "/media"); leaveAudio(t("call_ended"), id, true); showAudio(); }
  catch (e) { $("audio-error").textContent = e.message; }
});

async function openBrief(id) {
  current = id; $("brief-error").textContent = "";
  document.querySelectorAll(".calls li").forEach((li) => li.classList.toggle("current", li.dataset.call === id));
  let b;
  try { b = await api("GET", "/calls/" + encodeURIComponent(id) + "/brief"); }
  catch (e) { $("brief-error").textContent = e.message; return; }
  if (current !== id) return;
  brief = b;
  showBrief(b);
}

// relevance turns the search's scores into words: the best suggestion and
// those close to it are strong when they answer the caller's intent.
function relevance(k, i, all) {
  const top = all[0].score || 1;
  const ratio = (k.score || 0) / top;
  const answers = /answers the caller's intent/.test(k.why || "");
  if ((i === 0 || ratio >= 0.85) && answers) return "high";
  if (ratio >= 0.6 || answers) return "medium";
  return "low";
}

// matchedSentence is the snippet's sentence that shares most with what
// the caller said (Chinese character pairs, English words).
function matchedSentence(snippet, said) {
  if (!snippet) return "";
  const grams = (s) => {
    const out = new Set(); const low = s.toLowerCase();
    (low.match(/[a-z0-9]{3,}/g) || []).forEach((w) => out.add(w));
    const han = low.replace(/[^\u4e00-\u9fff]/g, "");
    for (let i = 0; i + 1 < han.length; i++) out.add(han.slice(i, i + 2));
    return out;
  };
  const want = grams(said || "");
  let best = "", score = -1;
  for (const s of snippet.split(/(?<=[。！？!?.；;])\s*/)) {
    if (!s.trim()) continue;
    let n = 0; grams(s).forEach((g) => { if (want.has(g)) n++; });
    if (n > score) { best = s.trim(); score = n; }
  }
  return best;
}

function showBrief(b) {
  const id = b.call_id;
  $("brief").hidden = false;
  $("brief").dataset.call = id;
  const it = find(id) || {};
  // Who needs what, how urgently: the intent in the agent's language.
  $("brief-title").textContent = (lang === "zh" ? b.intent_name_zh || b.intent_name : b.intent_name || b.intent_name_zh) || t("group." + b.route.group);
  const ul = ["normal", "elevated", "high", "emergency"][b.urgency.level] || "normal";
  $("urgency").textContent = t("urgency." + ul) + (b.urgency.emotion && b.urgency.emotion !== "neutral" ? " · " + t("emotion." + b.urgency.emotion) : "");
  $("urgency").className = "badge " + ul;
  const p = b.caller, idn = p.identity || {};
  const who = el("span");
  const name = [idn.name, idn.account_id].filter(Boolean).join(" · ");
  who.append(el("strong", name || t("unknown_caller")), " ", el("span", [idn.caller_masked ? t("number") + " " + idn.caller_masked : "",
    t("assurance." + (p.level || 0))].filter(Boolean).join(" · "), "muted"));
  if (p.account_found && !idn.account_id) who.append(el("div", t("account_exists"), "muted"));
  (p.flags || []).forEach((f) => who.append(" ", el("span", f, "pill")));
  const v = b.verification;
  const checked = el("span");
  checked.append(el("strong", t("ver." + v.status)));
  const passed = (v.passed || []).map((m) => t("method." + m));
  const failed = (v.failed || []).map((m) => t("method." + m));
  if (passed.length) checked.append(" · " + t("passed") + ": " + passed.join("、"));
  if (failed.length) checked.append(" · " + t("failed") + ": " + failed.join("、"));
  if (v.reason) checked.append(el("div", reasonText(v.reason), "muted"));
  const said = (b.transcript.segments || []).map((s) => s.text).join(" ");
  const needs = el("span");
  needs.append(el("span", "“" + said.slice(0, 140) + (said.length > 140 ? "…" : "") + "”"));
  const facts = [["who", who], ["needs", needs], ["checked", checked]];
  const things = [];
  (p.devices || []).forEach((d) => things.push(t("device") + ": " + d.model + (d.purchased ? " (" + d.purchased + ")" : "")));
  (p.orders || []).forEach((o) => things.push(t("order") + " " + o.number + ": " + o.item + ", " + o.status));
  (p.service || []).forEach((s) => things.push(t("service") + " " + s.date + ": " + s.summary));
  if (things.length) facts.push(["field.product", el("span", things.join(" · "))]);
  $("facts").replaceChildren(...facts.flatMap(([k, node]) => [el("dt", t(k)), Object.assign(el("dd"), {}).appendChild(node).parentNode]));
  const kbs = b.kb || [];
  $("kb").replaceChildren(...kbs.map((k, i) => {
    const li = el("li");
    const rel = relevance(k, i, kbs);
    li.append(el("span", t("rel." + rel), "pill rel-" + rel), " ", el("strong", k.title));
    const m = matchedSentence(k.snippet, said);
    if (m) li.append(el("div", m, "match"));
    for (const [label, helpful] of [["helpful", true], ["not_helpful", false]]) {
      const btn = el("button", t(label));
      btn.type = "button";
      btn.addEventListener("click", async () => {
        try { await api("POST", "/calls/" + encodeURIComponent(id) + "/kb-feedback", { article_id: k.article_id, helpful }); btn.textContent = t(label) + " ✓"; }
        catch (e) { $("brief-error").textContent = e.message; }
      });
      li.append(" ", btn);
    }
    return li;
  }));
  if (b.kb_error) $("kb").append(el("li", b.kb_status ? t("kb.status." + b.kb_status) : b.kb_error, "error"));
  // The ticket as a form the agent confirms: what was heard or found is
  // filled in, what is missing is marked to ask.
  const tk = b.ticket;
  const form = [];
  if (tk) {
    form.push(el("label", t("ticket")), el("strong", t("ticket." + tk.type)));
    form.push(el("label", t("field.product")), Object.assign(el("input"), { value: (lang === "zh" && tk.product_name_zh) || tk.product_name || tk.product, name: "product" }));
    const keys = [...new Set([...Object.keys(tk.fields || {}), ...(tk.missing || [])])];
    for (const k of keys) {
      const input = Object.assign(el("input"), { value: (tk.fields || {})[k] || "", name: k });
      if ((tk.missing || []).includes(k)) { input.className = "missing"; input.placeholder = t("to_ask"); }
      form.push(el("label", t("field." + k)), input);
    }
  }
  $("ticket").replaceChildren(...form);
  $("transcript").replaceChildren(...(b.transcript.segments || []).map((s) =>
    el("li", "[" + (s.start / 1e9).toFixed(1) + "–" + (s.end / 1e9).toFixed(1) + " s] " + s.text)));
  $("summary").textContent = b.summary.text;
  showState();
}

async function accept() {
  const id = current;
  if (!id || $("accept-btn").hidden) return;
  try { await api("POST", "/calls/" + encodeURIComponent(id) + "/accept"); }
  catch (e) { $("brief-error").textContent = e.message; return; }
  // The caller is on the line: talk to them at once.
  try { const m = await api("GET", "/calls/" + encodeURIComponent(id) + "/media"); if (m.state !== "none") joinAudio(id); }
  catch (e) { $("audio-error").textContent = e.message; }
}
async function decline() {
  if (!current || $("decline-btn").hidden) return;
  try { await api("POST", "/calls/" + encodeURIComponent(current) + "/decline"); current = null; brief = null; $("brief").hidden = true; }
  catch (e) { $("brief-error").textContent = e.message; }
}
$("accept-btn").addEventListener("click", accept);
$("decline-btn").addEventListener("click", decline);
$("ready-btn").addEventListener("click", async () => {
  try { await api("POST", "/ready"); } catch (e) { $("brief-error").textContent = e.message; }
});
$("outcome-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const id = current;
  try {
    if (stateOf(id) === "abandoned") {
      await api("POST", "/calls/" + encodeURIComponent(id) + "/called-back", { resolved: $("resolved").checked, resolution: $("resolution").value });
    } else {
      // Closing the case ends the call if the caller is still on the line.
      if (media[id]) { await api("DELETE", "/calls/" + encodeURIComponent(id) + "/media"); leaveAudio(t("call_ended"), id, true); }
      await api("POST", "/calls/" + encodeURIComponent(id) + "/outcome",
        { resolved: $("resolved").checked, resolution: $("resolution").value, draft_article: $("draft").checked });
    }
    current = null; brief = null; $("brief").hidden = true; $("outcome-form").reset();
  } catch (e) { $("brief-error").textContent = e.message; }
});

// Keyboard shortcuts, outside text fields: A accept, D decline, H hang
// up, O to the outcome.
document.addEventListener("keydown", (ev) => {
  if (!token || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const tag = (ev.target.tagName || "").toLowerCase();
  if (tag === "input" || tag === "textarea" || tag === "select") return;
  const k = ev.key.toLowerCase();
  if (k === "a") { ev.preventDefault(); accept(); }
  else if (k === "d") { ev.preventDefault(); decline(); }
  else if (k === "h" && !$("hangup-btn").hidden && !$("audio").hidden) { ev.preventDefault(); $("hangup-btn").click(); }
  else if (k === "o" && !$("outcome-form").hidden) { ev.preventDefault(); $("resolution").focus(); }
});

// renderWall draws the supervisor's wallboard: the floor's tiles, one
// line per group, the agents by state.
function renderWall() {
  const w = wall;
  if (!w) return;
  $("wallboard").hidden = false;
  const f = w.floor;
  const sl = (x) => (x.service_level < 0 ? t("wb.none") : Math.round(x.service_level) + "%");
  const secs = (s) => (s > 0 ? fmtWait(Date.now() - s * 1000, Date.now()) : t("wb.none"));
  const tile = (k, n, bad) => { const d = el("div", "", "tile" + (bad ? " bad" : "")); d.dataset.k = k; d.append(el("div", String(n), "n"), el("div", t(k), "muted")); return d; };
  const aht = (x) => (x.avg_handle_s >= 0 ? fmtWait(Date.now() - x.avg_handle_s * 1000, Date.now()) : t("wb.none"));
  const by = w.agents_by_state || {};
  $("wb-tiles").replaceChildren(tile("wb.waiting", f.waiting, f.waiting > 0 && !(by.ready > 0)), tile("wb.longest", secs(f.longest_wait_s), f.longest_wait_s > w.sl_target_s),
    tile("wb.sl", sl(f), f.service_level >= 0 && f.service_level < 80), tile("wb.abandoned", f.abandoned, f.abandoned > 0), tile("wb.callbacks", f.callbacks_open),
    tile("wb.aht", aht(f)),
    tile("agent.ready", by.ready || 0), tile("agent.talking", by.talking || 0), tile("agent.offered", by.offered || 0), tile("agent.not_ready", by.not_ready || 0, (by.not_ready || 0) > 0));
  const row = (g) => { const tr = el("tr"); tr.dataset.group = g.group || "all";
    [t("group." + (g.group || "all")), g.waiting, secs(g.longest_wait_s), sl(g), g.answered, g.abandoned, g.rang_out, g.callbacks_open, aht(g)].forEach((x) => tr.append(el("td", String(x)))); return tr; };
  $("wb-groups").tBodies[0].replaceChildren(row(Object.assign({}, f, { group: "" })), ...w.groups.filter((g) => g.waiting || g.answered || g.abandoned || g.callbacks_open || g.rang_out || g.talking || g.offered).map(row));
  renderTimeline(w.timeline || []);
  $("wb-agents").replaceChildren(...w.agents.map((a) => { const li = el("li"); li.dataset.agent = a.id;
    li.append(el("strong", a.name), " ", el("span", t("agent." + a.state) + (a.reason ? " · " + t("agent.reason." + a.reason) : ""), "agent-" + a.state)); return li; }));
}

// renderTimeline draws the hour as bars, one per slice: answered within
// the target, answered later, and abandoned (below the line), so a
// supervisor sees when the floor fell behind.
function renderTimeline(tl) {
  const svg = $("wb-timeline");
  const NS = "http://www.w3.org/2000/svg";
  const W = 360, H = 108, mid = 72, n = Math.max(1, tl.length), bw = W / n;
  const peak = Math.max(1, ...tl.map((b) => b.answered), ...tl.map((b) => b.abandoned));
  const rect = (x, y, w, h, cls) => { const r = document.createElementNS(NS, "rect");
    r.setAttribute("x", x); r.setAttribute("y", y); r.setAttribute("width", w); r.setAttribute("height", Math.max(0, h)); r.setAttribute("class", cls); return r; };
  const kids = [];
  tl.forEach((b, i) => {
    const x = i * bw + 2, w = bw - 4, inSL = (b.answered_in_sl / peak) * (mid - 4), late = ((b.answered - b.answered_in_sl) / peak) * (mid - 4);
    kids.push(rect(x, mid - inSL, w, inSL, "in-sl"), rect(x, mid - inSL - late, w, late, "late"), rect(x, mid, w, (b.abandoned / peak) * (H - mid - 4), "abandoned"));
  });
  const axis = document.createElementNS(NS, "line");
  axis.setAttribute("x1", 0); axis.setAttribute("x2", W); axis.setAttribute("y1", mid); axis.setAttribute("y2", mid); axis.setAttribute("class", "axis");
  kids.push(axis);
  const label = (x, anchor, text) => { const tx = document.createElementNS(NS, "text");
    tx.setAttribute("x", x); tx.setAttribute("y", H + 10); tx.setAttribute("text-anchor", anchor); tx.setAttribute("class", "tick"); tx.textContent = text; return tx; };
  kids.push(label(2, "start", t("wb.t_hour_ago")), label(W - 2, "end", t("wb.t_now")));
  svg.setAttribute("viewBox", "0 0 " + W + " " + (H + 12));
  svg.replaceChildren(...kids);
  svg.dataset.answered = String(tl.reduce((a, b) => a + b.answered, 0));
}

// Offers count down on screen between pushes: the text changes in place
// (a list rebuilt every second would lose the agent's pointer and focus).
setInterval(() => {
  if (!view || !(view.ring_out_s > 0)) return;
  document.querySelectorAll(".ring[data-since]").forEach((r) => {
    r.textContent = t("rings_out", { s: Math.max(0, Math.ceil(view.ring_out_s - (Date.now() - new Date(r.dataset.since)) / 1000)) });
  });
  const c = find(current);
  if (c && c.state === "offered" && c.since) $("ring").textContent = t("rings_out", { s: Math.max(0, Math.ceil(view.ring_out_s - (Date.now() - new Date(c.since)) / 1000)) });
}, 1000);

applyI18n();
if (token) start(null);
