// The templates list (GET /template): search by label, paging and sort
// (dojot's: by id or by label), each template's attributes and its
// devices; delete (refused by the API while devices use it).
import { get, del } from '../api.js';
import { h, time, guard, notice, confirmDanger } from '../ui.js';
import { listState, go, toolbar, pages, showList } from '../dm.js';

export default async function (main, params, query) {
  const st = listState(query);
  const ctl = new AbortController();
  const path = '/templates';
  const results = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  main.append(h('h1', {}, 'Templates'),
    toolbar({ path, st, searchLabel: 'Search by label', newHref: '#/templates/new', newText: 'New template' }),
    results);

  async function load() {
    const list = await get('template', { page_num: st.page, page_size: st.size, label: st.q, sortBy: st.sort || undefined, attr_format: 'single' }, { signal: ctl.signal });
    const n = pages(list.pagination);
    if (st.page > n && n > 0) {
      go(path, { ...st, page: n });
      return;
    }
    showList(results, {
      path, st, pages: n, rows: list.templates || [],
      columns: [
        { key: 'label', label: 'Label', render: t => h('a', { href: `#/templates/${t.id}` }, t.label || '(no label)') },
        { key: 'id', label: 'Id', render: t => h('span', { class: 'mono' }, t.id) },
        { key: 'attrs', label: 'Attributes', sort: false, render: t => (t.attrs || []).length
          ? (t.attrs || []).map(a => [h('span', { class: 'tag', title: `${a.type}, ${a.value_type}${a.static_value !== undefined ? ` = ${a.static_value}` : ''}` }, `${a.label} · ${a.type}`), ' '])
          : h('span', { class: 'muted' }, 'none') },
        { key: 'devices', label: 'Devices', sort: false, render: t => h('a', { href: `#/devices?template=${t.id}`, 'aria-label': `Devices of template ${t.label}` }, 'Devices') },
        { key: 'created', label: 'Created', sort: false, render: t => time(t.created) },
        { key: 'updated', label: 'Updated', sort: false, render: t => time(t.updated) },
        { key: 'actions', label: 'Actions', sort: false, render: t => h('button', { type: 'button', class: 'danger', 'aria-label': `Delete template ${t.label}`, onclick: () => remove(t) }, 'Delete') },
      ],
      empty: st.q ? 'No template matches.' : h('span', {}, 'No templates yet. ', h('a', { href: '#/templates/new' }, 'Create one'), ': a device gets its attributes from its templates.'),
      // dojot orders a filtered list by id whatever sortBy says.
      sorted: st.q ? 'id' : '',
      caption: st.q && st.sort === 'label' ? 'Sorted by id: the API orders a search by id.' : null,
    });
  }

  async function remove(t) {
    if (!confirmDanger(`Delete template "${t.label}" (${t.id})?`)) return;
    await guard(async () => {
      await del(`template/${t.id}`);
      notice(`Template ${t.label} deleted.`);
      await load();
    });
  }

  await guard(load);
  return () => ctl.abort();
}
