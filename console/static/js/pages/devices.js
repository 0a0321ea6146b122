// The devices list (GET /device): search by label (and by id), a template
// filter, paging and sort (dojot's: by id or by label), each device's
// templates, attributes and times; delete. The first page after login.
import { get, del } from '../api.js';
import { h, time, guard, notice, confirmDanger } from '../ui.js';
import { listState, go, toolbar, pages, showList } from '../dm.js';

// A device id as dojot makes them (5-6 hex digits) or takes them (2-6):
// a search that looks like one also asks GET /device/:id.
const idLike = /^[0-9a-fA-F]{2,6}$/;

export default async function (main, params, query) {
  const st = listState(query);
  const ctl = new AbortController();
  const signal = ctl.signal;
  const path = '/devices';
  const results = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const filter = st.template ? h('span', { class: 'tag' }, 'Template ', h('span', { id: 'tpl-filter' }, '#' + st.template), ' ',
    h('button', { type: 'button', 'aria-label': 'Show devices of every template', style: 'padding:0 4px', onclick: () => go(path, { ...st, template: '', page: 1 }, 'search') }, '×')) : null;
  main.append(h('h1', {}, 'Devices'),
    toolbar({ path, st, searchLabel: 'Search by label or id', newHref: '#/devices/new', newText: 'New device', extra: filter }),
    results);

  async function load() {
    const q = { page_num: st.page, page_size: st.size, label: st.q, sortBy: st.sort || undefined, template: st.template || undefined };
    const byID = st.q && idLike.test(st.q) && st.page === 1 && !st.template
      ? get(`device/${encodeURIComponent(st.q)}`, null, { signal }).catch(e => { if (e.status === 404) return null; throw e; })
      : null;
    const [list, found] = await Promise.all([get('device', q, { signal }), byID]);
    const n = pages(list.pagination);
    if (st.page > n && n > 0) { // deleted meanwhile: the last page there is
      go(path, { ...st, page: n });
      return;
    }
    const devices = list.devices || [];
    if (found && !devices.some(d => d.id === found.id)) devices.unshift(found);
    const tplLabels = new Map(); // template id -> its tag elements
    const empty = st.q || st.template
      ? 'No device matches.'
      : h('span', {}, 'No devices yet. ', h('a', { href: '#/devices/new' }, 'Create one'), ' from a ', h('a', { href: '#/templates' }, 'template'), '.');
    showList(results, {
      path, st, pages: n, rows: devices, empty,
      caption: found ? `Device ${found.id} matches the id; the others match the label.` : null,
      columns: [
        { key: 'label', label: 'Label', render: d => h('a', { href: `#/devices/${encodeURIComponent(d.id)}` }, d.label || '(no label)') },
        { key: 'id', label: 'Id', render: d => h('span', { class: 'mono', style: 'white-space:nowrap' }, d.id) },
        { key: 'templates', label: 'Templates', sort: false, render: d => (d.templates || []).map(id => {
          const a = h('a', { class: 'tag', href: `#/templates/${id}` }, '#' + id);
          if (!tplLabels.has(id)) tplLabels.set(id, []);
          tplLabels.get(id).push(a);
          return [a, ' '];
        }) },
        { key: 'attrs', label: 'Attributes', sort: false, render: d => attrSummary(d) },
        { key: 'created', label: 'Created', sort: false, render: d => time(d.created) },
        { key: 'updated', label: 'Updated', sort: false, render: d => time(d.updated) },
        { key: 'actions', label: 'Actions', sort: false, render: d => [
          h('a', { href: `#/devices/${encodeURIComponent(d.id)}/edit`, 'aria-label': `Edit device ${d.label}` }, 'Edit'), ' ',
          h('button', { type: 'button', class: 'danger', 'aria-label': `Delete device ${d.label}`, onclick: () => remove(d) }, 'Delete'),
        ] },
      ],
    });
    // Template labels come after the list is shown: one read per template
    // the page uses, all at once.
    const ids = [...tplLabels.keys()];
    if (st.template && !ids.includes(Number(st.template))) ids.push(Number(st.template));
    await Promise.all(ids.map(id => get(`template/${id}`, null, { signal }).then(t => {
      for (const a of tplLabels.get(id) || []) a.textContent = t.label;
      if (String(id) === st.template) document.getElementById('tpl-filter').textContent = t.label;
    }, e => { if (e.status !== 404) throw e; })));
  }

  async function remove(d) {
    if (!confirmDanger(`Delete device "${d.label}" (${d.id})? Its data stays in the history; the device itself cannot be restored.`)) return;
    await guard(async () => {
      await del(`device/${encodeURIComponent(d.id)}`);
      notice(`Device ${d.label} (${d.id}) deleted.`);
      await load();
    });
  }

  await guard(load);
  return () => ctl.abort();
}

// attrSummary names a device's attributes, the first few (all of them,
// with their types, in the tooltip).
function attrSummary(d) {
  const all = Object.values(d.attrs || {}).flat();
  if (!all.length) return h('span', { class: 'muted' }, 'none');
  const more = all.length > 5 ? ` +${all.length - 5}` : '';
  return h('span', { title: all.map(a => `${a.label} (${a.type}, ${a.value_type})`).join('\n') }, all.slice(0, 5).map(a => a.label).join(', ') + more);
}
