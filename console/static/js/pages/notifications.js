// Notifications: live from Kafka WS on <tenant>.dojot.notifications (a
// ticket per socket; seq=true so that a reconnect resumes after the last
// one received, since=<seq+1>, with no gap and no duplicate), newest
// first and bounded; and the persisted ones from dojot's History (GET
// history/notifications/history) with its filters.
import { call, get, session } from '../api.js';
import { follow } from '../live.js';
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

  const live = follow(topic, {
    onFrame: v => {
      let n = v;
      if (typeof n === 'string') { try { n = JSON.parse(n); } catch { n = { message: n }; } }
      empty.hidden = true;
      list.prepend(note(n, n.timestamp));
      while (list.children.length > keep) list.lastElementChild.remove();
      received++;
      count.textContent = `${received} received${received > keep ? `, the last ${keep} shown` : ''}`;
    },
    onState: (s, why, delay) => {
      const shown = s === 'failed' ? 'closed' : s;
      state.dataset.state = shown;
      state.textContent = shown;
      state.title = delay ? `${why}; again in ${Math.round(delay / 1000)} s` : why || '';
      if (s === 'failed') showError(`The live notifications were refused (${why}).`);
    },
  });
  return () => live.close();
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
