// Notifications: live from Kafka WS on <tenant>.dojot.notifications (a
// ticket per socket; seq=true so that a reconnect resumes after the last
// one received, since=<seq+1>, with no gap and no duplicate), newest
// first and bounded; and the persisted ones from dojot's History (GET
// history/notifications/history) with its filters.
import { call, get, ticket, wsURL, session } from '../api.js';
import { h, replace, field, guard, showError, time, download } from '../ui.js';

const keep = 100; // live notifications kept on the page

export default async function (main) {
  const topic = `${session.tenant}.dojot.notifications`;
  const state = h('span', { class: 'tag', dataset: { state: 'connecting' } }, 'connecting');
  const count = h('span', { class: 'muted' });
  const list = h('ol', { class: 'notes', role: 'log', 'aria-label': 'Live notifications' });
  const empty = h('p', { class: 'muted' }, 'None since the page opened. A flow\'s notification node sends them.');
  let received = 0;

  main.append(h('h1', {}, 'Notifications'),
    h('section', { class: 'panel', 'aria-labelledby': 'live-title' },
      h('div', { class: 'toolbar' }, h('h2', { id: 'live-title' }, 'Live'), state, count,
        h('button', { type: 'button', onclick: () => { list.replaceChildren(); received = 0; count.textContent = ''; } }, 'Clear')),
      empty, list),
    historySection());

  const stop = feed(topic, n => {
    empty.hidden = true;
    list.prepend(note(n, n.timestamp));
    while (list.children.length > keep) list.lastElementChild.remove();
    received++;
    count.textContent = `${received} received${received > keep ? `, the last ${keep} shown` : ''}`;
  }, (s, why) => {
    state.dataset.state = s;
    state.textContent = s;
    state.title = why || '';
  });
  return stop;
}

// note shows one notification: time, subject, message and its metadata.
function note(n, at) {
  const meta = n.metaAttrsFilter && typeof n.metaAttrsFilter === 'object' ? Object.entries(n.metaAttrsFilter) : [];
  return h('li', { class: 'note' },
    h('div', {}, h('time', { datetime: iso(at) }, time(at)), ' ', h('span', { class: 'tag' }, n.subject || 'no subject')),
    h('div', { class: 'note-msg' }, n.message ?? JSON.stringify(n)),
    meta.length ? h('div', { class: 'muted' }, meta.map(([k, v]) => h('span', { class: 'tag' }, `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`))) : null);
}

// iso is a date's ISO text, or null.
function iso(v) {
  const d = new Date(v);
  return isNaN(d) ? null : d.toISOString();
}

// feed keeps a Kafka WS socket open on topic, calling onMessage with each
// message and onState with "live", "reconnecting" or "closed" (and why).
// A dropped socket is opened again after a growing pause, resuming after
// the last sequence received (or from the time the page opened, when none
// came yet); a refusal that cannot get better (another tenant's topic, a
// bad filter) is not retried. It answers the function that stops it.
function feed(topic, onMessage, onState) {
  const opened = new Date().toISOString();
  let ws = null, last = 0, tries = 0, timer = 0, stopped = false;

  function retry(why) {
    if (stopped) return;
    const wait = Math.min(15000, 1000 * 2 ** tries++);
    onState('reconnecting', `${why}; again in ${Math.round(wait / 1000)} s`);
    timer = setTimeout(open, wait);
  }

  async function open() {
    let t;
    try {
      t = await ticket();
    } catch (e) {
      if (e.status === 401 || e.status === 403) { onState('closed', e.message); showError(e); return; }
      retry(e.message);
      return;
    }
    if (stopped) return;
    const since = last ? String(last + 1) : tries ? opened : undefined;
    ws = new WebSocket(wsURL(`kafka-ws/v1/topics/${encodeURIComponent(topic)}`, { ticket: t, seq: 'true', since }));
    ws.onopen = () => { tries = 0; onState('live'); };
    ws.onmessage = e => {
      let f;
      try { f = JSON.parse(e.data); } catch { console.warn('not JSON:', e.data); return; }
      if (typeof f.seq === 'number') last = f.seq;
      let v = f.value;
      if (typeof v === 'string') { try { v = JSON.parse(v); } catch { v = { message: v }; } }
      onMessage(v);
    };
    ws.onclose = e => {
      ws = null;
      if (stopped) return;
      // 4403: another tenant's topic; 4000-4004, 4400: a bad request.
      if (e.code === 4403 || e.code === 4400 || (e.code >= 4000 && e.code <= 4004)) {
        onState('closed', e.reason);
        showError(`The live notifications were refused (${e.code}${e.reason ? `: ${e.reason}` : ''}).`);
        return;
      }
      retry(`closed (${e.code}${e.reason ? `: ${e.reason}` : ''})`);
    };
  }

  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (ws) ws.close(1000);
  };
}

// historySection: the persisted notifications, newest first, with
// History's filters: subject, dateFrom, dateTo, limit and metadata members.
function historySection() {
  const subject = h('input', { autocomplete: 'off', placeholder: 'user_notification' });
  const from = h('input', { type: 'datetime-local', step: 1 });
  const to = h('input', { type: 'datetime-local', step: 1 });
  const limit = h('input', { type: 'number', min: 1, value: '20' });
  const meta = h('input', { autocomplete: 'off', placeholder: 'priority=high level=3' });
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', {
    'aria-label': 'Search the notifications history', novalidate: true,
    onsubmit: e => { e.preventDefault(); guard(() => search(false)); },
  },
  h('div', { class: 'toolbar' },
    field('Subject', 'subject', subject), field('From', 'dateFrom', from), field('To', 'dateTo', to),
    field('At most', 'limit', limit),
    field('Metadata', 'meta', meta),
    h('button', { class: 'primary', type: 'submit' }, 'Search'),
    h('button', { type: 'button', onclick: () => guard(() => search(true)) }, 'Download CSV')),
  h('p', { class: 'muted' }, 'Metadata: name=value pairs, space separated; a number matches a number, a value in quotes ("3") the text.'));

  // query makes History's parameters; it answers null, the problem shown
  // by its field, when the form cannot make one.
  function query() {
    const q = {};
    if (subject.value.trim()) q.subject = quote(subject.value.trim());
    if (from.value) q.dateFrom = new Date(from.value).toISOString();
    if (to.value) q.dateTo = new Date(to.value).toISOString();
    if (limit.value) q.limit = limit.value;
    for (const part of meta.value.split(/[\s,]+/).filter(Boolean)) {
      const i = part.indexOf('=');
      const k = part.slice(0, i);
      if (i < 1 || k in q || ['subject', 'dateFrom', 'dateTo', 'limit'].includes(k)) {
        fieldError('meta', `"${part}" is not name=value with a name of its own`);
        return null;
      }
      const v = part.slice(i + 1);
      q[k] = /^-?\d+$/.test(v) ? v : quote(v);
    }
    return q;
  }

  function fieldError(name, msg) {
    const box = form.querySelector(`[data-field="${name}"]`);
    box.querySelector('.field-error').textContent = msg;
    const input = box.querySelector('input');
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }

  async function search(csv) {
    for (const e of form.querySelectorAll('.field-error')) e.textContent = '';
    for (const e of form.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
    const q = query();
    if (!q) return;
    try {
      if (csv) {
        const res = await call('GET', 'history/notifications/history', null, { query: q, raw: true, headers: { Accept: 'text/csv' } });
        download('notifications.csv', await res.text(), 'text/csv');
        return;
      }
      const found = (await get('history/notifications/history', q)).notifications || [];
      replace(out, found.length
        ? h('ol', { class: 'notes', 'aria-label': 'Notifications found' }, found.map(n => note(n, n.ts)))
        : h('p', { class: 'muted' }, 'No notification matches.'),
      h('p', { class: 'muted' }, `${found.length} shown, newest first.`));
    } catch (err) {
      // History names the parameter it refused: shown by its field.
      const m = err.status === 400 && /The "([^"]+)" parameter/.exec(err.body?.description || '');
      if (!m) throw err;
      fieldError(['subject', 'dateFrom', 'dateTo', 'limit'].includes(m[1]) ? m[1] : 'meta', err.body.description);
    }
  }

  guard(() => search(false));
  return h('section', { class: 'panel', 'aria-labelledby': 'history-title' },
    h('h2', { id: 'history-title' }, 'History'),
    h('p', { class: 'muted' }, 'The notifications kept (those whose metadata does not say shouldPersist: false).'),
    form, out);
}

// quote makes a History string value: in double quotes (History drops
// every quote inside).
function quote(v) {
  return /^".*"$/.test(v) ? v : `"${v}"`;
}
