// Following a Kafka WS topic (CONTRACT.md 7, kafkaws/doc.go) without losing
// frames: each socket gets a fresh single-use ticket and asks for seq=true,
// so every frame carries its stream sequence; after a close the socket is
// reopened with since=<last sequence + 1>, which the server replays from,
// with no gap and no duplicate.
import { ticket, wsURL } from './api.js';

// Close codes after which opening again cannot help: a bad filter or a
// topic of another tenant.
const permanent = code => (code >= 4000 && code <= 4004) || code === 4400 || code === 4403;

// follow opens topic (e.g. "admin.device-data") with where and fields (the
// server's filter syntax) from since (an RFC 3339 time, or absent: from
// the moment follow is called) and calls onFrame(value) for each frame. onState(state, detail,
// delayMs) hears "connecting", "live", "paused", "reconnecting" (after a
// close, with why and when) and "failed" (no retry). It answers
// {pause(), resume(), close()}: pause closes the socket, resume reopens it
// where it stopped.
export function follow(topic, { where, fields, since, onFrame, onState = () => {} }) {
  // Until a frame came, a reopened socket starts where the first one did
  // (from the page's opening), so what arrived in between is not lost.
  since ??= new Date().toISOString();
  let ws = null;
  let stopped = false;
  let paused = false;
  let lastSeq = 0;
  let timer = 0;
  let attempt = 0;
  let gen = 0; // bumped by each open and shut: an older open gives up

  async function open() {
    const my = ++gen;
    timer = 0;
    onState('connecting');
    let t;
    try {
      t = await ticket();
    } catch (e) {
      if (my !== gen || stopped || paused) return;
      // Refused a ticket (the session ended, no right to Kafka WS):
      // asking again cannot help.
      if (e.status === 401 || e.status === 403) onState('failed', e.message);
      else retry(e.message);
      return;
    }
    if (my !== gen || stopped || paused) return;
    const from = lastSeq ? String(lastSeq + 1) : since;
    const s = ws = new WebSocket(wsURL(`kafka-ws/v1/topics/${encodeURIComponent(topic)}`, { ticket: t, seq: 'true', where, fields, since: from }));
    s.onopen = () => { attempt = 0; onState('live'); };
    s.onmessage = ev => {
      if (s !== ws) return;
      let f;
      try { f = JSON.parse(ev.data); } catch { return; } // not ours to judge: skip
      if (typeof f?.seq === 'number') lastSeq = f.seq;
      onFrame(f && 'value' in f ? f.value : f);
    };
    s.onclose = ev => {
      if (s !== ws || stopped || paused) return;
      ws = null;
      const why = `closed (${ev.code}${ev.reason ? ': ' + ev.reason : ''})`;
      if (permanent(ev.code)) onState('failed', why);
      else retry(why);
    };
  }

  function retry(why) {
    const delay = Math.min(15000, 500 * 2 ** attempt++);
    onState('reconnecting', why, delay);
    timer = setTimeout(open, delay);
  }

  function shut() {
    gen++;
    clearTimeout(timer);
    timer = 0;
    const s = ws;
    ws = null;
    if (s) s.close(1000);
  }

  open();
  return {
    pause() { if (stopped || paused) return; paused = true; shut(); onState('paused'); },
    resume() { if (stopped || !paused) return; paused = false; attempt = 0; open(); },
    close() { stopped = true; shut(); },
  };
}
