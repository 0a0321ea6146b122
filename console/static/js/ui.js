// DOM helpers shared by the pages: building elements, showing errors and
// notices, forms with per-field errors, and sortable, paged tables.

// h builds an element: h('button', {class: 'primary', onclick: f}, 'Save').
// Attributes starting with "on" are listeners; false/null ones are left out;
// children may be strings, nodes, arrays or null.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string' && k !== 'list') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

// replace puts children in place of el's.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// showError puts an error where the user looks (the alert region, announced
// by screen readers), with a button to dismiss it.
export function showError(err, where) {
  const msg = typeof err === 'string' ? err : err?.message || String(err);
  if (err && typeof err === 'object' && err.name !== 'ApiError' && !('status' in err)) console.error(err);
  const box = h('div', { class: 'alert' }, h('span', {}, msg),
    h('button', { type: 'button', 'aria-label': 'Dismiss', onclick: () => box.remove() }, '×'));
  (where || document.getElementById('alerts')).append(box);
  return box;
}

// notice says something went well, briefly.
export function notice(msg) {
  const s = document.getElementById('status');
  const box = h('div', { class: 'notice' }, msg);
  s.append(box);
  setTimeout(() => box.remove(), 4000);
}

export function clearAlerts() {
  document.getElementById('alerts').replaceChildren();
}

// guard runs f, showing any error it throws; it answers f's result or
// undefined.
export async function guard(f, where) {
  try {
    return await f();
  } catch (e) {
    if (e?.name !== 'AbortError') showError(e, where);
  }
}

let fieldSeq = 0;
// field is a labelled input with room for its error: field('Label', 'label',
// h('input', {...})). The input gets the name and an id.
export function field(label, name, input, hint) {
  const id = `f${++fieldSeq}`;
  input.id = id;
  input.name = name;
  const err = h('div', { class: 'field-error', id: `${id}-err` });
  input.setAttribute('aria-describedby', `${id}-err`);
  return h('div', { class: 'field', dataset: { field: name } },
    h('label', { for: id }, label), input, hint ? h('div', { class: 'muted' }, hint) : null, err);
}

// fieldErrors shows an ApiError's per-field messages next to the form's
// fields of the same name; what matches no field goes to the alert region.
// It answers whether the error was shown.
export function fieldErrors(form, err) {
  for (const e of form.querySelectorAll('.field-error')) e.textContent = '';
  for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
  const fields = err?.fields;
  if (!fields) { showError(err); return false; }
  let first = null;
  const rest = [];
  for (const [name, msgs] of Object.entries(fields)) {
    const box = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    const text = Array.isArray(msgs) ? msgs.map(m => typeof m === 'string' ? m : JSON.stringify(m)).join(' ') : typeof msgs === 'string' ? msgs : JSON.stringify(msgs);
    if (!box) { rest.push(`${name}: ${text}`); continue; }
    box.querySelector('.field-error').textContent = text;
    const input = box.querySelector('input,select,textarea');
    if (input) { input.setAttribute('aria-invalid', 'true'); first ??= input; }
  }
  if (rest.length) showError(rest.join('; '));
  first?.focus();
  return true;
}

// table renders rows with sortable columns: columns are {key, label, render?,
// sort? (false to disable)}. sort is {key, dir: 1|-1}; onSort(key) is called
// when a header is clicked (the page decides whether sorting is the server's).
export function table(columns, rows, { sort, onSort, empty = 'Nothing here yet.', caption } = {}) {
  const head = h('tr', {}, columns.map(c => {
    const sorted = sort && sort.key === c.key;
    const ariaSort = sorted ? (sort.dir > 0 ? 'ascending' : 'descending') : null;
    const label = onSort && c.sort !== false
      ? h('button', { type: 'button', onclick: () => onSort(c.key) }, c.label, sorted ? (sort.dir > 0 ? ' ▲' : ' ▼') : '')
      : c.label;
    return h('th', { scope: 'col', 'aria-sort': ariaSort }, label);
  }));
  const body = rows.length
    ? rows.map(r => h('tr', {}, columns.map(c => h('td', {}, c.render ? c.render(r) : fmt(r[c.key])))))
    : [h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, empty))];
  return h('div', { class: 'table-wrap' }, h('table', {}, caption ? h('caption', { class: 'muted' }, caption) : null,
    h('thead', {}, head), h('tbody', {}, body)));
}

// pager is "Previous / page n of m / Next".
export function pager({ page, pages, total, onPage }) {
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    h('button', { type: 'button', disabled: page <= 1, onclick: () => onPage(page - 1) }, '‹ Previous'),
    h('span', {}, `Page ${page} of ${Math.max(pages, 1)}`, total !== undefined ? ` · ${total} in all` : ''),
    h('button', { type: 'button', disabled: page >= pages, onclick: () => onPage(page + 1) }, 'Next ›'));
}

// fmt shows a value in a cell.
export function fmt(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// time shows a date (ms, ISO text or Date) in the user's time zone.
export function time(v) {
  if (v === null || v === undefined || v === '') return '';
  const d = v instanceof Date ? v : new Date(v);
  return isNaN(d) ? String(v) : d.toLocaleString();
}

// confirmDanger asks before something that cannot be undone.
export function confirmDanger(what) {
  return window.confirm(what);
}

// download saves text as a file.
export function download(name, text, type = 'text/plain') {
  const a = h('a', { href: URL.createObjectURL(new Blob([text], { type })), download: name });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}
