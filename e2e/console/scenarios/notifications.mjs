// The notifications page's live feed across a dropped socket: the page
// opens a new one by itself, resuming after the last notification it got
// (since=<seq+1>), so the one sent while it was away arrives and none
// twice; then the history's time range and its CSV.
import { readFileSync } from 'node:fs';

export default async function (t) {
  const { page } = t;
  const failed = [];
  page.on('response', r => { if (r.status() >= 400) failed.push(`${r.status()} ${new URL(r.url()).pathname}`); });
  await t.login();
  const tag = `notesc${Date.now().toString(36)}`;
  const tpl = await t.api('POST', 'template', { label: `${tag}-t`, attrs: [{ label: 'level', type: 'dynamic', value_type: 'integer' }] });
  const id = (await t.api('POST', 'device', { label: `${tag}-d`, templates: [tpl.template.id] })).devices[0].id;
  const flow = (await t.api('POST', 'flows/v1/flow', {
    name: tag, flow: [
      { id: 'h', type: 'event device in', device_id: id, event_publish: true, wires: [['c']] },
      { id: 'c', type: 'template', field: 'note', fieldType: 'msg', syntax: 'handlebars', output: 'json', template: `{"metadata":{"run":"${tag}"},"message":"${tag} level {{payload.data.attrs.level}}"}`, wires: [['n']] },
      { id: 'n', type: 'notification', msgType: 'dynamic', messageDynamic: 'note.message', source: 'note.metadata', wires: [] },
    ],
  })).flow;
  const text = v => `${tag} level ${v}`;

  // Every socket of the page to the notifications goes through here, so
  // that the test can drop one.
  const sockets = [];
  await page.routeWebSocket(/dojot\.notifications/, ws => {
    ws.connectToServer();
    sockets.push(ws);
  });

  await page.getByRole('link', { name: 'Notifications', exact: true }).click();
  await page.locator('.tag[data-state="live"]').waitFor();
  const log = page.getByRole('log');
  const pub = t.publisher('admin', id);
  pub.send(JSON.stringify({ level: 1 }));
  await log.getByText(text(1), { exact: true }).waitFor();
  if (new URL(sockets[0].url()).searchParams.get('seq') !== 'true') throw new Error(`first socket: ${sockets[0].url()}`);

  // Dropped: the page says so, and a notification is sent meanwhile.
  await sockets[0].close({ code: 4503, reason: 'dropped by the test' });
  await page.locator('.tag[data-state="reconnecting"]').waitFor();
  await t.shot('reconnecting');
  pub.send(JSON.stringify({ level: 2 }));
  await page.locator('.tag[data-state="live"]').waitFor();
  await log.getByText(text(2), { exact: true }).waitFor();
  const since = new URL(sockets[1].url()).searchParams.get('since');
  if (!/^\d+$/.test(since)) throw new Error(`the second socket does not resume after a sequence: ${sockets[1].url()}`);
  pub.send(JSON.stringify({ level: 3 }));
  await log.getByText(text(3), { exact: true }).waitFor();
  for (const v of [1, 2, 3]) {
    const n = await log.getByText(text(v), { exact: true }).count();
    if (n !== 1) throw new Error(`"${text(v)}" shown ${n} times`);
  }
  // Newest first.
  const first = await log.locator('li .note-msg').first().textContent();
  if (first !== text(3)) throw new Error(`first shown: ${first}`);
  await t.shot('resumed');
  await pub.close();

  // The history of a time range (from a minute ago), by the metadata.
  const minuteAgo = new Date(Date.now() - 60000);
  const p = n => String(n).padStart(2, '0');
  await page.getByLabel('From').fill(`${minuteAgo.getFullYear()}-${p(minuteAgo.getMonth() + 1)}-${p(minuteAgo.getDate())}T${p(minuteAgo.getHours())}:${p(minuteAgo.getMinutes())}:${p(minuteAgo.getSeconds())}`);
  await page.getByLabel('Metadata').fill(`run=${tag}`);
  const found = page.getByRole('list', { name: 'Notifications found' });
  for (const end = Date.now() + 15000; ;) {
    await page.getByRole('button', { name: 'Search' }).click();
    try {
      await found.getByText(text(3), { exact: true }).waitFor({ timeout: 1000 });
      break;
    } catch (e) {
      if (Date.now() > end) throw e;
    }
  }
  if (await found.locator('li').count() !== 3) throw new Error(`history: ${await found.textContent()}`);
  const firstFound = await found.locator('li .note-msg').first().textContent();
  if (firstFound !== text(3)) throw new Error(`history's first: ${firstFound}`);
  await t.shot('history');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
  const csv = readFileSync(await download.path(), 'utf8');
  if (!csv.startsWith('"msgID",') || !csv.includes(text(2))) throw new Error(`CSV: ${csv.slice(0, 300)}`);

  await page.setViewportSize({ width: 390, height: 844 });
  await t.shot('phone');
  await t.api('DELETE', `flows/v1/flow/${flow.id}`);
  // Only a page of another part of the console may be missing (the one
  // the login lands on, until it is written).
  const unexpected = failed.filter(f => !/^404 \/ui\/js\/pages\/(?!notifications\.js)[\w-]+\.js$/.test(f));
  if (unexpected.length) throw new Error(`requests failed: ${unexpected.join(', ')}`);
  t.expectNoErrors('status of 404');
}
