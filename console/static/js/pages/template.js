// The template form (#/templates/:id, "new"): its label and attributes
// (dynamic, static, actuator, meta) with their metadata, as POST/PUT
// /template take them; the devices using it; delete. The DeviceManager
// validates: its messages are put next to the field they are about.
import { get, post, put, del } from '../api.js';
import { h, replace, field, guard, notice, confirmDanger, time } from '../ui.js';
import { placeErrors, clearErrors } from '../dm.js';
import { changeLog } from '../changelog.js';

const types = ['dynamic', 'static', 'actuator', 'meta'];
// What dojot's GUI offers; the API takes any text (an imported template's
// other value types are kept as they are).
const valueTypes = ['integer', 'float', 'bool', 'string', 'geo:point', 'object', 'json'];
// The DeviceManager's rule for an attribute's label (not a metadata's).
const attrLabel = /^[a-zA-Z0-9_-]+$/;
// Column sizes of dojot's attrs table, which the API enforces.
const maxLen = { label: 128, type: 32, value_type: 32, static_value: 128 };

export default async function (main, params) {
  const isNew = params.id === 'new';
  const ctl = new AbortController();
  const signal = ctl.signal;
  if (!isNew && !/^\d+$/.test(params.id)) {
    main.append(h('h1', {}, 'Template not found'), h('p', {}, 'No template has the id ', h('code', {}, params.id), '. ', h('a', { href: '#/templates' }, 'Templates')));
    return;
  }
  main.append(h('h1', {}, isNew ? 'New template' : 'Template'), h('p', { class: 'muted' }, 'Loading…'));
  const [tpl, users] = isNew ? [null, null] : await Promise.all([
    get(`template/${params.id}`, null, { signal }),
    get(`device/template/${params.id}`, { page_size: 20 }, { signal }),
  ]);

  // The form's model: the template's attributes as the user edits them.
  let label = tpl?.label ?? '';
  let attrs = (tpl?.attrs ?? []).map(copy);
  const attrsBox = h('div', {});
  const save = h('button', { class: 'primary', type: 'submit' }, isNew ? 'Create template' : 'Save');
  const labelInput = h('input', { value: label, autocomplete: 'off', 'aria-required': 'true', size: 40, oninput: () => { label = labelInput.value; } });
  const addAttr = h('button', { type: 'button', onclick: () => { attrs.push(blank('dynamic')); draw(`attrs.${attrs.length - 1}.label`); } }, 'Add attribute');
  const form = h('form', { class: 'panel', novalidate: true, onsubmit: submit },
    field('Label', 'label', labelInput),
    h('div', { dataset: { field: 'attrs' } },
      h('h2', {}, 'Attributes'),
      h('p', { class: 'muted' }, 'Dynamic: readings the device sends. Static: a fixed value (a device may have its own). Actuator: what the device can be told to set. Meta: configuration.'),
      h('div', { class: 'field-error' }),
      attrsBox),
    h('div', { class: 'toolbar' }, addAttr),
    h('div', { class: 'toolbar' }, save,
      isNew ? null : h('button', { type: 'button', class: 'danger', onclick: remove }, 'Delete template'),
      h('a', { href: '#/templates' }, 'Back to templates')));

  replace(main,
    h('h1', {}, isNew ? 'New template' : `Template ${tpl.label}`),
    isNew ? null : h('p', { class: 'muted' }, `Id ${tpl.id} · created ${time(tpl.created)}`, tpl.updated ? ` · updated ${time(tpl.updated)}` : ''),
    form,
    isNew ? null : usedBy(tpl, users),
    isNew ? null : changeLog(`template/${tpl.id}`, { signal }));

  // draw renders the attributes from the model, then focuses focus: the
  // input of that name (the row just added) or an element (after a
  // removal, the button that adds).
  function draw(focus) {
    replace(attrsBox, attrs.length ? attrs.map((a, i) => attrRow(a, i)) : h('p', { class: 'muted' }, 'No attributes yet.'));
    const el = typeof focus === 'string' ? form.querySelector(`[name="${CSS.escape(focus)}"]`) : focus;
    el?.focus();
  }

  function attrRow(a, i) {
    const name = `attrs.${i}`;
    const n = i + 1;
    return h('fieldset', { class: 'panel', style: 'background:var(--bg)' },
      h('legend', { style: 'font-weight:600' }, `Attribute ${n}`),
      inputs(a, name, `Attribute ${n}`, false),
      h('div', { dataset: { field: `${name}.metadata` }, style: 'margin-left:16px' },
        h('div', { class: 'field-error' }), // the first: fieldErrors writes there
        (a.metadata || []).map((m, j) => h('div', { style: 'border-left:3px solid var(--line);padding-left:8px;margin:6px 0' },
          h('div', { class: 'muted' }, `Metadata ${j + 1} of attribute ${n}`),
          inputs(m, `${name}.metadata.${j}`, `Attribute ${n} metadata ${j + 1}`, true),
          h('button', { type: 'button', onclick: () => { a.metadata.splice(j, 1); draw(`${name}.label`); } }, `Remove metadata ${j + 1} of attribute ${n}`)))),
      h('div', { class: 'toolbar' },
        h('button', { type: 'button', onclick: () => { (a.metadata ??= []).push(blank('meta')); draw(`${name}.metadata.${a.metadata.length - 1}.label`); } }, `Add metadata to attribute ${n}`),
        h('button', { type: 'button', class: 'danger', onclick: () => { attrs.splice(i, 1); draw(addAttr); } }, `Remove attribute ${n}`)));
  }

  // inputs are an attribute's (or a metadata's) four fields; each control
  // is named for its row, so a screen reader (and a test) tells them apart.
  function inputs(a, name, who, meta) {
    const text = (k, what) => {
      const el = h('input', { value: a[k] ?? '', autocomplete: 'off', 'aria-label': `${who} ${what}`, oninput: () => { a[k] = el.value; } });
      return el;
    };
    const choose = (k, what, options, none) => {
      const all = a[k] && !options.includes(a[k]) ? [...options, a[k]] : options;
      const el = h('select', { 'aria-label': `${who} ${what}`, onchange: () => { a[k] = el.value; } },
        none ? h('option', { value: '', selected: !a[k] }, none) : null,
        all.map(o => h('option', { value: o, selected: a[k] === o }, o)));
      return el;
    };
    return h('div', { class: 'grid', style: 'grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:0 12px' },
      field('Label', `${name}.label`, text('label', 'label'), meta ? null : 'Letters, digits, - and _'),
      field('Type', `${name}.type`, choose('type', 'type', types)),
      field('Value type', `${name}.value_type`, choose('value_type', 'value type', valueTypes, 'Choose…')),
      field('Static value', `${name}.static_value`, text('static_value', 'static value'), meta ? null : 'For static attributes'));
  }

  // body is what POST/PUT /template take. Empty fields are left out, so
  // that the API says what is missing, next to it; metadata is always sent,
  // since a PUT without it keeps the attribute's metadata as it was.
  function body() {
    const b = { attrs: attrs.map(a => ({ ...clean(a), metadata: (a.metadata || []).map(clean) })) };
    if (label.trim()) b.label = label.trim();
    return b;
  }

  async function submit(e) {
    e.preventDefault();
    save.disabled = true;
    try {
      if (isNew) {
        const r = await post('template', body());
        notice(`Template ${r.template.label} created.`);
        location.hash = `#/templates/${r.template.id}`;
        return;
      }
      const r = await put(`template/${tpl.id}`, body());
      attrs = r.updated.attrs.map(copy);
      draw();
      clearErrors(form);
      main.querySelector('h1').textContent = `Template ${r.updated.label}`;
      tpl.label = r.updated.label;
      notice('Template saved.');
    } catch (err) {
      placeErrors(form, err, {
        mapFields: f => err.message === 'failed to parse attr' ? attrFields(attrs, f) : f,
        rules: [
          [/attribute constraints|attrs_template_id_type_label_key/, () => repeated(attrs)],
          [/character varying/, () => tooLong(label, attrs)],
          [/standing conflicts/, 'attrs'],
        ],
      });
    } finally {
      save.disabled = false;
    }
  }

  async function remove() {
    if (!confirmDanger(`Delete template "${tpl.label}" (${tpl.id})?`)) return;
    await guard(async () => {
      await del(`template/${tpl.id}`);
      notice(`Template ${tpl.label} deleted.`);
      location.hash = '#/templates';
    });
  }

  draw();
  labelInput.focus();
  return () => ctl.abort();
}

function blank(type) {
  return { label: '', type, value_type: '', static_value: '' };
}

function copy(a) {
  return {
    label: a.label, type: a.type, value_type: a.value_type, static_value: a.static_value ?? '',
    metadata: (a.metadata || []).map(m => ({ label: m.label, type: m.type, value_type: m.value_type, static_value: m.static_value ?? '' })),
  };
}

function clean(a) {
  const o = {};
  for (const k of ['label', 'type', 'value_type', 'static_value']) {
    const v = (a[k] ?? '').trim();
    if (v) o[k] = v;
  }
  return o;
}

// attrFields places a "failed to parse attr" answer. The API checks the
// attributes in order and answers for the first that fails, without saying
// which: it is the first whose fields are wrong in the way the messages
// say (the form sends strings and leaves out empty fields, so a message is
// about an empty field or, for a label, one of other characters).
function attrFields(attrs, errs) {
  const bad = (a, k, msgs, meta) => {
    if (k === 'metadata') {
      if (Array.isArray(msgs)) { // repeated metadata labels
        const ls = (a.metadata || []).map(m => m.label.trim());
        return ls.some((l, i) => ls.indexOf(l) !== i);
      }
      return Object.entries(msgs).every(([j, e]) => a.metadata?.[j] && Object.entries(e).every(([k2, m2]) => bad(a.metadata[j], k2, m2, true)));
    }
    const v = (a[k] ?? '').trim();
    if (k === 'label') return !v || (!meta && !attrLabel.test(v));
    return !v;
  };
  const all = a => Object.entries(errs).every(([k, m]) => bad(a, k, m, false));
  const any = a => Object.entries(errs).some(([k, m]) => bad(a, k, m, false));
  let i = attrs.findIndex(all);
  if (i < 0) i = attrs.findIndex(any);
  if (i < 0) return { attrs: Object.entries(errs).map(([k, m]) => `${k}: ${JSON.stringify(m)}`) };
  const out = {};
  for (const [k, m] of Object.entries(errs)) {
    if (k === 'metadata' && !Array.isArray(m)) {
      for (const [j, e] of Object.entries(m)) for (const [k2, m2] of Object.entries(e)) out[`attrs.${i}.metadata.${j}.${k2}`] = m2;
    } else {
      out[`attrs.${i}.${k}`] = m;
    }
  }
  return out;
}

// repeated names the label of the first attribute that repeats an earlier
// one's label and type (dojot's unique constraint).
function repeated(attrs) {
  const key = a => `${a.label.trim()}\u0000${a.type}`;
  const i = attrs.findIndex((a, i) => attrs.findIndex(b => key(b) === key(a)) < i);
  return i < 0 ? 'attrs' : `attrs.${i}.label`;
}

// tooLong names the first field over its column's size.
function tooLong(label, attrs) {
  if (label.trim().length > maxLen.label) return 'label';
  const over = (a, name) => {
    const k = Object.keys(maxLen).find(k => (a[k] ?? '').trim().length > maxLen[k]);
    return k && `${name}.${k}`;
  };
  for (const [i, a] of attrs.entries()) {
    const f = over(a, `attrs.${i}`) || (a.metadata || []).map((m, j) => over(m, `attrs.${i}.metadata.${j}`)).find(Boolean);
    if (f) return f;
  }
  return 'attrs';
}

// usedBy lists the devices using the template (its first page).
function usedBy(tpl, users) {
  const devs = users?.devices || [];
  return h('section', { 'aria-labelledby': 'used-by' },
    h('h2', { id: 'used-by' }, 'Devices using this template'),
    devs.length
      ? h('ul', {}, devs.map(d => h('li', {}, h('a', { href: `#/devices/${encodeURIComponent(d.id)}` }, d.label), ' ', h('span', { class: 'mono muted' }, d.id))))
      : h('p', { class: 'muted' }, 'None: it can be deleted.'),
    users?.pagination?.has_next ? h('p', {}, h('a', { href: `#/devices?template=${tpl.id}` }, 'All of them')) : null,
    h('p', {}, h('a', { href: `#/devices/new?template=${tpl.id}` }, 'New device of this template')));
}
