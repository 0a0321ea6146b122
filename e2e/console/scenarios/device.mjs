// The device page: attributes and last values, the live chart (since= fill,
// live readings, pause and resume without losing any), history (table and
// CSV), actuation seen on the device's config topic, basic credentials that
// work at the HTTP agent, a certificate issued from a CSR, listed and
// revoked, and the change log.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default async function (t) {
  const { page } = t;
  await t.login();
  const tenant = await page.locator('#who-tenant').textContent();
  const tag = Date.now().toString(36);
  const tpl = (await t.api('POST', 'template', {
    label: `devpage-${tag}`,
    attrs: [
      { label: 'temperature', type: 'dynamic', value_type: 'float' },
      { label: 'status', type: 'dynamic', value_type: 'string' },
      { label: 'fan', type: 'actuator', value_type: 'integer' },
      { label: 'mode', type: 'actuator', value_type: 'string' },
      { label: 'model', type: 'static', value_type: 'string', static_value: 'M-1' },
    ],
  })).template;
  const id = (await t.api('POST', 'device', { label: `devpage-${tag}`, templates: [tpl.id] })).devices[0].id;

  // Readings before the page opens: the live chart's since= brings them.
  const pub = t.publisher(tenant, id);
  for (const v of [20.5, 21, 21.5]) pub.send(JSON.stringify({ temperature: v, status: 'ok' }));

  // Every Kafka WS socket of the page goes through a route, so that the
  // test can close one as the server does (4408 at the end of its lifetime).
  const sockets = [];
  const opened = [];
  page.on('websocket', ws => opened.push(ws));
  await page.routeWebSocket(/\/kafka-ws\/v1\/topics\//, ws => { ws.connectToServer(); sockets.push(ws); });
  await page.goto(`${t.base}#/devices/${id}`);
  await page.locator(`body[data-page="/devices/${id}"]`).waitFor();
  await page.getByRole('heading', { name: `devpage-${tag}`, level: 1 }).waitFor();
  const chart = page.getByRole('img', { name: /Live chart of temperature/ });
  const received = async n => {
    await page.locator(`.chart[data-received="${n}"]`).waitFor({ timeout: 15000 });
  };
  await received(3);
  await page.locator('[data-state="live"]').waitFor();
  // The static attribute's value, and the last reading in the table.
  await page.locator('td[data-last="model"]', { hasText: 'M-1' }).waitFor();
  await page.locator('td[data-last="temperature"]', { hasText: '21.5' }).waitFor();

  // Live: readings published now show up, in the chart and the table.
  for (const v of [22, 23.25, 24.75]) pub.send(JSON.stringify({ temperature: v, status: 'warm' }));
  await received(6);
  await page.locator('td[data-last="temperature"]', { hasText: '24.75' }).waitFor();
  await page.locator('td[data-last="status"]', { hasText: 'warm' }).waitFor();
  const points = Number(await chart.getAttribute('data-points'));
  if (points !== 6) throw new Error(`the live chart holds ${points} points, want 6`);
  await t.shot('live');

  // Pause, publish, resume: the resumed socket replays what it missed.
  await page.getByRole('button', { name: 'Pause' }).click();
  await page.locator('[data-state="paused"]').waitFor();
  for (const v of [25, 26]) pub.send(JSON.stringify({ temperature: v }));
  await page.waitForTimeout(300); // not a wait for state: proves nothing arrives while paused
  if (await chart.getAttribute('data-received') !== '6') throw new Error('readings arrived while paused');
  await page.getByRole('button', { name: 'Resume' }).click();
  await received(8);
  await page.locator('td[data-last="temperature"]', { hasText: /^26$/ }).waitFor();
  // A wider window is filled again from the stream (a new socket, since=).
  await page.getByLabel('Live window').selectOption('15');
  await received(8);
  if (await chart.getAttribute('data-points') !== '8') throw new Error(`after widening, ${await chart.getAttribute('data-points')} points`);
  // The server ends the socket: the page says so, gets a new ticket and
  // resumes after the last reading it had (what came meanwhile included).
  await sockets.at(-1).close({ code: 4408, reason: 'Connection lifetime' });
  await page.locator('[data-state="reconnecting"]', { hasText: '4408' }).waitFor();
  pub.send(JSON.stringify({ temperature: 27 }));
  await received(9);
  await page.locator('[data-state="live"]').waitFor();
  await page.locator('td[data-last="temperature"]', { hasText: /^27$/ }).waitFor();

  // History: the table fills once the 9 readings are stored.
  const historyPanel = page.getByRole('region', { name: 'History' });
  await historyPanel.getByLabel('Attribute').selectOption('temperature');
  for (let i = 0; ; i++) {
    await historyPanel.getByRole('button', { name: 'Show' }).click();
    const box = historyPanel.locator('[data-rows]');
    await box.waitFor();
    if (await box.getAttribute('data-rows') === '9') break;
    if (i > 40) throw new Error(`history shows ${await box.getAttribute('data-rows')} rows, want 9`);
    await page.waitForTimeout(250); // the persister's pace: polled, bounded
  }
  await historyPanel.getByRole('cell', { name: '24.75' }).waitFor();
  await historyPanel.getByRole('img', { name: 'History chart of temperature' }).waitFor();
  await t.shot('history');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    historyPanel.getByRole('button', { name: 'Download CSV' }).click(),
  ]);
  const csv = readFileSync(await download.path(), 'utf8').trim().split('\n');
  if (download.suggestedFilename() !== `${id}-temperature-history.csv`) throw new Error(`CSV named ${download.suggestedFilename()}`);
  if (csv.length !== 10 || !csv[0].includes('value') || !csv.some(l => l.includes('24.75'))) throw new Error(`CSV:\n${csv.join('\n')}`);

  // Actuation: a bad integer is refused at the field; a good one reaches
  // the device's config topic.
  const act = page.getByRole('form', { name: 'Actuate' });
  await act.getByLabel('fan (integer)').fill('1.5');
  await act.getByRole('button', { name: 'Send' }).click();
  await act.getByText('Not an integer.').waitFor();
  const sub = t.subscribeOnce(tenant, id, `${tenant}:${id}/config`);
  await sub.ready;
  await act.getByLabel('fan (integer)').fill('3');
  await act.getByLabel('mode (string)').fill('eco');
  await act.getByRole('button', { name: 'Send' }).click();
  const msg = JSON.parse(await sub.message);
  if (msg.fan !== 3 || msg.mode !== 'eco') throw new Error(`config topic got ${JSON.stringify(msg)}`);
  await page.getByRole('status').getByText(/Sent to/).waitFor();

  // Basic credentials: shown once, and they work at the HTTP agent (the
  // reading they send shows in the live chart).
  const cred = page.getByRole('region', { name: 'Basic credentials' });
  await cred.getByRole('button', { name: 'Issue basic credentials' }).click();
  const header = cred.getByRole('textbox', { name: 'Authorization header' });
  await header.waitFor();
  const user = await cred.getByRole('textbox', { name: 'Username' }).inputValue();
  if (user !== `${tenant}@${id}`) throw new Error(`username ${user}`);
  await t.context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await cred.getByRole('button', { name: 'Copy password' }).click();
  await page.getByRole('status').getByText('Password copied.').waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  if (copied !== await cred.getByRole('textbox', { name: 'Password' }).inputValue()) throw new Error(`copied ${copied}`);
  await t.shot('credentials');
  const res = await fetch(new URL('http-agent/v1/unsecure/incoming-messages', t.base), {
    method: 'POST', headers: { Authorization: await header.inputValue(), 'Content-Type': 'application/json' },
    body: JSON.stringify({ data: { temperature: 30.5 } }),
  });
  if (!res.ok) throw new Error(`the HTTP agent refused the credentials shown: ${res.status} ${await res.text()}`);
  await received(10);
  await page.locator('td[data-last="temperature"]', { hasText: '30.5' }).waitFor();

  // Certificates: a CSR that is not one is refused at the field; a real one
  // is issued, listed, and revoked.
  const certs = page.getByRole('region', { name: 'Certificates' });
  await certs.getByText('No certificate.').waitFor();
  await certs.getByLabel('CSR (PEM)').fill('not a CSR');
  await certs.getByRole('button', { name: 'Issue certificate' }).click();
  await certs.locator('.field-error').filter({ hasText: /\S/ }).waitFor();
  const dir = mkdtempSync(join(tmpdir(), 'devpage-'));
  let csr;
  try {
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-subj', `/CN=${id}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'csr.pem')], { stdio: 'ignore' });
    csr = readFileSync(join(dir, 'csr.pem'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await certs.getByLabel('CSR (PEM)').fill(csr);
  await certs.getByRole('button', { name: 'Issue certificate' }).click();
  const pem = await certs.getByRole('textbox', { name: 'Certificate', exact: true }).inputValue();
  if (!pem.includes('BEGIN CERTIFICATE')) throw new Error(`issued: ${pem}`);
  const fp = (await certs.locator('p .mono').textContent()).trim();
  await certs.getByRole('cell', { name: fp, exact: true }).waitFor();
  await certs.getByRole('cell', { name: `CN=${id}` }).waitFor();
  await t.shot('certificate');
  page.once('dialog', d => d.accept());
  await certs.getByRole('button', { name: `Revoke ${fp}` }).click();
  await certs.getByText('No certificate.').waitFor();

  // A phone's width: the panels stack, nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  // The charts follow their box's width (a ResizeObserver, a frame later).
  await page.waitForFunction(() => document.documentElement.scrollWidth <= window.innerWidth, null, { timeout: 5000 }).catch(async () => {
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    throw new Error(`the page is ${overflow}px wider than a phone's screen`);
  });
  await t.shot('phone');
  await page.setViewportSize({ width: 1280, height: 860 });

  // Change log: the creation, and an update made now.
  await t.api('PUT', `device/${id}`, { label: `devpage-${tag}-renamed`, templates: [tpl.id] });
  await page.reload();
  await page.getByRole('heading', { name: `devpage-${tag}-renamed`, level: 1 }).waitFor();
  const log = page.getByRole('region', { name: 'Change log' });
  await log.getByRole('cell', { name: /create/i }).first().waitFor();
  await log.getByRole('cell', { name: /update/i }).first().waitFor();
  const types = await log.locator('tbody tr td:nth-child(2)').allTextContents();
  if (!/update/i.test(types[0]) || !/create/i.test(types[types.length - 1])) throw new Error(`change log not newest first: ${types}`);
  await t.shot('page');

  // Paging: 20 more events make two pages; the older one ends with the
  // creation, and Newer comes back.
  for (let i = 0; i < 20; i++) await t.api('PUT', `device/${id}/actuate`, { attrs: { fan: i } });
  await page.reload();
  const rows = log.locator('tbody tr');
  await log.getByRole('button', { name: 'Older ›' }).waitFor();
  if (await rows.count() !== 20) throw new Error(`change log page 1 has ${await rows.count()} rows, want 20`);
  await log.getByRole('button', { name: 'Older ›' }).click();
  await log.getByText('Page 2').waitFor();
  const older = await log.locator('tbody tr td:nth-child(2)').allTextContents();
  const total = types.length + 20; // page 2 holds what page 1's 20 leave
  if (older.length !== total - 20 || !/create/i.test(older[older.length - 1])) throw new Error(`change log page 2: ${older}`);
  await log.getByRole('button', { name: '‹ Newer' }).click();
  await log.getByText('Page 1').waitFor();

  // Leaving the page closes its socket.
  await page.getByRole('link', { name: 'All devices' }).click();
  await page.locator('body[data-page="/devices"]').waitFor();
  // (the sockets of the pages the reloads above dropped are not counted)
  const last = opened.at(-1);
  if (!last.isClosed()) await last.waitForEvent('close', { timeout: 5000 });

  await pub.close();
  // 400: the refused CSR, made on purpose; 404: History before the
  // persister stored the first readings (the last values' lookup).
  t.expectNoErrors('400', '404');
}
