// The tenant's flows (dojot's flowbroker: GET flows/v1/flow): enable or
// disable each (PUT {"enabled"}), delete one, and the engine's counters
// of each from its status route (ours: flows/v1/flow/:id/status).
import { get, put, del } from '../api.js';
import { h, replace, table, guard, notice, confirmDanger, time } from '../ui.js';

export default async function (main) {
  const search = h('input', { type: 'search', 'aria-label': 'Filter by name', placeholder: 'Filter by name', oninput: () => draw() });
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  main.append(h('h1', {}, 'Flows'),
    h('div', { class: 'toolbar' }, h('a', { class: 'button primary', href: '#/flows/new' }, 'New flow'), search,
      h('button', { type: 'button', onclick: () => guard(load) }, 'Refresh')),
    body);

  const ctl = new AbortController();
  let flows = [];
  const stats = new Map(); // flow id -> its status's stats (null: engine off)
  let sort = { key: 'name', dir: 1 };

  async function load() {
    flows = (await get('flows/v1/flow', null, { signal: ctl.signal })).flows || [];
    draw();
    // The counters, a few flows at a time; a flow deleted meanwhile (404)
    // just has none.
    const queue = [...flows];
    await Promise.all([0, 1, 2, 3].map(async () => {
      for (let f; (f = queue.shift());) {
        try {
          stats.set(f.id, (await get(`flows/v1/flow/${encodeURIComponent(f.id)}/status`, null, { signal: ctl.signal })).stats);
        } catch (e) {
          if (e.name === 'AbortError') return;
          if (e.status !== 404) throw e;
        }
      }
    }));
    draw();
  }

  function counts(f) {
    const s = stats.get(f.id);
    if (s === undefined) return null;
    if (s === null) return { runs: '—', errors: '—' };
    return { runs: s.runs, errors: Object.values(s.nodes || {}).reduce((n, x) => n + x.errors, 0) };
  }

  async function toggle(f, button) {
    button.disabled = true;
    try {
      const r = await put(`flows/v1/flow/${encodeURIComponent(f.id)}`, { enabled: !f.enabled });
      Object.assign(f, r.flow);
      notice(`Flow "${f.name}" ${f.enabled ? 'enabled' : 'disabled'}.`);
    } finally {
      draw();
    }
  }

  async function remove(f) {
    if (!confirmDanger(`Delete the flow "${f.name}"? This cannot be undone.`)) return;
    await del(`flows/v1/flow/${encodeURIComponent(f.id)}`);
    flows = flows.filter(x => x !== f);
    notice(`Flow "${f.name}" deleted.`);
    draw();
  }

  function draw() {
    const q = search.value.trim().toLowerCase();
    const rows = flows.filter(f => !q || (f.name || '').toLowerCase().includes(q));
    const key = f => sort.key === 'nodes' ? (f.flow || []).length : sort.key === 'runs' ? Number(counts(f)?.runs) || 0 : f[sort.key];
    rows.sort((a, b) => {
      const x = key(a), y = key(b);
      return (typeof x === 'string' ? x.localeCompare(y) : (x ?? 0) - (y ?? 0)) * sort.dir;
    });
    replace(body, table([
      { key: 'name', label: 'Name', render: f => h('a', { href: `#/flows/${encodeURIComponent(f.id)}` }, f.name || f.id) },
      {
        key: 'enabled', label: 'State', render: f => h('span', {}, h('span', { class: 'tag', dataset: { state: f.enabled ? 'on' : 'off' } }, f.enabled ? 'enabled' : 'disabled'), ' ',
          h('button', { type: 'button', 'aria-label': `${f.enabled ? 'Disable' : 'Enable'} ${f.name}`, onclick: e => guard(() => toggle(f, e.currentTarget)) }, f.enabled ? 'Disable' : 'Enable')),
      },
      { key: 'nodes', label: 'Nodes', render: f => String((f.flow || []).filter(n => n && n.type !== 'tab').length) },
      { key: 'runs', label: 'Runs', render: f => String(counts(f)?.runs ?? '…') },
      { key: 'errors', label: 'Errors', sort: false, render: f => { const c = counts(f); return c ? h('span', { class: c.errors > 0 ? 'bad' : null }, String(c.errors)) : '…'; } },
      { key: 'updated', label: 'Updated', render: f => time(f.updated) },
      { key: 'actions', label: 'Actions', sort: false, render: f => h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${f.name}`, onclick: () => guard(() => remove(f)) }, 'Delete') },
    ], rows, {
      sort, onSort: k => { sort = { key: k, dir: sort.key === k ? -sort.dir : 1 }; draw(); },
      empty: q ? 'No flow matches.' : 'No flows yet: start one with "New flow".',
      caption: `${rows.length} of ${flows.length} flows · runs and errors counted by this instance since it started`,
    }));
  }

  await load();
  return () => ctl.abort();
}
