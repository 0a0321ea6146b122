// A socket.io client as dojot's GUI v1 is one: socket.io-client 2.4.0
// (Engine.IO v3). Run by e2e/socketio_test.go as
//   node client.js <base URL> <options JSON>
// options: jwt (get a token with it from GET /stream/socketio) or token
// (use this one), subject, transports, events (names to listen to),
// filter (a string emitted as "filter" on connect). It prints one JSON
// line per thing that happens: token, connect, upgrade, error,
// disconnect, event; and reads commands on stdin: "filter <json>" emits
// a filter, "close" closes the socket.
'use strict';
const io = require('socket.io-client');
const readline = require('readline');

const [base, raw] = process.argv.slice(2);
const opts = JSON.parse(raw);
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

async function token() {
  if (opts.token !== undefined) return opts.token;
  const res = await fetch(base + '/stream/socketio', { headers: { Authorization: 'Bearer ' + opts.jwt } });
  const body = await res.json();
  say({ kind: 'token', status: res.status, body });
  return body.token;
}

(async () => {
  const query = {};
  const t = await token();
  if (t !== null) query.token = t;
  if (opts.subject) query.subject = opts.subject;
  const socket = io(base, { query, transports: opts.transports, reconnection: false, forceNew: true });
  socket.on('connect', () => {
    say({ kind: 'connect', transport: socket.io.engine.transport.name });
    if (opts.filter !== undefined) socket.emit('filter', opts.filter);
  });
  socket.io.engine.on('upgrade', (tr) => say({ kind: 'upgrade', transport: tr.name }));
  socket.on('error', (e) => say({ kind: 'error', data: e }));
  socket.on('connect_error', (e) => say({ kind: 'connect_error', data: String(e) }));
  socket.on('disconnect', (r) => say({ kind: 'disconnect', data: r }));
  for (const name of opts.events || []) {
    socket.on(name, (d) => say({ kind: 'event', name, data: d }));
  }
  readline.createInterface({ input: process.stdin }).on('line', (l) => {
    if (l.startsWith('filter ')) socket.emit('filter', l.slice(7));
    if (l === 'close') { socket.close(); process.exit(0); }
  });
})().catch((e) => { say({ kind: 'fatal', data: String(e) }); process.exit(1); });
