// The console behind a reverse proxy that mounts the platform under
// /dojot/: every request the page makes (pages, assets, API calls, the
// Kafka WS websockets) goes under the prefix; the notifications page's
// socket goes live through it, and one opened with the console's ticket
// flow on the tenant's device-data topic carries a device's reading.
export default async function (t) {
  const { page } = t;
  if (new URL(t.base).pathname !== '/dojot/') throw new Error(`the prefix scenario runs at ${t.base}, not under /dojot/`);
  const outside = [];
  const sockets = [];
  page.on('request', q => { if (!q.url().startsWith('data:') && !q.url().startsWith(t.base)) outside.push(`${q.method()} ${q.url()}`); });
  page.on('websocket', ws => sockets.push(ws.url()));

  // Each page's module, and whatever the page reads, is asked for under the
  // prefix (the "outside" check below); the admin pages' reads are waited for.
  const devices = page.waitForRequest(`${t.base}ui/js/pages/devices.js`);
  await t.login(); // lands on #/devices
  await devices;
  await t.shot('devices');
  for (const [hash, module, reads] of [['#/templates', 'templates'],
    ['#/users', 'users', 'auth/user'], ['#/tenants', 'tenants', 'auth/admin/tenants']]) {
    const loaded = page.waitForRequest(`${t.base}ui/js/pages/${module}.js`);
    const read = reads && page.waitForResponse(q => q.url() === `${t.base}${reads}` && q.ok());
    await page.evaluate(h => { location.hash = h; }, hash);
    await loaded;
    await read;
    await page.locator(`body[data-page="/${module}"] main h1`).waitFor();
    await t.shot(module);
  }
  await page.getByRole('link', { name: /users of tenant admin$/ }).waitFor();

  // The notifications page's own Kafka WS socket, opened through the proxy.
  await page.getByRole('link', { name: 'Notifications', exact: true }).click();
  await page.locator('.tag[data-state="live"]').waitFor();
  await t.shot('notifications');
  if (!sockets.some(u => u.startsWith(`${t.base.replace(/^http/, 'ws')}kafka-ws/v1/topics/admin.dojot.notifications`))) {
    throw new Error(`the notifications page's socket is not under the prefix: ${sockets.join(', ')}`);
  }

  // A device of the admin tenant publishes over MQTT; a websocket on the
  // tenant's device-data topic, opened as the console opens them (ticket,
  // then wsURL, both relative to the console), gets the reading.
  const id = Math.random().toString(16).slice(2, 8);
  const tpl = await t.api('POST', 'template', { label: `prefix-${id}`, attrs: [{ label: 'temp', type: 'dynamic', value_type: 'float' }] });
  await t.api('POST', 'device', { label: `prefix-${id}`, id, templates: [tpl.template.id] });
  const url = await page.evaluate(async () => {
    const api = await import(new URL('ui/js/api.js', location.href).href);
    const u = api.wsURL(`kafka-ws/v1/topics/${api.session.tenant}.device-data`, { ticket: await api.ticket() });
    window.prefixFrames = [];
    const ws = new WebSocket(u);
    ws.onmessage = e => window.prefixFrames.push(e.data);
    await new Promise((ok, fail) => { ws.onopen = ok; ws.onclose = e => fail(new Error(`websocket closed ${e.code} ${e.reason}`)); });
    return u.href;
  });
  const pub = t.publisher('admin', id);
  pub.send(JSON.stringify({ temp: 21.5 }));
  await page.waitForFunction(id => window.prefixFrames.some(f => f.includes(id) && f.includes('21.5')), id);
  await pub.close();

  // The device page under the prefix: its chart library (ui/vendor/) and its
  // own socket (since= brings the reading above into the live chart).
  const uplot = page.waitForRequest(`${t.base}ui/vendor/uPlot.iife.min.js`);
  await page.evaluate(h => { location.hash = h; }, `#/devices/${id}`);
  await uplot;
  await page.locator('.chart[data-received="1"]').waitFor();
  await page.locator('td[data-last="temp"]', { hasText: '21.5' }).waitFor();
  await t.shot('device');

  const wsBase = t.base.replace(/^http/, 'ws');
  if (!url.startsWith(wsBase) || !sockets.length || sockets.some(u => !u.startsWith(wsBase))) {
    throw new Error(`websockets not under ${wsBase}: ${sockets.join(', ') || url}`);
  }
  await t.api('DELETE', `device/${id}`);
  await t.api('DELETE', `template/${tpl.template.id}`);
  if (outside.length) throw new Error(`requests outside the prefix: ${outside.join(', ')}`);
  t.expectNoErrors('status of 404'); // pages not yet on main are 404s under the prefix, still
}
