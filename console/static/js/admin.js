// What the administration pages (users, groups, tenants) share. dojot's
// auth answers an empty list with 404 and its errors are sentences, not
// per-field objects: lists read the 404 as empty, and a form's error is put
// next to the field its sentence names.
import { get } from './api.js';
import { h, field, guard, fieldErrors, showError, table, time } from './ui.js';

// list answers the items of an auth list ({"users": [...]}): [] for its 404
// "No results found with these filters".
export async function list(path, key, query) {
  try {
    return (await get(path, query))[key] ?? [];
  } catch (e) {
    if (e.status === 404 && /no results/i.test(e.message)) return [];
    throw e;
  }
}

// firstRead runs a page's first read: on failure the error is shown (a 403
// says whose rights the page needs: the PDP decides, not the profile) and it answers false, so that the page
// offers no form its reader may not use.
export async function firstRead(f) {
  try {
    await f();
    return true;
  } catch (e) {
    showError(e.status === 403 ? `${e.message}: managing users, groups and tenants needs the rights of group admin.` : e);
    return false;
  }
}

// Which field an auth error's sentence is about: the first rule whose
// pattern matches names it.
export const userRules = [[/username/i, 'username'], [/service/i, 'service'], [/e-?mail/i, 'email'],
  [/profile/i, 'profile'], [/name/i, 'name']];
export const groupRules = [[/description/i, 'description'], [/name/i, 'name']];
// "<pattern> is not a valid regular expression." names the field by its value.
const badRegex = name => (msg, form) => / is not a valid regular expression/.test(msg) && msg.startsWith(form.elements[name]?.value + ' is not');
export const permissionRules = [[badRegex('method'), 'method'], [badRegex('path'), 'path'], [/method/i, 'method'],
  [/path/i, 'path'], [/access control rule/i, 'permission'], [/name/i, 'name']];

// formError shows err next to the field of form its message names (a 4xx
// other than 401/403), else in the alert region.
export function formError(form, err, rules) {
  const s = err?.status;
  const rule = s >= 400 && s < 500 && s !== 401 && s !== 403 &&
    rules.find(([test]) => typeof test === 'function' ? test(err.message, form) : test.test(err.message));
  return fieldErrors(form, rule ? { fields: { [rule[1]]: [err.message] } } : err);
}

// clearErrors takes a form's field errors away.
export function clearErrors(form) {
  for (const e of form.querySelectorAll('.field-error')) e.textContent = '';
  for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
}

// submitting runs f for a form's submit, its submit button disabled
// meanwhile; f's error goes to formError.
export function submitting(rules, f) {
  return async e => {
    e.preventDefault();
    const form = e.currentTarget;
    const button = form.querySelector('[type=submit]');
    if (button) button.disabled = true;
    try {
      clearErrors(form);
      await f(form);
    } catch (err) {
      formError(form, err, rules);
    } finally {
      if (button) button.disabled = false;
    }
  };
}

// clicking runs f for a button, disabled meanwhile, showing its error.
export function clicking(f) {
  return async e => {
    const b = e.currentTarget;
    b.disabled = true;
    await guard(f);
    b.disabled = false;
  };
}

// utc shows auth's dates (naive UTC: "2026-01-02 10:00:00.123456" or with a
// "T") in the user's time zone.
export const utc = v => (v ? time(v.replace(' ', 'T') + 'Z') : '');

// relation is a list of related items, each with a Remove button, and a
// form to add one of choices ([{value, label}]).
export function relation({ title, items, columns, choices, pick, add, onAdd, onRemove, name, empty }) {
  const sel = h('select', { required: true }, h('option', { value: '' }, '— choose —'),
    choices.map(c => h('option', { value: c.value }, c.label)));
  const cols = [...columns, {
    key: 'remove', label: 'Actions', render: it => h('button', {
      type: 'button', class: 'danger', 'aria-label': `Remove ${name(it)} (${title})`, onclick: clicking(() => onRemove(it)),
    }, 'Remove'),
  }];
  return h('section', { class: 'panel', 'aria-label': title }, h('h3', {}, title),
    table(cols, items, { empty }),
    h('form', { class: 'toolbar', onsubmit: submitting([], () => onAdd(sel.value)) },
      field(pick, 'pick', sel), h('button', { type: 'submit' }, add)));
}

// permissionColumns show a permission's rule.
export const permissionColumns = [
  { key: 'name', label: 'Name' },
  { key: 'path', label: 'Path (regex)', render: p => h('code', { class: 'mono' }, p.path) },
  { key: 'method', label: 'Method (regex)', render: p => h('code', { class: 'mono' }, p.method) },
  { key: 'permission', label: 'Decision', render: p => h('span', { class: 'tag' }, p.permission) },
];

// sorted sorts rows by sort.key (numbers as numbers).
export function sorted(rows, sort) {
  const k = sort.key;
  return [...rows].sort((a, b) => {
    const x = a[k] ?? '', y = b[k] ?? '';
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
    return c * sort.dir;
  });
}
