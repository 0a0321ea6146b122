// The device form (#/devices/new, #/devices/:id/edit): label, an optional
// id on creation, the templates (POST/PUT /device's "templates"), and the
// device's own static values (its "attrs" overrides: a static attribute's
// value, or an attribute's metadata value, in place of the template's).
// The DeviceManager validates; its messages are shown next to the fields.
import { get, post, put } from '../api.js';
import { h, replace, field, guard, notice } from '../ui.js';
import { placeErrors } from '../dm.js';

// How many templates the form loads at once; past that, the filter asks
// the server (label=) for the rest.
const loadSize = 200;

export default async function (main, params, query) {
  const id = params.id;
  const editing = id !== undefined;
  const ctl = new AbortController();
  const signal = ctl.signal;
  main.append(h('h1', {}, editing ? 'Edit device' : 'New device'), h('p', { class: 'muted' }, 'Loading…'));

  const [dev, list] = await Promise.all([
    editing ? get(`device/${encodeURIComponent(id)}`, null, { signal }) : null,
    get('template', { page_size: loadSize, sortBy: 'label', attr_format: 'single' }, { signal }),
  ]);
  const known = new Map(); // template id -> template
  for (const t of list.templates) known.set(t.id, t);
  const more = list.pagination?.has_next;
  // The templates chosen, in the order chosen: the device's, or the one
  // of #/devices/new?template=<id>. Those past the first page are read one
  // by one.
  const selected = editing ? [...dev.templates] : /^\d+$/.test(query.get('template') || '') ? [Number(query.get('template'))] : [];
  const missing = selected.filter(t => !known.has(t));
  for (const t of await Promise.all(missing.map(t => get(`template/${t}`, null, { signal })))) known.set(t.id, t);

  // values holds the static values typed, by input name, so that they
  // survive the section being drawn again when templates change.
  const values = new Map();
  for (const [tid, attrs] of Object.entries(dev?.attrs || {})) {
    for (const a of attrs) {
      if (a.is_static_overridden) values.set(`attr.${tid}.${a.id}`, a.static_value ?? '');
      for (const m of a.metadata || []) if (m.is_static_overridden) values.set(`meta.${tid}.${a.id}.${m.id}`, m.static_value ?? '');
    }
  }

  const label = h('input', { value: dev?.label ?? '', autocomplete: 'off', 'aria-required': 'true', size: 40 });
  const idInput = h('input', { autocomplete: 'off', size: 10, class: 'mono' });
  const filter = h('input', { type: 'search', 'aria-label': 'Filter templates by label', placeholder: 'Filter templates', oninput: () => filterTemplates() });
  const choices = h('div', { style: 'max-height:16em;overflow-y:auto;border:1px solid var(--line);border-radius:6px;padding:4px 8px;background:var(--bg)' });
  const statics = h('div', {});
  const save = h('button', { class: 'primary', type: 'submit' }, editing ? 'Save' : 'Create device');
  const back = editing ? `#/devices/${encodeURIComponent(id)}` : '#/devices';

  const form = h('form', { class: 'panel', novalidate: true, onsubmit: submit },
    field('Label', 'label', label),
    editing
      ? h('div', { class: 'field' }, h('div', { style: 'font-weight:600' }, 'Id'), h('span', { class: 'mono' }, id), h('span', { class: 'muted' }, ' (a device keeps its id)'))
      : field('Id', 'id', idInput, 'Optional: 2 to 6 hexadecimal digits; left empty, the platform picks one.'),
    h('fieldset', { class: 'field', dataset: { field: 'templates' }, style: 'border:none;padding:0;margin:8px 0' },
      h('legend', { style: 'font-weight:600' }, 'Templates'),
      h('div', { class: 'muted' }, 'The device gets the attributes of every template chosen.'),
      known.size > 8 || more ? h('div', { style: 'margin:4px 0' }, filter) : null,
      choices,
      h('div', { class: 'field-error', id: 'templates-err' })),
    h('div', { class: 'field', dataset: { field: 'attrs' } },
      h('h2', {}, 'Static values'),
      h('div', { class: 'muted' }, 'This device\'s own values for its templates\' static attributes and metadata; left empty, the template\'s value applies.'),
      h('div', { class: 'field-error' }),
      statics),
    h('div', { class: 'toolbar' }, save, h('a', { href: back }, 'Cancel')));
  replace(main, h('h1', {}, editing ? `Edit device ${dev.label}` : 'New device'), form);

  function drawChoices(shown) {
    const items = shown.map(t => {
      const box = h('input', {
        type: 'checkbox', value: String(t.id), checked: selected.includes(t.id),
        onchange: () => {
          const i = selected.indexOf(t.id);
          if (box.checked && i < 0) selected.push(t.id);
          if (!box.checked && i >= 0) selected.splice(i, 1);
          drawStatics();
        },
      });
      return h('label', { style: 'font-weight:400;display:flex;gap:6px;align-items:baseline;margin:2px 0' }, box, t.label,
        h('span', { class: 'muted' }, `#${t.id} · ${plural((t.attrs || []).length, 'attribute')}`));
    });
    replace(choices, items.length ? items : h('p', { class: 'muted' }, known.size ? 'No template matches.' : h('span', {}, 'No templates yet: ', h('a', { href: '#/templates/new' }, 'create one'), ' first.')));
  }

  let filterSeq = 0;
  async function filterTemplates() {
    const f = filter.value.trim().toLowerCase();
    const match = t => !f || t.label.toLowerCase().includes(f);
    const shown = () => [...known.values()].filter(t => match(t) || selected.includes(t.id)).sort((a, b) => a.label.localeCompare(b.label) || a.id - b.id);
    drawChoices(shown());
    if (!more || !f) return;
    const n = ++filterSeq;
    await new Promise(r => setTimeout(r, 250)); // while typing, one request
    if (n !== filterSeq) return;
    await guard(async () => {
      const r = await get('template', { label: filter.value.trim(), page_size: 50, attr_format: 'single' }, { signal });
      for (const t of r.templates) known.set(t.id, t);
      if (n === filterSeq) drawChoices(shown());
    });
  }

  function drawStatics() {
    const rows = [];
    for (const tid of selected) {
      const t = known.get(tid);
      if (!t) continue;
      for (const a of t.attrs || []) {
        if (a.type === 'static') rows.push(staticInput(`attr.${tid}.${a.id}`, `${a.label}`, t, a.static_value));
        for (const m of a.metadata || []) rows.push(staticInput(`meta.${tid}.${a.id}.${m.id}`, `${a.label} › ${m.label}`, t, m.static_value));
      }
    }
    replace(statics, rows.length ? h('div', { class: 'grid' }, rows) : h('p', { class: 'muted' }, 'The templates chosen have no static attribute or metadata.'));
  }

  function staticInput(name, text, t, def) {
    const input = h('input', { value: values.get(name) ?? '', placeholder: def ?? '', oninput: () => values.set(name, input.value) });
    return field(`${text} (${t.label})`, name, input, def !== undefined && def !== null ? `Template's value: ${def}` : 'No value in the template.');
  }

  // body is what POST/PUT /device take. Empty fields are left out, so that
  // the API says what is missing.
  function body() {
    const b = { templates: [...selected] };
    if (label.value.trim()) b.label = label.value.trim();
    if (!editing && idInput.value.trim()) b.id = idInput.value.trim();
    const attrs = [];
    for (const tid of selected) {
      for (const a of known.get(tid)?.attrs || []) {
        const v = a.type === 'static' ? values.get(`attr.${tid}.${a.id}`) ?? '' : '';
        const metadata = (a.metadata || []).map(m => ({ id: m.id, static_value: values.get(`meta.${tid}.${a.id}.${m.id}`) ?? '' })).filter(m => m.static_value !== '');
        if (v === '' && !metadata.length) continue;
        const o = { label: a.label, id: a.id, template_id: String(tid) };
        if (v !== '') o.static_value = v;
        if (metadata.length) o.metadata = metadata;
        attrs.push(o);
      }
    }
    b.attrs = attrs;
    return b;
  }

  async function submit(e) {
    e.preventDefault();
    save.disabled = true;
    try {
      let to = id;
      if (editing) await put(`device/${encodeURIComponent(id)}`, body());
      else to = (await post('device', body())).devices[0].id;
      notice(editing ? 'Device saved.' : `Device ${to} created.`);
      location.hash = `#/devices/${encodeURIComponent(to)}`;
    } catch (err) {
      placeErrors(form, err, {
        rules: [
          [/Device ID|devices_pkey/, 'id'],
          [/template|device_template_pkey/i, 'templates'],
          [/override list|repeated attributes|missing label attribute/, 'attrs'],
          [/character varying/, () => label.value.trim().length > 128 ? 'label' : 'attrs'],
        ],
      });
    } finally {
      save.disabled = false;
    }
  }

  drawChoices([...known.values()].sort((a, b) => a.label.localeCompare(b.label) || a.id - b.id));
  drawStatics();
  label.focus();
  return () => ctl.abort();
}

function plural(n, what) {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}
