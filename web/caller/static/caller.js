// The caller page: one WebRTC call to the WHIP endpoint, captions over
// server-sent events, keys as RFC 4733 events through RTCDTMFSender.
'use strict';
(() => {
  const cfg = document.body.dataset;
  const $ = (id) => document.getElementById(id);
  const state = { pc: null, sender: null, location: null, events: null, stream: null };
  window.callbrief = state; // for tests and debugging

  const status = (s) => { $('status').textContent = s; };

  async function call() {
    $('call').disabled = true;
    try {
      status('connecting');
      state.stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
      const iceServers = await fetch('/v1/ice-servers').then((r) => (r.ok ? r.json() : [])).catch(() => []);
      const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceServers });
      state.pc = pc;
      const track = state.stream.getAudioTracks()[0];
      const tr = pc.addTransceiver(track, { direction: 'sendrecv', streams: [state.stream] });
      state.sender = tr.sender;
      pc.ontrack = (e) => { $('remote').srcObject = e.streams[0] || new MediaStream([e.track]); };
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === 'connected') status('connected');
        if (pc.connectionState === 'failed' || pc.connectionState === 'closed') end('ended');
      };
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      const resp = await fetch(cfg.whip, {
        method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp,
      });
      if (resp.status !== 201) throw new Error(`${resp.status}: ${await resp.text()}`);
      state.location = resp.headers.get('Location');
      await pc.setRemoteDescription({ type: 'answer', sdp: await resp.text() });
      captions(state.location.split('/').pop());
      $('hangup').disabled = false;
    } catch (err) {
      status('call failed: ' + err.message);
      cleanup();
      $('call').disabled = false;
    }
  }

  // WHIP sends one offer with every candidate; wait for gathering (at
  // most 2 s, after which the host candidates found so far are enough).
  function gathered(pc) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, 2000);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
      });
    });
  }

  function captions(id) {
    const es = new EventSource(cfg.captions + encodeURIComponent(id));
    state.events = es;
    es.onmessage = (e) => {
      const c = JSON.parse(e.data);
      if (c.queue) { showQueue(c.queue); return; }
      if (c.final) {
        const li = document.createElement('li');
        li.textContent = c.text;
        $('captions').appendChild(li);
        $('partial').textContent = '';
      } else {
        $('partial').textContent = c.text;
      }
    };
    es.addEventListener('end', () => es.close());
  }

  // Where the caller stands on hold, pushed by the server as the queue
  // moves, in the caller's language (the one they spoke).
  const holdText = {
    zh: { waiting: (n) => (n === 1 ? '正在等候：您是下一位' : `正在等候：您在队列中排第 ${n} 位`), agent: () => '正在为您接通客服人员', gone: () => '' },
    yue: { waiting: (n) => (n === 1 ? '等緊：下一位就到你' : `等緊：你喺隊入面排第 ${n} 位`), agent: () => '而家幫你駁去客服人員', gone: () => '' },
    en: { waiting: (n) => (n === 1 ? 'On hold: you are next' : `On hold: you are number ${n} in the queue`), agent: () => 'Connecting you to an agent', gone: () => '' },
  };
  function showQueue(q) {
    const lang = holdText[q.lang] ? q.lang : 'zh';
    const text = (holdText[lang][q.state] || (() => ''))(q.position);
    const el = $('queue');
    el.lang = lang === 'yue' ? 'zh-HK' : lang === 'zh' ? 'zh-CN' : 'en';
    el.dataset.state = q.state;
    el.dataset.position = q.position || '';
    el.textContent = text;
    el.hidden = !text;
  }

  function press(key) {
    if (!state.sender || !state.sender.dtmf) return;
    // 100 ms tones, 70 ms gaps: the RFC 4733 defaults telephone systems expect.
    state.sender.dtmf.insertDTMF(key, 100, 70);
    status('sent ' + key);
  }

  // DELETE before closing the connection, so the server records a
  // hang-up rather than a lost peer.
  async function hangup() {
    const loc = state.location;
    $('hangup').disabled = true;
    if (loc) {
      try { await fetch(loc, { method: 'DELETE' }); } catch (_) { /* the server ends it when ICE fails anyway */ }
    }
    end('ended');
  }

  function cleanup() {
    if (state.events) state.events.close();
    if (state.pc) state.pc.close();
    if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
    state.pc = state.sender = state.events = state.stream = null;
    state.location = null;
  }

  function end(s) {
    cleanup();
    $('queue').hidden = true;
    status(s);
    $('call').disabled = false;
    $('hangup').disabled = true;
  }

  $('call').addEventListener('click', call);
  $('hangup').addEventListener('click', hangup);
  $('keypad').addEventListener('click', (e) => {
    const k = e.target.dataset && e.target.dataset.key;
    if (k) press(k);
  });
})();
