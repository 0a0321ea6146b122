// The change log of a device or a template (GET <path>/events, ours): what
// happened to it, newest first, a page at a time. The answer's next_before
// is the cursor of the next, older page; the newer ones are kept to go back.
import { get } from './api.js';
import { h, replace, table, fmt, time, showError } from './ui.js';

// changeLog answers the panel for path ("device/ab12", "template/3").
export function changeLog(path, { signal } = {}) {
  const p = h('section', { class: 'panel wide', 'aria-labelledby': 'p-change-log' }, h('h2', { id: 'p-change-log' }, 'Change log'));
  const box = h('div');
  p.append(box);
  const cursors = [0]; // before= of each page seen; 0: the newest
  const load = async n => {
    try {
      const r = await get(`${path}/events`, { limit: 20, before: cursors[n] || undefined }, { signal });
      const events = r?.events || [];
      const more = r?.pagination?.has_more;
      if (more) cursors[n + 1] = r.pagination.next_before;
      replace(box, table([
        { key: 'time', label: 'Time', render: e => time(e.time) },
        { key: 'type', label: 'Event', render: e => h('span', { class: 'tag' }, e.type) },
        { key: 'actor', label: 'By', render: e => fmt(e.actor) },
        { key: 'changes', label: 'What changed', render: changes },
      ], events, { empty: 'No event recorded.', caption: 'Newest first' }),
      n > 0 || more ? h('nav', { class: 'pager', 'aria-label': 'Change log pages' },
        h('button', { type: 'button', disabled: n === 0, onclick: () => load(n - 1) }, '‹ Newer'),
        h('span', {}, `Page ${n + 1}`),
        h('button', { type: 'button', disabled: !more, onclick: () => load(n + 1) }, 'Older ›')) : null);
    } catch (e) {
      if (e?.name !== 'AbortError') showError(`Change log: ${e?.message || e}`);
    }
  };
  load(0);
  return p;
}

// changes lists an event's members as old → new; a list of items (a
// template's attributes, a device's overrides) item by item.
function changes(e) {
  const list = Object.entries(e.changes || {});
  return h('div', {},
    e.cause ? h('div', { class: 'muted' }, e.cause) : null,
    e.previous_unknown ? h('div', { class: 'muted' }, 'New values (the state before is too far back in the log).') : null,
    list.length ? h('ul', { class: 'changes' }, list.map(([k, c]) => {
      const items = itemChanges(c);
      return h('li', {}, h('strong', {}, k), ': ', items
        ? h('ul', {}, items.map(i => h('li', { class: 'mono' }, i)))
        : h('span', { class: 'mono' }, 'old' in c && 'new' in c ? `${short(c.old)} → ${short(c.new)}` : 'new' in c ? short(c.new) : `removed (was ${short(c.old)})`));
    })) : null);
}

const short = v => {
  const s = JSON.stringify(v);
  return s === undefined ? '' : s.length > 120 ? s.slice(0, 120) + '…' : s;
};

const isItem = v => v && typeof v === 'object' && !Array.isArray(v);

// itemChanges reads a list member's change (the API gives the items that
// differ: old ones changed or removed, new ones changed or added) as one
// line an item, or null where the member is not a list of items.
function itemChanges(c) {
  const olds = c.old ?? [], news = c.new ?? [];
  if (!Array.isArray(olds) || !Array.isArray(news) || ![...olds, ...news].every(isItem)) return null;
  const key = i => i.id ?? i.label;
  const name = i => i.label ?? i.id;
  const before = new Map(olds.map(i => [key(i), i]));
  const out = [];
  for (const n of news) {
    const o = before.get(key(n));
    before.delete(key(n));
    if (!o) {
      const kind = [n.type, n.value_type].filter(Boolean).join(', ');
      const value = n.static_value !== undefined && n.static_value !== '' ? ` = ${short(n.static_value)}` : '';
      out.push(`added ${name(n)}${kind ? ` (${kind})` : ''}${value}`);
      continue;
    }
    const fields = [...new Set([...Object.keys(o), ...Object.keys(n)])]
      .filter(f => f !== 'created' && f !== 'updated' && JSON.stringify(o[f]) !== JSON.stringify(n[f]))
      .map(f => {
        const sub = nested(o[f], n[f]);
        return sub ? `${f}: ${sub.join('; ')}` : `${f} ${short(o[f])} → ${short(n[f])}`;
      });
    out.push(`${name(n)}: ${fields.join(', ') || 'changed'}`);
  }
  for (const o of before.values()) out.push(`removed ${name(o)}`);
  return out;
}

// nested compares two whole lists of items (an attribute's metadata): the
// items that differ, as itemChanges says them, or null for other values.
function nested(o, n) {
  const a = o ?? [], b = n ?? [];
  if (!Array.isArray(a) || !Array.isArray(b) || ![...a, ...b].every(isItem)) return null;
  const same = (x, list) => list.some(y => JSON.stringify(x) === JSON.stringify(y));
  return itemChanges({ old: a.filter(x => !same(x, b)), new: b.filter(x => !same(x, a)) });
}
