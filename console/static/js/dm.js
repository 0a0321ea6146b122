// What the devices and templates pages share: a list's state kept in the
// hash's query (so reload and back keep the search, page and sort), its
// toolbar, and putting the DeviceManager's messages next to their fields.
import { h, replace, table, pager, fieldErrors } from './ui.js';

export const pageSizes = [10, 20, 50, 100];

// listState reads a list's state from the hash's query: q (search), page,
// size, sort ('' for dojot's id order, 'label') and template (a filter).
export function listState(query) {
  const page = parseInt(query.get('page'), 10);
  const size = parseInt(query.get('size'), 10);
  return {
    q: (query.get('q') || '').trim(),
    page: page >= 1 ? page : 1,
    size: pageSizes.includes(size) ? size : 20,
    sort: query.get('sort') === 'label' ? 'label' : '',
    template: /^\d+$/.test(query.get('template') || '') ? query.get('template') : '',
  };
}

// listHash is the hash of path with state st, defaults left out.
export function listHash(path, st) {
  const p = new URLSearchParams();
  if (st.q) p.set('q', st.q);
  if (st.template) p.set('template', st.template);
  if (st.sort) p.set('sort', st.sort);
  if (st.size !== 20) p.set('size', st.size);
  if (st.page > 1) p.set('page', st.page);
  const s = p.toString();
  return '#' + path + (s ? '?' + s : '');
}

// The router renders the page anew on every hash change; focusNext names
// the control (data-focus) that had the focus, so a keyboard user stays on
// it (on "Next", say) rather than being sent back to the top.
let focusNext = '';

// go shows the list in state st; focus names the control to focus after.
export function go(path, st, focus = '') {
  focusNext = focus;
  const hash = listHash(path, st);
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

// restoreFocus focuses the control go named, once.
export function restoreFocus(root) {
  const want = focusNext;
  focusNext = '';
  if (!want) return;
  // On the last page "Next" is disabled: "Previous" is the pager's button.
  const other = { next: 'prev', prev: 'next' }[want] || 'search';
  for (const name of [want, other, 'search']) {
    const el = root.querySelector(`[data-focus="${name}"]`);
    if (el && !el.disabled) return el.focus();
  }
}

// toolbar is a list's search form, page size and "New" link.
export function toolbar({ path, st, searchLabel, newHref, newText, extra }) {
  const input = h('input', { type: 'search', value: st.q, 'aria-label': searchLabel, placeholder: searchLabel, dataset: { focus: 'search' }, size: 28 });
  const size = h('select', {
    'aria-label': 'Rows per page', dataset: { focus: 'size' },
    onchange: () => go(path, { ...st, size: Number(size.value), page: 1 }, 'size'),
  }, pageSizes.map(n => h('option', { value: String(n), selected: n === st.size }, `${n} per page`)));
  return h('div', { class: 'toolbar' },
    h('form', {
      role: 'search', class: 'toolbar', style: 'margin:0',
      onsubmit: e => { e.preventDefault(); go(path, { ...st, q: input.value.trim(), page: 1 }, 'search'); },
    }, input, h('button', { type: 'submit' }, 'Search'),
    st.q ? h('button', { type: 'button', onclick: () => go(path, { ...st, q: '', page: 1 }, 'search') }, 'Clear') : null),
    extra || null, size,
    h('a', { class: 'button primary', href: newHref, style: 'margin-left:auto' }, newText));
}

// pages is how many pages dojot's pagination says there are ("total" is
// a number of pages, not of items).
export function pages(pagination) {
  return pagination?.total ?? 1;
}

// showList draws a list's page in results: the table, sortable by label
// or id (the orders the API has; sorted names the one it applied when it
// differs from the one asked for), and the pager; then gives the focus
// back to the control that asked for this page.
export function showList(results, { path, st, pages: n, columns, rows, empty, caption, sorted }) {
  replace(results,
    table(columns, rows, {
      sort: { key: sorted || (st.sort === 'label' ? 'label' : 'id'), dir: 1 }, empty, caption,
      onSort: key => go(path, { ...st, sort: key === 'label' ? 'label' : '', page: 1 }, 'sort-' + key),
    }),
    pager({ page: st.page, pages: n, onPage: p => go(path, { ...st, page: p }, p > st.page ? 'next' : 'prev') }));
  for (const b of results.querySelectorAll('th button')) b.dataset.focus = 'sort-' + (b.textContent.startsWith('Label') ? 'label' : 'id');
  const [prev, next] = results.querySelectorAll('.pager button');
  prev.dataset.focus = 'prev';
  next.dataset.focus = 'next';
  restoreFocus(results.closest('main') || document.body);
}

// clearErrors empties a form's error slots (after it was saved).
export function clearErrors(form) {
  for (const e of form.querySelectorAll('.field-error')) e.textContent = '';
  for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
}

// placeErrors shows err next to the form's fields: the API's per-field
// messages (mapped by mapFields when the form names its fields otherwise),
// or a plain message that rules ([regexp, field name or fn(msg)]) say
// belongs to a field; anything else goes to the alert region.
export function placeErrors(form, err, { rules = [], mapFields } = {}) {
  let fields = err?.fields;
  if (fields && mapFields) fields = mapFields(fields, err);
  if (!fields && err?.status >= 400 && err.status < 500) {
    for (const [re, name] of rules) {
      if (!re.test(err.message)) continue;
      const n = typeof name === 'function' ? name(err.message) : name;
      if (n) fields = { [n]: [err.message] };
      break;
    }
  }
  return fieldErrors(form, fields ? { fields, message: err.message } : err);
}
