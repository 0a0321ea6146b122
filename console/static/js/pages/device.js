// A device's page (#/devices/:id): its attributes and last values, a live
// chart of its numeric readings (Kafka WS), its history (History API, with
// CSV), actuation, basic credentials, certificates and change log.
import { get, post, put, del, call, session } from '../api.js';
import { h, replace, field, showError, fieldErrors, notice, table, pager, fmt, time, confirmDanger, download } from '../ui.js';
import { timeChart, columns } from '../chart.js';
import { follow } from '../live.js';
import { changeLog } from '../changelog.js';

const numericTypes = new Set(['integer', 'float']);

export default async function (main, { id }) {
  const ac = new AbortController();
  const stops = [() => ac.abort()];
  const cleanup = () => { for (const f of stops.splice(0)) { try { f(); } catch (e) { console.error(e); } } };
  const path = `device/${encodeURIComponent(id)}`;
  let dev;
  try {
    dev = await get(path, null, { signal: ac.signal });
  } catch (e) {
    main.append(h('h1', {}, e.status === 404 ? 'Device not found' : 'Device'), h('p', {}, h('a', { href: '#/devices' }, 'All devices')));
    throw e;
  }
  const attrs = attrsOf(dev);
  const ctx = { id, dev, attrs, path, signal: ac.signal, stops };

  main.append(
    h('h1', {}, dev.label || id),
    h('p', { class: 'muted' }, 'Device ', h('span', { class: 'mono' }, id),
      dev.templates?.length ? [' · templates ', dev.templates.map((t, i) => [i ? ', ' : '', h('a', { href: `#/templates/${t}` }, String(t))])] : '',
      dev.created ? ` · created ${time(dev.created)}` : '', dev.updated ? ` · updated ${time(dev.updated)}` : ''),
    h('div', { class: 'toolbar' },
      h('a', { class: 'button', href: `#/devices/${encodeURIComponent(id)}/edit` }, 'Edit device'),
      h('a', { class: 'button', href: '#/devices' }, 'All devices')),
  );
  const grid = h('div', { class: 'grid' });
  main.append(grid);
  const last = attributesPanel(grid, ctx);
  actuatePanel(grid, ctx);
  credentialsPanel(grid, ctx);
  liveChartPanel(grid, ctx, last);
  historyPanel(grid, ctx);
  certificatesPanel(grid, ctx);
  grid.append(changeLog(ctx.path, { signal: ctx.signal }));
  return cleanup;
}

// attrsOf lists the device's attributes (keyed by template in dojot's
// answer), each label once, in the templates' order.
function attrsOf(dev) {
  const out = [];
  const seen = new Set();
  for (const list of Object.values(dev.attrs || {})) {
    for (const a of list || []) {
      if (seen.has(a.label)) continue;
      seen.add(a.label);
      out.push(a);
    }
  }
  return out;
}

// guardIn is guard with the panel's name before the message, as several
// panels load at once and "Not found" alone would not say whose.
async function guardIn(what, f) {
  try {
    return await f();
  } catch (e) {
    if (e?.name !== 'AbortError') showError(`${what}: ${e?.message || e}`);
  }
}

function panel(title, opts = {}) {
  const hid = `p-${title.toLowerCase().replace(/\W+/g, '-')}`;
  return h('section', { class: `panel${opts.wide ? ' wide' : ''}`, 'aria-labelledby': hid }, h('h2', { id: hid }, title));
}

// attributesPanel: the table of attributes, each with its static value or
// last reading (History's lastN=1, then the live feed's). It answers
// set(label, value, ms) for the live feed.
function attributesPanel(grid, { attrs, path, id, signal }) {
  const p = panel('Attributes');
  grid.append(p);
  const cells = new Map();
  const rows = attrs.map(a => {
    const value = h('td', { class: 'mono', dataset: { last: a.label } }, a.type === 'static' ? fmt(a.static_value) : '');
    const at = h('td', { class: 'muted' });
    if (a.type !== 'static') cells.set(a.label, { value, at });
    return h('tr', {}, h('th', { scope: 'row' }, a.label), h('td', {}, h('span', { class: 'tag' }, a.type), ' ', a.value_type), value, at);
  });
  p.append(attrs.length
    ? h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Label', 'Type', 'Value', 'At'].map(c => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows)))
    : h('p', { class: 'muted' }, 'This device has no attributes: give it a template.'));
  const shown = new Map(); // label -> ms of the value shown
  const set = (label, value, ms) => {
    const c = cells.get(label);
    if (!c || (shown.get(label) ?? -Infinity) > ms) return;
    shown.set(label, ms);
    c.value.textContent = fmt(value);
    c.at.textContent = when(ms);
  };
  if (cells.size) {
    // The newest stored value of each attribute; a device without readings
    // yet has no history (404), which is no error to show.
    get(`history/${path}/history`, { lastN: 1 }, { signal }).then(r => {
      for (const [label, list] of Object.entries(r || {})) {
        const e = Array.isArray(list) ? list[0] : null;
        if (e) set(label, e.value, Date.parse(e.ts));
      }
    }).catch(e => {
      if (e.name !== 'AbortError' && e.status !== 404) showError(`Last values of ${id}: ${e.message}`);
    });
  }
  return set;
}

// liveChartPanel: the device's readings as they arrive (Kafka WS on
// <tenant>.device-data, this device only), from a few minutes back. Frames
// go into the chart's columns as they come; the chart is redrawn at most
// once per animation frame, over a bounded window, so a fast device costs
// one draw per screen refresh, not one per reading.
function liveChartPanel(grid, { id, attrs, stops, signal }, setLast) {
  const labels = attrs.filter(a => a.type === 'dynamic' && numericTypes.has(a.value_type)).map(a => a.label);
  const p = panel('Live', { wide: true });
  grid.append(p);
  const windowSel = h('select', { 'aria-label': 'Live window' },
    [[1, '1 minute'], [5, '5 minutes'], [15, '15 minutes']].map(([v, t]) => h('option', { value: v, selected: v === 5 }, t)));
  const state = h('span', { class: 'tag', dataset: { state: 'connecting' } }, 'connecting…');
  const count = h('span', { class: 'muted' });
  const pauseBtn = h('button', { type: 'button' }, 'Pause');
  p.append(h('div', { class: 'toolbar' }, h('label', {}, 'Window ', windowSel), pauseBtn, state, count));
  const chartEl = h('div', { class: 'chart', role: 'img', 'aria-label': `Live chart of ${labels.join(', ') || 'no numeric attribute'}`, dataset: { points: 0, received: 0 } });
  p.append(labels.length ? chartEl : h('p', { class: 'muted' }, 'No numeric dynamic attribute (integer or float) to chart; the table above shows the last values.'));

  const maxPoints = 20000; // 50 readings/s for over 6 minutes: a wider window is cut at this
  let windowS = 300;
  const xs = [];
  const ys = labels.map(() => []);
  const data = [xs, ...ys];
  let received = 0;
  let lastMs = 0;
  let dirty = false;
  let raf = 0;
  let chart = null;
  const latest = new Map(); // label -> [value, ms], for the table, per frame

  // The chart comes when its library has loaded; the feed does not wait
  // for it (the columns fill meanwhile, and the first draw shows them).
  if (labels.length) {
    timeChart(chartEl, labels, {
      // The window ends at the newest reading (now, before any) and starts
      // at the oldest one kept, so it fills up and then slides.
      range: (u, min, max) => {
        const end = max ?? Date.now() / 1000;
        const start = Math.max(min ?? end - windowS, end - windowS);
        return [start, Math.max(end, start + 1)];
      },
    }).then(c => {
      if (signal.aborted) { c.destroy(); return; }
      chart = c;
      stops.push(() => c.destroy());
      dirty = true;
      raf ||= requestAnimationFrame(draw);
    }, e => showError(`Live chart: ${e.message}`));
  }

  // add puts one reading in the columns, in time order (readings come in
  // stream order, which is time order but for clock steps).
  const add = (x, attrsIn) => {
    let i = xs.length;
    while (i > 0 && xs[i - 1] > x) i--;
    if (i === xs.length) {
      xs.push(x);
      labels.forEach((l, k) => ys[k].push(num(attrsIn[l])));
    } else {
      xs.splice(i, 0, x);
      labels.forEach((l, k) => ys[k].splice(i, 0, num(attrsIn[l])));
    }
  };
  const trim = () => {
    const from = xs.length ? xs[xs.length - 1] - windowS : 0;
    let cut = Math.max(0, xs.length - maxPoints);
    while (cut < xs.length && xs[cut] < from) cut++;
    if (cut > 0) for (const col of data) col.splice(0, cut);
  };
  // The texts (the count, the table's last values) change at most 4 times
  // a second: each change lays the page out again, which at every frame
  // cost more than the chart's drawing.
  let textAt = 0;
  let textTimer = 0;
  const texts = () => {
    textTimer = 0;
    textAt = performance.now();
    for (const [label, [v, ms]] of latest) setLast(label, v, ms);
    latest.clear();
    count.textContent = `· ${received} readings received${lastMs ? ', last at ' + when(lastMs) : ''}`;
  };
  stops.push(() => clearTimeout(textTimer));
  const draw = () => {
    raf = 0;
    if (!dirty) return;
    dirty = false;
    trim();
    chart?.setData(data);
    chartEl.dataset.points = xs.length;
    chartEl.dataset.received = received;
    if (!textTimer) textTimer = setTimeout(texts, Math.max(0, textAt + 250 - performance.now()));
  };
  const onFrame = f => {
    const a = f?.attrs;
    if (!a || typeof a !== 'object') return;
    const ms = Number(f.metadata?.timestamp) || Date.now();
    received++;
    lastMs = Math.max(lastMs, ms);
    for (const [k, v] of Object.entries(a)) latest.set(k, [v, ms]);
    if (labels.length) add(ms / 1000, a);
    // A hidden tab gets no animation frames: keep the columns bounded anyway.
    if (xs.length > 2 * maxPoints) trim();
    dirty = true;
    raf ||= requestAnimationFrame(draw);
  };
  const states = { connecting: 'connecting…', live: 'live', paused: 'paused' };
  const open = () => follow(`${session.tenant}.device-data`, {
    // eq compares numbers only; in: takes a (JavaScript) pattern, anchored
    // here. Ids are [A-Za-z0-9_-]: nothing to escape but in principle.
    where: `metadata.deviceid=in:^${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$;`,
    fields: 'metadata/timestamp,attrs',
    since: new Date(Date.now() - windowS * 1000).toISOString(),
    onFrame,
    onState(s, why, delay) {
      state.dataset.state = s;
      state.textContent = states[s] || (s === 'reconnecting' ? `${why}; reconnecting in ${Math.round(delay / 1000)} s` : `stopped: ${why}`);
      if (s === 'failed') showError(`The live feed of ${id} ${why}.`);
    },
  });
  let feed = open();
  stops.push(() => { feed.close(); cancelAnimationFrame(raf); });
  pauseBtn.addEventListener('click', () => {
    const pausing = pauseBtn.textContent === 'Pause';
    if (pausing) feed.pause(); else feed.resume();
    pauseBtn.textContent = pausing ? 'Resume' : 'Pause';
  });
  windowSel.addEventListener('change', () => {
    const wider = Number(windowSel.value) * 60 > windowS;
    windowS = Number(windowSel.value) * 60;
    if (wider) {
      // The columns hold the narrower window only: the stream fills the
      // wider one (a new socket from since=).
      feed.close();
      for (const col of data) col.length = 0;
      received = 0;
      lastMs = 0;
      chartEl.dataset.received = chartEl.dataset.points = 0;
      pauseBtn.textContent = 'Pause';
      feed = open();
    }
    dirty = true;
    raf ||= requestAnimationFrame(draw);
  });
}

// when is a time, without the date when it is today's.
function when(ms) {
  const d = new Date(ms);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}

function num(v) {
  if (typeof v === 'number') return isFinite(v) ? v : null;
  if (typeof v === 'string' && v.trim() !== '' && isFinite(+v)) return +v;
  return null;
}

// localInput is a Date as a datetime-local input shows it.
function localInput(d) {
  const p = n => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

// historyPanel: readings of a time range from the History API, as a chart
// (numeric values), a paged table and a CSV file (the API's own text/csv).
function historyPanel(grid, { id, attrs, path, signal, stops }) {
  const p = panel('History', { wide: true });
  grid.append(p);
  const dynamic = attrs.filter(a => a.type !== 'static');
  const attrSel = h('select', {}, h('option', { value: '' }, 'All attributes'), dynamic.map(a => h('option', { value: a.label }, a.label)));
  const from = h('input', { type: 'datetime-local', value: localInput(new Date(Date.now() - 3600e3)) });
  const to = h('input', { type: 'datetime-local' });
  const lastN = h('input', { type: 'number', min: 1, max: 100000, value: 1000, inputmode: 'numeric' });
  const show = h('button', { class: 'primary', type: 'submit' }, 'Show');
  const csv = h('button', { type: 'button' }, 'Download CSV');
  const form = h('form', { class: 'toolbar', 'aria-label': 'History range' },
    field('Attribute', 'attr', attrSel), field('From', 'dateFrom', from), field('To (empty: now)', 'dateTo', to), field('At most', 'lastN', lastN), show, csv);
  const out = h('div', { 'aria-live': 'polite' });
  p.append(form, out);
  let chart = null;
  stops.push(() => chart?.destroy());

  const query = () => {
    const q = { lastN: lastN.value };
    if (attrSel.value) q.attr = attrSel.value;
    for (const [k, input] of [['dateFrom', from], ['dateTo', to]]) {
      if (!input.value) continue;
      const d = new Date(input.value);
      if (isNaN(d)) throw new Error(`${k}: not a date`);
      q[k] = d.toISOString();
    }
    return q;
  };
  const noData = e => e.status === 404 && /No data/i.test(e.body?.description || '');

  form.addEventListener('submit', async e => {
    e.preventDefault();
    show.disabled = true;
    try {
      let r;
      try {
        r = await get(`history/${path}/history`, query(), { signal });
      } catch (err) {
        if (!noData(err)) throw err;
        r = [];
      }
      // One attr answers an array, none or several an object keyed by attr.
      const byAttr = Array.isArray(r) ? { [attrSel.value]: r } : r || {};
      const rows = Object.values(byAttr).flat().map(x => ({ ...x, ms: Date.parse(x.ts) })).sort((a, b) => b.ms - a.ms);
      chart?.destroy();
      chart = null;
      replace(out);
      if (!rows.length) { out.append(h('p', { class: 'muted', dataset: { rows: 0 } }, 'No readings in this range.')); return; }
      const labels = Object.keys(byAttr).filter(l => byAttr[l].some(x => num(x.value) !== null));
      if (labels.length) {
        const chartEl = h('div', { class: 'chart', role: 'img', 'aria-label': `History chart of ${labels.join(', ')}` });
        out.append(chartEl);
        chart = await timeChart(chartEl, labels, { points: rows.length < 200 });
        chart.setData(columns(rows.map(x => ({ x: x.ms / 1000, [x.attr]: num(x.value) })), labels));
      }
      const tableBox = h('div', { dataset: { rows: rows.length } });
      out.append(tableBox);
      const perPage = 25;
      const render = page => replace(tableBox,
        table([
          { key: 'ts', label: 'Time', render: x => time(x.ts) },
          { key: 'attr', label: 'Attribute' },
          { key: 'value', label: 'Value', render: x => h('span', { class: 'mono' }, fmt(x.value)) },
        ], rows.slice((page - 1) * perPage, page * perPage), { caption: `${rows.length} readings, newest first` }),
        rows.length > perPage ? pager({ page, pages: Math.ceil(rows.length / perPage), total: rows.length, onPage: render }) : null);
      render(1);
    } catch (err) {
      if (err.name !== 'AbortError') showError(`History: ${err.message}`);
    } finally {
      show.disabled = false;
    }
  });

  csv.addEventListener('click', () => guardIn('CSV', async () => {
    csv.disabled = true;
    try {
      const res = await call('GET', `history/${path}/history`, null, { query: query(), raw: true, signal, headers: { Accept: 'text/csv' } });
      download(`${id}${attrSel.value ? '-' + attrSel.value : ''}-history.csv`, await res.text(), 'text/csv');
    } catch (err) {
      if (!noData(err)) throw err;
      notice('No readings in this range: nothing to download.');
    } finally {
      csv.disabled = false;
    }
  }));
  form.requestSubmit();
}

// actuatePanel: one typed input per actuator attribute; the filled ones are
// sent (PUT device/:id/actuate).
function actuatePanel(grid, { id, attrs, path, signal }) {
  const p = panel('Actuate');
  grid.append(p);
  const actuators = attrs.filter(a => a.type === 'actuator');
  if (!actuators.length) { p.append(h('p', { class: 'muted' }, 'No actuator attribute.')); return; }
  const inputs = actuators.map(a => [a, inputFor(a)]);
  const send = h('button', { class: 'primary', type: 'submit' }, 'Send');
  // novalidate: the typed checks below say what is wrong next to the field.
  const form = h('form', { 'aria-label': 'Actuate', novalidate: true },
    inputs.map(([a, input]) => field(`${a.label} (${a.value_type})`, a.label, input)),
    h('p', { class: 'muted' }, 'Empty fields are not sent.'), send);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const values = {};
    const bad = {};
    for (const [a, input] of inputs) {
      if (input.value === '') continue;
      try { values[a.label] = parseValue(a.value_type, input.value); } catch (err) { bad[a.label] = [err.message]; }
    }
    if (Object.keys(bad).length) { fieldErrors(form, { fields: bad }); return; }
    if (!Object.keys(values).length) { showError('Fill at least one value to send.'); return; }
    fieldErrors(form, { fields: {} });
    send.disabled = true;
    try {
      await put(`${path}/actuate`, { attrs: values }, { signal });
      notice(`Sent to ${id}: ${JSON.stringify(values)}`);
    } catch (err) {
      // 403 lists the attributes that are not actuators.
      if (err.status === 403 && Array.isArray(err.body?.attrs)) showError(`${err.body.status || 'Not actuators'}: ${err.body.attrs.join(', ')}`);
      else if (err.name !== 'AbortError') fieldErrors(form, err);
    } finally {
      send.disabled = false;
    }
  });
  p.append(form);
}

function inputFor(a) {
  switch (a.value_type) {
    case 'integer': return h('input', { type: 'number', step: 1, inputmode: 'numeric' });
    case 'float': return h('input', { type: 'number', step: 'any', inputmode: 'decimal' });
    case 'bool': return h('select', {}, h('option', { value: '' }, '—'), h('option', { value: 'true' }, 'true'), h('option', { value: 'false' }, 'false'));
    case 'object': case 'json': return h('textarea', { rows: 3, placeholder: '{"key": "value"}' });
    case 'geo:point': return h('input', { placeholder: 'latitude, longitude' });
    default: return h('input', {});
  }
}

// parseValue reads an input as the attribute's value_type says.
function parseValue(type, s) {
  switch (type) {
    case 'integer': {
      const n = Number(s);
      if (!Number.isInteger(n)) throw new Error('Not an integer.');
      return n;
    }
    case 'float': {
      const n = Number(s);
      if (!isFinite(n)) throw new Error('Not a number.');
      return n;
    }
    case 'bool': return s === 'true';
    case 'object': case 'json':
      try { return JSON.parse(s); } catch (e) { throw new Error(`Not JSON: ${e.message}`); }
    default: return s;
  }
}

// copyable is a read-only text with a Copy button.
function copyable(label, value, multiline) {
  const input = multiline ? h('textarea', { readOnly: true, rows: 6, class: 'mono' }, value) : h('input', { readOnly: true, value, class: 'mono', size: 40 });
  const btn = h('button', { type: 'button', 'aria-label': `Copy ${label.toLowerCase()}` }, 'Copy');
  btn.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      // No clipboard API outside a secure context (plain http on another
      // host): the browser's own copy of the selection.
      input.select();
      if (!document.execCommand('copy')) { showError('Copying was refused by the browser: the text is selected, copy it by hand.'); return; }
    }
    notice(`${label} copied.`);
  });
  const f = field(label, label.toLowerCase().replace(/\W+/g, '-'), input);
  f.querySelector('.field-error').before(btn);
  return f;
}

// credentialsPanel: new basic credentials for the HTTP agent, shown once.
function credentialsPanel(grid, { id, signal }) {
  const p = panel('Basic credentials');
  grid.append(p);
  const out = h('div');
  const issue = h('button', { type: 'button', class: 'primary' }, 'Issue basic credentials');
  issue.addEventListener('click', () => guardIn('Basic credentials', async () => {
    issue.disabled = true;
    try {
      const r = await post(`basic-auth/v1/devices/${encodeURIComponent(id)}/basic-credentials`, null, { signal });
      replace(out,
        h('p', {}, 'Shown this once: the password cannot be read again. Issuing new ones replaces these.'),
        copyable('Username', r.credentials.username), copyable('Password', r.credentials.password), copyable('Authorization header', r.basicAuth));
      notice('New basic credentials issued.');
    } finally {
      issue.disabled = false;
    }
  }));
  p.append(h('p', { class: 'muted' }, 'For the HTTP agent (HTTP Basic). The previous password stops working.'), issue, out);
}

// certificatesPanel: the device's certificates (x509), issued from a CSR,
// revoked.
function certificatesPanel(grid, { id, signal }) {
  const p = panel('Certificates', { wide: true });
  grid.append(p);
  const list = h('div');
  const issued = h('div');
  let page = 1;
  const load = () => guardIn('Certificates', async () => {
    const r = await get('x509/v1/certificates', { 'belongsTo.device': id, fields: 'fingerprint,subjectDN,validity,createdAt', page, limit: 10 }, { signal });
    const certs = r.certificates || [];
    const pages = r.paging?.totalPages || 1;
    replace(list, table([
      { key: 'subjectDN', label: 'Subject' },
      { key: 'fingerprint', label: 'Fingerprint', render: c => h('span', { class: 'mono' }, c.fingerprint) },
      { key: 'validity', label: 'Valid until', render: c => time(c.validity?.notAfter) },
      { key: 'revoke', label: 'Revoke', render: c => h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke ${c.fingerprint}`, onclick: () => revoke(c) }, 'Revoke') },
    ], certs, { empty: 'No certificate.', caption: `Certificates of ${id}` }),
    pages > 1 ? pager({ page, pages, total: r.paging?.totalItems, onPage: n => { page = n; load(); } }) : null);
  });
  const revoke = c => guardIn('Revoke', async () => {
    if (!confirmDanger(`Revoke certificate ${c.fingerprint}? The device can no longer connect with it.`)) return;
    await del(`x509/v1/certificates/${encodeURIComponent(c.fingerprint)}`, { signal });
    notice('Certificate revoked.');
    await load();
  });
  const csr = h('textarea', { rows: 5, placeholder: '-----BEGIN CERTIFICATE REQUEST-----', spellcheck: 'false' });
  const issue = h('button', { class: 'primary', type: 'submit' }, 'Issue certificate');
  const form = h('form', { 'aria-label': 'Issue a certificate' }, field('CSR (PEM)', 'csr', csr,
    `e.g. openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=${id}`), issue);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    issue.disabled = true;
    try {
      const r = await post('x509/v1/certificates', { csr: csr.value.trim(), belongsTo: { device: id } }, { signal });
      fieldErrors(form, { fields: {} });
      csr.value = '';
      const save = h('button', { type: 'button', onclick: () => download(`${id}.pem`, r.certificatePem, 'application/x-pem-file') }, 'Download certificate');
      replace(issued, h('p', {}, 'Issued ', h('span', { class: 'mono' }, r.certificateFingerprint)), copyable('Certificate', r.certificatePem, true), save);
      notice('Certificate issued.');
      await load();
    } catch (err) {
      if (err.name === 'AbortError') return;
      // x509's errors are one message about the CSR: shown at the field.
      fieldErrors(form, { fields: { csr: [err.message] } });
    } finally {
      issue.disabled = false;
    }
  });
  p.append(list, form, issued);
  load();
}

