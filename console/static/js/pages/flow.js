// A flow (#/flows/:id, "new" for a new one): its name and its node-RED
// node array edited as JSON; the flows API's validation problems shown by
// the node each names; the engine's per-node counters (status route)
// refreshed while the page is open; and a replay of a time range (ours:
// the flow run over stored readings in a sandbox, nothing sent).
import { get, post, put, del } from '../api.js';
import { h, replace, field, guard, showError, notice, confirmDanger, time, fmt } from '../ui.js';

const refreshMs = 3000;

export default async function (main, params) {
  const isNew = params.id === 'new';
  const path = isNew ? '' : `flows/v1/flow/${encodeURIComponent(params.id)}`;
  const ctl = new AbortController();
  let saved = null;
  if (!isNew) {
    try {
      saved = (await get(path, null, { signal: ctl.signal })).flow;
    } catch (e) {
      if (e.status !== 404) throw e;
      main.append(h('h1', {}, 'Flow not found'), h('p', {}, e.message, '. ', h('a', { href: '#/flows' }, 'All flows')));
      return;
    }
  }
  let stats; // the status route's stats: undefined not yet read, null engine off
  let problems = new Map(); // node id or "#index" -> [reason]

  // The editor.
  const name = h('input', { required: true, maxlength: 200, value: saved?.name ?? '' });
  const enabled = h('input', { type: 'checkbox', checked: saved ? saved.enabled : true });
  const text = h('textarea', { rows: 18, spellcheck: 'false', autocapitalize: 'none', oninput: () => { clearTimeout(parseTimer); parseTimer = setTimeout(drawNodes, 300); } });
  text.value = saved ? pretty(saved.flow) : '[]';
  let parseTimer = 0;
  const flowField = field('Flow JSON (the node-RED array of nodes)', 'flow', text,
    'Each node has an id, a type and wires (the ids its output ports send to). Heads: "event device in" (device_id), "event template in" (template_id).');
  const form = h('form', { class: 'panel', 'aria-label': 'Flow', novalidate: true, onsubmit: e => { e.preventDefault(); guard(save); } },
    field('Name', 'name', name),
    isNew ? h('div', { class: 'field', dataset: { field: 'enabled' } }, h('label', {}, enabled, ' Enabled (runs on new readings once saved)'), h('div', { class: 'field-error' })) : null,
    flowField,
    h('div', { class: 'toolbar' },
      h('button', { class: 'primary', type: 'submit' }, isNew ? 'Create flow' : 'Save'),
      h('button', { type: 'button', onclick: () => { const n = parseEditor(); if (n) text.value = pretty(n); } }, 'Format JSON'),
      h('a', { class: 'button', href: '#/flows' }, 'Back to flows')));

  // The starter example: a device's reading above a threshold becomes a
  // notification (event device in -> switch -> template -> notification).
  const exDevice = h('input', { list: 'flow-devices', autocomplete: 'off', placeholder: 'device id', onchange: () => guard(suggestAttr) });
  const exAttr = h('input', { value: 'temperature', autocomplete: 'off' });
  const exLimit = h('input', { type: 'number', value: '30', step: 'any' });
  const devices = h('datalist', { id: 'flow-devices' });
  const starter = h('details', { class: 'panel', open: isNew },
    h('summary', {}, 'Starter example: a notification when a reading is above a threshold'),
    h('div', { class: 'toolbar' },
      field('Device', 'ex-device', exDevice), field('Attribute', 'ex-attr', exAttr), field('Above', 'ex-limit', exLimit),
      h('button', { type: 'button', onclick: () => useExample() }, 'Use example')),
    devices);

  const nodesBox = h('div', {});
  const countsLine = h('p', { class: 'muted', 'aria-live': 'polite' });

  // The header: state, toggle and delete of a saved flow.
  const head = h('div', {});
  function drawHead() {
    replace(head, saved
      ? h('div', { class: 'toolbar' },
        h('span', { class: 'tag', dataset: { state: saved.enabled ? 'on' : 'off' } }, saved.enabled ? 'enabled' : 'disabled'),
        h('span', { class: 'muted' }, `id `, h('span', { class: 'mono' }, saved.id), ` · created ${time(saved.created)} · updated ${time(saved.updated)}`),
        h('button', { type: 'button', onclick: e => guard(() => toggle(e.currentTarget)) }, saved.enabled ? 'Disable' : 'Enable'),
        h('button', { type: 'button', class: 'danger', onclick: () => guard(remove) }, 'Delete'))
      : h('p', { class: 'muted' }, 'Start from the example below, or paste a flow exported from a node-RED editor.'));
  }

  main.append(h('h1', {}, saved ? `Flow ${saved.name}` : 'New flow'), head, starter, form,
    h('h2', {}, 'Nodes'), countsLine, nodesBox, replayPanel());
  drawHead();
  drawNodes();
  guard(loadDevices);

  async function loadDevices() {
    const r = await get('device', { page_size: 100, sortBy: 'label' }, { signal: ctl.signal });
    replace(devices, (r.devices || []).map(d => h('option', { value: d.id }, d.label)));
  }

  // suggestAttr puts the chosen device's first numeric attribute in the
  // example.
  async function suggestAttr() {
    const id = exDevice.value.trim();
    if (!id) return;
    const d = await get(`device/${encodeURIComponent(id)}`, null, { signal: ctl.signal });
    const attrs = Object.values(d.attrs || {}).flat();
    const num = attrs.find(a => a.type === 'dynamic' && /^(float|integer|int)$/.test(a.value_type));
    if (num) exAttr.value = num.label;
  }

  function useExample() {
    const dev = exDevice.value.trim(), attr = exAttr.value.trim(), limit = exLimit.value.trim();
    if (!dev || !attr || limit === '') {
      showError('The example needs a device, an attribute and a threshold.');
      return;
    }
    text.value = pretty(example(dev, attr, limit));
    if (!name.value.trim()) name.value = `${attr} above ${limit}`;
    problems = new Map();
    drawNodes();
    text.focus();
  }

  // parseEditor answers the editor's nodes, or null with the JSON error
  // shown by the field.
  function parseEditor() {
    const err = flowField.querySelector('.field-error');
    try {
      const v = JSON.parse(text.value);
      err.textContent = '';
      text.removeAttribute('aria-invalid');
      return v;
    } catch (e) {
      err.textContent = `Not valid JSON: ${e.message}`;
      text.setAttribute('aria-invalid', 'true');
      return null;
    }
  }

  async function save() {
    for (const e of form.querySelectorAll('.field-error')) e.textContent = '';
    for (const e of form.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
    const nodes = parseEditor();
    if (!nodes) { text.focus(); return; }
    const body = { name: name.value.trim(), flow: nodes };
    if (isNew) body.enabled = enabled.checked;
    try {
      const r = isNew ? await post('flows/v1/flow', body) : await put(path, body);
      problems = new Map();
      notice(`Flow "${r.flow.name}" saved.`);
      if (isNew) { location.hash = `#/flows/${encodeURIComponent(r.flow.id)}`; return; }
      saved = r.flow;
      main.querySelector('h1').textContent = `Flow ${saved.name}`;
      drawHead();
      drawNodes();
    } catch (err) {
      if (!showInvalid(err, nodes)) throw err;
    }
  }

  // showInvalid puts a "Given flow is invalid" 400's detail by what it
  // names: the name, the node array, or each node; it answers whether the
  // error was one.
  function showInvalid(err, nodes) {
    const detail = err?.status === 400 && typeof err.body?.detail === 'string' ? err.body.detail : null;
    if (!detail) return false;
    problems = parseProblems(detail, Array.isArray(nodes) ? nodes : []);
    const general = problems.get('') || [];
    problems.delete('');
    for (const reason of general) {
      const key = /^name\b/.test(reason) ? 'name' : /^enabled\b/.test(reason) ? 'enabled' : 'flow';
      const box = form.querySelector(`[data-field="${key}"]`);
      box.querySelector('.field-error').textContent = reason;
      box.querySelector('input,textarea')?.setAttribute('aria-invalid', 'true');
    }
    const n = [...problems.values()].reduce((s, l) => s + l.length, 0);
    if (n) {
      flowField.querySelector('.field-error').textContent = `${n} ${n === 1 ? 'problem' : 'problems'} with nodes: see each node below.`;
      text.setAttribute('aria-invalid', 'true');
    }
    drawNodes();
    showError(`${err.message}: ${detail}`);
    (form.querySelector('[aria-invalid]') || text).focus();
    return true;
  }

  async function toggle(button) {
    button.disabled = true;
    try {
      saved = (await put(path, { enabled: !saved.enabled })).flow;
      enabled.checked = saved.enabled;
      notice(`Flow "${saved.name}" ${saved.enabled ? 'enabled' : 'disabled'}.`);
    } finally {
      drawHead();
    }
  }

  async function remove() {
    if (!confirmDanger(`Delete the flow "${saved.name}"? This cannot be undone.`)) return;
    await del(path);
    notice(`Flow "${saved.name}" deleted.`);
    location.hash = '#/flows';
  }

  // drawNodes lists the editor's nodes with their problems and counters.
  function drawNodes() {
    let nodes = [];
    try { nodes = JSON.parse(text.value); } catch { /* shown on save; the last list stays */ return; }
    if (!Array.isArray(nodes)) nodes = [];
    const named = new Set();
    const rows = nodes.map((n, i) => {
      const id = n && typeof n === 'object' && typeof n.id === 'string' ? n.id : '';
      const probs = [...(problems.get(id) || []), ...(problems.get(`#${i}`) || [])];
      if (id) named.add(id);
      named.add(`#${i}`);
      const c = stats?.nodes?.[id];
      const runs = n && !noCounters.has(n.type);
      return h('tr', { class: probs.length ? 'invalid' : null, dataset: { node: id || `#${i}` } },
        h('th', { scope: 'row', class: 'mono' }, id || `#${i}`),
        h('td', {}, fmt(n?.type)),
        h('td', {}, fmt(n?.name || n?.label)),
        ['in', 'out', 'errors'].map(k => h('td', { class: 'num' }, runs && stats !== undefined && stats !== null ? String(c?.[k] ?? 0) : '—')),
        h('td', {},
          probs.map(p => h('div', { class: 'field-error' }, p)),
          c?.last_error ? h('div', { class: 'muted' }, `Last error (${time(c.last_error_at)}): ${c.last_error}`) : null));
    });
    // Problems of nodes no longer in the editor, or of none.
    const rest = [...problems].filter(([k]) => !named.has(k)).flatMap(([k, l]) => l.map(p => `${k ? `node ${k}: ` : ''}${p}`));
    replace(nodesBox,
      h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Nodes' },
        h('thead', {}, h('tr', {}, ['Node', 'Type', 'Name', 'In', 'Out', 'Errors', 'Problems'].map(c => h('th', { scope: 'col', class: numCols.has(c) ? 'num' : null }, c)))),
        h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No nodes.'))))),
      rest.length ? h('ul', { class: 'field-error' }, rest.map(p => h('li', {}, p))) : null);
    replace(countsLine, saved
      ? stats === null ? 'Counters: the flow engine is off in this instance.'
        : stats ? `Runs: ${stats.runs} · loops cut: ${stats.loops_cut} · counted by this instance since it started, refreshed every ${refreshMs / 1000} s.` : 'Counters: loading…'
      : 'Counters appear once the flow is saved.');
  }

  // The counters, while the page is open.
  let failing = false;
  let busy = false;
  async function poll() {
    if (!saved || busy || document.hidden) return;
    busy = true;
    try {
      stats = (await get(`${path}/status`, null, { signal: ctl.signal })).stats;
      failing = false;
      drawNodes();
    } catch (e) {
      if (e.name !== 'AbortError' && !failing) { failing = true; showError(e); }
    } finally {
      busy = false;
    }
  }
  poll();
  const timer = setInterval(poll, refreshMs);

  // The replay: the saved flow over [from, to], or the editor's version
  // when it differs from the saved one (try before saving).
  function replayPanel() {
    const from = h('input', { type: 'datetime-local', step: 1, value: localInput(new Date(Date.now() - 3600e3)) });
    const to = h('input', { type: 'datetime-local', step: 1 });
    const limit = h('input', { type: 'number', min: 1, max: 10000, value: '100' });
    const out = h('div', { 'aria-live': 'polite' });
    const go = h('button', { class: 'primary', type: 'submit' }, 'Replay');
    const f = h('form', {
      class: 'panel', 'aria-labelledby': 'replay-title', novalidate: true,
      onsubmit: e => {
        e.preventDefault();
        guard(async () => {
          const nodes = parseEditor();
          if (!nodes) return;
          const edited = !saved || JSON.stringify(nodes) !== JSON.stringify(saved.flow);
          const body = { limit: limit.value || undefined };
          if (from.value) body.from = new Date(from.value).toISOString();
          if (to.value) body.to = new Date(to.value).toISOString();
          go.disabled = true;
          replace(out, h('p', { class: 'muted' }, 'Replaying…'));
          try {
            const r = edited ? await post('flows/v1/replay', { ...body, flow: nodes }, { signal: ctl.signal })
              : await post(`${path}/replay`, body, { signal: ctl.signal });
            replace(out, replayResult(r, nodes, edited));
          } catch (err) {
            replace(out);
            if (!showInvalid(err, nodes)) throw err;
          } finally {
            go.disabled = false;
          }
        });
      },
    },
    h('h2', { id: 'replay-title' }, 'Replay'),
    h('p', { class: 'muted' }, 'Runs the flow over the readings and device events stored in a time range, in a sandbox: notifications, actuations and other effects are listed, not sent. A disabled flow replays too.'),
    h('div', { class: 'toolbar' }, field('From', 'from', from), field('To (empty: now)', 'to', to), field('At most (inputs)', 'limit', limit), go),
    out);
    return f;
  }

  return () => { clearInterval(timer); clearTimeout(parseTimer); ctl.abort(); };
}

// numCols are the counters' columns, right-aligned.
const numCols = new Set(['In', 'Out', 'Errors']);

// noCounters are the node types the engine never runs (heads start a run,
// tabs and comments are the editor's).
const noCounters = new Set(['tab', 'comment', 'event device in', 'event template in', 'device in', 'device template in']);

// parseProblems reads the detail of "Given flow is invalid": problems
// joined by "; ", each "node <id>: <reason>" or "node #<index>: <reason>"
// (or "node <index>: ..." for an element that is not a node), else about
// the whole body (key ""). Node ids are matched against the sent nodes,
// so an id with spaces or colons is still found.
export function parseProblems(detail, nodes) {
  const ids = nodes.map(n => n && typeof n.id === 'string' ? n.id : null).filter(Boolean).sort((a, b) => b.length - a.length);
  const out = new Map();
  const add = (k, r) => { if (!out.has(k)) out.set(k, []); out.get(k).push(r); };
  for (const part of detail.split(/; (?=node )/)) {
    const id = part.startsWith('node ') && ids.find(i => part.startsWith(`node ${i}: `));
    const m = /^node #?(-?\d+): ([^]*)$/.exec(part);
    if (id) add(id, part.slice(6 + id.length + 1));
    else if (m && Number(m[1]) >= 0) add(`#${m[1]}`, m[2]);
    else if (m) add('', m[2]);
    else add('', part);
  }
  return out;
}

function example(device, attr, limit) {
  const tab = 'starter';
  return [
    { id: tab, type: 'tab', label: 'Starter' },
    { id: 'reading', type: 'event device in', z: tab, name: 'Reading', device_id: device, event_publish: true, event_configure: false, wires: [['above']] },
    { id: 'above', type: 'switch', z: tab, name: `${attr} > ${limit}`, property: `payload.data.attrs.${attr}`, propertyType: 'msg', rules: [{ t: 'gt', v: String(limit), vt: 'num' }], checkall: 'true', outputs: 1, wires: [['text']] },
    {
      id: 'text', type: 'template', z: tab, name: 'Message', field: 'notification', fieldType: 'msg', syntax: 'handlebars', output: 'json',
      template: JSON.stringify({ metadata: { priority: 'high', device: '{{payload.data.id}}' }, message: `Device {{payload.data.id}}: ${attr} {{payload.data.attrs.${attr}}} above ${limit}` }),
      wires: [['notify']],
    },
    { id: 'notify', type: 'notification', z: tab, name: 'Notify', msgType: 'dynamic', messageDynamic: 'notification.message', messageStatic: '', messageFieldType: 'msg', source: 'notification.metadata', sourceFieldType: 'msg', wires: [] },
  ];
}

function replayResult(r, nodes, edited) {
  const types = new Map((Array.isArray(nodes) ? nodes : []).map(n => [n?.id, n?.type]));
  const effects = Object.entries(r.effects || {});
  const runs = r.runs || [];
  const shown = runs.slice(0, 50);
  return h('div', { class: 'replay' },
    h('p', {}, `${edited ? "The editor's version (not saved)" : 'The saved flow'}, ${time(r.from)} to ${time(r.to)}: `,
      h('strong', {}, `${r.read} read, ${r.inputs} ran`), ` (at most ${r.limit}).`,
      r.truncated ? h('span', { class: 'field-error' }, ' Stopped at the limit before the end of the range: replay again from the last input\'s time.') : null),
    h('p', {}, 'Effects: ', effects.length ? effects.map(([k, v]) => [h('span', { class: 'tag' }, `${k}: ${v}`), ' ']) : h('span', { class: 'muted' }, 'none')),
    h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Replay counters' },
      h('thead', {}, h('tr', {}, ['Node', 'Type', 'In', 'Out', 'Errors', 'Last error'].map(c => h('th', { scope: 'col', class: numCols.has(c) ? 'num' : null }, c)))),
      h('tbody', {}, Object.keys(r.nodes || {}).length ? Object.entries(r.nodes).sort().map(([id, c]) => h('tr', {},
        h('th', { scope: 'row', class: 'mono' }, id), h('td', {}, fmt(types.get(id))),
        h('td', { class: 'num' }, String(c.in)), h('td', { class: 'num' }, String(c.out)), h('td', { class: 'num' }, String(c.errors)),
        h('td', { class: 'field-error' }, c.last_error || '')))
        : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No node ran.'))))),
    shown.length ? h('h3', {}, `Runs${runs.length > shown.length ? ` (the first ${shown.length} of ${runs.length})` : ''}`) : null,
    h('ol', { class: 'runs' }, shown.map(run => h('li', {},
      h('details', {},
        h('summary', {}, `${time(run.input.time)} · device ${run.input.device_id} · ${run.input.event} · `,
          summarize(run.records)),
        h('div', { class: 'mono' }, 'input: ', JSON.stringify(run.input.payload)),
        h('ul', {}, run.records.map(rec => h('li', { class: rec.kind === 'error' ? 'field-error' : null },
          h('strong', {}, rec.kind), rec.node ? ` node ${rec.node}` : '', rec.port !== undefined ? ` port ${rec.port}` : '', ': ',
          h('span', { class: 'mono' }, rec.error || JSON.stringify(rec.value ?? rec.msg ?? null)))))))))
  );
}

// summarize counts a run's records by kind: "2 emit, 1 notification".
function summarize(records) {
  const n = {};
  for (const r of records) n[r.kind] = (n[r.kind] || 0) + 1;
  return Object.entries(n).map(([k, v]) => `${v} ${k}`).join(', ') || 'nothing emitted';
}

function pretty(nodes) {
  // One node a line, not indented: a long node wraps where it is (after
  // an indent, the browser would wrap before it and leave a blank line).
  if (!Array.isArray(nodes)) return JSON.stringify(nodes, null, 2);
  return nodes.length ? '[\n' + nodes.map(n => JSON.stringify(n)).join(',\n') + '\n]' : '[]';
}

// localInput is a datetime-local input's value of a date, in local time.
function localInput(d) {
  const p = n => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
