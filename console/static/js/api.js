// The platform's public API, as the console calls it: every request carries
// the session's token, every failure becomes an ApiError that says what the
// server said (never swallowed), and the token is renewed before it expires.

// base is the console's own address (it ends in "/"), so that every call is
// relative to it and the console works behind a proxy's path prefix.
export const base = new URL(location.pathname.endsWith('/') ? location.pathname : location.pathname.replace(/[^/]*$/, ''), location.origin);

const storeKey = 'dojot.jwt';

export class ApiError extends Error {
  constructor(status, body, text) {
    super(messageOf(status, body, text));
    this.status = status;
    this.body = body;
  }
  // fields are the per-field messages of a validation error, or null: the
  // DeviceManager's marshmallow errors come as {"message":"failed to parse
  // input","errors":{"label":["Missing data for required field."]}}, other
  // services' as {"message":{"label":[..]}}.
  get fields() {
    if (!this.body || typeof this.body !== 'object') return null;
    for (const m of [this.body.errors, this.body.message]) {
      if (m && typeof m === 'object' && !Array.isArray(m)) return m;
    }
    return null;
  }
}

// messageOf reads dojot's error bodies: {"message":..}, {"error":..},
// {"errors":..} or a list, whichever the service answered with.
function messageOf(status, body, text) {
  if (body && typeof body === 'object') {
    // Falcon's (History): {"title":..,"description":..}
    if (typeof body.title === 'string' && typeof body.description === 'string') return `${body.title}: ${body.description}`;
    for (const k of ['message', 'error', 'errors', 'detail']) {
      const v = body[k];
      if (typeof v === 'string') return v;
      if (v && typeof v === 'object') return flatten(v);
    }
  }
  if (text) return `${status}: ${text.slice(0, 300)}`;
  return status ? `HTTP ${status}` : 'The server cannot be reached.';
}

function flatten(v) {
  if (Array.isArray(v)) return v.map(flatten).join('; ');
  if (v && typeof v === 'object') return Object.entries(v).map(([k, x]) => `${k}: ${flatten(x)}`).join('; ');
  return String(v);
}

// The session: the token and its claims (tenant = "service").
export const session = {
  token: null,
  claims: null,
  listeners: new Set(),
  set(token) {
    this.token = token;
    this.claims = token ? decode(token) : null;
    if (token) sessionStorage.setItem(storeKey, token); else sessionStorage.removeItem(storeKey);
    scheduleRenewal();
    for (const f of this.listeners) f(this);
  },
  get tenant() { return this.claims?.service ?? ''; },
  get username() { return this.claims?.username ?? ''; },
  get isAdmin() { return this.claims?.profile === 'admin'; },
  onChange(f) { this.listeners.add(f); return () => this.listeners.delete(f); },
};

function decode(token) {
  try {
    const p = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(decodeURIComponent(escape(atob(p))));
  } catch { return null; }
}

// restore takes the token of this tab's session back, unless it expired.
export function restore() {
  const t = sessionStorage.getItem(storeKey);
  const c = t && decode(t);
  if (c && c.exp * 1000 > Date.now() + 5000) session.set(t); else sessionStorage.removeItem(storeKey);
}

export async function login(username, passwd) {
  const r = await call('POST', 'auth', { username, passwd }, { anonymous: true });
  session.set(r.jwt);
}

export function logout(reason) {
  session.set(null);
  if (reason) sessionStorage.setItem('dojot.logout', reason);
  location.hash = '#/login';
}

let renewTimer = 0;
// scheduleRenewal asks for a fresh token a minute before this one expires
// (or halfway through a short one); a failed renewal leaves the token to
// expire and the next call to send the user to the login page.
function scheduleRenewal() {
  clearTimeout(renewTimer);
  const exp = session.claims?.exp;
  if (!exp) return;
  const left = exp * 1000 - Date.now();
  const at = Math.max(1000, Math.min(left - 60000, left / 2));
  renewTimer = setTimeout(() => renewNow().catch(e => console.warn('token renewal failed:', e.message)), at);
}

// renewNow exchanges the session's token for a fresh one (POST auth/renew:
// issued from the user's rights as they are now, with a new lifetime) and
// answers it; the next renewal is scheduled from it.
export async function renewNow() {
  const r = await call('POST', 'auth/renew', null);
  session.set(r.jwt);
  return r.jwt;
}

// url makes an absolute URL of an API path (relative to the console).
export function url(path, query) {
  const u = new URL(path.replace(/^\//, ''), base);
  if (query) for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, v);
  return u;
}

// wsURL is url with the websocket scheme.
export function wsURL(path, query) {
  const u = url(path, query);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u;
}

// call sends one request. body is sent as JSON unless it is a string (sent
// as text/plain, for CSRs and the like) or FormData. opts: {query, raw (answer
// the Response), anonymous, signal, headers}.
export async function call(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json', ...opts.headers };
  if (!opts.anonymous) {
    if (!session.token) { logout(); throw new ApiError(401, { message: 'Not logged in' }); }
    headers.Authorization = `Bearer ${session.token}`;
  }
  let payload;
  if (body !== undefined && body !== null) {
    if (typeof body === 'string' || body instanceof FormData) payload = body;
    else { payload = JSON.stringify(body); headers['Content-Type'] = 'application/json'; }
  }
  let res;
  try {
    res = await fetch(url(path, opts.query), { method, headers, body: payload, signal: opts.signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, null, '');
  }
  if (opts.raw && res.ok) return res;
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON: text is kept */ }
  if (!res.ok) {
    const err = new ApiError(res.status, json, json ? '' : text);
    // An expired or revoked token: back to the login page, saying why.
    if (res.status === 401 && !opts.anonymous) logout('Your session ended: ' + err.message);
    throw err;
  }
  return json;
}

export const get = (path, query, opts) => call('GET', path, null, { ...opts, query });
export const post = (path, body, opts) => call('POST', path, body, opts);
export const put = (path, body, opts) => call('PUT', path, body, opts);
export const del = (path, opts) => call('DELETE', path, null, opts);

// ticket gets a Kafka WS ticket, for one websocket.
export async function ticket() {
  return (await get('kafka-ws/v1/ticket')).ticket;
}
