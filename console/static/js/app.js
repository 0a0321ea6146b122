// The console's shell: the router (hash routes, so the server serves one
// page and the API keeps every other path), the header, and the session.
// Pages are modules loaded on first visit, so the first load stays small.
import { session, restore, logout } from './api.js';
import { replace, h, showError, clearAlerts } from './ui.js';

// routes: hash pattern -> page module. A page module's default export is
// async (main, params, query) => cleanup?; cleanup runs when the user
// leaves the page (to close websockets and timers).
const routes = [
  ['/login', './pages/login.js'],
  ['/devices', './pages/devices.js'],
  ['/devices/new', './pages/device-edit.js'],
  ['/devices/:id/edit', './pages/device-edit.js'],
  ['/devices/:id', './pages/device.js'],
  ['/templates', './pages/templates.js'],
  ['/templates/:id', './pages/template.js'], // "new" for a new one
  ['/flows', './pages/flows.js'],
  ['/flows/:id', './pages/flow.js'], // "new" for a new one
  ['/notifications', './pages/notifications.js'],
  ['/users', './pages/users.js'],
  ['/groups', './pages/groups.js'],
  ['/tenants', './pages/tenants.js'],
];

// match finds the first route of the path, in the list's order.
function match(path) {
  const parts = path.split('/').filter(Boolean);
  for (const [pattern, module] of routes) {
    const want = pattern.split('/').filter(Boolean);
    if (want.length !== parts.length) continue;
    const params = {};
    if (want.every((w, i) => w.startsWith(':') ? (params[w.slice(1)] = decodeURIComponent(parts[i]), true) : w === parts[i])) {
      return { module, params };
    }
  }
  return null;
}

const main = document.getElementById('main');
let cleanup = null;
let seq = 0;

async function render() {
  const n = ++seq;
  const [path, qs] = (location.hash.slice(1) || '/devices').split('?');
  if (!session.token && path !== '/login') {
    location.replace('#/login?next=' + encodeURIComponent(location.hash.slice(1) || '/devices'));
    return;
  }
  const m = match(path);
  if (typeof cleanup === 'function') { try { cleanup(); } catch (e) { console.error(e); } }
  cleanup = null;
  clearAlerts();
  document.getElementById('top').hidden = !session.token;
  for (const a of document.querySelectorAll('#nav-links a')) {
    const here = path === a.getAttribute('href').slice(1) || path.startsWith(a.getAttribute('href').slice(1) + '/');
    if (here) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  document.getElementById('nav-links').classList.remove('open');
  if (!m) {
    replace(main, h('h1', {}, 'Not found'), h('p', {}, 'No page at ', h('code', {}, path), '. ', h('a', { href: '#/devices' }, 'Devices')));
    return shown(path);
  }
  let page;
  try {
    page = await import(m.module);
  } catch (e) {
    replace(main, h('h1', {}, 'Page not available'));
    showError(`This page could not be loaded (${e.message}).`);
    return shown(path);
  }
  if (n !== seq) return; // the user went elsewhere meanwhile
  replace(main);
  try {
    cleanup = await page.default(main, m.params, new URLSearchParams(qs || ''));
  } catch (e) {
    showError(e);
  }
  if (n !== seq && typeof cleanup === 'function') cleanup();
  shown(path);
}

// shown marks the page rendered: the title, the focus (so a screen reader
// starts at the new content), and body's data-page and data-ready, which the
// browser tests wait for.
function shown(path) {
  const title = main.querySelector('h1')?.textContent;
  document.title = title ? `${title} · dojot` : 'dojot';
  if (document.activeElement === document.body || !main.contains(document.activeElement)) main.focus({ preventScroll: true });
  document.body.dataset.page = path;
  if (!document.body.dataset.ready) {
    document.body.dataset.ready = '1';
    performance.mark('dojot-interactive');
  }
}

function showWho() {
  document.getElementById('who-user').textContent = session.username;
  document.getElementById('who-tenant').textContent = session.tenant;
  for (const li of document.querySelectorAll('#nav-links .admin')) li.hidden = !session.isAdmin;
}

document.getElementById('logout').addEventListener('click', () => logout());
document.getElementById('menu').addEventListener('click', e => {
  const open = document.getElementById('nav-links').classList.toggle('open');
  e.currentTarget.setAttribute('aria-expanded', String(open));
});
session.onChange(showWho);
restore();
showWho();
window.addEventListener('hashchange', render);
render();
